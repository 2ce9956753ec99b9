"""GraphQL documents the `github` source sends: one query fetches a batch of pull requests
with everything a candidate needs except its diff (issues, comments, commits, files, labels).
"""

from __future__ import annotations

ISSUE_FIELDS = """
fragment IssueFields on Issue {
  number title body createdAt
  repository { nameWithOwner }
  comments(first: 100) { nodes { body createdAt } }
}"""

PR_FIELDS = """
fragment PRFields on PullRequest {
  number title body url createdAt mergedAt updatedAt
  baseRefName baseRefOid headRefOid additions deletions
  mergeCommit { oid }
  labels(first: 30) { nodes { name } }
  commits(first: 100) { nodes { commit { oid message committedDate } } }
  files(first: 100) { totalCount nodes { path } }
  closingIssuesReferences(first: 10) { nodes { ...IssueFields } }
}"""


def batch_query(pr_numbers: list[int], issue_numbers: list[int]) -> str:
    """One query for pull requests `pr<N>` and issues `issue<N>` of `$owner/$name`.

    Numbers are ints, so inlining them as aliases and arguments is safe.
    """
    fields = [f"    pr{n}: pullRequest(number: {int(n)}) {{ ...PRFields }}" for n in pr_numbers]
    fields += [
        f"    issue{n}: issueOrPullRequest(number: {int(n)}) {{ __typename ... on Issue {{ ...IssueFields }} }}"
        for n in issue_numbers
    ]
    body = "\n".join(fields)
    fragments = (PR_FIELDS if pr_numbers else "") + ISSUE_FIELDS
    return (
        "query MinePullRequests($owner: String!, $name: String!) {\n"
        "  repository(owner: $owner, name: $name) {\n"
        f"{body}\n  }}\n  rateLimit {{ cost remaining resetAt }}\n}}\n{fragments}\n"
    )
