//! Redaction: viewers without a need to know read null in place of sensitive fields.

use super::*;

// ---------------------------------------------------------------------------------------------
// Redaction
// ---------------------------------------------------------------------------------------------

const EVERY_SENSITIVE_FIELD: &str = "description immediateActions findings
  patient { nhsNumber name dateOfBirth } reporter { name } comments { body }";

#[tokio::test]
async fn the_departments_handler_and_the_quality_lead_read_every_sensitive_field() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = report(&app, &h.alice, report_with_patient(&h.cardiology, NHS)).await;
    let triaged = app
        .gql(
            Some(&h.hana),
            "mutation($input: TriageIncidentInput!) { triageIncident(input: $input) { incident { id version } } }",
            json!({ "input": {
                "incidentId": id(&incident), "expectedVersion": incident["version"],
                "findings": "Rails were not raised at handover.",
            } }),
        )
        .await;
    triaged.assert_ok();
    app.comment(&h.hana, &id(&incident), "Spoke to the night team.")
        .await;

    for (who, token) in [("handler", &h.hana), ("quality lead", &h.quinn)] {
        let resp = read_incident(&app, token, &id(&incident), EVERY_SENSITIVE_FIELD).await;
        let read = &resp.assert_ok()["incident"];
        assert!(read["description"].is_string(), "{who}: {resp}");
        assert!(read["immediateActions"].is_string(), "{who}: {resp}");
        assert_eq!(
            read["findings"], "Rails were not raised at handover.",
            "{who}"
        );
        assert_eq!(read["patient"]["nhsNumber"], NHS, "{who}");
        assert_eq!(read["patient"]["name"], PATIENT_NAME, "{who}");
        assert_eq!(read["patient"]["dateOfBirth"], PATIENT_DOB, "{who}");
        assert_eq!(read["reporter"]["name"], "Alice Test", "{who}");
        assert_eq!(
            read["comments"][0]["body"], "Spoke to the night team.",
            "{who}"
        );

        let events = events_of(&app, &resp).await;
        assert_eq!(
            fields(only_event_about(&events, &id(&incident))),
            strs(&[
                "comments",
                "description",
                "findings",
                "immediateActions",
                "patient",
                "reporter"
            ]),
            "{who}"
        );
    }
}

#[tokio::test]
async fn the_named_reporter_reads_their_own_words_but_not_the_patient() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = report(&app, &h.alice, report_with_patient(&h.cardiology, NHS)).await;
    let triaged = app
        .gql(
            Some(&h.hana),
            "mutation($input: TriageIncidentInput!) { triageIncident(input: $input) { incident { id } } }",
            json!({ "input": {
                "incidentId": id(&incident), "expectedVersion": incident["version"],
                "findings": "Rails were not raised at handover.",
            } }),
        )
        .await;
    triaged.assert_ok();
    app.comment(&h.hana, &id(&incident), "Spoke to the night team.")
        .await;

    let resp = read_incident(&app, &h.alice, &id(&incident), EVERY_SENSITIVE_FIELD).await;
    let read = &resp.assert_ok()["incident"];
    assert_eq!(
        read["description"],
        "Patient was left on a trolley with the side rails down and slid off."
    );
    assert_eq!(
        read["immediateActions"],
        "Patient checked by the ward doctor; no injury found."
    );
    assert_eq!(read["reporter"]["name"], "Alice Test");
    assert!(read["patient"].is_null(), "no need for the patient: {resp}");
    assert!(read["findings"].is_null(), "{resp}");
    assert!(read["comments"].is_null(), "{resp}");

    let events = events_of(&app, &resp).await;
    let event = only_event_about(&events, &id(&incident));
    assert_eq!(
        fields(event),
        strs(&["description", "immediateActions", "reporter"]),
        "what was withheld was not read"
    );
    assert_eq!(event["actorLabel"], "alice");
}

#[tokio::test]
async fn an_anonymous_reports_receipt_shows_nothing_sensitive_and_logs_no_read() {
    let app = spawn_app().await;
    let h = app.hospital().await;

    let resp = app
        .gql(
            Some(&h.bob),
            "mutation($input: ReportIncidentInput!) { reportIncident(input: $input) {
               followUpCode
               incident { id reference title status anonymous description immediateActions
                          patient { nhsNumber name dateOfBirth } reporter { id name email }
                          findings comments { body } }
             } }",
            json!({ "input": with(report_with_patient(&h.cardiology, NHS), json!({ "anonymous": true })) }),
        )
        .await;
    let payload = &resp.assert_ok()["reportIncident"];
    let receipt = &payload["incident"];
    assert_eq!(receipt["anonymous"], true);
    assert_eq!(receipt["status"], "REPORTED");
    for field in [
        "description",
        "immediateActions",
        "patient",
        "reporter",
        "findings",
        "comments",
    ] {
        assert!(
            receipt[field].is_null(),
            "{field} is shown on the receipt: {resp}"
        );
    }
    assert!(payload["followUpCode"].is_string(), "{resp}");

    assert_eq!(access_log(&app, json!({})).await, Vec::<Value>::new());

    // The handler still reads the report, with no reporter to name.
    let read = read_incident(
        &app,
        &h.hana,
        &id(receipt),
        "description reporter { name } patient { nhsNumber }",
    )
    .await;
    let incident = &read.assert_ok()["incident"];
    assert!(incident["description"].is_string(), "{read}");
    assert_eq!(incident["patient"]["nhsNumber"], NHS);
    assert!(incident["reporter"].is_null(), "{read}");
    let events = events_of(&app, &read).await;
    assert_eq!(
        fields(only_event_about(&events, &id(receipt))),
        strs(&["description", "patient"]),
        "no reporter, so no reporter read"
    );
}

#[tokio::test]
async fn an_admin_cannot_see_an_incident_at_all() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = report(&app, &h.alice, report_with_patient(&h.cardiology, NHS)).await;

    let direct = read_incident(&app, &h.ada, &id(&incident), "description patient { name }").await;
    direct.assert_error("NOT_FOUND", None);
    assert!(
        direct.data().is_null() || direct.data()["incident"].is_null(),
        "{direct}"
    );
    let by_reference = app
        .gql(
            Some(&h.ada),
            "query($r: String!) { incidentByReference(reference: $r) { id description } }",
            json!({ "r": incident["reference"] }),
        )
        .await;
    by_reference.assert_error("NOT_FOUND", None);
    let node = app
        .gql(
            Some(&h.ada),
            "query($id: ID!) { node(id: $id) { id ... on Incident { description } } }",
            json!({ "id": id(&incident) }),
        )
        .await;
    assert!(node.data()["node"].is_null(), "{node}");
    let list = app
        .gql(
            Some(&h.ada),
            "{ incidents(first: 10) { edges { node { id description } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        node_ids(&list.assert_ok()["incidents"]),
        Vec::<String>::new()
    );

    assert_eq!(access_log(&app, json!({})).await, Vec::<Value>::new());
}
