//! The register of the incident table's columns: each column once, with what a list page
//! reads of it, what disposal does to it and how the trail records it. The page's
//! positional decode, the blank list of brief pages, the GraphQL fields that need the full
//! row, disposal and the trail diff are all derived from it. A column added to the entity
//! but not here does not compile (the decode builds the whole model); a unit test checks
//! the register against the entity's columns, name by name and in order.
use entities::incident::{Column as C, Model};

use crate::trail::Diff;

/// What a brief list page (one that shows none of an incident's text) does with a column.
#[derive(Debug, Clone, Copy)]
pub enum Brief {
    /// Read as on any page.
    Read,
    /// Not read: stands in the row as this SQL literal. `fields` are the GraphQL fields of
    /// `Incident` that need the column: a page asking for any of them reads whole rows.
    Blank {
        sql: &'static str,
        fields: &'static [&'static str],
    },
}

/// How the trail records a change to a column.
#[derive(Debug, Clone, Copy)]
pub enum Trail {
    /// Not at all: bookkeeping, or what the event says otherwise (its actor, its time).
    Never,
    /// With its values before and after, under this name.
    Field(&'static str),
    /// With its values as LFPSE harm names.
    Harm(&'static str),
    /// As changed, without its words (free text, personal data). Columns sharing a name
    /// (the patient's details) make one entry.
    Words(&'static str),
}

/// What disposal at the end of retention does to a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposal {
    /// Kept in the tombstone (identity, reference, dates, status, facts).
    Keep,
    /// Removed (replaced by an empty value).
    Clear,
    /// Set by disposal itself (its time, the version).
    Stamp,
}

/// One column of the incident table.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    pub name: &'static str,
    pub column: C,
    pub brief: Brief,
    pub disposal: Disposal,
    pub trail: Trail,
}

const fn blank(sql: &'static str, fields: &'static [&'static str]) -> Brief {
    Brief::Blank { sql, fields }
}

macro_rules! register {
    ($( $field:ident : $variant:ident => $brief:expr, $disposal:ident $(= $cleared:expr)?, $trail:ident $(($tname:literal))?; )+) => {
        /// Every column, in the entity's order.
        pub const COLUMNS: &[Spec] = &[$(Spec {
            name: stringify!($field),
            column: C::$variant,
            brief: $brief,
            disposal: Disposal::$disposal,
            trail: Trail::$trail $(($tname))?,
        }),+];

        /// Incident rows as models, decoded by the driver by position (see `db::Cells`):
        /// a page decodes up to 101 rows of every column.
        pub fn decode(rows: &[sea_orm::QueryResult]) -> Result<Vec<Model>, sea_orm::DbErr> {
            let Some(first) = rows.first() else {
                return Ok(Vec::new());
            };
            let names: Vec<&str> = COLUMNS.iter().map(|s| s.name).collect();
            let mut at = Vec::with_capacity(names.len());
            for (name, p) in names.iter().zip(crate::db::Cells(first).positions(&names)) {
                at.push(p.ok_or_else(|| {
                    sea_orm::DbErr::Custom(format!("incident column {name} not read"))
                })?);
            }
            rows.iter()
                .map(|r| {
                    let c = crate::db::Cells(r);
                    let mut at = at.iter().copied();
                    let mut next = || {
                        at.next()
                            .ok_or_else(|| sea_orm::DbErr::Custom("incident column".into()))
                    };
                    // Fields are evaluated in the order written: the register's order.
                    Ok(Model { $($field: c.at(next()?)?,)+ })
                })
                .collect()
        }

        /// The incident with what disposal removes removed (stamps left to the caller).
        pub fn cleared(m: &Model) -> Model {
            let mut out = m.clone();
            $( register!(@clear out, $field, $disposal $(= $cleared)?); )+
            out
        }

        /// What changed between `before` (None for a new incident) and `after`, as the
        /// trail records it.
        pub fn diff(before: Option<&Model>, after: &Model) -> Diff {
            let mut words: Vec<(&'static str, bool)> = Vec::new();
            let mut diff = Diff::new();
            $( register!(@trail diff, words, before, after, $field, $trail $(($tname))?); )+
            for (name, changed) in words {
                diff.sensitive(name, changed);
            }
            diff
        }
    };
    (@clear $m:ident, $field:ident, Clear = $cleared:expr) => { $m.$field = $cleared; };
    (@clear $m:ident, $field:ident, Clear) => { $m.$field = Default::default(); };
    (@clear $m:ident, $field:ident, $other:ident) => {};
    (@trail $d:ident, $w:ident, $b:ident, $a:ident, $field:ident, Never) => {};
    (@trail $d:ident, $w:ident, $b:ident, $a:ident, $field:ident, Field($name:literal)) => {
        $d.field(
            $name,
            $b.map(|b| serde_json::to_value(&b.$field).unwrap_or_default()).unwrap_or_default(),
            serde_json::to_value(&$a.$field).unwrap_or_default(),
        );
    };
    (@trail $d:ident, $w:ident, $b:ident, $a:ident, $field:ident, Harm($name:literal)) => {
        $d.field($name, $b.map(|b| harm(b.$field)).unwrap_or_default(), harm($a.$field));
    };
    (@trail $d:ident, $w:ident, $b:ident, $a:ident, $field:ident, Words($name:literal)) => {
        let changed = match $b {
            Some(b) => b.$field != $a.$field,
            None => !$a.$field.is_empty_text(),
        };
        match $w.iter_mut().find(|(n, _)| *n == $name) {
            Some((_, c)) => *c |= changed,
            None => $w.push(($name, changed)),
        }
    };
}

fn harm(rank: i16) -> serde_json::Value {
    serde_json::Value::from(crate::incident::model::HarmLevel::from_rank(rank).as_str())
}

/// Whether a new incident's text column holds nothing (so its first value is no change).
trait EmptyText {
    fn is_empty_text(&self) -> bool;
}
impl EmptyText for String {
    fn is_empty_text(&self) -> bool {
        self.is_empty()
    }
}
impl<T> EmptyText for Option<T> {
    fn is_empty_text(&self) -> bool {
        self.is_none()
    }
}

// The GraphQL fields each text column serves, for `Brief::Blank`.
const PATIENT: &[&str] = &["patient"];
const EQUIPMENT: &[&str] = &["equipment"];

register! {
    id: Id => Brief::Read, Keep, Never;
    reference: Reference => Brief::Read, Keep, Field("reference");
    title: Title => Brief::Read, Clear = "Disposed record".into(), Words("title");
    description: Description => blank("''", &["description"]), Clear, Words("description");
    occurred_at: OccurredAt => Brief::Read, Keep, Field("occurredAt");
    reported_at: ReportedAt => Brief::Read, Keep, Never;
    department_id: DepartmentId => Brief::Read, Keep, Field("departmentId");
    location: Location => blank("NULL", &["location"]), Clear, Words("location");
    event_type: EventType => Brief::Read, Keep, Field("eventType");
    kind: Kind => Brief::Read, Keep, Field("kind");
    category: Category => Brief::Read, Clear, Field("category");
    near_miss: NearMiss => Brief::Read, Keep, Field("nearMiss");
    physical_harm: PhysicalHarm => Brief::Read, Keep, Harm("physicalHarm");
    psychological_harm: PsychologicalHarm => Brief::Read, Keep, Harm("psychologicalHarm");
    immediate_actions: ImmediateActions => blank("NULL", &["immediateActions"]), Clear, Words("immediateActions");
    patient_nhs_sealed: PatientNhsSealed => blank("NULL", PATIENT), Clear, Words("patient");
    patient_name_sealed: PatientNameSealed => blank("NULL", PATIENT), Clear, Words("patient");
    patient_dob_sealed: PatientDobSealed => blank("NULL", PATIENT), Clear, Words("patient");
    // Read on every page: each read of a patient's record is logged against the patient.
    patient_nhs_hash: PatientNhsHash => Brief::Read, Clear, Words("patient");
    equipment_asset_id: EquipmentAssetId => blank("NULL", EQUIPMENT), Clear, Words("equipment");
    equipment_manufacturer: EquipmentManufacturer => blank("NULL", EQUIPMENT), Clear, Words("equipment");
    equipment_model: EquipmentModel => blank("NULL", EQUIPMENT), Clear, Words("equipment");
    equipment_serial_number: EquipmentSerialNumber => blank("NULL", EQUIPMENT), Clear, Words("equipment");
    anonymous: Anonymous => Brief::Read, Keep, Field("anonymous");
    // Never in the trail: it is what lets an anonymous reporter in.
    follow_up_code_hash: FollowUpCodeHash => blank("NULL", &[]), Clear, Never;
    // The event's actor says who reported (and an anonymous report has none).
    reporter_id: ReporterId => Brief::Read, Keep, Never;
    handler_id: HandlerId => Brief::Read, Keep, Field("handlerId");
    learning_response: LearningResponse => Brief::Read, Keep, Field("learningResponse");
    learning_summary: LearningSummary => blank("NULL", &["learningSummary"]), Clear, Words("learningSummary");
    findings: Findings => blank("NULL", &["findings"]), Clear, Words("findings");
    feedback_to_reporter: FeedbackToReporter => blank("NULL", &["feedbackToReporter"]), Clear, Words("feedbackToReporter");
    duty_of_candour_applies: DutyOfCandourApplies => Brief::Read, Keep, Field("dutyOfCandourApplies");
    status: Status => Brief::Read, Keep, Field("status");
    status_reason: StatusReason => blank("NULL", &["statusReason"]), Clear, Words("statusReason");
    duplicate_of_id: DuplicateOfId => Brief::Read, Keep, Field("duplicateOfId");
    triaged_at: TriagedAt => Brief::Read, Keep, Field("triagedAt");
    closed_at: ClosedAt => Brief::Read, Keep, Field("closedAt");
    version: Version => Brief::Read, Stamp, Field("version");
    updated_at: UpdatedAt => Brief::Read, Stamp, Never;
    disposed_at: DisposedAt => Brief::Read, Stamp, Never;
    // `dutyOfCandour` reads the facts: prolonged psychological harm makes the duty apply.
    regulatory_facts: RegulatoryFacts => blank("'[]'", &["regulatoryFacts", "dutyOfCandour"]), Keep, Field("regulatoryFacts");
    // Codes from the LFPSE taxonomy (never free text), kept like the other facts.
    lfpse_answers: LfpseAnswers => blank("NULL", &["lfpseAnswers", "fhir"]), Keep, Field("lfpseAnswers");
    learning_response_override_reason: LearningResponseOverrideReason => blank("NULL", &["learningResponseOverrideReason"]), Clear, Words("learningResponseOverrideReason");
}

/// The columns a brief page reads.
pub fn brief_columns() -> impl Iterator<Item = C> {
    COLUMNS
        .iter()
        .filter(|s| matches!(s.brief, Brief::Read))
        .map(|s| s.column)
}

/// The columns a brief page leaves blank, with what stands in for each.
pub fn blanks() -> impl Iterator<Item = (&'static str, &'static str)> {
    COLUMNS.iter().filter_map(|s| match s.brief {
        Brief::Blank { sql, .. } => Some((s.name, sql)),
        Brief::Read => None,
    })
}

/// Whether an `Incident` field needs a column a brief page leaves blank.
pub fn needs_full_row(field: &str) -> bool {
    COLUMNS.iter().any(|s| match s.brief {
        Brief::Blank { fields, .. } => fields.contains(&field),
        Brief::Read => false,
    })
}

/// The GraphQL fields served from blank columns (for a page's look-ahead).
pub fn text_fields() -> impl Iterator<Item = &'static str> {
    let mut seen: Vec<&'static str> = Vec::new();
    for s in COLUMNS {
        if let Brief::Blank { fields, .. } = s.brief {
            for f in fields {
                if !seen.contains(f) {
                    seen.push(f);
                }
            }
        }
    }
    seen.into_iter()
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::{ColumnTrait, Iden, Iterable};

    #[test]
    fn every_column_of_the_table_is_in_the_register_in_order() {
        let table: Vec<String> = entities::incident::Column::iter()
            .map(|c| c.to_string())
            .collect();
        let register: Vec<String> = COLUMNS.iter().map(|s| s.name.to_string()).collect();
        assert_eq!(
            register, table,
            "classify every incident column in columns.rs"
        );
        for s in COLUMNS {
            assert_eq!(
                s.column.to_string(),
                s.name,
                "{} names another column",
                s.name
            );
            let _ = s.column.def();
        }
    }

    #[test]
    fn what_brief_pages_leave_out_is_what_the_text_fields_read() {
        let fields: Vec<&str> = text_fields().collect();
        for f in [
            "description",
            "immediateActions",
            "findings",
            "learningSummary",
            "feedbackToReporter",
            "statusReason",
            "location",
            "patient",
            "equipment",
            "regulatoryFacts",
            "dutyOfCandour",
            "lfpseAnswers",
            "fhir",
            "learningResponseOverrideReason",
        ] {
            assert!(fields.contains(&f), "{f}");
        }
        assert_eq!(fields.len(), 14);
        // Every blank column is cleared on disposal, except the facts, which the
        // tombstone keeps.
        for s in COLUMNS {
            if let Brief::Blank { .. } = s.brief {
                assert!(
                    s.disposal == Disposal::Clear || FACTS.contains(&s.name),
                    "{} is left out of brief pages but kept on disposal",
                    s.name
                );
            }
        }
    }

    /// Blank on brief pages but coded facts, not words: kept on disposal, and in the
    /// trail with their values (LFPSE answers refuse free text, see lfpse::taxonomy).
    const FACTS: &[&str] = &["regulatory_facts", "lfpse_answers"];

    #[test]
    fn text_never_reaches_the_trail_and_the_follow_up_code_not_at_all() {
        for s in COLUMNS {
            let text = matches!(s.brief, Brief::Blank { .. }) && !FACTS.contains(&s.name);
            if text {
                assert!(
                    matches!(s.trail, Trail::Words(_) | Trail::Never),
                    "{} is free text or personal data: the trail records only that it changed",
                    s.name
                );
            }
        }
        let code = COLUMNS
            .iter()
            .find(|s| s.name == "follow_up_code_hash")
            .unwrap();
        assert!(matches!(code.trail, Trail::Never));
    }
}
