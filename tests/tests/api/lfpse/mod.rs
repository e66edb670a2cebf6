//! LFPSE submission: every patient-safety event, and each later version LFPSE cares about,
//! reaches NHS England's Learn from Patient Safety Events service; the national reference
//! shows on the incident; failures are retried, dead-lettered and retried by a quality
//! lead; many instances and a dying one never send a version twice nor lose one. LFPSE is
//! played by a real HTTP server process (`candour_tests::lfpse`), never a mock.

mod failures;
mod instances;
mod submission;

use std::future::Future;
use std::time::{Duration, Instant};

use candour::config::Secret;
use candour_tests::lfpse::{Answer, LfpseServer, Request, ENDPOINT};
use candour_tests::*;
use serde_json::{json, Value};

/// The subscription key LFPSE's API gateway expects; registered as sensitive, so a log
/// line holding it fails the suite.
const API_KEY: &str = "lfpse-test-subscription-key-5f1e0c";
/// The header it travels in (Azure API Management's).
const KEY_HEADER: &str = "ocp-apim-subscription-key";

/// Long enough for a loaded machine; nothing here asserts speed.
const WAIT: Duration = Duration::from_secs(30);

/// A server submitting to `lfpse`, retrying quickly, with `configure` applied after.
async fn app_submitting(lfpse: &LfpseServer, configure: impl FnOnce(&mut Settings)) -> TestApp {
    let url = lfpse.url();
    logs::register(API_KEY);
    logs::register(&url);
    spawn_app_with(move |s| {
        submitting_to(s, &url);
        configure(s);
    })
    .await
}

/// LFPSE settings for tests: this endpoint and key, small waits.
fn submitting_to(s: &mut Settings, url: &str) {
    s.lfpse.url = Some(Secret::from(url.to_string()));
    s.lfpse.api_key = Some(Secret::from(API_KEY.to_string()));
    s.lfpse.ods_code = Some("RGT".into());
    s.lfpse.poll_ms = 50;
    s.lfpse.backoff_initial_ms = 50;
    s.lfpse.backoff_max_secs = 1;
    s.lfpse.timeout_secs = 2;
    s.lfpse.lease_secs = 3;
    s.lfpse.max_attempts = 5;
    // Email is beside the point here.
    s.notify.schedule = false;
}

/// What a test reads of an incident's standing with LFPSE.
const LFPSE: &str = "lfpse { status reference lfpseId lfpseVersionId version submittedAt lastError attempts nextAttemptAt }";

/// `incident.lfpse` as this viewer sees it (null when nothing was queued).
async fn lfpse_of(app: &TestApp, token: &str, incident_id: &str) -> Value {
    let resp = app
        .gql(
            Some(token),
            &format!("query($id: ID!) {{ incident(id: $id) {{ id {LFPSE} }} }}"),
            json!({ "id": incident_id }),
        )
        .await;
    resp.assert_ok();
    resp.data()["incident"]["lfpse"].clone()
}

/// Waits until the incident's LFPSE standing satisfies `done`; returns it.
async fn wait_for_lfpse(
    app: &TestApp,
    token: &str,
    incident_id: &str,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let l = lfpse_of(app, token, incident_id).await;
        if done(&l) {
            return l;
        }
        assert!(
            Instant::now() < deadline,
            "waited {WAIT:?} for {what}; incident.lfpse is {l}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until LFPSE holds the incident at our version `version`.
async fn submitted(app: &TestApp, token: &str, incident_id: &str, version: i64) -> Value {
    wait_for_lfpse(
        app,
        token,
        incident_id,
        &format!("version {version} submitted"),
        |l| l["status"] == "SUBMITTED" && l["version"] == version,
    )
    .await
}

const SUBMISSIONS: &str = "
query($status: [LfpseQueueStatus!], $first: Int, $after: String) {
  lfpseSubmissions(status: $status, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node {
      id incidentId incidentReference version status attempts lastError createdAt
      nextAttemptAt submittedAt method lfpseId lfpseVersionId reference
    } }
  }
}";

/// Every submission in these states (all when empty), newest first, all pages.
async fn submissions(app: &TestApp, quality_lead: &str, status: &[&str]) -> Vec<Value> {
    let mut out = Vec::new();
    let mut after = Value::Null;
    loop {
        let status = if status.is_empty() {
            Value::Null
        } else {
            json!(status)
        };
        let resp = app
            .gql(
                Some(quality_lead),
                SUBMISSIONS,
                json!({ "status": status, "first": 50, "after": after }),
            )
            .await;
        resp.assert_ok();
        let c = &resp.data()["lfpseSubmissions"];
        for e in c["edges"].as_array().unwrap() {
            out.push(e["node"].clone());
        }
        if c["pageInfo"]["hasNextPage"] != true {
            return out;
        }
        after = c["pageInfo"]["endCursor"].clone();
    }
}

/// Waits until `check` holds.
async fn eventually<F, Fut>(what: &str, check: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + WAIT;
    while !check().await {
        assert!(Instant::now() < deadline, "waited {WAIT:?} for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The incident reference a request's AdverseEvent names (its `identifier`).
fn reference_sent(r: &Request) -> String {
    let id = &r.body["identifier"];
    let id = if id.is_array() { &id[0] } else { id };
    id["value"].as_str().unwrap_or("").to_string()
}

/// The requests about one incident, oldest first.
fn about(requests: &[Request], reference: &str) -> Vec<Request> {
    requests
        .iter()
        .filter(|r| reference_sent(r) == reference)
        .cloned()
        .collect()
}

/// The value of sub-extension `element` anywhere in the resource.
fn element<'a>(resource: &'a Value, element: &str) -> Vec<&'a Value> {
    let mut out = Vec::new();
    fn walk<'a>(v: &'a Value, element: &str, out: &mut Vec<&'a Value>) {
        match v {
            Value::Object(m) => {
                if m.get("url").and_then(Value::as_str) == Some(element) {
                    out.push(v);
                }
                m.values().for_each(|c| walk(c, element, out));
            }
            Value::Array(a) => a.iter().for_each(|c| walk(c, element, out)),
            _ => {}
        }
    }
    walk(resource, element, &mut out);
    out
}

/// How many rows a table holds that match `condition` (behind the API).
async fn count(app: &TestApp, table: &str, condition: &str) -> i64 {
    use sea_orm::{ConnectionTrait, Statement};
    let db = app.db().await;
    let row = db
        .query_one(Statement::from_string(
            db.get_database_backend(),
            format!("SELECT COUNT(*) AS n FROM {table} WHERE {condition}"),
        ))
        .await
        .unwrap()
        .unwrap();
    let n: i64 = row.try_get("", "n").unwrap();
    db.close().await.ok();
    n
}
