"""The language specs as data: every spec loads and is consistent, and planning from a tree's
files picks the framework, installs and rejects with the precise reason code."""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

from envmine.builders.lang_env import (
    PlanError,
    classify_build_failure,
    lang_spec,
    matches_glob,
    plan_language,
    render_snippet,
    wanted_files,
)
from envmine.languages import known_languages, load_language
from envmine.languages.spec import SPEC_DIR, LanguageSpec, load_overrides, parse_overrides
from envmine.miners.history import detect_language
from envmine.reasons import Reason
from envmine.records import Candidate
from envmine.settings import Settings
from envmine.validators.parsers import PARSERS

TWELVE = ["c", "cpp", "go", "java", "javascript", "kotlin", "lua", "php", "python", "ruby", "rust", "scala",
          "typescript"]


def test_all_twelve_languages_have_a_valid_spec():
    assert known_languages() == TWELVE
    for name in TWELVE:
        spec = load_language(name)
        assert spec.name == name
        assert spec.runner in PARSERS


@pytest.mark.parametrize("name", TWELVE)
def test_spec_frameworks_name_known_runners_and_write_reports(name):
    spec = load_language(name)
    assert spec.frameworks, name
    assert spec.toolchain_packages, name
    for framework in spec.frameworks:
        assert framework.runner in PARSERS
        assert "{{ results_dir }}" in framework.test_command
    assert spec.frameworks[0].runner == spec.runner


def test_unknown_language_lists_the_known_ones():
    with pytest.raises(KeyError, match="known: c, cpp, go"):
        load_language("cobol")


def test_invalid_spec_is_rejected_when_loaded():
    data = tomllib.loads((SPEC_DIR / "go.toml").read_text())
    data["unreachable"][0]["reason"] = "no_such_reason"
    with pytest.raises(ValueError, match="reason"):
        LanguageSpec.model_validate(data)
    data = tomllib.loads((SPEC_DIR / "go.toml").read_text())
    data["frameworks"][0]["detect"] = [{"file": "go.mod", "contains": "(unclosed"}]
    with pytest.raises(ValueError):
        LanguageSpec.model_validate(data)
    data = tomllib.loads((SPEC_DIR / "ruby.toml").read_text())
    data["dependency_checks"][0]["json_keys"] = ["require"]
    with pytest.raises(ValueError, match="exactly one of regex, json_keys"):
        LanguageSpec.model_validate(data)


def test_overrides_are_validated_on_load():
    assert load_overrides() == {}
    parsed = parse_overrides('[overrides."acme/app"]\nframework = "vitest"\npackages = ["libssl-dev"]\n')
    assert parsed["acme/app"].framework == "vitest"
    assert parsed["acme/app"].packages == ["libssl-dev"]
    with pytest.raises(ValueError, match="unknown language"):
        parse_overrides('[overrides."acme/app"]\nlanguage = "cobol"\n')
    with pytest.raises(ValueError):
        parse_overrides('[overrides."acme/app"]\ntest_comand = "make"\n')
    with pytest.raises(ValueError, match="unknown top-level"):
        parse_overrides('[acme]\nx = 1\n')


@pytest.mark.parametrize(("paths", "language"), [
    (["go.mod", "calc.go", "calc_test.go"], "go"),
    (["Cargo.toml", "src/lib.rs", "tests/calc.rs"], "rust"),
    (["package.json", "src/a.js", "__tests__/a.test.js"], "javascript"),
    (["package.json", "tsconfig.json", "src/a.ts", "test/a.test.ts", "jest.config.js"], "typescript"),
    (["pom.xml", "src/main/java/A.java", "src/test/java/ATest.java"], "java"),
    (["pom.xml", "src/main/kotlin/A.kt", "src/test/kotlin/ATest.kt"], "kotlin"),
    (["build.sbt", "src/main/scala/A.scala"], "scala"),
    (["CMakeLists.txt", "src/a.c", "include/a.h", "tests/test_a.c"], "c"),
    (["CMakeLists.txt", "src/a.cpp", "include/a.h", "tests/a_test.cpp"], "cpp"),
    (["Gemfile", "lib/a.rb", "spec/a_spec.rb"], "ruby"),
    (["composer.json", "src/A.php", "tests/ATest.php"], "php"),
])
def test_language_detection_from_files(paths, language):
    assert detect_language(paths) == language


def test_glob_without_slash_names_root_files_only():
    assert matches_glob("build.gradle*", "build.gradle.kts")
    assert not matches_glob("build.gradle*", "sub/build.gradle")
    assert matches_glob("spec/*_spec.rb", "spec/models/user_spec.rb")
    assert matches_glob("**/CMakeLists.txt", "CMakeLists.txt")
    assert matches_glob("**/CMakeLists.txt", "tests/unit/CMakeLists.txt")
    assert not matches_glob("**/CMakeLists.txt", "CMakeLists.txt.in")


@pytest.mark.parametrize(("language", "paths", "files", "framework", "runner"), [
    ("javascript", ["package.json"], {"package.json": '{"devDependencies": {"jest": "29.7.0"}}'}, "jest", "jest"),
    ("javascript", ["package.json"], {"package.json": '{"devDependencies": {"vitest": "3"}}'}, "vitest", "vitest"),
    ("javascript", ["package.json"], {"package.json": '{"devDependencies": {"mocha": "10"}}'}, "mocha", "mocha"),
    ("javascript", ["package.json"], {"package.json": '{"scripts": {"test": "node --test"}}'}, "node-test", "node_test"),
    ("ruby", ["lib/a.rb", "test/a_test.rb"], {}, "minitest", "minitest"),
    ("ruby", [".rspec", "lib/a.rb"], {}, "rspec", "rspec"),
    ("cpp", ["CMakeLists.txt"], {"CMakeLists.txt": "enable_testing()\n"}, "ctest", "ctest"),
    ("scala", ["pom.xml"], {}, "maven", "scalatest"),
])
def test_framework_detection(language, paths, files, framework, runner):
    plan = plan_language(load_language(language), paths, files)
    assert (plan.framework, plan.runner) == (framework, runner)
    assert "/tmp/envmine-results" in plan.test_command


TAPE_RUN = (" do [ -f \"$f\" ] && set -- \"$@\" \"$f\"; done; [ $# -gt 0 ] || set -- 'test/**/*.js';"
            " npx --no-install tape \"$@\" > /tmp/envmine-results/tape.tap 2>&1")


@pytest.mark.parametrize(("test_files", "command"), [
    (["test/index.js", "test/fixture.json", "README.md"], "set --; for f in 'test/index.js';" + TAPE_RUN),
    ([], "set --; for f in;" + TAPE_RUN),
])
def test_tape_is_detected_before_node_test_and_runs_the_test_files(test_files, command):
    # call-bind's package.json: tape next to other tools, no jest, vitest or mocha.
    files = {"package.json": '{"devDependencies": {"nyc": "^10.3.2", "tape": "^5.9.0"}}'}
    plan = plan_language(load_language("javascript"), ["package.json"], files, test_files=test_files)
    assert (plan.framework, plan.runner, plan.report_glob) == ("tape", "tape", "tape.tap")
    assert plan.test_command == command


@pytest.mark.parametrize(("language", "paths", "files", "reason", "detail"), [
    ("java", ["build.gradle", "gradlew", "src/main/java/A.java"], {}, Reason.gradle_unreachable, "Gradle"),
    ("kotlin", ["settings.gradle.kts", "build.gradle.kts"], {}, Reason.gradle_unreachable, "Gradle"),
    ("scala", ["build.sbt"], {}, Reason.sbt_unreachable, "sbt"),
    ("ruby", ["Gemfile", "spec/a_spec.rb"], {"Gemfile": "gem 'rails', '~> 7'\ngem 'rspec'\n"},
     Reason.rubygems_unreachable, "Gemfile needs rails"),
    ("php", ["composer.json", "phpunit.xml"],
     {"composer.json": '{"require": {"php": ">=8.1", "ext-json": "*", "guzzlehttp/guzzle": "^7"}}'},
     Reason.packagist_unreachable, "composer.json needs guzzlehttp/guzzle"),
    ("rust", ["Cargo.toml"], {"Cargo.toml": '[dependencies]\nfoo = { git = "https://github.com/a/foo" }\n'},
     Reason.git_dependency_unreachable, "git repository"),
    ("javascript", ["package.json"], {"package.json": '{"dependencies": {"x": "github:a/x"}, "devDependencies": {"jest": "1"}}'},
     Reason.git_dependency_unreachable, "git host"),
    ("c", ["Makefile", "src/a.c"], {}, Reason.install_unsupported, "no c test framework"),
])
def test_unreachable_sources_reject_with_precise_reason(language, paths, files, reason, detail):
    with pytest.raises(PlanError) as caught:
        plan_language(load_language(language), paths, files)
    assert caught.value.reason == reason
    assert detail in caught.value.detail


@pytest.mark.parametrize("language", ["javascript", "typescript"])
def test_repository_and_issue_urls_on_github_are_not_git_dependencies(language):
    # The shape of call-bind's real package.json: github URLs outside the dependency objects.
    manifest = ('{"name": "call-bind", "repository": {"type": "git", "url": "git+https://github.com/ljharb/call-bind.git"},'
                ' "funding": {"url": "https://github.com/sponsors/ljharb"}, "bugs": {"url": "https://github.com/ljharb/call-bind/issues"},'
                ' "homepage": "https://github.com/ljharb/call-bind#readme", "devDependencies": {"tape": "^5.9.0"}}')
    runner = {"javascript": "jest", "typescript": "vitest"}[language]
    manifest = manifest.replace('"tape": "^5.9.0"', f'"tape": "^5.9.0", "{runner}": "^3"')
    plan = plan_language(load_language(language), ["package.json", "test/index.js"], {"package.json": manifest})
    assert plan.framework
    with pytest.raises(PlanError) as caught:
        plan_language(load_language(language), ["package.json"],
                      {"package.json": manifest.replace('"tape": "^5.9.0"', '"tape": "git+https://github.com/t/tape.git"')})
    assert caught.value.reason == Reason.git_dependency_unreachable


def test_gradle_project_with_a_pom_builds_with_maven():
    plan = plan_language(load_language("java"), ["pom.xml", "build.gradle"], {})
    assert plan.framework == "maven"


def test_ruby_gems_from_debian_become_repo_packages():
    gemfile = "source 'https://rubygems.org'\ngem 'rspec', '~> 3.13'\ngem 'rack'\ngem \"simplecov\", require: false\n"
    plan = plan_language(load_language("ruby"), ["Gemfile", ".rspec"], {"Gemfile": gemfile})
    assert plan.packages == ["ruby-rack", "ruby-simplecov"]


def test_php_without_packagist_dependencies_plans_phpunit():
    composer = '{"require": {"php": ">=8.1"}, "require-dev": {"phpunit/phpunit": "^11"}}'
    plan = plan_language(load_language("php"), ["composer.json", "phpunit.xml"], {"composer.json": composer})
    assert plan.test_command.endswith("/usr/bin/phpunit --do-not-cache-result --no-coverage"
                                      " --log-junit /tmp/envmine-results/phpunit.xml $args")
    assert plan.prepare == ["if [ -f composer.json ]; then composer dump-autoload --dev --no-interaction; fi"]


def test_wanted_files_reads_only_what_rules_need():
    spec = load_language("javascript")
    paths = ["package.json", "package-lock.json", "src/a.js", "sub/package.json", ".yarnrc.yml"]
    assert wanted_files(spec, paths) == ["package-lock.json", "package.json"]


def test_manifests_go_into_the_repo_layer_and_key_it():
    spec = load_language("javascript")
    files = {"package.json": '{"devDependencies": {"jest": "29.7.0"}}', "package-lock.json": "{}"}
    plan = plan_language(spec, ["package.json", "package-lock.json", "src/a.js"], files)
    candidate = Candidate(instance_id="a__b-1", repo="a/b", source="git", repo_url="/tmp/x",
                          base_commit="0" * 40, head_commit="1" * 40, patch="", test_patch="",
                          problem_statement="p", created_at="2026-01-01T00:00:00Z", language="javascript",
                          test_files=["__tests__/a.test.js", "src/a.js"])
    settings = Settings(home="/tmp/envmine-spec-test")
    env = lang_spec(candidate, settings, plan, spec, ca_bundle="")
    assert [layer.name for layer in env.layers] == ["base", "toolchain", "repo", "task"]
    repo = env.layers[2]
    assert set(repo.context_files) == {"manifests/package.json", "manifests/package-lock.json"}
    assert "RUN npm ci --ignore-scripts\n" in repo.dockerfile
    assert "ADD testbed.tar /" in env.layers[3].dockerfile
    assert env.test_files == ["__tests__/a.test.js"]
    assert env.toolchain["repo_url"] == "/tmp/x"
    changed = plan_language(spec, ["package.json", "package-lock.json"], {**files, "package-lock.json": "{\"v\": 2}"})
    other = lang_spec(candidate, settings, changed, spec, ca_bundle="")
    assert other.layers[1].tag == env.layers[1].tag
    assert other.layers[2].tag != env.layers[2].tag


def test_jvm_languages_share_one_toolchain_image():
    settings = Settings(home="/tmp/envmine-spec-test")
    candidate = Candidate(instance_id="a__b-1", repo="a/b", source="git", repo_url="/tmp/x",
                          base_commit="0" * 40, head_commit="1" * 40, patch="", test_patch="",
                          problem_statement="p", created_at="2026-01-01T00:00:00Z")
    tags = set()
    for name in ("java", "kotlin", "scala"):
        spec = load_language(name)
        plan = plan_language(spec, ["pom.xml"], {})
        tags.add(lang_spec(candidate, settings, plan, spec, ca_bundle="").layers[1].tag)
    assert len(tags) == 1


@pytest.mark.parametrize(("language", "log", "reason"), [
    ("java", "[ERROR] Could not transfer artifact org.x:y:pom:1 from/to central", Reason.dependency_source_unreachable),
    ("rust", "error: package `foo v1.0.0` cannot be built because it requires rustc 1.88 or newer",
     Reason.dependency_needs_newer_toolchain),
    # Cargo 1.85's own words (a Cargo.lock that pins home 0.5.12).
    ("rust", "error: rustc 1.85.1 is not supported by the following package:\n  home@0.5.12 requires rustc 1.88",
     Reason.dependency_needs_newer_toolchain),
    ("rust", "error: feature `edition2024` is required", Reason.toolchain_unavailable),
    # A registry crate whose code the installed rustc calls unstable (serde_json's dev
    # dependencies, resolved for rustc 1.85), with the colour codes of a Docker build log.
    ("rust", "   Compiling ar_archive_writer v0.5.1\n\x1b[0m\x1b[91merror[E0658]: `let` expressions in this position"
     " are unstable\n   \x1b[0m\x1b[91m--> /home/envmine/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/"
     "ar_archive_writer-0.5.1/src/coff_import_file.rs:141:12\n", Reason.dependency_needs_newer_toolchain),
    # The same error in the project's own code is the project's: a plain build failure.
    ("rust", "error[E0658]: `let` expressions in this position are unstable\n   --> src/lib.rs:3:8\n", None),
    ("go", "go: github.com/a/b@v1.4.0 requires go >= 1.25.0 (running go 1.24.4; GOTOOLCHAIN=local)",
     Reason.dependency_needs_newer_toolchain),
    ("go", "go: go.mod requires go >= 1.26 (running go 1.24.4; GOTOOLCHAIN=local)", Reason.toolchain_unavailable),
    ("javascript", "npm ERR! code EBADENGINE\nnpm ERR! notsup Unsupported engine for vite@7.0.0",
     Reason.dependency_needs_newer_toolchain),
    ("typescript", "getaddrinfo ENOTFOUND cdn.example.com\nenvmine: lifecycle script prepare needs the network\n",
     Reason.install_script_network),
    ("typescript", "npm ERR! code 1\nenvmine: lifecycle script postinstall needs the network: skipped\n"
     "src/a.ts(1,1): error TS2304\nenvmine: lifecycle script prepare failed\n", Reason.build_failed),
    ("javascript", "npm error code E404\nnpm error 404 Not Found - GET https://registry.npmjs.org/nope", Reason.dependency_source_unreachable),
    ("go", "go: example.com/x@v1.0.0: unrecognized import path \"example.com/x\"", Reason.dependency_source_unreachable),
    # javapoet: its error-prone javac 9 cannot read JDK 21's class files
    ("java", "[ERROR] /testbed/src/main/java/com/squareup/javapoet/CodeWriter.java:[18,15] cannot access "
     "java.io.IOException\n  bad class file: /modules/java.base/java/io/IOException.class\n"
     "    class file has wrong version 65.0, should be 53.0\n", Reason.toolchain_unavailable),
    ("go", "all fine", None),
])
def test_build_failures_are_classified_by_the_spec(language, log, reason):
    assert classify_build_failure(language, log) == reason


@pytest.mark.parametrize("name", TWELVE)
def test_test_patterns_and_function_patterns(name):
    spec = load_language(name)
    samples = {
        "go": ("pkg/calc_test.go", "func TestAbs(t *testing.T) {"),
        "rust": ("tests/calc.rs", "#[test]\nfn abs_of_negative() {"),
        "javascript": ("__tests__/calc.test.js", "test('abs', () => {"),
        "typescript": ("src/calc.spec.ts", "  it('abs', () => {"),
        "java": ("src/test/java/ex/CalcTest.java", "    @Test\n    void abs() {"),
        "kotlin": ("src/test/kotlin/CalcTest.kt", "    @Test\n    fun abs() {"),
        "scala": ("src/test/scala/CalcSuite.scala", '  test("abs") {'),
        "c": ("tests/test_abs.c", "void test_abs(void) {"),
        "cpp": ("tests/abs_test.cpp", "TEST(Calc, Abs) {"),
        "ruby": ("spec/calc_spec.rb", '  it "abs" do'),
        "php": ("tests/CalcTest.php", "    public function testAbs(): void"),
        "lua": ("spec/calc_spec.lua", '  it("abs", function()'),
        "python": ("tests/test_calc.py", "def test_abs():"),
    }
    path, source = samples[name]
    assert spec.is_test_file(path)
    assert not spec.is_test_file("src/main" + {"python": ".py"}.get(name, spec.extensions[0]))
    if spec.test_function_patterns:
        assert any(re.search(p, source, re.M) for p in spec.test_function_patterns)


def test_transitive_git_dependency_is_classified_as_unreachable():
    # call-bind 1.0.9's dev dependency evalmd takes fs-extra from GitHub (log as Docker sent it).
    log = ("\x1b[91mnpm ERR! code 128\n\x1b[0m\x1b[91mnpm\x1b[0m\x1b[91m \x1b[0m\x1b[91mERR!\x1b[0m"
           "\x1b[91m An unknown git error occurred\n\x1b[0m\x1b[91m \x1b[0m\x1b[91mcommand\x1b[0m"
           "\x1b[91m git --no-replace-objects ls-remote ssh://git@github.com/reggi/node-fs-extra.git\n")
    assert classify_build_failure("javascript", log) is Reason.git_dependency_unreachable


def test_build_failure_patterns_see_through_colour_codes():
    from envmine.builders.lang_env import classify_build_failure

    log = "\x1b[91mnpm ERR! code\x1b[0m\x1b[91m 128\x1b[0m\nnpm ERR! command failed\n"
    assert classify_build_failure("javascript", log) == Reason.git_dependency_unreachable


def test_php_counts_a_suite_that_cannot_load_as_a_compile_failure():
    # PHPUnit stops with exit 255 and an empty report when a test file names a class the fix adds.
    assert load_language("php").compiled is True


OLD_PHPUNIT_TEST = """<?php
class OldStyleTest extends PHPUnit_Framework_TestCase
{
    private $value;

    protected function setUp()
    {
        $this->value = 'abc42';
    }

    public function testMatches()
    {
        $this->assertRegExp('/[0-9]+/', $this->value);
        $this->assertFileNotExists(__DIR__ . '/missing.txt');
    }
}
"""


@pytest.mark.skipif(shutil.which("php") is None or not Path("/usr/bin/phpunit").exists(),
                    reason="needs php and /usr/bin/phpunit")
def test_php_test_command_runs_tests_written_for_old_phpunit(tmp_path):
    # No phpunit.xml, the PHPUnit 4 class name, setUp() without `: void` and renamed assertions.
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "OldStyleTest.php").write_text(OLD_PHPUNIT_TEST)
    results = tmp_path / "results"
    results.mkdir()
    command = render_snippet(load_language("php").framework("phpunit").test_command,
                             results_dir=str(results), test_files=[]).strip()
    done = subprocess.run(["bash", "-c", command], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    report = (results / "phpunit.xml").read_text()
    assert done.returncode == 0, done.stdout + done.stderr
    assert 'tests="1"' in report and 'failures="0"' in report and 'errors="0"' in report
    rewritten = (tmp_path / "tests" / "OldStyleTest.php").read_text()
    assert "protected function setUp(): void" in rewritten
    assert "$this->assertMatchesRegularExpression('/[0-9]+/'" in rewritten
    assert "$this->assertFileDoesNotExist(" in rewritten


PROVIDER_TEST = """<?php
use PHPUnit\\Framework\\TestCase;

class ProviderTest extends TestCase
{
    private $offset = 1;

    /** @dataProvider pairs */
    public function testDouble($in, $out): void
    {
        $this->assertSame($out, 2 * $in);
    }

    public function pairs()
    {
        return [[1, 2], [3, 6]];
    }

    public function offsets()
    {
        return [[$this->offset]];
    }

    #[DataProvider('offsets')]
    /** @dataProvider offsets */
    public function testOffset($offset): void
    {
        $this->assertSame(1, $offset);
    }

    public function testNothing(): void
    {
    }
}
"""


@pytest.mark.skipif(shutil.which("php") is None or not Path("/usr/bin/phpunit").exists(),
                    reason="needs php and /usr/bin/phpunit")
def test_php_test_command_makes_providers_static_and_fixes_configuration(tmp_path):
    # A risky test fails the run under failOnRisky="true": the copy of the configuration the
    # command runs with turns that off, so the exit code agrees with the per-test report.
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "ProviderTest.php").write_text(PROVIDER_TEST)
    (tmp_path / "phpunit.xml").write_text(
        '<phpunit\n  bootstrap="src/autoload.php"\n  failOnRisky="true"><testsuites><testsuite name="t">'
        '<directory>tests</directory></testsuite></testsuites></phpunit>\n')
    # src/autoload.php would come from a build tool (phpab); Composer's autoloader stands in.
    (tmp_path / "vendor").mkdir()
    (tmp_path / "vendor" / "autoload.php").write_text("<?php\n")
    results = tmp_path / "results"
    results.mkdir()
    command = render_snippet(load_language("php").framework("phpunit").test_command,
                             results_dir=str(results), test_files=[]).strip()
    done = subprocess.run(["bash", "-c", command], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert 'bootstrap="vendor/autoload.php"' in (tmp_path / ".envmine-phpunit.xml").read_text()
    assert 'tests="4"' in (results / "phpunit.xml").read_text()
    rewritten = (tmp_path / "tests" / "ProviderTest.php").read_text()
    assert "public static function pairs()" in rewritten
    assert "    public function offsets()" in rewritten  # uses $this: left as it is
    assert 'failOnRisky="false"' in (tmp_path / ".envmine-phpunit.xml").read_text()


JVM_FIXTURES = Path(__file__).parent / "fixtures"


@pytest.mark.parametrize(("language", "fixture", "reason"), [
    # jackson-module-kotlin: its parent jackson-base:2.19.0-SNAPSHOT lives on Sonatype snapshots.
    ("kotlin", "maven_snapshot_parent_unreachable.log", Reason.snapshot_dependency_unreachable),
    # javalin: releases missing from Central; the project's own -SNAPSHOT version does not count.
    ("kotlin", "maven_release_missing_from_central.log", Reason.dependency_source_unreachable),
    # dotenv-kotlin (2018): surefire 2.20.1 cannot tell which Java 21 is.
    ("kotlin", "maven_surefire_2_20_on_jdk21.log", Reason.toolchain_unavailable),
    # spark-timeseries: Hadoop 2's system dependency on JDK 8's lib/tools.jar.
    ("scala", "maven_jdk_tools_jar_missing.log", Reason.toolchain_unavailable),
    # vertx-lang-scala: a BOM imported at -SNAPSHOT from Sonatype's snapshot repository.
    ("scala", "maven_snapshot_import_pom_unreachable.log", Reason.snapshot_dependency_unreachable),
    ("java", "maven_snapshot_import_pom_unreachable.log", Reason.snapshot_dependency_unreachable),
    # azure-kusto-spark: kusto-data 8.0.1 and scalamock 7.5.1 are not served by Maven Central here.
    ("scala", "maven_release_not_served_by_central.log", Reason.dependency_source_unreachable),
    # Scala 2.12.10 on JDK 21 (where the pom's scala.version cannot be moved to 2.12.20).
    ("scala", "scalac_2_12_10_on_jdk21.log", Reason.toolchain_unavailable),
])
def test_maven_build_failures_from_real_logs(language, fixture, reason):
    assert classify_build_failure(language, (JVM_FIXTURES / fixture).read_text()) == reason


@pytest.mark.parametrize("line", [
    "[ERROR] Failed to execute goal on project x: Could not resolve dependencies for project a:x:jar:1.0-SNAPSHOT",
    "[ERROR] Plugin org.x:y-plugin:2.0 or one of its dependencies could not be resolved",
])
def test_own_snapshot_version_is_not_a_snapshot_dependency(line):
    assert classify_build_failure("scala", line) == Reason.dependency_source_unreachable


@pytest.mark.parametrize("language", ["kotlin", "scala"])
def test_maven_prepare_streams_output_and_fails_on_maven_summary(language, tmp_path):
    # The Docker client gives up on a build silent for 300 s: Maven's output must stream, and
    # the step's status is Maven's summary line (tee's status would always be 0).
    prepare = load_language(language).framework("maven").prepare
    run_tests = next(step for step in prepare if "clean test" in step)
    assert "> /tmp/envmine-prepare.log" not in run_tests and "| tee" in run_tests
    fake = tmp_path / "bin"
    fake.mkdir()
    for summary, status in (("BUILD SUCCESS", 0), ("BUILD FAILURE", 1)):
        (fake / "mvn").write_text(f"#!/bin/sh\necho '[INFO] {summary}'\n")
        (fake / "mvn").chmod(0o755)
        done = subprocess.run(["sh", "-c", run_tests], env={"PATH": f"{fake}:/usr/bin:/bin"},
                              capture_output=True, text=True, timeout=30)
        assert done.returncode == status, done.stdout + done.stderr
        assert summary in done.stdout


@pytest.mark.parametrize(("declared", "used"), [
    ("2.12.10", "2.12.20"), ("2.12.17", "2.12.20"), ("2.13.8", "2.13.16"), ("2.13.10", "2.13.16"),
    ("2.12.18", None), ("2.13.16", None), ("3.3.1", None), ("null object or invalid expression", None),
])
def test_scala_prepare_moves_old_scala_to_a_jdk21_patch_release(declared, used, tmp_path):
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "mvn").write_text(f"#!/bin/sh\nprintf '%s' '{declared}'\n")
    (fake / "mvn").chmod(0o755)
    home = tmp_path / "home"
    home.mkdir()
    step = load_language("scala").framework("maven").prepare[0]
    done = subprocess.run(["sh", "-c", step], env={"PATH": f"{fake}:/usr/bin:/bin", "HOME": str(home)},
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    rc = home / ".mavenrc"
    if used is None:
        assert not rc.exists()
    else:
        assert rc.read_text() == f'MAVEN_ARGS="$MAVEN_ARGS -Dscala.version={used}"\n'
        # What Maven's launcher does with the file: MAVEN_ARGS gains the override.
        sourced = subprocess.run(["sh", "-c", f'MAVEN_ARGS="--batch-mode"; . {rc}; echo "$MAVEN_ARGS"'],
                                 capture_output=True, text=True, timeout=30)
        assert sourced.stdout.strip() == f"--batch-mode -Dscala.version={used}"


@pytest.mark.parametrize("language", ["kotlin", "scala"])
@pytest.mark.parametrize(("test_files", "selected"), [
    (["kotlin/src/test/kotlin/A.kt", "kotlin/src/test/kotlin/B.kt", "ext/core/src/test/java/C.java"],
     "-pl kotlin,ext/core -am"),
    (["kotlin/src/test/kotlin/A.kt", "added-by-the-patch/src/test/scala/D.scala"], "-pl kotlin -am"),
    (["src/test/kotlin/A.kt", "kotlin/src/test/kotlin/B.kt"], None),  # the root module: everything
    ([], None),
])
def test_maven_test_command_runs_the_modules_of_the_test_files(language, test_files, selected, tmp_path):
    for module in ("kotlin", "ext/core"):
        (tmp_path / module).mkdir(parents=True)
        (tmp_path / module / "pom.xml").write_text("<project/>")
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "mvn").write_text('#!/bin/sh\necho "mvn $*"\n')
    (fake / "mvn").chmod(0o755)
    results = tmp_path / "results"
    results.mkdir()
    command = render_snippet(load_language(language).framework("maven").test_command,
                             results_dir=str(results), test_files=test_files)
    done = subprocess.run(["bash", "-c", command], cwd=tmp_path, env={"PATH": f"{fake}:/usr/bin:/bin"},
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    args = done.stdout.strip()
    assert args.startswith("mvn -o -fae clean test ")
    if selected is None:
        assert "-pl" not in args
    else:
        assert selected in args


@pytest.mark.parametrize(("language", "lockfile", "command"), [
    ("javascript", "package-lock.json", "npm ci --ignore-scripts"),
    ("typescript", "npm-shrinkwrap.json", "npm ci --ignore-scripts"),
    ("javascript", "yarn.lock", "npx --yes yarn@1.22.22 install --frozen-lockfile --ignore-scripts --non-interactive"),
    ("typescript", "pnpm-lock.yaml", 'npx --yes "pnpm@$pnpm" install --frozen-lockfile --ignore-scripts'),
])
def test_npm_dependencies_install_from_the_lockfile_without_lifecycle_scripts(language, lockfile, command):
    files = {"package.json": '{"devDependencies": {"jest": "29.7.0"}}', lockfile: "lockfileVersion: '9.0'\n"}
    plan = plan_language(load_language(language), sorted(files), files, as_of="2026-02-01T00:00:00Z")
    (install,) = plan.install
    assert install.endswith(command)
    assert plan.cutoff == "" and "dependency_cutoff" not in plan.facts()
    assert set(plan.manifests) == set(files)


def test_npm_without_a_lockfile_resolves_as_of_the_change_and_records_how():
    files = {"package.json": '{"devDependencies": {"jest": "29.7.0"}}'}
    plan = plan_language(load_language("javascript"), ["package.json"], files, as_of="2026-02-01T00:00:00Z")
    assert plan.install == [
        'if npm install --ignore-scripts --before=2026-02-01T00:00:00Z; then echo "as_of 2026-02-01T00:00:00Z"'
        ' > /opt/envmine/cutoff.txt; else npm install --ignore-scripts && echo "newest 2026-02-01T00:00:00Z"'
        " > /opt/envmine/cutoff.txt; fi"]
    assert plan.facts()["dependency_cutoff"] == "2026-02-01T00:00:00Z"


def test_npm_lifecycle_scripts_run_in_the_task_layer_over_the_sources():
    files = {"package.json": '{"devDependencies": {"jest": "29.7.0"}}', "package-lock.json": "{}"}
    plan = plan_language(load_language("javascript"), sorted(files), files)
    rebuild, scripts = plan.prepare
    assert rebuild.startswith("cp package.json /tmp/envmine-package.json && npm pkg delete scripts.preinstall")
    assert scripts.startswith("for s in preinstall install postinstall prepublish preprepare prepare postprepare;"
                              ' do npm run --if-present --ignore-scripts "$s"')
    candidate = Candidate(instance_id="a__b-1", repo="a/b", source="git", repo_url="/tmp/x",
                          base_commit="0" * 40, head_commit="1" * 40, patch="", test_patch="",
                          problem_statement="p", created_at="2026-01-01T00:00:00Z", language="javascript")
    env = lang_spec(candidate, Settings(home="/tmp/envmine-spec-test"), plan, load_language("javascript"), "")
    task = env.layers[3].dockerfile
    assert task.index("ADD testbed.tar /") < task.index(scripts) < task.index("git checkout -q -- .")


@pytest.mark.parametrize(("language", "cmakelists", "configure"), [
    ("cpp", 'option(YAML_CPP_BUILD_TESTS "Enable testing" OFF)\noption(YAML_CPP_BUILD_TOOLS "tools" ON)\n'
     'if(YAML_CPP_BUILD_TESTS)\n  enable_testing()\n  add_subdirectory(test)\nendif()\n',
     "-DBUILD_TESTING=ON -DYAML_CPP_BUILD_TESTS=ON"),
    ("cpp", '  OPTION(JSON_BuildTests "Build the unit tests" ${JSON_BuildTests_INIT})\n'
     'cmake_dependent_option(FMT_TEST "Generate the test target." ON "FMT_MASTER_PROJECT" OFF)\nenable_testing()\n',
     "-DBUILD_TESTING=ON -DFMT_TEST=ON -DJSON_BuildTests=ON"),
    ("c", "option(ZLIB_BUILD_TESTING \"\" OFF)\noption(gtest_force_shared_crt \"\" OFF)\nenable_testing()\n",
     "-DBUILD_TESTING=ON -DZLIB_BUILD_TESTING=ON"),
    ("c", "enable_testing()\nadd_test(NAME a COMMAND a)\n", "-DBUILD_TESTING=ON"),
    # jansson: its option turns the tests off; ON would hide them ("No tests were found!!!")
    ("c", 'option(JANSSON_WITHOUT_TESTS "Don\'t build tests" OFF)\nif (NOT JANSSON_WITHOUT_TESTS)\n'
     '  option(JANSSON_TEST_WITH_VALGRIND "valgrind" OFF)\n  ENABLE_TESTING()\nendif()\n'
     'option(X_DISABLE_TESTS "" OFF)\noption(Y_NO_TESTS "" OFF)\noption(SKIP_TESTS "" OFF)\n', "-DBUILD_TESTING=ON"),
])
def test_cmake_options_that_hide_tests_are_turned_on_at_configure(language, cmakelists, configure):
    plan = plan_language(load_language(language), ["CMakeLists.txt"], {"CMakeLists.txt": cmakelists})
    assert plan.prepare == [f"cmake -S . -B build -DCMAKE_BUILD_TYPE=Debug {configure}", "cmake --build build -j2"]


def test_task_layer_restores_only_the_files_its_prepare_steps_rewrote():
    # A stale index (its stat data came from the host) would make `git checkout -- .` rewrite every
    # file, newer than the compiled tree, so every test run would recompile everything.
    plan = plan_language(load_language("cpp"), ["CMakeLists.txt"], {"CMakeLists.txt": "enable_testing()\n"})
    candidate = Candidate(instance_id="a__b-1", repo="a/b", source="git", repo_url="/tmp/x",
                          base_commit="0" * 40, head_commit="1" * 40, patch="", test_patch="",
                          problem_statement="p", created_at="2026-01-01T00:00:00Z", language="cpp")
    env = lang_spec(candidate, Settings(home="/tmp/envmine-spec-test"), plan, load_language("cpp"), "")
    task = env.layers[3].dockerfile
    assert "RUN git update-index -q --refresh > /dev/null; \\\n    cmake -S . -B build" in task
    assert task.index("cmake --build build -j2") < task.rindex("git update-index -q --refresh") \
        < task.index("git checkout -q -- .")


def test_rust_resolves_versions_the_installed_rustc_supports_and_honours_cargo_lock():
    plan = plan_language(load_language("rust"), ["Cargo.toml"], {})
    assert plan.env == {"CARGO_RESOLVER_INCOMPATIBLE_RUST_VERSIONS": "fallback"}
    assert plan.prepare[0].startswith("if [ -f Cargo.lock ]; then cargo fetch --locked ||")
    # Without a lockfile the manifests declare the installed rustc while Cargo resolves (its
    # resolver aims at a declared rust-version otherwise), then are restored before fetching.
    assert ('rustc_version="$(rustc --version | cut -d\' \' -f2)"; sed -i "s/^\\(\\s*rust-version\\s*=\\s*\\)'
            '\\"[^\\"]*\\"/\\1\\"$rustc_version\\"/" $manifests; cargo generate-lockfile; rc=$?; '
            'git checkout -q -- $manifests; [ $rc = 0 ] && cargo fetch; fi') in plan.prepare[0]
    assert plan.prepare[1] == "cargo test --offline --no-run"


@pytest.mark.parametrize(("language", "cmakelists", "packages"), [
    # spdlog: tests/CMakeLists.txt takes a packaged Catch2 3, else downloads it at configure time
    ("cpp", {"CMakeLists.txt": "option(SPDLOG_BUILD_TESTS \"\" OFF)\nenable_testing()\n",
             "tests/CMakeLists.txt": "find_package(PkgConfig)\nfind_package(Catch2 3 QUIET)\n"
                                     "if(NOT Catch2_FOUND)\n  include(FetchContent)\nendif()\n"}, ["catch2"]),
    ("cpp", {"CMakeLists.txt": "FIND_PACKAGE(ZLIB REQUIRED)\nfind_package( doctest )\nenable_testing()\n"},
     ["doctest-dev", "zlib1g-dev"]),
    ("c", {"CMakeLists.txt": "find_package(cmocka 1.1 REQUIRED)\nfind_package(Threads)\nenable_testing()\n"},
     ["libcmocka-dev"]),
    # a name Debian has no mapping for is the configure step's to find (no reject at plan)
    ("c", {"CMakeLists.txt": "find_package(SomethingRare REQUIRED)\nenable_testing()\n"}, []),
])
def test_cmake_find_package_names_come_from_debian(language, cmakelists, packages):
    plan = plan_language(load_language(language), sorted(cmakelists), cmakelists)
    assert plan.packages == packages


@pytest.mark.parametrize(("test_files", "selection"), [
    # gson: the task's tests are in module gson; test-jpms (protobuf-maven-plugin) is left out
    (["gson/src/test/java/com/google/gson/A.java", "gson/src/test/java/B.java"],
     """pl=""; for m in 'gson' ; do [ -f "$m/pom.xml" ] && pl="$pl,$m"; done; """),
    # a test of the root module builds the whole reactor
    (["src/test/java/A.java", "gson/src/test/java/B.java"], 'pl=""; '),
])
def test_maven_builds_and_tests_only_the_modules_of_the_tasks_tests(test_files, selection):
    plan = plan_language(load_language("java"), ["pom.xml", "gson/pom.xml", "test-jpms/pom.xml"],
                         {"pom.xml": "<project/>"}, test_files=test_files)
    run = 'mvn -fae clean test ${pl:+-pl "${pl#,}" -am} -Dmaven.test.failure.ignore=true -DskipTests=false'
    assert plan.prepare[0].startswith(selection + run)
    assert plan.prepare[1] == 'mvn -o -q clean ${pl:+-pl "${pl#,}" -am}'
    assert plan.test_command.startswith(selection + 'rc=0; mvn -o -fae clean test ${pl:+-pl "${pl#,}" -am}')
