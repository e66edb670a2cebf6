//! The information-governance officer's reads and runs: the access log, the audit trail
//! and its integrity, records due for review, legal holds, break-glass grants and
//! disposal. Each function checks that the caller is an IG officer, then reads.
use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter};
use uuid::Uuid;

use super::require_ig_officer;
use super::retention::{self, DueRecord, RecordType};
use crate::context::{AppState, RequestCtx};
use crate::error::AppResult;
use crate::protect::NhsNumber;
use crate::record::keyset::{self, Cursor, IdOrder, Page};
use entities::{access_event, break_glass_grant, legal_hold, trail_event};

/// Which reads of the access log to list; all given must match.
#[derive(Default)]
pub struct AccessLogQuery {
    pub actor_id: Option<Uuid>,
    pub record_id: Option<Uuid>,
    pub patient: Option<NhsNumber>,
    pub after: Option<DateTime<Utc>>,
    pub before: Option<DateTime<Utc>>,
    pub break_glass: Option<bool>,
}

/// Reads of sensitive fields, newest first.
pub async fn access_log(
    state: &AppState,
    rc: &RequestCtx,
    q: AccessLogQuery,
    first: u64,
    after: Option<&str>,
) -> AppResult<Page<access_event::Model>> {
    require_ig_officer(rc.principal()?, "read the access log")?;
    let mut cond = Condition::all();
    if let Some(a) = q.actor_id {
        cond = cond.add(access_event::Column::ActorId.eq(a));
    }
    if let Some(r) = q.record_id {
        cond = cond.add(access_event::Column::EntityId.eq(r));
    }
    if let Some(n) = &q.patient {
        cond = cond.add(access_event::Column::PatientKey.is_in(state.keys.lookup_hashes(n)));
    }
    if let Some(t) = q.after {
        cond = cond.add(access_event::Column::At.gte(t));
    }
    if let Some(t) = q.before {
        cond = cond.add(access_event::Column::At.lt(t));
    }
    if let Some(b) = q.break_glass {
        cond = cond.add(access_event::Column::BreakGlass.eq(b));
    }
    let key = IdOrder {
        id: access_event::Column::Id,
        newest_first: true,
        id_of: |m: &access_event::Model| m.id,
    };
    let query = access_event::Entity::find().filter(cond);
    keyset::list(&state.db.conn, query, &key, first, after).await
}

/// Which changes of the audit trail to list; all given must match.
#[derive(Default)]
pub struct TrailQuery {
    pub record_id: Option<Uuid>,
    pub record_type: Option<String>,
    pub actor_id: Option<Uuid>,
    pub action: Option<String>,
    pub after: Option<DateTime<Utc>>,
    pub before: Option<DateTime<Utc>>,
}

/// Every change to every record, newest first.
pub async fn audit_trail(
    state: &AppState,
    rc: &RequestCtx,
    q: TrailQuery,
    first: u64,
    after: Option<&str>,
) -> AppResult<Page<trail_event::Model>> {
    require_ig_officer(rc.principal()?, "read the audit trail")?;
    let mut cond = Condition::all();
    if let Some(r) = q.record_id {
        cond = cond.add(trail_event::Column::EntityId.eq(r));
    }
    if let Some(t) = q.record_type {
        cond = cond.add(trail_event::Column::EntityType.eq(t));
    }
    if let Some(a) = q.actor_id {
        cond = cond.add(trail_event::Column::ActorId.eq(a));
    }
    if let Some(a) = q.action {
        cond = cond.add(trail_event::Column::Action.eq(a));
    }
    if let Some(t) = q.after {
        cond = cond.add(trail_event::Column::OccurredAt.gte(t));
    }
    if let Some(t) = q.before {
        cond = cond.add(trail_event::Column::OccurredAt.lt(t));
    }
    let key = IdOrder {
        id: trail_event::Column::Id,
        newest_first: true,
        id_of: |m: &trail_event::Model| m.id,
    };
    let query = trail_event::Entity::find().filter(cond);
    keyset::list(&state.db.conn, query, &key, first, after).await
}

/// Checks the whole hash chain of the audit trail. Reads every event.
pub async fn verify_trail(
    state: &AppState,
    rc: &RequestCtx,
) -> AppResult<crate::trail::chain::Integrity> {
    require_ig_officer(rc.principal()?, "verify the audit trail")?;
    Ok(crate::trail::chain::verify(&state.db).await?)
}

/// Records past their retention date: by type, then oldest retention end first, then id.
pub async fn retention_due(
    state: &AppState,
    rc: &RequestCtx,
    only: Option<RecordType>,
    first: u64,
    after: Option<&str>,
) -> AppResult<Page<DueRecord>> {
    require_ig_officer(rc.principal()?, "review retention")?;
    let position = after
        .map(keyset::decode_cursor::<(String, DateTime<Utc>, Uuid)>)
        .transpose()?
        .map(|(t, until, id)| {
            RecordType::parse(&t)
                .map(|t| (t, until, id))
                .ok_or_else(keyset::not_a_cursor)
        })
        .transpose()?;
    let (rows, more) =
        retention::due(&state.db.conn, &state.settings, only, first, position).await?;
    Ok(Page {
        rows: rows
            .into_iter()
            .map(|d| {
                let at = (d.record_type.as_str(), d.retention_until, d.id);
                let cursor = Cursor::Other(serde_json::to_value(at).unwrap_or_default());
                (d, cursor)
            })
            .collect(),
        has_next: more,
        had_after: position.is_some(),
        total: {
            let settings = state.settings.clone();
            Box::new(move |conn| {
                let settings = settings.clone();
                Box::pin(async move { retention::count_due(&conn, &settings, only).await })
            })
        },
    })
}

/// Legal holds, newest first.
pub async fn legal_holds(
    state: &AppState,
    rc: &RequestCtx,
    active_only: bool,
    first: u64,
    after: Option<&str>,
) -> AppResult<Page<legal_hold::Model>> {
    require_ig_officer(rc.principal()?, "list legal holds")?;
    let mut query = legal_hold::Entity::find();
    if active_only {
        query = query.filter(legal_hold::Column::ReleasedAt.is_null());
    }
    let key = IdOrder {
        id: legal_hold::Column::Id,
        newest_first: true,
        id_of: |m: &legal_hold::Model| m.id,
    };
    keyset::list(&state.db.conn, query, &key, first, after).await
}

/// Break-glass grants, newest first, for review.
pub async fn break_glass_grants(
    state: &AppState,
    rc: &RequestCtx,
    unreviewed_only: bool,
    first: u64,
    after: Option<&str>,
) -> AppResult<Page<break_glass_grant::Model>> {
    require_ig_officer(rc.principal()?, "review break-glass access")?;
    let mut query = break_glass_grant::Entity::find();
    if unreviewed_only {
        query = query.filter(break_glass_grant::Column::ReviewedAt.is_null());
    }
    let key = IdOrder {
        id: break_glass_grant::Column::Id,
        newest_first: true,
        id_of: |m: &break_glass_grant::Model| m.id,
    };
    keyset::list(&state.db.conn, query, &key, first, after).await
}

/// Disposes of every record past retention without an active legal hold.
pub async fn dispose_due(state: &AppState, rc: &RequestCtx) -> AppResult<retention::Disposal> {
    let p = rc.principal()?;
    require_ig_officer(p, "dispose of records")?;
    let tx_staff = rc.staff_id(state).await?;
    retention::dispose_due(
        &state.db,
        &state.settings,
        &crate::trail::Actor::of(p, tx_staff),
        Some(&rc.request_id),
    )
    .await
}
