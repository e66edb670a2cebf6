//! The trust's patient safety incident response plan (PSIRP) as data: rules saying which
//! facts of an incident suggest which PSIRF learning response, first match wins, with a
//! default. The built-in plan (below, in TOML) follows the national PSIRF requirements; a
//! trust replaces it with `[psirp]` in `candour.toml`. Suggesting is a pure function here.
use serde::{Deserialize, Serialize};

use crate::incident::model::{HarmLevel, IncidentKind, LearningResponse};

/// Which incidents a plan rule applies to; every condition given must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Conditions {
    /// Any of these kinds (IncidentKind names); empty means any kind.
    pub kinds: Vec<String>,
    /// At least this physical harm (HarmLevel name).
    pub min_physical_harm: Option<String>,
    /// At least this psychological harm (HarmLevel name).
    pub min_psychological_harm: Option<String>,
    /// Whether it was a near miss.
    pub near_miss: Option<bool>,
    /// Whether it is a never event: its category is one of `never_event_categories`.
    pub never_event: Option<bool>,
    /// Any of these categories (compared without regard to case); empty means any.
    pub categories: Vec<String>,
    /// Any of these department codes; empty means any department.
    pub departments: Vec<String>,
}

/// One rule of the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PsirpRule {
    /// What the rule is called where the suggestion is shown, e.g. "Never event".
    pub name: String,
    /// The learning response it suggests (LearningResponse name).
    pub response: String,
    #[serde(default)]
    pub when: Conditions,
}

/// The plan: its rules in order, and what is suggested when none applies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Psirp {
    /// The learning response suggested when no rule applies (LearningResponse name).
    pub default: String,
    /// The categories that are never events (NHS England's list, as the trust's taxonomy
    /// names them).
    pub never_event_categories: Vec<String>,
    /// Tried in order; the first that applies gives the suggestion.
    pub rules: Vec<PsirpRule>,
}

/// The built-in plan: PSII where PSIRF requires one (never events, deaths thought more
/// likely than not due to problems in care), an MDT review for severe harm, an after
/// action review for moderate harm, a swarm huddle for near misses, else no response
/// beyond the review of the report.
const DEFAULT_PLAN: &str = r#"
default = "NONE"
never_event_categories = [
  "Wrong site surgery",
  "Wrong implant/prosthesis",
  "Retained foreign object post-procedure",
  "Mis-selection of a strong potassium solution",
  "Administration of medication by the wrong route",
  "Overdose of insulin due to abbreviations or incorrect device",
  "Overdose of methotrexate for non-cancer treatment",
  "Mis-selection of high strength midazolam during conscious sedation",
  "Failure to install functional collapsible shower or curtain rails",
  "Falls from poorly restricted windows",
  "Chest or neck entrapment in bed rails",
  "Transfusion or transplantation of ABO-incompatible blood components or organs",
  "Misplaced naso- or oro-gastric tubes",
  "Scalding of patients",
  "Unintentional connection of a patient requiring oxygen to an air flowmeter",
  "Undetected oesophageal intubation",
]

[[rules]]
name = "Never event"
response = "PSII"
when = { never_event = true }

[[rules]]
name = "Death thought more likely than not due to problems in care"
response = "PSII"
when = { kinds = ["PATIENT_SAFETY"], min_physical_harm = "FATAL" }

[[rules]]
name = "Severe harm"
response = "MDT_REVIEW"
when = { min_physical_harm = "SEVERE" }

[[rules]]
name = "Severe psychological harm"
response = "MDT_REVIEW"
when = { min_psychological_harm = "SEVERE" }

[[rules]]
name = "Moderate harm"
response = "AFTER_ACTION_REVIEW"
when = { min_physical_harm = "MODERATE" }

[[rules]]
name = "Near miss"
response = "SWARM_HUDDLE"
when = { near_miss = true }
"#;

/// The built-in plan's shape: every field given, so that reading it does not ask
/// `Psirp::default` (which reads it) for the ones left out.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BuiltIn {
    default: String,
    never_event_categories: Vec<String>,
    rules: Vec<PsirpRule>,
}

impl Default for Psirp {
    fn default() -> Self {
        let p: BuiltIn = toml::from_str(DEFAULT_PLAN).expect("the built-in PSIRP parses");
        Self {
            default: p.default,
            never_event_categories: p.never_event_categories,
            rules: p.rules,
        }
    }
}

/// What the rule of the default is called.
pub const DEFAULT_RULE: &str = "Default";

/// The facts of an incident the plan's rules look at.
#[derive(Debug, Clone)]
pub struct Facts<'a> {
    pub kind: IncidentKind,
    pub physical_harm: HarmLevel,
    pub psychological_harm: HarmLevel,
    pub near_miss: bool,
    pub category: Option<&'a str>,
    pub department_code: &'a str,
}

/// The response the plan suggests, and the name of the rule that suggested it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suggestion {
    pub response: LearningResponse,
    pub rule: String,
}

fn harm(name: &str) -> Option<HarmLevel> {
    (0..=4)
        .map(HarmLevel::from_rank)
        .find(|h| h.as_str() == name)
}

fn same(a: &str, b: &str) -> bool {
    a.trim().eq_ignore_ascii_case(b.trim())
}

impl Psirp {
    fn is_never_event(&self, category: Option<&str>) -> bool {
        category.is_some_and(|c| self.never_event_categories.iter().any(|n| same(n, c)))
    }

    fn applies(&self, w: &Conditions, f: &Facts<'_>) -> bool {
        (w.kinds.is_empty() || w.kinds.iter().any(|k| k == f.kind.as_str()))
            && w.min_physical_harm
                .as_deref()
                .and_then(harm)
                .is_none_or(|h| f.physical_harm >= h)
            && w.min_psychological_harm
                .as_deref()
                .and_then(harm)
                .is_none_or(|h| f.psychological_harm >= h)
            && w.near_miss.is_none_or(|n| n == f.near_miss)
            && w.never_event
                .is_none_or(|n| n == self.is_never_event(f.category))
            && (w.categories.is_empty()
                || f.category
                    .is_some_and(|c| w.categories.iter().any(|w| same(w, c))))
            && (w.departments.is_empty() || w.departments.iter().any(|d| d == f.department_code))
    }

    /// The suggestion for an incident with these facts: the first rule that applies, else
    /// the default.
    pub fn suggest(&self, f: &Facts<'_>) -> Suggestion {
        for r in &self.rules {
            if self.applies(&r.when, f) {
                if let Some(response) = LearningResponse::parse(&r.response) {
                    return Suggestion {
                        response,
                        rule: r.name.clone(),
                    };
                }
            }
        }
        Suggestion {
            response: LearningResponse::parse(&self.default).unwrap_or(LearningResponse::None),
            rule: DEFAULT_RULE.into(),
        }
    }

    /// Checks the plan; Err names the first rule that cannot work.
    pub fn check(&self) -> Result<(), String> {
        if LearningResponse::parse(&self.default).is_none() {
            return Err(format!(
                "default: {:?} is not a learning response",
                self.default
            ));
        }
        if self
            .never_event_categories
            .iter()
            .any(|c| c.trim().is_empty())
        {
            return Err("never_event_categories must not be blank".into());
        }
        let mut names = std::collections::HashSet::new();
        for (i, r) in self.rules.iter().enumerate() {
            let at = || format!("rule {} ({})", i + 1, r.name);
            let name = r.name.trim();
            if name.is_empty() || name.len() > 200 || name.eq_ignore_ascii_case(DEFAULT_RULE) {
                return Err(format!(
                    "{}: name must be 1-200 characters, and not \"{DEFAULT_RULE}\"",
                    at()
                ));
            }
            if !names.insert(name.to_lowercase()) {
                return Err(format!("{}: another rule has this name", at()));
            }
            if LearningResponse::parse(&r.response).is_none() {
                return Err(format!(
                    "{}: response {:?} is not a learning response",
                    at(),
                    r.response
                ));
            }
            let w = &r.when;
            if let Some(k) = w.kinds.iter().find(|k| IncidentKind::parse(k).is_none()) {
                return Err(format!("{}: {k:?} is not an incident kind", at()));
            }
            for h in [&w.min_physical_harm, &w.min_psychological_harm]
                .into_iter()
                .flatten()
            {
                if harm(h).is_none() {
                    return Err(format!("{}: {h:?} is not a harm level", at()));
                }
            }
            if w.categories.iter().any(|c| c.trim().is_empty())
                || w.departments.iter().any(|d| d.trim().is_empty())
            {
                return Err(format!(
                    "{}: categories and departments must not be blank",
                    at()
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> Facts<'static> {
        Facts {
            kind: IncidentKind::PatientSafety,
            physical_harm: HarmLevel::Low,
            psychological_harm: HarmLevel::None,
            near_miss: false,
            category: None,
            department_code: "CARD",
        }
    }

    fn suggest(f: Facts<'_>) -> (LearningResponse, String) {
        let s = Psirp::default().suggest(&f);
        (s.response, s.rule)
    }

    #[test]
    fn the_built_in_plan_is_valid() {
        Psirp::default().check().unwrap();
    }

    #[test]
    fn low_harm_gets_the_default() {
        assert_eq!(
            suggest(facts()),
            (LearningResponse::None, DEFAULT_RULE.to_string())
        );
    }

    #[test]
    fn a_never_event_is_a_psii_whatever_the_harm() {
        let f = Facts {
            category: Some("  wrong SITE surgery "),
            physical_harm: HarmLevel::None,
            ..facts()
        };
        assert_eq!(
            suggest(f),
            (LearningResponse::Psii, "Never event".to_string())
        );
    }

    #[test]
    fn harm_decides_in_the_plans_order() {
        let at = |h| Facts {
            physical_harm: h,
            ..facts()
        };
        assert_eq!(suggest(at(HarmLevel::Fatal)).0, LearningResponse::Psii);
        assert_eq!(
            suggest(at(HarmLevel::Severe)).0,
            LearningResponse::MdtReview
        );
        assert_eq!(
            suggest(at(HarmLevel::Moderate)),
            (
                LearningResponse::AfterActionReview,
                "Moderate harm".to_string()
            )
        );
        // A death of a member of staff is not the patient-safety rule: severe harm's.
        let staff = Facts {
            kind: IncidentKind::StaffSafety,
            ..at(HarmLevel::Fatal)
        };
        assert_eq!(suggest(staff).0, LearningResponse::MdtReview);
        let psychological = Facts {
            psychological_harm: HarmLevel::Severe,
            ..facts()
        };
        assert_eq!(
            suggest(psychological).1,
            "Severe psychological harm".to_string()
        );
    }

    #[test]
    fn a_near_miss_gets_a_swarm_huddle() {
        let f = Facts {
            near_miss: true,
            physical_harm: HarmLevel::None,
            ..facts()
        };
        assert_eq!(suggest(f).0, LearningResponse::SwarmHuddle);
    }

    #[test]
    fn departments_and_categories_narrow_a_rule() {
        let plan: Psirp = toml::from_str(
            r#"
            default = "AFTER_ACTION_REVIEW"
            [[rules]]
            name = "Radiology falls"
            response = "THEMATIC_REVIEW"
            when = { departments = ["RAD"], categories = ["Slips, trips and falls"] }
            "#,
        )
        .unwrap();
        plan.check().unwrap();
        let fall = Facts {
            category: Some("slips, trips and falls"),
            department_code: "RAD",
            ..facts()
        };
        assert_eq!(
            plan.suggest(&fall).response,
            LearningResponse::ThematicReview
        );
        let elsewhere = Facts {
            department_code: "CARD",
            ..fall.clone()
        };
        assert_eq!(
            plan.suggest(&elsewhere),
            Suggestion {
                response: LearningResponse::AfterActionReview,
                rule: DEFAULT_RULE.into()
            }
        );
    }

    #[test]
    fn a_plan_that_cannot_work_is_refused_naming_the_rule() {
        let bad = |toml: &str| toml::from_str::<Psirp>(toml).unwrap().check().unwrap_err();
        assert!(bad(r#"default = "MAYBE""#).contains("default"));
        let e = bad(r#"
            [[rules]]
            name = "Big"
            response = "INQUIRY"
            "#);
        assert!(e.contains("rule 1 (Big)"), "{e}");
        let e = bad(r#"
            [[rules]]
            name = "A"
            response = "PSII"
            when = { min_physical_harm = "HUGE" }
            "#);
        assert!(e.contains("harm level"), "{e}");
        let e = bad(r#"
            [[rules]]
            name = "A"
            response = "PSII"
            [[rules]]
            name = "a"
            response = "PSII"
            "#);
        assert!(e.contains("rule 2"), "{e}");
        assert!(toml::from_str::<Psirp>(
            "[[rules]]\nname = \"A\"\nresponse = \"PSII\"\nwhen = { colour = \"red\" }"
        )
        .is_err());
    }
}
