"""The stage folders install as subpackages of `envmine`, from a wheel and editable alike."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STAGES = ("miners", "builders", "validators", "warehouse", "rl", "flows", "review")


def test_editable_install_maps_stage_folders():
    import envmine.builders.engine
    import envmine.miners.patches

    assert Path(envmine.miners.patches.__file__).parent == ROOT / "miners"
    assert Path(envmine.builders.engine.__file__).parent == ROOT / "builders"


def test_generic_names_are_not_squatted():
    for stage in STAGES:
        found = subprocess.run([sys.executable, "-c", f"import {stage}"], cwd="/",
                               capture_output=True, text=True)
        assert found.returncode != 0, f"top-level `{stage}` must not be importable from envmine"


@pytest.mark.slow
def test_wheel_contains_and_imports_every_stage(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
                   check=True, capture_output=True)
    wheel = next(tmp_path.glob("envmine-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    for stage in STAGES:
        assert f"envmine/{stage}/__init__.py" in names
        assert not any(n.startswith(f"{stage}/") for n in names)
    assert "envmine/languages/python.toml" in names
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
                   check=True, capture_output=True)
    probe = ("import envmine.miners.patches as m, envmine.validators.parsers as p, envmine.rl;"
             "print(m.__file__); print(p.get_parser('pytest').__name__)")
    out = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env={"PYTHONPATH": str(target)},
                         capture_output=True, text=True, check=True).stdout.split()
    assert out[0].startswith(str(target))
    assert out[1] == "parse_junit"
