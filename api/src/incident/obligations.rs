//! Recording the steps taken on what an incident owes (the obligations derived from its
//! facts by `notify::obligations`): by the incident's handlers and quality leads.
use chrono::{DateTime, SubsecRound, Utc};
use entities::{candour_step, incident, obligation};
use sea_orm::{ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, QuerySelect};
use uuid::Uuid;

use crate::context::AppState;
use crate::error::{AppError, AppResult};
use crate::notify::obligations::{insert_step, DUTY_OF_CANDOUR, SUBMITTED, WITHDRAWN};
use crate::notify::rules::ObligationStepKind;
use crate::record::text::{self, reason};
use crate::trail::{Actor, Diff};

pub struct StepRequest {
    pub obligation_id: Uuid,
    pub step: ObligationStepKind,
    pub taken_at: Option<DateTime<Utc>>,
    pub external_reference: Option<String>,
}

/// Records a step on an obligation (the incident's handlers and quality leads), and returns
/// it with its incident's reference.
pub async fn record_step(
    state: &AppState,
    rc: &crate::context::RequestCtx,
    req: StepRequest,
) -> AppResult<(obligation::Model, String)> {
    let p = rc.principal()?;
    let now = crate::record::clock::now();
    let taken_at = req.taken_at.unwrap_or(now);
    if taken_at > now + chrono::Duration::minutes(5) {
        return Err(
            AppError::invalid("takenAt", "takenAt must not be in the future")
                .because(reason::IN_FUTURE),
        );
    }
    let reference = text::optional("externalReference", req.external_reference, 100)?;
    if req.step == ObligationStepKind::ReportSubmitted && reference.is_none() {
        return Err(AppError::invalid(
            "externalReference",
            "a submitted report needs the regulator's reference",
        )
        .because(reason::BLANK));
    }
    let o = obligation::Entity::find_by_id(req.obligation_id)
        .one(&state.db.conn)
        .await?
        .ok_or(AppError::NotFound("obligation"))?;
    let m = incident::Entity::find_by_id(o.incident_id)
        .one(&state.db.conn)
        .await?
        .ok_or(AppError::NotFound("obligation"))?;
    let access = super::service::access_to(state, rc, &m).await?;
    if !access.view || !access.internal {
        return Err(AppError::NotFound("obligation"));
    }
    if !access.manage {
        return Err(AppError::forbidden(
            "only the incident's handlers and quality leads may record obligation steps",
        ));
    }
    let tx = state.db.begin_write().await?;
    let staff = rc.staff_in(state, &*tx).await?;
    if o.kind == DUTY_OF_CANDOUR {
        // The incident's candour steps change too: lock the incident first, in the same
        // order as recordDutyOfCandourStep, so the two mutations cannot interleave.
        incident::Entity::find_by_id(o.incident_id)
            .lock_exclusive()
            .one(&*tx)
            .await?;
    }
    // Re-read inside the write, row-locked on PostgreSQL (SQLite's write lock does the
    // same): two people recording at once see each other's steps.
    let o = obligation::Entity::find_by_id(req.obligation_id)
        .lock_exclusive()
        .one(&*tx)
        .await?
        .ok_or(AppError::NotFound("obligation"))?;
    if o.status == WITHDRAWN {
        return Err(AppError::invalid(
            "obligationId",
            "this obligation was withdrawn: the incident's facts no longer call for it",
        ));
    }
    if o.completed_by == ObligationStepKind::WrittenNotification.as_str()
        && req.step == ObligationStepKind::ReportSubmitted
    {
        return Err(AppError::invalid(
            "step",
            "this obligation is met by notifying the patient (verbal and written notification), not by a report",
        ));
    }
    if o.status == SUBMITTED && o.completed_by == req.step.as_str() {
        return Err(
            AppError::invalid("step", "this obligation is already met").because(reason::DUPLICATE)
        );
    }
    let updated = insert_step(
        &*tx,
        &o,
        req.step,
        taken_at.trunc_subsecs(6),
        reference.clone(),
        staff,
    )
    .await?;
    if o.kind == DUTY_OF_CANDOUR && req.step != ObligationStepKind::ReportSubmitted {
        // The incident's own record of the duty of candour (its closing rules read it).
        let already = candour_step::Entity::find()
            .filter(candour_step::Column::IncidentId.eq(o.incident_id))
            .filter(candour_step::Column::Step.eq(req.step.as_str()))
            .one(&*tx)
            .await?;
        if already.is_none() {
            candour_step::Entity::insert(
                candour_step::Model {
                    id: Uuid::now_v7(),
                    incident_id: o.incident_id,
                    step: req.step.as_str().into(),
                    taken_at: taken_at.trunc_subsecs(6),
                    recorded_by_id: staff,
                    created_at: now,
                }
                .into_active_model(),
            )
            .exec_without_returning(&*tx)
            .await?;
        }
    }
    let mut diff = Diff::new();
    diff.field("kind", None, Some(o.kind.as_str()))
        .field("step", None, Some(req.step.as_str()))
        .field("takenAt", None, Some(taken_at))
        .field("externalReference", None, reference.as_deref())
        .field(
            "status",
            Some(o.status.as_str()),
            Some(updated.status.as_str()),
        );
    crate::trail::record(
        &*tx,
        rc,
        &Actor::of(p, staff),
        "Obligation",
        o.id,
        "obligation.step_recorded",
        diff,
    )
    .await?;
    tx.commit().await?;
    Ok((updated, m.reference))
}
