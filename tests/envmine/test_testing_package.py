"""The test-support package is for tests and benchmarks only: the pipeline never imports it."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PIPELINE = ["envmine", "miners", "builders", "validators", "warehouse", "rl", "flows", "review"]
IMPORTS_TESTING = re.compile(r"^\s*(from envmine\.testing\b|from envmine import testing\b|import envmine\.testing\b)", re.M)


def test_no_pipeline_module_imports_the_test_support_package():
    support = ROOT / "envmine" / "testing"
    found = [str(p.relative_to(ROOT)) for d in PIPELINE for p in (ROOT / d).rglob("*.py")
             if support not in p.parents and IMPORTS_TESTING.search(p.read_text())]
    assert found == []
    assert IMPORTS_TESTING.search((support / "rl_task.py").read_text())  # the pattern sees an import
