"""Run a task's tests in sandboxes and turn a Candidate into a TaskInstance or a Reject.

A run: start a sandbox from the task image (no network, non-root user, limits from
settings.validation.limits), write the eval script (patches inline) as a root-only file,
run it as root; it applies the patches and runs the test command as the sandbox
user, with the test output going to a file, never to the stream that carries the
nonce-stamped markers. The reports are tarred into one root-only file, read back with
Sandbox.read_file and parsed by the runner's parser. The container is always removed.
"""

from __future__ import annotations

import contextvars
import fnmatch
import io
import tarfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from envmine.builders.sandbox import EngineError, Sandbox, sandbox
from envmine.languages import load_language
from envmine.reasons import Reason, Stage
from envmine.records import Candidate, EnvSpec, LayerSpec, Reject, TaskInstance, TestRun, TestStatus
from envmine.settings import Settings
from envmine.validators.annotate import changed_tests, modified_functions
from envmine.validators.grading import (
    COMPILE_FAILURE,
    Grade,
    PatchGrade,
    changed_test_ids,
    grade,
    grade_patch,
    is_compile_failure,
    needs_base,
    run_problem,
)
from envmine.validators.integrity import GUARD_STREAM, check, new_guard, new_sentinel, protected_patterns
from envmine.validators.leakage import LeakReport, leak_check_for, leak_reject, parse_leak_output
from envmine.validators.markers import Evidence, read_markers
from envmine.validators.parsers import get_parser
from envmine.validators.parsers.common import merge
from envmine.validators.scripts import LeakCheck, inline_patch, new_nonce, render_eval_script

SCRIPT_PATH = "/root/envmine-eval.sh"
"""Where the eval script is written: root-only, and not on the /tmp tmpfs (files written into
a tmpfs mount are invisible to the engine's file copy, and the reverse)."""
RUN_DIR = "/root/envmine-run"
"""The eval script's work folder: patches, the test and patch logs, the reports tar."""
GRACE_S = 60
"""Extra wall time the outer exec allows beyond the test timeout (patching, report listing)."""
TIMEOUT_CODES = (124, 137)
LIMITS = {Reason.oom_killed, Reason.disk_full, Reason.report_too_large}


@dataclass
class Validation:
    """The outcome of validating one candidate."""

    runs: list[TestRun] = field(default_factory=list)
    instance: TaskInstance | None = None
    reject: Reject | None = None
    grade: Grade | None = None


def run_tests(image: str, spec: EnvSpec, phase: str, patches: list[str], settings: Settings,
              nonce: str | None = None, names: list[str] | None = None, sentinel: bool = False,
              hardened: bool = True, require_sentinel: bool = True) -> TestRun:
    """Apply `patches` (in order; named `names`, default `patch0`, ...) and run the tests once.

    Raises EngineError when no sandbox could be started.
    """
    with sandbox(image, settings.validation.limits, user=settings.docker.sandbox_user) as box:
        return run_in(box, image, spec, phase, patches, settings, nonce, names, sentinel=sentinel,
                      require_sentinel=require_sentinel, hardened=hardened)[0]


def run_in(box: Sandbox, image: str, spec: EnvSpec, phase: str, patches: list[str],
           settings: Settings, nonce: str | None = None, names: list[str] | None = None,
           leak: LeakCheck | None = None, sentinel: bool = False,
           require_sentinel: bool = True, hardened: bool = True) -> tuple[TestRun, LeakReport | None]:
    """`run_tests` in a started sandbox; with `leak`, check the untouched /testbed first.

    A patch named `patch` is the solution (the gold patch, or a policy's): its changes to
    protected paths are undone after it applies and reported as `TestRun.tampering`. A patch
    named `test_patch` first restores the files it touches to the base commit, so it applies
    over a solution that edited the same test files. The pytest guard is planted for pytest;
    with `sentinel`, a must-fail test is appended to a test file of the test patch (where the
    language has one), and, with `require_sentinel`, a report that lacks its failure is forged.

    The patches travel inline in the root-only script: one file copy and one exec per run.
    `hardened=False` leaves out the protected paths, the guard and the sentinel: only
    bench/reward_integrity.py uses it, to measure what they cost and what they stop.
    """
    nonce = nonce or new_nonce()
    names = names or [f"patch{i}" for i in range(len(patches))]
    steps = [inline_patch(name, text, reset_to=spec.base_commit if name == "test_patch" else None,
                          protect_from=spec.base_commit if name == "patch" and hardened else None)
             for name, text in zip(names, patches, strict=True) if text.strip()]
    test_patch = dict(zip(names, patches, strict=True)).get("test_patch", "")
    guard = new_guard(spec.runner) if hardened else None
    planted = new_sentinel(spec.language, spec.runner, test_patch) if sentinel and hardened else None
    timeout_s = settings.validation.limits.timeout_s
    script = render_eval_script(spec.test_command, steps, timeout_s, nonce=nonce,
                                run_as=settings.docker.sandbox_user, work_dir=RUN_DIR,
                                test_log=f"{RUN_DIR}/test.log", bundle=f"{RUN_DIR}/reports.tar", leak=leak,
                                protect=protected_patterns(spec.language) if hardened else None,
                                guard=guard, sentinel=planted)
    box.write_file(SCRIPT_PATH, script, mode=0o700)
    cpu_before = box.cpu_s() or 0.0
    result = box.exec(f"bash {SCRIPT_PATH}", timeout_s=timeout_s + GRACE_S, user="root", workdir="/")
    head = result.output.partition(f"+++ envmine log {nonce}\n")[0]
    evidence = read_markers(result.output, nonce)
    # A sandbox killed at its limit (perhaps right now, as the command ended) is not graded: its
    # reports are not read from a container that is stopping.
    readable = evidence.bundle and evidence.bundle_files and not result.limit
    bundle = _read_bundle(box, evidence.bundle) if readable else {}
    stream = bundle.pop(GUARD_STREAM, None)
    reports = select_reports(bundle, spec.report_glob)
    tests, problems = parse_reports(reports, spec.runner)
    integrity = check(tests, evidence.exit_code, guard, stream, evidence.sentinel, require_sentinel)
    timed_out = result.timed_out and not evidence.ended or _test_timed_out(evidence, timeout_s)
    notes = [*problems, *([f"{integrity.forgery}: {integrity.detail}"] if integrity.forgery else [])]
    run = TestRun(
        instance_id=spec.instance_id, phase=phase, image=image, exit_code=evidence.exit_code,
        timed_out=timed_out, suite_ran=evidence.started and evidence.ended and bool(reports)
        and not problems, duration_s=round(result.duration_s, 3), cpu_s=_cpu_since(box, cpu_before),
        tests=integrity.tests, log=_log(head, evidence, notes), patches=evidence.patches,
        tampering=evidence.tampering, forgery=integrity.forgery, sentinel=integrity.sentinel,
        limit=result.limit or (evidence.limit if evidence.limit in LIMITS else ""),
    )
    return run, parse_leak_output(head) if leak else None


def _cpu_since(box: Sandbox, before: float) -> float | None:
    after = box.cpu_s()
    return None if after is None else round(after - before, 3)


def _test_timed_out(evidence: Evidence, timeout_s: int) -> bool:
    return (evidence.ended and evidence.exit_code in TIMEOUT_CODES
            and (evidence.elapsed_s or 0) >= timeout_s - 1)


def _read_bundle(box: Sandbox, path: str) -> dict[str, bytes]:
    """The regular files in the reports tar (links and folders are skipped)."""
    data = box.read_file(path)
    if not data:
        return {}
    files = {}
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        for member in tar:
            extracted = tar.extractfile(member) if member.isfile() else None
            if extracted is not None:
                files[member.name.removeprefix("./")] = extracted.read()
    return files


def select_reports(files: dict[str, bytes], report_glob: str = "*") -> dict[str, bytes]:
    """The files whose name (not folder) matches `report_glob`: the runner's reports only, so
    a log or cache the tool leaves beside them is never handed to the parser."""
    return {path: data for path, data in files.items()
            if fnmatch.fnmatchcase(path.rsplit("/", 1)[-1], report_glob)}


def parse_reports(reports: dict[str, bytes], runner: str) -> tuple[dict[str, TestStatus], list[str]]:
    """Parse every report file with the runner's parser and merge them (worst status wins).

    Returns the merged statuses and one problem line per report that could not be parsed.
    """
    parser = get_parser(runner)
    tests: dict[str, TestStatus] = {}
    problems = []
    for name, data in sorted(reports.items()):
        try:
            parsed = parser(data.decode("utf-8", errors="replace"))
        except (ValueError, OverflowError, RecursionError, MemoryError) as exc:  # hostile reports
            why = str(exc) if isinstance(exc, ValueError) else f"{type(exc).__name__}: {exc}"
            problems.append(f"{name}: {why[:300]}")
            continue
        for test, status in parsed.items():
            merge(tests, test, TestStatus(status))
    return tests, problems


def _log(head: str, evidence: Evidence, problems: list[str]) -> str:
    notes = "".join(f"[envmine] report problem: {p}\n" for p in problems)
    return (head[-4000:] + notes + evidence.log)[-20_000:]


def validate(candidate: Candidate, spec: EnvSpec, settings: Settings, parallel: bool = True,
             attempts: int = 2) -> Validation:
    """Leak check, `settings.validation.before_runs` `before` runs and `after_runs` `after`
    runs, a `base` run when some test needs one (`needs_base`), then grade.

    The leak check runs in the first `before` sandbox ahead of the tests; a leaky image is
    rejected (reason `leak`) without runs. The repeated runs are independent sandboxes and run
    at the same time unless `parallel` is False. The `base` run (neither patch) runs only when
    a test that passes after had no verdict before (its module did not import or compile) and
    the test patch does not touch it: passing at base too, it is PASS_TO_PASS. Sandbox trouble
    is retried (`attempts` in all), then a Reject `sandbox_error` (which the next run retries),
    never an exception.
    """
    for _ in range(attempts - 1):
        validation = _validate_once(candidate, spec, settings, parallel)
        if validation.reject is None or validation.reject.reason != Reason.sandbox_error:
            return validation
    return _validate_once(candidate, spec, settings, parallel)


def _validate_once(candidate: Candidate, spec: EnvSpec, settings: Settings, parallel: bool) -> Validation:
    image, validation = spec.image, Validation()
    try:
        with sandbox(image, settings.validation.limits, user=settings.docker.sandbox_user) as box:
            before, leaks = run_in(box, image, spec, "before", [candidate.test_patch], settings,
                                   names=["test_patch"], leak=leak_check_for(candidate), sentinel=True,
                                   require_sentinel=False)
        validation.reject = leak_reject(leaks, candidate)
        if validation.reject:
            return validation
        validation.runs.append(before)
        may_not_compile = before_may_not_compile(spec, settings)
        # The gold patch is not applied yet, so the before run is the repository's own: the
        # sentinel is required later only where it failed here (or nothing compiled yet).
        sentinel = before.sentinel == "failed" or (before.sentinel == "missing" and not before.tests)
        problem = None if may_not_compile and is_compile_failure(before) else run_problem(before)
        if problem:  # an ungradable before run needs no after runs
            validation.grade = Grade(reason=problem[0], detail=problem[1])
            validation.reject = Reject.of(Stage.validate, problem[0], candidate, problem[1])
            return validation
        validation.runs += _repeated_runs(candidate, spec, settings, parallel, sentinel)
        changed = _changed_ids(candidate, settings, validation.runs)
        validation.runs += _base_run(spec, settings, validation.runs, changed)
    except EngineError as exc:
        validation.reject = Reject.of(Stage.validate, Reason.sandbox_error, candidate, str(exc))
        return validation
    befores, afters, base = _by_state(validation.runs)
    validation.grade = grade(befores, afters, may_not_compile, base=base, changed=changed)
    if validation.grade.ok:
        validation.instance = task_instance(candidate, spec, validation.grade, settings, validation.runs)
    else:
        validation.reject = Reject.of(Stage.validate, validation.grade.reason, candidate, validation.grade.detail)
    return validation


def before_may_not_compile(spec: EnvSpec, settings: Settings) -> bool:
    """Whether a `before` run without test results may be a compile failure (see
    `ValidationSettings.compile_failure_counts_as_fail`): the setting is on and the language
    spec says its tests compile before they run."""
    if not settings.validation.compile_failure_counts_as_fail:
        return False
    try:
        return load_language(spec.language).compiled
    except KeyError:  # no spec for the language: the strict rules
        return False


def _repeated_runs(candidate: Candidate, spec: EnvSpec, settings: Settings, parallel: bool,
                   sentinel: bool) -> list[TestRun]:
    """The `before#2`... runs (the first one ran with the leak check) and the `after` runs."""
    phases = [f"before#{i}" for i in range(2, settings.validation.before_runs + 1)]
    phases += ["after" if i == 0 else f"after#{i + 1}" for i in range(settings.validation.after_runs)]

    def one(phase: str) -> TestRun:
        if phase.startswith("before"):
            return run_tests(spec.image, spec, phase, [candidate.test_patch], settings,
                             names=["test_patch"], sentinel=True, require_sentinel=False)
        return run_tests(spec.image, spec, phase, [candidate.patch, candidate.test_patch], settings,
                         names=["patch", "test_patch"], sentinel=sentinel)

    if parallel and len(phases) > 1:
        with ThreadPoolExecutor(max_workers=len(phases), thread_name_prefix="envmine-after") as pool:
            # Each thread runs in a copy of this context: the run a worker works for labels its sandboxes.
            return [f.result() for f in [pool.submit(contextvars.copy_context().run, one, p) for p in phases]]
    runs = []
    for phase in phases:
        runs.append(one(phase))
        if run_problem(runs[-1]):
            break  # repeating a run that cannot be graded proves nothing more
    return runs


def _by_state(runs: list[TestRun]) -> tuple[list[TestRun], list[TestRun], TestRun | None]:
    """The `before` runs, the `after` runs and the `base` run (or None) of a validation."""
    befores = [run for run in runs if run.phase.split("#")[0] == "before"]
    afters = [run for run in runs if run.phase.split("#")[0] == "after"]
    return befores, afters, next((run for run in runs if run.phase == "base"), None)


def _changed_ids(candidate: Candidate, settings: Settings, runs: list[TestRun]) -> list[str]:
    """The test ids the test patch adds or changes: the grade of a test with no verdict before
    hangs on them, and a no_fail_to_pass reject says whether they passed before already."""
    _, afters, _ = _by_state(runs)
    if any(run_problem(run) for run in afters):
        return []
    return changed_test_ids(set().union(*(run.tests for run in afters)), changed_tests(candidate, settings))


def _base_run(spec: EnvSpec, settings: Settings, runs: list[TestRun], changed: list[str]) -> list[TestRun]:
    """The `base` run (neither patch), when a test's grade depends on it; else nothing."""
    befores, afters, _ = _by_state(runs)
    if any(run_problem(run) for run in afters) or not needs_base(befores, afters, changed):
        return []
    return [run_tests(spec.image, spec, "base", [], settings)]


def task_instance(candidate: Candidate, spec: EnvSpec, verdict: Grade, settings: Settings,
                  runs: list[TestRun] | None = None) -> TaskInstance:
    """The curated record: SWE-bench fields plus language, image, eval script, stability.

    Its provenance says whether grading plants the sentinel (`sentinel = planted`: it failed in
    every run of validation) and which protected paths the gold patch touched (undone).
    """
    after = [run for run in runs or [] if run.phase.startswith("after")]
    integrity = {}
    if after and all(run.sentinel == "failed" for run in after):
        integrity["sentinel"] = "planted"
    if after and after[0].tampering:
        integrity["gold_tampering"] = ",".join(after[0].tampering)[:2000]
    return TaskInstance(
        instance_id=candidate.instance_id, repo=candidate.repo, base_commit=candidate.base_commit,
        patch=candidate.patch, test_patch=candidate.test_patch,
        problem_statement=candidate.problem_statement, hints_text=candidate.hints_text,
        created_at=candidate.created_at, environment_setup_commit=candidate.base_commit,
        FAIL_TO_PASS=verdict.fail_to_pass, PASS_TO_PASS=verdict.pass_to_pass,
        language=spec.language, image=spec.image,
        eval_script=instance_eval_script(candidate.test_patch, spec, settings),
        source=candidate.source, runner=spec.runner, test_command=spec.test_command,
        report_glob=spec.report_glob,
        modified_functions=modified_functions(candidate, settings),
        stability={t: verdict.stability[t] for t in (*verdict.fail_to_pass, *verdict.pass_to_pass,
                                                     *verdict.flaky) if t in verdict.stability},
        test_categories=verdict.categories, flaky_tests=verdict.flaky,
        provenance={**candidate.provenance, "head_commit": candidate.head_commit,
                    "before_runs": str(settings.validation.before_runs),
                    "after_runs": str(settings.validation.after_runs),
                    **({"base": verdict.base} if verdict.base else {}),
                    "validated_with": "envmine.validators", **integrity,
                    **({"before": verdict.before} if verdict.before == COMPILE_FAILURE else {})},
    )


def instance_eval_script(test_patch: str, spec: EnvSpec, settings: Settings) -> str:
    """The standalone script a harness runs in the image after applying the patch under test.

    The same template as every other grading path: it restores every protected path the
    solution changed (reported as tampering), restores the test patch's files to the base
    commit, applies the test patch itself, runs the test command (under the pytest guard for
    pytest, whose verdict must be `ok` for the output to be shown) and prints the nonce-stamped
    markers (the nonce is the harness's ENVMINE_NONCE, or a fresh random one) and SWE-bench's.
    """
    steps = [inline_patch("test_patch", test_patch, reset_to=spec.base_commit)] if test_patch.strip() else []
    return render_eval_script(spec.test_command, steps, settings.validation.limits.timeout_s,
                              protect=protected_patterns(spec.language), base_commit=spec.base_commit,
                              guard=new_guard(spec.runner, standalone=True))


def spec_of(instance: TaskInstance) -> EnvSpec:
    """The run-relevant EnvSpec of a curated instance (its image is the only layer named)."""
    return EnvSpec(instance_id=instance.instance_id, repo=instance.repo, language=instance.language,
                   base_commit=instance.base_commit, test_command=instance.test_command,
                   runner=instance.runner, report_glob=instance.report_glob,
                   layers=[LayerSpec(name="task", dockerfile="", tag=instance.image)])


def grade_solution(instance: TaskInstance, patch: str, settings: Settings) -> tuple[TestRun, PatchGrade]:
    """Grade a solution (a policy's diff, or the gold patch) on a curated task: applied to the
    base commit in a fresh sandbox, its protected-path changes undone, the test patch applied,
    the tests run under the task's guards, F2P and P2P graded as validation grades them.

    The one path by which `envmine eval` and the RL reward score a patch. Raises EngineError
    when no sandbox could be started.
    """
    spec = spec_of(instance)
    sentinel = instance.provenance.get("sentinel") == "planted"
    run = run_tests(instance.image, spec, "eval", [patch, instance.test_patch], settings,
                    names=["patch", "test_patch"], sentinel=sentinel)
    return run, grade_patch(instance.FAIL_TO_PASS, instance.PASS_TO_PASS, run)



