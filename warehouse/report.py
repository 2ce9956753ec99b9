"""`envmine report`: the catalog's state as one self-contained HTML file with plots.

    with Catalog.open(catalog_dir, read_only=True) as catalog:
        write_report(catalog, "report.html")

Every figure is inline SVG (no script, no stylesheet or font from the network), so the file
opens offline and can be mailed. Each section reads one query; a section whose tables are
empty (or absent from this catalog, like expert judgments before anyone reviewed) says so
instead of drawing an empty plot.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cache
from pathlib import Path

import duckdb
import jinja2

from envmine.warehouse import plots
from envmine.warehouse.catalog import Catalog

QUERIES = {
    "totals": """SELECT (SELECT count(*) FROM candidates) AS candidates,
                        (SELECT count(*) FROM instances) AS instances,
                        (SELECT count(*) FROM rejects) AS rejects,
                        (SELECT count(DISTINCT repo) FROM candidates) AS repos,
                        (SELECT count(*) FROM evaluations) AS evaluations""",
    "funnel_language": "SELECT language, candidates, built, validated, instances FROM language_funnel",
    "funnel_source": """SELECT source, sum(candidates) AS candidates, sum(built) AS built,
                               sum(validated) AS validated, sum(instances) AS instances
                        FROM funnel GROUP BY source ORDER BY source""",
    "rejects": """SELECT stage || ':' || reason AS reason, sum(rejects)::BIGINT AS rejects
                  FROM reject_reasons GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 20""",
    "build_time": "SELECT layer, duration_s FROM builds WHERE status = 'built' ORDER BY layer",
    "image_size": """SELECT layer, max(size_bytes) / 1e6 AS mb FROM builds
                     WHERE status <> 'failed' AND size_bytes IS NOT NULL
                     GROUP BY layer, image ORDER BY layer""",
    "validation_time": """SELECT split_part(phase, '#', 1) AS phase,
                                 duration_s FROM validations ORDER BY phase""",
    "flaky": """SELECT instance_id, test, pass_rate, in_fail_to_pass FROM flaky_tests
                ORDER BY pass_rate, instance_id, test""",
    "test_counts": """SELECT len(FAIL_TO_PASS) AS f2p, len(PASS_TO_PASS) AS p2p FROM instances""",
    "pass_at_k": "SELECT * FROM pass_at_k",
    "cost": """
        WITH b AS (
            SELECT instance_id, sum(duration_s) AS build_s, sum(cpu_s) AS build_cpu_s,
                   max(size_bytes) FILTER (WHERE layer = 'task') AS image_bytes,
                   max(size_bytes) FILTER (WHERE layer = 'task')
                     - coalesce(max(size_bytes) FILTER (WHERE layer = 'repo'), 0) AS own_bytes
            FROM builds GROUP BY instance_id),
        v AS (SELECT instance_id, sum(duration_s) AS validate_s, sum(cpu_s) AS validate_cpu_s
              FROM validations GROUP BY instance_id),
        r AS (SELECT subject AS instance_id, arg_max(stage, rejected_at) AS stage FROM rejects GROUP BY subject),
        o AS (
            SELECT CASE WHEN i.instance_id IS NOT NULL THEN 'validated task'
                        WHEN r.stage IS NOT NULL THEN 'reject (' || r.stage || ')'
                        ELSE 'pending' END AS outcome,
                   coalesce(b.build_s, 0) AS build_s, coalesce(v.validate_s, 0) AS validate_s,
                   coalesce(b.build_cpu_s + v.validate_cpu_s, b.build_cpu_s, v.validate_cpu_s) AS cpu_s,
                   b.own_bytes, b.image_bytes
            FROM candidates AS c
            LEFT JOIN instances AS i USING (instance_id)
            LEFT JOIN r USING (instance_id)
            LEFT JOIN b USING (instance_id)
            LEFT JOIN v USING (instance_id))
        SELECT outcome, count(*) AS items,
               round(avg(build_s), 1) AS build_wall_s, round(avg(validate_s), 1) AS validate_wall_s,
               round(avg(build_s + validate_s), 1) AS wall_s, round(avg(cpu_s), 1) AS cpu_s,
               round(avg(own_bytes) / 1e6, 1) AS task_layer_mb,
               round(avg(image_bytes) / 1e6, 1) AS image_mb
        FROM o GROUP BY outcome ORDER BY outcome""",
    "quality": "SELECT code, count(*) AS instances FROM quality GROUP BY code ORDER BY 2 DESC, 1",
    "judgments": """SELECT field, value, count(*) AS judgments FROM judgments
                    WHERE subject_kind = 'task' AND field IN ('clarity', 'validity', 'difficulty')
                    GROUP BY field, value ORDER BY field, value""",
}
CPU_NOTE = ("CPU-seconds are the engine's cgroup usage: each test run's sandbox, and each build's "
            "RUN steps sampled every 0.05 s (a step's last interval is missed); a reused layer costs "
            "none, and catalogs written before they were recorded show none.")


@dataclass
class Section:
    """One part of the report: a title, what it shows, a plot and/or a table."""

    title: str
    note: str = ""
    svg: str | None = None
    columns: list[str] = field(default_factory=list)
    rows: list[list[object]] = field(default_factory=list)
    empty: str = ""
    """Why there is nothing to show (no rows yet, or the catalog lacks the table)."""


def _query(catalog: Catalog, name: str) -> list[dict] | None:
    """The rows of query `name`, or None when this catalog lacks a table it reads."""
    try:
        return catalog.sql(QUERIES[name]).to_pylist()
    except duckdb.CatalogException:
        return None


def _group(rows: list[dict], key: str, value: str) -> dict[str, list[float]]:
    groups: dict[str, list[float]] = {}
    for row in rows:
        if row[value] is not None:
            groups.setdefault(str(row[key]), []).append(float(row[value]))
    return groups


def _funnel(rows, key: str, title: str) -> Section:
    if not rows:
        return Section(title, empty="no candidates in the catalog yet")
    steps = ("candidates", "built", "validated", "instances")
    svg = plots.bars([r[key] or "?" for r in rows], {s: [r[s] for r in rows] for s in steps},
                     title, ylabel="items")
    return Section(title, svg=svg, columns=[key, *steps], rows=[[r[key], *(r[s] for s in steps)] for r in rows])


def _hist(rows, key: str, value: str, title: str, xlabel: str, note: str = "") -> Section:
    groups = _group(rows or [], key, value)
    if not groups:
        return Section(title, note=note, empty="no rows in the catalog yet")
    table = [[name, len(vs), round(min(vs), 2), round(sorted(vs)[len(vs) // 2], 2), round(max(vs), 2)]
             for name, vs in groups.items()]
    return Section(title, note=note, svg=plots.histogram(groups, title, xlabel),
                   columns=[key, "n", "min", "median", "max"], rows=table)


def _rejects(rows) -> Section:
    title = "Reject reasons"
    if not rows:
        return Section(title, empty="nothing rejected yet")
    svg = plots.bars([r["reason"] for r in rows], {"rejects": [r["rejects"] for r in rows]},
                     title, ylabel="rejects", horizontal=True)
    return Section(title, note="stage:reason, the 20 most frequent", svg=svg,
                   columns=["stage:reason", "rejects"], rows=[[r["reason"], r["rejects"]] for r in rows])


def _flaky(rows) -> Section:
    title = "Flaky tests"
    note = "tests whose repeated before or after runs disagree (dropped from curated instances, or all a rejected candidate had)"
    if not rows:
        return Section(title, note=note, empty="no flaky tests: every curated test passed in every repeated run")
    by_instance = _group([{"i": r["instance_id"], "one": 1.0} for r in rows], "i", "one")
    svg = plots.bars(list(by_instance), {"flaky tests": [len(v) for v in by_instance.values()]},
                     title, ylabel="tests", horizontal=True)
    return Section(title, note=note, svg=svg, columns=["instance", "test", "pass rate", "in F2P"],
                   rows=[[r["instance_id"], r["test"], r["pass_rate"], r["in_fail_to_pass"]] for r in rows[:30]])


def _test_counts(rows) -> Section:
    title = "FAIL_TO_PASS and PASS_TO_PASS sizes"
    if not rows:
        return Section(title, empty="no curated instances yet")
    groups = {"FAIL_TO_PASS": [r["f2p"] for r in rows], "PASS_TO_PASS": [r["p2p"] for r in rows]}
    table = [[name, len(vs), min(vs), sorted(vs)[len(vs) // 2], max(vs)] for name, vs in groups.items()]
    return Section(title, note="tests per curated instance", svg=plots.histogram(groups, title, "tests"),
                   columns=["list", "instances", "min", "median", "max"], rows=table)


def _pass_at_k(rows) -> Section:
    title = "Evaluation: pass@k per model, language and perturbation"
    if not rows:
        return Section(title, empty="no evaluations yet (`envmine eval`)")
    groups = sorted({(r["model"], r["language"], r["perturbation"]) for r in rows})
    ks = sorted({r["k"] for r in rows})
    value = {(r["model"], r["language"], r["perturbation"], r["k"]): r["pass_at_k"] for r in rows}
    series = {f"pass@{k}": [value.get((*g, k), 0.0) for g in groups] for k in ks[:4]}
    svg = plots.bars([" / ".join(g) for g in groups], series, title, ylabel="pass@k", horizontal=True)
    cols = ["model", "language", "perturbation", "k", "tasks", "attempts", "pass@k"]
    return Section(title, note="from the `pass_at_k` view", svg=svg, columns=cols,
                   rows=[[r["model"], r["language"], r["perturbation"], r["k"], r["tasks"],
                          r["attempts"], r["pass_at_k"]] for r in rows])


def _cost(rows) -> Section:
    title = "Cost per validated task and per reject"
    if not rows:
        return Section(title, note=CPU_NOTE, empty="no candidates yet")
    outcomes = [r["outcome"] for r in rows]
    svg = plots.bars(outcomes, {"build wall s": [r["build_wall_s"] for r in rows],
                                "validation wall s": [r["validate_wall_s"] for r in rows],
                                "CPU s": [r["cpu_s"] or 0.0 for r in rows]},
                     title, ylabel="seconds per item (mean)")
    cols = ["outcome", "items", "build wall s", "validation wall s", "wall s", "CPU s",
            "task layer MB", "image MB"]
    keys = ["outcome", "items", "build_wall_s", "validate_wall_s", "wall_s", "cpu_s", "task_layer_mb", "image_mb"]
    return Section(title, note="means per candidate, by how it ended. " + CPU_NOTE, svg=svg,
                   columns=cols, rows=[[r[k] for k in keys] for r in rows])


def _counts(rows, title: str, key: str, value: str, missing: str, note: str = "") -> Section:
    if rows is None:
        return Section(title, note=note, empty=missing)
    if not rows:
        return Section(title, note=note, empty="none recorded yet")
    labels = [" = ".join(str(r[k]) for k in key.split(",")) for r in rows]
    svg = plots.bars(labels, {value: [r[value] for r in rows]}, title, ylabel=value, horizontal=True)
    return Section(title, note=note, svg=svg, columns=[key.replace(",", ", "), value],
                   rows=[[label, r[value]] for label, r in zip(labels, rows)])


def sections(catalog: Catalog) -> list[Section]:
    """Every section of the report, from the catalog's current state."""
    q = {name: _query(catalog, name) for name in QUERIES if name != "totals"}
    return [
        _funnel(q["funnel_language"], "language", "Funnel per language"),
        _funnel(q["funnel_source"], "source", "Funnel per source"),
        _rejects(q["rejects"]),
        _hist(q["build_time"], "layer", "duration_s", "Build time", "seconds per built layer",
              note="layers actually built (reused layers cost nothing)"),
        _hist(q["image_size"], "layer", "mb", "Image size", "MB per image (with its parent layers)"),
        _hist(q["validation_time"], "phase", "duration_s", "Validation time", "seconds per test run",
              note="before: test patch only; after: test patch + gold patch (every repeat)"),
        _flaky(q["flaky"]),
        _test_counts(q["test_counts"]),
        _pass_at_k(q["pass_at_k"]),
        _cost(q["cost"]),
        _counts(q["quality"], "Quality codes", "code", "instances",
                "this catalog has no quality table"),
        _counts(q["judgments"], "Expert judgments", "field,value", "judgments",
                "this catalog has no expert judgments (no annotations table)",
                note="each reviewer's latest task judgment"),
    ]


@cache
def _template() -> jinja2.Template:
    env = jinja2.Environment(loader=jinja2.PackageLoader("envmine.warehouse", "templates"),
                             undefined=jinja2.StrictUndefined, autoescape=True)
    return env.get_template("report.html.j2")


def render(catalog: Catalog, now: datetime | None = None) -> str:
    """The report as HTML text."""
    totals = catalog.sql(QUERIES["totals"]).to_pylist()[0]
    return _template().render(
        sections=sections(catalog), totals=totals, version=catalog.version(),
        catalog_dir=str(catalog.catalog_dir),
        generated=(now or datetime.now(timezone.utc)).strftime("%Y-%m-%d %H:%M UTC"))


def write_report(catalog: Catalog, out: str | Path) -> Path:
    """Write the report to `out` (atomically) and return its path."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(render(catalog))
    tmp.replace(out)
    return out
