use sea_orm::entity::prelude::*;

/// A change to an incident's counted facts, not yet folded into the rollups: -1 with what
/// the facts were, +1 with what they are.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "incident_rollup_delta")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub sign: i16,
    pub department_id: Uuid,
    /// The trust's local date of the report.
    pub reported_day: Date,
    pub kind: String,
    pub physical_harm: i16,
    pub psychological_harm: i16,
    pub category: Option<String>,
    pub status: String,
    pub near_miss: bool,
    pub triaged_day: Option<Date>,
    pub triage_seconds: Option<i64>,
    pub closed_day: Option<Date>,
    pub close_seconds: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
