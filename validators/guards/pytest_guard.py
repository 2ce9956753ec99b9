"""envmine's pytest guard: a second, authenticated channel beside pytest's JUnit report.

Loaded into the test process with `-p envmine_pytest_guard` by the eval script, before any
conftest or code under test is imported. It reads a per-run key from an inherited file
descriptor (and closes it), then writes one HMAC-signed line per event to another inherited
descriptor whose file only root can open by name:

- `report`: each test phase's outcome as pytest's runner made it (`makereport`), checked
  against the `CallInfo` the runner produced: a passed report for a phase that raised is a
  rewritten report (a `pytest_runtest_makereport` hook that turns failures into passes);
- a report that reaches `logreport` (what the JUnit writer reads) with another outcome than
  the one made, or without one having been made, is a rewritten report too;
- `finish`: written in `pytest_unconfigure`, the last step of pytest's normal exit path, with
  the exit status: a process that left early (`os._exit(0)` in a conftest or in the code under
  test) has none; runner internals replaced during the session are listed.

`verify` (pure, stdlib only) reads the stream back with the key: every line authentic and in
sequence, no forgery event, a `finish` whose status equals the process's real exit status.
The harness then requires the JUnit report to agree with the guard's outcomes test by test.

Run as `python3 -I -S envmine_pytest_guard.py verify STREAM KEYFILE EXIT` (the standalone eval
script, as root), it prints `ok` or `forged <reason> <detail>`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import sys

FD_ENV, KEY_FD_ENV, ACTIVE_ENV = "ENVMINE_GUARD_FD", "ENVMINE_GUARD_KEY_FD", "ENVMINE_GUARD_ACTIVE"
RUNNER_EXIT_SKIPPED, REPORT_FORGED = "runner_exit_skipped", "report_forged"
_INTERNALS = (
    ("_pytest.runner", "call_and_report"),
    ("_pytest.runner", "runtestprotocol"),
    ("_pytest.runner", "CallInfo.from_call"),
    ("_pytest.reports", "TestReport.from_item_and_call"),
    ("_pytest.junitxml", "LogXML.pytest_runtest_logreport"),
    ("_pytest.junitxml", "LogXML.pytest_sessionfinish"),
)


def sign(key: bytes, seq: int, kind: str, payload: str) -> str:
    return hmac.new(key, f"{seq}\t{kind}\t{payload}".encode(), hashlib.sha256).hexdigest()[:32]


# ---- the reading side (pure) -------------------------------------------------------------

class Verdict:
    """What the guard's stream says about one run."""

    def __init__(self, ok: bool, reason: str = "", detail: str = "", outcomes: dict | None = None,
                 exitstatus: int | None = None):
        self.ok, self.reason, self.detail = ok, reason, detail
        self.outcomes = outcomes or {}
        """Test node id -> `passed`, `failed`, `error` or `skipped` (JUnit's aggregation)."""
        self.exitstatus = exitstatus

    def __repr__(self) -> str:
        return f"Verdict(ok={self.ok}, reason={self.reason!r}, detail={self.detail!r})"


def verify(stream: bytes, key: bytes, exit_code: int | None) -> Verdict:
    """Check the guard's stream of one run against its key and the process's exit status."""
    outcomes: dict[str, str] = {}
    finish = None
    lines = stream.split(b"\n")
    for seq, raw in enumerate(lines[:-1] if lines[-1] == b"" else lines):
        parts = raw.decode("utf-8", "replace").split("\t")
        if len(parts) != 4 or parts[0] != str(seq) or not hmac.compare_digest(
                parts[3], sign(key, seq, parts[1], parts[2])):
            return Verdict(False, REPORT_FORGED, f"guard line {seq} is not authentic")
        kind, data = parts[1], json.loads(parts[2])
        if finish is not None:
            return Verdict(False, REPORT_FORGED, f"guard line {seq} after the runner finished")
        if kind == "forged":
            return Verdict(False, REPORT_FORGED, f"{data.get('why')}: {data.get('nodeid', '')}"[:500])
        if kind == "report":
            _aggregate(outcomes, data["nodeid"], data["when"], data["outcome"])
        elif kind == "finish":
            finish = data
    if finish is None:
        return Verdict(False, RUNNER_EXIT_SKIPPED, "the test process ended before pytest finished")
    if finish.get("patched"):
        return Verdict(False, REPORT_FORGED, f"pytest internals replaced: {finish['patched']}")
    if exit_code is not None and finish.get("exitstatus") != exit_code:
        return Verdict(False, REPORT_FORGED,
                       f"pytest finished with {finish.get('exitstatus')} but the process exited {exit_code}")
    return Verdict(True, outcomes=outcomes, exitstatus=finish.get("exitstatus"))


_RANK = {"skipped": 0, "passed": 1, "failed": 2, "error": 3}


def _aggregate(outcomes: dict[str, str], nodeid: str, when: str, outcome: str) -> None:
    """JUnit's reading of a test's phases: the call's outcome, a skip in setup, a failing
    setup or teardown as an error; the worst wins. Passed setup and teardown say nothing."""
    if outcome == "passed" and when != "call":
        return
    status = outcome if outcome in ("passed", "skipped") else ("failed" if when == "call" else "error")
    current = outcomes.get(nodeid)
    if current is None or _RANK[status] > _RANK[current]:
        outcomes[nodeid] = status


# ---- the writing side (inside the test process) ------------------------------------------

class _Writer:
    def __init__(self, fd: int, key: bytes):
        self.fd, self.key, self.seq = fd, key, 0

    def write(self, kind: str, data: dict) -> None:
        payload = json.dumps(data, sort_keys=True, separators=(",", ":"))
        line = f"{self.seq}\t{kind}\t{payload}\t{sign(self.key, self.seq, kind, payload)}\n"
        self.seq += 1
        os.write(self.fd, line.encode())


def _resolve(module: str, dotted: str):
    obj = sys.modules.get(module) or __import__(module, fromlist=["_"])
    for part in dotted.split("."):
        obj = getattr(obj, part)
    return getattr(obj, "__func__", obj)  # a classmethod's function, not a fresh bound method


def _guard_class():
    """The hooks, made with pytest's own markers (so no repository's warning filter trips)."""
    import pytest

    class Guard:
        """Registered once, on the outermost pytest config."""

        def __init__(self, writer: _Writer, internals: dict):
            self.writer = writer
            self.made: dict[tuple[str, str], str] = {}
            self.internals = internals

        def forged(self, why: str, nodeid: str) -> None:
            self.writer.write("forged", {"why": why, "nodeid": nodeid})

        @pytest.hookimpl(hookwrapper=True, tryfirst=True)
        def pytest_runtest_makereport(self, item, call):
            outcome = yield
            report = outcome.get_result()
            raised = call.excinfo is not None and not call.excinfo.errisinstance(
                (pytest.skip.Exception, pytest.xfail.Exception))
            if report.passed and raised and not getattr(report, "wasxfail", None):
                self.forged("a phase that raised was reported passed", report.nodeid)
            self.made[(report.nodeid, report.when)] = report.outcome

        @pytest.hookimpl(tryfirst=True)
        def pytest_runtest_logreport(self, report):
            made = self.made.pop((report.nodeid, report.when), None)
            if made is None:
                self.forged("a report that pytest's runner did not make", report.nodeid)
            elif made != report.outcome:
                self.forged(f"report rewritten from {made} to {report.outcome}", report.nodeid)
            self.writer.write("report", {"nodeid": report.nodeid, "when": report.when,
                                         "outcome": report.outcome})

        @pytest.hookimpl(trylast=True)
        def pytest_sessionfinish(self, session, exitstatus):
            session.config._envmine_exitstatus = int(session.exitstatus)

        @pytest.hookimpl(trylast=True)
        def pytest_unconfigure(self, config):
            patched = sorted(f"{m}.{d}" for (m, d), obj in self.internals.items() if _resolve(m, d) is not obj)
            self.writer.write("finish", {"exitstatus": int(getattr(config, "_envmine_exitstatus", -1)),
                                         "patched": patched})

    return Guard


def _take_channel() -> _Writer | None:
    """The signed channel, once per process tree: the key descriptor is read and closed and
    the variables removed, so nested pytest runs (pytester, subprocesses) stay silent."""
    fd, key_fd = os.environ.pop(FD_ENV, None), os.environ.pop(KEY_FD_ENV, None)
    if fd is None or key_fd is None or os.environ.get(ACTIVE_ENV):
        return None
    os.environ[ACTIVE_ENV] = "1"
    key = b""
    while chunk := os.read(int(key_fd), 4096):
        key += chunk
    os.close(int(key_fd))
    return _Writer(int(fd), key.strip())


_WRITER = _take_channel()
# Taken as `-p` imports this module, before any conftest: a root conftest's patch is seen too.
_INTERNALS_AT_START = {(m, d): _resolve(m, d) for m, d in _INTERNALS} if _WRITER is not None else {}
_REGISTERED = False


def pytest_configure(config):
    global _REGISTERED
    if _WRITER is not None and not _REGISTERED:
        _REGISTERED = True
        config.pluginmanager.register(_guard_class()(_WRITER, _INTERNALS_AT_START), "envmine-guard")


def main(argv: list[str]) -> int:
    """`verify STREAM KEYFILE EXIT`: print `ok` or `forged <reason> <detail>`."""
    if len(argv) != 4 or argv[0] != "verify":
        print("usage: envmine_pytest_guard.py verify STREAM KEYFILE EXIT", file=sys.stderr)
        return 2
    with open(argv[1], "rb") as s, open(argv[2], "rb") as k:
        verdict = verify(s.read(), k.read().strip(), int(argv[3]))
    print("ok" if verdict.ok else f"forged {verdict.reason} {verdict.detail}".replace("\n", " "))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
