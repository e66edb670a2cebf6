//! Information governance, seen from outside: every read of a sensitive field is on record
//! (one access event per record per request), viewers without a need get null, an anonymous
//! reporter leaves no trace, patient identifiers are validated and sealed at rest, the IG
//! officer can answer a subject-access request, and break-glass access opens one record,
//! read-only, for a limited time and for review.

mod access_log;
mod anonymous;
mod break_glass;
mod patient_identifiers;
mod reads_logged;
mod redaction;

use std::collections::{BTreeSet, HashSet};

use candour_tests::*;
use chrono::{Duration, Utc};
use sea_orm::{ConnectionTrait, DatabaseBackend, Statement};
use serde_json::{json, Value};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// A valid NHS number (modulus 11) and its patient.
const NHS: &str = "9434765919";
const PATIENT_NAME: &str = "Josephine Quillfeather";
const PATIENT_DOB: &str = "1950-03-04";
/// Another valid NHS number: another patient.
const OTHER_NHS: &str = "4857773457";

const EVENT_FIELDS: &str = "id at actorLabel actorRoles recordType recordId fields requestId \
                            purpose breakGlass actor { id name }";

const REPORT: &str = "mutation($input: ReportIncidentInput!) {
  reportIncident(input: $input) { followUpCode incident { id reference version status } }
}";

/// Report an incident selecting nothing sensitive (so the report itself logs no read);
/// returns the payload: `followUpCode` and `incident { id reference version status }`.
async fn report_payload(app: &TestApp, token: &str, input: Value) -> Value {
    let resp = app
        .gql(Some(token), REPORT, json!({ "input": input }))
        .await;
    resp.assert_ok();
    resp.data()["reportIncident"].clone()
}

/// Report an incident selecting nothing sensitive; returns `{ id reference version status }`.
async fn report(app: &TestApp, token: &str, input: Value) -> Value {
    report_payload(app, token, input).await["incident"].clone()
}

/// A report naming the patient, with immediate actions.
fn report_with_patient(department: &str, nhs_number: &str) -> Value {
    with(
        incident_input(department),
        json!({
            "immediateActions": "Patient checked by the ward doctor; no injury found.",
            "patient": { "nhsNumber": nhs_number, "name": PATIENT_NAME, "dateOfBirth": PATIENT_DOB },
        }),
    )
}

/// `incident(id) { id <selection> }` as this viewer.
async fn read_incident(
    app: &TestApp,
    token: &str,
    incident_id: &str,
    selection: &str,
) -> GqlResponse {
    app.gql(
        Some(token),
        &format!("query($id: ID!) {{ incident(id: $id) {{ id {selection} }} }}"),
        json!({ "id": incident_id }),
    )
    .await
}

fn ig_officer(app: &TestApp) -> String {
    app.ig_officer("iggy")
}

/// The whole access log (newest first), as the IG officer reads it with this filter.
async fn access_log(app: &TestApp, filter: Value) -> Vec<Value> {
    let resp = app
        .gql(
            Some(&ig_officer(app)),
            &format!(
                "query($filter: AccessLogFilter) {{
                   accessLog(first: 100, filter: $filter) {{
                     edges {{ cursor node {{ {EVENT_FIELDS} }} }}
                     pageInfo {{ hasNextPage }}
                   }}
                 }}"
            ),
            json!({ "filter": filter }),
        )
        .await;
    resp.assert_ok();
    assert_eq!(
        resp.data()["accessLog"]["pageInfo"]["hasNextPage"],
        false,
        "the test expects the whole log on one page: {resp}"
    );
    resp.data()["accessLog"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("accessLog.edges is not a list: {resp}"))
        .iter()
        .map(|e| e["node"].clone())
        .collect()
}

/// The access events one HTTP request wrote (identified by its `x-request-id`).
async fn events_of(app: &TestApp, resp: &GqlResponse) -> Vec<Value> {
    let request_id = resp.request_id();
    access_log(app, json!({}))
        .await
        .into_iter()
        .filter(|e| e["requestId"] == request_id.as_str())
        .collect()
}

/// The access events about one record.
fn about<'a>(events: &'a [Value], record_id: &str) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|e| e["recordId"] == record_id)
        .collect()
}

fn fields(event: &Value) -> Vec<String> {
    event["fields"]
        .as_array()
        .unwrap_or_else(|| panic!("fields is not a list: {event}"))
        .iter()
        .map(|f| f.as_str().expect("a field name").to_string())
        .collect()
}

fn pretty(v: &impl serde::Serialize) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

/// Exactly one access event about `record_id` among `events`.
#[track_caller]
fn only_event_about<'a>(events: &'a [Value], record_id: &str) -> &'a Value {
    let found = about(events, record_id);
    assert_eq!(
        found.len(),
        1,
        "expected exactly one access event about {record_id}, got {}",
        pretty(&events)
    );
    found[0]
}

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// Every row of every table, each rendered as text (table, row).
async fn every_row_as_text(app: &TestApp) -> Vec<(String, String)> {
    let db = app.db().await;
    let backend = db.get_database_backend();
    let all = |sql: String| {
        let db = &db;
        async move {
            db.query_all(Statement::from_string(backend, sql.clone()))
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"))
        }
    };
    let mut out = Vec::new();
    match backend {
        DatabaseBackend::Sqlite => {
            let tables = all("SELECT name FROM sqlite_master WHERE type='table'".into()).await;
            for t in tables {
                let table: String = t.try_get("", "name").expect("table name");
                let columns: Vec<String> = all(format!(
                    "SELECT name FROM pragma_table_info('{}')",
                    table.replace('\'', "''")
                ))
                .await
                .iter()
                .map(|c| c.try_get::<String>("", "name").expect("column name"))
                .collect();
                if columns.is_empty() {
                    continue;
                }
                // Every column as its bytes: text as it is, numbers as their digits.
                let select = columns
                    .iter()
                    .enumerate()
                    .map(|(i, c)| format!("CAST(\"{c}\" AS BLOB) AS c{i}"))
                    .collect::<Vec<_>>()
                    .join(", ");
                for row in all(format!("SELECT {select} FROM \"{table}\"")).await {
                    let text = (0..columns.len())
                        .map(|i| {
                            row.try_get::<Option<Vec<u8>>>("", &format!("c{i}"))
                                .unwrap_or_else(|e| panic!("{table}.{}: {e}", columns[i]))
                                .map(|b| String::from_utf8_lossy(&b).into_owned())
                                .unwrap_or_default()
                        })
                        .collect::<Vec<_>>()
                        .join(" | ");
                    out.push((table.clone(), text));
                }
            }
        }
        DatabaseBackend::Postgres => {
            let tables = all(
                "SELECT tablename::text AS name FROM pg_tables WHERE schemaname = 'public'".into(),
            )
            .await;
            for t in tables {
                let table: String = t.try_get("", "name").expect("table name");
                for row in all(format!("SELECT t::text AS row FROM \"{table}\" t")).await {
                    let text: String = row.try_get("", "row").expect("row as text");
                    out.push((table.clone(), text));
                }
            }
        }
        other => panic!("unexpected database backend {other:?}"),
    }
    let _ = db.close().await;
    out
}

/// The stored patient columns of one incident, each as text.
async fn stored_patient_columns(
    app: &TestApp,
    reference: &str,
) -> Vec<(&'static str, Option<String>)> {
    assert!(
        reference
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-'),
        "{reference}"
    );
    let db = app.db().await;
    let backend = db.get_database_backend();
    let names = [
        "patient_nhs_sealed",
        "patient_name_sealed",
        "patient_dob_sealed",
        "patient_nhs_hash",
        "patient_nhs_number",
        "patient_name",
        "patient_date_of_birth",
    ];
    let select = names
        .iter()
        .map(|c| format!("CAST({c} AS TEXT) AS {c}"))
        .collect::<Vec<_>>()
        .join(", ");
    let row = db
        .query_one(Statement::from_string(
            backend,
            format!("SELECT {select} FROM incident WHERE reference = '{reference}'"),
        ))
        .await
        .expect("read the incident row")
        .unwrap_or_else(|| panic!("no incident row with reference {reference}"));
    let out = names
        .iter()
        .map(|c| {
            (
                *c,
                row.try_get::<Option<String>>("", c)
                    .unwrap_or_else(|e| panic!("incident.{c}: {e}")),
            )
        })
        .collect();
    let _ = db.close().await;
    out
}

fn column<'a>(columns: &'a [(&'static str, Option<String>)], name: &str) -> Option<&'a str> {
    columns
        .iter()
        .find(|(c, _)| *c == name)
        .unwrap_or_else(|| panic!("no column {name}"))
        .1
        .as_deref()
}
