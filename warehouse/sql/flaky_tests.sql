-- Flaky tests, queryable per repository: a test is flaky when it passed in some but not all of
-- the repeated runs of one state (`before`, or `after`). Curated instances list theirs in
-- `flaky_tests` (left out of FAIL_TO_PASS and PASS_TO_PASS; `dropped`) and keep every test's
-- `after` pass rate in `stability`; a candidate rejected without an instance (reason `flaky`:
-- nothing stable remained) has its rates read from its runs in `validations`.
-- Lowest `after` pass rate first.
WITH instance_rates AS (
    SELECT instance_id, repo, language, FAIL_TO_PASS, PASS_TO_PASS, flaky_tests,
           unnest(map_keys(stability)) AS test,
           unnest(map_values(stability)) AS pass_rate
    FROM instances
),
curated AS (
    SELECT instance_id, repo, language, test, pass_rate,
           list_contains(FAIL_TO_PASS, test) AS in_fail_to_pass,
           list_contains(PASS_TO_PASS, test) AS in_pass_to_pass,
           coalesce(list_contains(flaky_tests, test), false) AS dropped
    FROM instance_rates
    WHERE pass_rate < 1.0 OR list_contains(flaky_tests, test)
),
state_runs AS (
    SELECT instance_id, split_part(phase, '#', 1) AS state, tests
    FROM validations
    WHERE split_part(phase, '#', 1) IN ('before', 'after')
      AND instance_id NOT IN (SELECT instance_id FROM instances)
),
run_counts AS (
    SELECT instance_id, state, count(*) AS runs FROM state_runs GROUP BY ALL
),
results AS (
    SELECT instance_id, state, unnest(map_keys(tests)) AS test, unnest(map_values(tests)) AS status
    FROM state_runs
),
rates AS (
    SELECT r.instance_id, r.state, r.test,
           count(*) FILTER (WHERE r.status = 'PASSED') / any_value(n.runs) AS rate
    FROM results AS r JOIN run_counts AS n USING (instance_id, state)
    GROUP BY ALL
),
rejected AS (
    SELECT instance_id, test, coalesce(max(rate) FILTER (WHERE state = 'after'), 0.0) AS pass_rate
    FROM rates
    GROUP BY ALL
    HAVING bool_or(rate > 0.0 AND rate < 1.0)
)
SELECT * FROM curated
UNION ALL BY NAME
SELECT j.instance_id, c.repo, c.language, j.test, j.pass_rate,
       false AS in_fail_to_pass, false AS in_pass_to_pass, true AS dropped
FROM rejected AS j LEFT JOIN candidates AS c USING (instance_id)
ORDER BY pass_rate, instance_id, test
