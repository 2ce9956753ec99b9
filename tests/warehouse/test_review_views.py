"""The review views: each reviewer's latest judgment, Cohen's kappa against a direct
computation, and the curated set under configured thresholds."""

from __future__ import annotations

import random
from collections import Counter
from datetime import timedelta

import pytest

from envmine.records import Annotation, QualityFlag
from envmine.settings import CuratedSettings
from envmine.testing.lake_records import T0, candidate, instance
from envmine.warehouse.catalog import Catalog
from envmine.warehouse.views import curation_sql


def note(n: int, reviewer: str, subject: str, field: str, value: str, minutes: int = 0) -> Annotation:
    return Annotation(annotation_id=f"a{n:04d}", reviewer=reviewer, subject_kind="task", subject=subject,
                      field=field, value=value, created_at=T0 + timedelta(minutes=minutes))


def cohen_kappa(a: list[str], b: list[str]) -> float:
    n = len(a)
    p_o = sum(x == y for x, y in zip(a, b)) / n
    ca, cb = Counter(a), Counter(b)
    p_e = sum(ca[k] * cb[k] for k in ca) / (n * n)
    return (p_o - p_e) / (1 - p_e)


@pytest.fixture
def catalog(catalog_dir):
    with Catalog.open(catalog_dir) as cat:
        cat.upsert("instances", [instance(candidate(n)) for n in range(1, 7)])
        yield cat


def test_judgments_keep_every_row_and_show_the_latest(catalog):
    catalog.upsert("annotations", [note(1, "alice", "acme__widgets-1", "clarity", "0", 0),
                                   note(2, "alice", "acme__widgets-1", "clarity", "2", 5),
                                   note(3, "bob", "acme__widgets-1", "clarity", "1", 1)])
    rows = catalog.sql("SELECT reviewer, value, revisions FROM judgments ORDER BY reviewer").to_pylist()
    assert rows == [{"reviewer": "alice", "value": "2", "revisions": 2}, {"reviewer": "bob", "value": "1", "revisions": 1}]
    assert catalog.sql("SELECT count(*) AS n FROM annotations")["n"][0].as_py() == 3


def test_kappa_matches_a_direct_computation(catalog):
    rng = random.Random(7)
    subjects = [f"acme__widgets-{n}" for n in range(1, 7)] + [f"other-{n}" for n in range(30)]
    alice = [rng.choice("0123") for _ in subjects]
    bob = [x if rng.random() < 0.6 else rng.choice("0123") for x in alice]
    rows = [note(n, "alice", s, "clarity", v) for n, (s, v) in enumerate(zip(subjects, alice))]
    rows += [note(100 + n, "bob", s, "clarity", v) for n, (s, v) in enumerate(zip(subjects, bob))]
    rows += [note(200, "carol", subjects[0], "clarity", "3")]  # alone on a subject: no pair with bob elsewhere
    catalog.upsert("annotations", rows)
    got = catalog.sql("SELECT * FROM agreement WHERE rater_a = 'alice' AND rater_b = 'bob'").to_pylist()[0]
    assert got["items"] == len(subjects)
    assert got["kappa"] == pytest.approx(cohen_kappa(alice, bob), abs=1e-4)
    pairs = catalog.sql("SELECT rater_a, rater_b, items FROM agreement ORDER BY 1, 2").to_pylist()
    assert pairs[1:] == [{"rater_a": "alice", "rater_b": "carol", "items": 1}, {"rater_a": "bob", "rater_b": "carol", "items": 1}]


def test_curated_drops_vetoed_unclear_invalid_and_follows_the_thresholds(catalog):
    catalog.upsert("annotations", [
        note(1, "alice", "acme__widgets-1", "veto", "1"),
        note(2, "alice", "acme__widgets-2", "clarity", "3"), note(3, "bob", "acme__widgets-2", "clarity", "2"),
        note(4, "alice", "acme__widgets-3", "validity", "2"), note(5, "bob", "acme__widgets-3", "validity", "0"),
        note(6, "alice", "acme__widgets-4", "clarity", "1"), note(7, "alice", "acme__widgets-4", "statement", "Rewritten."),
    ])
    catalog.upsert("quality", [QualityFlag(instance_id="acme__widgets-5", code="statement_leaks_fix", detail="x")])
    kept = catalog.sql("SELECT instance_id, rewritten_statement, quality_codes FROM curated ORDER BY 1").to_pylist()
    assert [r["instance_id"] for r in kept] == ["acme__widgets-3", "acme__widgets-4", "acme__widgets-5", "acme__widgets-6"]
    assert kept[1]["rewritten_statement"] == "Rewritten." and kept[2]["quality_codes"] == ["statement_leaks_fix"]
    strict = CuratedSettings(max_validity=0.5, min_reviewers=1, exclude_codes=["statement_leaks_fix"])
    for statement in curation_sql(strict):
        catalog.sql(statement)
    assert catalog.sql("SELECT instance_id FROM curated")["instance_id"].to_pylist() == ["acme__widgets-4"]


def test_a_catalog_written_before_the_review_tables_reads_them_as_empty(catalog_dir):
    with Catalog.open(catalog_dir) as cat:
        cat.upsert("instances", [instance(candidate(1))])
        for table in ("quality", "statements", "annotations", "episodes", "episode_steps"):
            cat.sql(f'DROP TABLE "{table}"')
    with Catalog.open(catalog_dir, read_only=True) as old:
        assert old.sql("SELECT instance_id, reviewers FROM curated").to_pylist() == [
            {"instance_id": "acme__widgets-1", "reviewers": 0}]
        assert old.sql("SELECT count(*) AS n FROM annotations")["n"][0].as_py() == 0
    with Catalog.open(catalog_dir) as writer:  # the next writer creates the tables for real
        writer.upsert("annotations", [note(1, "alice", "acme__widgets-1", "veto", "1")])
    with Catalog.open(catalog_dir, read_only=True) as new:
        assert new.sql("SELECT count(*) AS n FROM curated")["n"][0].as_py() == 0


def test_a_catalog_written_before_a_column_existed_reads_it_as_nulls(catalog_dir):
    """A read-only connection cannot add the columns a record gained since (`flaky_tests`,
    `test_categories`): the views that read them still bind, and the records take defaults."""
    with Catalog.open(catalog_dir) as cat:
        cat.upsert("instances", [instance(candidate(1))])
        for column in ("flaky_tests", "test_categories"):
            cat.sql(f'ALTER TABLE instances DROP COLUMN "{column}"')
    with Catalog.open(catalog_dir, read_only=True) as old:
        assert old.sql("SELECT count(*) AS n FROM flaky_tests")["n"][0].as_py() == 0
        (stored,) = old.instances()
        assert stored.flaky_tests == [] and stored.test_categories == {}
    with Catalog.open(catalog_dir) as writer:  # the next writer adds the columns for real
        assert writer.instances()[0].flaky_tests == []


def test_exports_take_the_curated_set_and_carry_its_labels(catalog, tmp_path):
    import json

    import pyarrow.parquet as pq

    from envmine.warehouse.dataset import export_dataset
    from envmine.warehouse.export import export_shards

    catalog.upsert("annotations", [note(1, "alice", "acme__widgets-2", "veto", "true"),
                                   note(2, "alice", "acme__widgets-3", "clarity", "3"),
                                   note(3, "bob", "acme__widgets-1", "clarity", "0")])
    kept = sorted(f"acme__widgets-{n}" for n in (1, 4, 5, 6))
    shards = export_shards(catalog, tmp_path / "shards", curated=True)
    assert shards.curated and shards.total_rows == 4
    rows = pq.read_table(tmp_path / "shards" / shards.shards[0].path).column("instance_id").to_pylist()
    assert rows == kept
    labels = pq.read_table(tmp_path / "shards" / "labels.parquet").to_pylist()
    assert [r["instance_id"] for r in labels] == kept and labels[0]["clarity"] == 0.0
    hf = export_dataset(catalog, tmp_path / "hf", fmt="hf", curated=True)
    assert hf.curated and hf.total_rows == 4
    assert json.loads((tmp_path / "hf" / "manifest.json").read_text())["curated"] is True
    assert export_shards(catalog, tmp_path / "all").total_rows == 6  # the default stays every validated task
    assert not (tmp_path / "all" / "labels.parquet").exists()
