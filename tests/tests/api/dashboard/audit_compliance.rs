//! Audit compliance across re-audits, and what a disposed audit leaves behind.

use super::*;

#[tokio::test]
async fn audit_compliance_follows_each_criterion_across_re_audits() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let first = app
        .plan_audit(
            &h.quinn,
            with(
                audit_input(&h.cardiology),
                json!({ "title": "ECG lead placement" }),
            ),
        )
        .await;
    let first = app.move_audit(&h.quinn, &first, "IN_PROGRESS").await;
    for (criterion, target, sample, compliant) in [
        ("Leads placed correctly", 95.0, 40, 30),
        ("Patient identity checked", 100.0, 40, 40),
    ] {
        app.record_audit_finding(
            &h.quinn,
            finding_input(
                first["id"].as_str().unwrap(),
                criterion,
                target,
                sample,
                compliant,
            ),
        )
        .await;
    }
    let again = app
        .plan_audit(
            &h.quinn,
            with(
                audit_input(&h.cardiology),
                json!({ "title": "ECG lead placement re-audit", "reauditOfId": first["id"],
                        "plannedStart": days_from_today(30), "plannedEnd": days_from_today(40) }),
            ),
        )
        .await;
    let again = app.move_audit(&h.quinn, &again, "IN_PROGRESS").await;
    app.record_audit_finding(
        &h.quinn,
        finding_input(
            again["id"].as_str().unwrap(),
            "Leads placed correctly",
            95.0,
            40,
            39,
        ),
    )
    .await;
    // Another department's audit is not the handler's to see.
    app.plan_audit(
        &h.quinn,
        with(
            audit_input(&h.neurology),
            json!({ "title": "EEG electrodes" }),
        ),
    )
    .await;

    let selection = "auditCompliance { title department { code } cycles { id title }
        criteria { criterion points { auditId plannedStart compliancePercent targetPercent nonConformity } } }
        nonConformitiesOpen";
    let next_year = json!({ "from": "2026-01-01", "to": days_from_today(365) });
    let d = dashboard(&app, &h.quinn, next_year.clone(), selection).await;
    let series = d["auditCompliance"].as_array().unwrap();
    assert_eq!(series.len(), 2, "{d}");
    let ecg = series
        .iter()
        .find(|s| s["title"] == "ECG lead placement")
        .unwrap();
    assert_eq!(ecg["cycles"].as_array().unwrap().len(), 2);
    let leads = ecg["criteria"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["criterion"] == "Leads placed correctly")
        .unwrap();
    let points: Vec<(f64, bool)> = leads["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["compliancePercent"].as_f64().unwrap(),
                p["nonConformity"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(points, vec![(75.0, true), (97.5, false)], "{leads}");
    assert_eq!(
        d["nonConformitiesOpen"], 1,
        "75 % against 95 % has no action yet"
    );

    // A completed action on the finding closes the non-conformity.
    let finding = app.audit(&h.quinn, first["id"].as_str().unwrap()).await["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["nonConformity"] == true)
        .unwrap()
        .clone();
    let action = app
        .create_corrective_action(
            &h.quinn,
            corrective_action_input(finding["id"].as_str().unwrap(), "lead@trust.example"),
        )
        .await;
    let started = app
        .update_action(&h.quinn, &action, json!({ "status": "IN_PROGRESS" }))
        .await;
    app.update_action(&h.quinn, &started, json!({ "status": "COMPLETED" }))
        .await;
    let d = dashboard(&app, &h.quinn, next_year.clone(), "nonConformitiesOpen").await;
    assert_eq!(d["nonConformitiesOpen"], 0);

    // The handler of cardiology sees only cardiology's series.
    let d = dashboard(&app, &h.hana, next_year, selection).await;
    let titles: Vec<&str> = d["auditCompliance"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, vec!["ECG lead placement"]);
}

#[tokio::test]
async fn a_disposed_audit_leaves_audit_compliance_and_open_non_conformities() {
    let app = spawn_app_with(|s| s.retention.audit_years = 0).await;
    let h = app.hospital().await;
    let ig = app.ig_officer("iris");
    let q = &h.quinn;

    // An audit with a non-conformity whose action is still open, closed, so due at once.
    let first = app
        .plan_audit(
            q,
            with(
                audit_input(&h.cardiology),
                json!({ "title": "Consent audit" }),
            ),
        )
        .await;
    let mut first = app.move_audit(q, &first, "IN_PROGRESS").await;
    for (criterion, target, compliant) in [
        ("Consent form signed", 95.0, 30),
        ("Risks recorded", 80.0, 36),
    ] {
        let id = first["id"].as_str().unwrap().to_string();
        first = app
            .record_audit_finding(q, finding_input(&id, criterion, target, 40, compliant))
            .await;
    }
    let below = first["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["nonConformity"] == true)
        .unwrap()
        .clone();
    app.create_corrective_action(
        q,
        corrective_action_input(below["id"].as_str().unwrap(), "lead@trust.example"),
    )
    .await;
    let first = app.move_audit(q, &first, "REPORTED").await;
    let first = app.move_audit(q, &first, "CLOSED").await;
    // Its re-audit, still running, and another audit with a non-conformity of its own.
    let again = app
        .plan_audit(
            q,
            with(
                audit_input(&h.cardiology),
                json!({ "title": "Consent re-audit", "reauditOfId": first["id"],
                        "plannedStart": days_from_today(30), "plannedEnd": days_from_today(40) }),
            ),
        )
        .await;
    let again = app.move_audit(q, &again, "IN_PROGRESS").await;
    app.record_audit_finding(
        q,
        finding_input(
            again["id"].as_str().unwrap(),
            "Consent form signed",
            95.0,
            40,
            39,
        ),
    )
    .await;
    let other = app
        .plan_audit(
            q,
            with(
                audit_input(&h.cardiology),
                json!({ "title": "Hand hygiene" }),
            ),
        )
        .await;
    let other = app.move_audit(q, &other, "IN_PROGRESS").await;
    app.record_audit_finding(
        q,
        finding_input(
            other["id"].as_str().unwrap(),
            "Bare below the elbow",
            100.0,
            20,
            17,
        ),
    )
    .await;

    let selection =
        "auditCompliance { title cycles { id } criteria { criterion points { auditId } } }
        nonConformitiesOpen";
    let period = json!({ "from": "2026-01-01", "to": days_from_today(365) });
    let before = dashboard(&app, q, period.clone(), selection).await;
    let series = before["auditCompliance"].as_array().unwrap();
    assert_eq!(series.len(), 2, "{before}");
    let consent = series
        .iter()
        .find(|s| s["title"] == "Consent audit")
        .unwrap();
    assert_eq!(consent["cycles"].as_array().unwrap().len(), 2, "{before}");
    assert_eq!(before["nonConformitiesOpen"], 2, "{before}");

    let resp = app
        .gql(
            Some(&ig),
            "mutation { disposeDueRecords { incidents audits improvementProjects held } }",
            json!({}),
        )
        .await;
    assert_eq!(resp.assert_ok()["disposeDueRecords"]["audits"], 1, "{resp}");

    // The disposed audit is gone from the figures: no cycle, no "Disposed" criteria, no
    // non-conformity. Its re-audit stands alone.
    let after = dashboard(&app, q, period, selection).await;
    let text = after.to_string();
    assert!(!text.contains("Disposed"), "{after}");
    assert!(
        !text.contains(first["id"].as_str().unwrap()),
        "the disposed audit is shown: {after}"
    );
    let series = after["auditCompliance"].as_array().unwrap();
    let mut titles: Vec<&str> = series
        .iter()
        .map(|s| s["title"].as_str().unwrap())
        .collect();
    titles.sort();
    assert_eq!(titles, ["Consent re-audit", "Hand hygiene"], "{after}");
    let re_audit = series
        .iter()
        .find(|s| s["title"] == "Consent re-audit")
        .unwrap();
    assert_eq!(
        re_audit["cycles"],
        json!([{ "id": again["id"] }]),
        "{after}"
    );
    assert_eq!(
        re_audit["criteria"],
        json!([{ "criterion": "Consent form signed", "points": [{ "auditId": again["id"] }] }]),
        "{after}"
    );
    assert_eq!(
        after["nonConformitiesOpen"], 1,
        "only the hand hygiene audit's: {after}"
    );
}
