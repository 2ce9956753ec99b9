"""Pure functions that turn GitHub pull-request data into candidates or rejects.

No I/O: the inputs are the JSON shapes GitHub returns (REST issue listing items and the GraphQL
pull-request nodes that `queries.py` asks for); the outputs are records.
"""

from __future__ import annotations

import re
from datetime import datetime

from envmine.languages import LanguageSpec
from envmine.miners.patches import split_patch
from envmine.reasons import Reason, Stage
from envmine.records import Candidate, Reject, SourceKind, parse_time

# GitHub's closing keywords: https://docs.github.com/en/issues/tracking-your-work-with-issues/
# linking-a-pull-request-to-an-issue. `owner/repo#N` and issue URLs count when they name this repo.
_KEYWORDS = r"(?:close[sd]?|fix(?:e[sd])?|resolve[sd]?)"
_TARGET = r"(?:(?P<full>[\w.-]+/[\w.-]+)#|#|https?://[^\s/]+/(?P<url>[\w.-]+/[\w.-]+)/issues/)"
_REF = re.compile(rf"\b{_KEYWORDS}\b:?\s+{_TARGET}(?P<num>\d+)\b", re.IGNORECASE)


def closing_refs(text: str | None, repo: str) -> list[int]:
    """Issue numbers of `repo` that `text` closes with a GitHub closing keyword, in order."""
    found: list[int] = []
    for m in _REF.finditer(text or ""):
        other = m["full"] or m["url"]
        if other and other.lower() != repo.lower():
            continue
        number = int(m["num"])
        if number not in found:
            found.append(number)
    return found


def hints_before(comments: list[dict], cutoff: datetime | None) -> str:
    """Issue comments made before `cutoff` (the PR's first commit), oldest first, joined."""
    kept = [c for c in comments if cutoff is None or parse_time(c["createdAt"]) < cutoff]
    kept.sort(key=lambda c: c["createdAt"])
    return "\n".join((c.get("body") or "").strip() for c in kept).strip()


def problem_statement(issues: list[dict]) -> str:
    """SWE-bench's form: each resolved issue's title and body, one after the other."""
    parts = [f"{i.get('title') or ''}\n{i.get('body') or ''}".strip() for i in issues]
    return "\n\n".join(p for p in parts if p).strip()


def linked_issue_numbers(pr: dict, repo: str) -> list[int]:
    """Issues this PR resolves: GitHub's closing references, then keywords in body and commits."""
    numbers = [n["number"] for n in nodes(pr.get("closingIssuesReferences"))
               if (n.get("repository") or {}).get("nameWithOwner", repo).lower() == repo.lower()]
    texts = [pr.get("body") or ""] + [c["commit"]["message"] for c in nodes(pr.get("commits"))]
    for text in texts:
        numbers += [n for n in closing_refs(text, repo) if n not in numbers]
    return numbers


def first_commit_time(pr: dict) -> datetime | None:
    commits = nodes(pr.get("commits"))
    return parse_time(commits[0]["commit"]["committedDate"]) if commits else None


def prefilter(pr: dict, repo: str, spec: LanguageSpec, max_lines: int) -> Reason | None:
    """Reject a PR from its metadata alone (no diff fetched): merge state, issues, file kinds."""
    if not pr.get("mergedAt"):
        return Reason.not_merged
    if not linked_issue_numbers(pr, repo):
        return Reason.no_linked_issue
    files = pr.get("files") or {}
    if (pr.get("additions") or 0) + (pr.get("deletions") or 0) > max_lines:
        return Reason.patch_too_large
    paths = [f["path"] for f in files.get("nodes") or []]
    if files.get("totalCount", len(paths)) > len(paths):
        return None  # partial file list: decide on the diff
    if not any(spec.is_test_file(p) for p in paths):
        return Reason.no_test_change
    if all(spec.is_test_file(p) for p in paths):
        return Reason.no_code_change
    return None


def instance_id(repo: str, number: int) -> str:
    return f"{repo.replace('/', '__')}-{number}"


def build_candidate(pr: dict, issues: list[dict], diff: str | None, *, repo: str, repo_url: str,
                    spec: LanguageSpec, max_lines: int, provenance: dict[str, str]) -> Candidate | Reject:
    """A candidate from a merged PR, its resolved issues and its diff, or the reason it is not one."""
    number = pr["number"]
    subject = instance_id(repo, number)

    def reject(reason: Reason, detail: str = "") -> Reject:
        return Reject.of(Stage.mine, reason, subject, detail, repo=repo, language=spec.name)

    if diff is None or diff.count("\n") > max_lines:
        return reject(Reason.patch_too_large, "diff too large")
    split = split_patch(diff, spec)
    if split.binary_files:
        return reject(Reason.binary_patch, ", ".join(split.binary_files[:5]))
    if not split.test_files:
        return reject(Reason.no_test_change)
    if not split.patch_files:
        return reject(Reason.no_code_change)
    statement = problem_statement(issues)
    if not statement:
        return reject(Reason.empty_problem_statement)
    cutoff = first_commit_time(pr)
    comments = [c for i in issues for c in nodes(i.get("comments"))]
    return Candidate(
        instance_id=subject, repo=repo, source=SourceKind.github, repo_url=repo_url,
        base_commit=pr["baseRefOid"], head_commit=pr["headRefOid"],
        patch=split.patch, test_patch=split.test_patch,
        problem_statement=statement, hints_text=hints_before(comments, cutoff),
        created_at=parse_time(pr["createdAt"]), language=spec.name, pr_number=number,
        issue_numbers=[i["number"] for i in issues],
        labels=[label["name"] for label in nodes(pr.get("labels"))],
        patch_files=split.patch_files, test_files=split.test_files,
        provenance={**provenance, "pr_url": pr.get("url", ""),
                    "merge_commit": (pr.get("mergeCommit") or {}).get("oid", "")},
    )


def nodes(connection: dict | None) -> list[dict]:
    """The non-null nodes of a GraphQL connection."""
    return [n for n in (connection or {}).get("nodes") or [] if n]
