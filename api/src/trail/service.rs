use chrono::{SubsecRound, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::auth::Principal;
use crate::context::RequestCtx;
use crate::error::AppResult;
use entities::trail_event;

/// Who made a change. Anonymous reports have no actor at all.
#[derive(Debug, Clone, Default)]
pub struct Actor {
    pub staff_id: Option<Uuid>,
    pub label: Option<String>,
    pub roles: Option<String>,
}

impl Actor {
    pub fn of(principal: &Principal, staff_id: Option<Uuid>) -> Self {
        let roles: Vec<&str> = principal.roles.iter().map(|r| r.claim()).collect();
        let scopes: Vec<&str> = principal
            .scopes
            .iter()
            .flatten()
            .map(|s| s.as_str())
            .collect();
        Self {
            staff_id,
            label: Some(principal.label()),
            roles: Some(if principal.is_service() {
                scopes.join(" ")
            } else {
                roles.join(" ")
            }),
        }
    }

    pub fn anonymous() -> Self {
        Self::default()
    }

    /// A command run by an operator on the server (e.g. `candour dispose`).
    pub fn system(what: &str) -> Self {
        Self {
            staff_id: None,
            label: Some(format!("system:{what}")),
            roles: None,
        }
    }
}

/// One changed field. Sensitive fields are recorded as changed with no values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldChange {
    pub field: String,
    pub before: Value,
    pub after: Value,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sensitive: bool,
}

/// Collects the fields a change touched.
#[derive(Debug, Default)]
pub struct Diff(pub Vec<FieldChange>);

impl Diff {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records `field` if its value changed.
    pub fn field<T: Serialize + PartialEq>(
        &mut self,
        field: &str,
        before: T,
        after: T,
    ) -> &mut Self {
        if before != after {
            self.0.push(FieldChange {
                field: field.into(),
                before: serde_json::to_value(before).unwrap_or(Value::Null),
                after: serde_json::to_value(after).unwrap_or(Value::Null),
                sensitive: false,
            });
        }
        self
    }

    /// Records that a sensitive field changed, without its values.
    pub fn sensitive(&mut self, field: &str, changed: bool) -> &mut Self {
        if changed {
            self.0.push(FieldChange {
                field: field.into(),
                before: Value::Null,
                after: Value::Null,
                sensitive: true,
            });
        }
        self
    }

    /// Free text (a title, a note, findings, a reason): the trail keeps only that it
    /// changed, never the words. Free text may name a patient or a colleague, the trail is
    /// append-only (disposal could not remove it), and `history` is read by everyone who
    /// may see the record.
    pub fn text<T: PartialEq>(&mut self, field: &str, before: T, after: T) -> &mut Self {
        self.sensitive(field, before != after)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Appends a trail event inside the caller's transaction.
pub async fn record<C: ConnectionTrait>(
    conn: &C,
    rc: &RequestCtx,
    actor: &Actor,
    entity_type: &str,
    entity_id: Uuid,
    action: &str,
    changes: Diff,
) -> AppResult<()> {
    record_for(
        conn,
        Some(&rc.request_id),
        actor,
        entity_type,
        entity_id,
        action,
        changes,
    )
    .await
}

/// Appends a trail event for a change made outside a request (a command), or in one.
pub async fn record_for<C: ConnectionTrait>(
    conn: &C,
    request_id: Option<&str>,
    actor: &Actor,
    entity_type: &str,
    entity_id: Uuid,
    action: &str,
    changes: Diff,
) -> AppResult<()> {
    let insert = event(request_id, actor, entity_type, entity_id, action, changes);
    conn.execute(conn.get_database_backend().build(&insert))
        .await?;
    Ok(())
}

/// The insert of a trail event, for the caller to send (with others: `db::Inserts`).
pub fn event(
    request_id: Option<&str>,
    actor: &Actor,
    entity_type: &str,
    entity_id: Uuid,
    action: &str,
    changes: Diff,
) -> sea_orm::sea_query::InsertStatement {
    use sea_orm::QueryTrait;
    let event = trail_event::ActiveModel {
        id: Set(Uuid::now_v7()),
        // Microseconds: what both databases store, so the sealed form reads back exactly.
        occurred_at: Set(Utc::now().trunc_subsecs(6)),
        actor_id: Set(actor.staff_id),
        actor_label: Set(actor.label.clone()),
        actor_roles: Set(actor.roles.clone()),
        entity_type: Set(entity_type.into()),
        entity_id: Set(entity_id),
        action: Set(action.into()),
        changes: Set(serde_json::to_string(&changes.0).unwrap_or_else(|_| "[]".into())),
        // An anonymous report keeps no request id: it could be matched to the request's
        // other traces.
        request_id: Set(request_id
            .filter(|_| actor.label.is_some())
            .map(str::to_string)),
        seq: Set(None),
        prev_hash: Set(None),
        hash: Set(None),
    };
    trail_event::Entity::insert(event).into_query()
}

/// Events of the given entities, oldest first, grouped by entity.
pub async fn events_for<C: ConnectionTrait>(
    conn: &C,
    entity_ids: &[Uuid],
) -> AppResult<Vec<trail_event::Model>> {
    Ok(trail_event::Entity::find()
        .filter(trail_event::Column::EntityId.is_in(entity_ids.iter().copied()))
        .order_by_asc(trail_event::Column::Id)
        .all(conn)
        .await?)
}
