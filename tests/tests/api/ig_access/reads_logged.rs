//! The access log: every read of a sensitive field, by whatever path, is one access event
//! per record per request, naming every field read.

use super::*;

// ---------------------------------------------------------------------------------------------
// The access log
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_handler_reading_an_incident_writes_one_access_event_naming_every_field_read() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = report(&app, &h.alice, report_with_patient(&h.cardiology, NHS)).await;
    let incident_id = id(&incident);
    app.comment(&h.hana, &incident_id, "Bed rails checked.")
        .await;
    let hana_id = app.staff_id(&h.hana).await;

    let resp = read_incident(
        &app,
        &h.hana,
        &incident_id,
        "title description immediateActions patient { nhsNumber name dateOfBirth }
         reporter { name } comments { body }",
    )
    .await;
    let read = &resp.assert_ok()["incident"];
    assert_eq!(read["patient"]["nhsNumber"], NHS);
    assert_eq!(read["reporter"]["name"], "Alice Test");

    let events = events_of(&app, &resp).await;
    let event = only_event_about(&events, &incident_id);
    assert_eq!(events.len(), 1, "{}", pretty(&events));
    assert_eq!(
        fields(event),
        strs(&[
            "comments",
            "description",
            "immediateActions",
            "patient",
            "reporter"
        ])
    );
    assert_eq!(event["recordType"], "Incident");
    assert_eq!(event["actorLabel"], "hana");
    assert_eq!(event["actor"]["id"], hana_id.as_str());
    assert_eq!(event["actor"]["name"], "Hana Test");
    assert!(
        event["actorRoles"]
            .as_str()
            .is_some_and(|r| r.contains("handler")),
        "{event}"
    );
    assert_eq!(event["breakGlass"], false);
    assert!(event["purpose"].is_null(), "{event}");
    let at = parse_time(&event["at"]);
    assert!(
        (Utc::now() - at).num_seconds().abs() < 30,
        "the event is dated when the read happened: {event}"
    );
}

#[tokio::test]
async fn fields_without_a_value_are_not_recorded_as_read() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    // No patient, no immediate actions, no findings.
    let incident = report(&app, &h.alice, incident_input(&h.cardiology)).await;
    let incident_id = id(&incident);

    let resp = read_incident(
        &app,
        &h.hana,
        &incident_id,
        "description immediateActions findings statusReason patient { nhsNumber }",
    )
    .await;
    let read = &resp.assert_ok()["incident"];
    assert!(read["immediateActions"].is_null(), "{resp}");
    assert!(read["findings"].is_null(), "{resp}");
    assert!(read["statusReason"].is_null(), "{resp}");
    assert!(read["patient"].is_null(), "{resp}");

    let events = events_of(&app, &resp).await;
    assert_eq!(
        fields(only_event_about(&events, &incident_id)),
        strs(&["description"])
    );
}

#[tokio::test]
async fn the_reason_an_incident_was_declined_is_logged_when_read_and_not_shown_on_a_receipt() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    // Free text that names a patient, as a decline reason may.
    let reason = "Not an incident: Mrs Quillfeather's fall was seen on the ward round";
    logs::register(reason);
    let incident = report(&app, &h.alice, incident_input(&h.cardiology)).await;
    let incident_id = id(&incident);
    app.transition_because(&h.hana, &incident, "DECLINED", reason)
        .await;

    // The handler and the named reporter read it, and each read is on record.
    for (who, token, label) in [
        ("handler", &h.hana, "hana"),
        ("named reporter", &h.alice, "alice"),
    ] {
        let resp = read_incident(&app, token, &incident_id, "status statusReason").await;
        let read = &resp.assert_ok()["incident"];
        assert_eq!(read["status"], "DECLINED", "{who}");
        assert_eq!(read["statusReason"], reason, "{who}");
        let events = events_of(&app, &resp).await;
        let event = only_event_about(&events, &incident_id);
        assert_eq!(fields(event), strs(&["statusReason"]), "{who}");
        assert_eq!(event["actorLabel"], label, "{who}");
    }

    // An anonymous report's receipt (here, handed back again for its idempotency key once
    // the report was declined) shows the status but not the reason, and records no read.
    let key = uuid::Uuid::new_v4().to_string();
    let anonymous = with(
        incident_input(&h.cardiology),
        json!({ "anonymous": true, "idempotencyKey": key }),
    );
    let receipt = report(&app, &h.bob, anonymous.clone()).await;
    app.transition_because(&h.hana, &receipt, "DECLINED", reason)
        .await;
    let again = app
        .gql(
            Some(&h.bob),
            "mutation($input: ReportIncidentInput!) {
               reportIncident(input: $input) { incident { id status statusReason } } }",
            json!({ "input": anonymous }),
        )
        .await;
    let shown = &again.assert_ok()["reportIncident"]["incident"];
    assert_eq!(shown["id"], id(&receipt).as_str(), "{again}");
    assert_eq!(shown["status"], "DECLINED", "{again}");
    assert!(shown["statusReason"].is_null(), "{again}");
    assert_eq!(events_of(&app, &again).await, Vec::<Value>::new());
}

#[tokio::test]
async fn reading_only_non_sensitive_fields_writes_nothing() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = report(&app, &h.alice, report_with_patient(&h.cardiology, NHS)).await;
    let incident_id = id(&incident);

    let one = read_incident(
        &app,
        &h.hana,
        &incident_id,
        "reference title status handler { name }",
    )
    .await;
    one.assert_ok();
    let list = app.list_incidents(&h.hana, json!({ "first": 10 })).await;
    list.assert_ok();
    let by_reference = app
        .gql(
            Some(&h.quinn),
            "query($r: String!) { incidentByReference(reference: $r) { id title status } }",
            json!({ "r": incident["reference"] }),
        )
        .await;
    by_reference.assert_ok();

    assert_eq!(access_log(&app, json!({})).await, Vec::<Value>::new());

    // And the log does record a sensitive read in the same setting.
    let sensitive = read_incident(&app, &h.hana, &incident_id, "description").await;
    sensitive.assert_ok();
    assert_eq!(access_log(&app, json!({})).await.len(), 1);
}

#[tokio::test]
async fn the_request_id_of_the_reading_request_is_kept_with_its_event() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = report(&app, &h.alice, incident_input(&h.cardiology)).await;
    let incident_id = id(&incident);

    let first = read_incident(&app, &h.hana, &incident_id, "description").await;
    first.assert_ok();
    let second = read_incident(&app, &h.hana, &incident_id, "description").await;
    second.assert_ok();

    let log = access_log(&app, json!({ "recordId": incident_id })).await;
    assert_eq!(log.len(), 2, "one event per request: {}", pretty(&log));
    // Newest first.
    assert_eq!(log[0]["requestId"], second.request_id().as_str());
    assert_eq!(log[1]["requestId"], first.request_id().as_str());
    assert_ne!(first.request_id(), second.request_id());
}

#[tokio::test]
async fn every_path_to_an_incident_logs_its_reads() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = report(&app, &h.alice, report_with_patient(&h.cardiology, NHS)).await;
    let incident_id = id(&incident);
    let reference = incident["reference"].as_str().unwrap().to_string();

    let paths = [
        (
            "incident(id)",
            "query($id: ID!) { incident(id: $id) { id description } }",
            json!({ "id": incident_id }),
            vec!["description"],
        ),
        (
            "incidentByReference",
            "query($ref: String!) { incidentByReference(reference: $ref) { id patient { name } } }",
            json!({ "ref": reference }),
            vec!["patient"],
        ),
        (
            "node(id)",
            "query($id: ID!) { node(id: $id) { ... on Incident { id immediateActions reporter { name } } } }",
            json!({ "id": incident_id }),
            vec!["immediateActions", "reporter"],
        ),
        (
            "incidents list",
            "{ incidents(first: 10) { edges { node { id comments { body } } } } }",
            json!({}),
            vec!["comments"],
        ),
    ];
    for (path, query, variables, expected) in paths {
        let resp = app.gql(Some(&h.hana), query, variables).await;
        resp.assert_ok();
        let events = events_of(&app, &resp).await;
        assert_eq!(events.len(), 1, "{path}: {}", pretty(&events));
        assert_eq!(
            fields(only_event_about(&events, &incident_id)),
            strs(&expected),
            "{path}"
        );
    }

    // A GET request reads just the same.
    let get = app
        .get_graphql(
            Some(&h.hana),
            GRAPHQL_RESPONSE_JSON,
            &[(
                "query",
                &format!("{{ incident(id: \"{incident_id}\") {{ id findings description }} }}"),
            )],
        )
        .await;
    assert!(
        get.assert_ok()["incident"]["description"].is_string(),
        "{get}"
    );
    let events = events_of(&app, &get).await;
    assert_eq!(
        fields(only_event_about(&events, &incident_id)),
        strs(&["description"]),
        "GET"
    );

    // So does a mutation's payload.
    let triaged = app
        .gql(
            Some(&h.hana),
            "mutation($input: TriageIncidentInput!) {
               triageIncident(input: $input) { incident { id findings patient { nhsNumber } } }
             }",
            json!({ "input": {
                "incidentId": incident_id, "expectedVersion": incident["version"],
                "findings": "Rails were not raised at handover.",
            } }),
        )
        .await;
    triaged.assert_ok();
    let events = events_of(&app, &triaged).await;
    assert_eq!(
        fields(only_event_about(&events, &incident_id)),
        strs(&["findings", "patient"]),
        "mutation payload"
    );
}

#[tokio::test]
async fn a_service_accounts_reads_are_logged_under_its_label_and_scopes() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = report(&app, &h.alice, report_with_patient(&h.cardiology, NHS)).await;
    let service = app.service(&["incidents:read"]);

    let resp = read_incident(
        &app,
        &service,
        &id(&incident),
        "description patient { nhsNumber }",
    )
    .await;
    assert_eq!(resp.assert_ok()["incident"]["patient"]["nhsNumber"], NHS);

    let events = events_of(&app, &resp).await;
    let event = only_event_about(&events, &id(&incident));
    assert_eq!(fields(event), strs(&["description", "patient"]));
    assert_eq!(event["actorLabel"], "service:svc-integration");
    assert!(
        event["actor"].is_null(),
        "a service account is no staff member: {event}"
    );
    assert!(
        event["actorRoles"]
            .as_str()
            .is_some_and(|r| r.contains("incidents:read")),
        "{event}"
    );
}

#[tokio::test]
async fn one_request_reading_a_record_by_several_paths_writes_one_event_with_every_field() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = report(&app, &h.alice, report_with_patient(&h.cardiology, NHS)).await;
    let incident_id = id(&incident);

    let resp = app
        .gql(
            Some(&h.hana),
            "query($id: ID!, $ref: String!) {
               a: incident(id: $id) { description }
               b: incident(id: $id) { description patient { nhsNumber } }
               c: incidentByReference(reference: $ref) { reporter { name } }
               d: node(id: $id) { ... on Incident { immediateActions } }
               e: incidents(first: 5) { edges { node { id description } } }
             }",
            json!({ "id": incident_id, "ref": incident["reference"] }),
        )
        .await;
    resp.assert_ok();

    let events = events_of(&app, &resp).await;
    assert_eq!(events.len(), 1, "{}", pretty(&events));
    assert_eq!(
        fields(only_event_about(&events, &incident_id)),
        strs(&["description", "immediateActions", "patient", "reporter"])
    );
}

#[tokio::test]
async fn a_batch_of_operations_in_one_post_writes_one_event_per_record() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let first = report(&app, &h.alice, report_with_patient(&h.cardiology, NHS)).await;
    let second = report(&app, &h.bob, incident_input(&h.cardiology)).await;

    let resp = app
        .post_graphql(
            Some(&h.hana),
            &json!([
                {
                    "query": "query($id: ID!) { incident(id: $id) { description } }",
                    "variables": { "id": id(&first) },
                },
                {
                    "query": "query($id: ID!) { incident(id: $id) { patient { name } } }",
                    "variables": { "id": id(&first) },
                },
                {
                    "query": "query($id: ID!) { node(id: $id) { ... on Incident { reporter { name } } } }",
                    "variables": { "id": id(&second) },
                },
            ]),
        )
        .await;
    assert_eq!(resp.status, 200, "{resp}");
    let answers = resp.body.as_array().unwrap_or_else(|| panic!("{resp}"));
    assert_eq!(answers.len(), 3, "{resp}");
    assert!(answers.iter().all(|a| a.get("errors").is_none()), "{resp}");

    let events = events_of(&app, &resp).await;
    assert_eq!(events.len(), 2, "{}", pretty(&events));
    assert_eq!(
        fields(only_event_about(&events, &id(&first))),
        strs(&["description", "patient"])
    );
    assert_eq!(
        fields(only_event_about(&events, &id(&second))),
        strs(&["reporter"])
    );
}

#[tokio::test]
async fn reads_through_a_duplicate_link_are_logged_against_the_original() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let original = report(&app, &h.alice, report_with_patient(&h.cardiology, NHS)).await;
    let duplicate = report(&app, &h.bob, incident_input(&h.cardiology)).await;
    let declined = app
        .gql(
            Some(&h.hana),
            "mutation($input: TransitionIncidentInput!) { transitionIncident(input: $input) { incident { id status } } }",
            json!({ "input": {
                "incidentId": id(&duplicate), "expectedVersion": duplicate["version"],
                "to": "DECLINED", "reason": "Duplicate report", "duplicateOfId": id(&original),
            } }),
        )
        .await;
    declined.assert_ok();

    let resp = read_incident(
        &app,
        &h.hana,
        &id(&duplicate),
        "status duplicateOf { id description patient { nhsNumber } }",
    )
    .await;
    let read = &resp.assert_ok()["incident"];
    assert_eq!(read["duplicateOf"]["id"], id(&original).as_str());
    assert_eq!(read["duplicateOf"]["patient"]["nhsNumber"], NHS);

    let events = events_of(&app, &resp).await;
    assert_eq!(
        events.len(),
        1,
        "only the original was read: {}",
        pretty(&events)
    );
    assert_eq!(
        fields(only_event_about(&events, &id(&original))),
        strs(&["description", "patient"])
    );
}

#[tokio::test]
async fn a_corrective_action_and_the_incident_it_came_from_are_logged_when_read_together() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = report(&app, &h.alice, incident_input(&h.cardiology)).await;
    let action = app
        .create_corrective_action(
            &h.hana,
            corrective_action_input(&id(&incident), "hana@candour.test"),
        )
        .await;

    let resp = app
        .gql(
            Some(&h.hana),
            "query($id: ID!) { node(id: $id) { ... on CorrectiveAction {
               id description source { ... on Incident { id description } }
             } } }",
            json!({ "id": id(&action) }),
        )
        .await;
    let node = &resp.assert_ok()["node"];
    assert_eq!(
        node["description"],
        "Add trolley rails to the handover checklist and audit it weekly."
    );
    assert_eq!(node["source"]["id"], id(&incident).as_str());
    assert!(node["source"]["description"].is_string(), "{resp}");

    let events = events_of(&app, &resp).await;
    assert_eq!(events.len(), 2, "{}", pretty(&events));
    let action_event = only_event_about(&events, &id(&action));
    assert_eq!(action_event["recordType"], "CorrectiveAction");
    assert_eq!(fields(action_event), strs(&["description"]));
    let incident_event = only_event_about(&events, &id(&incident));
    assert_eq!(incident_event["recordType"], "Incident");
    assert_eq!(fields(incident_event), strs(&["description"]));
}
