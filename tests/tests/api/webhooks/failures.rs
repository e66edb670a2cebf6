//! Retries, dead letters, disabling, and nothing lost across a kill.
use super::*;

#[tokio::test]
async fn a_delivery_is_retried_after_5xx_and_timeouts_with_the_same_id_until_accepted() {
    let app = spawn_webhook_app(|_| {}).await;
    let h = app.hospital().await;
    let (receiver, hook) =
        receiver_for(&app, &h.ada, json!(["INCIDENT_REPORTED"]), json!({})).await;
    receiver
        .script(json!([{ "status": 503 }, { "hang": 3 }, { "status": 500 }]))
        .await;
    app.report_incident(&h.alice, incident_input(&h.cardiology))
        .await;
    let got = receiver.wait_for(4).await;
    let ids: Vec<&Value> = got.iter().map(|d| &d["headers"]["webhook-id"]).collect();
    assert!(
        ids.iter().all(|i| *i == ids[0]),
        "one message, the same id each time: {ids:?}"
    );
    assert!(
        got.iter().all(|d| d["verified"] == true),
        "each attempt signed afresh and right"
    );
    let answered: Vec<&Value> = got.iter().map(|d| &d["answered"]).collect();
    assert_eq!(
        answered,
        [&json!(503), &Value::Null, &json!(500), &json!(204)]
    );
    let w = log_until(&app, &h.ada, &hook["id"], |w| {
        w["deliveries"][0]["status"] == "DELIVERED"
    })
    .await;
    assert_eq!(w["deliveries"][0]["attempts"], 4);
    assert_eq!(w["deliveries"][0]["lastStatus"], 204);
    assert_eq!(
        w["consecutiveFailures"], 0,
        "a success starts the count afresh"
    );
}

#[tokio::test]
async fn a_delivery_that_keeps_failing_is_dead_lettered_and_can_be_retried() {
    let app = spawn_webhook_app(|s| s.webhooks.max_attempts = 3).await;
    let h = app.hospital().await;
    let (receiver, hook) =
        receiver_for(&app, &h.ada, json!(["INCIDENT_REPORTED"]), json!({})).await;
    receiver
        .script(json!([{ "status": 500 }, { "status": 502 }, { "status": 503 }]))
        .await;
    app.report_incident(&h.alice, incident_input(&h.cardiology))
        .await;
    let w = log_until(&app, &h.ada, &hook["id"], |w| {
        w["deliveries"][0]["status"] == "DEAD"
    })
    .await;
    let d = &w["deliveries"][0];
    assert_eq!(d["attempts"], 3);
    assert_eq!(d["lastStatus"], 503);
    assert!(
        d["lastError"]
            .as_str()
            .unwrap()
            .contains("given up after 3"),
        "{d}"
    );
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(
        receiver.requests().await.len(),
        3,
        "no attempt after the last"
    );

    // Only an admin may retry it, and only a dead one.
    let retry = "mutation($id: ID!) { retryWebhookDelivery(deliveryId: $id) { delivery { status attempts } } }";
    app.gql(Some(&h.quinn), retry, json!({ "id": d["id"] }))
        .await
        .assert_error("FORBIDDEN", None);
    let resp = app.gql(Some(&h.ada), retry, json!({ "id": d["id"] })).await;
    assert_eq!(
        resp.assert_ok()["retryWebhookDelivery"]["delivery"]["status"],
        "QUEUED"
    );
    let got = receiver.wait_for(4).await;
    assert_eq!(got[3]["answered"], 204);
    let w = log_until(&app, &h.ada, &hook["id"], |w| {
        w["deliveries"][0]["status"] == "DELIVERED"
    })
    .await;
    app.gql(
        Some(&h.ada),
        retry,
        json!({ "id": w["deliveries"][0]["id"] }),
    )
    .await
    .assert_error("BAD_USER_INPUT", None);
}

#[tokio::test]
async fn an_endpoint_that_keeps_failing_is_disabled_and_its_deliveries_wait_until_it_is_enabled() {
    let app = spawn_webhook_app(|s| s.webhooks.disable_after_failures = 3).await;
    let h = app.hospital().await;
    let (receiver, hook) =
        receiver_for(&app, &h.ada, json!(["INCIDENT_REPORTED"]), json!({})).await;
    receiver
        .script(json!([{ "status": 500 }, { "status": 500 }, { "status": 500 }]))
        .await;
    app.report_incident(&h.alice, incident_input(&h.cardiology))
        .await;
    let w = log_until(&app, &h.ada, &hook["id"], |w| w["enabled"] == false).await;
    assert_eq!(w["disabledReason"], "3 failed attempts in a row");
    app.report_incident(&h.alice, incident_input(&h.cardiology))
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(
        receiver.requests().await.len(),
        3,
        "nothing is sent to a disabled endpoint"
    );

    let resp = app
        .gql(
            Some(&h.ada),
            "mutation($input: UpdateWebhookInput!) { updateWebhook(input: $input) { webhook { enabled consecutiveFailures } } }",
            json!({ "input": { "webhookId": hook["id"], "expectedVersion": w["version"], "enabled": true } }),
        )
        .await;
    assert_eq!(
        resp.assert_ok()["updateWebhook"]["webhook"]["consecutiveFailures"],
        0
    );
    let got = receiver.wait_for(5).await;
    assert!(
        got[3..].iter().all(|d| d["answered"] == 204),
        "both go out once it is enabled"
    );
    // The disabling is in the trail, by the system.
    let trail = app
        .gql(
            Some(&app.ig_officer("iggy")),
            "{ auditTrail(first: 100) { edges { node { action actorLabel } } } }",
            json!({}),
        )
        .await;
    assert!(trail.assert_ok()["auditTrail"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["node"]["action"] == "webhook.disabled"
            && e["node"]["actorLabel"] == "system:webhooks"));
}

#[tokio::test]
async fn deliveries_queued_when_an_instance_is_killed_are_sent_by_another() {
    let app = spawn_webhook_app(|_| {}).await;
    let h = app.hospital().await;
    let (receiver, hook) =
        receiver_for(&app, &h.ada, json!(["INCIDENT_REPORTED"]), json!({})).await;
    // The receiver hangs: the first instance's attempts are in flight when it dies.
    receiver.script(json!([{ "hang": 4 }, { "hang": 4 }])).await;
    let a = app
        .report_incident(&h.alice, incident_input(&h.cardiology))
        .await;
    let b = app
        .report_incident(&h.alice, incident_input(&h.neurology))
        .await;
    receiver.wait_for(2).await;
    app.stop(false).await;

    let other = app.another_instance(|_| {}).await;
    let got = receiver.wait_for(4).await;
    let mut delivered: Vec<Value> = got[2..]
        .iter()
        .map(|d| d["body"]["data"]["incident"]["id"].clone())
        .collect();
    delivered.sort_by_key(|v| v.to_string());
    let mut want = vec![a["id"].clone(), b["id"].clone()];
    want.sort_by_key(|v| v.to_string());
    assert_eq!(delivered, want);
    let w = log_until(&other, &h.ada, &hook["id"], |w| {
        w["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["status"] == "DELIVERED")
    })
    .await;
    assert_eq!(
        w["deliveries"].as_array().unwrap().len(),
        2,
        "one delivery each, never queued twice"
    );
}
