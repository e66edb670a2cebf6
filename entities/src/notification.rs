use sea_orm::entity::prelude::*;

/// One email to one recipient, written in the transaction of the change that caused it
/// and sent by a dispatcher. `status`: QUEUED (waiting or between attempts), SENT, DEAD.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "notification")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub kind: String,
    pub mandatory: bool,
    /// The occasion and recipient: unique, so each email is raised at most once.
    #[sea_orm(unique)]
    pub dedupe_key: String,
    pub recipient: String,
    pub recipient_staff_id: Option<Uuid>,
    pub subject: String,
    pub body_text: String,
    pub body_html: String,
    pub message_id: String,
    pub entity_type: Option<String>,
    pub entity_id: Option<Uuid>,
    pub reference: Option<String>,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: DateTimeUtc,
    /// Held by a dispatcher until then; another may take it after.
    pub lease_until: Option<DateTimeUtc>,
    pub leased_by: Option<String>,
    pub last_error: Option<String>,
    pub created_at: DateTimeUtc,
    pub sent_at: Option<DateTimeUtc>,
    /// The template variables (JSON) the bodies are rendered from when the email is sent;
    /// null for rows whose bodies were stored rendered.
    pub vars: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
