"""GitHub-shaped data for the fake server: REST repositories and issue-listing items, GraphQL
pull-request and issue nodes, with the fields (and the field names) GitHub returns.

`widgets_world` builds the scenario the source tests assert on: a real git repository whose
pull-request branches give the diffs, and one PR for each path of the source.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from envmine.git import git
from envmine.testing.fake_github import FakeGitHub, FakeRepo

API = "https://api.github.com"


def rest_repo(full_name: str, clone_url: str, *, stars: int = 500, language: str | None = "Python",
              license: str | None = "mit", fork: bool = False, archived: bool = False, size: int = 1200,
              pushed_at: str = "2026-11-20T10:00:00Z", repo_id: int = 1) -> dict:
    """A `GET /repos/{owner}/{repo}` payload (the fields GitHub sends, trimmed of URL templates)."""
    owner, name = full_name.split("/")
    lic = None if license is None else {
        "key": license, "name": license.upper(), "spdx_id": license.upper(),
        "url": f"{API}/licenses/{license}", "node_id": "MDc6TGljZW5zZTEz",
    }
    return {
        "id": repo_id, "node_id": f"R_kgDO{repo_id:08d}", "name": name, "full_name": full_name,
        "private": False, "owner": {"login": owner, "id": 1000 + repo_id, "type": "Organization",
                                    "url": f"{API}/users/{owner}", "site_admin": False},
        "html_url": f"https://github.com/{full_name}", "description": f"{name} library", "fork": fork,
        "url": f"{API}/repos/{full_name}", "created_at": "2015-03-01T12:00:00Z",
        "updated_at": "2026-11-20T10:00:00Z", "pushed_at": pushed_at,
        "git_url": f"git://github.com/{full_name}.git", "ssh_url": f"git@github.com:{full_name}.git",
        "clone_url": clone_url, "svn_url": f"https://github.com/{full_name}", "homepage": None,
        "size": size, "stargazers_count": stars, "watchers_count": stars, "language": language,
        "has_issues": True, "has_projects": True, "has_downloads": True, "has_wiki": False,
        "has_pages": False, "has_discussions": False, "forks_count": stars // 10, "mirror_url": None,
        "archived": archived, "disabled": False, "open_issues_count": 12, "license": lic,
        "allow_forking": True, "is_template": False, "web_commit_signoff_required": False,
        "topics": ["python"], "visibility": "public", "forks": stars // 10, "open_issues": 12,
        "watchers": stars, "default_branch": "main", "network_count": stars // 10,
        "subscribers_count": 20,
    }


def rest_item(full_name: str, number: int, title: str, body: str | None, created: str, updated: str,
              *, merged_at: str | None | bool = False, labels: list[str] = ()) -> dict:
    """One item of `GET /repos/{owner}/{repo}/issues`: an issue, or a PR when `merged_at` is not False."""
    base = f"{API}/repos/{full_name}"
    item = {
        "url": f"{base}/issues/{number}", "repository_url": base,
        "html_url": f"https://github.com/{full_name}/{'pull' if merged_at is not False else 'issues'}/{number}",
        "id": 50_000 + number, "node_id": f"I_kwDO{number:08d}", "number": number, "title": title,
        "user": {"login": "ada", "id": 7, "type": "User", "site_admin": False},
        "labels": [{"id": i, "node_id": f"LA_{i}", "url": f"{base}/labels/{n}", "name": n,
                    "color": "d73a4a", "default": False, "description": ""} for i, n in enumerate(labels)],
        "state": "closed", "locked": False, "assignee": None, "assignees": [], "milestone": None,
        "comments": 2, "created_at": created, "updated_at": updated, "closed_at": updated,
        "author_association": "CONTRIBUTOR", "active_lock_reason": None, "body": body,
        "reactions": {"url": f"{base}/issues/{number}/reactions", "total_count": 0},
        "timeline_url": f"{base}/issues/{number}/timeline", "performed_via_github_app": None,
        "state_reason": "completed",
    }
    if merged_at is not False:
        item["draft"] = False
        item["pull_request"] = {
            "url": f"{base}/pulls/{number}", "html_url": f"https://github.com/{full_name}/pull/{number}",
            "diff_url": f"https://github.com/{full_name}/pull/{number}.diff",
            "patch_url": f"https://github.com/{full_name}/pull/{number}.patch", "merged_at": merged_at,
        }
    return item


def gql_issue(full_name: str, number: int, title: str, body: str, created: str,
              comments: list[tuple[str, str]] = ()) -> dict:
    """A GraphQL `Issue` node with the fields `IssueFields` selects."""
    return {"number": number, "title": title, "body": body, "createdAt": created,
            "repository": {"nameWithOwner": full_name},
            "comments": {"nodes": [{"body": b, "createdAt": t} for b, t in comments]}}


def gql_pr(full_name: str, number: int, title: str, body: str, *, created: str, merged: str | None,
           updated: str, base: str, head: str, files: list[str], commits: list[tuple[str, str, str]],
           closing: list[dict] = (), labels: list[str] = (), size: tuple[int, int] = (10, 2)) -> dict:
    """A GraphQL `PullRequest` node with the fields `PRFields` selects."""
    return {
        "number": number, "title": title, "body": body, "url": f"https://github.com/{full_name}/pull/{number}",
        "createdAt": created, "mergedAt": merged, "updatedAt": updated, "baseRefName": "main",
        "baseRefOid": base, "headRefOid": head, "additions": size[0], "deletions": size[1],
        "mergeCommit": {"oid": head} if merged else None,
        "labels": {"nodes": [{"name": n} for n in labels]},
        "commits": {"nodes": [{"commit": {"oid": o, "message": m, "committedDate": d}} for o, m, d in commits]},
        "files": {"totalCount": len(files), "nodes": [{"path": p} for p in files]},
        "closingIssuesReferences": {"nodes": list(closing)},
    }


@dataclass
class World:
    """What a scenario put on the fake server, to assert against."""

    repo: FakeRepo
    clone_url: str
    heads: dict[int, str] = field(default_factory=dict)
    base: str = ""
    add_pr: object = None
    """`add_pr(number, title, body, minute, files, closing=..., ...)`: one more merged PR."""
    add_issue: object = None


def _git(path, *args) -> str:
    return git(list(args), cwd=path).stdout


def t(minute: int) -> str:
    """A fixed time, `minute` minutes after 2026-01-01T00:00:00Z."""
    return f"2026-01-01T{minute // 60:02d}:{minute % 60:02d}:00Z"


CORE = "def area(w, h):\n    return w * h\n"
TEST = "from widgets.core import area\n\n\ndef test_area():\n    assert area(2, 3) == 6\n"


def widgets_world(git_repo, fake: FakeGitHub, full_name: str = "acme/widgets") -> World:
    """The source tests' scenario: PRs #2, #4 and #6 are candidates; every other item is a reject
    with a known reason, or (#15) an issue that only moves the cursor."""
    base = git_repo.commit("initial", {"src/widgets/core.py": CORE, "tests/test_core.py": TEST,
                                       "README.md": "widgets\n"})
    world = World(repo=FakeRepo(full_name, rest_repo(full_name, str(git_repo.path))),
                  clone_url=str(git_repo.path), base=base)
    repo = world.repo

    def branch(number: int, files: dict[str, str]) -> str:
        git_repo.git("checkout", "-q", "-b", f"pr/{number}", base)
        head = git_repo.commit(f"change for #{number}", files)
        git_repo.git("checkout", "-q", "main")
        world.heads[number] = head
        repo.diffs[number] = _git(git_repo.path, "diff", f"{base}...{head}")
        return head

    def pr(number: int, title: str, body: str, minute: int, files: dict[str, str], *, closing=(),
           commit_msg: str = "", updated: int | None = None, merged: bool = True, labels=(), diff=True):
        head = branch(number, files)
        if not diff:
            repo.diffs[number] = None
        up = t(updated if updated is not None else minute + 30)
        repo.items.append(rest_item(full_name, number, title, body, t(minute), up,
                                    merged_at=t(minute + 20) if merged else None, labels=labels))
        repo.prs[number] = gql_pr(full_name, number, title, body, created=t(minute),
                                  merged=t(minute + 20) if merged else None, updated=up, base=base, head=head,
                                  files=list(files), commits=[(head, commit_msg or f"change for #{number}", t(minute + 5))],
                                  closing=closing, labels=labels)

    def issue(number: int, title: str, body: str, minute: int, comments=(), listed: bool = True):
        node = gql_issue(full_name, number, title, body, t(minute), comments)
        repo.issues[number] = node
        if listed:
            repo.items.append(rest_item(full_name, number, title, body, t(minute), t(minute + 1)))
        return node

    world.add_pr, world.add_issue = pr, issue
    fix = {"src/widgets/core.py": CORE.replace("w * h", "abs(w * h)"),
           "tests/test_core.py": TEST + "\n\ndef test_negative():\n    assert area(-2, 3) == 6\n"}
    i1 = issue(1, "area() is negative for negative widths", "area(-2, 3) returns -6.", 0,
               comments=[("Confirmed on 1.2.", t(2)), ("Fixed by #2.", t(200))], listed=False)
    pr(2, "Make area non-negative", "This makes area() positive.", 3, fix, closing=[i1], labels=["bug"])
    issue(3, "Add perimeter()", "We need perimeter(w, h).", 40, comments=[("+1", t(41))], listed=False)
    pr(4, "Add perimeter", "Fixes #3", 42, {
        "src/widgets/core.py": CORE + "\n\ndef perimeter(w, h):\n    return 2 * (w + h)\n",
        "tests/test_perimeter.py": "from widgets.core import perimeter\n\n\ndef test_p():\n    assert perimeter(1, 2) == 6\n"})
    issue(5, "Docstring for area", "area() has no docstring.", 80, listed=False)
    pr(6, "Document area", "Small docs change.", 82, {
        "src/widgets/core.py": '"""Widgets."""\n' + CORE, "tests/test_doc.py": "import widgets\n"},
        commit_msg="Document area\n\nResolves #5", updated=150)
    pr(7, "Refactor", "Internal refactor, no issue.", 90, {"src/widgets/core.py": CORE + "\n# refactor\n",
                                                           "tests/test_core.py": TEST + "\n# r\n"}, updated=150)
    pr(8, "Abandoned attempt", "Fixes #1", 100, {"src/widgets/core.py": CORE + "\n# x\n"}, merged=False)
    i9 = issue(9, "Typo in core", "Spelling.", 110, listed=False)
    pr(10, "Fix typo", "fixes #9", 112, {"src/widgets/core.py": CORE + "\n# typo\n"}, closing=[i9])
    i11 = issue(11, "Flaky test", "test_area flakes.", 120, listed=False)
    pr(12, "Stabilise test", "closes #11", 122, {"tests/test_core.py": TEST + "\n# s\n"}, closing=[i11])
    i13 = issue(13, "Huge regeneration", "Regenerate tables.", 130, listed=False)
    pr(14, "Regenerate", "closes #13", 132, {"src/widgets/core.py": CORE + "\n# big\n",
                                             "tests/test_core.py": TEST + "\n# big\n"}, closing=[i13], diff=False)
    issue(15, "Question about area", "How do I use it?", 140)
    pr(16, "Follow-up", "Fixes #7", 160, {"src/widgets/core.py": CORE + "\n# f\n",
                                           "tests/test_core.py": TEST + "\n# f\n"})
    pr(17, "Cross-repo fix", "Fixes other/lib#3", 170, {"src/widgets/core.py": CORE + "\n# c\n",
                                                         "tests/test_core.py": TEST + "\n# c\n"})
    fake.add_repo(repo)
    return world


EXPECTED_CANDIDATES = [2, 4, 6]
EXPECTED_REJECTS = {
    7: "no_linked_issue", 8: "not_merged", 10: "no_test_change", 12: "no_code_change",
    14: "patch_too_large", 16: "no_linked_issue", 17: "no_linked_issue",
}
