//! What an incident obliges the trust to do, and the reminders that keep it on time.
//!
//! An incident's facts (harm, kind, regulatory facts) give rise to obligations, each a clock:
//! the duty of candour to the patient, RIDDOR to the HSE, IR(ME)R to the CQC, a data breach
//! to the ICO, Yellow Card to the MHRA, SABRE. Handlers and quality leads see them on a
//! board, and record the step that meets each. A deadline scheduler, run here at a clock the
//! test chooses, reminds owners of corrective actions, audit leads, quality leads and
//! handlers, each occasion once, on working days where the calendar matters, however many
//! instances run or restart. What the scheduler raises is read back twice: from the outbox
//! (`notifications`) and from what a real SMTP server received.
//!
//! Expected deadlines are worked out here, independently of the server, with a small
//! working-day calendar (England and Wales bank holidays) and the Europe/London clock change.

mod action_reminders;
mod board;
mod meeting;
mod obligation_reminders;
mod once;
mod owed;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use candour_tests::mail::MailServer;
use candour_tests::*;
use chrono::{DateTime, Datelike, NaiveDate, Utc, Weekday};
use futures_util::future::join;
use serde_json::{json, Value};

// ---------------------------------------------------------------------------------------------
// The calendar, worked out independently of the server
// ---------------------------------------------------------------------------------------------

/// Bank holidays in England and Wales, 2025 to 2028 (GOV.UK), substitute days included.
const BANK_HOLIDAYS: &[&str] = &[
    "2025-01-01",
    "2025-04-18",
    "2025-04-21",
    "2025-05-05",
    "2025-05-26",
    "2025-08-25",
    "2025-12-25",
    "2025-12-26",
    "2026-01-01",
    "2026-04-03",
    "2026-04-06",
    "2026-05-04",
    "2026-05-25",
    "2026-08-31",
    "2026-12-25",
    "2026-12-28",
    "2027-01-01",
    "2027-03-26",
    "2027-03-29",
    "2027-05-03",
    "2027-05-31",
    "2027-08-30",
    "2027-12-27",
    "2027-12-28",
    "2028-01-03",
    "2028-04-14",
    "2028-04-17",
    "2028-05-01",
    "2028-05-29",
    "2028-08-28",
    "2028-12-25",
    "2028-12-26",
];

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_else(|_| panic!("{s:?} is not a date"))
}

fn days(n: i64) -> chrono::Duration {
    chrono::Duration::days(n)
}

fn is_working_day(d: NaiveDate) -> bool {
    !matches!(d.weekday(), Weekday::Sat | Weekday::Sun)
        && !BANK_HOLIDAYS.iter().any(|h| date(h) == d)
}

/// `n` working days after `start` (`start` itself not counted).
fn add_working_days(start: NaiveDate, n: u32) -> NaiveDate {
    let mut d = start;
    let mut left = n;
    while left > 0 {
        d = d.succ_opt().expect("a later day");
        if is_working_day(d) {
            left -= 1;
        }
    }
    d
}

/// `n` working days before `end` (`end` itself not counted).
fn sub_working_days(end: NaiveDate, n: u32) -> NaiveDate {
    let mut d = end;
    let mut left = n;
    while left > 0 {
        d = d.pred_opt().expect("an earlier day");
        if is_working_day(d) {
            left -= 1;
        }
    }
    d
}

fn last_sunday(year: i32, month: u32) -> NaiveDate {
    let last = NaiveDate::from_ymd_opt(year, month + 1, 1)
        .and_then(|d| d.pred_opt())
        .expect("a real month");
    last - days(last.weekday().num_days_from_sunday() as i64)
}

/// British Summer Time: from 01:00 UTC on the last Sunday of March to 01:00 UTC on the last
/// Sunday of October.
fn is_bst(t: DateTime<Utc>) -> bool {
    let at_one = |d: NaiveDate| d.and_hms_opt(1, 0, 0).expect("01:00").and_utc();
    t >= at_one(last_sunday(t.year(), 3)) && t < at_one(last_sunday(t.year(), 10))
}

/// The date in London at instant `t`.
fn london_date(t: DateTime<Utc>) -> NaiveDate {
    let offset = if is_bst(t) { 1 } else { 0 };
    (t + chrono::Duration::hours(offset)).date_naive()
}

/// The instant it is `h:m:s` on day `d` in London.
fn london_at(d: NaiveDate, h: u32, m: u32, s: u32) -> DateTime<Utc> {
    let as_if_utc = d.and_hms_opt(h, m, s).expect("a time of day").and_utc();
    let summer = as_if_utc - chrono::Duration::hours(1);
    if is_bst(summer) {
        summer
    } else {
        as_if_utc
    }
}

/// Day-based deadlines run to 23:59:59 London time of their last day.
fn end_of_london_day(d: NaiveDate) -> DateTime<Utc> {
    london_at(d, 23, 59, 59)
}

/// The first day on or after `from` for which `ok` holds.
fn first_day_from(from: NaiveDate, ok: impl Fn(NaiveDate) -> bool) -> NaiveDate {
    let mut d = from;
    for _ in 0..400 {
        if ok(d) {
            return d;
        }
        d = d.succ_opt().expect("a later day");
    }
    panic!("no suitable day within 400 days of {from}")
}

#[test]
fn the_test_calendar_agrees_with_known_dates() {
    // Christmas 2026 (Friday 25th, substitute Boxing Day Monday 28th).
    assert_eq!(add_working_days(date("2026-12-24"), 1), date("2026-12-29"));
    assert_eq!(sub_working_days(date("2026-12-29"), 1), date("2026-12-24"));
    // Spring bank holiday 2027 is Monday 31 May.
    assert_eq!(date("2027-05-31").weekday(), Weekday::Mon);
    assert!(!is_working_day(date("2027-05-31")));
    // Clock change: GMT in January, BST in June, back to GMT after the last Sunday of October.
    assert_eq!(
        end_of_london_day(date("2027-01-06")).to_rfc3339(),
        "2027-01-06T23:59:59+00:00"
    );
    assert_eq!(
        end_of_london_day(date("2027-06-01")).to_rfc3339(),
        "2027-06-01T22:59:59+00:00"
    );
    assert_eq!(
        london_at(date("2027-03-28"), 0, 0, 0).to_rfc3339(),
        "2027-03-28T00:00:00+00:00"
    );
    assert_eq!(
        london_at(date("2027-10-31"), 0, 0, 0).to_rfc3339(),
        "2027-10-30T23:00:00+00:00"
    );
    assert_eq!(
        london_date("2027-06-01T23:30:00Z".parse().unwrap()),
        date("2027-06-02")
    );
}

// ---------------------------------------------------------------------------------------------
// Obligations through the API
// ---------------------------------------------------------------------------------------------

const OBLIGATION: &str = r#"
fragment ObligationFields on Obligation {
  id kind name owedTo reference incidentId startedAt dueAt status overdue completedBy
  externalReference submittedAt submittedLate withdrawnReason
  steps { step takenAt externalReference }
}"#;

fn kinds(obligations: &[Value]) -> Vec<String> {
    obligations
        .iter()
        .map(|o| o["kind"].as_str().expect("kind").to_string())
        .collect()
}

/// The one obligation of this kind.
#[track_caller]
fn the(obligations: &[Value], kind: &str) -> Value {
    let found: Vec<&Value> = obligations.iter().filter(|o| o["kind"] == kind).collect();
    assert_eq!(
        found.len(),
        1,
        "expected exactly one {kind} obligation among {obligations:#?}"
    );
    found[0].clone()
}

/// A server whose scheduler stays off (the stories about deriving obligations and the board
/// need no clock).
async fn spawn_quiet() -> TestApp {
    spawn_app_with(|s| s.notify.schedule = false).await
}

/// A report in `department` by the holder of `token`, the story's details over a valid one.
async fn report(app: &TestApp, token: &str, department: &str, patch: Value) -> Value {
    app.report_incident(token, with(incident_input(department), patch))
        .await
}

/// The incident with its facts, duty of candour and obligations, as this viewer sees it.
async fn fetch_with_obligations(app: &TestApp, token: &str, incident_id: &str) -> GqlResponse {
    app.gql(
        Some(token),
        &format!(
            "query($id: ID!) {{ incident(id: $id) {{
               id reference version occurredAt reportedAt regulatoryFacts
               dutyOfCandour {{ applies complete steps {{ step takenAt }} }}
               obligations {{ ...ObligationFields }}
             }} }}
             {OBLIGATION}"
        ),
        json!({ "id": incident_id }),
    )
    .await
}

async fn incident_with_obligations(app: &TestApp, token: &str, incident: &Value) -> Value {
    let resp = fetch_with_obligations(app, token, &id(incident)).await;
    resp.assert_ok();
    resp.data()["incident"].clone()
}

/// `Incident.obligations` (every state, soonest due first) as this viewer sees them.
async fn obligations_of(app: &TestApp, token: &str, incident: &Value) -> Vec<Value> {
    let inc = incident_with_obligations(app, token, incident).await;
    inc["obligations"]
        .as_array()
        .unwrap_or_else(|| panic!("obligations is not a list: {inc}"))
        .clone()
}

const BOARD: &str = "query($first: Int, $after: String, $filter: ObligationFilter) {
  obligations(first: $first, after: $after, filter: $filter) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage endCursor }
    edges { cursor node { ...ObligationFields } }
  }
}";

async fn try_board(app: &TestApp, token: &str, variables: Value) -> GqlResponse {
    app.gql(Some(token), &format!("{BOARD}\n{OBLIGATION}"), variables)
        .await
}

/// The board's first page of 100 with this filter; checks totalCount agrees.
async fn board(app: &TestApp, token: &str, filter: Value) -> Vec<Value> {
    let resp = try_board(app, token, json!({ "first": 100, "filter": filter })).await;
    resp.assert_ok();
    let conn = &resp.data()["obligations"];
    let nodes: Vec<Value> = conn["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("not a connection: {resp}"))
        .iter()
        .map(|e| e["node"].clone())
        .collect();
    assert_eq!(
        conn["totalCount"],
        nodes.len(),
        "totalCount disagrees with the page: {resp}"
    );
    nodes
}

fn ids_of(obligations: &[Value]) -> Vec<String> {
    obligations.iter().map(id).collect()
}

#[track_caller]
fn assert_soonest_due_first(obligations: &[Value]) {
    let due: Vec<DateTime<Utc>> = obligations
        .iter()
        .map(|o| parse_time(&o["dueAt"]))
        .collect();
    assert!(
        due.windows(2).all(|w| w[0] <= w[1]),
        "not ordered by dueAt: {due:?}"
    );
}

async fn try_record_step(app: &TestApp, token: &str, input: Value) -> GqlResponse {
    app.gql(
        Some(token),
        &format!(
            "mutation($input: RecordObligationStepInput!) {{
               recordObligationStep(input: $input) {{ obligation {{ ...ObligationFields }} }}
             }}
             {OBLIGATION}"
        ),
        json!({ "input": input }),
    )
    .await
}

/// A step that must be accepted; returns the obligation.
async fn record_step(app: &TestApp, token: &str, input: Value) -> Value {
    let resp = try_record_step(app, token, input).await;
    resp.assert_ok();
    resp.data()["recordObligationStep"]["obligation"].clone()
}

/// Every trail event about one record (ig_officer), newest first.
async fn trail_of(app: &TestApp, ig: &str, record_id: &str) -> Vec<Value> {
    let resp = app
        .gql(
            Some(ig),
            "query($filter: AuditTrailFilter) {
               auditTrail(first: 100, filter: $filter) {
                 edges { node { action entityType actorLabel requestId changes { field before after } } }
               }
             }",
            json!({ "filter": { "recordId": record_id } }),
        )
        .await;
    resp.assert_ok();
    resp.data()["auditTrail"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("no trail: {resp}"))
        .iter()
        .map(|e| e["node"].clone())
        .collect()
}

/// A trail event's change to `field`, as (before, after).
#[track_caller]
fn change(event: &Value, field: &str) -> (Value, Value) {
    let c = event["changes"]
        .as_array()
        .unwrap_or_else(|| panic!("no changes in {event}"))
        .iter()
        .find(|c| c["field"] == field)
        .unwrap_or_else(|| panic!("no change to {field} in {event}"))
        .clone();
    (c["before"].clone(), c["after"].clone())
}

fn rfc(t: DateTime<Utc>) -> String {
    rfc3339(t)
}

// ---------------------------------------------------------------------------------------------
// D-F. The deadline scheduler, at a clock the test chooses, and the emails it sends
// ---------------------------------------------------------------------------------------------

/// How long to wait for something asynchronous to happen (an email, a reminder).
const WAIT: Duration = Duration::from_secs(20);
/// Long enough for a scheduler running every second to make two more passes.
const SETTLE: Duration = Duration::from_millis(2500);

/// A hospital whose server sends email to a real SMTP server, with distribution addresses for
/// the quality leads and for cardiology's handlers. This instance serves requests
/// and sends email but runs no scheduler: each story starts schedulers with their own clocks
/// ([`scheduler_at`]) on the same database, one at a time unless the story says otherwise.
struct Drill {
    mail: MailServer,
    app: TestApp,
    h: Hospital,
}

async fn drill() -> Drill {
    let mail = MailServer::start().await;
    let url = mail.url();
    let app = spawn_app_with(|s| {
        s.smtp_url = Some(candour::config::Secret::from(url));
        s.notify.poll_ms = 50;
        s.notify.backoff_initial_ms = 100;
        s.notify.backoff_max_secs = 1;
        s.notify.schedule = false;
        s.notify.schedule_interval_secs = 1;
        s.notify.quality_leads_address = Some(QUALITY_LIST.into());
        s.notify.department_addresses = [("CARD".to_string(), CARDIOLOGY_LIST.to_string())]
            .into_iter()
            .collect();
    })
    .await;
    let h = app.hospital().await;
    app.sign_in(&[&h.hana, &h.nina, &h.quinn]).await;
    Drill { mail, app, h }
}

/// Another instance on the same database whose scheduler runs every second as if it were
/// `clock` (it sends no email itself: the first instance does).
async fn scheduler_at(app: &TestApp, clock: DateTime<Utc>) -> TestApp {
    app.another_instance(|s| {
        s.notify.schedule = true;
        s.notify.schedule_interval_secs = 1;
        s.notify.clock = Some(clock);
        s.notify.dispatch = false;
    })
    .await
}

const NOTIFICATIONS: &str = "query($first: Int, $after: String, $filter: NotificationFilter) {
  notifications(first: $first, after: $after, filter: $filter) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { id kind recipient subject reference status messageId } }
  }
}";

/// Every email in the outbox matching `filter` (a quality lead's view), newest first.
async fn notifications(app: &TestApp, quality_lead: &str, filter: Value) -> Vec<Value> {
    let mut out = Vec::new();
    let mut after = Value::Null;
    loop {
        let resp = app
            .gql(
                Some(quality_lead),
                NOTIFICATIONS,
                json!({ "first": 100, "after": after, "filter": filter }),
            )
            .await;
        resp.assert_ok();
        let conn = &resp.data()["notifications"];
        out.extend(
            conn["edges"]
                .as_array()
                .expect("edges")
                .iter()
                .map(|e| e["node"].clone()),
        );
        if conn["pageInfo"]["hasNextPage"] != true {
            return out;
        }
        after = conn["pageInfo"]["endCursor"].clone();
    }
}

/// Waits until at least `n` emails match `filter` in the outbox; returns them.
async fn wait_for_notifications(
    app: &TestApp,
    quality_lead: &str,
    filter: Value,
    n: usize,
) -> Vec<Value> {
    let deadline = Instant::now() + WAIT;
    loop {
        let found = notifications(app, quality_lead, filter.clone()).await;
        if found.len() >= n {
            return found;
        }
        if Instant::now() >= deadline {
            let everything = notifications(app, quality_lead, json!({})).await;
            panic!(
                "expected {n} notification(s) matching {filter} within {WAIT:?}, got {}:\n\
                 {found:#?}\nEverything in the outbox:\n{:#?}",
                found.len(),
                pairs_listed(&everything)
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn pairs_listed(notifications: &[Value]) -> Vec<String> {
    notifications
        .iter()
        .map(|n| {
            format!(
                "{} to {} about {} ({})",
                n["kind"].as_str().unwrap_or("?"),
                n["recipient"].as_str().unwrap_or("?"),
                n["reference"].as_str().unwrap_or("-"),
                n["subject"].as_str().unwrap_or("?")
            )
        })
        .collect()
}

/// (kind, recipient) -> how many emails.
fn pairs(notifications: &[Value]) -> BTreeMap<(String, String), usize> {
    let mut out = BTreeMap::new();
    for n in notifications {
        let key = (
            n["kind"].as_str().expect("kind").to_string(),
            n["recipient"].as_str().expect("recipient").to_string(),
        );
        *out.entry(key).or_insert(0) += 1;
    }
    out
}

fn once_each(expected: &[(&str, &str)]) -> BTreeMap<(String, String), usize> {
    expected
        .iter()
        .map(|(k, r)| ((k.to_string(), r.to_string()), 1))
        .collect()
}

const REMINDER_KINDS: [&str; 7] = [
    "ACTION_DUE_SOON",
    "ACTION_DUE_TODAY",
    "ACTION_OVERDUE",
    "ACTION_ESCALATED",
    "AUDIT_DUE",
    "OBLIGATION_DUE_SOON",
    "OBLIGATION_MISSED",
];

/// How many emails the SMTP server received for `to` whose subject contains every part.
fn emails(mail: &MailServer, to: &str, subject_parts: &[&str]) -> usize {
    mail.received()
        .iter()
        .filter(|m| m.to.iter().any(|t| t == to))
        .filter(|m| subject_parts.iter().all(|p| m.subject.contains(p)))
        .count()
}

/// Waits until an email for `to` whose subject contains every part has arrived.
async fn wait_for_email(mail: &MailServer, to: &str, subject_parts: &[&str]) -> mail::Received {
    let to = to.to_string();
    let parts: Vec<String> = subject_parts.iter().map(|p| p.to_string()).collect();
    mail.wait_for_matching(
        move |m| m.to.contains(&to) && parts.iter().all(|p| m.subject.contains(p.as_str())),
        1,
        WAIT,
    )
    .await
    .remove(0)
}

/// A staff injury in neurology that happened 60 days ago and is only reported now: its
/// RIDDOR deadline passed weeks ago, so a scheduler at any clock from now on finds it missed,
/// on any day of the week. Once its OBLIGATION_MISSED is in the outbox, that scheduler has
/// made a pass at its clock.
async fn canary(d: &Drill) -> String {
    let incident = report(
        &d.app,
        &d.h.bob,
        &d.h.neurology,
        json!({
            "kind": "STAFF_SAFETY",
            "occurredAt": rfc(Utc::now() - days(60)),
            "regulatoryFacts": ["REPORTABLE_STAFF_INJURY"],
        }),
    )
    .await;
    reference_of(&incident)
}

/// Waits for the canary's reminder, then for two more passes: whatever that scheduler was
/// going to raise at its clock has been raised.
async fn wait_for_pass(d: &Drill, canary: &str) {
    wait_for_notifications(
        &d.app,
        &d.h.quinn,
        json!({ "kind": ["OBLIGATION_MISSED"], "reference": canary }),
        1,
    )
    .await;
    tokio::time::sleep(SETTLE).await;
}

/// The reminders about corrective actions and audits raised so far.
async fn action_and_audit_reminders(d: &Drill) -> Vec<Value> {
    notifications(
        &d.app,
        &d.h.quinn,
        json!({ "kind": ["ACTION_DUE_SOON", "ACTION_DUE_TODAY", "ACTION_OVERDUE", "ACTION_ESCALATED", "AUDIT_DUE"] }),
    )
    .await
}

/// "Wednesday 17 February 2027", as the emails write a date.
fn long_date(d: NaiveDate) -> String {
    d.format("%A %-d %B %Y").to_string()
}

const HANA: &str = "hana@candour.test";
const HARRY: &str = "harry@candour.test";
const NINA: &str = "nina@candour.test";
const QUINN: &str = "quinn@candour.test";
const OLIVE: &str = "olive@candour.test";
const OSCAR: &str = "oscar@candour.test";
const CARL: &str = "carl@candour.test";
const LENA: &str = "lena@candour.test";
/// The quality leads' distribution address: receives what quality leads receive.
const QUALITY_LIST: &str = "quality-leads@candour.test";
/// Cardiology's distribution address: receives what its handlers receive.
const CARDIOLOGY_LIST: &str = "cardiology-incidents@candour.test";
