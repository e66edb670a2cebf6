//! `TrailEvent` as integrators and reviewers read it.
use async_graphql::{ComplexObject, Context, Json, SimpleObject, ID};
use chrono::{DateTime, Utc};

use crate::graphql::loaders::Loaders;
use crate::org::graphql::StaffMember;
use crate::record::ids::{self, Kind};

/// One changed field: its value before and after (JSON), or `sensitive: true` with both
/// null when the field holds sensitive text that the trail does not copy.
#[derive(SimpleObject, Clone)]
pub struct FieldChange {
    /// The field, as the API names it (e.g. `status`, `dueDate`, `departmentId`).
    pub field: String,
    /// Its value before the change; null when it had none (or is sensitive).
    pub before: Json<serde_json::Value>,
    /// Its value after the change; null when it has none (or is sensitive).
    pub after: Json<serde_json::Value>,
    /// Free or sensitive text: the trail records that it changed, never the words.
    pub sensitive: bool,
}

impl From<super::FieldChange> for FieldChange {
    fn from(c: super::FieldChange) -> Self {
        Self {
            field: c.field,
            before: Json(c.before),
            after: Json(c.after),
            sensitive: c.sensitive,
        }
    }
}

/// One entry in the append-only change trail.
#[derive(SimpleObject, Clone)]
#[graphql(complex)]
pub struct TrailEvent {
    /// The event's global ID.
    pub id: ID,
    /// When the change was made.
    pub at: DateTime<Utc>,
    /// What was done, e.g. `incident.transitioned`.
    pub action: String,
    /// The kind of record changed, e.g. `Incident`.
    pub entity_type: String,
    /// Who did it: a subject or `service:<subject>`; null for an anonymous report.
    pub actor_label: Option<String>,
    /// The roles (or a service account's scopes) the actor held.
    pub actor_roles: Option<String>,
    /// The request that made the change (the `x-request-id` response header).
    pub request_id: Option<String>,
    /// The fields the change touched, each with its before and after.
    pub changes: Vec<FieldChange>,
    /// Its place in the tamper-evident hash chain; null for a moment after the change,
    /// until it is sealed.
    pub seq: Option<i64>,
    /// SHA-256 over the previous event's hash and this event's canonical form (hex).
    pub hash: Option<String>,
    #[graphql(skip)]
    pub actor_id: Option<uuid::Uuid>,
}

#[ComplexObject]
impl TrailEvent {
    /// The staff member who made the change, when known.
    async fn actor(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<StaffMember>> {
        let Some(id) = self.actor_id else {
            return Ok(None);
        };
        Ok(Loaders::of(ctx).staff(id).await?.map(StaffMember))
    }
}

impl From<entities::trail_event::Model> for TrailEvent {
    fn from(m: entities::trail_event::Model) -> Self {
        let changes: Vec<super::FieldChange> = serde_json::from_str(&m.changes).unwrap_or_default();
        Self {
            id: ids::encode(Kind::TrailEvent, m.id),
            at: m.occurred_at,
            action: m.action,
            entity_type: m.entity_type,
            actor_label: m.actor_label,
            actor_roles: m.actor_roles,
            request_id: m.request_id,
            changes: changes.into_iter().map(FieldChange::from).collect(),
            seq: m.seq,
            hash: m.hash,
            actor_id: m.actor_id,
        }
    }
}
