//! The change trail: every change to an incident is recorded with who did it, which request
//! did it and what changed, and never with the sensitive values themselves.

use candour_tests::*;
use serde_json::{json, Value};

fn events<'a>(history: &'a [Value], action: &str) -> Vec<&'a Value> {
    history.iter().filter(|e| e["action"] == action).collect()
}

#[track_caller]
fn only_event<'a>(history: &'a [Value], action: &str) -> &'a Value {
    let found = events(history, action);
    assert_eq!(
        found.len(),
        1,
        "expected one {action} event in {}",
        serde_json::to_string_pretty(history).unwrap()
    );
    found[0]
}

fn change<'a>(event: &'a Value, field: &str) -> Option<&'a Value> {
    event["changes"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["field"] == field))
}

#[tokio::test]
async fn every_change_is_in_the_history_with_the_request_that_made_it() {
    let app = spawn_app().await;
    let h = app.hospital().await;

    let reported = app
        .try_report_incident(
            &h.alice,
            with(
                incident_input(&h.cardiology),
                json!({ "physicalHarm": "MODERATE" }),
            ),
        )
        .await;
    reported.assert_ok();
    let incident = reported.data()["reportIncident"]["incident"].clone();
    let id = incident["id"].as_str().unwrap();

    let triaged = app
        .try_triage(
            &h.hana,
            json!({ "incidentId": id, "expectedVersion": 1, "category": "Falls" }),
        )
        .await;
    triaged.assert_ok();

    let transitioned = app
        .try_transition(
            &h.hana,
            json!({ "incidentId": id, "expectedVersion": 2, "to": "INVESTIGATING" }),
        )
        .await;
    transitioned.assert_ok();

    let commented = app.try_comment(&h.hana, id, "Rota checked.").await;
    commented.assert_ok();
    let version = commented.data()["commentOnIncident"]["incident"]["version"].clone();

    let candour = app
        .try_record_candour_step(
            &h.quinn,
            json!({
                "incidentId": id, "expectedVersion": version,
                "step": "VERBAL_NOTIFICATION", "takenAt": rfc3339(chrono::Utc::now()),
            }),
        )
        .await;
    candour.assert_ok();

    let history = app.history(&h.quinn, id).await;
    for (action, resp, actor) in [
        ("incident.reported", &reported, "Alice Test"),
        ("incident.triaged", &triaged, "Hana Test"),
        ("incident.transitioned", &transitioned, "Hana Test"),
        ("incident.commented", &commented, "Hana Test"),
        ("incident.candour_step_recorded", &candour, "Quinn Test"),
    ] {
        let event = only_event(&history, action);
        assert_eq!(
            event["requestId"],
            resp.request_id().as_str(),
            "{action} carries the id of the request that made it: {event}"
        );
        assert_eq!(event["actor"]["name"], actor, "{action}: {event}");
        assert!(event["at"].is_string(), "{event}");
        assert!(
            event["entityType"].as_str().is_some_and(|s| !s.is_empty()),
            "{event}"
        );
    }
    let times: Vec<_> = history.iter().map(|e| parse_time(&e["at"])).collect();
    let mut sorted = times.clone();
    sorted.sort();
    let mut reversed = sorted.clone();
    reversed.reverse();
    assert!(
        times == sorted || times == reversed,
        "history is in time order: {times:?}"
    );
}

#[tokio::test]
async fn a_status_change_records_the_status_before_and_after() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = app
        .report_incident(&h.alice, incident_input(&h.cardiology))
        .await;
    let triaged = app.triage(&h.hana, &incident, json!({})).await;
    app.transition(&h.hana, &triaged, "INVESTIGATING").await;

    let history = app
        .history(&h.quinn, incident["id"].as_str().unwrap())
        .await;

    let triage = only_event(&history, "incident.triaged");
    let status = change(triage, "status").unwrap_or_else(|| panic!("no status change: {triage}"));
    assert_eq!(status["before"], "REPORTED");
    assert_eq!(status["after"], "UNDER_REVIEW");

    let transition = only_event(&history, "incident.transitioned");
    let status =
        change(transition, "status").unwrap_or_else(|| panic!("no status change: {transition}"));
    assert_eq!(status["before"], "UNDER_REVIEW");
    assert_eq!(status["after"], "INVESTIGATING");
}

#[tokio::test]
async fn triage_records_each_changed_fact_before_and_after() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = app
        .report_incident(&h.alice, incident_input(&h.cardiology))
        .await;

    app.triage(
        &h.quinn,
        &incident,
        json!({
            "physicalHarm": "SEVERE",
            "learningResponse": "PSII",
            "learningResponseOverrideReason": "The medical director asked for an investigation",
        }),
    )
    .await;

    let history = app
        .history(&h.quinn, incident["id"].as_str().unwrap())
        .await;
    let triage = only_event(&history, "incident.triaged");
    let harm = change(triage, "physicalHarm")
        .unwrap_or_else(|| panic!("no physicalHarm change: {triage}"));
    assert_eq!(harm["before"], "LOW");
    assert_eq!(harm["after"], "SEVERE");
    let response = change(triage, "learningResponse")
        .unwrap_or_else(|| panic!("no learningResponse change: {triage}"));
    assert!(response["before"].is_null(), "{response}");
    assert_eq!(response["after"], "PSII");
}

#[tokio::test]
async fn the_request_id_a_client_sends_is_the_one_recorded() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = app
        .report_incident(&h.alice, incident_input(&h.cardiology))
        .await;

    let resp = app
        .gql_with_headers(
            Some(&h.hana),
            "mutation($input: TransitionIncidentInput!) { transitionIncident(input: $input) { incident { id } } }",
            json!({ "input": { "incidentId": incident["id"], "expectedVersion": 1, "to": "UNDER_REVIEW" } }),
            &[("x-request-id", "ward7-tablet.req_0042")],
        )
        .await;
    resp.assert_ok();
    assert_eq!(resp.request_id(), "ward7-tablet.req_0042");

    let history = app
        .history(&h.quinn, incident["id"].as_str().unwrap())
        .await;
    let event = only_event(&history, "incident.transitioned");
    assert_eq!(event["requestId"], "ward7-tablet.req_0042");
}

#[tokio::test]
async fn sensitive_values_never_appear_in_the_history() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = app
        .report_incident(
            &h.alice,
            with(
                incident_input(&h.cardiology),
                json!({
                    "description": "Zanzibar-description-secret: patient distressed after fall.",
                    "patient": { "nhsNumber": "9434765919", "name": "Quentin Zanzibar-Patient", "dateOfBirth": "1944-02-29" },
                }),
            ),
        )
        .await;
    let id = incident["id"].as_str().unwrap();
    app.comment(&h.hana, id, "Zanzibar-comment-secret: son is a nurse here.")
        .await;
    app.triage(&h.hana, &incident, json!({ "category": "Falls" }))
        .await;

    let history = app.history(&h.quinn, id).await;
    assert!(events(&history, "incident.commented").len() == 1);
    let text = serde_json::to_string(&history).unwrap();
    for secret in [
        "Zanzibar-description-secret",
        "Zanzibar-comment-secret",
        "Zanzibar-Patient",
        "9434765919",
        "1944-02-29",
    ] {
        assert!(
            !text.contains(secret),
            "{secret:?} leaked into the trail: {}",
            serde_json::to_string_pretty(&history).unwrap()
        );
    }
}

#[tokio::test]
async fn the_history_of_an_anonymous_report_does_not_say_who_made_it() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = app
        .report_incident(
            &h.alice,
            with(incident_input(&h.cardiology), json!({ "anonymous": true })),
        )
        .await;

    let history = app
        .history(&h.quinn, incident["id"].as_str().unwrap())
        .await;

    let reported = only_event(&history, "incident.reported");
    assert!(reported["actor"].is_null(), "{reported}");
    let text = serde_json::to_string(&history).unwrap();
    for identity in ["Alice", "alice@candour.test", "\"alice\""] {
        assert!(
            !text.contains(identity),
            "{identity} identifies the anonymous reporter: {text}"
        );
    }
}
