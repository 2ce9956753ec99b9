"""The exports as the peers' own releases read them: `datasets.load_dataset(OUT)` for every
format, pandas, polars and DuckDB on the Parquet, SWE-bench's dataset loader, test-spec maker,
image-name convention and log parsers (PyPI releases in a separate venv, see peers.py)."""

from __future__ import annotations

import json

import duckdb
import pytest

import peers
from envmine.testing.lake_records import candidate, instance
from envmine.warehouse.catalog import Catalog
from envmine.warehouse.dataset import export_dataset
from envmine.warehouse.swebench import harnesses, image_name, swebench_test_id

pytestmark = [pytest.mark.docker, peers.needs_peers]
IDS = ["tests/test_w.py::test_tok[blank line]", "tests/test_w.py::test_tok[x]", "tests/a.py::T::test_b"]


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    root = tmp_path_factory.mktemp("peers")
    cands = [candidate(i) for i in range(3)]
    rows = [instance(c, FAIL_TO_PASS=IDS[:2], PASS_TO_PASS=IDS[2:]) for c in cands[:2]]
    rows.append(instance(cands[2], runner="go_test_json", language="go", FAIL_TO_PASS=["m/TestX"]))
    with Catalog.open(root / "catalog") as catalog:
        catalog.upsert("instances", rows)
        for fmt in ("swebench", "hf", "jsonl"):
            export_dataset(catalog, root / fmt, fmt=fmt)
    return root


LOAD = """
import json, sys
from pathlib import Path
import datasets, pandas, polars
root = Path(sys.argv[1])
out = {}
for fmt in ("swebench", "hf", "jsonl"):
    ds = datasets.load_dataset(str(root / fmt))
    first = ds["test"][0]
    out[fmt] = {"splits": sorted(ds), "ids": list(ds["test"]["instance_id"]),
                "f2p": first["FAIL_TO_PASS"], "created_at": first["created_at"],
                "columns": ds["test"].column_names}
for fmt in ("swebench", "hf"):
    path = root / fmt / "test.parquet"
    out[fmt]["pandas"] = pandas.read_parquet(path)["instance_id"].tolist()
    out[fmt]["polars"] = polars.read_parquet(path)["instance_id"].to_list()
out["hf_stability"] = datasets.load_dataset(str(root / "hf"))["test"][0]["stability"]
print(json.dumps(out, default=repr))
"""


def test_datasets_pandas_polars_and_duckdb_load_every_format(exports):
    got = peers.python(LOAD, exports, str(exports))
    everything = ["acme__widgets-0", "acme__widgets-1", "acme__widgets-2"]
    assert got["swebench"]["ids"] == ["acme__widgets-0", "acme__widgets-1"]
    assert got["hf"]["ids"] == got["jsonl"]["ids"] == everything
    for fmt in ("swebench", "hf", "jsonl"):
        assert got[fmt]["splits"] == ["test"]
        assert got[fmt]["f2p"] == ["tests/test_w.py::test_tok[blank", "tests/test_w.py::test_tok[x]"]
        # pyarrow's JSON reader takes ISO text for a timestamp before `datasets` casts it to
        # the card's string type; the Parquet files keep the text as written
        assert got[fmt]["created_at"] == ("2025-03-01 12:00:00" if fmt == "jsonl" else "2025-03-01T12:00:00Z")
        assert {"log_parser", "eval_type", "image_name", "version"} <= set(got[fmt]["columns"])
    assert got["swebench"]["pandas"] == got["swebench"]["polars"] == got["swebench"]["ids"]
    assert got["hf"]["pandas"] == got["hf"]["polars"] == everything
    assert got["hf_stability"] == [{"key": "tests/test_w.py::test_old", "value": 1.0},
                                   {"key": "tests/test_w.py::test_w", "value": 1.0}]
    for fmt in ("swebench", "hf"):
        ids = duckdb.sql(f"SELECT instance_id FROM read_parquet('{exports / fmt / 'test.parquet'}') "
                         "ORDER BY 1").fetchall()
        assert [i for (i,) in ids] == got[fmt]["ids"]


SWEBENCH = """
import json, sys
from swebench.harness.utils import load_swebench_dataset, make_test_spec
from swebench.harness.log_parsers import PARSER_REGISTRY
from swebench.harness.grading import get_logs_eval
from swebench.task.checks import expected_image
args = json.loads(sys.argv[1])
rows = load_swebench_dataset(args["dir"], "test")
specs = [make_test_spec(r) for r in rows]
log = "\\n".join([f"PASSED {t}" for t in args["ids"][:-1]] + [f"FAILED {args['ids'][-1]} - AssertionError: x y"])
parsed = PARSER_REGISTRY["parse_log_pytest"](log, specs[0])
print(json.dumps({
    "specs": [[s.instance_id, s.log_parser, s.eval_type, s.version, s.FAIL_TO_PASS] for s in specs],
    "names": {i: expected_image(i) for i in args["instance_ids"]},
    "unknown_parsers": [p for p in args["parsers"] if p not in PARSER_REGISTRY],
    "parsed": parsed,
}))
"""


def test_swebench_reads_the_rows_ids_image_names_and_parser_names(exports):
    instance_ids = ["acme__widgets-0", "pypi__iniconfig-2.0.0", "Org__Repo-12"]
    parsers = sorted({h.log_parser for h in harnesses().values() if h.log_parser})
    got = peers.python(SWEBENCH, exports, json.dumps(
        {"dir": str(exports / "swebench"), "ids": IDS, "instance_ids": instance_ids, "parsers": parsers}))
    assert got["specs"][0] == ["acme__widgets-0", "parse_log_pytest", "pass_and_fail", "0.0",
                               ["tests/test_w.py::test_tok[blank", "tests/test_w.py::test_tok[x]"]]
    assert got["names"] == {i: image_name(i) for i in instance_ids}
    assert got["unknown_parsers"] == []
    # SWE-bench's pytest parser names each test as swebench_test_id does
    assert got["parsed"] == {swebench_test_id(t, "first_word"): s
                             for t, s in zip(IDS, ["PASSED", "PASSED", "FAILED"])}
