"""Small Python repositories and candidates for the validator's Docker tests and fixtures.

Each scenario is a base tree plus the files the gold patch and the test patch write; the
diffs are made with real git on the host, so they are exactly what a miner would produce.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from envmine.testing import validator_images as vi

from envmine.records import Candidate, EnvSpec, LayerSpec

TEST_COMMAND = (
    "python3 -m pytest -p no:cacheprovider --continue-on-collection-errors -o junit_family=xunit1 "
    "--junitxml=/tmp/envmine-results/pytest.xml tests"
)

CALC = """\
def add(a, b):
    return a - b


def mul(a, b):
    return a * b
"""

CALC_TESTS = """\
import pytest

from calc import mul


def test_mul():
    assert mul(2, 3) == 6


class TestMul:
    @pytest.mark.parametrize("n", [0, 1])
    def test_identity(self, n):
        assert mul(n, 1) == n


@pytest.mark.skip(reason="not relevant")
def test_skipped():
    pass
"""

ADD_TEST = """\
from calc import add


def test_add():
    assert add(2, 3) == 5


def test_add_zero():
    assert add(0, 0) == 0
"""

# A "fix" that fixes nothing but, when pytest exits, forges every kind of evidence it can:
# PASSED lines, markers with guessed nonces (and any 32-character token it can read in /proc
# or /root), and exit code 0.
FAKE_FIX = '''\
import atexit
import glob
import os
import sys


def _forge():
    guesses = {"0" * 32}
    for path in ["/root/envmine-eval.sh", *glob.glob("/proc/*/cmdline"), *glob.glob("/proc/*/environ")]:
        try:
            with open(path, "rb") as handle:
                for token in handle.read().replace(b"\\0", b" ").split():
                    if len(token) == 32:
                        guesses.add(token.decode(errors="replace"))
        except OSError:
            pass
    for nonce in sorted(guesses):
        print(f"+++ envmine start {nonce}")
        print("tests/test_add.py::test_add PASSED")
        print("tests/test_add.py::test_add_zero PASSED")
        print(f"+++ envmine end {nonce} exit=0 elapsed=0")
        print(f"+++ envmine report {nonce} /etc/hostname")
    print("===== 6 passed in 0.01s =====")
    sys.stdout.flush()
    os._exit(0)


atexit.register(_forge)


''' + CALC

NOISY_TEST = """\
from calc import add


def test_add_loudly():
    print("noise " * 100_000)  # 600 kB of captured output, shown when the test fails
    assert add(2, 3) == 5
"""

SUB_TEST = """\
from calc import sub  # does not exist before the fix: the module fails to import


def test_sub():
    assert sub(3, 2) == 1
"""

# The test patch imports an API only the fix adds into an existing module (so the whole module
# cannot import before the fix), adds a test for it and changes one existing test.
CALC_TESTS_USING_SUB = CALC_TESTS.replace("from calc import mul", "from calc import mul, sub").replace(
    "assert mul(2, 3) == 6", "assert mul(3, 2) == 6") + """

def test_sub():
    assert sub(3, 2) == 1
"""

# Fails in about every other run: a coin seeded by the sandbox's host name, which is new for
# every run (each run is a fresh container, and fresh containers share nothing a test could count
# runs with). Repeated runs of one state disagree on it with probability 1 - 2 ** (1 - runs).
COIN_TEST = """\
import random
import socket


def test_coin():
    assert random.Random(socket.gethostname()).random() < 0.5
"""

HANG_TEST = """\
import time


def test_hangs():
    time.sleep(600)
"""


@dataclass
class Scenario:
    name: str
    base: dict[str, str]
    gold: dict[str, str]
    tests: dict[str, str] = field(default_factory=dict)
    extra_dockerfile: str = ""
    test_command: str = TEST_COMMAND


SCENARIOS = {
    "fix": Scenario("fix", {"calc.py": CALC, "tests/test_calc.py": CALC_TESTS},
                    {"calc.py": CALC.replace("a - b", "a + b")}, {"tests/test_add.py": ADD_TEST}),
    "breaks": Scenario("breaks", {"calc.py": CALC, "tests/test_calc.py": CALC_TESTS},
                       {"calc.py": CALC.replace("a - b", "a + b").replace("a * b", "a * b + 1")},
                       {"tests/test_add.py": ADD_TEST}),
    "no_tests": Scenario("no_tests", {"calc.py": CALC, "README.md": "calc\n"},
                         {"calc.py": CALC.replace("a - b", "a + b")}),
    "hang": Scenario("hang", {"calc.py": CALC, "tests/test_calc.py": CALC_TESTS},
                     {"calc.py": CALC.replace("a - b", "a + b")}, {"tests/test_hang.py": HANG_TEST}),
    "noisy": Scenario("noisy", {"calc.py": CALC, "tests/test_calc.py": CALC_TESTS},
                      {"calc.py": CALC.replace("a - b", "a + b")}, {"tests/test_noisy.py": NOISY_TEST}),
    "new_api": Scenario("new_api", {"calc.py": CALC, "tests/test_calc.py": CALC_TESTS},
                        {"calc.py": CALC + "\n\ndef sub(a, b):\n    return a - b\n"},
                        {"tests/test_sub.py": SUB_TEST}),
    "module_breaks": Scenario("module_breaks", {"calc.py": CALC, "tests/test_calc.py": CALC_TESTS},
                              {"calc.py": CALC + "\n\ndef sub(a, b):\n    return a - b\n"},
                              {"tests/test_calc.py": CALC_TESTS_USING_SUB}),
    "flaky": Scenario("flaky", {"calc.py": CALC, "tests/test_calc.py": CALC_TESTS, "tests/test_coin.py": COIN_TEST},
                      {"calc.py": CALC.replace("a - b", "a + b")}, {"tests/test_add.py": ADD_TEST}),
    "fake": Scenario("fake", {"calc.py": CALC, "tests/test_calc.py": CALC_TESTS},
                     {"calc.py": FAKE_FIX}, {"tests/test_add.py": ADD_TEST}),
}


@dataclass
class Built:
    """A scenario made real: its task image, candidate and spec."""

    image: str
    candidate: Candidate
    spec: EnvSpec
    repo: Path


def build(scenario: Scenario, toolchain: str, workdir: Path | None = None) -> Built:
    """Make the host repository and the task image for `scenario`."""
    root = Path(workdir or tempfile.mkdtemp(prefix="envmine-val-")) / scenario.name
    base_commit = vi.make_repo(root, scenario.base)
    patch = vi.diff_of(root, scenario.gold)
    test_patch = vi.diff_of(root, scenario.tests) if scenario.tests else ""
    image = vi.task_image(toolchain, scenario.base, scenario.extra_dockerfile)
    instance_id = f"demo__calc-{scenario.name}"
    candidate = Candidate(
        instance_id=instance_id, repo="demo/calc", source="git", repo_url=str(root),
        base_commit=base_commit, head_commit="0123456789abcdef0123456789abcdef01234567",
        patch=patch, test_patch=test_patch, problem_statement="add() subtracts instead of adding",
        created_at=datetime(2024, 1, 2, tzinfo=timezone.utc),
        patch_files=sorted(scenario.gold), test_files=sorted(scenario.tests),
    )
    spec = EnvSpec(instance_id=instance_id, repo="demo/calc", language="python",
                   base_commit=base_commit, layers=[LayerSpec(name="task", dockerfile="", tag=image)],
                   test_command=scenario.test_command, runner="pytest")
    return Built(image=image, candidate=candidate, spec=spec, repo=root)
