"""Environments for every language, driven by the language specs (TOML data) and their hooks.

`plan_language` is pure: from a tree's paths and the text of the files the spec's rules name,
it picks the test framework, checks that every package source can be reached, asks the spec's
hook (`envmine.languages.hooks`) what only the language's manifests say, and gathers the
install steps; `lang_spec` renders the four layers (base -> toolchain -> repo -> task) from the
templates in `templates/lang/`. `plan.plan_env` is the edge that reads the clone.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
from dataclasses import dataclass, field
from datetime import datetime, timezone

import jinja2

from envmine.builders.base import CA_BUNDLE_PATH, base_layer
from envmine.builders.render import make_layer
from envmine.languages import LanguageSpec, load_language
from envmine.languages.hooks import HookPlan, PlanError, load_hook
from envmine.languages.spec import DependencyCheck, FileRule, Framework, RepoOverride
from envmine.reasons import Reason
from envmine.records import RESULTS_DIR, Candidate, EnvSpec, LayerSpec, strip_ansi
from envmine.settings import Settings

MAX_READ_FILES = 64
"""At most this many files are read for one plan (rules whose globs match many files)."""


def modules_under(paths: list[str], marker: str) -> list[str]:
    """The folders that hold `marker` (`src/test/`) above each of `paths`, in order of first
    appearance, or none when one of them is under the root's own `marker` (the root module: a
    spec then builds everything). A snippet filter: `test_files | modules_under("src/test/")`."""
    if any(p.startswith(marker) for p in paths):
        return []
    return list(dict.fromkeys(p.split(f"/{marker}")[0] for p in paths if f"/{marker}" in p))


_SNIPPETS = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)
_SNIPPETS.filters |= {"quote": shlex.quote, "modules_under": modules_under}
_FILES = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True)


@dataclass
class LangPlan:
    """What planning decided for one repository at one commit."""

    language: str
    framework: str
    runner: str
    test_command: str
    report_glob: str
    install: list[str] = field(default_factory=list)
    prepare: list[str] = field(default_factory=list)
    manifests: dict[str, str] = field(default_factory=dict)
    """Root manifests copied into the repo layer, by path, as text."""
    packages: list[str] = field(default_factory=list)
    """Debian packages of the repo layer (mapped dependencies, overrides)."""
    env: dict[str, str] = field(default_factory=dict)
    resolved_command: str = ""
    cutoff: str = ""
    """The date dependencies resolve as of where no lockfile pins them ("" when the install
    steps take none)."""
    hook: HookPlan = field(default_factory=HookPlan)
    """What the spec's hook added (files for the repo layer, facts)."""

    def facts(self) -> dict[str, str]:
        facts = {"language": self.language, "framework": self.framework, "report_glob": self.report_glob,
                 "repo_packages": ",".join(self.packages), "manifests": ",".join(sorted(self.manifests))}
        return facts | self.hook.facts | ({"dependency_cutoff": self.cutoff} if self.cutoff else {})


def dependency_cutoff(created_at: datetime) -> str:
    """Resolve dependencies as they were when the change was made: packages uploaded before the
    first day of the following month. Pins resolution (a rebuild next year gets the same
    versions) and keeps old test suites on the tools they were written for; tasks of one month
    share the repository layer."""
    at = created_at.astimezone(timezone.utc)
    year, month = (at.year + 1, 1) if at.month == 12 else (at.year, at.month + 1)
    return f"{year:04d}-{month:02d}-01T00:00:00Z"


def matches_glob(pattern: str, path: str) -> bool:
    """A pattern without `/` names root files only; with `/`, `*` also crosses folders; a
    leading `**/` matches at any depth, the root included (`**/CMakeLists.txt`)."""
    if pattern.startswith("**/") and fnmatch.fnmatchcase(path, pattern[3:]) and "/" not in path:
        return True
    if "/" not in pattern and "/" in path:
        return False
    return fnmatch.fnmatchcase(path, pattern)


def wanted_files(spec: LanguageSpec, paths: list[str]) -> list[str]:
    """Paths whose text `plan_language` reads: files the spec's rules, checks and manifests name
    (at most MAX_READ_FILES), and every file its hook's `read_files` name (the hook's reading
    must not depend on how many other files a tree has)."""
    patterns = [r.file for fw in spec.frameworks for r in fw.detect if r.contains]
    patterns += [u.rule.file for u in spec.unreachable if u.rule.contains]
    patterns += [c.file for c in spec.dependency_checks]
    patterns += [m for fw in spec.frameworks for m in fw.manifests]
    patterns += [o.file for fw in spec.frameworks for o in fw.test_options]
    wanted = sorted(p for p in paths if any(matches_glob(pat, p) for pat in patterns))[:MAX_READ_FILES]
    hooked = [p for p in paths if any(matches_glob(pat, p) for pat in spec.read_files)]
    return sorted({*wanted, *hooked})


def rule_matches(rule: FileRule, paths: list[str], files: dict[str, str]) -> bool:
    """Whether a file matching `rule.file` exists (and holds `rule.contains`, when set)."""
    for path in paths:
        if not matches_glob(rule.file, path):
            continue
        if rule.contains is None or re.search(rule.contains, files.get(path, ""), re.M):
            return True
    return False


def choose_framework(spec: LanguageSpec, paths: list[str], files: dict[str, str],
                     override: RepoOverride | None = None, preferred: str = "") -> Framework:
    """The override's framework, else `preferred` (what the hook read in the manifests: the
    runner `npm test` starts) where its detect rules match, else the first that matches
    (empty rules = default)."""
    if override and override.framework:
        try:
            return spec.framework(override.framework)
        except KeyError as exc:
            raise PlanError(Reason.install_unsupported, str(exc)) from None
    detected = [f for f in spec.frameworks if not f.detect or any(rule_matches(r, paths, files) for r in f.detect)]
    if detected:
        return next((f for f in detected if f.name == preferred), detected[0])
    known = ", ".join(f.name for f in spec.frameworks)
    raise PlanError(Reason.install_unsupported, f"no {spec.name} test framework detected (known: {known})")


def check_unreachable(spec: LanguageSpec, paths: list[str], files: dict[str, str]) -> None:
    """Raise PlanError for the first unreachable-source marker that applies."""
    root = {p for p in paths if "/" not in p}
    for marker in spec.unreachable:
        if any(matches_glob(u, p) for u in marker.unless for p in root):
            continue
        if rule_matches(marker.rule, paths, files):
            raise PlanError(marker.reason, marker.detail or f"{marker.rule.file} needs an unreachable source")


def declared_dependencies(check: DependencyCheck, text: str) -> list[str]:
    """Dependency names a manifest declares (regex group 1, or keys of the JSON objects)."""
    if check.regex:
        return sorted(set(re.findall(check.regex, text, re.M)))
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PlanError(Reason.install_unsupported, f"{check.file}: not valid JSON: {exc}") from exc
    names = set()
    for key in check.json_keys:
        section = data.get(key) if isinstance(data, dict) else None
        names |= set(section) if isinstance(section, dict) else set()
    return sorted(names)


def dependency_packages(spec: LanguageSpec, paths: list[str], files: dict[str, str]) -> list[str]:
    """Debian packages for the declared dependencies; PlanError when one has no reachable source."""
    packages: set[str] = set()
    for check in spec.dependency_checks:
        for path in (p for p in paths if matches_glob(check.file, p)):
            missing = []
            for name in declared_dependencies(check, files.get(path, "")):
                if name in check.debian:
                    packages.add(check.debian[name])
                elif not any(re.fullmatch(a, name) for a in check.allowed):
                    missing.append(name)
            if missing:
                needs = ", ".join(missing)
                raise PlanError(check.reason, f"{path} needs {needs} (no Debian package; registry unreachable)")
    return sorted(packages)


def test_option_flags(framework: Framework, paths: list[str], files: dict[str, str]) -> list[str]:
    """The flags that turn on every build option of the tree that hides test targets."""
    flags = set()
    for option in framework.test_options:
        for path in (p for p in paths if matches_glob(option.file, p)):
            names = re.findall(option.regex, files.get(path, ""), re.M)
            flags |= {render_snippet(option.flag, name=n) for n in names if re.fullmatch(option.name, n)}
    return sorted(flags)


def render_snippet(text: str, **context: object) -> str:
    """Render one shell snippet from a spec (Jinja, StrictUndefined)."""
    return _SNIPPETS.from_string(text).render(**context)


def render_commands(commands: list[str], **context: object) -> list[str]:
    """Render a spec's commands; one that renders to nothing (a `{% if %}` the tree does not
    meet) is left out."""
    rendered = (render_snippet(c, **context) for c in commands)
    return [c for c in rendered if c.strip()]


def spec_test_files(spec: LanguageSpec, framework: Framework, test_files: list[str]) -> list[str]:
    """The task's test files by the spec's patterns (and `framework.runnable`), sorted."""
    return sorted({p for p in test_files if spec.is_test_file(p) and re.search(framework.runnable, p)})


def hook_plan(spec: LanguageSpec, files: dict[str, str], suite: str) -> HookPlan:
    """The spec's hook's part of the plan (an empty one without a hook); PlanError from it."""
    return load_hook(spec.hook).plan(files, suite) if spec.hook else HookPlan()


def plan_language(spec: LanguageSpec, paths: list[str], files: dict[str, str],
                  override: RepoOverride | None = None, test_files: list[str] | None = None,
                  as_of: str = "", suite: str = "") -> LangPlan:
    """Decide framework, install steps and test command for a tree; PlanError when unbuildable.
    `as_of` is the date dependencies resolve as of where no lockfile pins them; `suite` the
    Debian suite of the toolchain (the hook's default when empty)."""
    override = override or RepoOverride()
    check_unreachable(spec, paths, files)
    hook = hook_plan(spec, files, suite)
    framework = choose_framework(spec, paths, files, override, hook.framework)
    packages = {*spec.repo_packages, *dependency_packages(spec, paths, files), *override.packages}
    test_files = list(test_files or [])
    if framework.runnable:  # the runner is given only the files it can run
        test_files = spec_test_files(spec, framework, test_files)
    context = {**hook.context, "results_dir": RESULTS_DIR, "test_files": test_files, "as_of": as_of,
               "test_options": " ".join(test_option_flags(framework, paths, files))}
    command = override.test_command or framework.test_command
    manifests = {p: files[p] for p in paths if p in framework.manifests and p in files}
    context["manifests"] = sorted(manifests)
    install = next(s for s in (override.install, framework.install, spec.install) if s is not None)
    install = render_commands(install, **context)
    prepare = render_commands(spec.prepare if framework.prepare is None else framework.prepare, **context)
    return LangPlan(
        language=spec.name, framework=framework.name, runner=override.runner or framework.runner,
        test_command=(render_snippet(spec.before_tests, **context) + render_snippet(command, **context)).strip(),
        report_glob=override.report_glob or framework.report_glob,
        install=install, prepare=prepare,
        manifests=manifests, packages=sorted(packages), env={**framework.env, **override.env},
        resolved_command=framework.resolved_command,
        cutoff=as_of if as_of and any(as_of in c for c in [*install, *prepare]) else "",
        hook=hook,
    )


def lang_layers(plan: LangPlan, spec: LanguageSpec, repo: str, base_commit: str, settings: Settings,
                ca_bundle: str) -> list[LayerSpec]:
    """The four layers of a planned environment (pure: no git, no Docker)."""
    user = settings.docker.sandbox_user
    base = base_layer(settings, ca_bundle)
    registry = spec.registry_toolchain
    setup = [render_snippet(c, user=user) for c in spec.toolchain_setup]
    if registry:
        setup += [render_snippet(c, version=registry.version, user=user) for c in registry.commands]
    files = {path: _FILES.from_string(text).render(ca_bundle=CA_BUNDLE_PATH, user=user)
             for path, text in spec.toolchain_files.items()}
    toolchain = make_layer("toolchain", "lang/toolchain.Dockerfile.j2", base.tag,
                           context_files={f"files{path}": text for path, text in files.items()},
                           packages=spec.toolchain_packages, setup=setup, env=spec.toolchain_env,
                           registry=registry, user=user, files=sorted(files))
    repo_layer = make_layer(
        "repo", "lang/repo.Dockerfile.j2", toolchain.tag,
        context_files={**{f"manifests/{path}": text for path, text in plan.manifests.items()},
                       **{f"files/{name}": text for name, text in plan.hook.files.items()}},
        language=plan.language, framework=plan.framework, repo=repo, user=user, packages=plan.packages,
        env=plan.env, manifests=sorted(plan.manifests), install=plan.install,
        resolved_command=plan.resolved_command, files=sorted(plan.hook.files),
    )
    task = make_layer("task", "lang/task.Dockerfile.j2", repo_layer.tag, language=plan.language, repo=repo,
                      base_commit=base_commit, user=user, prepare=plan.prepare,
                      resolved_command=plan.resolved_command)
    return [base, toolchain, repo_layer, task]


def lang_spec(candidate: Candidate, settings: Settings, plan: LangPlan, spec: LanguageSpec,
              ca_bundle: str) -> EnvSpec:
    """The EnvSpec of a planned environment (pure)."""
    layers = lang_layers(plan, spec, candidate.repo, candidate.base_commit, settings, ca_bundle)
    test_files = spec_test_files(spec, spec.framework(plan.framework), candidate.test_files)
    facts = plan.facts() | {"environment_setup_commit": candidate.base_commit, "repo_url": candidate.repo_url}
    return EnvSpec(instance_id=candidate.instance_id, repo=candidate.repo, language=spec.name,
                   base_commit=candidate.base_commit, layers=layers, test_command=plan.test_command,
                   runner=plan.runner, test_files=test_files, toolchain=facts,
                   report_glob=plan.report_glob)


def classify_build_failure(language: str, log: str) -> Reason | None:
    """The spec's reason code for a failed build's log, or None (generic classification).
    Terminal colour codes are removed first: Docker build logs split tool output with them."""
    log = strip_ansi(log)
    for reason, pattern in load_language(language).build_failures.items():
        if re.search(pattern, log, re.M):
            return Reason(reason)
    return None
