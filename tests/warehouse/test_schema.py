"""Column types come from the records' annotations; lists are lists, dicts are maps."""


import pyarrow as pa
import pytest

from envmine.records import Candidate
from envmine.testing.lake_records import candidate
from envmine.warehouse.schema import (
    TABLES,
    column_type,
    columns,
    create_table_sql,
    table_spec,
    to_batch,
)


def test_every_record_field_is_a_column_between_key_and_hash():
    for spec in TABLES.values():
        names = list(columns(spec))
        assert names == ["key", *spec.record.model_fields, "record_hash"]
        assert set(spec.key_fields) <= set(spec.record.model_fields)


def test_instance_columns_keep_swe_bench_lists_and_maps():
    cols = {name: col.sql for name, col in columns(table_spec("instances")).items()}
    assert cols["FAIL_TO_PASS"] == "VARCHAR[]"
    assert cols["PASS_TO_PASS"] == "VARCHAR[]"
    assert cols["stability"] == "MAP(VARCHAR, DOUBLE)"
    assert cols["created_at"] == "TIMESTAMPTZ"
    assert cols["source"] == "VARCHAR"


def test_optional_enum_and_literal_annotations():
    assert column_type(Candidate.model_fields["pr_number"].annotation).sql == "BIGINT"
    assert column_type(Candidate.model_fields["issue_numbers"].annotation).sql == "BIGINT[]"
    tests = columns(table_spec("validations"))["tests"]
    assert tests.sql == "MAP(VARCHAR, VARCHAR)"
    assert tests.arrow == pa.map_(pa.string(), pa.string())
    assert columns(table_spec("builds"))["reason"].sql == "VARCHAR"


def test_unsupported_annotation_is_an_error():
    with pytest.raises(TypeError, match="no catalog column type"):
        column_type(set[str])


def test_unknown_table_lists_valid_names():
    with pytest.raises(KeyError, match="valid tables: repos, candidates, builds, validations, instances, rejects, evaluations"):
        table_spec("instance")


def test_create_table_sql_is_idempotent_text():
    sql = create_table_sql(table_spec("instances"))
    assert sql.startswith('CREATE TABLE IF NOT EXISTS "instances"')
    assert '"FAIL_TO_PASS" VARCHAR[]' in sql


def test_batch_keeps_last_record_of_a_repeated_key_and_checks_type():
    batch = to_batch(table_spec("candidates"), [candidate(1), candidate(1, hints_text="later")])
    assert batch.num_rows == 1
    assert batch["hints_text"].to_pylist() == ["later"]
    assert batch["key"].to_pylist() == ["acme__widgets-1"]
    with pytest.raises(TypeError, match="stores TaskInstance, got Candidate"):
        to_batch(table_spec("instances"), [candidate(1)])


def test_record_hash_changes_with_content_only():
    a = to_batch(table_spec("candidates"), [candidate(1)])["record_hash"][0].as_py()
    b = to_batch(table_spec("candidates"), [candidate(1)])["record_hash"][0].as_py()
    c = to_batch(table_spec("candidates"), [candidate(1, hints_text="x")])["record_hash"][0].as_py()
    assert a == b != c


def test_null_in_a_later_added_column_takes_the_field_default():
    from datetime import datetime, timezone

    from envmine.warehouse.schema import from_row, table_spec

    row = {"instance_id": "o__r-1", "repo": "o/r", "base_commit": "a" * 40, "patch": "p", "test_patch": "t",
           "problem_statement": "s", "created_at": datetime(2026, 1, 1, tzinfo=timezone.utc),
           "FAIL_TO_PASS": ["t1"], "PASS_TO_PASS": [], "language": "python", "image": "img",
           "eval_script": "e", "source": "git", "runner": "pytest", "test_command": "c",
           "report_glob": None}
    instance = from_row(table_spec("instances"), row)
    assert instance.report_glob == "*"
