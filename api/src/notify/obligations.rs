//! Obligations owed because of an incident: derived from its facts by the rules (data) in
//! the same transaction as the change that set those facts, met by recording steps.
use chrono::{DateTime, SubsecRound, Utc};
use entities::{candour_step, incident, obligation, obligation_step};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QuerySelect, Set,
};
use uuid::Uuid;

use super::rules::{self, IncidentFacts, ObligationStepKind, RegulatoryFact};
use crate::context::AppState;
use crate::error::{AppError, AppResult};
use crate::incident::model::{HarmLevel, IncidentKind};
use crate::trail::{Actor, Diff};

pub const OPEN: &str = "OPEN";
pub const SUBMITTED: &str = "SUBMITTED";
pub const WITHDRAWN: &str = "WITHDRAWN";

/// The kind whose steps are the incident's duty-of-candour steps.
pub const DUTY_OF_CANDOUR: &str = "DUTY_OF_CANDOUR";

/// What the rules look at, from the stored incident.
pub fn facts_of(m: &incident::Model) -> IncidentFacts {
    IncidentFacts {
        kind: IncidentKind::parse(&m.kind).unwrap_or(IncidentKind::Other),
        physical_harm: HarmLevel::from_rank(m.physical_harm),
        near_miss: m.near_miss,
        duty_of_candour: crate::incident::service::duty_applies(m),
        facts: RegulatoryFact::parse_set(&m.regulatory_facts),
        reported_at: m.reported_at,
        occurred_at: m.occurred_at,
    }
}

/// Brings an incident's obligations in line with its facts: opens what now applies,
/// withdraws open ones that no longer do (met ones stay met). Records a trail event on the
/// incident when anything changed.
pub async fn sync<C: ConnectionTrait>(
    conn: &C,
    state: &AppState,
    request_id: Option<&str>,
    actor: &Actor,
    m: &incident::Model,
) -> AppResult<()> {
    let n = &state.notifier;
    let owed = rules::derive(
        &state.settings.obligation_rules,
        &facts_of(m),
        &n.calendar,
        n.tz,
    );
    if owed.is_empty() && m.version == 1 {
        // A new report that owes nothing: nothing to open, nothing to withdraw.
        return Ok(());
    }
    let existing = if m.version == 1 {
        Vec::new()
    } else {
        obligation::Entity::find()
            .filter(obligation::Column::IncidentId.eq(m.id))
            .all(conn)
            .await?
    };
    let now = Utc::now();
    let mut opened = Vec::new();
    let mut withdrawn = Vec::new();
    let mut redated = Vec::new();
    for o in &owed {
        match existing.iter().find(|e| e.kind == o.rule.kind) {
            None => {
                obligation::Entity::insert(
                    obligation::Model {
                        id: Uuid::now_v7(),
                        incident_id: m.id,
                        department_id: m.department_id,
                        kind: o.rule.kind.clone(),
                        name: o.rule.name.clone(),
                        owed_to: o.rule.owed_to.clone(),
                        started_at: o.started_at,
                        due_at: o.due_at,
                        completed_by: o.rule.completed_by.as_str().into(),
                        status: OPEN.into(),
                        external_reference: None,
                        submitted_at: None,
                        withdrawn_reason: None,
                        created_at: now,
                        updated_at: now,
                    }
                    .into_active_model(),
                )
                .exec_without_returning(conn)
                .await?;
                opened.push(o.rule.kind.clone());
            }
            Some(e)
                if e.status == WITHDRAWN
                    || (e.status == OPEN && (e.due_at != o.due_at || e.name != o.rule.name)) =>
            {
                let reopened = e.status == WITHDRAWN;
                let mut row = e.clone().into_active_model();
                row.status = Set(OPEN.into());
                row.withdrawn_reason = Set(None);
                row.name = Set(o.rule.name.clone());
                row.owed_to = Set(o.rule.owed_to.clone());
                row.started_at = Set(o.started_at);
                row.due_at = Set(o.due_at);
                row.completed_by = Set(o.rule.completed_by.as_str().into());
                row.updated_at = Set(now);
                row.update(conn).await?;
                if reopened {
                    opened.push(o.rule.kind.clone());
                } else {
                    redated.push(o.rule.kind.clone());
                }
            }
            Some(_) => {}
        }
    }
    for e in existing.iter().filter(|e| e.status == OPEN) {
        if !owed.iter().any(|o| o.rule.kind == e.kind) {
            let mut row = e.clone().into_active_model();
            row.status = Set(WITHDRAWN.into());
            row.withdrawn_reason = Set(Some(
                "the incident's facts, as last recorded, no longer call for it".into(),
            ));
            row.updated_at = Set(now);
            row.update(conn).await?;
            withdrawn.push(e.kind.clone());
        }
    }
    if !opened.is_empty() || !withdrawn.is_empty() || !redated.is_empty() {
        let mut diff = Diff::new();
        for (name, kinds) in [
            ("obligationsOpened", &opened),
            ("obligationsWithdrawn", &withdrawn),
            ("obligationsRedated", &redated),
        ] {
            if !kinds.is_empty() {
                diff.field(name, None, Some(kinds.join(",")));
            }
        }
        crate::trail::service::record_for(
            conn,
            request_id,
            actor,
            "Incident",
            m.id,
            "incident.obligations_changed",
            diff,
        )
        .await?;
    }
    Ok(())
}

/// A step taken on an obligation, within the caller's transaction. Meets the obligation
/// when it is the step that completes it.
#[allow(clippy::too_many_arguments)]
pub async fn insert_step<C: ConnectionTrait>(
    conn: &C,
    o: &obligation::Model,
    step: ObligationStepKind,
    taken_at: DateTime<Utc>,
    external_reference: Option<String>,
    recorded_by: Option<Uuid>,
) -> AppResult<obligation::Model> {
    let now = Utc::now();
    obligation_step::Entity::insert(
        obligation_step::Model {
            id: Uuid::now_v7(),
            obligation_id: o.id,
            step: step.as_str().into(),
            taken_at,
            external_reference: external_reference.clone(),
            recorded_by_id: recorded_by,
            created_at: now,
        }
        .into_active_model(),
    )
    .exec_without_returning(conn)
    .await?;
    let mut row = o.clone().into_active_model();
    if o.status == OPEN && o.completed_by == step.as_str() {
        row.status = Set(SUBMITTED.into());
        row.submitted_at = Set(Some(taken_at));
    }
    if external_reference.is_some() {
        row.external_reference = Set(external_reference);
    }
    row.updated_at = Set(now);
    Ok(row.update(conn).await?)
}

/// Called when a duty-of-candour step is recorded on the incident: the same step on its
/// duty-of-candour obligation (verbal and written notifications).
pub async fn on_candour_step<C: ConnectionTrait>(
    conn: &C,
    incident_id: Uuid,
    step: &str,
    taken_at: DateTime<Utc>,
    recorded_by: Option<Uuid>,
) -> AppResult<()> {
    let Some(step) = ObligationStepKind::parse(step) else {
        return Ok(());
    };
    if let Some(o) = obligation::Entity::find()
        .filter(obligation::Column::IncidentId.eq(incident_id))
        .filter(obligation::Column::Kind.eq(DUTY_OF_CANDOUR))
        .one(conn)
        .await?
    {
        insert_step(conn, &o, step, taken_at, None, recorded_by).await?;
    }
    Ok(())
}

pub struct StepRequest {
    pub obligation_id: Uuid,
    pub step: ObligationStepKind,
    pub taken_at: Option<DateTime<Utc>>,
    pub external_reference: Option<String>,
}

/// Records a step on an obligation (the incident's handlers and quality leads).
pub async fn record_step(
    state: &AppState,
    rc: &crate::context::RequestCtx,
    req: StepRequest,
) -> AppResult<obligation::Model> {
    let p = rc.principal()?;
    let now = Utc::now();
    let taken_at = req.taken_at.unwrap_or(now);
    if taken_at > now + chrono::Duration::minutes(5) {
        return Err(AppError::invalid(
            "takenAt",
            "takenAt must not be in the future",
        ));
    }
    let reference = req
        .external_reference
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty());
    if reference.as_ref().is_some_and(|r| r.chars().count() > 100) {
        return Err(AppError::invalid(
            "externalReference",
            "externalReference must be at most 100 characters",
        ));
    }
    if req.step == ObligationStepKind::ReportSubmitted && reference.is_none() {
        return Err(AppError::invalid(
            "externalReference",
            "a submitted report needs the regulator's reference",
        ));
    }
    let o = obligation::Entity::find_by_id(req.obligation_id)
        .one(&state.db.conn)
        .await?
        .ok_or(AppError::NotFound("obligation"))?;
    let m = incident::Entity::find_by_id(o.incident_id)
        .one(&state.db.conn)
        .await?
        .ok_or(AppError::NotFound("obligation"))?;
    let access = crate::incident::service::access_to(state, rc, &m).await?;
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
        return Err(AppError::invalid("step", "this obligation is already met"));
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
    Ok(updated)
}
