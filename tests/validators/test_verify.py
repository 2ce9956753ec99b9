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



@pytest.mark.slow
@pytest.mark.network
@pytest.mark.timeout(1800)
def test_rebuild_rebuilds_and_revalidates_a_real_task_beside_its_images(tmp_path):
    """`--rebuild` on a real mined task: every layer built again without the cache (see
    tests/builders/test_rebuild.py) gives the recorded F2P/P2P; the recorded images are the same
    images afterwards and no scratch image is left."""
    from envmine.testing import pyrepos

    from envmine.builders import engine
    from envmine.builders.build import build_env
    from envmine.builders.plan import plan_env
    from envmine.miners.git_source import mine_git
    from envmine.settings import Limits, Settings, ValidationSettings
    from envmine.validators.run import validate

    settings = Settings(home=tmp_path / "home", validation=ValidationSettings(limits=Limits(timeout_s=120)))
    candidate = mine_git(str(pyrepos.bugfix_repo(tmp_path)), settings).candidates[0]
    spec = plan_env(candidate, settings)
    assert build_env(spec, settings)[1] is None
    instance = validate(candidate, spec, settings).instance
    assert instance is not None
    recorded = {layer.tag: engine.client().images.get(layer.tag).id for layer in spec.layers}

    check = verify_instance(instance, settings, "verify-t4", candidate=candidate)
    assert (check.ok, check.rebuilt, check.drift) == (True, True, ""), check.detail
    assert {tag: engine.client().images.get(tag).id for tag in recorded} == recorded
    scratch = [tag for image in engine.client().images.list() for tag in image.tags
               if tag.split(":")[0].endswith("-rebuild") and tag.split(":")[1].startswith(spec.image.split(":")[1])]
    assert scratch == []
