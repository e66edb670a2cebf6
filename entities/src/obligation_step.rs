use sea_orm::entity::prelude::*;

/// A step taken on an obligation: a verbal or written notification, or a report submitted
/// (with the regulator's reference).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "obligation_step")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub obligation_id: Uuid,
    pub step: String,
    pub taken_at: DateTimeUtc,
    pub external_reference: Option<String>,
    pub recorded_by_id: Option<Uuid>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
