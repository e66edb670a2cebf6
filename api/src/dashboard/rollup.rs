//! The dashboard's rollups, kept in step with the records.
//!
//! **Incidents.** Every change to an incident's counted facts (department, reported day,
//! kind, harms, category, status, near miss, when it was triaged and closed) writes a
//! delta row in the change's own transaction: -1 with the facts as they were and +1 as
//! they are. Only inserts: a rollup row updated by every report would be one row that
//! every concurrent report waits on until it commits (today's count of one department and
//! kind, say), which is what limited reporting before. A compactor in each instance folds
//! the deltas into the rollup tables every second (one instance at a time: an advisory
//! lock on PostgreSQL, the write turn on SQLite), and the dashboard adds the deltas not
//! yet folded, read in the same snapshot, so its figures always equal a recount of the
//! committed records.
//!
//! **Corrective actions** change rarely, so their rollup rows are updated in the action's
//! own transaction.
//!
//! `rebuild` recounts everything from the records; `verify` recounts and compares.
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use sea_orm::sea_query::{Alias, Expr, OnConflict};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, EntityTrait,
    FromQueryResult, QueryFilter, QueryOrder, QuerySelect, Set, Statement,
};
use uuid::Uuid;

use super::period::Grain;
use super::sketch::{self, Sketch};
use crate::db::Db;
use crate::incident::model::HarmLevel;
use entities::{
    action_rollup, corrective_action, incident, incident_duration_rollup as duration,
    incident_rollup, incident_rollup_delta as delta, rollup_meta,
};

/// The department id of the whole trust's rows.
pub const TRUST: Uuid = Uuid::nil();

/// Arbitrary, fixed: the PostgreSQL advisory lock key held while folding or recounting.
const ROLLUP_LOCK: i64 = 0x0063_616e_726f_6c6c;

/// Deltas folded per transaction.
const BATCH: u64 = 5_000;

/// What the count rows count, besides the reported day's total.
pub mod dim {
    pub const ALL: i16 = 0;
    pub const KIND: i16 = 1;
    pub const PHYSICAL_HARM: i16 = 2;
    pub const PSYCHOLOGICAL_HARM: i16 = 3;
    pub const CATEGORY: i16 = 4;
    pub const STATUS: i16 = 5;
    pub const NEAR_MISS: i16 = 6;
    /// Counted on the day of closure, not of the report.
    pub const CLOSED: i16 = 7;
}

/// Which durations a sketch holds.
pub mod metric {
    /// From report to triage, on the day of triage.
    pub const TRIAGE: i16 = 1;
    /// From report to closure, on the day of closure.
    pub const CLOSE: i16 = 2;
}

/// The trust's local date of an instant.
pub fn local_day(t: DateTime<Utc>, tz: Tz) -> NaiveDate {
    t.with_timezone(&tz).date_naive()
}

/// An incident's facts as the rollups count them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentFacts {
    pub department_id: Uuid,
    pub reported_day: NaiveDate,
    pub kind: String,
    pub physical_harm: i16,
    pub psychological_harm: i16,
    pub category: Option<String>,
    pub status: String,
    pub near_miss: bool,
    /// The day of triage and the seconds from report to triage.
    pub triaged: Option<(NaiveDate, i64)>,
    /// The day of closure and the seconds from report to closure.
    pub closed: Option<(NaiveDate, i64)>,
}

/// The columns of an incident that the rollups need.
#[derive(Debug, Clone, FromQueryResult)]
pub struct FactsRow {
    pub id: Uuid,
    pub department_id: Uuid,
    pub reported_at: DateTime<Utc>,
    pub kind: String,
    pub physical_harm: i16,
    pub psychological_harm: i16,
    pub category: Option<String>,
    pub status: String,
    pub near_miss: bool,
    pub triaged_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
}

impl From<&incident::Model> for FactsRow {
    fn from(m: &incident::Model) -> Self {
        Self {
            id: m.id,
            department_id: m.department_id,
            reported_at: m.reported_at,
            kind: m.kind.clone(),
            physical_harm: m.physical_harm,
            psychological_harm: m.psychological_harm,
            category: m.category.clone(),
            status: m.status.clone(),
            near_miss: m.near_miss,
            triaged_at: m.triaged_at,
            closed_at: m.closed_at,
        }
    }
}

impl IncidentFacts {
    pub fn of(m: &FactsRow, tz: Tz) -> Self {
        let since_report = |t: DateTime<Utc>| (t - m.reported_at).num_seconds().max(0);
        Self {
            department_id: m.department_id,
            reported_day: local_day(m.reported_at, tz),
            kind: m.kind.clone(),
            physical_harm: m.physical_harm,
            psychological_harm: m.psychological_harm,
            category: m.category.clone(),
            status: m.status.clone(),
            near_miss: m.near_miss,
            triaged: m.triaged_at.map(|t| (local_day(t, tz), since_report(t))),
            closed: m.closed_at.map(|t| (local_day(t, tz), since_report(t))),
        }
    }

    fn of_delta(d: &delta::Model) -> (i64, Self) {
        let f = Self {
            department_id: d.department_id,
            reported_day: d.reported_day,
            kind: d.kind.clone(),
            physical_harm: d.physical_harm,
            psychological_harm: d.psychological_harm,
            category: d.category.clone(),
            status: d.status.clone(),
            near_miss: d.near_miss,
            triaged: d.triaged_day.zip(d.triage_seconds),
            closed: d.closed_day.zip(d.close_seconds),
        };
        (i64::from(d.sign), f)
    }

    fn delta(&self, sign: i16) -> delta::ActiveModel {
        delta::ActiveModel {
            sign: Set(sign),
            department_id: Set(self.department_id),
            reported_day: Set(self.reported_day),
            kind: Set(self.kind.clone()),
            physical_harm: Set(self.physical_harm),
            psychological_harm: Set(self.psychological_harm),
            category: Set(self.category.clone()),
            status: Set(self.status.clone()),
            near_miss: Set(self.near_miss),
            triaged_day: Set(self.triaged.map(|t| t.0)),
            triage_seconds: Set(self.triaged.map(|t| t.1)),
            closed_day: Set(self.closed.map(|t| t.0)),
            close_seconds: Set(self.closed.map(|t| t.1)),
            ..Default::default()
        }
    }

    /// The (dimension, value) pairs counted on the reported day.
    pub fn dimensions(&self) -> [(i16, String); 7] {
        [
            (dim::ALL, String::new()),
            (dim::KIND, self.kind.clone()),
            (
                dim::PHYSICAL_HARM,
                HarmLevel::from_rank(self.physical_harm).as_str().into(),
            ),
            (
                dim::PSYCHOLOGICAL_HARM,
                HarmLevel::from_rank(self.psychological_harm)
                    .as_str()
                    .into(),
            ),
            (dim::CATEGORY, self.category.clone().unwrap_or_default()),
            (dim::STATUS, self.status.clone()),
            (dim::NEAR_MISS, self.near_miss.to_string()),
        ]
    }
}

/// Writes the change of an incident's counted facts (if any) in the caller's transaction.
/// `before` is None for a new incident.
pub async fn incident_changed<C: ConnectionTrait>(
    conn: &C,
    tz: Tz,
    before: Option<&incident::Model>,
    after: &incident::Model,
) -> Result<(), DbErr> {
    if let Some(insert) = incident_delta(tz, before, after) {
        conn.execute(conn.get_database_backend().build(&insert))
            .await?;
    }
    Ok(())
}

/// The insert of the delta rows of a change to an incident's counted facts; None when
/// they did not change.
pub fn incident_delta(
    tz: Tz,
    before: Option<&incident::Model>,
    after: &incident::Model,
) -> Option<sea_orm::sea_query::InsertStatement> {
    use sea_orm::QueryTrait;
    let new = IncidentFacts::of(&FactsRow::from(after), tz);
    let old = before.map(|b| IncidentFacts::of(&FactsRow::from(b), tz));
    if old.as_ref() == Some(&new) {
        return None;
    }
    let mut rows = Vec::with_capacity(2);
    if let Some(o) = &old {
        rows.push(o.delta(-1));
    }
    rows.push(new.delta(1));
    Some(delta::Entity::insert_many(rows).into_query())
}

/// A count row's key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CountKey {
    pub department_id: Uuid,
    pub grain: Grain,
    pub dimension: i16,
    pub bucket: NaiveDate,
    pub value: String,
}

/// A sketch row's key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DurationKey {
    pub department_id: Uuid,
    pub grain: Grain,
    pub metric: i16,
    pub bucket: NaiveDate,
}

/// What a set of incidents contributes to every rollup row.
#[derive(Debug, Default, PartialEq)]
pub struct Tally {
    pub counts: HashMap<CountKey, i64>,
    pub durations: HashMap<DurationKey, Sketch>,
}

impl Tally {
    /// Adds (sign 1) or takes away (sign -1) one incident.
    pub fn add(&mut self, f: &IncidentFacts, sign: i64) {
        for department_id in [f.department_id, TRUST] {
            for grain in Grain::ALL {
                let bucket = grain.start(f.reported_day);
                for (dimension, value) in f.dimensions() {
                    self.count(department_id, grain, dimension, bucket, value, sign);
                }
                if let Some((day, secs)) = f.closed {
                    let bucket = grain.start(day);
                    self.count(
                        department_id,
                        grain,
                        dim::CLOSED,
                        bucket,
                        String::new(),
                        sign,
                    );
                    self.duration(department_id, grain, metric::CLOSE, bucket, secs, sign);
                }
                if let Some((day, secs)) = f.triaged {
                    let bucket = grain.start(day);
                    self.duration(department_id, grain, metric::TRIAGE, bucket, secs, sign);
                }
            }
        }
    }

    fn count(
        &mut self,
        department_id: Uuid,
        grain: Grain,
        dimension: i16,
        bucket: NaiveDate,
        value: String,
        n: i64,
    ) {
        *self
            .counts
            .entry(CountKey {
                department_id,
                grain,
                dimension,
                bucket,
                value,
            })
            .or_insert(0) += n;
    }

    fn duration(
        &mut self,
        department_id: Uuid,
        grain: Grain,
        metric: i16,
        bucket: NaiveDate,
        secs: i64,
        n: i64,
    ) {
        self.durations
            .entry(DurationKey {
                department_id,
                grain,
                metric,
                bucket,
            })
            .or_default()
            .add(sketch::bin(secs), n);
    }

    /// Drops rows that sum to nothing, so that two tallies of the same incidents compare
    /// equal however they were reached.
    fn settle(&mut self) {
        self.counts.retain(|_, n| *n != 0);
        self.durations.retain(|_, s| !s.is_empty());
    }
}

/// Rows per INSERT at most (see `db::shaped_chunks`), well within both databases' limits
/// on bound values.
const INSERT_ROWS: usize = 512;

/// Takes this instance's turn at the rollups: the write turn on SQLite (taken with the
/// transaction), an advisory lock on PostgreSQL. `wait`: block until free, else give up.
async fn lock(tx: &DatabaseTransaction, wait: bool) -> Result<bool, DbErr> {
    if tx.get_database_backend() != DbBackend::Postgres {
        return Ok(true);
    }
    if wait {
        tx.execute(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_advisory_xact_lock($1)",
            [ROLLUP_LOCK.into()],
        ))
        .await?;
        return Ok(true);
    }
    let row = tx
        .query_one(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_try_advisory_xact_lock($1) AS locked",
            [ROLLUP_LOCK.into()],
        ))
        .await?;
    match row {
        Some(r) => r.try_get("", "locked"),
        None => Ok(false),
    }
}

/// Folds the deltas waiting now into the rollups; returns how many it folded.
pub async fn compact_pending(db: &Db) -> Result<u64, DbErr> {
    let mut total = 0;
    loop {
        let n = compact_batch(db).await?;
        total += n;
        if n < BATCH {
            return Ok(total);
        }
    }
}

async fn compact_batch(db: &Db) -> Result<u64, DbErr> {
    // A plain read first: most runs find nothing, and need not take a write turn.
    let any = delta::Entity::find()
        .select_only()
        .column(delta::Column::Id)
        .limit(1)
        .into_tuple::<i64>()
        .one(&db.conn)
        .await?;
    if any.is_none() {
        return Ok(0);
    }
    let tx = db.begin_write().await?;
    if !lock(&tx, false).await? {
        return Ok(0);
    }
    // Exactly the rows removed are the rows folded, whatever commits meanwhile.
    let backend = tx.get_database_backend();
    // Named columns, not `*`: see the outbox's lease in notify/dispatch.rs.
    let columns = <delta::Column as sea_orm::Iterable>::iter()
        .map(|c| format!("\"{}\"", sea_orm::IdenStatic::as_str(&c)))
        .collect::<Vec<_>>()
        .join(", ");
    let limit = if backend == DbBackend::Postgres {
        "$1"
    } else {
        "?"
    };
    let sql = format!(
        "DELETE FROM incident_rollup_delta WHERE id IN \
         (SELECT id FROM incident_rollup_delta ORDER BY id LIMIT {limit}) RETURNING {columns}"
    );
    let taken = delta::Entity::find()
        .from_raw_sql(Statement::from_sql_and_values(
            backend,
            sql,
            [(BATCH as i64).into()],
        ))
        .all(&*tx)
        .await?;
    let mut tally = Tally::default();
    for d in &taken {
        let (sign, f) = IncidentFacts::of_delta(d);
        tally.add(&f, sign);
    }
    tally.settle();
    add_counts(&*tx, &tally.counts).await?;
    add_durations(&tx, &tally.durations).await?;
    raise_generation(&*tx).await?;
    tx.commit_quiet().await?;
    Ok(taken.len() as u64)
}

/// Raises the rollups' generation, in the transaction that changes them: instances that
/// hold rollup rows read before know to read them again.
async fn raise_generation<C: ConnectionTrait>(conn: &C) -> Result<(), DbErr> {
    rollup_meta::Entity::update_many()
        .col_expr(
            rollup_meta::Column::Generation,
            Expr::col(rollup_meta::Column::Generation).add(1),
        )
        .filter(rollup_meta::Column::Id.eq(1))
        .exec(conn)
        .await?;
    Ok(())
}

/// Adds `counts` to the count rows (inserting the missing ones), in key order.
async fn add_counts<C: ConnectionTrait>(
    conn: &C,
    counts: &HashMap<CountKey, i64>,
) -> Result<(), DbErr> {
    let mut rows: Vec<(&CountKey, &i64)> = counts.iter().collect();
    rows.sort();
    for chunk in crate::db::shaped_chunks(&rows, INSERT_ROWS) {
        let models = chunk.iter().map(|(k, n)| incident_rollup::ActiveModel {
            department_id: Set(k.department_id),
            grain: Set(k.grain.code()),
            dimension: Set(k.dimension),
            bucket: Set(k.bucket),
            value: Set(k.value.clone()),
            n: Set(**n),
        });
        incident_rollup::Entity::insert_many(models)
            .on_conflict(
                OnConflict::columns([
                    incident_rollup::Column::DepartmentId,
                    incident_rollup::Column::Grain,
                    incident_rollup::Column::Dimension,
                    incident_rollup::Column::Bucket,
                    incident_rollup::Column::Value,
                ])
                .value(
                    incident_rollup::Column::N,
                    Expr::col((incident_rollup::Entity, incident_rollup::Column::N)).add(
                        Expr::col((Alias::new("excluded"), incident_rollup::Column::N)),
                    ),
                )
                .to_owned(),
            )
            .exec_without_returning(conn)
            .await?;
    }
    Ok(())
}

/// Merges `changes` into the stored sketches (a sketch left empty is removed).
async fn add_durations(
    tx: &DatabaseTransaction,
    changes: &HashMap<DurationKey, Sketch>,
) -> Result<(), DbErr> {
    // One read per (department, grain, metric) for the buckets touched.
    let mut groups: BTreeMap<(Uuid, Grain, i16), Vec<NaiveDate>> = BTreeMap::new();
    for k in changes.keys() {
        groups
            .entry((k.department_id, k.grain, k.metric))
            .or_default()
            .push(k.bucket);
    }
    let mut merged: BTreeMap<DurationKey, Sketch> = BTreeMap::new();
    for ((department_id, grain, metric), buckets) in groups {
        let stored = duration::Entity::find()
            .filter(duration::Column::DepartmentId.eq(department_id))
            .filter(duration::Column::Grain.eq(grain.code()))
            .filter(duration::Column::Metric.eq(metric))
            .filter(duration::Column::Bucket.is_in(buckets.iter().copied()))
            .lock_exclusive()
            .all(tx)
            .await?;
        let stored: HashMap<NaiveDate, Sketch> = stored
            .into_iter()
            .map(|r| (r.bucket, Sketch::from_text(&r.sketch)))
            .collect();
        for bucket in buckets {
            let key = DurationKey {
                department_id,
                grain,
                metric,
                bucket,
            };
            let mut s = stored.get(&bucket).cloned().unwrap_or_default();
            s.merge(&changes[&key]);
            merged.insert(key, s);
        }
    }
    let (empty, full): (Vec<_>, Vec<_>) = merged.into_iter().partition(|(_, s)| s.is_empty());
    for (k, _) in empty {
        duration::Entity::delete_many()
            .filter(duration::Column::DepartmentId.eq(k.department_id))
            .filter(duration::Column::Grain.eq(k.grain.code()))
            .filter(duration::Column::Metric.eq(k.metric))
            .filter(duration::Column::Bucket.eq(k.bucket))
            .exec(tx)
            .await?;
    }
    for chunk in crate::db::shaped_chunks(&full, INSERT_ROWS) {
        let models = chunk.iter().map(|(k, s)| duration::ActiveModel {
            department_id: Set(k.department_id),
            grain: Set(k.grain.code()),
            metric: Set(k.metric),
            bucket: Set(k.bucket),
            sketch: Set(s.to_text()),
        });
        duration::Entity::insert_many(models)
            .on_conflict(
                OnConflict::columns([
                    duration::Column::DepartmentId,
                    duration::Column::Grain,
                    duration::Column::Metric,
                    duration::Column::Bucket,
                ])
                .update_column(duration::Column::Sketch)
                .to_owned(),
            )
            .exec_without_returning(tx)
            .await?;
    }
    Ok(())
}

/// Folds deltas every second until the instance stops.
pub fn spawn_compactor(
    db: Db,
    stop: tokio_util::sync::CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
            match compact_pending(&db).await {
                Ok(0) => {}
                Ok(_) if db.backend() == DbBackend::Postgres => {
                    // Every dashboard read scans the waiting deltas, and on PostgreSQL the
                    // rows just folded stay in the table's pages until a vacuum: after a
                    // minute of reports (autovacuum's pace) a read of an empty table walked
                    // hundreds of dead pages, a millisecond of PostgreSQL's time each. A
                    // vacuum of this small table after each fold keeps it a few pages.
                    if let Err(e) = db
                        .conn
                        .execute_unprepared("VACUUM (SKIP_LOCKED) incident_rollup_delta")
                        .await
                    {
                        tracing::warn!(error = %crate::error::db_error_kind(&e), "vacuuming the folded deltas failed");
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %crate::error::db_error_kind(&e), "folding dashboard rollups failed; will retry");
                }
            }
        }
    })
}

// ---- Corrective actions ----

/// The due date stored for actions that are no longer open.
fn no_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default()
}

/// Flag: completed on or before its due date (trust's local date).
pub const ON_TIME: i16 = 1;
/// Flag: verified, and found effective.
pub const EFFECTIVE: i16 = 2;

/// An action's rollup row.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ActionKey {
    pub department_id: Uuid,
    pub owner_email: String,
    pub status: String,
    pub due_date: NaiveDate,
    pub flags: i16,
}

/// The columns of an action that its rollup row needs.
#[derive(Debug, Clone, FromQueryResult)]
pub struct ActionRow {
    pub department_id: Uuid,
    pub owner_email: String,
    pub status: String,
    pub due_date: NaiveDate,
    pub completed_at: Option<DateTime<Utc>>,
    pub effective: Option<bool>,
}

impl From<&corrective_action::Model> for ActionRow {
    fn from(m: &corrective_action::Model) -> Self {
        Self {
            department_id: m.department_id,
            owner_email: m.owner_email.clone(),
            status: m.status.clone(),
            due_date: m.due_date,
            completed_at: m.completed_at,
            effective: m.effective,
        }
    }
}

pub fn is_open(status: &str) -> bool {
    matches!(status, "OPEN" | "IN_PROGRESS")
}

pub fn is_done(status: &str) -> bool {
    matches!(status, "COMPLETED" | "VERIFIED")
}

impl ActionKey {
    pub fn of(a: &ActionRow, tz: Tz) -> Self {
        let (due_date, flags) = if is_open(&a.status) {
            (a.due_date, 0)
        } else if is_done(&a.status) {
            let on_time = a
                .completed_at
                .is_some_and(|t| local_day(t, tz) <= a.due_date);
            let effective = a.status == "VERIFIED" && a.effective == Some(true);
            (
                no_date(),
                if on_time { ON_TIME } else { 0 } | if effective { EFFECTIVE } else { 0 },
            )
        } else {
            (no_date(), 0)
        };
        Self {
            department_id: a.department_id,
            owner_email: a.owner_email.clone(),
            status: a.status.clone(),
            due_date,
            flags,
        }
    }
}

/// Moves an action's count from the row it was counted in to the row it belongs in now, in
/// the caller's transaction. `before` is None for a new action.
pub async fn action_changed<C: ConnectionTrait>(
    conn: &C,
    tz: Tz,
    before: Option<&corrective_action::Model>,
    after: &corrective_action::Model,
) -> Result<(), DbErr> {
    let new = ActionKey::of(&ActionRow::from(after), tz);
    let old = before.map(|b| ActionKey::of(&ActionRow::from(b), tz));
    if old.as_ref() == Some(&new) {
        return Ok(());
    }
    let mut changes = HashMap::new();
    if let Some(o) = old {
        changes.insert(o, -1);
    }
    changes.insert(new, 1);
    add_action_counts(conn, &changes).await
}

/// Adds `counts` to the action rows, in key order (two transactions moving actions between
/// the same two rows lock them in the same order, so they cannot deadlock).
async fn add_action_counts<C: ConnectionTrait>(
    conn: &C,
    counts: &HashMap<ActionKey, i64>,
) -> Result<(), DbErr> {
    let mut rows: Vec<(&ActionKey, &i64)> = counts.iter().filter(|(_, n)| **n != 0).collect();
    rows.sort();
    for chunk in crate::db::shaped_chunks(&rows, INSERT_ROWS) {
        let models = chunk.iter().map(|(k, n)| action_rollup::ActiveModel {
            department_id: Set(k.department_id),
            owner_email: Set(k.owner_email.clone()),
            status: Set(k.status.clone()),
            due_date: Set(k.due_date),
            flags: Set(k.flags),
            n: Set(**n),
        });
        action_rollup::Entity::insert_many(models)
            .on_conflict(
                OnConflict::columns([
                    action_rollup::Column::DepartmentId,
                    action_rollup::Column::OwnerEmail,
                    action_rollup::Column::Status,
                    action_rollup::Column::DueDate,
                    action_rollup::Column::Flags,
                ])
                .value(
                    action_rollup::Column::N,
                    Expr::col((action_rollup::Entity, action_rollup::Column::N)).add(Expr::col((
                        Alias::new("excluded"),
                        action_rollup::Column::N,
                    ))),
                )
                .to_owned(),
            )
            .exec_without_returning(conn)
            .await?;
    }
    Ok(())
}

// ---- Recounting ----

/// Counts every incident and action from the records.
async fn recount<C: ConnectionTrait>(
    conn: &C,
    tz: Tz,
) -> Result<(Tally, HashMap<ActionKey, i64>), DbErr> {
    let mut tally = Tally::default();
    let mut after: Option<Uuid> = None;
    loop {
        let mut q = incident::Entity::find()
            .select_only()
            .columns([
                incident::Column::Id,
                incident::Column::DepartmentId,
                incident::Column::ReportedAt,
                incident::Column::Kind,
                incident::Column::PhysicalHarm,
                incident::Column::PsychologicalHarm,
                incident::Column::Category,
                incident::Column::Status,
                incident::Column::NearMiss,
                incident::Column::TriagedAt,
                incident::Column::ClosedAt,
            ])
            .order_by_asc(incident::Column::Id)
            .limit(20_000);
        if let Some(a) = after {
            q = q.filter(incident::Column::Id.gt(a));
        }
        let rows = q.into_model::<FactsRow>().all(conn).await?;
        let Some(last) = rows.last() else { break };
        after = Some(last.id);
        for r in &rows {
            tally.add(&IncidentFacts::of(r, tz), 1);
        }
    }
    tally.settle();
    let mut actions: HashMap<ActionKey, i64> = HashMap::new();
    let rows = corrective_action::Entity::find()
        .select_only()
        .columns([
            corrective_action::Column::DepartmentId,
            corrective_action::Column::OwnerEmail,
            corrective_action::Column::Status,
            corrective_action::Column::DueDate,
            corrective_action::Column::CompletedAt,
            corrective_action::Column::Effective,
        ])
        .into_model::<ActionRow>()
        .all(conn)
        .await?;
    for r in &rows {
        *actions.entry(ActionKey::of(r, tz)).or_insert(0) += 1;
    }
    Ok((tally, actions))
}

/// What a recount found.
#[derive(Debug, Default)]
pub struct Recount {
    pub count_rows: u64,
    pub duration_rows: u64,
    pub action_rows: u64,
    pub seconds: f64,
}

/// Recounts every rollup from the records, replacing what was there, and notes the time
/// zone it counted in.
pub async fn rebuild(db: &Db, tz: Tz, tz_name: &str) -> Result<Recount, DbErr> {
    recount_into(db, tz, tz_name, false)
        .await
        .map(|r| r.unwrap_or_default())
}

/// Recounts at start when the rollups were never counted on this database, or were
/// counted in another time zone (a day is the trust's local day).
pub async fn ensure_counted(db: &Db, tz: Tz, tz_name: &str) -> Result<Option<Recount>, DbErr> {
    let meta = rollup_meta::Entity::find_by_id(1).one(&db.conn).await?;
    if meta.is_some_and(|m| m.timezone == tz_name) {
        return Ok(None);
    }
    recount_into(db, tz, tz_name, true).await
}

/// The recount, in one transaction under the rollup lock. `if_needed`: only when the
/// rollups were never counted, or in another zone (another instance starting at the same
/// moment may have just done it).
async fn recount_into(
    db: &Db,
    tz: Tz,
    tz_name: &str,
    if_needed: bool,
) -> Result<Option<Recount>, DbErr> {
    let started = std::time::Instant::now();
    let tx = db.begin_write().await?;
    lock(&tx, true).await?;
    if if_needed {
        let meta = rollup_meta::Entity::find_by_id(1).one(&*tx).await?;
        if meta.is_some_and(|m| m.timezone == tz_name) {
            return Ok(None);
        }
    }
    if tx.get_database_backend() == DbBackend::Postgres {
        // Changes to incidents and actions wait until the recount commits, so that none is
        // both in the recount and added again after it (SQLite: this write turn does it).
        tx.execute_unprepared("LOCK TABLE incident_rollup_delta, action_rollup IN EXCLUSIVE MODE")
            .await?;
    }
    for table in [
        "incident_rollup_delta",
        "incident_rollup",
        "incident_duration_rollup",
        "action_rollup",
    ] {
        tx.execute_unprepared(&format!("DELETE FROM {table}"))
            .await?;
    }
    let (tally, actions) = recount(&*tx, tz).await?;
    add_counts(&*tx, &tally.counts).await?;
    let mut durations: Vec<(&DurationKey, &Sketch)> = tally.durations.iter().collect();
    durations.sort_by_key(|(k, _)| **k);
    for chunk in crate::db::shaped_chunks(&durations, INSERT_ROWS) {
        duration::Entity::insert_many(chunk.iter().map(|(k, s)| duration::ActiveModel {
            department_id: Set(k.department_id),
            grain: Set(k.grain.code()),
            metric: Set(k.metric),
            bucket: Set(k.bucket),
            sketch: Set(s.to_text()),
        }))
        .exec_without_returning(&*tx)
        .await?;
    }
    add_action_counts(&*tx, &actions).await?;
    rollup_meta::Entity::insert(rollup_meta::ActiveModel {
        id: Set(1),
        timezone: Set(tz_name.to_string()),
        built_at: Set(crate::record::now()),
        generation: Set(0),
    })
    .on_conflict(
        OnConflict::column(rollup_meta::Column::Id)
            .update_columns([rollup_meta::Column::Timezone, rollup_meta::Column::BuiltAt])
            .to_owned(),
    )
    .exec_without_returning(&*tx)
    .await?;
    raise_generation(&*tx).await?;
    tx.commit_quiet().await?;
    Ok(Some(Recount {
        count_rows: tally.counts.len() as u64,
        duration_rows: tally.durations.len() as u64,
        action_rows: actions.len() as u64,
        seconds: started.elapsed().as_secs_f64(),
    }))
}

/// Where the stored rollups differ from a recount of the records.
#[derive(Debug, Default)]
pub struct Verification {
    pub incidents: u64,
    pub mismatches: Vec<String>,
}

/// Recounts from the records and compares with the stored rollups plus the deltas not yet
/// folded, in one snapshot. Reads everything; changes nothing.
pub async fn verify(db: &Db, tz: Tz) -> Result<Verification, DbErr> {
    let tx = db.read_snapshot().await?;
    let (expected, expected_actions) = recount(&tx, tz).await?;
    let mut stored = Tally::default();
    for r in incident_rollup::Entity::find().all(&tx).await? {
        if let Some(grain) = Grain::from_code(r.grain) {
            *stored
                .counts
                .entry(CountKey {
                    department_id: r.department_id,
                    grain,
                    dimension: r.dimension,
                    bucket: r.bucket,
                    value: r.value,
                })
                .or_insert(0) += r.n;
        }
    }
    for r in duration::Entity::find().all(&tx).await? {
        if let Some(grain) = Grain::from_code(r.grain) {
            stored
                .durations
                .entry(DurationKey {
                    department_id: r.department_id,
                    grain,
                    metric: r.metric,
                    bucket: r.bucket,
                })
                .or_default()
                .merge(&Sketch::from_text(&r.sketch));
        }
    }
    for d in delta::Entity::find().all(&tx).await? {
        let (sign, f) = IncidentFacts::of_delta(&d);
        stored.add(&f, sign);
    }
    stored.settle();
    let mut stored_actions: HashMap<ActionKey, i64> = HashMap::new();
    for r in action_rollup::Entity::find().all(&tx).await? {
        *stored_actions
            .entry(ActionKey {
                department_id: r.department_id,
                owner_email: r.owner_email,
                status: r.status,
                due_date: r.due_date,
                flags: r.flags,
            })
            .or_insert(0) += r.n;
    }
    stored_actions.retain(|_, n| *n != 0);
    let incidents = expected
        .counts
        .iter()
        .filter(|(k, _)| {
            k.department_id == TRUST && k.grain == Grain::Year && k.dimension == dim::ALL
        })
        .map(|(_, n)| *n)
        .sum::<i64>() as u64;
    tx.rollback().await?;

    let mut out = Verification {
        incidents,
        mismatches: Vec::new(),
    };
    let mut keys: Vec<&CountKey> = expected.counts.keys().chain(stored.counts.keys()).collect();
    keys.sort();
    keys.dedup();
    for k in keys {
        let (want, got) = (
            expected.counts.get(k).copied().unwrap_or(0),
            stored.counts.get(k).copied().unwrap_or(0),
        );
        if want != got {
            out.mismatches
                .push(format!("count {k:?}: stored {got}, recounted {want}"));
        }
    }
    let mut keys: Vec<&DurationKey> = expected
        .durations
        .keys()
        .chain(stored.durations.keys())
        .collect();
    keys.sort();
    keys.dedup();
    for k in keys {
        if expected.durations.get(k) != stored.durations.get(k) {
            out.mismatches.push(format!(
                "durations {k:?}: stored {} incidents, recounted {}",
                stored.durations.get(k).map_or(0, Sketch::count),
                expected.durations.get(k).map_or(0, Sketch::count)
            ));
        }
    }
    let mut keys: Vec<&ActionKey> = expected_actions
        .keys()
        .chain(stored_actions.keys())
        .collect();
    keys.sort();
    keys.dedup();
    for k in keys {
        let (want, got) = (
            expected_actions.get(k).copied().unwrap_or(0),
            stored_actions.get(k).copied().unwrap_or(0),
        );
        if want != got {
            out.mismatches.push(format!(
                "actions of {} in {} ({}): stored {got}, recounted {want}",
                k.department_id, k.status, k.due_date
            ));
        }
    }
    Ok(out)
}

// ---- Reading ----

/// The delta columns, in the order the reads below select them.
const DELTA_COLUMNS: [&str; 12] = [
    "sign",
    "reported_day",
    "kind",
    "physical_harm",
    "psychological_harm",
    "category",
    "status",
    "near_miss",
    "triaged_day",
    "triage_seconds",
    "closed_day",
    "close_seconds",
];

/// The rollups' generation and when they were last recounted. Every transaction that
/// changes a rollup row raises the generation, so rows read under one stamp are the rows
/// of any later snapshot with the same stamp.
type Stamp = (i64, DateTime<Utc>);

/// Rollup rows read before, as the figures use them.
#[derive(Clone)]
enum Folded {
    Counts(Arc<Vec<CountRow>>),
    Sketch(Arc<Sketch>),
}

/// The rollup rows this instance has read, by the statement that read them, with the
/// stamp they were read under. A dashboard read checks the stamp and reads the deltas not
/// yet folded in one small statement; only when a fold or a recount (in any instance) has
/// changed the stamp does it read the rollup rows again. Figures stay exact: the rows kept
/// are those of the stamp, and the deltas are read afresh every time.
#[derive(Default)]
pub struct ReadCache {
    entries: std::sync::Mutex<HashMap<String, (Stamp, Folded)>>,
}

/// At most this many reads are kept (a few hundred rows each); one more empties the cache
/// (the periods asked for move on with the days anyway).
const CACHE_ENTRIES: usize = 512;

impl ReadCache {
    fn get(&self, key: &str) -> Option<(Stamp, Folded)> {
        self.entries.lock().ok()?.get(key).cloned()
    }

    fn put(&self, key: String, stamp: Stamp, folded: Folded) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= CACHE_ENTRIES && !entries.contains_key(&key) {
                entries.clear();
            }
            entries.insert(key, (stamp, folded));
        }
    }
}

/// The stamp, as two columns of any SELECT (uncorrelated: computed once per statement).
fn stamp_columns(q: &mut sea_orm::sea_query::SelectStatement) {
    q.expr_as(
        Expr::cust("(SELECT generation FROM rollup_meta WHERE id = 1)"),
        Alias::new("generation"),
    )
    .expr_as(
        Expr::cust("(SELECT built_at FROM rollup_meta WHERE id = 1)"),
        Alias::new("built_at"),
    );
}

fn delta_at(
    r: &sea_orm::QueryResult,
    d: usize,
    department_id: Uuid,
) -> Result<(i64, IncidentFacts), DbErr> {
    let m = delta::Model {
        id: 0,
        sign: r.try_get_by_index(d)?,
        department_id,
        reported_day: r.try_get_by_index(d + 1)?,
        kind: r.try_get_by_index(d + 2)?,
        physical_harm: r.try_get_by_index(d + 3)?,
        psychological_harm: r.try_get_by_index(d + 4)?,
        category: r.try_get_by_index(d + 5)?,
        status: r.try_get_by_index(d + 6)?,
        near_miss: r.try_get_by_index(d + 7)?,
        triaged_day: r.try_get_by_index(d + 8)?,
        triage_seconds: r.try_get_by_index(d + 9)?,
        closed_day: r.try_get_by_index(d + 10)?,
        close_seconds: r.try_get_by_index(d + 11)?,
    };
    Ok(IncidentFacts::of_delta(&m))
}

/// Which deltas count: those of these departments (all when None).
fn pending_condition(departments: Option<&[Uuid]>, column: Expr) -> sea_orm::Condition {
    match departments {
        Some(d) => sea_orm::Condition::all().add(column.is_in(d.iter().copied())),
        None => sea_orm::Condition::all(),
    }
}

/// The stamp now and the deltas not yet folded, in one statement (one snapshot): the
/// read of a dashboard figure whose rollup rows this instance already holds.
async fn stamp_and_pending<C: ConnectionTrait>(
    conn: &C,
    departments: Option<&[Uuid]>,
) -> Result<Option<(Stamp, Vec<(i64, IncidentFacts)>)>, DbErr> {
    use sea_orm::sea_query::{JoinType, SelectStatement};
    let (m, d) = (Alias::new("m"), Alias::new("d"));
    let mut q = SelectStatement::new();
    q.column((m.clone(), Alias::new("generation")))
        .column((m.clone(), Alias::new("built_at")))
        .column((d.clone(), Alias::new("department_id")));
    for c in DELTA_COLUMNS {
        q.column((d.clone(), Alias::new(c)));
    }
    // Left join: the one meta row, with every delta pending (or none).
    let on = pending_condition(
        departments,
        Expr::col((d.clone(), Alias::new("department_id"))),
    )
    .add(Expr::cust("1 = 1"));
    q.from_as(Alias::new("rollup_meta"), m.clone())
        .join_as(
            JoinType::LeftJoin,
            Alias::new("incident_rollup_delta"),
            d,
            on,
        )
        .and_where(Expr::col((m, Alias::new("id"))).eq(1));
    let rows = conn
        .query_all(conn.get_database_backend().build(&q))
        .await?;
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let stamp: Stamp = (first.try_get_by_index(0)?, first.try_get_by_index(1)?);
    let mut pending = Vec::new();
    for r in &rows {
        let department: Option<Uuid> = r.try_get_by_index(2)?;
        if let Some(department) = department {
            pending.push(delta_at(r, 3, department)?);
        }
    }
    Ok(Some((stamp, pending)))
}

/// The rollup rows of `table` matching `cond` over these runs of buckets, as `fold` makes
/// them into figures, and the deltas not yet folded (of these departments; all when None),
/// as of one snapshot. `columns`: the rollup columns `fold` reads, by position after
/// `src` and `department_id`.
#[allow(clippy::too_many_arguments)]
async fn read<C: ConnectionTrait>(
    conn: &C,
    cache: &ReadCache,
    table: &str,
    columns: &[&str],
    cond: sea_orm::Condition,
    runs: &[super::period::Run],
    departments: Option<&[Uuid]>,
    fold: impl FnOnce(&[sea_orm::QueryResult]) -> Result<Folded, DbErr>,
) -> Result<(Folded, Vec<(i64, IncidentFacts)>), DbErr> {
    use sea_orm::sea_query::{SelectStatement, UnionType};
    let null = || Expr::cust("NULL");
    // One SELECT per run of buckets: each is a range of the primary key (department,
    // grain, dimension, bucket), which SQLite's planner seeks only when the grain and the
    // bucket range are not inside an OR.
    let part = |r: &super::period::Run| {
        let mut rollup = SelectStatement::new();
        rollup
            .expr_as(Expr::cust("0"), Alias::new("src"))
            .column(Alias::new("department_id"))
            .from(Alias::new(table))
            .cond_where(cond.clone())
            .and_where(Expr::col(Alias::new("grain")).eq(r.grain.code()))
            .and_where(Expr::col(Alias::new("bucket")).between(r.first, r.last));
        for c in columns {
            rollup.column(Alias::new(*c));
        }
        for c in DELTA_COLUMNS {
            rollup.expr_as(null(), Alias::new(c));
        }
        stamp_columns(&mut rollup);
        rollup
    };
    // The deltas' SELECT goes first: it fixes every column's type. PostgreSQL types a
    // union pair by pair from the left, and two rollup parts in a row would make their
    // untyped NULLs text, which no delta column then matches.
    let mut pending = SelectStatement::new();
    pending
        .expr_as(Expr::cust("1"), Alias::new("src"))
        .column(Alias::new("department_id"))
        .from(Alias::new("incident_rollup_delta"))
        .cond_where(pending_condition(
            departments,
            Expr::col(Alias::new("department_id")),
        ));
    for c in columns {
        pending.expr_as(null(), Alias::new(*c));
    }
    for c in DELTA_COLUMNS {
        pending.column(Alias::new(c));
    }
    stamp_columns(&mut pending);
    for r in runs {
        pending.union(UnionType::All, part(r));
    }
    let stmt = conn.get_database_backend().build(&pending);
    // The statement names the rows exactly: it is their key.
    let key = format!("{}\n{:?}", stmt.sql, stmt.values);
    if let Some((stamp, folded)) = cache.get(&key) {
        if let Some((now, deltas)) = stamp_and_pending(conn, departments).await? {
            if now == stamp {
                return Ok((folded, deltas));
            }
        }
    }
    let rows = conn.query_all(stmt).await?;
    // Columns by position (src, department_id, the rollup's, the delta's, the stamp's),
    // not by name: a five-year read is hundreds of rows, and each name is a hash look-up.
    let d = 2 + columns.len();
    let mut found = Vec::with_capacity(rows.len());
    let mut deltas = Vec::new();
    let mut stamp: Option<Stamp> = None;
    for r in rows {
        if stamp.is_none() {
            let generation: Option<i64> = r.try_get_by_index(d + DELTA_COLUMNS.len())?;
            let built: Option<DateTime<Utc>> = r.try_get_by_index(d + DELTA_COLUMNS.len() + 1)?;
            stamp = generation.zip(built);
        }
        let src: i32 = r.try_get_by_index(0)?;
        if src == 0 {
            found.push(r);
        } else {
            let department_id = r.try_get_by_index(1)?;
            deltas.push(delta_at(&r, d, department_id)?);
        }
    }
    let folded = fold(&found)?;
    if let Some(stamp) = stamp {
        cache.put(key, stamp, folded.clone());
    }
    Ok((folded, deltas))
}

/// A count row as read.
#[derive(Debug, Clone)]
pub struct CountRow {
    pub department_id: Uuid,
    pub grain: i16,
    pub dimension: i16,
    pub bucket: NaiveDate,
    pub value: String,
    pub n: i64,
}

/// The count rows of these departments' rows (`rows`), dimensions and runs, and the deltas
/// of the departments `pending_of` (all when None) not yet folded: one snapshot.
pub async fn counts<C: ConnectionTrait>(
    conn: &C,
    cache: &ReadCache,
    rows: &[Uuid],
    dimensions: &[i16],
    runs: &[super::period::Run],
    pending_of: Option<&[Uuid]>,
) -> Result<(Arc<Vec<CountRow>>, Vec<(i64, IncidentFacts)>), DbErr> {
    let cond = sea_orm::Condition::all()
        .add(Expr::col(Alias::new("department_id")).is_in(rows.iter().copied()))
        .add(Expr::col(Alias::new("dimension")).is_in(dimensions.iter().copied()));
    let (folded, pending) = read(
        conn,
        cache,
        "incident_rollup",
        &["grain", "dimension", "bucket", "value", "n"],
        cond,
        runs,
        pending_of,
        |found| {
            let rows = found
                .iter()
                .map(|r| {
                    Ok(CountRow {
                        department_id: r.try_get_by_index(1)?,
                        grain: r.try_get_by_index(2)?,
                        dimension: r.try_get_by_index(3)?,
                        bucket: r.try_get_by_index(4)?,
                        value: r.try_get_by_index(5)?,
                        n: r.try_get_by_index(6)?,
                    })
                })
                .collect::<Result<Vec<_>, DbErr>>()?;
            Ok(Folded::Counts(Arc::new(rows)))
        },
    )
    .await?;
    match folded {
        Folded::Counts(rows) => Ok((rows, pending)),
        Folded::Sketch(_) => Err(DbErr::Custom("a sketch cached as counts".into())),
    }
}

/// The sketches of these departments' rows, metric and runs, merged, and the pending
/// deltas of `pending_of`: one snapshot.
pub async fn durations<C: ConnectionTrait>(
    conn: &C,
    cache: &ReadCache,
    rows: &[Uuid],
    which: i16,
    runs: &[super::period::Run],
    pending_of: Option<&[Uuid]>,
) -> Result<(Sketch, Vec<(i64, IncidentFacts)>), DbErr> {
    let cond = sea_orm::Condition::all()
        .add(Expr::col(Alias::new("department_id")).is_in(rows.iter().copied()))
        .add(Expr::col(Alias::new("metric")).eq(which));
    let (folded, pending) = read(
        conn,
        cache,
        "incident_duration_rollup",
        &["grain", "bucket", "sketch"],
        cond,
        runs,
        pending_of,
        |found| {
            let mut s = Sketch::default();
            for r in found {
                // src, department_id, grain, bucket, sketch.
                let text: String = r.try_get_by_index(4)?;
                s.merge(&Sketch::from_text(&text));
            }
            Ok(Folded::Sketch(Arc::new(s)))
        },
    )
    .await?;
    match folded {
        Folded::Sketch(s) => Ok((Sketch::clone(&s), pending)),
        Folded::Counts(_) => Err(DbErr::Custom("counts cached as a sketch".into())),
    }
}
