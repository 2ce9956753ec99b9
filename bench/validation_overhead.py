"""Validation overhead: `validate()` of one instance vs. raw `docker run` of the same tests.

The raw side runs exactly the test commands validation runs (one `before` run with the test
patch, `after_runs` runs with gold + test patch) as plain `docker run --rm` with the same
limits, the patches piped to `git apply` on stdin. The envmine side adds what makes a run
trustworthy: the leakage check, root-only eval script with nonce markers, a privilege drop,
report copy-out and parsing, grading. `validate` is timed twice: with its `after` runs one
after the other (like the raw side) and at the same time (its default). All three alternate,
`repeats` times; medians are reported, with the ratios to raw (target: <= 1.3).

    .venv/bin/python bench/validation_overhead.py [--repeats 5]

Without arguments it builds the validators' small test scenario (a Python repo with a bug fix
and a new test) in Docker; `measure_overhead()` takes any candidate/spec for other instances.
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from envmine.records import Candidate, EnvSpec
from envmine.settings import Limits, Settings, ValidationSettings
from envmine.validators.run import validate


def raw_run(image: str, test_command: str, patch_text: str, limits: Limits, user: str) -> float:
    """One plain `docker run --rm` that applies `patch_text` and runs the tests; wall seconds."""
    inner = "cd /testbed && "
    if patch_text.strip():
        inner += "git apply - && "
    inner += f"timeout {limits.timeout_s} bash -c {shlex.quote(test_command)}"
    cmd = [
        "docker", "run", "--rm", "-i", "--network", "none", "--user", user,
        f"--cpus={limits.cpus}", f"--memory={limits.memory}", f"--pids-limit={limits.pids}",
        "--tmpfs", f"/tmp:rw,exec,size={limits.disk}", image, "bash", "-c", inner,
    ]
    start = time.monotonic()
    subprocess.run(cmd, input=patch_text, text=True, capture_output=True, check=False)
    return time.monotonic() - start


def raw_validation(candidate: Candidate, spec: EnvSpec, settings: Settings) -> float:
    """The same runs validation does, as raw docker runs; wall seconds."""
    limits, user = settings.validation.limits, settings.docker.sandbox_user
    total = raw_run(spec.image, spec.test_command, candidate.test_patch, limits, user)
    for _ in range(settings.validation.after_runs):
        total += raw_run(spec.image, spec.test_command, candidate.patch + candidate.test_patch, limits, user)
    return total


def _timed_validate(candidate: Candidate, spec: EnvSpec, settings: Settings, parallel: bool) -> tuple[float, str]:
    start = time.monotonic()
    result = validate(candidate, spec, settings, parallel=parallel)
    return time.monotonic() - start, str(result.reject.reason) if result.reject else "accepted"


def measure_overhead(candidate: Candidate, spec: EnvSpec, settings: Settings, repeats: int = 5) -> dict:
    """Median wall times of the raw runs and of `validate` (sequential and parallel `after`
    runs), interleaved so load drifts hit all three alike; with the ratios to raw."""
    times: dict[str, list[float]] = {"raw": [], "sequential": [], "parallel": []}
    verdicts = set()
    validate(candidate, spec, settings)  # warm caches (image layers, Python imports)
    for _ in range(repeats):
        times["raw"].append(raw_validation(candidate, spec, settings))
        for mode in ("sequential", "parallel"):
            seconds, verdict = _timed_validate(candidate, spec, settings, parallel=mode == "parallel")
            times[mode].append(seconds)
            verdicts.add(verdict)
    med = {k: statistics.median(v) for k, v in times.items()}
    return {
        "instance_id": candidate.instance_id, "runs_per_validation": 1 + settings.validation.after_runs,
        "repeats": repeats, "raw_docker_run_s": round(med["raw"], 3),
        "validate_sequential_s": round(med["sequential"], 3), "validate_parallel_s": round(med["parallel"], 3),
        "ratio_sequential": round(med["sequential"] / med["raw"], 3),
        "ratio_parallel": round(med["parallel"] / med["raw"], 3),
        "all_s": {k: [round(x, 3) for x in v] for k, v in times.items()},
        "verdicts": sorted(verdicts),
    }


def _demo_instance(home: Path) -> tuple[Candidate, EnvSpec]:
    from envmine.builders.base import ensure_base_image  # noqa: PLC0415
    from envmine.settings import Settings  # noqa: PLC0415
    from envmine.testing import scenarios, validator_images  # noqa: PLC0415

    toolchain = validator_images.toolchain_image(ensure_base_image(Settings(home=home)))
    built = scenarios.build(scenarios.SCENARIOS["fix"], toolchain, home)
    return built.candidate, built.spec


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="envmine-bench-"))
    settings = Settings(home=home, validation=ValidationSettings(limits=Limits(timeout_s=300)))
    candidate, spec = _demo_instance(home)
    print(json.dumps(measure_overhead(candidate, spec, settings, args.repeats), indent=1))


if __name__ == "__main__":
    main()
