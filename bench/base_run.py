"""What the base run and repeated runs cost, and what they change, on real validated tasks.

Re-validates the instances of an existing catalog (their task images must still be local) with
`before_runs` and `after_runs` raised (default 2 and 3), and grades each from the same runs
three ways, side by side:

- `baseline`: the first `before` run and the first two `after` runs, no base run (envmine
  before issue 10: tests without a verdict before were FAIL_TO_PASS, one disagreeing test
  rejected the candidate `flaky`);
- `default`: the same runs plus the `base` run when some test needs it (today's defaults,
  `before_runs = 1`, `after_runs = 2`);
- `repeated`: every run (`--before-runs`, `--after-runs`) plus the base run.

Reports per instance the F2P/P2P sizes and verdicts, the categories, the flaky tests found,
and the seconds each kind of run took (`duration_s` of the runs: sandbox, patches, tests).

    .venv/bin/python bench/base_run.py --catalog-home /work/home-12 --home /tmp/base-run-bench \\
        --out bench/results/base_run.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections import Counter
from pathlib import Path

from envmine.records import Candidate, TestRun
from envmine.settings import Limits, Settings, ValidationSettings
from envmine.validators.annotate import changed_tests
from envmine.validators.grading import Grade, changed_test_ids, grade, needs_base
from envmine.validators.run import before_may_not_compile, spec_of, validate
from envmine.warehouse.catalog import Catalog


def _summary(verdict: Grade) -> dict[str, object]:
    return {"ok": verdict.ok, "reason": str(verdict.reason or ""), "f2p": len(verdict.fail_to_pass),
            "p2p": len(verdict.pass_to_pass), "flaky": verdict.flaky,
            "categories": dict(Counter(verdict.categories.values()))}


def _seconds(runs: list[TestRun]) -> float:
    return round(sum(run.duration_s for run in runs), 1)


def measure(candidate: Candidate, instance, settings: Settings) -> dict[str, object]:
    """Validate once with the raised counts; grade the three ways from the same runs."""
    spec = spec_of(instance)
    start = time.monotonic()
    validation = validate(candidate, spec, settings)
    wall = time.monotonic() - start
    befores = [r for r in validation.runs if r.phase.split("#")[0] == "before"]
    afters = [r for r in validation.runs if r.phase.split("#")[0] == "after"]
    base = next((r for r in validation.runs if r.phase == "base"), None)
    row: dict[str, object] = {"instance_id": instance.instance_id, "repo": instance.repo,
                              "catalog_f2p": len(instance.FAIL_TO_PASS), "catalog_p2p": len(instance.PASS_TO_PASS),
                              "wall_s": round(wall, 1), "reject": str(validation.reject.reason) if validation.reject else ""}
    if not befores or len(afters) < 2:
        return row
    compiled = before_may_not_compile(spec, settings)
    symbols = changed_tests(candidate, settings) if base is not None else []
    changed = changed_test_ids(set().union(*(r.tests for r in afters)), symbols)
    default_base = base if needs_base(befores[:1], afters[:2], changed) else None
    baseline = grade(befores[:1], afters[:2], compiled)
    default = grade(befores[:1], afters[:2], compiled, base=default_base, changed=changed)
    row.update(
        baseline=_summary(baseline), default=_summary(default),
        moved_to_p2p=sorted(set(baseline.fail_to_pass) - set(default.fail_to_pass)),
        repeated=_summary(grade(befores, afters, compiled, base=base, changed=changed)),
        seconds={"baseline": _seconds([befores[0], *afters[:2]]), "base": _seconds([base] if base else []),
                 "extra_repeats": _seconds([*befores[1:], *afters[2:]])},
        base_ran=base is not None, changed_tests=len(changed),
    )
    return row


def totals(rows: list[dict]) -> dict[str, object]:
    """Sums over the instances: seconds per kind of run, verdict changes, flaky tests found."""
    graded = [r for r in rows if "baseline" in r]
    out: dict[str, object] = {"instances": len(rows), "graded": len(graded)}
    for key in ("baseline", "base", "extra_repeats"):
        out[f"{key}_s"] = round(sum(r["seconds"][key] for r in graded), 1)
    for way in ("baseline", "default", "repeated"):
        out[f"{way}_valid"] = sum(r[way]["ok"] for r in graded)
        out[f"{way}_f2p"] = sum(r[way]["f2p"] for r in graded)
        out[f"{way}_p2p"] = sum(r[way]["p2p"] for r in graded)
        out[f"{way}_flaky_tests"] = sum(len(r[way]["flaky"]) for r in graded)
    out["base_runs"] = sum(r["base_ran"] for r in graded)
    out["f2p_moved_to_p2p"] = out["baseline_f2p"] - out["default_f2p"]
    out["median_wall_s"] = statistics.median(r["wall_s"] for r in rows) if rows else 0.0
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--catalog-home", required=True, help="the home whose catalog's instances are re-validated")
    parser.add_argument("--home", required=True, help="a scratch home (clones, settings)")
    parser.add_argument("--before-runs", type=int, default=2)
    parser.add_argument("--after-runs", type=int, default=3)
    parser.add_argument("--timeout-s", type=int, default=300)
    parser.add_argument("--only", default="", help="comma-separated instance ids")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    settings = Settings(home=Path(args.home), validation=ValidationSettings(
        limits=Limits(timeout_s=args.timeout_s), before_runs=args.before_runs, after_runs=args.after_runs))
    with Catalog.open(Path(args.catalog_home) / "catalog", read_only=True) as catalog:
        candidates = {c.instance_id: c for c in catalog.records("candidates")}
        instances = catalog.instances()
    wanted = set(filter(None, args.only.split(",")))
    rows = []
    for instance in instances:
        if wanted and instance.instance_id not in wanted:
            continue
        rows.append(measure(candidates[instance.instance_id], instance, settings))
        print(json.dumps(rows[-1]), flush=True)
    report = {"before_runs": args.before_runs, "after_runs": args.after_runs, "rows": rows, "totals": totals(rows)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report["totals"], indent=1))


if __name__ == "__main__":
    main()
