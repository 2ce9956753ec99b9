"""Dataset exports (`envmine export --format swebench|hf|jsonl`): shapes, ids, refusals."""

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from envmine.cli import app
from envmine.testing.lake_records import candidate, instance
from envmine.validators.parsers import PARSERS
from envmine.warehouse.catalog import Catalog
from envmine.warehouse.dataset import SWEBENCH_COLUMNS, export_dataset
from envmine.warehouse.swebench import Refused, convert_ids, harnesses, image_name, swebench_test_id

SPACED = "tests/test_w.py::test_tok[blank line]"


@pytest.fixture
def catalog(catalog_dir):
    cands = [candidate(i) for i in range(4)]
    rows = [instance(cands[0]),
            instance(cands[1], FAIL_TO_PASS=[SPACED], stability={SPACED: 1.0},
                     provenance={"release_version": "2.1"}),
            # two ids that SWE-bench's pytest parser reads as one: refused, never merged
            instance(cands[2], FAIL_TO_PASS=[SPACED, "tests/test_w.py::test_tok[blank space]"]),
            instance(cands[3], runner="go_test_json", language="go",
                     FAIL_TO_PASS=["example.com/m/TestX"], PASS_TO_PASS=[])]
    with Catalog.open(catalog_dir) as catalog:
        catalog.upsert("instances", rows)
        yield catalog


def test_pytest_ids_read_as_swebench_splits_the_summary_line():
    assert swebench_test_id(SPACED, "first_word") == "tests/test_w.py::test_tok[blank"
    assert swebench_test_id("tests/a.py::test_b", "first_word") == "tests/a.py::test_b"
    assert swebench_test_id("pkg/TestA/sub case", "same") == "pkg/TestA/sub case"
    with pytest.raises(Refused, match="both read as 'a::t\\[x'"):
        convert_ids("i", ["a::t[x y]", "a::t[x z]"], "first_word")


def test_swebench_image_name_replaces_double_underscores():
    assert image_name("pypi__iniconfig-1.1.0") == "swebench/sweb.eval.x86_64.pypi_1776_iniconfig-1.1.0:latest"
    assert image_name("Acme__Widgets-7") == "swebench/sweb.eval.x86_64.acme_1776_widgets-7:latest"


def test_every_envmine_runner_has_a_swebench_harness_entry():
    entries = harnesses()
    assert set(PARSERS) <= set(entries), set(PARSERS) - set(entries)
    for entry in entries.values():
        assert entry.grader in ("swebench", "envmine")
        assert entry.grader == "swebench" or entry.why, entry.runner
    assert entries["pytest"].log_parser == "parse_log_pytest"
    assert entries["go_test_json"].log_parser == "parse_log_gotest"
    assert entries["libtest"].log_parser == "parse_log_cargo"


def test_swebench_format_keeps_gradable_rows_with_swebench_fields(catalog, tmp_path):
    manifest = export_dataset(catalog, tmp_path / "out", fmt="swebench")
    table = pq.read_table(tmp_path / "out" / "test.parquet")
    assert tuple(table.column_names) == SWEBENCH_COLUMNS
    rows = {r["instance_id"]: r for r in table.to_pylist()}
    assert sorted(rows) == ["acme__widgets-0", "acme__widgets-1"]
    one = rows["acme__widgets-1"]
    assert one["FAIL_TO_PASS"] == ["tests/test_w.py::test_tok[blank"]
    assert one["log_parser"] == "parse_log_pytest" and one["eval_type"] == "pass_and_fail"
    assert one["version"] == "2.1" and rows["acme__widgets-0"]["version"] == "0.0"
    assert one["created_at"] == "2025-03-01T12:00:00Z"
    assert one["image"] == one["image_name"] == "envmine/task:acme__widgets-1"
    refused = {r.instance_id: r.reason for r in manifest.refused}
    assert "both read as 'tests/test_w.py::test_tok[blank'" in refused["acme__widgets-2"]
    assert refused["acme__widgets-3"].startswith("runner go_test_json: the test command writes `go test -json`")
    assert manifest.total_rows == 2 and manifest.files[0].rows == 2
    assert json.loads((tmp_path / "out" / "manifest.json").read_text())["split"] == "test"
    card = (tmp_path / "out" / "README.md").read_text()
    assert "  - split: test\n    path: test.parquet\n" in card


def test_hf_format_has_every_field_and_no_map_or_timestamp_columns(catalog, tmp_path):
    export_dataset(catalog, tmp_path / "hf", fmt="hf", split="validation")
    table = pq.read_table(tmp_path / "hf" / "validation.parquet")
    types = {f.name: f.type for f in table.schema}
    assert not any(pa.types.is_map(t) or pa.types.is_timestamp(t) for t in types.values())
    assert types["stability"] == pa.list_(pa.struct([("key", pa.string()), ("value", pa.float64())]))
    rows = {r["instance_id"]: r for r in table.to_pylist()}
    assert sorted(rows) == ["acme__widgets-0", "acme__widgets-1", "acme__widgets-2", "acme__widgets-3"]
    collided = rows["acme__widgets-2"]  # kept with envmine's ids, graded by envmine
    assert collided["grader"] == "envmine" and "both read as" in collided["grader_note"]
    assert collided["FAIL_TO_PASS"] == [SPACED, "tests/test_w.py::test_tok[blank space]"]
    assert rows["acme__widgets-1"]["stability"] == [{"key": "tests/test_w.py::test_tok[blank", "value": 1.0}]
    assert rows["acme__widgets-3"]["grader"] == "envmine"
    assert rows["acme__widgets-3"]["log_parser"] == "parse_log_gotest"
    assert rows["acme__widgets-1"]["provenance"] == [{"key": "release_version", "value": "2.1"}]


def test_jsonl_format_matches_the_hf_rows(catalog, tmp_path):
    export_dataset(catalog, tmp_path / "hf", fmt="hf")
    export_dataset(catalog, tmp_path / "js", fmt="jsonl")
    lines = (tmp_path / "js" / "test.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines] == pq.read_table(tmp_path / "hf" / "test.parquet").to_pylist()


def test_reexport_replaces_the_other_formats_split_file(catalog, tmp_path):
    export_dataset(catalog, tmp_path / "o", fmt="jsonl")
    export_dataset(catalog, tmp_path / "o", fmt="hf")
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["README.md", "manifest.json", "test.parquet"]


def test_cli_export_formats_and_clear_errors(catalog, tmp_path):
    home = catalog.catalog_dir.parent
    catalog.close()
    runner = CliRunner()
    done = runner.invoke(app, ["export", "--format", "swebench", str(tmp_path / "o"), "--home", str(home)])
    assert done.exit_code == 0, done.output
    assert "2 instances as swebench" in done.output and "left out acme__widgets-3" in done.output
    assert "'tests/test_w.py::test_tok[blank line]'" in done.output  # brackets printed, not markup
    bad = runner.invoke(app, ["export", "--format", "parquet", str(tmp_path / "x"), "--home", str(home)])
    assert bad.exit_code != 0 and "--format must be one of: shards, swebench, hf, jsonl" in bad.output
    split = runner.invoke(app, ["export", "--format", "hf", "--split", "a/b", str(tmp_path / "x"), "--home", str(home)])
    assert split.exit_code == 1 and "split 'a/b' must be letters" in split.output
    nohome = runner.invoke(app, ["export", "--format", "hf", str(tmp_path / "x"), "--home", str(tmp_path / "none")])
    assert nohome.exit_code == 1 and "no catalog at" in nohome.output and "Traceback" not in nohome.output
