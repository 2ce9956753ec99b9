"""The peers' own releases (PyPI `swebench`, `mini-swe-agent`, `datasets`, `pandas`, `polars`),
installed in a separate virtual environment and run as subprocesses, never imported here.

`make peers` installs them in `.peers/`; `ENVMINE_PEERS_VENV` names another folder. Tests
that need them skip cleanly when the folder is absent.
"""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
VENV = Path(os.environ.get("ENVMINE_PEERS_VENV", ROOT / ".peers"))
PYTHON = VENV / "bin" / "python"
MISSING = not PYTHON.is_file()
needs_peers = pytest.mark.skipif(
    MISSING, reason=f"peers not installed in {VENV} (`make peers` or set ENVMINE_PEERS_VENV)")


def tool(name: str) -> str:
    return str(VENV / "bin" / name)


def run(args: list[str], cwd: Path, timeout: int = 900) -> subprocess.CompletedProcess:
    """Run a peer's command line in `cwd` (its logs land there); fail with its output."""
    env = {**os.environ, "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1",
           "MSWEA_CONFIGURED": "true", "MSWEA_SILENT_STARTUP": "1",
           "HF_HOME": str(cwd / ".hf"), "MSWEA_GLOBAL_CONFIG_DIR": str(cwd / ".mswea")}
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)
    assert done.returncode == 0, f"{args[0]} exited {done.returncode}\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    return done


def python(code: str, cwd: Path, *args: str) -> object:
    """Run `code` with the peers' Python; it prints one JSON value as its last line."""
    done = run([str(PYTHON), "-c", textwrap.dedent(code), *args], cwd)
    return json.loads(done.stdout.strip().splitlines()[-1])
