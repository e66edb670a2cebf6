//! The search index as the database keeps it (migrations `m20261210_000012_search` and
//! `m20261212_000015_search_keys`): for each kind of record, its fields in index order, with
//! the name a highlight gives each, its weight in ranking, and how PostgreSQL reads it from
//! the row.
//!
//! On SQLite the record's columns that decide who sees it (its department, an incident's
//! reporter, an action's owner) are copied into its `search_row`, and a search's conditions on the record are read from there: a visibility
//! rule on any other column must have that column copied too (the migration's triggers),
//! or search fails loudly rather than finding what it should not.
use super::model::SearchKind;

/// Who may have a field matched and highlighted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reader {
    /// Everyone who may see the record.
    Viewer,
    /// Only those who may read the reporter's own words (an incident's description).
    Narrative,
}

/// One indexed field.
pub struct Field {
    /// The FTS5 column (SQLite).
    pub column: &'static str,
    /// The field's name in the GraphQL schema, as highlights name it.
    pub name: &'static str,
    /// Its weight in SQLite's bm25 (PostgreSQL's weights are in the generated columns).
    pub weight: f64,
    /// The field's text in SQL, on PostgreSQL.
    pub sql: &'static str,
    pub reader: Reader,
    /// Its reads go into the access log (free text).
    pub logged: bool,
}

/// One kind of record's index.
pub struct Index {
    pub kind: SearchKind,
    /// The record's table.
    pub table: &'static str,
    /// Its FTS5 table (SQLite).
    pub fts: &'static str,
    /// The access log's name for the record.
    pub entity: &'static str,
    pub fields: &'static [Field],
}

const fn field(column: &'static str, name: &'static str, weight: f64, sql: &'static str) -> Field {
    Field {
        column,
        name,
        weight,
        sql,
        reader: Reader::Viewer,
        logged: false,
    }
}

pub const INCIDENT: Index = Index {
    kind: SearchKind::Incident,
    table: "incident",
    fts: "incident_search",
    entity: "Incident",
    fields: &[
        field("reference", "reference", 10.0, "incident.reference"),
        field("title", "title", 10.0, "incident.title"),
        field("location", "location", 2.0, "incident.location"),
        field("category", "category", 2.0, "incident.category"),
        field(
            "equipment",
            "equipment",
            2.0,
            "trim(coalesce(incident.equipment_asset_id, '') || ' ' || coalesce(incident.equipment_manufacturer, '') || ' ' || coalesce(incident.equipment_model, '') || ' ' || coalesce(incident.equipment_serial_number, ''))",
        ),
        field("learning", "learningSummary", 4.0, "incident.learning_summary"),
        field("feedback", "feedbackToReporter", 4.0, "incident.feedback_to_reporter"),
        Field {
            column: "description",
            name: "description",
            weight: 4.0,
            sql: "incident.description",
            reader: Reader::Narrative,
            logged: true,
        },
    ],
};

pub const CORRECTIVE_ACTION: Index = Index {
    kind: SearchKind::CorrectiveAction,
    table: "corrective_action",
    fts: "corrective_action_search",
    entity: "CorrectiveAction",
    fields: &[
        field("title", "title", 10.0, "corrective_action.title"),
        Field {
            column: "description",
            name: "description",
            weight: 4.0,
            sql: "corrective_action.description",
            reader: Reader::Viewer,
            logged: true,
        },
    ],
};

pub const AUDIT: Index = Index {
    kind: SearchKind::Audit,
    table: "audit",
    fts: "audit_search",
    entity: "Audit",
    fields: &[
        field("title", "title", 10.0, "audit.title"),
        field("standard", "standard", 4.0, "audit.standard"),
    ],
};

pub const IMPROVEMENT_PROJECT: Index = Index {
    kind: SearchKind::ImprovementProject,
    table: "improvement_project",
    fts: "improvement_project_search",
    entity: "ImprovementProject",
    fields: &[
        field("title", "title", 10.0, "improvement_project.title"),
        field("aim", "aim", 4.0, "improvement_project.aim"),
    ],
};

pub fn of(kind: SearchKind) -> &'static Index {
    match kind {
        SearchKind::Incident => &INCIDENT,
        SearchKind::CorrectiveAction => &CORRECTIVE_ACTION,
        SearchKind::Audit => &AUDIT,
        SearchKind::ImprovementProject => &IMPROVEMENT_PROJECT,
    }
}

impl Index {
    /// The FTS5 columns of the fields everyone who sees the record may read.
    pub fn viewer_columns(&self) -> Vec<&'static str> {
        self.fields
            .iter()
            .filter(|f| f.reader == Reader::Viewer)
            .map(|f| f.column)
            .collect()
    }

    pub fn has_narrative(&self) -> bool {
        self.fields.iter().any(|f| f.reader == Reader::Narrative)
    }

    /// SQLite's bm25 of a match, higher for a better one.
    pub fn bm25(&self) -> String {
        let weights: Vec<String> = self
            .fields
            .iter()
            .map(|f| format!("{:.1}", f.weight))
            .collect();
        format!("-bm25({}, {})", self.fts, weights.join(", "))
    }

    /// The PostgreSQL text-search vector matched: the viewer's fields alone, or with the
    /// narrative (each indexed as it is written here).
    pub fn vector(&self, narrative: bool) -> String {
        if narrative && self.has_narrative() {
            format!("{}.search_all", self.table)
        } else {
            format!("{}.search_open", self.table)
        }
    }
}
