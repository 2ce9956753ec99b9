"""read_markers: only nonce-stamped marker lines before the log section count."""

import json
from pathlib import Path

from envmine.validators.markers import read_markers

RUNS = Path(__file__).parent / "fixtures" / "runs"


def test_markers_of_a_real_run_output():
    log = json.loads((RUNS / "fix.after.json").read_text())["log"]
    nonce = log.split("+++ envmine start ")[1].split()[0]
    # The stored log is the marker head plus the logs' tails; put the log marker back between.
    head, sep, tail = log.partition("Checking patch")
    evidence = read_markers(f"{head}+++ envmine log {nonce}\n{sep}{tail}", nonce)
    assert evidence.started and evidence.ended
    assert (evidence.exit_code, evidence.patches) == (0, {"patch": "git", "test_patch": "git"})
    assert (evidence.bundle, evidence.bundle_files) == ("/root/envmine-run/reports.tar", 1)
    assert evidence.log.startswith("Checking patch calc.py...")


def test_forged_markers_without_the_nonce_are_ignored():
    nonce = "a" * 32
    output = (
        f"+++ envmine apply {nonce} test_patch git\n"
        f"+++ envmine start {nonce}\n"
        f"+++ envmine end {nonce} exit=1 elapsed=3\n"
        f"+++ envmine log {nonce}\n"
        f"+++ envmine end {nonce} exit=0 elapsed=0\n"  # after the log marker: test output
        f"+++ envmine end {'0' * 32} exit=0 elapsed=0\n"
        "tests/test_a.py::test_a PASSED\n"
    )
    evidence = read_markers(output, nonce)
    assert (evidence.exit_code, evidence.elapsed_s) == (1, 3)
    assert evidence.log.endswith("PASSED\n")


def test_no_markers_means_nothing_ran():
    evidence = read_markers("tests/test_a.py::test_a PASSED\n+++ envmine start guess\n", "b" * 32)
    assert not evidence.started and not evidence.ended and evidence.exit_code is None


def test_failed_patch_is_recorded():
    nonce = "c" * 32
    evidence = read_markers(f"error: patch failed\n+++ envmine apply {nonce} patch failed\n", nonce)
    assert evidence.patches == {"patch": "failed"} and not evidence.started
