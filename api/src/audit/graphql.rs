//! Audits and their findings in the GraphQL schema.
use async_graphql::{Context, InputObject, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};

use crate::record::scalars::Date;

use super::model::{AuditOrderField, AuditStatus};
use super::service::{self, AuditFilter, NewAudit, NewFinding};
use super::workflow::{self, Access};
use crate::action::graphql::CorrectiveAction;
use crate::error::AppError;
use crate::graphql::connection::Connection;
use crate::graphql::loaders::Loaders;
use crate::graphql::{request, state};
use crate::org::graphql::Department;
use crate::record::ids::{self, Kind};
use crate::record::keyset::page_size;
use crate::record::OrderDirection;
use crate::trail::graphql::TrailEvent;
use entities::{audit, audit_finding};

type GqlResult<T> = async_graphql::Result<T>;

pub struct Audit {
    m: Box<audit::Model>,
    access: Access,
}

impl Audit {
    pub fn new(m: audit::Model, access: Access) -> Self {
        Self {
            m: Box::new(m),
            access,
        }
    }
}

pub struct AuditFinding {
    f: audit_finding::Model,
    /// The audit this one repeats, for comparing compliance cycle to cycle.
    reaudit_of: Option<uuid::Uuid>,
}

impl AuditFinding {
    pub fn new(f: audit_finding::Model, reaudit_of: Option<uuid::Uuid>) -> Self {
        Self { f, reaudit_of }
    }

    async fn previous(&self, ctx: &Context<'_>) -> GqlResult<Option<audit_finding::Model>> {
        let Some(prev) = self.reaudit_of else {
            return Ok(None);
        };
        let rows = Loaders::of(ctx)
            .findings_by_audit
            .load_one(prev)
            .await
            .map_err(AppError::from)?
            .unwrap_or_default();
        Ok(rows
            .into_iter()
            .find(|p| p.criterion_key == self.f.criterion_key))
    }
}

/// One criterion's result: compliance is computed from the sample, never entered.
#[Object]
impl AuditFinding {
    /// The finding's global ID.
    pub async fn id(&self) -> ID {
        ids::encode(Kind::AuditFinding, self.f.id)
    }
    /// Evidence files on it (e.g. the sample sheet behind the figures).
    async fn attachments(
        &self,
        ctx: &Context<'_>,
    ) -> GqlResult<Option<Vec<crate::attachment::graphql::Attachment>>> {
        crate::attachment::graphql::of_record(
            ctx,
            crate::attachment::service::OwnerKind::AuditFinding,
            self.f.id,
            true,
            None,
        )
        .await
    }
    /// The criterion measured, as recorded; a re-audit's finding with the same words
    /// (ignoring case and spacing) is the same criterion.
    async fn criterion(&self) -> &str {
        &self.f.criterion
    }
    /// The standard's target, in percent.
    async fn target_percent(&self) -> f64 {
        self.f.target_percent
    }
    /// How many cases were checked (at least 1).
    async fn sample_size(&self) -> i32 {
        self.f.sample_size
    }
    /// How many of the cases checked met the criterion.
    async fn compliant_count(&self) -> i32 {
        self.f.compliant_count
    }
    /// compliantCount / sampleSize × 100.
    async fn compliance_percent(&self) -> f64 {
        workflow::compliance_percent(self.f.sample_size, self.f.compliant_count)
    }
    /// Below target: needs a corrective action before the audit closes.
    async fn non_conformity(&self) -> bool {
        workflow::is_non_conformity(
            self.f.target_percent,
            self.f.sample_size,
            self.f.compliant_count,
        )
    }
    /// The same criterion's compliance in the audit this one repeats.
    async fn previous_compliance_percent(&self, ctx: &Context<'_>) -> GqlResult<Option<f64>> {
        Ok(self
            .previous(ctx)
            .await?
            .map(|p| workflow::compliance_percent(p.sample_size, p.compliant_count)))
    }
    /// Change in compliance since the audit this one repeats, in percentage points.
    async fn compliance_change(&self, ctx: &Context<'_>) -> GqlResult<Option<f64>> {
        Ok(self.previous(ctx).await?.map(|p| {
            workflow::compliance_percent(self.f.sample_size, self.f.compliant_count)
                - workflow::compliance_percent(p.sample_size, p.compliant_count)
        }))
    }
    /// When the result was recorded (or last corrected).
    async fn recorded_at(&self) -> DateTime<Utc> {
        self.f.recorded_at
    }
    /// Actions raised from this finding that the viewer may see.
    async fn corrective_actions(&self, ctx: &Context<'_>) -> GqlResult<Vec<CorrectiveAction>> {
        let rows = Loaders::of(ctx)
            .actions_by_finding
            .load_one(self.f.id)
            .await
            .map_err(AppError::from)?
            .unwrap_or_default();
        let mut out = Vec::with_capacity(rows.len());
        for m in rows {
            if let Some(a) = CorrectiveAction::visible(ctx, m).await? {
                out.push(a);
            }
        }
        Ok(out)
    }
    /// The audit the finding belongs to.
    async fn audit(&self, ctx: &Context<'_>) -> GqlResult<Audit> {
        let m = Loaders::of(ctx)
            .audits
            .load_one(self.f.audit_id)
            .await
            .map_err(AppError::from)?
            .ok_or(AppError::Internal("finding without audit".into()))?;
        let access = service::access_to(state(ctx), request(ctx), &m).await?;
        Ok(Audit::new(m, access))
    }
}

/// A clinical or quality audit of a service against a standard.
#[Object]
impl Audit {
    /// The audit's global ID.
    pub async fn id(&self) -> ID {
        ids::encode(Kind::Audit, self.m.id)
    }
    /// The audit's title (at most 200 characters).
    async fn title(&self) -> &str {
        &self.m.title
    }
    /// The department audited.
    async fn department(&self, ctx: &Context<'_>) -> GqlResult<Department> {
        let d = crate::org::service::department(state(ctx), self.m.department_id)
            .await?
            .ok_or(AppError::Internal("audit without department".into()))?;
        Ok(Department(d))
    }
    /// The standard or guideline audited against.
    async fn standard(&self) -> &str {
        &self.m.standard
    }
    /// The first day planned for data collection.
    async fn planned_start(&self) -> Date {
        Date(self.m.planned_start)
    }
    /// The last day planned, on or after `plannedStart`.
    async fn planned_end(&self) -> Date {
        Date(self.m.planned_end)
    }
    /// The lead's email (lower case), who may record findings; null when none was named.
    async fn lead_email(&self) -> Option<&str> {
        self.m.lead_email.as_deref()
    }
    /// Where the audit is in its cycle.
    async fn status(&self) -> AuditStatus {
        AuditStatus::parse(&self.m.status).unwrap_or(AuditStatus::Planned)
    }
    /// Send this back as `expectedVersion` with the next transition.
    async fn version(&self) -> i32 {
        self.m.version
    }
    /// Until when the record is kept (NHS Records Management Code of Practice), counted
    /// from its closure; null while it runs.
    async fn retention_until(&self, ctx: &Context<'_>) -> Option<DateTime<Utc>> {
        crate::governance::retention::audit_until(
            &crate::graphql::state(ctx).settings.retention,
            &self.m,
        )
    }
    /// When its content was disposed of at the end of retention.
    async fn disposed_at(&self) -> Option<DateTime<Utc>> {
        self.m.disposed_at
    }
    /// When it first moved to IN_PROGRESS; null until then.
    async fn started_at(&self) -> Option<DateTime<Utc>> {
        self.m.started_at
    }
    /// When it last moved to REPORTED; null until then.
    async fn reported_at(&self) -> Option<DateTime<Utc>> {
        self.m.reported_at
    }
    /// When it was CLOSED; null until then.
    async fn closed_at(&self) -> Option<DateTime<Utc>> {
        self.m.closed_at
    }
    /// The audit this one repeats.
    async fn reaudit_of(&self, ctx: &Context<'_>) -> GqlResult<Option<Audit>> {
        let Some(id) = self.m.reaudit_of_id else {
            return Ok(None);
        };
        let Some(m) = Loaders::of(ctx)
            .audits
            .load_one(id)
            .await
            .map_err(AppError::from)?
        else {
            return Ok(None);
        };
        let access = service::access_to(state(ctx), request(ctx), &m).await?;
        Ok(Some(Audit::new(m, access)))
    }
    /// Findings per criterion, in the order recorded.
    async fn findings(&self, ctx: &Context<'_>) -> GqlResult<Vec<AuditFinding>> {
        let rows = Loaders::of(ctx)
            .findings_by_audit
            .load_one(self.m.id)
            .await
            .map_err(AppError::from)?
            .unwrap_or_default();
        Ok(rows
            .into_iter()
            .map(|f| AuditFinding::new(f, self.m.reaudit_of_id))
            .collect())
    }
    /// The statuses this viewer may move the audit to now.
    async fn allowed_transitions(&self) -> Vec<AuditStatus> {
        workflow::allowed_transitions(
            AuditStatus::parse(&self.m.status).unwrap_or(AuditStatus::Planned),
            self.access,
        )
    }
    /// Every change to the audit and its findings, oldest first.
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

/// How to order the audit programme (default: PLANNED_START ASC).
#[derive(InputObject)]
pub struct AuditOrder {
    /// What to order by.
    pub field: AuditOrderField,
    /// Which way.
    pub direction: OrderDirection,
}

/// Filters for the audit programme.
#[derive(InputObject, Default)]
#[graphql(name = "AuditFilter")]
pub struct AuditFilter_ {
    /// Any of these statuses.
    pub status: Option<Vec<AuditStatus>>,
    /// Audits of this department.
    pub department_id: Option<ID>,
    /// Audits whose planned period overlaps the period from `plannedFrom` to `plannedTo`.
    pub planned_from: Option<Date>,
    /// The end of that period, inclusive (see `plannedFrom`).
    pub planned_to: Option<Date>,
    /// Words in the title (case-insensitive).
    pub search: Option<String>,
}

impl AuditFilter_ {
    /// The domain's filter: the `audits` list and the CSV export read the same rows for
    /// the same filter.
    pub fn into_query(self) -> crate::error::AppResult<AuditFilter> {
        Ok(AuditFilter {
            statuses: self.status.unwrap_or_default(),
            department_id: self
                .department_id
                .as_ref()
                .map(|id| ids::decode_as(Kind::Department, id, "departmentId"))
                .transpose()?,
            planned_from: self.planned_from.map(Into::into),
            planned_to: self.planned_to.map(Into::into),
            search: self.search,
        })
    }
}

impl AuditOrder {
    /// The order asked for, PLANNED_START ASC when none.
    pub fn or_default(order: Option<Self>) -> (AuditOrderField, OrderDirection) {
        order
            .map(|o| (o.field, o.direction))
            .unwrap_or((AuditOrderField::PlannedStart, OrderDirection::Asc))
    }
}

crate::listed!(Audit => "AuditEdge", "AuditConnection");

#[derive(Default)]
pub struct AuditQuery;

#[Object]
impl AuditQuery {
    /// The audit programme, by planned start unless ordered otherwise.
    #[graphql(complexity = "first.unwrap_or(20).clamp(1, 100) as usize * child_complexity")]
    async fn audits(
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
        #[graphql(desc = "Which audits; every audit when not given.")] filter: Option<AuditFilter_>,
        #[graphql(desc = "The order; PLANNED_START ASC when not given.")] order_by: Option<
            AuditOrder,
        >,
    ) -> GqlResult<Connection<Audit>> {
        let st = state(ctx);
        let rc = request(ctx);
        rc.principal()?;
        let first = page_size(first, st.settings.limits.max_page_size)?;
        let q = filter.unwrap_or_default().into_query()?;
        let order = AuditOrder::or_default(order_by);
        let page = service::list(st, rc, q, order, first, after).await?;
        Ok(Connection::of(page, |(m, access)| Audit::new(m, access)))
    }
}

/// An audit for the programme (the department's handlers and quality leads).
#[derive(InputObject)]
pub struct PlanAuditInput {
    /// The audit's title (at most 200 characters).
    pub title: String,
    /// The department audited.
    pub department_id: ID,
    /// The standard or guideline audited against.
    pub standard: String,
    /// The first day planned for data collection.
    pub planned_start: Date,
    /// The last day planned; not before `plannedStart`.
    pub planned_end: Date,
    /// The audit this one repeats (the re-audit of the cycle).
    pub reaudit_of_id: Option<ID>,
    /// Who leads it; they may record findings.
    pub lead_email: Option<String>,
}

/// One criterion's result. Recording a criterion again corrects it.
#[derive(InputObject)]
pub struct RecordAuditFindingInput {
    /// The audit, IN_PROGRESS.
    pub audit_id: ID,
    /// The criterion measured (at most 500 characters); the same words, ignoring case and
    /// spacing, name the same criterion.
    pub criterion: String,
    /// 0 to 100.
    pub target_percent: f64,
    /// At least 1.
    pub sample_size: i32,
    /// 0 to sampleSize.
    pub compliant_count: i32,
}

/// A move of an audit through its cycle (the department's handlers and quality leads).
#[derive(InputObject)]
pub struct TransitionAuditInput {
    /// The audit to move.
    pub audit_id: ID,
    /// The status to move to: one of `allowedTransitions`.
    pub to: AuditStatus,
    /// The `version` last read; a stale one is CONFLICT.
    pub expected_version: i32,
}

/// The result of a change to an audit.
#[derive(SimpleObject)]
pub struct AuditPayload {
    /// The audit as it now is.
    pub audit: Audit,
}

#[derive(Default)]
pub struct AuditMutation;

#[Object]
impl AuditMutation {
    /// Plans an audit.
    async fn plan_audit(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The audit to plan.")] input: PlanAuditInput,
    ) -> GqlResult<AuditPayload> {
        let department_id = ids::decode_as(Kind::Department, &input.department_id, "departmentId")?;
        let reaudit_of = input
            .reaudit_of_id
            .as_ref()
            .map(|id| ids::decode_as(Kind::Audit, id, "reauditOfId"))
            .transpose()?;
        let (m, access) = service::plan(
            state(ctx),
            request(ctx),
            NewAudit {
                title: input.title,
                department_id,
                standard: input.standard,
                planned_start: input.planned_start.into(),
                planned_end: input.planned_end.into(),
                reaudit_of,
                lead_email: input.lead_email,
            },
        )
        .await?;
        Ok(AuditPayload {
            audit: Audit::new(m, access),
        })
    }

    /// Records a criterion's result while the audit is in progress.
    async fn record_audit_finding(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The criterion's result.")] input: RecordAuditFindingInput,
    ) -> GqlResult<AuditPayload> {
        let audit_id = ids::decode_as(Kind::Audit, &input.audit_id, "auditId")?;
        let (m, access) = service::record_finding(
            state(ctx),
            request(ctx),
            NewFinding {
                audit_id,
                criterion: input.criterion,
                target_percent: input.target_percent,
                sample_size: input.sample_size,
                compliant_count: input.compliant_count,
            },
        )
        .await?;
        Ok(AuditPayload {
            audit: Audit::new(m, access),
        })
    }

    /// Moves an audit through its cycle. It reports with findings recorded and closes only
    /// when every non-conformity has a corrective action.
    async fn transition_audit(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The move.")] input: TransitionAuditInput,
    ) -> GqlResult<AuditPayload> {
        let id = ids::decode_as(Kind::Audit, &input.audit_id, "auditId")?;
        let (m, access) = service::transition(
            state(ctx),
            request(ctx),
            id,
            input.to,
            input.expected_version,
        )
        .await?;
        Ok(AuditPayload {
            audit: Audit::new(m, access),
        })
    }
}
