-- dashboard: the whole trust, when this instance holds the rollup rows already: the
-- generation and every delta not yet folded, in one statement, as the server reads them.
SELECT m.generation, m.built_at, d.department_id, d.sign, d.reported_day, d.kind, d.physical_harm, d.psychological_harm, d.category, d.status, d.near_miss, d.triaged_day, d.triage_seconds, d.closed_day, d.close_seconds
  FROM rollup_meta AS m LEFT JOIN incident_rollup_delta AS d ON 1 = 1
  WHERE m.id = 1;
