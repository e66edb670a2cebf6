use sea_orm::entity::prelude::*;

/// One event queued for one endpoint. `status`: QUEUED (waiting or between attempts),
/// DELIVERED, DEAD (given up, or refused for good; an admin may retry it).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_delivery")]
pub struct Model {
    /// Also the `webhook-id` header: the same on every attempt, for receivers to dedupe.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub endpoint_id: Uuid,
    /// The trail event announced; null for a test delivery.
    pub event_seq: Option<i64>,
    pub event_type: String,
    pub payload: String,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: DateTimeUtc,
    pub lease_until: Option<DateTimeUtc>,
    pub leased_by: Option<String>,
    /// The HTTP status of the last answer, if there was one.
    pub last_status: Option<i32>,
    /// The last failure's class (never the receiver's text).
    pub last_error: Option<String>,
    pub created_at: DateTimeUtc,
    pub delivered_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
