"""Rust libtest results -> test statuses, from either of its two report shapes.

- plain `cargo test` output: lines `test <name> ... ok|FAILED|ignored[, reason]`;
- JSON (`cargo test -- -Z unstable-options --format json`, needs `RUSTC_BOOTSTRAP=1` on
  stable): one object a line, `{"type": "test", "event": "ok", "name": ...}`.

Ids are libtest's own names, `module::tests::name`. Neither shape says which test binary a
line came from, so the same path in two binaries (the lib and an integration test, or two
workspace crates) is one id with the worse status. Doc-tests drop their line numbers
(`src/lib.rs - add (line 12)` -> `src/lib.rs - add`), which move whenever the file changes.
"""

from __future__ import annotations

import re

from envmine.records import TestStatus, strip_ansi

from .common import json_lines, merge

PLAIN = re.compile(r"^test (?P<name>.+?) \.\.\. (?P<out>.*?)(?P<status>ok|FAILED|ignored(?:, .*)?)$")
DOCTEST_LINE = re.compile(r" \(line \d+\)$")
SHOULD_PANIC = " - should panic"

PLAIN_STATUS = {"ok": TestStatus.passed, "FAILED": TestStatus.failed, "ignored": TestStatus.skipped}
JSON_STATUS = {
    "ok": TestStatus.passed,
    "failed": TestStatus.failed,
    "ignored": TestStatus.skipped,
    "timeout": TestStatus.failed,
}


def test_id(name: str) -> str:
    """libtest's name without the parts that change between runs of the same test."""
    name = name.strip().removesuffix(SHOULD_PANIC)
    return DOCTEST_LINE.sub("", name)


def parse_libtest(text: str) -> dict[str, TestStatus]:
    """Statuses from a libtest report, JSON lines or plain `cargo test` output."""
    if any(e.get("type") == "test" for e in json_lines(text)):
        return parse_libtest_json(text)
    return parse_libtest_plain(text)


def parse_libtest_json(text: str) -> dict[str, TestStatus]:
    """Statuses from libtest's JSON format (`--format json`)."""
    results: dict[str, TestStatus] = {}
    started: set[str] = set()
    for event in json_lines(text):
        if event.get("type") != "test" or "name" not in event:
            continue
        name, kind = test_id(event["name"]), event.get("event")
        if kind == "started":
            started.add(name)
        elif kind in JSON_STATUS:
            merge(results, name, JSON_STATUS[kind])
    for name in started - results.keys():
        results[name] = TestStatus.error
    return results


def parse_libtest_plain(text: str) -> dict[str, TestStatus]:
    """Statuses from the plain `test <name> ... ok` lines of `cargo test`."""
    results: dict[str, TestStatus] = {}
    for line in strip_ansi(text).splitlines():
        match = PLAIN.match(line.rstrip())
        if match and "bench:" not in match["out"]:
            word = match["status"].split(",")[0]
            merge(results, test_id(match["name"]), PLAIN_STATUS[word])
    return results
