"""Record factories for the catalog tests: small, fully specified records (imported by the
tests and by the subprocess scripts)."""

from __future__ import annotations

from datetime import datetime, timezone

from envmine.records import Build, Candidate, Reject, Repo, TaskInstance, TestRun

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc)


def candidate(n: int | str, repo: str = "acme/widgets", language: str = "python", source: str = "git", **extra) -> Candidate:
    owner, name = repo.split("/")
    return Candidate(
        instance_id=f"{owner}__{name}-{n}",
        repo=repo,
        source=source,
        repo_url=f"/srv/git/{name}",
        base_commit=f"{n}".rjust(40, "a"),
        head_commit=f"{n}".rjust(40, "b"),
        patch="diff --git a/src/w.py b/src/w.py\n-old\n+new\n",
        test_patch="diff --git a/tests/test_w.py b/tests/test_w.py\n+def test_w(): pass\n",
        problem_statement=f"Widget {n} breaks",
        created_at=T0,
        language=language,
        labels=["bug", "p1"],
        patch_files=["src/w.py"],
        test_files=["tests/test_w.py"],
        provenance={"commit": f"{n}".rjust(40, "b")},
        **extra,
    )


def instance(cand: Candidate, **extra) -> TaskInstance:
    fields = dict(
        instance_id=cand.instance_id,
        repo=cand.repo,
        base_commit=cand.base_commit,
        patch=cand.patch,
        test_patch=cand.test_patch,
        problem_statement=cand.problem_statement,
        created_at=cand.created_at,
        FAIL_TO_PASS=["tests/test_w.py::test_w"],
        PASS_TO_PASS=["tests/test_w.py::test_old", "tests/test_w.py::test_other"],
        language=cand.language,
        image=f"envmine/task:{cand.instance_id}",
        eval_script="#!/bin/bash\npytest -rA\n",
        source=cand.source,
        runner="pytest",
        test_command="pytest -rA",
        stability={"tests/test_w.py::test_w": 1.0, "tests/test_w.py::test_old": 1.0},
        validated_at=T0,
    )
    fields.update(extra)
    return TaskInstance(**fields)


def build(cand: Candidate, layer: str = "task", status: str = "built", at: datetime = T0) -> Build:
    return Build(instance_id=cand.instance_id, layer=layer, image=f"envmine/{layer}:{cand.instance_id}", status=status, built_at=at)


def run(cand: Candidate, phase: str, tests: dict[str, str], suite_ran: bool = True) -> TestRun:
    return TestRun(instance_id=cand.instance_id, phase=phase, image="img", exit_code=0, suite_ran=suite_ran, tests=tests, ran_at=T0)


def reject(stage: str, reason: str, subject: str, repo: str = "", language: str = "") -> Reject:
    return Reject(stage=stage, reason=reason, subject=subject, repo=repo, language=language, rejected_at=T0)


def repo(name: str, source: str = "git", language: str = "python") -> Repo:
    return Repo(repo=name, source=source, url=f"/srv/git/{name}", language=language, visited_at=T0)


def outcome(n: int | str, tests: int = 200, prefix: str = "o") -> tuple[dict, dict]:
    """One candidate's outcome as the flow commits it: 1 instance, 3 runs of `tests` statuses,
    its earlier rejects retracted."""
    cand = candidate(f"{prefix}{n}")
    statuses = {f"tests/test_w.py::test_{i}": "PASSED" for i in range(tests)}
    runs = [run(cand, phase, statuses) for phase in ("before", "after", "after#2")]
    key = cand.instance_id
    return ({"instances": [instance(cand)], "validations": runs, "builds": [build(cand)], "rejects": []},
            {"rejects": [f"build:{key}", f"validate:{key}"], "instances": []})
