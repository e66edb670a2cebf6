//! Regulatory obligations as data: each rule says which incidents it applies to, when its
//! clock starts, how long it runs and which step meets it. The built-in table (below, in
//! TOML) follows DESIGN §5; an operator replaces it with `[[obligation_rules]]` in
//! `candour.toml`. Deriving obligations from an incident's facts is a pure function here.
use std::collections::BTreeSet;

use async_graphql::Enum;
use chrono::{DateTime, Duration, NaiveTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use crate::incident::model::{HarmLevel, IncidentKind};
use crate::notify::calendar::WorkingCalendar;

/// Facts about an incident that decide what is owed to a regulator, beyond its kind and
/// harm. Set when reporting or during triage.
#[derive(
    Enum, Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RegulatoryFact {
    /// Psychological harm lasting, or likely to last, 28 days or more (duty of candour).
    ProlongedPsychologicalHarm,
    /// A RIDDOR specified injury or dangerous occurrence to a member of staff.
    ReportableStaffInjury,
    /// A member of staff unable to do their normal work for more than 7 days (RIDDOR).
    #[serde(rename = "STAFF_INCAPACITATED_OVER_7_DAYS")]
    StaffIncapacitatedOver7Days,
    /// A significant accidental or unintended exposure to ionising radiation (IR(ME)R).
    SignificantUnintendedExposure,
    /// A personal-data breach likely to result in a risk to people's rights and freedoms
    /// (UK GDPR article 33: the ICO within 72 hours).
    RiskToIndividuals,
    /// An adverse incident involving a medical device (MHRA Yellow Card).
    MedicalDevice,
    /// A serious adverse event or reaction involving blood or blood components (SABRE).
    BloodComponent,
}

crate::stored_enum!(RegulatoryFact {
    ProlongedPsychologicalHarm => "PROLONGED_PSYCHOLOGICAL_HARM",
    ReportableStaffInjury => "REPORTABLE_STAFF_INJURY",
    StaffIncapacitatedOver7Days => "STAFF_INCAPACITATED_OVER_7_DAYS",
    SignificantUnintendedExposure => "SIGNIFICANT_UNINTENDED_EXPOSURE",
    RiskToIndividuals => "RISK_TO_INDIVIDUALS",
    MedicalDevice => "MEDICAL_DEVICE",
    BloodComponent => "BLOOD_COMPONENT",
});

impl RegulatoryFact {
    /// The facts stored on an incident (a JSON array of names); unknown names are skipped.
    pub fn parse_set(json: &str) -> BTreeSet<RegulatoryFact> {
        serde_json::from_str::<Vec<serde_json::Value>>(json)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|v| serde_json::from_value(v).ok())
            .collect()
    }

    pub fn to_json(set: &BTreeSet<RegulatoryFact>) -> String {
        serde_json::to_string(set).unwrap_or_else(|_| "[]".into())
    }
}

/// The step that meets an obligation.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ObligationStepKind {
    /// The patient or their family told in person (duty of candour).
    VerbalNotification,
    /// The written notification sent (duty of candour).
    WrittenNotification,
    /// The report submitted to the regulator, with its reference.
    ReportSubmitted,
}

crate::stored_enum!(ObligationStepKind {
    VerbalNotification => "VERBAL_NOTIFICATION",
    WrittenNotification => "WRITTEN_NOTIFICATION",
    ReportSubmitted => "REPORT_SUBMITTED",
});

/// Which event starts a clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ClockStart {
    /// When the incident was reported: the trust's discovery of it.
    Reported,
    /// When the incident happened.
    Occurred,
}

/// How long a clock runs: exactly one of the three.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Period {
    /// Working days (weekends and `bank_holidays` skipped), due at the end of the last.
    pub working_days: Option<u32>,
    /// Calendar days, due at the end of the last.
    pub days: Option<u32>,
    /// Hours, due to the minute.
    pub hours: Option<u32>,
}

/// Which incidents a rule applies to; every condition given must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Conditions {
    /// Any of these kinds (IncidentKind names); empty means any kind.
    pub kinds: Vec<String>,
    /// At least this physical harm (HarmLevel name).
    pub min_physical_harm: Option<String>,
    /// All of these facts (RegulatoryFact names).
    pub facts: Vec<String>,
    /// None of these facts.
    pub without_facts: Vec<String>,
    /// Whether the duty of candour applies (set in triage, else moderate harm or worse, or
    /// prolonged psychological harm).
    pub duty_of_candour: Option<bool>,
    /// Whether it was a near miss.
    pub near_miss: Option<bool>,
}

/// One row of the obligations table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObligationRule {
    /// A short code, e.g. RIDDOR; an incident has at most one obligation per kind, from the
    /// first rule of that kind that applies.
    pub kind: String,
    /// What is owed, in words.
    pub name: String,
    /// To whom.
    pub owed_to: String,
    pub starts: ClockStart,
    pub due: Period,
    /// The step that meets it.
    pub completed_by: ObligationStepKind,
    #[serde(default)]
    pub when: Conditions,
}

/// The built-in table (DESIGN §5).
const DEFAULT_RULES: &str = r#"
[[rules]]
kind = "DUTY_OF_CANDOUR"
name = "Duty of candour: notify the patient or their family, in person and in writing"
owed_to = "The patient or their family"
starts = "REPORTED"
due = { working_days = 10 }
completed_by = "WRITTEN_NOTIFICATION"
when = { duty_of_candour = true }

[[rules]]
kind = "RIDDOR"
name = "RIDDOR: report the specified injury or dangerous occurrence to the HSE"
owed_to = "Health and Safety Executive"
starts = "OCCURRED"
due = { days = 10 }
completed_by = "REPORT_SUBMITTED"
when = { kinds = ["STAFF_SAFETY"], facts = ["REPORTABLE_STAFF_INJURY"] }

[[rules]]
kind = "RIDDOR"
name = "RIDDOR: report the over-7-day incapacitation to the HSE"
owed_to = "Health and Safety Executive"
starts = "OCCURRED"
due = { days = 15 }
completed_by = "REPORT_SUBMITTED"
when = { kinds = ["STAFF_SAFETY"], facts = ["STAFF_INCAPACITATED_OVER_7_DAYS"] }

[[rules]]
kind = "IRMER_NOTIFICATION"
name = "IR(ME)R: notify the CQC of the significant accidental or unintended exposure"
owed_to = "Care Quality Commission"
starts = "REPORTED"
due = { days = 14 }
completed_by = "REPORT_SUBMITTED"
when = { kinds = ["RADIATION"], facts = ["SIGNIFICANT_UNINTENDED_EXPOSURE"] }

[[rules]]
kind = "IRMER_FULL_REPORT"
name = "IR(ME)R: send the CQC the full investigation report"
owed_to = "Care Quality Commission"
starts = "REPORTED"
due = { days = 84 }
completed_by = "REPORT_SUBMITTED"
when = { kinds = ["RADIATION"], facts = ["SIGNIFICANT_UNINTENDED_EXPOSURE"] }

[[rules]]
kind = "ICO_BREACH"
name = "Report the personal-data breach to the ICO"
owed_to = "Information Commissioner's Office"
starts = "REPORTED"
due = { hours = 72 }
completed_by = "REPORT_SUBMITTED"
when = { kinds = ["INFORMATION_GOVERNANCE"], facts = ["RISK_TO_INDIVIDUALS"] }

[[rules]]
kind = "MHRA_YELLOW_CARD"
name = "Report the medical-device incident to the MHRA (Yellow Card)"
owed_to = "Medicines and Healthcare products Regulatory Agency"
starts = "REPORTED"
due = { working_days = 2 }
completed_by = "REPORT_SUBMITTED"
when = { facts = ["MEDICAL_DEVICE"] }

[[rules]]
kind = "SABRE"
name = "Report the serious adverse blood event or reaction to SABRE"
owed_to = "MHRA (SABRE)"
starts = "REPORTED"
due = { working_days = 1 }
completed_by = "REPORT_SUBMITTED"
when = { facts = ["BLOOD_COMPONENT"] }
"#;

#[derive(Deserialize)]
struct Table {
    rules: Vec<ObligationRule>,
}

pub fn defaults() -> Vec<ObligationRule> {
    toml::from_str::<Table>(DEFAULT_RULES)
        .expect("the built-in obligation rules parse")
        .rules
}

fn harm(name: &str) -> Option<HarmLevel> {
    (0..=4)
        .map(HarmLevel::from_rank)
        .find(|h| h.as_str() == name)
}

fn fact(name: &str) -> Option<RegulatoryFact> {
    serde_json::from_value(serde_json::Value::String(name.into())).ok()
}

/// Checks a table; Err names the first rule that cannot work.
pub fn check(rules: &[ObligationRule]) -> Result<(), String> {
    for (i, r) in rules.iter().enumerate() {
        let at = || format!("rule {} ({})", i + 1, r.kind);
        if r.kind.trim().is_empty()
            || r.kind.len() > 40
            || !r
                .kind
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        {
            return Err(format!("{}: kind must be 1-40 of A-Z, 0-9 and _", at()));
        }
        if r.name.trim().is_empty() || r.owed_to.trim().is_empty() {
            return Err(format!("{}: name and owed_to are required", at()));
        }
        let d = &r.due;
        let set = [d.working_days, d.days, d.hours]
            .iter()
            .filter(|v| v.is_some())
            .count();
        if set != 1 || [d.working_days, d.days, d.hours].contains(&Some(0)) {
            return Err(format!(
                "{}: due needs exactly one of working_days, days or hours, at least 1",
                at()
            ));
        }
        for k in &r.when.kinds {
            if IncidentKind::parse(k).is_none() {
                return Err(format!("{}: {k:?} is not an incident kind", at()));
            }
        }
        if let Some(h) = &r.when.min_physical_harm {
            if harm(h).is_none() {
                return Err(format!("{}: {h:?} is not a harm level", at()));
            }
        }
        for f in r.when.facts.iter().chain(&r.when.without_facts) {
            if fact(f).is_none() {
                return Err(format!("{}: {f:?} is not a regulatory fact", at()));
            }
        }
    }
    Ok(())
}

/// What the rules look at.
#[derive(Debug, Clone)]
pub struct IncidentFacts {
    pub kind: IncidentKind,
    pub physical_harm: HarmLevel,
    pub near_miss: bool,
    pub duty_of_candour: bool,
    pub facts: BTreeSet<RegulatoryFact>,
    pub reported_at: DateTime<Utc>,
    pub occurred_at: DateTime<Utc>,
}

impl Conditions {
    fn hold(&self, f: &IncidentFacts) -> bool {
        (self.kinds.is_empty() || self.kinds.iter().any(|k| k == f.kind.as_str()))
            && self
                .min_physical_harm
                .as_deref()
                .and_then(harm)
                .is_none_or(|h| f.physical_harm >= h)
            && self
                .facts
                .iter()
                .all(|n| fact(n).is_some_and(|x| f.facts.contains(&x)))
            && !self
                .without_facts
                .iter()
                .any(|n| fact(n).is_some_and(|x| f.facts.contains(&x)))
            && self.duty_of_candour.is_none_or(|d| d == f.duty_of_candour)
            && self.near_miss.is_none_or(|n| n == f.near_miss)
    }
}

/// An obligation an incident's facts give rise to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owed<'a> {
    pub rule: &'a ObligationRule,
    pub started_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
}

/// The obligations that apply, one per kind (the first rule of a kind that applies).
pub fn derive<'a>(
    rules: &'a [ObligationRule],
    f: &IncidentFacts,
    calendar: &WorkingCalendar,
    tz: chrono_tz::Tz,
) -> Vec<Owed<'a>> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for r in rules {
        if seen.contains(r.kind.as_str()) || !r.when.hold(f) {
            continue;
        }
        seen.insert(r.kind.as_str());
        let started_at = match r.starts {
            ClockStart::Reported => f.reported_at,
            ClockStart::Occurred => f.occurred_at,
        };
        out.push(Owed {
            rule: r,
            started_at,
            due_at: due_at(&r.due, started_at, calendar, tz),
        });
    }
    out
}

/// The end of the local day `d` in `tz` (the last second), as UTC.
pub fn end_of_day(d: chrono::NaiveDate, tz: chrono_tz::Tz) -> DateTime<Utc> {
    let t = d.and_time(NaiveTime::from_hms_opt(23, 59, 59).expect("a time"));
    tz.from_local_datetime(&t)
        .latest()
        .map(|x| x.with_timezone(&Utc))
        .unwrap_or_else(|| Utc.from_utc_datetime(&t))
}

/// When a clock started at `start` runs out.
pub fn due_at(
    p: &Period,
    start: DateTime<Utc>,
    calendar: &WorkingCalendar,
    tz: chrono_tz::Tz,
) -> DateTime<Utc> {
    let local = start.with_timezone(&tz).date_naive();
    if let Some(n) = p.working_days {
        end_of_day(calendar.add_working_days(local, n), tz)
    } else if let Some(n) = p.days {
        end_of_day(local + chrono::Days::new(u64::from(n)), tz)
    } else {
        start + Duration::hours(i64::from(p.hours.unwrap_or(0)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn facts(kind: IncidentKind, harm: HarmLevel, fs: &[RegulatoryFact]) -> IncidentFacts {
        IncidentFacts {
            kind,
            physical_harm: harm,
            near_miss: false,
            duty_of_candour: harm >= HarmLevel::Moderate,
            facts: fs.iter().copied().collect(),
            reported_at: at("2026-12-18T10:00:00Z"),
            occurred_at: at("2026-12-17T22:00:00Z"),
        }
    }

    fn kinds(owed: &[Owed<'_>]) -> Vec<String> {
        owed.iter().map(|o| o.rule.kind.clone()).collect()
    }

    #[test]
    fn the_built_in_table_is_valid() {
        check(&defaults()).unwrap();
    }

    #[test]
    fn duty_of_candour_runs_ten_working_days_over_christmas() {
        let rules = defaults();
        let owed = derive(
            &rules,
            &facts(IncidentKind::PatientSafety, HarmLevel::Moderate, &[]),
            &WorkingCalendar::england_and_wales(),
            chrono_tz::Europe::London,
        );
        assert_eq!(kinds(&owed), ["DUTY_OF_CANDOUR"]);
        // Friday 18 December 2026: 21, 22, 23, 24, (25 Christmas, 26-27 weekend, 28
        // substitute Boxing Day), 29, 30, 31, (1 January), 4, 5, 6 January.
        assert_eq!(
            owed[0].due_at,
            end_of_day(
                NaiveDate::from_ymd_opt(2027, 1, 6).unwrap(),
                chrono_tz::Europe::London
            )
        );
    }

    #[test]
    fn no_harm_owes_nothing() {
        let rules = defaults();
        let owed = derive(
            &rules,
            &facts(IncidentKind::PatientSafety, HarmLevel::Low, &[]),
            &WorkingCalendar::england_and_wales(),
            chrono_tz::Europe::London,
        );
        assert!(owed.is_empty());
    }

    #[test]
    fn riddor_takes_the_first_rule_that_applies_and_counts_from_the_event() {
        let rules = defaults();
        let cal = WorkingCalendar::england_and_wales();
        let tz = chrono_tz::Europe::London;
        let over7 = derive(
            &rules,
            &facts(
                IncidentKind::StaffSafety,
                HarmLevel::Low,
                &[RegulatoryFact::StaffIncapacitatedOver7Days],
            ),
            &cal,
            tz,
        );
        assert_eq!(kinds(&over7), ["RIDDOR"]);
        assert_eq!(over7[0].started_at, at("2026-12-17T22:00:00Z"));
        assert_eq!(
            over7[0].due_at,
            end_of_day(NaiveDate::from_ymd_opt(2027, 1, 1).unwrap(), tz)
        );
        let both = derive(
            &rules,
            &facts(
                IncidentKind::StaffSafety,
                HarmLevel::Low,
                &[
                    RegulatoryFact::StaffIncapacitatedOver7Days,
                    RegulatoryFact::ReportableStaffInjury,
                ],
            ),
            &cal,
            tz,
        );
        assert_eq!(kinds(&both), ["RIDDOR"]);
        assert_eq!(
            both[0].due_at,
            end_of_day(NaiveDate::from_ymd_opt(2026, 12, 27).unwrap(), tz)
        );
    }

    #[test]
    fn an_unintended_exposure_owes_the_cqc_a_notification_and_a_report() {
        let rules = defaults();
        let owed = derive(
            &rules,
            &facts(
                IncidentKind::Radiation,
                HarmLevel::None,
                &[RegulatoryFact::SignificantUnintendedExposure],
            ),
            &WorkingCalendar::england_and_wales(),
            chrono_tz::Europe::London,
        );
        assert_eq!(kinds(&owed), ["IRMER_NOTIFICATION", "IRMER_FULL_REPORT"]);
    }

    #[test]
    fn the_ico_clock_is_seventy_two_hours_to_the_minute() {
        let rules = defaults();
        let owed = derive(
            &rules,
            &facts(
                IncidentKind::InformationGovernance,
                HarmLevel::None,
                &[RegulatoryFact::RiskToIndividuals],
            ),
            &WorkingCalendar::england_and_wales(),
            chrono_tz::Europe::London,
        );
        assert_eq!(kinds(&owed), ["ICO_BREACH"]);
        assert_eq!(owed[0].due_at, at("2026-12-21T10:00:00Z"));
    }

    #[test]
    fn a_rule_with_two_periods_or_an_unknown_fact_is_refused() {
        let mut rules = defaults();
        rules[0].due.days = Some(3);
        assert!(check(&rules).unwrap_err().contains("exactly one"));
        let mut rules = defaults();
        rules[1].when.facts.push("NOT_A_FACT".into());
        assert!(check(&rules).unwrap_err().contains("NOT_A_FACT"));
    }
}
