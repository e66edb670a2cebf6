//! Live events: GraphQL subscriptions over `graphql-transport-ws`, spoken by a websocket
//! client of the tests' own to the real server. Events come from the sealed trail, reach
//! subscribers on every instance, are checked against the subscriber for each event, and
//! resume without a gap after a dropped connection.

mod delivery;
mod instances;
mod protocol;
mod scoping;

use std::time::Duration;

use candour_tests::ws::Ws;
use candour_tests::*;
use serde_json::{json, Value};

const INCIDENT_EVENTS: &str = "subscription($filter: IncidentEventFilter, $after: ID) {
  incidentEvents(filter: $filter, after: $after) {
    id type occurredAt
    changes { field before after sensitive }
    incident { id reference status kind }
  }
}";

const ACTION_EVENTS: &str = "subscription($filter: ActionEventFilter, $after: ID) {
  actionEvents(filter: $filter, after: $after) {
    id type changes { field after }
    correctiveAction { id status ownerEmail dueDate }
  }
}";

/// Subscribes to incident events (with `filter`) on a new connection as `token`.
async fn incident_events(app: &TestApp, token: &str, filter: Value) -> Ws {
    let mut ws = app.ws_as(token).await;
    ws.subscribe_now("1", INCIDENT_EVENTS, json!({ "filter": filter }))
        .await;
    ws
}

/// The next incident event on operation "1".
async fn next_incident_event(ws: &mut Ws) -> Value {
    ws.event("1").await["incidentEvents"].clone()
}

/// How long a test waits to be sure an event is not coming: well past the feed's delay.
const QUIET: Duration = Duration::from_millis(1500);
