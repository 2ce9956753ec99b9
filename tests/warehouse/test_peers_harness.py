"""envmine's exported tasks in the peers' own harnesses, in real Docker: SWE-bench 5
(`swebench eval OUT --gold` resolves every exported instance, a no-op prediction none) and
mini-swe-agent (its deterministic model applies the gold patch in the envmine image; SWE-bench
grades that prediction resolved). The tasks are mined from repositories made here, through the
real flow; one has a pytest id with a space, one has two ids SWE-bench would read as one."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest
import yaml
from typer.testing import CliRunner

import peers
from envmine.cli import app
from envmine.config import RunConfig, SourceConfig
from envmine.flows.pipeline import run_pipeline
from envmine.testing import pyrepos
from envmine.warehouse.catalog import run_sql
from envmine.warehouse.swebench import image_name

pytestmark = [pytest.mark.docker, pytest.mark.slow, peers.needs_peers]

SHOUT_BUGGY = "def shout(text):\n    return text\n"
SHOUT_FIXED = "def shout(text):\n    return text.upper() + '!'\n"
SHOUT_TEST = '''import pytest

from calc import shout


def test_keeps_length():
    assert len(shout("ab")) >= 2


@pytest.mark.parametrize("text", {params})
def test_shout(text):
    assert shout(text) == text.upper() + "!"
'''


def _shout_repo(root, name: str, params: list[str]):
    base = {"pyproject.toml": pyrepos.PYPROJECT, "calc/__init__.py": SHOUT_BUGGY,
            "tests/test_shout.py": SHOUT_TEST.split("@pytest.mark")[0]}
    repo = pyrepos._repo(root, name, base)
    pyrepos._commit(repo, {"calc/__init__.py": SHOUT_FIXED,
                           "tests/test_shout.py": SHOUT_TEST.format(params=params)},
                    "Make shout() shout\n\nIt returned its input unchanged.")
    return repo


@pytest.fixture(scope="module")
def exported(tmp_path_factory, prefect_harness):
    root = tmp_path_factory.mktemp("repos")
    home = tmp_path_factory.mktemp("home")
    repos = [pyrepos.bugfix_repo(root), _shout_repo(root, "spaced", ["blank line", "x"]),
             _shout_repo(root, "collide", ["blank line", "blank space"])]
    config = RunConfig(sources=[SourceConfig(kind="git", url=str(r)) for r in repos],
                       settings={"validation": {"after_runs": 2, "limits": {"timeout_s": 120}},
                                 "docker": {"concurrency": 2}})
    run_pipeline(config, home=str(home))
    out = tmp_path_factory.mktemp("export") / "out"
    done = CliRunner().invoke(app, ["export", "--format", "swebench", str(out), "--tag-swebench-names",
                                    "--home", str(home)])
    assert done.exit_code == 0, done.output
    instances = run_sql(home / "catalog", "SELECT instance_id, FAIL_TO_PASS, PASS_TO_PASS, patch "
                                          "FROM instances ORDER BY 1").to_pylist()
    return out, {r["instance_id"]: r for r in instances}


def _eval(out, cwd, run_id: str, predictions=None) -> dict:
    args = [peers.tool("swebench"), "eval", str(out), "--run-id", run_id, "-j", "2", "--report-dir", str(cwd)]
    peers.run(args + (["-p", str(predictions)] if predictions else ["--gold"]), cwd)
    model = "gold" if predictions is None else json.loads(predictions.read_text().splitlines()[0])["model_name_or_path"]
    return json.loads((cwd / f"{model}.{run_id}.json").read_text())


def test_export_keeps_gradable_tasks_and_refuses_colliding_ids(exported):
    out, instances = exported
    manifest = json.loads((out / "manifest.json").read_text())
    refused = {r["instance_id"]: r["reason"] for r in manifest["refused"]}
    [collide] = [i for i in instances if "__collide-" in i]
    assert "both read as 'tests/test_shout.py::test_shout[blank'" in refused[collide]
    assert manifest["total_rows"] == 2 and set(refused) == {collide}
    [spaced] = [i for i in instances if "__spaced-" in i]
    assert "tests/test_shout.py::test_shout[blank line]" in instances[spaced]["FAIL_TO_PASS"]
    assert sorted(manifest["tagged"].values()) == sorted(image_name(i) for i in instances if i != collide)
    for row in pq.read_table(out / "test.parquet").to_pylist():
        assert row["image"] == row["image_name"] == image_name(row["instance_id"])


def test_swebench_gold_resolves_every_exported_instance_with_envmines_tests(exported, tmp_path):
    out, instances = exported
    report = _eval(out, tmp_path, "gold")
    exported_ids = sorted(i for i in instances if "__collide-" not in i)
    assert report["resolved_ids"] == exported_ids, report
    assert report["error_ids"] == [] and report["unresolved_ids"] == []
    for instance_id in exported_ids:
        per = json.loads((tmp_path / "logs/run_evaluation/gold/gold" / instance_id / "report.json").read_text())
        status = per[instance_id]["tests_status"]
        assert status["FAIL_TO_PASS"]["failure"] == [] and status["PASS_TO_PASS"]["failure"] == []
        assert len(status["FAIL_TO_PASS"]["success"]) == len(instances[instance_id]["FAIL_TO_PASS"])
        assert len(status["PASS_TO_PASS"]["success"]) == len(instances[instance_id]["PASS_TO_PASS"])


def test_swebench_noop_prediction_resolves_none(exported, tmp_path):
    out, instances = exported
    noop = "diff --git a/NOTES.txt b/NOTES.txt\nnew file mode 100644\n--- /dev/null\n+++ b/NOTES.txt\n@@ -0,0 +1 @@\n+nothing changed\n"
    preds = tmp_path / "noop.jsonl"
    preds.write_text("".join(json.dumps({"instance_id": i, "model_name_or_path": "noop", "model_patch": noop}) + "\n"
                             for i in instances if "__collide-" not in i))
    report = _eval(out, tmp_path, "noop", preds)
    assert report["completed_instances"] == 2 and report["resolved_ids"] == [], report


def test_mini_swe_agent_applies_the_gold_patch_in_the_envmine_image(exported, tmp_path):
    out, instances = exported
    [bugfix] = [i for i in instances if "__bugfix-" in i]
    fix = instances[bugfix]["patch"]
    steps = [f"cat > /tmp/fix.diff <<'ENVMINE_EOF'\n{fix}ENVMINE_EOF\n"
             "git -c safe.directory='*' apply /tmp/fix.diff && git -c safe.directory='*' diff > /tmp/patch.txt",
             "echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT && cat /tmp/patch.txt"]
    config = {"model": {"model_class": "deterministic", "model_name": "deterministic",
                        "outputs": [{"role": "assistant", "content": f"step {n}",
                                     "extra": {"actions": [{"command": cmd}], "cost": 0.0}}
                                    for n, cmd in enumerate(steps)]}}
    (tmp_path / "det.yaml").write_text(yaml.safe_dump(config))
    peers.run([peers.tool("mini-extra"), "swebench", "--subset", str(out), "--split", "test",
               "--filter", f"^{bugfix}$", "-o", str(tmp_path / "mini"),
               "-c", "swebench.yaml", "-c", str(tmp_path / "det.yaml")], tmp_path)
    preds = json.loads((tmp_path / "mini" / "preds.json").read_text())
    def body(diff):  # git abbreviates the blob ids on the `index` line differently
        return [line for line in diff.strip().splitlines() if not line.startswith("index ")]

    assert body(preds[bugfix]["model_patch"]) == body(fix)
    (tmp_path / "mini.jsonl").write_text(json.dumps({**preds[bugfix], "model_name_or_path": "mini"}) + "\n")
    report = _eval(out, tmp_path, "mini", tmp_path / "mini.jsonl")
    assert report["resolved_ids"] == [bugfix], report
