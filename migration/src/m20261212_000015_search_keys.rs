//! Search ranks on the index alone, and reads a record only for the page it shows.
//!
//! Who may see a record depends on a few of its columns: its department, and who reported
//! (an incident) or owns (a corrective action) it. Those are copied beside the words, so
//! that the caller's visibility is a condition on the index row and the best matches are
//! found without reading every matching record:
//! - SQLite: into `search_row` (one narrow row per record, keyed by the FTS5 rowid), kept
//!   by the same triggers that keep the FTS5 tables.
//! - PostgreSQL: an incident's words readable by those who may read its description are
//!   one stored vector (`search_all`) rather than the two joined for every row matched.
//!   The visibility columns are on the row already.
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend, TransactionTrait};

use crate::m20261210_000012_search::{self as search, Searched};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The record's columns that visibility reads, as `search_row` keeps them (one name for
/// each across tables: a table without one leaves it NULL).
fn keys(s: &Searched) -> &'static [&'static str] {
    match s.table {
        "incident" => &["department_id", "reporter_id"],
        "corrective_action" => &["department_id", "owner_email"],
        _ => &["department_id"],
    }
}

const KEY_COLUMNS: [&str; 3] = ["department_id", "reporter_id", "owner_email"];

fn sqlite_up() -> Vec<String> {
    // No declared type: the values are kept exactly as the record stores them (UUIDs as
    // blobs, emails as text), so a condition compares them the same on either table.
    let mut all: Vec<String> = KEY_COLUMNS
        .iter()
        .map(|c| format!("ALTER TABLE search_row ADD COLUMN {c}"))
        .collect();
    for s in search::ALL {
        let keys = keys(s);
        all.push(format!(
            "UPDATE search_row SET ({cols}) = (SELECT {vals} FROM {t} r WHERE r.id = search_row.record_id) \
             WHERE record_id IN (SELECT id FROM {t})",
            cols = keys.join(", "),
            vals = keys.iter().map(|k| format!("r.{k}")).collect::<Vec<_>>().join(", "),
            t = s.table,
        ));
        all.extend(s.drop_sqlite_triggers());
        all.extend(s.sqlite_triggers(keys));
    }
    all
}

fn sqlite_down() -> Vec<String> {
    let mut all = Vec::new();
    for s in search::ALL {
        all.extend(s.drop_sqlite_triggers());
        all.extend(s.sqlite_triggers(&[]));
    }
    all.extend(
        KEY_COLUMNS
            .iter()
            .map(|c| format!("ALTER TABLE search_row DROP COLUMN {c}")),
    );
    all
}

fn postgres_up() -> Vec<String> {
    vec![
        "ALTER TABLE incident DROP COLUMN search_narrative".into(),
        format!(
            "ALTER TABLE incident ADD COLUMN search_all tsvector GENERATED ALWAYS AS ({}) STORED",
            search::incident_vector(true)
        ),
        "CREATE INDEX idx_incident_search_all ON incident USING gin (search_all)".into(),
    ]
}

fn postgres_down() -> Vec<String> {
    vec![
        "ALTER TABLE incident DROP COLUMN search_all".into(),
        format!(
            "ALTER TABLE incident ADD COLUMN search_narrative tsvector GENERATED ALWAYS AS ({}) STORED",
            search::narrative_vector()
        ),
        "CREATE INDEX idx_incident_search_all ON incident USING gin ((search_open || search_narrative))"
            .into(),
    ]
}

/// Runs `statements` in one transaction on one connection. On SQLite migrations otherwise
/// run statement by statement on any connection of the pool, so a trigger dropped on one is
/// still seen by another that prepares its replacement, and a failure part-way would leave
/// the index half-changed.
async fn run_atomic(manager: &SchemaManager<'_>, statements: Vec<String>) -> Result<(), DbErr> {
    let tx = manager.get_connection().begin().await?;
    for s in statements {
        tx.execute_unprepared(&s).await?;
    }
    tx.commit().await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DbBackend::Postgres => search::run(manager, postgres_up()).await,
            _ => run_atomic(manager, sqlite_up()).await,
        }
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DbBackend::Postgres => search::run(manager, postgres_down()).await,
            _ => run_atomic(manager, sqlite_down()).await,
        }
    }
}
