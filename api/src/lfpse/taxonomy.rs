//! The LFPSE taxonomy as data: the profile's extensions, their elements and the codes each
//! may take, read from a versioned JSON file (`api/lfpse/taxonomy-<N>.json`, built in, or
//! `lfpse.taxonomy_file`), so that the next LFPSE release is a data change. No I/O beyond
//! reading that file at start.
use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

const BUILT_IN: &str = include_str!("../../lfpse/taxonomy-5.json");

#[derive(Debug, Clone, Deserialize)]
pub struct Taxonomy {
    /// The taxonomy version, e.g. "5": the suffix of every profile and extension id.
    pub version: String,
    /// Where the profile's canonical URLs live, e.g.
    /// `https://psims-uat.azure-api.net/taxonomy/fhir`.
    pub base: String,
    /// The AdverseEvent profile's id, e.g. `patient-safety-adverse-event-5`.
    pub profile: String,
    pub extensions: Vec<Extension>,
    /// The profile's canonical URL, worked out once when loaded.
    #[serde(skip)]
    pub canonical_profile: String,
    #[serde(rename = "valueSets")]
    pub value_sets: BTreeMap<String, ValueSet>,
    /// Candour's event types to LFPSE's event codes.
    #[serde(rename = "eventTypes")]
    pub event_types: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Extension {
    /// e.g. `AdverseEventGovernance`.
    pub name: String,
    /// e.g. `adverse-event-governance-5`.
    pub id: String,
    /// The resource it sits on: AdverseEvent, Patient, Practitioner, Location, Device.
    pub on: String,
    pub elements: Vec<Element>,
    /// Its canonical URL, worked out once when loaded.
    #[serde(skip)]
    pub url: String,
}

impl Extension {
    /// Whether its id is `<stem>-<version>`.
    pub fn has_stem(&self, stem: &str, version: &str) -> bool {
        self.id
            .strip_suffix(version)
            .and_then(|rest| rest.strip_suffix('-'))
            == Some(stem)
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Element {
    pub name: String,
    /// code, string, boolean, integer, ...
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub min: u32,
    /// The most values it may take; 1 for most.
    #[serde(default = "one")]
    pub max: u32,
    #[serde(rename = "valueSet", default)]
    pub value_set: Option<String>,
    #[serde(default)]
    pub definition: Option<String>,
}

fn one() -> u32 {
    1
}

#[derive(Debug, Clone, Deserialize)]
pub struct ValueSet {
    /// False when the source showed only part of the list: other codes are then accepted.
    #[serde(default = "yes")]
    pub complete: bool,
    pub codes: Vec<Code>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize)]
pub struct Code {
    pub code: String,
    pub display: String,
}

/// One answer to the national form: a taxonomy element ("Extension.Element") and its
/// values (codes for a code element; one value otherwise).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, Deserialize)]
pub struct Answer {
    pub element: String,
    pub values: Vec<String>,
}

/// Why an answer was refused, for `AppError::invalid("lfpseAnswers", ..)`: a reason code
/// and a sentence that names the element, never the value given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub reason: &'static str,
    pub message: String,
}

/// Elements Candour fills from its own fields: an answer may not set them.
pub const DERIVED: &[&str] = &[
    "AdverseEventGovernance.DutyOfCandour",
    "AdverseEventReferenceMetadata.ReferenceNumber",
    "AdverseEventReferenceMetadata.IsAnonymous",
    "AdverseEventReferenceMetadata.FromOnlineForms",
    "AdverseEventOutcome.ImmediateActions",
];

impl Taxonomy {
    /// The built-in taxonomy, or the one in `file`.
    pub fn load(file: Option<&Path>) -> Result<Self, String> {
        let text = match file {
            Some(path) => std::fs::read_to_string(path)
                .map_err(|e| format!("{} cannot be read: {e}", path.display()))?,
            None => BUILT_IN.to_string(),
        };
        let mut t: Taxonomy =
            serde_json::from_str(&text).map_err(|e| format!("is not a taxonomy: {e}"))?;
        t.check()?;
        t.canonical_profile = t.url(&t.profile);
        for i in 0..t.extensions.len() {
            t.extensions[i].url = t.url(&t.extensions[i].id);
        }
        Ok(t)
    }

    fn check(&self) -> Result<(), String> {
        for x in &self.extensions {
            for e in &x.elements {
                if let Some(vs) = &e.value_set {
                    if !self.value_sets.contains_key(vs) {
                        return Err(format!(
                            "{}.{} names the value set {vs}, which it does not hold",
                            x.name, e.name
                        ));
                    }
                }
            }
        }
        for needed in ["INCIDENT", "OUTCOME", "RISK", "GOOD_CARE"] {
            if !self.event_types.contains_key(needed) {
                return Err(format!("eventTypes has no code for {needed}"));
            }
        }
        Ok(())
    }

    /// The canonical URL of a StructureDefinition (profile or extension) by id.
    pub fn url(&self, id: &str) -> String {
        format!(
            "{}/StructureDefinition/{id}",
            self.base.trim_end_matches('/')
        )
    }

    /// The AdverseEvent profile's canonical URL (for `meta.profile`).
    pub fn profile_url(&self) -> String {
        self.canonical_profile.clone()
    }

    pub fn extension(&self, name: &str) -> Option<&Extension> {
        self.extensions.iter().find(|x| x.name == name)
    }

    /// The extension whose id is `<stem>-<version>`, e.g. `patient-information`.
    pub fn extension_by_stem(&self, stem: &str) -> Option<&Extension> {
        self.extensions
            .iter()
            .find(|x| x.has_stem(stem, &self.version))
    }

    /// Where in `extensions` the extension called `name` is, or else the one whose id has
    /// the stem `name` (contained resources' extensions go by stem).
    pub fn position(&self, name: &str) -> Option<usize> {
        self.extensions
            .iter()
            .position(|x| x.name == name)
            .or_else(|| {
                self.extensions
                    .iter()
                    .position(|x| x.has_stem(name, &self.version))
            })
    }

    /// The element named "Extension.Element".
    pub fn element(&self, path: &str) -> Option<(&Extension, &Element)> {
        let (x, e) = path.split_once('.')?;
        let x = self.extension(x)?;
        let e = x.elements.iter().find(|el| el.name == e)?;
        Some((x, e))
    }

    /// The display of a code in a value set.
    pub fn display(&self, value_set: &str, code: &str) -> Option<&str> {
        self.value_sets
            .get(value_set)?
            .codes
            .iter()
            .find(|c| c.code == code)
            .map(|c| c.display.as_str())
    }

    /// Checks answers against the taxonomy: each names an AdverseEvent element Candour does
    /// not fill itself, at most once; codes from the element's value set, no more values
    /// than it takes; booleans `true`/`false`; integers; dates `YYYY-MM-DD`; times `HH:MM`.
    /// Free-text elements are refused: words go in the description.
    /// Returns them in a stable order (by element).
    pub fn check_answers(&self, answers: &[Answer]) -> Result<Vec<Answer>, Refusal> {
        let mut seen = BTreeMap::new();
        for a in answers {
            let path = a.element.trim();
            let Some((x, e)) = self.element(path) else {
                return Err(Refusal {
                    reason: "UNKNOWN",
                    message: format!(
                        "{} is not an element of LFPSE taxonomy {}",
                        shown(path),
                        self.version
                    ),
                });
            };
            if x.on != "AdverseEvent" || DERIVED.contains(&path) {
                return Err(Refusal {
                    reason: "NOT_ALLOWED",
                    message: format!("{path} is filled by Candour from the incident"),
                });
            }
            if !matches!(
                e.kind.as_str(),
                "code" | "boolean" | "integer" | "date" | "time"
            ) {
                // Free text belongs in the description, where it is protected and logged.
                return Err(Refusal {
                    reason: "NOT_ALLOWED",
                    message: format!(
                        "{path} is free text: say it in the description, which LFPSE receives"
                    ),
                });
            }
            if seen.contains_key(path) {
                return Err(Refusal {
                    reason: "DUPLICATE",
                    message: format!("{path} is answered twice"),
                });
            }
            let values: Vec<String> = a.values.iter().map(|v| v.trim().to_string()).collect();
            if values.is_empty() || values.iter().any(|v| v.is_empty()) {
                return Err(Refusal {
                    reason: "BLANK",
                    message: format!("{path} needs a value"),
                });
            }
            if values.len() as u32 > e.max.max(1) {
                return Err(Refusal {
                    reason: "TOO_LONG",
                    message: format!("{path} takes at most {} values", e.max.max(1)),
                });
            }
            for v in &values {
                let ok = match e.kind.as_str() {
                    "code" => match e
                        .value_set
                        .as_deref()
                        .and_then(|vs| self.value_sets.get(vs))
                    {
                        Some(vs) if vs.complete => vs.codes.iter().any(|c| c.code == *v),
                        _ => v.len() <= 20 && v.chars().all(|c| c.is_ascii_alphanumeric()),
                    },
                    "boolean" => v == "true" || v == "false",
                    "integer" => v.parse::<i64>().is_ok(),
                    "date" => chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d").is_ok(),
                    "time" => {
                        chrono::NaiveTime::parse_from_str(v, "%H:%M:%S").is_ok()
                            || chrono::NaiveTime::parse_from_str(v, "%H:%M").is_ok()
                    }
                    _ => false,
                };
                if !ok {
                    return Err(Refusal {
                        reason: if e.kind == "code" {
                            "UNKNOWN"
                        } else {
                            "MALFORMED"
                        },
                        message: format!("a value of {path} is not one it takes ({})", e.kind),
                    });
                }
            }
            seen.insert(path.to_string(), values);
        }
        Ok(seen
            .into_iter()
            .map(|(element, values)| Answer { element, values })
            .collect())
    }
}

/// An element name as given, shortened, for a message (a name, never a value).
fn shown(path: &str) -> String {
    let p: String = path.chars().take(80).collect();
    format!("\"{p}\"")
}

/// An ODS code: 3 to 6 ASCII letters and digits (trusts have 3, sites 5).
pub fn is_ods_code(code: &str) -> bool {
    (3..=6).contains(&code.len()) && code.chars().all(|c| c.is_ascii_alphanumeric())
}

/// Answers kept on the incident: a JSON object from element to values.
pub fn answers_to_json(answers: &[Answer]) -> Option<String> {
    if answers.is_empty() {
        return None;
    }
    let map: BTreeMap<&str, &Vec<String>> = answers
        .iter()
        .map(|a| (a.element.as_str(), &a.values))
        .collect();
    serde_json::to_string(&map).ok()
}

pub fn answers_from_json(json: Option<&str>) -> Vec<Answer> {
    let Some(json) = json else {
        return Vec::new();
    };
    let map: BTreeMap<String, Vec<String>> = serde_json::from_str(json).unwrap_or_default();
    map.into_iter()
        .map(|(element, values)| Answer { element, values })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// docs/lfpse-elements.md (generated by api/lfpse/elements_table.py) says where every
    /// element of the built-in taxonomy comes from: regenerate it when the taxonomy changes.
    #[test]
    fn the_element_table_names_every_element_of_the_taxonomy() {
        let doc = include_str!("../../../docs/lfpse-elements.md");
        let t = Taxonomy::load(None).expect("the built-in taxonomy loads");
        let mut missing = Vec::new();
        for x in &t.extensions {
            for e in &x.elements {
                let row = format!("| `{}.{}` |", x.name, e.name);
                if !doc.contains(&row) {
                    missing.push(row);
                }
            }
        }
        assert!(
            missing.is_empty(),
            "regenerate with: python3 api/lfpse/elements_table.py > docs/lfpse-elements.md; missing {missing:?}"
        );
    }

    #[test]
    fn answers_are_refused_by_element_with_a_reason() {
        let t = Taxonomy::load(None).unwrap();
        let answer = |element: &str, values: &[&str]| Answer {
            element: element.into(),
            values: values.iter().map(|v| v.to_string()).collect(),
        };
        let reason = |a: Vec<Answer>| t.check_answers(&a).err().map(|r| r.reason);
        assert_eq!(
            reason(vec![answer(
                "AdverseEventClassification.LevelOfConcern",
                &["5"]
            )]),
            None
        );
        assert_eq!(
            reason(vec![answer("Nowhere.Nothing", &["1"])]),
            Some("UNKNOWN")
        );
        assert_eq!(
            reason(vec![answer(
                "AdverseEventClassification.LevelOfConcern",
                &["2"]
            )]),
            Some("UNKNOWN")
        );
        assert_eq!(
            reason(vec![answer(
                "AdverseEventGovernance.DutyOfCandour",
                &["true"]
            )]),
            Some("NOT_ALLOWED")
        );
        assert_eq!(
            reason(vec![answer(
                "AdverseEventRiskDetails.RiskDescription",
                &["x"]
            )]),
            Some("NOT_ALLOWED")
        );
        assert_eq!(
            reason(vec![answer(
                "AdverseEventGovernance.NeverEvent",
                &["maybe"]
            )]),
            Some("MALFORMED")
        );
        assert_eq!(
            reason(vec![answer("AdverseEventGovernance.NeverEvent", &[" "])]),
            Some("BLANK")
        );
        assert_eq!(
            reason(vec![
                answer("AdverseEventGovernance.NeverEvent", &["true"]),
                answer("AdverseEventGovernance.NeverEvent", &["false"]),
            ]),
            Some("DUPLICATE")
        );
    }
}
