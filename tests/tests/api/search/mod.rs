//! Search: one ranked, highlighted `search` over incidents, actions, audits and projects,
//! which finds only what the caller may read, logs what it shows of free text, and follows
//! every change (and disposal) in the writing transaction.

mod finding;
mod index;
mod scoping;

use candour_tests::*;
use serde_json::{json, Value};

const SEARCH: &str = "query($q: String!, $filter: SearchFilter, $first: Int, $after: String) {
  search(query: $q, filter: $filter, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage endCursor }
    edges { cursor node {
      kind score
      highlights { field fragments { text matched } }
      record {
        __typename
        ... on Incident { id reference title }
        ... on CorrectiveAction { id title }
        ... on Audit { id title }
        ... on ImprovementProject { id title }
      }
    } }
  }
}";

async fn try_search(app: &TestApp, token: &str, q: &str, variables: Value) -> GqlResponse {
    app.gql(Some(token), SEARCH, with(json!({ "q": q }), variables))
        .await
}

/// The hits of the first page (up to 100).
async fn hits(app: &TestApp, token: &str, q: &str) -> Vec<Value> {
    hits_with(app, token, q, json!({ "first": 100 })).await
}

async fn hits_with(app: &TestApp, token: &str, q: &str, variables: Value) -> Vec<Value> {
    let resp = try_search(app, token, q, variables).await;
    resp.assert_ok();
    resp.data()["search"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("no edges: {resp}"))
        .iter()
        .map(|e| e["node"].clone())
        .collect()
}

/// The ids of the records found, in rank order.
async fn found(app: &TestApp, token: &str, q: &str) -> Vec<String> {
    hits(app, token, q)
        .await
        .iter()
        .map(|h| h["record"]["id"].as_str().unwrap().to_string())
        .collect()
}

/// The fields a hit's highlights name.
fn fields(hit: &Value) -> Vec<String> {
    hit["highlights"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["field"].as_str().unwrap().to_string())
        .collect()
}

/// The matched words of a hit's highlight of `field`.
fn matched_in(hit: &Value, field: &str) -> Vec<String> {
    hit["highlights"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["field"] == field)
        .flat_map(|h| h["fragments"].as_array().unwrap().clone())
        .filter(|f| f["matched"] == true)
        .map(|f| f["text"].as_str().unwrap().to_lowercase())
        .collect()
}

/// A report with this title and description, as Alice (cardiology unless `department`).
async fn report(
    app: &TestApp,
    token: &str,
    department: &str,
    title: &str,
    description: &str,
) -> Value {
    app.report_incident(
        token,
        with(
            incident_input(department),
            json!({ "title": title, "description": description }),
        ),
    )
    .await
}

/// The access events the IG officer sees for one request.
async fn access_events_of(app: &TestApp, resp: &GqlResponse) -> Vec<Value> {
    let ig = app.ig_officer("iggy");
    let log = app
        .gql(
            Some(&ig),
            "{ accessLog(first: 100) { edges { node { recordType recordId fields requestId } } } }",
            json!({}),
        )
        .await;
    log.assert_ok();
    let request_id = resp.request_id();
    log.data()["accessLog"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"].clone())
        .filter(|e| e["requestId"] == request_id.as_str())
        .collect()
}
