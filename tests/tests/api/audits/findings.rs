//! Findings: compliance from the sample, non-conformities and the corrective actions they
//! need.

use super::*;

#[tokio::test]
async fn compliance_is_computed_from_the_sample_and_below_target_is_a_non_conformity() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let mut audit = started(&app, &h, json!({})).await;
    // (criterion, target, sample, compliant, compliance, non-conformity)
    let cases: [(&str, f64, i64, i64, f64, bool); 7] = [
        ("Consent documented", 90.0, 40, 36, 90.0, false),
        ("Risks discussed", 90.0, 40, 35, 87.5, true),
        ("Capacity assessed", 66.6, 3, 2, 200.0 / 3.0, false),
        ("Alternatives discussed", 66.7, 3, 2, 200.0 / 3.0, true),
        ("Signed by the patient", 100.0, 100, 100, 100.0, false),
        ("Copy offered", 100.0, 10, 9, 90.0, true),
        ("Interpreter booked", 0.0, 10, 0, 0.0, false),
    ];

    for (criterion, target, sample, compliant, _, _) in cases {
        audit = record(&app, &h.hana, &audit, criterion, target, sample, compliant).await;
    }

    let reread = app.audit(&h.alice, &id(&audit)).await;
    let recorded = findings(&reread);
    assert_eq!(
        recorded
            .iter()
            .map(|f| f["criterion"].as_str().unwrap())
            .collect::<Vec<_>>(),
        cases.iter().map(|c| c.0).collect::<Vec<_>>(),
        "findings are listed in the order recorded"
    );
    for (f, (criterion, target, sample, compliant, compliance, below)) in recorded.iter().zip(cases)
    {
        assert_percent(&f["targetPercent"], target, criterion);
        assert_eq!(f["sampleSize"], sample, "{criterion}: {f}");
        assert_eq!(f["compliantCount"], compliant, "{criterion}: {f}");
        assert_percent(&f["compliancePercent"], compliance, criterion);
        assert_eq!(f["nonConformity"], below, "{criterion}: {f}");
        assert!(
            f["previousCompliancePercent"].is_null() && f["complianceChange"].is_null(),
            "no earlier audit to compare with: {f}"
        );
        assert_eq!(f["correctiveActions"], json!([]));
        assert_eq!(f["audit"]["id"], audit["id"]);
        parse_time(&f["recordedAt"]);
    }

    // A finding is a node of its own, and knows its audit.
    let first = &recorded[0];
    let resp = app
        .gql(
            Some(&h.bob),
            "query($id: ID!) { node(id: $id) { __typename ... on AuditFinding {
               id criterion compliancePercent audit { id title }
             } } }",
            json!({ "id": first["id"] }),
        )
        .await;
    let node = &resp.assert_ok()["node"];
    assert_eq!(node["__typename"], "AuditFinding", "{resp}");
    assert_eq!(node["id"], first["id"]);
    assert_eq!(node["criterion"], "Consent documented");
    assert_eq!(node["audit"]["id"], audit["id"]);
}

#[tokio::test]
async fn bad_finding_numbers_are_refused_on_their_field() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let audit = started(&app, &h, json!({})).await;
    let audit_id = id(&audit);

    for (criterion, target, sample, compliant, field) in [
        ("Consent documented", 90.0, 0, 0, "sampleSize"),
        ("Consent documented", 90.0, -5, 0, "sampleSize"),
        ("Consent documented", 90.0, 40, 41, "compliantCount"),
        ("Consent documented", 90.0, 40, -1, "compliantCount"),
        ("Consent documented", 100.5, 40, 36, "targetPercent"),
        ("Consent documented", -1.0, 40, 36, "targetPercent"),
        ("", 90.0, 40, 36, "criterion"),
        ("   ", 90.0, 40, 36, "criterion"),
    ] {
        let resp = app
            .try_record_audit_finding(
                &h.hana,
                finding_input(&audit_id, criterion, target, sample, compliant),
            )
            .await;
        assert_eq!(
            (resp.error_code().as_deref(), resp.error_field().as_deref()),
            (Some("BAD_USER_INPUT"), Some(field)),
            "{criterion:?} target {target} {compliant} of {sample}: {resp}"
        );
    }

    let now = app.audit(&h.quinn, &audit_id).await;
    assert_eq!(now["findings"], json!([]), "nothing was recorded: {now}");
}

#[tokio::test]
async fn findings_are_recorded_only_while_the_audit_is_in_progress() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let planned_audit = planned(&app, &h, json!({})).await;
    let reported = reported_with(&app, &h, &[("Consent documented", 90.0, 10, 10)]).await;
    let closed = app
        .move_audit(
            &h.hana,
            &reported_with(&app, &h, &[("Consent documented", 90.0, 10, 10)]).await,
            "CLOSED",
        )
        .await;

    for audit in [&planned_audit, &reported, &closed] {
        for token in [&h.quinn, &h.hana] {
            let resp = app
                .try_record_audit_finding(
                    token,
                    finding_input(&id(audit), "Capacity assessed", 80.0, 10, 2),
                )
                .await;
            assert_eq!(
                (resp.error_code().as_deref(), resp.error_field().as_deref()),
                (Some("BAD_USER_INPUT"), Some("auditId")),
                "{}: {resp}",
                audit["status"]
            );
        }
        let now = app.audit(&h.quinn, &id(audit)).await;
        assert_eq!(now["findings"], audit["findings"], "{now}");
    }
}

#[tokio::test]
async fn the_lead_the_departments_handlers_and_quality_leads_record_findings() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let audit = started(&app, &h, json!({ "leadEmail": LEAD })).await;
    // The lead, whatever the case of the email in their token.
    let lead = app.staff_with_email("lena", "Lena.Lead@Candour.TEST");

    let after_hana = record(&app, &h.hana, &audit, "Consent documented", 90.0, 40, 36).await;
    let after_quinn = record(
        &app,
        &h.quinn,
        &after_hana,
        "Capacity assessed",
        80.0,
        20,
        16,
    )
    .await;
    let after_lead = record(&app, &lead, &after_quinn, "Risks discussed", 95.0, 20, 20).await;
    assert_eq!(findings(&after_lead).len(), 3, "{after_lead}");

    let namesake = app.staff_with_email("lena2", "lena.lead@elsewhere.test");
    let reader = app.service(&["incidents:read"]);
    for (who, token) in [
        ("staff", &h.alice),
        ("other staff", &h.bob),
        ("someone with another email", &namesake),
        ("a handler of another department", &h.nina),
        ("an admin", &h.ada),
        ("a reading service", &reader),
    ] {
        let resp = app
            .try_record_audit_finding(
                token,
                finding_input(&id(&audit), "Alternatives discussed", 90.0, 10, 3),
            )
            .await;
        assert_eq!(
            resp.error_code().as_deref(),
            Some("FORBIDDEN"),
            "{who}: {resp}"
        );
    }
    let now = app.audit(&h.quinn, &id(&audit)).await;
    assert_eq!(findings(&now).len(), 3, "{now}");
}

#[tokio::test]
async fn recording_a_criterion_again_corrects_it_instead_of_adding_one() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let audit = started(&app, &h, json!({})).await;
    let first = record(&app, &h.hana, &audit, "Consent documented", 95.0, 40, 30).await;
    let original = finding(&first, "Consent documented");
    assert_eq!(original["nonConformity"], true);
    let with_other = record(&app, &h.hana, &first, "Capacity assessed", 80.0, 20, 18).await;

    let corrected = record(
        &app,
        &h.quinn,
        &with_other,
        "  CONSENT   documented ",
        95.0,
        40,
        39,
    )
    .await;

    let all = findings(&corrected);
    assert_eq!(all.len(), 2, "still one finding per criterion: {corrected}");
    let consent = all
        .iter()
        .find(|f| f["id"] == original["id"])
        .unwrap_or_else(|| panic!("the original finding is kept and corrected: {corrected}"));
    assert_eq!(consent["sampleSize"], 40);
    assert_eq!(consent["compliantCount"], 39);
    assert_percent(&consent["compliancePercent"], 97.5, "corrected compliance");
    assert_eq!(consent["nonConformity"], false, "{consent}");
    let capacity = finding(&corrected, "Capacity assessed");
    assert_eq!(capacity["compliantCount"], 18);

    let reread = app.audit(&h.alice, &id(&audit)).await;
    assert_eq!(findings(&reread).len(), 2, "{reread}");
}

// --- closing -------------------------------------------------------------------------------

#[tokio::test]
async fn a_non_conformity_needs_a_corrective_action_before_the_audit_closes() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let reported = reported_with(
        &app,
        &h,
        &[
            ("Consent documented", 95.0, 40, 30),
            ("Capacity assessed", 80.0, 20, 18),
        ],
    )
    .await;
    let below = finding(&reported, "Consent documented");
    assert_eq!(below["nonConformity"], true);
    assert_eq!(
        finding(&reported, "Capacity assessed")["nonConformity"],
        false
    );

    for token in [&h.quinn, &h.hana] {
        app.try_move_audit(token, &reported, "CLOSED")
            .await
            .assert_error("BAD_USER_INPUT", Some("findings"));
    }
    let now = app.audit(&h.quinn, &id(&reported)).await;
    assert_eq!(now["status"], "REPORTED");
    assert_eq!(now["version"], reported["version"]);
    assert!(now["closedAt"].is_null(), "{now}");

    let action = raise_on(&app, &h.hana, &below).await;
    assert_eq!(action["status"], "OPEN");
    assert_eq!(action["source"]["__typename"], "AuditFinding");
    let resp = app
        .gql(
            Some(&h.quinn),
            "query($id: ID!) { node(id: $id) { ... on CorrectiveAction {
               id source { __typename ... on AuditFinding { id criterion audit { id } } }
             } } }",
            json!({ "id": action["id"] }),
        )
        .await;
    let source = &resp.assert_ok()["node"]["source"];
    assert_eq!(source["__typename"], "AuditFinding", "{resp}");
    assert_eq!(source["id"], below["id"], "{resp}");
    assert_eq!(source["criterion"], "Consent documented", "{resp}");
    assert_eq!(source["audit"]["id"], reported["id"], "{resp}");

    let now = app.audit(&h.quinn, &id(&reported)).await;
    let listed = finding(&now, "Consent documented");
    assert_eq!(
        listed["correctiveActions"]
            .as_array()
            .unwrap()
            .iter()
            .map(id)
            .collect::<Vec<_>>(),
        vec![id(&action)],
        "{listed}"
    );
    assert_eq!(
        finding(&now, "Capacity assessed")["correctiveActions"],
        json!([])
    );

    let closed = app.move_audit(&h.quinn, &now, "CLOSED").await;
    assert_eq!(closed["status"], "CLOSED");
    assert!(closed["closedAt"].is_string(), "{closed}");
}

#[tokio::test]
async fn a_cancelled_action_does_not_let_the_audit_close() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let reported = reported_with(&app, &h, &[("Consent documented", 95.0, 40, 30)]).await;
    let below = finding(&reported, "Consent documented");
    let action = raise_on(&app, &h.quinn, &below).await;
    let cancelled = app
        .update_action(
            &h.hana,
            &action,
            json!({ "status": "CANCELLED", "note": "Raised against the wrong criterion" }),
        )
        .await;
    assert_eq!(cancelled["status"], "CANCELLED");

    app.try_move_audit(&h.quinn, &reported, "CLOSED")
        .await
        .assert_error("BAD_USER_INPUT", Some("findings"));
    assert_eq!(
        app.audit(&h.quinn, &id(&reported)).await["status"],
        "REPORTED"
    );

    raise_on(&app, &h.hana, &below).await;
    let closed = app.move_audit(&h.quinn, &reported, "CLOSED").await;
    assert_eq!(closed["status"], "CLOSED");
}

#[tokio::test]
async fn findings_of_a_closed_audit_take_no_new_actions() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let reported = reported_with(
        &app,
        &h,
        &[
            ("Consent documented", 95.0, 40, 30),
            ("Capacity assessed", 80.0, 20, 18),
        ],
    )
    .await;
    let below = finding(&reported, "Consent documented");
    let action = raise_on(&app, &h.hana, &below).await;
    let closed = app.move_audit(&h.quinn, &reported, "CLOSED").await;

    for f in [&below, &finding(&closed, "Capacity assessed")] {
        for token in [&h.quinn, &h.hana] {
            let resp = app
                .try_create_corrective_action(token, corrective_action_input(&id(f), OLIVE))
                .await;
            assert_eq!(
                (resp.error_code().as_deref(), resp.error_field().as_deref()),
                (Some("BAD_USER_INPUT"), Some("sourceId")),
                "{}: {resp}",
                f["criterion"]
            );
        }
    }

    let now = app.audit(&h.quinn, &id(&closed)).await;
    let listed: Vec<String> = findings(&now)
        .iter()
        .flat_map(|f| f["correctiveActions"].as_array().unwrap().clone())
        .map(|a| id(&a))
        .collect();
    assert_eq!(listed, vec![id(&action)], "{now}");
}

// --- re-audit ------------------------------------------------------------------------------
