//! Each event is checked against the subscriber as they are when it happens.
use super::*;

#[tokio::test]
async fn a_handler_hears_only_their_departments_incidents_and_a_reporter_only_their_own() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let mut hana = incident_events(&app, &h.hana, json!(null)).await;
    let mut nina = incident_events(&app, &h.nina, json!(null)).await;
    let mut bob = incident_events(&app, &h.bob, json!(null)).await;
    // Asking for another department's incidents by filter widens nothing.
    let mut hana_asks_neuro =
        incident_events(&app, &h.hana, json!({ "departmentIds": [h.neurology] })).await;

    let card = app
        .report_incident(&h.alice, incident_input(&h.cardiology))
        .await;
    let neuro = app
        .report_incident(&h.bob, incident_input(&h.neurology))
        .await;

    assert_eq!(
        next_incident_event(&mut hana).await["incident"]["id"],
        card["id"]
    );
    assert_eq!(
        next_incident_event(&mut nina).await["incident"]["id"],
        neuro["id"]
    );
    // Bob reported the neurology one: he sees his own report, and nothing else.
    let e = next_incident_event(&mut bob).await;
    assert_eq!(e["incident"]["id"], neuro["id"]);
    assert_eq!(
        e["changes"],
        json!([]),
        "a reporter is not shown the history: {e}"
    );
    for ws in [&mut hana, &mut nina, &mut bob, &mut hana_asks_neuro] {
        ws.silent_for(QUIET).await;
    }
}

#[tokio::test]
async fn sensitive_fields_are_sent_only_to_whom_a_query_shows_them_and_each_read_is_logged() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let iggy = app.ig_officer("iggy");
    let query = "subscription { incidentEvents { type incident { id description patient { nhsNumber name } } } }";
    let mut hana = app.ws_as(&h.hana).await;
    hana.subscribe_now("1", query, json!({})).await;
    let mut quinn = app.ws_as(&h.quinn).await;
    quinn.subscribe_now("1", query, json!({})).await;
    let mut alice = app.ws_as(&h.alice).await;
    alice.subscribe_now("1", query, json!({})).await;

    let nhs = "9434765919";
    let incident = app
        .report_incident(
            &h.alice,
            with(
                incident_input(&h.cardiology),
                json!({ "patient": { "nhsNumber": nhs, "name": "Josephine Quillfeather", "dateOfBirth": "1950-03-04" } }),
            ),
        )
        .await;
    for (ws, token) in [
        (&mut hana, &h.hana),
        (&mut quinn, &h.quinn),
        (&mut alice, &h.alice),
    ] {
        let sent = ws.event("1").await["incidentEvents"]["incident"].clone();
        let read = app
            .gql(
                Some(token),
                "query($id: ID!) { incident(id: $id) { id description patient { nhsNumber name } } }",
                json!({ "id": incident["id"] }),
            )
            .await;
        assert_eq!(
            sent,
            read.assert_ok()["incident"],
            "the event shows what a query shows this subscriber"
        );
    }

    // Each subscriber's read of the description and patient is in the access log, as a
    // query's is (the queries above wrote theirs too: one per request).
    let log = app
        .gql(
            Some(&iggy),
            "query($f: AccessLogFilter) { accessLog(first: 100, filter: $f) { edges { node { actorLabel recordId fields requestId } } } }",
            json!({ "f": {} }),
        )
        .await;
    let rows: Vec<Value> = log.assert_ok()["accessLog"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"].clone())
        .filter(|n| n["recordId"] == incident["id"])
        .collect();
    for who in ["hana", "quinn"] {
        let reads: Vec<&Value> = rows
            .iter()
            .filter(|r| r["actorLabel"] == who)
            .filter(|r| r["fields"] == json!(["description", "patient"]))
            .collect();
        assert_eq!(
            reads.len(),
            2,
            "{who}: one read by subscription, one by query: {rows:#?}"
        );
    }
}

#[tokio::test]
async fn a_token_that_expires_mid_stream_ends_the_connection() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    // Past its expiry, within the 30 seconds' grace every token has for clock skew: good
    // for 3 seconds more.
    let short = app.token(TokenSpec::quality_lead("quinn").expires_in(-27));
    let mut ws = incident_events(&app, &short, json!(null)).await;
    app.report_incident(&h.alice, incident_input(&h.cardiology))
        .await;
    assert_eq!(next_incident_event(&mut ws).await["type"], "REPORTED");

    let (code, reason) = ws.closed().await;
    assert_eq!(code, 4403, "{reason}");
    assert!(reason.contains("expired"), "{reason}");

    // Connecting with the expired token is refused.
    let mut again = app.ws().await;
    again
        .send(json!({"type": "connection_init", "payload": {"authorization": format!("Bearer {short}")}}))
        .await;
    assert_eq!(again.closed().await.0, 4403);
}

#[tokio::test]
async fn a_handler_moved_out_of_a_department_stops_hearing_of_its_incidents() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let both = app.handler("hana", &["CARD", "NEUR"]);
    app.sign_in(&[&both]).await;
    let mut ws = incident_events(&app, &both, json!(null)).await;
    let first = app
        .report_incident(&h.alice, incident_input(&h.neurology))
        .await;
    assert_eq!(
        next_incident_event(&mut ws).await["incident"]["id"],
        first["id"]
    );

    // The identity provider now says Hana handles cardiology only; she signs in with it.
    let card_only = app.handler("hana", &["CARD"]);
    app.sign_in(&[&card_only]).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;

    app.report_incident(&h.alice, incident_input(&h.neurology))
        .await;
    let card = app
        .report_incident(&h.alice, incident_input(&h.cardiology))
        .await;
    let e = next_incident_event(&mut ws).await;
    assert_eq!(
        e["incident"]["id"], card["id"],
        "the neurology report is not sent: {e}"
    );
    ws.silent_for(QUIET).await;
}
