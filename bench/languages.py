"""Benchmark: the real pipeline over real packages and repositories, one language at a time.

    .venv/bin/python bench/languages.py --home /tmp/envmine-bench --languages go,rust \
        --max-candidates 2 --out bench/results/languages.json

For every input of bench/languages.toml (registry release histories, or real repositories'
git histories from bare snapshots under `--mirror-root`), the script

1. mines up to `--max-candidates` candidates (`mine_package` / `mine_git`);
2. for each candidate, plans its environment (`plan_env`), builds it (`build_env`, timed,
   task image size from `engine.image_size`) and validates it (`validate`), one at a time;
3. writes every record (repos, candidates, rejects, builds, validations, instances) into the
   catalog of `--home`, so `envmine sql --home H "SELECT * FROM language_funnel"` gives the
   per-language funnel;
4. keeps each language's figures in `<home>/bench-languages/<language>.json` and writes the
   report over every language measured so far: JSON (`--out`) and a Markdown table beside it.

A language stops taking new candidates once `--language-budget-s` is spent (a build or test
run already started finishes, bounded by the build and test timeouts, which shrink to what is
left of the budget). `--mine-only` stops after step 1. Errors of the harness itself (a bug in
a stage, not a reject) are recorded as `error` with the exception text.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import tomllib
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from envmine.git import git
from envmine.records import Candidate, EnvSpec, Reject
from envmine.settings import Settings

HERE = Path(__file__).resolve().parent
LANGUAGES = ("python", "javascript", "typescript", "go", "rust", "java", "kotlin", "scala",
             "c", "cpp", "ruby", "php", "lua")


@dataclass
class CandidateResult:
    """One candidate's way through plan -> build -> validate."""

    instance_id: str
    planned: bool = False
    built: bool = False
    build_s: float | None = None
    """Wall time of `build_env` (layers reused from earlier candidates cost ~0)."""
    fresh_build_s: float = 0.0
    """Sum of the durations of the layers this candidate actually built."""
    cold_build_s: float | None = None
    """`build_s` of the run that built this candidate's task layer (carried over from the
    stored results when this run found every layer built already)."""
    layers: dict[str, str] = field(default_factory=dict)
    image: str = ""
    image_bytes: int | None = None
    validate_s: float | None = None
    suite_ran: dict[str, bool] = field(default_factory=dict)
    """Per phase (`before`, `after`, `after#2`): whether the suite ran (markers + report)."""
    tests_before: int = 0
    instance: bool = False
    fail_to_pass: int = 0
    pass_to_pass: int = 0
    categories: dict[str, int] = field(default_factory=dict)
    """How many passing tests are in each Multi-SWE-bench category (`p2p`, `f2p`, `s2p`, `n2p`)."""
    flaky_tests: int = 0
    """Tests whose repeated runs disagreed (left out of FAIL_TO_PASS and PASS_TO_PASS)."""
    reject: dict[str, str] | None = None
    error: str = ""
    build_timeout_s: int | None = None
    test_timeout_s: int | None = None
    """The timeouts this candidate ran under (shrunk to what was left of the language budget)."""


@dataclass
class RepoResult:
    """One input: what mining gave and what became of its candidates."""

    input: str
    kind: str
    repo: str = ""
    mine_s: float = 0.0
    candidates: int = 0
    mine_rejects: dict[str, int] = field(default_factory=dict)
    results: list[CandidateResult] = field(default_factory=list)
    skipped: int = 0
    """Candidates left unprocessed because the language's time budget was spent."""
    error: str = ""


def utc() -> str:
    return datetime.now(timezone.utc).strftime("%H:%M:%S")


def log(message: str) -> None:
    print(f"[{utc()}] {message}", file=sys.stderr, flush=True)


def load_inputs(path: Path, languages: list[str]) -> dict[str, list[dict[str, str]]]:
    """`{language: [input, ...]}` from the TOML file, in the order asked for."""
    data = tomllib.loads(path.read_text())
    unknown = [name for name in languages if name not in data]
    if unknown:
        raise SystemExit(f"no inputs for {unknown}; known: {', '.join(sorted(data))}")
    return {name: data[name]["inputs"] for name in languages}


def local_source(repo: str, mirror_root: Path, home: Path) -> Path:
    """A bare clone named `<owner>/<name>.git` (so mined ids read `owner__name-...`) of the
    snapshot `<mirror_root>/<owner>+<name>/repo`; cloned once, with hard links."""
    owner, name = repo.split("/", 1)
    snapshot = mirror_root / f"{owner}+{name}" / "repo"
    if not snapshot.is_dir():
        raise FileNotFoundError(f"no snapshot of {repo} at {snapshot} (fetch it first)")
    dest = home / "sources" / owner / f"{name}.git"
    if not dest.is_dir():
        dest.parent.mkdir(parents=True, exist_ok=True)
        git(["clone", "--quiet", "--mirror", str(snapshot), str(dest)])
    return dest


def mine_input(item: dict[str, str], language: str, settings: Settings, max_candidates: int,
               max_releases: int, mirror_root: Path):
    """The `MineResult` of one input of the TOML file."""
    if item["kind"] == "git":
        from envmine.miners.git_source import mine_git

        path = local_source(item["repo"], mirror_root, settings.home)
        return mine_git(str(path), settings, max_candidates=max_candidates, language=language)
    from envmine.miners.registry import mine_package

    return mine_package(item["kind"], item["name"], settings, max_releases=max_releases,
                        max_candidates=max_candidates)


def stage_functions():
    """`(plan_env, build_env, validate)`: the package exports when they exist, else the modules
    that define them (`builders.plan.plan_env` plans every language from its spec)."""
    import envmine.builders as builders
    import envmine.validators as validators

    plan = getattr(builders, "plan_env", None)
    if plan is None:
        from envmine.builders.plan import plan_env as plan
    build = getattr(builders, "build_env", None)
    if build is None:
        from envmine.builders.build import build_env as build
    validate = getattr(validators, "validate", None)
    if validate is None:
        from envmine.validators.run import validate
    return plan, build, validate


def process(candidate: Candidate, settings: Settings, catalog) -> CandidateResult:
    """Plan, build and validate one candidate, writing its records into the catalog."""
    from envmine.builders import engine

    plan, build, validate = stage_functions()
    retract(catalog, candidate.instance_id)
    result = CandidateResult(candidate.instance_id, build_timeout_s=settings.docker.build_timeout_s,
                             test_timeout_s=settings.validation.limits.timeout_s)
    planned = plan(candidate, settings)
    if isinstance(planned, Reject):
        return _rejected(result, planned, catalog)
    result.planned, result.image = True, planned.image
    started = time.monotonic()
    builds, reject = build(planned, settings)
    result.build_s = round(time.monotonic() - started, 1)
    result.fresh_build_s = round(sum(b.duration_s for b in builds if b.status == "built"), 1)
    result.layers = {b.layer: str(b.status) for b in builds}
    catalog.upsert("builds", builds)
    if reject is not None:
        return _rejected(result, reject, catalog)
    result.built = True
    result.image_bytes = engine.image_size(planned.image)
    started = time.monotonic()
    outcome = validate(candidate, planned, settings)
    result.validate_s = round(time.monotonic() - started, 1)
    catalog.upsert("validations", outcome.runs)
    result.suite_ran = {run.phase: run.suite_ran for run in outcome.runs}
    before = [run for run in outcome.runs if run.phase == "before"]
    result.tests_before = len(before[0].tests) if before else 0
    if outcome.instance is not None:
        catalog.upsert("instances", [outcome.instance])
        result.instance = True
        result.fail_to_pass = len(outcome.instance.FAIL_TO_PASS)
        result.pass_to_pass = len(outcome.instance.PASS_TO_PASS)
        result.categories = dict(Counter(outcome.instance.test_categories.values()))
        result.flaky_tests = len(outcome.instance.flaky_tests)
    if outcome.reject is not None:
        _rejected(result, outcome.reject, catalog)
    return result


def retract(catalog, instance_id: str) -> None:
    """Forget a candidate's earlier build/validate outcome before measuring it again.

    Upserts replace rows by key, but a rerun whose outcome moved to another stage (a validate
    reject that now validates) would otherwise leave the old row beside the new one. Build
    records stay: they are the history of cold and reused builds.
    """
    catalog.sql("DELETE FROM rejects WHERE subject = ? AND stage IN ('build', 'validate')", [instance_id])
    catalog.sql("DELETE FROM validations WHERE instance_id = ?", [instance_id])
    catalog.sql("DELETE FROM instances WHERE instance_id = ?", [instance_id])


def _rejected(result: CandidateResult, reject: Reject, catalog) -> CandidateResult:
    catalog.upsert("rejects", [reject])
    result.reject = {"stage": str(reject.stage), "reason": str(reject.reason),
                     "detail": reject.detail[-1500:]}
    return result


def bounded(settings: Settings, left_s: float) -> Settings:
    """`settings` with build and test timeouts no longer than what is left of the budget."""
    bounded_settings = settings.model_copy(deep=True)
    left = max(60, int(left_s))
    bounded_settings.docker.build_timeout_s = min(settings.docker.build_timeout_s, left)
    limits = bounded_settings.validation.limits
    limits.timeout_s = min(limits.timeout_s, max(60, left // (1 + settings.validation.after_runs)))
    return bounded_settings


def run_language(language: str, inputs: list[dict[str, str]], settings: Settings, args,
                 cold: dict[str, float] | None = None) -> dict[str, Any]:
    """Mine every input of `language`, then process its candidates until the budget is spent.

    `cold` maps instance ids to the cold build times of earlier runs (kept when reused now).
    """
    cold = cold or {}
    from envmine.warehouse.catalog import Catalog

    started, repos, mined = time.monotonic(), [], []
    with Catalog.open(settings.catalog_dir) as catalog:
        for item in inputs:
            label = item.get("repo") or item.get("name")
            repo = RepoResult(input=label, kind=item["kind"])
            t0 = time.monotonic()
            try:
                result = mine_input(item, language, settings, args.max_candidates, args.max_releases,
                                    args.mirror_root)
            except Exception as exc:  # the benchmark records harness failures and goes on
                repo.error = f"mine: {type(exc).__name__}: {exc}"[:1500]
                log(f"{language} {label}: {repo.error}")
                repos.append(repo)
                continue
            repo.mine_s = round(time.monotonic() - t0, 1)
            repo.repo, repo.candidates = result.repo.repo, len(result.candidates)
            repo.mine_rejects = dict(Counter(str(r.reason) for r in result.rejects))
            catalog.upsert("candidates", result.candidates)
            catalog.upsert("rejects", result.rejects)
            catalog.upsert("repos", [result.repo])
            log(f"{language} {label}: {repo.candidates} candidates in {repo.mine_s}s "
                f"(mine rejects {repo.mine_rejects})")
            repos.append(repo)
            mined.append((repo, result.candidates))
        if not args.mine_only:
            for repo, candidate in queue(mined, args.interleave):
                left = args.language_budget_s - (time.monotonic() - started)
                if left <= 0:
                    repo.skipped += 1
                    continue
                result = _process_logged(candidate, bounded(settings, left), catalog)
                fresh = result.layers.get("task") == "built"
                result.cold_build_s = result.build_s if fresh else cold.get(candidate.instance_id)
                repo.results.append(result)
    return {"language": language, "wall_s": round(time.monotonic() - started, 1),
            "measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "mine_only": args.mine_only, "repos": [asdict(r) for r in repos]}


def queue(mined: list[tuple[RepoResult, list[Candidate]]],
          interleave: bool) -> list[tuple[RepoResult, Candidate]]:
    """The candidates in processing order: input by input, or (`interleave`) the first
    candidate of every input, then every second one, ... (so a budget spent early still
    reaches every input)."""
    if not interleave:
        return [(repo, c) for repo, candidates in mined for c in candidates]
    rounds = max((len(candidates) for _, candidates in mined), default=0)
    return [(repo, candidates[i]) for i in range(rounds) for repo, candidates in mined
            if i < len(candidates)]


def cold_builds(path: Path) -> dict[str, float]:
    """`{instance_id: cold build s}` from a language's stored results, if any."""
    if not path.is_file():
        return {}
    stored = json.loads(path.read_text())
    return {c["instance_id"]: c["cold_build_s"] for r in stored["repos"] for c in r["results"]
            if c.get("cold_build_s") is not None}


def merge_rerun(stored: dict[str, Any], rerun: dict[str, Any]) -> dict[str, Any]:
    """`stored` with the inputs that `rerun` measured again replaced, in the stored order."""
    fresh = {r["input"]: r for r in rerun["repos"]}
    repos = [fresh.pop(r["input"], r) for r in stored["repos"]] + list(fresh.values())
    return {**stored, "repos": repos, "wall_s": round(stored["wall_s"] + rerun["wall_s"], 1),
            "measured_at": rerun["measured_at"], "mine_only": stored["mine_only"] and rerun["mine_only"]}


def _process_logged(candidate: Candidate, settings: Settings, catalog) -> CandidateResult:
    log(f"  {candidate.instance_id}: plan/build/validate")
    try:
        result = process(candidate, settings, catalog)
    except Exception as exc:  # a stage raised instead of returning a Reject
        result = CandidateResult(candidate.instance_id, error=f"{type(exc).__name__}: {exc}"[:1500])
    outcome = (result.error and f"ERROR {result.error[:200]}") or (
        result.reject and f"{result.reject['stage']}:{result.reject['reason']}") or "validated"
    log(f"  {candidate.instance_id}: {outcome} (build {_dash(result.build_s)} s, "
        f"image {_mb(result.image_bytes)} MB, validate {_dash(result.validate_s)} s)")
    return result


def _mb(size: int | None) -> str:
    return "-" if size is None else f"{size / 1e6:.0f}"


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


def budget_capped(c: dict[str, Any]) -> bool:
    """A timeout under a limit the language budget had shrunk (not the pipeline's own limit)."""
    reason = (c["reject"] or {}).get("reason")
    if reason == "build_timeout":
        limit = c.get("build_timeout_s") or round(c["build_s"] or 0)
        return limit < Settings().docker.build_timeout_s
    if reason == "timeout":
        limit = c.get("test_timeout_s") or 0
        return 0 < limit < Settings().validation.limits.timeout_s
    return False


def summarise(data: dict[str, Any]) -> dict[str, Any]:
    """One language's funnel and medians from its per-repository results."""
    repos = data["repos"]
    results = [c for r in repos for c in r["results"]]
    reasons = Counter()
    for r in repos:
        reasons.update({f"mine:{k}": v for k, v in r["mine_rejects"].items()})
        if r["error"]:
            reasons["harness:error"] += 1
    for c in results:
        if c["reject"]:
            stage = "budget" if budget_capped(c) else c["reject"]["stage"]
            reasons[f"{stage}:{c['reject']['reason']}"] += 1
        if c["error"]:
            reasons["harness:error"] += 1
    built = [c for c in results if c["built"]]
    in_built_repos = [c for r in repos if any(c["built"] for c in r["results"]) for c in r["results"]]
    return {
        "language": data["language"],
        "repos_tried": len(repos),
        "sources": ",".join(sorted({r["kind"] for r in repos})),
        "repos_with_candidates": sum(1 for r in repos if r["candidates"]),
        "repos_built": sum(1 for r in repos if any(c["built"] for c in r["results"])),
        "candidates": sum(r["candidates"] for r in repos),
        "processed": len(results),
        "skipped": sum(r["skipped"] for r in repos),
        "planned": sum(1 for c in results if c["planned"]),
        "built": len(built),
        "suite_ran": sum(1 for c in results if c["suite_ran"] and all(c["suite_ran"].values())
                         and (c["reject"] or {}).get("reason") != "suite_did_not_run"),
        "validated": sum(1 for c in results if c["instance"]),
        "in_built_repos": len(in_built_repos),
        "validated_in_built_repos": sum(1 for c in in_built_repos if c["instance"]),
        "build_s_median": _median([c["build_s"] for c in built]),
        "fresh_build_s_median": _median([c["fresh_build_s"] for c in built if c["fresh_build_s"] > 0]),
        "cold_build_s_median": _median([c["cold_build_s"] for c in built if c.get("cold_build_s") is not None]),
        "image_mb_median": _median([c["image_bytes"] / 1e6 for c in built if c["image_bytes"]]),
        "top_rejects": [(k, v) for k, v in reasons.most_common() if not k.startswith("mine:")][:4],
        "top_mine_rejects": [(k, v) for k, v in reasons.most_common() if k.startswith("mine:")][:3],
        "wall_s": data["wall_s"],
        "mine_only": data["mine_only"],
    }


def markdown(summaries: list[dict[str, Any]], per_language: list[dict[str, Any]], command: str) -> str:
    """The report: the per-language table, then one row per repository."""
    lines = [f"Command: `{command}`", "",
             "| language | repos tried (source) | candidates | envs built | repos built | validated | "
             "valid / candidates in built repos | "
             "cold build s (median) | image MB (median) | top build/validate rejects | top mine rejects | wall s |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for s in summaries:
        rejects = ", ".join(f"{k} ({v})" for k, v in s["top_rejects"]) or "-"
        mine = ", ".join(f"{k.removeprefix('mine:')} ({v})" for k, v in s["top_mine_rejects"]) or "-"
        processed = f"{s['built']}/{s['processed']}" + (f" (+{s['skipped']} skipped)" if s["skipped"] else "")
        if s["mine_only"]:
            processed = "(mine only)"
        lines.append(
            f"| {s['language']} | {s['repos_tried']} ({s['sources']}) | {s['candidates']} | {processed} | "
            f"{s['repos_built']}/{s['repos_tried']} | {s['validated']} | "
            f"{s['validated_in_built_repos']}/{s['in_built_repos']} | "
            f"{_dash(s['cold_build_s_median'])} | {_dash(s['image_mb_median'])} | "
            f"{rejects} | {mine} | {s['wall_s']} |")
    lines += ["", "| language | input | candidates | built / processed | valid / processed | "
              "per candidate: outcome (build s, image MB) |",
              "| --- | --- | --- | --- | --- | --- |"]
    for data in per_language:
        for r in data["repos"]:
            outcomes = "; ".join(_outcome(c) for c in r["results"]) or (r["error"][:120] if r["error"] else "-")
            done = len(r["results"])
            built = sum(1 for c in r["results"] if c["built"])
            valid = sum(1 for c in r["results"] if c["instance"])
            lines.append(f"| {data['language']} | {r['kind']}:{r['input']} | {r['candidates']} | "
                         f"{built}/{done} | {valid}/{done} | {outcomes} |")
    return "\n".join(lines) + "\n"


def _outcome(c: dict[str, Any]) -> str:
    if c["error"]:
        status = f"error: {c['error'][:100]}"
    elif c["reject"]:
        status = f"{c['reject']['stage']}:{c['reject']['reason']}"
        if budget_capped(c):
            status += " (under the language budget's shortened limit)"
    else:
        status = f"validated ({c['fail_to_pass']} F2P, {c['pass_to_pass']} P2P"
        status += f", {c['flaky_tests']} flaky)" if c.get("flaky_tests") else ")"
    if c["built"]:
        status += f" ({_dash(c.get('cold_build_s'))} s, {_mb(c['image_bytes'])} MB)"
    return status


def _dash(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--languages", default=",".join(LANGUAGES),
                        help="comma-separated languages to measure now (default: all twelve)")
    parser.add_argument("--inputs", type=Path, default=HERE / "languages.toml")
    parser.add_argument("--max-candidates", type=int, default=2, help="candidates per input")
    parser.add_argument("--max-releases", type=int, default=6, help="releases per registry package")
    parser.add_argument("--language-budget-s", type=float, default=600.0,
                        help="no new candidate of a language starts after this many seconds")
    parser.add_argument("--home", required=True, help="the benchmark's own envmine home")
    parser.add_argument("--mirror-root", type=Path, default=Path("/work/.mirror"))
    parser.add_argument("--out", type=Path, default=None,
                        help="report JSON path (a .md table is written beside it)")
    parser.add_argument("--interleave", action="store_true",
                        help="process the first candidate of every input, then the second, ... "
                             "(default: all of one input's candidates before the next input's)")
    parser.add_argument("--mine-only", action="store_true", help="stop after mining")
    parser.add_argument("--only", default="",
                        help="comma-separated inputs (repo or package names) to rerun; the other "
                             "inputs' stored figures of the language are kept")
    parser.add_argument("--report-only", action="store_true",
                        help="measure nothing; rewrite the report from the stored results")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    languages = [name.strip() for name in args.languages.split(",") if name.strip()]
    settings = Settings.load(home=args.home)
    store = settings.home / "bench-languages"
    store.mkdir(parents=True, exist_ok=True)
    only = {name.strip() for name in args.only.split(",") if name.strip()}
    if not args.report_only:
        for language, inputs in load_inputs(args.inputs, languages).items():
            if only:
                inputs = [i for i in inputs if (i.get("repo") or i.get("name")) in only]
            log(f"== {language}: {len(inputs)} inputs")
            path = store / f"{language}.json"
            data = run_language(language, inputs, settings, args, cold_builds(path))
            if only and path.is_file():
                data = merge_rerun(json.loads(path.read_text()), data)
            path.write_text(json.dumps(data, indent=1))
    measured = [json.loads((store / f"{name}.json").read_text()) for name in LANGUAGES
                if (store / f"{name}.json").is_file()]
    summaries = [summarise(data) for data in measured]
    command = " ".join(["python", "bench/languages.py", *(argv if argv is not None else sys.argv[1:])])
    table = markdown(summaries, measured, command)
    print(table)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"summaries": summaries, "languages": measured}, indent=1))
        args.out.with_suffix(".md").write_text(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
