//! Audit persistence and rules: permission, rules, rows and trail in one transaction.
use std::collections::HashSet;

use chrono::NaiveDate;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, IntoActiveModel,
    QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

use super::model::AuditStatus as S;
use super::workflow::{self, Access};
use crate::auth::{Principal, Role, Scope};
use crate::context::{AppState, RequestCtx};
use crate::error::{AppError, AppResult};
use crate::record::keyset::{self, ColumnOrder, Page};
use crate::record::{now, text, versioned, OrderDirection};
use crate::trail::{self, Actor, Diff};
use entities::{audit, audit_finding as finding, corrective_action as action};

const ENTITY: &str = "Audit";

pub struct NewAudit {
    pub title: String,
    pub department_id: Uuid,
    pub standard: String,
    pub planned_start: NaiveDate,
    pub planned_end: NaiveDate,
    pub reaudit_of: Option<Uuid>,
    pub lead_email: Option<String>,
}

pub struct NewFinding {
    pub audit_id: Uuid,
    pub criterion: String,
    pub target_percent: f64,
    pub sample_size: i32,
    pub compliant_count: i32,
}

fn email_of(p: &Principal) -> Option<String> {
    (!p.is_service())
        .then(|| p.email.as_deref().map(str::to_lowercase))
        .flatten()
}

/// Audits are aggregate quality data: every signed-in person may read them.
pub fn access(p: &Principal, department_code: &str, lead_email: Option<&str>) -> Access {
    let manage = p.has_role(Role::QualityLead) || p.handles_department(department_code);
    let lead = lead_email.is_some_and(|l| email_of(p).as_deref() == Some(l));
    Access {
        view: !p.is_service() || p.has_scope(Scope::IncidentsRead),
        manage,
        lead,
    }
}

/// Which audits the caller may see, as a condition on the audit table (`access`: every
/// person; service accounts that read incidents).
pub fn visible(p: &Principal) -> Condition {
    if access(p, "", None).view {
        Condition::all()
    } else {
        crate::record::visibility::nothing()
    }
}

pub async fn access_to(state: &AppState, rc: &RequestCtx, m: &audit::Model) -> AppResult<Access> {
    let code = crate::org::service::department(state, m.department_id)
        .await?
        .map(|d| d.code)
        .unwrap_or_default();
    Ok(access(rc.principal()?, &code, m.lead_email.as_deref()))
}

fn status_of(m: &audit::Model) -> S {
    S::parse(&m.status).unwrap_or(S::Planned)
}

pub async fn plan(
    state: &AppState,
    rc: &RequestCtx,
    input: NewAudit,
) -> AppResult<(audit::Model, Access)> {
    let p = rc.principal()?;
    let title = text::required("title", input.title, 200)?;
    let standard = text::required("standard", input.standard, 20_000)?;
    if input.planned_end < input.planned_start {
        return Err(AppError::invalid(
            "plannedEnd",
            "plannedEnd is on or after plannedStart",
        ));
    }
    let lead_email = match input
        .lead_email
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty())
    {
        Some(e) => Some(text::email("leadEmail", e)?),
        None => None,
    };
    let Some(dept) = crate::org::service::department(state, input.department_id).await? else {
        return Err(AppError::invalid("departmentId", "no such department")
            .because(crate::record::text::reason::UNKNOWN));
    };
    if !access(p, &dept.code, None).manage {
        return Err(AppError::forbidden(
            "audits are planned by the department's handlers and quality leads",
        ));
    }
    let tx = state.db.begin_write().await?;
    let staff = rc.staff_in(state, &*tx).await?;
    if let Some(of) = input.reaudit_of {
        if audit::Entity::find_by_id(of).one(&*tx).await?.is_none() {
            return Err(AppError::invalid("reauditOfId", "no such audit")
                .because(crate::record::text::reason::UNKNOWN));
        }
    }
    let now = now();
    let model = audit::Model {
        id: Uuid::now_v7(),
        title,
        department_id: dept.id,
        standard,
        planned_start: input.planned_start,
        planned_end: input.planned_end,
        lead_email,
        status: S::Planned.as_str().into(),
        reaudit_of_id: input.reaudit_of,
        started_at: None,
        reported_at: None,
        closed_at: None,
        created_by_id: staff,
        created_at: now,
        updated_at: now,
        version: 1,
        disposed_at: None,
    };
    audit::Entity::insert(model.clone().into_active_model())
        .exec_without_returning(&*tx)
        .await?;
    let mut diff = Diff::new();
    diff.field("title", None, Some(&model.title))
        .field("departmentId", None, Some(model.department_id))
        .field("plannedStart", None, Some(model.planned_start))
        .field("plannedEnd", None, Some(model.planned_end))
        .field("leadEmail", None, model.lead_email.as_ref())
        .field("reauditOfId", None, model.reaudit_of_id)
        .field("status", None, Some(&model.status));
    trail::record(
        &*tx,
        rc,
        &Actor::of(p, staff),
        ENTITY,
        model.id,
        "audit.planned",
        diff,
    )
    .await?;
    tx.commit().await?;
    let access = access_to(state, rc, &model).await?;
    Ok((model, access))
}

pub async fn get(state: &AppState, rc: &RequestCtx, id: Uuid) -> AppResult<(audit::Model, Access)> {
    rc.principal()?;
    let m = audit::Entity::find_by_id(id)
        .one(&state.db.conn)
        .await?
        .ok_or(AppError::NotFound("audit"))?;
    let access = access_to(state, rc, &m).await?;
    if !access.view {
        return Err(AppError::NotFound("audit"));
    }
    Ok((m, access))
}

/// Records (or, for a criterion already recorded, corrects) one finding while the audit
/// is in progress.
pub async fn record_finding(
    state: &AppState,
    rc: &RequestCtx,
    input: NewFinding,
) -> AppResult<(audit::Model, Access)> {
    let p = rc.principal()?;
    let criterion = text::required("criterion", input.criterion, 500)?;
    workflow::check_finding(
        input.target_percent,
        input.sample_size,
        input.compliant_count,
    )?;
    let key = workflow::criterion_key(&criterion);
    let tx = state.db.begin_write().await?;
    let staff = rc.staff_in(state, &*tx).await?;
    let current = audit::Entity::find_by_id(input.audit_id)
        .lock_exclusive()
        .one(&*tx)
        .await?
        .ok_or(AppError::NotFound("audit"))?;
    let access = access_to(state, rc, &current).await?;
    if !access.view {
        return Err(AppError::NotFound("audit"));
    }
    if !access.manage && !access.lead {
        return Err(AppError::forbidden(
            "findings are recorded by the audit's lead, the department's handlers and quality leads",
        ));
    }
    if status_of(&current) != S::InProgress {
        return Err(AppError::invalid(
            "auditId",
            "findings are recorded while the audit is IN_PROGRESS",
        ));
    }
    let existing = finding::Entity::find()
        .filter(finding::Column::AuditId.eq(current.id))
        .filter(finding::Column::CriterionKey.eq(key.clone()))
        .one(&*tx)
        .await?;
    let now = now();
    let row = finding::Model {
        id: existing.as_ref().map(|f| f.id).unwrap_or_else(Uuid::now_v7),
        audit_id: current.id,
        criterion,
        criterion_key: key,
        target_percent: input.target_percent,
        sample_size: input.sample_size,
        compliant_count: input.compliant_count,
        recorded_by_id: staff,
        recorded_at: now,
    };
    let mut diff = Diff::new();
    diff.field("findingId", None, Some(row.id))
        .field(
            "criterion",
            existing.as_ref().map(|f| &f.criterion),
            Some(&row.criterion),
        )
        .field(
            "targetPercent",
            existing.as_ref().map(|f| f.target_percent),
            Some(row.target_percent),
        )
        .field(
            "sampleSize",
            existing.as_ref().map(|f| f.sample_size),
            Some(row.sample_size),
        )
        .field(
            "compliantCount",
            existing.as_ref().map(|f| f.compliant_count),
            Some(row.compliant_count),
        );
    match existing {
        Some(_) => {
            row.clone()
                .into_active_model()
                .reset_all()
                .update(&*tx)
                .await?;
        }
        None => {
            finding::Entity::insert(row.clone().into_active_model())
                .exec_without_returning(&*tx)
                .await?;
        }
    }
    trail::record(
        &*tx,
        rc,
        &Actor::of(p, staff),
        ENTITY,
        current.id,
        "audit.finding_recorded",
        diff,
    )
    .await?;
    tx.commit().await?;
    Ok((current, access))
}

/// Non-conformities of an audit that have no corrective action (cancelled ones do not count).
async fn uncorrected<C: ConnectionTrait>(
    conn: &C,
    audit_id: Uuid,
) -> AppResult<(usize, Vec<String>)> {
    let findings = finding::Entity::find()
        .filter(finding::Column::AuditId.eq(audit_id))
        .order_by_asc(finding::Column::RecordedAt)
        .all(conn)
        .await?;
    let below: Vec<&finding::Model> = findings
        .iter()
        .filter(|f| workflow::is_non_conformity(f.target_percent, f.sample_size, f.compliant_count))
        .collect();
    if below.is_empty() {
        return Ok((findings.len(), Vec::new()));
    }
    let corrected: HashSet<Uuid> = action::Entity::find()
        .filter(action::Column::AuditFindingId.is_in(below.iter().map(|f| f.id)))
        .filter(action::Column::Status.ne("CANCELLED"))
        .all(conn)
        .await?
        .into_iter()
        .filter_map(|a| a.audit_finding_id)
        .collect();
    Ok((
        findings.len(),
        below
            .into_iter()
            .filter(|f| !corrected.contains(&f.id))
            .map(|f| f.criterion.clone())
            .collect(),
    ))
}

pub async fn transition(
    state: &AppState,
    rc: &RequestCtx,
    id: Uuid,
    to: S,
    expected_version: i32,
) -> AppResult<(audit::Model, Access)> {
    let p = rc.principal()?;
    let tx = state.db.begin_write().await?;
    let staff = rc.staff_in(state, &*tx).await?;
    let current = audit::Entity::find_by_id(id)
        .lock_exclusive()
        .one(&*tx)
        .await?
        .ok_or(AppError::NotFound("audit"))?;
    let access = access_to(state, rc, &current).await?;
    if !access.view {
        return Err(AppError::NotFound("audit"));
    }
    if !access.manage {
        return Err(AppError::forbidden(
            "audits are moved by the department's handlers and quality leads",
        ));
    }
    // A stale version first: whoever saw an older audit learns that, not that the move
    // no longer fits the status someone else has just set.
    versioned::check(current.version, expected_version)?;
    let from = status_of(&current);
    workflow::check_transition(from, to, access)?;
    if to == S::Reported {
        let (n, _) = uncorrected(&*tx, id).await?;
        if n == 0 {
            return Err(AppError::invalid(
                "findings",
                "an audit is reported with its findings recorded",
            ));
        }
    }
    if to == S::Closed {
        let (n, missing) = uncorrected(&*tx, id).await?;
        workflow::check_closing(n, &missing)?;
    }
    let now = now();
    let mut next = current.clone();
    next.status = to.as_str().into();
    match to {
        S::InProgress => {
            next.started_at.get_or_insert(now);
        }
        S::Reported => next.reported_at = Some(now),
        S::Closed => next.closed_at = Some(now),
        S::Planned => {}
    }
    let next = versioned::save(&*tx, next, expected_version).await?;
    let mut diff = Diff::new();
    diff.field("status", &current.status, &next.status).field(
        "version",
        current.version,
        next.version,
    );
    trail::record(
        &*tx,
        rc,
        &Actor::of(p, staff),
        ENTITY,
        id,
        "audit.transitioned",
        diff,
    )
    .await?;
    tx.commit().await?;
    Ok((next, access))
}

/// For raising a corrective action from a finding: the audit's department, after checking
/// the caller may manage the audit and that it is not closed.
pub async fn action_source<C: ConnectionTrait>(
    state: &AppState,
    rc: &RequestCtx,
    conn: &C,
    finding_id: Uuid,
) -> AppResult<Uuid> {
    let not_found = || {
        AppError::invalid("sourceId", "no such audit finding")
            .because(crate::record::text::reason::UNKNOWN)
    };
    let f = finding::Entity::find_by_id(finding_id)
        .one(conn)
        .await?
        .ok_or_else(not_found)?;
    let a = audit::Entity::find_by_id(f.audit_id)
        .one(conn)
        .await?
        .ok_or_else(not_found)?;
    let access = access_to(state, rc, &a).await?;
    if !access.view {
        return Err(not_found());
    }
    if !access.manage {
        return Err(AppError::forbidden(
            "actions on audit findings are raised by the department's handlers and quality leads",
        ));
    }
    if status_of(&a) == S::Closed {
        return Err(AppError::invalid("sourceId", "the audit is closed"));
    }
    Ok(a.department_id)
}

#[derive(Default, Clone)]
pub struct AuditFilter {
    pub statuses: Vec<S>,
    pub department_id: Option<Uuid>,
    /// Audits whose planned period overlaps [from, to].
    pub planned_from: Option<NaiveDate>,
    pub planned_to: Option<NaiveDate>,
    pub search: Option<String>,
}

/// The order of the audit programme.
fn sort_key(
    field: super::model::AuditOrderField,
    direction: OrderDirection,
) -> ColumnOrder<audit::Entity> {
    use super::model::AuditOrderField as F;
    match field {
        F::PlannedStart => {
            crate::column_order!(audit::PlannedStart, planned_start: NaiveDate, direction)
        }
        F::CreatedAt => {
            crate::column_order!(audit::CreatedAt, created_at: chrono::DateTime<chrono::Utc>, direction)
        }
    }
}

/// A page of the audit programme, each audit with the caller's access to it.
pub async fn list(
    state: &AppState,
    rc: &RequestCtx,
    f: AuditFilter,
    order: (super::model::AuditOrderField, OrderDirection),
    first: u64,
    after: Option<String>,
) -> AppResult<Page<(audit::Model, Access)>> {
    let p = rc.principal()?;
    let mut c = visible(p);
    if !f.statuses.is_empty() {
        c = c.add(audit::Column::Status.is_in(f.statuses.iter().map(|s| s.as_str())));
    }
    if let Some(d) = f.department_id {
        c = c.add(audit::Column::DepartmentId.eq(d));
    }
    if let Some(from) = f.planned_from {
        c = c.add(audit::Column::PlannedEnd.gte(from));
    }
    if let Some(to) = f.planned_to {
        c = c.add(audit::Column::PlannedStart.lte(to));
    }
    if let Some(search) = text::contains_any(&[audit::Column::Title], f.search.as_deref()) {
        c = c.add(search);
    }
    let key = sort_key(order.0, order.1);
    let page = keyset::list(
        &state.db.conn,
        audit::Entity::find().filter(c),
        &key,
        first,
        after.as_deref(),
    )
    .await?;
    page.try_map(|m| async move {
        let access = access_to(state, rc, &m).await?;
        Ok((m, access))
    })
    .await
}
