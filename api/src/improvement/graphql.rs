//! Improvement projects in the GraphQL schema.
use async_graphql::{Context, InputObject, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};

use super::model::{Direction, ImprovementStatus, MeasureKind, PdsaOutcome, PdsaStage};
use super::service::{self, NewMeasure, NewProject, PdsaChange, ProjectFilter};
use super::workflow::{self, Access};
use crate::audit::graphql::Audit;
use crate::error::AppError;
use crate::graphql::connection::Connection;
use crate::graphql::loaders::Loaders;
use crate::graphql::{request, state};
use crate::incident::graphql::Incident;
use crate::org::graphql::Department;
use crate::record::ids::{self, Kind};
use crate::record::keyset::page_size;
use crate::record::scalars::Date;
use crate::trail::graphql::TrailEvent;
use entities::{
    improvement_link, improvement_project as project, measure, measurement, pdsa_cycle,
};

type GqlResult<T> = async_graphql::Result<T>;

pub struct ImprovementProject {
    m: Box<project::Model>,
    access: Access,
}

impl ImprovementProject {
    pub fn new(m: project::Model, access: Access) -> Self {
        Self {
            m: Box::new(m),
            access,
        }
    }

    async fn links(&self, ctx: &Context<'_>) -> GqlResult<Vec<improvement_link::Model>> {
        Ok(Loaders::of(ctx)
            .links_by_project
            .load_one(self.m.id)
            .await
            .map_err(AppError::from)?
            .unwrap_or_default())
    }
}

/// A quality improvement project (Model for Improvement): what we are trying to accomplish
/// (aim), how we will know a change is an improvement (measures), and the changes tested
/// (PDSA cycles).
#[Object]
impl ImprovementProject {
    /// The project's global ID.
    pub async fn id(&self) -> ID {
        ids::encode(Kind::ImprovementProject, self.m.id)
    }
    /// Files on it (charts, minutes, the driver diagram).
    async fn attachments(
        &self,
        ctx: &Context<'_>,
    ) -> GqlResult<Option<Vec<crate::attachment::graphql::Attachment>>> {
        crate::attachment::graphql::of_record(
            ctx,
            crate::attachment::service::OwnerKind::ImprovementProject,
            self.m.id,
            self.access.view && self.m.disposed_at.is_none(),
            None,
        )
        .await
    }
    /// The project's name (at most 200 characters).
    async fn title(&self) -> &str {
        &self.m.title
    }
    /// What the project is trying to accomplish: how much, by when, for whom.
    async fn aim(&self) -> &str {
        &self.m.aim
    }
    /// Where the project is.
    async fn status(&self) -> ImprovementStatus {
        ImprovementStatus::parse(&self.m.status).unwrap_or(ImprovementStatus::Proposed)
    }
    /// The reason given with the latest status change (required when abandoning).
    async fn status_reason(&self) -> Option<&str> {
        self.m.status_reason.as_deref()
    }
    /// The department the project belongs to.
    async fn department(&self, ctx: &Context<'_>) -> GqlResult<Department> {
        let d = crate::org::service::department(state(ctx), self.m.department_id)
            .await?
            .ok_or(AppError::Internal("project without department".into()))?;
        Ok(Department(d))
    }
    /// The executive sponsor (lower case).
    async fn sponsor_email(&self) -> Option<&str> {
        self.m.sponsor_email.as_deref()
    }
    /// The project's lead (lower case), who may record measurements, add measures and run
    /// PDSA cycles.
    async fn lead_email(&self) -> Option<&str> {
        self.m.lead_email.as_deref()
    }
    /// When it became ACTIVE.
    async fn started_at(&self) -> Option<DateTime<Utc>> {
        self.m.started_at
    }
    /// When it was CLOSED or ABANDONED.
    async fn closed_at(&self) -> Option<DateTime<Utc>> {
        self.m.closed_at
    }
    /// When the project was created, as PROPOSED.
    async fn created_at(&self) -> DateTime<Utc> {
        self.m.created_at
    }
    /// When it last changed status or gained a measure.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.m.updated_at
    }
    /// Send this back as `expectedVersion` with the next status change or new measure.
    async fn version(&self) -> i32 {
        self.m.version
    }
    /// Until when the record is kept (NHS Records Management Code of Practice), counted
    /// from its closure or abandonment; null while it runs.
    async fn retention_until(&self, ctx: &Context<'_>) -> Option<DateTime<Utc>> {
        crate::governance::retention::project_until(
            &crate::graphql::state(ctx).settings.retention,
            &self.m,
        )
    }
    /// When its content was disposed of at the end of retention.
    async fn disposed_at(&self) -> Option<DateTime<Utc>> {
        self.m.disposed_at
    }
    /// How the project knows whether a change is an improvement, in the order added.
    async fn measures(&self, ctx: &Context<'_>) -> GqlResult<Vec<Measure>> {
        Ok(Loaders::of(ctx)
            .measures_by_project
            .load_one(self.m.id)
            .await
            .map_err(AppError::from)?
            .unwrap_or_default()
            .into_iter()
            .map(Measure)
            .collect())
    }
    /// The Plan-Do-Study-Act cycles, by start date.
    async fn pdsa_cycles(&self, ctx: &Context<'_>) -> GqlResult<Vec<PdsaCycle>> {
        Ok(Loaders::of(ctx)
            .pdsa_by_project
            .load_one(self.m.id)
            .await
            .map_err(AppError::from)?
            .unwrap_or_default()
            .into_iter()
            .map(PdsaCycle)
            .collect())
    }
    /// The incidents that prompted it, as far as the viewer may see them.
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
    /// The audits that prompted it, as far as the viewer may see them.
    async fn audits(&self, ctx: &Context<'_>) -> GqlResult<Vec<Audit>> {
        let ids: Vec<uuid::Uuid> = self.audit_uuids(ctx).await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut found = Loaders::of(ctx)
            .audits
            .load_many(ids.iter().copied())
            .await
            .map_err(AppError::from)?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let Some(m) = found.remove(&id) else { continue };
            let access = crate::audit::service::access_to(state(ctx), request(ctx), &m).await?;
            if access.view {
                out.push(Audit::new(m, access));
            }
        }
        Ok(out)
    }
    /// The IDs of the audits that prompted it.
    async fn audit_ids(&self, ctx: &Context<'_>) -> GqlResult<Vec<ID>> {
        Ok(self
            .audit_uuids(ctx)
            .await?
            .into_iter()
            .map(|id| ids::encode(Kind::Audit, id))
            .collect())
    }
    /// The statuses this viewer may move the project to now.
    async fn allowed_transitions(&self) -> Vec<ImprovementStatus> {
        workflow::allowed_transitions(
            ImprovementStatus::parse(&self.m.status).unwrap_or(ImprovementStatus::Proposed),
            self.access,
        )
    }
    /// Every change to the project, its measures, measurements and PDSA cycles, oldest
    /// first.
    async fn history(&self, ctx: &Context<'_>) -> GqlResult<Vec<TrailEvent>> {
        let rows = Loaders::of(ctx)
            .trail
            .load_one(self.m.id)
            .await
            .map_err(AppError::from)?
            .unwrap_or_default();
        Ok(rows.into_iter().map(TrailEvent::from).collect())
    }
    /// Corrective actions the project raised that the viewer may see, oldest first.
    async fn corrective_actions(
        &self,
        ctx: &Context<'_>,
    ) -> GqlResult<Vec<crate::action::graphql::CorrectiveAction>> {
        let rows = Loaders::of(ctx)
            .actions_by_project
            .load_one(self.m.id)
            .await
            .map_err(AppError::from)?
            .unwrap_or_default();
        let mut out = Vec::with_capacity(rows.len());
        for m in rows {
            if let Some(a) = crate::action::graphql::CorrectiveAction::visible(ctx, m).await? {
                out.push(a);
            }
        }
        Ok(out)
    }
}

impl ImprovementProject {
    async fn audit_uuids(&self, ctx: &Context<'_>) -> GqlResult<Vec<uuid::Uuid>> {
        Ok(self
            .links(ctx)
            .await?
            .into_iter()
            .filter_map(|l| l.audit_id)
            .collect())
    }
}

pub struct Measure(pub measure::Model);

/// Something measured over time to tell whether the changes are improvements.
#[Object]
impl Measure {
    /// The measure's global ID.
    pub async fn id(&self) -> ID {
        ids::encode(Kind::Measure, self.0.id)
    }
    /// What is measured (at most 200 characters).
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Outcome, process or balancing measure.
    async fn kind(&self) -> MeasureKind {
        MeasureKind::parse(&self.0.kind).unwrap_or(MeasureKind::Outcome)
    }
    /// What a value counts: "%", "minutes", "falls per 1,000 bed days"...
    async fn unit(&self) -> &str {
        &self.0.unit
    }
    /// The value the aim is reaching for, if one was set.
    async fn target(&self) -> Option<f64> {
        self.0.target
    }
    /// Which way is better.
    async fn better_when(&self) -> Direction {
        Direction::parse(&self.0.better_when).unwrap_or(Direction::Higher)
    }
    /// The time series as an XmR statistical process control chart ("Making Data
    /// Count"): mean, process limits, special-cause signals per point, and the variation
    /// and assurance icons. Null with fewer than two measurements.
    async fn spc(
        &self,
        ctx: &Context<'_>,
    ) -> GqlResult<Option<crate::dashboard::graphql::SpcChart>> {
        let rows = Loaders::of(ctx)
            .measurements_by_measure
            .load_one(self.0.id)
            .await
            .map_err(AppError::from)?
            .unwrap_or_default();
        let points: Vec<_> = rows.iter().map(|m| (m.at, m.value)).collect();
        let better = match Direction::parse(&self.0.better_when).unwrap_or(Direction::Higher) {
            Direction::Higher => crate::dashboard::spc::Better::Higher,
            Direction::Lower => crate::dashboard::spc::Better::Lower,
        };
        Ok(crate::dashboard::graphql::SpcChart::of(
            &points,
            better,
            self.0.target,
        ))
    }
    /// The time series, oldest first.
    async fn measurements(&self, ctx: &Context<'_>) -> GqlResult<Vec<Measurement>> {
        Ok(Loaders::of(ctx)
            .measurements_by_measure
            .load_one(self.0.id)
            .await
            .map_err(AppError::from)?
            .unwrap_or_default()
            .into_iter()
            .map(Measurement)
            .collect())
    }
}

pub struct Measurement(measurement::Model);

/// One value of a measure.
#[Object]
impl Measurement {
    /// The measurement's global ID.
    async fn id(&self) -> ID {
        ids::encode(Kind::Measurement, self.0.id)
    }
    /// The value, in the measure's `unit`.
    async fn value(&self) -> f64 {
        self.0.value
    }
    /// When the value was true (the period it measures).
    async fn at(&self) -> DateTime<Utc> {
        self.0.at
    }
    /// When it was recorded.
    async fn recorded_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

pub struct PdsaCycle(pub pdsa_cycle::Model);

/// A Plan-Do-Study-Act cycle: one test of change.
#[Object]
impl PdsaCycle {
    /// The cycle's global ID.
    pub async fn id(&self) -> ID {
        ids::encode(Kind::PdsaCycle, self.0.id)
    }
    /// The change tested, in short (at most 200 characters).
    async fn title(&self) -> &str {
        &self.0.title
    }
    /// The change to test, the prediction, and how the data will be collected.
    async fn plan(&self) -> Option<&str> {
        self.0.plan.as_deref()
    }
    /// What happened when the test was carried out.
    #[graphql(name = "do")]
    async fn do_(&self) -> Option<&str> {
        self.0.do_.as_deref()
    }
    /// The results compared with the prediction.
    async fn study(&self) -> Option<&str> {
        self.0.study.as_deref()
    }
    /// What will be done next.
    async fn act(&self) -> Option<&str> {
        self.0.act.as_deref()
    }
    /// The stage the cycle has reached.
    async fn stage(&self) -> PdsaStage {
        PdsaStage::parse(&self.0.stage).unwrap_or(PdsaStage::Plan)
    }
    /// Decided at the ACT stage.
    async fn outcome(&self) -> Option<PdsaOutcome> {
        self.0.outcome.as_deref().and_then(PdsaOutcome::parse)
    }
    /// The day the test starts.
    async fn start_date(&self) -> Date {
        self.0.start_date.into()
    }
    /// The day the test ended; null until recorded.
    async fn end_date(&self) -> Option<Date> {
        self.0.end_date.map(Date::from)
    }
    /// Send this back as `expectedVersion` with the next change to the cycle.
    async fn version(&self) -> i32 {
        self.0.version
    }
}

/// How to order project lists (default: CREATED_AT DESC).
#[derive(InputObject)]
pub struct ImprovementProjectOrder {
    /// What to order by.
    pub field: super::model::ImprovementProjectOrderField,
    /// Which way.
    pub direction: crate::record::OrderDirection,
}

/// Filters for project lists; all given must match.
#[derive(InputObject, Default)]
pub struct ImprovementProjectFilter {
    /// Any of these statuses.
    pub status: Option<Vec<ImprovementStatus>>,
    /// Projects of this department.
    pub department_id: Option<ID>,
    /// Words in the title or aim (case-insensitive).
    pub search: Option<String>,
}

crate::listed!(ImprovementProject => "ImprovementProjectEdge", "ImprovementProjectConnection");

#[derive(Default)]
pub struct ImprovementQuery;

#[Object]
impl ImprovementQuery {
    /// Improvement projects, newest first. Every signed-in person may read them (aggregate
    /// quality data); service accounts need `incidents:read`.
    #[graphql(complexity = "first.unwrap_or(20).clamp(1, 100) as usize * child_complexity")]
    async fn improvement_projects(
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
        #[graphql(desc = "Which projects; every project when not given.")] filter: Option<
            ImprovementProjectFilter,
        >,
        #[graphql(desc = "The order; CREATED_AT DESC when not given.")] order_by: Option<
            ImprovementProjectOrder,
        >,
    ) -> GqlResult<Connection<ImprovementProject>> {
        let st = state(ctx);
        let rc = request(ctx);
        rc.principal()?;
        let first = page_size(first, st.settings.limits.max_page_size)?;
        let f = filter.unwrap_or_default();
        let q = ProjectFilter {
            statuses: f.status.unwrap_or_default(),
            department_id: f
                .department_id
                .as_ref()
                .map(|id| ids::decode_as(Kind::Department, id, "departmentId"))
                .transpose()?,
            search: f.search,
        };
        let order = order_by.map(|o| (o.field, o.direction)).unwrap_or((
            super::model::ImprovementProjectOrderField::CreatedAt,
            crate::record::OrderDirection::Desc,
        ));
        let page = service::list(st, rc, q, order, first, after).await?;
        Ok(Connection::of(page, |(m, access)| {
            ImprovementProject::new(m, access)
        }))
    }
}

/// A measure of a project.
#[derive(InputObject)]
pub struct MeasureInput {
    /// What is measured (at most 200 characters).
    pub name: String,
    /// Outcome, process or balancing measure.
    pub kind: MeasureKind,
    /// What a value counts: "%", "minutes"...
    pub unit: String,
    /// The value the aim is reaching for, if any (a finite number).
    pub target: Option<f64>,
    /// Which way is better.
    pub better_when: Direction,
}

impl From<MeasureInput> for NewMeasure {
    fn from(m: MeasureInput) -> Self {
        NewMeasure {
            name: m.name,
            kind: m.kind,
            unit: m.unit,
            target: m.target,
            better_when: m.better_when,
        }
    }
}

/// A new improvement project, PROPOSED.
#[derive(InputObject)]
pub struct StartImprovementProjectInput {
    /// The project's name (at most 200 characters).
    pub title: String,
    /// What the project is trying to accomplish: how much, by when, for whom.
    pub aim: String,
    /// The department the project belongs to; you must be a quality lead or handle it.
    pub department_id: ID,
    /// At least one.
    pub measures: Vec<MeasureInput>,
    /// The executive sponsor's email.
    pub sponsor_email: Option<String>,
    /// The lead's email: they may record measurements, add measures and run PDSA cycles.
    pub lead_email: Option<String>,
    /// Incidents (that you may see) that prompted it.
    pub incident_ids: Option<Vec<ID>>,
    /// Audits that prompted it.
    pub audit_ids: Option<Vec<ID>>,
}

/// One value of a measure.
#[derive(InputObject)]
pub struct RecordMeasurementInput {
    /// The measure, of a project that is still running.
    pub measure_id: ID,
    /// The value, in the measure's `unit`.
    pub value: f64,
    /// When the value was true; not in the future.
    pub at: DateTime<Utc>,
}

/// A measure added to a running project.
#[derive(InputObject)]
pub struct AddMeasureInput {
    /// The project, still running.
    pub project_id: ID,
    /// The project's `version` last read; a stale one is CONFLICT.
    pub expected_version: i32,
    /// The new measure.
    pub measure: MeasureInput,
}

/// A status change. ABANDONED needs a reason.
#[derive(InputObject)]
pub struct TransitionImprovementProjectInput {
    /// The project to move.
    pub project_id: ID,
    /// The status to move to: one of `allowedTransitions`.
    pub to: ImprovementStatus,
    /// Why (at most 20,000 characters); becomes `statusReason`. Required for ABANDONED.
    pub reason: Option<String>,
    /// The project's `version` last read; a stale one is CONFLICT.
    pub expected_version: i32,
}

/// A new PDSA cycle, at the PLAN stage.
#[derive(InputObject)]
pub struct AddPdsaCycleInput {
    /// The project, still running.
    pub project_id: ID,
    /// The change tested, in short (at most 200 characters).
    pub title: String,
    /// The change to test, the prediction, and how the data will be collected (at most
    /// 20,000 characters).
    pub plan: Option<String>,
    /// The day the test starts.
    pub start_date: Date,
}

/// A change to a PDSA cycle; omitted fields stay as they are.
#[derive(InputObject)]
pub struct UpdatePdsaCycleInput {
    /// The cycle to change.
    pub cycle_id: ID,
    /// The cycle's `version` last read; a stale one is CONFLICT.
    pub expected_version: i32,
    /// Forward only: PLAN, DO, STUDY, ACT.
    pub stage: Option<PdsaStage>,
    /// The plan: the change, the prediction, the data (at most 20,000 characters).
    pub plan: Option<String>,
    /// What happened when the test was carried out (at most 20,000 characters).
    #[graphql(name = "do")]
    pub do_: Option<String>,
    /// The results compared with the prediction (at most 20,000 characters).
    pub study: Option<String>,
    /// What will be done next (at most 20,000 characters).
    pub act: Option<String>,
    /// Not before the start date.
    pub end_date: Option<Date>,
    /// Only at (or with) stage ACT.
    pub outcome: Option<PdsaOutcome>,
}

/// Incidents and audits to link; ones already linked are ignored.
#[derive(InputObject)]
pub struct LinkImprovementProjectInput {
    /// The project (quality leads and the department's handlers).
    pub project_id: ID,
    /// Incidents (that you may see) that prompted it.
    pub incident_ids: Option<Vec<ID>>,
    /// Audits that prompted it.
    pub audit_ids: Option<Vec<ID>>,
}

/// The result of a change to an improvement project, its measures or its PDSA cycles.
#[derive(SimpleObject)]
pub struct ImprovementProjectPayload {
    /// The project as it now is.
    pub improvement_project: ImprovementProject,
}

fn payload((m, access): (project::Model, Access)) -> ImprovementProjectPayload {
    ImprovementProjectPayload {
        improvement_project: ImprovementProject::new(m, access),
    }
}

fn decode_all(kind: Kind, ids: Option<Vec<ID>>, field: &str) -> Result<Vec<uuid::Uuid>, AppError> {
    ids.unwrap_or_default()
        .iter()
        .map(|id| ids::decode_as(kind, id, field))
        .collect()
}

#[derive(Default)]
pub struct ImprovementMutation;

#[Object]
impl ImprovementMutation {
    /// Starts a project (quality leads and the department's handlers).
    async fn start_improvement_project(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new project.")] input: StartImprovementProjectInput,
    ) -> GqlResult<ImprovementProjectPayload> {
        let department_id = ids::decode_as(Kind::Department, &input.department_id, "departmentId")?;
        let incident_ids = decode_all(Kind::Incident, input.incident_ids, "incidentIds")?;
        let audit_ids = decode_all(Kind::Audit, input.audit_ids, "auditIds")?;
        let out = service::start(
            state(ctx),
            request(ctx),
            NewProject {
                title: input.title,
                aim: input.aim,
                department_id,
                measures: input.measures.into_iter().map(NewMeasure::from).collect(),
                sponsor_email: input.sponsor_email,
                lead_email: input.lead_email,
                incident_ids,
                audit_ids,
            },
        )
        .await?;
        Ok(payload(out))
    }

    /// Adds a value to a measure's time series (while the project runs).
    async fn record_measurement(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The measure and its value.")] input: RecordMeasurementInput,
    ) -> GqlResult<ImprovementProjectPayload> {
        let id = ids::decode_as(Kind::Measure, &input.measure_id, "measureId")?;
        let out = service::record_measurement(state(ctx), request(ctx), id, input.value, input.at)
            .await?;
        Ok(payload(out))
    }

    /// Adds a measure to a running project.
    async fn add_measure(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The project and the new measure.")] input: AddMeasureInput,
    ) -> GqlResult<ImprovementProjectPayload> {
        let id = ids::decode_as(Kind::ImprovementProject, &input.project_id, "projectId")?;
        let out = service::add_measure(
            state(ctx),
            request(ctx),
            id,
            input.expected_version,
            input.measure.into(),
        )
        .await?;
        Ok(payload(out))
    }

    /// Moves a project through PROPOSED, ACTIVE, SUSTAINING, CLOSED, or ABANDONED.
    async fn transition_improvement_project(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The move.")] input: TransitionImprovementProjectInput,
    ) -> GqlResult<ImprovementProjectPayload> {
        let id = ids::decode_as(Kind::ImprovementProject, &input.project_id, "projectId")?;
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

    /// Plans a new PDSA cycle.
    async fn add_pdsa_cycle(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new cycle.")] input: AddPdsaCycleInput,
    ) -> GqlResult<ImprovementProjectPayload> {
        let id = ids::decode_as(Kind::ImprovementProject, &input.project_id, "projectId")?;
        let out = service::add_pdsa(
            state(ctx),
            request(ctx),
            id,
            input.title,
            input.plan,
            input.start_date.into(),
        )
        .await?;
        Ok(payload(out))
    }

    /// Records a PDSA cycle's progress: its stage, notes, end date and outcome.
    async fn update_pdsa_cycle(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The change.")] input: UpdatePdsaCycleInput,
    ) -> GqlResult<ImprovementProjectPayload> {
        let id = ids::decode_as(Kind::PdsaCycle, &input.cycle_id, "cycleId")?;
        let out = service::update_pdsa(
            state(ctx),
            request(ctx),
            id,
            input.expected_version,
            PdsaChange {
                stage: input.stage,
                plan: input.plan,
                do_: input.do_,
                study: input.study,
                act: input.act,
                end_date: input.end_date.map(Into::into),
                outcome: input.outcome,
            },
        )
        .await?;
        Ok(payload(out))
    }

    /// Links incidents and audits that prompted the project.
    async fn link_improvement_project(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The project and what to link.")] input: LinkImprovementProjectInput,
    ) -> GqlResult<ImprovementProjectPayload> {
        let id = ids::decode_as(Kind::ImprovementProject, &input.project_id, "projectId")?;
        let incident_ids = decode_all(Kind::Incident, input.incident_ids, "incidentIds")?;
        let audit_ids = decode_all(Kind::Audit, input.audit_ids, "auditIds")?;
        let out = service::link(state(ctx), request(ctx), id, incident_ids, audit_ids).await?;
        Ok(payload(out))
    }
}
