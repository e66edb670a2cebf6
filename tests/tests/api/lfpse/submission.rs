//! What reaches LFPSE and when: a reportable report, each later version LFPSE cares about
//! (as an update of the record LFPSE created), nothing for a kind LFPSE does not take or a
//! change it does not carry, no reporter identity, the key in its header and not the logs.

use super::*;

#[tokio::test]
async fn a_reportable_report_is_submitted_and_its_national_reference_shows_on_the_incident() {
    let lfpse = LfpseServer::start().await;
    let app = app_submitting(&lfpse, |_| {}).await;
    let h = app.hospital().await;
    let incident = app
        .report_incident(&h.alice, incident_input(&h.cardiology))
        .await;
    let reference = reference_of(&incident);

    let l = submitted(&app, &h.quinn, &id(&incident), 1).await;
    assert_eq!(l["reference"], "W100001", "{l}");
    assert_eq!(l["lfpseId"], "ae-0001", "{l}");
    assert_eq!(l["lfpseVersionId"], "1", "{l}");
    assert_eq!(l["attempts"], 1, "{l}");
    assert!(l["lastError"].is_null(), "{l}");
    assert!(l["nextAttemptAt"].is_null(), "{l}");
    assert!(parse_time(&l["submittedAt"]) >= parse_time(&incident["reportedAt"]));

    // Whoever may read the incident sees where it stands: its handler, its reporter.
    assert_eq!(
        lfpse_of(&app, &h.hana, &id(&incident)).await["reference"],
        "W100001"
    );
    assert_eq!(
        lfpse_of(&app, &h.alice, &id(&incident)).await["status"],
        "SUBMITTED"
    );

    let requests = lfpse.requests().await;
    assert_eq!(requests.len(), 1, "{requests:?}");
    let r = &requests[0];
    assert_eq!((r.method.as_str(), r.path.as_str()), ("POST", ENDPOINT));
    assert_eq!(r.headers["content-type"], "application/fhir+json");
    assert_eq!(r.headers["accept"], "application/fhir+json");
    assert_eq!(r.body["resourceType"], "AdverseEvent");
    assert_eq!(reference_sent(r), reference);
    assert!(
        r.body.get("id").is_none(),
        "a create carries no id: {}",
        r.body
    );

    // The list a quality lead watches holds it, sent.
    let rows = submissions(&app, &h.quinn, &["SENT"]).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["incidentReference"], reference.as_str());
    assert_eq!(rows[0]["incidentId"], incident["id"]);
    assert_eq!(rows[0]["method"], "CREATE");
    assert_eq!(rows[0]["version"], 1);
    assert_eq!(rows[0]["reference"], "W100001");
}

#[tokio::test]
async fn an_event_of_a_kind_lfpse_does_not_take_is_never_queued() {
    let lfpse = LfpseServer::start().await;
    let app = app_submitting(&lfpse, |_| {}).await;
    let h = app.hospital().await;
    let staff_injury = app
        .report_incident(
            &h.alice,
            with(
                incident_input(&h.cardiology),
                json!({ "kind": "STAFF_SAFETY" }),
            ),
        )
        .await;
    let patient = app
        .report_incident(&h.alice, incident_input(&h.cardiology))
        .await;
    // Once the later, reportable one is through, the earlier would have been too.
    submitted(&app, &h.quinn, &id(&patient), 1).await;
    app.triage(
        &h.quinn,
        &staff_injury,
        json!({ "physicalHarm": "MODERATE" }),
    )
    .await;

    assert!(lfpse_of(&app, &h.quinn, &id(&staff_injury)).await.is_null());
    let requests = lfpse.requests().await;
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(reference_sent(&requests[0]), reference_of(&patient));
    assert_eq!(submissions(&app, &h.quinn, &[]).await.len(), 1);
}

#[tokio::test]
async fn a_triage_that_changes_harm_submits_version_two_as_an_update_of_the_lfpse_record() {
    let lfpse = LfpseServer::start().await;
    let app = app_submitting(&lfpse, |_| {}).await;
    let h = app.hospital().await;
    let incident = app
        .report_incident(&h.alice, incident_input(&h.cardiology))
        .await;
    submitted(&app, &h.quinn, &id(&incident), 1).await;

    app.triage(&h.hana, &incident, json!({ "physicalHarm": "MODERATE" }))
        .await;
    let l = submitted(&app, &h.quinn, &id(&incident), 2).await;
    assert_eq!(l["lfpseId"], "ae-0001", "the same record: {l}");
    assert_eq!(
        l["lfpseVersionId"], "2",
        "LFPSE's second version of it: {l}"
    );
    assert_eq!(
        l["reference"], "W100001",
        "the national reference stays: {l}"
    );

    let requests = lfpse.requests().await;
    assert_eq!(requests.len(), 2, "{requests:?}");
    let put = &requests[1];
    assert_eq!(put.method, "PUT");
    assert_eq!(put.path, format!("{ENDPOINT}/ae-0001"));
    assert_eq!(put.updated_id(), Some("ae-0001"));
    assert_eq!(put.body["id"], "ae-0001", "an update names what it updates");
    assert_eq!(reference_sent(put), reference_of(&incident));
    let mut updated = put.body.clone();
    updated.as_object_mut().unwrap().remove("id");
    assert_ne!(requests[0].body, updated, "the new harm went: {}", put.body);
    assert_eq!(put.headers[KEY_HEADER], API_KEY);

    let rows = submissions(&app, &h.quinn, &[]).await;
    let methods: Vec<&str> = rows.iter().map(|r| r["method"].as_str().unwrap()).collect();
    assert_eq!(methods, ["UPDATE", "CREATE"], "newest first: {rows:?}");
}

#[tokio::test]
async fn a_change_lfpse_does_not_hold_queues_nothing() {
    let lfpse = LfpseServer::start().await;
    let app = app_submitting(&lfpse, |_| {}).await;
    let h = app.hospital().await;
    app.sign_in(&[&h.hana]).await;
    let incident = app
        .report_incident(&h.alice, incident_input(&h.cardiology))
        .await;
    submitted(&app, &h.quinn, &id(&incident), 1).await;

    // Review, a handler, feedback, a comment: none of it is in what LFPSE holds.
    let hana = app.staff_id(&h.hana).await;
    let triaged = app
        .triage(
            &h.quinn,
            &incident,
            json!({
                "handlerId": hana,
                "feedbackToReporter": "Thank you: rails are now checked at every handover.",
            }),
        )
        .await;
    app.comment(&h.hana, &id(&incident), "Spoke to the ward manager.")
        .await;
    let again = app
        .triage(
            &h.hana,
            &triaged,
            json!({ "learningSummary": "Rails are part of the handover checklist." }),
        )
        .await;
    // A change it does hold, so that anything queued before has had its turn.
    app.triage(&h.hana, &again, json!({ "physicalHarm": "NONE" }))
        .await;
    submitted(&app, &h.quinn, &id(&incident), 2).await;

    let requests = lfpse.requests().await;
    assert_eq!(
        requests
            .iter()
            .map(|r| r.method.as_str())
            .collect::<Vec<_>>(),
        ["POST", "PUT"],
        "one version for the report, one for the harm: {requests:?}"
    );
    assert_eq!(submissions(&app, &h.quinn, &[]).await.len(), 2);
    let incident_id = uuid_of(&id(&incident));
    assert_eq!(
        count(
            &app,
            "lfpse_submission",
            &format!("incident_id = {incident_id}")
        )
        .await,
        2
    );
}

#[tokio::test]
async fn an_anonymous_report_reaches_lfpse_without_anything_of_its_reporter() {
    let lfpse = LfpseServer::start().await;
    let app = app_submitting(&lfpse, |_| {}).await;
    let h = app.hospital().await;
    let resp = app
        .try_report_incident(
            &h.alice,
            with(incident_input(&h.cardiology), json!({ "anonymous": true })),
        )
        .await;
    resp.assert_ok();
    let incident = resp.data()["reportIncident"]["incident"].clone();
    let reference = reference_of(&incident);
    let requests = lfpse.wait_for(1, WAIT).await;
    let sent = &about(&requests, &reference)[0];
    let text = sent.body.to_string().to_lowercase();
    for identity in ["alice", "alice test", "alice@candour.test"] {
        assert!(
            !text.contains(identity),
            "{identity:?} reached LFPSE: {}",
            sent.body
        );
    }
    let practitioner = sent.body["contained"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["resourceType"] == "Practitioner")
        .cloned()
        .unwrap_or(Value::Null);
    for field in ["name", "telecom", "identifier", "address"] {
        assert!(
            practitioner.get(field).is_none(),
            "the reporter's {field}: {practitioner}"
        );
    }
    let anonymous = element(&sent.body, "IsAnonymous");
    assert_eq!(anonymous.len(), 1, "{}", sent.body);
    let said: Vec<String> = anonymous[0]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| k.starts_with("value"))
        .map(|(_, v)| v.to_string().trim_matches('"').to_string())
        .collect();
    assert!(
        said.iter().any(|v| v == "true" || v == "y"),
        "IsAnonymous says so: {}",
        sent.body
    );
    let l = wait_for_lfpse(&app, &h.quinn, &id(&incident), "submitted", |l| {
        l["status"] == "SUBMITTED"
    })
    .await;
    assert_eq!(l["reference"], "W100001");
}

#[tokio::test]
async fn the_api_key_reaches_lfpse_in_its_header_and_never_the_logs() {
    let lfpse = LfpseServer::start().await;
    let app = app_submitting(&lfpse, |_| {}).await;
    let h = app.hospital().await;
    let incident = app
        .report_incident(&h.alice, incident_input(&h.cardiology))
        .await;
    submitted(&app, &h.quinn, &id(&incident), 1).await;
    let requests = lfpse.requests().await;
    assert_eq!(requests[0].headers[KEY_HEADER], API_KEY);

    // A gateway that wants another header gets the key there.
    let other = app
        .another_instance(|s| s.lfpse.api_key_header = "X-Api-Key".into())
        .await;
    app.stop(true).await;
    let second = other
        .report_incident(&h.alice, incident_input(&h.cardiology))
        .await;
    submitted(&other, &h.quinn, &id(&second), 1).await;
    let requests = lfpse.requests().await;
    let last = &about(&requests, &reference_of(&second))[0];
    assert_eq!(last.headers["x-api-key"], API_KEY);
    assert!(!last.headers.contains_key(KEY_HEADER));

    // Neither the key nor the endpoint (it may carry one) is in any line logged.
    let lines = logs::lines();
    let url = lfpse.url();
    for line in &lines {
        assert!(!line.contains(API_KEY), "the key in a log line: {line}");
        assert!(!line.contains(&url), "lfpse.url in a log line: {line}");
    }
    assert!(
        lines
            .iter()
            .any(|l| l.contains("LFPSE submission accepted")),
        "the dispatcher logs what it did"
    );
}

/// A global id's uuid, as the database stores it, for a WHERE clause on either database.
fn uuid_of(global: &str) -> String {
    use base64::Engine;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(global)
        .expect("a global id");
    let text = String::from_utf8(raw).unwrap();
    let uuid = uuid::Uuid::parse_str(text.split(':').nth(1).unwrap()).unwrap();
    match std::env::var("TEST_DATABASE_URL") {
        Ok(u) if !u.trim().is_empty() => format!("'{uuid}'"),
        _ => format!("X'{}'", uuid.simple()),
    }
}
