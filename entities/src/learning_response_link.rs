use sea_orm::entity::prelude::*;

/// An incident a learning response covers, or an improvement project it raised or is
/// linked to: exactly one of the two is set.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "learning_response_link")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub learning_response_id: Uuid,
    pub incident_id: Option<Uuid>,
    pub improvement_project_id: Option<Uuid>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
