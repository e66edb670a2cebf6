//! The LFPSE queue: one row per version of an incident that LFPSE should receive, written
//! in the transaction of the change that made the version (the transactional outbox the
//! email already uses), so a change is never committed without its submission nor the
//! other way round. The dispatcher (`dispatch`) sends them.
use chrono::Utc;
use entities::{incident, lfpse_submission as submission};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait,
    Set,
};
use uuid::Uuid;

use crate::context::AppState;
use crate::error::AppResult;

/// Waiting for its first attempt, or between attempts.
pub const QUEUED: &str = "QUEUED";
/// Accepted by LFPSE.
pub const SENT: &str = "SENT";
/// Needs no sending of its own: a later send carried what it held, or the incident was no
/// longer reportable when its turn came.
pub const SUPERSEDED: &str = "SUPERSEDED";
/// Refused by LFPSE, or given up after `lfpse.max_attempts`; a quality lead may retry it.
pub const DEAD: &str = "DEAD";

/// The hash a version holds when, at its turn, the incident was no longer reportable: it
/// held nothing, so the incident's next reportable content always differs from it.
pub fn nothing_hash() -> String {
    super::content_hash(&serde_json::Value::Null)
}

/// Queues a new version of `m` for LFPSE when what LFPSE should hold has changed: called
/// inside the write transaction of every change to an incident row, after the row is
/// written. Renders the AdverseEvent, and inserts a QUEUED row numbered one after the
/// incident's latest only when its hash differs from that row's: a change LFPSE does not
/// carry (a comment, a handler, feedback to the reporter) queues nothing, and neither does
/// an incident that is not reportable (another kind, declined, disposed of).
///
/// Changes to one incident hold its row lock (PostgreSQL) or the database's write lock
/// (SQLite), so two of them never number the same version; should two ever race, the
/// unique (incident, seq) index keeps one and `DO NOTHING` leaves the other's transaction
/// whole (a failed INSERT would abort a PostgreSQL transaction).
///
/// The dispatcher is woken when the transaction commits (`db::WriteTx::commit`).
pub async fn sync<C: ConnectionTrait>(
    conn: &C,
    state: &AppState,
    m: &incident::Model,
) -> AppResult<()> {
    let Some(resource) = super::render(conn, state, m).await? else {
        return Ok(());
    };
    let hash = super::content_hash(&resource);
    let latest: Option<(i32, String)> = submission::Entity::find()
        .select_only()
        .column(submission::Column::Seq)
        .column(submission::Column::ContentHash)
        .filter(submission::Column::IncidentId.eq(m.id))
        .order_by_desc(submission::Column::Seq)
        .limit(1)
        .into_tuple()
        .one(conn)
        .await?;
    if latest.as_ref().is_some_and(|(_, h)| *h == hash) {
        return Ok(());
    }
    let seq = latest.map_or(1, |(s, _)| s + 1);
    let now = Utc::now();
    let row = submission::ActiveModel {
        id: Set(Uuid::now_v7()),
        incident_id: Set(m.id),
        seq: Set(seq),
        content_hash: Set(hash),
        status: Set(QUEUED.into()),
        attempts: Set(0),
        next_attempt_at: Set(now),
        lease_until: Set(None),
        leased_by: Set(None),
        last_error: Set(None),
        created_at: Set(now),
        submitted_at: Set(None),
        method: Set(None),
        lfpse_id: Set(None),
        lfpse_version: Set(None),
        reference: Set(None),
    };
    let insert = submission::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([submission::Column::IncidentId, submission::Column::Seq])
                .do_nothing()
                .to_owned(),
        )
        .into_query();
    conn.execute(conn.get_database_backend().build(&insert))
        .await?;
    Ok(())
}
