"""The eval and leak scripts render from templates into valid bash."""

import subprocess

import pytest

from envmine.validators.leakage import parse_leak_output
from envmine.validators.scripts import LeakCheck, PatchStep, inline_patch, render_eval_script

COMMAND = "python3 -m pytest --junitxml=/tmp/envmine-results/pytest.xml tests"


def bash_syntax_ok(script: str) -> bool:
    return subprocess.run(["bash", "-n"], input=script, text=True).returncode == 0


def test_validator_script_keeps_the_nonce_and_test_output_apart():
    script = render_eval_script(COMMAND, [PatchStep("test_patch", path="/root/envmine-test_patch.diff")],
                                30, nonce="f" * 32, run_as="envmine", work_dir="/root/envmine-run",
                                test_log="/root/envmine-run/test.log", bundle="/root/envmine-run/reports.tar")
    assert bash_syntax_ok(script)
    assert f"NONCE={'f' * 32}" in script
    assert "setpriv --reuid=envmine" in script
    assert "timeout --kill-after=10 30 bash -c 'python3 -m pytest" in script
    assert "> /root/envmine-run/test.log 2>&1" in script


def test_standalone_script_embeds_the_test_patch_and_makes_its_own_nonce():
    patch = "diff --git a/t.py b/t.py\n--- a/t.py\n+++ b/t.py\n@@ -1 +1 @@\n-a\n+EOF\n"
    script = render_eval_script(COMMAND, [inline_patch("test_patch", patch)], 30)
    assert bash_syntax_ok(script)
    assert "ENVMINE_NONCE" in script and "unset ENVMINE_NONCE" in script
    assert patch.rstrip("\n") in script
    assert "setpriv" not in script


def test_standalone_script_restores_test_files_then_applies_its_patch(tmp_path):
    repo = tmp_path / "testbed"
    repo.mkdir()
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / "t.txt").write_text("a\n")
    subprocess.run([*git, "add", "t.txt"], check=True)
    subprocess.run([*git, "commit", "-qm", "base"], check=True)
    (repo / "t.txt").write_text("a model's edit\n")  # the test patch must still apply
    patch = "diff --git a/t.txt b/t.txt\n--- a/t.txt\n+++ b/t.txt\n@@ -1 +1 @@\n-a\n+b\n"
    script = render_eval_script("cat t.txt", [inline_patch("test_patch", patch, reset_to="HEAD")], 30)
    script = script.replace("cd /testbed", f"cd {repo}")  # the image's path, moved for the host
    out = subprocess.run(["bash", "-c", script], env={"ENVMINE_NONCE": "n1", "PATH": "/usr/bin:/bin"},
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "+++ envmine apply n1 test_patch git\n" in out.stdout
    assert ("+++ envmine start n1\n>>>>> Start Test Output\nb\nenvmine: test command exit status 0\n"
            ">>>>> End Test Output\n+++ envmine end n1 exit=0") in out.stdout


@pytest.mark.parametrize("gold", [None, "diff --git a/x b/x\n"])
def test_leak_script_renders(gold):
    check = LeakCheck("a" * 40, "b" * 40, inline_patch("gold", gold) if gold else None)
    combined = render_eval_script(COMMAND, [], 30, nonce="n", leak=check)
    assert bash_syntax_ok(combined)
    assert ("apply --check -R" in combined) == bool(gold)
    assert combined.index('LEAKS="$(envmine_leak_check)"') < combined.index("+++ envmine start")


def test_leak_output_parsing():
    report = parse_leak_output("leak remote origin\nleak tag refs/tags/v1\nnoise\ncheck-error no-git\ncheck-done\n")
    assert report.leaks == ["remote origin", "tag refs/tags/v1"]
    assert report.errors == ["no-git"] and report.completed
    assert not parse_leak_output("bash: /root/envmine-leak.sh: No such file or directory\n").completed
