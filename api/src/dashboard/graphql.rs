//! The SPC chart as GraphQL types.
use async_graphql::{Enum, SimpleObject};
use chrono::{DateTime, Utc};

use super::spc;

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
    High,
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
    pub at: DateTime<Utc>,
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
    pub mean: f64,
    pub average_moving_range: f64,
    pub upper_process_limit: f64,
    pub lower_process_limit: f64,
    pub points: Vec<SpcPoint>,
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
