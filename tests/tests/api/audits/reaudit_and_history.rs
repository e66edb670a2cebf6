//! Re-audits that show how compliance moved, and the history of every change.

use super::*;

#[tokio::test]
async fn a_reaudit_shows_how_compliance_moved_since_the_audit_it_repeats() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let first = reported_with(
        &app,
        &h,
        &[
            ("Consent documented", 90.0, 40, 28),
            ("Hand hygiene", 85.0, 50, 45),
        ],
    )
    .await;
    raise_on(&app, &h.hana, &finding(&first, "Consent documented")).await;
    let first = app.move_audit(&h.quinn, &first, "CLOSED").await;

    let reaudit = app
        .plan_audit(
            &h.hana,
            with(
                audit_input(&h.cardiology),
                json!({
                    "title": "Consent documentation re-audit",
                    "plannedStart": "2026-09-01",
                    "plannedEnd": "2026-09-30",
                    "reauditOfId": first["id"],
                }),
            ),
        )
        .await;
    assert_eq!(reaudit["reauditOf"]["id"], first["id"]);
    assert_eq!(reaudit["reauditOf"]["title"], "Consent documentation audit");
    assert_eq!(reaudit["reauditOf"]["status"], "CLOSED");

    let reaudit = app.move_audit(&h.hana, &reaudit, "IN_PROGRESS").await;
    let reaudit = record(
        &app,
        &h.hana,
        &reaudit,
        " CONSENT  documented",
        90.0,
        40,
        36,
    )
    .await;
    let reaudit = record(&app, &h.hana, &reaudit, "hand hygiene", 85.0, 50, 40).await;
    let reaudit = record(&app, &h.hana, &reaudit, "Falls assessment", 90.0, 10, 9).await;

    let seen = app.audit(&h.bob, &id(&reaudit)).await;
    assert_eq!(seen["reauditOf"]["id"], first["id"]);
    let by_position = findings(&seen);
    assert_eq!(by_position.len(), 3, "{seen}");
    let (consent, hygiene, falls) = (&by_position[0], &by_position[1], &by_position[2]);
    assert_percent(&consent["compliancePercent"], 90.0, "consent now");
    assert_percent(
        &consent["previousCompliancePercent"],
        70.0,
        "consent before",
    );
    assert_percent(&consent["complianceChange"], 20.0, "consent change");
    assert_percent(&hygiene["compliancePercent"], 80.0, "hygiene now");
    assert_percent(
        &hygiene["previousCompliancePercent"],
        90.0,
        "hygiene before",
    );
    assert_percent(&hygiene["complianceChange"], -10.0, "hygiene change");
    assert_percent(&falls["compliancePercent"], 90.0, "falls now");
    assert!(
        falls["previousCompliancePercent"].is_null() && falls["complianceChange"].is_null(),
        "a new criterion has nothing to compare with: {falls}"
    );

    // The audit it repeats compares with nothing.
    let original = app.audit(&h.bob, &id(&first)).await;
    assert!(original["reauditOf"].is_null());
    for f in findings(&original) {
        assert!(
            f["previousCompliancePercent"].is_null() && f["complianceChange"].is_null(),
            "{f}"
        );
    }
}

// --- the trail -----------------------------------------------------------------------------

#[tokio::test]
async fn every_change_to_an_audit_is_in_its_history() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let lead = app.staff_with_email("lena", LEAD);

    let plan = app
        .try_plan_audit(
            &h.quinn,
            with(audit_input(&h.cardiology), json!({ "leadEmail": LEAD })),
        )
        .await;
    let audit = plan.assert_ok()["planAudit"]["audit"].clone();
    let start = app.try_move_audit(&h.hana, &audit, "IN_PROGRESS").await;
    let in_progress = start.assert_ok()["transitionAudit"]["audit"].clone();
    let mut finding_responses = Vec::new();
    let mut current = in_progress;
    for (token, criterion, compliant) in [
        (&lead, "Consent documented", 30),
        (&h.hana, "consent documented", 38),
        (&h.quinn, "Capacity assessed", 20),
    ] {
        let resp = app
            .try_record_audit_finding(
                token,
                finding_input(&id(&audit), criterion, 90.0, 40, compliant),
            )
            .await;
        current = resp.assert_ok()["recordAuditFinding"]["audit"].clone();
        finding_responses.push(resp);
    }
    let report = app.try_move_audit(&h.quinn, &current, "REPORTED").await;
    report.assert_ok();

    let history = app.audit_history(&h.alice, &id(&audit)).await;

    let pretty = serde_json::to_string_pretty(&history).unwrap();
    let of = |action: &str| -> Vec<&Value> {
        history.iter().filter(|e| e["action"] == action).collect()
    };
    let planned_events = of("audit.planned");
    assert_eq!(planned_events.len(), 1, "one planning event: {pretty}");
    assert_eq!(planned_events[0]["requestId"], plan.request_id().as_str());
    assert_eq!(planned_events[0]["actor"]["name"], "Quinn Test");
    assert_eq!(planned_events[0]["entityType"], "Audit");

    let recorded = of("audit.finding_recorded");
    assert_eq!(
        recorded.len(),
        3,
        "one event per finding recorded: {pretty}"
    );
    for (event, resp, actor) in [
        (recorded[0], &finding_responses[0], "Lena Test"),
        (recorded[1], &finding_responses[1], "Hana Test"),
        (recorded[2], &finding_responses[2], "Quinn Test"),
    ] {
        assert_eq!(event["requestId"], resp.request_id().as_str(), "{event}");
        assert_eq!(event["actor"]["name"], actor, "{event}");
        assert_eq!(event["entityType"], "Audit", "{event}");
    }

    let moves = of("audit.transitioned");
    assert_eq!(moves.len(), 2, "one event per move: {pretty}");
    for (event, resp, actor, before, after) in [
        (moves[0], &start, "Hana Test", "PLANNED", "IN_PROGRESS"),
        (moves[1], &report, "Quinn Test", "IN_PROGRESS", "REPORTED"),
    ] {
        assert_eq!(event["requestId"], resp.request_id().as_str(), "{event}");
        assert_eq!(event["actor"]["name"], actor, "{event}");
        let status = event["changes"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| c["field"] == "status"))
            .unwrap_or_else(|| panic!("no status change: {event}"));
        assert_eq!(status["before"], before, "{event}");
        assert_eq!(status["after"], after, "{event}");
    }

    assert_eq!(history.len(), 6, "nothing else in the trail: {pretty}");
    let times: Vec<_> = history.iter().map(|e| parse_time(&e["at"])).collect();
    let mut sorted = times.clone();
    sorted.sort();
    assert_eq!(times, sorted, "history is oldest first: {pretty}");
    let order: Vec<&str> = history
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        order,
        [
            "audit.planned",
            "audit.transitioned",
            "audit.finding_recorded",
            "audit.finding_recorded",
            "audit.finding_recorded",
            "audit.transitioned",
        ]
    );
}

// --- listing -------------------------------------------------------------------------------
