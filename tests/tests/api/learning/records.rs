//! A learning response as a record: who sees it, who works it, its findings read only by
//! those who may (every read logged), versioned changes, its status machine and its agreed
//! timeframe on the dashboard.

use super::*;

#[tokio::test]
async fn handlers_see_their_departments_responses_quality_leads_all_and_the_lead_their_own() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let lena = app.staff_with_email("lena", LEAD);
    let cardiac = plan(&app, &h.hana, plan_input(&h.cardiology, &[])).await;
    let neuro = plan(
        &app,
        &h.nina,
        with(
            plan_input(&h.neurology, &[]),
            json!({ "leadEmail": "nils@candour.test", "kind": "MDT_REVIEW" }),
        ),
    )
    .await;

    assert_eq!(listed(&app, &h.hana, json!({})).await, vec![id(&cardiac)]);
    assert_eq!(listed(&app, &h.nina, json!({})).await, vec![id(&neuro)]);
    assert_eq!(
        listed(&app, &h.quinn, json!({})).await,
        vec![id(&neuro), id(&cardiac)],
        "newest first"
    );
    assert_eq!(listed(&app, &lena, json!({})).await, vec![id(&cardiac)]);
    assert!(listed(&app, &h.alice, json!({})).await.is_empty());
    assert_eq!(
        listed(&app, &h.quinn, json!({ "kind": "MDT_REVIEW" })).await,
        vec![id(&neuro)]
    );
    assert_eq!(
        listed(&app, &h.quinn, json!({ "departmentId": h.cardiology })).await,
        vec![id(&cardiac)]
    );

    // Another department's response is not there at all, by id either.
    let resp = read(&app, &h.nina, &cardiac).await;
    resp.assert_ok();
    assert_eq!(resp.data()["node"], Value::Null);
    try_update(&app, &h.nina, &cardiac, json!({ "findings": FINDINGS }))
        .await
        .assert_error("NOT_FOUND", None);
    // The lead records findings but does not govern: no new lead, date or cancelling.
    try_update(
        &app,
        &lena,
        &cardiac,
        json!({ "agreedDueDate": days_from_today(90) }),
    )
    .await
    .assert_error("FORBIDDEN", None);
    try_move(&app, &lena, &cardiac, "CANCELLED", Some("no time"))
        .await
        .assert_error("FORBIDDEN", None);
    let started = move_to(&app, &lena, &cardiac, "IN_PROGRESS").await;
    assert_eq!(started["allowedTransitions"], json!(["COMPLETED"]));
}

#[tokio::test]
async fn findings_are_read_only_by_those_who_may_and_every_read_is_logged() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let lena = app.staff_with_email("lena", LEAD);
    let review = plan(&app, &h.hana, plan_input(&h.cardiology, &[])).await;
    let review = update(&app, &lena, &review, json!({ "findings": FINDINGS })).await;
    assert_eq!(review["version"], 2);

    let resp = read(&app, &h.quinn, &review).await;
    resp.assert_ok();
    assert_eq!(resp.data()["node"]["findings"], FINDINGS);
    let request_id = resp.request_id();
    let resp = read(&app, &h.hana, &review).await;
    assert_eq!(resp.data()["node"]["findings"], FINDINGS);

    let ig = app.ig_officer("iggy");
    let log = app
        .gql(
            Some(&ig),
            "{ accessLog(first: 100) { edges { node {
                 recordType recordId fields requestId actor { name } } } } }",
            json!({}),
        )
        .await;
    log.assert_ok();
    let reads: Vec<&Value> = log.data()["accessLog"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["node"])
        .filter(|e| e["recordType"] == "LearningResponse")
        .collect();
    assert_eq!(
        reads.len(),
        2,
        "one event per read of the findings: {reads:?}"
    );
    for e in &reads {
        assert_eq!(e["recordId"], review["id"]);
        assert_eq!(e["fields"], json!(["findings"]));
    }
    assert!(reads.iter().any(|e| e["requestId"] == request_id.as_str()));

    // Reading the response without its findings logs nothing more.
    let plain = app
        .gql(
            Some(&h.quinn),
            "query($id: ID!) { node(id: $id) { ... on LearningResponseRecord { title } } }",
            json!({ "id": review["id"] }),
        )
        .await;
    plain.assert_ok();
    let log = app
        .gql(
            Some(&ig),
            "{ accessLog(first: 100) { edges { node { requestId } } } }",
            json!({}),
        )
        .await;
    let plain_id = plain.request_id();
    assert!(
        !log.data()["accessLog"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["node"]["requestId"] == plain_id.as_str()),
        "a read without the findings is not logged: {log}"
    );

    // The trail says the findings changed, never what they say.
    let history = history_of(&app, &h, &review).await;
    let updated = history
        .iter()
        .find(|e| e["action"] == "learning_response.updated")
        .unwrap();
    let change = updated["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["field"] == "findings")
        .unwrap();
    assert_eq!(change["sensitive"], true);
    assert!(!serde_json::to_string(&history).unwrap().contains("Okafor"));
}

#[tokio::test]
async fn a_stale_version_is_a_conflict_and_changes_nothing() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let review = plan(&app, &h.hana, plan_input(&h.cardiology, &[])).await;
    let moved = update(
        &app,
        &h.quinn,
        &review,
        json!({ "title": "Falls: the corridor" }),
    )
    .await;
    assert_eq!(moved["version"], 2);

    let resp = try_update(&app, &h.hana, &review, json!({ "findings": FINDINGS })).await;
    resp.assert_error("CONFLICT", None);
    assert!(
        !resp.to_string().contains("Okafor"),
        "no findings in the error: {resp}"
    );
    try_move(&app, &h.hana, &review, "IN_PROGRESS", None)
        .await
        .assert_error("CONFLICT", None);

    let now = read(&app, &h.quinn, &review).await;
    assert_eq!(now.data()["node"]["version"], 2);
    assert_eq!(now.data()["node"]["status"], "PLANNED");
    assert_eq!(now.data()["node"]["findings"], Value::Null);
}

#[tokio::test]
async fn the_status_machine_refuses_what_it_does_not_allow() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let review = plan(&app, &h.hana, plan_input(&h.cardiology, &[])).await;
    assert_eq!(
        review["allowedTransitions"],
        json!(["IN_PROGRESS", "CANCELLED"])
    );

    try_move(&app, &h.hana, &review, "COMPLETED", None)
        .await
        .assert_error("BAD_USER_INPUT", Some("to"));
    try_move(&app, &h.hana, &review, "CANCELLED", None)
        .await
        .assert_error("BAD_USER_INPUT", Some("reason"));
    let started = move_to(&app, &h.hana, &review, "IN_PROGRESS").await;
    assert!(started["startedAt"].is_string());
    try_move(&app, &h.hana, &started, "COMPLETED", None)
        .await
        .assert_error("BAD_USER_INPUT", Some("to"));
    let with_findings = update(&app, &h.hana, &started, json!({ "findings": FINDINGS })).await;
    let done = move_to(&app, &h.hana, &with_findings, "COMPLETED").await;
    assert_eq!(done["status"], "COMPLETED");
    assert!(done["endedAt"].is_string());
    assert!(done["retentionUntil"].is_string());
    assert_eq!(done["allowedTransitions"], json!([]));
    for to in ["IN_PROGRESS", "CANCELLED", "PLANNED"] {
        try_move(&app, &h.quinn, &done, to, Some("reopen"))
            .await
            .assert_error("BAD_USER_INPUT", Some("to"));
    }
    try_update(&app, &h.quinn, &done, json!({ "findings": "more" }))
        .await
        .assert_error("BAD_USER_INPUT", Some("learningResponseId"));
    let events: Vec<String> = history_of(&app, &h, &done)
        .await
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        events,
        vec![
            "learning_response.planned",
            "learning_response.transitioned",
            "learning_response.updated",
            "learning_response.transitioned",
        ]
    );
}

#[tokio::test]
async fn the_overdue_count_moves_when_the_agreed_date_passes() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let review = plan(
        &app,
        &h.hana,
        with(
            plan_input(&h.cardiology, &[]),
            json!({ "agreedDueDate": days_from_today(1) }),
        ),
    )
    .await;
    let done_early = plan(
        &app,
        &h.hana,
        with(
            plan_input(&h.cardiology, &[]),
            json!({ "agreedDueDate": days_from_today(1), "kind": "AFTER_ACTION_REVIEW" }),
        ),
    )
    .await;
    let done_early = move_to(&app, &h.hana, &done_early, "IN_PROGRESS").await;
    let done_early = update(&app, &h.hana, &done_early, json!({ "findings": FINDINGS })).await;
    move_to(&app, &h.hana, &done_early, "COMPLETED").await;

    assert_eq!(figures(&app, &h).await, json!({ "open": 1, "overdue": 0 }));
    assert!(listed(&app, &h.quinn, json!({ "overdue": true }))
        .await
        .is_empty());

    // Three days on, by the server's clock.
    let later = app
        .another_instance(|s| {
            s.notify.clock = Some(chrono::Utc::now() + chrono::Duration::days(3));
        })
        .await;
    assert_eq!(
        figures(&later, &h).await,
        json!({ "open": 1, "overdue": 1 })
    );
    assert_eq!(
        listed(&later, &h.quinn, json!({ "overdue": true })).await,
        vec![id(&review)]
    );
    let resp = read(&later, &h.hana, &review).await;
    assert_eq!(resp.data()["node"]["overdue"], true);
    // Handlers of another department count none of it.
    let nina = later
        .gql(
            Some(&h.nina),
            "{ dashboard { learningResponses { open overdue } } }",
            json!({}),
        )
        .await;
    nina.assert_ok();
    assert_eq!(
        nina.data()["dashboard"]["learningResponses"],
        json!({ "open": 0, "overdue": 0 })
    );

    // A new date agreed with those affected: no longer overdue.
    update(
        &later,
        &h.hana,
        &review,
        json!({ "agreedDueDate": days_from_today(30) }),
    )
    .await;
    assert_eq!(
        figures(&later, &h).await,
        json!({ "open": 1, "overdue": 0 })
    );
}
