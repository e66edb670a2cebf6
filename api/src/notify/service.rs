//! The outbox and the obligations board as the API serves them: listing emails (quality
//! leads), retrying a dead letter, personal preferences, and the obligations board
//! (quality leads all departments, handlers their own).
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entities::{
    notification, notification_attempt, notification_preference, obligation, obligation_step,
};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};
use uuid::Uuid;

use super::model::{NotificationStatus, ObligationStatus};
use super::{obligations, NotificationKind, DEAD, QUEUED, SENT};
use crate::auth::{Principal, Role};
use crate::context::{AppState, RequestCtx};
use crate::error::{AppError, AppResult};
use crate::record::keyset::{self, IdOrder, Page};
use crate::record::{visibility, OrderDirection};

fn require_quality_lead(p: &Principal, what: &str) -> AppResult<()> {
    if !p.has_role(Role::QualityLead) {
        return Err(AppError::forbidden(format!(
            "only quality leads may {what}"
        )));
    }
    Ok(())
}

/// Which emails to list; all given must match.
#[derive(Default)]
pub struct NotificationQuery {
    /// Any of these states.
    pub statuses: Vec<NotificationStatus>,
    /// Any of these kinds.
    pub kinds: Vec<NotificationKind>,
    /// About this incident (its reference).
    pub reference: Option<String>,
    /// To this address.
    pub recipient: Option<String>,
}

/// Emails in the outbox, newest first (quality leads).
pub async fn notifications(
    state: &AppState,
    rc: &RequestCtx,
    q: NotificationQuery,
    first: u64,
    after: Option<&str>,
) -> AppResult<Page<notification::Model>> {
    require_quality_lead(rc.principal()?, "list notifications")?;
    let mut query = notification::Entity::find();
    if !q.statuses.is_empty() {
        let mut any = Condition::any();
        for s in q.statuses {
            any = any.add(match s {
                NotificationStatus::Queued => Condition::all()
                    .add(notification::Column::Status.eq(QUEUED))
                    .add(notification::Column::Attempts.eq(0)),
                NotificationStatus::Retrying => Condition::all()
                    .add(notification::Column::Status.eq(QUEUED))
                    .add(notification::Column::Attempts.gt(0)),
                NotificationStatus::Sent => {
                    Condition::all().add(notification::Column::Status.eq(SENT))
                }
                NotificationStatus::Dead => {
                    Condition::all().add(notification::Column::Status.eq(DEAD))
                }
            });
        }
        query = query.filter(any);
    }
    if !q.kinds.is_empty() {
        query = query.filter(notification::Column::Kind.is_in(q.kinds.iter().map(|k| k.as_str())));
    }
    if let Some(r) = q.reference {
        query = query.filter(notification::Column::Reference.eq(r.trim().to_ascii_uppercase()));
    }
    if let Some(r) = q.recipient {
        query = query.filter(notification::Column::Recipient.eq(r.trim().to_lowercase()));
    }
    let key = IdOrder {
        id: notification::Column::Id,
        newest_first: true,
        id_of: |m: &notification::Model| m.id,
    };
    keyset::list(&state.db.conn, query, &key, first, after).await
}

/// Every attempt at delivering an email, oldest first.
pub async fn deliveries(
    state: &AppState,
    notification_id: Uuid,
) -> AppResult<Vec<notification_attempt::Model>> {
    Ok(notification_attempt::Entity::find()
        .filter(notification_attempt::Column::NotificationId.eq(notification_id))
        .order_by_asc(notification_attempt::Column::Id)
        .all(&state.db.conn)
        .await?)
}

/// Puts a dead-lettered email back in the queue, due now (quality leads).
pub async fn retry(state: &AppState, rc: &RequestCtx, id: Uuid) -> AppResult<notification::Model> {
    require_quality_lead(rc.principal()?, "retry notifications")?;
    let tx = state.db.begin_write().await?;
    let n = notification::Entity::find_by_id(id)
        .one(&*tx)
        .await?
        .ok_or(AppError::NotFound("notification"))?;
    if n.status != DEAD {
        return Err(AppError::invalid(
            "notificationId",
            "only a dead-lettered notification can be retried",
        ));
    }
    let updated = notification::Entity::update(super::dispatch::requeue(n))
        .exec(&*tx)
        .await?;
    tx.commit().await?;
    Ok(updated)
}

/// The kinds of email the caller has switched off (none before they are first seen).
pub async fn switched_off(state: &AppState, rc: &RequestCtx) -> AppResult<Vec<String>> {
    if rc.principal()?.is_service() {
        return Err(AppError::forbidden("service accounts receive no email"));
    }
    let Some(me) = rc.staff_id(state).await? else {
        return Ok(Vec::new());
    };
    Ok(notification_preference::Entity::find()
        .filter(notification_preference::Column::StaffId.eq(me))
        .filter(notification_preference::Column::Enabled.eq(false))
        .all(&state.db.conn)
        .await?
        .into_iter()
        .map(|p| p.kind)
        .collect())
}

/// Switches one kind of email on or off for the caller. Mandatory kinds cannot be
/// switched off.
pub async fn set_preference(
    state: &AppState,
    rc: &RequestCtx,
    kind: NotificationKind,
    enabled: bool,
) -> AppResult<()> {
    if rc.principal()?.is_service() {
        return Err(AppError::forbidden("service accounts receive no email"));
    }
    if kind.mandatory() && !enabled {
        return Err(AppError::invalid(
            "kind",
            "this kind of email is mandatory and cannot be switched off",
        ));
    }
    let tx = state.db.begin_write().await?;
    let me = rc
        .staff_in(state, &*tx)
        .await?
        .ok_or_else(|| AppError::forbidden("no staff record for this token"))?;
    let row = notification_preference::ActiveModel {
        staff_id: Set(me),
        kind: Set(kind.as_str().into()),
        enabled: Set(enabled),
        updated_at: Set(Utc::now()),
    };
    notification_preference::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([
                notification_preference::Column::StaffId,
                notification_preference::Column::Kind,
            ])
            .update_columns([
                notification_preference::Column::Enabled,
                notification_preference::Column::UpdatedAt,
            ])
            .to_owned(),
        )
        .exec_without_returning(&*tx)
        .await?;
    tx.commit().await?;
    state.notifier.recipients.preferences_changed();
    Ok(())
}

/// Which obligations to list; all given must match.
#[derive(Default, Clone)]
pub struct ObligationQuery {
    /// Due before this time.
    pub due_before: Option<DateTime<Utc>>,
    /// Only open ones past their due time (true), or only those not (false).
    pub overdue: Option<bool>,
    /// Any of these kinds.
    pub kinds: Vec<String>,
    /// Any of these states; open only when empty.
    pub statuses: Vec<ObligationStatus>,
    /// Of this incident.
    pub incident_id: Option<Uuid>,
}

/// Everything owed to a regulator or a patient, soonest due first, with each incident's
/// reference: quality leads see all departments, handlers their own.
pub async fn obligations(
    state: &AppState,
    rc: &RequestCtx,
    q: ObligationQuery,
    first: u64,
    after: Option<&str>,
) -> AppResult<Page<(obligation::Model, String)>> {
    let p = rc.principal()?;
    let mut query = obligation::Entity::find();
    if !p.has_role(Role::QualityLead) {
        if !p.has_role(Role::Handler) {
            return Err(AppError::forbidden(
                "only handlers and quality leads may list obligations",
            ));
        }
        query = query.filter(visibility::in_departments(
            obligation::Column::DepartmentId,
            &p.department_codes,
        ));
    }
    let statuses = if q.statuses.is_empty() {
        vec![ObligationStatus::Open]
    } else {
        q.statuses
    };
    query = query.filter(obligation::Column::Status.is_in(statuses.iter().map(|s| s.as_str())));
    let now = Utc::now();
    if let Some(before) = q.due_before {
        query = query.filter(obligation::Column::DueAt.lt(before));
    }
    match q.overdue {
        Some(true) => {
            query = query
                .filter(obligation::Column::Status.eq(obligations::OPEN))
                .filter(obligation::Column::DueAt.lt(now))
        }
        Some(false) => {
            query = query.filter(
                Condition::any()
                    .add(obligation::Column::Status.ne(obligations::OPEN))
                    .add(obligation::Column::DueAt.gte(now)),
            )
        }
        None => {}
    }
    if !q.kinds.is_empty() {
        query = query.filter(obligation::Column::Kind.is_in(q.kinds));
    }
    if let Some(id) = q.incident_id {
        query = query.filter(obligation::Column::IncidentId.eq(id));
    }
    let key = crate::column_order!(obligation::DueAt, due_at: DateTime<Utc>, OrderDirection::Asc);
    let page = keyset::list(&state.db.conn, query, &key, first, after).await?;
    let refs = incident_references(
        state,
        page.rows.iter().map(|(o, _)| o.incident_id).collect(),
    )
    .await?;
    Ok(page.map(|o| {
        let r = refs.get(&o.incident_id).cloned().unwrap_or_default();
        (o, r)
    }))
}

/// Steps taken on an obligation, in the order they were taken.
pub async fn obligation_steps(
    state: &AppState,
    obligation_id: Uuid,
) -> AppResult<Vec<obligation_step::Model>> {
    Ok(obligation_step::Entity::find()
        .filter(obligation_step::Column::ObligationId.eq(obligation_id))
        .order_by_asc(obligation_step::Column::TakenAt)
        .all(&state.db.conn)
        .await?)
}

/// References of incidents by id, in one query.
pub async fn incident_references(
    state: &AppState,
    ids: Vec<Uuid>,
) -> AppResult<HashMap<Uuid, String>> {
    if ids.is_empty() {
        return Ok(Default::default());
    }
    let rows: Vec<(Uuid, String)> = entities::incident::Entity::find()
        .select_only()
        .column(entities::incident::Column::Id)
        .column(entities::incident::Column::Reference)
        .filter(entities::incident::Column::Id.is_in(ids))
        .into_tuple()
        .all(&state.db.conn)
        .await?;
    Ok(rows.into_iter().collect())
}
