"""Adding a language is one spec file: a toy language that only a TOML file in a folder named by
`ENVMINE_LANGUAGE_DIRS` defines is known, detected, planned and built like the shipped ones."""

from __future__ import annotations

import subprocess
from datetime import datetime, timezone
from pathlib import Path

import pytest

from envmine.builders.build import build_env
from envmine.builders.plan import plan_env
from envmine.builders.sandbox import sandbox
from envmine.languages import known_languages, load_language
from envmine.languages.spec import EXTRA_DIRS_ENV, LanguageSpec
from envmine.miners.history import detect_language
from envmine.records import Candidate, EnvSpec, Reject
from envmine.settings import Limits, Settings
from envmine.validators.parsers import get_parser

TOY = """\
name = "toy"
extensions = [".toy"]
detect_files = ["toy.json"]
runner = "node_test"
test_patterns = ['(^|/)tests/']
toolchain_packages = ["jq"]

[[frameworks]]
name = "toy-tap"
runner = "node_test"
detect = [{ file = "toy.json", contains = '"tap"' }]
manifests = ["toy.json"]
install = ["jq -e .name toy.json"]
prepare = ["test -f main.toy"]
test_command = "mkdir -p {{ results_dir }} && sh {{ test_files | join(' ') }} > {{ results_dir }}/toy.tap"
report_glob = "toy.tap"
"""
FILES = {"toy.json": '{"name": "toy", "runner": "tap"}\n', "main.toy": "print 1\n",
         "tests/run.sh": "echo 'TAP version 13'; echo 'ok 1 - one'; echo '1..1'\n"}


@pytest.fixture
def toy_dir(tmp_path: Path, monkeypatch) -> Path:
    folder = tmp_path / "languages"
    folder.mkdir()
    (folder / "toy.toml").write_text(TOY)
    monkeypatch.setenv(EXTRA_DIRS_ENV, str(folder))
    load_language.cache_clear()
    yield folder
    load_language.cache_clear()


def _repo(root: Path, files: dict[str, str]) -> tuple[Path, str]:
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    for args in (["init", "-q"], ["add", "-A"], ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x"]):
        subprocess.run(["git", "-C", str(root), *args], check=True)
    return root, subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                                check=True).stdout.strip()


def _candidate(repo: Path, sha: str) -> Candidate:
    return Candidate(instance_id="local__toy-1", repo="local/toy", source="git", repo_url=str(repo),
                     base_commit=sha, head_commit=sha, patch="", test_patch="", problem_statement="p",
                     created_at=datetime(2026, 1, 1, tzinfo=timezone.utc), language="toy",
                     test_files=["tests/run.sh"])


def test_a_spec_file_in_an_extra_folder_adds_a_language(toy_dir):
    assert "toy" in known_languages() and "python" in known_languages()
    assert load_language("toy").frameworks[0].name == "toy-tap"
    assert detect_language(["toy.json", "main.toy", "tests/run.sh"]) == "toy"


def test_the_toy_language_is_planned_through_the_one_path(toy_dir, tmp_path):
    repo, sha = _repo(tmp_path / "src", FILES)
    spec = plan_env(_candidate(repo, sha), Settings(home=tmp_path / "home"))
    assert isinstance(spec, EnvSpec), spec
    assert (spec.language, spec.runner, spec.report_glob) == ("toy", "node_test", "toy.tap")
    assert spec.test_files == ["tests/run.sh"]
    assert spec.test_command == "mkdir -p /tmp/envmine-results && sh tests/run.sh > /tmp/envmine-results/toy.tap"
    base, toolchain, repo_layer, task = (layer.dockerfile for layer in spec.layers)
    assert "apt-get install -y --no-install-recommends jq" in toolchain
    assert "COPY --chown=envmine:envmine manifests/toy.json /testbed/toy.json" in repo_layer
    assert "RUN jq -e .name toy.json" in repo_layer
    assert "test -f main.toy" in task and "ADD testbed.tar /" in task
    assert spec.layers[2].context_files == {"manifests/toy.json": FILES["toy.json"]}
    assert spec.toolchain["framework"] == "toy-tap" and spec.toolchain["manifests"] == "toy.json"


@pytest.mark.docker
@pytest.mark.slow
def test_the_toy_language_builds_and_its_runner_reads_the_report(toy_dir, tmp_path, docker_engine):
    repo, sha = _repo(tmp_path / "src", FILES)
    settings = Settings(home=tmp_path / "home")
    spec = plan_env(_candidate(repo, sha), settings)
    builds, reject = build_env(spec, settings)
    try:
        assert reject is None, reject
        assert [b.layer for b in builds] == ["base", "toolchain", "repo", "task"]
        with sandbox(spec.image, Limits(), user=settings.docker.sandbox_user) as box:
            result = box.exec(spec.test_command, timeout_s=60)
            assert result.exit_code == 0, result.output
            report = box.exec("cat /tmp/envmine-results/toy.tap", timeout_s=30).output
        assert get_parser(spec.runner)(report) == {"one": "PASSED"}
    finally:
        for layer in reversed(spec.layers[1:]):  # the base layer is every language's
            docker_engine.remove_image(layer.tag)


def test_the_toy_spec_rules_reject_a_tree_they_do_not_fit(toy_dir, tmp_path):
    repo, sha = _repo(tmp_path / "src", {**FILES, "toy.json": '{"name": "toy"}\n'})
    reject = plan_env(_candidate(repo, sha), Settings(home=tmp_path / "home"))
    assert isinstance(reject, Reject) and reject.reason == "install_unsupported"
    assert reject.detail == "no toy test framework detected (known: toy-tap)"


def test_an_extra_folder_cannot_redefine_a_shipped_language(toy_dir):
    (toy_dir / "go.toml").write_text(TOY.replace('"toy"', '"go"', 1))
    with pytest.raises(ValueError, match="language 'go' is defined twice"):
        known_languages()


def test_a_spec_naming_an_unknown_hook_is_refused_with_the_known_ones():
    data = load_language("python").model_dump() | {"hook": "pyton"}
    with pytest.raises(ValueError, match="unknown hook 'pyton'; known: node, python"):
        LanguageSpec.model_validate(data)


HOOK = '''\
from envmine.languages.hooks import HookPlan, PlanError
from envmine.reasons import Reason


def referenced_files(files):
    return [line.split(" ", 1)[1] for line in files.get("toy.deps", "").splitlines() if line.startswith("include ")]


def plan(files, suite):
    names = [line for text in files.values() for line in text.splitlines() if line.startswith("dep ")]
    if any(line.endswith("@git") for line in names):
        raise PlanError(Reason.dependency_source_unreachable, "a git dependency")
    deps = sorted(line.split(" ", 1)[1] for line in names)
    return HookPlan(context={"deps": deps}, files={"deps.txt": "".join(f"{d}\\n" for d in deps)},
                    facts={"toy_deps": ",".join(deps), "suite": suite})
'''


def test_a_hook_at_a_dotted_path_reads_what_only_its_manifests_say(toy_dir, tmp_path, monkeypatch):
    plugin = tmp_path / "plugins" / "toyplug"
    plugin.mkdir(parents=True)
    (plugin / "__init__.py").write_text("")
    (plugin / "hook.py").write_text(HOOK)
    monkeypatch.syspath_prepend(str(plugin.parent))
    spec = TOY.replace('runner = "node_test"\n', 'runner = "node_test"\nhook = "toyplug.hook"\nread_files = ["toy.deps"]\n', 1)
    spec = spec.replace('install = ["jq -e .name toy.json"]', 'install = ["echo {{ deps | join(\' \') }}"]')
    (toy_dir / "toy.toml").write_text(spec)
    load_language.cache_clear()
    files = {**FILES, "toy.deps": "dep b\ninclude more/deps\n", "more/deps": "dep a\n"}
    repo, sha = _repo(tmp_path / "src", files)
    planned = plan_env(_candidate(repo, sha), Settings(home=tmp_path / "home"))
    assert isinstance(planned, EnvSpec), planned
    repo_layer = planned.layers[2]
    assert repo_layer.context_files["files/deps.txt"] == "a\nb\n"
    assert "COPY --chown=envmine:envmine files/deps.txt /opt/envmine/deps.txt" in repo_layer.dockerfile
    assert "RUN echo a b" in repo_layer.dockerfile
    assert (planned.toolchain["toy_deps"], planned.toolchain["suite"]) == ("a,b", "trixie")

    repo, sha = _repo(tmp_path / "src2", {**files, "more/deps": "dep a@git\n"})
    reject = plan_env(_candidate(repo, sha), Settings(home=tmp_path / "home"))
    assert isinstance(reject, Reject)
    assert (reject.reason, reject.detail) == ("dependency_source_unreachable", "a git dependency")
