use sea_orm::entity::prelude::*;

/// How many corrective actions of one department and owner are in one state.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "action_rollup")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub department_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub owner_email: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub status: String,
    /// The due date of open actions; 1970-01-01 for the others.
    #[sea_orm(primary_key, auto_increment = false)]
    pub due_date: Date,
    /// Bits: 1 completed on time, 2 verified effective.
    #[sea_orm(primary_key, auto_increment = false)]
    pub flags: i16,
    pub n: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
