use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "corrective_action")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// INCIDENT, AUDIT_FINDING, IMPROVEMENT_PROJECT or LEARNING_RESPONSE.
    pub source_type: String,
    pub incident_id: Option<Uuid>,
    pub audit_finding_id: Option<Uuid>,
    pub improvement_project_id: Option<Uuid>,
    pub department_id: Uuid,
    pub title: String,
    pub description: Option<String>,
    /// Lower case; the owner may not have signed in yet.
    pub owner_email: String,
    pub due_date: Date,
    pub priority: String,
    pub status: String,
    pub effective: Option<bool>,
    pub verification_note: Option<String>,
    pub cancellation_reason: Option<String>,
    pub note: Option<String>,
    #[sea_orm(unique)]
    pub follow_up_of_id: Option<Uuid>,
    pub completed_at: Option<DateTimeUtc>,
    pub verified_at: Option<DateTimeUtc>,
    pub created_by_id: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub version: i32,
    pub learning_response_id: Option<Uuid>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
