"""The schema of a language spec and its lazy, validated registry.

A spec says how to recognise a repository of the language, which toolchain image it needs,
how its dependencies are installed, how its tests run and which parser reads their report,
and which package sources it may need that cannot be reached. What only a language's manifests
say (Python's setup.py, read without running it) is read by the spec's `hook`
(`envmine.languages.hooks`). Per-repository exceptions live in `overrides.toml`, validated
against `RepoOverride` when loaded.

The specs shipped are the TOML files in this folder; `ENVMINE_LANGUAGE_DIRS` (folders separated
by `os.pathsep`) adds more: a language is one more `<name>.toml` there, and a shipped name
found again in such a folder is refused.
"""

from __future__ import annotations

import os
import re
import tomllib
from functools import cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from envmine.languages.hooks import check_hook_name
from envmine.reasons import Reason

SPEC_DIR = Path(__file__).parent
EXTRA_DIRS_ENV = "ENVMINE_LANGUAGE_DIRS"
"""Environment variable: more folders of language specs (see the module docstring)."""
OVERRIDES_FILE = SPEC_DIR / "overrides.toml"
PROTECTED_FILE = SPEC_DIR / "protected.toml"
"""Paths no solution may change in any language (see `LanguageSpec.protected`)."""


def _check_regex(pattern: str) -> str:
    """`pattern` itself when it compiles; a ValueError (which pydantic reports) when not."""
    try:
        re.compile(pattern, re.M)
    except re.error as exc:
        raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from None
    return pattern


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FileRule(_Strict):
    """A repository matches when a file matching `file` exists and, if `contains` is set, that
    regular expression is found in its text. `file` is a glob: without `/` it names root files
    only; with `/`, `*` also crosses folders (`spec/*_spec.rb` matches `spec/a/b_spec.rb`); a
    leading `**/` matches at any depth, the root included."""

    file: str
    contains: str | None = None

    @field_validator("contains")
    @classmethod
    def _compiles(cls, pattern: str | None) -> str | None:
        return pattern if pattern is None else _check_regex(pattern)


class Framework(_Strict):
    """One way the language's tests run. The first framework whose `detect` matches wins;
    an empty `detect` always matches (put the default last)."""

    name: str
    runner: str
    """Result parser name (see `envmine.validators.parsers.PARSERS`)."""
    detect: list[FileRule] = Field(default_factory=list)
    install: list[str] | None = None
    """Shell commands (Jinja: `as_of`, and the hook's context) run in /testbed as the sandbox
    user in the repo layer, with network, over the manifests (and the hook's files, in
    /opt/envmine) only; None: the language's `install`. A command that renders to nothing is
    left out."""
    prepare: list[str] | None = None
    """Shell commands (Jinja: `as_of`, `test_options`, and the hook's context) run in /testbed
    as the sandbox user in the task layer, over the full source at the base commit, with network: the project's own
    build steps, fetch what the manifests alone cannot (plugins, crates of path members) and
    compile once so offline test runs only rebuild what a patch touches; None: the
    language's `prepare`."""
    test_options: list[BuildOption] = Field(default_factory=list)
    """Build options that hide test targets, found in the tree and turned on (`test_options`
    in `prepare` and `test_command`)."""
    manifests: list[str] = Field(default_factory=list)
    """Root files copied into the repo layer before `install` (missing ones are skipped); the
    repo layer's tag covers their text, so tasks with unchanged manifests share it."""
    resolved_command: str = ""
    """Shell command printing the resolved dependency versions after `install` (one a line)."""
    test_command: str
    """Shell command (Jinja: `results_dir`, `test_files`) that runs the suite in /testbed and
    writes its machine-readable report(s) under `results_dir`."""
    runnable: str = ""
    """Regular expression (search) a test file must match, besides the spec's `test_patterns`,
    to be given to the runner: `test_files` is then those files, sorted (pytest: `.py` files
    but conftest.py and __init__.py). Empty: `test_files` is the task's test files as its test
    patch names them."""
    report_glob: str = "*"
    """Which files under `results_dir` are the report(s) for `runner`."""
    env: dict[str, str] = Field(default_factory=dict)
    """Environment of the repo layer and of test runs."""
    sentinel: Sentinel | None = None
    """The must-fail test planted in every run, where the runner's report comes from the test
    process itself (see `Sentinel`)."""

    @field_validator("runnable")
    @classmethod
    def _runnable_compiles(cls, pattern: str) -> str:
        return _check_regex(pattern) if pattern else pattern


class BuildOption(_Strict):
    """Build options that hide test targets (CMake `option(YAML_CPP_BUILD_TESTS ...)`, Meson
    `option('tests', type: 'boolean')`): each name that `regex` (group 1) finds in a file
    matching `file` and that `name` matches in full becomes `flag` (Jinja: `name`)."""

    file: str
    regex: str
    name: str
    flag: str

    @field_validator("regex", "name")
    @classmethod
    def _compiles(cls, pattern: str) -> str:
        return _check_regex(pattern)


class DependencyCheck(_Strict):
    """Dependencies declared in a manifest that must all come from reachable sources.

    Names are read from `file` with `regex` (group 1) or, for JSON manifests, from the keys of
    the objects named in `json_keys`. A name found in `debian` is installed from that Debian
    package; a name matching an `allowed` pattern needs nothing; any other name rejects the
    repository with `reason`.
    """

    file: str
    regex: str | None = None
    json_keys: list[str] = Field(default_factory=list)
    debian: dict[str, str] = Field(default_factory=dict)
    allowed: list[str] = Field(default_factory=list)
    """Regular expressions (full match) for names that need nothing installed."""
    reason: Reason

    @model_validator(mode="after")
    def _one_reader(self) -> DependencyCheck:
        if bool(self.regex) == bool(self.json_keys):
            raise ValueError(f"dependency check on {self.file}: set exactly one of regex, json_keys")
        for pattern in [*(self.allowed), *([self.regex] if self.regex else [])]:
            _check_regex(pattern)
        return self


class Sentinel(_Strict):
    """A must-fail test the harness appends to one test file of the test patch in every run.

    It runs in the same process as the task's tests, so a report forged from inside that
    process (printed runner output, an early exit with status 0) shows it passed or lacks it.
    `text` is Jinja with `name` (a fresh random test name); the sentinel's id in the report
    contains `name`.
    """

    files: str
    """Regular expression over posix paths: the test files the sentinel may be appended to."""
    requires: str = ""
    """Regular expression the chosen file's text must contain (e.g. the `testing` import)."""
    text: str

    @field_validator("files", "requires")
    @classmethod
    def _compiles(cls, pattern: str) -> str:
        return _check_regex(pattern)


class Unreachable(_Strict):
    """A marker of a package source that cannot be reached: the repository is rejected with
    `reason` when `rule` matches and none of the `unless` files exist."""

    rule: FileRule
    unless: list[str] = Field(default_factory=list)
    reason: Reason
    detail: str = ""


class RegistryToolchain(_Strict):
    """A toolchain newer than Debian's, installed from the language's own registry."""

    name: str
    version: str
    commands: list[str]
    """Shell commands (Jinja: `version`) run as root in the toolchain layer."""


class LanguageSpec(_Strict):
    """What envmine knows about one language; see python.toml for a commented example."""

    name: str
    extensions: list[str]
    """Source file extensions, used for detection by file share and by tree-sitter."""
    detect_files: list[str] = Field(default_factory=list)
    """Manifests whose presence at the repository root marks this language."""
    runner: str
    """Default result parser (see validators.parsers)."""
    test_patterns: list[str]
    """Regular expressions over posix paths; a match makes the file a test file."""
    protected_patterns: list[str] = Field(default_factory=list)
    """Regular expressions over posix paths a solution may not change besides the test files:
    test-runner configuration and plugins, manifests whose test sections steer the runner,
    build and CI scripts that run the tests. Bash (POSIX ERE) evaluates them inside the
    sandbox, so keep to the syntax both dialects share."""
    toolchain_packages: list[str] = Field(default_factory=list)
    toolchain_env: dict[str, str] = Field(default_factory=dict)
    """ENV of the toolchain image (CA bundle pointers, registry URLs, offline switches)."""
    toolchain_setup: list[str] = Field(default_factory=list)
    """Shell commands (Jinja: `user`) run as root after the packages are installed and the
    `toolchain_files` written (trust stores, a virtual environment)."""
    toolchain_files: dict[str, str] = Field(default_factory=dict)
    """Files of the toolchain image: absolute path -> text (Jinja: `ca_bundle`, `user`), such
    as a package tool's configuration; written before `toolchain_setup` runs."""
    toolchain_version: str = ""
    """Shell command printing the toolchain's version (recorded in EnvSpec.toolchain)."""
    registry_toolchain: RegistryToolchain | None = None
    repo_packages: list[str] = Field(default_factory=list)
    """Debian packages every repository of the language gets in its repo layer."""
    install: list[str] = Field(default_factory=list)
    """The repo layer's install commands of frameworks that set none (see `Framework.install`)."""
    prepare: list[str] = Field(default_factory=list)
    """The task layer's prepare commands of frameworks that set none (see `Framework.prepare`)."""
    frameworks: list[Framework] = Field(default_factory=list)
    """Ways the tests run, first match wins."""
    before_tests: str = ""
    """Shell snippet (Jinja: the test command's context) run before every framework's test
    command, in the same shell (JavaScript: the project's `pretest` script, which npm would run
    before `npm test`, where it compiles the sources the tests import)."""
    hook: str = ""
    """Code for what only this language's manifests say (see `envmine.languages.hooks`): a
    registered name or a dotted module path; empty for none."""
    read_files: list[str] = Field(default_factory=list)
    """Globs (as in `FileRule.file`) of the files whose text the hook reads."""
    dependency_checks: list[DependencyCheck] = Field(default_factory=list)
    unreachable: list[Unreachable] = Field(default_factory=list)
    test_function_patterns: list[str] = Field(default_factory=list)
    """Regular expressions (multi-line) that find test functions in a test file's text."""
    compiled: bool = False
    """Whether the test command compiles the code and its tests before any test runs, so a
    test patch that uses an API the fix adds stops the whole run with no report (Go, Rust,
    the JVM languages, C/C++). Validation may then count the before run as a compile failure
    (`ValidationSettings.compile_failure_counts_as_fail`)."""
    build_failures: dict[Reason, str] = Field(default_factory=dict)
    """Reason code -> regular expression over a failed build's log, checked in order before
    the builder's generic classification (e.g. Maven's transfer errors -> unreachable)."""
    task_failure: Reason = Reason.build_failed
    """The reason of a failed task layer that no `build_failures` pattern explains:
    `build_failed` where `prepare` fetches and compiles, `checkout_failed` where the task
    layer only lays out /testbed and installs the project into the environment."""

    @field_validator("test_patterns", "test_function_patterns", "protected_patterns")
    @classmethod
    def _patterns_compile(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            _check_regex(pattern)
        return patterns

    @field_validator("hook")
    @classmethod
    def _hook_known(cls, name: str) -> str:
        return check_hook_name(name)

    @field_validator("build_failures")
    @classmethod
    def _failures_compile(cls, failures: dict[Reason, str]) -> dict[Reason, str]:
        for pattern in failures.values():
            _check_regex(pattern)
        return failures

    def framework(self, name: str) -> Framework:
        """The framework called `name`; an unknown name's error lists the valid ones."""
        for framework in self.frameworks:
            if framework.name == name:
                return framework
        known = ", ".join(f.name for f in self.frameworks)
        raise KeyError(f"{self.name} has no framework {name!r}; known: {known}")

    def is_test_file(self, path: str) -> bool:
        return any(re.search(p, path) for p in self.test_patterns)

    @property
    def protected(self) -> list[str]:
        """Every pattern of a path a solution's diff may not change: the test files, this
        language's runner configuration, and what `protected.toml` protects everywhere."""
        return [*self.test_patterns, *self.protected_patterns, *common_protected()]

class RepoOverride(_Strict):
    """Per-repository exceptions to its language spec (`[overrides."owner/name"]`)."""

    language: str | None = None
    framework: str | None = None
    """Force this framework (by name) instead of detection."""
    install: list[str] | None = None
    """Replace the framework's install commands."""
    test_command: str | None = None
    runner: str | None = None
    report_glob: str | None = None
    packages: list[str] = Field(default_factory=list)
    """Extra Debian packages for the repo layer."""
    env: dict[str, str] = Field(default_factory=dict)


def spec_files() -> dict[str, Path]:
    """Each language's spec file by name: this folder's, then those of `ENVMINE_LANGUAGE_DIRS`."""
    found: dict[str, Path] = {}
    extra = [Path(d) for d in os.environ.get(EXTRA_DIRS_ENV, "").split(os.pathsep) if d]
    for folder in [SPEC_DIR, *extra]:
        for path in sorted(folder.glob("*.toml")):
            if path.name in (OVERRIDES_FILE.name, PROTECTED_FILE.name):
                continue
            if path.stem in found:
                raise ValueError(f"language {path.stem!r} is defined twice: {found[path.stem]} and {path}")
            found[path.stem] = path
    return found


def known_languages() -> list[str]:
    return sorted(spec_files())


@cache
def common_protected() -> tuple[str, ...]:
    """The patterns of `protected.toml` (`common`), validated."""
    data = _read_toml(PROTECTED_FILE)
    unknown = set(data) - {"common"}
    if unknown:
        raise ValueError(f"protected.toml: unknown keys {sorted(unknown)}; valid: common")
    return tuple(_check_regex(p) for p in data.get("common", []))


def _read_toml(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"invalid TOML {path.name}: {exc}") from exc


@cache
def load_language(name: str) -> LanguageSpec:
    """Load and validate `<name>.toml`; an unknown name's error lists the valid ones."""
    files = spec_files()
    if name not in files:
        raise KeyError(f"unknown language {name!r}; known: {', '.join(sorted(files))}")
    path = files[name]
    try:
        spec = LanguageSpec.model_validate(_read_toml(path))
    except ValueError as exc:
        raise ValueError(f"invalid language spec {path.name}: {exc}") from exc
    if spec.name != name:
        raise ValueError(f"invalid language spec {path.name}: name is {spec.name!r}")
    return spec


def parse_overrides(text: str) -> dict[str, RepoOverride]:
    """Validate overrides TOML text: `[overrides."owner/name"]` tables of `RepoOverride`."""
    data = tomllib.loads(text)
    unknown = set(data) - {"overrides"}
    if unknown:
        raise ValueError(f"overrides: unknown top-level keys {sorted(unknown)}")
    result = {}
    for repo, table in data.get("overrides", {}).items():
        override = RepoOverride.model_validate(table)
        if override.language is not None and override.language not in known_languages():
            raise ValueError(f"overrides[{repo}]: unknown language {override.language!r}")
        result[repo] = override
    return result


@cache
def load_overrides() -> dict[str, RepoOverride]:
    """The shipped per-repository overrides, validated when loaded."""
    if not OVERRIDES_FILE.is_file():
        return {}
    return parse_overrides(OVERRIDES_FILE.read_text())
