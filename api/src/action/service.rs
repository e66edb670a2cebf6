//! Corrective-action persistence and rules: permission, rules, the row and its trail event
//! in one transaction.
use chrono::{Days, NaiveDate};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, QuerySelect,
};
use uuid::Uuid;

use super::model::{CorrectiveActionOrderField, CorrectiveActionStatus as S, Priority};
use super::workflow::{self, Access};
use crate::auth::{Principal, Role, Scope};
use crate::context::{AppState, RequestCtx};
use crate::error::{AppError, AppResult};
use crate::incident::model::IncidentStatus;
use crate::record::keyset::{self, ColumnOrder, Page};
use crate::record::text;
use crate::record::{now, versioned, visibility, OrderDirection};
use crate::trail::{self, Actor, Diff};
use entities::{corrective_action as action, incident};

const ENTITY: &str = "CorrectiveAction";

/// Days a follow-up action gets when the verifier names no due date.
const FOLLOW_UP_DAYS: u64 = 30;

/// What an action was raised from.
#[derive(Debug, Clone, Copy)]
pub enum Source {
    Incident(Uuid),
    AuditFinding(Uuid),
    ImprovementProject(Uuid),
    LearningResponse(Uuid),
}

pub struct NewAction {
    pub source: Source,
    pub title: String,
    pub description: Option<String>,
    pub owner_email: String,
    pub due_date: NaiveDate,
    pub priority: Priority,
}

#[derive(Default)]
pub struct ActionChange {
    pub status: Option<S>,
    pub effective: Option<bool>,
    pub note: Option<String>,
    pub due_date: Option<NaiveDate>,
    pub owner_email: Option<String>,
    pub title: Option<String>,
    pub priority: Option<Priority>,
}

fn parse_title(title: String) -> AppResult<String> {
    text::required("title", title, 200)
}

fn parse_email(email: &str) -> AppResult<String> {
    text::email("ownerEmail", email)
}

fn email_of(p: &Principal) -> Option<String> {
    (!p.is_service())
        .then(|| p.email.as_deref().map(str::to_lowercase))
        .flatten()
}

fn status_of(m: &action::Model) -> S {
    S::parse(&m.status).unwrap_or(S::Open)
}

/// The caller's access to an action of `department_code` owned by `owner_email`.
pub fn access(p: &Principal, department_code: &str, owner_email: &str) -> Access {
    let manage = p.has_role(Role::QualityLead)
        || p.handles_department(department_code)
        || p.has_scope(Scope::IncidentsManage);
    let owner = email_of(p).is_some_and(|e| e == owner_email);
    Access {
        view: manage || owner || p.has_scope(Scope::IncidentsRead),
        owner,
        manage,
    }
}

pub async fn access_to(state: &AppState, rc: &RequestCtx, m: &action::Model) -> AppResult<Access> {
    let code = crate::org::service::department(state, m.department_id)
        .await?
        .map(|d| d.code)
        .unwrap_or_default();
    Ok(access(rc.principal()?, &code, &m.owner_email))
}

/// A free-text field of an action as its reader gets it: its read (when it holds
/// anything) is noted for the request's access log. The GraphQL object and the CSV export
/// both read through here.
pub fn note_read<'a>(
    rc: &RequestCtx,
    id: Uuid,
    field: &'static str,
    text: Option<&'a str>,
) -> Option<&'a str> {
    let text = text?;
    rc.access.record("CorrectiveAction", id, field, false, None);
    Some(text)
}

pub fn is_overdue(state: &AppState, m: &action::Model) -> bool {
    workflow::is_overdue(status_of(m), m.due_date, state.settings.today())
}

pub async fn create(
    state: &AppState,
    rc: &RequestCtx,
    input: NewAction,
) -> AppResult<(action::Model, Access)> {
    let p = rc.principal()?;
    let title = parse_title(input.title)?;
    let description = text::optional("description", input.description, 20_000)?;
    let owner_email = parse_email(&input.owner_email)?;
    let tx = state.db.begin_write().await?;
    let staff = rc.staff_in(state, &*tx).await?;
    let (source_type, department_id) = match input.source {
        Source::Incident(id) => ("INCIDENT", incident_source(state, rc, &*tx, id).await?),
        Source::AuditFinding(id) => (
            "AUDIT_FINDING",
            crate::audit::service::action_source(state, rc, &*tx, id).await?,
        ),
        Source::ImprovementProject(id) => (
            "IMPROVEMENT_PROJECT",
            crate::improvement::service::action_source(state, rc, &*tx, id).await?,
        ),
        Source::LearningResponse(id) => (
            "LEARNING_RESPONSE",
            crate::learning::service::action_source(state, rc, &*tx, id).await?,
        ),
    };
    let now = now();
    let model = action::Model {
        id: Uuid::now_v7(),
        source_type: source_type.into(),
        incident_id: match input.source {
            Source::Incident(id) => Some(id),
            _ => None,
        },
        audit_finding_id: match input.source {
            Source::AuditFinding(id) => Some(id),
            _ => None,
        },
        improvement_project_id: match input.source {
            Source::ImprovementProject(id) => Some(id),
            _ => None,
        },
        learning_response_id: match input.source {
            Source::LearningResponse(id) => Some(id),
            _ => None,
        },
        department_id,
        title,
        description,
        owner_email,
        due_date: input.due_date,
        priority: input.priority.as_str().into(),
        status: S::Open.as_str().into(),
        effective: None,
        verification_note: None,
        cancellation_reason: None,
        note: None,
        follow_up_of_id: None,
        completed_at: None,
        verified_at: None,
        created_by_id: staff,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    insert(&*tx, state, rc, &Actor::of(p, staff), &model).await?;
    tx.commit().await?;
    let access = access_to(state, rc, &model).await?;
    Ok((model, access))
}

/// An incident as an action's source: its department, once the caller may manage it and it
/// is still open.
async fn incident_source<C: ConnectionTrait>(
    state: &AppState,
    rc: &RequestCtx,
    conn: &C,
    incident_id: Uuid,
) -> AppResult<Uuid> {
    let source = incident::Entity::find_by_id(incident_id).one(conn).await?;
    let source_access = match &source {
        Some(i) => crate::incident::service::access_to(state, rc, i).await?,
        None => Default::default(),
    };
    let Some(source) = source.filter(|_| source_access.view) else {
        return Err(AppError::invalid("sourceId", "no such incident")
            .because(crate::record::text::reason::UNKNOWN));
    };
    if !source_access.manage {
        return Err(AppError::forbidden(
            "actions are raised by the incident's handlers and quality leads",
        ));
    }
    if matches!(
        IncidentStatus::parse(&source.status),
        Some(IncidentStatus::Closed | IncidentStatus::Declined)
    ) {
        return Err(AppError::invalid(
            "sourceId",
            "a closed or declined incident takes no new actions; reopen it first",
        ));
    }
    Ok(source.department_id)
}

/// The reference of the incident an action was raised from, for emails.
async fn source_reference<C: ConnectionTrait>(
    conn: &C,
    m: &action::Model,
) -> AppResult<Option<String>> {
    Ok(match m.incident_id {
        Some(id) => incident::Entity::find_by_id(id)
            .one(conn)
            .await?
            .map(|i| i.reference),
        None => None,
    })
}

async fn insert<C: ConnectionTrait>(
    conn: &C,
    state: &AppState,
    rc: &RequestCtx,
    actor: &Actor,
    m: &action::Model,
) -> AppResult<()> {
    action::Entity::insert(m.clone().into_active_model())
        .exec_without_returning(conn)
        .await?;
    crate::dashboard::rollup::action_changed(conn, state.settings.tz(), None, m).await?;
    crate::notify::events::action_assigned(conn, state, m, source_reference(conn, m).await?)
        .await?;
    let mut diff = Diff::new();
    diff.field(
        "source",
        None,
        Some(format!(
            "{}:{}",
            m.source_type,
            m.incident_id.unwrap_or_default()
        )),
    )
    .text("title", None, Some(&m.title))
    .field("ownerEmail", None, Some(&m.owner_email))
    .field("dueDate", None, Some(m.due_date))
    .field("priority", None, Some(&m.priority))
    .field("status", None, Some(&m.status))
    .field("followUpOfId", None, m.follow_up_of_id);
    trail::record(
        conn,
        rc,
        actor,
        ENTITY,
        m.id,
        "corrective_action.created",
        diff,
    )
    .await
}

pub async fn update(
    state: &AppState,
    rc: &RequestCtx,
    id: Uuid,
    expected_version: i32,
    change: ActionChange,
) -> AppResult<(action::Model, Access)> {
    let p = rc.principal()?;
    let title = change.title.map(parse_title).transpose()?;
    let owner_email = change.owner_email.as_deref().map(parse_email).transpose()?;
    let note = text::optional("note", change.note, 20_000)?;
    let tx = state.db.begin_write().await?;
    let staff = rc.staff_in(state, &*tx).await?;
    let current = action::Entity::find_by_id(id)
        .lock_exclusive()
        .one(&*tx)
        .await?
        .ok_or(AppError::NotFound("corrective action"))?;
    let access = access_to(state, rc, &current).await?;
    if !access.view {
        return Err(AppError::NotFound("corrective action"));
    }
    let edits_plan = title.is_some()
        || owner_email.is_some()
        || change.priority.is_some()
        || (change.due_date.is_some() && change.status != Some(S::Verified));
    if !access.manage && (edits_plan || !access.owner) {
        return Err(AppError::forbidden(
            "only the department's handlers and quality leads may change an action's plan",
        ));
    }
    versioned::check(current.version, expected_version)?;
    let from = status_of(&current);
    if matches!(from, S::Verified | S::Cancelled) {
        return Err(AppError::invalid(
            "status",
            "a verified or cancelled action does not change; raise a new one",
        ));
    }
    // A status equal to the current one is not an edge either: refused by check_transition.
    let to = change.status;
    if let Some(to) = to {
        workflow::check_transition(from, to, access)?;
    }
    match (to, change.effective) {
        (Some(S::Verified), None) => {
            return Err(AppError::invalid(
                "effective",
                "verifying an action needs a verdict on its effectiveness",
            )
            .because(crate::record::text::reason::BLANK));
        }
        (t, Some(_)) if t != Some(S::Verified) => {
            return Err(AppError::invalid(
                "effective",
                "effective is given only when verifying",
            ));
        }
        _ => {}
    }
    if to == Some(S::Cancelled) && note.is_none() {
        return Err(
            AppError::invalid("note", "cancelling an action needs a reason (note)")
                .because(crate::record::text::reason::BLANK),
        );
    }
    let now = now();
    let mut next = current.clone();
    if let Some(t) = title {
        next.title = t;
    }
    if let Some(e) = owner_email {
        next.owner_email = e;
    }
    if let Some(pr) = change.priority {
        next.priority = pr.as_str().into();
    }
    match to {
        Some(S::Verified) => {
            next.effective = change.effective;
            next.verification_note = note.clone();
            next.verified_at = Some(now);
        }
        Some(S::Cancelled) => next.cancellation_reason = note.clone(),
        Some(S::Completed) => {
            next.completed_at = Some(now);
            if note.is_some() {
                next.note = note.clone();
            }
        }
        _ => {
            if note.is_some() {
                next.note = note.clone();
            }
        }
    }
    if to != Some(S::Verified) {
        if let Some(d) = change.due_date {
            next.due_date = d;
        }
    }
    if let Some(t) = to {
        next.status = t.as_str().into();
    }
    let next = versioned::save(&*tx, next, expected_version).await?;
    crate::dashboard::rollup::action_changed(&*tx, state.settings.tz(), Some(&current), &next)
        .await?;
    let actor = Actor::of(p, staff);
    let mut diff = Diff::new();
    diff.field("status", &current.status, &next.status)
        .text("title", &current.title, &next.title)
        .field("ownerEmail", &current.owner_email, &next.owner_email)
        .field("dueDate", current.due_date, next.due_date)
        .field("priority", &current.priority, &next.priority)
        .field("effective", current.effective, next.effective)
        .text(
            "verificationNote",
            &current.verification_note,
            &next.verification_note,
        )
        .text(
            "cancellationReason",
            &current.cancellation_reason,
            &next.cancellation_reason,
        )
        .text("note", &current.note, &next.note)
        .field("version", current.version, next.version);
    trail::record(
        &*tx,
        rc,
        &actor,
        ENTITY,
        id,
        "corrective_action.updated",
        diff,
    )
    .await?;
    if to == Some(S::Verified) && change.effective == Some(false) {
        // Not effective: the problem is still there, so a follow-up action is raised with the
        // verdict, in the same transaction.
        let due = change
            .due_date
            .unwrap_or_else(|| state.settings.today() + Days::new(FOLLOW_UP_DAYS));
        let title: String = format!("Follow-up: {}", next.title)
            .chars()
            .take(200)
            .collect();
        let follow_up = action::Model {
            id: Uuid::now_v7(),
            title,
            due_date: due,
            status: S::Open.as_str().into(),
            effective: None,
            verification_note: None,
            cancellation_reason: None,
            note: None,
            follow_up_of_id: Some(id),
            completed_at: None,
            verified_at: None,
            created_by_id: staff,
            created_at: now,
            updated_at: now,
            version: 1,
            ..next.clone()
        };
        insert(&*tx, state, rc, &actor, &follow_up).await?;
    }
    if next.owner_email != current.owner_email {
        crate::notify::events::action_assigned(
            &*tx,
            state,
            &next,
            source_reference(&*tx, &next).await?,
        )
        .await?;
    }
    tx.commit().await?;
    let access = access_to(state, rc, &next).await?;
    Ok((next, access))
}

pub async fn get(
    state: &AppState,
    rc: &RequestCtx,
    id: Uuid,
) -> AppResult<(action::Model, Access)> {
    rc.principal()?;
    let m = action::Entity::find_by_id(id)
        .one(&state.db.conn)
        .await?
        .ok_or(AppError::NotFound("corrective action"))?;
    let access = access_to(state, rc, &m).await?;
    if !access.view {
        return Err(AppError::NotFound("corrective action"));
    }
    Ok((m, access))
}

#[derive(Default, Clone)]
pub struct ActionFilter {
    pub statuses: Vec<S>,
    pub overdue: Option<bool>,
    pub department_id: Option<Uuid>,
    pub incident_id: Option<Uuid>,
    pub owner_email: Option<String>,
    pub mine: bool,
    pub due_before: Option<NaiveDate>,
}

/// Which actions the caller may see, as a condition: their departments' (handlers), all
/// (quality leads, reading service accounts), and those they own.
pub fn visible(p: &Principal) -> Condition {
    let own = email_of(p).map(|e| Condition::all().add(action::Column::OwnerEmail.eq(e)));
    visibility::departmental(p, action::Column::DepartmentId, own)
}

fn overdue_condition(today: NaiveDate) -> Condition {
    Condition::all()
        .add(action::Column::Status.is_in(S::OPEN_STATES.map(|s| s.as_str())))
        .add(action::Column::DueDate.lt(today))
}

/// The order of an action list.
fn sort_key(
    field: CorrectiveActionOrderField,
    direction: OrderDirection,
) -> ColumnOrder<action::Entity> {
    match field {
        CorrectiveActionOrderField::DueDate => {
            crate::column_order!(action::DueDate, due_date: NaiveDate, direction)
        }
        CorrectiveActionOrderField::CreatedAt => {
            crate::column_order!(action::CreatedAt, created_at: chrono::DateTime<chrono::Utc>, direction)
        }
    }
}

/// A page of the actions the caller may see, each with the caller's access to it.
pub async fn list(
    state: &AppState,
    rc: &RequestCtx,
    q: ActionFilter,
    order: (CorrectiveActionOrderField, OrderDirection),
    first: u64,
    after: Option<String>,
) -> AppResult<Page<(action::Model, Access)>> {
    let p = rc.principal()?;
    let mut c = Condition::all().add(visible(p));
    if !q.statuses.is_empty() {
        c = c.add(action::Column::Status.is_in(q.statuses.iter().map(|s| s.as_str())));
    }
    match q.overdue {
        Some(true) => c = c.add(overdue_condition(state.settings.today())),
        Some(false) => c = c.add(overdue_condition(state.settings.today()).not()),
        None => {}
    }
    if let Some(d) = q.department_id {
        c = c.add(action::Column::DepartmentId.eq(d));
    }
    if let Some(i) = q.incident_id {
        c = c.add(action::Column::IncidentId.eq(i));
    }
    if let Some(e) = &q.owner_email {
        c = c.add(action::Column::OwnerEmail.eq(e.trim().to_lowercase()));
    }
    if q.mine {
        match email_of(p) {
            Some(e) => c = c.add(action::Column::OwnerEmail.eq(e)),
            None => c = c.add(visibility::nothing()),
        }
    }
    if let Some(d) = q.due_before {
        c = c.add(action::Column::DueDate.lt(d));
    }
    let key = sort_key(order.0, order.1);
    let page = keyset::list(
        &state.db.conn,
        action::Entity::find().filter(c),
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

    #[test]
    fn owner_emails_are_checked_and_lower_cased() {
        assert_eq!(
            parse_email(" Sam.Jones@Trust.NHS.uk ").unwrap(),
            "sam.jones@trust.nhs.uk"
        );
        assert!(parse_email("sam@trust").is_err());
    }
}
