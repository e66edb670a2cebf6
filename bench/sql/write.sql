-- reportIncident as the server sends it, with values of the same size: the year's
-- reference number, then the incident, its rollup delta, its trail event and one email per
-- recipient (the bench department's five handlers: its subject and template variables),
-- these four as one statement of data-modifying WITH parts, as the server sends them.
-- Variables: :dept (a department id), :year. (pgbench reads a colon followed by a name as
-- a variable even inside a string, hence the space after each colon in the JSON.)
BEGIN;
SELECT nextval(format('reference_inc_%s', :year::int)::regclass) AS n \gset
WITH i0 AS (
  INSERT INTO incident (id, reference, title, description, occurred_at, reported_at, department_id, location, event_type, kind, category, near_miss, physical_harm, psychological_harm, immediate_actions, patient_nhs_sealed, patient_name_sealed, patient_dob_sealed, patient_nhs_hash, equipment_asset_id, equipment_manufacturer, equipment_model, equipment_serial_number, anonymous, follow_up_code_hash, reporter_id, handler_id, learning_response, learning_summary, findings, feedback_to_reporter, duty_of_candour_applies, status, status_reason, duplicate_of_id, triaged_at, closed_at, version, updated_at, disposed_at, regulatory_facts)
  VALUES (gen_random_uuid(), 'INC-' || :year::int || '-' || lpad(:n::text, 6, '0'), 'Infusion pump alarm failed', 'Load test report', '2026-11-01 10:00:00+00', now(), :dept, NULL, 'INCIDENT', 'EQUIPMENT', NULL, false, 1, 0, NULL,
    'v1.3f9a2c1e.kZ8vQ0m1fYzWc4pN2rT6uH9eB3xL7aD5sG1jK0qV8wE2yU4iO6pR3tA9cF7hJ2lM5nX1bZ', 'v1.3f9a2c1e.Tq4mW8zX2cV6bN0aS3dF7gH1jK5lP9oI4uY8tR2eW6qA0zX3cV7bN1mL5kJ9hG', NULL,
    'a3f1c9e27b4d8f06152e9c3a7d4b1f8e6c2a9d5b3f7e1c4a8d2b6f9e3c7a1d5b', NULL, NULL, NULL, NULL, false, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'REPORTED', NULL, NULL, NULL, NULL, 1, now(), NULL, '[]')
), i1 AS (
  INSERT INTO incident_rollup_delta (sign, department_id, reported_day, kind, physical_harm, psychological_harm, category, status, near_miss, triaged_day, triage_seconds, closed_day, close_seconds)
  VALUES (1, :dept, current_date, 'EQUIPMENT', 1, 0, NULL, 'REPORTED', false, NULL, NULL, NULL, NULL)
), i2 AS (
  INSERT INTO trail_event (id, occurred_at, actor_id, actor_label, actor_roles, entity_type, entity_id, action, changes, request_id, seq, prev_hash, hash)
  VALUES (gen_random_uuid(), now(), NULL, 'Bench Handler', 'staff handler', 'Incident', gen_random_uuid(), 'incident.reported',
    '[{"field": "reference","before": null,"after": "INC-2026-002798","sensitive": false},{"field": "status","before": null,"after": "REPORTED","sensitive": false},{"field": "title","before": null,"after": null,"sensitive": true},{"field": "kind","before": null,"after": "EQUIPMENT","sensitive": false},{"field": "physicalHarm","before": null,"after": "LOW","sensitive": false},{"field": "psychologicalHarm","before": null,"after": "NONE","sensitive": false},{"field": "description","before": null,"after": null,"sensitive": true},{"field": "patient","before": null,"after": null,"sensitive": true}]',
    '01a23402-4bad-755e-b6b1-09fcaa315dd7', NULL, NULL, NULL)
)
INSERT INTO notification (id, kind, mandatory, dedupe_key, recipient, recipient_staff_id, subject, body_text, body_html, message_id, entity_type, entity_id, reference, status, attempts, next_attempt_at, lease_until, leased_by, last_error, created_at, sent_at, vars)
  SELECT gen_random_uuid(), 'INCIDENT_REPORTED', false, 'incident.reported: ' || gen_random_uuid() || '|handler' || r || '@candour.invalid', 'handler' || r || '@candour.invalid', NULL,
    'New incident INC-2026-002798 for Cardiac physiology', '', '',
    gen_random_uuid() || '@127.0.0.1', 'Incident', gen_random_uuid(), 'INC-2026-002798', 'QUEUED', 0, now(), NULL, NULL, NULL, now(), NULL,
    '{"days": null, "department": "Cardiac physiology", "due": null, "harm": "low", "kind": "equipment", "kind_name": "INCIDENT_REPORTED", "link": "https: //candour.trust.example/incidents/INC-2026-002798", "mandatory": false, "reference": "INC-2026-002798", "status": "reported"}'
  FROM generate_series(1, 5) AS r;
COMMIT;
