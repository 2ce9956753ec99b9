"""Pure parts of the `github` source: closing keywords, hints, problem statements, the cursor,
the query builder and the settings model."""

from __future__ import annotations

import tomllib
from datetime import datetime, timezone

import pytest
from envmine.testing.github_world import gql_issue, gql_pr

from envmine.config import RunConfig
from envmine.languages import load_language
from envmine.miners.github import candidates as c
from envmine.miners.github.cursor import Cursor
from envmine.miners.github.queries import batch_query
from envmine.miners.github.settings import GithubSettings

PY = load_language("python")


@pytest.mark.parametrize("text, expected", [
    ("Fixes #12", [12]),
    ("fixed: #3 and closes #4, resolves #3", [3, 4]),
    ("This RESOLVES acme/widgets#9", [9]),
    ("Closes https://github.com/acme/widgets/issues/77.", [77]),
    ("Fixes other/lib#3 and fixes https://github.com/other/lib/issues/5", []),
    ("Related to #5, see #6; prefix#7; fixesmith #8", []),
    ("close #1\nfix #2\nresolve #3\nclosed #4\nfixes #5\nresolved #6", [1, 2, 3, 4, 5, 6]),
    (None, []),
])
def test_closing_refs(text, expected):
    assert c.closing_refs(text, "acme/widgets") == expected


def test_hints_keep_comments_before_the_first_commit_in_order():
    comments = [{"body": "later", "createdAt": "2026-01-02T00:00:00Z"},
                {"body": " first ", "createdAt": "2026-01-01T00:00:00Z"},
                {"body": "second", "createdAt": "2026-01-01T05:00:00Z"}]
    cutoff = datetime(2026, 1, 1, 12, tzinfo=timezone.utc)
    assert c.hints_before(comments, cutoff) == "first\nsecond"
    assert c.hints_before(comments, None) == "first\nsecond\nlater"


def test_problem_statement_joins_issues():
    issues = [{"title": "A", "body": "body a"}, {"title": "B", "body": None}]
    assert c.problem_statement(issues) == "A\nbody a\n\nB"
    assert c.problem_statement([{"title": "", "body": ""}]) == ""


def pr(files, total=None, merged="2026-01-01T00:00:00Z", body="Fixes #1", closing=()):
    node = gql_pr("acme/widgets", 2, "t", body, created="2026-01-01T00:00:00Z", merged=merged,
                  updated="2026-01-01T00:00:00Z", base="a" * 40, head="b" * 40, files=files,
                  commits=[("b" * 40, "msg", "2026-01-01T00:00:00Z")], closing=closing)
    if total is not None:
        node["files"]["totalCount"] = total
    return node


def test_prefilter_decides_from_metadata():
    assert c.prefilter(pr(["src/a.py", "tests/test_a.py"]), "acme/widgets", PY, 2000) is None
    assert c.prefilter(pr(["src/a.py"]), "acme/widgets", PY, 2000) == "no_test_change"
    assert c.prefilter(pr(["tests/test_a.py"]), "acme/widgets", PY, 2000) == "no_code_change"
    assert c.prefilter(pr(["src/a.py"], total=150), "acme/widgets", PY, 2000) is None  # partial list
    assert c.prefilter(pr(["src/a.py"], merged=None), "acme/widgets", PY, 2000) == "not_merged"
    assert c.prefilter(pr(["src/a.py"], body="no refs"), "acme/widgets", PY, 2000) == "no_linked_issue"
    assert c.prefilter(pr(["src/a.py", "tests/t.py"]), "acme/widgets", PY, 5) == "patch_too_large"


def test_linked_issues_prefer_githubs_links_then_keywords():
    other = gql_issue("other/lib", 40, "x", "y", "2026-01-01T00:00:00Z")
    mine = gql_issue("acme/widgets", 8, "x", "y", "2026-01-01T00:00:00Z")
    node = pr(["a"], body="Fixes #1", closing=[mine, other])
    node["commits"]["nodes"].append({"commit": {"oid": "c", "message": "resolve #2", "committedDate": "x"}})
    assert c.linked_issue_numbers(node, "acme/widgets") == [8, 1, 2]


def test_build_candidate_rejects_binary_patches():
    diff = ("diff --git a/src/a.png b/src/a.png\nGIT binary patch\nliteral 1\n\n"
            "diff --git a/tests/t.py b/tests/t.py\n--- a/tests/t.py\n+++ b/tests/t.py\n@@ -1 +1 @@\n-a\n+b\n")
    out = c.build_candidate(pr(["x"]), [{"title": "t", "body": "b"}], diff, repo="acme/widgets", repo_url="u",
                            spec=PY, max_lines=100, provenance={})
    assert (out.reason, out.detail, out.subject) == ("binary_patch", "src/a.png", "acme__widgets-2")


def test_cursor_round_trip_and_ties():
    cur = Cursor.decode(None)
    a = {"number": 5, "updated_at": "2026-01-01T00:00:00Z"}
    b = {"number": 6, "updated_at": "2026-01-01T00:00:00Z"}
    later = {"number": 2, "updated_at": "2026-01-02T00:00:00Z"}
    assert not cur.seen(a)
    cur.advance(a)
    assert cur.seen(a) and not cur.seen(b)
    again = Cursor.decode(cur.encode())
    assert again == cur and again.encode() == '{"since":"2026-01-01T00:00:00Z","done":[5]}'
    again.advance(b)
    again.advance(later)
    assert again == Cursor(since="2026-01-02T00:00:00Z", done=[2]) and again.seen(b)


def test_batch_query_aliases_numbers():
    query = batch_query([3, 4], [9])
    assert "pr3: pullRequest(number: 3) { ...PRFields }" in query
    assert "issue9: issueOrPullRequest(number: 9)" in query
    assert "closingIssuesReferences" in query and "fragment IssueFields on Issue" in query
    assert "PRFields" not in batch_query([], [1])


def test_settings_from_toml_and_environment(monkeypatch):
    config = tomllib.loads("""
[github]
base_url = "https://ghe.example.com/api/v3"
token_env = "MY_TOKENS"
query = "topic:cli"
languages = ["python"]
min_stars = 20
request_budget = 900
max_wait_s = 30
""")
    monkeypatch.setenv("MY_TOKENS", "ghp_one, ghp_two")
    gh = RunConfig.model_validate(config).github
    assert gh.resolved_tokens() == ["ghp_one", "ghp_two"]
    assert (gh.base_url, gh.min_stars, gh.request_budget, gh.max_wait_s) == ("https://ghe.example.com/api/v3", 20, 900, 30)
    assert "ghp_one" not in repr(GithubSettings(tokens=["ghp_one"]))
    assert RunConfig().github.licenses[:2] == ["mit", "apache-2.0"]
    with pytest.raises(ValueError):
        GithubSettings(app_id=3)
