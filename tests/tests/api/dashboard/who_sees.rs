//! Who sees which figures: handlers their departments only; counts only, and no access
//! logged.

use super::*;

const EVERYTHING: &str = "from to departments { code }
  incidentCounts(interval: MONTH, splitBy: PHYSICAL_HARM) { total buckets { start total split { key count } } }
  reportedVsClosed(interval: WEEK) { start reported closed }
  timeToTriage { count medianHours p90Hours } timeToClose { count medianHours p90Hours }
  openIncidentsByAge { label count }
  correctiveActions { open overdue completed byDepartment { department { code } open } byOwner { ownerEmail open } }
  auditCompliance { title } nonConformitiesOpen
  improvementMeasures { project { title } measure { name } }";

#[tokio::test]
async fn a_handler_sees_their_departments_figures_only_and_others_none() {
    let app = spawn_app().await;
    seed(&app, 600).await;
    let quinn = app.quality_lead("quinn");
    let cardiology = app
        .gql(Some(&quinn), "{ departments { id code } }", json!({}))
        .await
        .assert_ok()["departments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["code"] == "CARD")
        .unwrap()["id"]
        .clone();
    let hana = app.handler("hana", &["CARD"]);
    let five_years = json!({ "from": days_from_today(-5 * 365) });

    let hanas = dashboard(&app, &hana, five_years.clone(), EVERYTHING).await;
    let card_only = dashboard(
        &app,
        &quinn,
        with(five_years.clone(), json!({ "departmentIds": [cardiology] })),
        EVERYTHING,
    )
    .await;
    assert_eq!(hanas, card_only, "every field is cardiology's alone");
    assert_eq!(hanas["departments"], json!([{ "code": "CARD" }]));
    let trust = dashboard(&app, &quinn, five_years.clone(), EVERYTHING).await;
    assert!(
        trust["incidentCounts"]["total"].as_i64() > hanas["incidentCounts"]["total"].as_i64(),
        "the trust has more than one department's incidents"
    );
    assert!(
        trust["correctiveActions"]["open"].as_i64() > hanas["correctiveActions"]["open"].as_i64()
    );
    assert!(
        trust["improvementMeasures"].as_array().unwrap().len()
            > hanas["improvementMeasures"].as_array().unwrap().len()
    );

    // Another department is not hers to ask for.
    let neurology_like = app
        .gql(Some(&quinn), "{ departments { id code } }", json!({}))
        .await
        .assert_ok()["departments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["code"] == "NUCM")
        .unwrap()["id"]
        .clone();
    app.gql(
        Some(&hana),
        "query($f: DashboardFilter) { dashboard(filter: $f) { from } }",
        json!({ "f": { "departmentIds": [neurology_like] } }),
    )
    .await
    .assert_error("FORBIDDEN", None);

    // Staff, admins and IG officers have no dashboard; a reading service account does.
    for token in [
        app.staff("sam"),
        app.admin("ada"),
        app.ig_officer("ivy"),
        app.service(&["incidents:write"]),
    ] {
        app.gql(Some(&token), "{ dashboard { from } }", json!({}))
            .await
            .assert_error("FORBIDDEN", None);
    }
    app.gql(None, "{ dashboard { from } }", json!({}))
        .await
        .assert_error("UNAUTHENTICATED", None);
    let reader = app.service(&["incidents:read"]);
    assert_eq!(
        dashboard(&app, &reader, five_years, EVERYTHING).await,
        trust
    );

    // Bad input names the field.
    for (filter, field) in [
        (
            json!({ "departmentIds": ["RGVwYXJ0bWVudDowMDAwMDAwMC0wMDAwLTAwMDAtMDAwMC0wMDAwMDAwMDAwMDE="] }),
            "departmentIds",
        ),
        (json!({ "from": "2026-05-02", "to": "2026-05-01" }), "from"),
        (json!({ "from": "1900-01-01" }), "from"),
    ] {
        app.gql(
            Some(&quinn),
            "query($f: DashboardFilter) { dashboard(filter: $f) { from } }",
            json!({ "f": filter }),
        )
        .await
        .assert_error("BAD_USER_INPUT", Some(field));
    }
    app.gql(
        Some(&quinn),
        "query($f: DashboardFilter) { dashboard(filter: $f) { incidentCounts(interval: DAY) { total } } }",
        json!({ "f": { "from": "1990-01-01" } }),
    )
    .await
    .assert_error("BAD_USER_INPUT", Some("interval"));
}

async fn access_log_size(app: &TestApp, ig: &str) -> i64 {
    app.gql(
        Some(ig),
        "{ accessLog(first: 100) { totalCount } }",
        json!({}),
    )
    .await
    .assert_ok()["accessLog"]["totalCount"]
        .as_i64()
        .unwrap()
}

#[tokio::test]
async fn the_dashboard_shows_counts_only_and_logs_no_access() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let secret = "Mrs Eudora Pennyfeather-Quayle was given the wrong dose";
    let incident = app
        .report_incident(
            &h.alice,
            with(
                incident_input(&h.cardiology),
                json!({ "description": secret, "title": "Wrong dose given",
                        "patient": { "nhsNumber": "9434765919", "name": "Eudora Pennyfeather-Quayle" } }),
            ),
        )
        .await;
    app.triage(&h.hana, &incident, json!({ "findings": secret }))
        .await;
    let ig = app.ig_officer("ivy");
    let before = access_log_size(&app, &ig).await;
    let resp = app
        .gql(
            Some(&h.quinn),
            &format!("{{ dashboard {{ {EVERYTHING} categories: incidentCounts(splitBy: CATEGORY) {{ totals {{ key label count }} }} }} }}"),
            json!({}),
        )
        .await;
    resp.assert_ok();
    let text = resp.body.to_string();
    for needle in ["Pennyfeather", "9434765919", "wrong dose", "Alice"] {
        assert!(!text.contains(needle), "{needle} in {text}");
    }
    assert_eq!(resp.body["data"]["dashboard"]["incidentCounts"]["total"], 1);
    assert_eq!(
        access_log_size(&app, &ig).await,
        before,
        "a dashboard read writes no access events"
    );
}
