use sea_orm::entity::prelude::*;

/// When the rollups were last recounted from the records, in which time zone, and their
/// generation (one row).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "rollup_meta")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i32,
    pub timezone: String,
    pub built_at: DateTimeUtc,
    /// Raised by every transaction that changes the rollups (a fold, a recount).
    pub generation: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
