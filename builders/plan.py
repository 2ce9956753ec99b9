"""plan_env: from a Candidate to an EnvSpec (four content-addressed layers) or a Reject.

Layers: base (CA bundle, user, git) -> toolchain (the language's, from Debian or its registry)
-> repo (the dependencies, keyed by the manifests or dependency list so tasks with unchanged
dependencies share it) -> task (/testbed at the base commit, the project's prepare steps).
Every language is planned the same way, from its spec (`lang_env.plan_language`); this module
is the edge that reads the clone.
"""

from __future__ import annotations

from pathlib import Path

from envmine.builders import checkout
from envmine.builders.base import read_ca_bundle
from envmine.builders.lang_env import PlanError, dependency_cutoff, lang_spec, plan_language, wanted_files
from envmine.git import GitError, has_commit, tree_files
from envmine.languages import LanguageSpec, load_language
from envmine.languages.hooks import load_hook
from envmine.languages.spec import load_overrides
from envmine.miners.clone import ensure_clone
from envmine.reasons import Reason, Stage
from envmine.records import Candidate, EnvSpec, Reject
from envmine.settings import Settings


def plan_env(candidate: Candidate, settings: Settings) -> EnvSpec | Reject:
    """The environment spec for `candidate`, or a Reject with the build stage's reason code."""
    override = load_overrides().get(candidate.repo)
    language = (override.language if override and override.language else None) or candidate.language
    try:
        spec = load_language(language)
        mirror = ensure_clone(candidate.repo_url, settings.cache_dir, needs=candidate.base_commit)
        if not has_commit(mirror, candidate.base_commit):
            raise PlanError(Reason.checkout_failed, f"commit {candidate.base_commit} not in the clone")
        paths = tree_files(mirror, candidate.base_commit)
        files = read_tree(spec, mirror, candidate.base_commit, paths)
        plan = plan_language(spec, paths, files, override, candidate.test_files,
                             dependency_cutoff(candidate.created_at), settings.docker.base_suite)
    except KeyError as exc:
        return Reject.of(Stage.build, Reason.language_unsupported, candidate, str(exc))
    except (GitError, ValueError) as exc:  # clone and checkout errors are GitErrors
        return Reject.of(Stage.build, Reason.clone_failed, candidate, str(exc))
    except PlanError as exc:
        return Reject.of(Stage.build, exc.reason, candidate, exc.detail)
    return lang_spec(candidate, settings, plan, spec, read_ca_bundle(settings))


def read_tree(spec: LanguageSpec, mirror: Path, commit: str, paths: list[str]) -> dict[str, str]:
    """The text of the files planning reads: those the spec names, then those they name (the
    hook's `referenced_files`: requirement includes, dynamic dependency files)."""
    files = checkout.read_files(mirror, commit, wanted_files(spec, paths))
    if spec.hook:
        files |= checkout.read_files(mirror, commit, load_hook(spec.hook).referenced_files(files))
    return files
