"""`envmine verify`'s checks on a real validated task in Docker: a task that still holds, a gold
patch that no longer resolves, tests that pass without the fix."""

from __future__ import annotations

import pytest

from envmine.reasons import Drift
from envmine.validators.verify import verify_instance

pytestmark = [pytest.mark.docker]


def test_a_task_that_still_holds(task):
    instance, _, settings = task
    check = verify_instance(instance, settings, "verify-t1", catalog_version=3)
    assert (check.ok, check.drift, check.gold_resolved, check.empty_resolved) == (True, "", True, False)
    assert (check.instance_id, check.image, check.catalog_version) == (instance.instance_id, instance.image, 3)


def test_drift_is_named(task):
    instance, _, settings = task
    broken_gold = instance.model_copy(update={"patch": instance.patch.replace("+    return a + b", "+    return a * b")})
    check = verify_instance(broken_gold, settings, "verify-t2")
    assert (check.ok, check.drift, check.gold_resolved) == (False, Drift.gold_no_longer_resolves, False)
    # FAIL_TO_PASS that passes without the fix: the tests no longer test it.
    toothless = instance.model_copy(update={"FAIL_TO_PASS": ["tests/test_add.py::test_add_zero"],
                                            "PASS_TO_PASS": []})
    check = verify_instance(toothless, settings, "verify-t3")
    assert (check.ok, check.drift, check.empty_resolved) == (False, Drift.empty_patch_resolves, True)
