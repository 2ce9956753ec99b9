-- Why items were dropped: per stage, reason and language, most frequent first, with one
-- example subject and its detail to start digging from.
SELECT stage, reason, language,
       count(*) AS rejects,
       count(DISTINCT nullif(repo, '')) AS repos,
       min(subject) AS example_subject,
       arg_min(detail, subject) AS example_detail
FROM rejects
GROUP BY stage, reason, language
ORDER BY rejects DESC, stage, reason, language
