//! The tamper-evident chain over trail events.
//!
//! Writers append trail events inside their own transactions and never wait for one
//! another: an event is inserted with no place in the chain. A sealer then gives committed
//! events their place (`seq`) in the order it finds them, and links each to the one before:
//! `hash = SHA-256(prev_hash || "\n" || canonical form)`, with the canonical form including
//! `seq`. The head row (latest seq and hash) is updated in the same transaction, so a
//! missing tail is detected as well as an edited, deleted or moved event.
//!
//! One sealer runs at a time: the process's write turn on SQLite, a transaction-scoped
//! advisory lock on PostgreSQL, so any number of instances may run one each.
use std::sync::Arc;
use std::time::Duration;

use chrono::SecondsFormat;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Statement,
};
use sha2::{Digest, Sha256};
use tokio::sync::Notify;
use uuid::Uuid;

use crate::db::Db;
use entities::{trail_event, trail_head};

/// The `prev_hash` of the first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Arbitrary, fixed: the PostgreSQL advisory lock key held while sealing.
pub(crate) const SEALER_LOCK: i64 = 0x0063_616e_646f_7572;

const BATCH: u64 = 500;

/// The event as hashed: a JSON array of its stored values in a fixed order.
pub fn canonical(e: &trail_event::Model, seq: i64) -> String {
    serde_json::json!([
        seq,
        e.id.to_string(),
        e.occurred_at.to_rfc3339_opts(SecondsFormat::Micros, true),
        e.actor_id.map(|a| a.to_string()),
        e.actor_label,
        e.actor_roles,
        e.entity_type,
        e.entity_id.to_string(),
        e.action,
        e.changes,
        e.request_id,
    ])
    .to_string()
}

/// The hash of an event at `seq` following `prev`.
pub fn link_hash(prev: &str, e: &trail_event::Model, seq: i64) -> String {
    let digest = Sha256::new()
        .chain_update(prev.as_bytes())
        .chain_update(b"\n")
        .chain_update(canonical(e, seq).as_bytes())
        .finalize();
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Seals every committed event that has no place yet. Returns how many it sealed (0 when
/// another instance holds the sealer lock: it is sealing them).
pub async fn seal_pending(db: &Db) -> Result<u64, DbErr> {
    let mut total = 0;
    loop {
        let n = seal_batch(db).await?;
        total += n;
        if n < BATCH {
            return Ok(total);
        }
    }
}

async fn seal_batch(db: &Db) -> Result<u64, DbErr> {
    // A plain read first: most wake-ups find nothing to seal, and need not take a write turn.
    let pending = trail_event::Entity::find()
        .select_only()
        .column(trail_event::Column::Id)
        .filter(trail_event::Column::Seq.is_null())
        .limit(1)
        .into_tuple::<Uuid>()
        .one(&db.conn)
        .await?;
    if pending.is_none() {
        return Ok(0);
    }
    let tx = db.begin_write().await?;
    if db.backend() == DbBackend::Postgres {
        let row = tx
            .query_one(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT pg_try_advisory_xact_lock($1) AS locked",
                [SEALER_LOCK.into()],
            ))
            .await?;
        let locked: bool = match row {
            Some(r) => r.try_get("", "locked")?,
            None => false,
        };
        if !locked {
            return Ok(0);
        }
    }
    let rows = trail_event::Entity::find()
        .filter(trail_event::Column::Seq.is_null())
        .order_by_asc(trail_event::Column::Id)
        .limit(BATCH)
        .all(&*tx)
        .await?;
    if rows.is_empty() {
        return Ok(0);
    }
    let head = trail_head::Entity::find_by_id(1).one(&*tx).await?;
    let (mut seq, mut hash) = head
        .map(|h| (h.seq, h.hash))
        .unwrap_or((0, GENESIS.to_string()));
    let n = rows.len() as u64;
    // Every event's place and hashes in one UPDATE: under a steady stream of reports the
    // sealer would otherwise cost the database one statement per event.
    let mut values: Vec<sea_orm::Value> = Vec::with_capacity(rows.len() * 4);
    for e in &rows {
        seq += 1;
        let next = link_hash(&hash, e, seq);
        values.extend([
            e.id.into(),
            seq.into(),
            hash.clone().into(),
            next.clone().into(),
        ]);
        hash = next;
    }
    let backend = tx.get_database_backend();
    let placeholders: Vec<String> = (0..rows.len())
        .map(|i| match backend {
            DbBackend::Postgres => format!(
                "(${}::uuid, ${}::bigint, ${}::text, ${}::text)",
                4 * i + 1,
                4 * i + 2,
                4 * i + 3,
                4 * i + 4
            ),
            _ => "(?, ?, ?, ?)".to_string(),
        })
        .collect();
    let sql = format!(
        "WITH v(id, seq, prev_hash, hash) AS (VALUES {}) \
         UPDATE trail_event SET seq = v.seq, prev_hash = v.prev_hash, hash = v.hash \
         FROM v WHERE trail_event.id = v.id AND trail_event.seq IS NULL",
        placeholders.join(", ")
    );
    let updated = tx
        .execute(Statement::from_sql_and_values(backend, sql, values))
        .await?;
    if updated.rows_affected() != n {
        return Err(DbErr::Custom(format!(
            "sealing updated {} of {n} events",
            updated.rows_affected()
        )));
    }
    trail_head::Entity::insert(trail_head::ActiveModel {
        id: Set(1),
        seq: Set(seq),
        hash: Set(hash),
        sealed_at: Set(chrono::Utc::now()),
    })
    .on_conflict(
        OnConflict::column(trail_head::Column::Id)
            .update_columns([
                trail_head::Column::Seq,
                trail_head::Column::Hash,
                trail_head::Column::SealedAt,
            ])
            .to_owned(),
    )
    .exec_without_returning(&*tx)
    .await?;
    if backend == DbBackend::Postgres {
        // Every instance listening hears of the new events when this commits.
        tx.execute(Statement::from_string(
            backend,
            format!("NOTIFY {SEALED_CHANNEL}"),
        ))
        .await?;
    }
    tx.commit_quiet().await?;
    Ok(n)
}

/// The PostgreSQL channel a seal is announced on (`NOTIFY`), so that the instances that did
/// not seal hear of new events at once rather than at their next poll.
pub const SEALED_CHANNEL: &str = "candour_trail_sealed";

/// On PostgreSQL, listens for other instances' seals and counts them in `db.trail_sealed`
/// as this instance's own, until `stop`. Followers still poll: a notification is lost while
/// the listening connection is down, and the count is bumped when it comes back.
pub fn spawn_listener(db: Db, url: String, stop: tokio_util::sync::CancellationToken) {
    if db.backend() != DbBackend::Postgres {
        return;
    }
    tokio::spawn(async move {
        use sea_orm::sqlx::postgres::PgListener;
        loop {
            let listening = async {
                let mut l = PgListener::connect(&url).await?;
                l.listen(SEALED_CHANNEL).await?;
                loop {
                    // First for whatever was sealed while nobody listened; then for each
                    // notification, or for the connection lost (it is made again on the
                    // next call): either way there may be new events.
                    db.trail_sealed.send_modify(|n| *n += 1);
                    l.try_recv().await?;
                }
                #[allow(unreachable_code)]
                Ok::<(), sea_orm::sqlx::Error>(())
            };
            tokio::select! {
                r = listening => {
                    if let Err(e) = r {
                        // The error's kind only: its text could name the database URL.
                        tracing::warn!(error = %crate::error::db_error_kind(&DbErr::Conn(sea_orm::RuntimeErr::SqlxError(e))), "listening for other instances' trail seals failed; will retry");
                    }
                }
                _ = stop.cancelled() => return,
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = stop.cancelled() => return,
            }
        }
    });
}

/// Seals in the background: soon after each commit that may have added events (`wake`),
/// and every second for events other instances wrote.
pub fn spawn_sealer(db: Db, wake: Arc<Notify>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
            match seal_pending(&db).await {
                // Under a stream of changes, let a few milliseconds' worth gather: one
                // seal of many events costs the database far less than many of one.
                Ok(n) if n > 0 => {
                    db.trail_sealed.send_modify(|n| *n += 1);
                    tokio::time::sleep(Duration::from_millis(25)).await
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %crate::error::db_error_kind(&e), "sealing trail events failed; will retry");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    })
}

/// Where the chain first fails to hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokenLink {
    /// The place in the chain where the break is.
    pub seq: i64,
    /// The event found there, if any.
    pub event_id: Option<Uuid>,
    pub problem: String,
}

/// The outcome of checking every sealed event.
#[derive(Debug, Clone)]
pub struct Integrity {
    /// Events checked (sealed events, in chain order, up to the first break).
    pub checked: u64,
    /// Events committed but not yet sealed (normally none, or only the last moments').
    pub unsealed: u64,
    pub head_seq: i64,
    pub head_hash: String,
    pub first_broken: Option<BrokenLink>,
}

impl Integrity {
    pub fn intact(&self) -> bool {
        self.first_broken.is_none()
    }
}

const PAGE: u64 = 5_000;

/// Checks every sealed event in chain order against its predecessor and the head.
///
/// Everything is read in one transaction, a snapshot (REPEATABLE READ on PostgreSQL; a
/// WAL read transaction on SQLite), so a sealer committing meanwhile cannot make the
/// events run past the head that was read.
pub async fn verify(db: &Db) -> Result<Integrity, DbErr> {
    let tx = db.read_snapshot().await?;
    let out = verify_in(&tx).await;
    tx.rollback().await?;
    out
}

async fn verify_in<C: ConnectionTrait>(conn: &C) -> Result<Integrity, DbErr> {
    let head = trail_head::Entity::find_by_id(1).one(conn).await?;
    let (head_seq, head_hash) = head
        .map(|h| (h.seq, h.hash))
        .unwrap_or((0, GENESIS.to_string()));
    let unsealed = trail_event::Entity::find()
        .filter(trail_event::Column::Seq.is_null())
        .count(conn)
        .await?;
    let mut out = Integrity {
        checked: 0,
        unsealed,
        head_seq,
        head_hash: head_hash.clone(),
        first_broken: None,
    };
    let mut expected: i64 = 1;
    let mut running = GENESIS.to_string();
    loop {
        let page = trail_event::Entity::find()
            .filter(trail_event::Column::Seq.gte(expected))
            .order_by_asc(trail_event::Column::Seq)
            .limit(PAGE)
            .all(conn)
            .await?;
        let done = (page.len() as u64) < PAGE;
        for e in page {
            let seq = e.seq.unwrap_or_default();
            if let Some(problem) = check_link(&e, expected, &running) {
                out.first_broken = Some(BrokenLink {
                    seq: expected,
                    event_id: (seq == expected).then_some(e.id),
                    problem,
                });
                return Ok(out);
            }
            running = e.hash.clone().unwrap_or_default();
            out.checked += 1;
            expected += 1;
        }
        if done {
            break;
        }
    }
    let last = expected - 1;
    let problem = if head_seq > last {
        Some(format!(
            "the head names event {head_seq} but the chain ends at {last}: events were removed from the end"
        ))
    } else if head_seq < last {
        Some(format!(
            "the chain runs to event {last} beyond the head at {head_seq}: the head was altered"
        ))
    } else if head_hash != running {
        Some(
            "the head's hash does not match the last event: the head or the last event was altered"
                .into(),
        )
    } else {
        None
    };
    if let Some(problem) = problem {
        out.first_broken = Some(BrokenLink {
            seq: last + 1,
            event_id: None,
            problem,
        });
    }
    Ok(out)
}

/// Why `e`, found where event `expected` should be, does not follow a chain ending in
/// `prev`; None when it does.
fn check_link(e: &trail_event::Model, expected: i64, prev: &str) -> Option<String> {
    let seq = e.seq.unwrap_or_default();
    if seq != expected {
        return Some(format!(
            "event {expected} is missing (the next sealed event is {seq}): an event was deleted"
        ));
    }
    if e.prev_hash.as_deref() != Some(prev) {
        return Some(format!(
            "event {expected} does not link to event {}: events were removed, inserted or reordered",
            expected - 1
        ));
    }
    if e.hash.as_deref() != Some(link_hash(prev, e, expected).as_str()) {
        return Some(format!(
            "event {expected} does not match its hash: it was altered or moved"
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn event(action: &str) -> trail_event::Model {
        trail_event::Model {
            id: Uuid::nil(),
            occurred_at: chrono::Utc
                .with_ymd_and_hms(2026, 11, 25, 9, 30, 0)
                .unwrap(),
            actor_id: None,
            actor_label: Some("alice".into()),
            actor_roles: Some("staff".into()),
            entity_type: "Incident".into(),
            entity_id: Uuid::nil(),
            action: action.into(),
            changes: "[]".into(),
            request_id: Some("r1".into()),
            seq: None,
            prev_hash: None,
            hash: None,
        }
    }

    fn chain(actions: &[&str]) -> Vec<trail_event::Model> {
        let mut prev = GENESIS.to_string();
        actions
            .iter()
            .enumerate()
            .map(|(i, a)| {
                let mut e = event(a);
                let seq = i as i64 + 1;
                let h = link_hash(&prev, &e, seq);
                e.seq = Some(seq);
                e.prev_hash = Some(prev.clone());
                e.hash = Some(h.clone());
                prev = h;
                e
            })
            .collect()
    }

    fn first_break(events: &[trail_event::Model]) -> Option<String> {
        let mut prev = GENESIS.to_string();
        for (i, e) in events.iter().enumerate() {
            if let Some(p) = check_link(e, i as i64 + 1, &prev) {
                return Some(p);
            }
            prev = e.hash.clone().unwrap();
        }
        None
    }

    #[test]
    fn an_intact_chain_verifies() {
        assert_eq!(first_break(&chain(&["a", "b", "c"])), None);
    }

    #[test]
    fn edits_deletions_and_reorders_break_the_chain() {
        let mut edited = chain(&["a", "b", "c"]);
        edited[1].action = "z".into();
        assert!(first_break(&edited)
            .unwrap()
            .contains("event 2 does not match"));

        let mut deleted = chain(&["a", "b", "c"]);
        deleted.remove(1);
        assert!(first_break(&deleted)
            .unwrap()
            .contains("event 2 is missing"));

        let mut reordered = chain(&["a", "b", "c"]);
        reordered.swap(0, 1);
        let (s0, s1) = (reordered[0].seq, reordered[1].seq);
        reordered[0].seq = s1;
        reordered[1].seq = s0;
        assert!(first_break(&reordered).unwrap().contains("event 1"));
    }

    #[test]
    fn the_canonical_form_covers_every_stored_value() {
        let e = event("incident.reported");
        let base = link_hash(GENESIS, &e, 1);
        let mut variants = Vec::new();
        let mut v = e.clone();
        v.actor_label = None;
        variants.push(v);
        let mut v = e.clone();
        v.changes = "[{}]".into();
        variants.push(v);
        let mut v = e.clone();
        v.occurred_at += chrono::Duration::microseconds(1);
        variants.push(v);
        let mut v = e.clone();
        v.request_id = None;
        variants.push(v);
        for v in variants {
            assert_ne!(link_hash(GENESIS, &v, 1), base);
        }
        assert_ne!(link_hash(GENESIS, &e, 2), base);
    }
}
