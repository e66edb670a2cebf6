use sea_orm::entity::prelude::*;

/// A receiver an admin registered: where deliveries go, which events, and the secret they
/// are signed with (sealed with the data key).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_endpoint")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub url: String,
    pub description: Option<String>,
    /// JSON array of event names (`incident.reported`, ...).
    pub events: String,
    /// JSON array of department ids; empty for every department.
    pub department_ids: String,
    /// JSON array of incident kinds; empty for every kind.
    pub kinds: String,
    pub min_harm: Option<i16>,
    pub secret: String,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    /// Failed attempts in a row.
    pub failures: i32,
    pub created_at: DateTimeUtc,
    pub created_by: String,
    pub version: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
