"""The review stage's catalog reads and writes (the catalog itself stays behind `Catalog`).

- `assess`: quality codes and the template statement for every instance (stale codes retracted);
- `annotate`: a reviewer's judgments, append-only, only the fields whose value changed;
- `queue`, `task`, `episodes`, `episode`: what the pages show, by parameterized SQL.
"""

from __future__ import annotations

import secrets
from typing import Any

from envmine.records import Annotation, QualityFlag, TaskInstance, TestRun
from envmine.review.statements import model_statement, template_statement
from envmine.validators.quality import assess as quality_codes
from envmine.warehouse.catalog import Catalog
from envmine.warehouse.schema import TABLES, from_row

QUEUE_LIMIT = 500
UNSET = {"veto": "0"}
"""What a field means before anyone set it: writing that value changes nothing."""


def _records(catalog: Catalog, table: str, where: str = "", params: list[Any] | None = None) -> list[Any]:
    spec = TABLES[table]
    rows = catalog.sql(f'SELECT * FROM "{table}" {where}', params).to_pylist()
    return [from_row(spec, row) for row in rows]


def before_runs(catalog: Catalog) -> dict[str, TestRun]:
    return {run.instance_id: run for run in _records(catalog, "validations", "WHERE phase = 'before'")}


def assess(catalog: Catalog, endpoint: str | None = None, model: str = "") -> dict[str, int]:
    """Quality codes and issue-style statements for every instance, in one commit; codes that
    no longer apply are retracted. Returns counts of instances, codes and statements."""
    instances: list[TaskInstance] = catalog.instances()
    befores = before_runs(catalog)
    flags: list[QualityFlag] = []
    statements = []
    for instance in instances:
        before = befores.get(instance.instance_id)
        flags += quality_codes(instance, before)
        statements.append(template_statement(instance, before))
        if endpoint:
            statements.append(model_statement(instance, before, endpoint, model))
    fresh = {flag.key for flag in flags}
    stale = sorted(catalog.keys("quality") - fresh)
    catalog.commit({"quality": flags, "statements": statements}, retract={"quality": stale})
    return {"instances": len(instances), "codes": len(flags), "statements": len(statements), "retracted": len(stale)}


def latest(catalog: Catalog, reviewer: str, subject: str) -> dict[str, str]:
    """`reviewer`'s current value of each field on `subject`."""
    rows = catalog.sql("SELECT field, value FROM judgments WHERE reviewer = ? AND subject = ?", [reviewer, subject])
    return dict(zip(rows["field"].to_pylist(), rows["value"].to_pylist()))


def annotate(catalog: Catalog, reviewer: str, kind: str, subject: str, values: dict[str, str]) -> int:
    """Append `reviewer`'s judgments of `subject` (values already checked by `fields`); a field
    whose value equals the reviewer's current one writes nothing. Returns rows written."""
    current = latest(catalog, reviewer, subject)
    rows = [Annotation(annotation_id=secrets.token_hex(12), reviewer=reviewer, subject_kind=kind,
                       subject=subject, field=field, value=value)
            for field, value in values.items() if current.get(field, UNSET.get(field, "")) != value]
    return catalog.upsert("annotations", rows) if rows else 0


def queue(catalog: Catalog, reviewer: str, language: str = "", repo: str = "", code: str = "",
          todo: bool = False) -> list[dict[str, Any]]:
    """Instances to review, filtered; `todo` keeps those `reviewer` has not judged yet."""
    query = """
        SELECT i.instance_id, i.repo, i.language, len(i.FAIL_TO_PASS) AS f2p, len(i.PASS_TO_PASS) AS p2p,
               l.quality_codes, l.reviewers, l.clarity, l.validity, l.vetoed,
               EXISTS (SELECT 1 FROM judgments j WHERE j.subject = i.instance_id AND j.reviewer = $me) AS mine
        FROM instances AS i JOIN task_labels AS l USING (instance_id)
        WHERE ($language = '' OR i.language = $language)
          AND ($repo = '' OR i.repo = $repo)
          AND ($code = '' OR list_contains(l.quality_codes, $code))
        ORDER BY mine, l.reviewers, i.instance_id
        LIMIT $limit"""
    rows = catalog.sql(query, {"me": reviewer, "language": language, "repo": repo, "code": code,
                               "limit": QUEUE_LIMIT}).to_pylist()
    return [row for row in rows if not (todo and row["mine"])]


def facets(catalog: Catalog) -> dict[str, list[str]]:
    """The values the queue's filters offer."""
    def values(query: str) -> list[str]:
        return [v for v in catalog.sql(query).column(0).to_pylist() if v]

    return {"language": values("SELECT DISTINCT language FROM instances ORDER BY 1"),
            "repo": values("SELECT DISTINCT repo FROM instances ORDER BY 1"),
            "code": values("SELECT DISTINCT code FROM quality ORDER BY 1")}


def has_instance(catalog: Catalog, instance_id: str) -> bool:
    return catalog.sql("SELECT count(*) AS n FROM instances WHERE instance_id = ?", [instance_id])["n"][0].as_py() > 0


def task(catalog: Catalog, instance_id: str) -> dict[str, Any] | None:
    """Everything the task page shows about one instance, or None when there is none."""
    found = _records(catalog, "instances", "WHERE instance_id = ?", [instance_id])
    if not found:
        return None
    runs = sorted(_records(catalog, "validations", "WHERE instance_id = ?", [instance_id]),
                  key=lambda r: (r.phase != "before", r.phase))
    builds = catalog.sql("SELECT layer, image, status, reason, duration_s, log FROM builds "
                         "WHERE instance_id = ? ORDER BY built_at", [instance_id]).to_pylist()
    return {
        "instance": found[0], "runs": runs, "builds": builds,
        "quality": _records(catalog, "quality", "WHERE instance_id = ? ORDER BY code", [instance_id]),
        "statements": _records(catalog, "statements", "WHERE instance_id = ? ORDER BY method", [instance_id]),
        "labels": catalog.sql("SELECT * FROM task_labels WHERE instance_id = ?", [instance_id]).to_pylist()[0],
        "others": catalog.sql("SELECT reviewer, field, value, created_at FROM judgments WHERE subject = ? "
                              "ORDER BY reviewer, field", [instance_id]).to_pylist(),
        "episodes": catalog.sql("SELECT run_id, instance_id, attempt, model, reward, resolved FROM episodes "
                                "WHERE instance_id = ? ORDER BY run_id, attempt", [instance_id]).to_pylist(),
    }


def episodes(catalog: Catalog) -> list[dict[str, Any]]:
    return catalog.sql("SELECT e.run_id, e.instance_id, e.attempt, e.model, e.reward, e.resolved, e.stop_reason, "
                       "e.tampering, (SELECT count(DISTINCT reviewer) FROM judgments j WHERE j.subject = e.key) "
                       "AS reviewers FROM episodes AS e ORDER BY e.instance_id, e.run_id, e.attempt").to_pylist()


def episode(catalog: Catalog, key: str) -> dict[str, Any] | None:
    """One episode (`run_id:instance_id:attempt`), its steps and its siblings on the same task."""
    found = _records(catalog, "episodes", "WHERE key = ?", [key])
    if not found:
        return None
    ep = found[0]
    steps = sorted(_records(catalog, "episode_steps", "WHERE run_id = ? AND instance_id = ? AND attempt = ?",
                            [ep.run_id, ep.instance_id, ep.attempt]), key=lambda s: s.step)
    siblings = [k for k in catalog.sql("SELECT key FROM episodes WHERE instance_id = ? AND key <> ? ORDER BY key",
                                       [ep.instance_id, key])["key"].to_pylist()]
    return {"episode": ep, "key": key, "steps": steps, "siblings": siblings}


def record_episodes(catalog: Catalog, run_id: str, model: str, instances: list[TaskInstance],
                    groups: list[list[Any]], diffs: dict[tuple[str, int], str] | None = None) -> int:
    """Store evaluation episodes (rl `Trajectory` groups, one group per instance, one attempt
    each) for the trajectory pages, in one commit. Returns rows written."""
    from envmine.review.episodes import to_records

    by_id = {i.instance_id: i for i in instances}
    episodes, steps = [], []
    for group in groups:
        for attempt, trajectory in enumerate(group):
            diff = (diffs or {}).get((trajectory.instance_id, attempt))
            episode, rows = to_records(run_id, model, by_id[trajectory.instance_id], attempt, trajectory, diff)
            episodes.append(episode)
            steps += rows
    return catalog.commit({"episodes": episodes, "episode_steps": steps})


def judge_episodes(catalog: Catalog, judge: Any, rubric: list[Any]) -> int:
    """Have a judge model (`rl.rubric_reward.JudgeConfig`) answer the rubric for every episode it
    has not judged yet; its answers become annotations by `judge:<model>`. Returns episodes judged."""
    from envmine.rl.rubric_reward import judge_annotations, judge_episode

    done = set(catalog.sql("SELECT DISTINCT subject FROM annotations WHERE reviewer = ?",
                           [f"judge:{judge.model}"])["subject"].to_pylist())
    rows = []
    for key in catalog.sql("SELECT key FROM episodes ORDER BY key")["key"].to_pylist():
        if key in done:
            continue
        found = episode(catalog, key)
        answers = judge_episode(judge, rubric, found["steps"], found["episode"].diff)
        rows += judge_annotations(judge.model, key, answers)
    catalog.upsert("annotations", rows)
    return len({row.subject for row in rows})
