//! The information-governance officer's trail and records: every change is sealed into a
//! SHA-256 hash chain that shows any edit, deletion or reordering made behind the API's back;
//! records past their retention date are listed, held or disposed of, leaving a tombstone.

mod ended_records;
mod hash_chain;
mod holds_and_disposal;
mod reading_trail;
mod retention_due;

use std::time::{Duration, Instant};

use candour_tests::*;
use sea_orm::ConnectionTrait;
use serde_json::{json, Value};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

const INTEGRITY: &str = "{ auditTrailIntegrity {
    intact checkedEvents unsealedEvents headSeq headHash
    firstBrokenLink { seq eventId problem }
} }";

const TRAIL: &str = "query($first: Int, $after: String, $filter: AuditTrailFilter) {
  auditTrail(first: $first, after: $after, filter: $filter) {
    pageInfo { hasNextPage hasPreviousPage endCursor }
    edges { cursor node { id at action entityType actorLabel seq hash actor { id } } }
  }
}";

/// `auditTrailIntegrity` as this viewer: the whole response.
async fn try_integrity(app: &TestApp, token: &str) -> GqlResponse {
    app.gql(Some(token), INTEGRITY, json!({})).await
}

/// `auditTrailIntegrity`, which must be answered.
async fn integrity(app: &TestApp, ig: &str) -> Value {
    let resp = try_integrity(app, ig).await;
    resp.assert_ok();
    resp.data()["auditTrailIntegrity"].clone()
}

/// Waits (up to 10 s) until the sealer has given every committed event its place; returns
/// a fresh integrity report taken once nothing is left to seal (so no seal can land while
/// it is being taken).
async fn sealed(app: &TestApp, ig: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let report = integrity(app, ig).await;
        if report["unsealedEvents"] == 0 {
            return integrity(app, ig).await;
        }
        assert!(
            Instant::now() < deadline,
            "trail events were still unsealed after 10 s: {report}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// One page of `auditTrail`.
async fn trail_page(app: &TestApp, token: &str, variables: Value) -> GqlResponse {
    app.gql(Some(token), TRAIL, variables).await
}

/// Every trail event matching `filter`, newest first, paging 100 at a time.
async fn all_events(app: &TestApp, ig: &str, filter: Value) -> Vec<Value> {
    let mut out = Vec::new();
    let mut after = Value::Null;
    loop {
        let resp = trail_page(
            app,
            ig,
            json!({ "first": 100, "after": after, "filter": filter }),
        )
        .await;
        resp.assert_ok();
        let conn = &resp.data()["auditTrail"];
        for edge in conn["edges"].as_array().expect("edges") {
            out.push(edge["node"].clone());
        }
        if conn["pageInfo"]["hasNextPage"] != true {
            return out;
        }
        after = conn["pageInfo"]["endCursor"].clone();
    }
}

fn ids_of(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["id"].as_str().expect("event id").to_string())
        .collect()
}

/// The event sealed at `seq`.
#[track_caller]
fn at_seq(events: &[Value], seq: i64) -> &Value {
    events
        .iter()
        .find(|e| e["seq"] == seq)
        .unwrap_or_else(|| panic!("no event sealed at {seq}"))
}

/// Runs SQL straight against the server's database, behind the API's back, as someone with
/// database access would. Returns the rows affected.
async fn behind_the_api(app: &TestApp, sql: &str) -> u64 {
    let db = app.db().await;
    let done = db
        .execute_unprepared(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    let _ = db.close().await;
    done.rows_affected()
}

/// The `uuid` behind a GraphQL id.
#[track_caller]
fn uuid_of(id: &Value) -> uuid::Uuid {
    let text = id.as_str().unwrap_or_else(|| panic!("not an id: {id}"));
    candour::record::ids::decode(text)
        .unwrap_or_else(|| panic!("not a Candour id: {text}"))
        .1
}

/// A stored row: each column read as text, `None` for NULL.
type Row = std::collections::BTreeMap<String, Option<String>>;

/// Reads the stored rows straight from the server's database, behind the API: `columns` (as
/// text) of every row of `table` whose `key` column holds the record behind `id`.
async fn stored_rows(
    app: &TestApp,
    table: &str,
    key: &str,
    id: &Value,
    columns: &[&str],
) -> Vec<Row> {
    use sea_orm::sea_query::{Alias, Expr, Query};
    let db = app.db().await;
    let mut select = Query::select();
    select
        .from(Alias::new(table))
        .and_where(Expr::col(Alias::new(key)).eq(uuid_of(id)));
    for c in columns {
        select.expr_as(Expr::cust(format!("CAST(\"{c}\" AS TEXT)")), Alias::new(*c));
    }
    let statement = db.get_database_backend().build(&select);
    let rows = db
        .query_all(statement)
        .await
        .unwrap_or_else(|e| panic!("reading {table}: {e}"));
    let _ = db.close().await;
    rows.iter()
        .map(|row| {
            columns
                .iter()
                .map(|c| {
                    let v = row
                        .try_get::<Option<String>>("", c)
                        .unwrap_or_else(|e| panic!("{table}.{c}: {e}"));
                    (c.to_string(), v)
                })
                .collect()
        })
        .collect()
}

/// The one stored row of `table` with this id.
async fn stored_row(app: &TestApp, table: &str, id: &Value, columns: &[&str]) -> Row {
    let mut rows = stored_rows(app, table, "id", id, columns).await;
    assert_eq!(rows.len(), 1, "{table} {id}: {rows:?}");
    rows.remove(0)
}

/// A column of a stored row.
#[track_caller]
fn col<'a>(row: &'a Row, name: &str) -> Option<&'a str> {
    row.get(name)
        .unwrap_or_else(|| panic!("no column {name} in {row:?}"))
        .as_deref()
}

/// Asserts that none of `columns` holds anything (NULL or empty), and that no column of
/// the row holds any of `words`.
#[track_caller]
fn assert_emptied(row: &Row, columns: &[&str], words: &[&str]) {
    for c in columns {
        assert!(
            col(row, c).is_none_or(str::is_empty),
            "{c} survived disposal: {row:?}"
        );
    }
    let text = format!("{row:?}").to_lowercase();
    for w in words {
        assert!(
            !text.contains(&w.to_lowercase()),
            "{w:?} survived disposal: {row:?}"
        );
    }
}

/// A hospital whose trail holds five sealed events: the two departments, a report, its
/// triage and a transition. Returns the hospital, the ig officer's token and every event
/// (newest first).
async fn five_sealed_events(app: &TestApp) -> (Hospital, String, Vec<Value>) {
    let h = app.hospital().await;
    let ig = app.ig_officer("iris");
    let incident = app
        .report_incident(&h.alice, incident_input(&h.cardiology))
        .await;
    let triaged = app
        .triage(&h.hana, &incident, json!({ "category": "Falls" }))
        .await;
    app.transition(&h.hana, &triaged, "INVESTIGATING").await;

    let report = sealed(app, &ig).await;
    assert_eq!(report["intact"], true, "{report}");
    assert_eq!(report["checkedEvents"], 5, "{report}");
    let events = all_events(app, &ig, json!({})).await;
    assert_eq!(events.len(), 5, "{events:?}");
    (h, ig, events)
}

#[track_caller]
fn assert_broken_at(report: &Value, seq: i64) -> &Value {
    assert_eq!(
        report["intact"], false,
        "tampering went unnoticed: {report}"
    );
    let link = &report["firstBrokenLink"];
    assert!(link.is_object(), "no broken link named: {report}");
    assert_eq!(link["seq"], seq, "wrong place named: {report}");
    assert!(
        link["problem"]
            .as_str()
            .is_some_and(|p| !p.trim().is_empty()),
        "the problem is described: {report}"
    );
    link
}

// ---------------------------------------------------------------------------------------------
// Retention, legal holds and disposal
// ---------------------------------------------------------------------------------------------

/// Retention ends the moment a record ends, except for serious incidents (20 years).
async fn spawn_with_zero_year_retention() -> TestApp {
    spawn_app_with(|s| {
        s.retention.incident_years = 0;
        s.retention.audit_years = 0;
        s.retention.improvement_project_years = 0;
        s.retention.serious_incident_years = 20;
    })
    .await
}

const RETENTION_DUE: &str = "query($first: Int, $after: String, $filter: RetentionFilter) {
  retentionDue(first: $first, after: $after, filter: $filter) {
    pageInfo { hasNextPage endCursor }
    edges { cursor node { recordType recordId label endedAt retentionUntil legalHold } }
  }
}";

async fn try_retention_due(app: &TestApp, token: &str, variables: Value) -> GqlResponse {
    app.gql(Some(token), RETENTION_DUE, variables).await
}

/// Every record due, in the order listed (first page of 100).
async fn retention_due(app: &TestApp, ig: &str, filter: Value) -> Vec<Value> {
    let resp = try_retention_due(app, ig, json!({ "first": 100, "filter": filter })).await;
    resp.assert_ok();
    resp.data()["retentionDue"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"].clone())
        .collect()
}

fn record_ids(due: &[Value]) -> Vec<String> {
    let mut ids: Vec<String> = due
        .iter()
        .map(|d| d["recordId"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

fn sorted(ids: &[&Value]) -> Vec<String> {
    let mut ids: Vec<String> = ids
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

/// The incident as the retention story reads it, sensitive fields included.
async fn record(app: &TestApp, token: &str, id: &Value) -> Value {
    let resp = app
        .gql(
            Some(token),
            "query($id: ID!) { incident(id: $id) {
               id reference title description status closedAt retentionUntil disposedAt
               patient { nhsNumber name dateOfBirth }
               comments { id body }
             } }",
            json!({ "id": id }),
        )
        .await;
    resp.assert_ok();
    let incident = resp.data()["incident"].clone();
    assert!(incident.is_object(), "incident {id} not returned: {resp}");
    incident
}

/// Report a serious (SEVERE harm) incident and close it, duty of candour and all.
async fn close_serious(app: &TestApp, h: &Hospital) -> Value {
    let incident = app
        .report_incident(
            &h.alice,
            with(
                incident_input(&h.cardiology),
                json!({ "physicalHarm": "SEVERE" }),
            ),
        )
        .await;
    let mut current = app
        .triage(
            &h.quinn,
            &incident,
            json!({
                "feedbackToReporter": "Thank you: the trolley rails are now checked at handover.",
                "learningResponse": "AFTER_ACTION_REVIEW",
                "learningResponseOverrideReason": "A review of the one event was enough",
                "learningSummary": "Two-person check before moving patients.",
            }),
        )
        .await;
    for step in [
        "VERBAL_NOTIFICATION",
        "WRITTEN_NOTIFICATION",
        "UPDATE",
        "FINAL_LETTER",
    ] {
        current = app.record_candour_step(&h.quinn, &current, step).await;
    }
    let closed = app.transition(&h.quinn, &current, "CLOSED").await;
    assert_eq!(closed["status"], "CLOSED", "{closed}");
    closed
}

async fn low_harm(app: &TestApp, h: &Hospital) -> Value {
    app.report_incident(
        &h.alice,
        with(
            incident_input(&h.cardiology),
            json!({ "physicalHarm": "NONE" }),
        ),
    )
    .await
}

async fn try_place_hold(
    app: &TestApp,
    token: &str,
    record_id: &Value,
    reason: &str,
) -> GqlResponse {
    app.gql(
        Some(token),
        "mutation($input: PlaceLegalHoldInput!) { placeLegalHold(input: $input) { legalHold {
           id recordType recordId reason placedBy placedAt releasedAt releasedBy releaseReason active
         } } }",
        json!({ "input": { "recordId": record_id, "reason": reason } }),
    )
    .await
}

async fn place_hold(app: &TestApp, ig: &str, record_id: &Value, reason: &str) -> Value {
    let resp = try_place_hold(app, ig, record_id, reason).await;
    resp.assert_ok();
    resp.data()["placeLegalHold"]["legalHold"].clone()
}

async fn try_release_hold(
    app: &TestApp,
    token: &str,
    hold_id: &Value,
    reason: &str,
) -> GqlResponse {
    app.gql(
        Some(token),
        "mutation($input: ReleaseLegalHoldInput!) { releaseLegalHold(input: $input) { legalHold {
           id recordId releasedAt releasedBy releaseReason active
         } } }",
        json!({ "input": { "legalHoldId": hold_id, "reason": reason } }),
    )
    .await
}

async fn active_holds(app: &TestApp, ig: &str) -> Vec<Value> {
    let resp = app
        .gql(
            Some(ig),
            "{ legalHolds(activeOnly: true) { edges { node { id recordId active reason } } } }",
            json!({}),
        )
        .await;
    resp.assert_ok();
    resp.data()["legalHolds"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"].clone())
        .collect()
}

/// The incidents a subject-access report finds for NHS number 943 476 5919.
async fn patient_records(app: &TestApp, ig: &str) -> Vec<Value> {
    let resp = app
        .gql(
            Some(ig),
            "{ subjectAccessReport(nhsNumber: \"9434765919\") { incidents { id } } }",
            json!({}),
        )
        .await;
    resp.assert_ok();
    resp.data()["subjectAccessReport"]["incidents"]
        .as_array()
        .unwrap_or_else(|| panic!("no incidents list: {resp}"))
        .clone()
}

const DISPOSE: &str =
    "mutation { disposeDueRecords { incidents audits improvementProjects held } }";

async fn dispose(app: &TestApp, ig: &str) -> Value {
    let resp = app.gql(Some(ig), DISPOSE, json!({})).await;
    resp.assert_ok();
    resp.data()["disposeDueRecords"].clone()
}

/// A cardiology audit planned, run with two findings that meet their targets (an action
/// raised from the first, completed), reported and closed by Hana.
async fn closed_audit(app: &TestApp, h: &Hospital, title: &str) -> Value {
    let planned = app
        .plan_audit(
            &h.quinn,
            with(audit_input(&h.cardiology), json!({ "title": title })),
        )
        .await;
    let mut audit = app.move_audit(&h.hana, &planned, "IN_PROGRESS").await;
    for (criterion, target, compliant) in [
        ("Consent form countersigned by the consultant", 90.0, 38),
        ("Risks discussed and recorded", 80.0, 36),
    ] {
        let id = audit["id"].as_str().unwrap().to_string();
        audit = app
            .record_audit_finding(
                &h.hana,
                finding_input(&id, criterion, target, 40, compliant),
            )
            .await;
    }
    assert_eq!(audit["findings"].as_array().map(Vec::len), Some(2));
    raise_completed_action(app, h, &audit["findings"][0]["id"]).await;
    let reported = app.move_audit(&h.hana, &audit, "REPORTED").await;
    let closed = app.move_audit(&h.hana, &reported, "CLOSED").await;
    assert_eq!(closed["status"], "CLOSED", "{closed}");
    closed
}

/// Moves a record's end behind the API's back, as if it had ended at `at`.
async fn ended_at(app: &TestApp, table: &str, id: &Value, at: chrono::DateTime<chrono::Utc>) {
    stored_time(app, table, "closed_at", id, at).await;
}

/// Sets a time column of a record behind the API's back.
async fn stored_time(
    app: &TestApp,
    table: &str,
    column: &str,
    id: &Value,
    at: chrono::DateTime<chrono::Utc>,
) {
    use sea_orm::sea_query::{Alias, Expr, Query};
    let db = app.db().await;
    let mut update = Query::update();
    update
        .table(Alias::new(table))
        .value(Alias::new(column), at)
        .and_where(Expr::col(Alias::new("id")).eq(uuid_of(id)));
    let done = db
        .execute(db.get_database_backend().build(&update))
        .await
        .unwrap_or_else(|e| panic!("backdating {table}.{column}: {e}"));
    assert_eq!(done.rows_affected(), 1);
    let _ = db.close().await;
}

/// `years` whole years and `days` days before now, to the microsecond the database keeps.
fn years_ago(years: u32, days: i64) -> chrono::DateTime<chrono::Utc> {
    use chrono::SubsecRound;
    (chrono::Utc::now()
        .checked_sub_months(chrono::Months::new(years * 12))
        .unwrap()
        - chrono::Duration::days(days))
    .trunc_subsecs(6)
}

/// A corrective action raised from `source` (an audit finding or a project), in words of
/// its own, and completed.
async fn raise_completed_action(app: &TestApp, h: &Hospital, source: &Value) {
    let action = app
        .create_corrective_action(
            &h.quinn,
            json!({ "sourceId": source, "title": "Consent re-checked",
                    "description": format!("Ask {ACTION_WORDS}"),
                    "ownerEmail": "hana@candour.test", "dueDate": "2027-01-15" }),
        )
        .await;
    let resp = app
        .try_update_corrective_action(
            &h.quinn,
            json!({ "actionId": action["id"], "expectedVersion": action["version"],
                    "status": "COMPLETED", "note": format!("Done: {ACTION_WORDS}") }),
        )
        .await;
    resp.assert_ok();
}

/// Words of an action raised from an audit finding or a project (they name a patient).
const ACTION_WORDS: &str = "Mrs Patel's daughter to countersign";
