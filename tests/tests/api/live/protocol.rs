//! The graphql-transport-ws protocol as its PROTOCOL.md says, and the bounds on what one
//! caller may hold open.
use super::*;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn a_websocket_without_the_protocol_is_refused_before_it_opens() {
    let app = spawn_app().await;
    for protocol in [None, Some("graphql-ws-unknown")] {
        let refused = app.try_ws(protocol).await;
        match refused {
            Err(tokio_tungstenite::tungstenite::Error::Http(r)) => assert_eq!(r.status(), 400),
            other => panic!("expected 400, got {:?}", other.map(|_| "an open websocket")),
        }
    }
}

#[tokio::test]
async fn the_connection_is_closed_with_the_protocols_codes() {
    let app = spawn_app_with(|s| s.subscriptions.init_timeout_secs = 1).await;
    let h = app.hospital().await;

    // No connection_init in time: 4408.
    let mut ws = app.ws().await;
    assert_eq!(ws.closed().await.0, 4408);

    // A subscribe before the acknowledgement: 4401.
    let mut ws = app.ws().await;
    ws.subscribe("1", INCIDENT_EVENTS, json!({})).await;
    assert_eq!(ws.closed().await.0, 4401);

    // No token, or a bad one: 4403.
    for payload in [json!({}), json!({"authorization": "Bearer not-a-token"})] {
        let mut ws = app.ws().await;
        ws.send(json!({"type": "connection_init", "payload": payload}))
            .await;
        assert_eq!(ws.closed().await.0, 4403);
    }

    // A second connection_init: 4429.
    let mut ws = app.ws_as(&h.quinn).await;
    ws.send(json!({"type": "connection_init", "payload": {"authorization": h.quinn}}))
        .await;
    assert_eq!(ws.closed().await.0, 4429);

    // The same subscription id twice: 4409.
    let mut ws = app.ws_as(&h.quinn).await;
    ws.subscribe("1", INCIDENT_EVENTS, json!({})).await;
    ws.subscribe("1", INCIDENT_EVENTS, json!({})).await;
    assert_eq!(ws.closed().await.0, 4409);

    // Something that is not a protocol message: 4400.
    for garbage in [
        Message::text("{\"type\": \"start\", \"id\": \"1\"}"),
        Message::text("not json"),
        Message::binary(vec![1u8, 2, 3]),
    ] {
        let mut ws = app.ws_as(&h.quinn).await;
        ws.send_raw(garbage).await;
        assert_eq!(ws.closed().await.0, 4400);
    }
}

#[tokio::test]
async fn pings_are_answered_and_the_server_pings_a_quiet_client_then_drops_a_dead_one() {
    let app = spawn_app_with(|s| s.subscriptions.keepalive_secs = 1).await;
    let h = app.hospital().await;
    let mut ws = app.ws_as(&h.quinn).await;
    ws.send(json!({"type": "ping", "payload": {"n": 7}})).await;
    let pong = ws.recv().await;
    assert_eq!(pong, json!({"type": "pong", "payload": {"n": 7}}));

    // The server pings; a client that answers stays connected.
    ws.answer_pings = false;
    let ping = ws.recv().await;
    assert_eq!(ping["type"], "ping");
    ws.send(json!({"type": "pong"})).await;

    // One that never answers is closed after three silent intervals.
    let started = std::time::Instant::now();
    let (code, _) = ws.closed().await;
    assert_eq!(code, 1001);
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "not before three pings went unanswered"
    );
}

#[tokio::test]
async fn queries_and_mutations_go_over_http_and_bad_subscriptions_are_errors_for_their_id() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let mut ws = app.ws_as(&h.quinn).await;
    for (op, query) in [
        ("q", "{ me { subject } }"),
        ("m", "mutation { createDepartment(input: {code: \"X\", name: \"X\"}) { department { id } } }"),
        ("v", "subscription { incidentEvents { nope } }"),
        ("p", "subscription {"),
    ] {
        ws.subscribe(op, query, json!({})).await;
        let m = ws.recv().await;
        assert_eq!(m["type"], "error", "{m}");
        assert_eq!(m["id"], op);
        assert_eq!(m["payload"][0]["extensions"]["code"], "BAD_USER_INPUT", "{m}");
    }
    // Nothing was created over the websocket.
    let departments = app
        .gql(Some(&h.ada), "{ departments { code } }", json!({}))
        .await;
    assert!(!departments.assert_ok()["departments"]
        .as_array()
        .unwrap()
        .iter()
        .any(|d| d["code"] == "X"));
    // The connection is still good.
    ws.subscribe_now("1", INCIDENT_EVENTS, json!({})).await;
}

#[tokio::test]
async fn complete_ends_a_subscription_and_the_bounds_hold_per_connection_and_per_caller() {
    let app = spawn_app_with(|s| {
        s.subscriptions.max_per_connection = 2;
        s.subscriptions.max_connections_per_principal = 2;
    })
    .await;
    let h = app.hospital().await;
    let mut ws = app.ws_as(&h.quinn).await;
    ws.subscribe_now("1", INCIDENT_EVENTS, json!({})).await;
    ws.subscribe_now("2", INCIDENT_EVENTS, json!({})).await;
    ws.subscribe("3", INCIDENT_EVENTS, json!({})).await;
    let m = ws.recv().await;
    assert_eq!(
        (m["type"].clone(), m["id"].clone()),
        (json!("error"), json!("3")),
        "{m}"
    );
    assert_eq!(m["payload"][0]["extensions"]["code"], "RATE_LIMITED");

    // The client completes "1": no more of its events, and the slot is free.
    ws.send(json!({"type": "complete", "id": "1"})).await;
    ws.subscribe_now("3", INCIDENT_EVENTS, json!({})).await;
    app.report_incident(&h.alice, incident_input(&h.cardiology))
        .await;
    let mut ids = vec![
        ws.recv().await["id"].as_str().unwrap().to_string(),
        ws.recv().await["id"].as_str().unwrap().to_string(),
    ];
    ids.sort();
    assert_eq!(ids, ["2", "3"]);
    ws.silent_for(QUIET).await;

    // Two connections per caller; a third is refused, and allowed once one closes.
    let second = app.ws_as(&h.quinn).await;
    let mut third = app.ws().await;
    third
        .send(json!({"type": "connection_init", "payload": {"authorization": h.quinn}}))
        .await;
    let (code, reason) = third.closed().await;
    assert_eq!(code, 4403, "{reason}");
    assert!(reason.contains("connections"), "{reason}");
    second.close().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    app.ws_as(&h.quinn).await;
}
