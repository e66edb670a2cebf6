-- dashboard: one department, the last 90 days by day, split by physical harm, when this
-- instance does not hold the rows yet (or a fold has changed them since): the deltas not yet
-- folded and the day rows of the rollup, with the rollups' generation, in one statement, as
-- the server reads them. Variables: :dept, :from90, :today.
SELECT 1 AS src, department_id, NULL AS grain, NULL AS dimension, NULL AS bucket, NULL AS value, NULL AS n, sign, reported_day, kind, physical_harm, psychological_harm, category, status, near_miss, triaged_day, triage_seconds, closed_day, close_seconds, (SELECT generation FROM rollup_meta WHERE id = 1) AS generation, (SELECT built_at FROM rollup_meta WHERE id = 1) AS built_at
  FROM incident_rollup_delta WHERE department_id IN (:dept)
UNION ALL
SELECT 0, department_id, grain, dimension, bucket, value, n, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, (SELECT generation FROM rollup_meta WHERE id = 1) AS generation, (SELECT built_at FROM rollup_meta WHERE id = 1) AS built_at
  FROM incident_rollup WHERE department_id IN (:dept) AND dimension IN (0, 2) AND grain = 1 AND bucket BETWEEN :from90 AND :today;
