-- dashboard: one department, the last 90 days by day, split by physical harm. The day
-- rows of the rollup and the deltas not yet folded, in one statement, as the server reads
-- them. Variables: :dept, :from90, :today.
SELECT 0 AS src, department_id, grain, dimension, bucket, value, n, NULL AS sign, NULL AS reported_day, NULL AS kind, NULL AS physical_harm, NULL AS psychological_harm, NULL AS category, NULL AS status, NULL AS near_miss, NULL AS triaged_day, NULL AS triage_seconds, NULL AS closed_day, NULL AS close_seconds
  FROM incident_rollup WHERE department_id IN (:dept) AND dimension IN (0, 2) AND (grain = 1 AND bucket BETWEEN :from90 AND :today)
UNION ALL
SELECT 1, department_id, NULL, NULL, NULL, NULL, NULL, sign, reported_day, kind, physical_harm, psychological_harm, category, status, near_miss, triaged_day, triage_seconds, closed_day, close_seconds
  FROM incident_rollup_delta WHERE department_id IN (:dept);
