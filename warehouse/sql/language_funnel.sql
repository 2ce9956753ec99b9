-- The funnel per language, with the yield (curated instances per candidate).
SELECT language,
       sum(candidates)::BIGINT AS candidates,
       sum(built)::BIGINT AS built,
       sum(validated)::BIGINT AS validated,
       sum(instances)::BIGINT AS instances,
       round(sum(instances) / nullif(sum(candidates), 0), 4) AS yield,
       sum(rejected)::BIGINT AS rejected,
       sum(rejected_mine)::BIGINT AS rejected_mine,
       sum(rejected_build)::BIGINT AS rejected_build,
       sum(rejected_validate)::BIGINT AS rejected_validate
FROM funnel
GROUP BY language
ORDER BY language
