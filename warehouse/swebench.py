"""Curated instances as SWE-bench's harness reads them (pure; the data is `swebench.toml`).

SWE-bench 5 grades an instance from its own fields: `image`, `eval_script`, `log_parser` (a
name in `swebench.harness.log_parsers.PARSER_REGISTRY`), `eval_type`, `FAIL_TO_PASS` and
`PASS_TO_PASS` as its log parser names the tests. mini-swe-agent starts its sandbox from
`image_name`. This module turns a `TaskInstance` into such a row, or says why it cannot:

- test ids are rewritten the way the runner's SWE-bench parser reads them (pytest's
  `PASSED <nodeid>` line is split on whitespace, so `test_x[blank line]` is `test_x[blank`);
  a row where two of its ids would become one keeps envmine's ids and `grader = "envmine"`
  (SWE-bench would merge the two tests' statuses), so `--format swebench` refuses it;
- a runner whose console output no SWE-bench parser reads today keeps envmine's ids and is
  marked `grader = "envmine"` with the reason, so `--format swebench` leaves it out.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cache
from importlib import resources

from envmine.records import TaskInstance

EVAL_TYPE = "pass_and_fail"
"""SWE-bench's `EvalType.PASS_AND_FAIL`: F2P tests must pass and P2P tests keep passing."""
IMAGE_NAMESPACE = "swebench"


@dataclass(frozen=True)
class Harness:
    """How SWE-bench can grade one envmine runner (a `[runners.<name>]` table)."""

    runner: str
    log_parser: str
    ids: str
    grader: str
    why: str = ""


class Refused(ValueError):
    """An instance that cannot be exported in SWE-bench's shape, and why."""

    def __init__(self, instance_id: str, reason: str) -> None:
        super().__init__(f"{instance_id}: {reason}")
        self.instance_id = instance_id
        self.reason = reason


@cache
def harnesses() -> dict[str, Harness]:
    """Every runner's SWE-bench harness entry, from `swebench.toml`."""
    text = resources.files("envmine.warehouse").joinpath("swebench.toml").read_text()
    table = tomllib.loads(text)["runners"]
    return {name: Harness(runner=name, **entry) for name, entry in table.items()}


def harness(runner: str) -> Harness:
    """The entry for `runner`; an unknown runner grades with envmine only."""
    found = harnesses().get(runner)
    if found is None:
        return Harness(runner=runner, log_parser="", ids="same", grader="envmine",
                       why=f"no SWE-bench harness entry for runner {runner!r} in swebench.toml")
    return found


def swebench_test_id(test_id: str, ids: str) -> str:
    """`test_id` as a SWE-bench parser names it (`ids` is the harness entry's rule)."""
    if ids == "same":
        return test_id
    if ids == "first_word":
        words = test_id.split()
        return words[0] if words else test_id
    raise ValueError(f"unknown id rule {ids!r}; valid rules: first_word, same")


def convert_ids(instance_id: str, tests: list[str], ids: str) -> dict[str, str]:
    """envmine id -> SWE-bench id for `tests`; raises `Refused` when two ids collide."""
    mapped: dict[str, str] = {}
    seen: dict[str, str] = {}
    for test in tests:
        new = swebench_test_id(test, ids)
        if new in seen and seen[new] != test:
            raise Refused(instance_id, f"test ids {seen[new]!r} and {test!r} both read as {new!r} "
                                       "by SWE-bench's log parser")
        seen[new] = test
        mapped[test] = new
    return mapped


def image_name(instance_id: str, namespace: str = IMAGE_NAMESPACE) -> str:
    """The image name SWE-bench 5 and mini-swe-agent derive for an instance id
    (`swebench/sweb.eval.x86_64.<id, lowercase, __ as _1776_>:latest`)."""
    key = f"sweb.eval.x86_64.{instance_id}:latest".lower()
    return f"{namespace}/{key}".replace("__", "_1776_")


def iso(moment: datetime | None) -> str:
    """A UTC timestamp as ISO 8601 text with a `Z`, the way SWE-bench's datasets write it."""
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def version_of(instance: TaskInstance) -> str:
    """A non-empty `version`: the instance's own, else its release, else `0.0`.

    SWE-bench keys environment settings by (repo, version); envmine's image already holds the
    environment, so the value is descriptive, but the harness and the HF loaders need one."""
    for value in (instance.version, instance.provenance.get("release_version", ""),
                  instance.provenance.get("version", "")):
        if value:
            return value
    return "0.0"


def pairs(mapping: dict[str, object]) -> list[dict[str, object]]:
    """A dict as `list<struct<key, value>>` rows (Arrow map columns do not load in `datasets`)."""
    return [{"key": key, "value": value} for key, value in sorted(mapping.items())]


def swebench_row(instance: TaskInstance, image: str | None = None) -> dict[str, object]:
    """Every field of `instance` in the exported shape, plus SWE-bench's own fields.

    Where SWE-bench would read two test ids as one, the row keeps envmine's ids and is graded
    by envmine (`grader`, with the reason in `grader_note`). `image` overrides the image name
    (the SWE-bench name under `--tag-swebench-names`)."""
    entry = harness(instance.runner)
    note = f"runner {entry.runner}: {entry.why}" if entry.why else ""
    tests = [*instance.FAIL_TO_PASS, *instance.PASS_TO_PASS]
    try:
        ids = convert_ids(instance.instance_id, tests, entry.ids)
    except Refused as exc:
        entry = Harness(runner=entry.runner, log_parser=entry.log_parser, ids="same", grader="envmine")
        ids, note = {t: t for t in tests}, exc.reason
    row = instance.model_dump(mode="python")
    image = image or instance.image
    row.update(
        FAIL_TO_PASS=[ids[t] for t in instance.FAIL_TO_PASS],
        PASS_TO_PASS=[ids[t] for t in instance.PASS_TO_PASS],
        created_at=iso(instance.created_at), validated_at=iso(instance.validated_at),
        version=version_of(instance), image=image, image_name=image,
        log_parser=entry.log_parser, eval_type=EVAL_TYPE, grader=entry.grader,
        grader_note=note,
        stability=pairs({ids.get(t, t): rate for t, rate in instance.stability.items()}),
        test_categories=pairs({ids.get(t, t): c for t, c in instance.test_categories.items()}),
        flaky_tests=[swebench_test_id(t, entry.ids) for t in instance.flaky_tests],
        provenance=pairs(dict(instance.provenance)),
        envmine_image=instance.image,
    )
    return row
