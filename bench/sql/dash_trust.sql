-- dashboard: the whole trust, the last five years by month, split by physical harm: the
-- whole months from the month rows, the partial first and last months from week and day
-- rows (bench.py fills in :runs, the ranges the server reads for this period), and the
-- deltas not yet folded, in one statement.
SELECT 0 AS src, department_id, grain, dimension, bucket, value, n, NULL AS sign, NULL AS reported_day, NULL AS kind, NULL AS physical_harm, NULL AS psychological_harm, NULL AS category, NULL AS status, NULL AS near_miss, NULL AS triaged_day, NULL AS triage_seconds, NULL AS closed_day, NULL AS close_seconds
  FROM incident_rollup WHERE department_id IN ('00000000-0000-0000-0000-000000000000') AND dimension IN (0, 2) AND (:runs)
UNION ALL
SELECT 1, department_id, NULL, NULL, NULL, NULL, NULL, sign, reported_day, kind, physical_harm, psychological_harm, category, status, near_miss, triaged_day, triage_seconds, closed_day, close_seconds
  FROM incident_rollup_delta;
