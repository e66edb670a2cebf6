//! Obligations owed because of an incident: derived from its facts by the rules (data) in
//! the same transaction as the change that set those facts, met by recording steps.
use chrono::{DateTime, Utc};
use entities::{incident, obligation, obligation_step};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, Set,
};
use uuid::Uuid;

use super::rules::{self, IncidentFacts, ObligationStepKind, RegulatoryFact};
use crate::context::AppState;
use crate::error::AppResult;
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
        duty_of_candour: crate::incident::workflow::duty_applies(m),
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
