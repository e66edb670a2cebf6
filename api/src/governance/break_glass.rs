//! The IG officer's review of break-glass grants (opening an incident under a grant is
//! the incident's own: `incident::break_glass`).
use chrono::{SubsecRound, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

use crate::context::{AppState, RequestCtx};
use crate::error::{AppError, AppResult};
use crate::incident::break_glass::MAX_JUSTIFICATION;
use crate::trail::{self, Actor, Diff};
use entities::break_glass_grant as grant;

/// Records an IG officer's review of a grant (once).
pub async fn review(
    state: &AppState,
    rc: &RequestCtx,
    grant_id: Uuid,
    note: String,
) -> AppResult<grant::Model> {
    let p = rc.principal()?;
    super::require_ig_officer(p, "review break-glass access")?;
    let note = note.trim().to_string();
    if note.is_empty() || note.chars().count() > MAX_JUSTIFICATION {
        return Err(AppError::invalid(
            "note",
            format!("a review note is 1 to {MAX_JUSTIFICATION} characters"),
        ));
    }
    let tx = state.db.begin_write().await?;
    let staff_id = rc.staff_in(state, &*tx).await?;
    let current = grant::Entity::find_by_id(grant_id)
        .lock_exclusive()
        .one(&*tx)
        .await?
        .ok_or(AppError::NotFound("break-glass grant"))?;
    if current.reviewed_at.is_some() {
        return Err(AppError::Duplicate(
            "this break-glass grant has already been reviewed".into(),
        ));
    }
    let now = Utc::now().trunc_subsecs(6);
    grant::Entity::update_many()
        .col_expr(grant::Column::ReviewedAt, now.into())
        .col_expr(grant::Column::ReviewedBy, p.label().into())
        .col_expr(grant::Column::ReviewNote, note.clone().into())
        .filter(grant::Column::Id.eq(grant_id))
        .exec(&*tx)
        .await?;
    let mut diff = Diff::new();
    diff.field("reviewedAt", None, Some(now))
        .sensitive("reviewNote", true);
    trail::record(
        &*tx,
        rc,
        &Actor::of(p, staff_id),
        "BreakGlassGrant",
        grant_id,
        "break_glass.reviewed",
        diff,
    )
    .await?;
    tx.commit().await?;
    Ok(grant::Model {
        reviewed_at: Some(now),
        reviewed_by: Some(p.label()),
        review_note: Some(note),
        ..current
    })
}
