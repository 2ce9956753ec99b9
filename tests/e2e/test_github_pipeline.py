"""The `github` source through the whole pipeline: the real CLI, the real Prefect flow, real Docker.

A fake GitHub (envmine/testing/fake_github.py) serves one repository, `owner/calc`, whose
clone URL is a bare git repository made here: a small Python package whose `add()` is wrong,
issue #1 reporting it (one comment before the fix, one after), and PR #2 ("Fixes #1"), merged,
that corrects `add()` and adds `test_add`. `envmine run --github owner/calc` must turn it into
exactly one task, keep the token out of every output, table and file, and on a second run ask
GitHub only whether anything changed.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
from pathlib import Path

import github  # noqa: F401 - it sets its logger's level on import; the fixture's must come after
import pytest
from typer.testing import CliRunner

from envmine.cli import app
from envmine.miners.github.cursor import Cursor
from envmine.testing import pyrepos
from envmine.testing.fake_github import FakeGitHub, FakeRepo
from envmine.testing.github_world import gql_issue, gql_pr, rest_item, rest_repo, t
from envmine.warehouse.schema import TABLES

pytestmark = [pytest.mark.docker, pytest.mark.slow]

TOKEN = "ghp_E2EsecretTOKENe2eSECRET0123456789ab"
TOKEN_ENV = "ENVMINE_TEST_GH_TOKEN"
FULL = "owner/calc"
ISSUE_TITLE = "add() returns the difference"
ISSUE_BODY = "calc.add(2, 3) returns -1; it should return 5."
PRE_COMMENT = "Confirmed on 0.1.0, add() subtracts."
POST_COMMENT = "Released in 0.1.1, thanks!"
runner = CliRunner()


def git(repo: Path, *args: str, minute: int = 0) -> str:
    """git with a fixed identity and the commit time `t(minute)` (matches the GitHub metadata)."""
    env = {"GIT_AUTHOR_NAME": "Dev", "GIT_AUTHOR_EMAIL": "dev@example.com", "GIT_COMMITTER_NAME": "Dev",
           "GIT_COMMITTER_EMAIL": "dev@example.com", "GIT_AUTHOR_DATE": t(minute),
           "GIT_COMMITTER_DATE": t(minute), "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null",
           "PATH": os.environ["PATH"], "HOME": str(repo)}
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True,
                          env=env).stdout.strip()


def commit(repo: Path, files: dict[str, str], message: str, minute: int) -> str:
    for rel, text in files.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message, minute=minute)
    return git(repo, "rev-parse", "HEAD")


def calc_on_github(root: Path, fake: FakeGitHub) -> dict:
    """The bare repository GitHub would serve, and its issue and merged PR on the fake server."""
    work, bare = root / "work" / "calc", root / "github" / "owner" / "calc.git"
    work.mkdir(parents=True)
    git(work, "init", "-q", "-b", "main")
    base = commit(work, pyrepos.base_files(), "Initial version", 0)
    git(work, "checkout", "-q", "-b", "fix-add")
    fix = {"calc/__init__.py": pyrepos.CALC_FIXED, "tests/test_calc.py": pyrepos.TEST_WITH_ADD}
    head = commit(work, fix, "Fix add() returning the difference", 20)
    git(work, "checkout", "-q", "main")
    git(work, "merge", "-q", "--no-ff", "-m", "Merge pull request #2 from dev/fix-add", "fix-add", minute=40)
    merge = git(work, "rev-parse", "HEAD")
    git(root, "init", "-q", "--bare", str(bare))
    git(work, "push", "-q", str(bare), "main", "fix-add:refs/pull/2/head")

    issue = gql_issue(FULL, 1, ISSUE_TITLE, ISSUE_BODY, t(10), comments=[(PRE_COMMENT, t(12)), (POST_COMMENT, t(60))])
    pr = gql_pr(FULL, 2, "Fix add()", "Fixes #1", created=t(21), merged=t(40), updated=t(41), base=base,
                head=head, files=list(fix), commits=[(head, "Fix add() returning the difference", t(20))],
                closing=[issue], labels=["bug"], size=(3, 2))
    pr["mergeCommit"] = {"oid": merge}
    repo = FakeRepo(FULL, rest_repo(FULL, str(bare)), issues={1: issue}, prs={2: pr},
                    diffs={2: git(work, "diff", f"{base}...{head}") + "\n"})
    repo.items = [rest_item(FULL, 2, "Fix add()", "Fixes #1", t(21), t(41), merged_at=t(40), labels=["bug"]),
                  rest_item(FULL, 1, ISSUE_TITLE, ISSUE_BODY, t(10), t(60))]
    fake.add_repo(repo)
    return {"base": base, "head": head, "merge": merge, "bare": bare}


CONFIG = """\
[run]
max_candidates = 5

[settings.validation]
after_runs = 2

[settings.docker]
concurrency = 1

[github]
base_url = "{base_url}"
token_env = "{token_env}"
languages = ["python"]
active_within_days = 0
seconds_between_requests = 0
max_wait_s = 5
retries = 1
"""


class Collect(logging.Handler):
    """Every log record's final text (after the project's redaction filters ran)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def cli(*args: str):
    """Invoke the real CLI with the token in its environment variable; it must succeed."""
    result = runner.invoke(app, list(args), env={TOKEN_ENV: TOKEN}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture(scope="module")
def mined(tmp_path_factory, prefect_harness):
    """One `envmine run --github owner/calc` over the fake GitHub; what it printed and logged."""
    root, home = tmp_path_factory.mktemp("gh"), tmp_path_factory.mktemp("home")
    fake = FakeGitHub(tokens={TOKEN: 5000})
    fake.start()
    facts = calc_on_github(root, fake)
    config = root / "run.toml"
    config.write_text(CONFIG.format(base_url=fake.base_url, token_env=TOKEN_ENV))
    logs = Collect()
    # Handlers on the loggers that see requests: records did not reach a root handler during a run.
    watched = [logging.getLogger(n) for n in ("github", "urllib3", "envmine")]
    levels = [lg.level for lg in watched]
    with pytest.MonkeyPatch.context() as mp:
        for name in ("ENVMINE_HOME", "PREFECT_LOCAL_STORAGE_PATH"):  # the CLI sets them; restore after
            mp.delenv(name, raising=False)
        mp.delenv(TOKEN_ENV, raising=False)
        for lg in watched:
            lg.addHandler(logs)
            lg.setLevel(logging.DEBUG)
        try:
            first = cli("run", "--github", FULL, "--config", str(config), "--home", str(home))
            yield {"home": home, "fake": fake, "config": config, "first": first, "logs": logs, **facts}
        finally:
            for lg, lvl in zip(watched, levels):
                lg.removeHandler(logs)
                lg.setLevel(lvl)
            fake.stop()


def sql(home: Path, query: str) -> list[dict]:
    return json.loads(cli("sql", "--format", "json", "--home", str(home), query).stdout)


def test_the_merged_pr_becomes_one_verified_task(mined):
    rows = sql(mined["home"], "SELECT * FROM instances")
    assert [r["instance_id"] for r in rows] == ["owner__calc-2"], (
        mined["first"].output, sql(mined["home"], "SELECT stage, reason, subject, detail FROM rejects"))
    inst = rows[0]
    assert inst["FAIL_TO_PASS"] == ["tests/test_calc.py::test_add"]
    assert inst["PASS_TO_PASS"] == ["tests/test_calc.py::test_mul"]
    assert inst["repo"] == FULL and inst["source"] == "github" and inst["language"] == "python"
    assert inst["base_commit"] == mined["base"]
    assert ISSUE_TITLE in inst["problem_statement"] and ISSUE_BODY in inst["problem_statement"]
    assert PRE_COMMENT in inst["hints_text"] and POST_COMMENT not in inst["hints_text"]
    assert "return a + b" in inst["patch"] and "tests/test_calc.py" not in inst["patch"]
    assert "def test_add" in inst["test_patch"]


def test_candidate_and_cursor_are_recorded(mined):
    home = mined["home"]
    cands = sql(home, "SELECT instance_id, pr_number, issue_numbers, labels, head_commit FROM candidates")
    assert cands == [{"instance_id": "owner__calc-2", "pr_number": 2, "issue_numbers": [1], "labels": ["bug"],
                      "head_commit": mined["head"]}]
    repos = sql(home, "SELECT repo, source, url, cursor, license FROM repos")
    assert repos == [{"repo": FULL, "source": "github", "url": str(mined["bare"]),
                      "cursor": Cursor(since=t(60), done=[1]).encode(), "license": "mit"}]


def test_run_reports_its_funnel_without_errors(mined):
    output = mined["first"].output
    assert "Traceback" not in output and "| ERROR" not in output, output[-3000:]
    assert "validated" in output
    assert [(c.method, c.path) for c in mined["fake"].log] == [
        ("GET", f"/repos/{FULL}"), ("GET", f"/repos/{FULL}/issues"), ("POST", "/graphql"),
        ("GET", f"/repos/{FULL}/pulls/2")]


def test_token_appears_in_no_output_table_or_file(mined):
    home = mined["home"]
    assert mined["fake"].calls("/graphql"), "the run never reached the fake GitHub"
    assert TOKEN not in mined["first"].output and TOKEN not in mined["first"].stdout
    lines = mined["logs"].lines
    assert any("Authorization" in line for line in lines)  # PyGithub logged its request headers
    assert not [line for line in lines if TOKEN in line]
    for table in TABLES:
        dump = cli("sql", "--format", "json", "--home", str(home), f"SELECT * FROM {table}").stdout
        assert TOKEN not in dump, table
    secret = TOKEN.encode()
    files = [p for p in home.rglob("*") if p.is_file()]
    assert files and not [str(p) for p in files if secret in p.read_bytes()]


def test_second_run_only_asks_whether_anything_changed(mined):
    home, fake = mined["home"], mined["fake"]
    counts = "SELECT " + ", ".join(f"(SELECT count(*) FROM {n}) AS {n}" for n in TABLES)
    before, seen = sql(home, counts), len(fake.log)
    again = cli("run", "--github", FULL, "--config", str(mined["config"]), "--home", str(home))
    assert TOKEN not in again.output
    new = [(c.method, c.path, c.status) for c in fake.log[seen:]]
    assert new == [("GET", f"/repos/{FULL}", 304), ("GET", f"/repos/{FULL}/issues", 200)]
    assert "since=" in fake.log[-1].query
    assert sql(home, counts) == before
    assert sql(home, "SELECT cursor FROM repos") == [{"cursor": Cursor(since=t(60), done=[1]).encode()}]
