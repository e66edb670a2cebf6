//! Starting an improvement project.

use super::*;

// ---------------------------------------------------------------------------------------------
// Starting
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_quality_lead_starts_a_project_from_the_incidents_and_audits_that_prompted_it() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = app
        .report_incident(&h.alice, incident_input(&h.cardiology))
        .await;
    let audit = app.plan_audit(&h.quinn, audit_input(&h.cardiology)).await;

    let project = start(
        &app,
        &h.quinn,
        with(
            project_input(&h.cardiology),
            json!({ "incidentIds": [incident["id"]], "auditIds": [audit["id"]] }),
        ),
    )
    .await;

    assert_eq!(project["status"], "PROPOSED", "{project}");
    assert_eq!(project["version"], 1, "{project}");
    assert_eq!(project["title"], "Fewer falls on the cardiac ward");
    assert_eq!(project["department"]["code"], "CARD");
    assert_eq!(
        project["leadEmail"], LEAD,
        "the lead is stored in lower case"
    );
    assert!(
        project["startedAt"].is_null() && project["closedAt"].is_null(),
        "{project}"
    );
    let measures = project["measures"].as_array().unwrap();
    assert_eq!(measures.len(), 1, "{project}");
    assert_eq!(measures[0]["name"], "Falls per 1,000 bed days");
    assert_eq!(measures[0]["kind"], "OUTCOME");
    assert_eq!(measures[0]["betterWhen"], "LOWER");
    assert_eq!(measures[0]["target"], 2.5);
    assert_eq!(measures[0]["measurements"], json!([]));
    assert_eq!(
        project["incidents"],
        json!([{ "id": incident["id"] }]),
        "{project}"
    );
    assert_eq!(project["auditIds"], json!([audit["id"]]), "{project}");

    // Everyone signed in reads it back.
    let read = read_project(&app, &h.alice, &id(&project)).await;
    assert_eq!(read["status"], "PROPOSED");
    assert_eq!(read["measures"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn only_quality_leads_and_the_departments_handlers_start_projects() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let lead = app.staff_with_email("lena", LEAD);

    let by_hana = start(&app, &h.hana, project_input(&h.cardiology)).await;
    assert_eq!(by_hana["status"], "PROPOSED");
    assert_eq!(by_hana["department"]["code"], "CARD");

    for (who, token) in [
        ("Nina, who handles another department", &h.nina),
        ("Alice, staff", &h.alice),
        ("the would-be lead", &lead),
    ] {
        let resp = try_start(&app, token, project_input(&h.cardiology)).await;
        resp.assert_error("FORBIDDEN", None);
        assert!(
            resp.data().is_null() || resp.data()["startImprovementProject"].is_null(),
            "{who} started a project: {resp}"
        );
    }
    let service = app.service(&["incidents:manage"]);
    try_start(&app, &service, project_input(&h.cardiology))
        .await
        .assert_error("FORBIDDEN", None);

    // A project needs at least one measure.
    try_start(
        &app,
        &h.quinn,
        with(project_input(&h.cardiology), json!({ "measures": [] })),
    )
    .await
    .assert_error("BAD_USER_INPUT", Some("measures"));

    let (ids, total) = listed_ids(&app, &h.quinn, json!({})).await;
    assert_eq!(ids, vec![id(&by_hana)], "only Hana's project was started");
    assert_eq!(total, 1);
}
