//! Learning-response persistence and rules: each public function checks permission, applies
//! the rules and writes the change and its trail event in one transaction.
use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, IntoActiveModel, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

use super::model::{self, LearningResponseOrderField, LearningResponseStatus as S};
use super::workflow::{self, Access};
use crate::auth::Principal;
use crate::config::Settings;
use crate::context::{AppState, RequestCtx};
use crate::error::{AppError, AppResult};
use crate::incident::model::LearningResponse;
use crate::record::keyset::{self, ColumnOrder, Page};
use crate::record::text::{self, reason};
use crate::record::{now, versioned, visibility, OrderDirection};
use crate::trail::{self, Actor, Diff};
use entities::{
    improvement_project as project, incident, learning_response as response,
    learning_response_link as link,
};

const ENTITY: &str = "LearningResponse";

const NOT_FOUND: AppError = AppError::NotFound("learning response");

pub struct NewResponse {
    pub kind: LearningResponse,
    pub title: String,
    pub department_id: Uuid,
    pub lead_email: String,
    pub agreed_due_date: NaiveDate,
    pub timeframe_agreed_with: Option<String>,
    pub incident_ids: Vec<Uuid>,
    pub project_ids: Vec<Uuid>,
}

/// A change to a response; `None` leaves a field as it is.
#[derive(Default)]
pub struct Change {
    pub title: Option<String>,
    pub lead_email: Option<String>,
    pub agreed_due_date: Option<NaiveDate>,
    pub timeframe_agreed_with: Option<String>,
    pub findings: Option<String>,
}

fn status_of(m: &response::Model) -> S {
    S::parse(&m.status).unwrap_or(S::Planned)
}

fn email(field: &str, value: String) -> AppResult<String> {
    let value = text::required(field, value, 320)?;
    text::email(field, &value)
}

/// "Today" for the agreed timeframes, in the trust's time zone: the real date, or the date
/// of `notify.clock` in drills and tests (the clock deadlines are reckoned by).
pub fn today(settings: &Settings) -> NaiveDate {
    crate::notify::Notifier::now(settings)
        .with_timezone(&settings.tz())
        .date_naive()
}

pub fn is_overdue(settings: &Settings, m: &response::Model) -> bool {
    workflow::is_overdue(status_of(m), m.agreed_due_date, today(settings))
}

pub async fn access_to(
    state: &AppState,
    rc: &RequestCtx,
    m: &response::Model,
) -> AppResult<Access> {
    let code = crate::org::service::department(state, m.department_id)
        .await?
        .map(|d| d.code)
        .unwrap_or_default();
    Ok(workflow::access(rc.principal()?, &code, &m.lead_email))
}

/// The response locked for a change, and the caller's access to it; NOT_FOUND when the
/// caller may not see it.
async fn load_for_change<C: ConnectionTrait>(
    state: &AppState,
    rc: &RequestCtx,
    conn: &C,
    id: Uuid,
) -> AppResult<(response::Model, Access)> {
    let m = response::Entity::find_by_id(id)
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

fn require_manager(access: Access, doing: &str) -> AppResult<()> {
    if access.manage {
        Ok(())
    } else {
        Err(AppError::forbidden(format!(
            "only quality leads and the department's handlers may {doing}"
        )))
    }
}

/// Incidents and projects to link, without those already linked or named twice. Incidents
/// must be ones whose internal record the caller may see, projects ones they may see
/// (saying "no such record" either way, so nothing leaks about other departments').
async fn new_links<C: ConnectionTrait>(
    state: &AppState,
    rc: &RequestCtx,
    conn: &C,
    existing: &[link::Model],
    incident_ids: Vec<Uuid>,
    project_ids: Vec<Uuid>,
) -> AppResult<(Vec<Uuid>, Vec<Uuid>)> {
    let mut seen: HashSet<Uuid> = existing.iter().filter_map(|l| l.incident_id).collect();
    let incident_ids: Vec<Uuid> = incident_ids
        .into_iter()
        .filter(|i| seen.insert(*i))
        .collect();
    let mut seen: HashSet<Uuid> = existing
        .iter()
        .filter_map(|l| l.improvement_project_id)
        .collect();
    let project_ids: Vec<Uuid> = project_ids
        .into_iter()
        .filter(|p| seen.insert(*p))
        .collect();
    if !incident_ids.is_empty() {
        let found = incident::Entity::find()
            .filter(incident::Column::Id.is_in(incident_ids.iter().copied()))
            .all(conn)
            .await?;
        let mut visible = HashSet::new();
        for i in &found {
            if i.disposed_at.is_none()
                && crate::incident::service::access_to(state, rc, i)
                    .await?
                    .internal
            {
                visible.insert(i.id);
            }
        }
        if incident_ids.iter().any(|i| !visible.contains(i)) {
            return Err(AppError::invalid(
                "incidentIds",
                "incidentIds names an incident that does not exist or is not yours to review",
            )
            .because(reason::UNKNOWN));
        }
    }
    if !project_ids.is_empty() {
        let found = project::Entity::find()
            .filter(project::Column::Id.is_in(project_ids.iter().copied()))
            .all(conn)
            .await?;
        let mut visible = HashSet::new();
        for m in &found {
            if crate::improvement::service::access_to(state, rc, m)
                .await?
                .view
            {
                visible.insert(m.id);
            }
        }
        if project_ids.iter().any(|p| !visible.contains(p)) {
            return Err(AppError::invalid(
                "improvementProjectIds",
                "improvementProjectIds names an improvement project that does not exist",
            )
            .because(reason::UNKNOWN));
        }
    }
    Ok((incident_ids, project_ids))
}

async fn insert_links<C: ConnectionTrait>(
    conn: &C,
    response_id: Uuid,
    incident_ids: &[Uuid],
    project_ids: &[Uuid],
) -> AppResult<()> {
    let now = now();
    let rows: Vec<link::ActiveModel> = incident_ids
        .iter()
        .map(|&i| (Some(i), None))
        .chain(project_ids.iter().map(|&p| (None, Some(p))))
        .map(|(incident_id, improvement_project_id)| {
            link::Model {
                id: Uuid::now_v7(),
                learning_response_id: response_id,
                incident_id,
                improvement_project_id,
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

/// Plans a learning response (quality leads and the department's handlers).
pub async fn plan(
    state: &AppState,
    rc: &RequestCtx,
    input: NewResponse,
) -> AppResult<(response::Model, Access)> {
    let p = rc.principal()?;
    let department = crate::org::service::department(state, input.department_id)
        .await?
        .ok_or_else(|| {
            AppError::invalid("departmentId", "no such department").because(reason::UNKNOWN)
        })?;
    if !workflow::may_plan(p, &department.code) {
        return Err(AppError::forbidden(
            "learning responses are planned by quality leads and the department's handlers",
        ));
    }
    if !model::is_record_kind(input.kind) {
        return Err(AppError::invalid(
            "kind",
            "NONE is the absence of a learning response; plan one of the others",
        ));
    }
    let title = text::required("title", input.title, 200)?;
    let lead_email = email("leadEmail", input.lead_email)?;
    let agreed_with = text::optional("timeframeAgreedWith", input.timeframe_agreed_with, 2_000)?;
    let tx = state.db.begin_write().await?;
    let staff = rc.staff_in(state, &*tx).await?;
    let (incident_ids, project_ids) =
        new_links(state, rc, &*tx, &[], input.incident_ids, input.project_ids).await?;
    let now = now();
    let model = response::Model {
        id: Uuid::now_v7(),
        kind: input.kind.as_str().into(),
        title,
        department_id: department.id,
        lead_email,
        agreed_due_date: input.agreed_due_date,
        timeframe_agreed_with: agreed_with,
        status: S::Planned.as_str().into(),
        status_reason: None,
        findings: None,
        started_at: None,
        ended_at: None,
        created_by_id: staff,
        created_at: now,
        updated_at: now,
        version: 1,
        disposed_at: None,
    };
    response::Entity::insert(model.clone().into_active_model())
        .exec_without_returning(&*tx)
        .await?;
    insert_links(&*tx, model.id, &incident_ids, &project_ids).await?;
    let mut diff = Diff::new();
    diff.field("kind", None, Some(&model.kind))
        .text("title", None, Some(&model.title))
        .field("departmentId", None, Some(model.department_id))
        .field("leadEmail", None, Some(&model.lead_email))
        .field("agreedDueDate", None, Some(model.agreed_due_date))
        .text(
            "timeframeAgreedWith",
            None,
            model.timeframe_agreed_with.as_ref(),
        )
        .field("status", None, Some(&model.status))
        .field(
            "incidentIds",
            None,
            Some(&incident_ids).filter(|v| !v.is_empty()),
        )
        .field(
            "improvementProjectIds",
            None,
            Some(&project_ids).filter(|v| !v.is_empty()),
        );
    trail::record(
        &*tx,
        rc,
        &Actor::of(p, staff),
        ENTITY,
        model.id,
        "learning_response.planned",
        diff,
    )
    .await?;
    tx.commit().await?;
    tracing::info!(learning_response = %model.id, "learning response planned");
    let access = access_to(state, rc, &model).await?;
    Ok((model, access))
}

/// Changes a response's title, lead, timeframe or findings. The lead records findings;
/// the rest is for those who manage it.
pub async fn update(
    state: &AppState,
    rc: &RequestCtx,
    id: Uuid,
    expected_version: i32,
    change: Change,
) -> AppResult<(response::Model, Access)> {
    let p = rc.principal()?;
    let title = change
        .title
        .map(|t| text::required("title", t, 200))
        .transpose()?;
    let lead_email = change
        .lead_email
        .map(|e| email("leadEmail", e))
        .transpose()?;
    let agreed_with = text::optional("timeframeAgreedWith", change.timeframe_agreed_with, 2_000)?;
    let findings = text::optional("findings", change.findings, 50_000)?;
    let tx = state.db.begin_write().await?;
    let staff = rc.staff_in(state, &*tx).await?;
    let (current, access) = load_for_change(state, rc, &*tx, id).await?;
    let governs = title.is_some()
        || lead_email.is_some()
        || change.agreed_due_date.is_some()
        || agreed_with.is_some();
    if governs {
        require_manager(
            access,
            "change a learning response's title, lead or timeframe",
        )?;
    } else if !access.contribute {
        return Err(AppError::forbidden(
            "only the response's lead, quality leads and the department's handlers may record its findings",
        ));
    }
    versioned::check(current.version, expected_version)?;
    if status_of(&current).is_final() || current.disposed_at.is_some() {
        return Err(AppError::invalid(
            "learningResponseId",
            format!(
                "a {} learning response is final and takes no more changes",
                current.status
            ),
        ));
    }
    let mut next = current.clone();
    if let Some(t) = title {
        next.title = t;
    }
    if let Some(e) = lead_email {
        next.lead_email = e;
    }
    if let Some(d) = change.agreed_due_date {
        next.agreed_due_date = d;
    }
    if agreed_with.is_some() {
        next.timeframe_agreed_with = agreed_with;
    }
    if findings.is_some() {
        next.findings = findings;
    }
    let next = versioned::save(&*tx, next, expected_version).await?;
    let mut diff = Diff::new();
    diff.text("title", &current.title, &next.title)
        .field("leadEmail", &current.lead_email, &next.lead_email)
        .field(
            "agreedDueDate",
            current.agreed_due_date,
            next.agreed_due_date,
        )
        .text(
            "timeframeAgreedWith",
            &current.timeframe_agreed_with,
            &next.timeframe_agreed_with,
        )
        .text("findings", &current.findings, &next.findings)
        .field("version", current.version, next.version);
    trail::record(
        &*tx,
        rc,
        &Actor::of(p, staff),
        ENTITY,
        id,
        "learning_response.updated",
        diff,
    )
    .await?;
    tx.commit().await?;
    let access = access_to(state, rc, &next).await?;
    Ok((next, access))
}

pub async fn transition(
    state: &AppState,
    rc: &RequestCtx,
    id: Uuid,
    to: S,
    why: Option<String>,
    expected_version: i32,
) -> AppResult<(response::Model, Access)> {
    let p = rc.principal()?;
    let why = text::optional("reason", why, 20_000)?;
    let tx = state.db.begin_write().await?;
    let staff = rc.staff_in(state, &*tx).await?;
    let (current, access) = load_for_change(state, rc, &*tx, id).await?;
    if !access.contribute {
        return Err(AppError::forbidden(
            "only the response's lead, quality leads and the department's handlers may move a learning response",
        ));
    }
    versioned::check(current.version, expected_version)?;
    let from = status_of(&current);
    workflow::check_transition(from, to, why.as_deref(), current.findings.is_some(), access)?;
    let now = now();
    let mut next = current.clone();
    next.status = to.as_str().into();
    next.status_reason = why;
    match to {
        S::InProgress => next.started_at = Some(now),
        S::Completed | S::Cancelled => next.ended_at = Some(now),
        S::Planned => {}
    }
    let next = versioned::save(&*tx, next, expected_version).await?;
    let mut diff = Diff::new();
    diff.field("status", &current.status, &next.status)
        .text("statusReason", &current.status_reason, &next.status_reason)
        .field("startedAt", current.started_at, next.started_at)
        .field("endedAt", current.ended_at, next.ended_at)
        .field("version", current.version, next.version);
    trail::record(
        &*tx,
        rc,
        &Actor::of(p, staff),
        ENTITY,
        id,
        "learning_response.transitioned",
        diff,
    )
    .await?;
    tx.commit().await?;
    Ok((next, access))
}

/// Links incidents the response covers and improvement projects it raised or informs.
pub async fn link(
    state: &AppState,
    rc: &RequestCtx,
    id: Uuid,
    incident_ids: Vec<Uuid>,
    project_ids: Vec<Uuid>,
) -> AppResult<(response::Model, Access)> {
    let p = rc.principal()?;
    let tx = state.db.begin_write().await?;
    let staff = rc.staff_in(state, &*tx).await?;
    let (current, access) = load_for_change(state, rc, &*tx, id).await?;
    require_manager(
        access,
        "link incidents and improvement projects to a learning response",
    )?;
    if current.disposed_at.is_some() {
        return Err(AppError::invalid(
            "learningResponseId",
            "a disposed learning response takes no new links",
        ));
    }
    let existing = links_of(&*tx, &[id]).await?.remove(&id).unwrap_or_default();
    let (incident_ids, project_ids) =
        new_links(state, rc, &*tx, &existing, incident_ids, project_ids).await?;
    if incident_ids.is_empty() && project_ids.is_empty() {
        // Everything named was linked already: nothing changed, so nothing to record.
        return Ok((current, access));
    }
    insert_links(&*tx, id, &incident_ids, &project_ids).await?;
    let mut diff = Diff::new();
    diff.field(
        "incidentIds",
        None,
        Some(&incident_ids).filter(|v| !v.is_empty()),
    )
    .field(
        "improvementProjectIds",
        None,
        Some(&project_ids).filter(|v| !v.is_empty()),
    );
    trail::record(
        &*tx,
        rc,
        &Actor::of(p, staff),
        ENTITY,
        id,
        "learning_response.linked",
        diff,
    )
    .await?;
    tx.commit().await?;
    Ok((current, access))
}

/// For raising a corrective action from a response: its department id, after checking the
/// caller may see it (else `sourceId` is bad input), may manage it (else FORBIDDEN) and it
/// is not CANCELLED or disposed of (else `sourceId` is bad input). A COMPLETED response
/// still takes actions: they are what its findings call for.
pub async fn action_source<C: ConnectionTrait>(
    state: &AppState,
    rc: &RequestCtx,
    conn: &C,
    id: Uuid,
) -> AppResult<Uuid> {
    let m = response::Entity::find_by_id(id).one(conn).await?;
    let access = match &m {
        Some(m) => access_to(state, rc, m).await?,
        None => Access::default(),
    };
    let Some(m) = m.filter(|_| access.view) else {
        return Err(
            AppError::invalid("sourceId", "no such learning response").because(reason::UNKNOWN)
        );
    };
    if !access.manage {
        return Err(AppError::forbidden(
            "actions are raised from a learning response by quality leads and the department's handlers",
        ));
    }
    if status_of(&m) == S::Cancelled || m.disposed_at.is_some() {
        return Err(AppError::invalid(
            "sourceId",
            "a cancelled or disposed learning response takes no new actions",
        ));
    }
    Ok(m.department_id)
}

/// One response the caller may see; NOT_FOUND otherwise.
pub async fn get(
    state: &AppState,
    rc: &RequestCtx,
    id: Uuid,
) -> AppResult<(response::Model, Access)> {
    rc.principal()?;
    let m = response::Entity::find_by_id(id)
        .one(&state.db.conn)
        .await?
        .ok_or(NOT_FOUND)?;
    let access = access_to(state, rc, &m).await?;
    if !access.view {
        return Err(NOT_FOUND);
    }
    Ok((m, access))
}

/// The links of each of `ids`, oldest first.
pub async fn links_of<C: ConnectionTrait>(
    conn: &C,
    ids: &[Uuid],
) -> AppResult<HashMap<Uuid, Vec<link::Model>>> {
    let rows = link::Entity::find()
        .filter(link::Column::LearningResponseId.is_in(ids.iter().copied()))
        .order_by_asc(link::Column::CreatedAt)
        .order_by_asc(link::Column::Id)
        .all(conn)
        .await?;
    let mut out: HashMap<Uuid, Vec<link::Model>> = HashMap::new();
    for l in rows {
        out.entry(l.learning_response_id).or_default().push(l);
    }
    Ok(out)
}

/// The responses covering an incident that the caller may see, oldest first.
pub async fn covering(
    state: &AppState,
    rc: &RequestCtx,
    incident_id: Uuid,
) -> AppResult<Vec<(response::Model, Access)>> {
    let ids: Vec<Uuid> = link::Entity::find()
        .select_only()
        .column(link::Column::LearningResponseId)
        .filter(link::Column::IncidentId.eq(incident_id))
        .into_tuple()
        .all(&state.db.conn)
        .await?;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows = response::Entity::find()
        .filter(response::Column::Id.is_in(ids))
        .order_by_asc(response::Column::CreatedAt)
        .order_by_asc(response::Column::Id)
        .all(&state.db.conn)
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for m in rows {
        let access = access_to(state, rc, &m).await?;
        if access.view {
            out.push((m, access));
        }
    }
    Ok(out)
}

#[derive(Default)]
pub struct ResponseFilter {
    pub statuses: Vec<S>,
    pub kind: Option<LearningResponse>,
    pub department_id: Option<Uuid>,
    pub incident_id: Option<Uuid>,
    pub overdue: Option<bool>,
}

/// Which responses the caller may see: their departments' (handlers), all (quality leads,
/// reading service accounts), and those they lead.
fn visible(p: &Principal) -> Condition {
    let own = (!p.is_service())
        .then(|| p.email.as_deref().map(|e| e.trim().to_lowercase()))
        .flatten()
        .map(|e| Condition::all().add(response::Column::LeadEmail.eq(e)));
    visibility::departmental(p, response::Column::DepartmentId, own)
}

fn overdue_condition(today: NaiveDate) -> Condition {
    Condition::all()
        .add(response::Column::Status.is_in(S::OPEN_STATES.map(|s| s.as_str())))
        .add(response::Column::AgreedDueDate.lt(today))
}

fn sort_key(
    field: LearningResponseOrderField,
    direction: OrderDirection,
) -> ColumnOrder<response::Entity> {
    match field {
        LearningResponseOrderField::CreatedAt => {
            crate::column_order!(response::CreatedAt, created_at: chrono::DateTime<chrono::Utc>, direction)
        }
        LearningResponseOrderField::AgreedDueDate => {
            crate::column_order!(response::AgreedDueDate, agreed_due_date: NaiveDate, direction)
        }
    }
}

/// A page of the responses the caller may see, each with the caller's access to it.
pub async fn list(
    state: &AppState,
    rc: &RequestCtx,
    q: ResponseFilter,
    order: (LearningResponseOrderField, OrderDirection),
    first: u64,
    after: Option<String>,
) -> AppResult<Page<(response::Model, Access)>> {
    let p = rc.principal()?;
    let mut c = Condition::all().add(visible(p));
    if !q.statuses.is_empty() {
        c = c.add(response::Column::Status.is_in(q.statuses.iter().map(|s| s.as_str())));
    }
    if let Some(k) = q.kind {
        c = c.add(response::Column::Kind.eq(k.as_str()));
    }
    if let Some(d) = q.department_id {
        c = c.add(response::Column::DepartmentId.eq(d));
    }
    if let Some(i) = q.incident_id {
        c = c.add(
            response::Column::Id.in_subquery(
                sea_orm::sea_query::Query::select()
                    .column(link::Column::LearningResponseId)
                    .from(link::Entity)
                    .and_where(link::Column::IncidentId.eq(i))
                    .to_owned(),
            ),
        );
    }
    match q.overdue {
        Some(true) => c = c.add(overdue_condition(today(&state.settings))),
        Some(false) => c = c.add(overdue_condition(today(&state.settings)).not()),
        None => {}
    }
    let key = sort_key(order.0, order.1);
    let page = keyset::list(
        &state.db.conn,
        response::Entity::find().filter(c),
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

/// Learning responses open now, and those of them past the date agreed with those affected.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub open: u64,
    pub overdue: u64,
}

/// The dashboard's counts for the given departments (None: the whole trust): two exact
/// counts on the department, status and agreed-date index.
pub async fn counts(state: &AppState, department_ids: Option<Vec<Uuid>>) -> AppResult<Counts> {
    let mut open = response::Entity::find()
        .filter(response::Column::Status.is_in(S::OPEN_STATES.map(|s| s.as_str())));
    if let Some(ids) = department_ids {
        open = open.filter(response::Column::DepartmentId.is_in(ids));
    }
    let overdue = open
        .clone()
        .filter(response::Column::AgreedDueDate.lt(today(&state.settings)));
    Ok(Counts {
        open: open.count(&state.db.conn).await?,
        overdue: overdue.count(&state.db.conn).await?,
    })
}
