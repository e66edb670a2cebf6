use sea_orm::entity::prelude::*;

/// Something owed to a regulator or a patient because of an incident's facts: a clock
/// from a start event to a due time. `status`: OPEN, SUBMITTED, WITHDRAWN.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "obligation")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub incident_id: Uuid,
    pub department_id: Uuid,
    pub kind: String,
    pub name: String,
    pub owed_to: String,
    pub started_at: DateTimeUtc,
    pub due_at: DateTimeUtc,
    /// The step that meets it (WRITTEN_NOTIFICATION or REPORT_SUBMITTED).
    pub completed_by: String,
    pub status: String,
    pub external_reference: Option<String>,
    pub submitted_at: Option<DateTimeUtc>,
    pub withdrawn_reason: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
