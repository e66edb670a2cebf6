//! `candour dispose`: removing the content of records past retention, sparing those under
//! legal hold.

use super::*;

#[tokio::test]
async fn dispose_removes_the_content_of_records_past_retention_and_says_how_many() {
    let dir = tempfile::tempdir().unwrap();
    let db = fresh_database(dir.path()).await;
    let key = generate_data_key(dir.path());
    let envs = [
        ("CANDOUR_DATABASE_URL", db.as_str()),
        ("CANDOUR_JWT_SECRET", SECRET),
        ("CANDOUR_DATA_KEY", key.as_str()),
    ];
    let zero_years = [
        ("CANDOUR_DATABASE_URL", db.as_str()),
        ("CANDOUR_JWT_SECRET", SECRET),
        ("CANDOUR_DATA_KEY", key.as_str()),
        ("CANDOUR_RETENTION__INCIDENT_YEARS", "0"),
    ];
    let server = start(dir.path(), &envs).await;
    let card = cardiology(dir.path(), &server.base).await;
    let closing = report(
        dir.path(),
        &server.base,
        &card,
        json!({ "patient": { "nhsNumber": NHS } }),
    )
    .await;
    report(dir.path(), &server.base, &card, json!({})).await; // stays open
    let quinn = token(dir.path(), "quinn", "quality_lead", &[]);
    gql(
        &server.base,
        &quinn,
        "mutation($id: ID!) { triageIncident(input: { incidentId: $id, expectedVersion: 1,
           feedbackToReporter: \"Thank you: rails are checked at handover.\" }) { incident { id } } }",
        json!({ "id": closing }),
    )
    .await;
    let closed = gql(
        &server.base,
        &quinn,
        "mutation($id: ID!) { transitionIncident(input: { incidentId: $id, expectedVersion: 2, to: CLOSED }) { incident { status } } }",
        json!({ "id": closing }),
    )
    .await;
    assert_eq!(closed["transitionIncident"]["incident"]["status"], "CLOSED");
    let conn = connect(&db).await;
    wait_until_sealed(&conn).await;
    drop(server);

    // Under the default schedule (10 years) nothing is due yet.
    let out = run(dir.path(), &envs, &["dispose"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with("disposed of 0 incidents"),
        "{}",
        stdout(&out)
    );

    let out = run(dir.path(), &zero_years, &["dispose"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "disposed of 1 incidents, 0 audits, 0 improvement projects, 0 learning responses; 0 held by legal hold"
    );
    assert_eq!(
        count(
            &conn,
            "SELECT COUNT(*) AS n FROM incident WHERE disposed_at IS NOT NULL \
             AND title = 'Disposed record' AND patient_nhs_sealed IS NULL AND patient_nhs_hash IS NULL"
        )
        .await,
        1,
        "the closed incident is a tombstone"
    );
    assert_eq!(
        count(
            &conn,
            "SELECT COUNT(*) AS n FROM incident WHERE disposed_at IS NULL"
        )
        .await,
        1,
        "the open incident is kept"
    );
    assert_eq!(
        count(
            &conn,
            "SELECT COUNT(*) AS n FROM trail_event WHERE action = 'incident.disposed' \
             AND actor_label = 'system:dispose'"
        )
        .await,
        1,
        "the disposal is in the trail"
    );

    let out = run(dir.path(), &zero_years, &["dispose"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with("disposed of 0 incidents"),
        "{}",
        stdout(&out)
    );

    // The disposal's event waits for a server to seal it, then the chain holds.
    let out = run(dir.path(), &envs, &["verify-trail"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(
        stdout(&out).ends_with("1 not yet sealed"),
        "{}",
        stdout(&out)
    );
    let server = start(dir.path(), &envs).await;
    wait_until_sealed(&conn).await;
    drop(server);
    let out = run(dir.path(), &envs, &["verify-trail"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let text = stdout(&out);
    assert!(text.starts_with("trail intact: 6 events checked"), "{text}");
    assert!(text.ends_with("0 not yet sealed"), "{text}");
}

/// Triage (with feedback to the reporter) and close an incident as the quality lead;
/// returns its reference.
async fn close_incident(dir: &Path, base: &str, incident: &str) -> String {
    let quinn = token(dir, "quinn", "quality_lead", &[]);
    gql(
        base,
        &quinn,
        "mutation($id: ID!) { triageIncident(input: { incidentId: $id, expectedVersion: 1,
           feedbackToReporter: \"Thank you: rails are checked at handover.\" }) { incident { id } } }",
        json!({ "id": incident }),
    )
    .await;
    let closed = gql(
        base,
        &quinn,
        "mutation($id: ID!) { transitionIncident(input: { incidentId: $id, expectedVersion: 2, to: CLOSED }) {
           incident { status reference } } }",
        json!({ "id": incident }),
    )
    .await;
    let closed = &closed["transitionIncident"]["incident"];
    assert_eq!(closed["status"], "CLOSED");
    closed["reference"].as_str().unwrap().to_string()
}

/// A cardiology audit planned, run with one finding, reported and closed by the quality
/// lead; returns its id.
async fn close_audit(dir: &Path, base: &str, department: &str) -> String {
    let quinn = token(dir, "quinn", "quality_lead", &[]);
    let planned = gql(
        base,
        &quinn,
        "mutation($d: ID!) { planAudit(input: { title: \"Consent audit\", departmentId: $d,
           standard: \"GMC consent guidance\", plannedStart: \"2026-03-02\",
           plannedEnd: \"2026-03-27\" }) { audit { id version } } }",
        json!({ "d": department }),
    )
    .await;
    let mut audit = planned["planAudit"]["audit"].clone();
    let id = audit["id"].as_str().unwrap().to_string();
    let transition = "mutation($id: ID!, $v: Int!, $to: AuditStatus!) {
        transitionAudit(input: { auditId: $id, expectedVersion: $v, to: $to }) { audit { id version status } } }";
    for to in ["IN_PROGRESS", "REPORTED", "CLOSED"] {
        if to == "REPORTED" {
            let recorded = gql(
                base,
                &quinn,
                "mutation($id: ID!) { recordAuditFinding(input: { auditId: $id,
                   criterion: \"Consent form signed\", targetPercent: 90, sampleSize: 40,
                   compliantCount: 38 }) { audit { id version } } }",
                json!({ "id": id }),
            )
            .await;
            audit = recorded["recordAuditFinding"]["audit"].clone();
        }
        let moved = gql(
            base,
            &quinn,
            transition,
            json!({ "id": id, "v": audit["version"], "to": to }),
        )
        .await;
        audit = moved["transitionAudit"]["audit"].clone();
        assert_eq!(audit["status"], to);
    }
    id
}

#[tokio::test]
async fn dispose_spares_a_record_under_legal_hold_until_released_and_says_what_it_did() {
    let dir = tempfile::tempdir().unwrap();
    let db = fresh_database(dir.path()).await;
    let key = generate_data_key(dir.path());
    let envs = keyed(&db, &key, None);
    let mut zero_years = envs.clone();
    zero_years.extend([
        ("CANDOUR_RETENTION__INCIDENT_YEARS".into(), "0".into()),
        ("CANDOUR_RETENTION__AUDIT_YEARS".into(), "0".into()),
    ]);
    let ig = token(dir.path(), "iris", "ig_officer", &[]);
    let disposed = |reference: &str| {
        format!(
            "SELECT COUNT(*) AS n FROM incident WHERE reference = '{reference}' \
             AND disposed_at IS NOT NULL AND title = 'Disposed record' AND description = '' \
             AND patient_nhs_sealed IS NULL"
        )
    };
    let untouched = |reference: &str| {
        format!(
            "SELECT COUNT(*) AS n FROM incident WHERE reference = '{reference}' \
             AND disposed_at IS NULL AND description LIKE '%slid off%' \
             AND patient_nhs_sealed IS NOT NULL"
        )
    };

    // Two closed incidents naming a patient, one of them held, and a closed audit.
    let server = start(dir.path(), &borrow(&envs)).await;
    let card = cardiology(dir.path(), &server.base).await;
    let patient = json!({ "patient": { "nhsNumber": NHS } });
    let going = report(dir.path(), &server.base, &card, patient.clone()).await;
    let going = close_incident(dir.path(), &server.base, &going).await;
    let held = report(dir.path(), &server.base, &card, patient).await;
    let held_id = held.clone();
    let held = close_incident(dir.path(), &server.base, &held).await;
    close_audit(dir.path(), &server.base, &card).await;
    let placed = gql(
        &server.base,
        &ig,
        "mutation($id: ID!) { placeLegalHold(input: { recordId: $id, reason: \"Claim received\" }) {
           legalHold { id } } }",
        json!({ "id": held_id }),
    )
    .await;
    let hold = placed["placeLegalHold"]["legalHold"]["id"].clone();
    drop(server);
    let conn = connect(&db).await;

    let out = run(dir.path(), &borrow(&zero_years), &["dispose"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "disposed of 1 incidents, 1 audits, 0 improvement projects, 0 learning responses; 1 held by legal hold"
    );
    assert_eq!(count(&conn, &disposed(&going)).await, 1, "a tombstone");
    assert_eq!(
        count(&conn, &untouched(&held)).await,
        1,
        "the held one is kept whole"
    );
    assert_eq!(
        count(
            &conn,
            "SELECT COUNT(*) AS n FROM audit WHERE disposed_at IS NOT NULL AND standard = ''"
        )
        .await,
        1
    );
    assert_eq!(
        count(
            &conn,
            "SELECT COUNT(*) AS n FROM trail_event WHERE actor_label = 'system:dispose' \
             AND action IN ('incident.disposed', 'audit.disposed')"
        )
        .await,
        2,
        "each disposal is in the trail"
    );

    // Run again (cron does, daily): nothing more goes while the hold lasts.
    let out = run(dir.path(), &borrow(&zero_years), &["dispose"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "disposed of 0 incidents, 0 audits, 0 improvement projects, 0 learning responses; 1 held by legal hold"
    );
    assert_eq!(count(&conn, &untouched(&held)).await, 1);

    // Released, it goes at the next run.
    let server = start(dir.path(), &borrow(&envs)).await;
    gql(
        &server.base,
        &ig,
        "mutation($id: ID!) { releaseLegalHold(input: { legalHoldId: $id, reason: \"Claim withdrawn\" }) {
           legalHold { id } } }",
        json!({ "id": hold }),
    )
    .await;
    drop(server);
    let out = run(dir.path(), &borrow(&zero_years), &["dispose"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "disposed of 1 incidents, 0 audits, 0 improvement projects, 0 learning responses; 0 held by legal hold"
    );
    assert_eq!(count(&conn, &disposed(&held)).await, 1);
}
