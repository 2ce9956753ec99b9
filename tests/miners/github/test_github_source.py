"""The `github` source end to end against the fake GitHub and a real git repository."""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path

import pytest
from envmine.testing.fake_github import TOKEN, TOKEN2, FakeGitHub, Fault
from envmine.testing.github_world import EXPECTED_CANDIDATES, EXPECTED_REJECTS, t, widgets_world

from envmine.miners.clone import clone_path
from envmine.miners.github.client import GithubError
from envmine.miners.github.cursor import Cursor
from envmine.miners.github.settings import GithubSettings
from envmine.miners.github.source import mine_github
from envmine.warehouse.catalog import Catalog


def numbers(records) -> list[int]:
    return [int(r.subject.rsplit("-", 1)[1]) if hasattr(r, "subject") else r.pr_number for r in records]


def test_mines_exact_candidates_and_rejects(fake, gh, git_repo, settings):
    world = widgets_world(git_repo, fake)
    result = mine_github("acme/widgets", settings, gh)

    assert [c.pr_number for c in result.candidates] == EXPECTED_CANDIDATES
    assert {n: r.reason for n, r in zip(numbers(result.rejects), result.rejects)} == EXPECTED_REJECTS
    first, by_keyword, by_commit = result.candidates
    assert first.instance_id == "acme__widgets-2"
    assert first.problem_statement == "area() is negative for negative widths\narea(-2, 3) returns -6."
    assert first.hints_text == "Confirmed on 1.2."  # the comment after the first commit is left out
    assert first.base_commit == world.base and first.head_commit == world.heads[2]
    assert first.labels == ["bug"] and first.issue_numbers == [1]
    assert first.patch_files == ["src/widgets/core.py"] and first.test_files == ["tests/test_core.py"]
    assert first.patch.startswith("diff --git a/src/widgets/core.py") and "+    return abs(w * h)" in first.patch
    assert "+def test_negative():" in first.test_patch
    assert str(first.created_at) == "2026-01-01 00:03:00+00:00"
    assert by_keyword.issue_numbers == [3] and by_keyword.hints_text == "+1"
    assert by_commit.issue_numbers == [5] and by_commit.problem_statement == "Docstring for area\narea() has no docstring."
    assert result.repo.cursor == Cursor(since=t(200), done=[17]).encode()
    assert result.repo.language == "python" and result.repo.license == "mit"
    # repo, listing, one GraphQL batch, one follow-up for the issue named in a commit, 4 diffs
    assert [(c.method, c.path) for c in fake.log] == [
        ("GET", "/repos/acme/widgets"), ("GET", "/repos/acme/widgets/issues"),
        ("POST", "/graphql"), ("POST", "/graphql"),
        ("GET", "/repos/acme/widgets/pulls/2"), ("GET", "/repos/acme/widgets/pulls/4"),
        ("GET", "/repos/acme/widgets/pulls/6"), ("GET", "/repos/acme/widgets/pulls/14"),
    ]


def test_enterprise_server_mines_the_same_candidates(gh, git_repo, settings):
    server = FakeGitHub(tokens={TOKEN: 100}, prefix="/api/v3")
    widgets_world(git_repo, server)
    base = server.start()
    try:
        result = mine_github("acme/widgets", settings, gh.model_copy(update={"base_url": base}))
    finally:
        server.stop()
    assert [c.pr_number for c in result.candidates] == EXPECTED_CANDIDATES
    assert {c.path for c in server.log} >= {"/graphql", "/repos/acme/widgets/pulls/2"}


def test_candidates_apply_to_their_base_in_the_shared_clone(fake, gh, git_repo, settings, tmp_path):
    widgets_world(git_repo, fake)
    result = mine_github("acme/widgets", settings, gh)
    mirror = clone_path(str(git_repo.path), settings.cache_dir)
    assert (mirror / "HEAD").is_file()
    for cand in result.candidates:
        work = tmp_path / f"wt{cand.pr_number}"
        subprocess.run(["git", "clone", "-q", str(mirror), str(work)], check=True)
        subprocess.run(["git", "-C", str(work), "checkout", "-q", cand.base_commit], check=True)
        for patch in (cand.test_patch, cand.patch):
            subprocess.run(["git", "-C", str(work), "apply", "--check", "-"], input=patch, text=True, check=True)


def test_incremental_runs_fetch_only_what_is_new(fake, gh, git_repo, settings):
    world = widgets_world(git_repo, fake)
    first = mine_github("acme/widgets", settings, gh)
    second = mine_github("acme/widgets", settings, gh, cursor=first.repo.cursor)
    assert second.candidates == [] and second.rejects == []
    quota = fake.remaining[TOKEN]
    fake.log.clear()
    third = mine_github("acme/widgets", settings, gh, cursor=second.repo.cursor)
    assert third.repo.cursor == first.repo.cursor
    assert [c.status for c in fake.log] == [304, 304]  # repository and listing unchanged: no quota spent
    assert fake.remaining[TOKEN] == quota

    node = world.add_issue(20, "area() of zero", "area(0, 1) should be 0.", 300, listed=False)
    world.add_pr(21, "Zero area", "Fixes #20", 301, {
        "src/widgets/core.py": "def area(w, h):\n    return max(w * h, 0)\n",
        "tests/test_zero.py": "def test_zero():\n    assert True\n"}, closing=[node])
    fake.log.clear()
    fourth = mine_github("acme/widgets", settings, gh, cursor=third.repo.cursor)
    assert [c.pr_number for c in fourth.candidates] == [21] and fourth.rejects == []
    assert [(c.path, c.status) for c in fake.log] == [
        ("/repos/acme/widgets", 304), ("/repos/acme/widgets/issues", 200), ("/graphql", 200),
        ("/repos/acme/widgets/pulls/21", 200)]


def test_max_candidates_stops_after_the_pr_that_reaches_it(fake, gh, git_repo, settings):
    widgets_world(git_repo, fake)
    result = mine_github("acme/widgets", settings, gh, max_candidates=2)
    assert [c.pr_number for c in result.candidates] == [2, 4]
    rest = mine_github("acme/widgets", settings, gh, cursor=result.repo.cursor)
    assert [c.pr_number for c in rest.candidates] == [6]
    assert sorted(numbers(result.rejects + rest.rejects)) == sorted(EXPECTED_REJECTS)


class Killed(Exception):
    """Stands for the process dying right after a write."""


@pytest.mark.parametrize("crash", ["github_fails_mid_batch", "rate_limited_mid_batch", "killed_after_write"])
def test_crash_mid_repository_loses_and_duplicates_nothing(fake, gh, git_repo, settings, crash):
    widgets_world(git_repo, fake)
    gh = gh.model_copy(update={"pr_batch": 3})
    emitted: list[str] = []
    writes = {"n": 0}

    catalog = Catalog.open(settings.catalog_dir)

    def persist(repo, batch):  # each upsert is one transaction: a crash keeps what was written
        catalog.upsert("candidates", batch.candidates)
        catalog.upsert("rejects", batch.rejects)
        catalog.upsert("repos", [repo])  # the cursor goes last
        emitted.extend([c.instance_id for c in batch.candidates] + [r.subject for r in batch.rejects])
        writes["n"] += 1
        if crash == "killed_after_write" and writes["n"] == 2:
            raise Killed()

    if crash == "github_fails_mid_batch":  # batches: [2 4 8] [15 10 6] [7 12 14] [16 17]
        fake.faults.append(Fault(path=r"/pulls/6$", status=502, times=3))
    if crash == "rate_limited_mid_batch":  # a secondary limit longer than max_wait_s: retry later
        fake.faults.append(Fault(path=r"/pulls/6$", status=403, headers={"Retry-After": "600"},
                                 body={"message": "You have exceeded a secondary rate limit."}))
    if crash == "rate_limited_mid_batch":  # not an error: it stops and says when to come back
        stopped = mine_github("acme/widgets", settings, gh, on_batch=persist)
        assert stopped.repo.meta["stopped"] == "rate_limited" and 590 <= int(stopped.repo.meta["retry_after_s"]) <= 600
        assert [c.pr_number for c in stopped.candidates] == [2, 4]
    else:
        with pytest.raises((GithubError, Killed)):
            mine_github("acme/widgets", settings, gh, on_batch=persist)
    cursor = catalog.records("repos")[0].cursor
    fake.log.clear()
    mine_github("acme/widgets", settings, gh, cursor=cursor, on_batch=persist)

    with catalog:
        stored = sorted(c.pr_number for c in catalog.records("candidates"))
        rejected = {int(r.subject.rsplit("-", 1)[1]): r.reason for r in catalog.records("rejects")}
    assert stored == EXPECTED_CANDIDATES and rejected == EXPECTED_REJECTS
    assert len(emitted) == len(set(emitted))  # every PR was handed over exactly once
    refetched = {c.path for c in fake.log if "/pulls/" in c.path}
    assert "/repos/acme/widgets/pulls/2" not in refetched and "/repos/acme/widgets/pulls/4" not in refetched


def test_skips_repositories_with_a_reason_code(fake, gh, git_repo, settings):
    world = widgets_world(git_repo, fake)
    world.repo.rest["archived"] = True
    result = mine_github("acme/widgets", settings, gh)
    assert result.candidates == [] and [(r.stage, r.reason, r.subject) for r in result.rejects] == [
        ("discover", "archived", "acme/widgets")]
    assert len(fake.log) == 1


def test_the_token_never_reaches_logs_records_or_the_catalog(fake, gh, git_repo, settings, caplog):
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="github")
    widgets_world(git_repo, fake)
    gh = gh.model_copy(update={"tokens": [TOKEN, TOKEN2]})
    fake.faults.append(Fault(path=r"/graphql$", status=502, times=1))

    def persist(repo, batch):
        with Catalog.open(settings.catalog_dir) as catalog:
            catalog.upsert("candidates", batch.candidates)
            catalog.upsert("rejects", batch.rejects)
            catalog.upsert("repos", [repo])

    result = mine_github("acme/widgets", settings, gh, on_batch=persist)
    dumped = " ".join(r.model_dump_json() for r in [result.repo, *result.candidates, *result.rejects])
    files = b" ".join(p.read_bytes() for p in Path(settings.home).rglob("*") if p.is_file())
    for secret in (TOKEN, TOKEN2):
        assert secret not in caplog.text and secret not in dumped
        assert secret.encode() not in files
    assert any("Authorization" in r.getMessage() for r in caplog.records)  # the requests were logged


def test_request_budget_stops_cleanly_and_the_next_run_resumes(fake, gh, git_repo, settings):
    widgets_world(git_repo, fake)
    config = {"base_url": gh.base_url, "tokens": [TOKEN], "active_within_days": 0, "pr_batch": 3,
              "request_budget": 5, "seconds_between_requests": 0}
    first = mine_github("acme/widgets", settings, GithubSettings.model_validate(config))
    assert [c.pr_number for c in first.candidates] == [2, 4] and first.repo.meta["stopped"] == "request_budget"
    assert first.repo.cursor == Cursor(since=t(130), done=[8]).encode() and len(fake.log) == 5
    rest = mine_github("acme/widgets", settings, GithubSettings.model_validate({**config, "request_budget": 100}),
                       first.repo.cursor)
    assert [c.pr_number for c in rest.candidates] == [6] and "stopped" not in rest.repo.meta


def test_a_base_commit_missing_from_the_clone_is_rejected(fake, gh, git_repo, settings):
    world = widgets_world(git_repo, fake)
    world.repo.prs[4]["baseRefOid"] = "0" * 40  # e.g. a force-pushed-away base
    result = mine_github("acme/widgets", settings, gh)
    assert [c.pr_number for c in result.candidates] == [2, 6]
    missing = [r for r in result.rejects if r.reason == "clone_failed"]
    assert [(r.subject, r.detail) for r in missing] == [("acme__widgets-4", f"base commit {'0' * 40} not in clone")]
