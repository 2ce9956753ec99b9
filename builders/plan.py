"""plan_env: from a Candidate to an EnvSpec (four content-addressed layers) or a Reject.

Layers: base (CA bundle, user, git) -> toolchain (Debian python3 + venv) -> repo (the
dependencies, keyed by the dependency list so tasks with unchanged dependencies share it)
-> task (/testbed at the base commit, small).
"""

from __future__ import annotations

from datetime import datetime, timezone

from envmine.builders import checkout
from envmine.builders.base import CA_BUNDLE_PATH, base_layer, read_ca_bundle
from envmine.builders.python_env import PythonEnv, detect_python, referenced_files, wanted_files
from envmine.builders.render import make_layer, render
from envmine.git import has_commit
from envmine.languages import LanguageSpec, load_language
from envmine.miners.clone import CloneError, ensure_clone
from envmine.reasons import Reason, Stage
from envmine.records import RESULTS_DIR, Candidate, EnvSpec, LayerSpec, Reject
from envmine.settings import Settings

VENV = "/opt/venv"


def plan_env(candidate: Candidate, settings: Settings) -> EnvSpec | Reject:
    """The environment spec for `candidate`, or a Reject with the build stage's reason code."""
    if candidate.language != "python":
        from envmine.builders.lang_env import plan_lang_env

        return plan_lang_env(candidate, settings)
    try:
        mirror = ensure_clone(candidate.repo_url, settings.cache_dir)
    except (CloneError, ValueError) as exc:
        return Reject.of(Stage.build, Reason.clone_failed, candidate, str(exc))
    if not has_commit(mirror, candidate.base_commit):
        return Reject.of(Stage.build, Reason.checkout_failed, candidate, f"commit {candidate.base_commit} not in the clone")
    files = checkout.read_files(mirror, candidate.base_commit,
                                wanted_files(checkout.list_paths(mirror, candidate.base_commit)))
    files |= checkout.read_files(mirror, candidate.base_commit, referenced_files(files))
    env = detect_python(files, settings.docker.base_suite)
    problem = _unbuildable(env)
    if problem:
        reason, detail = problem
        return Reject.of(Stage.build, reason, candidate, detail)
    spec = python_spec(candidate, settings, env, read_ca_bundle(settings))
    spec.toolchain["repo_url"] = candidate.repo_url
    return spec


def python_spec(candidate: Candidate, settings: Settings, env: PythonEnv, ca_bundle: str) -> EnvSpec:
    """The EnvSpec for a detected Python environment (pure: no git, no Docker)."""
    language = load_language("python")
    cutoff = dependency_cutoff(candidate.created_at)
    layers = python_layers(candidate.repo, candidate.base_commit, settings, env, ca_bundle, language, cutoff)
    test_files = pytest_files(candidate.test_files, language)
    facts = env.facts() | {"environment_setup_commit": candidate.base_commit, "dependency_cutoff": cutoff}
    return EnvSpec(
        instance_id=candidate.instance_id, repo=candidate.repo, language="python",
        base_commit=candidate.base_commit, layers=layers, runner="pytest",
        test_command=pytest_command(test_files), test_files=test_files, toolchain=facts,
    )


def dependency_cutoff(created_at: datetime) -> str:
    """Resolve dependencies as they were when the change was made: packages uploaded before the
    first day of the following month. Pins resolution (a rebuild next year gets the same
    versions) and keeps old test suites on the tools they were written for; tasks of one month
    share the repository layer."""
    at = created_at.astimezone(timezone.utc)
    year, month = (at.year + 1, 1) if at.month == 12 else (at.year, at.month + 1)
    return f"{year:04d}-{month:02d}-01T00:00:00Z"


def python_layers(repo: str, base_commit: str, settings: Settings, env: PythonEnv, ca_bundle: str,
                  language: LanguageSpec, cutoff: str | None = None) -> list[LayerSpec]:
    user = settings.docker.sandbox_user
    base = base_layer(settings, ca_bundle)
    toolchain = make_layer(
        "toolchain", "python_toolchain.Dockerfile.j2", base.tag,
        context_files={"pip.conf": render("pip.conf.j2", ca_bundle=CA_BUNDLE_PATH),
                       "envmine-venv.sh": render("venv_profile.sh.j2", venv=VENV)},
        packages=language.toolchain_packages, venv=VENV, user=user,
    )
    repo_layer = make_layer(
        "repo", "python_repo.Dockerfile.j2", toolchain.tag,
        context_files={"requirements.txt": _lines(env.requirements),
                       "build-requirements.txt": _lines(env.build_requires)},
        repo=repo, user=user, build_requires=bool(env.build_requires), cutoff=cutoff,
    )
    task = make_layer("task", "task.Dockerfile.j2", repo_layer.tag, repo=repo, base_commit=base_commit,
                      user=user, editable=env.editable)
    return [base, toolchain, repo_layer, task]


def pytest_files(paths: list[str], language: LanguageSpec) -> list[str]:
    """The test files pytest should collect: `.py` test files other than conftest/__init__."""
    keep = []
    for path in paths:
        name = path.rsplit("/", 1)[-1]
        runnable = path.endswith(".py") and name not in ("conftest.py", "__init__.py")
        if runnable and language.is_test_file(path):
            keep.append(path)
    return sorted(set(keep))


def pytest_command(test_files: list[str]) -> str:
    """Run pytest over `test_files` (all tests when empty), writing JUnit XML to the results dir."""
    return render("pytest_command.sh.j2", results_dir=RESULTS_DIR, venv=VENV, test_files=test_files).strip()


def _unbuildable(env: PythonEnv) -> tuple[Reason, str] | None:
    if env.install_method is None:
        return Reason.install_unsupported, "no pyproject.toml, setup.py, setup.cfg or requirements file"
    if not env.python_compatible:
        return Reason.toolchain_unavailable, (
            f"requires-python {env.requires_python!r} excludes the available Python {env.python_version}")
    if env.unreachable:
        return Reason.dependency_source_unreachable, f"unreachable sources: {', '.join(env.unreachable)}"
    return None


def _lines(items: list[str]) -> str:
    return "".join(f"{item}\n" for item in items)

