//! Improvement-project persistence and rules: each public function checks permission,
//! applies the rules and writes the change and its trail event in one transaction.
use std::collections::HashSet;

use chrono::{DateTime, Duration, NaiveDate, SubsecRound, Utc};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, QuerySelect,
};
use uuid::Uuid;

use super::model::{Direction, ImprovementStatus as S, MeasureKind, PdsaOutcome, PdsaStage};
use super::workflow::{self, Access};
use crate::auth::Principal;
use crate::context::{AppState, RequestCtx};
use crate::error::{AppError, AppResult};
use crate::record::keyset::{self, ColumnOrder, Page};
use crate::record::text::required;
use crate::record::{now, versioned, OrderDirection};
use crate::trail::{self, Actor, Diff};
use entities::{
    audit, improvement_link as link, improvement_project as project, incident, measure,
    measurement, pdsa_cycle as pdsa,
};

const ENTITY: &str = "ImprovementProject";

/// How far ahead of the server's clock a measurement may be dated: covers clock skew
/// between the client and the server, not measurements of the future.
const FUTURE_SLACK_MINUTES: i64 = 5;

const NOT_FOUND: AppError = AppError::NotFound("improvement project");

pub struct NewMeasure {
    pub name: String,
    pub kind: MeasureKind,
    pub unit: String,
    pub target: Option<f64>,
    pub better_when: Direction,
}

pub struct NewProject {
    pub title: String,
    pub aim: String,
    pub department_id: Uuid,
    pub measures: Vec<NewMeasure>,
    pub sponsor_email: Option<String>,
    pub lead_email: Option<String>,
    pub incident_ids: Vec<Uuid>,
    pub audit_ids: Vec<Uuid>,
}

#[derive(Default)]
pub struct PdsaChange {
    pub stage: Option<PdsaStage>,
    pub plan: Option<String>,
    pub do_: Option<String>,
    pub study: Option<String>,
    pub act: Option<String>,
    pub end_date: Option<NaiveDate>,
    pub outcome: Option<PdsaOutcome>,
}

use crate::record::text::optional as text;

fn email(field: &str, value: Option<String>) -> AppResult<Option<String>> {
    match text(field, value, 320)? {
        Some(e) => crate::record::text::email(field, &e).map(Some),
        None => Ok(None),
    }
}

/// Checks a measure; `prefix` names the input it came in (`measures` or `measure`).
fn parse_measure(prefix: &str, m: NewMeasure) -> AppResult<NewMeasure> {
    let name = required(&format!("{prefix}.name"), m.name, 200)?;
    let unit = required(&format!("{prefix}.unit"), m.unit, 50)?;
    if m.target.is_some_and(|t| !t.is_finite()) {
        return Err(AppError::invalid(
            format!("{prefix}.target"),
            "a target must be a finite number",
        ));
    }
    Ok(NewMeasure { name, unit, ..m })
}

fn status_of(m: &project::Model) -> S {
    S::parse(&m.status).unwrap_or(S::Proposed)
}

fn stage_of(c: &pdsa::Model) -> PdsaStage {
    PdsaStage::parse(&c.stage).unwrap_or(PdsaStage::Plan)
}

/// Whether the caller may see improvement projects at all (every signed-in person, and
/// service accounts that may read incidents).
pub fn may_view(p: &Principal) -> bool {
    workflow::access(p, "", None).view
}

/// Which projects the caller may see, as a condition on the project table.
pub fn visible(p: &Principal) -> Condition {
    if may_view(p) {
        Condition::all()
    } else {
        crate::record::visibility::nothing()
    }
}

pub async fn access_to(state: &AppState, rc: &RequestCtx, m: &project::Model) -> AppResult<Access> {
    let code = crate::org::service::department(state, m.department_id)
        .await?
        .map(|d| d.code)
        .unwrap_or_default();
    Ok(workflow::access(
        rc.principal()?,
        &code,
        m.lead_email.as_deref(),
    ))
}

/// The project locked for a change, and the caller's access to it; NOT_FOUND when the
/// caller may not see it.
async fn load_for_change<C: ConnectionTrait>(
    state: &AppState,
    rc: &RequestCtx,
    conn: &C,
    id: Uuid,
) -> AppResult<(project::Model, Access)> {
    let m = project::Entity::find_by_id(id)
        .lock_exclusive()
        .one(conn)
        .await?
        .ok_or(NOT_FOUND)?;
    let access = access_to(state, rc, &m).await?;
    if !access.view {
        return Err(NOT_FOUND);
    }
    Ok((m, access))
}

fn require_contributor(access: Access) -> AppResult<()> {
    if access.contribute {
        Ok(())
    } else {
        Err(AppError::forbidden(
            "only the project's lead, quality leads and the department's handlers may work on an improvement project",
        ))
    }
}

fn require_manager(access: Access, doing: &str) -> AppResult<()> {
    if access.manage {
        Ok(())
    } else {
        Err(AppError::forbidden(format!(
            "only quality leads and the department's handlers may {doing}"
        )))
    }
}

/// Measures, measurements and PDSA cycles belong to running projects.
fn require_running(m: &project::Model, field: &str) -> AppResult<()> {
    let status = status_of(m);
    if status.is_final() {
        return Err(AppError::invalid(
            field,
            format!(
                "the project is {}; a closed or abandoned project takes no more work",
                status.as_str()
            ),
        ));
    }
    Ok(())
}

/// Incident and audit ids to link, without those already linked or given twice. Incidents
/// must be ones the caller may see (saying "no such incident" either way, so nothing leaks
/// about other departments' records); audits must exist.
async fn new_links<C: ConnectionTrait>(
    state: &AppState,
    rc: &RequestCtx,
    conn: &C,
    existing: &[link::Model],
    incident_ids: Vec<Uuid>,
    audit_ids: Vec<Uuid>,
) -> AppResult<(Vec<Uuid>, Vec<Uuid>)> {
    let mut seen: HashSet<Uuid> = existing.iter().filter_map(|l| l.incident_id).collect();
    let incident_ids: Vec<Uuid> = incident_ids
        .into_iter()
        .filter(|i| seen.insert(*i))
        .collect();
    let mut seen: HashSet<Uuid> = existing.iter().filter_map(|l| l.audit_id).collect();
    let audit_ids: Vec<Uuid> = audit_ids.into_iter().filter(|a| seen.insert(*a)).collect();
    if !incident_ids.is_empty() {
        let found = incident::Entity::find()
            .filter(incident::Column::Id.is_in(incident_ids.iter().copied()))
            .all(conn)
            .await?;
        let mut visible = HashSet::new();
        for i in &found {
            if crate::incident::service::access_to(state, rc, i)
                .await?
                .view
            {
                visible.insert(i.id);
            }
        }
        if incident_ids.iter().any(|i| !visible.contains(i)) {
            return Err(AppError::invalid(
                "incidentIds",
                "incidentIds names an incident that does not exist or is not yours to see",
            )
            .because(crate::record::text::reason::UNKNOWN));
        }
    }
    if !audit_ids.is_empty() {
        let found: HashSet<Uuid> = audit::Entity::find()
            .select_only()
            .column(audit::Column::Id)
            .filter(audit::Column::Id.is_in(audit_ids.iter().copied()))
            .into_tuple::<Uuid>()
            .all(conn)
            .await?
            .into_iter()
            .collect();
        if audit_ids.iter().any(|a| !found.contains(a)) {
            return Err(AppError::invalid(
                "auditIds",
                "auditIds names an audit that does not exist",
            ));
        }
    }
    Ok((incident_ids, audit_ids))
}

async fn insert_links<C: ConnectionTrait>(
    conn: &C,
    project_id: Uuid,
    incident_ids: &[Uuid],
    audit_ids: &[Uuid],
) -> AppResult<()> {
    let now = now();
    let rows: Vec<link::ActiveModel> = incident_ids
        .iter()
        .map(|&i| (Some(i), None))
        .chain(audit_ids.iter().map(|&a| (None, Some(a))))
        .map(|(incident_id, audit_id)| {
            link::Model {
                id: Uuid::now_v7(),
                project_id,
                incident_id,
                audit_id,
                created_at: now,
            }
            .into_active_model()
        })
        .collect();
    if !rows.is_empty() {
        link::Entity::insert_many(rows)
            .exec_without_returning(conn)
            .await?;
    }
    Ok(())
}

fn measure_row(project_id: Uuid, m: &NewMeasure, at: DateTime<Utc>) -> measure::Model {
    measure::Model {
        id: Uuid::now_v7(),
        project_id,
        name: m.name.clone(),
        kind: m.kind.as_str().into(),
        unit: m.unit.clone(),
        target: m.target,
        better_when: m.better_when.as_str().into(),
        created_at: at,
    }
}

/// `measures.name` must not repeat within a project (charts are labelled by name).
fn check_unique_names<'a>(field: &str, names: impl Iterator<Item = &'a str>) -> AppResult<()> {
    let mut seen = HashSet::new();
    for n in names {
        if !seen.insert(n.to_lowercase()) {
            return Err(AppError::invalid(
                field,
                format!("the project already has a measure named \"{n}\""),
            ));
        }
    }
    Ok(())
}

pub async fn start(
    state: &AppState,
    rc: &RequestCtx,
    input: NewProject,
) -> AppResult<(project::Model, Access)> {
    let p = rc.principal()?;
    let department = crate::org::service::department(state, input.department_id)
        .await?
        .ok_or_else(|| {
            AppError::invalid("departmentId", "no such department")
                .because(crate::record::text::reason::UNKNOWN)
        })?;
    if p.is_service() || !workflow::may_start(p, &department.code) {
        return Err(AppError::forbidden(
            "improvement projects are started by quality leads and the department's handlers",
        ));
    }
    let title = required("title", input.title, 200)?;
    let aim = required("aim", input.aim, 20_000)?;
    if input.measures.is_empty() {
        return Err(AppError::invalid(
            "measures",
            "a project needs at least one measure to know whether a change is an improvement",
        ));
    }
    let measures = input
        .measures
        .into_iter()
        .map(|m| parse_measure("measures", m))
        .collect::<AppResult<Vec<_>>>()?;
    check_unique_names("measures.name", measures.iter().map(|m| m.name.as_str()))?;
    let sponsor_email = email("sponsorEmail", input.sponsor_email)?;
    let lead_email = email("leadEmail", input.lead_email)?;
    let tx = state.db.begin_write().await?;
    let staff = rc.staff_in(state, &*tx).await?;
    let (incident_ids, audit_ids) =
        new_links(state, rc, &*tx, &[], input.incident_ids, input.audit_ids).await?;
    let now = now();
    let model = project::Model {
        id: Uuid::now_v7(),
        title,
        aim,
        department_id: department.id,
        sponsor_email,
        lead_email,
        status: S::Proposed.as_str().into(),
        status_reason: None,
        started_at: None,
        closed_at: None,
        created_by_id: staff,
        created_at: now,
        updated_at: now,
        version: 1,
        disposed_at: None,
    };
    project::Entity::insert(model.clone().into_active_model())
        .exec_without_returning(&*tx)
        .await?;
    let rows: Vec<measure::Model> = measures
        .iter()
        .map(|m| measure_row(model.id, m, now))
        .collect();
    measure::Entity::insert_many(rows.iter().cloned().map(IntoActiveModel::into_active_model))
        .exec_without_returning(&*tx)
        .await?;
    insert_links(&*tx, model.id, &incident_ids, &audit_ids).await?;
    let mut diff = Diff::new();
    diff.field("title", None, Some(&model.title))
        .text("aim", None, Some(&model.aim))
        .field("departmentId", None, Some(model.department_id))
        .field("sponsorEmail", None, model.sponsor_email.as_ref())
        .field("leadEmail", None, model.lead_email.as_ref())
        .field("status", None, Some(&model.status))
        .field(
            "measures",
            None,
            Some(rows.iter().map(|m| m.name.as_str()).collect::<Vec<_>>()),
        )
        .field(
            "incidentIds",
            None,
            Some(&incident_ids).filter(|v| !v.is_empty()),
        )
        .field("auditIds", None, Some(&audit_ids).filter(|v| !v.is_empty()));
    trail::record(
        &*tx,
        rc,
        &Actor::of(p, staff),
        ENTITY,
        model.id,
        "improvement.started",
        diff,
    )
    .await?;
    tx.commit().await?;
    tracing::info!(project = %model.id, "improvement project started");
    let access = access_to(state, rc, &model).await?;
    Ok((model, access))
}

pub async fn transition(
    state: &AppState,
    rc: &RequestCtx,
    id: Uuid,
    to: S,
    reason: Option<String>,
    expected_version: i32,
) -> AppResult<(project::Model, Access)> {
    let p = rc.principal()?;
    let reason = text("reason", reason, 20_000)?;
    let tx = state.db.begin_write().await?;
    let staff = rc.staff_in(state, &*tx).await?;
    let (current, access) = load_for_change(state, rc, &*tx, id).await?;
    require_manager(access, "move an improvement project")?;
    versioned::check(current.version, expected_version)?;
    let from = status_of(&current);
    workflow::check_transition(from, to, reason.as_deref(), access)?;
    let now = now();
    let mut next = current.clone();
    next.status = to.as_str().into();
    next.status_reason = reason;
    match to {
        S::Active => next.started_at = Some(now),
        S::Closed | S::Abandoned => next.closed_at = Some(now),
        _ => {}
    }
    let next = versioned::save(&*tx, next, expected_version).await?;
    let mut diff = Diff::new();
    diff.field("status", &current.status, &next.status)
        .text("statusReason", &current.status_reason, &next.status_reason)
        .field("startedAt", current.started_at, next.started_at)
        .field("closedAt", current.closed_at, next.closed_at)
        .field("version", current.version, next.version);
    trail::record(
        &*tx,
        rc,
        &Actor::of(p, staff),
        ENTITY,
        id,
        "improvement.transitioned",
        diff,
    )
    .await?;
    tx.commit().await?;
    Ok((next, access))
}

pub async fn add_measure(
    state: &AppState,
    rc: &RequestCtx,
    project_id: Uuid,
    expected_version: i32,
    input: NewMeasure,
) -> AppResult<(project::Model, Access)> {
    let p = rc.principal()?;
    let input = parse_measure("measure", input)?;
    let tx = state.db.begin_write().await?;
    let staff = rc.staff_in(state, &*tx).await?;
    let (current, access) = load_for_change(state, rc, &*tx, project_id).await?;
    require_contributor(access)?;
    versioned::check(current.version, expected_version)?;
    require_running(&current, "projectId")?;
    let names: Vec<String> = measure::Entity::find()
        .select_only()
        .column(measure::Column::Name)
        .filter(measure::Column::ProjectId.eq(project_id))
        .into_tuple::<String>()
        .all(&*tx)
        .await?;
    check_unique_names(
        "measure.name",
        names
            .iter()
            .map(String::as_str)
            .chain([input.name.as_str()]),
    )?;
    let now = now();
    let row = measure_row(project_id, &input, now);
    measure::Entity::insert(row.clone().into_active_model())
        .exec_without_returning(&*tx)
        .await?;
    let next = current.clone();
    let next = versioned::save(&*tx, next, expected_version).await?;
    let mut diff = Diff::new();
    diff.field("measureId", None, Some(row.id))
        .field("measure", None, Some(&row.name))
        .field("kind", None, Some(&row.kind))
        .field("unit", None, Some(&row.unit))
        .field("target", None, row.target)
        .field("betterWhen", None, Some(&row.better_when))
        .field("version", current.version, next.version);
    trail::record(
        &*tx,
        rc,
        &Actor::of(p, staff),
        ENTITY,
        project_id,
        "improvement.measure_added",
        diff,
    )
    .await?;
    tx.commit().await?;
    Ok((next, access))
}

pub async fn record_measurement(
    state: &AppState,
    rc: &RequestCtx,
    measure_id: Uuid,
    value: f64,
    at: DateTime<Utc>,
) -> AppResult<(project::Model, Access)> {
    let p = rc.principal()?;
    if !value.is_finite() {
        return Err(AppError::invalid("value", "value must be a finite number"));
    }
    let now = now();
    if at > now + Duration::minutes(FUTURE_SLACK_MINUTES) {
        return Err(
            AppError::invalid("at", "a measurement cannot be dated in the future")
                .because(crate::record::text::reason::IN_FUTURE),
        );
    }
    let tx = state.db.begin_write().await?;
    let staff = rc.staff_in(state, &*tx).await?;
    let m = measure::Entity::find_by_id(measure_id)
        .one(&*tx)
        .await?
        .ok_or(AppError::NotFound("measure"))?;
    let (project, access) = match load_for_change(state, rc, &*tx, m.project_id).await {
        Err(AppError::NotFound(_)) => return Err(AppError::NotFound("measure")),
        other => other?,
    };
    require_contributor(access)?;
    require_running(&project, "measureId")?;
    let row = measurement::Model {
        id: Uuid::now_v7(),
        measure_id,
        value,
        // Kept to the microsecond, as PostgreSQL stores it.
        at: at.trunc_subsecs(6),
        recorded_by_id: staff,
        created_at: now,
    };
    measurement::Entity::insert(row.clone().into_active_model())
        .exec_without_returning(&*tx)
        .await?;
    let mut diff = Diff::new();
    diff.field("measureId", None, Some(measure_id))
        .field("measure", None, Some(&m.name))
        .field("value", None, Some(row.value))
        .field("at", None, Some(row.at));
    trail::record(
        &*tx,
        rc,
        &Actor::of(p, staff),
        ENTITY,
        project.id,
        "improvement.measurement_recorded",
        diff,
    )
    .await?;
    tx.commit().await?;
    Ok((project, access))
}

pub async fn add_pdsa(
    state: &AppState,
    rc: &RequestCtx,
    project_id: Uuid,
    title: String,
    plan: Option<String>,
    start_date: NaiveDate,
) -> AppResult<(project::Model, Access)> {
    let p = rc.principal()?;
    let title = required("title", title, 200)?;
    let plan = text("plan", plan, 20_000)?;
    let tx = state.db.begin_write().await?;
    let staff = rc.staff_in(state, &*tx).await?;
    let (project, access) = load_for_change(state, rc, &*tx, project_id).await?;
    require_contributor(access)?;
    require_running(&project, "projectId")?;
    let now = now();
    let cycle = pdsa::Model {
        id: Uuid::now_v7(),
        project_id,
        title,
        plan,
        do_: None,
        study: None,
        act: None,
        stage: PdsaStage::Plan.as_str().into(),
        outcome: None,
        start_date,
        end_date: None,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    pdsa::Entity::insert(cycle.clone().into_active_model())
        .exec_without_returning(&*tx)
        .await?;
    let mut diff = Diff::new();
    diff.field("pdsaCycleId", None, Some(cycle.id))
        .text("title", None, Some(&cycle.title))
        .text("plan", None, cycle.plan.as_ref())
        .field("stage", None, Some(&cycle.stage))
        .field("startDate", None, Some(cycle.start_date));
    trail::record(
        &*tx,
        rc,
        &Actor::of(p, staff),
        ENTITY,
        project_id,
        "improvement.pdsa_added",
        diff,
    )
    .await?;
    tx.commit().await?;
    Ok((project, access))
}

pub async fn update_pdsa(
    state: &AppState,
    rc: &RequestCtx,
    cycle_id: Uuid,
    expected_version: i32,
    change: PdsaChange,
) -> AppResult<(project::Model, Access)> {
    let p = rc.principal()?;
    let plan = text("plan", change.plan, 20_000)?;
    let do_ = text("do", change.do_, 20_000)?;
    let study = text("study", change.study, 20_000)?;
    let act = text("act", change.act, 20_000)?;
    let tx = state.db.begin_write().await?;
    let staff = rc.staff_in(state, &*tx).await?;
    let current = pdsa::Entity::find_by_id(cycle_id)
        .lock_exclusive()
        .one(&*tx)
        .await?
        .ok_or(AppError::NotFound("PDSA cycle"))?;
    let (project, access) = match load_for_change(state, rc, &*tx, current.project_id).await {
        Err(AppError::NotFound(_)) => return Err(AppError::NotFound("PDSA cycle")),
        other => other?,
    };
    require_contributor(access)?;
    versioned::check(current.version, expected_version)?;
    require_running(&project, "cycleId")?;
    let from = stage_of(&current);
    let stage = change.stage.unwrap_or(from);
    workflow::check_stage(from, stage)?;
    let end_date = change.end_date.or(current.end_date);
    let outcome = change
        .outcome
        .or_else(|| current.outcome.as_deref().and_then(PdsaOutcome::parse));
    workflow::check_cycle(stage, change.outcome, current.start_date, end_date)?;
    let _now = now();
    let mut next = current.clone();
    next.stage = stage.as_str().into();
    next.plan = plan.or(next.plan);
    next.do_ = do_.or(next.do_);
    next.study = study.or(next.study);
    next.act = act.or(next.act);
    next.end_date = end_date;
    next.outcome = outcome.map(|o| o.as_str().into());
    let next = versioned::save(&*tx, next, expected_version).await?;
    let mut diff = Diff::new();
    diff.field("pdsaCycleId", None, Some(cycle_id))
        .field("stage", &current.stage, &next.stage)
        .text("plan", &current.plan, &next.plan)
        .text("do", &current.do_, &next.do_)
        .text("study", &current.study, &next.study)
        .text("act", &current.act, &next.act)
        .field("endDate", current.end_date, next.end_date)
        .field("outcome", &current.outcome, &next.outcome)
        .field("version", current.version, next.version);
    trail::record(
        &*tx,
        rc,
        &Actor::of(p, staff),
        ENTITY,
        project.id,
        "improvement.pdsa_updated",
        diff,
    )
    .await?;
    tx.commit().await?;
    Ok((project, access))
}

pub async fn link(
    state: &AppState,
    rc: &RequestCtx,
    project_id: Uuid,
    incident_ids: Vec<Uuid>,
    audit_ids: Vec<Uuid>,
) -> AppResult<(project::Model, Access)> {
    let p = rc.principal()?;
    let tx = state.db.begin_write().await?;
    let staff = rc.staff_in(state, &*tx).await?;
    let (project, access) = load_for_change(state, rc, &*tx, project_id).await?;
    require_manager(
        access,
        "link incidents and audits to an improvement project",
    )?;
    let existing = link::Entity::find()
        .filter(link::Column::ProjectId.eq(project_id))
        .all(&*tx)
        .await?;
    let (incident_ids, audit_ids) =
        new_links(state, rc, &*tx, &existing, incident_ids, audit_ids).await?;
    if incident_ids.is_empty() && audit_ids.is_empty() {
        // Everything named was linked already: nothing changed, so nothing to record.
        return Ok((project, access));
    }
    insert_links(&*tx, project_id, &incident_ids, &audit_ids).await?;
    let mut diff = Diff::new();
    diff.field(
        "incidentIds",
        None,
        Some(&incident_ids).filter(|v| !v.is_empty()),
    )
    .field("auditIds", None, Some(&audit_ids).filter(|v| !v.is_empty()));
    trail::record(
        &*tx,
        rc,
        &Actor::of(p, staff),
        ENTITY,
        project_id,
        "improvement.linked",
        diff,
    )
    .await?;
    tx.commit().await?;
    Ok((project, access))
}

/// For raising a corrective action from a project: its department id, after checking the
/// caller may see it (else `sourceId` is bad input), may manage it (else FORBIDDEN) and it
/// is not CLOSED or ABANDONED (else `sourceId` is bad input).
pub async fn action_source<C: ConnectionTrait>(
    state: &AppState,
    rc: &RequestCtx,
    conn: &C,
    project_id: Uuid,
) -> AppResult<Uuid> {
    let m = project::Entity::find_by_id(project_id).one(conn).await?;
    let access = match &m {
        Some(m) => access_to(state, rc, m).await?,
        None => Access::default(),
    };
    let Some(m) = m.filter(|_| access.view) else {
        return Err(AppError::invalid("sourceId", "no such improvement project")
            .because(crate::record::text::reason::UNKNOWN));
    };
    if !access.manage {
        return Err(AppError::forbidden(
            "actions are raised from a project by quality leads and the department's handlers",
        ));
    }
    if status_of(&m).is_final() {
        return Err(AppError::invalid(
            "sourceId",
            "a closed or abandoned improvement project takes no new actions",
        ));
    }
    Ok(m.department_id)
}

/// One project the caller may see; NOT_FOUND otherwise.
pub async fn get(
    state: &AppState,
    rc: &RequestCtx,
    id: Uuid,
) -> AppResult<(project::Model, Access)> {
    rc.principal()?;
    let m = project::Entity::find_by_id(id)
        .one(&state.db.conn)
        .await?
        .ok_or(NOT_FOUND)?;
    let access = access_to(state, rc, &m).await?;
    if !access.view {
        return Err(NOT_FOUND);
    }
    Ok((m, access))
}

/// One measure, for callers who may see improvement projects.
pub async fn get_measure(state: &AppState, rc: &RequestCtx, id: Uuid) -> AppResult<measure::Model> {
    if !may_view(rc.principal()?) {
        return Err(AppError::NotFound("measure"));
    }
    measure::Entity::find_by_id(id)
        .one(&state.db.conn)
        .await?
        .ok_or(AppError::NotFound("measure"))
}

/// One PDSA cycle, for callers who may see improvement projects.
pub async fn get_pdsa(state: &AppState, rc: &RequestCtx, id: Uuid) -> AppResult<pdsa::Model> {
    if !may_view(rc.principal()?) {
        return Err(AppError::NotFound("PDSA cycle"));
    }
    pdsa::Entity::find_by_id(id)
        .one(&state.db.conn)
        .await?
        .ok_or(AppError::NotFound("PDSA cycle"))
}

#[derive(Default)]
pub struct ProjectFilter {
    pub statuses: Vec<S>,
    pub department_id: Option<Uuid>,
    pub search: Option<String>,
}

fn filter_condition(q: &ProjectFilter) -> Condition {
    let mut c = Condition::all();
    if !q.statuses.is_empty() {
        c = c.add(project::Column::Status.is_in(q.statuses.iter().map(|s| s.as_str())));
    }
    if let Some(d) = q.department_id {
        c = c.add(project::Column::DepartmentId.eq(d));
    }
    if let Some(search) = crate::record::text::contains_any(
        &[project::Column::Title, project::Column::Aim],
        q.search.as_deref(),
    ) {
        c = c.add(search);
    }
    c
}

/// The order of project lists.
fn sort_key(
    field: super::model::ImprovementProjectOrderField,
    direction: OrderDirection,
) -> ColumnOrder<project::Entity> {
    use super::model::ImprovementProjectOrderField as F;
    match field {
        F::CreatedAt => {
            crate::column_order!(project::CreatedAt, created_at: DateTime<Utc>, direction)
        }
        F::UpdatedAt => {
            crate::column_order!(project::UpdatedAt, updated_at: DateTime<Utc>, direction)
        }
    }
}

/// Projects, newest first unless ordered otherwise (by creation or last change), each with
/// the caller's access to it.
pub async fn list(
    state: &AppState,
    rc: &RequestCtx,
    q: ProjectFilter,
    order: (super::model::ImprovementProjectOrderField, OrderDirection),
    first: u64,
    after: Option<String>,
) -> AppResult<Page<(project::Model, Access)>> {
    if !may_view(rc.principal()?) {
        return Err(AppError::forbidden(
            "improvement projects need the incidents:read scope",
        ));
    }
    let key = sort_key(order.0, order.1);
    let page = keyset::list(
        &state.db.conn,
        project::Entity::find().filter(filter_condition(&q)),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn m(name: &str, unit: &str) -> NewMeasure {
        NewMeasure {
            name: name.into(),
            kind: MeasureKind::Process,
            unit: unit.into(),
            target: None,
            better_when: Direction::Higher,
        }
    }

    fn field_of(e: AppError) -> String {
        match e {
            AppError::Invalid { field, .. } => field,
            other => panic!("expected bad input, got {other:?}"),
        }
    }

    #[test]
    fn measures_need_a_name_and_a_unit() {
        let ok = parse_measure("measures", m("  Door to needle ", "minutes")).unwrap();
        assert_eq!(ok.name, "Door to needle");
        assert_eq!(
            field_of(parse_measure("measures", m(" ", "%")).err().unwrap()),
            "measures.name"
        );
        assert_eq!(
            field_of(parse_measure("measure", m("x", "")).err().unwrap()),
            "measure.unit"
        );
        let mut inf = m("x", "%");
        inf.target = Some(f64::INFINITY);
        assert_eq!(
            field_of(parse_measure("measure", inf).err().unwrap()),
            "measure.target"
        );
    }

    #[test]
    fn measure_names_do_not_repeat_whatever_their_case() {
        check_unique_names("measures.name", ["A", "b"].into_iter()).unwrap();
        assert_eq!(
            field_of(
                check_unique_names("measures.name", ["Falls", "falls"].into_iter()).unwrap_err()
            ),
            "measures.name"
        );
    }

    #[test]
    fn emails_are_checked_and_lower_cased() {
        assert_eq!(
            email("leadEmail", Some(" Ann@Trust.NHS.uk ".into())).unwrap(),
            Some("ann@trust.nhs.uk".into())
        );
        assert_eq!(email("leadEmail", Some("  ".into())).unwrap(), None);
        assert_eq!(
            field_of(email("sponsorEmail", Some("ann".into())).unwrap_err()),
            "sponsorEmail"
        );
    }
}
