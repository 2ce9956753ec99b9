"""Render the eval script (Jinja, StrictUndefined) that applies patches and runs the tests."""

from __future__ import annotations

import secrets
import shlex
from dataclasses import dataclass
from functools import cache

import jinja2

from envmine.miners.patches import file_diffs
from envmine.records import RESULTS_DIR

LOG_TAIL_BYTES = 12_000
"""How much of the test output the validator's script prints; with the short marker head this
stays inside the engine's 20,000-character output tail, so markers are never cut off."""
APPLY_TAIL_BYTES = 3_000
MAX_REPORT_BYTES = 64 * 1024 * 1024
"""The most report bytes a run may leave; past it the reports are not read (`report_too_large`)."""


@dataclass(frozen=True)
class PatchStep:
    """One patch the script applies: from a file already in the container, or inline."""

    name: str
    path: str | None = None
    text: str | None = None
    delimiter: str = ""
    reset: tuple[str, ...] = ()
    """Paths restored to `reset_to` first (a new file is removed), as SWE-bench's eval script
    restores the test files before it applies the test patch over a model's patch."""
    reset_to: str = "HEAD"
    protect: bool = False
    """A solution's patch: its changes to protected paths are undone after it applies, and
    each such path is reported as tampering (see protect.sh.j2)."""
    protect_paths: tuple[str, ...] = ()
    """The paths the patch names (old and new), whose pre-patch state is kept to restore."""


@dataclass(frozen=True)
class GuardStep:
    """The pytest guard planted for a run (see validators/guards/pytest_guard.py)."""

    source: str
    delimiter: str
    key: str | None = None
    """The run's HMAC key (hex), or None: the standalone script makes its own."""


@dataclass(frozen=True)
class SentinelStep:
    """The must-fail test appended to `file` (see `envmine.languages.spec.Sentinel`)."""

    file: str
    requires: str
    text: str
    name: str
    delimiter: str


@dataclass(frozen=True)
class LeakCheck:
    """What the leakage check compares /testbed against."""

    base_commit: str
    head_commit: str
    gold: PatchStep | None = None
    """The gold patch, inline: it must not reverse-apply (i.e. must not be applied already)."""


@cache
def jinja_env() -> jinja2.Environment:
    """The validators' template environment (StrictUndefined, `shquote` filter)."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("envmine.validators", "templates"),
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
        keep_trailing_newline=True, autoescape=False,
    )
    env.filters["shquote"] = lambda value: shlex.quote(str(value))
    return env


def new_nonce() -> str:
    """A fresh per-run secret for the markers (the code under test never sees it)."""
    return secrets.token_hex(16)


def heredoc_delimiter(text: str) -> str:
    """A heredoc delimiter that `text` does not contain."""
    delimiter = f"EOF_ENVMINE_{secrets.token_hex(6).upper()}"
    while delimiter in text:
        delimiter = f"EOF_ENVMINE_{secrets.token_hex(6).upper()}"
    return delimiter


def inline_patch(name: str, text: str, reset_to: str | None = None, protect_from: str | None = None) -> PatchStep:
    """A patch embedded in the script as a quoted heredoc with a delimiter the text lacks.

    With `reset_to`, the files the patch touches are restored to that commit before it applies.
    With `protect_from` (the base commit), it is a solution's patch: what it changes in
    protected paths is undone after it applies (and reported).
    """
    paths = tuple(p for p in patch_paths(text) if _relative(p)) if reset_to or protect_from else ()
    return PatchStep(name=name, text=text.rstrip("\n"), delimiter=heredoc_delimiter(text),
                     reset=paths if reset_to else (), reset_to=reset_to or protect_from or "HEAD",
                     protect=protect_from is not None, protect_paths=paths if protect_from else ())


def _relative(path: str) -> bool:
    """A path inside /testbed: git refuses others; the script never touches them either."""
    return bool(path) and not path.startswith("/") and ".." not in path.split("/")


def patch_paths(diff: str) -> list[str]:
    """Every path a diff touches, old and new names alike, in order."""
    paths: list[str] = []
    for fd in file_diffs(diff):
        for path in (fd.old_path, fd.path):
            if path and path not in paths:
                paths.append(path)
    return paths


def render_eval_script(
    test_command: str,
    patches: list[PatchStep],
    timeout_s: int,
    nonce: str | None = None,
    run_as: str | None = None,
    work_dir: str | None = None,
    test_log: str | None = None,
    bundle: str | None = None,
    leak: LeakCheck | None = None,
    protect: list[str] | None = None,
    guard: GuardStep | None = None,
    sentinel: SentinelStep | None = None,
    base_commit: str | None = None,
) -> str:
    """The bash eval script.

    With `nonce`, `run_as`, `test_log` and `bundle` (how the validator runs it, as root) the
    test and patch output go to files, never to the stream that carries the markers, and the
    reports are tarred into `bundle` where the engine can read them; with `leak` it first
    checks the untouched /testbed for leaks (see leakage.py) and stops if it finds any.
    Without them it is the standalone script a TaskInstance ships: it makes its own nonce (or
    takes ENVMINE_NONCE) and prints the test output between its markers and SWE-bench's
    `>>>>> Start Test Output` / `>>>>> End Test Output`.

    Integrity (see README, "Threat model"): `protect` (regular expressions of the paths a
    solution may not change) undoes a solution's changes to them; the standalone script, whose
    solution a harness applied before it runs, restores every protected path that differs from
    `base_commit`. `guard` plants the pytest guard; `sentinel` appends a must-fail test.
    """
    return jinja_env().get_template("eval.sh.j2").render(
        nonce=nonce, results_dir=RESULTS_DIR, work_dir=work_dir, run_as=run_as,
        patches=patches, timeout_s=int(timeout_s), test_command=test_command,
        test_log=test_log, log_tail=LOG_TAIL_BYTES, apply_tail=APPLY_TAIL_BYTES, bundle=bundle,
        leak=leak, protect=protect or [], guard=guard, sentinel=sentinel, base_commit=base_commit,
        max_report_bytes=MAX_REPORT_BYTES,
        standalone_sweep=bool(protect) and base_commit is not None and not test_log,
    )
