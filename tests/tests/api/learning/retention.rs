//! A learning response has a retention class of its own: kept from its completion or
//! cancellation, held by a legal hold, and disposed of with its findings cleared.

use super::*;

const DUE: &str = "query($filter: RetentionFilter) { retentionDue(first: 100, filter: $filter) {
  edges { node { recordType recordId label legalHold } } } }";

async fn due(app: &TestApp, ig: &str) -> Vec<Value> {
    let resp = app
        .gql(
            Some(ig),
            DUE,
            json!({ "filter": { "recordType": "LEARNING_RESPONSE" } }),
        )
        .await;
    resp.assert_ok();
    resp.data()["retentionDue"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"].clone())
        .collect()
}

async fn dispose(app: &TestApp, ig: &str) -> Value {
    let resp = app
        .gql(
            Some(ig),
            "mutation { disposeDueRecords { incidents audits improvementProjects learningResponses held } }",
            json!({}),
        )
        .await;
    resp.assert_ok();
    resp.data()["disposeDueRecords"].clone()
}

/// A review completed with findings, with an action raised from it.
async fn completed_review(app: &TestApp, h: &Hospital) -> (Value, Value) {
    let review = plan(app, &h.hana, plan_input(&h.cardiology, &[])).await;
    let action = app
        .create_corrective_action(
            &h.hana,
            with(
                corrective_action_input(&id(&review), "olive@candour.test"),
                json!({ "description": "Tell Mrs Okafor's daughter what changed" }),
            ),
        )
        .await;
    let review = move_to(app, &h.hana, &review, "IN_PROGRESS").await;
    let review = update(app, &h.hana, &review, json!({ "findings": FINDINGS })).await;
    (move_to(app, &h.hana, &review, "COMPLETED").await, action)
}

#[tokio::test]
async fn an_open_response_is_kept_and_a_finished_one_falls_due_after_its_years() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let ig = app.ig_officer("iggy");
    let open = plan(&app, &h.hana, plan_input(&h.cardiology, &[])).await;
    assert_eq!(open["retentionUntil"], Value::Null);
    let (done, _) = completed_review(&app, &h).await;
    let ended = parse_time(&done["endedAt"]);
    let until = parse_time(&done["retentionUntil"]);
    assert_eq!(
        until,
        ended.checked_add_months(chrono::Months::new(120)).unwrap(),
        "ten years by default"
    );
    assert!(due(&app, &ig).await.is_empty());
    assert_eq!(dispose(&app, &ig).await["learningResponses"], 0);
}

#[tokio::test]
async fn a_legal_hold_stops_disposal_and_disposal_clears_the_findings() {
    let app = spawn_app_with(|s| s.retention.learning_response_years = 0).await;
    let h = app.hospital().await;
    let ig = app.ig_officer("iggy");
    let (review, action) = completed_review(&app, &h).await;
    let still_open = plan(&app, &h.hana, plan_input(&h.cardiology, &[])).await;

    let listed = due(&app, &ig).await;
    assert_eq!(listed.len(), 1, "only the completed one: {listed:?}");
    assert_eq!(listed[0]["recordId"], review["id"]);
    assert_eq!(listed[0]["recordType"], "LEARNING_RESPONSE");
    assert_eq!(listed[0]["legalHold"], false);

    let hold = app
        .gql(
            Some(&ig),
            "mutation($input: PlaceLegalHoldInput!) { placeLegalHold(input: $input) {
               legalHold { id recordType recordId active } } }",
            json!({ "input": { "recordId": review["id"], "reason": "Coroner's inquest" } }),
        )
        .await;
    hold.assert_ok();
    let hold = hold.data()["placeLegalHold"]["legalHold"].clone();
    assert_eq!(hold["recordType"], "LearningResponse");
    assert_eq!(hold["recordId"], review["id"]);
    assert_eq!(due(&app, &ig).await[0]["legalHold"], true);
    let held = dispose(&app, &ig).await;
    assert_eq!(held["learningResponses"], 0);
    assert_eq!(held["held"], 1);
    let resp = read(&app, &h.quinn, &review).await;
    assert_eq!(
        resp.data()["node"]["findings"],
        FINDINGS,
        "held: kept whole"
    );

    let released = app
        .gql(
            Some(&ig),
            "mutation($input: ReleaseLegalHoldInput!) { releaseLegalHold(input: $input) {
               legalHold { active } } }",
            json!({ "input": { "legalHoldId": hold["id"], "reason": "Inquest closed" } }),
        )
        .await;
    released.assert_ok();
    let done = dispose(&app, &ig).await;
    assert_eq!(done["learningResponses"], 1);
    assert_eq!(done["held"], 0);

    let resp = read(&app, &h.quinn, &review).await;
    resp.assert_ok();
    let tombstone = &resp.data()["node"];
    assert_eq!(tombstone["findings"], Value::Null);
    assert_eq!(tombstone["timeframeAgreedWith"], Value::Null);
    assert!(tombstone["disposedAt"].is_string());
    assert_eq!(
        tombstone["status"], "COMPLETED",
        "the tombstone keeps its facts"
    );
    assert_eq!(tombstone["kind"], "THEMATIC_REVIEW");
    let disposed_action = app.corrective_action(&h.quinn, &id(&action)).await;
    assert_eq!(disposed_action["description"], Value::Null);
    assert_eq!(disposed_action["title"], "Disposed record");

    // Nothing of the findings is left in the database.
    let db = app.db().await;
    use sea_orm::{ConnectionTrait, Statement};
    let rows = db
        .query_all(Statement::from_string(
            db.get_database_backend(),
            "SELECT findings FROM learning_response WHERE findings IS NOT NULL",
        ))
        .await
        .unwrap();
    assert!(rows.is_empty(), "findings left after disposal");
    let _ = db.close().await;

    let events: Vec<String> = history_of(&app, &h, &review)
        .await
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_string())
        .collect();
    assert!(
        events.contains(&"learning_response.disposed".to_string()),
        "{events:?}"
    );
    assert!(
        events.contains(&"legal_hold.placed".to_string()),
        "{events:?}"
    );
    // The open one is untouched, and a disposed response takes no new actions.
    assert!(read(&app, &h.quinn, &still_open).await.data()["node"]["disposedAt"].is_null());
    app.try_create_corrective_action(&h.hana, corrective_action_input(&id(&review), LEAD))
        .await
        .assert_error("BAD_USER_INPUT", Some("sourceId"));
}
