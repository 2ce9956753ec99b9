"""Every language end to end in real Docker: a small repository with a bug-fixing commit that
adds a test is mined, planned from its language spec, built, and validated; the task's exact
FAIL_TO_PASS and PASS_TO_PASS are asserted.

The pipeline tests are slow (a toolchain image per language the first time, 1-3 min each on
two cores), so by default only CI_SUBSET runs; `scripts/e2e_languages.sh` runs them all. The unreachable-source tests
need neither Docker nor a network.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from envmine.builders import engine
from envmine.builders.build import build_env
from envmine.builders.plan import plan_env
from envmine.miners.git_source import mine_git
from envmine.reasons import Reason
from envmine.records import EnvSpec, Reject
from envmine.settings import Settings
from envmine.testing.langrepos import CASES, ECOSYSTEM_CASES, JS_LIFECYCLE, LangRepo, make_repo
from envmine.validators.run import validate

CI_SUBSET = ("go", "javascript", "java")
"""Run by default: one language with no registry, npm and Maven Central through the CA bundle.
`ENVMINE_E2E_LANGUAGES=all` (what scripts/e2e_languages.sh sets) or a comma list runs others."""


def _selected(language: str) -> bool:
    wanted = os.environ.get("ENVMINE_E2E_LANGUAGES", ",".join(CI_SUBSET))
    return wanted == "all" or language in wanted.split(",")


def _marks(language: str, case: LangRepo) -> list[pytest.MarkDecorator]:
    marks = [pytest.mark.network] if case.network else []
    if not _selected(language):
        marks.append(pytest.mark.skip(reason="not in ENVMINE_E2E_LANGUAGES (scripts/e2e_languages.sh runs all)"))
    return marks


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings.load(home=tmp_path_factory.mktemp("envmine-home"))


@pytest.mark.docker
@pytest.mark.slow
@pytest.mark.parametrize("language", [pytest.param(name, marks=_marks(name, case)) for name, case in CASES.items()])
def test_language_pipeline(language: str, settings: Settings, tmp_path: Path) -> None:
    _validated(CASES[language], settings, tmp_path)


def _validated(case: LangRepo, settings: Settings, tmp_path: Path):
    """Mine, plan, build and validate `case`'s repository; asserts the exact FAIL_TO_PASS and
    PASS_TO_PASS and returns the spec, the builds and the validation."""
    # A fixed `local/<name>` and fixed commit dates make every image tag stable, so a rerun
    # reuses the images of the last one.
    language = case.language
    repo = make_repo(tmp_path / "local", case)

    mined = mine_git(str(repo), settings)
    assert mined.repo.language == language
    assert [r.reason for r in mined.rejects] == [Reason.root_commit]
    (candidate,) = mined.candidates
    assert candidate.language == language and candidate.patch and candidate.test_patch

    spec = plan_env(candidate, settings)
    assert isinstance(spec, EnvSpec), spec
    builds, reject = build_env(spec, settings)
    assert reject is None, reject.detail[-3000:]
    assert [b.layer for b in builds] == ["base", "toolchain", "repo", "task"]

    validation = validate(candidate, spec, settings)
    before = validation.runs[0]
    assert validation.reject is None, (validation.reject, before.log[-3000:])
    instance = validation.instance
    assert instance.FAIL_TO_PASS == case.fail_to_pass
    assert instance.PASS_TO_PASS == case.pass_to_pass
    assert instance.language == language and instance.runner == spec.runner
    assert before.exit_code != 0
    # After the fix only a planted sentinel (a must-fail test; Go, Rust, jest, mocha) fails.
    assert all((run.exit_code != 0) == (run.sentinel == "failed") for run in validation.runs[1:])
    assert all(run.sentinel == validation.runs[1].sentinel for run in validation.runs[1:])
    return spec, builds, validation


@pytest.mark.docker
@pytest.mark.network
@pytest.mark.parametrize("name", list(ECOSYSTEM_CASES))
def test_builds_the_way_the_ecosystem_expects(name: str, settings: Settings, tmp_path: Path) -> None:
    """Issue 10: npm lifecycle scripts (a `prepare` that needs the sources, a `postinstall` that
    needs the network), no Cargo.lock with a dependency whose newest release needs a newer
    rustc, a CMake project whose tests hide behind an option, and a mocha project whose tests
    are where its own `npm test` says and import what its `pretest` builds."""
    spec, builds, _ = _validated(ECOSYSTEM_CASES[name], settings, tmp_path)
    task = spec.layers[-1]
    if name == "javascript-lifecycle":
        # `prepare` ran over the sources in the task layer; the repo layer ran no script at all.
        assert engine.read_image_file(task.tag, "/testbed/generated/exports.json") == b'["abs","max"]'
        assert "npm install --ignore-scripts --before=2026-02-01T00:00:00Z" in spec.layers[2].dockerfile
        assert builds[2].dependency_resolution == "as_of"
    elif name == "rust-msrv":
        lock = engine.read_image_file(task.tag, "/testbed/Cargo.lock").decode()
        assert 'name = "home"\nversion = "0.5.11"\n' in lock
        assert "home v0.5.11" in builds[3].resolved
    elif name == "javascript-mocha-script":
        assert spec.test_command.startswith(
            "npm run pretest > /tmp/envmine-pretest.log 2>&1 || tail -n 30 /tmp/envmine-pretest.log; "
            "{ npx --no-install mocha --require test/setup.js 'test/unit/**/*.spec.js' --exit --reporter json")
    else:
        assert "-DBUILD_TESTING=ON -DCALC_BUILD_TESTS=ON" in task.dockerfile


@pytest.mark.docker
@pytest.mark.network
def test_a_prepare_script_that_needs_the_network_is_install_script_network(settings: Settings,
                                                                           tmp_path: Path) -> None:
    package = JS_LIFECYCLE.initial["package.json"].replace("node scripts/build.js", "node scripts/fetch-binary.js")
    case = LangRepo(language="javascript", name="javascript-prepare-network", network=True,
                    initial={**JS_LIFECYCLE.initial, "package.json": package}, fix=JS_LIFECYCLE.fix,
                    fail_to_pass=[], pass_to_pass=[])
    (candidate,) = mine_git(str(make_repo(tmp_path / "local", case)), settings).candidates
    spec = plan_env(candidate, settings)
    builds, reject = build_env(spec, settings)
    assert [b.layer for b in builds] == ["base", "toolchain", "repo", "task"]
    assert (reject.stage, reject.reason) == ("build", Reason.install_script_network)
    assert builds[3].status == "failed" and builds[3].reason == Reason.install_script_network
    assert "getaddrinfo ENOTFOUND downloads.calc-binaries.invalid" in builds[3].log
    assert "envmine: lifecycle script postinstall needs the network: skipped" in builds[3].log


@pytest.mark.parametrize(("manifests", "source", "test", "language", "reason"), [
    ({"build.gradle": "plugins { id 'java' }\n"}, "src/main/java/A.java", "src/test/java/ATest.java",
     "java", Reason.gradle_unreachable),
    ({"Gemfile": "gem 'rails'\ngem 'rspec'\n"}, "lib/a.rb", "spec/a_spec.rb", "ruby", Reason.rubygems_unreachable),
    ({"composer.json": '{"require": {"monolog/monolog": "^3"}}'}, "src/A.php", "tests/ATest.php",
     "php", Reason.packagist_unreachable),
    ({"a-1.0-1.rockspec": 'dependencies = { "lua >= 5.1", "lpeg", "lua-resty-http >= 0.1" }\n'}, "src/a.lua",
     "spec/a_spec.lua", "lua", Reason.luarocks_unreachable),
])
def test_unreachable_sources_reject_before_building(manifests, source, test, language, reason, settings, tmp_path):
    case = LangRepo(language=language, initial={**manifests, source: "// v1\n", test: "// t1\n"},
                    fix={source: "// v2\n", test: "// t2\n"}, fail_to_pass=[], pass_to_pass=[])
    repo = make_repo(tmp_path, case)
    (candidate,) = mine_git(str(repo), settings).candidates
    reject = plan_env(candidate, settings)
    assert isinstance(reject, Reject)
    assert (reject.stage, reject.reason, reject.language) == ("build", reason, language)
