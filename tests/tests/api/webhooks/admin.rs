//! Registering endpoints: who may, where to, and testing one.
use super::*;

#[tokio::test]
async fn only_admins_register_and_only_to_allowed_http_hosts() {
    let app = spawn_webhook_app(|s| s.webhooks.allowed_hosts.push("*.trust.nhs.uk".into())).await;
    let h = app.hospital().await;
    let input = |url: &str| json!({ "input": { "url": url, "events": ["INCIDENT_REPORTED"] } });
    app.gql(Some(&h.quinn), REGISTER, input("http://127.0.0.1:9/x"))
        .await
        .assert_error("FORBIDDEN", None);
    for bad in [
        "http://evil.example/x",
        "ftp://127.0.0.1/x",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fe80::1]/x",
        "https://user:pw@hooks.trust.nhs.uk/x",
        "not a url",
    ] {
        app.gql(Some(&h.ada), REGISTER, input(bad))
            .await
            .assert_error("BAD_USER_INPUT", Some("url"));
    }
    app.gql(
        Some(&h.ada),
        REGISTER,
        json!({ "input": { "url": "https://hooks.trust.nhs.uk/x", "events": [] } }),
    )
    .await
    .assert_error("BAD_USER_INPUT", Some("events"));
    let list = app
        .gql(Some(&h.ada), "{ webhooks { id } }", json!({}))
        .await;
    assert_eq!(
        list.assert_ok()["webhooks"],
        json!([]),
        "nothing refused was kept"
    );

    let (hook, secret) = register(
        &app,
        &h.ada,
        "https://hooks.trust.nhs.uk/candour",
        json!(["INCIDENT_REPORTED"]),
        json!({}),
    )
    .await;
    assert!(secret.starts_with("whsec_"), "{secret}");
    assert_eq!(hook["enabled"], true);
    app.gql(Some(&h.quinn), "{ webhooks { id } }", json!({}))
        .await
        .assert_error("FORBIDDEN", None);
    // The secret is sealed at rest.
    let rows = every_text(&app, "SELECT secret FROM webhook_endpoint").await;
    assert_eq!(rows.len(), 1);
    assert!(
        !rows[0].contains(secret.trim_start_matches("whsec_")),
        "stored in the clear"
    );
}

async fn every_text(app: &TestApp, sql: &str) -> Vec<String> {
    use sea_orm::{ConnectionTrait, Statement};
    let db = app.db().await;
    db.query_all(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap()
        .iter()
        .map(|r| r.try_get::<String>("", "secret").unwrap())
        .collect()
}

#[tokio::test]
async fn test_webhook_sends_a_signed_test_message_and_says_how_it_went() {
    let app = spawn_webhook_app(|_| {}).await;
    let h = app.hospital().await;
    let (receiver, hook) = receiver_for(&app, &h.ada, json!(["INCIDENT_CLOSED"]), json!({})).await;
    let test = "mutation($id: ID!) { testWebhook(webhookId: $id) { delivery { eventType status attempts lastStatus lastError } } }";
    let resp = app
        .gql(Some(&h.ada), test, json!({ "id": hook["id"] }))
        .await;
    let d = resp.assert_ok()["testWebhook"]["delivery"].clone();
    assert_eq!(
        d,
        json!({ "eventType": "webhook.test", "status": "DELIVERED", "attempts": 1, "lastStatus": 204, "lastError": null })
    );
    let got = receiver.requests().await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["verified"], true);
    assert_eq!(got[0]["body"]["type"], "webhook.test");

    // A failing receiver: the answer says so, and it is not tried again.
    receiver.script(json!([{ "status": 500 }])).await;
    let resp = app
        .gql(Some(&h.ada), test, json!({ "id": hook["id"] }))
        .await;
    let d = resp.assert_ok()["testWebhook"]["delivery"].clone();
    assert_eq!(
        (d["status"].clone(), d["lastStatus"].clone()),
        (json!("DEAD"), json!(500))
    );

    // A rotated secret signs from then on; the old one no longer verifies.
    let w = webhook(&app, &h.ada, &hook["id"]).await;
    let resp = app
        .gql(
            Some(&h.ada),
            "mutation($id: ID!, $v: Int!) { rotateWebhookSecret(webhookId: $id, expectedVersion: $v) { secret webhook { version } } }",
            json!({ "id": hook["id"], "v": w["version"] }),
        )
        .await;
    let new_secret = resp.assert_ok()["rotateWebhookSecret"]["secret"]
        .as_str()
        .unwrap()
        .to_string();
    app.gql(Some(&h.ada), test, json!({ "id": hook["id"] }))
        .await
        .assert_ok();
    let got = receiver.requests().await;
    assert_ne!(
        got[2]["verified"], true,
        "the old secret does not verify the new signature"
    );
    receiver.verify_with(&new_secret).await;
    app.gql(Some(&h.ada), test, json!({ "id": hook["id"] }))
        .await
        .assert_ok();
    assert_eq!(receiver.requests().await[3]["verified"], true);
}

#[tokio::test]
async fn a_webhook_secret_is_resealed_when_the_data_key_is_rotated() {
    use secrecy::ExposeSecret;
    let app = spawn_webhook_app(|_| {}).await;
    let h = app.hospital().await;
    let (receiver, hook) =
        receiver_for(&app, &h.ada, json!(["INCIDENT_REPORTED"]), json!({})).await;
    let before = every_text(&app, "SELECT secret FROM webhook_endpoint").await;
    app.stop(true).await;

    // `candour rotate-data-key` with a new key, the old one as previous.
    let old = app
        .settings
        .data_key
        .as_ref()
        .unwrap()
        .expose_secret()
        .to_string();
    let new = candour::protect::generate_key();
    let keys = candour::protect::KeyRing::from_keys(&new, &[&old]).unwrap();
    let db = candour::db::Db::connect(&app.settings).await.unwrap();
    let r = candour::protect::rotate(&db, &keys).await.unwrap();
    assert_eq!(r.webhook_secrets_resealed, 1);
    assert_ne!(
        every_text(&app, "SELECT secret FROM webhook_endpoint").await,
        before
    );

    // With the new key alone, deliveries are still signed with the same secret.
    let after = app
        .another_instance(|s| s.data_key = Some(candour::config::Secret::from(new.clone())))
        .await;
    let test = "mutation($id: ID!) { testWebhook(webhookId: $id) { delivery { status } } }";
    let resp = after
        .gql(Some(&h.ada), test, json!({ "id": hook["id"] }))
        .await;
    assert_eq!(
        resp.assert_ok()["testWebhook"]["delivery"]["status"],
        "DELIVERED"
    );
    assert_eq!(receiver.requests().await[0]["verified"], true);
}
