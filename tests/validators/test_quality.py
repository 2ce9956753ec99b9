"""Automatic quality codes: on real tasks of the default config (captured from a real run, see
tests/review/capture_tasks.py) and on the cases the issue names."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from envmine.records import TaskInstance
from envmine.records import TestRun as Run
from envmine.validators.quality import assess, leak_evidence, statement_codes

FIXTURE = Path(__file__).parents[1] / "review" / "fixtures" / "default_tasks.json"


@pytest.fixture(scope="module")
def real():
    data = json.loads(FIXTURE.read_text())
    tasks = {row["instance_id"]: TaskInstance.model_validate(row) for row in data["instances"]}
    befores = {row["instance_id"]: Run.model_validate(row) for row in data["validations"] if row["phase"] == "before"}
    return tasks, befores


def codes(real, instance_id: str) -> dict[str, str]:
    tasks, befores = real
    return {flag.code: flag.detail for flag in assess(tasks[instance_id], befores.get(instance_id))}


def test_import_failure_only_f2p_is_flagged_on_the_coarse_real_task(real):
    found = codes(real, "pypi__iniconfig-2.2.0")
    assert found["f2p_import_failure_only"] == "42 F2P / 0 P2P; before: ImportError"
    assert "f2p_import_failure_only" in codes(real, "pypi__boltons-25.0.0")


def test_tests_that_failed_on_their_own_are_not_import_failures(real):
    for instance_id in ("pypi__iniconfig-2.3.0", "pypi__iniconfig-2.3.1", "pypi__more-itertools-11.1.0"):
        assert "f2p_import_failure_only" not in codes(real, instance_id)


def test_a_changelog_that_names_the_new_api_leaks_the_fix(real):
    detail = codes(real, "pypi__iniconfig-2.3.0")["statement_leaks_fix"]
    assert "identifier strip_inline_comments" in detail.split("; ")


def test_huge_patches_and_sleeping_tests_are_flagged(real):
    assert codes(real, "pypi__boltons-25.0.0")["patch_huge"] == "569 changed lines (> 500)"
    assert codes(real, "pypi__boltons-26.0.0")["tests_need_wall_clock"] == "time.sleep"


def test_every_f2p_of_the_real_tasks_is_in_its_test_patch(real):
    tasks, befores = real
    assert len(tasks) >= 8
    assert not [i for i, t in tasks.items() if "f2p_not_in_test_patch" in codes(real, i)]


ISSUE_PATCH = """diff --git a/src/mail.py b/src/mail.py
--- a/src/mail.py
+++ b/src/mail.py
@@ -10,5 +10,5 @@ def send(message, subject=None):
-    if not message:
+    if message is None:
         raise ValueError("message required")
-    if not subject:
+    if subject is None:
         subject = default_subject()
"""


def test_the_issue_example_statement_leaks_and_an_observation_does_not():
    leaky = "Replace the truthiness guards with 'is None' checks so an empty message is accepted"
    assert leak_evidence(leaky, ISSUE_PATCH) == ["code 'is None'"]
    observed = "send('') raises ValueError: message required, although an empty message is a valid message."
    assert leak_evidence(observed, ISSUE_PATCH) == []


def instance(**fields) -> TaskInstance:
    base = dict(instance_id="acme__mail-1", repo="acme/mail", base_commit="a" * 40, patch=ISSUE_PATCH,
                test_patch="diff --git a/tests/test_mail.py b/tests/test_mail.py\n+def test_empty(): send('')\n",
                problem_statement="Sending an empty message raises ValueError although the docs say empty bodies are fine.",
                created_at="2025-01-01T00:00:00Z", FAIL_TO_PASS=["tests/test_mail.py::test_empty"],
                PASS_TO_PASS=["tests/test_mail.py::test_send"], language="python", image="i", eval_script="",
                source="git", runner="pytest", test_command="pytest")
    return TaskInstance(**(base | fields))


def test_references_short_statements_and_outside_tests():
    assert statement_codes("Fixes #12") == {"statement_only_reference": "only references: 'Fixes #12'"}
    assert statement_codes("Closes https://github.com/a/b/issues/3 (v1.2.3)").keys() == {"statement_only_reference"}
    assert statement_codes("Fix crash in parser").keys() == {"statement_too_short"}
    assert [f.code for f in assess(instance())] == []
    moved = assess(instance(FAIL_TO_PASS=["tests/test_other.py::test_x", "tests/test_mail.py::test_empty"]))
    assert [(f.code, f.detail) for f in moved] == [("f2p_not_in_test_patch", "1 of 2: tests/test_other.py::test_x")]


def test_network_wall_clock_trivial_and_flaky():
    net = "diff --git a/tests/test_mail.py b/tests/test_mail.py\n+    r = requests.get('https://api.example.net/x')\n+    time.sleep(2)\n"
    flags = {f.code: f.detail for f in assess(instance(test_patch=net))}
    assert flags["tests_need_network"] == "https://, requests.get"
    assert flags["tests_need_wall_clock"] == "time.sleep"
    local = "diff --git a/tests/test_mail.py b/tests/test_mail.py\n+    r = client.get('http://localhost:8000/x')\n"
    assert "tests_need_network" not in {f.code for f in assess(instance(test_patch=local))}
    trivial = "diff --git a/src/mail.py b/src/mail.py\n+x = 1\n"
    assert {f.code for f in assess(instance(patch=trivial))} == {"patch_trivial"}
    flaky = assess(instance(stability={"tests/test_mail.py::test_empty": 0.5}))
    assert [(f.code, f.detail) for f in flaky] == [("f2p_flaky", "tests/test_mail.py::test_empty")]


def test_before_run_with_a_collection_error_is_import_failure_only():
    before = Run(instance_id="acme__mail-1", phase="before", image="i", exit_code=2,
                     log="E   ModuleNotFoundError: No module named 'mail.compat'\n", tests={})
    flags = {f.code: f.detail for f in assess(instance(), before)}
    assert flags["f2p_import_failure_only"] == "1 F2P / 1 P2P; before: ModuleNotFoundError"
    failed = before.model_copy(update={"tests": {"tests/test_mail.py::test_empty": "FAILED"}})
    assert "f2p_import_failure_only" not in {f.code for f in assess(instance(), failed)}
