//! Learning responses in the GraphQL schema: thin resolvers over `service`.
use async_graphql::{Context, InputObject, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};

use super::model::{LearningResponseOrderField, LearningResponseStatus};
use super::service::{self, Change, NewResponse, ResponseFilter};
use super::workflow::{self, Access};
use crate::action::graphql::CorrectiveAction;
use crate::error::AppError;
use crate::graphql::connection::Connection;
use crate::graphql::loaders::Loaders;
use crate::graphql::{request, state};
use crate::improvement::graphql::ImprovementProject;
use crate::incident::graphql::Incident;
use crate::incident::model::LearningResponse as ResponseKind;
use crate::org::graphql::{Department, StaffMember};
use crate::record::ids::{self, Kind};
use crate::record::keyset::page_size;
use crate::record::scalars::Date;
use crate::record::OrderDirection;
use crate::trail::graphql::TrailEvent;
use entities::{corrective_action, learning_response as response, learning_response_link};

type GqlResult<T> = async_graphql::Result<T>;

pub struct LearningResponse {
    m: Box<response::Model>,
    access: Access,
}

impl LearningResponse {
    pub fn new(m: response::Model, access: Access) -> Self {
        Self {
            m: Box::new(m),
            access,
        }
    }

    async fn links(&self, ctx: &Context<'_>) -> GqlResult<Vec<learning_response_link::Model>> {
        Ok(service::links_of(&state(ctx).db.conn, &[self.m.id])
            .await?
            .remove(&self.m.id)
            .unwrap_or_default())
    }
}

/// A PSIRF learning response: a patient safety incident investigation, after action
/// review, swarm huddle, MDT review or thematic review, with its lead, the timeframe agreed
/// with those affected, its findings, the incidents it covers and what it raised. (Named
/// `LearningResponseRecord` because `LearningResponse` is the enum of PSIRF responses.)
#[Object(name = "LearningResponseRecord")]
impl LearningResponse {
    /// The response's global ID.
    pub async fn id(&self) -> ID {
        ids::encode(Kind::LearningResponse, self.m.id)
    }
    /// Which PSIRF response it is (never NONE).
    async fn kind(&self) -> ResponseKind {
        ResponseKind::parse(&self.m.kind).unwrap_or(ResponseKind::AfterActionReview)
    }
    /// What it is about, in short (at most 200 characters).
    async fn title(&self) -> &str {
        &self.m.title
    }
    /// Where it is.
    async fn status(&self) -> LearningResponseStatus {
        LearningResponseStatus::parse(&self.m.status).unwrap_or(LearningResponseStatus::Planned)
    }
    /// Why it was cancelled.
    async fn status_reason(&self) -> Option<&str> {
        self.m.status_reason.as_deref()
    }
    /// The department it belongs to; its handlers and quality leads govern it.
    async fn department(&self, ctx: &Context<'_>) -> GqlResult<Department> {
        let d = crate::org::service::department(state(ctx), self.m.department_id)
            .await?
            .ok_or(AppError::Internal(
                "learning response without department".into(),
            ))?;
        Ok(Department(d))
    }
    /// The lead's email (lower case): they record the findings and move it to COMPLETED.
    async fn lead_email(&self) -> &str {
        &self.m.lead_email
    }
    /// The lead's staff record; null until someone with that email has signed in.
    async fn lead(&self, ctx: &Context<'_>) -> GqlResult<Option<StaffMember>> {
        Ok(Loaders::of(ctx)
            .staff_by_email
            .load_one(self.m.lead_email.clone())
            .await
            .map_err(AppError::from)?
            .map(StaffMember))
    }
    /// The date agreed with those affected (the patient, their family, staff) for the
    /// response to be done by.
    async fn agreed_due_date(&self) -> Date {
        Date(self.m.agreed_due_date)
    }
    /// With whom the timeframe was agreed, and any note on it.
    async fn timeframe_agreed_with(&self) -> Option<&str> {
        self.m.timeframe_agreed_with.as_deref()
    }
    /// The agreed date has passed (in the trust's time zone) and the response is neither
    /// completed nor cancelled.
    async fn overdue(&self, ctx: &Context<'_>) -> bool {
        service::is_overdue(&state(ctx).settings, &self.m)
    }
    /// What the response found. Free text, sensitive like an incident's description: every
    /// read is logged; null once disposed of.
    async fn findings(&self, ctx: &Context<'_>) -> Option<&str> {
        let text = self.m.findings.as_deref()?;
        if !self.access.view || self.m.disposed_at.is_some() {
            return None;
        }
        request(ctx)
            .access
            .record("LearningResponse", self.m.id, "findings", false, None);
        Some(text)
    }
    /// When it moved to IN_PROGRESS.
    async fn started_at(&self) -> Option<DateTime<Utc>> {
        self.m.started_at
    }
    /// When it was completed or cancelled.
    async fn ended_at(&self) -> Option<DateTime<Utc>> {
        self.m.ended_at
    }
    /// When it was planned.
    async fn created_at(&self) -> DateTime<Utc> {
        self.m.created_at
    }
    /// When it last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.m.updated_at
    }
    /// Send this back as `expectedVersion` with the next change.
    async fn version(&self) -> i32 {
        self.m.version
    }
    /// Until when the record is kept (NHS Records Management Code of Practice), counted
    /// from its completion or cancellation; null while it is open.
    async fn retention_until(&self, ctx: &Context<'_>) -> Option<DateTime<Utc>> {
        crate::governance::retention::learning_response_until(
            &state(ctx).settings.retention,
            &self.m,
        )
    }
    /// When its content was disposed of at the end of retention.
    async fn disposed_at(&self) -> Option<DateTime<Utc>> {
        self.m.disposed_at
    }
    /// The statuses this viewer may move the response to now (a reason or findings may
    /// still be needed).
    async fn allowed_transitions(&self) -> Vec<LearningResponseStatus> {
        workflow::allowed_transitions(
            LearningResponseStatus::parse(&self.m.status)
                .unwrap_or(LearningResponseStatus::Planned),
            self.access,
        )
    }
    /// The incidents it covers, as far as the viewer may see them, in the order linked.
    async fn incidents(&self, ctx: &Context<'_>) -> GqlResult<Vec<Incident>> {
        let ids: Vec<uuid::Uuid> = self
            .links(ctx)
            .await?
            .into_iter()
            .filter_map(|l| l.incident_id)
            .collect();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut found = Loaders::of(ctx)
            .incidents
            .load_many(ids.iter().copied())
            .await
            .map_err(AppError::from)?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let Some(m) = found.remove(&id) else { continue };
            let access = crate::incident::service::access_to(state(ctx), request(ctx), &m).await?;
            if access.view {
                out.push(Incident::new(m, access));
            }
        }
        Ok(out)
    }
    /// The improvement projects it raised or is linked to, in the order linked.
    async fn improvement_projects(&self, ctx: &Context<'_>) -> GqlResult<Vec<ImprovementProject>> {
        let ids: Vec<uuid::Uuid> = self
            .links(ctx)
            .await?
            .into_iter()
            .filter_map(|l| l.improvement_project_id)
            .collect();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut found = Loaders::of(ctx)
            .projects
            .load_many(ids.iter().copied())
            .await
            .map_err(AppError::from)?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let Some(m) = found.remove(&id) else { continue };
            let access =
                crate::improvement::service::access_to(state(ctx), request(ctx), &m).await?;
            if access.view {
                out.push(ImprovementProject::new(m, access));
            }
        }
        Ok(out)
    }
    /// Corrective actions raised from it that the viewer may see, oldest first.
    async fn corrective_actions(&self, ctx: &Context<'_>) -> GqlResult<Vec<CorrectiveAction>> {
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
        let rows = corrective_action::Entity::find()
            .filter(corrective_action::Column::LearningResponseId.eq(self.m.id))
            .order_by_asc(corrective_action::Column::CreatedAt)
            .order_by_asc(corrective_action::Column::Id)
            .all(&state(ctx).db.conn)
            .await
            .map_err(AppError::from)?;
        let mut out = Vec::with_capacity(rows.len());
        for m in rows {
            if let Some(a) = CorrectiveAction::visible(ctx, m).await? {
                out.push(a);
            }
        }
        Ok(out)
    }
    /// Every change to it, oldest first. Free text is never in the trail: a change to it
    /// is shown as `sensitive` without its words.
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

crate::listed!(LearningResponse => "LearningResponseEdge", "LearningResponseConnection");

/// Filters for learning-response lists; all given must match.
#[derive(InputObject, Default)]
pub struct LearningResponseFilter {
    /// Any of these statuses.
    pub status: Option<Vec<LearningResponseStatus>>,
    /// Responses of this kind.
    pub kind: Option<ResponseKind>,
    /// Responses of this department.
    pub department_id: Option<ID>,
    /// Responses covering this incident.
    pub incident_id: Option<ID>,
    /// Only those past (true) or not past (false) their agreed date while open.
    pub overdue: Option<bool>,
}

/// How to order learning-response lists (default: CREATED_AT DESC).
#[derive(InputObject)]
pub struct LearningResponseOrder {
    /// What to order by.
    pub field: LearningResponseOrderField,
    /// Which way.
    pub direction: OrderDirection,
}

#[derive(Default)]
pub struct LearningQuery;

#[Object]
impl LearningQuery {
    /// Learning responses the caller may see: those of the departments they handle, every
    /// one for quality leads and `incidents:read` service accounts, and those they lead.
    /// Newest first.
    #[graphql(complexity = "first.unwrap_or(20).clamp(1, 100) as usize * child_complexity")]
    async fn learning_responses(
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
        #[graphql(desc = "Which responses; every one you may see when not given.")] filter: Option<
            LearningResponseFilter,
        >,
        #[graphql(desc = "The order; CREATED_AT DESC when not given.")] order_by: Option<
            LearningResponseOrder,
        >,
    ) -> GqlResult<Connection<LearningResponse>> {
        let st = state(ctx);
        let rc = request(ctx);
        rc.principal()?;
        let first = page_size(first, st.settings.limits.max_page_size)?;
        let f = filter.unwrap_or_default();
        let q = ResponseFilter {
            statuses: f.status.unwrap_or_default(),
            kind: f.kind,
            department_id: f
                .department_id
                .as_ref()
                .map(|id| ids::decode_as(Kind::Department, id, "departmentId"))
                .transpose()?,
            incident_id: f
                .incident_id
                .as_ref()
                .map(|id| ids::decode_as(Kind::Incident, id, "incidentId"))
                .transpose()?,
            overdue: f.overdue,
        };
        let order = order_by
            .map(|o| (o.field, o.direction))
            .unwrap_or((LearningResponseOrderField::CreatedAt, OrderDirection::Desc));
        let page = service::list(st, rc, q, order, first, after).await?;
        Ok(Connection::of(page, |(m, access)| {
            LearningResponse::new(m, access)
        }))
    }
}

/// A new learning response, PLANNED.
#[derive(InputObject)]
pub struct PlanLearningResponseInput {
    /// Which PSIRF response (not NONE).
    pub kind: ResponseKind,
    /// What it is about, in short (at most 200 characters).
    pub title: String,
    /// The department it belongs to; you must be a quality lead or handle it.
    pub department_id: ID,
    /// The lead's email: they record the findings and move it to COMPLETED.
    pub lead_email: String,
    /// The date agreed with those affected for the response to be done by.
    pub agreed_due_date: Date,
    /// With whom the timeframe was agreed, and any note on it (at most 2,000 characters).
    pub timeframe_agreed_with: Option<String>,
    /// Incidents it covers (whose review you may see); a thematic review covers many.
    pub incident_ids: Option<Vec<ID>>,
    /// Existing improvement projects it informs.
    pub improvement_project_ids: Option<Vec<ID>>,
}

/// A change to a learning response; omitted fields stay as they are. The lead may record
/// findings; the rest is for quality leads and the department's handlers.
#[derive(InputObject)]
pub struct UpdateLearningResponseInput {
    /// The response to change.
    pub learning_response_id: ID,
    /// The response's `version` last read; a stale one is CONFLICT.
    pub expected_version: i32,
    /// At most 200 characters.
    pub title: Option<String>,
    /// A new lead.
    pub lead_email: Option<String>,
    /// A new date, agreed again with those affected.
    pub agreed_due_date: Option<Date>,
    /// With whom the timeframe was agreed (at most 2,000 characters).
    pub timeframe_agreed_with: Option<String>,
    /// What the response found (at most 50,000 characters). Sensitive.
    pub findings: Option<String>,
}

/// A status change. CANCELLED needs a reason; COMPLETED needs findings.
#[derive(InputObject)]
pub struct TransitionLearningResponseInput {
    /// The response to move.
    pub learning_response_id: ID,
    /// The status to move to: one of `allowedTransitions`.
    pub to: LearningResponseStatus,
    /// Why (at most 20,000 characters); becomes `statusReason`. Required for CANCELLED.
    pub reason: Option<String>,
    /// The response's `version` last read; a stale one is CONFLICT.
    pub expected_version: i32,
}

/// Incidents and improvement projects to link; ones already linked are ignored.
#[derive(InputObject)]
pub struct LinkLearningResponseInput {
    /// The response (quality leads and the department's handlers).
    pub learning_response_id: ID,
    /// Incidents it covers (whose review you may see).
    pub incident_ids: Option<Vec<ID>>,
    /// Improvement projects it raised or informs.
    pub improvement_project_ids: Option<Vec<ID>>,
}

/// The result of a change to a learning response.
#[derive(SimpleObject)]
pub struct LearningResponsePayload {
    /// The response as it now is.
    pub learning_response: LearningResponse,
}

fn payload((m, access): (response::Model, Access)) -> LearningResponsePayload {
    LearningResponsePayload {
        learning_response: LearningResponse::new(m, access),
    }
}

fn decode_all(kind: Kind, ids: Option<Vec<ID>>, field: &str) -> Result<Vec<uuid::Uuid>, AppError> {
    ids.unwrap_or_default()
        .iter()
        .map(|id| ids::decode_as(kind, id, field))
        .collect()
}

#[derive(Default)]
pub struct LearningMutation;

#[Object]
impl LearningMutation {
    /// Plans a learning response (quality leads and the department's handlers).
    async fn plan_learning_response(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new response.")] input: PlanLearningResponseInput,
    ) -> GqlResult<LearningResponsePayload> {
        let department_id = ids::decode_as(Kind::Department, &input.department_id, "departmentId")?;
        let incident_ids = decode_all(Kind::Incident, input.incident_ids, "incidentIds")?;
        let project_ids = decode_all(
            Kind::ImprovementProject,
            input.improvement_project_ids,
            "improvementProjectIds",
        )?;
        let out = service::plan(
            state(ctx),
            request(ctx),
            NewResponse {
                kind: input.kind,
                title: input.title,
                department_id,
                lead_email: input.lead_email,
                agreed_due_date: input.agreed_due_date.into(),
                timeframe_agreed_with: input.timeframe_agreed_with,
                incident_ids,
                project_ids,
            },
        )
        .await?;
        Ok(payload(out))
    }

    /// Changes a learning response's title, lead, timeframe or findings.
    async fn update_learning_response(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The change.")] input: UpdateLearningResponseInput,
    ) -> GqlResult<LearningResponsePayload> {
        let id = ids::decode_as(
            Kind::LearningResponse,
            &input.learning_response_id,
            "learningResponseId",
        )?;
        let out = service::update(
            state(ctx),
            request(ctx),
            id,
            input.expected_version,
            Change {
                title: input.title,
                lead_email: input.lead_email,
                agreed_due_date: input.agreed_due_date.map(Into::into),
                timeframe_agreed_with: input.timeframe_agreed_with,
                findings: input.findings,
            },
        )
        .await?;
        Ok(payload(out))
    }

    /// Moves a learning response through PLANNED, IN_PROGRESS, COMPLETED, or CANCELLED.
    async fn transition_learning_response(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The move.")] input: TransitionLearningResponseInput,
    ) -> GqlResult<LearningResponsePayload> {
        let id = ids::decode_as(
            Kind::LearningResponse,
            &input.learning_response_id,
            "learningResponseId",
        )?;
        let out = service::transition(
            state(ctx),
            request(ctx),
            id,
            input.to,
            input.reason,
            input.expected_version,
        )
        .await?;
        Ok(payload(out))
    }

    /// Links incidents a learning response covers and improvement projects it informs.
    async fn link_learning_response(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The response and what to link.")] input: LinkLearningResponseInput,
    ) -> GqlResult<LearningResponsePayload> {
        let id = ids::decode_as(
            Kind::LearningResponse,
            &input.learning_response_id,
            "learningResponseId",
        )?;
        let incident_ids = decode_all(Kind::Incident, input.incident_ids, "incidentIds")?;
        let project_ids = decode_all(
            Kind::ImprovementProject,
            input.improvement_project_ids,
            "improvementProjectIds",
        )?;
        let out = service::link(state(ctx), request(ctx), id, incident_ids, project_ids).await?;
        Ok(payload(out))
    }
}
