use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "pdsa_cycle")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub project_id: Uuid,
    pub title: String,
    pub plan: Option<String>,
    #[sea_orm(column_name = "do")]
    pub do_: Option<String>,
    pub study: Option<String>,
    pub act: Option<String>,
    /// PLAN, DO, STUDY or ACT.
    pub stage: String,
    /// ADOPT, ADAPT or ABANDON, once the cycle is acted on.
    pub outcome: Option<String>,
    pub start_date: Date,
    pub end_date: Option<Date>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub version: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
