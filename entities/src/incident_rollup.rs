use sea_orm::entity::prelude::*;

/// How many incidents have a value of one dimension in one bucket of time.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "incident_rollup")]
pub struct Model {
    /// The nil UUID for the whole trust.
    #[sea_orm(primary_key, auto_increment = false)]
    pub department_id: Uuid,
    /// 1 day, 2 week (from Monday), 3 month, 4 year.
    #[sea_orm(primary_key, auto_increment = false)]
    pub grain: i16,
    #[sea_orm(primary_key, auto_increment = false)]
    pub dimension: i16,
    /// The first day of the bucket.
    #[sea_orm(primary_key, auto_increment = false)]
    pub bucket: Date,
    #[sea_orm(primary_key, auto_increment = false)]
    pub value: String,
    pub n: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
