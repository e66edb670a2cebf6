-- incidents(first: 50) with department and corrective actions, for a quality lead: the
-- page (51 rows, to know whether there is another) and its actions in one query.
SELECT id, reference, title, description, occurred_at, reported_at, department_id, location, event_type, kind, category, near_miss, physical_harm, psychological_harm, immediate_actions, patient_nhs_sealed, patient_name_sealed, patient_dob_sealed, patient_nhs_hash, equipment_asset_id, equipment_manufacturer, equipment_model, equipment_serial_number, anonymous, follow_up_code_hash, reporter_id, handler_id, learning_response, learning_summary, findings, feedback_to_reporter, duty_of_candour_applies, status, status_reason, duplicate_of_id, triaged_at, closed_at, version, updated_at, disposed_at, regulatory_facts
  FROM incident ORDER BY reported_at DESC, id DESC LIMIT 51;
SELECT id, source_type, incident_id, audit_finding_id, improvement_project_id, department_id, title, description, owner_email, due_date, priority, status, effective, verification_note, cancellation_reason, note, follow_up_of_id, completed_at, verified_at, created_by_id, created_at, updated_at, version
  FROM corrective_action WHERE incident_id IN (SELECT id FROM incident ORDER BY reported_at DESC, id DESC LIMIT 50)
  ORDER BY created_at, id;
