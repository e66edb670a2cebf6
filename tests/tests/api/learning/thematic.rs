//! One thematic review spans many incidents, and an incident may be covered by more than
//! one response.

use super::*;

/// The learning responses an incident lists, as `token` reads it.
async fn responses_of_incident(app: &TestApp, token: &str, incident: &Value) -> Vec<String> {
    let resp = app
        .gql(
            Some(token),
            "query($id: ID!) { incident(id: $id) { learningResponses { id kind } } }",
            json!({ "id": incident["id"] }),
        )
        .await;
    resp.assert_ok();
    resp.data()["incident"]["learningResponses"]
        .as_array()
        .unwrap_or_else(|| panic!("no learningResponses: {resp}"))
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn a_thematic_review_spans_three_incidents_and_each_lists_it() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let a = cardiac_incident(&app, &h, "Fall from trolley, bay 1").await;
    let b = cardiac_incident(&app, &h, "Fall from trolley, bay 2").await;
    let c = cardiac_incident(&app, &h, "Fall from trolley, corridor").await;

    let review = plan(&app, &h.hana, plan_input(&h.cardiology, &[&a, &b, &c])).await;

    assert_eq!(review["kind"], "THEMATIC_REVIEW");
    assert_eq!(review["status"], "PLANNED");
    assert_eq!(review["version"], 1);
    assert_eq!(
        review["leadEmail"], LEAD,
        "the lead's email is kept lower case"
    );
    assert_eq!(review["agreedDueDate"], days_from_today(60));
    assert_eq!(review["overdue"], false);
    assert_eq!(review["department"]["code"], "CARD");
    let covered: Vec<&Value> = review["incidents"].as_array().unwrap().iter().collect();
    assert_eq!(
        covered.iter().map(|i| id(i)).collect::<Vec<_>>(),
        vec![id(&a), id(&b), id(&c)],
        "the incidents in the order named"
    );
    for incident in [&a, &b, &c] {
        assert_eq!(
            responses_of_incident(&app, &h.hana, incident).await,
            vec![id(&review)],
            "{} lists the review",
            incident["reference"]
        );
    }
    // The reporter sees her incident, not the review of it.
    assert!(responses_of_incident(&app, &h.alice, &a).await.is_empty());

    let planned = &history_of(&app, &h, &review).await[0];
    assert_eq!(planned["action"], "learning_response.planned");
    let changes = planned["changes"].as_array().unwrap();
    let ids_change = changes
        .iter()
        .find(|c| c["field"] == "incidentIds")
        .unwrap_or_else(|| panic!("incidentIds not on the trail: {planned}"));
    assert_eq!(ids_change["after"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn an_incident_may_be_covered_by_more_than_one_response_and_links_do_not_repeat() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let a = cardiac_incident(&app, &h, "Fall from trolley, bay 1").await;
    let b = cardiac_incident(&app, &h, "Fall from trolley, bay 2").await;
    let huddle = plan(
        &app,
        &h.hana,
        with(
            plan_input(&h.cardiology, &[&a]),
            json!({ "kind": "SWARM_HUDDLE", "title": "Huddle after the bay 1 fall" }),
        ),
    )
    .await;
    let review = plan(&app, &h.quinn, plan_input(&h.cardiology, &[&b])).await;

    let resp = mutate(
        &app,
        &h.hana,
        "linkLearningResponse",
        "LinkLearningResponseInput",
        json!({ "learningResponseId": review["id"], "incidentIds": [a["id"], b["id"], a["id"]] }),
    )
    .await;
    let linked = response_of(&resp, "linkLearningResponse");
    assert_eq!(
        linked["incidents"]
            .as_array()
            .unwrap()
            .iter()
            .map(id)
            .collect::<Vec<_>>(),
        vec![id(&b), id(&a)],
        "each incident once, the new one after the first"
    );
    assert_eq!(
        responses_of_incident(&app, &h.hana, &a).await,
        vec![id(&huddle), id(&review)]
    );
    let events: Vec<String> = history_of(&app, &h, &review)
        .await
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        events,
        vec!["learning_response.planned", "learning_response.linked"]
    );
    // Filtering the list by incident finds both.
    let mut by_incident = listed(&app, &h.quinn, json!({ "incidentId": a["id"] })).await;
    by_incident.sort();
    let mut expected = vec![id(&huddle), id(&review)];
    expected.sort();
    assert_eq!(by_incident, expected);
}

#[tokio::test]
async fn a_handler_cannot_cover_an_incident_they_may_not_review() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let neuro = app
        .report_incident(&h.alice, incident_input(&h.neurology))
        .await;
    let resp = try_plan(&app, &h.hana, plan_input(&h.cardiology, &[&neuro])).await;
    resp.assert_error("BAD_USER_INPUT", Some("incidentIds"));
    assert!(
        listed(&app, &h.quinn, json!({})).await.is_empty(),
        "nothing was planned"
    );
    // Nor plan one for another department, nor a response of kind NONE.
    try_plan(&app, &h.hana, plan_input(&h.neurology, &[]))
        .await
        .assert_error("FORBIDDEN", None);
    try_plan(
        &app,
        &h.hana,
        with(plan_input(&h.cardiology, &[]), json!({ "kind": "NONE" })),
    )
    .await
    .assert_error("BAD_USER_INPUT", Some("kind"));
    try_plan(&app, &h.alice, plan_input(&h.cardiology, &[]))
        .await
        .assert_error("FORBIDDEN", None);
}
