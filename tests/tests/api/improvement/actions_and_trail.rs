//! Corrective actions raised from a project, and the trail of its changes.

use super::*;

// ---------------------------------------------------------------------------------------------
// Corrective actions and the trail
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn an_action_raised_from_a_project_is_listed_on_it_with_the_project_as_its_source() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let p = start(&app, &h.quinn, project_input(&h.cardiology)).await;
    let other = start(&app, &h.quinn, project_input(&h.neurology)).await;

    let action = app
        .create_corrective_action(
            &h.hana,
            corrective_action_input(&id(&p), "olive@candour.test"),
        )
        .await;
    assert_eq!(
        action["source"]["__typename"], "ImprovementProject",
        "{action}"
    );
    assert_eq!(action["department"]["code"], "CARD", "{action}");

    let resp = app
        .gql(
            Some(&h.quinn),
            "query($id: ID!) { node(id: $id) { ... on CorrectiveAction {
               id source { __typename ... on ImprovementProject { id title } } } } }",
            json!({ "id": action["id"] }),
        )
        .await;
    resp.assert_ok();
    assert_eq!(resp.data()["node"]["source"]["id"], p["id"], "{resp}");
    assert_eq!(resp.data()["node"]["source"]["title"], p["title"], "{resp}");

    let read = read_project(&app, &h.quinn, &id(&p)).await;
    assert_eq!(
        read["correctiveActions"],
        json!([{
            "id": action["id"], "title": action["title"],
            "source": { "__typename": "ImprovementProject", "id": p["id"] },
        }]),
        "{read}"
    );
    assert_eq!(
        read_project(&app, &h.quinn, &id(&other)).await["correctiveActions"],
        json!([]),
        "only the project it was raised from lists it"
    );
    // The project's version is not the action's business.
    assert_eq!(read["version"], p["version"]);
}

#[tokio::test]
async fn every_change_to_a_project_is_on_its_trail_in_order() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let lead = app.staff_with_email("lena", LEAD);
    let incident = app
        .report_incident(&h.alice, incident_input(&h.cardiology))
        .await;
    let audit = app.plan_audit(&h.quinn, audit_input(&h.cardiology)).await;

    let p = start(&app, &h.quinn, project_input(&h.cardiology)).await;

    let resp = mutate(
        &app,
        &lead,
        "addMeasure",
        "AddMeasureInput",
        json!({ "projectId": p["id"], "expectedVersion": p["version"], "measure": {
            "name": "Patients with a falls risk assessment", "kind": "PROCESS",
            "unit": "%", "target": 95.0, "betterWhen": "HIGHER",
        } }),
    )
    .await;
    let p2 = project_of(&resp, "addMeasure");
    assert!(
        p2["version"].as_i64() > p["version"].as_i64(),
        "addMeasure bumps the version"
    );
    assert_eq!(p2["measures"].as_array().unwrap().len(), 2);
    // The same name in another case is the same measure.
    mutate(
        &app,
        &lead,
        "addMeasure",
        "AddMeasureInput",
        json!({ "projectId": p["id"], "expectedVersion": p2["version"], "measure": {
            "name": "FALLS PER 1,000 BED DAYS", "kind": "OUTCOME", "unit": "x", "betterWhen": "LOWER",
        } }),
    )
    .await
    .assert_error("BAD_USER_INPUT", Some("measure.name"));

    record(&app, &lead, &p2["measures"][1]["id"], 72.0, &ago(24)).await;
    let resp = try_add_cycle(
        &app,
        &lead,
        json!({ "projectId": p["id"], "title": "Risk assessment at admission", "startDate": "2026-10-05" }),
    )
    .await;
    let cycle = project_of(&resp, "addPdsaCycle")["pdsaCycles"][0].clone();
    try_update_cycle(&app, &lead, &cycle, json!({ "stage": "DO" }))
        .await
        .assert_ok();
    let resp = mutate(
        &app,
        &h.hana,
        "linkImprovementProject",
        "LinkImprovementProjectInput",
        json!({ "projectId": p["id"], "incidentIds": [incident["id"]], "auditIds": [audit["id"]] }),
    )
    .await;
    let linked = project_of(&resp, "linkImprovementProject");
    assert_eq!(linked["incidents"], json!([{ "id": incident["id"] }]));
    assert_eq!(linked["auditIds"], json!([audit["id"]]));
    // Linking again adds nothing, and records nothing.
    mutate(
        &app,
        &h.hana,
        "linkImprovementProject",
        "LinkImprovementProjectInput",
        json!({ "projectId": p["id"], "incidentIds": [incident["id"]] }),
    )
    .await
    .assert_ok();
    move_to(&app, &h.quinn, &p2, "ACTIVE").await;

    let history = project_history(&app, &h.alice, &id(&p)).await;
    assert_eq!(
        actions_of(&history),
        vec![
            "improvement.started",
            "improvement.measure_added",
            "improvement.measurement_recorded",
            "improvement.pdsa_added",
            "improvement.pdsa_updated",
            "improvement.linked",
            "improvement.transitioned",
        ],
        "{history:?}"
    );
    assert!(
        history
            .iter()
            .all(|e| e["entityType"] == "ImprovementProject"),
        "{history:?}"
    );
    assert_eq!(
        history[0]["actor"]["name"], "Quinn Test",
        "{:?}",
        history[0]
    );
    assert_eq!(history[1]["actor"]["name"], "Lena Test", "{:?}", history[1]);
    assert_eq!(history[5]["actor"]["name"], "Hana Test", "{:?}", history[5]);
    let ats: Vec<_> = history.iter().map(|e| parse_time(&e["at"])).collect();
    assert!(
        ats.windows(2).all(|w| w[0] <= w[1]),
        "oldest first: {history:?}"
    );
}
