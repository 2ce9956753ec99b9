"""CPU-seconds per build and per sandbox, checked against the kernel's own accounting of the
same work as bash's `times` builtin reports it (user + system time of the shell and its
children), in a real build and a real sandbox."""

from __future__ import annotations

import re
import uuid

import pytest

from envmine.builders import engine
from envmine.builders.base import ensure_base_image
from envmine.builders.sandbox import sandbox
from envmine.settings import Limits, Settings

pytestmark = [pytest.mark.docker, pytest.mark.slow]

# A fixed amount of work (about a CPU-second on these machines), then the shell's own account of it.
WORK = "i=0; while [ $i -lt 400000 ]; do i=$((i+1)); done; times"
TIMES = re.compile(r"(\d+)m([\d.]+)s\s+(\d+)m([\d.]+)s")


def _seconds_from_times(output: str) -> float:
    """`times` prints two lines (the shell, then its children), each `user system`."""
    total = 0.0
    for match in TIMES.finditer(output):
        um, us, sm, ss = match.groups()
        total += int(um) * 60 + float(us) + int(sm) * 60 + float(ss)
    assert total > 0.3, output
    return total


@pytest.fixture(scope="module")
def base() -> str:
    return ensure_base_image(Settings())


def test_a_build_records_the_cpu_its_steps_used(base):
    tag = f"envmine-test/cpu:{uuid.uuid4().hex[:8]}"
    outcome = engine.build_image(tag, f"FROM {base}\nRUN bash -c '{WORK}'\n", timeout_s=300)
    try:
        assert outcome.ok, outcome.error
        kernel = _seconds_from_times(outcome.log)
        # sampled every CPU_SAMPLE_S: at most that is missed at the step's end
        assert kernel - 2 * engine.CPU_SAMPLE_S <= outcome.cpu_s <= kernel * 1.2 + 0.2, (outcome.cpu_s, kernel)
    finally:
        engine.client().images.remove(tag, force=True)


def test_a_sandbox_reports_the_cpu_of_what_ran_in_it(base):
    with sandbox(base, Limits(cpus=1.0)) as box:
        before = box.cpu_s() or 0.0
        result = box.exec(f"bash -c '{WORK}'", timeout_s=120, user="root", workdir="/")
        used = box.cpu_s() - before
    kernel = _seconds_from_times(result.output)
    assert kernel * 0.9 - 0.05 <= used <= kernel * 1.2 + 0.2, (used, kernel)


def test_a_failed_build_still_reports_what_it_spent(base):
    tag = f"envmine-test/cpu:{uuid.uuid4().hex[:8]}"
    outcome = engine.build_image(tag, f"FROM {base}\nRUN bash -c '{WORK}; exit 3'\n", timeout_s=300)
    assert not outcome.ok
    assert outcome.cpu_s >= _seconds_from_times(outcome.log) - 2 * engine.CPU_SAMPLE_S
