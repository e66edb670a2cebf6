use sea_orm::entity::prelude::*;

/// One read of a record's sensitive fields in one request.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "access_event")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub at: DateTimeUtc,
    pub actor_id: Option<Uuid>,
    pub actor_label: Option<String>,
    pub actor_roles: Option<String>,
    pub entity_type: String,
    pub entity_id: Uuid,
    /// Comma-separated GraphQL field names.
    pub fields: String,
    pub request_id: Option<String>,
    pub purpose: Option<String>,
    pub break_glass: bool,
    /// Keyed hash of the NHS number of the patient the record names.
    pub patient_key: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
