"""Analyst views: fixed SQL files in `warehouse/sql/`, created as temporary views on each
catalog connection, so `SELECT * FROM funnel` works in any session (read-only ones too)
without writing a snapshot.

| view | one row per | what |
| --- | --- | --- |
| `funnel` | source, repo, language | candidates -> built -> validated -> instances, rejects per stage and per `stage:reason` |
| `language_funnel` | language | the funnel summed per language, with the yield |
| `reject_reasons` | stage, reason, language | reject counts, repositories affected, an example |
| `flaky_tests` | instance, test | tests whose repeated `before` or `after` runs disagree (curated instances' dropped ones, and rejected candidates'), with the `after` pass rate |
| `pass_at_k` | model, language, perturbation, k | unbiased pass@k over the `evaluations` attempts |
| `judgments` | reviewer, subject, field | each reviewer's latest annotation (annotations are append-only) |
| `agreement` | field, pair of reviewers | Cohen's kappa over the subjects both judged (judge models included) |
| `task_labels` | instance | the experts' scores, vetoes, rewritten statement and the quality codes |
| `curated` | instance | validated instances minus vetoed, unclear or invalid ones (thresholds: `CuratedSettings`) |
"""

from __future__ import annotations

from importlib import resources

import duckdb

# In creation order: a view comes after the views it reads.
VIEWS = ("funnel", "language_funnel", "reject_reasons", "flaky_tests", "pass_at_k",
         "judgments", "agreement", "task_labels", "curated")


def view_sql(name: str) -> str:
    """The SQL text of view `name`; an unknown name's error lists the valid ones."""
    if name not in VIEWS:
        raise KeyError(f"unknown view {name!r}; valid views: {', '.join(VIEWS)}")
    return resources.files("envmine.warehouse.sql").joinpath(f"{name}.sql").read_text()


def create_views(con: duckdb.DuckDBPyConnection) -> None:
    """Create (or replace) every analyst view as a temporary view on `con`."""
    from envmine.settings import CuratedSettings

    for statement in curation_sql(CuratedSettings()):
        con.execute(statement)
    for name in VIEWS:
        con.execute(f'CREATE OR REPLACE TEMP VIEW "{name}" AS {view_sql(name)}')


def curation_sql(curated) -> list[str]:
    """`SET VARIABLE` statements for the `curated` view's thresholds (a `CuratedSettings`);
    run them on a connection (`catalog.sql(...)`) to apply a config's thresholds."""
    codes = ", ".join("'" + str(code).replace("'", "''") + "'" for code in curated.exclude_codes)
    return [f"SET VARIABLE curated_max_clarity = {float(curated.max_clarity)!r}",
            f"SET VARIABLE curated_max_validity = {float(curated.max_validity)!r}",
            f"SET VARIABLE curated_min_reviewers = {int(curated.min_reviewers)}",
            f"SET VARIABLE curated_exclude_codes = [{codes}]::VARCHAR[]"]
