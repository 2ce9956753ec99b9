"""Python detection: how a repository installs and which Python it needs.

Pure functions over file contents (`{path: text}` at the commit being built). Nothing here
reads the disk or starts a process; the planner feeds in the files python.toml's `read_files`
name and those `referenced_files` finds.
"""

from __future__ import annotations

import configparser
import re
import tomllib
from dataclasses import dataclass, field

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name

from envmine.languages.hooks.poetry import poetry_constraint, poetry_groups, poetry_requirements
from envmine.languages.hooks.setup_py import from_setup_py

# The only interpreter available offline is the suite's own python3.
DEBIAN_PYTHON = {"trixie": "3.13.5", "bookworm": "3.11.2"}
TEST_EXTRAS = ("test", "tests", "testing")
FALLBACK_EXTRAS = ("dev",)
"""Extras (or dependency groups) installed for tests; `dev` only when none of these exist."""
DEFAULT_BUILD_REQUIRES = ("setuptools>=64", "wheel")
UNREACHABLE_HOSTS = ("github.com", "gitlab.com", "bitbucket.org")
_REQ_FILE = re.compile(r"^(requirements[^/]*\.txt|[^/]*requirements\.txt|requirements/[^/]+\.txt)$")
_TEST_FILE = re.compile(r"test", re.IGNORECASE)
_DEV_FILE = re.compile(r"dev|ci", re.IGNORECASE)
_CLASSIFIER = re.compile(r"Programming Language :: Python :: (3\.\d+)$")
_NOX_INSTALL = re.compile(r"session\.install\(([^)]*)\)")
_STRING = re.compile(r"""["']([^"']+)["']""")


def referenced_files(files: dict[str, str]) -> list[str]:
    """Files that `files` name but do not hold: `-r` includes and pyproject's dynamic files."""
    wanted = set(_from_pyproject(files).get("dependency_files", []))
    for path, text in files.items():
        if path.endswith(".txt"):
            base = path.rsplit("/", 1)[0] + "/" if "/" in path else ""
            wanted |= {inc if "/" in inc else base + inc for inc in parse_requirements_text(text)[1]}
    return sorted({p.removeprefix("./") for p in wanted} - set(files))


@dataclass
class PythonEnv:
    """What detection found; `facts()` flattens it for `EnvSpec.toolchain`."""

    install_method: str | None = None
    """`pyproject`, `setup.py`, `setup.cfg`, `requirements`, or None (nothing installable)."""
    project_name: str = ""
    editable: bool = False
    """Whether the project itself is installable (`pip install -e .`)."""
    python_version: str = ""
    requires_python: str = ""
    python_compatible: bool = True
    classifier_max: str = ""
    extras: list[str] = field(default_factory=list)
    requirements: list[str] = field(default_factory=list)
    """Runtime + test requirements installed into the repo layer (sorted, deduplicated)."""
    build_requires: list[str] = field(default_factory=list)
    requirement_files: list[str] = field(default_factory=list)
    dynamic_dependencies: bool = False
    """Dependencies are computed (setup.py code, poetry): the task layer's install adds them."""
    unreachable: list[str] = field(default_factory=list)
    """Requirements that point at hosts that cannot be reached (e.g. `git+https://github.com`)."""
    pytest_config: str = ""
    notes: list[str] = field(default_factory=list)

    def facts(self) -> dict[str, str]:
        return {
            "language": "python",
            "install_method": self.install_method or "",
            "project_name": self.project_name,
            "editable": str(self.editable).lower(),
            "python_version": self.python_version,
            "requires_python": self.requires_python,
            "python_compatible": str(self.python_compatible).lower(),
            "classifier_max": self.classifier_max,
            "extras": ",".join(self.extras),
            "requirement_files": ",".join(self.requirement_files),
            "dynamic_dependencies": str(self.dynamic_dependencies).lower(),
            "pytest_config": self.pytest_config,
            "notes": "; ".join(self.notes),
        }


def detect_python(files: dict[str, str], suite: str = "trixie") -> PythonEnv:
    """Detect install method, dependencies, test extras and Python needs from `files`."""
    env = PythonEnv(python_version=DEBIAN_PYTHON.get(suite, DEBIAN_PYTHON["trixie"]))
    meta = _merge(_from_pyproject(files), _from_setup_cfg(files), from_setup_py(files))
    env.install_method = meta.pop("method", None)
    env.project_name = meta.get("name", "")
    env.editable = env.install_method in ("pyproject", "setup.py")
    env.requires_python = meta.get("requires_python", "")
    env.dynamic_dependencies = bool(meta.get("dynamic"))
    env.build_requires = meta.get("build_requires") or (list(DEFAULT_BUILD_REQUIRES) if env.editable else [])
    env.classifier_max = _classifier_max(meta.get("classifiers", []))
    env.python_compatible = python_compatible(env.requires_python, env.python_version)
    extras = meta.get("extras", {})
    env.extras = [n for n in TEST_EXTRAS if n in extras] or [n for n in FALLBACK_EXTRAS if n in extras]
    reqs = list(meta.get("dependencies", []))
    for name in env.extras:
        reqs += extras[name]
    reqs += _requirement_files(files, env, meta.get("dependency_files", []))
    if not env.extras:
        reqs += _test_hints(files)
    if env.install_method is None and env.requirement_files:
        env.install_method = "requirements"
    env.requirements = _normalise(reqs, env, extras)
    env.unreachable += meta.get("unreachable", [])
    env.pytest_config = _pytest_config(files)
    if env.classifier_max and _version_tuple(env.classifier_max) < _version_tuple(env.python_version):
        env.notes.append(f"classifiers stop at Python {env.classifier_max}")
    return env


def python_compatible(requires_python: str, version: str) -> bool:
    """Whether `version` satisfies `requires_python` (an unparsable spec counts as compatible)."""
    if not requires_python.strip():
        return True
    try:
        return SpecifierSet(requires_python).contains(version, prereleases=True)
    except InvalidSpecifier:
        return True


def parse_requirements_text(text: str) -> tuple[list[str], list[str]]:
    """Requirement lines of a requirements file, and the files it includes with `-r`."""
    reqs, includes = [], []
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith(("-r ", "--requirement")):
            includes.append(line.split(None, 1)[1].strip() if " " in line else line.split("=", 1)[1])
        elif line.startswith("-") or line in (".", "./"):
            continue  # options, constraints, `-e .`
        else:
            reqs.append(line)
    return reqs, includes


def _merge(*sources: dict) -> dict:
    """The first source that declares a key wins; `method` comes from the first installable."""
    merged: dict = {}
    for source in sources:
        for key, value in source.items():
            if value and key not in merged:
                merged[key] = value
    return merged


def _from_pyproject(files: dict[str, str]) -> dict:
    if "pyproject.toml" not in files:
        return {}
    try:
        data = tomllib.loads(files["pyproject.toml"])
    except tomllib.TOMLDecodeError:
        return {}
    project, build = data.get("project", {}), data.get("build-system", {})
    poetry = data.get("tool", {}).get("poetry", {})
    out: dict = {"build_requires": list(build.get("requires", []))}
    if project or build or poetry:
        has_setup = "setup.py" in files or "setup.cfg" in files
        out["method"] = "pyproject" if (project or poetry or not has_setup) else None
    out["name"] = project.get("name") or poetry.get("name", "")
    out["requires_python"] = project.get("requires-python", "")
    out["classifiers"] = project.get("classifiers", [])
    dynamic = project.get("dynamic", [])
    out["dependencies"] = list(project.get("dependencies", []))
    extras = dict(project.get("optional-dependencies", {}))
    for group, items in data.get("dependency-groups", {}).items():
        extras.setdefault(group, [i for i in items if isinstance(i, str)])
    out["extras"] = extras
    if "dependencies" in dynamic:
        dyn = data.get("tool", {}).get("setuptools", {}).get("dynamic", {}).get("dependencies", {})
        out["dependency_files"] = list(dyn.get("file", []))
        out["dynamic"] = not out["dependency_files"]
    if poetry and not project:
        out.update(_from_poetry(poetry))
    return out


def _from_poetry(poetry: dict) -> dict:
    deps = poetry.get("dependencies", {})
    reqs, unreachable = poetry_requirements(deps)
    extras = {}
    for name, table in poetry_groups(poetry).items():
        extras[name], more = poetry_requirements(table)
        unreachable += more
    python = deps.get("python")
    return {"dependencies": reqs, "extras": extras, "unreachable": unreachable,
            "requires_python": poetry_constraint(python) if isinstance(python, str) else ""}


def _from_setup_cfg(files: dict[str, str]) -> dict:
    if "setup.cfg" not in files:
        return {}
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(files["setup.cfg"])
    except configparser.Error:
        return {}
    options = parser["options"] if parser.has_section("options") else {}
    metadata = parser["metadata"] if parser.has_section("metadata") else {}
    extras = {}
    if parser.has_section("options.extras_require"):
        extras = {k: _cfg_list(v) for k, v in parser["options.extras_require"].items()}
    out = {
        "name": metadata.get("name", ""),
        "requires_python": options.get("python_requires", ""),
        "classifiers": _cfg_list(metadata.get("classifiers", "")),
        "dependencies": _cfg_list(options.get("install_requires", "")),
        "extras": extras,
    }
    if options or metadata:
        out["method"] = "setup.py" if "setup.py" in files else "setup.cfg"
    return out


def _cfg_list(value: str) -> list[str]:
    """A setup.cfg list: one item a line, or one comma-separated line."""
    lines = [ln.strip() for ln in value.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    if len(lines) != 1:
        return lines
    try:
        Requirement(lines[0])
        return lines
    except InvalidRequirement:
        return [p.strip() for p in lines[0].split(",") if p.strip()]


def _requirement_files(files: dict[str, str], env: PythonEnv, declared: list[str]) -> list[str]:
    """Requirements from `requirements.txt`, test-ish requirement files and files that
    pyproject's dynamic dependencies name, following `-r` includes."""
    candidates = [p for p in sorted(files) if _REQ_FILE.match(p)]
    chosen = [p for p in candidates if p == "requirements.txt"]
    tests = [p for p in candidates if _TEST_FILE.search(p)]
    chosen += tests or [p for p in candidates if _DEV_FILE.search(p)]
    chosen += [p.removeprefix("./") for p in declared]
    reqs, seen, queue = [], set(), list(chosen)
    while queue:
        path = queue.pop(0)
        if path in seen or path not in files:
            continue
        seen.add(path)
        lines, includes = parse_requirements_text(files[path])
        reqs += lines
        base = path.rsplit("/", 1)[0] + "/" if "/" in path else ""
        queue += [inc if "/" in inc else base + inc for inc in includes]
    env.requirement_files = sorted(seen)
    return reqs


def _test_hints(files: dict[str, str]) -> list[str]:
    """Test dependencies named by tox (`[testenv] deps`) or nox (`session.install`)."""
    hints: list[str] = []
    if "tox.ini" in files:
        parser = configparser.ConfigParser(interpolation=None, strict=False)
        try:
            parser.read_string(files["tox.ini"])
            deps = parser.get("testenv", "deps", fallback="")
        except configparser.Error:
            deps = ""
        lines = [d.strip() for d in deps.splitlines()]
        hints += [d for d in lines if d and not d.startswith(("-", "{", "#"))]
    if "noxfile.py" in files:
        for args in _NOX_INSTALL.findall(files["noxfile.py"]):
            hints += [s for s in _STRING.findall(args) if not s.startswith(("-", "."))]
    return [h.split(":", 1)[1].strip() if re.match(r"^[\w,-]+:\s", h) else h for h in hints]


def _normalise(reqs: list, env: PythonEnv, extras: dict) -> list[str]:
    """Valid, deduplicated, sorted requirements; the project itself expands to its extras."""
    own = canonicalize_name(env.project_name) if env.project_name else None
    out: set[str] = set()
    queue, expanded = [r for r in reqs if isinstance(r, str)], set()
    while queue:
        text = queue.pop(0).strip()
        try:
            req = Requirement(text)
        except InvalidRequirement:
            env.notes.append(f"skipped requirement {text!r}")
            continue
        if own and canonicalize_name(req.name) == own:
            for extra in sorted(req.extras - expanded):
                expanded.add(extra)
                queue += [r for r in extras.get(extra, []) if isinstance(r, str)]
            continue
        if req.url and any(host in req.url for host in UNREACHABLE_HOSTS):
            env.unreachable.append(text)
        out.add(str(req))
    if not any(canonicalize_name(Requirement(r).name) == "pytest" for r in out):
        out.add("pytest")
    return sorted(out)


def _classifier_max(classifiers: list[str]) -> str:
    matches = [_CLASSIFIER.search(c.strip()) for c in classifiers if isinstance(c, str)]
    versions = [m.group(1) for m in matches if m]
    return max(versions, key=_version_tuple) if versions else ""


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", version)[:2])


def _pytest_config(files: dict[str, str]) -> str:
    if "pytest.ini" in files:
        return "pytest.ini"
    if "[tool.pytest.ini_options]" in files.get("pyproject.toml", ""):
        return "pyproject.toml"
    if "[tool:pytest]" in files.get("setup.cfg", ""):
        return "setup.cfg"
    if "[pytest]" in files.get("tox.ini", ""):
        return "tox.ini"
    return ""
