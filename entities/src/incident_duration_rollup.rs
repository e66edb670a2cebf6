use sea_orm::entity::prelude::*;

/// The durations (time to triage or to close) of one bucket of time, as a sketch.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "incident_duration_rollup")]
pub struct Model {
    /// The nil UUID for the whole trust.
    #[sea_orm(primary_key, auto_increment = false)]
    pub department_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub grain: i16,
    /// 1 time to triage, 2 time to close.
    #[sea_orm(primary_key, auto_increment = false)]
    pub metric: i16,
    #[sea_orm(primary_key, auto_increment = false)]
    pub bucket: Date,
    /// JSON `[[bin, count], ...]`.
    pub sketch: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
