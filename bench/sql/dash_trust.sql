-- dashboard: the whole trust, the last five years by month, split by physical harm, when
-- this instance does not hold the rows yet (or a fold has changed them since): the deltas
-- not yet folded, then the whole months from the month rows and the partial first and last
-- months from week and day rows (bench.py fills in :runs, the ranges the server reads for
-- this period; the server sends one SELECT per range, this one SELECT with an OR), with
-- the rollups' generation, in one statement.
SELECT 1 AS src, department_id, NULL AS grain, NULL AS dimension, NULL AS bucket, NULL AS value, NULL AS n, sign, reported_day, kind, physical_harm, psychological_harm, category, status, near_miss, triaged_day, triage_seconds, closed_day, close_seconds, (SELECT generation FROM rollup_meta WHERE id = 1) AS generation, (SELECT built_at FROM rollup_meta WHERE id = 1) AS built_at
  FROM incident_rollup_delta
UNION ALL
SELECT 0, department_id, grain, dimension, bucket, value, n, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, (SELECT generation FROM rollup_meta WHERE id = 1) AS generation, (SELECT built_at FROM rollup_meta WHERE id = 1) AS built_at
  FROM incident_rollup WHERE department_id IN ('00000000-0000-0000-0000-000000000000') AND dimension IN (0, 2) AND (:runs);
