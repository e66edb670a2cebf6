use sea_orm::entity::prelude::*;

/// One version of an incident queued for LFPSE, written in the transaction of the change
/// that made it and sent by a dispatcher. `status`: QUEUED (waiting or between attempts),
/// SENT, SUPERSEDED (a later version's send carried what this one held), DEAD.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "lfpse_submission")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub incident_id: Uuid,
    /// 1 for the incident's first version, then 2, 3, ...
    pub seq: i32,
    /// The hash of the resource this version held.
    pub content_hash: String,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: DateTimeUtc,
    /// Held by a dispatcher until then; another may take it after.
    pub lease_until: Option<DateTimeUtc>,
    pub leased_by: Option<String>,
    /// The last failure's class and LFPSE's issue codes, never the resource's content.
    pub last_error: Option<String>,
    pub created_at: DateTimeUtc,
    pub submitted_at: Option<DateTimeUtc>,
    /// CREATE (POST) or UPDATE (PUT), once sent.
    pub method: Option<String>,
    /// LFPSE's id for the resource (used for later PUTs), its meta.versionId, and the
    /// national reference number it returned.
    pub lfpse_id: Option<String>,
    pub lfpse_version: Option<String>,
    pub reference: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
