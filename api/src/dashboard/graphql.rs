//! The dashboard and the SPC chart as GraphQL types: thin resolvers over `service`.
use async_graphql::{Context, Enum, InputObject, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};

use super::model::*;
use super::rollup::metric;
use super::service::{self, Scope};
use super::spc;
use crate::graphql::{request, state};
use crate::org::graphql::{Department, StaffMember};
use crate::record::ids::{self, Kind};
use crate::record::scalars::Date;

type GqlResult<T> = async_graphql::Result<T>;

/// A special-cause rule ("Making Data Count").
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpcRule {
    /// A point outside the process limits.
    OutsideLimits,
    /// Seven or more consecutive points on one side of the mean.
    Shift,
    /// Six or more consecutive points each higher, or each lower, than the one before.
    Trend,
    /// Two out of three consecutive points close to a process limit, on the same side.
    TwoOfThreeNearLimit,
}

/// Which side of the mean a special cause points to.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpcSide {
    /// Above the mean, or rising.
    High,
    /// Below the mean, or falling.
    Low,
}

/// The variation icon: what the latest point says.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpcVariation {
    /// Special cause in the direction that is better.
    Improving,
    /// Special cause in the direction that is worse.
    Concerning,
    /// Common cause: no signal at the latest point.
    CommonCause,
}

/// The assurance icon: will the process meet its target?
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpcAssurance {
    /// The target lies beyond the process limits on the good side.
    ConsistentlyMet,
    /// The target lies within the process limits.
    HitAndMiss,
    /// The target lies beyond the process limits on the bad side.
    ConsistentlyNotMet,
}

/// One point of an XmR chart.
#[derive(SimpleObject)]
pub struct SpcPoint {
    /// When the measurement was true (its `at`).
    pub at: DateTime<Utc>,
    /// The measured value.
    pub value: f64,
    /// The absolute difference from the previous point; null for the first.
    pub moving_range: Option<f64>,
    /// The special-cause rules this point is part of.
    pub rules: Vec<SpcRule>,
    /// The direction of its special cause, if any.
    pub special_cause: Option<SpcSide>,
}

/// An XmR chart: mean, process limits (mean ± 2.66 × average moving range), each point's
/// signals, and the variation and assurance icons' meanings.
#[derive(SimpleObject)]
pub struct SpcChart {
    /// The mean of the values.
    pub mean: f64,
    /// The mean of the moving ranges (absolute differences between consecutive points).
    pub average_moving_range: f64,
    /// mean + 2.66 × averageMovingRange.
    pub upper_process_limit: f64,
    /// mean − 2.66 × averageMovingRange.
    pub lower_process_limit: f64,
    /// The measurements in time order, each with its signals.
    pub points: Vec<SpcPoint>,
    /// What the latest point says.
    pub variation: SpcVariation,
    /// Null without a target.
    pub assurance: Option<SpcAssurance>,
    /// Fewer than 15 points: the limits are indicative only.
    pub few_points: bool,
}

impl SpcChart {
    /// The chart of `(at, value)` points in time order.
    pub fn of(
        points: &[(DateTime<Utc>, f64)],
        better: spc::Better,
        target: Option<f64>,
    ) -> Option<Self> {
        let values: Vec<f64> = points.iter().map(|(_, v)| *v).collect();
        let c = spc::xmr(&values, better, target)?;
        Some(Self {
            mean: c.mean,
            average_moving_range: c.average_moving_range,
            upper_process_limit: c.upper_process_limit,
            lower_process_limit: c.lower_process_limit,
            points: c
                .points
                .into_iter()
                .zip(points)
                .map(|(p, (at, _))| SpcPoint {
                    at: *at,
                    value: p.value,
                    moving_range: p.moving_range,
                    rules: p
                        .rules
                        .into_iter()
                        .map(|r| match r {
                            spc::Rule::OutsideLimits => SpcRule::OutsideLimits,
                            spc::Rule::Shift => SpcRule::Shift,
                            spc::Rule::Trend => SpcRule::Trend,
                            spc::Rule::TwoOfThreeNearLimit => SpcRule::TwoOfThreeNearLimit,
                        })
                        .collect(),
                    special_cause: p.side.map(|s| match s {
                        spc::Side::High => SpcSide::High,
                        spc::Side::Low => SpcSide::Low,
                    }),
                })
                .collect(),
            variation: match c.variation {
                spc::Variation::Improving => SpcVariation::Improving,
                spc::Variation::Concerning => SpcVariation::Concerning,
                spc::Variation::CommonCause => SpcVariation::CommonCause,
            },
            assurance: c.assurance.map(|a| match a {
                spc::Assurance::ConsistentlyMet => SpcAssurance::ConsistentlyMet,
                spc::Assurance::HitAndMiss => SpcAssurance::HitAndMiss,
                spc::Assurance::ConsistentlyNotMet => SpcAssurance::ConsistentlyNotMet,
            }),
            few_points: c.few_points,
        })
    }
}

// ---- The dashboard ----

/// Which departments and days the dashboard covers.
#[derive(InputObject, Default)]
pub struct DashboardFilter {
    /// Departments to include; by default every department the caller may see. A
    /// department outside the caller's scope is FORBIDDEN.
    pub department_ids: Option<Vec<ID>>,
    /// The first day (the trust's local date), inclusive. Default: a year before `to`.
    pub from: Option<Date>,
    /// The last day, inclusive. Default: today.
    pub to: Option<Date>,
}

#[derive(Default)]
pub struct DashboardQuery;

#[Object]
impl DashboardQuery {
    /// Figures for quality leads (every department) and handlers (their departments);
    /// `incidents:read` service accounts see every department. Counts only: no sensitive
    /// field, and nothing is written to the access log. Every figure is served from
    /// rollups kept in step with the records, so a five-year view costs what a week does.
    async fn dashboard(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "Which departments and days; every department the caller may see, over the year to today, when not given."
        )]
        filter: Option<DashboardFilter>,
    ) -> GqlResult<Dashboard> {
        let f = filter.unwrap_or_default();
        let department_ids = match f.department_ids {
            Some(ids) => Some(
                ids.iter()
                    .map(|id| ids::decode_as(Kind::Department, id, "departmentIds"))
                    .collect::<Result<Vec<_>, _>>()?,
            ),
            None => None,
        };
        let scope = service::scope(
            state(ctx),
            request(ctx),
            department_ids,
            f.from.map(Into::into),
            f.to.map(Into::into),
        )
        .await?;
        Ok(Dashboard(scope))
    }
}

pub struct Dashboard(Scope);

/// The dashboard of one scope: departments and period.
#[Object]
impl Dashboard {
    /// The first day of the period (the trust's local date), inclusive, defaults applied.
    async fn from(&self) -> Date {
        self.0.from.into()
    }
    /// The last day of the period, inclusive, defaults applied.
    async fn to(&self) -> Date {
        self.0.to.into()
    }
    /// The departments the figures cover.
    async fn departments(&self, ctx: &Context<'_>) -> GqlResult<Vec<Department>> {
        Ok(service::departments(state(ctx), &self.0)
            .await?
            .into_iter()
            .map(Department)
            .collect())
    }
    /// Incidents reported in the period (by the trust's local date of the report), bucket
    /// by bucket, optionally split by one of their facts (status: as they are now).
    async fn incident_counts(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            default_with = "TimeInterval::Month",
            desc = "The size of each bucket."
        )]
        interval: TimeInterval,
        #[graphql(desc = "The fact to split each bucket's count by; no split when not given.")]
        split_by: Option<IncidentDimension>,
    ) -> GqlResult<IncidentCountSeries> {
        Ok(service::incident_counts(state(ctx), &self.0, interval, split_by).await?)
    }
    /// Incidents reported and incidents closed in each bucket.
    async fn reported_vs_closed(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            default_with = "TimeInterval::Month",
            desc = "The size of each bucket."
        )]
        interval: TimeInterval,
    ) -> GqlResult<Vec<ReportedClosedBucket>> {
        Ok(service::reported_vs_closed(state(ctx), &self.0, interval).await?)
    }
    /// Hours from report to triage, of the incidents triaged in the period.
    async fn time_to_triage(&self, ctx: &Context<'_>) -> GqlResult<DurationSummary> {
        Ok(service::durations(state(ctx), &self.0, metric::TRIAGE).await?)
    }
    /// Hours from report to closure, of the incidents closed in the period.
    async fn time_to_close(&self, ctx: &Context<'_>) -> GqlResult<DurationSummary> {
        Ok(service::durations(state(ctx), &self.0, metric::CLOSE).await?)
    }
    /// Incidents open now (reported, under review, investigating, actions in progress), by
    /// days since they were reported. The period does not apply.
    async fn open_incidents_by_age(&self, ctx: &Context<'_>) -> GqlResult<Vec<AgeBand>> {
        Ok(service::open_by_age(state(ctx), &self.0).await?)
    }
    /// Corrective actions of the departments: open and overdue now; completed on time and
    /// verified over all time. The period does not apply.
    async fn corrective_actions(&self, ctx: &Context<'_>) -> GqlResult<ActionFiguresObject> {
        Ok(ActionFiguresObject(
            service::actions(state(ctx), &self.0).await?,
        ))
    }
    /// Audit series (an audit and its re-audits) with a cycle planned to start in the
    /// period: each criterion's compliance cycle by cycle.
    async fn audit_compliance(&self, ctx: &Context<'_>) -> GqlResult<Vec<AuditSeries>> {
        Ok(service::audit_series(state(ctx), &self.0)
            .await?
            .into_iter()
            .map(AuditSeries)
            .collect())
    }
    /// Audit findings below target with no corrective action completed yet, whenever
    /// found. The period does not apply.
    async fn non_conformities_open(&self, ctx: &Context<'_>) -> GqlResult<i64> {
        Ok(service::non_conformities_open(state(ctx), &self.0).await?)
    }
    /// Learning responses of the departments open now (PLANNED or IN_PROGRESS), and how
    /// many of them are past the date agreed with those affected. The period does not
    /// apply.
    async fn learning_responses(&self, ctx: &Context<'_>) -> GqlResult<LearningResponseFigures> {
        let ids = self
            .0
            .departments
            .as_ref()
            .map(|d| d.iter().map(|d| d.id).collect());
        let c = crate::learning::service::counts(state(ctx), ids).await?;
        Ok(LearningResponseFigures {
            open: c.open as i64,
            overdue: c.overdue as i64,
        })
    }
    /// The measures of improvement projects under way (ACTIVE or SUSTAINING), each with
    /// its statistical process control chart (`measure.spc`).
    async fn improvement_measures(&self, ctx: &Context<'_>) -> GqlResult<Vec<DashboardMeasure>> {
        let rc = request(ctx);
        let mut out = Vec::new();
        for (p, m) in service::improvement_measures(state(ctx), &self.0).await? {
            let access = crate::improvement::service::access_to(state(ctx), rc, &p).await?;
            out.push(DashboardMeasure {
                project: crate::improvement::graphql::ImprovementProject::new(p, access),
                measure: crate::improvement::graphql::Measure(m),
            });
        }
        Ok(out)
    }
}

/// Learning responses open now, and overdue against their agreed timeframe.
#[derive(SimpleObject)]
pub struct LearningResponseFigures {
    /// PLANNED or IN_PROGRESS.
    pub open: i64,
    /// Open and past the date agreed with those affected (in the trust's time zone).
    pub overdue: i64,
}

fn counts_fields(c: &ActionCounts) -> ActionCountsFields {
    ActionCountsFields {
        open: c.open,
        overdue: c.overdue,
        completed: c.completed,
        completed_on_time: c.completed_on_time,
        completed_on_time_percent: ActionCounts::percent(c.completed_on_time, c.completed),
        verified: c.verified,
        verified_effective: c.verified_effective,
        effectiveness_verified_percent: ActionCounts::percent(c.verified, c.completed),
    }
}

/// The counters shared by every action figure.
#[derive(SimpleObject)]
pub struct ActionCountsFields {
    /// OPEN or IN_PROGRESS.
    pub open: i64,
    /// Open and past their due date.
    pub overdue: i64,
    /// COMPLETED or VERIFIED.
    pub completed: i64,
    /// Completed on or before their due date.
    pub completed_on_time: i64,
    /// completedOnTime / completed, in percent (one decimal); null when none completed.
    pub completed_on_time_percent: Option<f64>,
    /// Completed and their effectiveness verified (effective or not).
    pub verified: i64,
    /// Verified and found effective.
    pub verified_effective: i64,
    /// verified / completed, in percent (one decimal); null when none completed.
    pub effectiveness_verified_percent: Option<f64>,
}

pub struct ActionFiguresObject(super::model::ActionFigures);

/// Corrective-action figures: in all, by department, by owner.
#[Object(name = "ActionFigures")]
impl ActionFiguresObject {
    /// Actions OPEN or IN_PROGRESS now.
    async fn open(&self) -> i64 {
        self.0.counts.open
    }
    /// Open actions past their due date (the trust's today).
    async fn overdue(&self) -> i64 {
        self.0.counts.overdue
    }
    /// Actions COMPLETED or VERIFIED.
    async fn completed(&self) -> i64 {
        self.0.counts.completed
    }
    /// Completed actions completed on or before their due date (the trust's local date).
    async fn completed_on_time(&self) -> i64 {
        self.0.counts.completed_on_time
    }
    /// completedOnTime / completed, in percent (one decimal); null when none completed.
    async fn completed_on_time_percent(&self) -> Option<f64> {
        counts_fields(&self.0.counts).completed_on_time_percent
    }
    /// Actions VERIFIED, effective or not.
    async fn verified(&self) -> i64 {
        self.0.counts.verified
    }
    /// Actions verified and found effective.
    async fn verified_effective(&self) -> i64 {
        self.0.counts.verified_effective
    }
    /// verified / completed, in percent (one decimal); null when none completed.
    async fn effectiveness_verified_percent(&self) -> Option<f64> {
        counts_fields(&self.0.counts).effectiveness_verified_percent
    }
    /// By department, by code.
    async fn by_department(&self) -> Vec<ActionFigureRow> {
        self.0
            .by_department
            .iter()
            .cloned()
            .map(ActionFigureRow)
            .collect()
    }
    /// By owner, most overdue first.
    async fn by_owner(&self) -> Vec<ActionFigureRow> {
        self.0
            .by_owner
            .iter()
            .cloned()
            .map(ActionFigureRow)
            .collect()
    }
}

pub struct ActionFigureRow(ActionGroup);

/// The action figures of one department or one owner.
#[Object]
impl ActionFigureRow {
    /// The department (rows of `byDepartment`).
    async fn department(&self, ctx: &Context<'_>) -> GqlResult<Option<Department>> {
        let Some(id) = self.0.department_id else {
            return Ok(None);
        };
        Ok(crate::org::service::department(state(ctx), id)
            .await?
            .map(Department))
    }
    /// The owner's address (rows of `byOwner`).
    async fn owner_email(&self) -> Option<&str> {
        self.0.owner_email.as_deref()
    }
    /// The owner, once they have signed in to Candour (rows of `byOwner`).
    async fn owner(&self, ctx: &Context<'_>) -> GqlResult<Option<StaffMember>> {
        let Some(email) = &self.0.owner_email else {
            return Ok(None);
        };
        Ok(crate::graphql::loaders::Loaders::of(ctx)
            .staff_by_email
            .load_one(email.clone())
            .await
            .map_err(crate::error::AppError::from)?
            .map(StaffMember))
    }
    /// Actions OPEN or IN_PROGRESS now.
    async fn open(&self) -> i64 {
        self.0.counts.open
    }
    /// Open actions past their due date (the trust's today).
    async fn overdue(&self) -> i64 {
        self.0.counts.overdue
    }
    /// Actions COMPLETED or VERIFIED.
    async fn completed(&self) -> i64 {
        self.0.counts.completed
    }
    /// Completed actions completed on or before their due date (the trust's local date).
    async fn completed_on_time(&self) -> i64 {
        self.0.counts.completed_on_time
    }
    /// completedOnTime / completed, in percent (one decimal); null when none completed.
    async fn completed_on_time_percent(&self) -> Option<f64> {
        counts_fields(&self.0.counts).completed_on_time_percent
    }
    /// Actions VERIFIED, effective or not.
    async fn verified(&self) -> i64 {
        self.0.counts.verified
    }
    /// Actions verified and found effective.
    async fn verified_effective(&self) -> i64 {
        self.0.counts.verified_effective
    }
    /// verified / completed, in percent (one decimal); null when none completed.
    async fn effectiveness_verified_percent(&self) -> Option<f64> {
        counts_fields(&self.0.counts).effectiveness_verified_percent
    }
}

pub struct AuditSeries(service::AuditSeries);

/// An audit and its re-audits.
#[Object]
impl AuditSeries {
    /// The first audit's title.
    async fn title(&self) -> &str {
        self.0.cycles.first().map_or("", |a| a.title.as_str())
    }
    /// The first audit's department.
    async fn department(&self, ctx: &Context<'_>) -> GqlResult<Option<Department>> {
        let Some(first) = self.0.cycles.first() else {
            return Ok(None);
        };
        Ok(
            crate::org::service::department(state(ctx), first.department_id)
                .await?
                .map(Department),
        )
    }
    /// The cycles, oldest first.
    async fn cycles(&self, ctx: &Context<'_>) -> GqlResult<Vec<crate::audit::graphql::Audit>> {
        let rc = request(ctx);
        let mut out = Vec::with_capacity(self.0.cycles.len());
        for a in &self.0.cycles {
            let access = crate::audit::service::access_to(state(ctx), rc, a).await?;
            out.push(crate::audit::graphql::Audit::new(a.clone(), access));
        }
        Ok(out)
    }
    /// Each criterion's compliance, cycle by cycle.
    async fn criteria(&self) -> &[CriterionTrend] {
        &self.0.criteria
    }
}

/// A measure of an improvement project under way.
#[derive(SimpleObject)]
pub struct DashboardMeasure {
    /// The project the measure belongs to.
    pub project: crate::improvement::graphql::ImprovementProject,
    /// The measure, with its chart in `spc`.
    pub measure: crate::improvement::graphql::Measure,
}
