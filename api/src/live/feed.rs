//! The feed of live events: the sealed trail, read in the order of its chain.
//!
//! Events come from the trail after it is sealed, never from the code that makes a change:
//! a trail event is sealed only once its transaction committed, so nothing is announced for
//! a change that rolled back, and every instance on one database reads the same events in
//! the same order. Places in the chain (`seq`) are consecutive, which lets a subscriber see
//! a gap (it fell behind, or reconnected) and fill it from the database.
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use entities::{corrective_action, incident, trail_event};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use tokio::sync::broadcast;
use uuid::Uuid;

use crate::db::Db;
use crate::error::AppResult;
use crate::trail::FieldChange;

/// Trail events read from the database at a time.
pub const PAGE: u64 = 500;

/// What happened to an incident, as subscribers hear it.
#[derive(async_graphql::Enum, Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum IncidentEventType {
    /// Someone reported it.
    Reported,
    /// A handler triaged it (handler, harm, category, learning response, feedback...).
    Triaged,
    /// It moved to another status (other than CLOSED).
    Transitioned,
    /// Someone commented on it.
    Commented,
    /// It was closed.
    Closed,
}

/// What happened to a corrective action, as subscribers hear it.
#[derive(async_graphql::Enum, Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum ActionEventType {
    /// It was raised, or given to a new owner.
    Assigned,
    /// It falls due today (announced on the working day it falls due).
    Due,
    /// It is past its due date and still open (announced once per due date).
    Overdue,
    /// Its effectiveness was verified.
    Verified,
}

/// The record an event is about, as it stood when the event was read.
#[derive(Clone)]
pub enum Subject {
    Incident(IncidentEventType, Arc<incident::Model>),
    Action(ActionEventType, Arc<corrective_action::Model>),
}

/// One announced change.
pub struct LiveEvent {
    /// Its place in the trail's chain: what a client resumes after.
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub subject: Subject,
    /// The fields the change touched, as the trail keeps them (sensitive text never).
    pub changes: Vec<FieldChange>,
}

/// The events of the chain's places `after + 1 ..= upto`: those that announce something
/// (most trail events are of other records, or announce nothing).
pub struct Batch {
    pub after: i64,
    pub upto: i64,
    pub events: Vec<Arc<LiveEvent>>,
}

fn status_after(changes: &[FieldChange]) -> Option<&str> {
    changes
        .iter()
        .find(|c| c.field == "status")
        .and_then(|c| c.after.as_str())
}

/// What a trail event on an incident announces, if anything.
pub fn incident_event(action: &str, changes: &[FieldChange]) -> Option<IncidentEventType> {
    Some(match action {
        "incident.reported" => IncidentEventType::Reported,
        "incident.triaged" => IncidentEventType::Triaged,
        "incident.transitioned" if status_after(changes) == Some("CLOSED") => {
            IncidentEventType::Closed
        }
        "incident.transitioned" => IncidentEventType::Transitioned,
        "incident.commented" => IncidentEventType::Commented,
        _ => return None,
    })
}

/// What a trail event on a corrective action announces, if anything.
pub fn action_event(action: &str, changes: &[FieldChange]) -> Option<ActionEventType> {
    match action {
        "corrective_action.created" => Some(ActionEventType::Assigned),
        "corrective_action.due" => Some(ActionEventType::Due),
        "corrective_action.overdue" => Some(ActionEventType::Overdue),
        "corrective_action.updated" => {
            if status_after(changes) == Some("VERIFIED") {
                Some(ActionEventType::Verified)
            } else if changes.iter().any(|c| c.field == "ownerEmail") {
                Some(ActionEventType::Assigned)
            } else {
                None
            }
        }
        _ => None,
    }
}

/// The last place in the chain (0 before the first event is sealed).
pub async fn head(db: &Db) -> AppResult<i64> {
    let seq: Option<Option<i64>> = trail_event::Entity::find()
        .select_only()
        .column_as(trail_event::Column::Seq.max(), "seq")
        .into_tuple()
        .one(&db.conn)
        .await?;
    Ok(seq.flatten().unwrap_or(0))
}

/// The events after `after`, at most `PAGE` places of the chain, with the records they are
/// about read in one statement per kind.
pub async fn read(db: &Db, after: i64) -> AppResult<Batch> {
    let rows = trail_event::Entity::find()
        .filter(trail_event::Column::Seq.gt(after))
        .order_by_asc(trail_event::Column::Seq)
        .limit(PAGE)
        .all(&db.conn)
        .await?;
    let upto = rows.last().and_then(|r| r.seq).unwrap_or(after);
    let mut announced = Vec::new();
    for r in rows {
        let changes: Vec<FieldChange> = match r.entity_type.as_str() {
            "Incident" | "CorrectiveAction" => serde_json::from_str(&r.changes).unwrap_or_default(),
            _ => continue,
        };
        let kind = match r.entity_type.as_str() {
            "Incident" => incident_event(&r.action, &changes).map(Ok),
            _ => action_event(&r.action, &changes).map(Err),
        };
        if let Some(kind) = kind {
            announced.push((r, changes, kind));
        }
    }
    let ids = |want_incident: bool| -> Vec<Uuid> {
        announced
            .iter()
            .filter(|(_, _, k)| k.is_ok() == want_incident)
            .map(|(r, _, _)| r.entity_id)
            .collect()
    };
    let (incident_ids, action_ids) = (ids(true), ids(false));
    let incidents: HashMap<Uuid, Arc<incident::Model>> = if incident_ids.is_empty() {
        HashMap::new()
    } else {
        incident::Entity::find()
            .filter(incident::Column::Id.is_in(incident_ids))
            .all(&db.conn)
            .await?
            .into_iter()
            .map(|m| (m.id, Arc::new(m)))
            .collect()
    };
    let actions: HashMap<Uuid, Arc<corrective_action::Model>> = if action_ids.is_empty() {
        HashMap::new()
    } else {
        corrective_action::Entity::find()
            .filter(corrective_action::Column::Id.is_in(action_ids))
            .all(&db.conn)
            .await?
            .into_iter()
            .map(|m| (m.id, Arc::new(m)))
            .collect()
    };
    let events = announced
        .into_iter()
        .filter_map(|(r, changes, kind)| {
            // A record disposed of since announces nothing.
            let subject = match kind {
                Ok(k) => Subject::Incident(k, incidents.get(&r.entity_id)?.clone()),
                Err(k) => Subject::Action(k, actions.get(&r.entity_id)?.clone()),
            };
            Some(Arc::new(LiveEvent {
                seq: r.seq?,
                at: r.occurred_at,
                subject,
                changes,
            }))
        })
        .collect();
    Ok(Batch {
        after,
        upto,
        events,
    })
}

/// Reads the sealed trail once for all of this instance's subscribers and hands each batch
/// to every one of them.
pub struct Hub {
    tx: broadcast::Sender<Arc<Batch>>,
    /// subject -> open connections, for `subscriptions.max_connections_per_principal`.
    connections: std::sync::Mutex<HashMap<String, usize>>,
    /// subject -> (when read, roles and department codes of the person's latest token).
    latest: std::sync::Mutex<HashMap<String, (std::time::Instant, Option<Latest>)>>,
}

/// What a person's latest token (as the staff record keeps it) grants.
#[derive(Clone, Debug)]
pub struct Latest {
    pub roles: Vec<String>,
    pub department_codes: Vec<String>,
}

/// A held connection slot; given back when dropped.
pub struct Slot {
    hub: Arc<Hub>,
    subject: String,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut held = self.hub.connections.lock().expect("connections");
        if let Some(n) = held.get_mut(&self.subject) {
            *n -= 1;
            if *n == 0 {
                held.remove(&self.subject);
            }
        }
    }
}

impl Default for Hub {
    fn default() -> Self {
        Self {
            tx: broadcast::channel(1024).0,
            connections: Default::default(),
            latest: Default::default(),
        }
    }
}

impl Hub {
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Batch>> {
        self.tx.subscribe()
    }

    /// A connection slot for `subject`, or None when it holds `max` already.
    pub fn open(self: &Arc<Self>, subject: &str, max: usize) -> Option<Slot> {
        let mut held = self.connections.lock().expect("connections");
        let n = held.entry(subject.to_string()).or_default();
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(Slot {
            hub: self.clone(),
            subject: subject.to_string(),
        })
    }

    /// The roles and departments of the person's latest token, read at most once a second
    /// per person however many subscriptions ask. None when Candour keeps no record of them.
    pub async fn latest(&self, db: &Db, subject: &str) -> AppResult<Option<Latest>> {
        if let Some((at, l)) = self.latest.lock().expect("latest").get(subject) {
            if at.elapsed() < Duration::from_secs(1) {
                return Ok(l.clone());
            }
        }
        let row: Option<(String, String)> = entities::staff::Entity::find()
            .select_only()
            .column(entities::staff::Column::Roles)
            .column(entities::staff::Column::DepartmentCodes)
            .filter(entities::staff::Column::Subject.eq(subject))
            .into_tuple()
            .one(&db.conn)
            .await?;
        let l = row.map(|(roles, departments)| Latest {
            roles: serde_json::from_str(&roles).unwrap_or_default(),
            department_codes: serde_json::from_str(&departments).unwrap_or_default(),
        });
        let mut cache = self.latest.lock().expect("latest");
        if cache.len() > 10_000 {
            cache.clear();
        }
        cache.insert(subject.to_string(), (std::time::Instant::now(), l.clone()));
        Ok(l)
    }

    /// Follows the chain while anyone listens: at once when this instance sealed events,
    /// and every `poll` for those other instances sealed.
    pub fn spawn(
        self: &Arc<Self>,
        db: Db,
        poll: Duration,
        stop: tokio_util::sync::CancellationToken,
    ) {
        let hub = self.clone();
        let mut sealed = db.trail_sealed.subscribe();
        tokio::spawn(async move {
            let mut cursor: Option<i64> = None;
            loop {
                tokio::select! {
                    _ = sealed.changed() => {}
                    _ = tokio::time::sleep(poll) => {}
                    _ = stop.cancelled() => break,
                }
                if hub.tx.receiver_count() == 0 {
                    // Nobody listens: a subscriber that comes later reads what it missed
                    // from the database itself.
                    cursor = None;
                    continue;
                }
                if let Err(e) = hub.follow(&db, &mut cursor).await {
                    tracing::warn!(
                        error = e.code(),
                        "reading trail events for subscribers failed; will retry"
                    );
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        });
    }

    async fn follow(&self, db: &Db, cursor: &mut Option<i64>) -> AppResult<()> {
        let mut after = match *cursor {
            Some(c) => c,
            None => {
                let h = head(db).await?;
                *cursor = Some(h);
                // Where the feed starts: a subscriber that began before `h` reads the
                // events up to it from the database (they were sealed while nobody
                // followed the chain here).
                let _ = self.tx.send(Arc::new(Batch {
                    after: h,
                    upto: h,
                    events: Vec::new(),
                }));
                h
            }
        };
        loop {
            let batch = read(db, after).await?;
            if batch.upto == after {
                return Ok(());
            }
            let full = batch.upto - after >= PAGE as i64;
            after = batch.upto;
            *cursor = Some(after);
            // No receivers left is not an error: the next batch is read afresh by whoever
            // subscribes next.
            let _ = self.tx.send(Arc::new(batch));
            if !full {
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn change(field: &str, after: Value) -> FieldChange {
        FieldChange {
            field: field.into(),
            before: Value::Null,
            after,
            sensitive: false,
        }
    }

    #[test]
    fn incident_trail_events_announce_what_subscribers_ask_for() {
        assert_eq!(
            incident_event("incident.reported", &[]),
            Some(IncidentEventType::Reported)
        );
        assert_eq!(
            incident_event(
                "incident.transitioned",
                &[change("status", json!("INVESTIGATING"))]
            ),
            Some(IncidentEventType::Transitioned)
        );
        assert_eq!(
            incident_event(
                "incident.transitioned",
                &[change("status", json!("CLOSED"))]
            ),
            Some(IncidentEventType::Closed)
        );
        assert_eq!(incident_event("incident.break_glass", &[]), None);
        assert_eq!(incident_event("incident.obligations_changed", &[]), None);
    }

    #[test]
    fn action_trail_events_announce_assignment_and_verification_only() {
        assert_eq!(
            action_event("corrective_action.created", &[]),
            Some(ActionEventType::Assigned)
        );
        assert_eq!(
            action_event(
                "corrective_action.updated",
                &[change("ownerEmail", json!("b@x.nhs.uk"))]
            ),
            Some(ActionEventType::Assigned)
        );
        assert_eq!(
            action_event(
                "corrective_action.updated",
                &[change("status", json!("VERIFIED"))]
            ),
            Some(ActionEventType::Verified)
        );
        assert_eq!(
            action_event(
                "corrective_action.updated",
                &[change("status", json!("IN_PROGRESS"))]
            ),
            None
        );
        assert_eq!(
            action_event("corrective_action.overdue", &[]),
            Some(ActionEventType::Overdue)
        );
    }
}
