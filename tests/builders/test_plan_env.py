"""Planning without Docker: templates, content-addressed tags, the test command, plan_env."""

from __future__ import annotations

import subprocess
import tarfile
from datetime import datetime, timezone
from io import BytesIO
from pathlib import Path

import jinja2
import pytest

from envmine.builders import checkout
from envmine.builders.base import CA_BUNDLE_PATH, base_layer, os_image_tag
from envmine.builders.lang_env import dependency_cutoff, lang_spec, plan_language, spec_test_files
from envmine.builders.plan import plan_env
from envmine.builders.render import layer_tag, render
from envmine.languages import load_language
from envmine.records import Candidate, EnvSpec, Reject
from envmine.settings import DockerSettings, Settings

CA = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home")


PYPROJECT = """\
[project]
name = "tinypkg"
version = "0.1.0"
dependencies = ["six>=1.16"]

[project.optional-dependencies]
test = ["pytest>=7"]
"""


def spec_for(settings: Settings, pyproject: str = PYPROJECT, base: str = "a" * 40, ca: str = CA) -> EnvSpec:
    candidate = Candidate(
        instance_id="o__r-1", repo="o/r", source="git", repo_url="/nonexistent", base_commit=base,
        head_commit="b" * 40, patch="", test_patch="", problem_statement="p",
        created_at=datetime(2026, 1, 1, tzinfo=timezone.utc))
    spec, files = load_language("python"), {"pyproject.toml": pyproject}
    plan = plan_language(spec, list(files), files, as_of=dependency_cutoff(candidate.created_at))
    return lang_spec(candidate, settings, plan, spec, ca)


def tags(spec: EnvSpec) -> dict[str, str]:
    return {layer.name: layer.tag for layer in spec.layers}


def test_same_spec_same_tags(settings):
    assert tags(spec_for(settings)) == tags(spec_for(settings))
    assert [layer.parent for layer in spec_for(settings).layers[1:]] == [
        layer.tag for layer in spec_for(settings).layers[:-1]]


def test_changed_dependency_rebuilds_repo_and_task_only(settings):
    before = tags(spec_for(settings))
    after = tags(spec_for(settings, PYPROJECT.replace("six>=1.16", "six>=1.17")))
    assert before["base"] == after["base"] and before["toolchain"] == after["toolchain"]
    assert before["repo"] != after["repo"] and before["task"] != after["task"]


def test_reordered_dependencies_share_the_repo_layer(settings):
    two = PYPROJECT.replace('["six>=1.16"]', '["six>=1.16", "attrs"]')
    swapped = PYPROJECT.replace('["six>=1.16"]', '["attrs", "six>=1.16"]')
    assert tags(spec_for(settings, two)) == tags(spec_for(settings, swapped))


def test_new_base_commit_only_changes_the_task_layer(settings):
    one, two = tags(spec_for(settings)), tags(spec_for(settings, base="c" * 40))
    assert {k for k in one if one[k] != two[k]} == {"task"}


def test_ca_bundle_content_is_part_of_every_tag(settings):
    one, two = tags(spec_for(settings)), tags(spec_for(settings, ca=CA.replace("MIIB", "MIIC")))
    assert all(one[k] != two[k] for k in one)


def test_base_image_setting_changes_the_parent(tmp_path):
    local = Settings(home=tmp_path)
    remote = Settings(home=tmp_path, docker=DockerSettings(base_image="registry.example/debian:trixie"))
    assert os_image_tag(local).startswith("envmine/os:trixie-")
    assert os_image_tag(remote) == "registry.example/debian:trixie"
    assert base_layer(remote, CA).parent == "registry.example/debian:trixie"
    assert base_layer(local, CA).tag != base_layer(remote, CA).tag


def test_layer_tag_format_and_inputs():
    tag = layer_tag("repo", "FROM x\n", {"a.txt": "1"}, "envmine/toolchain:1")
    assert tag.startswith("envmine/repo:") and len(tag.split(":")[1]) == 16
    assert tag != layer_tag("repo", "FROM x\n", {"a.txt": "2"}, "envmine/toolchain:1")
    assert tag != layer_tag("repo", "FROM x\n", {"a.txt": "1"}, "envmine/toolchain:2")


def test_rendered_layers(settings):
    spec = spec_for(settings)
    base, toolchain, repo, task = (layer.dockerfile for layer in spec.layers)
    assert "COPY envmine-extra.crt /usr/local/share/ca-certificates/envmine-extra.crt" in base
    assert f"PIP_CERT={CA_BUNDLE_PATH}" in base and "useradd --create-home --uid 1000" in base
    assert "python3-venv" in toolchain and "python3 -m venv /opt/venv" in toolchain
    assert spec.layers[1].context_files["files/etc/pip.conf"].startswith(f"[global]\ncert = {CA_BUNDLE_PATH}\n")
    assert spec.layers[2].context_files["files/requirements.txt"] == "pytest>=7\nsix>=1.16\n"
    assert "pip freeze --all > /opt/envmine/freeze.txt" in repo
    assert "ADD testbed.tar /" in task and "pip install --no-build-isolation -e ." in task
    assert f'envmine.base_commit="{"a" * 40}"' in task


def test_templates_are_strict():
    with pytest.raises(jinja2.UndefinedError):
        render("lang/task.Dockerfile.j2", parent="x")


def test_pytest_command_and_files():
    language = load_language("python")
    paths = ["tests/test_a.py", "tests/conftest.py", "tests/data/x.json", "src/m.py", "tests/__init__.py", "tests/test a.py"]
    files = spec_test_files(language, language.framework("pytest"), paths)
    assert files == ["tests/test a.py", "tests/test_a.py"]
    plan = plan_language(language, ["pyproject.toml"], {"pyproject.toml": PYPROJECT}, test_files=paths)
    assert plan.test_command == (
        "mkdir -p /tmp/envmine-results && cd /testbed && /opt/venv/bin/python -m pytest "
        "-p no:cacheprovider -rA --continue-on-collection-errors -o junit_family=xunit1 --junitxml=/tmp/envmine-results/report.xml 'tests/test a.py' tests/test_a.py")


def test_plan_env_on_a_local_repository(tmp_path, settings, make_repo, make_candidate):
    candidate_for = make_candidate
    repo, shas = make_repo(tmp_path / "src")
    first = plan_env(candidate_for(repo, shas[0], shas[1], 0), settings)
    second = plan_env(candidate_for(repo, shas[1], shas[2], 1), settings)
    assert isinstance(first, EnvSpec) and isinstance(second, EnvSpec)
    assert first.runner == "pytest" and first.test_files == ["tests/test_add.py"]
    assert "--junitxml=/tmp/envmine-results/report.xml tests/test_add.py" in first.test_command
    assert first.toolchain["install_method"] == "pyproject"
    assert first.toolchain["repo_url"] == str(repo)
    assert first.layers[2].tag == second.layers[2].tag
    assert first.image != second.image and first.image.startswith("envmine/task:")


def test_plan_env_rejections(tmp_path, settings, make_repo, make_candidate, pyproject_text):
    candidate_for = make_candidate
    repo, shas = make_repo(tmp_path / "src")
    missing = plan_env(candidate_for(repo, "f" * 40, shas[1], 0), settings)
    assert isinstance(missing, Reject) and missing.reason == "checkout_failed" and missing.stage == "build"
    go = candidate_for(repo, shas[0], shas[1], 0).model_copy(update={"language": "go"})
    assert plan_env(go, settings).reason == "install_unsupported"  # no go.mod: the Go spec finds no install
    (repo / "pyproject.toml").write_text(pyproject_text.replace('">=3.9"', '">=3.8,<3.12"'))
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "old"],
                   check=True)
    head = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    old = plan_env(candidate_for(repo, head, head, 3), settings)
    assert old.reason == "toolchain_unavailable" and "<3.12" in old.detail


def test_plan_env_install_unsupported(tmp_path, settings, make_candidate):
    candidate_for = make_candidate
    repo = tmp_path / "bare"
    repo.mkdir()
    (repo / "test_x.py").write_text("def test_x():\n    pass\n")
    for args in (["init", "-q"], ["add", "-A"], ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x"]):
        subprocess.run(["git", "-C", str(repo), *args], check=True)
    sha = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    reject = plan_env(candidate_for(repo, sha, sha, 0), settings)
    assert isinstance(reject, Reject) and reject.reason == "install_unsupported"


def test_testbed_tar_holds_only_the_base_commit(tmp_path, make_repo):
    repo, shas = make_repo(tmp_path / "src")
    data = checkout.testbed_tar(repo, shas[1], 1000, tmp_path / "work")
    with tarfile.open(fileobj=BytesIO(data)) as tar:
        members = tar.getmembers()
        assert {m.uid for m in members} == {1000} and members[0].name == "testbed"
        tar.extractall(tmp_path / "out", filter="tar")
    testbed = tmp_path / "out" / "testbed"

    def git(*args: str) -> str:
        return subprocess.run(["git", "-c", "safe.directory=*", "-C", str(testbed), *args], capture_output=True, text=True,
                              check=True).stdout.strip()

    assert git("rev-parse", "HEAD") == shas[1]
    assert git("log", "--all", "--format=%H") == shas[1]
    assert git("remote") == "" and git("tag") == "" and git("reflog") == ""
    assert git("for-each-ref", "--format=%(refname)") == "refs/heads/main"
    assert not (testbed / "tests" / "test_mul.py").exists()
    assert git("status", "--porcelain") == ""


def test_dependency_cutoff_is_the_start_of_the_next_month():
    from datetime import datetime, timedelta, timezone

    assert dependency_cutoff(datetime(2024, 12, 15, 23, 59, tzinfo=timezone.utc)) == "2025-01-01T00:00:00Z"
    assert dependency_cutoff(datetime(2026, 1, 1, tzinfo=timezone.utc)) == "2026-02-01T00:00:00Z"
    # Times are compared in UTC: 2024-03-31 23:30 at UTC-2 is already April in UTC.
    assert dependency_cutoff(datetime(2024, 3, 31, 23, 30, tzinfo=timezone(timedelta(hours=-2)))) == "2024-05-01T00:00:00Z"
