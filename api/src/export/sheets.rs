//! The four lists an export can hold, each read a keyset page at a time through its
//! service's own `list` (the very filter, department scoping and order of the GraphQL
//! list), and each row's cells as the GraphQL object would give them: a sensitive cell is
//! filled only where the caller may read it, and its read is noted for the access log.
use chrono::Utc;

use super::cells::{flag, maybe_time, time};
use crate::action::model::CorrectiveActionOrderField;
use crate::action::service::ActionFilter;
use crate::audit::model::AuditOrderField;
use crate::audit::service::AuditFilter;
use crate::context::{AppState, RequestCtx};
use crate::error::{AppError, AppResult};
use crate::incident::model::{HarmLevel, IncidentOrderField, IncidentQuery};
use crate::incident::workflow::Access;
use crate::notify::service::ObligationQuery;
use crate::record::ids::{self, Kind};
use crate::record::keyset::{Cursor, Page};
use crate::record::OrderDirection;
use entities::{audit, corrective_action as action, incident};

/// A list to export, with its filter and order already parsed.
pub enum Sheet {
    Incidents {
        query: IncidentQuery,
        order: (IncidentOrderField, OrderDirection),
    },
    CorrectiveActions {
        query: ActionFilter,
        order: (CorrectiveActionOrderField, OrderDirection),
    },
    Audits {
        query: AuditFilter,
        order: (AuditOrderField, OrderDirection),
    },
    Obligations {
        query: ObligationQuery,
    },
}

/// One page of rows, and the cursor after its last row when more follow.
pub struct Rows {
    pub cells: Vec<Vec<String>>,
    pub next: Option<String>,
}

const INCIDENT_COLUMNS: &[&str] = &[
    "id",
    "reference",
    "title",
    "status",
    "eventType",
    "kind",
    "category",
    "departmentCode",
    "departmentName",
    "location",
    "occurredAt",
    "reportedAt",
    "physicalHarm",
    "psychologicalHarm",
    "nearMiss",
    "anonymous",
    "learningResponse",
    "triagedAt",
    "closedAt",
    "version",
    "description",
    "immediateActions",
    "patientNhsNumber",
    "patientName",
    "patientDateOfBirth",
];

const ACTION_COLUMNS: &[&str] = &[
    "id",
    "title",
    "status",
    "priority",
    "dueDate",
    "overdue",
    "ownerEmail",
    "departmentCode",
    "raisedFrom",
    "effective",
    "createdAt",
    "completedAt",
    "verifiedAt",
    "version",
    "description",
    "note",
    "verificationNote",
    "cancellationReason",
];

const AUDIT_COLUMNS: &[&str] = &[
    "id",
    "title",
    "status",
    "departmentCode",
    "standard",
    "plannedStart",
    "plannedEnd",
    "leadEmail",
    "reauditOf",
    "startedAt",
    "reportedAt",
    "closedAt",
    "version",
];

const OBLIGATION_COLUMNS: &[&str] = &[
    "id",
    "reference",
    "incidentId",
    "kind",
    "name",
    "owedTo",
    "startedAt",
    "dueAt",
    "status",
    "overdue",
    "completedBy",
    "externalReference",
    "submittedAt",
    "submittedLate",
    "withdrawnReason",
];

impl Sheet {
    /// The file's name before its date: `incidents-2026-12-07.csv`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Incidents { .. } => "incidents",
            Self::CorrectiveActions { .. } => "corrective-actions",
            Self::Audits { .. } => "audits",
            Self::Obligations { .. } => "obligations",
        }
    }

    /// The header row: the GraphQL field each column comes from.
    pub fn columns(&self) -> &'static [&'static str] {
        match self {
            Self::Incidents { .. } => INCIDENT_COLUMNS,
            Self::CorrectiveActions { .. } => ACTION_COLUMNS,
            Self::Audits { .. } => AUDIT_COLUMNS,
            Self::Obligations { .. } => OBLIGATION_COLUMNS,
        }
    }

    /// Up to `first` rows after `after`, each as the caller may read it.
    pub async fn page(
        &self,
        state: &AppState,
        rc: &RequestCtx,
        first: u64,
        after: Option<String>,
    ) -> AppResult<Rows> {
        match self {
            Self::Incidents { query, order } => {
                let page = crate::incident::service::list(
                    state,
                    rc,
                    query.clone(),
                    *order,
                    first,
                    after,
                    crate::incident::service::Columns::All,
                )
                .await?;
                let next = next_of(&page);
                let mut cells = Vec::with_capacity(page.rows.len());
                for ((m, access), _) in &page.rows {
                    cells.push(incident_row(state, rc, m, *access).await?);
                }
                Ok(Rows { cells, next })
            }
            Self::CorrectiveActions { query, order } => {
                let page =
                    crate::action::service::list(state, rc, query.clone(), *order, first, after)
                        .await?;
                let next = next_of(&page);
                let mut cells = Vec::with_capacity(page.rows.len());
                for ((m, _), _) in &page.rows {
                    cells.push(action_row(state, rc, m).await?);
                }
                Ok(Rows { cells, next })
            }
            Self::Audits { query, order } => {
                let page =
                    crate::audit::service::list(state, rc, query.clone(), *order, first, after)
                        .await?;
                let next = next_of(&page);
                let mut cells = Vec::with_capacity(page.rows.len());
                for ((m, _), _) in &page.rows {
                    cells.push(audit_row(state, m).await?);
                }
                Ok(Rows { cells, next })
            }
            Self::Obligations { query } => {
                let page = crate::notify::service::obligations(
                    state,
                    rc,
                    query.clone(),
                    first,
                    after.as_deref(),
                )
                .await?;
                let next = next_of(&page);
                let now = Utc::now();
                let cells = page
                    .rows
                    .into_iter()
                    .map(|((m, reference), _)| {
                        obligation_row(crate::notify::graphql::Obligation::of(m, reference, now))
                    })
                    .collect();
                Ok(Rows { cells, next })
            }
        }
    }
}

fn next_of<T>(page: &Page<T>) -> Option<String> {
    if !page.has_next {
        return None;
    }
    page.rows.last().map(|(_, c): &(T, Cursor)| c.encode())
}

async fn department(state: &AppState, id: uuid::Uuid) -> AppResult<entities::department::Model> {
    crate::org::service::department(state, id)
        .await?
        .ok_or(AppError::Internal("record without department".into()))
}

/// An incident's cells, as `Incident` in the GraphQL schema shows it to this reader.
async fn incident_row(
    state: &AppState,
    rc: &RequestCtx,
    m: &incident::Model,
    access: Access,
) -> AppResult<Vec<String>> {
    use crate::incident::service::note_read;
    let d = department(state, m.department_id).await?;
    let description = if note_read(rc, m, access, access.narrative, "description") {
        m.description.clone()
    } else {
        String::new()
    };
    let immediate_actions = match m.immediate_actions.as_deref() {
        Some(text) if note_read(rc, m, access, access.narrative, "immediateActions") => {
            text.to_string()
        }
        _ => String::new(),
    };
    let sealed = crate::protect::PatientSealed::of(m);
    let (nhs, name, dob) =
        if !sealed.is_empty() && note_read(rc, m, access, access.sensitive, "patient") {
            let clear = state
                .keys
                .open_patient(m.id, &sealed)
                .map_err(|e| AppError::Internal(format!("patient details: {e}")))?;
            (
                clear
                    .nhs_number
                    .map(|n| n.as_str().to_string())
                    .unwrap_or_default(),
                clear.name.unwrap_or_default(),
                clear
                    .date_of_birth
                    .map(|d| d.to_string())
                    .unwrap_or_default(),
            )
        } else {
            Default::default()
        };
    Ok(vec![
        ids::encode(Kind::Incident, m.id).to_string(),
        m.reference.clone(),
        m.title.clone(),
        m.status.clone(),
        m.event_type.clone(),
        m.kind.clone(),
        m.category.clone().unwrap_or_default(),
        d.code,
        d.name,
        m.location.clone().unwrap_or_default(),
        time(m.occurred_at),
        time(m.reported_at),
        HarmLevel::from_rank(m.physical_harm).as_str().to_string(),
        HarmLevel::from_rank(m.psychological_harm)
            .as_str()
            .to_string(),
        flag(m.near_miss),
        flag(m.anonymous),
        m.learning_response.clone().unwrap_or_default(),
        maybe_time(m.triaged_at),
        maybe_time(m.closed_at),
        m.version.to_string(),
        description,
        immediate_actions,
        nhs,
        name,
        dob,
    ])
}

/// A corrective action's cells, as `CorrectiveAction` shows it (its free text logged).
async fn action_row(
    state: &AppState,
    rc: &RequestCtx,
    m: &action::Model,
) -> AppResult<Vec<String>> {
    use crate::action::service::note_read;
    let d = department(state, m.department_id).await?;
    let raised_from = if m.incident_id.is_some() {
        "INCIDENT"
    } else if m.audit_finding_id.is_some() {
        "AUDIT_FINDING"
    } else if m.improvement_project_id.is_some() {
        "IMPROVEMENT_PROJECT"
    } else {
        ""
    };
    let text = |field, v: &Option<String>| {
        note_read(rc, m.id, field, v.as_deref())
            .unwrap_or_default()
            .to_string()
    };
    Ok(vec![
        ids::encode(Kind::CorrectiveAction, m.id).to_string(),
        m.title.clone(),
        m.status.clone(),
        m.priority.clone(),
        m.due_date.to_string(),
        flag(crate::action::service::is_overdue(state, m)),
        m.owner_email.clone(),
        d.code,
        raised_from.to_string(),
        m.effective.map(flag).unwrap_or_default(),
        time(m.created_at),
        maybe_time(m.completed_at),
        maybe_time(m.verified_at),
        m.version.to_string(),
        text("description", &m.description),
        text("note", &m.note),
        text("verificationNote", &m.verification_note),
        text("cancellationReason", &m.cancellation_reason),
    ])
}

/// An audit's cells, as `Audit` shows it (nothing in it is sensitive).
async fn audit_row(state: &AppState, m: &audit::Model) -> AppResult<Vec<String>> {
    let d = department(state, m.department_id).await?;
    Ok(vec![
        ids::encode(Kind::Audit, m.id).to_string(),
        m.title.clone(),
        m.status.clone(),
        d.code,
        m.standard.clone(),
        m.planned_start.to_string(),
        m.planned_end.to_string(),
        m.lead_email.clone().unwrap_or_default(),
        m.reaudit_of_id
            .map(|id| ids::encode(Kind::Audit, id).to_string())
            .unwrap_or_default(),
        maybe_time(m.started_at),
        maybe_time(m.reported_at),
        maybe_time(m.closed_at),
        m.version.to_string(),
    ])
}

/// An obligation's cells, from the very `Obligation` the GraphQL list returns.
fn obligation_row(o: crate::notify::graphql::Obligation) -> Vec<String> {
    vec![
        o.id.to_string(),
        o.reference,
        o.incident_id.to_string(),
        o.kind,
        o.name,
        o.owed_to,
        time(o.started_at),
        time(o.due_at),
        o.status.as_str().to_string(),
        flag(o.overdue),
        o.completed_by.as_str().to_string(),
        o.external_reference.unwrap_or_default(),
        maybe_time(o.submitted_at),
        flag(o.submitted_late),
        o.withdrawn_reason.unwrap_or_default(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sheet_names_its_columns_once() {
        for columns in [
            INCIDENT_COLUMNS,
            ACTION_COLUMNS,
            AUDIT_COLUMNS,
            OBLIGATION_COLUMNS,
        ] {
            let set: std::collections::BTreeSet<_> = columns.iter().collect();
            assert_eq!(set.len(), columns.len(), "{columns:?}");
        }
    }
}
