//! Corrective actions (CAPA): handlers and quality leads raise actions from incidents, owners
//! work them, someone other than the owner verifies they worked, and an action found not
//! effective comes back as a follow-up. Who sees and may do what, the status machine,
//! overdue, concurrency, the trail, listing, and what actions mean for closing an incident.

mod conflicts_and_closure;
mod due_dates;
mod listing;
mod raising;
mod seeing;
mod workflow;

use std::collections::BTreeSet;

use candour_tests::*;
use futures_util::future::join;
use serde_json::{json, Value};

const FEEDBACK: &str = "Thank you for reporting: rails are now checked at every handover.";
/// Olive, a member of staff who owns actions but handles no department.
const OLIVE: &str = "olive@candour.test";
/// Oscar, another owner.
const OSCAR: &str = "oscar@candour.test";

/// An incident reported in cardiology by Alice.
async fn cardiac_incident(app: &TestApp, h: &Hospital) -> Value {
    app.report_incident(&h.alice, incident_input(&h.cardiology))
        .await
}

/// An incident reported in neurology by Bob.
async fn neuro_incident(app: &TestApp, h: &Hospital) -> Value {
    app.report_incident(&h.bob, incident_input(&h.neurology))
        .await
}

/// An action on `incident` owned by `owner`, raised by `token`, with `patch` over the defaults.
async fn raise(app: &TestApp, token: &str, incident: &Value, owner: &str, patch: Value) -> Value {
    app.create_corrective_action(
        token,
        with(corrective_action_input(&id(incident), owner), patch),
    )
    .await
}

/// The action as the quality lead sees it now, to prove a refused change changed nothing.
async fn as_quinn(app: &TestApp, h: &Hospital, action: &Value) -> Value {
    app.corrective_action(&h.quinn, &id(action)).await
}

#[track_caller]
fn assert_invisible(resp: &GqlResponse, secret: &str) {
    assert!(
        resp.data()["node"].is_null(),
        "the action is not returned: {resp}"
    );
    if let Some(code) = resp.error_code() {
        assert_eq!(code, "NOT_FOUND", "{resp}");
    }
    assert!(
        !resp.body.to_string().contains(secret),
        "nothing about the action leaks: {resp}"
    );
}

async fn incident_actions(app: &TestApp, token: &str, incident: &Value) -> GqlResponse {
    app.gql(
        Some(token),
        "query($id: ID!) { incident(id: $id) { id correctiveActions { id title status } } }",
        json!({ "id": incident["id"] }),
    )
    .await
}

// --- raising actions -----------------------------------------------------------------------
