-- The curated set: validated instances minus those the experts vetoed or scored unclear or
-- invalid (mean of the reviewers' latest scores above the thresholds; SWE-bench Verified's
-- scale, 0 = best), minus those carrying an excluding quality code. Thresholds are session
-- variables set from `[settings.review.curated]` (defaults in envmine.settings).
SELECT i.*, l.reviewers, l.clarity, l.validity, l.difficulty, l.env_problems,
       l.rewritten_statement, l.quality_codes
FROM instances AS i
JOIN task_labels AS l USING (instance_id)
WHERE NOT l.vetoed
  AND (l.clarity IS NULL OR l.clarity <= getvariable('curated_max_clarity'))
  AND (l.validity IS NULL OR l.validity <= getvariable('curated_max_validity'))
  AND l.reviewers >= getvariable('curated_min_reviewers')
  AND NOT list_has_any(l.quality_codes, getvariable('curated_exclude_codes'))
