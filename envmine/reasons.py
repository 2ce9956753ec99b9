"""Reason codes: every item a stage drops carries one, so the funnel can be queried in SQL.

Add a code here (with a comment when its meaning is not obvious) rather than inventing
strings at the call site.
"""

from enum import StrEnum


class Stage(StrEnum):
    discover = "discover"
    mine = "mine"
    build = "build"
    validate = "validate"
    catalog = "catalog"
    rl = "rl"


class Reason(StrEnum):
    # discover: repositories a source skips
    fork = "fork"
    archived = "archived"
    too_large = "too_large"
    license_not_allowed = "license_not_allowed"
    inactive = "inactive"
    language_unsupported = "language_unsupported"
    clone_failed = "clone_failed"
    registry_unreachable = "registry_unreachable"
    no_sdist = "no_sdist"
    """A registry release ships no source archive."""
    source_error = "source_error"

    # mine: commits and PRs that do not become candidates
    no_test_change = "no_test_change"
    no_code_change = "no_code_change"
    merge_commit = "merge_commit"
    root_commit = "root_commit"
    patch_too_large = "patch_too_large"
    binary_patch = "binary_patch"
    not_merged = "not_merged"
    no_linked_issue = "no_linked_issue"
    duplicate = "duplicate"
    empty_problem_statement = "empty_problem_statement"

    # build
    install_unsupported = "install_unsupported"
    """No install method the language spec knows was detected."""
    dependency_source_unreachable = "dependency_source_unreachable"
    """The repository needs a package source that cannot be reached (Gradle, RubyGems, ...)."""
    gradle_unreachable = "gradle_unreachable"
    """A Gradle build: Gradle's distribution server and plugin portal cannot be reached."""
    rubygems_unreachable = "rubygems_unreachable"
    """A Ruby repository needs gems that Debian does not package (RubyGems cannot be reached)."""
    packagist_unreachable = "packagist_unreachable"
    """A PHP repository needs Composer packages (Packagist cannot be reached)."""
    sbt_unreachable = "sbt_unreachable"
    """An sbt build: sbt's launcher and plugin repositories cannot be reached."""
    luarocks_unreachable = "luarocks_unreachable"
    """A Lua repository needs rocks that Debian does not package (LuaRocks cannot be reached)."""
    git_dependency_unreachable = "git_dependency_unreachable"
    """A dependency is fetched from a git host (GitHub, ...) instead of a registry."""
    snapshot_dependency_unreachable = "snapshot_dependency_unreachable"
    """A Maven -SNAPSHOT parent, plugin or dependency: snapshots live in repositories other
    than Maven Central (Sonatype snapshots, ...) that cannot be reached."""
    language_undetected = "language_undetected"
    """No language spec matches the repository's files."""
    toolchain_unavailable = "toolchain_unavailable"
    """The project itself needs a toolchain newer than the one here (its language edition,
    CMake version, Java release). Before issue 10 this code also covered dependencies that need
    a newer toolchain; catalog rows written then keep it."""
    dependency_needs_newer_toolchain = "dependency_needs_newer_toolchain"
    """A dependency needs a newer toolchain than the one here, and no release of it that this
    toolchain supports fits (or a lockfile pins the too-new one)."""
    install_script_network = "install_script_network"
    """A lifecycle script the build cannot skip (the project's own `prepare` build) needs a
    host the build cannot reach; install scripts that need one are skipped instead."""
    build_failed = "build_failed"
    dependency_install_failed = "dependency_install_failed"
    build_timeout = "build_timeout"
    checkout_failed = "checkout_failed"

    # validate
    test_patch_failed_to_apply = "test_patch_failed_to_apply"
    gold_patch_failed_to_apply = "gold_patch_failed_to_apply"
    suite_did_not_run = "suite_did_not_run"
    """No start/end markers or no result report: the tests never ran."""
    timeout = "timeout"
    no_fail_to_pass = "no_fail_to_pass"
    gold_patch_breaks_tests = "gold_patch_breaks_tests"
    """A test that passed before fails after the gold patch."""
    flaky = "flaky"
    """Repeated `after` runs disagree."""
    exit_code_mismatch = "exit_code_mismatch"
    """The report says all passed but the runner failed (or the reverse)."""
    test_out_of_memory = "test_out_of_memory"
    """The runner failed with no failure in its report, and its log says a test process ran out
    of memory (a JVM's heap, Node's heap, Python's MemoryError): the suite needs more memory
    than the sandbox's limit gives (`[settings.validation.limits] memory`)."""
    leak = "leak"
    """The image contains the answer: future commits, refs or the gold patch."""
    sandbox_error = "sandbox_error"
    report_forged = "report_forged"
    """The runner's report disagrees with the harness's own channel (the pytest guard, the
    sentinel test): code inside the test process wrote or rewrote its verdict."""
    report_too_large = "report_too_large"
    """The run's reports exceed `ValidationSettings.max_report_bytes`: not read, not graded."""
    oom_killed = "oom_killed"
    """The kernel killed a test process at the sandbox's memory limit."""
    disk_full = "disk_full"
    """The sandbox's scratch space (/tmp) was full when the tests ended, or the sandbox or a
    build step wrote past its disk limit and was killed (`Limits.writable_disk`,
    `DockerSettings.build_disk`)."""
    runner_exit_skipped = "runner_exit_skipped"
    """The test process ended before the runner's normal exit path (e.g. `os._exit(0)`)."""


class Drift(StrEnum):
    """Why a curated instance no longer holds when `envmine verify` re-checks it."""

    gold_no_longer_resolves = "gold_no_longer_resolves"
    empty_patch_resolves = "empty_patch_resolves"
    """The tests pass without the fix: they no longer test it."""
    spec_changed = "spec_changed"
    """Re-planned from its candidate, the task image would not be the one recorded."""
    rebuild_drift = "rebuild_drift"
    """Rebuilt and re-validated, it gives other FAIL_TO_PASS / PASS_TO_PASS or none."""
    infra_error = "infra_error"
    """No sandbox could be had: nothing was learned (not a drift)."""


class QualityCode(StrEnum):
    """Automatic quality codes on a curated instance (see `envmine.validators.quality`)."""

    statement_leaks_fix = "statement_leaks_fix"
    statement_too_short = "statement_too_short"
    statement_only_reference = "statement_only_reference"
    f2p_not_in_test_patch = "f2p_not_in_test_patch"
    f2p_import_failure_only = "f2p_import_failure_only"
    patch_huge = "patch_huge"
    patch_trivial = "patch_trivial"
    tests_need_network = "tests_need_network"
    tests_need_wall_clock = "tests_need_wall_clock"
    f2p_flaky = "f2p_flaky"
