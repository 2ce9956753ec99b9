-- Per instance, the experts' judgments summed up (each reviewer's latest) and the machine's
-- quality codes: the labels that `curated` filters on and that exports carry.
WITH task AS (SELECT * FROM judgments WHERE subject_kind = 'task'),
scores AS (
    SELECT subject AS instance_id,
           count(DISTINCT reviewer) AS reviewers,
           avg(try_cast(value AS DOUBLE)) FILTER (WHERE field = 'clarity') AS clarity,
           avg(try_cast(value AS DOUBLE)) FILTER (WHERE field = 'validity') AS validity,
           list(DISTINCT value ORDER BY value) FILTER (WHERE field = 'difficulty') AS difficulty,
           list(DISTINCT value ORDER BY value) FILTER (WHERE field = 'env_problem' AND value <> '') AS env_problems,
           coalesce(bool_or(value IN ('1', 'true', 'yes')) FILTER (WHERE field = 'veto'), false) AS vetoed,
           arg_max(value, created_at) FILTER (WHERE field = 'statement' AND trim(value) <> '') AS rewritten_statement
    FROM task GROUP BY subject
),
codes AS (SELECT instance_id, list(code ORDER BY code) AS quality_codes FROM quality GROUP BY instance_id)
SELECT i.instance_id, i.repo, i.language,
       coalesce(s.reviewers, 0) AS reviewers,
       s.clarity, s.validity, s.difficulty, s.env_problems,
       coalesce(s.vetoed, false) AS vetoed,
       s.rewritten_statement,
       coalesce(c.quality_codes, []::VARCHAR[]) AS quality_codes
FROM instances AS i
LEFT JOIN scores AS s USING (instance_id)
LEFT JOIN codes AS c USING (instance_id)
