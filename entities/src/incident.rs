use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "incident")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(unique)]
    pub reference: String,
    pub title: String,
    pub description: String,
    pub occurred_at: DateTimeUtc,
    pub reported_at: DateTimeUtc,
    pub department_id: Uuid,
    pub location: Option<String>,
    pub event_type: String,
    pub kind: String,
    pub category: Option<String>,
    pub near_miss: bool,
    /// LFPSE rank: 0 none, 1 low, 2 moderate, 3 severe, 4 fatal.
    pub physical_harm: i16,
    pub psychological_harm: i16,
    pub immediate_actions: Option<String>,
    /// Patient details, each sealed with AES-256-GCM (`v1.<key id>.<base64>`). The
    /// plaintext columns `patient_nhs_number`, `patient_name` and `patient_date_of_birth`
    /// of the first migration are kept empty: start-up seals anything found in them.
    pub patient_nhs_sealed: Option<String>,
    pub patient_name_sealed: Option<String>,
    pub patient_dob_sealed: Option<String>,
    /// Keyed hash (HMAC-SHA-256, hex) of the NHS number, for exact look-up.
    pub patient_nhs_hash: Option<String>,
    pub equipment_asset_id: Option<String>,
    pub equipment_manufacturer: Option<String>,
    pub equipment_model: Option<String>,
    pub equipment_serial_number: Option<String>,
    pub anonymous: bool,
    /// SHA-256 (hex) of an anonymous reporter's follow-up code.
    #[sea_orm(unique)]
    pub follow_up_code_hash: Option<String>,
    pub reporter_id: Option<Uuid>,
    pub handler_id: Option<Uuid>,
    pub learning_response: Option<String>,
    pub learning_summary: Option<String>,
    pub findings: Option<String>,
    pub feedback_to_reporter: Option<String>,
    pub duty_of_candour_applies: Option<bool>,
    pub status: String,
    pub status_reason: Option<String>,
    pub duplicate_of_id: Option<Uuid>,
    pub triaged_at: Option<DateTimeUtc>,
    pub closed_at: Option<DateTimeUtc>,
    pub version: i32,
    pub updated_at: DateTimeUtc,
    /// When the content was removed at the end of its retention period; the row stays as
    /// a tombstone.
    pub disposed_at: Option<DateTimeUtc>,
    /// JSON array of the facts regulatory obligations follow from (RegulatoryFact names).
    pub regulatory_facts: String,
    /// JSON object of the answers to LFPSE's questions Candour has no column for, keyed
    /// "Extension.Element" in the taxonomy's names; null when none were given.
    pub lfpse_answers: Option<String>,
    /// Why the learning response chosen differs from the one the patient safety incident
    /// response plan suggested (free text).
    pub learning_response_override_reason: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
