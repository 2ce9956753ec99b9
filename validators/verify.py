"""Re-check curated instances later (`envmine verify`): the gold patch must still resolve and
an empty patch must still fail, graded by the one grading path (`run.grade_solution`); with
`rebuild`, the task is re-planned from its stored candidate (the plan must give the recorded
image tag, the digest of its spec), every layer built again from nothing beside the recorded
images (`build.rebuilt_env`) and validated again, and its FAIL_TO_PASS / PASS_TO_PASS must be
the ones recorded. Each check is one `Verification` record; drift carries a `Drift` reason.
"""

from __future__ import annotations

from envmine.builders.engine import EngineError
from envmine.reasons import Drift
from envmine.records import Candidate, EnvSpec, TaskInstance, Verification
from envmine.settings import Settings
from envmine.validators.run import grade_solution, validate


def verify_instance(instance: TaskInstance, settings: Settings, run_id: str,
                    candidate: Candidate | None = None, catalog_version: int | None = None) -> Verification:
    """One re-check of `instance`; with `candidate`, also rebuild and re-validate it."""
    record = Verification(run_id=run_id, instance_id=instance.instance_id, ok=False,
                          image=instance.image, catalog_version=catalog_version, rebuilt=candidate is not None)
    try:
        gold_run, gold = grade_solution(instance, instance.patch, settings)
        empty_run, empty = grade_solution(instance, "", settings)
    except EngineError as exc:
        return record.model_copy(update={"drift": Drift.infra_error, "detail": str(exc)[:500]})
    record.gold_resolved, record.empty_resolved = gold.resolved, empty.resolved
    if not gold.resolved:
        why = gold.reason or f"F2P failed {gold.fail_to_pass_failed[:5]} P2P failed {gold.pass_to_pass_failed[:5]}"
        return record.model_copy(update={"drift": Drift.gold_no_longer_resolves, "detail": str(why)[:500]})
    if empty.resolved or not empty.fail_to_pass_failed:
        return record.model_copy(update={"drift": Drift.empty_patch_resolves,
                                         "detail": "the FAIL_TO_PASS tests pass without the gold patch"})
    if candidate is not None:
        drift = _rebuild(instance, candidate, settings)
        if drift:
            return record.model_copy(update={"drift": drift[0], "detail": drift[1][:500]})
    return record.model_copy(update={"ok": True})


def _rebuild(instance: TaskInstance, candidate: Candidate, settings: Settings) -> tuple[Drift, str] | None:
    from envmine.builders.build import rebuilt_env
    from envmine.builders.plan import plan_env

    spec = plan_env(candidate, settings)
    if not isinstance(spec, EnvSpec):
        return Drift.rebuild_drift, f"cannot be planned any more: {spec.reason}: {spec.detail[:300]}"
    if spec.image != instance.image:
        return Drift.spec_changed, f"re-planned image {spec.image}, recorded {instance.image}"
    with rebuilt_env(spec, settings) as (scratch, _, reject):
        if reject is not None:
            return Drift.rebuild_drift, f"does not build any more: {reject.reason}: {reject.detail[:300]}"
        validation = validate(candidate, scratch, settings)
    if validation.instance is None:
        reason = validation.reject.reason if validation.reject else "?"
        return Drift.rebuild_drift, f"does not validate any more: {reason}"
    new = validation.instance
    if (new.FAIL_TO_PASS, new.PASS_TO_PASS) != (instance.FAIL_TO_PASS, instance.PASS_TO_PASS):
        return Drift.rebuild_drift, (f"F2P {len(new.FAIL_TO_PASS)} (was {len(instance.FAIL_TO_PASS)}), "
                                     f"P2P {len(new.PASS_TO_PASS)} (was {len(instance.PASS_TO_PASS)})")
    return None
