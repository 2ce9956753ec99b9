"""Python's hook: what only Python's manifests say (see `envmine.languages.hooks`).

pyproject.toml, setup.cfg, setup.py (read, never run), Poetry tables and requirement files
give the requirements, the build backend's own requirements and whether the project installs
itself; `requires-python` must admit the suite's python3, and git requirements on hosts this
network cannot reach reject the tree. How those are installed and tested is python.toml's.
"""

from __future__ import annotations

from envmine.languages.hooks import HookPlan, PlanError
from envmine.languages.hooks.python_env import PythonEnv, detect_python, referenced_files
from envmine.reasons import Reason

__all__ = ["plan", "referenced_files"]


def plan(files: dict[str, str], suite: str) -> HookPlan:
    """Requirements files for the repo layer, `editable` and `build_requires` for the spec's
    commands, and the detection's facts; PlanError when the tree cannot be built here."""
    env = detect_python(files, suite)
    _check_buildable(env)
    return HookPlan(
        context={"editable": env.editable, "build_requires": bool(env.build_requires)},
        files={"requirements.txt": _lines(env.requirements), "build-requirements.txt": _lines(env.build_requires)},
        facts=env.facts(),
    )


def _check_buildable(env: PythonEnv) -> None:
    if env.install_method is None:
        raise PlanError(Reason.install_unsupported, "no pyproject.toml, setup.py, setup.cfg or requirements file")
    if not env.python_compatible:
        raise PlanError(Reason.toolchain_unavailable, (
            f"requires-python {env.requires_python!r} excludes the available Python {env.python_version}"))
    if env.unreachable:
        raise PlanError(Reason.dependency_source_unreachable, f"unreachable sources: {', '.join(env.unreachable)}")


def _lines(items: list[str]) -> str:
    return "".join(f"{item}\n" for item in items)
