//! C. Recording the steps that meet obligations: who may, once only, late or on time.

use super::*;

// ---------------------------------------------------------------------------------------------
// C. Recording the steps that meet obligations
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn submitting_a_report_needs_the_regulators_reference_and_meets_the_obligation_once() {
    let app = spawn_quiet().await;
    let h = app.hospital().await;
    let ig = app.ig_officer("iris");
    let injury = report(
        &app,
        &h.alice,
        &h.cardiology,
        json!({ "kind": "STAFF_SAFETY", "regulatoryFacts": ["REPORTABLE_STAFF_INJURY"] }),
    )
    .await;
    let riddor = the(&obligations_of(&app, &h.hana, &injury).await, "RIDDOR");

    for missing in [json!(null), json!(""), json!("   ")] {
        let resp = try_record_step(
            &app,
            &h.hana,
            json!({ "obligationId": riddor["id"], "step": "REPORT_SUBMITTED", "externalReference": missing }),
        )
        .await;
        resp.assert_error("BAD_USER_INPUT", Some("externalReference"));
    }
    let resp = try_record_step(
        &app,
        &h.hana,
        json!({
            "obligationId": riddor["id"], "step": "REPORT_SUBMITTED",
            "externalReference": "HSE-1", "takenAt": rfc(Utc::now() + days(1)),
        }),
    )
    .await;
    resp.assert_error("BAD_USER_INPUT", Some("takenAt"));
    let resp = try_record_step(
        &app,
        &h.hana,
        json!({
            "obligationId": riddor["id"], "step": "REPORT_SUBMITTED",
            "externalReference": "H".repeat(101),
        }),
    )
    .await;
    resp.assert_error("BAD_USER_INPUT", Some("externalReference"));
    let unchanged = the(&obligations_of(&app, &h.hana, &injury).await, "RIDDOR");
    assert_eq!(unchanged["status"], "OPEN");
    assert_eq!(
        unchanged["steps"],
        json!([]),
        "a refused step leaves nothing"
    );

    let taken_at = Utc::now() - chrono::Duration::hours(1);
    let met = record_step(
        &app,
        &h.hana,
        json!({
            "obligationId": riddor["id"], "step": "REPORT_SUBMITTED",
            "externalReference": "  HSE-RIDDOR-2026-0042 ", "takenAt": rfc(taken_at),
        }),
    )
    .await;
    assert_eq!(met["id"], riddor["id"]);
    assert_eq!(met["status"], "SUBMITTED");
    assert_eq!(met["externalReference"], "HSE-RIDDOR-2026-0042");
    assert_eq!(
        parse_time(&met["submittedAt"]),
        parse_time(&json!(rfc(taken_at)))
    );
    assert_eq!(met["submittedLate"], false);
    assert_eq!(met["overdue"], false);
    assert_eq!(met["steps"].as_array().map(Vec::len), Some(1), "{met}");
    assert_eq!(met["steps"][0]["step"], "REPORT_SUBMITTED");
    assert_eq!(met["steps"][0]["externalReference"], "HSE-RIDDOR-2026-0042");

    // Met once: a second submission is refused and changes nothing.
    let resp = try_record_step(
        &app,
        &h.quinn,
        json!({ "obligationId": riddor["id"], "step": "REPORT_SUBMITTED", "externalReference": "HSE-AGAIN" }),
    )
    .await;
    resp.assert_error("BAD_USER_INPUT", None);
    let after = the(&obligations_of(&app, &h.hana, &injury).await, "RIDDOR");
    assert_eq!(after["externalReference"], "HSE-RIDDOR-2026-0042");
    assert_eq!(after["steps"].as_array().map(Vec::len), Some(1));

    // Off the open board, on the submitted one.
    assert_eq!(board(&app, &h.hana, json!({})).await.len(), 0);
    assert_eq!(
        ids_of(&board(&app, &h.hana, json!({ "status": ["SUBMITTED"] })).await),
        [id(&riddor)]
    );

    // The step is in the trail.
    let trail = trail_of(&app, &ig, &id(&riddor)).await;
    let steps: Vec<&Value> = trail
        .iter()
        .filter(|e| e["action"] == "obligation.step_recorded")
        .collect();
    assert_eq!(steps.len(), 1, "one step recorded, one event: {trail:#?}");
    let event = steps[0];
    assert_eq!(event["entityType"], "Obligation");
    assert_eq!(event["actorLabel"], "hana");
    assert_eq!(change(event, "step").1, "REPORT_SUBMITTED");
    assert_eq!(change(event, "kind").1, "RIDDOR");
    assert_eq!(change(event, "externalReference").1, "HSE-RIDDOR-2026-0042");
    assert_eq!(change(event, "status"), (json!("OPEN"), json!("SUBMITTED")));
}

#[tokio::test]
async fn two_people_submitting_the_same_report_at_once_meet_it_once() {
    let app = spawn_quiet().await;
    let h = app.hospital().await;
    let mut riddors = Vec::new();
    for _ in 0..6 {
        let injury = report(
            &app,
            &h.alice,
            &h.cardiology,
            json!({ "kind": "STAFF_SAFETY", "regulatoryFacts": ["REPORTABLE_STAFF_INJURY"] }),
        )
        .await;
        riddors.push(the(&obligations_of(&app, &h.hana, &injury).await, "RIDDOR"));
    }

    for riddor in &riddors {
        let submit = |r: &str| json!({ "obligationId": riddor["id"], "step": "REPORT_SUBMITTED", "externalReference": r });
        let (by_hana, by_quinn) = join(
            try_record_step(&app, &h.hana, submit("HSE-HANA")),
            try_record_step(&app, &h.quinn, submit("HSE-QUINN")),
        )
        .await;

        let ok: Vec<&GqlResponse> = [&by_hana, &by_quinn]
            .into_iter()
            .filter(|r| r.errors().is_empty())
            .collect();
        assert_eq!(
            ok.len(),
            1,
            "exactly one submission meets it, the other is refused:\n{by_hana}\n{by_quinn}"
        );
        let refused = if by_hana.errors().is_empty() {
            &by_quinn
        } else {
            &by_hana
        };
        refused.assert_error("BAD_USER_INPUT", None);
        let winner =
            ok[0].data()["recordObligationStep"]["obligation"]["externalReference"].clone();
        let now = board(
            &app,
            &h.quinn,
            json!({ "status": ["SUBMITTED"], "incidentId": riddor["incidentId"] }),
        )
        .await;
        assert_eq!(now.len(), 1);
        assert_eq!(
            now[0]["steps"].as_array().map(Vec::len),
            Some(1),
            "one completing step recorded: {:#}",
            now[0]
        );
        assert_eq!(now[0]["externalReference"], winner);
    }
}

#[tokio::test]
async fn only_the_departments_handlers_and_quality_leads_record_steps() {
    let app = spawn_quiet().await;
    let h = app.hospital().await;
    let device = report(
        &app,
        &h.alice,
        &h.cardiology,
        json!({ "kind": "EQUIPMENT", "regulatoryFacts": ["MEDICAL_DEVICE", "BLOOD_COMPONENT"] }),
    )
    .await;
    let obligations = obligations_of(&app, &h.quinn, &device).await;
    let mhra = the(&obligations, "MHRA_YELLOW_CARD");
    let sabre = the(&obligations, "SABRE");
    let submit = |o: &Value, r: &str| json!({ "obligationId": o["id"], "step": "REPORT_SUBMITTED", "externalReference": r });

    for (who, token) in [
        ("the other department's handler", &h.nina),
        ("the reporter", &h.alice),
        ("another member of staff", &h.bob),
    ] {
        let resp = try_record_step(&app, token, submit(&mhra, "YC-1")).await;
        assert_eq!(
            resp.error_code().as_deref(),
            Some("NOT_FOUND"),
            "{who} may not know of it: {resp}"
        );
    }
    assert_eq!(
        the(
            &obligations_of(&app, &h.quinn, &device).await,
            "MHRA_YELLOW_CARD"
        )["status"],
        "OPEN"
    );

    // Not an obligation's id.
    let resp = try_record_step(&app, &h.hana, submit(&device, "YC-1")).await;
    resp.assert_error("BAD_USER_INPUT", Some("obligationId"));

    let by_handler = record_step(&app, &h.hana, submit(&mhra, "YC-2026-0007")).await;
    assert_eq!(by_handler["status"], "SUBMITTED");
    let by_lead = record_step(&app, &h.quinn, submit(&sabre, "SABRE-2026-77")).await;
    assert_eq!(by_lead["status"], "SUBMITTED");
    assert_eq!(by_lead["externalReference"], "SABRE-2026-77");
}

#[tokio::test]
async fn a_withdrawn_obligation_takes_no_steps() {
    let app = spawn_quiet().await;
    let h = app.hospital().await;
    let exposure = report(
        &app,
        &h.alice,
        &h.cardiology,
        json!({ "kind": "RADIATION", "regulatoryFacts": ["SIGNIFICANT_UNINTENDED_EXPOSURE"] }),
    )
    .await;
    let irmer = the(
        &obligations_of(&app, &h.hana, &exposure).await,
        "IRMER_NOTIFICATION",
    );
    app.triage(&h.hana, &exposure, json!({ "regulatoryFacts": [] }))
        .await;

    let resp = try_record_step(
        &app,
        &h.hana,
        json!({ "obligationId": irmer["id"], "step": "REPORT_SUBMITTED", "externalReference": "CQC-1" }),
    )
    .await;

    resp.assert_error("BAD_USER_INPUT", None);
    let after = the(
        &obligations_of(&app, &h.hana, &exposure).await,
        "IRMER_NOTIFICATION",
    );
    assert_eq!(after["status"], "WITHDRAWN");
    assert_eq!(after["steps"], json!([]));
}

#[tokio::test]
async fn a_report_submitted_after_the_deadline_is_marked_late() {
    let app = spawn_quiet().await;
    let h = app.hospital().await;
    let injury = report(
        &app,
        &h.alice,
        &h.cardiology,
        json!({
            "kind": "STAFF_SAFETY",
            "occurredAt": rfc(Utc::now() - days(20)),
            "regulatoryFacts": ["REPORTABLE_STAFF_INJURY"],
        }),
    )
    .await;
    let riddor = the(&obligations_of(&app, &h.hana, &injury).await, "RIDDOR");
    assert_eq!(riddor["overdue"], true, "{riddor}");

    let met = record_step(
        &app,
        &h.hana,
        json!({ "obligationId": riddor["id"], "step": "REPORT_SUBMITTED", "externalReference": "HSE-LATE-1" }),
    )
    .await;

    assert_eq!(met["status"], "SUBMITTED");
    assert_eq!(met["submittedLate"], true, "{met}");
    assert_eq!(met["overdue"], false, "met, so no longer overdue");
    assert_eq!(
        board(&app, &h.hana, json!({ "overdue": true })).await.len(),
        0
    );
}

#[tokio::test]
async fn duty_of_candour_steps_are_shared_between_the_incident_and_its_obligation() {
    let app = spawn_quiet().await;
    let h = app.hospital().await;
    let ig = app.ig_officer("iris");
    let incident = report(
        &app,
        &h.alice,
        &h.cardiology,
        json!({ "physicalHarm": "MODERATE" }),
    )
    .await;
    let doc = the(
        &obligations_of(&app, &h.hana, &incident).await,
        "DUTY_OF_CANDOUR",
    );

    // Told in person, recorded on the obligation: the incident's duty of candour shows it.
    let verbal_at = Utc::now() - chrono::Duration::hours(3);
    let after_verbal = record_step(
        &app,
        &h.hana,
        json!({ "obligationId": doc["id"], "step": "VERBAL_NOTIFICATION", "takenAt": rfc(verbal_at) }),
    )
    .await;
    assert_eq!(
        after_verbal["status"], "OPEN",
        "verbal alone does not meet it"
    );
    assert_eq!(after_verbal["steps"][0]["step"], "VERBAL_NOTIFICATION");
    let inc = incident_with_obligations(&app, &h.hana, &incident).await;
    let steps = &inc["dutyOfCandour"]["steps"];
    assert_eq!(steps.as_array().map(Vec::len), Some(1), "{inc}");
    assert_eq!(steps[0]["step"], "VERBAL_NOTIFICATION");
    assert_eq!(
        parse_time(&steps[0]["takenAt"]),
        parse_time(&json!(rfc(verbal_at)))
    );

    // Written, recorded on the incident (the existing mutation): that meets the obligation.
    let current = app.incident(&h.hana, &id(&incident)).await;
    let written_at = Utc::now() - chrono::Duration::minutes(30);
    let resp = app
        .try_record_candour_step(
            &h.hana,
            json!({
                "incidentId": incident["id"], "expectedVersion": current["version"],
                "step": "WRITTEN_NOTIFICATION", "takenAt": rfc(written_at),
            }),
        )
        .await;
    resp.assert_ok();
    let met = the(
        &obligations_of(&app, &h.hana, &incident).await,
        "DUTY_OF_CANDOUR",
    );
    assert_eq!(met["status"], "SUBMITTED", "{met}");
    assert_eq!(
        parse_time(&met["submittedAt"]),
        parse_time(&json!(rfc(written_at)))
    );
    assert_eq!(met["submittedLate"], false);
    let steps: Vec<&str> = met["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    assert_eq!(steps, ["VERBAL_NOTIFICATION", "WRITTEN_NOTIFICATION"]);
    assert_eq!(board(&app, &h.quinn, json!({})).await.len(), 0);

    // Met: writing again on the obligation is refused.
    let resp = try_record_step(
        &app,
        &h.hana,
        json!({ "obligationId": doc["id"], "step": "WRITTEN_NOTIFICATION" }),
    )
    .await;
    resp.assert_error("BAD_USER_INPUT", None);

    // Both left a trail: the step on the obligation, and the step on the incident.
    let trail = trail_of(&app, &ig, &id(&doc)).await;
    let on_obligation: Vec<&Value> = trail
        .iter()
        .filter(|e| e["action"] == "obligation.step_recorded")
        .collect();
    assert_eq!(on_obligation.len(), 1, "{trail:#?}");
    assert_eq!(change(on_obligation[0], "step").1, "VERBAL_NOTIFICATION");
    let history = app.history(&h.quinn, &id(&incident)).await;
    assert!(
        history
            .iter()
            .any(|e| e["action"] == "incident.candour_step_recorded"),
        "{history:#?}"
    );

    // The other way round: written notification recorded on the obligation.
    let other = report(
        &app,
        &h.alice,
        &h.cardiology,
        json!({ "physicalHarm": "SEVERE" }),
    )
    .await;
    let other_doc = the(
        &obligations_of(&app, &h.hana, &other).await,
        "DUTY_OF_CANDOUR",
    );
    let met = record_step(
        &app,
        &h.quinn,
        json!({ "obligationId": other_doc["id"], "step": "WRITTEN_NOTIFICATION" }),
    )
    .await;
    assert_eq!(met["status"], "SUBMITTED");
    let inc = incident_with_obligations(&app, &h.hana, &other).await;
    let steps: Vec<&str> = inc["dutyOfCandour"]["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    assert_eq!(steps, ["WRITTEN_NOTIFICATION"], "{inc}");
}
