//! The dashboard's figures: plain values (counts, percentiles, percentages) that carry no
//! sensitive field, shaped as the GraphQL contract names them.
use async_graphql::{Enum, SimpleObject};
use uuid::Uuid;

use async_graphql::{ContextSelectionSet, ScalarType, ServerResult, Value};

use crate::dashboard::plain::{plain_list, Ints, Plain, PlainList, Strings};
use crate::record::scalars::Date;

/// How a series is bucketed: calendar days, weeks from Monday, or calendar months, in the
/// trust's time zone.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeInterval {
    /// Calendar days.
    Day,
    /// Weeks from Monday to Sunday.
    Week,
    /// Calendar months.
    Month,
}

/// What a series of incident counts is split by.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncidentDimension {
    /// The kind of event (`IncidentKind`).
    Kind,
    /// Physical harm, as reported or confirmed (`HarmLevel`).
    PhysicalHarm,
    /// Psychological harm, as reported or confirmed (`HarmLevel`, up to SEVERE).
    PsychologicalHarm,
    /// The department, by code.
    Department,
    /// The category: the configured taxonomy, then any other value seen.
    Category,
    /// The incidents' current status.
    Status,
    /// Near miss or not.
    NearMiss,
}

/// One value of the split and how many incidents have it.
#[derive(SimpleObject, Debug, Clone, PartialEq)]
pub struct SplitCount {
    /// The value as the API names it: an enum value (`MODERATE`, `EQUIPMENT`,
    /// `UNDER_REVIEW`), a department code, a category (empty for uncategorised), or
    /// `true`/`false` for near miss.
    pub key: String,
    /// The value in words.
    pub label: String,
    /// How many incidents have it.
    pub count: i64,
}

/// One bucket of a series: its days (the first and last clipped to the period).
#[derive(SimpleObject, Debug, Clone, PartialEq)]
pub struct IncidentCountBucket {
    /// The bucket's first day (the trust's local date).
    pub start: Date,
    /// The bucket's last day, inclusive.
    pub end: Date,
    /// Incidents reported in the bucket.
    pub total: i64,
    /// Every value of the split, zeros included, in a fixed order (empty without a split).
    pub split: Vec<SplitCount>,
    /// The same counts as `split`, as numbers in the order of the series' `keys`: the
    /// compact form for a chart (cheaper to serve than `split`'s objects).
    pub counts: Ints,
}

/// Incidents reported in the period, bucket by bucket.
#[derive(SimpleObject, Debug, Clone, PartialEq)]
pub struct IncidentCountSeries {
    /// The size of each bucket, as asked for.
    pub interval: TimeInterval,
    /// The split asked for; null without one.
    pub split_by: Option<IncidentDimension>,
    /// Incidents reported in the whole period.
    pub total: i64,
    /// Per value of the split, over the whole period.
    pub totals: PlainList<SplitCount>,
    /// The values of the split, in the order of every bucket's `split` and `counts`.
    pub keys: Strings,
    /// The same values in words.
    pub labels: Strings,
    /// Every bucket from `from` to `to`, empty ones included, oldest first.
    pub buckets: PlainList<IncidentCountBucket>,
}

impl Plain for SplitCount {
    fn field(&self, name: &str, _ctx: &ContextSelectionSet<'_>) -> ServerResult<Value> {
        Ok(match name {
            "key" => Value::String(self.key.clone()),
            "label" => Value::String(self.label.clone()),
            "count" => Value::from(self.count),
            _ => Value::Null,
        })
    }
}

impl Plain for IncidentCountBucket {
    fn field(&self, name: &str, ctx: &ContextSelectionSet<'_>) -> ServerResult<Value> {
        Ok(match name {
            "start" => self.start.to_value(),
            "end" => self.end.to_value(),
            "total" => Value::from(self.total),
            "split" => plain_list(ctx, &self.split)?,
            "counts" => Value::List(self.counts.0.iter().map(|n| Value::from(*n)).collect()),
            _ => Value::Null,
        })
    }
}

/// Incidents reported, and incidents closed, in one bucket.
#[derive(SimpleObject, Debug, Clone, PartialEq)]
pub struct ReportedClosedBucket {
    /// The bucket's first day (the trust's local date).
    pub start: Date,
    /// The bucket's last day, inclusive.
    pub end: Date,
    /// Incidents reported in the bucket (by the trust's local date of the report).
    pub reported: i64,
    /// Incidents closed in the bucket (by the trust's local date of closing).
    pub closed: i64,
}

/// A distribution of durations. Percentiles are within 1 % of the exact nearest-rank value
/// (durations under a minute count as half a minute).
#[derive(SimpleObject, Debug, Clone, PartialEq)]
pub struct DurationSummary {
    /// How many durations there are.
    pub count: i64,
    /// The median, in hours (two decimals); null when there are none.
    pub median_hours: Option<f64>,
    /// The 90th percentile, in hours (two decimals); null when there are none.
    pub p90_hours: Option<f64>,
}

/// Open incidents whose report is this many days old.
#[derive(SimpleObject, Debug, Clone, PartialEq)]
pub struct AgeBand {
    /// The band in words, e.g. `1 to 4 weeks`.
    pub label: String,
    /// The band's youngest age, in whole days since the report (the trust's local dates).
    pub min_days: i32,
    /// The band's oldest age in days, inclusive. Null for the oldest band.
    pub max_days: Option<i32>,
    /// Open incidents in the band.
    pub count: i64,
}

/// Counts of corrective actions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActionCounts {
    /// OPEN or IN_PROGRESS.
    pub open: i64,
    /// Open and past their due date (the trust's today).
    pub overdue: i64,
    /// COMPLETED or VERIFIED.
    pub completed: i64,
    /// Completed on or before their due date.
    pub completed_on_time: i64,
    /// VERIFIED (effective or not).
    pub verified: i64,
    /// Verified and found effective.
    pub verified_effective: i64,
}

impl ActionCounts {
    pub fn add(&mut self, other: &ActionCounts) {
        self.open += other.open;
        self.overdue += other.overdue;
        self.completed += other.completed;
        self.completed_on_time += other.completed_on_time;
        self.verified += other.verified;
        self.verified_effective += other.verified_effective;
    }

    pub fn percent(part: i64, whole: i64) -> Option<f64> {
        (whole > 0).then(|| (part as f64 * 1000.0 / whole as f64).round() / 10.0)
    }
}

/// Action counts of one department or one owner.
#[derive(Debug, Clone)]
pub struct ActionGroup {
    pub department_id: Option<Uuid>,
    pub owner_email: Option<String>,
    pub counts: ActionCounts,
}

/// The corrective-action figures: the whole scope, by department, by owner.
#[derive(Debug, Clone, Default)]
pub struct ActionFigures {
    pub counts: ActionCounts,
    pub by_department: Vec<ActionGroup>,
    pub by_owner: Vec<ActionGroup>,
}

/// One cycle's result for a criterion.
#[derive(SimpleObject, Debug, Clone, PartialEq)]
pub struct CompliancePoint {
    /// The cycle's audit.
    #[graphql(name = "auditId")]
    pub audit_id: async_graphql::ID,
    /// The cycle's planned start.
    pub planned_start: Date,
    /// Compliance in that cycle, in percent.
    pub compliance_percent: f64,
    /// The target in that cycle, in percent.
    pub target_percent: f64,
    /// Below target.
    pub non_conformity: bool,
}

/// A criterion's compliance cycle by cycle.
#[derive(SimpleObject, Debug, Clone, PartialEq)]
pub struct CriterionTrend {
    /// The criterion, in the words of the first cycle that measured it.
    pub criterion: String,
    /// Oldest cycle first; cycles that did not measure the criterion are left out.
    pub points: Vec<CompliancePoint>,
}

/// The department codes and words of a split's fixed values.
pub fn words(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for (i, part) in key.split('_').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let lower = part.to_lowercase();
        if i == 0 {
            let mut c = lower.chars();
            if let Some(f) = c.next() {
                out.extend(f.to_uppercase());
                out.push_str(c.as_str());
            }
        } else {
            out.push_str(&lower);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enum_values_read_as_words() {
        assert_eq!(words("ACTIONS_IN_PROGRESS"), "Actions in progress");
        assert_eq!(words("MODERATE"), "Moderate");
        assert_eq!(words("INFORMATION_GOVERNANCE"), "Information governance");
    }

    #[test]
    fn percentages_have_one_decimal_and_none_of_nothing() {
        assert_eq!(ActionCounts::percent(2, 3), Some(66.7));
        assert_eq!(ActionCounts::percent(0, 0), None);
        assert_eq!(ActionCounts::percent(5, 5), Some(100.0));
    }
}
