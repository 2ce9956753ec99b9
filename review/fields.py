"""What a reviewer can say: the judgment fields, their allowed values, and the trajectory
rubric (data in `rubric.toml`, overridable per home). Posted values are checked here, so the
catalog only holds values these scales define."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

MAX_TEXT = 20_000
CLARITY = ("0", "1", "2", "3")
"""SWE-bench Verified: 0 well specified, 1 some blanks but a sensible reading, 2 vague, 3 not solvable."""
VALIDITY = ("0", "1", "2", "3")
"""0 the tests check exactly what the problem asks ... 3 they check something else entirely."""
DIFFICULTY = ("<15m", "15m-1h", "1h-4h", ">4h")
ENV_PROBLEMS = ("", "build_broken", "flaky_tests", "missing_dependency", "needs_network", "wrong_tests_run", "other")
RUBRIC_ANSWERS = ("yes", "no", "na")
PREFERENCES = ("a", "b", "tie")
TASK_CHOICES = {"clarity": CLARITY, "validity": VALIDITY, "difficulty": DIFFICULTY,
                "env_problem": ENV_PROBLEMS, "veto": ("0", "1")}
TASK_TEXT = ("statement", "notes")


class FieldError(ValueError):
    """A posted judgment the scales do not allow."""


@dataclass(frozen=True)
class RubricItem:
    id: str
    label: str
    description: str
    key: str
    weight: float = 1.0


def load_rubric(folder: Path | None = None) -> list[RubricItem]:
    """The rubric: `<folder>/rubric.toml` when present, else the packaged default."""
    path = folder / "rubric.toml" if folder is not None else None
    if path is not None and path.is_file():
        text = path.read_text()
    else:
        text = resources.files("envmine.review").joinpath("rubric.toml").read_text()
    items = [RubricItem(**item) for item in tomllib.loads(text).get("items", [])]
    ids = [item.id for item in items]
    if len(set(ids)) != len(ids):
        raise FieldError(f"rubric item ids repeat: {ids}")
    return items


def check_task_field(field: str, value: str) -> str:
    """`value` if `field` allows it; raises FieldError naming the allowed values."""
    if field in TASK_CHOICES:
        if value not in TASK_CHOICES[field]:
            raise FieldError(f"{field} must be one of {list(TASK_CHOICES[field])}, not {value[:40]!r}")
        return value
    if field in TASK_TEXT:
        return _text(field, value)
    raise FieldError(f"unknown task field {field!r}; valid: {[*TASK_CHOICES, *TASK_TEXT]}")


def check_trajectory_field(field: str, value: str, rubric: list[RubricItem]) -> str:
    if field == "notes":
        return _text(field, value)
    ids = {f"rubric:{item.id}" for item in rubric}
    if field not in ids:
        raise FieldError(f"unknown trajectory field {field!r}; valid: {sorted(ids | {'notes'})}")
    if value not in RUBRIC_ANSWERS:
        raise FieldError(f"{field} must be one of {list(RUBRIC_ANSWERS)}")
    return value


def _text(field: str, value: str) -> str:
    if len(value) > MAX_TEXT:
        raise FieldError(f"{field} is longer than {MAX_TEXT} characters")
    return value.replace("\r\n", "\n")
