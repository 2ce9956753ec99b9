-- Tests of curated instances that did not pass in every repeated `after` run, from the
-- instances' per-test stability (pass rate), lowest pass rate first.
WITH rates AS (
    SELECT instance_id, repo, language, FAIL_TO_PASS, PASS_TO_PASS,
           unnest(map_keys(stability)) AS test,
           unnest(map_values(stability)) AS pass_rate
    FROM instances
)
SELECT instance_id, repo, language, test, pass_rate,
       list_contains(FAIL_TO_PASS, test) AS in_fail_to_pass,
       list_contains(PASS_TO_PASS, test) AS in_pass_to_pass
FROM rates
WHERE pass_rate < 1.0
ORDER BY pass_rate, instance_id, test
