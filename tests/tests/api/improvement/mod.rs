//! Improvement projects (the Model for Improvement): quality leads and the department's
//! handlers start projects with an aim and measures, move them from PROPOSED to CLOSED, the
//! project's lead records measurements and runs PDSA cycles, actions are raised from the
//! project, every change is on the trail, and lists page, filter and batch their reads.

mod actions_and_trail;
mod listing;
mod measurements;
mod pdsa_cycles;
mod starting;
mod status;

use std::collections::BTreeSet;

use candour_tests::*;
use chrono::Utc;
use serde_json::{json, Value};

/// Lena leads projects: a member of staff with no department of her own.
const LEAD: &str = "lena@candour.test";

/// What tests read back about a project (its trail is read apart, with [`HISTORY`]).
const PROJECT: &str = r#"
fragment ProjectFields on ImprovementProject {
  id title aim status statusReason version leadEmail sponsorEmail
  startedAt closedAt createdAt updatedAt
  department { id code }
  measures { id name kind unit target betterWhen measurements { id value at recordedAt } }
  pdsaCycles { id title plan do study act stage outcome startDate endDate version }
  incidents { id }
  auditIds
  allowedTransitions
  correctiveActions { id title source { __typename ... on ImprovementProject { id } } }
}"#;

fn ago(hours: i64) -> String {
    rfc3339(Utc::now() - chrono::Duration::hours(hours))
}

/// A valid project in the given department, led by Lena, with one outcome measure.
fn project_input(department_id: &str) -> Value {
    json!({
        "title": "Fewer falls on the cardiac ward",
        "aim": "Halve inpatient falls on the cardiac ward by June 2027.",
        "departmentId": department_id,
        "leadEmail": "Lena@Candour.test",
        "sponsorEmail": "sam.sponsor@candour.test",
        "measures": [{
            "name": "Falls per 1,000 bed days",
            "kind": "OUTCOME",
            "unit": "falls per 1,000 bed days",
            "target": 2.5,
            "betterWhen": "LOWER",
        }],
    })
}

/// Runs one mutation whose payload is `improvementProject`, with the project's fields.
async fn mutate(
    app: &TestApp,
    token: &str,
    mutation: &str,
    input_type: &str,
    input: Value,
) -> GqlResponse {
    app.gql(
        Some(token),
        &format!(
            "mutation($input: {input_type}!) {{
               {mutation}(input: $input) {{ improvementProject {{ ...ProjectFields }} }}
             }}
             {PROJECT}"
        ),
        json!({ "input": input }),
    )
    .await
}

/// The project a mutation that must succeed returned.
#[track_caller]
fn project_of(resp: &GqlResponse, mutation: &str) -> Value {
    resp.assert_ok();
    let project = resp.data()[mutation]["improvementProject"].clone();
    assert!(
        project.is_object(),
        "no improvementProject returned: {resp}"
    );
    project
}

async fn try_start(app: &TestApp, token: &str, input: Value) -> GqlResponse {
    mutate(
        app,
        token,
        "startImprovementProject",
        "StartImprovementProjectInput",
        input,
    )
    .await
}

async fn start(app: &TestApp, token: &str, input: Value) -> Value {
    let resp = try_start(app, token, input).await;
    project_of(&resp, "startImprovementProject")
}

async fn try_move(
    app: &TestApp,
    token: &str,
    project: &Value,
    to: &str,
    reason: Option<&str>,
) -> GqlResponse {
    let mut input =
        json!({ "projectId": project["id"], "to": to, "expectedVersion": project["version"] });
    if let Some(reason) = reason {
        input["reason"] = json!(reason);
    }
    mutate(
        app,
        token,
        "transitionImprovementProject",
        "TransitionImprovementProjectInput",
        input,
    )
    .await
}

async fn move_to(app: &TestApp, token: &str, project: &Value, to: &str) -> Value {
    let resp = try_move(app, token, project, to, None).await;
    let moved = project_of(&resp, "transitionImprovementProject");
    assert_eq!(moved["status"], to, "{resp}");
    moved
}

async fn try_record(
    app: &TestApp,
    token: &str,
    measure_id: &Value,
    value: f64,
    at: &str,
) -> GqlResponse {
    mutate(
        app,
        token,
        "recordMeasurement",
        "RecordMeasurementInput",
        json!({ "measureId": measure_id, "value": value, "at": at }),
    )
    .await
}

async fn record(app: &TestApp, token: &str, measure_id: &Value, value: f64, at: &str) -> Value {
    let resp = try_record(app, token, measure_id, value, at).await;
    project_of(&resp, "recordMeasurement")
}

async fn try_add_cycle(app: &TestApp, token: &str, input: Value) -> GqlResponse {
    mutate(app, token, "addPdsaCycle", "AddPdsaCycleInput", input).await
}

async fn try_update_cycle(
    app: &TestApp,
    token: &str,
    cycle: &Value,
    changes: Value,
) -> GqlResponse {
    mutate(
        app,
        token,
        "updatePdsaCycle",
        "UpdatePdsaCycleInput",
        with(
            json!({ "cycleId": cycle["id"], "expectedVersion": cycle["version"] }),
            changes,
        ),
    )
    .await
}

/// The cycle with this id in a project.
#[track_caller]
fn cycle_in(project: &Value, cycle_id: &str) -> Value {
    project["pdsaCycles"]
        .as_array()
        .unwrap_or_else(|| panic!("no pdsaCycles in {project}"))
        .iter()
        .find(|c| c["id"] == cycle_id)
        .unwrap_or_else(|| panic!("cycle {cycle_id} not in {project}"))
        .clone()
}

async fn read_project(app: &TestApp, token: &str, id: &str) -> Value {
    let resp = app
        .gql(
            Some(token),
            &format!(
                "query($id: ID!) {{ node(id: $id) {{ __typename ... on ImprovementProject {{ ...ProjectFields }} }} }}
                 {PROJECT}"
            ),
            json!({ "id": id }),
        )
        .await;
    resp.assert_ok();
    let node = resp.data()["node"].clone();
    assert_eq!(
        node["__typename"], "ImprovementProject",
        "project {id} not returned: {resp}"
    );
    node
}

async fn project_history(app: &TestApp, token: &str, id: &str) -> Vec<Value> {
    let resp = app
        .gql(
            Some(token),
            &format!("query($id: ID!) {{ node(id: $id) {{ ... on ImprovementProject {{ id {HISTORY} }} }} }}"),
            json!({ "id": id }),
        )
        .await;
    resp.assert_ok();
    resp.data()["node"]["history"]
        .as_array()
        .unwrap_or_else(|| panic!("history is not a list: {resp}"))
        .clone()
}

async fn list(app: &TestApp, token: &str, variables: Value) -> GqlResponse {
    app.gql(
        Some(token),
        "query($first: Int, $after: String, $filter: ImprovementProjectFilter) {
           improvementProjects(first: $first, after: $after, filter: $filter) {
             totalCount
             pageInfo { hasNextPage endCursor }
             edges { cursor node { id title status department { id } } }
           }
         }",
        variables,
    )
    .await
}

async fn listed_ids(app: &TestApp, token: &str, filter: Value) -> (Vec<String>, i64) {
    let resp = list(app, token, json!({ "first": 100, "filter": filter })).await;
    resp.assert_ok();
    let connection = &resp.data()["improvementProjects"];
    (
        node_ids(connection),
        connection["totalCount"].as_i64().expect("totalCount"),
    )
}
