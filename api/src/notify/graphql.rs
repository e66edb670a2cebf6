//! The notifications part of the schema: the outbox and its deliveries (quality leads),
//! personal email preferences, and the obligations board.
use async_graphql::{ComplexObject, Context, Enum, InputObject, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};
use entities::{
    notification, notification_attempt, notification_preference, obligation, obligation_step,
};
use sea_orm::sea_query::{OnConflict, Query};
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};
use uuid::Uuid;

use super::rules::ObligationStepKind;
use super::{obligations, NotificationKind, DEAD, QUEUED, SENT};
use crate::auth::Role;
use crate::error::AppError;
use crate::governance::graphql::Connection;
use crate::graphql::ids::{self, Kind};
use crate::graphql::pagination::{
    after_position, count_of, decode_cursor, encode_cursor, id_page, page_size, Position,
};
use crate::graphql::{request, state};

type GqlResult<T> = async_graphql::Result<T>;

/// Where an email is.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotificationStatus {
    /// Waiting for its first attempt.
    Queued,
    /// An attempt failed; another is due at `nextAttemptAt`.
    Retrying,
    /// Accepted by the mail server.
    Sent,
    /// Given up after the configured attempts (or refused outright); a quality lead may
    /// retry it.
    Dead,
}

impl NotificationStatus {
    fn of(m: &notification::Model) -> Self {
        match m.status.as_str() {
            SENT => Self::Sent,
            DEAD => Self::Dead,
            _ if m.attempts > 0 => Self::Retrying,
            _ => Self::Queued,
        }
    }
}

/// One email to one recipient.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct Notification {
    pub id: ID,
    pub kind: NotificationKind,
    /// Mandatory kinds cannot be switched off by their recipients.
    pub mandatory: bool,
    pub status: NotificationStatus,
    pub recipient: String,
    pub subject: String,
    /// The incident it concerns, when it concerns one.
    pub reference: Option<String>,
    /// The Message-ID every attempt carries, so a duplicate is recognisable.
    pub message_id: String,
    pub attempts: i32,
    /// Why the last attempt failed (a class and SMTP code, never the message).
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub next_attempt_at: Option<DateTime<Utc>>,
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
    pub at: DateTime<Utc>,
    /// SENT or FAILED.
    pub outcome: String,
    pub error: Option<String>,
    /// Which dispatcher tried (host, process and instance).
    pub worker: String,
}

#[ComplexObject]
impl Notification {
    /// Every attempt, oldest first.
    async fn deliveries(&self, ctx: &Context<'_>) -> GqlResult<Vec<DeliveryAttempt>> {
        let rows = notification_attempt::Entity::find()
            .filter(notification_attempt::Column::NotificationId.eq(self.uuid))
            .order_by_asc(notification_attempt::Column::Id)
            .all(&state(ctx).db.conn)
            .await
            .map_err(AppError::from)?;
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

/// Whether an obligation is still owed.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObligationStatus {
    /// The clock is running (or has run out: see `overdue`).
    Open,
    /// Met: the completing step is recorded.
    Submitted,
    /// The incident's facts changed and no longer call for it.
    Withdrawn,
}

impl ObligationStatus {
    fn parse(s: &str) -> Self {
        match s {
            obligations::SUBMITTED => Self::Submitted,
            obligations::WITHDRAWN => Self::Withdrawn,
            _ => Self::Open,
        }
    }
    fn as_str(self) -> &'static str {
        match self {
            Self::Open => obligations::OPEN,
            Self::Submitted => obligations::SUBMITTED,
            Self::Withdrawn => obligations::WITHDRAWN,
        }
    }
}

/// A step recorded on an obligation.
#[derive(SimpleObject)]
pub struct ObligationStep {
    pub step: ObligationStepKind,
    pub taken_at: DateTime<Utc>,
    pub external_reference: Option<String>,
}

/// Something owed to a patient or a regulator because of an incident: a clock from a
/// start event to a due time, met by a step.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct Obligation {
    pub id: ID,
    /// The rule's code: DUTY_OF_CANDOUR, RIDDOR, IRMER_NOTIFICATION, IRMER_FULL_REPORT,
    /// ICO_BREACH, MHRA_YELLOW_CARD, SABRE, or an operator's own.
    pub kind: String,
    /// What is owed, in words.
    pub name: String,
    pub owed_to: String,
    /// The incident's reference.
    pub reference: String,
    pub incident_id: ID,
    pub started_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
    pub status: ObligationStatus,
    /// Open and past its due time.
    pub overdue: bool,
    /// The step that meets it.
    pub completed_by: ObligationStepKind,
    /// The regulator's reference, once submitted.
    pub external_reference: Option<String>,
    pub submitted_at: Option<DateTime<Utc>>,
    /// Met after its due time.
    pub submitted_late: bool,
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
        let rows = obligation_step::Entity::find()
            .filter(obligation_step::Column::ObligationId.eq(self.uuid))
            .order_by_asc(obligation_step::Column::TakenAt)
            .all(&state(ctx).db.conn)
            .await
            .map_err(AppError::from)?;
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

/// Whether you receive one kind of email.
#[derive(SimpleObject)]
pub struct NotificationPreference {
    pub kind: NotificationKind,
    pub enabled: bool,
    /// Mandatory kinds are always sent.
    pub mandatory: bool,
}

#[derive(Default)]
pub struct NotifyQuery;

fn require_quality_lead(ctx: &Context<'_>, what: &str) -> GqlResult<()> {
    let p = request(ctx).principal()?;
    if !p.has_role(Role::QualityLead) {
        return Err(AppError::forbidden(format!("only quality leads may {what}")).into());
    }
    Ok(())
}

#[Object]
impl NotifyQuery {
    /// Emails in the outbox, newest first (quality leads): status, attempts and errors.
    async fn notifications(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<NotificationFilter>,
    ) -> GqlResult<Connection<Notification>> {
        let st = state(ctx);
        require_quality_lead(ctx, "list notifications")?;
        let first = page_size(first, st.settings.limits.max_page_size)?;
        let f = filter.unwrap_or_default();
        let mut query = notification::Entity::find();
        if let Some(statuses) = f.status.filter(|s| !s.is_empty()) {
            let mut any = Condition::any();
            for s in statuses {
                any = any.add(match s {
                    NotificationStatus::Queued => Condition::all()
                        .add(notification::Column::Status.eq(QUEUED))
                        .add(notification::Column::Attempts.eq(0)),
                    NotificationStatus::Retrying => Condition::all()
                        .add(notification::Column::Status.eq(QUEUED))
                        .add(notification::Column::Attempts.gt(0)),
                    NotificationStatus::Sent => {
                        Condition::all().add(notification::Column::Status.eq(SENT))
                    }
                    NotificationStatus::Dead => {
                        Condition::all().add(notification::Column::Status.eq(DEAD))
                    }
                });
            }
            query = query.filter(any);
        }
        if let Some(kinds) = f.kind.filter(|k| !k.is_empty()) {
            query =
                query.filter(notification::Column::Kind.is_in(kinds.iter().map(|k| k.as_str())));
        }
        if let Some(r) = f.reference {
            query = query.filter(notification::Column::Reference.eq(r.trim().to_ascii_uppercase()));
        }
        if let Some(r) = f.recipient {
            query = query.filter(notification::Column::Recipient.eq(r.trim().to_lowercase()));
        }
        let after = after.map(|a| decode_cursor::<Uuid>(&a)).transpose()?;
        let (rows, more) = id_page(
            &st.db.conn,
            query.clone(),
            notification::Column::Id,
            first,
            after,
            true,
        )
        .await?;
        Ok(Connection::page(
            rows,
            more,
            after.is_some(),
            |m| encode_cursor(&m.id),
            Notification::from,
            count_of(query),
        ))
    }

    /// Everything owed to a regulator or a patient, soonest due first: quality leads see
    /// all departments, handlers their own. Open ones unless `filter.status` says otherwise.
    async fn obligations(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<ObligationFilter>,
    ) -> GqlResult<Connection<Obligation>> {
        let st = state(ctx);
        let p = request(ctx).principal()?;
        let first = page_size(first, st.settings.limits.max_page_size)?;
        let mut query = obligation::Entity::find();
        if !p.has_role(Role::QualityLead) {
            if !p.has_role(Role::Handler) {
                return Err(AppError::forbidden(
                    "only handlers and quality leads may list obligations",
                )
                .into());
            }
            query = query.filter(
                obligation::Column::DepartmentId.in_subquery(
                    Query::select()
                        .column(entities::department::Column::Id)
                        .from(entities::department::Entity)
                        .and_where(
                            entities::department::Column::Code
                                .is_in(p.department_codes.iter().cloned()),
                        )
                        .to_owned(),
                ),
            );
        }
        let f = filter.unwrap_or_default();
        let statuses = f
            .status
            .filter(|s| !s.is_empty())
            .unwrap_or(vec![ObligationStatus::Open]);
        query = query.filter(obligation::Column::Status.is_in(statuses.iter().map(|s| s.as_str())));
        let now = Utc::now();
        if let Some(before) = f.due_before {
            query = query.filter(obligation::Column::DueAt.lt(before));
        }
        match f.overdue {
            Some(true) => {
                query = query
                    .filter(obligation::Column::Status.eq(obligations::OPEN))
                    .filter(obligation::Column::DueAt.lt(now))
            }
            Some(false) => {
                query = query.filter(
                    Condition::any()
                        .add(obligation::Column::Status.ne(obligations::OPEN))
                        .add(obligation::Column::DueAt.gte(now)),
                )
            }
            None => {}
        }
        if let Some(kinds) = f.kind.filter(|k| !k.is_empty()) {
            query = query.filter(obligation::Column::Kind.is_in(kinds));
        }
        if let Some(id) = f.incident_id {
            let (kind, uuid) = ids::decode(&id).ok_or_else(|| {
                AppError::invalid("incidentId", "incidentId is not an incident id")
            })?;
            if kind != Kind::Incident {
                return Err(
                    AppError::invalid("incidentId", "incidentId is not an incident id").into(),
                );
            }
            query = query.filter(obligation::Column::IncidentId.eq(uuid));
        }
        let count = count_of(query.clone());
        let mut page = query
            .order_by_asc(obligation::Column::DueAt)
            .order_by_asc(obligation::Column::Id);
        let had_after = after.is_some();
        if let Some(a) = after {
            let pos: Position = decode_cursor(&a)?;
            let v: DateTime<Utc> = serde_json::from_value(pos.v)
                .map_err(|_| AppError::invalid("after", "after is not a cursor from this list"))?;
            page = page.filter(after_position(
                obligation::Column::DueAt,
                v.into(),
                obligation::Column::Id,
                pos.id,
                true,
            ));
        }
        let mut rows = page
            .limit(first + 1)
            .all(&st.db.conn)
            .await
            .map_err(AppError::from)?;
        let more = rows.len() as u64 > first;
        rows.truncate(first as usize);
        let refs = incident_references(st, rows.iter().map(|o| o.incident_id).collect()).await?;
        Ok(Connection::page(
            rows,
            more,
            had_after,
            |m| {
                encode_cursor(&Position {
                    v: serde_json::to_value(m.due_at).unwrap_or_default(),
                    id: m.id,
                })
            },
            |m| {
                let r = refs.get(&m.incident_id).cloned().unwrap_or_default();
                Obligation::of(m, r, now)
            },
            count,
        ))
    }

    /// Your email preferences: every kind, whether you receive it, and which are mandatory.
    async fn notification_preferences(
        &self,
        ctx: &Context<'_>,
    ) -> GqlResult<Vec<NotificationPreference>> {
        let st = state(ctx);
        let rc = request(ctx);
        let p = rc.principal()?;
        if p.is_service() {
            return Err(AppError::forbidden("service accounts receive no email").into());
        }
        let me = rc.staff_id(st).await?;
        let off: Vec<String> = match me {
            Some(id) => notification_preference::Entity::find()
                .filter(notification_preference::Column::StaffId.eq(id))
                .filter(notification_preference::Column::Enabled.eq(false))
                .all(&st.db.conn)
                .await
                .map_err(AppError::from)?
                .into_iter()
                .map(|p| p.kind)
                .collect(),
            None => Vec::new(),
        };
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

/// References of incidents by id, in one query.
pub async fn incident_references(
    st: &crate::context::AppState,
    ids: Vec<Uuid>,
) -> GqlResult<std::collections::HashMap<Uuid, String>> {
    if ids.is_empty() {
        return Ok(Default::default());
    }
    let rows: Vec<(Uuid, String)> = entities::incident::Entity::find()
        .select_only()
        .column(entities::incident::Column::Id)
        .column(entities::incident::Column::Reference)
        .filter(entities::incident::Column::Id.is_in(ids))
        .into_tuple()
        .all(&st.db.conn)
        .await
        .map_err(AppError::from)?;
    Ok(rows.into_iter().collect())
}

#[derive(InputObject)]
pub struct RetryNotificationInput {
    pub notification_id: ID,
}

#[derive(SimpleObject)]
pub struct NotificationPayload {
    pub notification: Notification,
}

#[derive(InputObject)]
pub struct SetNotificationPreferenceInput {
    pub kind: NotificationKind,
    pub enabled: bool,
}

#[derive(SimpleObject)]
pub struct NotificationPreferencePayload {
    pub preference: NotificationPreference,
}

#[derive(InputObject)]
pub struct RecordObligationStepInput {
    pub obligation_id: ID,
    pub step: ObligationStepKind,
    /// When it was taken; now when not given.
    pub taken_at: Option<DateTime<Utc>>,
    /// The regulator's reference (required for REPORT_SUBMITTED).
    pub external_reference: Option<String>,
}

#[derive(SimpleObject)]
pub struct ObligationPayload {
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
        input: RetryNotificationInput,
    ) -> GqlResult<NotificationPayload> {
        let st = state(ctx);
        require_quality_lead(ctx, "retry notifications")?;
        let id = match ids::decode(&input.notification_id) {
            Some((Kind::Notification, id)) => id,
            _ => {
                return Err(AppError::invalid(
                    "notificationId",
                    "notificationId is not a notification id",
                )
                .into())
            }
        };
        let tx = st.db.begin_write().await?;
        let n = notification::Entity::find_by_id(id)
            .one(&*tx)
            .await
            .map_err(AppError::from)?
            .ok_or(AppError::NotFound("notification"))?;
        if n.status != DEAD {
            return Err(AppError::invalid(
                "notificationId",
                "only a dead-lettered notification can be retried",
            )
            .into());
        }
        let updated = notification::Entity::update(super::dispatch::requeue(n))
            .exec(&*tx)
            .await
            .map_err(AppError::from)?;
        tx.commit().await?;
        Ok(NotificationPayload {
            notification: updated.into(),
        })
    }

    /// Switches one kind of email on or off for you. Mandatory kinds cannot be switched off.
    async fn set_notification_preference(
        &self,
        ctx: &Context<'_>,
        input: SetNotificationPreferenceInput,
    ) -> GqlResult<NotificationPreferencePayload> {
        let st = state(ctx);
        let rc = request(ctx);
        let p = rc.principal()?;
        if p.is_service() {
            return Err(AppError::forbidden("service accounts receive no email").into());
        }
        if input.kind.mandatory() && !input.enabled {
            return Err(AppError::invalid(
                "kind",
                "this kind of email is mandatory and cannot be switched off",
            )
            .into());
        }
        let me = rc
            .staff_id(st)
            .await?
            .ok_or_else(|| AppError::forbidden("no staff record for this token"))?;
        let row = notification_preference::ActiveModel {
            staff_id: Set(me),
            kind: Set(input.kind.as_str().into()),
            enabled: Set(input.enabled),
            updated_at: Set(Utc::now()),
        };
        let tx = st.db.begin_write().await?;
        notification_preference::Entity::insert(row)
            .on_conflict(
                OnConflict::columns([
                    notification_preference::Column::StaffId,
                    notification_preference::Column::Kind,
                ])
                .update_columns([
                    notification_preference::Column::Enabled,
                    notification_preference::Column::UpdatedAt,
                ])
                .to_owned(),
            )
            .exec_without_returning(&*tx)
            .await
            .map_err(AppError::from)?;
        tx.commit().await?;
        st.notifier.recipients.preferences_changed();
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
        input: RecordObligationStepInput,
    ) -> GqlResult<ObligationPayload> {
        let st = state(ctx);
        let id = match ids::decode(&input.obligation_id) {
            Some((Kind::Obligation, id)) => id,
            _ => {
                return Err(AppError::invalid(
                    "obligationId",
                    "obligationId is not an obligation id",
                )
                .into())
            }
        };
        let m = obligations::record_step(
            st,
            request(ctx),
            obligations::StepRequest {
                obligation_id: id,
                step: input.step,
                taken_at: input.taken_at,
                external_reference: input.external_reference,
            },
        )
        .await?;
        let refs = incident_references(st, vec![m.incident_id]).await?;
        let r = refs.get(&m.incident_id).cloned().unwrap_or_default();
        Ok(ObligationPayload {
            obligation: Obligation::of(m, r, Utc::now()),
        })
    }
}
