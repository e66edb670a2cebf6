//! Queues deliveries from the sealed trail: for each event the trail announces (the same
//! events subscribers hear), one delivery to every endpoint that asks for it (a disabled
//! one's wait until it is enabled).
//!
//! The deliveries and the cursor's new place are written in one transaction, so a crash
//! loses nothing and queues nothing twice: the cursor moves only with the deliveries it
//! covers. One instance moves it at a time (the cursor row is locked, `SKIP LOCKED` for
//! the others, on PostgreSQL; the database's write lock on SQLite), and the unique (endpoint,
//! event) index would keep a second queuing out in any case.
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use entities::{
    webhook_cursor as cursor, webhook_delivery as delivery, webhook_endpoint as endpoint,
};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryTrait, Set, Statement,
};
use serde_json::{json, Value};
use uuid::Uuid;

use super::service::QUEUED;
use super::WebhookEvent;
use crate::context::AppState;
use crate::error::AppResult;
use crate::live::feed::{self, LiveEvent, Subject};
use crate::record::ids::{self, Kind};

/// Follows the trail until the instance stops: at once after this instance seals, and
/// every `webhooks.poll_ms` for other instances' events.
pub fn spawn(state: Arc<AppState>) {
    tokio::spawn(async move {
        let poll = Duration::from_millis(state.settings.webhooks.poll_ms);
        let mut sealed = state.db.trail_sealed.subscribe();
        loop {
            loop {
                match queue_once(&state).await {
                    Ok(true) => continue,
                    Ok(false) => break,
                    Err(e) => {
                        tracing::warn!(
                            error = e.code(),
                            "queuing webhook deliveries failed; will retry"
                        );
                        break;
                    }
                }
            }
            tokio::select! {
                _ = sealed.changed() => {}
                _ = tokio::time::sleep(poll) => {}
                _ = state.stop.cancelled() => break,
            }
        }
    });
}

/// Queues the deliveries of one page of the trail after the cursor. True when there may be
/// more to read at once.
async fn queue_once(state: &AppState) -> AppResult<bool> {
    let db = &state.db;
    // A plain read first: most looks find the cursor at the head, and need no write turn.
    let at: Option<i64> = cursor::Entity::find_by_id(1)
        .one(&db.conn)
        .await?
        .map(|c| c.seq);
    if let Some(c) = at {
        if c >= feed::head(db).await? {
            return Ok(false);
        }
    }
    let tx = db.begin_write().await?;
    let backend = tx.get_database_backend();
    let locked = match backend {
        DbBackend::Postgres => "SELECT seq FROM webhook_cursor WHERE id = 1 FOR UPDATE SKIP LOCKED",
        _ => "SELECT seq FROM webhook_cursor WHERE id = 1",
    };
    let row = tx
        .query_one(Statement::from_string(backend, locked))
        .await?;
    let after: i64 = match row {
        Some(r) => r.try_get("", "seq")?,
        None => {
            // The first time: from where the trail stands now (endpoints are told of what
            // happens after they are registered, not before). Another instance may be at
            // the same; DO NOTHING leaves one row.
            let head = feed::head(db).await?;
            let insert = cursor::Entity::insert(cursor::ActiveModel {
                id: Set(1),
                seq: Set(head),
            })
            .on_conflict(
                OnConflict::column(cursor::Column::Id)
                    .do_nothing()
                    .to_owned(),
            )
            .into_query();
            tx.execute(backend.build(&insert)).await?;
            tx.commit_quiet().await?;
            return Ok(false);
        }
    };
    // Disabled endpoints too: their deliveries wait, and go out once they are enabled.
    let endpoints: Vec<endpoint::Model> = endpoint::Entity::find().all(&*tx).await?;
    let (upto, queued, full) = if endpoints.is_empty() {
        // Nobody to tell: the cursor only keeps up.
        let head = feed::head(db).await?;
        (head, 0, false)
    } else {
        let batch = feed::read(db, after).await?;
        let full = batch.upto - batch.after >= feed::PAGE as i64;
        let mut rows = Vec::new();
        let wants: Vec<Wants> = endpoints.iter().map(Wants::of).collect();
        for e in &batch.events {
            let to: Vec<&Wants> = wants.iter().filter(|w| w.wants(e)).collect();
            if to.is_empty() {
                continue;
            }
            let Some(payload) = payload_of(state, e).await? else {
                continue;
            };
            let (event_type, body) = (
                payload["type"].as_str().unwrap_or_default().to_string(),
                payload.to_string(),
            );
            for w in to {
                rows.push(delivery::ActiveModel {
                    id: Set(Uuid::now_v7()),
                    endpoint_id: Set(w.ep.id),
                    event_seq: Set(Some(e.seq)),
                    event_type: Set(event_type.clone()),
                    payload: Set(body.clone()),
                    status: Set(QUEUED.into()),
                    attempts: Set(0),
                    next_attempt_at: Set(Utc::now()),
                    lease_until: Set(None),
                    leased_by: Set(None),
                    last_status: Set(None),
                    last_error: Set(None),
                    created_at: Set(Utc::now()),
                    delivered_at: Set(None),
                });
            }
        }
        let n = rows.len();
        for chunk in rows.chunks(200) {
            let insert = delivery::Entity::insert_many(chunk.to_vec())
                .on_conflict(
                    OnConflict::columns([delivery::Column::EndpointId, delivery::Column::EventSeq])
                        .do_nothing()
                        .to_owned(),
                )
                .into_query();
            tx.execute(backend.build(&insert)).await?;
        }
        (batch.upto, n, full)
    };
    if upto != after {
        let update = cursor::Entity::update_many()
            .col_expr(cursor::Column::Seq, sea_orm::sea_query::Expr::value(upto))
            .filter(cursor::Column::Id.eq(1))
            .into_query();
        tx.execute(backend.build(&update)).await?;
    }
    tx.commit_quiet().await?;
    if queued > 0 {
        state.webhooks_wake.notify_one();
    }
    Ok(full)
}

fn json_list<T: serde::de::DeserializeOwned>(s: &str) -> Vec<T> {
    serde_json::from_str(s).unwrap_or_default()
}

/// What an endpoint asks for, read from its row once per page of the trail.
struct Wants<'a> {
    ep: &'a endpoint::Model,
    events: Vec<String>,
    departments: Vec<Uuid>,
    kinds: Vec<String>,
}

impl<'a> Wants<'a> {
    fn of(ep: &'a endpoint::Model) -> Self {
        Self {
            ep,
            events: json_list(&ep.events),
            departments: json_list(&ep.department_ids),
            kinds: json_list(&ep.kinds),
        }
    }

    /// Whether the endpoint is to hear of `e` (it happened after the endpoint was made).
    fn wants(&self, e: &LiveEvent) -> bool {
        let (event, department_id) = event_of(e);
        let incident_matches = match &e.subject {
            Subject::Incident(_, m) => {
                (self.kinds.is_empty() || self.kinds.contains(&m.kind))
                    && self
                        .ep
                        .min_harm
                        .is_none_or(|h| m.physical_harm.max(m.psychological_harm) >= h)
            }
            Subject::Action(..) => true,
        };
        e.at >= self.ep.created_at
            && self.events.iter().any(|n| n == event.name())
            && (self.departments.is_empty() || self.departments.contains(&department_id))
            && incident_matches
    }
}

fn event_of(e: &LiveEvent) -> (WebhookEvent, Uuid) {
    match &e.subject {
        Subject::Incident(t, m) => (WebhookEvent::of_incident(*t), m.department_id),
        Subject::Action(t, m) => (WebhookEvent::of_action(*t), m.department_id),
    }
}

/// The body sent for an event, the same to every endpoint that asks for it; None for an
/// incident disposed of since. Ids, references, states and what changed: never a patient
/// identifier or free text (the trail keeps neither; sensitive changes carry their field's
/// name only).
async fn payload_of(state: &AppState, e: &LiveEvent) -> AppResult<Option<Value>> {
    let (event, department_id) = event_of(e);
    let department = crate::org::service::department(state, department_id)
        .await?
        .map(|d| json!({ "id": ids::encode(Kind::Department, d.id).0, "code": d.code }));
    let changes: Vec<Value> = e
        .changes
        .iter()
        .map(|c| {
            if c.sensitive {
                json!({ "field": c.field, "sensitive": true })
            } else {
                json!({ "field": c.field, "before": c.before, "after": c.after })
            }
        })
        .collect();
    let record = match &e.subject {
        Subject::Incident(_, m) => {
            if m.disposed_at.is_some() {
                return Ok(None);
            }
            let harm = |r: i16| crate::incident::model::HarmLevel::from_rank(r).as_str();
            json!({ "incident": {
                "id": ids::encode(Kind::Incident, m.id).0,
                "reference": m.reference,
                "status": m.status,
                "kind": m.kind,
                "eventType": m.event_type,
                "nearMiss": m.near_miss,
                "physicalHarm": harm(m.physical_harm),
                "psychologicalHarm": harm(m.psychological_harm),
                "department": department,
            }})
        }
        Subject::Action(_, m) => {
            let reference: Option<String> = match m.incident_id {
                Some(id) => {
                    use sea_orm::QuerySelect;
                    entities::incident::Entity::find_by_id(id)
                        .select_only()
                        .column(entities::incident::Column::Reference)
                        .into_tuple()
                        .one(&state.db.conn)
                        .await?
                }
                None => None,
            };
            json!({ "correctiveAction": {
                "id": ids::encode(Kind::CorrectiveAction, m.id).0,
                "status": m.status,
                "dueDate": m.due_date.to_string(),
                "priority": m.priority,
                "ownerEmail": m.owner_email,
                "incidentReference": reference,
                "department": department,
            }})
        }
    };
    let mut data = record;
    if let Some(map) = data.as_object_mut() {
        map.insert("eventId".into(), json!(e.seq.to_string()));
        map.insert("changes".into(), Value::Array(changes));
    }
    Ok(Some(json!({
        "type": event.name(),
        "timestamp": e.at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        "data": data,
    })))
}
