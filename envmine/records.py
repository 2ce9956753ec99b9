"""The records that pass between stages; the catalog's tables are made of these.

Every stage takes and returns these values. List fields are real lists (never JSON strings),
times are timezone-aware UTC, and every record that the catalog stores has a content key
(`key`) so that writes are idempotent.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timezone
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from envmine.reasons import Reason, Stage


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def parse_time(text: str) -> datetime:
    """An ISO-8601 time as GitHub and the registries write it (`Z` suffix allowed)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)")
"""A terminal escape: colours and cursor moves (CSI), hyperlinks (OSC, ended by BEL or ST)."""


def strip_ansi(text: str) -> str:
    """`text` without terminal colour and hyperlink escapes (test output, build logs)."""
    return ANSI.sub("", text)


def content_key(*parts: str, length: int = 16) -> str:
    """A short, stable hash of `parts` (used for ids, image tags and cache keys)."""
    digest = hashlib.sha256("\x00".join(parts).encode()).hexdigest()
    return digest[:length]


class Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False, use_enum_values=True)


class SourceKind(StrEnum):
    git = "git"
    pypi = "pypi"
    github = "github"
    npm = "npm"
    crates = "crates"
    gomod = "gomod"


class Repo(Record):
    """A repository that a source has visited."""

    repo: str
    """`owner/name`, or `pypi/<package>` (`npm/<package>`, ...) for registry histories."""
    source: SourceKind
    url: str
    """Where the repository can be cloned from: a local path, a file:// or https:// URL."""
    language: str | None = None
    """Primary language, by the language specs' detection."""
    default_branch: str | None = None
    stars: int | None = None
    license: str | None = None
    visited_at: datetime = Field(default_factory=utcnow)
    cursor: str | None = None
    """Where an incremental source resumes (last commit, last PR update time, last release)."""
    meta: dict[str, str] = Field(default_factory=dict)

    @property
    def key(self) -> str:
        return self.repo


class Candidate(Record):
    """A commit or pull request whose change splits into a gold patch and a test patch."""

    instance_id: str
    """SWE-bench style id: `owner__name-<pr number or short sha>`."""
    repo: str
    source: SourceKind
    repo_url: str
    """Where builders clone the repository from (local path or URL)."""
    base_commit: str
    """The commit the task starts from (a PR's base, a commit's first parent)."""
    head_commit: str
    """The commit that contains the fix and its tests (never shipped in the image)."""
    patch: str
    """Gold patch: the change to non-test files, as a unified git diff."""
    test_patch: str
    """The change to test files, as a unified git diff."""
    problem_statement: str
    hints_text: str = ""
    created_at: datetime
    language: str = "python"
    pr_number: int | None = None
    issue_numbers: list[int] = Field(default_factory=list)
    labels: list[str] = Field(default_factory=list)
    patch_files: list[str] = Field(default_factory=list)
    test_files: list[str] = Field(default_factory=list)
    provenance: dict[str, str] = Field(default_factory=dict)
    """Where the candidate came from (source settings, release versions, PR url, ...)."""

    @property
    def key(self) -> str:
        return self.instance_id


class LayerSpec(Record):
    """One rendered Dockerfile layer; its tag is the content hash of everything it depends on."""

    name: Literal["base", "toolchain", "repo", "task"]
    dockerfile: str
    tag: str
    parent: str | None = None
    context_files: dict[str, str] = Field(default_factory=dict)
    """Extra files in the build context, by path, as text (scripts, patches)."""


RESULTS_DIR = "/tmp/envmine-results"
"""Where a spec's test command writes its machine-readable reports, in every sandbox."""


class EnvSpec(Record):
    """How to build and test one candidate's environment."""

    instance_id: str
    repo: str
    language: str
    base_commit: str
    layers: list[LayerSpec]
    test_command: str
    """Shell command that runs the test suite inside /testbed and writes machine-readable
    results under `RESULTS_DIR`."""
    runner: str
    """Name of the result parser (`pytest`, `go_test_json`, ...)."""
    test_files: list[str] = Field(default_factory=list)
    toolchain: dict[str, str] = Field(default_factory=dict)
    """Detected toolchain facts (python version, install method, extras, ...)."""
    report_glob: str = "*"
    """Which files under the results folder are reports for `runner` (fnmatch on the file
    name); others (logs, caches a tool drops there) are not parsed."""

    @property
    def image(self) -> str:
        return self.layers[-1].tag

    @property
    def key(self) -> str:
        return self.instance_id


class BuildStatus(StrEnum):
    built = "built"
    reused = "reused"
    failed = "failed"


class Build(Record):
    """The outcome of building one layer of an environment."""

    instance_id: str
    layer: str
    image: str
    status: BuildStatus
    reason: Reason | None = None
    duration_s: float = 0.0
    cpu_s: float | None = None
    """CPU-seconds of the build's steps (sampled from the engine; None when not measured)."""
    size_bytes: int | None = None
    log: str = ""
    """The build log's tail (bounded)."""
    resolved: list[str] = Field(default_factory=list)
    """Resolved dependency versions, e.g. `pip freeze` lines."""
    dependency_resolution: str = ""
    """How the dependency cutoff went: `as_of` (resolved as of the cutoff date: a rebuild gets
    the same versions), `newest` (that set could not be installed, so the newest versions
    were: not reproducible), "" (the layer applies no cutoff)."""
    built_at: datetime = Field(default_factory=utcnow)

    @property
    def key(self) -> str:
        return f"{self.instance_id}:{self.layer}:{self.image}"


class TestStatus(StrEnum):
    passed = "PASSED"
    failed = "FAILED"
    error = "ERROR"
    skipped = "SKIPPED"


class TestRun(Record):
    """One run of a task's tests in a sandbox."""

    instance_id: str
    phase: str
    """`before` (test patch only), `after` (test patch + gold patch), `after#2`, ..."""
    image: str
    exit_code: int | None
    timed_out: bool = False
    suite_ran: bool = False
    """Evidence that the suite ran: start/end markers and a result report were seen."""
    duration_s: float = 0.0
    cpu_s: float | None = None
    """CPU-seconds the sandbox used during the run (the engine's cgroup figure)."""
    tests: dict[str, TestStatus] = Field(default_factory=dict)
    log: str = ""
    """Tail of the run's output (bounded)."""
    ran_at: datetime = Field(default_factory=utcnow)
    patches: dict[str, str] = Field(default_factory=dict)
    """How each patch applied, by name (`test_patch`, `patch`), in order: `git`, `patch`
    (the fuzzy `patch -p1` fallback) or `failed`."""
    tampering: list[str] = Field(default_factory=list)
    """Protected paths (test files, runner configuration, start-up hooks, ...) that the
    solution's patch changed; the eval script undid each change before the tests ran."""
    forgery: str = ""
    """Why the run's report cannot be trusted (`report_forged`, `runner_exit_skipped`), as the
    harness's own channels found it; "" when they agree with the report."""
    sentinel: str = ""
    """The planted must-fail test: `failed` (as it must), `passed`, `missing`, or "" (none)."""
    limit: str = ""
    """The sandbox limit the run hit (`oom_killed`, `disk_full`, `report_too_large`), or ""."""

    @property
    def key(self) -> str:
        return f"{self.instance_id}:{self.phase}"


class TaskInstance(Record):
    """A validated task: SWE-bench's field names plus what envmine adds."""

    instance_id: str
    repo: str
    base_commit: str
    patch: str
    test_patch: str
    problem_statement: str
    hints_text: str = ""
    created_at: datetime
    version: str = ""
    environment_setup_commit: str = ""
    FAIL_TO_PASS: list[str]
    PASS_TO_PASS: list[str]
    language: str
    image: str
    eval_script: str
    source: SourceKind
    runner: str
    test_command: str
    report_glob: str = "*"
    """Which files the test command writes are reports for `runner` (see EnvSpec.report_glob)."""
    stability: dict[str, float] = Field(default_factory=dict)
    """Per-test pass rate over the repeated `after` runs (1.0 = always passed), for the
    FAIL_TO_PASS, PASS_TO_PASS and flaky tests."""
    test_categories: dict[str, str] = Field(default_factory=dict)
    """Multi-SWE-bench's category of every test that passed in every `after` run, from its
    `before` status: `p2p` (passed), `f2p` (failed or errored), `s2p` (skipped), `n2p` (absent)."""
    flaky_tests: list[str] = Field(default_factory=list)
    """Tests whose repeated `before` or `after` runs disagree: in neither FAIL_TO_PASS nor
    PASS_TO_PASS (their pass rates are in `stability` and the `validations` table)."""
    modified_functions: list[str] = Field(default_factory=list)
    """Functions and classes the gold patch changes (`path::Class.method`)."""
    provenance: dict[str, str] = Field(default_factory=dict)
    validated_at: datetime = Field(default_factory=utcnow)

    @property
    def key(self) -> str:
        return self.instance_id


DETAIL_LIMIT = 2000
"""Most characters of a reject's detail (a log tail, an error message) the catalog keeps."""


class Reject(Record):
    """Something a stage dropped, and why: the funnel is queryable from these."""

    stage: Stage
    reason: Reason
    subject: str
    """What was dropped: an instance id, a commit, a repository."""
    repo: str = ""
    detail: str = ""
    language: str = ""
    rejected_at: datetime = Field(default_factory=utcnow)

    @property
    def key(self) -> str:
        return f"{self.stage}:{self.subject}"

    @classmethod
    def of(cls, stage: Stage, reason: Reason, subject: str | Candidate | EnvSpec, detail: str = "", *,
           repo: str = "", language: str = "") -> Reject:
        """The one way a stage rejects something: a candidate or its spec (its id, repository and
        language), or a named subject; the detail without terminal escapes (cargo and npm
        colour what they print) and cut to `DETAIL_LIMIT` characters."""
        if not isinstance(subject, str):
            subject, repo, language = subject.instance_id, subject.repo, subject.language
        return cls(stage=stage, reason=reason, subject=subject, repo=repo, language=language,
                   detail=strip_ansi(detail)[:DETAIL_LIMIT])


def dump(record: BaseModel) -> dict[str, Any]:
    """A record as a plain dict of Python values (enums as strings), for the catalog."""
    return record.model_dump(mode="python")


class Verification(Record):
    """One re-check of a curated instance by `envmine verify` (the gold patch must still
    resolve, an empty patch must still fail; with `--rebuild`, a rebuilt image must give the
    same FAIL_TO_PASS and PASS_TO_PASS)."""

    run_id: str
    instance_id: str
    ok: bool
    drift: str = ""
    """The `Drift` reason when not ok ("" when it holds)."""
    detail: str = ""
    gold_resolved: bool | None = None
    empty_resolved: bool | None = None
    rebuilt: bool = False
    image: str = ""
    catalog_version: int | None = None
    verified_at: datetime = Field(default_factory=utcnow)

    @property
    def key(self) -> str:
        return f"{self.run_id}:{self.instance_id}"


class Evaluation(Record):
    """One attempt of a policy on one curated task (the RL stage's evaluation output)."""

    run_id: str
    model: str
    instance_id: str
    attempt: int
    reward: float
    resolved: bool
    language: str = ""
    perturbation: str = ""
    """Name and seed of the scaffold perturbation this episode ran under ("" = none)."""
    turns: int = 0
    tokens: int = 0
    wall_s: float = 0.0
    stop_reason: str = ""
    """`submitted`, `max_turns`, `max_tokens`, `timeout`, `error`."""
    tampering: list[str] = Field(default_factory=list)
    """Protected paths the policy's diff changed (undone before grading)."""
    grade_reason: str = ""
    """Why the graded run could not be trusted (`report_forged`, `timeout`, ...), or ""."""
    catalog_version: int | None = None
    evaluated_at: datetime = Field(default_factory=utcnow)

    @property
    def key(self) -> str:
        return f"{self.run_id}:{self.instance_id}:{self.attempt}"


# -- experts in the loop: machine quality codes, generated statements, judgments, episodes ----


class QualityFlag(Record):
    """One automatic quality code on one instance, with the evidence that raised it."""

    instance_id: str
    code: str
    """A `envmine.reasons.QualityCode` value."""
    detail: str = ""
    """The evidence, short: the leaked identifiers, the F2P tests outside the test patch, ..."""

    @property
    def key(self) -> str:
        return f"{self.instance_id}:{self.code}"


class GeneratedStatement(Record):
    """An issue-style problem statement written from what a user observes (never the fix);
    the instance keeps its original `problem_statement`."""

    instance_id: str
    method: str
    """`template` (deterministic) or `model:<name>` (an OpenAI-compatible endpoint)."""
    text: str
    leaks: list[str] = Field(default_factory=list)
    """Leak evidence found in `text` against the gold patch (empty when it names nothing of the fix)."""
    generated_at: datetime = Field(default_factory=utcnow)

    @property
    def key(self) -> str:
        return f"{self.instance_id}:{self.method}"


class Annotation(Record):
    """One expert judgment: who said what about which subject, and when. Append-only: a new
    judgment of the same field is a new row; views read each reviewer's latest."""

    annotation_id: str
    reviewer: str
    subject_kind: Literal["task", "trajectory", "pair"]
    subject: str
    """An instance id, an episode (`run_id:instance_id:attempt`), or a pair of episodes
    (`<episode A>|<episode B>`)."""
    field: str
    """`clarity`, `validity`, `difficulty`, `env_problem`, `veto`, `statement`, `notes`,
    `rubric:<item>`, `preference`, ..."""
    value: str
    created_at: datetime = Field(default_factory=utcnow)

    @property
    def key(self) -> str:
        return self.annotation_id


class Episode(Record):
    """One evaluation episode as a reviewer reads it: final diff, outcome, tampering flags."""

    run_id: str
    instance_id: str
    attempt: int
    model: str = ""
    reward: float = 0.0
    resolved: bool = False
    stop_reason: str = ""
    diff: str = ""
    tampering: list[str] = Field(default_factory=list)
    """Files of the task's test patch (or test files) the diff touched, and similar flags."""

    @property
    def key(self) -> str:
        return f"{self.run_id}:{self.instance_id}:{self.attempt}"


class EpisodeStep(Record):
    """One message of an episode: the model's thinking, text and tool calls, or a tool's answer."""

    run_id: str
    instance_id: str
    attempt: int
    step: int
    role: str
    thinking: str = ""
    content: str = ""
    tool_calls: list[str] = Field(default_factory=list)
    """Each call as `name(json arguments)`."""

    @property
    def key(self) -> str:
        return f"{self.run_id}:{self.instance_id}:{self.attempt}:{self.step}"
