use sea_orm::entity::prelude::*;

/// An evidence file on a record, or an upload not yet attached (`owner_id` null). Its
/// bytes are in `attachment_chunk`, sealed with the data key `key_id`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "attachment")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Incident, CorrectiveAction, AuditFinding or ImprovementProject.
    pub owner_type: Option<String>,
    pub owner_id: Option<Uuid>,
    /// Keyed hash of the uploader's subject, while unattached.
    pub uploader_key: Option<String>,
    pub uploaded_by: Option<Uuid>,
    pub file_name: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub sha256: String,
    pub chunk_count: i32,
    pub key_id: String,
    pub complete: bool,
    /// AWAITING_SCAN, CLEAN, INFECTED or NOT_SCANNED.
    pub scan_status: String,
    pub scan_signature: Option<String>,
    pub scan_attempts: i32,
    pub scan_after: Option<DateTimeUtc>,
    pub scanned_at: Option<DateTimeUtc>,
    pub metadata_removed: String,
    pub created_at: DateTimeUtc,
    pub attached_at: Option<DateTimeUtc>,
    pub removed_at: Option<DateTimeUtc>,
    pub removed_by: Option<Uuid>,
    pub removal_reason: Option<String>,
    pub disposed_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
