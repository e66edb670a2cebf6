//! Notifications and deadlines (DESIGN §5). Rules turn domain events into emails written to
//! the outbox in the same transaction as the change (`enqueue`); a dispatcher sends them
//! (`dispatch`); a scheduler raises deadline reminders once each (`schedule`); regulatory
//! obligations follow from incidents' facts by rules held as data (`rules`, `obligations`).
pub mod calendar;
pub mod dispatch;
pub mod events;
pub mod graphql;
pub mod model;
pub mod obligations;
pub mod recipients;
pub mod rules;
pub mod schedule;
pub mod service;
pub mod templates;

use std::sync::Arc;

use async_graphql::Enum;
use chrono::{DateTime, Utc};
use entities::notification;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ConnectionTrait, EntityTrait, Set};
use tokio::sync::Notify;
use uuid::Uuid;

use crate::config::Settings;
use crate::error::{AppError, AppResult};

/// What an email is about. Mandatory kinds go to everyone they are addressed to; the
/// others can be switched off per person.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NotificationKind {
    /// An incident was reported to your department (handlers).
    IncidentReported,
    /// An incident of moderate harm or worse was reported (handlers and quality leads).
    /// Mandatory.
    SeriousIncidentReported,
    /// A corrective action was assigned to you.
    ActionAssigned,
    /// A corrective action you own is due in 7 days.
    ActionDueSoon,
    /// A corrective action you own is due today.
    ActionDueToday,
    /// A corrective action you own is overdue.
    ActionOverdue,
    /// A corrective action is 14 days overdue (the incident's handler or quality leads).
    /// Mandatory.
    ActionEscalated,
    /// An incident you reported was closed, with what was learned.
    IncidentClosed,
    /// An audit you lead is due to start within 7 days.
    AuditDue,
    /// A duty-of-candour or regulatory deadline is near. Mandatory.
    ObligationDueSoon,
    /// A duty-of-candour or regulatory deadline passed unmet. Mandatory.
    ObligationMissed,
}

crate::stored_enum!(NotificationKind {
    IncidentReported => "INCIDENT_REPORTED",
    SeriousIncidentReported => "SERIOUS_INCIDENT_REPORTED",
    ActionAssigned => "ACTION_ASSIGNED",
    ActionDueSoon => "ACTION_DUE_SOON",
    ActionDueToday => "ACTION_DUE_TODAY",
    ActionOverdue => "ACTION_OVERDUE",
    ActionEscalated => "ACTION_ESCALATED",
    IncidentClosed => "INCIDENT_CLOSED",
    AuditDue => "AUDIT_DUE",
    ObligationDueSoon => "OBLIGATION_DUE_SOON",
    ObligationMissed => "OBLIGATION_MISSED",
});

impl NotificationKind {
    /// Escalations and anything owed to a patient or a regulator cannot be switched off.
    pub fn mandatory(self) -> bool {
        matches!(
            self,
            Self::SeriousIncidentReported
                | Self::ActionEscalated
                | Self::ObligationDueSoon
                | Self::ObligationMissed
        )
    }

    /// The templates' base name.
    pub fn template(self) -> &'static str {
        match self {
            Self::IncidentReported => "incident_reported",
            Self::SeriousIncidentReported => "serious_incident_reported",
            Self::ActionAssigned => "action_assigned",
            Self::ActionDueSoon => "action_due_soon",
            Self::ActionDueToday => "action_due_today",
            Self::ActionOverdue => "action_overdue",
            Self::ActionEscalated => "action_escalated",
            Self::IncidentClosed => "incident_closed",
            Self::AuditDue => "audit_due",
            Self::ObligationDueSoon => "obligation_due_soon",
            Self::ObligationMissed => "obligation_missed",
        }
    }
}

/// Delivery states as stored.
pub const QUEUED: &str = "QUEUED";
pub const SENT: &str = "SENT";
pub const DEAD: &str = "DEAD";

/// Shared by the outbox writers, the dispatcher and the scheduler of one process.
pub struct Notifier {
    /// Shared with the dispatcher, which renders the bodies when it sends.
    pub templates: Arc<templates::Templates>,
    pub calendar: calendar::WorkingCalendar,
    pub tz: chrono_tz::Tz,
    /// Woken after commits that may have queued email, so it goes out promptly.
    pub wake: Arc<Notify>,
    /// The host part of Message-IDs.
    pub message_host: String,
    /// Staff by role and switched-off kinds, briefly cached.
    pub recipients: recipients::Cache,
}

impl Notifier {
    pub fn new(settings: &Settings, wake: Arc<Notify>) -> Result<Self, String> {
        let templates = Arc::new(templates::Templates::load(
            settings.notify.templates_dir.clone(),
        )?);
        let calendar = calendar::WorkingCalendar::new(&settings.bank_holidays)?;
        let tz = settings
            .timezone
            .parse()
            .map_err(|_| "timezone: not an IANA time zone".to_string())?;
        let message_host = settings
            .public_url
            .split("://")
            .nth(1)
            .and_then(|rest| rest.split(['/', ':']).next())
            .filter(|h| !h.is_empty())
            .unwrap_or("candour.localhost")
            .to_string();
        Ok(Self {
            templates,
            calendar,
            tz,
            wake,
            message_host,
            recipients: Default::default(),
        })
    }

    /// The time reminders are computed at: the real time, or `notify.clock` in drills.
    pub fn now(settings: &Settings) -> DateTime<Utc> {
        settings.notify.clock.unwrap_or_else(Utc::now)
    }
}

/// Someone an email goes to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Recipient {
    /// Lower-case address.
    pub email: String,
    /// The staff member, for their preferences; None for a distribution address.
    pub staff_id: Option<Uuid>,
}

/// One email for one or more recipients, before rendering.
pub struct Draft {
    pub kind: NotificationKind,
    /// Names the occasion, e.g. `incident.reported:<id>`: with the recipient it makes the
    /// email's dedupe key, so the same occasion never emails the same person twice.
    pub occasion: String,
    pub entity_type: &'static str,
    pub entity_id: Uuid,
    pub reference: Option<String>,
    /// Template variables (never a sensitive value).
    pub vars: serde_json::Value,
}

/// Writes `draft` to the outbox for each recipient who has not switched its kind off, in
/// the caller's transaction. Returns how many were queued (a repeat occasion queues none).
pub async fn enqueue<C: ConnectionTrait>(
    conn: &C,
    notifier: &Notifier,
    draft: Draft,
    recipients: Vec<Recipient>,
) -> AppResult<usize> {
    let Some((insert, n)) = outbox_insert(conn, notifier, draft, recipients).await? else {
        return Ok(0);
    };
    let inserted = conn
        .execute(conn.get_database_backend().build(&insert))
        .await?
        .rows_affected() as usize;
    Ok(inserted.min(n))
}

/// The outbox rows of `draft` for each recipient who has not switched its kind off, as one
/// insert for the caller to send (a repeat of an occasion inserts nothing); and how many
/// rows. None when nobody is to receive it.
pub async fn outbox_insert<C: ConnectionTrait>(
    conn: &C,
    notifier: &Notifier,
    draft: Draft,
    recipients: Vec<Recipient>,
) -> AppResult<Option<(sea_orm::sea_query::InsertStatement, usize)>> {
    use sea_orm::QueryTrait;
    let mut recipients = recipients;
    recipients.sort();
    recipients.dedup_by(|a, b| a.email == b.email);
    if !draft.kind.mandatory() {
        let mut kept = Vec::with_capacity(recipients.len());
        for r in recipients {
            let off = match r.staff_id {
                Some(s) => {
                    notifier
                        .recipients
                        .switched_off(conn, s, draft.kind.as_str())
                        .await?
                }
                None => false,
            };
            if !off {
                kept.push(r);
            }
        }
        recipients = kept;
    }
    if recipients.is_empty() {
        return Ok(None);
    }
    let mut vars = draft.vars;
    if let Some(map) = vars.as_object_mut() {
        map.insert("mandatory".into(), draft.kind.mandatory().into());
        map.insert("kind_name".into(), draft.kind.as_str().into());
    }
    // The subject now (the outbox list shows it); the bodies when the email is sent, from
    // these variables: a report to a department's five handlers then writes five short
    // rows, not ten rendered bodies.
    let subject = notifier
        .templates
        .subject(draft.kind.template(), &vars)
        .map_err(AppError::Internal)?;
    let vars_text = serde_json::to_string(&vars).unwrap_or_else(|_| "{}".into());
    let now = Utc::now();
    let rows: Vec<notification::ActiveModel> = recipients
        .iter()
        .map(|r| {
            let id = Uuid::now_v7();
            notification::ActiveModel {
                id: Set(id),
                kind: Set(draft.kind.as_str().into()),
                mandatory: Set(draft.kind.mandatory()),
                dedupe_key: Set(format!("{}|{}", draft.occasion, r.email)),
                recipient: Set(r.email.clone()),
                recipient_staff_id: Set(r.staff_id),
                subject: Set(subject.clone()),
                body_text: Set(String::new()),
                body_html: Set(String::new()),
                vars: Set(Some(vars_text.clone())),
                message_id: Set(format!("{id}@{}", notifier.message_host)),
                entity_type: Set(Some(draft.entity_type.into())),
                entity_id: Set(Some(draft.entity_id)),
                reference: Set(draft.reference.clone()),
                status: Set(QUEUED.into()),
                attempts: Set(0),
                next_attempt_at: Set(now),
                lease_until: Set(None),
                leased_by: Set(None),
                last_error: Set(None),
                created_at: Set(now),
                sent_at: Set(None),
            }
        })
        .collect();
    let n = rows.len();
    // A repeat of an occasion (another instance's scheduler, a restart) inserts nothing.
    let insert = notification::Entity::insert_many(rows)
        .on_conflict(
            OnConflict::column(notification::Column::DedupeKey)
                .do_nothing()
                .to_owned(),
        )
        .into_query();
    Ok(Some((insert, n)))
}

/// The link to a record in the intranet pages.
pub fn link(settings: &Settings, path: &str) -> String {
    format!("{}/{}", settings.public_url.trim_end_matches('/'), path)
}
