//! Webhooks: admins register endpoints; events of the sealed trail are delivered to a real
//! receiver the tests start, signed as Standard Webhooks describes and verified there by an
//! independent implementation; retries, dead letters, disabling, and nothing lost across a
//! kill.

mod admin;
mod delivery;
mod failures;

use candour_tests::webhooks::WebhookReceiver;
use candour_tests::*;
use serde_json::{json, Value};

const REGISTER: &str = "mutation($input: RegisterWebhookInput!) {
  registerWebhook(input: $input) { secret webhook { id url events enabled version } }
}";

const WEBHOOK: &str = "query($id: ID!) { webhook(id: $id) {
  id enabled disabledReason consecutiveFailures version
  deliveries(first: 100) { id messageId eventType eventId status attempts lastStatus lastError deliveredAt payload }
} }";

/// A server whose webhooks may go to loopback (where the receiver listens), retrying fast.
async fn spawn_webhook_app(configure: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_with(|s| {
        s.webhooks.allowed_hosts = vec!["127.0.0.1".into()];
        s.webhooks.backoff_initial_ms = 200;
        s.webhooks.backoff_max_secs = 1;
        s.webhooks.timeout_secs = 2;
        s.webhooks.poll_ms = 100;
        configure(s);
    })
    .await
}

/// Registers `url` for `events` as the admin; returns (webhook, secret).
async fn register(
    app: &TestApp,
    admin: &str,
    url: &str,
    events: Value,
    extra: Value,
) -> (Value, String) {
    let resp = app
        .gql(
            Some(admin),
            REGISTER,
            json!({ "input": with(json!({ "url": url, "events": events }), extra) }),
        )
        .await;
    let data = resp.assert_ok()["registerWebhook"].clone();
    (
        data["webhook"].clone(),
        data["secret"].as_str().unwrap().to_string(),
    )
}

/// A receiver, and an endpoint for it that verifies with the secret it was given.
async fn receiver_for(
    app: &TestApp,
    admin: &str,
    events: Value,
    extra: Value,
) -> (WebhookReceiver, Value) {
    let receiver = WebhookReceiver::start().await;
    let (webhook, secret) = register(app, admin, &receiver.url(), events, extra).await;
    receiver.verify_with(&secret).await;
    (receiver, webhook)
}

async fn webhook(app: &TestApp, admin: &str, id: &Value) -> Value {
    let resp = app.gql(Some(admin), WEBHOOK, json!({ "id": id })).await;
    resp.assert_ok()["webhook"].clone()
}

/// Polls the endpoint's delivery log until `done` holds of it (up to 30 s).
async fn log_until(app: &TestApp, admin: &str, id: &Value, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let w = webhook(app, admin, id).await;
        if done(&w) {
            return w;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the delivery log never got there: {w:#}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
