use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_finding")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub audit_id: Uuid,
    pub criterion: String,
    /// The criterion trimmed and lower-cased (matches criteria across re-audits).
    pub criterion_key: String,
    pub target_percent: f64,
    pub sample_size: i32,
    pub compliant_count: i32,
    pub recorded_by_id: Option<Uuid>,
    pub recorded_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
