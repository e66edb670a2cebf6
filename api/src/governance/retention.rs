//! Retention (NHS Records Management Code of Practice), legal holds and disposal.
//!
//! A record's retention runs from when it ended: an incident's closure (or its declining),
//! an audit's closure, an improvement project's closure or abandonment, a learning
//! response's completion or cancellation. The periods are
//! configuration (`[retention]`), not code. Records past their date are listed for review;
//! an active legal hold stops disposal. Disposal removes a record's content and keeps a
//! tombstone (identity, reference, department, dates, status) and writes a trail event.
use chrono::{DateTime, Duration, Months, SubsecRound, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, IntoActiveModel,
    QueryFilter, QueryOrder, QuerySelect, Select,
};
use uuid::Uuid;

use crate::attachment::service as att;
use crate::config::{Retention, Settings};
use crate::context::{AppState, RequestCtx};
use crate::db::Db;
use crate::error::{AppError, AppResult};
use crate::record::keyset::after_position;
use crate::trail::{self, Actor, Diff};
use entities::{
    audit, audit_finding, break_glass_grant, corrective_action, idempotency_key,
    improvement_project, incident, incident_comment, learning_response, legal_hold, obligation,
    pdsa_cycle,
};

/// The kinds of record with a retention schedule.
#[derive(async_graphql::Enum, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum RecordType {
    /// Incidents, kept from their closure or declining.
    Incident,
    /// Audits, kept from their closure.
    Audit,
    /// Improvement projects, kept from their closure or abandonment.
    ImprovementProject,
    /// Learning responses, kept from their completion or cancellation.
    LearningResponse,
}

crate::stored_enum!(RecordType {
    Incident => "Incident",
    Audit => "Audit",
    ImprovementProject => "ImprovementProject",
    LearningResponse => "LearningResponse",
});

impl RecordType {
    fn rank(self) -> u8 {
        self as u8
    }
}

/// Severe or fatal harm: a serious incident, kept longer.
const SERIOUS_RANK: i16 = 3;

fn add_years(t: DateTime<Utc>, years: u32) -> DateTime<Utc> {
    t.checked_add_months(Months::new(years.saturating_mul(12)))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

fn cutoff(now: DateTime<Utc>, years: u32) -> DateTime<Utc> {
    now.checked_sub_months(Months::new(years.saturating_mul(12)))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

pub fn is_serious(m: &incident::Model) -> bool {
    m.physical_harm >= SERIOUS_RANK || m.psychological_harm >= SERIOUS_RANK
}

/// When an incident's retention ends; None while it is open.
pub fn incident_until(r: &Retention, m: &incident::Model) -> Option<DateTime<Utc>> {
    let ended = match m.status.as_str() {
        "CLOSED" => m.closed_at?,
        "DECLINED" => m.updated_at,
        _ => return None,
    };
    let years = if is_serious(m) {
        r.serious_incident_years
    } else {
        r.incident_years
    };
    Some(add_years(ended, years))
}

pub fn audit_until(r: &Retention, m: &audit::Model) -> Option<DateTime<Utc>> {
    (m.status == "CLOSED")
        .then_some(m.closed_at)
        .flatten()
        .map(|t| add_years(t, r.audit_years))
}

pub fn project_until(r: &Retention, m: &improvement_project::Model) -> Option<DateTime<Utc>> {
    matches!(m.status.as_str(), "CLOSED" | "ABANDONED")
        .then_some(m.closed_at)
        .flatten()
        .map(|t| add_years(t, r.improvement_project_years))
}

pub fn learning_response_until(
    r: &Retention,
    m: &learning_response::Model,
) -> Option<DateTime<Utc>> {
    matches!(m.status.as_str(), "COMPLETED" | "CANCELLED")
        .then_some(m.ended_at)
        .flatten()
        .map(|t| add_years(t, r.learning_response_years))
}

/// A run of due records whose retention ends a fixed number of years after one column:
/// read in that column's order, they come in the order their retention ends.
struct Run<E: EntityTrait> {
    /// The run's due records.
    query: Select<E>,
    /// When each ended.
    ended: E::Column,
    years: u32,
}

/// Incidents past retention, as four runs: closed or declined (retention runs from the
/// closure or the declining), serious or not (twenty years or ten, by default).
fn incident_runs(r: &Retention, now: DateTime<Utc>) -> Vec<Run<incident::Entity>> {
    let serious = Condition::any()
        .add(incident::Column::PhysicalHarm.gte(SERIOUS_RANK))
        .add(incident::Column::PsychologicalHarm.gte(SERIOUS_RANK));
    let not_serious = Condition::all()
        .add(incident::Column::PhysicalHarm.lt(SERIOUS_RANK))
        .add(incident::Column::PsychologicalHarm.lt(SERIOUS_RANK));
    let mut runs = Vec::new();
    for (status, ended) in [
        ("CLOSED", incident::Column::ClosedAt),
        ("DECLINED", incident::Column::UpdatedAt),
    ] {
        for (harm, years) in [
            (not_serious.clone(), r.incident_years),
            (serious.clone(), r.serious_incident_years),
        ] {
            runs.push(Run {
                query: incident::Entity::find().filter(
                    Condition::all()
                        .add(incident::Column::DisposedAt.is_null())
                        .add(incident::Column::Status.eq(status))
                        .add(harm)
                        .add(ended.lte(cutoff(now, years))),
                ),
                ended,
                years,
            });
        }
    }
    runs
}

fn audit_run(r: &Retention, now: DateTime<Utc>) -> Run<audit::Entity> {
    Run {
        query: audit::Entity::find().filter(
            Condition::all()
                .add(audit::Column::DisposedAt.is_null())
                .add(audit::Column::Status.eq("CLOSED"))
                .add(audit::Column::ClosedAt.lte(cutoff(now, r.audit_years))),
        ),
        ended: audit::Column::ClosedAt,
        years: r.audit_years,
    }
}

fn project_run(r: &Retention, now: DateTime<Utc>) -> Run<improvement_project::Entity> {
    Run {
        query: improvement_project::Entity::find().filter(
            Condition::all()
                .add(improvement_project::Column::DisposedAt.is_null())
                .add(improvement_project::Column::Status.is_in(["CLOSED", "ABANDONED"]))
                .add(
                    improvement_project::Column::ClosedAt
                        .lte(cutoff(now, r.improvement_project_years)),
                ),
        ),
        ended: improvement_project::Column::ClosedAt,
        years: r.improvement_project_years,
    }
}

fn learning_run(r: &Retention, now: DateTime<Utc>) -> Run<learning_response::Entity> {
    Run {
        query: learning_response::Entity::find().filter(
            Condition::all()
                .add(learning_response::Column::DisposedAt.is_null())
                .add(learning_response::Column::Status.is_in(["COMPLETED", "CANCELLED"]))
                .add(
                    learning_response::Column::EndedAt.lte(cutoff(now, r.learning_response_years)),
                ),
        ),
        ended: learning_response::Column::EndedAt,
        years: r.learning_response_years,
    }
}

/// A record past its retention date.
#[derive(Debug, Clone)]
pub struct DueRecord {
    pub record_type: RecordType,
    pub id: Uuid,
    /// The incident's reference, or the audit's or project's title.
    pub label: String,
    pub ended_at: DateTime<Utc>,
    pub retention_until: DateTime<Utc>,
    pub on_hold: bool,
}

/// A place in the list of due records: the type, the retention date and the id of the
/// record it follows.
pub type DuePosition = (RecordType, DateTime<Utc>, Uuid);

/// Up to `limit` of a run's records after `after` (a retention date and an id), in the
/// order of their retention date, then id; a few more when the last ones share a date.
/// `read` gives a row's ended column and its record.
async fn run_page<E, C>(
    conn: &C,
    run: Run<E>,
    id: E::Column,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: u64,
    read: impl Fn(E::Model) -> (Option<DateTime<Utc>>, DueRecord),
) -> AppResult<Vec<DueRecord>>
where
    E: EntityTrait,
    C: ConnectionTrait,
{
    let batch = (limit + 1).max(32);
    // A record due after the position ended no earlier than `years` before its date. Two
    // days' slack, because adding years is not quite the inverse of taking them away (29
    // February comes back as the 28th); what the slack lets in is sifted out below.
    let mut from: Option<(DateTime<Utc>, Uuid)> = after.map(|(until, _)| {
        let earliest = cutoff(until, run.years)
            .checked_sub_signed(Duration::days(2))
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        (earliest, Uuid::nil())
    });
    let mut out: Vec<DueRecord> = Vec::new();
    loop {
        let mut q = run
            .query
            .clone()
            .order_by_asc(run.ended)
            .order_by_asc(id)
            .limit(batch);
        if let Some((t, i)) = from {
            q = q.filter(after_position(run.ended, t.into(), id, i, true));
        }
        let rows = q.all(conn).await?;
        let full = rows.len() as u64 == batch;
        for m in rows {
            let (ended, d) = read(m);
            let Some(ended) = ended else {
                // The run's condition needs the column; a row without it is not due.
                continue;
            };
            from = Some((ended, d.id));
            if after.is_some_and(|a| (d.retention_until, d.id) <= a) {
                continue;
            }
            // Enough, unless this one ends its retention the moment the last one does
            // (28 and 29 February can): ties go by id, so it may belong before it.
            if out.len() as u64 >= limit
                && out
                    .last()
                    .is_some_and(|l| l.retention_until != d.retention_until)
            {
                return Ok(out);
            }
            out.push(d);
        }
        if !full {
            return Ok(out);
        }
    }
}

/// Records past retention, by type, then by when their retention ended (oldest first),
/// then by id, after `after`.
pub async fn due<C: ConnectionTrait>(
    conn: &C,
    settings: &Settings,
    only: Option<RecordType>,
    first: u64,
    after: Option<DuePosition>,
) -> AppResult<(Vec<DueRecord>, bool)> {
    let r = &settings.retention;
    let now = Utc::now();
    let want = first + 1;
    let mut out: Vec<DueRecord> = Vec::new();
    for t in RecordType::ALL {
        if only.is_some_and(|o| o != t) || out.len() as u64 >= want {
            continue;
        }
        let after_here = match after {
            Some((at, _, _)) if at.rank() > t.rank() => continue,
            Some((at, until, id)) if at == t => Some((until, id)),
            _ => None,
        };
        let limit = want - out.len() as u64;
        let mut rows: Vec<DueRecord> = Vec::new();
        match t {
            RecordType::Incident => {
                for run in incident_runs(r, now) {
                    let read = |m: incident::Model| {
                        let ended = if m.status == "CLOSED" {
                            m.closed_at
                        } else {
                            Some(m.updated_at)
                        };
                        let d = DueRecord {
                            record_type: t,
                            id: m.id,
                            retention_until: incident_until(r, &m).unwrap_or(now),
                            ended_at: m.closed_at.unwrap_or(m.updated_at),
                            label: m.reference,
                            on_hold: false,
                        };
                        (ended, d)
                    };
                    let id = incident::Column::Id;
                    rows.extend(run_page(conn, run, id, after_here, limit, read).await?);
                }
            }
            RecordType::Audit => {
                let read = |m: audit::Model| {
                    let d = DueRecord {
                        record_type: t,
                        id: m.id,
                        retention_until: audit_until(r, &m).unwrap_or(now),
                        ended_at: m.closed_at.unwrap_or(m.updated_at),
                        label: m.title,
                        on_hold: false,
                    };
                    (m.closed_at, d)
                };
                let run = audit_run(r, now);
                let id = audit::Column::Id;
                rows.extend(run_page(conn, run, id, after_here, limit, read).await?);
            }
            RecordType::ImprovementProject => {
                let read = |m: improvement_project::Model| {
                    let d = DueRecord {
                        record_type: t,
                        id: m.id,
                        retention_until: project_until(r, &m).unwrap_or(now),
                        ended_at: m.closed_at.unwrap_or(m.updated_at),
                        label: m.title,
                        on_hold: false,
                    };
                    (m.closed_at, d)
                };
                let run = project_run(r, now);
                let id = improvement_project::Column::Id;
                rows.extend(run_page(conn, run, id, after_here, limit, read).await?);
            }
            RecordType::LearningResponse => {
                let read = |m: learning_response::Model| {
                    let d = DueRecord {
                        record_type: t,
                        id: m.id,
                        retention_until: learning_response_until(r, &m).unwrap_or(now),
                        ended_at: m.ended_at.unwrap_or(m.updated_at),
                        label: m.title,
                        on_hold: false,
                    };
                    (m.ended_at, d)
                };
                let run = learning_run(r, now);
                let id = learning_response::Column::Id;
                rows.extend(run_page(conn, run, id, after_here, limit, read).await?);
            }
        }
        rows.sort_by_key(|d| (d.retention_until, d.id));
        rows.truncate(limit as usize);
        out.extend(rows);
    }
    let more = out.len() as u64 > first;
    out.truncate(first as usize);
    let held = held_among(conn, &out.iter().map(|d| d.id).collect::<Vec<_>>()).await?;
    for d in &mut out {
        d.on_hold = held.contains(&d.id);
    }
    Ok((out, more))
}

/// How many records are past retention (of one type, or all).
pub async fn count_due<C: ConnectionTrait>(
    conn: &C,
    settings: &Settings,
    only: Option<RecordType>,
) -> AppResult<u64> {
    use sea_orm::PaginatorTrait;
    let r = &settings.retention;
    let now = Utc::now();
    let mut total = 0;
    for t in RecordType::ALL {
        if only.is_some_and(|o| o != t) {
            continue;
        }
        total += match t {
            RecordType::Incident => {
                let mut n = 0;
                for run in incident_runs(r, now) {
                    n += run.query.count(conn).await?;
                }
                n
            }
            RecordType::Audit => audit_run(r, now).query.count(conn).await?,
            RecordType::ImprovementProject => project_run(r, now).query.count(conn).await?,
            RecordType::LearningResponse => learning_run(r, now).query.count(conn).await?,
        };
    }
    Ok(total)
}

/// Which of `ids` are under an active legal hold.
pub async fn held_among<C: ConnectionTrait>(conn: &C, ids: &[Uuid]) -> AppResult<Vec<Uuid>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(legal_hold::Entity::find()
        .filter(legal_hold::Column::EntityId.is_in(ids.iter().copied()))
        .filter(legal_hold::Column::ReleasedAt.is_null())
        .all(conn)
        .await?
        .into_iter()
        .map(|h| h.entity_id)
        .collect())
}

/// The record behind an id, for holds: its type, if it exists.
async fn record_exists<C: ConnectionTrait>(conn: &C, t: RecordType, id: Uuid) -> AppResult<bool> {
    Ok(match t {
        RecordType::Incident => incident::Entity::find_by_id(id).one(conn).await?.is_some(),
        RecordType::Audit => audit::Entity::find_by_id(id).one(conn).await?.is_some(),
        RecordType::ImprovementProject => improvement_project::Entity::find_by_id(id)
            .one(conn)
            .await?
            .is_some(),
        RecordType::LearningResponse => learning_response::Entity::find_by_id(id)
            .one(conn)
            .await?
            .is_some(),
    })
}

fn reason(field: &str, text: String) -> AppResult<String> {
    crate::record::text::required(field, text, 2000)
}

/// Places a legal hold on a record; CONFLICT when one is already active on it.
pub async fn place_hold(
    state: &AppState,
    rc: &RequestCtx,
    t: RecordType,
    id: Uuid,
    why: String,
) -> AppResult<legal_hold::Model> {
    let p = rc.principal()?;
    super::require_ig_officer(p, "place legal holds")?;
    let why = reason("reason", why)?;
    let tx = state.db.begin_write().await?;
    let staff = rc.staff_in(state, &*tx).await?;
    if !record_exists(&*tx, t, id).await? {
        return Err(AppError::NotFound("record"));
    }
    if !held_among(&*tx, &[id]).await?.is_empty() {
        return Err(AppError::Duplicate(
            "this record is already under an active legal hold".into(),
        ));
    }
    let row = legal_hold::Model {
        id: Uuid::now_v7(),
        entity_type: t.as_str().into(),
        entity_id: id,
        reason: why,
        placed_by: p.label(),
        placed_at: Utc::now().trunc_subsecs(6),
        released_at: None,
        released_by: None,
        release_reason: None,
    };
    legal_hold::Entity::insert(legal_hold::ActiveModel::from(row.clone()))
        .exec_without_returning(&*tx)
        .await?;
    let mut diff = Diff::new();
    diff.field("legalHold", None, Some(row.id.to_string()));
    trail::record(
        &*tx,
        rc,
        &Actor::of(p, staff),
        t.as_str(),
        id,
        "legal_hold.placed",
        diff,
    )
    .await?;
    tx.commit().await?;
    Ok(row)
}

/// Releases an active legal hold.
pub async fn release_hold(
    state: &AppState,
    rc: &RequestCtx,
    hold_id: Uuid,
    why: String,
) -> AppResult<legal_hold::Model> {
    let p = rc.principal()?;
    super::require_ig_officer(p, "release legal holds")?;
    let why = reason("reason", why)?;
    let tx = state.db.begin_write().await?;
    let staff = rc.staff_in(state, &*tx).await?;
    let hold = legal_hold::Entity::find_by_id(hold_id)
        .lock_exclusive()
        .one(&*tx)
        .await?
        .ok_or(AppError::NotFound("legal hold"))?;
    if hold.released_at.is_some() {
        return Err(AppError::Duplicate(
            "this legal hold has already been released".into(),
        ));
    }
    let now = Utc::now().trunc_subsecs(6);
    legal_hold::Entity::update_many()
        .col_expr(legal_hold::Column::ReleasedAt, now.into())
        .col_expr(legal_hold::Column::ReleasedBy, p.label().into())
        .col_expr(legal_hold::Column::ReleaseReason, why.clone().into())
        .filter(legal_hold::Column::Id.eq(hold_id))
        .exec(&*tx)
        .await?;
    let mut diff = Diff::new();
    diff.field("legalHold", Some(hold.id.to_string()), None);
    trail::record(
        &*tx,
        rc,
        &Actor::of(p, staff),
        &hold.entity_type,
        hold.entity_id,
        "legal_hold.released",
        diff,
    )
    .await?;
    tx.commit().await?;
    Ok(legal_hold::Model {
        released_at: Some(now),
        released_by: Some(p.label()),
        release_reason: Some(why),
        ..hold
    })
}

/// What a disposal run did.
#[derive(Debug, Default, Clone)]
pub struct Disposal {
    pub incidents: u64,
    pub audits: u64,
    pub improvement_projects: u64,
    pub learning_responses: u64,
    /// Due records left alone because a legal hold is active on them.
    pub held: u64,
}

/// Disposes of every record past retention without an active hold. Each record is
/// disposed in its own transaction, re-checked under lock, with its trail event.
pub async fn dispose_due(
    db: &Db,
    settings: &Settings,
    actor: &Actor,
    request_id: Option<&str>,
) -> AppResult<Disposal> {
    let mut report = Disposal::default();
    let mut after: Option<DuePosition> = None;
    loop {
        let (page, more) = due(&db.conn, settings, None, 200, after).await?;
        for d in &page {
            if d.on_hold {
                report.held += 1;
                continue;
            }
            if dispose_one(db, settings, actor, request_id, d.record_type, d.id).await? {
                match d.record_type {
                    RecordType::Incident => report.incidents += 1,
                    RecordType::Audit => report.audits += 1,
                    RecordType::ImprovementProject => report.improvement_projects += 1,
                    RecordType::LearningResponse => report.learning_responses += 1,
                }
            }
        }
        match (more, page.last()) {
            (true, Some(last)) => after = Some((last.record_type, last.retention_until, last.id)),
            _ => return Ok(report),
        }
    }
}

async fn dispose_one(
    db: &Db,
    settings: &Settings,
    actor: &Actor,
    request_id: Option<&str>,
    t: RecordType,
    id: Uuid,
) -> AppResult<bool> {
    let r = &settings.retention;
    let now = Utc::now().trunc_subsecs(6);
    let tx = db.begin_write().await?;
    if !held_among(&*tx, &[id]).await?.is_empty() {
        return Ok(false);
    }
    let mut diff = Diff::new();
    match t {
        RecordType::Incident => {
            let Some(m) = incident::Entity::find_by_id(id)
                .lock_exclusive()
                .one(&*tx)
                .await?
            else {
                return Ok(false);
            };
            if m.disposed_at.is_some() || incident_until(r, &m).is_none_or(|u| u > now) {
                return Ok(false);
            }
            // What the register of incident columns says disposal removes, and its stamps.
            let mut tombstone = crate::incident::columns::cleared(&m);
            tombstone.disposed_at = Some(now);
            tombstone.version = m.version + 1;
            tombstone.updated_at = now;
            let am = tombstone.into_active_model().reset_all();
            let disposed = incident::Entity::update(am).exec(&*tx).await?;
            // Disposal removes the category too: the dashboard counts it as uncategorised.
            crate::dashboard::rollup::incident_changed(&*tx, settings.tz(), Some(&m), &disposed)
                .await?;
            incident_comment::Entity::delete_many()
                .filter(incident_comment::Column::IncidentId.eq(id))
                .exec(&*tx)
                .await?;
            idempotency_key::Entity::delete_many()
                .filter(idempotency_key::Column::IncidentId.eq(id))
                .exec(&*tx)
                .await?;
            let linked = dispose_linked_text(&*tx, id, now).await?;
            let files = att::dispose_of(
                &*tx,
                Condition::any()
                    .add(att::on(att::OwnerKind::Incident, id))
                    .add(att::on_actions(
                        corrective_action::Column::IncidentId.eq(id),
                    )),
                now,
            )
            .await?;
            diff.sensitive("title", true)
                .sensitive("attachments", files > 0)
                .sensitive("description", true)
                .sensitive(
                    "patient",
                    m.patient_nhs_sealed.is_some()
                        || m.patient_name_sealed.is_some()
                        || m.patient_dob_sealed.is_some(),
                )
                .sensitive("comments", true)
                .sensitive("correctiveActions", linked.actions > 0)
                .sensitive("breakGlassGrants", linked.grants > 0)
                .sensitive("obligations", linked.obligations > 0);
        }
        RecordType::Audit => {
            let Some(m) = audit::Entity::find_by_id(id)
                .lock_exclusive()
                .one(&*tx)
                .await?
            else {
                return Ok(false);
            };
            if m.disposed_at.is_some() || audit_until(r, &m).is_none_or(|u| u > now) {
                return Ok(false);
            }
            audit::Entity::update_many()
                .col_expr(audit::Column::Standard, Expr::value(String::new()))
                .col_expr(audit::Column::DisposedAt, Expr::value(Some(now)))
                .col_expr(audit::Column::Version, Expr::value(m.version + 1))
                .col_expr(audit::Column::UpdatedAt, Expr::value(now))
                .filter(audit::Column::Id.eq(id))
                .exec(&*tx)
                .await?;
            // The criterion's key is the criterion itself, lower-cased: it goes too. Keys
            // are unique per audit, so each finding gets its own, made of its id.
            let findings: Vec<Uuid> = audit_finding::Entity::find()
                .select_only()
                .column(audit_finding::Column::Id)
                .filter(audit_finding::Column::AuditId.eq(id))
                .into_tuple()
                .all(&*tx)
                .await?;
            let actions = dispose_action_text(
                &*tx,
                corrective_action::Column::AuditFindingId.is_in(findings.iter().copied()),
                now,
            )
            .await?;
            let files = att::dispose_of(
                &*tx,
                Condition::any()
                    .add(att::on_any(att::OwnerKind::AuditFinding, findings.clone()))
                    .add(att::on_actions(
                        corrective_action::Column::AuditFindingId.is_in(findings.iter().copied()),
                    )),
                now,
            )
            .await?;
            for f in findings {
                audit_finding::Entity::update_many()
                    .col_expr(audit_finding::Column::Criterion, Expr::value("Disposed"))
                    .col_expr(
                        audit_finding::Column::CriterionKey,
                        Expr::value(format!("disposed {f}")),
                    )
                    .filter(audit_finding::Column::Id.eq(f))
                    .exec(&*tx)
                    .await?;
            }
            diff.sensitive("standard", true)
                .sensitive("findings", true)
                .sensitive("attachments", files > 0)
                .sensitive("correctiveActions", actions > 0);
        }
        RecordType::ImprovementProject => {
            let Some(m) = improvement_project::Entity::find_by_id(id)
                .lock_exclusive()
                .one(&*tx)
                .await?
            else {
                return Ok(false);
            };
            if m.disposed_at.is_some() || project_until(r, &m).is_none_or(|u| u > now) {
                return Ok(false);
            }
            improvement_project::Entity::update_many()
                .col_expr(improvement_project::Column::Aim, Expr::value(String::new()))
                .col_expr(
                    improvement_project::Column::StatusReason,
                    Expr::value(Option::<String>::None),
                )
                .col_expr(
                    improvement_project::Column::DisposedAt,
                    Expr::value(Some(now)),
                )
                .col_expr(
                    improvement_project::Column::Version,
                    Expr::value(m.version + 1),
                )
                .col_expr(improvement_project::Column::UpdatedAt, Expr::value(now))
                .filter(improvement_project::Column::Id.eq(id))
                .exec(&*tx)
                .await?;
            // A cycle's title is free text like the rest of it (the trail records it as
            // changed, without its words): it goes too.
            pdsa_cycle::Entity::update_many()
                .col_expr(pdsa_cycle::Column::Title, Expr::value("Disposed"))
                .col_expr(
                    pdsa_cycle::Column::Plan,
                    Expr::value(Option::<String>::None),
                )
                .col_expr(pdsa_cycle::Column::Do, Expr::value(Option::<String>::None))
                .col_expr(
                    pdsa_cycle::Column::Study,
                    Expr::value(Option::<String>::None),
                )
                .col_expr(pdsa_cycle::Column::Act, Expr::value(Option::<String>::None))
                .filter(pdsa_cycle::Column::ProjectId.eq(id))
                .exec(&*tx)
                .await?;
            let actions = dispose_action_text(
                &*tx,
                corrective_action::Column::ImprovementProjectId.eq(id),
                now,
            )
            .await?;
            let files = att::dispose_of(
                &*tx,
                Condition::any()
                    .add(att::on(att::OwnerKind::ImprovementProject, id))
                    .add(att::on_actions(
                        corrective_action::Column::ImprovementProjectId.eq(id),
                    )),
                now,
            )
            .await?;
            diff.sensitive("aim", true)
                .sensitive("attachments", files > 0)
                .sensitive("pdsaCycles", true)
                .sensitive("correctiveActions", actions > 0);
        }
        RecordType::LearningResponse => {
            let Some(m) = learning_response::Entity::find_by_id(id)
                .lock_exclusive()
                .one(&*tx)
                .await?
            else {
                return Ok(false);
            };
            if m.disposed_at.is_some() || learning_response_until(r, &m).is_none_or(|u| u > now) {
                return Ok(false);
            }
            // The findings, the cancellation reason and the note on the agreed timeframe
            // are free text that may name a patient, their family or a colleague. The
            // tombstone keeps the kind, the department, the dates and the links.
            let none = || Expr::value(Option::<String>::None);
            learning_response::Entity::update_many()
                .col_expr(learning_response::Column::Findings, none())
                .col_expr(learning_response::Column::StatusReason, none())
                .col_expr(learning_response::Column::TimeframeAgreedWith, none())
                .col_expr(
                    learning_response::Column::DisposedAt,
                    Expr::value(Some(now)),
                )
                .col_expr(
                    learning_response::Column::Version,
                    Expr::value(m.version + 1),
                )
                .col_expr(learning_response::Column::UpdatedAt, Expr::value(now))
                .filter(learning_response::Column::Id.eq(id))
                .exec(&*tx)
                .await?;
            let actions = dispose_action_text(
                &*tx,
                corrective_action::Column::LearningResponseId.eq(id),
                now,
            )
            .await?;
            let files = att::dispose_of(
                &*tx,
                att::on_actions(corrective_action::Column::LearningResponseId.eq(id)),
                now,
            )
            .await?;
            diff.sensitive("findings", m.findings.is_some())
                .sensitive("attachments", files > 0)
                .sensitive("statusReason", m.status_reason.is_some())
                .sensitive("timeframeAgreedWith", m.timeframe_agreed_with.is_some())
                .sensitive("correctiveActions", actions > 0);
        }
    }
    trail::record_for(
        &*tx,
        request_id,
        actor,
        t.as_str(),
        id,
        &format!("{}.disposed", event_prefix(t)),
        diff,
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// How many of a disposed incident's linked records lost their words.
struct LinkedText {
    actions: u64,
    grants: u64,
    obligations: u64,
}

/// Removes the free text of the records linked to a disposed incident, keeping the rows:
/// the dashboard counts the actions, the IG officer's review counts the grants, and the
/// trail names them all. Their words (an action's description and notes, a break-glass
/// justification and its review, an obligation's withdrawal reason) may name a patient or a
/// colleague as the incident did. The regulator's reference on an obligation stays: it
/// names the report, not a person.
async fn dispose_linked_text<C: ConnectionTrait>(
    conn: &C,
    incident_id: Uuid,
    now: DateTime<Utc>,
) -> AppResult<LinkedText> {
    let none = || Expr::value(Option::<String>::None);
    let actions = dispose_action_text(
        conn,
        corrective_action::Column::IncidentId.eq(incident_id),
        now,
    )
    .await?;
    let grants = break_glass_grant::Entity::update_many()
        .col_expr(
            break_glass_grant::Column::Justification,
            Expr::value(String::new()),
        )
        .col_expr(break_glass_grant::Column::ReviewNote, none())
        .filter(break_glass_grant::Column::IncidentId.eq(incident_id))
        .exec(conn)
        .await?
        .rows_affected;
    let obligations = obligation::Entity::update_many()
        .col_expr(obligation::Column::WithdrawnReason, none())
        .col_expr(obligation::Column::UpdatedAt, Expr::value(now))
        .filter(obligation::Column::IncidentId.eq(incident_id))
        .filter(obligation::Column::WithdrawnReason.is_not_null())
        .exec(conn)
        .await?
        .rows_affected;
    Ok(LinkedText {
        actions,
        grants,
        obligations,
    })
}

/// Removes the words of the corrective actions matching `which` (raised from a disposed
/// record), keeping the rows: the dashboard counts them and the trail names them.
async fn dispose_action_text<C: ConnectionTrait>(
    conn: &C,
    which: sea_orm::sea_query::SimpleExpr,
    now: DateTime<Utc>,
) -> AppResult<u64> {
    use corrective_action::Column as A;
    let none = || Expr::value(Option::<String>::None);
    Ok(corrective_action::Entity::update_many()
        .col_expr(A::Title, Expr::value("Disposed record"))
        .col_expr(A::Description, none())
        .col_expr(A::Note, none())
        .col_expr(A::VerificationNote, none())
        .col_expr(A::CancellationReason, none())
        .col_expr(A::Version, Expr::col(A::Version).add(1))
        .col_expr(A::UpdatedAt, Expr::value(now))
        .filter(which)
        .exec(conn)
        .await?
        .rows_affected)
}

fn event_prefix(t: RecordType) -> &'static str {
    match t {
        RecordType::Incident => "incident",
        RecordType::Audit => "audit",
        RecordType::ImprovementProject => "improvement_project",
        RecordType::LearningResponse => "learning_response",
    }
}
