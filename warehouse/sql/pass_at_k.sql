-- pass@k per model, language and perturbation, for every k up to the attempts a task got:
-- the unbiased estimator 1 - C(n-c, k) / C(n, k) (Chen et al. 2021) per task, averaged over
-- the tasks that had at least k attempts. `perturbation` is 'none' for unperturbed episodes.
WITH tasks AS (
    SELECT model, coalesce(nullif(language, ''), '?') AS language,
           coalesce(nullif(perturbation, ''), 'none') AS perturbation, instance_id,
           count(*) AS n, count(*) FILTER (WHERE resolved) AS c
    FROM evaluations
    GROUP BY ALL
),
task_k AS (
    SELECT model, language, perturbation, instance_id, n, c, unnest(range(1, n + 1)) AS k
    FROM tasks
),
terms AS (
    SELECT model, language, perturbation, instance_id, n, c, k, unnest(range(k)) AS i
    FROM task_k
),
per_task AS (
    SELECT model, language, perturbation, instance_id, n, c, k,
           CASE WHEN n - c < k THEN 1.0
                ELSE 1.0 - product((n - c - i)::DOUBLE / (n - i)) END AS pass_at_k
    FROM terms
    GROUP BY model, language, perturbation, instance_id, n, c, k
)
SELECT model, language, perturbation, k,
       count(*) AS tasks,
       sum(n)::BIGINT AS attempts,
       sum(c)::BIGINT AS resolved,
       round(avg(pass_at_k), 6) AS pass_at_k
FROM per_task
GROUP BY model, language, perturbation, k
ORDER BY model, language, perturbation, k
