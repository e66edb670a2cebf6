//! Break-glass: a person outside an incident's normal scope opens it with a written
//! justification. The grant lasts `break_glass_minutes`, lets its holder read (never
//! change) that one incident, marks their reads as break-glass in the access log, and waits
//! in a list for an information-governance officer's review.
use chrono::{Duration, SubsecRound, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

use super::workflow::Access;
use crate::context::{AppState, RequestCtx};
use crate::error::{AppError, AppResult};
use crate::trail::{self, Actor, Diff};
use entities::{break_glass_grant as grant, incident};

pub const MIN_JUSTIFICATION: usize = 20;
pub const MAX_JUSTIFICATION: usize = 2000;

/// `access`, widened by an unexpired grant the caller holds for this incident.
pub async fn or_grant(
    state: &AppState,
    rc: &RequestCtx,
    m: &incident::Model,
    access: Access,
) -> AppResult<Access> {
    let p = rc.principal()?;
    if access.sensitive || p.is_service() {
        return Ok(access);
    }
    let held = grant::Entity::find()
        .filter(grant::Column::IncidentId.eq(m.id))
        .filter(grant::Column::Subject.eq(p.subject.as_str()))
        .filter(grant::Column::ExpiresAt.gt(Utc::now()))
        .limit(1)
        .one(&state.db.conn)
        .await?;
    Ok(match held {
        Some(_) => Access {
            manage: access.manage,
            close: access.close,
            ..Access::BREAK_GLASS
        },
        None => access,
    })
}

/// Opens an incident outside the caller's scope. NOT_FOUND when there is no such incident.
pub async fn open(
    state: &AppState,
    rc: &RequestCtx,
    incident_id: Uuid,
    justification: String,
) -> AppResult<(grant::Model, incident::Model)> {
    let p = rc.principal()?;
    if p.is_service() {
        return Err(AppError::forbidden(
            "break-glass access is for people, not service accounts",
        ));
    }
    let justification = justification.trim().to_string();
    let n = justification.chars().count();
    if !(MIN_JUSTIFICATION..=MAX_JUSTIFICATION).contains(&n) {
        return Err(AppError::invalid(
            "justification",
            format!(
                "a break-glass justification is {MIN_JUSTIFICATION} to {MAX_JUSTIFICATION} characters saying why you need this record now"
            ),
        ));
    }
    let m = incident::Entity::find_by_id(incident_id)
        .one(&state.db.conn)
        .await?
        .ok_or(AppError::NotFound("incident"))?;
    if m.disposed_at.is_some() {
        return Err(AppError::NotFound("incident"));
    }
    let normal = super::service::access_to(state, rc, &m).await?;
    if normal.sensitive {
        return Err(AppError::invalid(
            "incidentId",
            "you can already read this incident; break-glass access is not needed",
        ));
    }
    let tx = state.db.begin_write().await?;
    let staff_id = rc.staff_in(state, &*tx).await?;
    let now = Utc::now().trunc_subsecs(6);
    let expires = now + Duration::minutes(i64::from(state.settings.break_glass_minutes));
    let row = grant::Model {
        id: Uuid::now_v7(),
        incident_id,
        staff_id,
        subject: p.subject.clone(),
        actor_label: p.label(),
        justification,
        granted_at: now,
        expires_at: expires,
        reviewed_at: None,
        reviewed_by: None,
        review_note: None,
    };
    grant::Entity::insert(grant::ActiveModel::from(row.clone()))
        .exec_without_returning(&*tx)
        .await?;
    let mut diff = Diff::new();
    diff.field("breakGlassUntil", None, Some(expires))
        .sensitive("justification", true);
    trail::record(
        &*tx,
        rc,
        &Actor::of(p, staff_id),
        "Incident",
        incident_id,
        "incident.break_glass",
        diff,
    )
    .await?;
    tx.commit().await?;
    tracing::warn!(grant = %row.id, incident = %incident_id, "break-glass access granted");
    Ok((row, m))
}
