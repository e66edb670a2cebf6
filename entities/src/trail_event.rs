use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "trail_event")]
pub struct Model {
    /// UUID v7: time-ordered, so the primary key also orders events.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub occurred_at: DateTimeUtc,
    pub actor_id: Option<Uuid>,
    pub actor_label: Option<String>,
    pub actor_roles: Option<String>,
    pub entity_type: String,
    pub entity_id: Uuid,
    pub action: String,
    /// JSON array of `{field, before, after}`.
    pub changes: String,
    pub request_id: Option<String>,
    /// Place in the hash chain, given when the event is sealed (after its transaction
    /// committed); null until then.
    pub seq: Option<i64>,
    pub prev_hash: Option<String>,
    pub hash: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
