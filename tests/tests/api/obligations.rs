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

fn id(v: &Value) -> String {
    v["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {v}"))
        .to_string()
}

fn reference(incident: &Value) -> String {
    incident["reference"]
        .as_str()
        .unwrap_or_else(|| panic!("no reference in {incident}"))
        .to_string()
}

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

/// Makes the people behind these tokens known to the server (their staff records, with
/// their email addresses, roles and departments), so emails can find them.
async fn sign_in(app: &TestApp, tokens: &[&str]) {
    for t in tokens {
        app.gql(Some(t), "{ me { subject } }", json!({}))
            .await
            .assert_ok();
    }
}

fn rfc(t: DateTime<Utc>) -> String {
    rfc3339(t)
}

// ---------------------------------------------------------------------------------------------
// A. Obligations derived from the incident's facts
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn moderate_harm_owes_the_patient_the_duty_of_candour_within_ten_working_days() {
    let app = spawn_quiet().await;
    let h = app.hospital().await;

    let physical = report(
        &app,
        &h.alice,
        &h.cardiology,
        json!({ "physicalHarm": "MODERATE" }),
    )
    .await;
    let psychological = report(
        &app,
        &h.alice,
        &h.cardiology,
        json!({ "physicalHarm": "NONE", "psychologicalHarm": "MODERATE" }),
    )
    .await;
    let prolonged = report(
        &app,
        &h.alice,
        &h.cardiology,
        json!({ "physicalHarm": "LOW", "regulatoryFacts": ["PROLONGED_PSYCHOLOGICAL_HARM"] }),
    )
    .await;

    for incident in [&physical, &psychological, &prolonged] {
        let inc = incident_with_obligations(&app, &h.hana, incident).await;
        let obligations = inc["obligations"].as_array().expect("a list").clone();
        assert_eq!(kinds(&obligations), ["DUTY_OF_CANDOUR"], "{inc}");
        let doc = &obligations[0];
        let reported_at = parse_time(&inc["reportedAt"]);
        let expected_due = end_of_london_day(add_working_days(london_date(reported_at), 10));
        assert_eq!(parse_time(&doc["dueAt"]), expected_due, "{doc}");
        assert_eq!(parse_time(&doc["startedAt"]), reported_at, "{doc}");
        assert_eq!(doc["status"], "OPEN");
        assert_eq!(doc["overdue"], false);
        assert_eq!(doc["completedBy"], "WRITTEN_NOTIFICATION");
        assert_eq!(doc["owedTo"], "The patient or their family");
        assert_eq!(doc["reference"], inc["reference"]);
        assert_eq!(doc["incidentId"], inc["id"]);
        assert!(doc["submittedAt"].is_null() && doc["externalReference"].is_null());
        assert_eq!(doc["submittedLate"], false);
        assert_eq!(doc["steps"], json!([]));
        assert_eq!(inc["dutyOfCandour"]["applies"], true, "{inc}");
    }
    let inc = incident_with_obligations(&app, &h.hana, &prolonged).await;
    assert_eq!(
        inc["regulatoryFacts"],
        json!(["PROLONGED_PSYCHOLOGICAL_HARM"])
    );
}

#[tokio::test]
async fn a_reportable_staff_injury_owes_the_hse_a_riddor_report_ten_days_from_the_event() {
    let app = spawn_quiet().await;
    let h = app.hospital().await;
    let occurred_at = Utc::now() - days(3);

    let injury = report(
        &app,
        &h.alice,
        &h.cardiology,
        json!({
            "kind": "STAFF_SAFETY",
            "occurredAt": rfc(occurred_at),
            "regulatoryFacts": ["REPORTABLE_STAFF_INJURY"],
        }),
    )
    .await;

    let obligations = obligations_of(&app, &h.hana, &injury).await;
    assert_eq!(kinds(&obligations), ["RIDDOR"]);
    let riddor = &obligations[0];
    let occurred = parse_time(&injury["occurredAt"]);
    assert_eq!(parse_time(&riddor["startedAt"]), occurred, "{riddor}");
    assert_eq!(
        parse_time(&riddor["dueAt"]),
        end_of_london_day(london_date(occurred) + days(10)),
        "{riddor}"
    );
    assert_eq!(riddor["completedBy"], "REPORT_SUBMITTED");
    assert_eq!(riddor["owedTo"], "Health and Safety Executive");
    assert_eq!(riddor["status"], "OPEN");
}

#[tokio::test]
async fn riddor_counts_its_days_on_the_london_calendar_not_the_utc_one() {
    let app = spawn_quiet().await;
    let h = app.hospital().await;
    // 23:30 UTC on Tuesday 14 July 2026 was 00:30 on Wednesday the 15th in London (BST).
    let occurred_at = "2026-07-14T23:30:00.000Z";
    assert_eq!(
        london_date(parse_time(&json!(occurred_at))),
        date("2026-07-15")
    );
    let staff_report = |fact: &str| json!({ "kind": "STAFF_SAFETY", "occurredAt": occurred_at, "regulatoryFacts": [fact] });

    let injury = report(
        &app,
        &h.alice,
        &h.cardiology,
        staff_report("REPORTABLE_STAFF_INJURY"),
    )
    .await;
    let off_work = report(
        &app,
        &h.alice,
        &h.cardiology,
        staff_report("STAFF_INCAPACITATED_OVER_7_DAYS"),
    )
    .await;

    // 15 July + 10 days: the end of Saturday 25 July, London time (22:59:59 UTC in summer).
    let riddor = the(&obligations_of(&app, &h.hana, &injury).await, "RIDDOR");
    assert_eq!(
        parse_time(&riddor["dueAt"]),
        parse_time(&json!("2026-07-25T22:59:59Z")),
        "{riddor}"
    );
    assert_eq!(
        parse_time(&riddor["dueAt"]),
        end_of_london_day(date("2026-07-25"))
    );
    assert_eq!(riddor["overdue"], true);
    // 15 July + 15 days: the end of Thursday 30 July.
    let riddor = the(&obligations_of(&app, &h.hana, &off_work).await, "RIDDOR");
    assert_eq!(
        parse_time(&riddor["dueAt"]),
        parse_time(&json!("2026-07-30T22:59:59Z")),
        "{riddor}"
    );
}

#[tokio::test]
async fn an_incapacitation_over_seven_days_alone_gives_riddor_fifteen_days_and_the_injury_rule_wins_over_it(
) {
    let app = spawn_quiet().await;
    let h = app.hospital().await;
    let occurred_at = Utc::now() - days(1);
    let staff_report = |facts: Value, kind: &str| {
        json!({
            "kind": kind,
            "occurredAt": rfc(occurred_at),
            "regulatoryFacts": facts,
        })
    };

    let off_work = report(
        &app,
        &h.alice,
        &h.cardiology,
        staff_report(json!(["STAFF_INCAPACITATED_OVER_7_DAYS"]), "STAFF_SAFETY"),
    )
    .await;
    let both = report(
        &app,
        &h.alice,
        &h.cardiology,
        staff_report(
            json!(["STAFF_INCAPACITATED_OVER_7_DAYS", "REPORTABLE_STAFF_INJURY"]),
            "STAFF_SAFETY",
        ),
    )
    .await;
    let patient = report(
        &app,
        &h.alice,
        &h.cardiology,
        staff_report(json!(["REPORTABLE_STAFF_INJURY"]), "PATIENT_SAFETY"),
    )
    .await;

    let occurred_day = london_date(parse_time(&off_work["occurredAt"]));
    let riddor = the(&obligations_of(&app, &h.hana, &off_work).await, "RIDDOR");
    assert_eq!(
        parse_time(&riddor["dueAt"]),
        end_of_london_day(occurred_day + days(15)),
        "{riddor}"
    );
    assert!(
        riddor["name"].as_str().unwrap().contains("7-day"),
        "{riddor}"
    );

    let obligations = obligations_of(&app, &h.hana, &both).await;
    assert_eq!(
        kinds(&obligations),
        ["RIDDOR"],
        "one RIDDOR obligation only"
    );
    assert_eq!(
        parse_time(&obligations[0]["dueAt"]),
        end_of_london_day(occurred_day + days(10)),
        "the first rule that applies (the 10-day one) wins: {obligations:#?}"
    );

    assert_eq!(
        obligations_of(&app, &h.hana, &patient).await,
        Vec::<Value>::new(),
        "RIDDOR is about staff: a patient-safety incident owes nothing for the fact"
    );
}

#[tokio::test]
async fn an_unintended_radiation_exposure_owes_the_cqc_a_notification_and_a_full_report() {
    let app = spawn_quiet().await;
    let h = app.hospital().await;

    let exposure = report(
        &app,
        &h.alice,
        &h.cardiology,
        json!({
            "kind": "RADIATION",
            "physicalHarm": "NONE",
            "regulatoryFacts": ["SIGNIFICANT_UNINTENDED_EXPOSURE"],
        }),
    )
    .await;

    let obligations = obligations_of(&app, &h.hana, &exposure).await;
    assert_eq!(
        kinds(&obligations),
        ["IRMER_NOTIFICATION", "IRMER_FULL_REPORT"],
        "both, soonest due first"
    );
    let reported_day = london_date(parse_time(&exposure["reportedAt"]));
    for (o, n) in obligations.iter().zip([14, 84]) {
        assert_eq!(
            parse_time(&o["dueAt"]),
            end_of_london_day(reported_day + days(n)),
            "{o}"
        );
        assert_eq!(o["owedTo"], "Care Quality Commission");
        assert_eq!(o["completedBy"], "REPORT_SUBMITTED");
        assert_eq!(
            parse_time(&o["startedAt"]),
            parse_time(&exposure["reportedAt"])
        );
    }

    let without_fact = report(
        &app,
        &h.alice,
        &h.cardiology,
        json!({ "kind": "RADIATION", "physicalHarm": "NONE" }),
    )
    .await;
    assert_eq!(
        obligations_of(&app, &h.hana, &without_fact).await,
        Vec::<Value>::new()
    );
}

#[tokio::test]
async fn a_risky_personal_data_breach_owes_the_ico_a_report_seventy_two_hours_after_it_was_reported(
) {
    let app = spawn_quiet().await;
    let h = app.hospital().await;

    let breach = report(
        &app,
        &h.alice,
        &h.cardiology,
        json!({
            "kind": "INFORMATION_GOVERNANCE",
            "physicalHarm": "NONE",
            "regulatoryFacts": ["RISK_TO_INDIVIDUALS"],
        }),
    )
    .await;

    let ico = the(&obligations_of(&app, &h.hana, &breach).await, "ICO_BREACH");
    assert_eq!(
        parse_time(&ico["dueAt"]),
        parse_time(&breach["reportedAt"]) + chrono::Duration::hours(72),
        "exactly 72 hours, weekends included: {ico}"
    );
    assert_eq!(ico["owedTo"], "Information Commissioner's Office");

    let no_risk = report(
        &app,
        &h.alice,
        &h.cardiology,
        json!({ "kind": "INFORMATION_GOVERNANCE", "physicalHarm": "NONE" }),
    )
    .await;
    assert_eq!(
        obligations_of(&app, &h.hana, &no_risk).await,
        Vec::<Value>::new()
    );
}

#[tokio::test]
async fn a_medical_device_owes_the_mhra_a_yellow_card_and_a_blood_component_owes_sabre() {
    let app = spawn_quiet().await;
    let h = app.hospital().await;

    let device = report(
        &app,
        &h.alice,
        &h.cardiology,
        json!({ "kind": "EQUIPMENT", "regulatoryFacts": ["MEDICAL_DEVICE"] }),
    )
    .await;
    let blood = report(
        &app,
        &h.alice,
        &h.cardiology,
        json!({ "regulatoryFacts": ["BLOOD_COMPONENT"] }),
    )
    .await;

    let mhra = the(
        &obligations_of(&app, &h.hana, &device).await,
        "MHRA_YELLOW_CARD",
    );
    let day = london_date(parse_time(&device["reportedAt"]));
    assert_eq!(
        parse_time(&mhra["dueAt"]),
        end_of_london_day(add_working_days(day, 2)),
        "{mhra}"
    );
    let sabre = the(&obligations_of(&app, &h.hana, &blood).await, "SABRE");
    let day = london_date(parse_time(&blood["reportedAt"]));
    assert_eq!(
        parse_time(&sabre["dueAt"]),
        end_of_london_day(add_working_days(day, 1)),
        "{sabre}"
    );
    assert_eq!(sabre["owedTo"], "MHRA (SABRE)");
}

#[tokio::test]
async fn an_incident_lists_everything_it_owes_soonest_due_first() {
    let app = spawn_quiet().await;
    let h = app.hospital().await;

    let breach = report(
        &app,
        &h.alice,
        &h.cardiology,
        json!({
            "kind": "INFORMATION_GOVERNANCE",
            "physicalHarm": "MODERATE",
            "regulatoryFacts": ["RISK_TO_INDIVIDUALS", "BLOOD_COMPONENT", "MEDICAL_DEVICE"],
        }),
    )
    .await;

    let obligations = obligations_of(&app, &h.hana, &breach).await;
    assert_eq!(
        kinds(&obligations).into_iter().collect::<BTreeSet<_>>(),
        ["DUTY_OF_CANDOUR", "ICO_BREACH", "MHRA_YELLOW_CARD", "SABRE"]
            .map(String::from)
            .into_iter()
            .collect(),
        "one of each kind the facts call for"
    );
    assert_soonest_due_first(&obligations);
    assert_eq!(
        obligations.last().map(|o| o["kind"].clone()),
        Some(json!("DUTY_OF_CANDOUR")),
        "ten working days is the furthest"
    );
}

#[tokio::test]
async fn a_low_harm_incident_with_no_regulatory_facts_owes_nothing() {
    let app = spawn_quiet().await;
    let h = app.hospital().await;

    let incident = report(
        &app,
        &h.alice,
        &h.cardiology,
        json!({ "physicalHarm": "LOW" }),
    )
    .await;

    let inc = incident_with_obligations(&app, &h.hana, &incident).await;
    assert_eq!(inc["obligations"], json!([]), "{inc}");
    assert_eq!(inc["regulatoryFacts"], json!([]));
    assert_eq!(inc["dutyOfCandour"]["applies"], false);
    assert_eq!(
        board(
            &app,
            &h.quinn,
            json!({ "status": ["OPEN", "SUBMITTED", "WITHDRAWN"] })
        )
        .await
        .len(),
        0
    );
}

#[tokio::test]
async fn triage_withdraws_what_the_facts_no_longer_call_for_and_opens_what_they_now_do() {
    let app = spawn_quiet().await;
    let h = app.hospital().await;
    let injury = report(
        &app,
        &h.alice,
        &h.cardiology,
        json!({ "kind": "STAFF_SAFETY", "regulatoryFacts": ["REPORTABLE_STAFF_INJURY"] }),
    )
    .await;
    let riddor = the(&obligations_of(&app, &h.hana, &injury).await, "RIDDOR");

    // On review: not reportable after all, but the harm was moderate.
    let triaged = app
        .triage(
            &h.hana,
            &injury,
            json!({ "regulatoryFacts": [], "physicalHarm": "MODERATE" }),
        )
        .await;

    let inc = incident_with_obligations(&app, &h.hana, &triaged).await;
    assert_eq!(
        inc["regulatoryFacts"],
        json!([]),
        "the facts are replaced: {inc}"
    );
    let obligations = obligations_of(&app, &h.hana, &triaged).await;
    let withdrawn = the(&obligations, "RIDDOR");
    assert_eq!(withdrawn["id"], riddor["id"], "the same obligation");
    assert_eq!(withdrawn["status"], "WITHDRAWN");
    let reason = withdrawn["withdrawnReason"].as_str().unwrap_or_default();
    assert!(!reason.trim().is_empty(), "a reason: {withdrawn}");
    let doc = the(&obligations, "DUTY_OF_CANDOUR");
    assert_eq!(doc["status"], "OPEN");
    let reported_at = parse_time(&triaged["reportedAt"]);
    assert_eq!(
        parse_time(&doc["dueAt"]),
        end_of_london_day(add_working_days(london_date(reported_at), 10)),
        "counted from the report, not the triage"
    );

    // Off the board (open only by default), still listed as withdrawn.
    let open = board(&app, &h.quinn, json!({ "incidentId": injury["id"] })).await;
    assert_eq!(kinds(&open), ["DUTY_OF_CANDOUR"]);
    let gone = board(
        &app,
        &h.quinn,
        json!({ "incidentId": injury["id"], "status": ["WITHDRAWN"] }),
    )
    .await;
    assert_eq!(ids_of(&gone), [id(&riddor)]);

    // The incident's trail says what changed.
    let history = app.history(&h.quinn, &id(&injury)).await;
    let changed: Vec<&Value> = history
        .iter()
        .filter(|e| e["action"] == "incident.obligations_changed")
        .collect();
    assert!(
        !changed.is_empty(),
        "no obligations_changed event: {history:#?}"
    );
    let latest = changed
        .iter()
        .max_by_key(|e| parse_time(&e["at"]))
        .expect("an event");
    assert_eq!(
        change(latest, "obligationsOpened").1,
        "DUTY_OF_CANDOUR",
        "{latest}"
    );
    assert_eq!(
        change(latest, "obligationsWithdrawn").1,
        "RIDDOR",
        "{latest}"
    );

    // The facts come back: the same RIDDOR obligation reopens.
    let again = app
        .triage(
            &h.hana,
            &triaged,
            json!({ "regulatoryFacts": ["REPORTABLE_STAFF_INJURY"] }),
        )
        .await;
    let inc = incident_with_obligations(&app, &h.hana, &again).await;
    assert_eq!(inc["regulatoryFacts"], json!(["REPORTABLE_STAFF_INJURY"]));
    let reopened = the(&obligations_of(&app, &h.hana, &again).await, "RIDDOR");
    assert_eq!(reopened["id"], riddor["id"]);
    assert_eq!(reopened["status"], "OPEN");
    assert!(reopened["withdrawnReason"].is_null(), "{reopened}");
    assert_eq!(reopened["dueAt"], riddor["dueAt"]);
}

#[tokio::test]
async fn deciding_the_duty_of_candour_does_not_apply_withdraws_it() {
    let app = spawn_quiet().await;
    let h = app.hospital().await;
    let incident = report(
        &app,
        &h.alice,
        &h.cardiology,
        json!({ "physicalHarm": "MODERATE" }),
    )
    .await;
    let doc = the(
        &obligations_of(&app, &h.hana, &incident).await,
        "DUTY_OF_CANDOUR",
    );

    let triaged = app
        .triage(
            &h.quinn,
            &incident,
            json!({ "dutyOfCandourApplies": false }),
        )
        .await;

    assert_eq!(triaged["dutyOfCandour"]["applies"], false);
    let withdrawn = the(
        &obligations_of(&app, &h.hana, &triaged).await,
        "DUTY_OF_CANDOUR",
    );
    assert_eq!(withdrawn["id"], doc["id"]);
    assert_eq!(withdrawn["status"], "WITHDRAWN");
    assert!(withdrawn["withdrawnReason"].is_string(), "{withdrawn}");
    assert_eq!(board(&app, &h.quinn, json!({})).await.len(), 0);

    let applies = app
        .triage(&h.quinn, &triaged, json!({ "dutyOfCandourApplies": true }))
        .await;
    let reopened = the(
        &obligations_of(&app, &h.hana, &applies).await,
        "DUTY_OF_CANDOUR",
    );
    assert_eq!(reopened["id"], doc["id"]);
    assert_eq!(reopened["status"], "OPEN");
    assert_eq!(reopened["dueAt"], doc["dueAt"]);
}

#[tokio::test]
async fn a_met_obligation_stays_met_when_the_facts_change() {
    let app = spawn_quiet().await;
    let h = app.hospital().await;
    let device = report(
        &app,
        &h.alice,
        &h.cardiology,
        json!({ "kind": "EQUIPMENT", "regulatoryFacts": ["MEDICAL_DEVICE"] }),
    )
    .await;
    let mhra = the(
        &obligations_of(&app, &h.hana, &device).await,
        "MHRA_YELLOW_CARD",
    );
    record_step(
        &app,
        &h.hana,
        json!({ "obligationId": mhra["id"], "step": "REPORT_SUBMITTED", "externalReference": "YC-2026-118" }),
    )
    .await;

    let triaged = app
        .triage(&h.hana, &device, json!({ "regulatoryFacts": [] }))
        .await;

    let after = the(
        &obligations_of(&app, &h.hana, &triaged).await,
        "MHRA_YELLOW_CARD",
    );
    assert_eq!(after["status"], "SUBMITTED", "{after}");
    assert_eq!(after["externalReference"], "YC-2026-118");
    assert!(after["withdrawnReason"].is_null());
}

#[tokio::test]
async fn changing_which_riddor_fact_applies_moves_the_deadline() {
    let app = spawn_quiet().await;
    let h = app.hospital().await;
    let injury = report(
        &app,
        &h.alice,
        &h.cardiology,
        json!({
            "kind": "STAFF_SAFETY",
            "regulatoryFacts": ["REPORTABLE_STAFF_INJURY", "STAFF_INCAPACITATED_OVER_7_DAYS"],
        }),
    )
    .await;
    let riddor = the(&obligations_of(&app, &h.hana, &injury).await, "RIDDOR");
    let occurred_day = london_date(parse_time(&injury["occurredAt"]));
    assert_eq!(
        parse_time(&riddor["dueAt"]),
        end_of_london_day(occurred_day + days(10))
    );

    let triaged = app
        .triage(
            &h.hana,
            &injury,
            json!({ "regulatoryFacts": ["STAFF_INCAPACITATED_OVER_7_DAYS"] }),
        )
        .await;

    let moved = the(&obligations_of(&app, &h.hana, &triaged).await, "RIDDOR");
    assert_eq!(moved["id"], riddor["id"], "the same obligation, re-dated");
    assert_eq!(moved["status"], "OPEN");
    assert_eq!(
        parse_time(&moved["dueAt"]),
        end_of_london_day(occurred_day + days(15)),
        "{moved}"
    );
}

// ---------------------------------------------------------------------------------------------
// B. The obligations board
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_board_lists_open_obligations_soonest_due_first_and_filters_them() {
    let app = spawn_quiet().await;
    let h = app.hospital().await;
    let doc_incident = report(
        &app,
        &h.alice,
        &h.cardiology,
        json!({ "physicalHarm": "MODERATE" }),
    )
    .await;
    let breach = report(
        &app,
        &h.alice,
        &h.cardiology,
        json!({ "kind": "INFORMATION_GOVERNANCE", "physicalHarm": "NONE", "regulatoryFacts": ["RISK_TO_INDIVIDUALS"] }),
    )
    .await;
    // Happened three weeks ago and only reported now: its RIDDOR deadline has passed.
    let late_injury = report(
        &app,
        &h.alice,
        &h.cardiology,
        json!({
            "kind": "STAFF_SAFETY",
            "occurredAt": rfc(Utc::now() - days(21)),
            "regulatoryFacts": ["REPORTABLE_STAFF_INJURY"],
        }),
    )
    .await;
    let blood = report(
        &app,
        &h.bob,
        &h.neurology,
        json!({ "regulatoryFacts": ["BLOOD_COMPONENT"] }),
    )
    .await;
    let dropped = report(
        &app,
        &h.alice,
        &h.cardiology,
        json!({ "kind": "STAFF_SAFETY", "regulatoryFacts": ["REPORTABLE_STAFF_INJURY"] }),
    )
    .await;
    app.triage(&h.hana, &dropped, json!({ "regulatoryFacts": [] }))
        .await;

    let doc = the(
        &obligations_of(&app, &h.quinn, &doc_incident).await,
        "DUTY_OF_CANDOUR",
    );
    let ico = the(&obligations_of(&app, &h.quinn, &breach).await, "ICO_BREACH");
    let late = the(
        &obligations_of(&app, &h.quinn, &late_injury).await,
        "RIDDOR",
    );
    let sabre = the(&obligations_of(&app, &h.quinn, &blood).await, "SABRE");
    let withdrawn = the(&obligations_of(&app, &h.quinn, &dropped).await, "RIDDOR");
    assert_eq!(late["overdue"], true, "{late}");

    // Everything open, soonest due first.
    let all = board(&app, &h.quinn, json!({})).await;
    assert_soonest_due_first(&all);
    let all_ids: BTreeSet<String> = ids_of(&all).into_iter().collect();
    let expected: BTreeSet<String> = [&doc, &ico, &late, &sabre].map(id).into_iter().collect();
    assert_eq!(all_ids, expected, "open obligations only");
    assert_eq!(ids_of(&all)[0], id(&late), "the overdue one is due first");
    assert_eq!(
        ids_of(&all).last(),
        Some(&id(&doc)),
        "ten working days is the furthest"
    );

    // By kind.
    assert_eq!(
        ids_of(&board(&app, &h.quinn, json!({ "kind": ["RIDDOR"] })).await),
        [id(&late)]
    );
    let riddors = board(
        &app,
        &h.quinn,
        json!({ "kind": ["RIDDOR"], "status": ["OPEN", "WITHDRAWN"] }),
    )
    .await;
    assert_eq!(
        ids_of(&riddors).into_iter().collect::<BTreeSet<_>>(),
        [id(&late), id(&withdrawn)].into_iter().collect()
    );
    let two_kinds = board(&app, &h.quinn, json!({ "kind": ["SABRE", "ICO_BREACH"] })).await;
    assert_eq!(
        ids_of(&two_kinds).into_iter().collect::<BTreeSet<_>>(),
        [id(&sabre), id(&ico)].into_iter().collect()
    );

    // By state.
    let gone = board(&app, &h.quinn, json!({ "status": ["WITHDRAWN"] })).await;
    assert_eq!(ids_of(&gone), [id(&withdrawn)]);
    assert_eq!(gone[0]["overdue"], false);

    // Overdue or not.
    let overdue = board(&app, &h.quinn, json!({ "overdue": true })).await;
    assert_eq!(ids_of(&overdue), [id(&late)]);
    let on_time = board(&app, &h.quinn, json!({ "overdue": false })).await;
    assert_eq!(
        ids_of(&on_time).into_iter().collect::<BTreeSet<_>>(),
        [id(&doc), id(&ico), id(&sabre)].into_iter().collect()
    );
    assert!(on_time.iter().all(|o| o["overdue"] == false));

    // Due before a time.
    let cutoff = parse_time(&ico["dueAt"]) + chrono::Duration::seconds(1);
    let before = board(&app, &h.quinn, json!({ "dueBefore": rfc(cutoff) })).await;
    let expected: BTreeSet<String> = [&doc, &ico, &late, &sabre]
        .into_iter()
        .filter(|o| parse_time(&o["dueAt"]) < cutoff)
        .map(id)
        .collect();
    assert!(expected.contains(&id(&ico)) && !expected.contains(&id(&doc)));
    assert_eq!(
        ids_of(&before).into_iter().collect::<BTreeSet<_>>(),
        expected
    );
    let exactly = board(&app, &h.quinn, json!({ "dueBefore": ico["dueAt"] })).await;
    assert!(
        !ids_of(&exactly).contains(&id(&ico)),
        "dueBefore is strictly before: {exactly:#?}"
    );

    // Of one incident.
    assert_eq!(
        ids_of(&board(&app, &h.quinn, json!({ "incidentId": doc_incident["id"] })).await),
        [id(&doc)]
    );
    let resp = try_board(
        &app,
        &h.quinn,
        json!({ "first": 10, "filter": { "incidentId": h.cardiology } }),
    )
    .await;
    resp.assert_error("BAD_USER_INPUT", Some("incidentId"));
}

#[tokio::test]
async fn the_board_pages_through_equal_deadlines_without_losing_or_repeating_any() {
    let app = spawn_quiet().await;
    let h = app.hospital().await;
    // Three reported the same day: three duty-of-candour clocks ending at the same second.
    for _ in 0..3 {
        report(
            &app,
            &h.alice,
            &h.cardiology,
            json!({ "physicalHarm": "MODERATE" }),
        )
        .await;
    }
    report(
        &app,
        &h.alice,
        &h.cardiology,
        json!({ "kind": "INFORMATION_GOVERNANCE", "physicalHarm": "NONE", "regulatoryFacts": ["RISK_TO_INDIVIDUALS"] }),
    )
    .await;
    report(
        &app,
        &h.alice,
        &h.cardiology,
        json!({ "kind": "STAFF_SAFETY", "regulatoryFacts": ["REPORTABLE_STAFF_INJURY", "MEDICAL_DEVICE"] }),
    )
    .await;
    let all = board(&app, &h.quinn, json!({})).await;
    assert_eq!(all.len(), 6, "{all:#?}");
    assert_soonest_due_first(&all);
    let doc_due: BTreeSet<String> = all
        .iter()
        .filter(|o| o["kind"] == "DUTY_OF_CANDOUR")
        .map(|o| o["dueAt"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        doc_due.len(),
        1,
        "the three clocks end together: {doc_due:?}"
    );

    for size in [1, 2, 4] {
        let mut seen = Vec::new();
        let mut after = Value::Null;
        let mut pages = 0;
        loop {
            let resp = try_board(&app, &h.quinn, json!({ "first": size, "after": after })).await;
            resp.assert_ok();
            let conn = &resp.data()["obligations"];
            assert_eq!(
                conn["totalCount"], 6,
                "totalCount counts every page: {resp}"
            );
            let edges = conn["edges"].as_array().expect("edges");
            assert!(edges.len() <= size, "{resp}");
            seen.extend(edges.iter().map(|e| id(&e["node"])));
            pages += 1;
            assert!(pages <= 10, "paging does not end: {seen:?}");
            if conn["pageInfo"]["hasNextPage"] == true {
                assert_eq!(edges.len(), size, "a full page before the last: {resp}");
                after = conn["pageInfo"]["endCursor"].clone();
                assert!(after.is_string(), "{resp}");
            } else {
                break;
            }
        }
        assert_eq!(
            seen,
            ids_of(&all),
            "pages of {size} give the same list in the same order"
        );
    }
}

#[tokio::test]
async fn handlers_see_their_own_departments_obligations_and_other_staff_none() {
    let app = spawn_quiet().await;
    let h = app.hospital().await;
    let cardiac = report(
        &app,
        &h.alice,
        &h.cardiology,
        json!({ "physicalHarm": "MODERATE" }),
    )
    .await;
    let neuro = report(
        &app,
        &h.bob,
        &h.neurology,
        json!({ "regulatoryFacts": ["BLOOD_COMPONENT"] }),
    )
    .await;

    assert_eq!(
        kinds(&board(&app, &h.quinn, json!({})).await)
            .into_iter()
            .collect::<BTreeSet<_>>(),
        ["DUTY_OF_CANDOUR".to_string(), "SABRE".to_string()]
            .into_iter()
            .collect()
    );
    let hanas = board(&app, &h.hana, json!({})).await;
    assert_eq!(kinds(&hanas), ["DUTY_OF_CANDOUR"]);
    assert_eq!(hanas[0]["reference"], cardiac["reference"]);
    let ninas = board(&app, &h.nina, json!({})).await;
    assert_eq!(kinds(&ninas), ["SABRE"]);
    assert_eq!(ninas[0]["reference"], neuro["reference"]);
    assert_eq!(
        board(&app, &h.hana, json!({ "incidentId": neuro["id"] }))
            .await
            .len(),
        0,
        "another department's incident, even when named"
    );

    for (who, token) in [("staff", &h.alice), ("an admin", &h.ada), ("staff", &h.bob)] {
        let resp = try_board(&app, token, json!({ "first": 10 })).await;
        assert_eq!(
            resp.error_code().as_deref(),
            Some("FORBIDDEN"),
            "{who} may not list obligations: {resp}"
        );
    }

    // On the incident: the reporter sees their report but not what it obliges.
    let as_reporter = incident_with_obligations(&app, &h.alice, &cardiac).await;
    assert!(
        as_reporter["obligations"].is_null(),
        "the reporter sees no obligations: {as_reporter}"
    );
    for token in [&h.hana, &h.quinn] {
        let inc = incident_with_obligations(&app, token, &cardiac).await;
        assert_eq!(
            kinds(inc["obligations"].as_array().expect("a list")),
            ["DUTY_OF_CANDOUR"]
        );
    }
}

// ---------------------------------------------------------------------------------------------
// C. Recording the steps that meet obligations
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn submitting_a_report_needs_the_regulators_reference_and_meets_the_obligation_once() {
    let app = spawn_quiet().await;
    let h = app.hospital().await;
    let ig = app.ig_officer("iris");
    let injury = report(
        &app,
        &h.alice,
        &h.cardiology,
        json!({ "kind": "STAFF_SAFETY", "regulatoryFacts": ["REPORTABLE_STAFF_INJURY"] }),
    )
    .await;
    let riddor = the(&obligations_of(&app, &h.hana, &injury).await, "RIDDOR");

    for missing in [json!(null), json!(""), json!("   ")] {
        let resp = try_record_step(
            &app,
            &h.hana,
            json!({ "obligationId": riddor["id"], "step": "REPORT_SUBMITTED", "externalReference": missing }),
        )
        .await;
        resp.assert_error("BAD_USER_INPUT", Some("externalReference"));
    }
    let resp = try_record_step(
        &app,
        &h.hana,
        json!({
            "obligationId": riddor["id"], "step": "REPORT_SUBMITTED",
            "externalReference": "HSE-1", "takenAt": rfc(Utc::now() + days(1)),
        }),
    )
    .await;
    resp.assert_error("BAD_USER_INPUT", Some("takenAt"));
    let resp = try_record_step(
        &app,
        &h.hana,
        json!({
            "obligationId": riddor["id"], "step": "REPORT_SUBMITTED",
            "externalReference": "H".repeat(101),
        }),
    )
    .await;
    resp.assert_error("BAD_USER_INPUT", Some("externalReference"));
    let unchanged = the(&obligations_of(&app, &h.hana, &injury).await, "RIDDOR");
    assert_eq!(unchanged["status"], "OPEN");
    assert_eq!(
        unchanged["steps"],
        json!([]),
        "a refused step leaves nothing"
    );

    let taken_at = Utc::now() - chrono::Duration::hours(1);
    let met = record_step(
        &app,
        &h.hana,
        json!({
            "obligationId": riddor["id"], "step": "REPORT_SUBMITTED",
            "externalReference": "  HSE-RIDDOR-2026-0042 ", "takenAt": rfc(taken_at),
        }),
    )
    .await;
    assert_eq!(met["id"], riddor["id"]);
    assert_eq!(met["status"], "SUBMITTED");
    assert_eq!(met["externalReference"], "HSE-RIDDOR-2026-0042");
    assert_eq!(
        parse_time(&met["submittedAt"]),
        parse_time(&json!(rfc(taken_at)))
    );
    assert_eq!(met["submittedLate"], false);
    assert_eq!(met["overdue"], false);
    assert_eq!(met["steps"].as_array().map(Vec::len), Some(1), "{met}");
    assert_eq!(met["steps"][0]["step"], "REPORT_SUBMITTED");
    assert_eq!(met["steps"][0]["externalReference"], "HSE-RIDDOR-2026-0042");

    // Met once: a second submission is refused and changes nothing.
    let resp = try_record_step(
        &app,
        &h.quinn,
        json!({ "obligationId": riddor["id"], "step": "REPORT_SUBMITTED", "externalReference": "HSE-AGAIN" }),
    )
    .await;
    resp.assert_error("BAD_USER_INPUT", None);
    let after = the(&obligations_of(&app, &h.hana, &injury).await, "RIDDOR");
    assert_eq!(after["externalReference"], "HSE-RIDDOR-2026-0042");
    assert_eq!(after["steps"].as_array().map(Vec::len), Some(1));

    // Off the open board, on the submitted one.
    assert_eq!(board(&app, &h.hana, json!({})).await.len(), 0);
    assert_eq!(
        ids_of(&board(&app, &h.hana, json!({ "status": ["SUBMITTED"] })).await),
        [id(&riddor)]
    );

    // The step is in the trail.
    let trail = trail_of(&app, &ig, &id(&riddor)).await;
    let steps: Vec<&Value> = trail
        .iter()
        .filter(|e| e["action"] == "obligation.step_recorded")
        .collect();
    assert_eq!(steps.len(), 1, "one step recorded, one event: {trail:#?}");
    let event = steps[0];
    assert_eq!(event["entityType"], "Obligation");
    assert_eq!(event["actorLabel"], "hana");
    assert_eq!(change(event, "step").1, "REPORT_SUBMITTED");
    assert_eq!(change(event, "kind").1, "RIDDOR");
    assert_eq!(change(event, "externalReference").1, "HSE-RIDDOR-2026-0042");
    assert_eq!(change(event, "status"), (json!("OPEN"), json!("SUBMITTED")));
}

#[tokio::test]
async fn two_people_submitting_the_same_report_at_once_meet_it_once() {
    let app = spawn_quiet().await;
    let h = app.hospital().await;
    let mut riddors = Vec::new();
    for _ in 0..6 {
        let injury = report(
            &app,
            &h.alice,
            &h.cardiology,
            json!({ "kind": "STAFF_SAFETY", "regulatoryFacts": ["REPORTABLE_STAFF_INJURY"] }),
        )
        .await;
        riddors.push(the(&obligations_of(&app, &h.hana, &injury).await, "RIDDOR"));
    }

    for riddor in &riddors {
        let submit = |r: &str| json!({ "obligationId": riddor["id"], "step": "REPORT_SUBMITTED", "externalReference": r });
        let (by_hana, by_quinn) = join(
            try_record_step(&app, &h.hana, submit("HSE-HANA")),
            try_record_step(&app, &h.quinn, submit("HSE-QUINN")),
        )
        .await;

        let ok: Vec<&GqlResponse> = [&by_hana, &by_quinn]
            .into_iter()
            .filter(|r| r.errors().is_empty())
            .collect();
        assert_eq!(
            ok.len(),
            1,
            "exactly one submission meets it, the other is refused:\n{by_hana}\n{by_quinn}"
        );
        let refused = if by_hana.errors().is_empty() {
            &by_quinn
        } else {
            &by_hana
        };
        refused.assert_error("BAD_USER_INPUT", None);
        let winner =
            ok[0].data()["recordObligationStep"]["obligation"]["externalReference"].clone();
        let now = board(
            &app,
            &h.quinn,
            json!({ "status": ["SUBMITTED"], "incidentId": riddor["incidentId"] }),
        )
        .await;
        assert_eq!(now.len(), 1);
        assert_eq!(
            now[0]["steps"].as_array().map(Vec::len),
            Some(1),
            "one completing step recorded: {:#}",
            now[0]
        );
        assert_eq!(now[0]["externalReference"], winner);
    }
}

#[tokio::test]
async fn only_the_departments_handlers_and_quality_leads_record_steps() {
    let app = spawn_quiet().await;
    let h = app.hospital().await;
    let device = report(
        &app,
        &h.alice,
        &h.cardiology,
        json!({ "kind": "EQUIPMENT", "regulatoryFacts": ["MEDICAL_DEVICE", "BLOOD_COMPONENT"] }),
    )
    .await;
    let obligations = obligations_of(&app, &h.quinn, &device).await;
    let mhra = the(&obligations, "MHRA_YELLOW_CARD");
    let sabre = the(&obligations, "SABRE");
    let submit = |o: &Value, r: &str| json!({ "obligationId": o["id"], "step": "REPORT_SUBMITTED", "externalReference": r });

    for (who, token) in [
        ("the other department's handler", &h.nina),
        ("the reporter", &h.alice),
        ("another member of staff", &h.bob),
    ] {
        let resp = try_record_step(&app, token, submit(&mhra, "YC-1")).await;
        assert_eq!(
            resp.error_code().as_deref(),
            Some("NOT_FOUND"),
            "{who} may not know of it: {resp}"
        );
    }
    assert_eq!(
        the(
            &obligations_of(&app, &h.quinn, &device).await,
            "MHRA_YELLOW_CARD"
        )["status"],
        "OPEN"
    );

    // Not an obligation's id.
    let resp = try_record_step(&app, &h.hana, submit(&device, "YC-1")).await;
    resp.assert_error("BAD_USER_INPUT", Some("obligationId"));

    let by_handler = record_step(&app, &h.hana, submit(&mhra, "YC-2026-0007")).await;
    assert_eq!(by_handler["status"], "SUBMITTED");
    let by_lead = record_step(&app, &h.quinn, submit(&sabre, "SABRE-2026-77")).await;
    assert_eq!(by_lead["status"], "SUBMITTED");
    assert_eq!(by_lead["externalReference"], "SABRE-2026-77");
}

#[tokio::test]
async fn a_withdrawn_obligation_takes_no_steps() {
    let app = spawn_quiet().await;
    let h = app.hospital().await;
    let exposure = report(
        &app,
        &h.alice,
        &h.cardiology,
        json!({ "kind": "RADIATION", "regulatoryFacts": ["SIGNIFICANT_UNINTENDED_EXPOSURE"] }),
    )
    .await;
    let irmer = the(
        &obligations_of(&app, &h.hana, &exposure).await,
        "IRMER_NOTIFICATION",
    );
    app.triage(&h.hana, &exposure, json!({ "regulatoryFacts": [] }))
        .await;

    let resp = try_record_step(
        &app,
        &h.hana,
        json!({ "obligationId": irmer["id"], "step": "REPORT_SUBMITTED", "externalReference": "CQC-1" }),
    )
    .await;

    resp.assert_error("BAD_USER_INPUT", None);
    let after = the(
        &obligations_of(&app, &h.hana, &exposure).await,
        "IRMER_NOTIFICATION",
    );
    assert_eq!(after["status"], "WITHDRAWN");
    assert_eq!(after["steps"], json!([]));
}

#[tokio::test]
async fn a_report_submitted_after_the_deadline_is_marked_late() {
    let app = spawn_quiet().await;
    let h = app.hospital().await;
    let injury = report(
        &app,
        &h.alice,
        &h.cardiology,
        json!({
            "kind": "STAFF_SAFETY",
            "occurredAt": rfc(Utc::now() - days(20)),
            "regulatoryFacts": ["REPORTABLE_STAFF_INJURY"],
        }),
    )
    .await;
    let riddor = the(&obligations_of(&app, &h.hana, &injury).await, "RIDDOR");
    assert_eq!(riddor["overdue"], true, "{riddor}");

    let met = record_step(
        &app,
        &h.hana,
        json!({ "obligationId": riddor["id"], "step": "REPORT_SUBMITTED", "externalReference": "HSE-LATE-1" }),
    )
    .await;

    assert_eq!(met["status"], "SUBMITTED");
    assert_eq!(met["submittedLate"], true, "{met}");
    assert_eq!(met["overdue"], false, "met, so no longer overdue");
    assert_eq!(
        board(&app, &h.hana, json!({ "overdue": true })).await.len(),
        0
    );
}

#[tokio::test]
async fn duty_of_candour_steps_are_shared_between_the_incident_and_its_obligation() {
    let app = spawn_quiet().await;
    let h = app.hospital().await;
    let ig = app.ig_officer("iris");
    let incident = report(
        &app,
        &h.alice,
        &h.cardiology,
        json!({ "physicalHarm": "MODERATE" }),
    )
    .await;
    let doc = the(
        &obligations_of(&app, &h.hana, &incident).await,
        "DUTY_OF_CANDOUR",
    );

    // Told in person, recorded on the obligation: the incident's duty of candour shows it.
    let verbal_at = Utc::now() - chrono::Duration::hours(3);
    let after_verbal = record_step(
        &app,
        &h.hana,
        json!({ "obligationId": doc["id"], "step": "VERBAL_NOTIFICATION", "takenAt": rfc(verbal_at) }),
    )
    .await;
    assert_eq!(
        after_verbal["status"], "OPEN",
        "verbal alone does not meet it"
    );
    assert_eq!(after_verbal["steps"][0]["step"], "VERBAL_NOTIFICATION");
    let inc = incident_with_obligations(&app, &h.hana, &incident).await;
    let steps = &inc["dutyOfCandour"]["steps"];
    assert_eq!(steps.as_array().map(Vec::len), Some(1), "{inc}");
    assert_eq!(steps[0]["step"], "VERBAL_NOTIFICATION");
    assert_eq!(
        parse_time(&steps[0]["takenAt"]),
        parse_time(&json!(rfc(verbal_at)))
    );

    // Written, recorded on the incident (the existing mutation): that meets the obligation.
    let current = app.incident(&h.hana, &id(&incident)).await;
    let written_at = Utc::now() - chrono::Duration::minutes(30);
    let resp = app
        .try_record_candour_step(
            &h.hana,
            json!({
                "incidentId": incident["id"], "expectedVersion": current["version"],
                "step": "WRITTEN_NOTIFICATION", "takenAt": rfc(written_at),
            }),
        )
        .await;
    resp.assert_ok();
    let met = the(
        &obligations_of(&app, &h.hana, &incident).await,
        "DUTY_OF_CANDOUR",
    );
    assert_eq!(met["status"], "SUBMITTED", "{met}");
    assert_eq!(
        parse_time(&met["submittedAt"]),
        parse_time(&json!(rfc(written_at)))
    );
    assert_eq!(met["submittedLate"], false);
    let steps: Vec<&str> = met["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    assert_eq!(steps, ["VERBAL_NOTIFICATION", "WRITTEN_NOTIFICATION"]);
    assert_eq!(board(&app, &h.quinn, json!({})).await.len(), 0);

    // Met: writing again on the obligation is refused.
    let resp = try_record_step(
        &app,
        &h.hana,
        json!({ "obligationId": doc["id"], "step": "WRITTEN_NOTIFICATION" }),
    )
    .await;
    resp.assert_error("BAD_USER_INPUT", None);

    // Both left a trail: the step on the obligation, and the step on the incident.
    let trail = trail_of(&app, &ig, &id(&doc)).await;
    let on_obligation: Vec<&Value> = trail
        .iter()
        .filter(|e| e["action"] == "obligation.step_recorded")
        .collect();
    assert_eq!(on_obligation.len(), 1, "{trail:#?}");
    assert_eq!(change(on_obligation[0], "step").1, "VERBAL_NOTIFICATION");
    let history = app.history(&h.quinn, &id(&incident)).await;
    assert!(
        history
            .iter()
            .any(|e| e["action"] == "incident.candour_step_recorded"),
        "{history:#?}"
    );

    // The other way round: written notification recorded on the obligation.
    let other = report(
        &app,
        &h.alice,
        &h.cardiology,
        json!({ "physicalHarm": "SEVERE" }),
    )
    .await;
    let other_doc = the(
        &obligations_of(&app, &h.hana, &other).await,
        "DUTY_OF_CANDOUR",
    );
    let met = record_step(
        &app,
        &h.quinn,
        json!({ "obligationId": other_doc["id"], "step": "WRITTEN_NOTIFICATION" }),
    )
    .await;
    assert_eq!(met["status"], "SUBMITTED");
    let inc = incident_with_obligations(&app, &h.hana, &other).await;
    let steps: Vec<&str> = inc["dutyOfCandour"]["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    assert_eq!(steps, ["WRITTEN_NOTIFICATION"], "{inc}");
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
    sign_in(&app, &[&h.hana, &h.nina, &h.quinn]).await;
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
    reference(&incident)
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

// --- D. Corrective actions -------------------------------------------------------------------

#[tokio::test]
async fn a_corrective_action_is_reminded_once_at_each_occasion_then_escalated_to_the_handler() {
    let d = drill().await;
    let (app, h) = (&d.app, &d.h);
    let hana_id = app.staff_id(&h.hana).await;
    let handled = app
        .report_incident(&h.alice, incident_input(&h.cardiology))
        .await;
    let handled = app
        .triage(&h.hana, &handled, json!({ "handlerId": hana_id }))
        .await;
    let unhandled = app
        .report_incident(&h.alice, incident_input(&h.cardiology))
        .await;
    // A due date whose reminders all fall on working days.
    let due = first_day_from(london_today() + days(40), |d| {
        [-7, -1, 0, 1, 13, 14]
            .iter()
            .all(|n| is_working_day(d + days(*n)))
    });
    app.create_corrective_action(
        &h.hana,
        with(
            corrective_action_input(&id(&handled), OLIVE),
            json!({ "dueDate": due.to_string() }),
        ),
    )
    .await;
    // Under way still counts as open.
    let started = app
        .create_corrective_action(
            &h.hana,
            with(
                corrective_action_input(&id(&unhandled), OSCAR),
                json!({ "dueDate": due.to_string() }),
            ),
        )
        .await;
    app.update_action(&h.hana, &started, json!({ "status": "IN_PROGRESS" }))
        .await;
    // Done: never reminded.
    let done = app
        .create_corrective_action(
            &h.hana,
            with(
                corrective_action_input(&id(&handled), CARL),
                json!({ "dueDate": due.to_string() }),
            ),
        )
        .await;
    app.update_action(&h.hana, &done, json!({ "status": "COMPLETED" }))
        .await;
    let at = |n: i64| london_at(due + days(n), 9, 0, 0);
    let due_text = long_date(due);

    // A week before: due soon, to each owner.
    let s = scheduler_at(app, at(-7)).await;
    let soon =
        wait_for_notifications(app, &h.quinn, json!({ "kind": ["ACTION_DUE_SOON"] }), 2).await;
    tokio::time::sleep(SETTLE).await;
    s.stop(true).await;
    assert_eq!(
        pairs(&soon),
        once_each(&[("ACTION_DUE_SOON", OLIVE), ("ACTION_DUE_SOON", OSCAR)])
    );
    let email = wait_for_email(&d.mail, OLIVE, &["due in 7 days", &due_text]).await;
    assert!(
        email.all_text().contains(&reference(&handled)),
        "{}",
        email.raw
    );

    // The day before: still due soon, but that occasion has been raised.
    let c = canary(&d).await;
    let s = scheduler_at(app, at(-1)).await;
    wait_for_pass(&d, &c).await;
    s.stop(true).await;
    assert_eq!(action_and_audit_reminders(&d).await.len(), 2);

    // The day: due today.
    let s = scheduler_at(app, at(0)).await;
    wait_for_notifications(app, &h.quinn, json!({ "kind": ["ACTION_DUE_TODAY"] }), 2).await;
    tokio::time::sleep(SETTLE).await;
    s.stop(true).await;

    // The day after: overdue.
    let s = scheduler_at(app, at(1)).await;
    wait_for_notifications(app, &h.quinn, json!({ "kind": ["ACTION_OVERDUE"] }), 2).await;
    tokio::time::sleep(SETTLE).await;
    s.stop(true).await;

    // Thirteen days overdue: nothing new.
    let c = canary(&d).await;
    let s = scheduler_at(app, at(13)).await;
    wait_for_pass(&d, &c).await;
    s.stop(true).await;
    assert_eq!(action_and_audit_reminders(&d).await.len(), 6);

    // Fourteen days overdue: escalated, to the incident's handler (or the quality leads when
    // it has none), not to the owner.
    let s = scheduler_at(app, at(14)).await;
    wait_for_notifications(app, &h.quinn, json!({ "kind": ["ACTION_ESCALATED"] }), 3).await;
    tokio::time::sleep(SETTLE).await;
    s.stop(true).await;

    let reminders = action_and_audit_reminders(&d).await;
    assert_eq!(
        pairs(&reminders),
        once_each(&[
            ("ACTION_DUE_SOON", OLIVE),
            ("ACTION_DUE_SOON", OSCAR),
            ("ACTION_DUE_TODAY", OLIVE),
            ("ACTION_DUE_TODAY", OSCAR),
            ("ACTION_OVERDUE", OLIVE),
            ("ACTION_OVERDUE", OSCAR),
            ("ACTION_ESCALATED", HANA),
            ("ACTION_ESCALATED", QUINN),
            ("ACTION_ESCALATED", QUALITY_LIST),
        ]),
        "{:#?}",
        pairs_listed(&reminders)
    );

    // And the SMTP server received each once.
    let escalated = wait_for_email(&d.mail, HANA, &["Escalation", &reference(&handled)]).await;
    assert!(
        escalated.all_text().contains(&due_text),
        "{}",
        escalated.raw
    );
    wait_for_email(&d.mail, QUINN, &["Escalation", &reference(&unhandled)]).await;
    for owner in [OLIVE, OSCAR] {
        wait_for_email(&d.mail, owner, &["overdue since", &due_text]).await;
        wait_for_email(&d.mail, owner, &["due today", &due_text]).await;
        assert_eq!(
            emails(&d.mail, owner, &["due in 7 days", &due_text]),
            1,
            "{owner}"
        );
        assert_eq!(emails(&d.mail, owner, &["due in"]), 1, "{owner}");
        assert_eq!(
            emails(&d.mail, owner, &["due today", &due_text]),
            1,
            "{owner}"
        );
        assert_eq!(
            emails(&d.mail, owner, &["overdue since", &due_text]),
            1,
            "{owner}"
        );
        assert_eq!(emails(&d.mail, owner, &["Escalation"]), 0, "{owner}");
    }
    wait_for_email(
        &d.mail,
        QUALITY_LIST,
        &["Escalation", &reference(&unhandled)],
    )
    .await;
    assert_eq!(emails(&d.mail, HANA, &["Escalation"]), 1);
    assert_eq!(emails(&d.mail, QUINN, &["Escalation"]), 1);
    assert_eq!(emails(&d.mail, QUALITY_LIST, &["Escalation"]), 1);
    assert_eq!(
        emails(&d.mail, CARL, &["Corrective action"]),
        1,
        "only the assignment: a completed action is not reminded"
    );
}

#[tokio::test]
async fn action_reminders_wait_out_a_bank_holiday_weekend_and_resume_on_the_next_working_day() {
    let d = drill().await;
    let (app, h) = (&d.app, &d.h);
    // A bank holiday Monday from the calendar, with its weekend before it and a working
    // Tuesday after.
    let holiday = BANK_HOLIDAYS
        .iter()
        .map(|s| date(s))
        .filter(|d| *d > london_today() + days(14))
        .find(|d| d.weekday() == Weekday::Mon && is_working_day(*d + days(1)))
        .expect("a bank holiday Monday ahead in the calendar: extend BANK_HOLIDAYS");
    let tuesday = holiday + days(1);
    let incident = app
        .report_incident(&h.alice, incident_input(&h.cardiology))
        .await;
    // Due on the holiday itself, and on the Tuesday after.
    app.create_corrective_action(
        &h.hana,
        with(
            corrective_action_input(&id(&incident), OLIVE),
            json!({ "dueDate": holiday.to_string() }),
        ),
    )
    .await;
    app.create_corrective_action(
        &h.hana,
        with(
            corrective_action_input(&id(&incident), OSCAR),
            json!({ "dueDate": tuesday.to_string() }),
        ),
    )
    .await;
    // And an audit starting that Thursday.
    app.plan_audit(
        &h.hana,
        with(
            audit_input(&h.cardiology),
            json!({
                "plannedStart": (tuesday + days(2)).to_string(),
                "plannedEnd": (tuesday + days(30)).to_string(),
                "leadEmail": LENA,
            }),
        ),
    )
    .await;

    // Saturday, Sunday and the holiday Monday: all three fall due within the week (one on
    // the Monday), yet nothing is raised about them.
    for day in [holiday - days(2), holiday - days(1), holiday] {
        assert!(!is_working_day(day));
        let c = canary(&d).await;
        let s = scheduler_at(app, london_at(day, 12, 0, 0)).await;
        wait_for_pass(&d, &c).await;
        s.stop(true).await;
        let raised = action_and_audit_reminders(&d).await;
        assert!(
            raised.is_empty(),
            "nothing about actions or audits on {day} ({}): {:#?}",
            day.weekday(),
            pairs_listed(&raised)
        );
    }

    // Tuesday: the occasion each is at now, and only that.
    let s = scheduler_at(app, london_at(tuesday, 9, 0, 0)).await;
    wait_for_notifications(
        app,
        &h.quinn,
        json!({ "kind": ["ACTION_OVERDUE", "ACTION_DUE_TODAY", "AUDIT_DUE"] }),
        3,
    )
    .await;
    tokio::time::sleep(SETTLE).await;
    s.stop(true).await;

    let raised = action_and_audit_reminders(&d).await;
    assert_eq!(
        pairs(&raised),
        once_each(&[
            ("ACTION_OVERDUE", OLIVE),
            ("ACTION_DUE_TODAY", OSCAR),
            ("AUDIT_DUE", LENA),
        ]),
        "{:#?}",
        pairs_listed(&raised)
    );
    wait_for_email(&d.mail, OLIVE, &["overdue since", &long_date(holiday)]).await;
    wait_for_email(&d.mail, OSCAR, &["due today", &long_date(tuesday)]).await;
    wait_for_email(
        &d.mail,
        LENA,
        &["Audit due to start", &long_date(tuesday + days(2))],
    )
    .await;
    for owner in [OLIVE, OSCAR] {
        assert_eq!(emails(&d.mail, owner, &["due in"]), 0, "{owner}");
    }
}

#[tokio::test]
async fn the_schedulers_today_is_londons_today() {
    let d = drill().await;
    let (app, h) = (&d.app, &d.h);
    // A working day in British Summer Time.
    let due = first_day_from(london_today() + days(1), |d| {
        is_working_day(d) && is_bst(london_at(d, 12, 0, 0))
    });
    let incident = app
        .report_incident(&h.alice, incident_input(&h.cardiology))
        .await;
    app.create_corrective_action(
        &h.hana,
        with(
            corrective_action_input(&id(&incident), OLIVE),
            json!({ "dueDate": due.to_string() }),
        ),
    )
    .await;

    // 23:30 UTC the evening before is 00:30 on the due date in London: due today, not
    // due tomorrow.
    let clock = (due - days(1)).and_hms_opt(23, 30, 0).unwrap().and_utc();
    assert_eq!(london_date(clock), due);
    let s = scheduler_at(app, clock).await;
    wait_for_notifications(
        app,
        &h.quinn,
        json!({ "kind": ["ACTION_DUE_SOON", "ACTION_DUE_TODAY"] }),
        1,
    )
    .await;
    tokio::time::sleep(SETTLE).await;
    s.stop(true).await;

    let raised = action_and_audit_reminders(&d).await;
    assert_eq!(
        pairs(&raised),
        once_each(&[("ACTION_DUE_TODAY", OLIVE)]),
        "{:#?}",
        pairs_listed(&raised)
    );
    wait_for_email(&d.mail, OLIVE, &["due today", &long_date(due)]).await;
}

// --- D. Obligations --------------------------------------------------------------------------

#[tokio::test]
async fn an_open_obligation_is_reminded_two_working_days_ahead_and_reported_missed_even_at_a_weekend(
) {
    let d = drill().await;
    let (app, h) = (&d.app, &d.h);
    let harry = app.handler("harry", &["CARD"]);
    sign_in(app, &[&harry]).await;
    let hana_id = app.staff_id(&h.hana).await;

    // Owed to the patient, Hana handling it.
    let owed = report(
        app,
        &h.alice,
        &h.cardiology,
        json!({ "physicalHarm": "MODERATE" }),
    )
    .await;
    let owed = app
        .triage(&h.hana, &owed, json!({ "handlerId": hana_id }))
        .await;
    let doc = the(
        &obligations_of(app, &h.hana, &owed).await,
        "DUTY_OF_CANDOUR",
    );
    // Owed too, but met at once.
    let met = report(
        app,
        &h.alice,
        &h.cardiology,
        json!({ "physicalHarm": "MODERATE" }),
    )
    .await;
    let met_doc = the(&obligations_of(app, &h.hana, &met).await, "DUTY_OF_CANDOUR");
    record_step(
        app,
        &h.hana,
        json!({ "obligationId": met_doc["id"], "step": "WRITTEN_NOTIFICATION" }),
    )
    .await;
    assert_eq!(met_doc["dueAt"], doc["dueAt"], "the same deadline");
    // Long overdue, but withdrawn: not owed, so never reminded.
    let dropped = report(
        app,
        &h.alice,
        &h.cardiology,
        json!({
            "kind": "STAFF_SAFETY",
            "occurredAt": rfc(Utc::now() - days(60)),
            "regulatoryFacts": ["REPORTABLE_STAFF_INJURY"],
        }),
    )
    .await;
    app.triage(&h.hana, &dropped, json!({ "regulatoryFacts": [] }))
        .await;

    let due_at = parse_time(&doc["dueAt"]);
    let remind_from = london_at(sub_working_days(london_date(due_at), 2), 0, 0, 0)
        .min(due_at - chrono::Duration::hours(24));
    let owed_ref = reference(&owed);
    let about =
        |r: &str| json!({ "kind": ["OBLIGATION_DUE_SOON", "OBLIGATION_MISSED"], "reference": r });

    // A minute before two working days out: nothing yet.
    let c = canary(&d).await;
    let s = scheduler_at(app, remind_from - chrono::Duration::minutes(1)).await;
    wait_for_pass(&d, &c).await;
    s.stop(true).await;
    assert_eq!(
        notifications(app, &h.quinn, about(&owed_ref)).await,
        Vec::<Value>::new()
    );

    // From then: due soon, to the quality leads and the incident's handler (not the
    // department's other handlers or its address, not another department's handlers).
    let s = scheduler_at(app, remind_from + chrono::Duration::minutes(1)).await;
    let soon = wait_for_notifications(app, &h.quinn, about(&owed_ref), 3).await;
    tokio::time::sleep(SETTLE).await;
    s.stop(true).await;
    let soon_now = notifications(app, &h.quinn, about(&owed_ref)).await;
    assert_eq!(
        pairs(&soon_now),
        once_each(&[
            ("OBLIGATION_DUE_SOON", HANA),
            ("OBLIGATION_DUE_SOON", QUINN),
            ("OBLIGATION_DUE_SOON", QUALITY_LIST),
        ]),
        "{soon:#?}"
    );
    assert!(soon_now.iter().all(|n| n["reference"] == owed_ref.as_str()));
    let email = wait_for_email(&d.mail, HANA, &["Due", &owed_ref]).await;
    assert!(
        email.all_text().contains(&format!("/incidents/{owed_ref}")),
        "a link to the incident: {}",
        email.text
    );
    assert!(
        !email.all_text().contains("Patient fell from trolley"),
        "never the title: {}",
        email.raw
    );

    // A breach of personal data, reported now, no handler assigned yet.
    let breach = report(
        app,
        &h.alice,
        &h.cardiology,
        json!({ "kind": "INFORMATION_GOVERNANCE", "physicalHarm": "NONE", "regulatoryFacts": ["RISK_TO_INDIVIDUALS"] }),
    )
    .await;
    let breach_ref = reference(&breach);

    // The Saturday after the duty of candour fell due: both missed, weekend or not.
    let saturday = first_day_from(london_date(due_at) + days(1), |d| {
        d.weekday() == Weekday::Sat
    });
    let s = scheduler_at(app, london_at(saturday, 12, 0, 0)).await;
    wait_for_notifications(
        app,
        &h.quinn,
        json!({ "kind": ["OBLIGATION_MISSED"], "reference": owed_ref }),
        3,
    )
    .await;
    wait_for_notifications(
        app,
        &h.quinn,
        json!({ "kind": ["OBLIGATION_MISSED"], "reference": breach_ref }),
        5,
    )
    .await;
    tokio::time::sleep(SETTLE).await;
    s.stop(true).await;

    assert_eq!(
        pairs(&notifications(app, &h.quinn, about(&owed_ref)).await),
        once_each(&[
            ("OBLIGATION_DUE_SOON", HANA),
            ("OBLIGATION_DUE_SOON", QUINN),
            ("OBLIGATION_DUE_SOON", QUALITY_LIST),
            ("OBLIGATION_MISSED", HANA),
            ("OBLIGATION_MISSED", QUINN),
            ("OBLIGATION_MISSED", QUALITY_LIST),
        ])
    );
    assert_eq!(
        pairs(&notifications(app, &h.quinn, about(&breach_ref)).await),
        once_each(&[
            ("OBLIGATION_MISSED", HANA),
            ("OBLIGATION_MISSED", HARRY),
            ("OBLIGATION_MISSED", CARDIOLOGY_LIST),
            ("OBLIGATION_MISSED", QUINN),
            ("OBLIGATION_MISSED", QUALITY_LIST),
        ]),
        "no handler yet: the department's handlers and its address"
    );
    assert_eq!(
        notifications(app, &h.quinn, about(&reference(&met))).await,
        Vec::<Value>::new(),
        "a met obligation is never reminded"
    );
    assert_eq!(
        notifications(app, &h.quinn, about(&reference(&dropped))).await,
        Vec::<Value>::new(),
        "a withdrawn obligation is never reminded"
    );
    let to_nina = notifications(
        app,
        &h.quinn,
        json!({ "kind": ["OBLIGATION_DUE_SOON", "OBLIGATION_MISSED"], "recipient": NINA }),
    )
    .await;
    assert!(
        to_nina
            .iter()
            .all(|n| n["reference"] != owed_ref.as_str() && n["reference"] != breach_ref.as_str()),
        "nothing about cardiology to neurology's handler: {to_nina:#?}"
    );

    for to in [HANA, QUINN, QUALITY_LIST] {
        wait_for_email(&d.mail, to, &["Missed:", &owed_ref]).await;
        wait_for_email(&d.mail, to, &["Missed:", &breach_ref]).await;
        assert_eq!(emails(&d.mail, to, &["Missed:", &owed_ref]), 1, "{to}");
        assert_eq!(emails(&d.mail, to, &["Due", &owed_ref]), 1, "{to}");
        // (Its serious-incident email names it; no reminder does.)
        assert_eq!(emails(&d.mail, to, &["Due", &reference(&met)]), 0, "{to}");
        assert_eq!(
            emails(&d.mail, to, &["Missed:", &reference(&met)]),
            0,
            "{to}"
        );
    }
    wait_for_email(&d.mail, HARRY, &["Missed:", &breach_ref]).await;
    wait_for_email(&d.mail, CARDIOLOGY_LIST, &["Missed:", &breach_ref]).await;
    assert_eq!(emails(&d.mail, HARRY, &["Missed:", &owed_ref]), 0);
    assert_eq!(emails(&d.mail, CARDIOLOGY_LIST, &["Missed:", &owed_ref]), 0);
}

#[tokio::test]
async fn an_obligation_due_on_a_tuesday_is_reminded_from_the_start_of_the_friday_before() {
    let d = drill().await;
    let (app, h) = (&d.app, &d.h);
    // RIDDOR runs 10 calendar days from the injury: an injury that happened 10 days before a
    // coming Tuesday is due at the end of that Tuesday.
    let tuesday = first_day_from(london_today() + days(3), |d| d.weekday() == Weekday::Tue);
    let occurred_at = london_at(tuesday - days(10), 12, 0, 0);
    let injury = report(
        app,
        &h.alice,
        &h.cardiology,
        json!({
            "kind": "STAFF_SAFETY",
            "occurredAt": rfc(occurred_at),
            "regulatoryFacts": ["REPORTABLE_STAFF_INJURY"],
        }),
    )
    .await;
    let riddor = the(&obligations_of(app, &h.hana, &injury).await, "RIDDOR");
    let due_at = parse_time(&riddor["dueAt"]);
    assert_eq!(due_at, end_of_london_day(tuesday));
    // Two working days before a Tuesday: the Friday (or earlier, around a bank holiday).
    let from_day = sub_working_days(tuesday, 2);
    assert!(from_day <= tuesday - days(4), "{from_day}");
    let remind_from = london_at(from_day, 0, 0, 0);
    let injury_ref = reference(&injury);
    let soon =
        json!({ "kind": ["OBLIGATION_DUE_SOON", "OBLIGATION_MISSED"], "reference": injury_ref });

    // The minute before that day starts: nothing.
    let c = canary(&d).await;
    let s = scheduler_at(app, remind_from - chrono::Duration::minutes(1)).await;
    wait_for_pass(&d, &c).await;
    s.stop(true).await;
    assert_eq!(
        notifications(app, &h.quinn, soon.clone()).await,
        Vec::<Value>::new()
    );

    // The minute after: due soon, to the quality leads and, with no handler assigned yet,
    // the department's handlers and its address.
    let s = scheduler_at(app, remind_from + chrono::Duration::minutes(1)).await;
    wait_for_notifications(app, &h.quinn, soon.clone(), 4).await;
    tokio::time::sleep(SETTLE).await;
    s.stop(true).await;
    assert_eq!(
        pairs(&notifications(app, &h.quinn, soon).await),
        once_each(&[
            ("OBLIGATION_DUE_SOON", HANA),
            ("OBLIGATION_DUE_SOON", CARDIOLOGY_LIST),
            ("OBLIGATION_DUE_SOON", QUINN),
            ("OBLIGATION_DUE_SOON", QUALITY_LIST),
        ])
    );
    let email = wait_for_email(&d.mail, HANA, &["Due", &injury_ref]).await;
    assert!(
        email.subject.contains(&long_date(tuesday)),
        "the subject gives the due date: {}",
        email.subject
    );
}

// --- E. Once, whatever runs ------------------------------------------------------------------

#[tokio::test]
async fn a_restarted_scheduler_does_not_send_a_reminder_again() {
    let d = drill().await;
    let (app, h) = (&d.app, &d.h);
    let hana_id = app.staff_id(&h.hana).await;
    let owed = report(
        app,
        &h.alice,
        &h.cardiology,
        json!({ "physicalHarm": "MODERATE" }),
    )
    .await;
    let owed = app
        .triage(&h.hana, &owed, json!({ "handlerId": hana_id }))
        .await;
    let doc = the(
        &obligations_of(app, &h.hana, &owed).await,
        "DUTY_OF_CANDOUR",
    );
    let owed_ref = reference(&owed);
    let missed = json!({ "kind": ["OBLIGATION_MISSED"], "reference": owed_ref });
    let t = parse_time(&doc["dueAt"]) + chrono::Duration::minutes(1);

    // Instance A, just after the deadline: missed.
    let a = scheduler_at(app, t).await;
    wait_for_notifications(app, &h.quinn, missed.clone(), 3).await;
    for to in [HANA, QUINN, QUALITY_LIST] {
        wait_for_email(&d.mail, to, &["Missed:", &owed_ref]).await;
    }
    a.stop(true).await;

    // Instance B, the same clock, after A stopped.
    let c = canary(&d).await;
    let b = scheduler_at(app, t).await;
    wait_for_pass(&d, &c).await;
    b.stop(true).await;

    // Instance C, an hour later.
    let c = canary(&d).await;
    let later = scheduler_at(app, t + chrono::Duration::hours(1)).await;
    wait_for_pass(&d, &c).await;
    later.stop(true).await;

    assert_eq!(
        pairs(&notifications(app, &h.quinn, missed).await),
        once_each(&[
            ("OBLIGATION_MISSED", HANA),
            ("OBLIGATION_MISSED", QUINN),
            ("OBLIGATION_MISSED", QUALITY_LIST),
        ])
    );
    // Give the dispatcher time to send anything a restart might have queued.
    tokio::time::sleep(SETTLE).await;
    for to in [HANA, QUINN, QUALITY_LIST] {
        assert_eq!(emails(&d.mail, to, &["Missed:", &owed_ref]), 1, "{to}");
    }
}

#[tokio::test]
async fn two_schedulers_running_at_once_raise_each_reminder_once() {
    let d = drill().await;
    let (app, h) = (&d.app, &d.h);
    let hana_id = app.staff_id(&h.hana).await;
    let owed = report(
        app,
        &h.alice,
        &h.cardiology,
        json!({ "physicalHarm": "MODERATE" }),
    )
    .await;
    let owed = app
        .triage(&h.hana, &owed, json!({ "handlerId": hana_id }))
        .await;
    let owed_ref = reference(&owed);
    // A working day well after the duty of candour's deadline.
    let today = first_day_from(london_today() + days(30), is_working_day);
    app.create_corrective_action(
        &h.hana,
        with(
            corrective_action_input(&id(&owed), OLIVE),
            json!({ "dueDate": today.to_string() }),
        ),
    )
    .await;
    app.create_corrective_action(
        &h.hana,
        with(
            corrective_action_input(&id(&owed), OSCAR),
            json!({ "dueDate": (today - days(3)).to_string() }),
        ),
    )
    .await;
    app.plan_audit(
        &h.hana,
        with(
            audit_input(&h.cardiology),
            json!({
                "plannedStart": (today + days(2)).to_string(),
                "plannedEnd": (today + days(20)).to_string(),
                "leadEmail": LENA,
            }),
        ),
    )
    .await;
    let clock = london_at(today, 10, 0, 0);

    let (a, b) = join(scheduler_at(app, clock), scheduler_at(app, clock)).await;
    let expected = once_each(&[
        ("ACTION_DUE_TODAY", OLIVE),
        ("ACTION_OVERDUE", OSCAR),
        ("AUDIT_DUE", LENA),
        ("OBLIGATION_MISSED", HANA),
        ("OBLIGATION_MISSED", QUINN),
        ("OBLIGATION_MISSED", QUALITY_LIST),
    ]);
    wait_for_notifications(
        app,
        &h.quinn,
        json!({ "kind": REMINDER_KINDS }),
        expected.len(),
    )
    .await;
    // Both keep running for a few more passes.
    tokio::time::sleep(SETTLE + SETTLE).await;
    join(a.stop(true), b.stop(true)).await;

    let raised = notifications(app, &h.quinn, json!({ "kind": REMINDER_KINDS })).await;
    assert_eq!(pairs(&raised), expected, "{:#?}", pairs_listed(&raised));

    let due_text = long_date(today);
    wait_for_email(&d.mail, OLIVE, &["due today", &due_text]).await;
    wait_for_email(&d.mail, OSCAR, &["overdue since"]).await;
    wait_for_email(&d.mail, LENA, &["Audit due to start"]).await;
    wait_for_email(&d.mail, HANA, &["Missed:", &owed_ref]).await;
    wait_for_email(&d.mail, QUINN, &["Missed:", &owed_ref]).await;
    wait_for_email(&d.mail, QUALITY_LIST, &["Missed:", &owed_ref]).await;
    tokio::time::sleep(SETTLE).await;
    assert_eq!(emails(&d.mail, OLIVE, &["due today"]), 1);
    assert_eq!(emails(&d.mail, OSCAR, &["overdue since"]), 1);
    assert_eq!(emails(&d.mail, LENA, &["Audit due"]), 1);
    assert_eq!(emails(&d.mail, HANA, &["Missed:"]), 1);
    assert_eq!(emails(&d.mail, QUINN, &["Missed:"]), 1);
    assert_eq!(emails(&d.mail, QUALITY_LIST, &["Missed:"]), 1);
    let ids: Vec<String> = d
        .mail
        .received()
        .iter()
        .map(|m| m.message_id.clone())
        .collect();
    let unique: BTreeSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "an email was sent twice: {ids:#?}");
}

// --- F. Audits -------------------------------------------------------------------------------

#[tokio::test]
async fn an_audit_about_to_start_reminds_its_lead_or_else_the_quality_leads() {
    let d = drill().await;
    let (app, h) = (&d.app, &d.h);
    let today = first_day_from(london_today() + days(30), |d| {
        is_working_day(d) && is_working_day(d + days(1))
    });
    let plan = |title: &str, start: NaiveDate, lead: Option<&str>| {
        with(
            audit_input(&h.cardiology),
            json!({
                "title": title,
                "plannedStart": start.to_string(),
                "plannedEnd": (start + days(14)).to_string(),
                "leadEmail": lead,
            }),
        )
    };
    let led = app
        .plan_audit(
            &h.hana,
            plan("Hand hygiene audit", today + days(7), Some(LENA)),
        )
        .await;
    app.plan_audit(&h.hana, plan("Falls audit", today, None))
        .await;
    app.plan_audit(
        &h.hana,
        plan("Consent audit", today + days(8), Some("fred@candour.test")),
    )
    .await;
    app.plan_audit(&h.hana, plan("Overdue audit", today - days(1), None))
        .await;
    let started = app
        .plan_audit(
            &h.quinn,
            plan("Sepsis audit", today + days(2), Some("sam@candour.test")),
        )
        .await;
    app.move_audit(&h.quinn, &started, "IN_PROGRESS").await;

    // Today: those starting within the week, to their lead or the quality leads.
    let s = scheduler_at(app, london_at(today, 9, 0, 0)).await;
    wait_for_notifications(app, &h.quinn, json!({ "kind": ["AUDIT_DUE"] }), 3).await;
    tokio::time::sleep(SETTLE).await;
    s.stop(true).await;
    assert_eq!(
        pairs(&notifications(app, &h.quinn, json!({ "kind": ["AUDIT_DUE"] })).await),
        once_each(&[
            ("AUDIT_DUE", LENA),
            ("AUDIT_DUE", QUINN),
            ("AUDIT_DUE", QUALITY_LIST),
        ])
    );

    // Tomorrow: the one eight days out now starts within the week; the others are not
    // reminded again.
    let s = scheduler_at(app, london_at(today + days(1), 9, 0, 0)).await;
    wait_for_notifications(app, &h.quinn, json!({ "kind": ["AUDIT_DUE"] }), 4).await;
    tokio::time::sleep(SETTLE).await;
    s.stop(true).await;
    assert_eq!(
        pairs(&notifications(app, &h.quinn, json!({ "kind": ["AUDIT_DUE"] })).await),
        once_each(&[
            ("AUDIT_DUE", LENA),
            ("AUDIT_DUE", QUINN),
            ("AUDIT_DUE", QUALITY_LIST),
            ("AUDIT_DUE", "fred@candour.test"),
        ])
    );

    let email = wait_for_email(
        &d.mail,
        LENA,
        &[
            "Audit due to start",
            &long_date(today + days(7)),
            "Hand hygiene audit",
        ],
    )
    .await;
    assert!(
        email.all_text().contains(&format!("/audits/{}", id(&led))),
        "a link to the audit: {}",
        email.text
    );
    wait_for_email(&d.mail, QUINN, &["Audit due to start", "Falls audit"]).await;
    wait_for_email(
        &d.mail,
        QUALITY_LIST,
        &["Audit due to start", "Falls audit"],
    )
    .await;
    wait_for_email(&d.mail, "fred@candour.test", &["Consent audit"]).await;
    assert_eq!(
        emails(&d.mail, "sam@candour.test", &[]),
        0,
        "an audit under way"
    );
    assert_eq!(emails(&d.mail, LENA, &["Audit due"]), 1);
}
