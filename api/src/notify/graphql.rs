//! The notifications part of the schema: the outbox and its deliveries (quality leads),
//! personal email preferences, and the obligations board.
use async_graphql::{ComplexObject, Context, InputObject, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};
use entities::{notification, obligation};
use uuid::Uuid;

pub use super::model::{NotificationStatus, ObligationStatus};
use super::rules::ObligationStepKind;
use super::{service, NotificationKind, QUEUED};
use crate::error::AppError;
use crate::graphql::connection::Connection;
use crate::graphql::{request, state};
use crate::record::ids::{self, Kind};
use crate::record::keyset::page_size;
use crate::record::text::reason;

type GqlResult<T> = async_graphql::Result<T>;

/// One email to one recipient.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct Notification {
    /// The email's global ID.
    pub id: ID,
    /// What the email is about.
    pub kind: NotificationKind,
    /// Mandatory kinds cannot be switched off by their recipients.
    pub mandatory: bool,
    /// Where the email is.
    pub status: NotificationStatus,
    /// The address it is sent to.
    pub recipient: String,
    /// The email's subject line.
    pub subject: String,
    /// The incident it concerns, when it concerns one.
    pub reference: Option<String>,
    /// The Message-ID every attempt carries, so a duplicate is recognisable.
    pub message_id: String,
    /// How many delivery attempts have been made.
    pub attempts: i32,
    /// Why the last attempt failed (a class and SMTP code, never the message).
    pub last_error: Option<String>,
    /// When it was queued.
    pub created_at: DateTime<Utc>,
    /// When the next attempt is due; null once SENT or DEAD.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// When the mail server accepted it; null until SENT.
    pub sent_at: Option<DateTime<Utc>>,
    #[graphql(skip)]
    pub uuid: Uuid,
}

impl From<notification::Model> for Notification {
    fn from(m: notification::Model) -> Self {
        let status = NotificationStatus::of(&m);
        Self {
            id: ids::encode(Kind::Notification, m.id),
            kind: NotificationKind::parse(&m.kind).unwrap_or(NotificationKind::IncidentReported),
            mandatory: m.mandatory,
            status,
            recipient: m.recipient,
            subject: m.subject,
            reference: m.reference,
            message_id: m.message_id,
            attempts: m.attempts,
            last_error: m.last_error,
            created_at: m.created_at,
            next_attempt_at: (m.status == QUEUED).then_some(m.next_attempt_at),
            sent_at: m.sent_at,
            uuid: m.id,
        }
    }
}

/// One try at delivering an email.
#[derive(SimpleObject)]
pub struct DeliveryAttempt {
    /// When the attempt was made.
    pub at: DateTime<Utc>,
    /// SENT or FAILED.
    pub outcome: String,
    /// Why it failed (a class and SMTP code, never the message); null when SENT.
    pub error: Option<String>,
    /// Which dispatcher tried (host, process and instance).
    pub worker: String,
}

#[ComplexObject]
impl Notification {
    /// Every attempt, oldest first.
    async fn deliveries(&self, ctx: &Context<'_>) -> GqlResult<Vec<DeliveryAttempt>> {
        let rows = service::deliveries(state(ctx), self.uuid).await?;
        Ok(rows
            .into_iter()
            .map(|r| DeliveryAttempt {
                at: r.attempted_at,
                outcome: r.outcome,
                error: r.error,
                worker: r.worker,
            })
            .collect())
    }
}

/// Filters for the outbox; all given must match.
#[derive(InputObject, Default)]
pub struct NotificationFilter {
    /// Any of these states.
    pub status: Option<Vec<NotificationStatus>>,
    /// Any of these kinds.
    pub kind: Option<Vec<NotificationKind>>,
    /// About this incident (its reference).
    pub reference: Option<String>,
    /// To this address.
    pub recipient: Option<String>,
}

/// A step recorded on an obligation.
#[derive(SimpleObject)]
pub struct ObligationStep {
    /// Which step.
    pub step: ObligationStepKind,
    /// When it was taken, as recorded.
    pub taken_at: DateTime<Utc>,
    /// The regulator's reference given with it, if any.
    pub external_reference: Option<String>,
}

/// Something owed to a patient or a regulator because of an incident: a clock from a
/// start event to a due time, met by a step.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct Obligation {
    /// The obligation's global ID.
    pub id: ID,
    /// The rule's code: DUTY_OF_CANDOUR, RIDDOR, IRMER_NOTIFICATION, IRMER_FULL_REPORT,
    /// ICO_BREACH, MHRA_YELLOW_CARD, SABRE, or an operator's own.
    pub kind: String,
    /// What is owed, in words.
    pub name: String,
    /// To whom it is owed, in words, e.g. `Health and Safety Executive`.
    pub owed_to: String,
    /// The incident's reference.
    pub reference: String,
    /// The incident it arises from.
    pub incident_id: ID,
    /// When its clock started: the incident's report or occurrence, as the rule says.
    pub started_at: DateTime<Utc>,
    /// When it is due.
    pub due_at: DateTime<Utc>,
    /// Whether it is still owed.
    pub status: ObligationStatus,
    /// Open and past its due time.
    pub overdue: bool,
    /// The step that meets it.
    pub completed_by: ObligationStepKind,
    /// The regulator's reference, once submitted.
    pub external_reference: Option<String>,
    /// When the step that met it was taken; null until SUBMITTED.
    pub submitted_at: Option<DateTime<Utc>>,
    /// Met after its due time.
    pub submitted_late: bool,
    /// Why it was withdrawn; null unless WITHDRAWN.
    pub withdrawn_reason: Option<String>,
    #[graphql(skip)]
    pub uuid: Uuid,
}

impl Obligation {
    pub fn of(m: obligation::Model, reference: String, now: DateTime<Utc>) -> Self {
        let status = ObligationStatus::parse(&m.status);
        Self {
            id: ids::encode(Kind::Obligation, m.id),
            kind: m.kind,
            name: m.name,
            owed_to: m.owed_to,
            reference,
            incident_id: ids::encode(Kind::Incident, m.incident_id),
            started_at: m.started_at,
            due_at: m.due_at,
            status,
            overdue: status == ObligationStatus::Open && now > m.due_at,
            completed_by: ObligationStepKind::parse(&m.completed_by)
                .unwrap_or(ObligationStepKind::ReportSubmitted),
            external_reference: m.external_reference,
            submitted_at: m.submitted_at,
            submitted_late: m.submitted_at.is_some_and(|s| s > m.due_at),
            withdrawn_reason: m.withdrawn_reason,
            uuid: m.id,
        }
    }
}

#[ComplexObject]
impl Obligation {
    /// Steps taken, in the order they were taken.
    async fn steps(&self, ctx: &Context<'_>) -> GqlResult<Vec<ObligationStep>> {
        let rows = service::obligation_steps(state(ctx), self.uuid).await?;
        Ok(rows
            .into_iter()
            .filter_map(|r| {
                Some(ObligationStep {
                    step: ObligationStepKind::parse(&r.step)?,
                    taken_at: r.taken_at,
                    external_reference: r.external_reference,
                })
            })
            .collect())
    }
}

/// Filters for the obligations board; all given must match.
#[derive(InputObject, Default)]
pub struct ObligationFilter {
    /// Due before this time.
    pub due_before: Option<DateTime<Utc>>,
    /// Only open ones past their due time (true), or only those not (false).
    pub overdue: Option<bool>,
    /// Any of these kinds.
    pub kind: Option<Vec<String>>,
    /// Any of these states; open only when not given.
    pub status: Option<Vec<ObligationStatus>>,
    /// Of this incident.
    pub incident_id: Option<ID>,
}

impl ObligationFilter {
    /// The domain's query: the `obligations` list and the CSV export read the same rows
    /// for the same filter.
    pub fn into_query(self) -> crate::error::AppResult<service::ObligationQuery> {
        let incident_id = match self.incident_id {
            Some(id) => match ids::decode(&id) {
                Some((Kind::Incident, uuid)) => Some(uuid),
                _ => {
                    return Err(
                        AppError::invalid("incidentId", "incidentId is not an incident id")
                            .because(reason::MALFORMED),
                    )
                }
            },
            None => None,
        };
        Ok(service::ObligationQuery {
            due_before: self.due_before,
            overdue: self.overdue,
            kinds: self.kind.unwrap_or_default(),
            statuses: self.status.unwrap_or_default(),
            incident_id,
        })
    }
}

/// Whether you receive one kind of email.
#[derive(SimpleObject)]
pub struct NotificationPreference {
    /// The kind of email.
    pub kind: NotificationKind,
    /// Whether you receive it.
    pub enabled: bool,
    /// Mandatory kinds are always sent.
    pub mandatory: bool,
}

#[derive(Default)]
pub struct NotifyQuery;

#[Object]
impl NotifyQuery {
    /// Emails in the outbox, newest first (quality leads): status, attempts and errors.
    async fn notifications(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "How many to return: 20 when not given, at most `limits.max_page_size` (100 by default)."
        )]
        first: Option<i32>,
        #[graphql(
            desc = "A cursor from the previous page (`pageInfo.endCursor`): the list continues after it."
        )]
        after: Option<String>,
        #[graphql(desc = "Which emails; every email when not given.")] filter: Option<
            NotificationFilter,
        >,
    ) -> GqlResult<Connection<Notification>> {
        let st = state(ctx);
        let first = page_size(first, st.settings.limits.max_page_size)?;
        let f = filter.unwrap_or_default();
        let q = service::NotificationQuery {
            statuses: f.status.unwrap_or_default(),
            kinds: f.kind.unwrap_or_default(),
            reference: f.reference,
            recipient: f.recipient,
        };
        let page = service::notifications(st, request(ctx), q, first, after.as_deref()).await?;
        Ok(Connection::of(page, Notification::from))
    }

    /// Everything owed to a regulator or a patient, soonest due first: quality leads see
    /// all departments, handlers their own. Open ones unless `filter.status` says otherwise.
    async fn obligations(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "How many to return: 20 when not given, at most `limits.max_page_size` (100 by default)."
        )]
        first: Option<i32>,
        #[graphql(
            desc = "A cursor from the previous page (`pageInfo.endCursor`): the list continues after it."
        )]
        after: Option<String>,
        #[graphql(desc = "Which obligations; the open ones the caller may see when not given.")]
        filter: Option<ObligationFilter>,
    ) -> GqlResult<Connection<Obligation>> {
        let st = state(ctx);
        request(ctx).principal()?;
        let first = page_size(first, st.settings.limits.max_page_size)?;
        let q = filter.unwrap_or_default().into_query()?;
        let page = service::obligations(st, request(ctx), q, first, after.as_deref()).await?;
        let now = Utc::now();
        Ok(Connection::of(page, |(m, r)| Obligation::of(m, r, now)))
    }

    /// Your email preferences: every kind, whether you receive it, and which are mandatory.
    async fn notification_preferences(
        &self,
        ctx: &Context<'_>,
    ) -> GqlResult<Vec<NotificationPreference>> {
        let off = service::switched_off(state(ctx), request(ctx)).await?;
        Ok(NotificationKind::ALL
            .into_iter()
            .map(|k| NotificationPreference {
                kind: k,
                mandatory: k.mandatory(),
                enabled: k.mandatory() || !off.iter().any(|o| o == k.as_str()),
            })
            .collect())
    }
}

/// A dead-lettered email to send again.
#[derive(InputObject)]
pub struct RetryNotificationInput {
    /// The email, DEAD.
    pub notification_id: ID,
}

/// The result of `retryNotification`.
#[derive(SimpleObject)]
pub struct NotificationPayload {
    /// The email, queued again.
    pub notification: Notification,
}

/// Whether you receive one kind of email.
#[derive(InputObject)]
pub struct SetNotificationPreferenceInput {
    /// The kind of email.
    pub kind: NotificationKind,
    /// True to receive it, false to switch it off (refused for mandatory kinds).
    pub enabled: bool,
}

/// The result of `setNotificationPreference`.
#[derive(SimpleObject)]
pub struct NotificationPreferencePayload {
    /// The preference as it now is.
    pub preference: NotificationPreference,
}

/// A step taken on an obligation.
#[derive(InputObject)]
pub struct RecordObligationStepInput {
    /// The obligation, not withdrawn.
    pub obligation_id: ID,
    /// The step taken; the obligation's `completedBy` step meets it.
    pub step: ObligationStepKind,
    /// When it was taken; now when not given.
    pub taken_at: Option<DateTime<Utc>>,
    /// The regulator's reference (required for REPORT_SUBMITTED).
    pub external_reference: Option<String>,
}

/// The result of `recordObligationStep`.
#[derive(SimpleObject)]
pub struct ObligationPayload {
    /// The obligation as it now is.
    pub obligation: Obligation,
}

#[derive(Default)]
pub struct NotifyMutation;

#[Object]
impl NotifyMutation {
    /// Puts a dead-lettered email back in the queue, due now (quality leads).
    async fn retry_notification(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The email to retry.")] input: RetryNotificationInput,
    ) -> GqlResult<NotificationPayload> {
        let id = match ids::decode(&input.notification_id) {
            Some((Kind::Notification, id)) => id,
            _ => {
                return Err(AppError::invalid(
                    "notificationId",
                    "notificationId is not a notification id",
                )
                .because(reason::MALFORMED)
                .into())
            }
        };
        let updated = service::retry(state(ctx), request(ctx), id).await?;
        Ok(NotificationPayload {
            notification: updated.into(),
        })
    }

    /// Switches one kind of email on or off for you. Mandatory kinds cannot be switched off.
    async fn set_notification_preference(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The kind and whether to receive it.")]
        input: SetNotificationPreferenceInput,
    ) -> GqlResult<NotificationPreferencePayload> {
        service::set_preference(state(ctx), request(ctx), input.kind, input.enabled).await?;
        Ok(NotificationPreferencePayload {
            preference: NotificationPreference {
                kind: input.kind,
                enabled: input.enabled,
                mandatory: input.kind.mandatory(),
            },
        })
    }

    /// Records a step taken on an obligation (the incident's handlers and quality leads):
    /// the step that meets it stops its reminders.
    async fn record_obligation_step(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The obligation and the step.")] input: RecordObligationStepInput,
    ) -> GqlResult<ObligationPayload> {
        let st = state(ctx);
        let id = match ids::decode(&input.obligation_id) {
            Some((Kind::Obligation, id)) => id,
            _ => {
                return Err(AppError::invalid(
                    "obligationId",
                    "obligationId is not an obligation id",
                )
                .because(reason::MALFORMED)
                .into())
            }
        };
        let (m, r) = crate::incident::obligations::record_step(
            st,
            request(ctx),
            crate::incident::obligations::StepRequest {
                obligation_id: id,
                step: input.step,
                taken_at: input.taken_at,
                external_reference: input.external_reference,
            },
        )
        .await?;
        Ok(ObligationPayload {
            obligation: Obligation::of(m, r, Utc::now()),
        })
    }
}

crate::listed!(
    Notification => "NotificationEdge", "NotificationConnection";
    Obligation => "ObligationEdge", "ObligationConnection";
);
