-- Per source, repository and language: how many candidates were built, validated and became
-- curated instances, and how many items each stage rejected (per stage, and per
-- `stage:reason` in `rejects_by_reason`).
-- built: every layer's latest build succeeded; validated: the suite ran before and after.
WITH items AS (
    SELECT instance_id, source, repo, language FROM candidates
    UNION ALL
    SELECT instance_id, source, repo, language FROM instances
    WHERE instance_id NOT IN (SELECT instance_id FROM candidates)
),
latest_layer AS (
    SELECT instance_id, layer, arg_max(status, built_at) AS status
    FROM builds
    GROUP BY instance_id, layer
),
built AS (
    SELECT instance_id FROM latest_layer
    GROUP BY instance_id
    HAVING bool_and(status <> 'failed')
),
validated AS (
    SELECT instance_id FROM validations
    GROUP BY instance_id
    HAVING bool_or(phase = 'before' AND suite_ran) AND bool_or(phase LIKE 'after%' AND suite_ran)
),
progress AS (
    SELECT it.source, it.repo, it.language,
           count(*) AS candidates,
           count(b.instance_id) AS built,
           count(v.instance_id) AS validated,
           count(i.instance_id) AS instances
    FROM items AS it
    LEFT JOIN built AS b ON b.instance_id = it.instance_id
    LEFT JOIN validated AS v ON v.instance_id = it.instance_id
    LEFT JOIN instances AS i ON i.instance_id = it.instance_id
    GROUP BY it.source, it.repo, it.language
),
reject_items AS (
    SELECT r.stage, r.reason,
           coalesce(c.source, p.source, '') AS source,
           coalesce(nullif(r.repo, ''), c.repo,
                    CASE WHEN r.stage = 'discover' THEN r.subject END, '') AS repo,
           coalesce(nullif(r.language, ''), c.language, p.language, '') AS language
    FROM rejects AS r
    LEFT JOIN candidates AS c ON c.instance_id = r.subject
    LEFT JOIN repos AS p ON p.repo = coalesce(nullif(r.repo, ''), c.repo, r.subject)
),
reject_counts AS (
    SELECT source, repo, language,
           count(*) AS rejected,
           count(*) FILTER (WHERE stage = 'discover') AS rejected_discover,
           count(*) FILTER (WHERE stage = 'mine') AS rejected_mine,
           count(*) FILTER (WHERE stage = 'build') AS rejected_build,
           count(*) FILTER (WHERE stage = 'validate') AS rejected_validate,
           count(*) FILTER (WHERE stage = 'catalog') AS rejected_catalog
    FROM reject_items
    GROUP BY source, repo, language
),
reason_counts AS (
    SELECT source, repo, language, stage || ':' || reason AS stage_reason, count(*) AS n
    FROM reject_items
    GROUP BY source, repo, language, stage, reason
),
reason_maps AS (
    SELECT source, repo, language,
           map_from_entries(list({'k': stage_reason, 'v': n} ORDER BY stage_reason)) AS rejects_by_reason
    FROM reason_counts
    GROUP BY source, repo, language
)
SELECT coalesce(p.source, r.source) AS source,
       coalesce(p.repo, r.repo) AS repo,
       coalesce(p.language, r.language) AS language,
       coalesce(p.candidates, 0) AS candidates,
       coalesce(p.built, 0) AS built,
       coalesce(p.validated, 0) AS validated,
       coalesce(p.instances, 0) AS instances,
       coalesce(r.rejected, 0) AS rejected,
       coalesce(r.rejected_discover, 0) AS rejected_discover,
       coalesce(r.rejected_mine, 0) AS rejected_mine,
       coalesce(r.rejected_build, 0) AS rejected_build,
       coalesce(r.rejected_validate, 0) AS rejected_validate,
       coalesce(r.rejected_catalog, 0) AS rejected_catalog,
       coalesce(m.rejects_by_reason, MAP {}::MAP(VARCHAR, BIGINT)) AS rejects_by_reason
FROM progress AS p
FULL OUTER JOIN reject_counts AS r
    ON r.source = p.source AND r.repo = p.repo AND r.language = p.language
LEFT JOIN reason_maps AS m
    ON m.source = r.source AND m.repo = r.repo AND m.language = r.language
ORDER BY source, repo, language
