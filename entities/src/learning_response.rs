use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "learning_response")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The PSIRF response: PSII, AFTER_ACTION_REVIEW, SWARM_HUDDLE, MDT_REVIEW or
    /// THEMATIC_REVIEW.
    pub kind: String,
    pub title: String,
    pub department_id: Uuid,
    /// Lower case; the lead may not have signed in yet.
    pub lead_email: String,
    /// The timeframe agreed with those affected.
    pub agreed_due_date: Date,
    /// With whom the timeframe was agreed, and any note on it (free text).
    pub timeframe_agreed_with: Option<String>,
    pub status: String,
    /// Why it was cancelled.
    pub status_reason: Option<String>,
    /// Free text, sensitive like an incident's description: every read is logged.
    pub findings: Option<String>,
    pub started_at: Option<DateTimeUtc>,
    /// When it was completed or cancelled.
    pub ended_at: Option<DateTimeUtc>,
    pub created_by_id: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub version: i32,
    /// When the content was removed at the end of its retention period.
    pub disposed_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
