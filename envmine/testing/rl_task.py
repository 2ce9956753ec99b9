"""A real task for the RL stage's Docker tests: a tiny Python project with a bug, built into
an image, then validated by the validators (before/after runs, F2P/P2P grading).

The image comes from the validators' test image helpers, so both test suites share one
toolchain image (its tag is the content hash of its Dockerfile).
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from envmine.builders.base import ensure_base_image
from envmine.git import git
from envmine.records import Candidate, EnvSpec, LayerSpec, TaskInstance
from envmine.settings import Settings
from envmine.testing import validator_images
from envmine.validators.run import validate

GIT_ENV = {
    "GIT_AUTHOR_NAME": "envmine", "GIT_AUTHOR_EMAIL": "envmine@localhost",
    "GIT_COMMITTER_NAME": "envmine", "GIT_COMMITTER_EMAIL": "envmine@localhost",
    "GIT_AUTHOR_DATE": "2024-01-01T00:00:00Z", "GIT_COMMITTER_DATE": "2024-01-01T00:00:00Z",
}

BASE_FILES = {
    "calc/__init__.py": "",
    "calc/ops.py": "def add(a, b):\n    \"\"\"Sum of a and b.\"\"\"\n    return a - b\n\n\ndef neg(a):\n    return -a\n",
    "tests/test_ops.py": "from calc.ops import neg\n\n\ndef test_neg():\n    assert neg(2) == -2\n",
}
FIXED = {"calc/ops.py": BASE_FILES["calc/ops.py"].replace("return a - b", "return a + b")}
TESTS = {"tests/test_ops.py": BASE_FILES["tests/test_ops.py"].replace(
    "from calc.ops import neg\n", "from calc.ops import add, neg\n") + "\n\ndef test_add():\n    assert add(2, 3) == 5\n"}
TEST_COMMAND = ("mkdir -p /tmp/envmine-results && cd /testbed && python3 -m pytest -p no:cacheprovider -rA "
                "--junitxml=/tmp/envmine-results/report.xml tests")
PROBLEM = "calc.ops.add(2, 3) returns -1 instead of 5: add subtracts its arguments."


def _git(repo: Path, *args: str) -> str:
    return git(["-C", str(repo), *args], env=GIT_ENV).stdout


def _write(root: Path, files: dict[str, str]) -> None:
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)


def _diff(root: Path, files: dict[str, str]) -> str:
    _write(root, files)
    _git(root, "add", "-A")
    diff = _git(root, "diff", "--cached")
    _git(root, "reset", "-q", "--hard", "HEAD")
    return diff


def build_task_image() -> str:
    toolchain = validator_images.toolchain_image(ensure_base_image(Settings()))
    return validator_images.task_image(toolchain, BASE_FILES)


def validated_task(workdir: Path, settings: Settings) -> TaskInstance:
    """Build the image and validate the candidate for real; the TaskInstance validation returns."""
    image = build_task_image()
    repo = workdir / "repo"
    repo.mkdir(parents=True)
    _git(repo, "init", "-q", "-b", "main")
    _write(repo, BASE_FILES)
    _git(repo, "add", "-A")
    _git(repo, "-c", "user.name=envmine", "-c", "user.email=envmine@localhost", "commit", "-q", "-m", "base")
    base = _git(repo, "rev-parse", "HEAD").strip()
    candidate = Candidate(
        instance_id="envmine__calc-1", repo="envmine/calc", source="git", repo_url=str(repo),
        base_commit=base, head_commit="f" * 40, patch=_diff(repo, FIXED), test_patch=_diff(repo, TESTS),
        problem_statement=PROBLEM, created_at=datetime(2024, 1, 2, tzinfo=timezone.utc), language="python")
    spec = EnvSpec(instance_id=candidate.instance_id, repo=candidate.repo, language="python",
                   base_commit=base, layers=[LayerSpec(name="task", dockerfile="", tag=image)],
                   test_command=TEST_COMMAND, runner="pytest", test_files=["tests/test_ops.py"])
    validation = validate(candidate, spec, settings)
    assert validation.instance is not None, (validation.reject, [r.log[-1500:] for r in validation.runs])
    return validation.instance
