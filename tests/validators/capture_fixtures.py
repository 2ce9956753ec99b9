"""Regenerate the captured run fixtures (tests/validators/fixtures/runs/*.json).

Runs every scenario's real validation in Docker and stores each TestRun as JSON, so the
grading unit tests grade real outputs without Docker:

    .venv/bin/python tests/validators/capture_fixtures.py [SCENARIO ...]

With scenario names, only those are captured (the others' fixtures stay as they are).
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from envmine.settings import Limits, Settings, ValidationSettings
from envmine.testing import scenarios
from envmine.testing import validator_images as vi
from envmine.validators.run import validate

OUT = Path(__file__).parent / "fixtures" / "runs"


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    from envmine.builders.base import ensure_base_image
    from envmine.settings import Settings

    toolchain = vi.toolchain_image(ensure_base_image(Settings()))
    home = Path(tempfile.mkdtemp(prefix="envmine-capture-"))
    wanted = sys.argv[1:] or list(scenarios.SCENARIOS)
    for name, scenario in ((n, scenarios.SCENARIOS[n]) for n in wanted):
        built = scenarios.build(scenario, toolchain, home)
        timeout = 5 if name == "hang" else 120
        # The flaky scenario's coin test: two runs of each state (kept when they disagree).
        runs = 2 if name == "flaky" else 1
        settings = Settings(home=home, validation=ValidationSettings(limits=Limits(timeout_s=timeout),
                                                                     before_runs=runs))
        validation = validate(built.candidate, built.spec, settings, parallel=False)
        for run in validation.runs:
            data = run.model_dump(mode="json")
            data["image"] = "envmine-test/validators-task"  # the tag's hash varies by machine
            path = OUT / f"{name}.{run.phase.replace('#', '_')}.json"
            path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
        print(name, validation.reject.reason if validation.reject else "accepted",
              [(r.phase, r.exit_code, len(r.tests)) for r in validation.runs])


if __name__ == "__main__":
    main()
