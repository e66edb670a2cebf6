//! Full-text search over incidents, corrective actions, audits and improvement projects.
//!
//! The index is kept by the database itself, so every write that changes a record's words
//! (reporting, triage, disposal, seeding, an import) changes the index in the same
//! transaction, whichever code path made it:
//! - PostgreSQL: stored generated `tsvector` columns on each table, with GIN indexes. An
//!   incident has two: `search_open` (what anyone who sees it may read) and
//!   `search_narrative` (the reporter's description), indexed apart and together, so a
//!   caller who may not read the description is matched against the first alone.
//! - SQLite: an FTS5 table per record (its own copy of the words, one column per field),
//!   filled by triggers. FTS5 rows are keyed by `search_row.n`, a stable integer per record,
//!   because a table's implicit rowid may change on VACUUM.
//!
//! The fields indexed, in this order, are named in `api/src/search/index.rs`.
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// One searchable table: its FTS5 table, and each indexed field as (FTS5 column, SQL of
/// the value from the row `r`).
pub(crate) struct Searched {
    pub(crate) table: &'static str,
    pub(crate) fts: &'static str,
    columns: &'static [(&'static str, &'static str)],
}

pub(crate) const INCIDENT: Searched = Searched {
    table: "incident",
    fts: "incident_search",
    columns: &[
        ("reference", "r.reference"),
        ("title", "r.title"),
        ("location", "r.location"),
        ("category", "r.category"),
        (
            "equipment",
            "trim(coalesce(r.equipment_asset_id, '') || ' ' || coalesce(r.equipment_manufacturer, '') || ' ' || coalesce(r.equipment_model, '') || ' ' || coalesce(r.equipment_serial_number, ''))",
        ),
        ("learning", "r.learning_summary"),
        ("feedback", "r.feedback_to_reporter"),
        ("description", "r.description"),
    ],
};

pub(crate) const ACTION: Searched = Searched {
    table: "corrective_action",
    fts: "corrective_action_search",
    columns: &[("title", "r.title"), ("description", "r.description")],
};

pub(crate) const AUDIT: Searched = Searched {
    table: "audit",
    fts: "audit_search",
    columns: &[("title", "r.title"), ("standard", "r.standard")],
};

pub(crate) const PROJECT: Searched = Searched {
    table: "improvement_project",
    fts: "improvement_project_search",
    columns: &[("title", "r.title"), ("aim", "r.aim")],
};

pub(crate) const ALL: [&Searched; 4] = [&INCIDENT, &ACTION, &AUDIT, &PROJECT];

fn sqlite_up(s: &Searched) -> Vec<String> {
    let (t, f) = (s.table, s.fts);
    let list = s.fts_columns();
    let key = |row: &str| format!("(SELECT n FROM search_row WHERE record_id = {row}.id)");
    let mut all = vec![
        format!(
            "CREATE VIRTUAL TABLE {f} USING fts5({list}, tokenize = 'porter unicode61 remove_diacritics 2')"
        ),
        format!("INSERT INTO search_row (record_id) SELECT id FROM {t}"),
        format!(
            "INSERT INTO {f} (rowid, {list}) SELECT {key_r}, {vals} FROM {t} r",
            key_r = key("r"),
            vals = s.values("r")
        ),
    ];
    all.extend(s.sqlite_triggers(&[]));
    all
}

impl Searched {
    /// The FTS5 columns, in order.
    fn fts_columns(&self) -> String {
        let cols: Vec<&str> = self.columns.iter().map(|(c, _)| *c).collect();
        cols.join(", ")
    }

    /// The indexed values of the row `row`, in column order.
    pub(crate) fn values(&self, row: &str) -> String {
        self.columns
            .iter()
            .map(|(_, v)| v.replace("r.", &format!("{row}.")))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The triggers that keep the FTS5 table (and `search_row`, with the record's columns
    /// `keys` copied into it) in step with the table.
    pub(crate) fn sqlite_triggers(&self, keys: &[&str]) -> Vec<String> {
        let (t, f) = (self.table, self.fts);
        let list = self.fts_columns();
        let key = |row: &str| format!("(SELECT n FROM search_row WHERE record_id = {row}.id)");
        let (row_cols, row_new, set_new) = if keys.is_empty() {
            (String::new(), String::new(), String::new())
        } else {
            (
                keys.iter().map(|k| format!(", {k}")).collect::<String>(),
                keys.iter()
                    .map(|k| format!(", new.{k}"))
                    .collect::<String>(),
                format!(
                    "UPDATE search_row SET {} WHERE record_id = new.id; ",
                    keys.iter()
                        .map(|k| format!("{k} = new.{k}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        };
        vec![
            format!(
                "CREATE TRIGGER {f}_insert AFTER INSERT ON {t} BEGIN \
                 INSERT INTO search_row (record_id{row_cols}) VALUES (new.id{row_new}); \
                 INSERT INTO {f} (rowid, {list}) VALUES ({kn}, {vn}); END",
                kn = key("new"),
                vn = self.values("new")
            ),
            format!(
                "CREATE TRIGGER {f}_update AFTER UPDATE ON {t} BEGIN \
                 {set_new}DELETE FROM {f} WHERE rowid = {ko}; \
                 INSERT INTO {f} (rowid, {list}) VALUES ({kn}, {vn}); END",
                ko = key("old"),
                kn = key("new"),
                vn = self.values("new")
            ),
            format!(
                "CREATE TRIGGER {f}_delete AFTER DELETE ON {t} BEGIN \
                 DELETE FROM {f} WHERE rowid = {ko}; \
                 DELETE FROM search_row WHERE record_id = old.id; END",
                ko = key("old"),
            ),
        ]
    }
}

fn sqlite_down(s: &Searched) -> Vec<String> {
    let mut all = s.drop_sqlite_triggers();
    all.push(format!("DROP TABLE IF EXISTS {}", s.fts));
    all
}

impl Searched {
    pub(crate) fn drop_sqlite_triggers(&self) -> Vec<String> {
        let f = self.fts;
        vec![
            format!("DROP TRIGGER IF EXISTS {f}_insert"),
            format!("DROP TRIGGER IF EXISTS {f}_update"),
            format!("DROP TRIGGER IF EXISTS {f}_delete"),
        ]
    }
}

/// `to_tsvector` of some fields at a weight (A highest).
fn vector(weight: char, fields: &[&str]) -> String {
    let text = fields
        .iter()
        .map(|f| format!("coalesce({f}, '')"))
        .collect::<Vec<_>>()
        .join(" || ' ' || ");
    // Hyphens become U+2011 (a non-breaking hyphen), which the parser reads as a separator
    // like any punctuation: it reads `-2026` as a signed number, so `INC-2026-000123`
    // would not be found by its parts (SQLite's tokenizer splits them already).
    format!(
        "setweight(to_tsvector('english'::regconfig, translate({text}, '-', U&'\\2011')), '{weight}')"
    )
}

/// An incident's vector on PostgreSQL: the fields every viewer may read, and with
/// `narrative` the reporter's description too.
pub(crate) fn incident_vector(narrative: bool) -> String {
    let mut parts = vec![
        vector('A', &["reference", "title"]),
        vector('B', &["learning_summary", "feedback_to_reporter"]),
        vector(
            'C',
            &[
                "location",
                "category",
                "equipment_asset_id",
                "equipment_manufacturer",
                "equipment_model",
                "equipment_serial_number",
            ],
        ),
    ];
    if narrative {
        parts.push(narrative_vector());
    }
    parts.join(" || ")
}

/// An incident's description as a vector.
pub(crate) fn narrative_vector() -> String {
    vector('B', &["description"])
}

fn postgres_up() -> Vec<String> {
    let generated = |table: &str, column: &str, expr: String| {
        format!(
            "ALTER TABLE {table} ADD COLUMN {column} tsvector GENERATED ALWAYS AS ({expr}) STORED"
        )
    };
    vec![
        generated("incident", "search_open", incident_vector(false)),
        generated("incident", "search_narrative", narrative_vector()),
        "CREATE INDEX idx_incident_search_open ON incident USING gin (search_open)".into(),
        "CREATE INDEX idx_incident_search_all ON incident USING gin ((search_open || search_narrative))"
            .into(),
        generated(
            "corrective_action",
            "search_open",
            format!("{} || {}", vector('A', &["title"]), vector('B', &["description"])),
        ),
        "CREATE INDEX idx_corrective_action_search ON corrective_action USING gin (search_open)"
            .into(),
        generated(
            "audit",
            "search_open",
            format!("{} || {}", vector('A', &["title"]), vector('B', &["standard"])),
        ),
        "CREATE INDEX idx_audit_search ON audit USING gin (search_open)".into(),
        generated(
            "improvement_project",
            "search_open",
            format!("{} || {}", vector('A', &["title"]), vector('B', &["aim"])),
        ),
        "CREATE INDEX idx_improvement_project_search ON improvement_project USING gin (search_open)"
            .into(),
    ]
}

fn postgres_down() -> Vec<String> {
    vec![
        "ALTER TABLE incident DROP COLUMN IF EXISTS search_open".into(),
        "ALTER TABLE incident DROP COLUMN IF EXISTS search_narrative".into(),
        "ALTER TABLE corrective_action DROP COLUMN IF EXISTS search_open".into(),
        "ALTER TABLE audit DROP COLUMN IF EXISTS search_open".into(),
        "ALTER TABLE improvement_project DROP COLUMN IF EXISTS search_open".into(),
    ]
}

pub(crate) async fn run(manager: &SchemaManager<'_>, statements: Vec<String>) -> Result<(), DbErr> {
    let db = manager.get_connection();
    for s in statements {
        db.execute_unprepared(&s).await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DbBackend::Postgres => run(manager, postgres_up()).await,
            DbBackend::Sqlite => {
                let mut all = vec![
                    "CREATE TABLE search_row (n INTEGER PRIMARY KEY AUTOINCREMENT, record_id BLOB NOT NULL UNIQUE)"
                        .to_string(),
                ];
                for s in ALL {
                    all.extend(sqlite_up(s));
                }
                run(manager, all).await
            }
            other => Err(DbErr::Migration(format!(
                "search needs SQLite or PostgreSQL, not {other:?}"
            ))),
        }
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DbBackend::Postgres => run(manager, postgres_down()).await,
            _ => {
                let mut all = Vec::new();
                for s in ALL {
                    all.extend(sqlite_down(s));
                }
                all.push("DROP TABLE IF EXISTS search_row".into());
                run(manager, all).await
            }
        }
    }
}
