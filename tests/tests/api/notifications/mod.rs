//! Email notifications: who hears of what, what an email may and may not say, the choices
//! people make about their email, the outbox a quality lead watches, and what happens when
//! the mail server is down, when emails are dead-lettered, when two dispatchers share a
//! database and when one of them dies mid-send. Every email is read back from a real SMTP
//! server (aiosmtpd), never a mock.

mod dispatchers;
mod email_content;
mod failures;
mod outbox;
mod preferences;
mod who_hears;

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::io::{ErrorKind, Read};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use candour::config::Secret;
use candour_tests::mail::{BlackHoleSmtp, MailServer, Received};
use candour_tests::*;
use serde_json::{json, Value};

/// Where the trust's staff reach Candour: links in emails start with it, and Message-IDs
/// end with its host.
const PUBLIC_URL: &str = "https://candour.trust.example";
const MESSAGE_HOST: &str = "candour.trust.example";
/// The From address every email carries.
const MAIL_FROM: &str = "Candour <candour@trust.example>";
const FROM_ADDRESS: &str = "candour@trust.example";
/// Distribution addresses.
const CARDIOLOGY_LIST: &str = "cardiology-governance@trust.example";
const NEUROLOGY_LIST: &str = "neurology-governance@trust.example";
const QUALITY_LIST: &str = "quality-team@trust.example";

/// The people of [`Hospital`], as their tokens address them.
const HANA: &str = "hana@candour.test";
const HARRIET: &str = "harriet@candour.test";
const NINA: &str = "nina@candour.test";
const QUINN: &str = "quinn@candour.test";
const QUENTIN: &str = "quentin@candour.test";
const ALICE: &str = "alice@candour.test";
/// Owners of corrective actions.
const OLIVE: &str = "olive@candour.test";
const OSCAR: &str = "oscar@candour.test";

/// Long enough for a loaded machine; nothing here asserts speed.
const WAIT: Duration = Duration::from_secs(20);

// --- setting up ----------------------------------------------------------------------------

/// A server whose dispatcher sends to `smtp` and retries quickly, with no scheduler.
fn mail_settings(s: &mut Settings, smtp: &str) {
    s.smtp_url = Some(Secret::from(smtp.to_string()));
    s.public_url = PUBLIC_URL.into();
    s.mail_from = MAIL_FROM.into();
    s.notify.poll_ms = 50;
    s.notify.backoff_initial_ms = 100;
    s.notify.backoff_max_secs = 1;
    s.notify.schedule_interval_secs = 1;
    s.notify.schedule = false;
}

/// A server sending to `mail`, with `configure` applied after the fast mail settings.
async fn app_mailing(mail: &MailServer, configure: impl FnOnce(&mut Settings)) -> TestApp {
    let url = mail.url();
    spawn_app_with(move |s| {
        mail_settings(s, &url);
        configure(s);
    })
    .await
}

/// Distribution addresses for cardiology, neurology and the quality leads.
fn with_lists(s: &mut Settings) {
    s.notify
        .department_addresses
        .insert("CARD".into(), CARDIOLOGY_LIST.into());
    s.notify
        .department_addresses
        .insert("NEUR".into(), NEUROLOGY_LIST.into());
    s.notify.quality_leads_address = Some(QUALITY_LIST.into());
}

/// A low-harm report in `department` by `reporter`.
async fn report_low(app: &TestApp, reporter: &str, department: &str) -> Value {
    app.report_incident(reporter, incident_input(department))
        .await
}

// --- the outbox, as a quality lead sees it -------------------------------------------------

const NOTIFICATIONS: &str = "
query($first: Int, $after: String, $filter: NotificationFilter) {
  notifications(first: $first, after: $after, filter: $filter) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node {
      id kind mandatory status recipient subject reference messageId attempts lastError
      createdAt nextAttemptAt sentAt
      deliveries { at outcome error worker }
    } }
  }
}";

async fn list_notifications(app: &TestApp, token: &str, variables: Value) -> GqlResponse {
    app.gql(Some(token), NOTIFICATIONS, variables).await
}

/// Every notification matching `filter`, newest first (all pages).
async fn notifications(app: &TestApp, quality_lead: &str, filter: Value) -> Vec<Value> {
    let mut out = Vec::new();
    let mut after = Value::Null;
    loop {
        let resp = list_notifications(
            app,
            quality_lead,
            json!({ "first": 50, "after": after, "filter": filter }),
        )
        .await;
        resp.assert_ok();
        let page = &resp.data()["notifications"];
        for edge in page["edges"].as_array().expect("edges") {
            out.push(edge["node"].clone());
        }
        if page["pageInfo"]["hasNextPage"] != true {
            return out;
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
}

/// Polls `notifications(filter)` until `done` holds for the list; panics with the list.
async fn wait_for_outbox(
    app: &TestApp,
    quality_lead: &str,
    filter: Value,
    what: &str,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = Instant::now() + WAIT;
    loop {
        let rows = notifications(app, quality_lead, filter.clone()).await;
        if done(&rows) {
            return rows;
        }
        if Instant::now() >= deadline {
            panic!(
                "waited {WAIT:?} for {what} (filter {filter}); the outbox holds:\n{}",
                serde_json::to_string_pretty(&rows).unwrap_or_default()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until exactly `n` notifications match `filter` and every one is SENT.
async fn all_sent(app: &TestApp, quality_lead: &str, filter: Value, n: usize) -> Vec<Value> {
    wait_for_outbox(
        app,
        quality_lead,
        filter,
        &format!("{n} notification(s), all SENT"),
        |rows| rows.len() == n && rows.iter().all(|r| r["status"] == "SENT"),
    )
    .await
}

fn recipients(rows: &[Value]) -> BTreeSet<String> {
    let list: Vec<String> = rows
        .iter()
        .map(|r| r["recipient"].as_str().expect("recipient").to_string())
        .collect();
    let set: BTreeSet<String> = list.iter().cloned().collect();
    assert_eq!(set.len(), list.len(), "one email per person: {list:?}");
    set
}

fn kinds(rows: &[Value]) -> BTreeSet<String> {
    rows.iter()
        .map(|r| r["kind"].as_str().expect("kind").to_string())
        .collect()
}

fn outcomes(notification: &Value) -> Vec<String> {
    notification["deliveries"]
        .as_array()
        .unwrap_or_else(|| panic!("no deliveries in {notification}"))
        .iter()
        .map(|d| d["outcome"].as_str().expect("outcome").to_string())
        .collect()
}

async fn retry_notification(app: &TestApp, token: &str, notification_id: &str) -> GqlResponse {
    app.gql(
        Some(token),
        "mutation($input: RetryNotificationInput!) {
           retryNotification(input: $input) {
             notification { id status attempts recipient messageId }
           }
         }",
        json!({ "input": { "notificationId": notification_id } }),
    )
    .await
}

// --- preferences -------------------------------------------------------------------------

async fn set_preference(app: &TestApp, token: &str, kind: &str, enabled: bool) -> GqlResponse {
    app.gql(
        Some(token),
        "mutation($input: SetNotificationPreferenceInput!) {
           setNotificationPreference(input: $input) { preference { kind enabled mandatory } }
         }",
        json!({ "input": { "kind": kind, "enabled": enabled } }),
    )
    .await
}

/// kind -> (enabled, mandatory)
async fn preferences(app: &TestApp, token: &str) -> BTreeMap<String, (bool, bool)> {
    let resp = app
        .gql(
            Some(token),
            "{ notificationPreferences { kind enabled mandatory } }",
            json!({}),
        )
        .await;
    resp.assert_ok();
    resp.data()["notificationPreferences"]
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {resp}"))
        .iter()
        .map(|p| {
            (
                p["kind"].as_str().expect("kind").to_string(),
                (
                    p["enabled"].as_bool().expect("enabled"),
                    p["mandatory"].as_bool().expect("mandatory"),
                ),
            )
        })
        .collect()
}

// --- what arrived --------------------------------------------------------------------------

/// The messages received that concern this incident reference.
fn about(mail: &MailServer, reference: &str) -> Vec<Received> {
    mail.received()
        .into_iter()
        .filter(|m| m.subject.contains(reference) || m.text.contains(reference))
        .collect()
}

fn to_of(messages: &[Received]) -> Vec<String> {
    let mut to: Vec<String> = messages.iter().flat_map(|m| m.to.clone()).collect();
    to.sort();
    to
}

fn to_set(messages: &[Received]) -> BTreeSet<String> {
    let to = to_of(messages);
    let set: BTreeSet<String> = to.iter().cloned().collect();
    assert_eq!(
        set.len(),
        to.len(),
        "nobody gets the same email twice: {to:?}"
    );
    set
}

/// Message-ID -> how many times it arrived.
fn arrivals(messages: &[Received]) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for m in messages {
        *out.entry(m.message_id.clone()).or_insert(0) += 1;
    }
    out
}

/// Decodes the character references an HTML serialiser may use (`&#x2f;`, `&#47;`, `&amp;`).
fn html_unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let Some(end) = rest.find(';').filter(|e| *e <= 10) else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let entity = &rest[1..end];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ if entity.starts_with("#x") || entity.starts_with("#X") => {
                u32::from_str_radix(&entity[2..], 16)
                    .ok()
                    .and_then(char::from_u32)
            }
            _ if entity.starts_with('#') => entity[1..].parse().ok().and_then(char::from_u32),
            _ => None,
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The `href`s of an HTML body, character references decoded.
fn hrefs(html: &str) -> Vec<String> {
    html.split("href=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .map(html_unescape)
        .collect()
}

#[track_caller]
fn assert_says_nothing_of(message: &Received, secrets: &[&str]) {
    let all = message.all_text().to_lowercase();
    let unescaped = html_unescape(&all);
    for secret in secrets {
        let s = secret.to_lowercase();
        assert!(
            !all.contains(&s) && !unescaped.contains(&s),
            "the email to {:?} ({:?}) gives away {secret:?}:\n{}",
            message.to,
            message.subject,
            message.raw
        );
    }
}

// --- /metrics --------------------------------------------------------------------------------

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct OutboxMetrics {
    queued: i64,
    retrying: i64,
    sent: i64,
    dead: i64,
    failed_attempts: i64,
}

async fn metrics(app: &TestApp) -> OutboxMetrics {
    let resp = app.get("/metrics").await;
    assert_eq!(resp.status, 200, "GET /metrics: {resp}");
    let text = resp
        .body
        .as_str()
        .unwrap_or_else(|| panic!("/metrics is not text: {resp}"))
        .to_string();
    let value = |name: &str| -> i64 {
        text.lines()
            .find_map(|l| l.strip_prefix(name).map(str::trim))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("/metrics has no {name}:\n{text}"))
    };
    OutboxMetrics {
        queued: value("candour_notifications{state=\"queued\"}"),
        retrying: value("candour_notifications{state=\"retrying\"}"),
        sent: value("candour_notifications{state=\"sent\"}"),
        dead: value("candour_notifications{state=\"dead\"}"),
        failed_attempts: value("candour_notification_failed_attempts_total"),
    }
}

async fn wait_for_metrics(
    app: &TestApp,
    what: &str,
    done: impl Fn(&OutboxMetrics) -> bool,
) -> OutboxMetrics {
    let deadline = Instant::now() + WAIT;
    loop {
        let m = metrics(app).await;
        if done(&m) {
            return m;
        }
        if Instant::now() >= deadline {
            panic!("waited {WAIT:?} for /metrics to show {what}; it shows {m:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Polls `check` until it is true (no assertion about how soon).
async fn eventually<F, Fut>(what: &str, timeout: Duration, check: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    while !check().await {
        if Instant::now() >= deadline {
            panic!("waited {timeout:?} for {what}");
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}
