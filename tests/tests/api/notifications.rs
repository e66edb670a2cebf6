//! Email notifications: who hears of what, what an email may and may not say, the choices
//! people make about their email, the outbox a quality lead watches, and what happens when
//! the mail server is down, when emails are dead-lettered, when two dispatchers share a
//! database and when one of them dies mid-send. Every email is read back from a real SMTP
//! server (aiosmtpd), never a mock.

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

/// People are known to the server (roles, departments, email) once they have made a request.
async fn make_known(app: &TestApp, tokens: &[&str]) {
    for token in tokens {
        app.gql(Some(token), "{ me { subject } }", json!({}))
            .await
            .assert_ok();
    }
}

fn reference_of(incident: &Value) -> String {
    incident["reference"]
        .as_str()
        .unwrap_or_else(|| panic!("no reference in {incident}"))
        .to_string()
}

fn id(v: &Value) -> String {
    v["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {v}"))
        .to_string()
}

fn set_of(values: &[&str]) -> BTreeSet<String> {
    values.iter().map(|s| s.to_string()).collect()
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

// =============================================================================================
// Who hears of what
// =============================================================================================

#[tokio::test]
async fn a_handler_hears_of_a_low_harm_incident_in_their_department_and_nobody_else_does() {
    let mail = MailServer::start().await;
    let app = app_mailing(&mail, with_lists).await;
    let h = app.hospital().await;
    let harriet = app.handler("harriet", &["CARD"]);
    make_known(
        &app,
        &[&h.hana, &harriet, &h.nina, &h.quinn, &h.alice, &h.bob],
    )
    .await;

    let incident = report_low(&app, &h.alice, &h.cardiology).await;
    let reference = reference_of(&incident);

    // Written with the report: the outbox already holds exactly these.
    let rows = notifications(&app, &h.quinn, json!({ "reference": reference })).await;
    assert_eq!(
        recipients(&rows),
        set_of(&[HANA, HARRIET, CARDIOLOGY_LIST]),
        "cardiology's handlers and its list; not neurology's handler, not the quality leads"
    );
    assert_eq!(kinds(&rows), set_of(&["INCIDENT_REPORTED"]));
    assert!(rows.iter().all(|r| r["mandatory"] == false), "{rows:?}");

    all_sent(&app, &h.quinn, json!({ "reference": reference }), 3).await;
    let messages = mail
        .wait_for_matching(|m| m.subject.contains(&reference), 3, WAIT)
        .await;
    assert_eq!(to_set(&messages), set_of(&[HANA, HARRIET, CARDIOLOGY_LIST]));
    for m in &messages {
        assert_eq!(m.to.len(), 1, "one recipient per email: {:?}", m.to);
        assert_eq!(m.envelope_to(), m.to, "nobody hidden in Bcc");
    }
    let everything = mail.received();
    for nobody in [NINA, QUINN, QUALITY_LIST, NEUROLOGY_LIST, ALICE] {
        assert!(
            everything
                .iter()
                .all(|m| !m.envelope_to().contains(&nobody.to_string())),
            "{nobody} was not told of a low-harm cardiology incident: {:?}",
            to_of(&everything)
        );
    }
}

#[tokio::test]
async fn moderate_harm_reaches_the_departments_handlers_and_every_quality_lead() {
    let mail = MailServer::start().await;
    let app = app_mailing(&mail, with_lists).await;
    let h = app.hospital().await;
    let quentin = app.quality_lead("quentin");
    make_known(&app, &[&h.hana, &h.nina, &h.quinn, &quentin, &h.alice]).await;

    let physical = app
        .report_incident(
            &h.alice,
            with(
                incident_input(&h.cardiology),
                json!({ "physicalHarm": "MODERATE" }),
            ),
        )
        .await;
    let psychological = app
        .report_incident(
            &h.alice,
            with(
                incident_input(&h.cardiology),
                json!({ "physicalHarm": "NONE", "psychologicalHarm": "MODERATE" }),
            ),
        )
        .await;

    let everyone = set_of(&[HANA, CARDIOLOGY_LIST, QUINN, QUENTIN, QUALITY_LIST]);
    for incident in [&physical, &psychological] {
        let reference = reference_of(incident);
        let rows = notifications(&app, &h.quinn, json!({ "reference": reference })).await;
        assert_eq!(recipients(&rows), everyone, "{reference}");
        assert_eq!(
            kinds(&rows),
            set_of(&["SERIOUS_INCIDENT_REPORTED"]),
            "a serious incident is announced as such, not also as a plain report"
        );
        assert!(rows.iter().all(|r| r["mandatory"] == true), "{rows:?}");

        all_sent(&app, &h.quinn, json!({ "reference": reference }), 5).await;
        let messages = mail
            .wait_for_matching(|m| m.subject.contains(&reference), 5, WAIT)
            .await;
        assert_eq!(to_set(&messages), everyone, "{reference}");
        assert!(
            messages
                .iter()
                .all(|m| m.subject.to_lowercase().contains("moderate harm or worse")),
            "{:?}",
            messages.iter().map(|m| &m.subject).collect::<Vec<_>>()
        );
    }
    assert!(
        mail.received()
            .iter()
            .all(|m| !m.envelope_to().contains(&NINA.to_string())
                && !m.envelope_to().contains(&NEUROLOGY_LIST.to_string())),
        "neurology hears nothing of cardiology's incidents"
    );
}

#[tokio::test]
async fn triage_that_finds_moderate_harm_tells_the_quality_leads_once() {
    let mail = MailServer::start().await;
    let app = app_mailing(&mail, |_| {}).await;
    let h = app.hospital().await;
    make_known(&app, &[&h.hana, &h.nina, &h.quinn, &h.alice]).await;

    let reported = report_low(&app, &h.alice, &h.cardiology).await;
    let reference = reference_of(&reported);
    let filter = json!({ "reference": reference });
    let first = all_sent(&app, &h.quinn, filter.clone(), 1).await;
    assert_eq!(recipients(&first), set_of(&[HANA]));
    assert_eq!(first[0]["kind"], "INCIDENT_REPORTED");

    let moderate = app
        .triage(&h.hana, &reported, json!({ "physicalHarm": "MODERATE" }))
        .await;
    let serious = notifications(
        &app,
        &h.quinn,
        json!({ "reference": reference, "kind": ["SERIOUS_INCIDENT_REPORTED"] }),
    )
    .await;
    assert_eq!(
        recipients(&serious),
        set_of(&[HANA, QUINN]),
        "the handlers and the quality leads hear the harm was moderate"
    );

    // Triaged again, worse, then down and back up: the news was told once.
    let severe = app
        .triage(&h.hana, &moderate, json!({ "physicalHarm": "SEVERE" }))
        .await;
    let low = app
        .triage(&h.quinn, &severe, json!({ "physicalHarm": "LOW" }))
        .await;
    app.triage(&h.quinn, &low, json!({ "physicalHarm": "MODERATE" }))
        .await;

    let rows = all_sent(&app, &h.quinn, filter, 3).await;
    assert_eq!(
        rows.iter()
            .filter(|r| r["kind"] == "SERIOUS_INCIDENT_REPORTED")
            .count(),
        2,
        "no second round of serious-incident emails: {rows:?}"
    );
    let messages = mail
        .wait_for_matching(|m| m.subject.contains(&reference), 3, WAIT)
        .await;
    let to_quinn = messages.iter().filter(|m| m.to == [QUINN]).count();
    let to_hana = messages.iter().filter(|m| m.to == [HANA]).count();
    assert_eq!(to_quinn, 1, "Quinn is told once: {:?}", to_of(&messages));
    assert_eq!(to_hana, 2, "reported, then serious: {:?}", to_of(&messages));
    assert!(mail.received().iter().all(|m| m.to != [NINA.to_string()]));
}

#[tokio::test]
async fn a_corrective_action_is_emailed_to_its_owner_and_to_each_new_owner() {
    let mail = MailServer::start().await;
    let app = app_mailing(&mail, |_| {}).await;
    let h = app.hospital().await;
    let olive = app.staff_with_email("olive", OLIVE);
    make_known(&app, &[&h.hana, &h.quinn, &olive]).await;
    let incident = report_low(&app, &h.alice, &h.cardiology).await;
    let reference = reference_of(&incident);

    let action = app
        .create_corrective_action(&h.hana, corrective_action_input(&id(&incident), OLIVE))
        .await;
    let assigned = json!({ "kind": ["ACTION_ASSIGNED"] });
    let rows = all_sent(&app, &h.quinn, assigned.clone(), 1).await;
    assert_eq!(recipients(&rows), set_of(&[OLIVE]));
    assert_eq!(
        rows[0]["reference"], reference,
        "an action's email names its incident"
    );

    // Changing something else emails nobody; a new owner is told (Oscar has never signed in).
    let retitled = app
        .update_action(
            &h.hana,
            &action,
            json!({ "title": "Check rails at transfer too" }),
        )
        .await;
    let reassigned = app
        .update_action(
            &h.hana,
            &retitled,
            json!({ "ownerEmail": "Oscar@Candour.Test" }),
        )
        .await;
    assert_eq!(reassigned["ownerEmail"], OSCAR);
    let rows = all_sent(&app, &h.quinn, assigned.clone(), 2).await;
    assert_eq!(recipients(&rows), set_of(&[OLIVE, OSCAR]));

    // Found not to have worked: the follow-up action is assigned to the owner afresh.
    let completed = app
        .update_action(&h.hana, &reassigned, json!({ "status": "COMPLETED" }))
        .await;
    let verified = app
        .update_action(
            &h.quinn,
            &completed,
            json!({ "status": "VERIFIED", "effective": false,
                    "note": "Rails found down again on the night shift by Sister Marigold." }),
        )
        .await;
    assert!(verified["followUp"].is_object(), "{verified}");
    let rows = all_sent(&app, &h.quinn, assigned, 3).await;
    let to_oscar = rows.iter().filter(|r| r["recipient"] == OSCAR).count();
    assert_eq!(to_oscar, 2, "the reassignment and the follow-up: {rows:?}");

    let messages = mail
        .wait_for_matching(|m| m.subject.starts_with("Corrective action"), 3, WAIT)
        .await;
    assert_eq!(to_of(&messages), vec![OLIVE, OSCAR, OSCAR]);
    for m in &messages {
        assert!(m.text.contains(&reference), "{}", m.text);
        assert!(
            m.text.contains(&format!("{PUBLIC_URL}/actions/")),
            "a link to the action: {}",
            m.text
        );
        assert_says_nothing_of(
            m,
            &["Sister Marigold", "Check rails", "Check trolley rails"],
        );
    }
}

#[tokio::test]
async fn a_named_reporter_hears_what_was_learned_when_their_incident_closes() {
    let mail = MailServer::start().await;
    let app = app_mailing(&mail, |_| {}).await;
    let h = app.hospital().await;
    make_known(&app, &[&h.quinn]).await;
    let incident = report_low(&app, &h.alice, &h.cardiology).await;
    let reference = reference_of(&incident);

    let triaged = app
        .triage(
            &h.quinn,
            &incident,
            json!({
                "learningSummary": "Rails are now checked at every handover.",
                "feedbackToReporter": "Thank you: your report changed the handover checklist.",
            }),
        )
        .await;
    app.transition(&h.quinn, &triaged, "CLOSED").await;

    let rows = all_sent(
        &app,
        &h.quinn,
        json!({ "reference": reference, "kind": ["INCIDENT_CLOSED"] }),
        1,
    )
    .await;
    assert_eq!(recipients(&rows), set_of(&[ALICE]));
    let messages = mail
        .wait_for_matching(|m| m.to == [ALICE.to_string()], 1, WAIT)
        .await;
    assert_eq!(messages.len(), 1);
    let m = &messages[0];
    assert!(m.subject.contains(&reference), "{}", m.subject);
    for part in [
        m.text.clone(),
        html_unescape(m.html.as_deref().unwrap_or("")),
    ] {
        assert!(
            part.contains("Rails are now checked at every handover."),
            "the learning summary: {part}"
        );
        assert!(
            part.contains("Thank you: your report changed the handover checklist."),
            "the feedback: {part}"
        );
    }
}

#[tokio::test]
async fn nobody_is_emailed_as_the_reporter_when_an_anonymous_report_closes() {
    let mail = MailServer::start().await;
    let app = app_mailing(&mail, |_| {}).await;
    let h = app.hospital().await;
    make_known(&app, &[&h.quinn]).await;
    let incident = app
        .report_incident(
            &h.alice,
            with(incident_input(&h.cardiology), json!({ "anonymous": true })),
        )
        .await;
    let reference = reference_of(&incident);
    let closed = app.close_low_harm(&h.quinn, &incident).await;
    assert_eq!(closed["status"], "CLOSED");

    // For comparison, a named report closed afterwards does email its reporter.
    let named = report_low(&app, &h.bob, &h.cardiology).await;
    app.close_low_harm(&h.quinn, &named).await;
    all_sent(
        &app,
        &h.quinn,
        json!({ "reference": reference_of(&named), "kind": ["INCIDENT_CLOSED"] }),
        1,
    )
    .await;

    let rows = notifications(&app, &h.quinn, json!({ "reference": reference })).await;
    assert!(
        rows.is_empty(),
        "no handler known, no reporter on record: nobody to email about {reference}: {rows:?}"
    );
    mail.wait_for_matching(|m| m.to == ["bob@candour.test".to_string()], 1, WAIT)
        .await;
    assert!(
        about(&mail, &reference).is_empty(),
        "no email about the anonymous report: {:?}",
        to_of(&about(&mail, &reference))
    );
    assert!(mail.received().iter().all(|m| m.to != [ALICE.to_string()]));
}

// =============================================================================================
// What an email says, and does not
// =============================================================================================

#[tokio::test]
async fn emails_carry_the_reference_and_a_link_but_never_a_patient_or_the_report() {
    let mail = MailServer::start().await;
    let app = app_mailing(&mail, with_lists).await;
    let h = app.hospital().await;
    let olive = app.staff_with_email("olive", OLIVE);
    make_known(&app, &[&h.hana, &h.nina, &h.quinn, &olive]).await;

    let title_serious = "Zebedee Quartermain slid from trolley on ward 7B";
    let title_low = "Marmaduke Fothergill given wrong dressing";
    let description = "Side rails were left down while the porter fetched a blanket.";
    let immediate = "Checked for injury by Dr Persimmon and rails raised.";
    let patient = json!({ "nhsNumber": "9434765919", "name": "Zebedee Quartermain", "dateOfBirth": "1950-03-04" });
    let comment = "Spoke to the family of Mr Quartermain at the bedside.";

    let serious = app
        .report_incident(
            &h.alice,
            with(
                incident_input(&h.cardiology),
                json!({ "title": title_serious, "description": description,
                        "immediateActions": immediate, "patient": patient,
                        "physicalHarm": "MODERATE", "location": "Ward 7B bay 3" }),
            ),
        )
        .await;
    app.comment(&h.hana, &id(&serious), comment).await;
    let low = app
        .report_incident(
            &h.alice,
            with(
                incident_input(&h.cardiology),
                json!({ "title": title_low, "description": description,
                        "immediateActions": immediate, "patient": patient }),
            ),
        )
        .await;
    app.comment(&h.quinn, &id(&low), comment).await;
    app.create_corrective_action(&h.hana, corrective_action_input(&id(&serious), OLIVE))
        .await;
    let triaged = app
        .triage(
            &h.quinn,
            &low,
            json!({ "feedbackToReporter": "Thank you: dressings are now double-checked.",
                    "learningSummary": "A second check of dressings before they are applied.",
                    "findings": "Nurse Clementine picked the wrong pack." }),
        )
        .await;
    app.transition(&h.quinn, &triaged, "CLOSED").await;

    // Serious: Hana, Quinn and both lists; low: Hana and the list; the action: Olive; the
    // closure: Alice.
    let outbox = all_sent(&app, &h.quinn, json!({}), 8).await;
    let messages = mail.wait_for(8, WAIT).await;
    assert_eq!(messages.len(), 8, "one email per notification");

    let by_message_id: BTreeMap<String, &Value> = outbox
        .iter()
        .map(|n| (n["messageId"].as_str().expect("messageId").to_string(), n))
        .collect();
    assert_eq!(
        by_message_id.len(),
        8,
        "every notification has its own Message-ID"
    );
    assert_eq!(
        arrivals(&messages).keys().cloned().collect::<BTreeSet<_>>(),
        by_message_id.keys().cloned().collect::<BTreeSet<_>>(),
        "the Message-IDs that arrived are the outbox's"
    );

    let secrets = [
        title_serious,
        title_low,
        description,
        immediate,
        "9434765919",
        "943 476 5919",
        "Zebedee",
        "Quartermain",
        "1950-03-04",
        "04/03/1950",
        comment,
        "Nurse Clementine",
        "Dr Persimmon",
        "Ward 7B",
        "Alice Test",
        "Hana Test",
        "Quinn Test",
        "Olive Test",
        "Ada Test",
    ];
    for m in &messages {
        assert_says_nothing_of(m, &secrets);

        let n = by_message_id[&m.message_id];
        assert_eq!(
            m.header("Message-ID"),
            Some(format!("<{}>", m.message_id).as_str()),
            "{:?}",
            m.headers
        );
        assert!(
            m.message_id.ends_with(&format!("@{MESSAGE_HOST}")),
            "Message-ID on the public host: {}",
            m.message_id
        );
        assert_eq!(m.to, vec![n["recipient"].as_str().unwrap().to_string()]);
        assert_eq!(m.from, FROM_ADDRESS);
        assert_eq!(m.subject, n["subject"].as_str().unwrap());
        assert_eq!(m.header("Auto-Submitted"), Some("auto-generated"));
        let content_type = m.header("Content-Type").unwrap_or_default().to_lowercase();
        assert!(
            content_type.starts_with("multipart/alternative"),
            "text and HTML alternatives: {content_type}"
        );
        assert!(!m.text.trim().is_empty(), "a text part: {}", m.raw);
        let html = m
            .html
            .clone()
            .unwrap_or_else(|| panic!("an HTML part: {}", m.raw));
        let links = hrefs(&html);

        let reference = n["reference"]
            .as_str()
            .expect("every email here names an incident");
        assert!(m.text.contains(reference), "{}", m.text);
        assert!(html_unescape(&html).contains(reference), "{html}");
        if n["kind"] == "ACTION_ASSIGNED" {
            let link = format!("{PUBLIC_URL}/actions/");
            assert!(m.text.contains(&link), "{}", m.text);
            assert!(links.iter().any(|l| l.starts_with(&link)), "{links:?}");
        } else {
            assert!(m.subject.contains(reference), "{}", m.subject);
            let link = format!("{PUBLIC_URL}/incidents/{reference}");
            assert!(m.text.contains(&link), "{}", m.text);
            assert!(links.contains(&link), "{links:?} in {html}");
        }
    }
}

// =============================================================================================
// Choosing what to receive
// =============================================================================================

#[tokio::test]
async fn a_handler_who_switches_off_new_incident_emails_gets_none_while_colleagues_still_do() {
    let mail = MailServer::start().await;
    let app = app_mailing(&mail, with_lists).await;
    let h = app.hospital().await;
    let harriet = app.handler("harriet", &["CARD"]);
    make_known(&app, &[&h.hana, &harriet, &h.quinn]).await;

    let before = preferences(&app, &h.hana).await;
    assert_eq!(before.len(), 11, "every kind is listed: {before:?}");
    assert!(
        before.values().all(|(enabled, _)| *enabled),
        "all on at first"
    );
    for kind in [
        "SERIOUS_INCIDENT_REPORTED",
        "ACTION_ESCALATED",
        "OBLIGATION_DUE_SOON",
        "OBLIGATION_MISSED",
    ] {
        assert_eq!(before[kind], (true, true), "{kind} is mandatory");
    }
    assert_eq!(before["INCIDENT_REPORTED"], (true, false));

    let resp = set_preference(&app, &h.hana, "INCIDENT_REPORTED", false).await;
    resp.assert_ok();
    assert_eq!(
        resp.data()["setNotificationPreference"]["preference"],
        json!({ "kind": "INCIDENT_REPORTED", "enabled": false, "mandatory": false })
    );
    for kind in ["SERIOUS_INCIDENT_REPORTED", "OBLIGATION_MISSED"] {
        set_preference(&app, &h.hana, kind, false)
            .await
            .assert_error("BAD_USER_INPUT", Some("kind"));
    }
    let after = preferences(&app, &h.hana).await;
    assert_eq!(after["INCIDENT_REPORTED"], (false, false));
    assert_eq!(after["SERIOUS_INCIDENT_REPORTED"], (true, true));
    assert_eq!(
        after.values().filter(|(enabled, _)| !enabled).count(),
        1,
        "only the one switched off: {after:?}"
    );
    assert_eq!(
        preferences(&app, &harriet).await["INCIDENT_REPORTED"],
        (true, false),
        "a choice is personal"
    );

    let quiet = report_low(&app, &h.alice, &h.cardiology).await;
    let reference = reference_of(&quiet);
    let rows = all_sent(&app, &h.quinn, json!({ "reference": reference }), 2).await;
    assert_eq!(recipients(&rows), set_of(&[HARRIET, CARDIOLOGY_LIST]));

    // Serious incidents cannot be switched off.
    let serious = app
        .report_incident(
            &h.alice,
            with(
                incident_input(&h.cardiology),
                json!({ "physicalHarm": "SEVERE" }),
            ),
        )
        .await;
    let rows = all_sent(
        &app,
        &h.quinn,
        json!({ "reference": reference_of(&serious) }),
        5,
    )
    .await;
    assert!(recipients(&rows).contains(HANA), "{rows:?}");

    // Switched back on, Hana hears of the next one.
    set_preference(&app, &h.hana, "INCIDENT_REPORTED", true)
        .await
        .assert_ok();
    assert_eq!(
        preferences(&app, &h.hana).await["INCIDENT_REPORTED"],
        (true, false)
    );
    let heard = report_low(&app, &h.alice, &h.cardiology).await;
    let rows = all_sent(
        &app,
        &h.quinn,
        json!({ "reference": reference_of(&heard) }),
        3,
    )
    .await;
    assert_eq!(recipients(&rows), set_of(&[HANA, HARRIET, CARDIOLOGY_LIST]));

    let messages = mail
        .wait_for_matching(|m| m.subject.contains(&reference), 2, WAIT)
        .await;
    assert_eq!(to_set(&messages), set_of(&[HARRIET, CARDIOLOGY_LIST]));
    mail.wait_for(10, WAIT).await;
    assert!(
        about(&mail, &reference)
            .iter()
            .all(|m| m.to != [HANA.to_string()]),
        "Hana got no email about {reference}"
    );
}

// =============================================================================================
// The outbox
// =============================================================================================

#[tokio::test]
async fn a_quality_lead_sees_every_email_its_status_and_its_deliveries_and_others_may_not() {
    let mail = MailServer::start().await;
    let app = app_mailing(&mail, |_| {}).await;
    let h = app.hospital().await;
    make_known(&app, &[&h.hana, &h.nina, &h.quinn]).await;
    let cardiac = report_low(&app, &h.alice, &h.cardiology).await;
    let neuro = report_low(&app, &h.bob, &h.neurology).await;
    app.create_corrective_action(&h.hana, corrective_action_input(&id(&cardiac), OLIVE))
        .await;
    let outbox = all_sent(&app, &h.quinn, json!({}), 3).await;
    mail.wait_for(3, WAIT).await;

    let kinds_in_order: Vec<&str> = outbox.iter().map(|n| n["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds_in_order,
        ["ACTION_ASSIGNED", "INCIDENT_REPORTED", "INCIDENT_REPORTED"],
        "newest first"
    );
    assert_eq!(outbox[1]["recipient"], NINA);
    assert_eq!(outbox[2]["recipient"], HANA);
    let created: Vec<chrono::DateTime<chrono::Utc>> =
        outbox.iter().map(|n| parse_time(&n["createdAt"])).collect();
    assert!(created.windows(2).all(|w| w[0] >= w[1]), "{created:?}");
    for n in &outbox {
        assert_eq!(n["status"], "SENT", "{n}");
        assert_eq!(n["attempts"], 1, "{n}");
        assert!(n["lastError"].is_null(), "{n}");
        assert!(n["nextAttemptAt"].is_null(), "{n}");
        assert!(
            parse_time(&n["sentAt"]) >= parse_time(&n["createdAt"]),
            "{n}"
        );
        let deliveries = n["deliveries"].as_array().unwrap();
        assert_eq!(deliveries.len(), 1, "{n}");
        assert_eq!(deliveries[0]["outcome"], "SENT");
        assert!(deliveries[0]["error"].is_null());
        assert!(
            !deliveries[0]["worker"].as_str().unwrap_or("").is_empty(),
            "which dispatcher sent it: {n}"
        );
    }

    // Filters.
    let count = |filter: Value| {
        let app = &app;
        let quinn = h.quinn.clone();
        async move {
            let resp =
                list_notifications(app, &quinn, json!({ "first": 10, "filter": filter })).await;
            resp.assert_ok();
            let total = resp.data()["notifications"]["totalCount"].as_i64().unwrap();
            let recipients: Vec<String> = resp.data()["notifications"]["edges"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["node"]["recipient"].as_str().unwrap().to_string())
                .collect();
            assert_eq!(total as usize, recipients.len(), "{filter}: {resp}");
            recipients
        }
    };
    assert_eq!(count(json!({ "status": ["SENT"] })).await.len(), 3);
    assert!(count(json!({ "status": ["DEAD"] })).await.is_empty());
    assert!(count(json!({ "status": ["QUEUED", "RETRYING"] }))
        .await
        .is_empty());
    assert_eq!(count(json!({ "status": ["DEAD", "SENT"] })).await.len(), 3);
    assert_eq!(
        count(json!({ "kind": ["ACTION_ASSIGNED"] })).await,
        vec![OLIVE]
    );
    assert_eq!(
        count(json!({ "kind": ["INCIDENT_REPORTED"], "status": ["SENT"] }))
            .await
            .len(),
        2
    );
    assert!(count(json!({ "kind": ["INCIDENT_CLOSED"] }))
        .await
        .is_empty());
    assert_eq!(
        count(json!({ "reference": reference_of(&cardiac) })).await,
        vec![OLIVE, HANA],
        "the action's email is about its incident too"
    );
    assert_eq!(
        count(json!({ "reference": reference_of(&neuro).to_lowercase() })).await,
        vec![NINA]
    );
    assert_eq!(
        count(json!({ "recipient": "Nina@Candour.Test" })).await,
        vec![NINA]
    );
    assert!(count(json!({ "reference": "INC-1999-000001" }))
        .await
        .is_empty());

    // Pages.
    let page1 = list_notifications(&app, &h.quinn, json!({ "first": 2 })).await;
    page1.assert_ok();
    let p1 = &page1.data()["notifications"];
    assert_eq!(p1["totalCount"], 3);
    assert_eq!(p1["pageInfo"]["hasNextPage"], true);
    let page2 = list_notifications(
        &app,
        &h.quinn,
        json!({ "first": 2, "after": p1["pageInfo"]["endCursor"] }),
    )
    .await;
    page2.assert_ok();
    let p2 = &page2.data()["notifications"];
    assert_eq!(p2["pageInfo"]["hasNextPage"], false);
    let mut ids: Vec<String> = node_ids(p1);
    ids.extend(node_ids(p2));
    assert_eq!(
        ids,
        outbox.iter().map(id).collect::<Vec<_>>(),
        "two pages, in order, nothing repeated"
    );

    // Nobody else reads the outbox.
    let staff = app.staff("sam");
    for (who, token) in [
        ("a handler", &h.hana),
        ("a member of staff", &h.alice),
        ("an admin", &h.ada),
        ("a member of staff", &staff),
    ] {
        let resp = list_notifications(&app, token, json!({ "first": 10 })).await;
        resp.assert_error("FORBIDDEN", None);
        assert!(
            resp.data().is_null() || resp.data()["notifications"].is_null(),
            "{who} sees nothing: {resp}"
        );
        assert!(!resp.body.to_string().contains(HANA), "{who}: {resp}");
    }
}

// =============================================================================================
// Failures
// =============================================================================================

#[tokio::test]
async fn emails_wait_out_a_mail_server_outage_and_each_arrives_once_when_it_is_back() {
    let mut mail = MailServer::start().await;
    let app = app_mailing(&mail, |s| s.notify.max_attempts = 1000).await;
    let h = app.hospital().await;
    make_known(&app, &[&h.hana, &h.nina, &h.quinn]).await;
    mail.stop().await;

    let mut references = Vec::new();
    for department in [&h.cardiology, &h.neurology, &h.cardiology, &h.neurology] {
        references.push(reference_of(&report_low(&app, &h.alice, department).await));
    }
    let rows = wait_for_outbox(
        &app,
        &h.quinn,
        json!({}),
        "4 emails retrying after failed attempts",
        |rows| {
            rows.len() == 4
                && rows.iter().all(|r| {
                    r["status"] == "RETRYING"
                        && r["attempts"].as_i64().unwrap_or(0) >= 1
                        && outcomes(r).iter().all(|o| o == "FAILED")
                })
        },
    )
    .await;
    for r in &rows {
        assert!(r["nextAttemptAt"].is_string(), "when it is tried next: {r}");
        assert!(r["sentAt"].is_null());
        let error = r["lastError"].as_str().unwrap_or_else(|| panic!("{r}"));
        assert!(!error.is_empty());
        for d in r["deliveries"].as_array().unwrap() {
            assert_eq!(d["outcome"], "FAILED");
            assert!(d["error"].is_string(), "{d}");
        }
    }
    assert_eq!(
        notifications(&app, &h.quinn, json!({ "status": ["RETRYING"] }))
            .await
            .len(),
        4
    );
    let during = wait_for_metrics(&app, "4 retrying", |m| {
        m.retrying == 4 && m.failed_attempts >= 4
    })
    .await;
    assert_eq!(
        (during.queued, during.sent, during.dead),
        (0, 0, 0),
        "{during:?}"
    );
    assert!(mail.received().is_empty());

    mail.restart().await;
    let outbox = all_sent(&app, &h.quinn, json!({}), 4).await;
    let messages = mail.wait_for(4, WAIT).await;
    let arrived = arrivals(&messages);
    let expected: BTreeSet<String> = outbox
        .iter()
        .map(|n| n["messageId"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        arrived.keys().cloned().collect::<BTreeSet<_>>(),
        expected,
        "none lost"
    );
    assert!(
        arrived.values().all(|n| *n == 1),
        "none sent twice: {arrived:?}"
    );
    for reference in &references {
        assert_eq!(about(&mail, reference).len(), 1, "{reference}");
    }

    let mut failed = 0;
    for n in &outbox {
        let o = outcomes(n);
        assert_eq!(o.last().map(String::as_str), Some("SENT"), "{n}");
        assert!(o[..o.len() - 1].iter().all(|x| x == "FAILED"), "{n}");
        assert!(o.len() >= 2, "failed at least once, then sent: {n}");
        assert_eq!(n["attempts"].as_u64(), Some(o.len() as u64), "{n}");
        failed += o.len() as i64 - 1;
    }
    let after = metrics(&app).await;
    assert_eq!(
        after,
        OutboxMetrics {
            queued: 0,
            retrying: 0,
            sent: 4,
            dead: 0,
            failed_attempts: failed,
        }
    );
    assert!(after.failed_attempts >= during.failed_attempts);
}

#[tokio::test]
async fn a_dead_lettered_email_is_sent_when_a_quality_lead_retries_it() {
    let mut mail = MailServer::start().await;
    let app = app_mailing(&mail, |s| s.notify.max_attempts = 2).await;
    let h = app.hospital().await;
    make_known(&app, &[&h.hana, &h.quinn]).await;
    mail.stop().await;

    let secret = "Patient Zebedee Quartermain, NHS 9434765919";
    let first = app
        .report_incident(
            &h.alice,
            with(
                incident_input(&h.cardiology),
                json!({ "description": secret }),
            ),
        )
        .await;
    let second = report_low(&app, &h.alice, &h.cardiology).await;
    let dead = wait_for_outbox(&app, &h.quinn, json!({}), "2 dead emails", |rows| {
        rows.len() == 2 && rows.iter().all(|r| r["status"] == "DEAD")
    })
    .await;
    for n in &dead {
        assert_eq!(n["attempts"], 2, "{n}");
        assert_eq!(outcomes(n), ["FAILED", "FAILED"], "{n}");
        assert!(n["nextAttemptAt"].is_null(), "{n}");
        let error = n["lastError"].as_str().unwrap_or_else(|| panic!("{n}"));
        for leak in ["Zebedee", "9434765919", HANA, "Patient fell from trolley"] {
            assert!(!error.contains(leak), "{error}");
        }
    }
    assert_eq!(
        notifications(&app, &h.quinn, json!({ "status": ["DEAD"] }))
            .await
            .len(),
        2
    );
    let m = metrics(&app).await;
    assert_eq!(
        (m.dead, m.queued, m.retrying, m.sent),
        (2, 0, 0, 0),
        "{m:?}"
    );
    assert_eq!(m.failed_attempts, 4, "{m:?}");

    mail.restart().await;
    let by_reference = |incident: &Value| {
        dead.iter()
            .find(|n| n["reference"] == incident["reference"])
            .cloned()
            .unwrap_or_else(|| panic!("no email about {incident}"))
    };
    let to_retry = by_reference(&first);
    let left_dead = by_reference(&second);

    for token in [&h.hana, &h.alice] {
        retry_notification(&app, token, &id(&to_retry))
            .await
            .assert_error("FORBIDDEN", None);
    }
    let resp = retry_notification(&app, &h.quinn, &id(&to_retry)).await;
    resp.assert_ok();
    let requeued = &resp.data()["retryNotification"]["notification"];
    assert_eq!(requeued["status"], "QUEUED");
    assert_eq!(requeued["attempts"], 0, "attempts start again");
    assert_eq!(requeued["messageId"], to_retry["messageId"]);

    let sent = wait_for_outbox(
        &app,
        &h.quinn,
        json!({ "reference": reference_of(&first) }),
        "the retried email sent",
        |rows| rows.len() == 1 && rows[0]["status"] == "SENT",
    )
    .await;
    assert_eq!(outcomes(&sent[0]), ["FAILED", "FAILED", "SENT"]);
    assert_eq!(sent[0]["attempts"], 1);
    let messages = mail.wait_for(1, WAIT).await;
    assert_eq!(messages.len(), 1);
    assert_eq!(
        messages[0].message_id,
        to_retry["messageId"].as_str().unwrap(),
        "the same Message-ID as before"
    );
    assert_says_nothing_of(&messages[0], &[secret, "Zebedee", "9434765919"]);

    // Only a dead email can be retried; the other stays dead until someone retries it.
    retry_notification(&app, &h.quinn, &id(&to_retry))
        .await
        .assert_error("BAD_USER_INPUT", Some("notificationId"));
    retry_notification(&app, &h.quinn, &id(&first))
        .await
        .assert_error("BAD_USER_INPUT", Some("notificationId"));
    let still = notifications(&app, &h.quinn, json!({ "status": ["DEAD"] })).await;
    assert_eq!(
        still.iter().map(id).collect::<Vec<_>>(),
        vec![id(&left_dead)]
    );
    let m = metrics(&app).await;
    assert_eq!(
        (m.dead, m.sent, m.queued, m.retrying),
        (1, 1, 0, 0),
        "{m:?}"
    );
    assert_eq!(mail.received().len(), 1);
}

// =============================================================================================
// Several dispatchers
// =============================================================================================

#[tokio::test]
async fn two_dispatchers_on_one_database_send_every_email_exactly_once() {
    let mail = MailServer::start().await;
    let first = app_mailing(&mail, |_| {}).await;
    let second = first.another_instance(|_| {}).await;
    let h = first.hospital().await;
    let harriet = first.handler("harriet", &["CARD"]);
    make_known(&first, &[&h.hana, &harriet]).await;
    make_known(&second, &[&h.quinn]).await;

    const INCIDENTS: usize = 30;
    let mut references = Vec::new();
    for chunk in 0..INCIDENTS / 5 {
        let reports = (0..5).map(|i| {
            let app = if (chunk + i) % 2 == 0 {
                &first
            } else {
                &second
            };
            report_low(app, &h.alice, &h.cardiology)
        });
        for incident in futures_util::future::join_all(reports).await {
            references.push(reference_of(&incident));
        }
    }
    let expected = 2 * INCIDENTS;

    let outbox = all_sent(&first, &h.quinn, json!({}), expected).await;
    let messages = mail.wait_for(expected, WAIT).await;
    let arrived = arrivals(&messages);
    let duplicates: Vec<_> = arrived.iter().filter(|(_, n)| **n > 1).collect();
    assert!(duplicates.is_empty(), "sent more than once: {duplicates:?}");
    assert_eq!(messages.len(), expected);
    assert_eq!(
        arrived.keys().cloned().collect::<BTreeSet<_>>(),
        outbox
            .iter()
            .map(|n| n["messageId"].as_str().unwrap().to_string())
            .collect::<BTreeSet<_>>()
    );
    for reference in &references {
        assert_eq!(
            to_set(&about(&mail, reference)),
            set_of(&[HANA, HARRIET]),
            "{reference}"
        );
    }
    let mut workers: BTreeMap<String, usize> = BTreeMap::new();
    for n in &outbox {
        let sends: Vec<&Value> = n["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["outcome"] == "SENT")
            .collect();
        assert_eq!(sends.len(), 1, "one successful send recorded: {n}");
        *workers
            .entry(sends[0]["worker"].as_str().unwrap().to_string())
            .or_insert(0) += 1;
    }
    assert!(workers.len() <= 2, "{workers:?}");
    eprintln!("emails sent per dispatcher: {workers:?}");
    let m = metrics(&second).await;
    assert_eq!(
        (m.sent, m.queued, m.retrying, m.dead),
        (expected as i64, 0, 0, 0)
    );
}

#[tokio::test]
async fn an_email_taken_by_a_dispatcher_that_dies_is_sent_once_by_another() {
    let mail = MailServer::start().await;
    let black_hole = BlackHoleSmtp::start();
    // Lease longer than the SMTP timeout (the configuration insists); both long enough for
    // the test to see the send hang and stop the instance before it gives up.
    let doomed = spawn_app_with(|s| {
        mail_settings(s, &black_hole.url());
        s.notify.smtp_timeout_secs = 8;
        s.notify.lease_secs = 9;
    })
    .await;
    let h = doomed.hospital().await;
    make_known(&doomed, &[&h.hana, &h.quinn]).await;

    let incident = report_low(&doomed, &h.alice, &h.cardiology).await;
    let reference = reference_of(&incident);
    eventually(
        "the first dispatcher to connect to the mail server",
        WAIT,
        || async { black_hole.connections() >= 1 },
    )
    .await;
    // Taken and mid-send: no attempt recorded yet.
    let rows = notifications(&doomed, &h.quinn, json!({ "reference": reference })).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["status"], "QUEUED", "{rows:?}");
    assert!(
        outcomes(&rows[0]).is_empty(),
        "still sending, nothing recorded yet: {rows:?}"
    );
    doomed.stop(false).await;

    let survivor = doomed
        .another_instance(|s| {
            s.smtp_url = Some(Secret::from(mail.url()));
            s.notify.smtp_timeout_secs = 5;
            s.notify.lease_secs = 6;
        })
        .await;
    let sent = wait_for_outbox(
        &survivor,
        &h.quinn,
        json!({ "reference": reference }),
        "the email sent by the surviving dispatcher once the lease ran out",
        |rows| rows.len() == 1 && rows[0]["status"] == "SENT",
    )
    .await;
    let deliveries = sent[0]["deliveries"].as_array().unwrap().clone();
    assert_eq!(
        deliveries.len(),
        1,
        "the dead dispatcher recorded nothing: {sent:?}"
    );
    assert_eq!(deliveries[0]["outcome"], "SENT");
    assert_eq!(sent[0]["attempts"], 1);

    let messages = mail.wait_for(1, WAIT).await;
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].to, vec![HANA]);
    assert_eq!(
        messages[0].message_id,
        sent[0]["messageId"].as_str().unwrap()
    );

    // The worker on record is the survivor's: it sends the next email under the same name.
    let next = report_low(&survivor, &h.alice, &h.cardiology).await;
    let next_sent = all_sent(
        &survivor,
        &h.quinn,
        json!({ "reference": reference_of(&next) }),
        1,
    )
    .await;
    assert_eq!(
        next_sent[0]["deliveries"][0]["worker"], deliveries[0]["worker"],
        "recorded by the second instance's dispatcher"
    );
    mail.wait_for(2, WAIT).await;
    assert_eq!(arrivals(&mail.received()).values().max(), Some(&1));
    assert_eq!(about(&mail, &reference).len(), 1, "sent exactly once");
}

/// A mail server that accepts connections and never answers, like [`BlackHoleSmtp`], but
/// also counts the connections a client still holds open (a client that gave up closes its
/// end): when none is open, nobody is in the middle of sending to it.
struct CountingBlackHole {
    url: String,
    open: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl CountingBlackHole {
    fn start() -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("address").port();
        listener.set_nonblocking(true).expect("non-blocking");
        let open = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (open, stop) = (open.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut held: Vec<std::net::TcpStream> = Vec::new();
                while !stop.load(Ordering::SeqCst) {
                    if let Ok((stream, _)) = listener.accept() {
                        stream.set_nonblocking(true).expect("non-blocking");
                        held.push(stream);
                        open.fetch_add(1, Ordering::SeqCst);
                    }
                    held.retain_mut(|s| {
                        let mut buf = [0u8; 1024];
                        match s.read(&mut buf) {
                            Ok(0) => {
                                open.fetch_sub(1, Ordering::SeqCst);
                                false
                            }
                            Ok(_) => true,
                            Err(e) if e.kind() == ErrorKind::WouldBlock => true,
                            Err(_) => {
                                open.fetch_sub(1, Ordering::SeqCst);
                                false
                            }
                        }
                    });
                    std::thread::sleep(Duration::from_millis(5));
                }
            })
        };
        Self {
            url: format!("smtp://127.0.0.1:{port}"),
            open,
            stop,
            thread: Some(thread),
        }
    }

    fn open(&self) -> usize {
        self.open.load(Ordering::SeqCst)
    }
}

impl Drop for CountingBlackHole {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[tokio::test]
async fn emails_waiting_behind_hung_sends_are_not_sent_twice_when_another_dispatcher_helps() {
    let mail = MailServer::start().await;
    let hung = CountingBlackHole::start();
    // One dispatcher's mail server hangs: every send runs into the SMTP timeout. The lease
    // is longer than that timeout, as the configuration insists, "or a slow send could go
    // out twice".
    let stuck = spawn_app_with(|s| {
        mail_settings(s, &hung.url);
        s.notify.smtp_timeout_secs = 2;
        s.notify.lease_secs = 3;
        s.notify.max_attempts = 1000;
    })
    .await;
    let h = stuck.hospital().await;
    let mut leads = vec![h.quinn.clone()];
    for i in 0..11 {
        leads.push(stuck.quality_lead(&format!("lead{i}")));
    }
    let lead_refs: Vec<&str> = leads.iter().map(String::as_str).collect();
    make_known(&stuck, &lead_refs).await;
    make_known(&stuck, &[&h.hana]).await;

    // One serious incident: 13 emails, written in one transaction, taken in one batch.
    let incident = stuck
        .report_incident(
            &h.alice,
            with(
                incident_input(&h.cardiology),
                json!({ "physicalHarm": "MODERATE" }),
            ),
        )
        .await;
    let reference = reference_of(&incident);
    let filter = json!({ "reference": reference });
    eventually("the stuck dispatcher to start sending", WAIT, || async {
        hung.open() >= 4
    })
    .await;

    // A second dispatcher with a working mail server joins.
    let helper = stuck
        .another_instance(|s| s.smtp_url = Some(Secret::from(mail.url())))
        .await;

    // Everything is sent, and the stuck dispatcher has given up on every send it began.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut settled = 0;
    let outbox = loop {
        let rows = notifications(&helper, &h.quinn, filter.clone()).await;
        let done = rows.len() == 13 && rows.iter().all(|r| r["status"] == "SENT");
        settled = if done && hung.open() == 0 {
            settled + 1
        } else {
            0
        };
        if settled >= 5 {
            break rows;
        }
        assert!(
            Instant::now() < deadline,
            "the outbox did not settle (open hung sends: {}): {}",
            hung.open(),
            serde_json::to_string_pretty(&rows).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };

    // A send another dispatcher still had under way when its lease ran out must not undo
    // the helper's success, nor go out again.
    let overwritten: Vec<String> = outbox
        .iter()
        .filter(|n| {
            let o = outcomes(n);
            o.iter().position(|x| x == "SENT") != Some(o.len() - 1)
        })
        .map(|n| {
            format!(
                "{} {:?}",
                n["recipient"].as_str().unwrap_or(""),
                n["deliveries"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|d| format!("{} by {}", d["outcome"], d["worker"]))
                    .collect::<Vec<_>>()
            )
        })
        .collect();
    let arrived = arrivals(&mail.received());
    let twice: Vec<_> = arrived.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        twice.is_empty() && overwritten.is_empty(),
        "{} of 13 emails arrived more than once: {twice:?};\n\
         {} had attempts recorded after they were sent:\n{}",
        twice.len(),
        overwritten.len(),
        overwritten.join("\n")
    );
    assert_eq!(arrived.len(), 13);
}

// --- TLS ---------------------------------------------------------------------------------

#[tokio::test]
async fn email_goes_out_over_starttls_to_a_server_whose_certificate_a_configured_ca_signed() {
    let mail = MailServer::start_starttls().await;
    let url = mail.starttls_url();
    let ca = mail.ca_file();
    let app = spawn_app_with(move |s| {
        mail_settings(s, &url);
        s.smtp_ca_file = Some(ca);
    })
    .await;
    let h = app.hospital().await;
    make_known(&app, &[&h.hana, &h.quinn]).await;
    let incident = report_low(&app, &h.alice, &h.cardiology).await;
    let reference = reference_of(&incident);
    let sent = all_sent(&app, &h.quinn, json!({ "reference": reference }), 1).await;
    let received = mail.wait_for(1, WAIT).await;
    assert_eq!(received.len(), 1);
    assert_eq!(
        received[0].message_id,
        sent[0]["messageId"].as_str().unwrap()
    );
}

#[tokio::test]
async fn a_server_certificate_nobody_vouches_for_is_refused_and_the_email_waits() {
    // The same STARTTLS server, without its CA: the certificate does not verify, nothing
    // is sent in the clear, and the email is retried rather than lost.
    let mail = MailServer::start_starttls().await;
    let url = mail.starttls_url();
    let app = spawn_app_with(move |s| mail_settings(s, &url)).await;
    let h = app.hospital().await;
    make_known(&app, &[&h.hana, &h.quinn]).await;
    let incident = report_low(&app, &h.alice, &h.cardiology).await;
    let reference = reference_of(&incident);
    let rows = wait_for_outbox(
        &app,
        &h.quinn,
        json!({ "reference": reference }),
        "a failed attempt",
        |rows| rows.len() == 1 && rows[0]["attempts"].as_i64().unwrap_or(0) >= 1,
    )
    .await;
    assert_ne!(rows[0]["status"], "SENT", "{rows:?}");
    assert!(outcomes(&rows[0]).iter().all(|o| o == "FAILED"), "{rows:?}");
    assert!(mail.received().is_empty());
}

#[tokio::test]
async fn a_ca_file_that_is_not_a_certificate_stops_the_server_at_start() {
    let mail = MailServer::start_starttls().await;
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("ca.pem");
    std::fs::write(&bad, "not a certificate").unwrap();
    let mut settings = candour::config::Settings {
        database_url: format!("sqlite://{}/candour.db?mode=rwc", dir.path().display()),
        bind: "127.0.0.1:0".into(),
        jwt_secret: Some(Secret::from(JWT_SECRET.to_string())),
        data_key: Some(Secret::from(candour::protect::generate_key())),
        ..Settings::default()
    };
    mail_settings(&mut settings, &mail.starttls_url());
    settings.smtp_ca_file = Some(bad);
    let err = candour::startup::Application::build(settings)
        .await
        .err()
        .expect("a bad CA file stops the server");
    assert!(err.to_string().contains("smtp_ca_file"), "{err}");
}

#[tokio::test]
async fn the_outbox_keeps_variables_and_an_email_queued_with_its_bodies_before_still_goes_out() {
    use sea_orm::{ConnectionTrait, Database, Statement};
    let mail = MailServer::start().await;
    let app = app_mailing(&mail, |_| {}).await;
    let h = app.hospital().await;
    make_known(&app, &[&h.hana]).await;
    let incident = report_low(&app, &h.alice, &h.cardiology).await;
    let reference = reference_of(&incident);
    let fresh = mail
        .wait_for_matching(|m| m.subject.contains(&reference), 1, WAIT)
        .await;
    assert!(fresh[0].text.contains(&reference), "{}", fresh[0].text);

    let db = Database::connect(&app.database_url).await.unwrap();
    let backend = db.get_database_backend();
    // New rows keep the template's variables, not two rendered bodies each.
    let row = db
        .query_one(Statement::from_string(
            backend,
            format!("SELECT body_text, body_html, vars FROM notification WHERE reference = '{reference}'"),
        ))
        .await
        .unwrap()
        .unwrap();
    let (text, html, vars): (String, String, Option<String>) = (
        row.try_get("", "body_text").unwrap(),
        row.try_get("", "body_html").unwrap(),
        row.try_get("", "vars").unwrap(),
    );
    assert_eq!((text.as_str(), html.as_str()), ("", ""));
    assert!(vars.unwrap().contains(&reference));

    // An email queued by an earlier version, its bodies rendered when it was queued.
    let id = uuid::Uuid::now_v7();
    let sql = match backend {
        sea_orm::DatabaseBackend::Postgres => format!(
            "INSERT INTO notification (id, kind, mandatory, dedupe_key, recipient, subject, body_text, body_html, message_id, status, attempts, next_attempt_at, created_at)
             VALUES ('{id}', 'INCIDENT_REPORTED', false, 'legacy|{HANA}', '{HANA}', 'Queued before the upgrade', 'The stored text body.', '<p>The stored HTML body.</p>', '{id}@candour.test', 'QUEUED', 0, now(), now())"
        ),
        _ => format!(
            "INSERT INTO notification (id, kind, mandatory, dedupe_key, recipient, subject, body_text, body_html, message_id, status, attempts, next_attempt_at, created_at)
             VALUES (X'{}', 'INCIDENT_REPORTED', 0, 'legacy|{HANA}', '{HANA}', 'Queued before the upgrade', 'The stored text body.', '<p>The stored HTML body.</p>', '{id}@candour.test', 'QUEUED', 0, '2026-01-01T00:00:00+00:00', '2026-01-01T00:00:00+00:00')",
            id.simple()
        ),
    };
    db.execute(Statement::from_string(backend, sql))
        .await
        .unwrap();
    db.close().await.ok();
    let legacy = mail
        .wait_for_matching(|m| m.subject == "Queued before the upgrade", 1, WAIT)
        .await;
    assert_eq!(legacy[0].text.trim(), "The stored text body.");
    assert!(legacy[0]
        .html
        .as_deref()
        .is_some_and(|h| h.contains("The stored HTML body.")));
}
