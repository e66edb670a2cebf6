//! Information governance, seen from outside: every read of a sensitive field is on record
//! (one access event per record per request), viewers without a need get null, an anonymous
//! reporter leaves no trace, patient identifiers are validated and sealed at rest, the IG
//! officer can answer a subject-access request, and break-glass access opens one record,
//! read-only, for a limited time and for review.

use std::collections::{BTreeSet, HashSet};

use candour_tests::*;
use chrono::{Duration, Utc};
use sea_orm::{ConnectionTrait, Database, DatabaseBackend, Statement};
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

fn id(v: &Value) -> String {
    v["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {v}"))
        .to_string()
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

async fn connect(app: &TestApp) -> sea_orm::DatabaseConnection {
    Database::connect(&app.database_url)
        .await
        .unwrap_or_else(|e| panic!("connect to the test database {}: {e}", app.database_url))
}

/// Every row of every table, each rendered as text (table, row).
async fn every_row_as_text(app: &TestApp) -> Vec<(String, String)> {
    let db = connect(app).await;
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
    let db = connect(app).await;
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

// ---------------------------------------------------------------------------------------------
// The access log
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_handler_reading_an_incident_writes_one_access_event_naming_every_field_read() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = report(&app, &h.alice, report_with_patient(&h.cardiology, NHS)).await;
    let incident_id = id(&incident);
    app.comment(&h.hana, &incident_id, "Bed rails checked.")
        .await;
    let hana_id = app.staff_id(&h.hana).await;

    let resp = read_incident(
        &app,
        &h.hana,
        &incident_id,
        "title description immediateActions patient { nhsNumber name dateOfBirth }
         reporter { name } comments { body }",
    )
    .await;
    let read = &resp.assert_ok()["incident"];
    assert_eq!(read["patient"]["nhsNumber"], NHS);
    assert_eq!(read["reporter"]["name"], "Alice Test");

    let events = events_of(&app, &resp).await;
    let event = only_event_about(&events, &incident_id);
    assert_eq!(events.len(), 1, "{}", pretty(&events));
    assert_eq!(
        fields(event),
        strs(&[
            "comments",
            "description",
            "immediateActions",
            "patient",
            "reporter"
        ])
    );
    assert_eq!(event["recordType"], "Incident");
    assert_eq!(event["actorLabel"], "hana");
    assert_eq!(event["actor"]["id"], hana_id.as_str());
    assert_eq!(event["actor"]["name"], "Hana Test");
    assert!(
        event["actorRoles"]
            .as_str()
            .is_some_and(|r| r.contains("handler")),
        "{event}"
    );
    assert_eq!(event["breakGlass"], false);
    assert!(event["purpose"].is_null(), "{event}");
    let at = parse_time(&event["at"]);
    assert!(
        (Utc::now() - at).num_seconds().abs() < 30,
        "the event is dated when the read happened: {event}"
    );
}

#[tokio::test]
async fn fields_without_a_value_are_not_recorded_as_read() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    // No patient, no immediate actions, no findings.
    let incident = report(&app, &h.alice, incident_input(&h.cardiology)).await;
    let incident_id = id(&incident);

    let resp = read_incident(
        &app,
        &h.hana,
        &incident_id,
        "description immediateActions findings statusReason patient { nhsNumber }",
    )
    .await;
    let read = &resp.assert_ok()["incident"];
    assert!(read["immediateActions"].is_null(), "{resp}");
    assert!(read["findings"].is_null(), "{resp}");
    assert!(read["statusReason"].is_null(), "{resp}");
    assert!(read["patient"].is_null(), "{resp}");

    let events = events_of(&app, &resp).await;
    assert_eq!(
        fields(only_event_about(&events, &incident_id)),
        strs(&["description"])
    );
}

#[tokio::test]
async fn the_reason_an_incident_was_declined_is_logged_when_read_and_not_shown_on_a_receipt() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    // Free text that names a patient, as a decline reason may.
    let reason = "Not an incident: Mrs Quillfeather's fall was seen on the ward round";
    logs::register(reason);
    let incident = report(&app, &h.alice, incident_input(&h.cardiology)).await;
    let incident_id = id(&incident);
    app.transition_because(&h.hana, &incident, "DECLINED", reason)
        .await;

    // The handler and the named reporter read it, and each read is on record.
    for (who, token, label) in [
        ("handler", &h.hana, "hana"),
        ("named reporter", &h.alice, "alice"),
    ] {
        let resp = read_incident(&app, token, &incident_id, "status statusReason").await;
        let read = &resp.assert_ok()["incident"];
        assert_eq!(read["status"], "DECLINED", "{who}");
        assert_eq!(read["statusReason"], reason, "{who}");
        let events = events_of(&app, &resp).await;
        let event = only_event_about(&events, &incident_id);
        assert_eq!(fields(event), strs(&["statusReason"]), "{who}");
        assert_eq!(event["actorLabel"], label, "{who}");
    }

    // An anonymous report's receipt (here, handed back again for its idempotency key once
    // the report was declined) shows the status but not the reason, and records no read.
    let key = uuid::Uuid::new_v4().to_string();
    let anonymous = with(
        incident_input(&h.cardiology),
        json!({ "anonymous": true, "idempotencyKey": key }),
    );
    let receipt = report(&app, &h.bob, anonymous.clone()).await;
    app.transition_because(&h.hana, &receipt, "DECLINED", reason)
        .await;
    let again = app
        .gql(
            Some(&h.bob),
            "mutation($input: ReportIncidentInput!) {
               reportIncident(input: $input) { incident { id status statusReason } } }",
            json!({ "input": anonymous }),
        )
        .await;
    let shown = &again.assert_ok()["reportIncident"]["incident"];
    assert_eq!(shown["id"], id(&receipt).as_str(), "{again}");
    assert_eq!(shown["status"], "DECLINED", "{again}");
    assert!(shown["statusReason"].is_null(), "{again}");
    assert_eq!(events_of(&app, &again).await, Vec::<Value>::new());
}

#[tokio::test]
async fn reading_only_non_sensitive_fields_writes_nothing() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = report(&app, &h.alice, report_with_patient(&h.cardiology, NHS)).await;
    let incident_id = id(&incident);

    let one = read_incident(
        &app,
        &h.hana,
        &incident_id,
        "reference title status handler { name }",
    )
    .await;
    one.assert_ok();
    let list = app.list_incidents(&h.hana, json!({ "first": 10 })).await;
    list.assert_ok();
    let by_reference = app
        .gql(
            Some(&h.quinn),
            "query($r: String!) { incidentByReference(reference: $r) { id title status } }",
            json!({ "r": incident["reference"] }),
        )
        .await;
    by_reference.assert_ok();

    assert_eq!(access_log(&app, json!({})).await, Vec::<Value>::new());

    // And the log does record a sensitive read in the same setting.
    let sensitive = read_incident(&app, &h.hana, &incident_id, "description").await;
    sensitive.assert_ok();
    assert_eq!(access_log(&app, json!({})).await.len(), 1);
}

#[tokio::test]
async fn the_request_id_of_the_reading_request_is_kept_with_its_event() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = report(&app, &h.alice, incident_input(&h.cardiology)).await;
    let incident_id = id(&incident);

    let first = read_incident(&app, &h.hana, &incident_id, "description").await;
    first.assert_ok();
    let second = read_incident(&app, &h.hana, &incident_id, "description").await;
    second.assert_ok();

    let log = access_log(&app, json!({ "recordId": incident_id })).await;
    assert_eq!(log.len(), 2, "one event per request: {}", pretty(&log));
    // Newest first.
    assert_eq!(log[0]["requestId"], second.request_id().as_str());
    assert_eq!(log[1]["requestId"], first.request_id().as_str());
    assert_ne!(first.request_id(), second.request_id());
}

#[tokio::test]
async fn every_path_to_an_incident_logs_its_reads() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = report(&app, &h.alice, report_with_patient(&h.cardiology, NHS)).await;
    let incident_id = id(&incident);
    let reference = incident["reference"].as_str().unwrap().to_string();

    let paths = [
        (
            "incident(id)",
            "query($id: ID!) { incident(id: $id) { id description } }",
            json!({ "id": incident_id }),
            vec!["description"],
        ),
        (
            "incidentByReference",
            "query($ref: String!) { incidentByReference(reference: $ref) { id patient { name } } }",
            json!({ "ref": reference }),
            vec!["patient"],
        ),
        (
            "node(id)",
            "query($id: ID!) { node(id: $id) { ... on Incident { id immediateActions reporter { name } } } }",
            json!({ "id": incident_id }),
            vec!["immediateActions", "reporter"],
        ),
        (
            "incidents list",
            "{ incidents(first: 10) { edges { node { id comments { body } } } } }",
            json!({}),
            vec!["comments"],
        ),
    ];
    for (path, query, variables, expected) in paths {
        let resp = app.gql(Some(&h.hana), query, variables).await;
        resp.assert_ok();
        let events = events_of(&app, &resp).await;
        assert_eq!(events.len(), 1, "{path}: {}", pretty(&events));
        assert_eq!(
            fields(only_event_about(&events, &incident_id)),
            strs(&expected),
            "{path}"
        );
    }

    // A GET request reads just the same.
    let get = app
        .get_graphql(
            Some(&h.hana),
            GRAPHQL_RESPONSE_JSON,
            &[(
                "query",
                &format!("{{ incident(id: \"{incident_id}\") {{ id findings description }} }}"),
            )],
        )
        .await;
    assert!(
        get.assert_ok()["incident"]["description"].is_string(),
        "{get}"
    );
    let events = events_of(&app, &get).await;
    assert_eq!(
        fields(only_event_about(&events, &incident_id)),
        strs(&["description"]),
        "GET"
    );

    // So does a mutation's payload.
    let triaged = app
        .gql(
            Some(&h.hana),
            "mutation($input: TriageIncidentInput!) {
               triageIncident(input: $input) { incident { id findings patient { nhsNumber } } }
             }",
            json!({ "input": {
                "incidentId": incident_id, "expectedVersion": incident["version"],
                "findings": "Rails were not raised at handover.",
            } }),
        )
        .await;
    triaged.assert_ok();
    let events = events_of(&app, &triaged).await;
    assert_eq!(
        fields(only_event_about(&events, &incident_id)),
        strs(&["findings", "patient"]),
        "mutation payload"
    );
}

#[tokio::test]
async fn a_service_accounts_reads_are_logged_under_its_label_and_scopes() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = report(&app, &h.alice, report_with_patient(&h.cardiology, NHS)).await;
    let service = app.service(&["incidents:read"]);

    let resp = read_incident(
        &app,
        &service,
        &id(&incident),
        "description patient { nhsNumber }",
    )
    .await;
    assert_eq!(resp.assert_ok()["incident"]["patient"]["nhsNumber"], NHS);

    let events = events_of(&app, &resp).await;
    let event = only_event_about(&events, &id(&incident));
    assert_eq!(fields(event), strs(&["description", "patient"]));
    assert_eq!(event["actorLabel"], "service:svc-integration");
    assert!(
        event["actor"].is_null(),
        "a service account is no staff member: {event}"
    );
    assert!(
        event["actorRoles"]
            .as_str()
            .is_some_and(|r| r.contains("incidents:read")),
        "{event}"
    );
}

#[tokio::test]
async fn one_request_reading_a_record_by_several_paths_writes_one_event_with_every_field() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = report(&app, &h.alice, report_with_patient(&h.cardiology, NHS)).await;
    let incident_id = id(&incident);

    let resp = app
        .gql(
            Some(&h.hana),
            "query($id: ID!, $ref: String!) {
               a: incident(id: $id) { description }
               b: incident(id: $id) { description patient { nhsNumber } }
               c: incidentByReference(reference: $ref) { reporter { name } }
               d: node(id: $id) { ... on Incident { immediateActions } }
               e: incidents(first: 5) { edges { node { id description } } }
             }",
            json!({ "id": incident_id, "ref": incident["reference"] }),
        )
        .await;
    resp.assert_ok();

    let events = events_of(&app, &resp).await;
    assert_eq!(events.len(), 1, "{}", pretty(&events));
    assert_eq!(
        fields(only_event_about(&events, &incident_id)),
        strs(&["description", "immediateActions", "patient", "reporter"])
    );
}

#[tokio::test]
async fn a_batch_of_operations_in_one_post_writes_one_event_per_record() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let first = report(&app, &h.alice, report_with_patient(&h.cardiology, NHS)).await;
    let second = report(&app, &h.bob, incident_input(&h.cardiology)).await;

    let resp = app
        .post_graphql(
            Some(&h.hana),
            &json!([
                {
                    "query": "query($id: ID!) { incident(id: $id) { description } }",
                    "variables": { "id": id(&first) },
                },
                {
                    "query": "query($id: ID!) { incident(id: $id) { patient { name } } }",
                    "variables": { "id": id(&first) },
                },
                {
                    "query": "query($id: ID!) { node(id: $id) { ... on Incident { reporter { name } } } }",
                    "variables": { "id": id(&second) },
                },
            ]),
        )
        .await;
    assert_eq!(resp.status, 200, "{resp}");
    let answers = resp.body.as_array().unwrap_or_else(|| panic!("{resp}"));
    assert_eq!(answers.len(), 3, "{resp}");
    assert!(answers.iter().all(|a| a.get("errors").is_none()), "{resp}");

    let events = events_of(&app, &resp).await;
    assert_eq!(events.len(), 2, "{}", pretty(&events));
    assert_eq!(
        fields(only_event_about(&events, &id(&first))),
        strs(&["description", "patient"])
    );
    assert_eq!(
        fields(only_event_about(&events, &id(&second))),
        strs(&["reporter"])
    );
}

#[tokio::test]
async fn reads_through_a_duplicate_link_are_logged_against_the_original() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let original = report(&app, &h.alice, report_with_patient(&h.cardiology, NHS)).await;
    let duplicate = report(&app, &h.bob, incident_input(&h.cardiology)).await;
    let declined = app
        .gql(
            Some(&h.hana),
            "mutation($input: TransitionIncidentInput!) { transitionIncident(input: $input) { incident { id status } } }",
            json!({ "input": {
                "incidentId": id(&duplicate), "expectedVersion": duplicate["version"],
                "to": "DECLINED", "reason": "Duplicate report", "duplicateOfId": id(&original),
            } }),
        )
        .await;
    declined.assert_ok();

    let resp = read_incident(
        &app,
        &h.hana,
        &id(&duplicate),
        "status duplicateOf { id description patient { nhsNumber } }",
    )
    .await;
    let read = &resp.assert_ok()["incident"];
    assert_eq!(read["duplicateOf"]["id"], id(&original).as_str());
    assert_eq!(read["duplicateOf"]["patient"]["nhsNumber"], NHS);

    let events = events_of(&app, &resp).await;
    assert_eq!(
        events.len(),
        1,
        "only the original was read: {}",
        pretty(&events)
    );
    assert_eq!(
        fields(only_event_about(&events, &id(&original))),
        strs(&["description", "patient"])
    );
}

#[tokio::test]
async fn a_corrective_action_and_the_incident_it_came_from_are_logged_when_read_together() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = report(&app, &h.alice, incident_input(&h.cardiology)).await;
    let action = app
        .create_corrective_action(
            &h.hana,
            corrective_action_input(&id(&incident), "hana@candour.test"),
        )
        .await;

    let resp = app
        .gql(
            Some(&h.hana),
            "query($id: ID!) { node(id: $id) { ... on CorrectiveAction {
               id description source { ... on Incident { id description } }
             } } }",
            json!({ "id": id(&action) }),
        )
        .await;
    let node = &resp.assert_ok()["node"];
    assert_eq!(
        node["description"],
        "Add trolley rails to the handover checklist and audit it weekly."
    );
    assert_eq!(node["source"]["id"], id(&incident).as_str());
    assert!(node["source"]["description"].is_string(), "{resp}");

    let events = events_of(&app, &resp).await;
    assert_eq!(events.len(), 2, "{}", pretty(&events));
    let action_event = only_event_about(&events, &id(&action));
    assert_eq!(action_event["recordType"], "CorrectiveAction");
    assert_eq!(fields(action_event), strs(&["description"]));
    let incident_event = only_event_about(&events, &id(&incident));
    assert_eq!(incident_event["recordType"], "Incident");
    assert_eq!(fields(incident_event), strs(&["description"]));
}

#[tokio::test]
async fn a_handler_listing_three_incidents_writes_exactly_three_events() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let with_patient_1 = report(&app, &h.alice, report_with_patient(&h.cardiology, NHS)).await;
    let without_patient = report(&app, &h.alice, incident_input(&h.cardiology)).await;
    let with_patient_2 = report(&app, &h.bob, report_with_patient(&h.cardiology, OTHER_NHS)).await;
    // Not hana's department: neither listed nor logged.
    let elsewhere = report(&app, &h.bob, report_with_patient(&h.neurology, NHS)).await;
    let hana_id = app.staff_id(&h.hana).await;

    let resp = app
        .gql(
            Some(&h.hana),
            "{ incidents(first: 10) { edges { node { id description patient { nhsNumber } } } } }",
            json!({}),
        )
        .await;
    let listed = node_ids(&resp.assert_ok()["incidents"]);
    assert_eq!(listed.len(), 3, "{resp}");

    let events = events_of(&app, &resp).await;
    assert_eq!(events.len(), 3, "{}", pretty(&events));
    for (incident, expected) in [
        (&with_patient_1, vec!["description", "patient"]),
        (&without_patient, vec!["description"]),
        (&with_patient_2, vec!["description", "patient"]),
    ] {
        let event = only_event_about(&events, &id(incident));
        assert_eq!(fields(event), strs(&expected), "{event}");
        assert_eq!(event["actorLabel"], "hana");
        assert_eq!(event["actor"]["id"], hana_id.as_str());
        assert_eq!(event["recordType"], "Incident");
    }
    assert!(about(&events, &id(&elsewhere)).is_empty());
}

#[tokio::test]
async fn a_list_page_of_fifty_writes_its_access_events_in_one_statement() {
    let app = spawn_app_with(|s| s.diagnostics.sql_statement_count = true).await;
    let h = app.hospital().await;
    for _ in 0..50 {
        report(&app, &h.alice, incident_input(&h.cardiology)).await;
    }
    // Hana is known to the server before anything is measured.
    app.staff_id(&h.hana).await;

    let statements = |selection: &'static str, first: i64| {
        let app = &app;
        let token = h.hana.clone();
        async move {
            let resp = app
                .gql(
                    Some(&token),
                    &format!(
                        "query($first: Int) {{ incidents(first: $first) {{ edges {{ node {{ {selection} }} }} }} }}"
                    ),
                    json!({ "first": first }),
                )
                .await;
            let listed = node_ids(&resp.assert_ok()["incidents"]);
            assert_eq!(listed.len() as i64, first, "{resp}");
            let count: i64 = resp
                .header("x-sql-statements")
                .unwrap_or_else(|| panic!("no x-sql-statements header: {resp:?}"))
                .parse()
                .expect("x-sql-statements is a number");
            (count, resp)
        }
    };

    let (plain_5, _) = statements("id title", 5).await;
    let (logged_5, resp_5) = statements("id title description", 5).await;
    let (plain_50, _) = statements("id title", 50).await;
    let (logged_50, resp_50) = statements("id title description", 50).await;

    let extra_5 = logged_5 - plain_5;
    let extra_50 = logged_50 - plain_50;
    assert!(
        (1..=2).contains(&extra_50),
        "logging a page of 50 reads costs the access-log INSERT (and at most a staff upsert), \
         not one write per row: {plain_50} statements without description, {logged_50} with"
    );
    assert_eq!(
        extra_5, extra_50,
        "the cost of logging does not grow with the page: 5 rows +{extra_5}, 50 rows +{extra_50}"
    );

    assert_eq!(events_of(&app, &resp_5).await.len(), 5);
    let events_50 = events_of(&app, &resp_50).await;
    assert_eq!(events_50.len(), 50);
    assert!(events_50
        .iter()
        .all(|e| fields(e) == strs(&["description"]) && e["actorLabel"] == "hana"));
    assert_eq!(
        access_log(&app, json!({})).await.len(),
        55,
        "the pages without description logged nothing"
    );
}

#[tokio::test]
async fn the_stated_purpose_is_kept_with_every_event_of_the_request() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let first = report(&app, &h.alice, incident_input(&h.cardiology)).await;
    let second = report(&app, &h.alice, incident_input(&h.cardiology)).await;
    let purpose = "Complaint response CR-2026-017";

    let resp = app
        .gql_with_headers(
            Some(&h.hana),
            "{ incidents(first: 10) { edges { node { id description } } } }",
            json!({}),
            &[("X-Access-Purpose", purpose)],
        )
        .await;
    resp.assert_ok();

    let events = events_of(&app, &resp).await;
    assert_eq!(events.len(), 2, "{}", pretty(&events));
    for incident in [&first, &second] {
        assert_eq!(only_event_about(&events, &id(incident))["purpose"], purpose);
    }

    // Exactly 200 characters is still a purpose.
    let longest = "p".repeat(200);
    let resp = app
        .gql_with_headers(
            Some(&h.hana),
            "query($id: ID!) { incident(id: $id) { description } }",
            json!({ "id": id(&first) }),
            &[("X-Access-Purpose", longest.as_str())],
        )
        .await;
    resp.assert_ok();
    let events = events_of(&app, &resp).await;
    assert_eq!(
        only_event_about(&events, &id(&first))["purpose"],
        longest.as_str()
    );
}

#[tokio::test]
async fn a_purpose_that_is_too_long_or_not_plain_text_is_refused_with_400_and_nothing_is_read() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = report(&app, &h.alice, incident_input(&h.cardiology)).await;

    for (what, purpose) in [
        ("201 characters", "p".repeat(201)),
        ("a control character", "complaint\tresponse".to_string()),
    ] {
        let resp = app
            .gql_with_headers(
                Some(&h.hana),
                "query($id: ID!) { incident(id: $id) { description } }",
                json!({ "id": id(&incident) }),
                &[("X-Access-Purpose", purpose.as_str())],
            )
            .await;
        assert_eq!(resp.status, 400, "{what}: {resp}");
        resp.assert_error("BAD_USER_INPUT", None);
        assert!(resp.data().is_null(), "{what}: nothing is answered: {resp}");
    }
    // Bytes that are not UTF-8 are not plain text either.
    let raw = app
        .client
        .post(app.url("/graphql"))
        .header("Content-Type", "application/json")
        .header("Accept", GRAPHQL_RESPONSE_JSON)
        .header(
            "X-Access-Purpose",
            reqwest::header::HeaderValue::from_bytes(b"caf\xe9 visit").expect("obs-text"),
        )
        .bearer_auth(&h.hana)
        .body(
            json!({
                "query": "query($id: ID!) { incident(id: $id) { description } }",
                "variables": { "id": id(&incident) },
            })
            .to_string(),
        )
        .send()
        .await
        .expect("POST /graphql");
    assert_eq!(raw.status().as_u16(), 400);
    let body: Value = raw.json().await.expect("a JSON body");
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{body}"
    );
    assert!(body.get("data").is_none_or(Value::is_null), "{body}");

    assert_eq!(access_log(&app, json!({})).await, Vec::<Value>::new());
}

#[tokio::test]
async fn when_the_access_log_cannot_be_written_sensitive_values_are_withheld() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = report(&app, &h.alice, report_with_patient(&h.cardiology, NHS)).await;

    // Take the access log away from under the server.
    let db = connect(&app).await;
    db.execute_unprepared("ALTER TABLE access_event RENAME TO access_event_gone")
        .await
        .expect("rename the access log table");
    let _ = db.close().await;

    let resp = read_incident(
        &app,
        &h.hana,
        &id(&incident),
        "description patient { nhsNumber name }",
    )
    .await;
    assert_eq!(resp.status, 500, "{resp}");
    resp.assert_error("INTERNAL", None);
    let body = resp.body.to_string();
    for secret in [
        NHS,
        PATIENT_NAME,
        "Patient was left on a trolley with the side rails down and slid off.",
    ] {
        assert!(
            !body.contains(secret),
            "{secret:?} was sent without its read on record: {resp}"
        );
    }

    // What is not sensitive is still answered.
    let plain = read_incident(&app, &h.hana, &id(&incident), "reference status").await;
    assert_eq!(
        plain.assert_ok()["incident"]["reference"],
        incident["reference"]
    );
}

#[tokio::test]
async fn only_an_ig_officer_reads_the_access_log() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = report(&app, &h.alice, incident_input(&h.cardiology)).await;
    read_incident(&app, &h.hana, &id(&incident), "description")
        .await
        .assert_ok();
    let query = "{ accessLog(first: 10) { edges { node { id fields } } } }";

    for (who, token) in [
        ("staff", &h.alice),
        ("a handler", &h.hana),
        ("a quality lead", &h.quinn),
        ("an admin", &h.ada),
        (
            "a service account",
            &app.service(&["incidents:read", "incidents:write", "incidents:manage"]),
        ),
    ] {
        let resp = app.gql(Some(token), query, json!({})).await;
        assert_eq!(
            resp.error_code().as_deref(),
            Some("FORBIDDEN"),
            "{who}: {resp}"
        );
        assert!(
            resp.data().is_null() || resp.data()["accessLog"].is_null(),
            "{who}: {resp}"
        );
    }
    let anonymous = app.gql(None, query, json!({})).await;
    assert_eq!(
        anonymous.error_code().as_deref(),
        Some("UNAUTHENTICATED"),
        "{anonymous}"
    );

    let resp = app.gql(Some(&ig_officer(&app)), query, json!({})).await;
    let edges = resp.assert_ok()["accessLog"]["edges"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(edges.len(), 1, "{resp}");
}

#[tokio::test]
async fn the_access_log_is_newest_first_and_filters_by_reader_record_time_and_page() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let a = report(&app, &h.alice, incident_input(&h.cardiology)).await;
    let b = report(&app, &h.alice, incident_input(&h.cardiology)).await;
    let hana_id = app.staff_id(&h.hana).await;
    let quinn_id = app.staff_id(&h.quinn).await;

    let r1 = read_incident(&app, &h.hana, &id(&a), "description").await;
    r1.assert_ok();
    let r2 = read_incident(&app, &h.quinn, &id(&b), "description").await;
    r2.assert_ok();
    let r3 = read_incident(&app, &h.hana, &id(&b), "description").await;
    r3.assert_ok();

    let request_ids = |events: &[Value]| -> Vec<String> {
        events
            .iter()
            .map(|e| e["requestId"].as_str().unwrap().to_string())
            .collect()
    };
    let all = access_log(&app, json!({})).await;
    assert_eq!(
        request_ids(&all),
        vec![r3.request_id(), r2.request_id(), r1.request_id()],
        "newest first"
    );

    let by_hana = access_log(&app, json!({ "actorId": hana_id })).await;
    assert_eq!(
        request_ids(&by_hana),
        vec![r3.request_id(), r1.request_id()]
    );
    let by_quinn = access_log(&app, json!({ "actorId": quinn_id })).await;
    assert_eq!(request_ids(&by_quinn), vec![r2.request_id()]);

    let of_b = access_log(&app, json!({ "recordId": id(&b) })).await;
    assert_eq!(request_ids(&of_b), vec![r3.request_id(), r2.request_id()]);
    let hana_on_b = access_log(&app, json!({ "recordId": id(&b), "actorId": hana_id })).await;
    assert_eq!(request_ids(&hana_on_b), vec![r3.request_id()]);

    // `after` is inclusive, `before` exclusive.
    let second_at = all[1]["at"].clone();
    assert!(
        parse_time(&all[2]["at"]) < parse_time(&second_at),
        "{}",
        pretty(&all)
    );
    let from_second = access_log(&app, json!({ "after": second_at })).await;
    assert_eq!(
        request_ids(&from_second),
        vec![r3.request_id(), r2.request_id()]
    );
    let before_second = access_log(&app, json!({ "before": second_at })).await;
    assert_eq!(request_ids(&before_second), vec![r1.request_id()]);

    // One page at a time.
    let page = |after: Option<String>| {
        let app = &app;
        async move {
            let resp = app
                .gql(
                    Some(&ig_officer(app)),
                    "query($after: String) { accessLog(first: 2, after: $after) {
                       edges { cursor node { requestId } }
                       pageInfo { hasNextPage endCursor }
                     } }",
                    json!({ "after": after }),
                )
                .await;
            resp.assert_ok();
            resp.data()["accessLog"].clone()
        }
    };
    let first_page = page(None).await;
    assert_eq!(first_page["pageInfo"]["hasNextPage"], true);
    assert_eq!(first_page["edges"].as_array().unwrap().len(), 2);
    let second_page = page(
        first_page["pageInfo"]["endCursor"]
            .as_str()
            .map(String::from),
    )
    .await;
    assert_eq!(second_page["pageInfo"]["hasNextPage"], false);
    let rest = second_page["edges"].as_array().unwrap();
    assert_eq!(rest.len(), 1, "{second_page}");
    assert_eq!(rest[0]["node"]["requestId"], r1.request_id().as_str());
}

// ---------------------------------------------------------------------------------------------
// Redaction
// ---------------------------------------------------------------------------------------------

const EVERY_SENSITIVE_FIELD: &str = "description immediateActions findings
  patient { nhsNumber name dateOfBirth } reporter { name } comments { body }";

#[tokio::test]
async fn the_departments_handler_and_the_quality_lead_read_every_sensitive_field() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = report(&app, &h.alice, report_with_patient(&h.cardiology, NHS)).await;
    let triaged = app
        .gql(
            Some(&h.hana),
            "mutation($input: TriageIncidentInput!) { triageIncident(input: $input) { incident { id version } } }",
            json!({ "input": {
                "incidentId": id(&incident), "expectedVersion": incident["version"],
                "findings": "Rails were not raised at handover.",
            } }),
        )
        .await;
    triaged.assert_ok();
    app.comment(&h.hana, &id(&incident), "Spoke to the night team.")
        .await;

    for (who, token) in [("handler", &h.hana), ("quality lead", &h.quinn)] {
        let resp = read_incident(&app, token, &id(&incident), EVERY_SENSITIVE_FIELD).await;
        let read = &resp.assert_ok()["incident"];
        assert!(read["description"].is_string(), "{who}: {resp}");
        assert!(read["immediateActions"].is_string(), "{who}: {resp}");
        assert_eq!(
            read["findings"], "Rails were not raised at handover.",
            "{who}"
        );
        assert_eq!(read["patient"]["nhsNumber"], NHS, "{who}");
        assert_eq!(read["patient"]["name"], PATIENT_NAME, "{who}");
        assert_eq!(read["patient"]["dateOfBirth"], PATIENT_DOB, "{who}");
        assert_eq!(read["reporter"]["name"], "Alice Test", "{who}");
        assert_eq!(
            read["comments"][0]["body"], "Spoke to the night team.",
            "{who}"
        );

        let events = events_of(&app, &resp).await;
        assert_eq!(
            fields(only_event_about(&events, &id(&incident))),
            strs(&[
                "comments",
                "description",
                "findings",
                "immediateActions",
                "patient",
                "reporter"
            ]),
            "{who}"
        );
    }
}

#[tokio::test]
async fn the_named_reporter_reads_their_own_words_but_not_the_patient() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = report(&app, &h.alice, report_with_patient(&h.cardiology, NHS)).await;
    let triaged = app
        .gql(
            Some(&h.hana),
            "mutation($input: TriageIncidentInput!) { triageIncident(input: $input) { incident { id } } }",
            json!({ "input": {
                "incidentId": id(&incident), "expectedVersion": incident["version"],
                "findings": "Rails were not raised at handover.",
            } }),
        )
        .await;
    triaged.assert_ok();
    app.comment(&h.hana, &id(&incident), "Spoke to the night team.")
        .await;

    let resp = read_incident(&app, &h.alice, &id(&incident), EVERY_SENSITIVE_FIELD).await;
    let read = &resp.assert_ok()["incident"];
    assert_eq!(
        read["description"],
        "Patient was left on a trolley with the side rails down and slid off."
    );
    assert_eq!(
        read["immediateActions"],
        "Patient checked by the ward doctor; no injury found."
    );
    assert_eq!(read["reporter"]["name"], "Alice Test");
    assert!(read["patient"].is_null(), "no need for the patient: {resp}");
    assert!(read["findings"].is_null(), "{resp}");
    assert!(read["comments"].is_null(), "{resp}");

    let events = events_of(&app, &resp).await;
    let event = only_event_about(&events, &id(&incident));
    assert_eq!(
        fields(event),
        strs(&["description", "immediateActions", "reporter"]),
        "what was withheld was not read"
    );
    assert_eq!(event["actorLabel"], "alice");
}

#[tokio::test]
async fn an_anonymous_reports_receipt_shows_nothing_sensitive_and_logs_no_read() {
    let app = spawn_app().await;
    let h = app.hospital().await;

    let resp = app
        .gql(
            Some(&h.bob),
            "mutation($input: ReportIncidentInput!) { reportIncident(input: $input) {
               followUpCode
               incident { id reference title status anonymous description immediateActions
                          patient { nhsNumber name dateOfBirth } reporter { id name email }
                          findings comments { body } }
             } }",
            json!({ "input": with(report_with_patient(&h.cardiology, NHS), json!({ "anonymous": true })) }),
        )
        .await;
    let payload = &resp.assert_ok()["reportIncident"];
    let receipt = &payload["incident"];
    assert_eq!(receipt["anonymous"], true);
    assert_eq!(receipt["status"], "REPORTED");
    for field in [
        "description",
        "immediateActions",
        "patient",
        "reporter",
        "findings",
        "comments",
    ] {
        assert!(
            receipt[field].is_null(),
            "{field} is shown on the receipt: {resp}"
        );
    }
    assert!(payload["followUpCode"].is_string(), "{resp}");

    assert_eq!(access_log(&app, json!({})).await, Vec::<Value>::new());

    // The handler still reads the report, with no reporter to name.
    let read = read_incident(
        &app,
        &h.hana,
        &id(receipt),
        "description reporter { name } patient { nhsNumber }",
    )
    .await;
    let incident = &read.assert_ok()["incident"];
    assert!(incident["description"].is_string(), "{read}");
    assert_eq!(incident["patient"]["nhsNumber"], NHS);
    assert!(incident["reporter"].is_null(), "{read}");
    let events = events_of(&app, &read).await;
    assert_eq!(
        fields(only_event_about(&events, &id(receipt))),
        strs(&["description", "patient"]),
        "no reporter, so no reporter read"
    );
}

#[tokio::test]
async fn an_admin_cannot_see_an_incident_at_all() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = report(&app, &h.alice, report_with_patient(&h.cardiology, NHS)).await;

    let direct = read_incident(&app, &h.ada, &id(&incident), "description patient { name }").await;
    direct.assert_error("NOT_FOUND", None);
    assert!(
        direct.data().is_null() || direct.data()["incident"].is_null(),
        "{direct}"
    );
    let by_reference = app
        .gql(
            Some(&h.ada),
            "query($r: String!) { incidentByReference(reference: $r) { id description } }",
            json!({ "r": incident["reference"] }),
        )
        .await;
    by_reference.assert_error("NOT_FOUND", None);
    let node = app
        .gql(
            Some(&h.ada),
            "query($id: ID!) { node(id: $id) { id ... on Incident { description } } }",
            json!({ "id": id(&incident) }),
        )
        .await;
    assert!(node.data()["node"].is_null(), "{node}");
    let list = app
        .gql(
            Some(&h.ada),
            "{ incidents(first: 10) { edges { node { id description } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        node_ids(&list.assert_ok()["incidents"]),
        Vec::<String>::new()
    );

    assert_eq!(access_log(&app, json!({})).await, Vec::<Value>::new());
}

// ---------------------------------------------------------------------------------------------
// Anonymous reporting
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn after_an_anonymous_report_no_table_holds_the_reporters_subject_name_or_email() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let unique = uuid::Uuid::new_v4().simple().to_string();
    let subject = format!("anon-reporter-{unique}");
    let name = format!("Ottoline Fairweather-{}", &unique[..12]);
    let email = format!("ottoline.{}@wards.example", &unique[12..24]);
    let mut spec = TokenSpec::staff(&subject);
    spec.name = Some(name.clone());
    spec.email = Some(email.clone());
    let reporter = app.token(spec);
    // A log line naming the reporter would tie them to the report as surely as a row.
    for value in [&subject, &name, &email] {
        logs::register(value);
    }
    let marker = format!("Syringe driver alarm {}", &unique[24..]);

    let payload = report_payload(
        &app,
        &reporter,
        with(
            report_with_patient(&h.cardiology, NHS),
            json!({ "anonymous": true, "title": marker, "idempotencyKey": format!("form-{unique}") }),
        ),
    )
    .await;
    let code = payload["followUpCode"]
        .as_str()
        .expect("a follow-up code")
        .to_string();
    assert!(
        code.chars().count() >= 32,
        "a follow-up code of {} characters is guessable",
        code.chars().count()
    );
    // Whoever holds the code reads what was fed back: it is kept out of the logs too.
    logs::register(&code);
    // The reporter checks on it later, and the department handles it.
    let follow_up = app
        .gql(
            None,
            "query($c: String!) { followUp(code: $c) { reference status } }",
            json!({ "c": code }),
        )
        .await;
    follow_up.assert_ok();
    app.incident_full(&h.hana, &id(&payload["incident"])).await;
    app.comment(&h.hana, &id(&payload["incident"]), "Pump sent to EBME.")
        .await;

    let rows = every_row_as_text(&app).await;
    let tables: BTreeSet<&str> = rows.iter().map(|(t, _)| t.as_str()).collect();
    for expected in ["incident", "staff", "trail_event", "access_event"] {
        assert!(
            tables.contains(expected),
            "no rows read from {expected}: {tables:?}"
        );
    }
    // The scan does see what the report stored...
    assert!(
        rows.iter()
            .any(|(t, r)| t == "incident" && r.contains(&marker)),
        "the scan did not find the report's title in the incident table"
    );
    // ...and nothing of who made it, nor the follow-up code (kept only as its hash).
    for needle in [&subject, &name, &email, &reporter, &code] {
        let needle = needle.to_lowercase();
        let found: Vec<&(String, String)> = rows
            .iter()
            .filter(|(_, r)| r.to_lowercase().contains(&needle))
            .collect();
        assert!(
            found.is_empty(),
            "the anonymous reporter's {needle:?} is stored: {found:#?}"
        );
    }
}

#[tokio::test]
async fn a_known_reporters_staff_record_is_untouched_by_their_anonymous_report() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    // Olwen has used Candour before under her old surname, so she has a staff record.
    let mut before = TokenSpec::staff("olwen");
    before.name = Some("Olwen Marchbank".into());
    before.email = Some("olwen.marchbank@wards.example".into());
    let old_token = app.token(before);
    app.gql(Some(&old_token), "{ me { subject } }", json!({}))
        .await
        .assert_ok();
    let staff_rows = |rows: Vec<(String, String)>| -> Vec<String> {
        rows.into_iter()
            .filter(|(t, r)| t == "staff" && r.contains("olwen"))
            .map(|(_, r)| r)
            .collect()
    };
    let stored_before = staff_rows(every_row_as_text(&app).await);
    assert_eq!(stored_before.len(), 1, "{stored_before:?}");

    // Her token now carries a new name: any request that named her would update the record
    // at once (the claims changed), so an untouched record shows that nothing did.
    let mut after = TokenSpec::staff("olwen");
    after.name = Some("Olwen Tregarthen".into());
    after.email = Some("olwen.tregarthen@wards.example".into());
    let new_token = app.token(after);
    // Only this anonymous report carries her new name and email: no log line may hold them.
    // (Her subject, "olwen", is too short to register and is hers in named requests too.)
    logs::register("Olwen Tregarthen");
    logs::register("olwen.tregarthen@wards.example");
    let payload = report_payload(
        &app,
        &new_token,
        with(
            incident_input(&h.cardiology),
            json!({ "anonymous": true, "idempotencyKey": uuid::Uuid::new_v4().to_string() }),
        ),
    )
    .await;
    assert!(payload["followUpCode"].is_string(), "{payload}");

    let rows = every_row_as_text(&app).await;
    assert_eq!(
        staff_rows(rows.clone()),
        stored_before,
        "the anonymous report touched her staff record"
    );
    for needle in ["tregarthen", "Tregarthen"] {
        let found: Vec<&(String, String)> =
            rows.iter().filter(|(_, r)| r.contains(needle)).collect();
        assert!(found.is_empty(), "{needle} is stored: {found:#?}");
    }
}

#[tokio::test]
async fn staff_records_keep_the_day_people_were_seen_not_the_time() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    app.gql(Some(&h.alice), "{ me { subject } }", json!({}))
        .await
        .assert_ok();
    let db = connect(&app).await;
    let rows = db
        .query_all(Statement::from_string(
            db.get_database_backend(),
            "SELECT first_seen_at, last_seen_at FROM staff",
        ))
        .await
        .unwrap();
    assert!(!rows.is_empty());
    for r in rows {
        for column in ["first_seen_at", "last_seen_at"] {
            let t: chrono::DateTime<Utc> = r.try_get("", column).unwrap();
            assert_eq!(
                t.time(),
                chrono::NaiveTime::MIN,
                "{column} {t} holds a time of day"
            );
            assert!(Utc::now() - t < Duration::days(2), "{column} {t}");
        }
    }
    db.close().await.ok();
}

#[tokio::test]
async fn an_anonymous_report_is_refused_unless_it_is_alone_in_its_request() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let anonymous = with(
        incident_input(&h.cardiology),
        json!({ "anonymous": true, "title": "Anonymous report sent with company" }),
    );

    // In a batch, beside a read that would be logged under the reporter's name.
    let batch = app
        .post_graphql(
            Some(&h.bob),
            &json!([
                { "query": REPORT, "variables": { "input": anonymous } },
                { "query": "{ me { subject } }" },
            ]),
        )
        .await;
    assert_eq!(batch.status, 200, "{}", batch.body);
    let first = &batch.body[0];
    assert_eq!(
        first["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{first}"
    );
    assert_eq!(
        first["errors"][0]["extensions"]["field"], "anonymous",
        "{first}"
    );
    assert!(
        first["data"].is_null() || first["data"]["reportIncident"].is_null(),
        "{first}"
    );

    // In one operation beside another field.
    let two = app
        .gql(
            Some(&h.bob),
            "mutation($a: ReportIncidentInput!, $b: ReportIncidentInput!) {
               a: reportIncident(input: $a) { followUpCode }
               b: reportIncident(input: $b) { incident { id } } }",
            json!({ "a": anonymous, "b": incident_input(&h.cardiology) }),
        )
        .await;
    let errors = two.errors();
    assert!(
        errors.iter().any(|e| e["path"][0] == "a"
            && e["extensions"]["code"] == "BAD_USER_INPUT"
            && e["extensions"]["field"] == "anonymous"),
        "{}",
        two.body
    );

    // A guessable idempotency key would hand the receipt to whoever guessed it.
    app.gql(
        Some(&h.bob),
        REPORT,
        json!({ "input": with(anonymous.clone(), json!({ "idempotencyKey": "form-1" })) }),
    )
    .await
    .assert_error("BAD_USER_INPUT", Some("idempotencyKey"));

    // None of those made an anonymous incident; alone, it is taken.
    let titles = |resp: GqlResponse| -> Vec<String> {
        resp.assert_ok()["incidents"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["title"].as_str().unwrap().to_string())
            .collect()
    };
    let listed = titles(app.list_incidents(&h.quinn, json!({ "first": 50 })).await);
    assert!(
        !listed
            .iter()
            .any(|t| t == "Anonymous report sent with company"),
        "{listed:?}"
    );
    let alone = report_payload(&app, &h.bob, anonymous).await;
    assert!(alone["followUpCode"].is_string(), "{alone}");
}

#[tokio::test]
async fn the_trail_keeps_no_free_text_and_reporters_do_not_read_it() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let marker = |what: &str| {
        format!(
            "{what} Wilberforce-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        )
    };
    let (title, findings, learning, feedback, reason, note, action_title) = (
        marker("title"),
        marker("findings"),
        marker("learning"),
        marker("feedback"),
        marker("reason"),
        marker("note"),
        marker("action"),
    );
    let incident = report(
        &app,
        &h.alice,
        with(incident_input(&h.cardiology), json!({ "title": title })),
    )
    .await;
    let triaged = app
        .triage(
            &h.hana,
            &incident,
            json!({ "findings": findings, "learningSummary": learning, "feedbackToReporter": feedback }),
        )
        .await;
    let action = app
        .create_corrective_action(
            &h.hana,
            with(
                corrective_action_input(&id(&triaged), "owner@trust.example"),
                json!({ "title": action_title }),
            ),
        )
        .await;
    app.update_action(&h.hana, &action, json!({ "note": note }))
        .await;
    app.transition_because(&h.hana, &triaged, "DECLINED", &reason)
        .await;

    let rows = every_row_as_text(&app).await;
    for text in [
        &title,
        &findings,
        &learning,
        &feedback,
        &reason,
        &note,
        &action_title,
    ] {
        let in_trail: Vec<&(String, String)> = rows
            .iter()
            .filter(|(t, r)| t == "trail_event" && r.contains(text.as_str()))
            .collect();
        assert!(in_trail.is_empty(), "{text} is in the trail: {in_trail:#?}");
        assert!(
            rows.iter().any(|(_, r)| r.contains(text.as_str())),
            "the scan did not find {text} where it belongs"
        );
    }

    // The handler sees that the words changed, without them.
    let history = |token: String| {
        let app = &app;
        let incident_id = id(&incident);
        async move {
            let resp = app
                .gql(
                    Some(&token),
                    "query($id: ID!) { incident(id: $id) { history { action changes { field before after sensitive } } } }",
                    json!({ "id": incident_id }),
                )
                .await;
            resp.assert_ok()["incident"]["history"]
                .as_array()
                .unwrap()
                .clone()
        }
    };
    let handlers = history(h.hana.clone()).await;
    let text_changes: Vec<Value> = handlers
        .iter()
        .flat_map(|e| e["changes"].as_array().cloned().unwrap_or_default())
        .filter(|c| {
            [
                "title",
                "findings",
                "learningSummary",
                "feedbackToReporter",
                "statusReason",
            ]
            .contains(&c["field"].as_str().unwrap_or(""))
        })
        .collect();
    assert_eq!(text_changes.len(), 5, "{}", pretty(&handlers));
    for c in &text_changes {
        assert_eq!(c["sensitive"], true, "{c}");
        assert!(c["before"].is_null() && c["after"].is_null(), "{c}");
    }

    // Its reporter sees the status and feedback, not who reviewed it or how.
    assert_eq!(history(h.alice.clone()).await, Vec::<Value>::new());
}

#[tokio::test]
async fn the_follow_up_code_shows_status_and_learning_without_signing_in() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let payload = report_payload(
        &app,
        &h.bob,
        with(
            report_with_patient(&h.cardiology, NHS),
            json!({ "anonymous": true }),
        ),
    )
    .await;
    let code = payload["followUpCode"]
        .as_str()
        .expect("a follow-up code")
        .to_string();
    let incident = &payload["incident"];
    let triaged = app
        .gql(
            Some(&h.hana),
            "mutation($input: TriageIncidentInput!) { triageIncident(input: $input) { incident { id status } } }",
            json!({ "input": {
                "incidentId": id(incident), "expectedVersion": incident["version"],
                "learningSummary": "Rails are now checked at every handover.",
                "feedbackToReporter": "Thank you: the rails are now on the handover checklist.",
                "findings": "Internal: the night rota was short.",
            } }),
        )
        .await;
    triaged.assert_ok();

    let query = "query($c: String!) { followUp(code: $c) {
      reference status reportedAt closedAt learningSummary feedbackToReporter } }";
    let resp = app.gql(None, query, json!({ "c": code })).await;
    let follow_up = &resp.assert_ok()["followUp"];
    assert_eq!(follow_up["reference"], incident["reference"]);
    assert_eq!(follow_up["status"], "UNDER_REVIEW");
    assert_eq!(
        follow_up["learningSummary"],
        "Rails are now checked at every handover."
    );
    assert_eq!(
        follow_up["feedbackToReporter"],
        "Thank you: the rails are now on the handover checklist."
    );
    assert!(follow_up["closedAt"].is_null(), "{resp}");

    // Status and learning only: nothing else can even be asked for.
    let shape = app
        .gql(
            None,
            r#"{ __type(name: "AnonymousFollowUp") { fields { name } } }"#,
            json!({}),
        )
        .await;
    let names: BTreeSet<String> = shape.assert_ok()["__type"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        names,
        [
            "closedAt",
            "feedbackToReporter",
            "learningSummary",
            "reference",
            "reportedAt",
            "status"
        ]
        .into_iter()
        .map(String::from)
        .collect::<BTreeSet<_>>()
    );
    let description = app
        .gql(
            None,
            "query($c: String!) { followUp(code: $c) { description } }",
            json!({ "c": code }),
        )
        .await;
    assert!(!description.errors().is_empty(), "{description}");

    let unknown = app
        .gql(
            None,
            query,
            json!({ "c": "ABCDEFGHJKMNPQRSTVWXYZ0123456789" }),
        )
        .await;
    assert!(unknown.assert_ok()["followUp"].is_null(), "{unknown}");
    assert_eq!(access_log(&app, json!({})).await, Vec::<Value>::new());
}

#[tokio::test]
async fn the_trail_of_an_anonymous_report_names_no_one_and_no_request() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let resp = app
        .gql(
            Some(&h.bob),
            REPORT,
            json!({ "input": with(incident_input(&h.cardiology), json!({ "anonymous": true })) }),
        )
        .await;
    resp.assert_ok();
    let incident_id = id(&resp.data()["reportIncident"]["incident"]);
    // A named report, for contrast.
    let named = app
        .gql(
            Some(&h.alice),
            REPORT,
            json!({ "input": incident_input(&h.cardiology) }),
        )
        .await;
    named.assert_ok();

    // Not even the reporter can find it again as theirs.
    read_incident(&app, &h.bob, &incident_id, "title")
        .await
        .assert_error("NOT_FOUND", None);
    assert!(!app
        .visible_incident_ids(&h.bob)
        .await
        .contains(&incident_id));

    let history = app.history(&h.hana, &incident_id).await;
    let reported: Vec<&Value> = history
        .iter()
        .filter(|e| e["action"] == "incident.reported")
        .collect();
    assert_eq!(reported.len(), 1, "{}", pretty(&history));
    assert!(reported[0]["actorLabel"].is_null(), "{}", reported[0]);
    assert!(reported[0]["actor"].is_null(), "{}", reported[0]);
    assert!(reported[0]["requestId"].is_null(), "{}", reported[0]);

    let trail = app
        .gql(
            Some(&ig_officer(&app)),
            "query($action: String) { auditTrail(first: 50, filter: { action: $action }) {
               edges { node { entityType action actorLabel actorRoles requestId actor { name } } } } }",
            json!({ "action": "incident.reported" }),
        )
        .await;
    let events: Vec<Value> = trail.assert_ok()["auditTrail"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"].clone())
        .collect();
    assert_eq!(events.len(), 2, "{trail}");
    // Newest first: the named report, then the anonymous one.
    assert_eq!(events[0]["actorLabel"], "alice");
    assert_eq!(events[0]["requestId"], named.request_id().as_str());
    let anonymous = &events[1];
    assert!(anonymous["actorLabel"].is_null(), "{anonymous}");
    assert!(anonymous["actorRoles"].is_null(), "{anonymous}");
    assert!(anonymous["actor"].is_null(), "{anonymous}");
    assert!(anonymous["requestId"].is_null(), "{anonymous}");
    assert!(
        !trail.body.to_string().contains(&resp.request_id()),
        "the anonymous report's request id is in the trail: {trail}"
    );
}

// ---------------------------------------------------------------------------------------------
// Protected identifiers
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn nhs_numbers_are_checked_with_modulus_11_and_never_repeated_in_errors() {
    let app = spawn_app().await;
    let h = app.hospital().await;

    for bad in ["9434765918", "943 476 5918", "12345", "94347659190"] {
        let resp = app
            .gql(
                Some(&h.alice),
                REPORT,
                json!({ "input": report_with_patient(&h.cardiology, bad) }),
            )
            .await;
        resp.assert_error("BAD_USER_INPUT", Some("patient.nhsNumber"));
        let digits: String = bad.chars().filter(|c| c.is_ascii_digit()).collect();
        let body = resp.body.to_string();
        assert!(
            !body.contains(bad) && !body.contains(&digits),
            "the error repeats the number {bad}: {resp}"
        );
    }
    let total = app
        .gql(Some(&h.quinn), "{ incidents { totalCount } }", json!({}))
        .await;
    assert_eq!(total.assert_ok()["incidents"]["totalCount"], 0);

    for good in ["9434765919", "943 476 5919"] {
        let incident = report(&app, &h.alice, report_with_patient(&h.cardiology, good)).await;
        let resp = read_incident(&app, &h.hana, &id(&incident), "patient { nhsNumber }").await;
        assert_eq!(
            resp.assert_ok()["incident"]["patient"]["nhsNumber"],
            NHS,
            "{good}: {resp}"
        );
    }
}

#[tokio::test]
async fn patient_details_are_sealed_at_rest_and_read_in_clear_by_the_handler() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let first = report(&app, &h.alice, report_with_patient(&h.cardiology, NHS)).await;
    let second = report(&app, &h.bob, report_with_patient(&h.cardiology, NHS)).await;
    let reference = first["reference"].as_str().unwrap();

    let stored = stored_patient_columns(&app, reference).await;
    for c in [
        "patient_nhs_sealed",
        "patient_name_sealed",
        "patient_dob_sealed",
    ] {
        let value = column(&stored, c).unwrap_or_else(|| panic!("{c} is empty: {stored:?}"));
        assert!(value.starts_with("v1."), "{c} = {value}");
        for clear in [NHS, PATIENT_NAME, "Quillfeather", PATIENT_DOB, "1950"] {
            assert!(!value.contains(clear), "{c} holds {clear:?}: {value}");
        }
    }
    let hash = column(&stored, "patient_nhs_hash").expect("a look-up hash");
    assert_eq!(hash.len(), 64, "{hash}");
    assert!(hash.chars().all(|c| c.is_ascii_hexdigit()), "{hash}");
    for c in [
        "patient_nhs_number",
        "patient_name",
        "patient_date_of_birth",
    ] {
        assert_eq!(
            column(&stored, c),
            None,
            "plaintext column {c} holds a value"
        );
    }

    // The same patient on another record: the same look-up hash, but sealed afresh.
    let other = stored_patient_columns(&app, second["reference"].as_str().unwrap()).await;
    assert_eq!(column(&other, "patient_nhs_hash"), Some(hash));
    assert_ne!(
        column(&other, "patient_nhs_sealed"),
        column(&stored, "patient_nhs_sealed")
    );

    let resp = read_incident(
        &app,
        &h.hana,
        &id(&first),
        "patient { nhsNumber name dateOfBirth }",
    )
    .await;
    let patient = &resp.assert_ok()["incident"]["patient"];
    assert_eq!(patient["nhsNumber"], NHS);
    assert_eq!(patient["name"], PATIENT_NAME);
    assert_eq!(patient["dateOfBirth"], PATIENT_DOB);
}

// ---------------------------------------------------------------------------------------------
// Subject-access reports
// ---------------------------------------------------------------------------------------------

const SUBJECT_ACCESS_REPORT: &str = "query($nhs: String!) { subjectAccessReport(nhsNumber: $nhs) {
  generatedAt
  incidents { id reference description patient { nhsNumber name dateOfBirth } }
  accesses { id recordType recordId fields actorLabel requestId purpose breakGlass }
} }";

#[tokio::test]
async fn a_subject_access_report_finds_every_record_naming_the_patient_and_every_earlier_read() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let cardiac = report(&app, &h.alice, report_with_patient(&h.cardiology, NHS)).await;
    let neuro = report(
        &app,
        &h.bob,
        report_with_patient(&h.neurology, "943 476 5919"),
    )
    .await;
    let other_patient = report(
        &app,
        &h.alice,
        report_with_patient(&h.cardiology, OTHER_NHS),
    )
    .await;
    let no_patient = report(&app, &h.alice, incident_input(&h.cardiology)).await;

    let hana_reads = app
        .gql_with_headers(
            Some(&h.hana),
            "{ incidents(first: 10) { edges { node { id description } } } }",
            json!({}),
            &[("X-Access-Purpose", "Weekly review")],
        )
        .await;
    hana_reads.assert_ok();
    let nina_reads = read_incident(&app, &h.nina, &id(&neuro), "patient { name }").await;
    nina_reads.assert_ok();

    let resp = app
        .gql_with_headers(
            Some(&ig_officer(&app)),
            SUBJECT_ACCESS_REPORT,
            json!({ "nhs": "943 476 5919" }),
            &[("X-Access-Purpose", "SAR 2026/041")],
        )
        .await;
    let sar = &resp.assert_ok()["subjectAccessReport"];
    let generated_at = parse_time(&sar["generatedAt"]);
    assert!(
        (Utc::now() - generated_at).num_seconds().abs() < 30,
        "{resp}"
    );

    let incidents = sar["incidents"].as_array().unwrap();
    assert_eq!(
        incidents.iter().map(id).collect::<Vec<_>>(),
        vec![id(&cardiac), id(&neuro)],
        "every incident naming the patient, oldest first, and no other: {resp}"
    );
    for incident in incidents {
        assert_eq!(incident["patient"]["nhsNumber"], NHS);
        assert_eq!(incident["patient"]["name"], PATIENT_NAME);
        assert_eq!(incident["patient"]["dateOfBirth"], PATIENT_DOB);
        assert!(incident["description"].is_string(), "{incident}");
    }

    let accesses = sar["accesses"].as_array().unwrap();
    let seen: Vec<(String, String)> = accesses
        .iter()
        .map(|a| {
            (
                a["recordId"].as_str().unwrap().to_string(),
                a["requestId"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected = vec![
        (id(&cardiac), hana_reads.request_id()),
        (id(&neuro), nina_reads.request_id()),
    ];
    assert_eq!(
        seen,
        expected,
        "every earlier read, oldest first: {}",
        pretty(accesses)
    );
    let hana_access = accesses
        .iter()
        .find(|a| a["recordId"] == id(&cardiac).as_str())
        .unwrap();
    assert_eq!(hana_access["actorLabel"], "hana");
    assert_eq!(hana_access["purpose"], "Weekly review");
    assert_eq!(fields(hana_access), strs(&["description"]));
    for unrelated in [&other_patient, &no_patient] {
        assert!(
            accesses
                .iter()
                .all(|a| a["recordId"] != id(unrelated).as_str()),
            "reads of another record are in the report: {}",
            pretty(accesses)
        );
    }
}

#[tokio::test]
async fn producing_a_subject_access_report_is_itself_logged() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let cardiac = report(&app, &h.alice, report_with_patient(&h.cardiology, NHS)).await;
    let neuro = report(&app, &h.bob, report_with_patient(&h.neurology, NHS)).await;
    let other_patient = report(
        &app,
        &h.alice,
        report_with_patient(&h.cardiology, OTHER_NHS),
    )
    .await;
    let other_read = read_incident(&app, &h.hana, &id(&other_patient), "patient { name }").await;
    other_read.assert_ok();

    let resp = app
        .gql_with_headers(
            Some(&ig_officer(&app)),
            SUBJECT_ACCESS_REPORT,
            json!({ "nhs": NHS }),
            &[("X-Access-Purpose", "SAR 2026/041")],
        )
        .await;
    resp.assert_ok();

    let events = events_of(&app, &resp).await;
    assert_eq!(events.len(), 3, "{}", pretty(&events));
    let report_events: Vec<&Value> = events
        .iter()
        .filter(|e| e["recordType"] == "SubjectAccessReport")
        .collect();
    assert_eq!(report_events.len(), 1, "{}", pretty(&events));
    assert_eq!(fields(report_events[0]), strs(&["nhsNumber"]));
    for incident in [&cardiac, &neuro] {
        let event = only_event_about(&events, &id(incident));
        assert_eq!(event["recordType"], "Incident");
        assert_eq!(fields(event), strs(&["description", "patient"]));
    }
    for event in &events {
        assert_eq!(event["actorLabel"], "iggy", "{event}");
        assert_eq!(event["purpose"], "SAR 2026/041", "{event}");
        assert_eq!(event["breakGlass"], false, "{event}");
    }

    // The log finds every read of this patient's records, the report included, and only those.
    let by_patient = access_log(&app, json!({ "nhsNumber": "943 476 5919" })).await;
    let ids: HashSet<String> = by_patient
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    let expected: HashSet<String> = events
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, expected, "{}", pretty(&by_patient));
    let of_other = access_log(&app, json!({ "nhsNumber": OTHER_NHS })).await;
    assert_eq!(of_other.len(), 1, "{}", pretty(&of_other));
    assert_eq!(of_other[0]["requestId"], other_read.request_id().as_str());

    // A second report lists the first one's reads among the earlier accesses.
    let again = app
        .gql(
            Some(&ig_officer(&app)),
            SUBJECT_ACCESS_REPORT,
            json!({ "nhs": NHS }),
        )
        .await;
    let accesses = again.assert_ok()["subjectAccessReport"]["accesses"]
        .as_array()
        .unwrap()
        .clone();
    assert!(
        accesses
            .iter()
            .any(|a| a["requestId"] == resp.request_id().as_str()),
        "{}",
        pretty(&accesses)
    );
}

#[tokio::test]
async fn a_subject_access_report_for_a_patient_with_no_records_is_empty_but_still_logged() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    report(&app, &h.alice, report_with_patient(&h.cardiology, NHS)).await;

    let resp = app
        .gql(
            Some(&ig_officer(&app)),
            SUBJECT_ACCESS_REPORT,
            json!({ "nhs": OTHER_NHS }),
        )
        .await;
    let sar = &resp.assert_ok()["subjectAccessReport"];
    assert_eq!(sar["incidents"], json!([]));
    assert_eq!(sar["accesses"], json!([]));
    let events = events_of(&app, &resp).await;
    assert_eq!(events.len(), 1, "{}", pretty(&events));
    assert_eq!(events[0]["recordType"], "SubjectAccessReport");
}

#[tokio::test]
async fn only_an_ig_officer_produces_a_subject_access_report_for_a_valid_number() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    report(&app, &h.alice, report_with_patient(&h.cardiology, NHS)).await;

    for (who, token) in [
        ("staff", &h.alice),
        ("a handler", &h.hana),
        ("a quality lead", &h.quinn),
        ("an admin", &h.ada),
        (
            "a service account",
            &app.service(&["incidents:read", "incidents:manage"]),
        ),
    ] {
        let resp = app
            .gql(Some(token), SUBJECT_ACCESS_REPORT, json!({ "nhs": NHS }))
            .await;
        assert_eq!(
            resp.error_code().as_deref(),
            Some("FORBIDDEN"),
            "{who}: {resp}"
        );
        assert!(
            resp.data().is_null() || resp.data()["subjectAccessReport"].is_null(),
            "{who}: {resp}"
        );
    }

    let invalid = app
        .gql(
            Some(&ig_officer(&app)),
            SUBJECT_ACCESS_REPORT,
            json!({ "nhs": "9434765918" }),
        )
        .await;
    invalid.assert_error("BAD_USER_INPUT", Some("nhsNumber"));
    assert!(
        !invalid.body.to_string().contains("9434765918"),
        "{invalid}"
    );

    let invalid_filter = app
        .gql(
            Some(&ig_officer(&app)),
            "{ accessLog(first: 5, filter: { nhsNumber: \"9434765918\" }) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    invalid_filter.assert_error("BAD_USER_INPUT", Some("nhsNumber"));

    assert_eq!(access_log(&app, json!({})).await, Vec::<Value>::new());
}

// ---------------------------------------------------------------------------------------------
// Break-glass
// ---------------------------------------------------------------------------------------------

const BREAK_GLASS: &str = "mutation($input: BreakGlassInput!) { breakGlass(input: $input) {
  grant { id incidentId holderLabel justification grantedAt expiresAt active reviewedAt
          incidentReference holder { name } }
  incident { id reference description patient { nhsNumber name } breakGlass }
} }";

const JUSTIFICATION: &str = "Patient transferred to us overnight; need the fall history now";

async fn break_glass(
    app: &TestApp,
    token: &str,
    incident_id: &str,
    justification: &str,
) -> GqlResponse {
    app.gql(
        Some(token),
        BREAK_GLASS,
        json!({ "input": { "incidentId": incident_id, "justification": justification } }),
    )
    .await
}

#[tokio::test]
async fn break_glass_needs_a_justification_of_twenty_characters() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = report(&app, &h.alice, report_with_patient(&h.cardiology, NHS)).await;

    for short in ["", "Need it", "  nineteen chars ok  ", &"x".repeat(19)] {
        let resp = break_glass(&app, &h.nina, &id(&incident), short).await;
        resp.assert_error("BAD_USER_INPUT", Some("justification"));
    }
    read_incident(&app, &h.nina, &id(&incident), "title")
        .await
        .assert_error("NOT_FOUND", None);

    let resp = break_glass(&app, &h.nina, &id(&incident), &"x".repeat(20)).await;
    resp.assert_ok();
}

#[tokio::test]
async fn break_glass_is_refused_to_service_accounts_and_to_those_who_need_none() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = report(&app, &h.alice, report_with_patient(&h.cardiology, NHS)).await;

    let service = break_glass(
        &app,
        &app.service(&["incidents:write"]),
        &id(&incident),
        JUSTIFICATION,
    )
    .await;
    service.assert_error("FORBIDDEN", None);

    for (who, token) in [
        ("the department's handler", &h.hana),
        ("a quality lead", &h.quinn),
    ] {
        let resp = break_glass(&app, token, &id(&incident), JUSTIFICATION).await;
        resp.assert_error("BAD_USER_INPUT", None);
        assert!(
            resp.data().is_null() || resp.data()["breakGlass"].is_null(),
            "{who}: {resp}"
        );
    }

    // A well-formed incident id that only another Candour database knows.
    let elsewhere = spawn_app().await;
    let other = elsewhere.hospital().await;
    let foreign = report(&elsewhere, &other.alice, incident_input(&other.cardiology)).await;
    let unknown = break_glass(&app, &h.nina, &id(&foreign), JUSTIFICATION).await;
    unknown.assert_error("NOT_FOUND", None);

    let grants = app
        .gql(
            Some(&ig_officer(&app)),
            "{ breakGlassGrants(first: 10) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        grants.assert_ok()["breakGlassGrants"]["edges"],
        json!([]),
        "{grants}"
    );
}

#[tokio::test]
async fn break_glass_opens_one_incident_to_its_holder_for_reading_only() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = report(&app, &h.alice, report_with_patient(&h.cardiology, NHS)).await;
    let neighbour = report(&app, &h.alice, report_with_patient(&h.cardiology, NHS)).await;
    let incident_id = id(&incident);
    let before = Utc::now();

    let resp = break_glass(&app, &h.nina, &incident_id, JUSTIFICATION).await;
    let payload = &resp.assert_ok()["breakGlass"];
    let grant = &payload["grant"];
    assert_eq!(grant["incidentId"], incident_id.as_str());
    assert_eq!(grant["holderLabel"], "nina");
    assert_eq!(grant["holder"]["name"], "Nina Test");
    assert_eq!(grant["justification"], JUSTIFICATION);
    assert_eq!(grant["incidentReference"], incident["reference"]);
    assert_eq!(grant["active"], true);
    assert!(grant["reviewedAt"].is_null(), "{grant}");
    let granted_at = parse_time(&grant["grantedAt"]);
    assert!(
        granted_at >= before - Duration::seconds(5)
            && granted_at <= Utc::now() + Duration::seconds(5),
        "{grant}"
    );
    assert_eq!(
        parse_time(&grant["expiresAt"]) - granted_at,
        Duration::minutes(60),
        "the default grant lasts an hour: {grant}"
    );
    let opened = &payload["incident"];
    assert_eq!(opened["breakGlass"], true);
    assert!(opened["description"].is_string(), "{resp}");
    assert_eq!(opened["patient"]["nhsNumber"], NHS);

    // Nina reads it by every path, marked as break-glass.
    let read = read_incident(
        &app,
        &h.nina,
        &incident_id,
        "breakGlass description patient { name }",
    )
    .await;
    let seen = &read.assert_ok()["incident"];
    assert_eq!(seen["breakGlass"], true);
    assert_eq!(seen["patient"]["name"], PATIENT_NAME);
    let by_reference = app
        .gql(
            Some(&h.nina),
            "query($r: String!) { incidentByReference(reference: $r) { id breakGlass } }",
            json!({ "r": incident["reference"] }),
        )
        .await;
    assert_eq!(
        by_reference.assert_ok()["incidentByReference"]["breakGlass"],
        true
    );
    let node = app
        .gql(
            Some(&h.nina),
            "query($id: ID!) { node(id: $id) { ... on Incident { id breakGlass } } }",
            json!({ "id": incident_id }),
        )
        .await;
    assert_eq!(node.assert_ok()["node"]["id"], incident_id.as_str());
    // Not in her lists, and nothing else of the department opens.
    assert!(!app
        .visible_incident_ids(&h.nina)
        .await
        .contains(&incident_id));
    read_incident(&app, &h.nina, &id(&neighbour), "title")
        .await
        .assert_error("NOT_FOUND", None);

    // Other outsiders still cannot see it.
    for (who, token) in [
        ("another neurology handler", app.handler("nell", &["NEUR"])),
        ("staff who did not report it", h.bob.clone()),
        ("an admin", h.ada.clone()),
    ] {
        let resp = read_incident(&app, &token, &incident_id, "title").await;
        assert_eq!(
            resp.error_code().as_deref(),
            Some("NOT_FOUND"),
            "{who}: {resp}"
        );
    }

    // Read-only.
    let triage = app
        .gql(
            Some(&h.nina),
            "mutation($input: TriageIncidentInput!) { triageIncident(input: $input) { incident { id } } }",
            json!({ "input": { "incidentId": incident_id, "expectedVersion": incident["version"], "category": "Falls" } }),
        )
        .await;
    triage.assert_error("FORBIDDEN", None);
    let comment = app
        .try_comment(&h.nina, &incident_id, "Seen under break-glass.")
        .await;
    comment.assert_error("FORBIDDEN", None);
    let unchanged = read_incident(
        &app,
        &h.hana,
        &incident_id,
        "version category comments { body }",
    )
    .await;
    let unchanged = &unchanged.assert_ok()["incident"];
    assert_eq!(unchanged["version"], incident["version"]);
    assert!(unchanged["category"].is_null(), "{unchanged}");
    assert_eq!(unchanged["comments"], json!([]));

    // Every read under the grant is logged as break-glass; nobody else's is.
    let glass = access_log(&app, json!({ "breakGlass": true })).await;
    let glass_requests: HashSet<String> = glass
        .iter()
        .map(|e| e["requestId"].as_str().unwrap().to_string())
        .collect();
    for r in [&resp, &read] {
        assert!(
            glass_requests.contains(&r.request_id()),
            "{}",
            pretty(&glass)
        );
    }
    assert!(
        glass.iter().all(|e| e["actorLabel"] == "nina"
            && e["breakGlass"] == true
            && e["recordId"] == incident_id.as_str()),
        "{}",
        pretty(&glass)
    );
    let read_event = only_event_about(&events_of(&app, &read).await, &incident_id).clone();
    assert_eq!(read_event["breakGlass"], true);
    assert_eq!(fields(&read_event), strs(&["description", "patient"]));
    let ordinary = access_log(&app, json!({ "breakGlass": false })).await;
    assert!(!ordinary.is_empty());
    assert!(
        ordinary.iter().all(|e| e["actorLabel"] != "nina"),
        "{}",
        pretty(&ordinary)
    );

    // The grant is on the incident's record, without the justification's words.
    let history = app.history(&h.hana, &incident_id).await;
    let glass_events: Vec<&Value> = history
        .iter()
        .filter(|e| e["action"] == "incident.break_glass")
        .collect();
    assert_eq!(glass_events.len(), 1, "{}", pretty(&history));
    assert_eq!(glass_events[0]["actorLabel"], "nina");
    assert_eq!(glass_events[0]["requestId"], resp.request_id().as_str());
    assert!(
        !serde_json::to_string(&history)
            .unwrap()
            .contains("overnight"),
        "the justification is copied into the trail: {}",
        pretty(&history)
    );
}

#[tokio::test]
async fn an_ig_officer_reviews_each_break_glass_grant_once() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = report(&app, &h.alice, report_with_patient(&h.cardiology, NHS)).await;
    let opened = break_glass(&app, &h.nina, &id(&incident), JUSTIFICATION).await;
    let grant_id = opened.assert_ok()["breakGlass"]["grant"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let iggy = ig_officer(&app);

    let list = |unreviewed_only: bool| {
        let app = &app;
        let iggy = iggy.clone();
        async move {
            let resp = app
                .gql(
                    Some(&iggy),
                    "query($u: Boolean) { breakGlassGrants(first: 20, unreviewedOnly: $u) {
                       edges { node { id incidentId holderLabel justification active reviewedAt reviewedBy reviewNote } }
                     } }",
                    json!({ "u": unreviewed_only }),
                )
                .await;
            resp.assert_ok()["breakGlassGrants"]["edges"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["node"].clone())
                .collect::<Vec<Value>>()
        }
    };
    let waiting = list(true).await;
    assert_eq!(waiting.len(), 1, "{}", pretty(&waiting));
    assert_eq!(waiting[0]["id"], grant_id.as_str());
    assert_eq!(waiting[0]["incidentId"], id(&incident).as_str());
    assert_eq!(waiting[0]["holderLabel"], "nina");
    assert_eq!(waiting[0]["justification"], JUSTIFICATION);

    let review_query =
        "mutation($input: ReviewBreakGlassInput!) { reviewBreakGlass(input: $input) {
      grant { id reviewedAt reviewedBy reviewNote } } }";
    let note = "Confirmed with the on-call consultant: appropriate.";
    for (who, token) in [
        ("the holder", &h.nina),
        ("a quality lead", &h.quinn),
        ("an admin", &h.ada),
    ] {
        let resp = app
            .gql(
                Some(token),
                review_query,
                json!({ "input": { "grantId": grant_id, "note": note } }),
            )
            .await;
        assert_eq!(
            resp.error_code().as_deref(),
            Some("FORBIDDEN"),
            "{who}: {resp}"
        );
        let listing = app
            .gql(
                Some(token),
                "{ breakGlassGrants(first: 5) { edges { node { id } } } }",
                json!({}),
            )
            .await;
        assert_eq!(
            listing.error_code().as_deref(),
            Some("FORBIDDEN"),
            "{who}: {listing}"
        );
    }

    let before = Utc::now();
    let reviewed = app
        .gql(
            Some(&iggy),
            review_query,
            json!({ "input": { "grantId": grant_id, "note": note } }),
        )
        .await;
    let grant = &reviewed.assert_ok()["reviewBreakGlass"]["grant"];
    assert_eq!(grant["id"], grant_id.as_str());
    assert_eq!(grant["reviewedBy"], "iggy");
    assert_eq!(grant["reviewNote"], note);
    let reviewed_at = parse_time(&grant["reviewedAt"]);
    assert!(reviewed_at >= before - Duration::seconds(5), "{grant}");

    assert_eq!(list(true).await, Vec::<Value>::new());
    let all = list(false).await;
    assert_eq!(all.len(), 1);
    assert_eq!(all[0]["reviewedBy"], "iggy");
    assert_eq!(all[0]["reviewNote"], note);

    let again = app
        .gql(
            Some(&iggy),
            review_query,
            json!({ "input": { "grantId": grant_id, "note": "Second look." } }),
        )
        .await;
    again.assert_error("CONFLICT", None);
    assert_eq!(
        list(false).await[0]["reviewNote"],
        note,
        "the first review stands"
    );
}

#[tokio::test]
async fn a_break_glass_grant_lasts_the_configured_minutes() {
    let app = spawn_app_with(|s| s.break_glass_minutes = 1).await;
    let h = app.hospital().await;
    let incident = report(&app, &h.alice, report_with_patient(&h.cardiology, NHS)).await;

    let resp = break_glass(&app, &h.nina, &id(&incident), JUSTIFICATION).await;
    let grant = &resp.assert_ok()["breakGlass"]["grant"];
    let granted_at = parse_time(&grant["grantedAt"]);
    let expires_at = parse_time(&grant["expiresAt"]);
    assert_eq!(expires_at - granted_at, Duration::minutes(1), "{grant}");
    assert!(
        (expires_at - Utc::now()).num_seconds() <= 60,
        "expires a minute from now: {grant}"
    );
    assert_eq!(grant["active"], true);
}

#[tokio::test]
async fn an_expired_break_glass_grant_no_longer_opens_the_record() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = report(&app, &h.alice, report_with_patient(&h.cardiology, NHS)).await;
    let incident_id = id(&incident);
    break_glass(&app, &h.nina, &incident_id, JUSTIFICATION)
        .await
        .assert_ok();
    let during = read_incident(&app, &h.nina, &incident_id, "breakGlass description").await;
    assert_eq!(during.assert_ok()["incident"]["breakGlass"], true);

    // The grant's time runs out (moved into the past behind the API).
    let db = connect(&app).await;
    let backend = db.get_database_backend();
    let sql = match backend {
        DatabaseBackend::Postgres => {
            "UPDATE break_glass_grant SET expires_at = $1 WHERE subject = $2"
        }
        _ => "UPDATE break_glass_grant SET expires_at = ? WHERE subject = ?",
    };
    let expired = Utc::now() - Duration::minutes(1);
    let done = db
        .execute(Statement::from_sql_and_values(
            backend,
            sql,
            [expired.into(), "nina".into()],
        ))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    assert_eq!(done.rows_affected(), 1);
    let _ = db.close().await;

    // Closed again by every path, as if it had never been opened...
    let direct = read_incident(&app, &h.nina, &incident_id, "description patient { name }").await;
    direct.assert_error("NOT_FOUND", None);
    assert!(
        direct.data().is_null() || direct.data()["incident"].is_null(),
        "{direct}"
    );
    let by_reference = app
        .gql(
            Some(&h.nina),
            "query($r: String!) { incidentByReference(reference: $r) { id description } }",
            json!({ "r": incident["reference"] }),
        )
        .await;
    by_reference.assert_error("NOT_FOUND", None);
    let node = app
        .gql(
            Some(&h.nina),
            "query($id: ID!) { node(id: $id) { id ... on Incident { description } } }",
            json!({ "id": incident_id }),
        )
        .await;
    assert!(node.data()["node"].is_null(), "{node}");

    // ...and those attempts read nothing, so they are not in the access log.
    for attempt in [&direct, &by_reference, &node] {
        assert_eq!(
            events_of(&app, attempt).await,
            Vec::<Value>::new(),
            "an attempt after expiry wrote an access event"
        );
    }
    let grants = app
        .gql(
            Some(&ig_officer(&app)),
            "{ breakGlassGrants(first: 10) { edges { node { holderLabel active } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        grants.assert_ok()["breakGlassGrants"]["edges"],
        json!([{ "node": { "holderLabel": "nina", "active": false } }]),
        "{grants}"
    );
}
