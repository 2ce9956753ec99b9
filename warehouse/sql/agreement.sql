-- Inter-annotator agreement: Cohen's kappa per categorical field and pair of reviewers, over
-- the subjects both judged (a judge model is a reviewer named `judge:<model>`, so judge-expert
-- agreement is a row here too). kappa = (p_o - p_e) / (1 - p_e); NULL when p_e = 1.
WITH j AS (
    SELECT reviewer, subject, field, value FROM judgments
    WHERE field IN ('clarity', 'validity', 'difficulty', 'veto', 'env_problem', 'preference')
       OR field LIKE 'rubric:%'
),
pairs AS (
    SELECT a.field, a.reviewer AS rater_a, b.reviewer AS rater_b, a.subject, a.value AS va, b.value AS vb
    FROM j AS a JOIN j AS b ON a.field = b.field AND a.subject = b.subject AND a.reviewer < b.reviewer
),
observed AS (
    SELECT field, rater_a, rater_b, count(*) AS items,
           avg(CASE WHEN va = vb THEN 1.0 ELSE 0.0 END) AS p_o
    FROM pairs GROUP BY field, rater_a, rater_b
),
marg_a AS (SELECT field, rater_a, rater_b, va AS value, count(*) AS n FROM pairs GROUP BY ALL),
marg_b AS (SELECT field, rater_a, rater_b, vb AS value, count(*) AS n FROM pairs GROUP BY ALL),
expected AS (
    SELECT o.field, o.rater_a, o.rater_b,
           sum(ma.n * coalesce(mb.n, 0))::DOUBLE / (any_value(o.items) * any_value(o.items)) AS p_e
    FROM observed AS o
    JOIN marg_a AS ma USING (field, rater_a, rater_b)
    LEFT JOIN marg_b AS mb ON mb.field = o.field AND mb.rater_a = o.rater_a
         AND mb.rater_b = o.rater_b AND mb.value = ma.value
    GROUP BY o.field, o.rater_a, o.rater_b
)
SELECT o.field, o.rater_a, o.rater_b, o.items,
       round(o.p_o, 4) AS observed_agreement,
       round(e.p_e, 4) AS expected_agreement,
       CASE WHEN e.p_e < 1 THEN round((o.p_o - e.p_e) / (1 - e.p_e), 4) END AS kappa
FROM observed AS o JOIN expected AS e USING (field, rater_a, rater_b)
ORDER BY o.field, o.rater_a, o.rater_b
