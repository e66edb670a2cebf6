//! The access log at scale and in the IG officer's hands: list pages, the stated purpose,
//! what happens when the log cannot be written, and reading the log back.

use super::*;

#[tokio::test]
async fn a_handler_listing_three_incidents_writes_exactly_three_events() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let with_patient_1 = report(&app, &h.alice, report_with_patient(&h.cardiology, NHS)).await;
    let without_patient = report(&app, &h.alice, incident_input(&h.cardiology)).await;
    let with_patient_2 = report(&app, &h.bob, report_with_patient(&h.cardiology, OTHER_NHS)).await;
    // Not hana's department: neither listed nor logged.
    let elsewhere = report(&app, &h.bob, report_with_patient(&h.neurology, NHS)).await;
    let hana_id = app.staff_id(&h.hana).await;

    let resp = app
        .gql(
            Some(&h.hana),
            "{ incidents(first: 10) { edges { node { id description patient { nhsNumber } } } } }",
            json!({}),
        )
        .await;
    let listed = node_ids(&resp.assert_ok()["incidents"]);
    assert_eq!(listed.len(), 3, "{resp}");

    let events = events_of(&app, &resp).await;
    assert_eq!(events.len(), 3, "{}", pretty(&events));
    for (incident, expected) in [
        (&with_patient_1, vec!["description", "patient"]),
        (&without_patient, vec!["description"]),
        (&with_patient_2, vec!["description", "patient"]),
    ] {
        let event = only_event_about(&events, &id(incident));
        assert_eq!(fields(event), strs(&expected), "{event}");
        assert_eq!(event["actorLabel"], "hana");
        assert_eq!(event["actor"]["id"], hana_id.as_str());
        assert_eq!(event["recordType"], "Incident");
    }
    assert!(about(&events, &id(&elsewhere)).is_empty());
}

#[tokio::test]
async fn a_list_page_of_fifty_writes_its_access_events_in_one_statement() {
    let app = spawn_app_with(|s| s.diagnostics.sql_statement_count = true).await;
    let h = app.hospital().await;
    for _ in 0..50 {
        report(&app, &h.alice, incident_input(&h.cardiology)).await;
    }
    // Hana is known to the server before anything is measured.
    app.staff_id(&h.hana).await;

    let statements = |selection: &'static str, first: i64| {
        let app = &app;
        let token = h.hana.clone();
        async move {
            let resp = app
                .gql(
                    Some(&token),
                    &format!(
                        "query($first: Int) {{ incidents(first: $first) {{ edges {{ node {{ {selection} }} }} }} }}"
                    ),
                    json!({ "first": first }),
                )
                .await;
            let listed = node_ids(&resp.assert_ok()["incidents"]);
            assert_eq!(listed.len() as i64, first, "{resp}");
            let count: i64 = resp
                .header("x-sql-statements")
                .unwrap_or_else(|| panic!("no x-sql-statements header: {resp:?}"))
                .parse()
                .expect("x-sql-statements is a number");
            (count, resp)
        }
    };

    let (plain_5, _) = statements("id title", 5).await;
    let (logged_5, resp_5) = statements("id title description", 5).await;
    let (plain_50, _) = statements("id title", 50).await;
    let (logged_50, resp_50) = statements("id title description", 50).await;

    let extra_5 = logged_5 - plain_5;
    let extra_50 = logged_50 - plain_50;
    assert!(
        (1..=2).contains(&extra_50),
        "logging a page of 50 reads costs the access-log INSERT (and at most a staff upsert), \
         not one write per row: {plain_50} statements without description, {logged_50} with"
    );
    assert_eq!(
        extra_5, extra_50,
        "the cost of logging does not grow with the page: 5 rows +{extra_5}, 50 rows +{extra_50}"
    );

    assert_eq!(events_of(&app, &resp_5).await.len(), 5);
    let events_50 = events_of(&app, &resp_50).await;
    assert_eq!(events_50.len(), 50);
    assert!(events_50
        .iter()
        .all(|e| fields(e) == strs(&["description"]) && e["actorLabel"] == "hana"));
    assert_eq!(
        access_log(&app, json!({})).await.len(),
        55,
        "the pages without description logged nothing"
    );
}

#[tokio::test]
async fn the_stated_purpose_is_kept_with_every_event_of_the_request() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let first = report(&app, &h.alice, incident_input(&h.cardiology)).await;
    let second = report(&app, &h.alice, incident_input(&h.cardiology)).await;
    let purpose = "Complaint response CR-2026-017";

    let resp = app
        .gql_with_headers(
            Some(&h.hana),
            "{ incidents(first: 10) { edges { node { id description } } } }",
            json!({}),
            &[("X-Access-Purpose", purpose)],
        )
        .await;
    resp.assert_ok();

    let events = events_of(&app, &resp).await;
    assert_eq!(events.len(), 2, "{}", pretty(&events));
    for incident in [&first, &second] {
        assert_eq!(only_event_about(&events, &id(incident))["purpose"], purpose);
    }

    // Exactly 200 characters is still a purpose.
    let longest = "p".repeat(200);
    let resp = app
        .gql_with_headers(
            Some(&h.hana),
            "query($id: ID!) { incident(id: $id) { description } }",
            json!({ "id": id(&first) }),
            &[("X-Access-Purpose", longest.as_str())],
        )
        .await;
    resp.assert_ok();
    let events = events_of(&app, &resp).await;
    assert_eq!(
        only_event_about(&events, &id(&first))["purpose"],
        longest.as_str()
    );
}

#[tokio::test]
async fn a_purpose_that_is_too_long_or_not_plain_text_is_refused_with_400_and_nothing_is_read() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = report(&app, &h.alice, incident_input(&h.cardiology)).await;

    for (what, purpose) in [
        ("201 characters", "p".repeat(201)),
        ("a control character", "complaint\tresponse".to_string()),
    ] {
        let resp = app
            .gql_with_headers(
                Some(&h.hana),
                "query($id: ID!) { incident(id: $id) { description } }",
                json!({ "id": id(&incident) }),
                &[("X-Access-Purpose", purpose.as_str())],
            )
            .await;
        assert_eq!(resp.status, 400, "{what}: {resp}");
        resp.assert_error("BAD_USER_INPUT", None);
        assert!(resp.data().is_null(), "{what}: nothing is answered: {resp}");
    }
    // Bytes that are not UTF-8 are not plain text either.
    let raw = app
        .client
        .post(app.url("/graphql"))
        .header("Content-Type", "application/json")
        .header("Accept", GRAPHQL_RESPONSE_JSON)
        .header(
            "X-Access-Purpose",
            reqwest::header::HeaderValue::from_bytes(b"caf\xe9 visit").expect("obs-text"),
        )
        .bearer_auth(&h.hana)
        .body(
            json!({
                "query": "query($id: ID!) { incident(id: $id) { description } }",
                "variables": { "id": id(&incident) },
            })
            .to_string(),
        )
        .send()
        .await
        .expect("POST /graphql");
    assert_eq!(raw.status().as_u16(), 400);
    let body: Value = raw.json().await.expect("a JSON body");
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{body}"
    );
    assert!(body.get("data").is_none_or(Value::is_null), "{body}");

    assert_eq!(access_log(&app, json!({})).await, Vec::<Value>::new());
}

#[tokio::test]
async fn when_the_access_log_cannot_be_written_sensitive_values_are_withheld() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = report(&app, &h.alice, report_with_patient(&h.cardiology, NHS)).await;

    // Take the access log away from under the server.
    let db = app.db().await;
    db.execute_unprepared("ALTER TABLE access_event RENAME TO access_event_gone")
        .await
        .expect("rename the access log table");
    let _ = db.close().await;

    let resp = read_incident(
        &app,
        &h.hana,
        &id(&incident),
        "description patient { nhsNumber name }",
    )
    .await;
    assert_eq!(resp.status, 500, "{resp}");
    resp.assert_error("INTERNAL", None);
    let body = resp.body.to_string();
    for secret in [
        NHS,
        PATIENT_NAME,
        "Patient was left on a trolley with the side rails down and slid off.",
    ] {
        assert!(
            !body.contains(secret),
            "{secret:?} was sent without its read on record: {resp}"
        );
    }

    // What is not sensitive is still answered.
    let plain = read_incident(&app, &h.hana, &id(&incident), "reference status").await;
    assert_eq!(
        plain.assert_ok()["incident"]["reference"],
        incident["reference"]
    );
}

#[tokio::test]
async fn only_an_ig_officer_reads_the_access_log() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = report(&app, &h.alice, incident_input(&h.cardiology)).await;
    read_incident(&app, &h.hana, &id(&incident), "description")
        .await
        .assert_ok();
    let query = "{ accessLog(first: 10) { edges { node { id fields } } } }";

    for (who, token) in [
        ("staff", &h.alice),
        ("a handler", &h.hana),
        ("a quality lead", &h.quinn),
        ("an admin", &h.ada),
        (
            "a service account",
            &app.service(&["incidents:read", "incidents:write", "incidents:manage"]),
        ),
    ] {
        let resp = app.gql(Some(token), query, json!({})).await;
        assert_eq!(
            resp.error_code().as_deref(),
            Some("FORBIDDEN"),
            "{who}: {resp}"
        );
        assert!(
            resp.data().is_null() || resp.data()["accessLog"].is_null(),
            "{who}: {resp}"
        );
    }
    let anonymous = app.gql(None, query, json!({})).await;
    assert_eq!(
        anonymous.error_code().as_deref(),
        Some("UNAUTHENTICATED"),
        "{anonymous}"
    );

    let resp = app.gql(Some(&ig_officer(&app)), query, json!({})).await;
    let edges = resp.assert_ok()["accessLog"]["edges"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(edges.len(), 1, "{resp}");
}

#[tokio::test]
async fn the_access_log_is_newest_first_and_filters_by_reader_record_time_and_page() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let a = report(&app, &h.alice, incident_input(&h.cardiology)).await;
    let b = report(&app, &h.alice, incident_input(&h.cardiology)).await;
    let hana_id = app.staff_id(&h.hana).await;
    let quinn_id = app.staff_id(&h.quinn).await;

    let r1 = read_incident(&app, &h.hana, &id(&a), "description").await;
    r1.assert_ok();
    let r2 = read_incident(&app, &h.quinn, &id(&b), "description").await;
    r2.assert_ok();
    let r3 = read_incident(&app, &h.hana, &id(&b), "description").await;
    r3.assert_ok();

    let request_ids = |events: &[Value]| -> Vec<String> {
        events
            .iter()
            .map(|e| e["requestId"].as_str().unwrap().to_string())
            .collect()
    };
    let all = access_log(&app, json!({})).await;
    assert_eq!(
        request_ids(&all),
        vec![r3.request_id(), r2.request_id(), r1.request_id()],
        "newest first"
    );

    let by_hana = access_log(&app, json!({ "actorId": hana_id })).await;
    assert_eq!(
        request_ids(&by_hana),
        vec![r3.request_id(), r1.request_id()]
    );
    let by_quinn = access_log(&app, json!({ "actorId": quinn_id })).await;
    assert_eq!(request_ids(&by_quinn), vec![r2.request_id()]);

    let of_b = access_log(&app, json!({ "recordId": id(&b) })).await;
    assert_eq!(request_ids(&of_b), vec![r3.request_id(), r2.request_id()]);
    let hana_on_b = access_log(&app, json!({ "recordId": id(&b), "actorId": hana_id })).await;
    assert_eq!(request_ids(&hana_on_b), vec![r3.request_id()]);

    // `after` is inclusive, `before` exclusive.
    let second_at = all[1]["at"].clone();
    assert!(
        parse_time(&all[2]["at"]) < parse_time(&second_at),
        "{}",
        pretty(&all)
    );
    let from_second = access_log(&app, json!({ "after": second_at })).await;
    assert_eq!(
        request_ids(&from_second),
        vec![r3.request_id(), r2.request_id()]
    );
    let before_second = access_log(&app, json!({ "before": second_at })).await;
    assert_eq!(request_ids(&before_second), vec![r1.request_id()]);

    // One page at a time.
    let page = |after: Option<String>| {
        let app = &app;
        async move {
            let resp = app
                .gql(
                    Some(&ig_officer(app)),
                    "query($after: String) { accessLog(first: 2, after: $after) {
                       edges { cursor node { requestId } }
                       pageInfo { hasNextPage endCursor }
                     } }",
                    json!({ "after": after }),
                )
                .await;
            resp.assert_ok();
            resp.data()["accessLog"].clone()
        }
    };
    let first_page = page(None).await;
    assert_eq!(first_page["pageInfo"]["hasNextPage"], true);
    assert_eq!(first_page["edges"].as_array().unwrap().len(), 2);
    let second_page = page(
        first_page["pageInfo"]["endCursor"]
            .as_str()
            .map(String::from),
    )
    .await;
    assert_eq!(second_page["pageInfo"]["hasNextPage"], false);
    let rest = second_page["edges"].as_array().unwrap();
    assert_eq!(rest.len(), 1, "{second_page}");
    assert_eq!(rest[0]["node"]["requestId"], r1.request_id().as_str());
}
