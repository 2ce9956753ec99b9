"""Building environments: failure reasons from captured logs, and real Docker builds (marked)."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from envmine.builders.build import build_env, failure_reason
from envmine.builders.lang_env import dependency_cutoff, lang_spec, plan_language
from envmine.builders.sandbox import sandbox
from envmine.builders.base import read_ca_bundle
from envmine.languages import load_language
from envmine.records import Candidate
from envmine.settings import Limits

FIXTURES = Path(__file__).parent / "fixtures"
PIP_FAILED = "The command '/bin/sh -c pip install -r /opt/envmine/requirements.txt' returned a non-zero code: 1"


@pytest.mark.parametrize("layer, log, error, reason", [
    ("repo", "pip_no_matching_distribution.log", PIP_FAILED, "dependency_install_failed"),
    ("repo", "pip_network_unreachable.log", PIP_FAILED, "dependency_source_unreachable"),
    ("task", "pip_wrong_python.log", PIP_FAILED, "toolchain_unavailable"),
    ("repo", None, "build exceeded 1800s", "build_timeout"),
    ("task", None, "ADD failed: file not found in build context or excluded by .dockerignore", "checkout_failed"),
    ("toolchain", None, "The command '/bin/sh -c apt-get update' returned a non-zero code: 100", "build_failed"),
])
def test_failure_reason(layer, log, error, reason):
    text = (FIXTURES / log).read_text() if log else ""
    assert failure_reason(layer, error, text, "python") == reason


CARGO_FAILED = "The command '/bin/sh -c cargo fetch  && cargo test --offline --no-run' returned a non-zero code: 101"
GO_FAILED = "The command '/bin/sh -c go mod download' returned a non-zero code: 1"
ADD_FAILED = "ADD failed: file not found in build context or excluded by .dockerignore"


@pytest.mark.parametrize("layer, language, log, error, reason", [
    # `prepare` compiles in the task layer: a compile error there is a failed build, not a checkout.
    ("task", "rust", "cargo_test_no_run_compile_error.log", CARGO_FAILED, "build_failed"),
    ("task", "go", None, ADD_FAILED, "build_failed"),
    # The go spec's [build_failures] patterns decide (the proxy's 403 for a missing module).
    ("repo", "go", "go_mod_download_unavailable.log", GO_FAILED, "dependency_source_unreachable"),
    ("task", "go", "go_mod_download_unavailable.log", GO_FAILED, "dependency_source_unreachable"),
    # Python's patterns live in python.toml now; only the spec of the build's language applies.
    ("repo", "rust", "pip_no_matching_distribution.log", PIP_FAILED, "build_failed"),
    ("repo", "python", "pip_no_matching_distribution.log", PIP_FAILED, "dependency_install_failed"),
    ("toolchain", "go", "go_mod_download_unavailable.log", GO_FAILED, "build_failed"),
    ("task", "no-such-language", None, ADD_FAILED, "build_failed"),
])
def test_failure_reason_uses_the_language_spec(layer, language, log, error, reason):
    text = (FIXTURES / log).read_text() if log else ""
    assert failure_reason(layer, error, text, language) == reason


def test_build_py_holds_no_python_failure_patterns():
    source = (Path(__file__).parents[2] / "builders" / "build.py").read_text()
    assert "No matching distribution" not in source and "CERTIFICATE_VERIFY_FAILED" not in source


@pytest.mark.docker
@pytest.mark.slow
def test_second_task_reuses_heavy_layers_and_adds_little(tiny_envs):
    _, _, [(first, first_builds), (second, second_builds)] = tiny_envs
    assert [b.layer for b in second_builds] == ["base", "toolchain", "repo", "task"]
    assert [b.status for b in second_builds] == ["reused", "reused", "reused", "built"]
    assert first.layers[2].tag == second.layers[2].tag and first.image != second.image
    assert second_builds[3].size_bytes - second_builds[2].size_bytes < 10 * 1024 * 1024  # the task layer adds little
    repo_build = second_builds[2]
    assert any(line.startswith("six==") for line in repo_build.resolved)
    assert any(line.startswith("pytest==") for line in repo_build.resolved)
    assert all(b.size_bytes and b.size_bytes > 0 for b in second_builds)
    assert any("/testbed" in line for line in second_builds[3].resolved)  # the editable install


@pytest.mark.docker
@pytest.mark.slow
def test_task_image_holds_base_commit_only_and_runs_tests(tiny_envs, docker_engine):
    settings, shas, [(first, _), _] = tiny_envs
    with sandbox(first.image, Limits(), user=settings.docker.sandbox_user) as box:
        def run(command: str) -> str:
            result = box.exec(command, timeout_s=60)
            assert result.exit_code == 0, result.output
            return result.output.strip()

        assert run("whoami") == "envmine"
        assert run("git rev-parse HEAD") == shas[0]
        assert run("git log --all --format=%H") == shas[0]
        assert run("git remote; git tag; git reflog; git stash list") == ""
        assert box.exec(f"git cat-file -e {shas[1]}").exit_code != 0
        assert run("git status --porcelain") == ""
        assert run("python -c 'import tinypkg, six; print(tinypkg.add(2, 2))'") == "0"
        assert run("touch /testbed/new && rm /testbed/new && echo ok") == "ok"
        assert run("echo $PIP_CERT; test -s $SSL_CERT_FILE && echo cert") == \
            "/etc/ssl/certs/envmine-ca-bundle.crt\ncert"
        outcome = box.exec(first.test_command, timeout_s=120)
        assert outcome.exit_code == 0, outcome.output
        # /tmp is a tmpfs in the sandbox, which `docker cp` (read_file) cannot see: cat it.
        assert 'testcase classname="tests.test_add" name="test_one"' in run("cat /tmp/envmine-results/report.xml")


@pytest.mark.docker
@pytest.mark.slow
def test_unknown_dependency_is_dependency_install_failed(tiny_envs):
    settings, shas, _ = tiny_envs
    pyproject = '[project]\nname = "broken"\nversion = "1"\ndependencies = ["envmine-no-such-package-zz==1.0"]\n'
    candidate = Candidate(
        instance_id="local__broken-1", repo="local/broken", source="git", repo_url="/nonexistent",
        base_commit=shas[0], head_commit=shas[1], patch="", test_patch="", problem_statement="p",
        created_at=datetime(2026, 1, 1, tzinfo=timezone.utc))
    language, files = load_language("python"), {"pyproject.toml": pyproject}
    plan = plan_language(language, list(files), files, as_of=dependency_cutoff(candidate.created_at))
    spec = lang_spec(candidate, settings, plan, language, read_ca_bundle(settings))
    builds, reject = build_env(spec, settings)
    assert [b.status for b in builds] == ["reused", "reused", "failed"]
    assert reject is not None and reject.reason == "dependency_install_failed"
    assert "No matching distribution found for envmine-no-such-package-zz==1.0" in builds[-1].log


def test_a_silent_engine_counts_as_a_build_timeout():
    from envmine.builders.build import failure_reason

    error = "build exceeded 130s (no output from the engine)"
    assert failure_reason("task", error, "", "kotlin") == "build_timeout"
