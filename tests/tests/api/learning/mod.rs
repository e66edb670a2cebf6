//! PSIRF learning responses: planned by quality leads and the department's handlers,
//! covering one incident or many (a thematic review), led, worked to a timeframe agreed with
//! those affected, completed with findings (read only by those who may, every read logged),
//! raising actions and improvement projects; the trust's response plan suggesting a response
//! at triage; counted on the dashboard; kept, held and disposed of like the other records.

mod raising;
mod records;
mod retention;
mod suggestion;
mod thematic;

use candour_tests::*;
use serde_json::{json, Value};

/// Lena leads learning responses: a member of staff with no department of her own.
const LEAD: &str = "lena@candour.test";

/// Words of a response's findings, which must reach no log, trail or error.
const FINDINGS: &str = "Mrs Okafor's observations were not escalated at handover";

/// What tests read back about a learning response.
const RESPONSE: &str = r#"
fragment ResponseFields on LearningResponseRecord {
  id kind title status statusReason version leadEmail agreedDueDate timeframeAgreedWith
  overdue startedAt endedAt retentionUntil disposedAt
  department { id code }
  incidents { id reference }
  improvementProjects { id title }
  correctiveActions { id title source { __typename ... on LearningResponseRecord { id } } }
  allowedTransitions
}"#;

/// A thematic review of falls in cardiology, led by Lena, due in 60 days.
fn plan_input(department_id: &str, incidents: &[&Value]) -> Value {
    json!({
        "kind": "THEMATIC_REVIEW",
        "title": "Falls from trolleys in the cardiac corridor",
        "departmentId": department_id,
        "leadEmail": "Lena@Candour.test",
        "agreedDueDate": days_from_today(60),
        "timeframeAgreedWith": "The patients' families, at the ward meeting",
        "incidentIds": incidents.iter().map(|i| id(i)).collect::<Vec<_>>(),
    })
}

/// Runs one mutation whose payload is `learningResponse`, with the response's fields.
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
               {mutation}(input: $input) {{ learningResponse {{ ...ResponseFields }} }}
             }}
             {RESPONSE}"
        ),
        json!({ "input": input }),
    )
    .await
}

#[track_caller]
fn response_of(resp: &GqlResponse, mutation: &str) -> Value {
    resp.assert_ok();
    let r = resp.data()[mutation]["learningResponse"].clone();
    assert!(r.is_object(), "no learningResponse returned: {resp}");
    r
}

async fn try_plan(app: &TestApp, token: &str, input: Value) -> GqlResponse {
    mutate(
        app,
        token,
        "planLearningResponse",
        "PlanLearningResponseInput",
        input,
    )
    .await
}

async fn plan(app: &TestApp, token: &str, input: Value) -> Value {
    response_of(&try_plan(app, token, input).await, "planLearningResponse")
}

async fn try_update(app: &TestApp, token: &str, response: &Value, patch: Value) -> GqlResponse {
    mutate(
        app,
        token,
        "updateLearningResponse",
        "UpdateLearningResponseInput",
        with(
            json!({ "learningResponseId": response["id"], "expectedVersion": response["version"] }),
            patch,
        ),
    )
    .await
}

async fn update(app: &TestApp, token: &str, response: &Value, patch: Value) -> Value {
    response_of(
        &try_update(app, token, response, patch).await,
        "updateLearningResponse",
    )
}

async fn try_move(
    app: &TestApp,
    token: &str,
    response: &Value,
    to: &str,
    reason: Option<&str>,
) -> GqlResponse {
    let mut input = json!({
        "learningResponseId": response["id"], "to": to, "expectedVersion": response["version"],
    });
    if let Some(reason) = reason {
        input["reason"] = json!(reason);
    }
    mutate(
        app,
        token,
        "transitionLearningResponse",
        "TransitionLearningResponseInput",
        input,
    )
    .await
}

async fn move_to(app: &TestApp, token: &str, response: &Value, to: &str) -> Value {
    response_of(
        &try_move(app, token, response, to, None).await,
        "transitionLearningResponse",
    )
}

/// The response as `token` reads it through `node`: null when not theirs to see.
async fn read(app: &TestApp, token: &str, response: &Value) -> GqlResponse {
    app.gql(
        Some(token),
        &format!(
            "query($id: ID!) {{ node(id: $id) {{ ...ResponseFields ... on LearningResponseRecord {{ findings }} }} }}
             {RESPONSE}"
        ),
        json!({ "id": response["id"] }),
    )
    .await
}

/// The response's change trail, as the quality lead reads it.
async fn history_of(app: &TestApp, h: &Hospital, response: &Value) -> Vec<Value> {
    let resp = app
        .gql(
            Some(&h.quinn),
            "query($id: ID!) { node(id: $id) { ... on LearningResponseRecord {
               history { action changes { field before after sensitive } } } } }",
            json!({ "id": response["id"] }),
        )
        .await;
    resp.assert_ok();
    resp.data()["node"]["history"]
        .as_array()
        .unwrap_or_else(|| panic!("no history: {resp}"))
        .clone()
}

/// A cardiology incident with this harm, reported by Alice.
async fn cardiac_incident(app: &TestApp, h: &Hospital, title: &str) -> Value {
    app.report_incident(
        &h.alice,
        with(
            incident_input(&h.cardiology),
            json!({ "title": title, "physicalHarm": "LOW" }),
        ),
    )
    .await
}

/// The ids of the learning responses `token` sees in the list (filtered by `filter`).
async fn listed(app: &TestApp, token: &str, filter: Value) -> Vec<String> {
    let resp = app
        .gql(
            Some(token),
            "query($filter: LearningResponseFilter) {
               learningResponses(first: 50, filter: $filter) {
                 edges { node { id } } totalCount
               }
             }",
            json!({ "filter": filter }),
        )
        .await;
    resp.assert_ok();
    node_ids(&resp.data()["learningResponses"])
}

/// The dashboard's learning-response figures, as the quality lead reads them.
async fn figures(app: &TestApp, h: &Hospital) -> Value {
    let resp = app
        .gql(
            Some(&h.quinn),
            "{ dashboard { learningResponses { open overdue } } }",
            json!({}),
        )
        .await;
    resp.assert_ok();
    resp.data()["dashboard"]["learningResponses"].clone()
}
