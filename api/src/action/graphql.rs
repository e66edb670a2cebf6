//! Corrective actions in the GraphQL schema.
use async_graphql::{Context, InputObject, Object, SimpleObject, Union, ID};
use chrono::{DateTime, Utc};

use crate::record::scalars::Date;

use super::model::{CorrectiveActionOrderField, CorrectiveActionStatus, Priority};
use super::service::{self, ActionChange, ActionFilter, NewAction, Source};
use super::workflow::{self, Access};
use crate::error::AppError;
use crate::graphql::connection::Connection;
use crate::graphql::loaders::Loaders;
use crate::graphql::{request, state};
use crate::incident::graphql::Incident;
use crate::org::graphql::{Department, StaffMember};
use crate::record::ids::{self, Kind};
use crate::record::keyset::page_size;
use crate::record::OrderDirection;
use crate::trail::graphql::TrailEvent;
use entities::corrective_action as action;

type GqlResult<T> = async_graphql::Result<T>;

pub struct CorrectiveAction {
    m: Box<action::Model>,
    access: Access,
}

impl CorrectiveAction {
    pub fn new(m: action::Model, access: Access) -> Self {
        Self {
            m: Box::new(m),
            access,
        }
    }

    /// Wraps a loaded row if the caller may see it.
    pub async fn visible(ctx: &Context<'_>, m: action::Model) -> GqlResult<Option<Self>> {
        let access = service::access_to(state(ctx), request(ctx), &m).await?;
        Ok(access.view.then(|| Self::new(m, access)))
    }

    /// A free-text field: its read (when it holds anything) is noted for the access log.
    fn logged<'a>(
        &self,
        ctx: &Context<'_>,
        field: &'static str,
        text: Option<&'a str>,
    ) -> Option<&'a str> {
        service::note_read(request(ctx), self.m.id, field, text)
    }
}

/// What an action was raised from.
#[derive(Union)]
pub enum CorrectiveActionSource {
    Incident(Incident),
    AuditFinding(crate::audit::graphql::AuditFinding),
    ImprovementProject(crate::improvement::graphql::ImprovementProject),
    LearningResponse(crate::learning::graphql::LearningResponse),
}

/// A corrective or preventive action: owned, due, carried out and verified.
#[Object]
impl CorrectiveAction {
    /// The action's global ID.
    pub async fn id(&self) -> ID {
        ids::encode(Kind::CorrectiveAction, self.m.id)
    }
    /// Evidence files on it (e.g. the proof an action was done).
    async fn attachments(
        &self,
        ctx: &Context<'_>,
    ) -> GqlResult<Option<Vec<crate::attachment::graphql::Attachment>>> {
        crate::attachment::graphql::of_record(
            ctx,
            crate::attachment::service::OwnerKind::CorrectiveAction,
            self.m.id,
            self.access.view,
            None,
        )
        .await
    }
    /// What is to be done, in short (at most 200 characters).
    async fn title(&self) -> &str {
        &self.m.title
    }
    /// Free text: every read is logged, like an incident's description.
    async fn description(&self, ctx: &Context<'_>) -> Option<&str> {
        self.logged(ctx, "description", self.m.description.as_deref())
    }
    /// Where the action is.
    async fn status(&self) -> CorrectiveActionStatus {
        CorrectiveActionStatus::parse(&self.m.status).unwrap_or(CorrectiveActionStatus::Open)
    }
    /// Send this back as `expectedVersion` with the next change.
    async fn version(&self) -> i32 {
        self.m.version
    }
    /// How urgent it is (MEDIUM unless set).
    async fn priority(&self) -> Priority {
        Priority::parse(&self.m.priority).unwrap_or_default()
    }
    /// The day it is due by, in the trust's time zone.
    async fn due_date(&self) -> Date {
        Date(self.m.due_date)
    }
    /// The due date has passed (in the trust's time zone) and the work is not done.
    async fn overdue(&self, ctx: &Context<'_>) -> bool {
        service::is_overdue(state(ctx), &self.m)
    }
    /// The owner's email (lower case).
    async fn owner_email(&self) -> &str {
        &self.m.owner_email
    }
    /// The owner's staff record; null until someone with that email has signed in.
    async fn owner(&self, ctx: &Context<'_>) -> GqlResult<Option<StaffMember>> {
        Ok(Loaders::of(ctx)
            .staff_by_email
            .load_one(self.m.owner_email.clone())
            .await
            .map_err(AppError::from)?
            .map(StaffMember))
    }
    /// What it was raised from; null when that is not yours to see.
    async fn source(&self, ctx: &Context<'_>) -> GqlResult<Option<CorrectiveActionSource>> {
        let loaders = Loaders::of(ctx);
        if let Some(id) = self.m.learning_response_id {
            return Ok(
                match crate::learning::service::get(state(ctx), request(ctx), id).await {
                    Ok((m, access)) => Some(CorrectiveActionSource::LearningResponse(
                        crate::learning::graphql::LearningResponse::new(m, access),
                    )),
                    Err(AppError::NotFound(_)) => None,
                    Err(e) => return Err(e.into()),
                },
            );
        }
        if let Some(id) = self.m.improvement_project_id {
            let found = loaders
                .projects
                .load_one(id)
                .await
                .map_err(AppError::from)?;
            let Some(m) = found else { return Ok(None) };
            let access =
                crate::improvement::service::access_to(state(ctx), request(ctx), &m).await?;
            return Ok(access.view.then(|| {
                CorrectiveActionSource::ImprovementProject(
                    crate::improvement::graphql::ImprovementProject::new(m, access),
                )
            }));
        }
        if let Some(id) = self.m.audit_finding_id {
            // Audits are readable by every signed-in person.
            let Some(f) = loaders.finding.load_one(id).await.map_err(AppError::from)? else {
                return Ok(None);
            };
            let audit = loaders
                .audits
                .load_one(f.audit_id)
                .await
                .map_err(AppError::from)?;
            return Ok(Some(CorrectiveActionSource::AuditFinding(
                crate::audit::graphql::AuditFinding::new(f, audit.and_then(|a| a.reaudit_of_id)),
            )));
        }
        let Some(id) = self.m.incident_id else {
            return Ok(None);
        };
        let Some(m) = loaders
            .incidents
            .load_one(id)
            .await
            .map_err(AppError::from)?
        else {
            return Ok(None);
        };
        let access = crate::incident::service::access_to(state(ctx), request(ctx), &m).await?;
        Ok(access
            .view
            .then(|| CorrectiveActionSource::Incident(Incident::new(m, access))))
    }
    /// The department of what it was raised from.
    async fn department(&self, ctx: &Context<'_>) -> GqlResult<Department> {
        let d = crate::org::service::department(state(ctx), self.m.department_id)
            .await?
            .ok_or(AppError::Internal("action without department".into()))?;
        Ok(Department(d))
    }
    /// The verifier's verdict: did it fix the problem?
    async fn effective(&self) -> Option<bool> {
        self.m.effective
    }
    /// Free text: every read is logged.
    async fn verification_note(&self, ctx: &Context<'_>) -> Option<&str> {
        self.logged(ctx, "verificationNote", self.m.verification_note.as_deref())
    }
    /// Free text: every read is logged.
    async fn cancellation_reason(&self, ctx: &Context<'_>) -> Option<&str> {
        self.logged(
            ctx,
            "cancellationReason",
            self.m.cancellation_reason.as_deref(),
        )
    }
    /// The owner's latest progress note. Free text: every read is logged.
    async fn note(&self, ctx: &Context<'_>) -> Option<&str> {
        self.logged(ctx, "note", self.m.note.as_deref())
    }
    /// The action raised when verification found this one not effective.
    async fn follow_up(&self, ctx: &Context<'_>) -> GqlResult<Option<CorrectiveAction>> {
        match Loaders::of(ctx)
            .follow_ups
            .load_one(self.m.id)
            .await
            .map_err(AppError::from)?
        {
            Some(m) => CorrectiveAction::visible(ctx, m).await,
            None => Ok(None),
        }
    }
    /// The action this one follows up.
    async fn follow_up_of(&self, ctx: &Context<'_>) -> GqlResult<Option<CorrectiveAction>> {
        let Some(id) = self.m.follow_up_of_id else {
            return Ok(None);
        };
        match Loaders::of(ctx)
            .actions
            .load_one(id)
            .await
            .map_err(AppError::from)?
        {
            Some(m) => CorrectiveAction::visible(ctx, m).await,
            None => Ok(None),
        }
    }
    /// When it was marked COMPLETED; null until then.
    async fn completed_at(&self) -> Option<DateTime<Utc>> {
        self.m.completed_at
    }
    /// When it was VERIFIED; null until then.
    async fn verified_at(&self) -> Option<DateTime<Utc>> {
        self.m.verified_at
    }
    /// When it was raised.
    async fn created_at(&self) -> DateTime<Utc> {
        self.m.created_at
    }
    /// The statuses this viewer may move the action to now.
    async fn allowed_transitions(&self) -> Vec<CorrectiveActionStatus> {
        workflow::allowed_transitions(
            CorrectiveActionStatus::parse(&self.m.status).unwrap_or(CorrectiveActionStatus::Open),
            self.access,
        )
    }
    /// Every change to the action, oldest first.
    async fn history(&self, ctx: &Context<'_>) -> GqlResult<Vec<TrailEvent>> {
        let rows = Loaders::of(ctx)
            .trail
            .load_one(self.m.id)
            .await
            .map_err(AppError::from)?
            .unwrap_or_default();
        Ok(rows.into_iter().map(TrailEvent::from).collect())
    }
}

/// Filters for action lists; all given must match.
#[derive(InputObject, Default)]
pub struct CorrectiveActionFilter {
    /// Any of these statuses.
    pub status: Option<Vec<CorrectiveActionStatus>>,
    /// True: past due and not done. False: everything else.
    pub overdue: Option<bool>,
    /// Actions of this department.
    pub department_id: Option<ID>,
    /// Actions raised from this incident.
    pub source_id: Option<ID>,
    /// Actions owned by this address (case-insensitive).
    pub owner_email: Option<String>,
    /// Only the caller's own actions.
    pub mine: Option<bool>,
    /// Due before this date.
    pub due_before: Option<Date>,
}

/// How to order action lists (default: DUE_DATE ASC).
#[derive(InputObject)]
pub struct CorrectiveActionOrder {
    /// What to order by.
    pub field: CorrectiveActionOrderField,
    /// Which way.
    pub direction: OrderDirection,
}

impl CorrectiveActionFilter {
    /// The domain's filter: the `correctiveActions` list and the CSV export read the same
    /// rows for the same filter.
    pub fn into_query(self) -> crate::error::AppResult<ActionFilter> {
        Ok(ActionFilter {
            statuses: self.status.unwrap_or_default(),
            overdue: self.overdue,
            department_id: self
                .department_id
                .as_ref()
                .map(|id| ids::decode_as(Kind::Department, id, "departmentId"))
                .transpose()?,
            incident_id: self
                .source_id
                .as_ref()
                .map(|id| ids::decode_as(Kind::Incident, id, "sourceId"))
                .transpose()?,
            owner_email: self.owner_email,
            mine: self.mine.unwrap_or(false),
            due_before: self.due_before.map(Into::into),
        })
    }
}

impl CorrectiveActionOrder {
    /// The order asked for, DUE_DATE ASC when none.
    pub fn or_default(order: Option<Self>) -> (CorrectiveActionOrderField, OrderDirection) {
        order
            .map(|o| (o.field, o.direction))
            .unwrap_or((CorrectiveActionOrderField::DueDate, OrderDirection::Asc))
    }
}

crate::listed!(CorrectiveAction => "CorrectiveActionEdge", "CorrectiveActionConnection");

#[derive(Default)]
pub struct ActionQuery;

#[Object]
impl ActionQuery {
    /// Corrective actions the caller may see: their own, their departments', or all for
    /// quality leads. Soonest due first unless ordered otherwise.
    #[graphql(complexity = "first.unwrap_or(20).clamp(1, 100) as usize * child_complexity")]
    async fn corrective_actions(
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
        #[graphql(desc = "Which actions; all the caller may see when not given.")] filter: Option<
            CorrectiveActionFilter,
        >,
        #[graphql(desc = "The order; DUE_DATE ASC when not given.")] order_by: Option<
            CorrectiveActionOrder,
        >,
    ) -> GqlResult<Connection<CorrectiveAction>> {
        let st = state(ctx);
        let rc = request(ctx);
        rc.principal()?;
        let first = page_size(first, st.settings.limits.max_page_size)?;
        let q = filter.unwrap_or_default().into_query()?;
        let order = CorrectiveActionOrder::or_default(order_by);
        let page = service::list(st, rc, q, order, first, after).await?;
        Ok(Connection::of(page, |(m, access)| {
            CorrectiveAction::new(m, access)
        }))
    }
}

/// A new corrective action.
#[derive(InputObject)]
pub struct CreateCorrectiveActionInput {
    /// What it is raised from: the ID of an Incident, an AuditFinding, an
    /// ImprovementProject or a LearningResponse.
    pub source_id: ID,
    /// What is to be done, in short (at most 200 characters).
    pub title: String,
    /// The details (at most 20,000 characters). Free text: every read is logged.
    pub description: Option<String>,
    /// The owner, who need not have signed in yet.
    pub owner_email: String,
    /// The day it is due by, in the trust's time zone.
    pub due_date: Date,
    /// Default MEDIUM.
    pub priority: Option<Priority>,
}

/// A change to an action; omitted fields stay as they are.
#[derive(InputObject)]
pub struct UpdateCorrectiveActionInput {
    /// The action to change.
    pub action_id: ID,
    /// The `version` last read; a stale one is CONFLICT.
    pub expected_version: i32,
    /// The status to move to: one of `allowedTransitions`.
    pub status: Option<CorrectiveActionStatus>,
    /// With status VERIFIED: did it work? `false` raises a follow-up action.
    pub effective: Option<bool>,
    /// A progress note; the reason when cancelling; the verifier's note when verifying.
    pub note: Option<String>,
    /// A new due date; when verifying as not effective, the follow-up's due date.
    pub due_date: Option<Date>,
    /// A new owner (handlers and quality leads).
    pub owner_email: Option<String>,
    /// A new title, at most 200 characters (handlers and quality leads).
    pub title: Option<String>,
    /// A new priority (handlers and quality leads).
    pub priority: Option<Priority>,
}

/// The result of a change to a corrective action.
#[derive(SimpleObject)]
pub struct CorrectiveActionPayload {
    /// The action as it now is.
    pub corrective_action: CorrectiveAction,
}

#[derive(Default)]
pub struct ActionMutation;

#[Object]
impl ActionMutation {
    /// Raises an action from an incident (its handlers and quality leads).
    async fn create_corrective_action(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new action.")] input: CreateCorrectiveActionInput,
    ) -> GqlResult<CorrectiveActionPayload> {
        let source = match ids::decode(&input.source_id) {
            Some((Kind::Incident, id)) => Source::Incident(id),
            Some((Kind::AuditFinding, id)) => Source::AuditFinding(id),
            Some((Kind::ImprovementProject, id)) => Source::ImprovementProject(id),
            Some((Kind::LearningResponse, id)) => Source::LearningResponse(id),
            _ => {
                return Err(AppError::invalid(
                    "sourceId",
                    "sourceId must be the ID of an incident, an audit finding, an improvement project or a learning response",
                ).because(crate::record::text::reason::MALFORMED)
                .into())
            }
        };
        let (m, access) = service::create(
            state(ctx),
            request(ctx),
            NewAction {
                source,
                title: input.title,
                description: input.description,
                owner_email: input.owner_email,
                due_date: input.due_date.into(),
                priority: input.priority.unwrap_or_default(),
            },
        )
        .await?;
        Ok(CorrectiveActionPayload {
            corrective_action: CorrectiveAction::new(m, access),
        })
    }

    /// Progresses, verifies, cancels or re-plans an action.
    async fn update_corrective_action(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The change.")] input: UpdateCorrectiveActionInput,
    ) -> GqlResult<CorrectiveActionPayload> {
        let id = ids::decode_as(Kind::CorrectiveAction, &input.action_id, "actionId")?;
        let (m, access) = service::update(
            state(ctx),
            request(ctx),
            id,
            input.expected_version,
            ActionChange {
                status: input.status,
                effective: input.effective,
                note: input.note,
                due_date: input.due_date.map(Into::into),
                owner_email: input.owner_email,
                title: input.title,
                priority: input.priority,
            },
        )
        .await?;
        Ok(CorrectiveActionPayload {
            corrective_action: CorrectiveAction::new(m, access),
        })
    }
}
