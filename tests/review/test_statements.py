"""Issue-style statements from what a user observes, on real tasks; a model behind a local
OpenAI-compatible server writing them; and `assess` writing codes and statements to the catalog."""

from __future__ import annotations

import json

from envmine.miners.patches import file_diffs
from envmine.review.statements import model_statement, observe, template_statement
from envmine.review.store import assess
from envmine.validators.quality import changed_lines


def test_template_statements_of_real_tasks_are_deterministic_and_name_no_fix(task_by_id, before_by_id):
    for instance_id, task in task_by_id.items():
        first = template_statement(task, before_by_id[instance_id])
        assert first == template_statement(task, before_by_id[instance_id]).model_copy(update={"generated_at": first.generated_at})
        assert first.leaks == [], instance_id
        assert all(f"`{t}`" in first.text for t in task.FAIL_TO_PASS[:8])
        added = [line.strip() for line in changed_lines(task.patch)[0] if len(line.strip()) >= 16]
        assert not [line for line in added if line in first.text], instance_id


def test_the_errors_a_user_sees_are_in_the_statement(task_by_id, before_by_id):
    text = template_statement(task_by_id["pypi__iniconfig-2.3.0"], before_by_id["pypi__iniconfig-2.3.0"]).text
    assert ("`testing/test_iniconfig.py::test_parse_strips_inline_comments`: AttributeError: type object "
            "'IniConfig' has no attribute 'parse'") in text
    coarse = template_statement(task_by_id["pypi__iniconfig-2.2.0"], before_by_id["pypi__iniconfig-2.2.0"]).text
    assert "The test module does not load at all: `ImportError: cannot import name 'ParsedLine'" in coarse
    assert "When I run the test suite, 42 tests fail:" in coarse and "... and 34 more" in coarse


def test_the_facts_do_not_depend_on_the_gold_patch(task_by_id, before_by_id):
    for instance_id, task in task_by_id.items():
        other = task.model_copy(update={"patch": "diff --git a/x.py b/x.py\n+something_else = 1\n"})
        a, b = observe(task, before_by_id[instance_id]), observe(other, before_by_id[instance_id])
        assert (a.failing, a.module_error, a.passing, a.files) == (b.failing, b.module_error, b.passing, b.files)


def test_a_subject_that_describes_the_fix_is_dropped(task_by_id, before_by_id):
    task = task_by_id["pypi__iniconfig-2.3.0"]
    leaky = task.model_copy(update={"problem_statement": "Add IniConfig.parse() with strip_inline_comments\n\nmore",
                                    "provenance": {}})
    assert observe(leaky, before_by_id[task.instance_id]).subject == ""
    plain = task.model_copy(update={"problem_statement": "Inline comments end up in values\n\nmore", "provenance": {}})
    assert observe(plain, before_by_id[task.instance_id]).subject == "Inline comments end up in values"


def test_a_model_behind_a_local_endpoint_writes_from_the_facts_only(httpserver, task_by_id, before_by_id):
    from werkzeug.wrappers import Response

    task = task_by_id["pypi__iniconfig-2.3.0"]
    prompts = []

    def answer(request):
        body = request.get_json()
        prompts.append(body["messages"][1]["content"])
        text = "<think>hm</think>Calling IniConfig.parse(strip_inline_comments=True) fails with AttributeError."
        return Response(json.dumps({"choices": [{"message": {"role": "assistant", "content": text}}]}),
                        content_type="application/json")

    httpserver.expect_request("/v1/chat/completions", method="POST").respond_with_handler(answer)
    written = model_statement(task, before_by_id[task.instance_id], httpserver.url_for("/v1"), "tiny")
    assert written.method == "model:tiny" and written.text.startswith("Calling IniConfig.parse(")
    assert written.leaks == []  # what the failing tests show (the API they call) is observable
    gold_lines = [fd.text for fd in file_diffs(task.patch)]
    assert prompts and not any(line in prompts[0] for text in gold_lines for line in text.splitlines() if len(line) > 20)


def test_assess_writes_codes_and_statements_once_and_retracts_stale_codes(catalog, task_by_id):
    counts = assess(catalog)
    assert counts["instances"] == len(task_by_id) and counts["statements"] == len(task_by_id)
    flags = catalog.sql("SELECT instance_id, code FROM quality ORDER BY 1, 2").to_pylist()
    assert {"instance_id": "pypi__iniconfig-2.2.0", "code": "f2p_import_failure_only"} in flags
    version = catalog.version()
    assess(catalog)
    assert catalog.version() == version  # nothing changed: no new snapshot
    fixed = task_by_id["pypi__iniconfig-2.2.0"].model_copy(update={"PASS_TO_PASS": [], "FAIL_TO_PASS": [
        "testing/test_iniconfig.py::test_api_import"]})
    catalog.upsert("instances", [fixed])
    catalog.commit({}, retract={"validations": ["pypi__iniconfig-2.2.0:before"]})
    assert assess(catalog)["retracted"] == 1
    left = catalog.sql("SELECT code FROM quality WHERE instance_id = 'pypi__iniconfig-2.2.0'")["code"].to_pylist()
    assert left == ["statement_leaks_fix"]  # the changelog still names ParsedLine
