//! An incident as an FHIR R4 `AdverseEvent` following the LFPSE profile (docs/lfpse.md has
//! every element and where it comes from). No I/O: `lfpse::facts` gathers what the mapping
//! reads, and the mapping never sees a name, an NHS number or a date of birth: the patient
//! appears by their age in days at the time of the incident, the reporter not at all beyond
//! their organisation's ODS code.
use std::borrow::Cow;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use serde_json::Value;

use super::taxonomy::{Answer, Taxonomy};
use crate::incident::model::{EventType, HarmLevel};

/// The identifier system of Candour's incident references (`INC-2026-000123`).
pub const REFERENCE_SYSTEM: &str = "urn:candour:incident-reference";
/// The identifier system of Candour's department codes, on the contained Location.
pub const DEPARTMENT_SYSTEM: &str = "urn:candour:department";

/// What the mapping reads of one incident.
#[derive(Debug, Clone)]
pub struct Facts {
    pub reference: String,
    pub occurred_at: DateTime<Utc>,
    pub reported_at: DateTime<Utc>,
    pub event_type: String,
    pub near_miss: bool,
    pub physical_harm: i16,
    pub psychological_harm: i16,
    pub anonymous: bool,
    pub duty_of_candour: Option<bool>,
    /// What happened, when it may be shown (always to LFPSE).
    pub description: Option<String>,
    /// The immediate actions, when they may be shown.
    pub immediate_actions: Option<String>,
    /// The patient's age in days when it happened, when known and it may be shown.
    pub age_days: Option<i64>,
    pub equipment: Option<Equipment>,
    /// The trust's ODS code (`lfpse.ods_code`).
    pub trust_ods: Option<String>,
    /// The department's site ODS code, else the trust's.
    pub site_ods: Option<String>,
    pub answers: Vec<Answer>,
    /// Agents the incident's regulatory facts say were involved (AdverseEventAgent
    /// InvolvedAgents codes: a medical device 3, blood 11).
    pub agents: Vec<&'static str>,
    /// The title, for the FHIR API's readers (`event.text`); LFPSE is not sent it.
    pub title: Option<String>,
    /// The department's code, for the FHIR API's readers (the Location's identifier).
    pub department_code: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Equipment {
    pub manufacturer: Option<String>,
    pub model: Option<String>,
    pub serial_number: Option<String>,
    pub asset_id: Option<String>,
}

/// Days from a date of birth to the day of the incident, in the trust's time zone.
pub fn age_in_days(dob: NaiveDate, occurred_on: NaiveDate) -> Option<i64> {
    let days = (occurred_on - dob).num_days();
    (days >= 0).then_some(days)
}

/// LFPSE's physical-harm code for a Candour harm rank (taxonomy v5: 5 none .. 1 fatal).
fn physical_code(rank: i16) -> &'static str {
    match HarmLevel::from_rank(rank) {
        HarmLevel::None => "5",
        HarmLevel::Low => "4",
        HarmLevel::Moderate => "3",
        HarmLevel::Severe => "2",
        HarmLevel::Fatal => "1",
    }
}

/// LFPSE's psychological-harm code (4 none .. 1 severe; it has no fatal).
fn psychological_code(rank: i16) -> &'static str {
    match HarmLevel::from_rank(rank) {
        HarmLevel::None => "4",
        HarmLevel::Low => "3",
        HarmLevel::Moderate => "2",
        HarmLevel::Severe | HarmLevel::Fatal => "1",
    }
}

fn instant(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The resource as it is serialised: typed structs borrowing from the incident's facts and
/// the taxonomy, so that a page of fifty is written straight out rather than built as a
/// `serde_json::Value` tree first. Empty lists and absent values are left out, as FHIR's
/// JSON asks. `to_value` gives the tree where one is wanted (LFPSE's content hash, GraphQL's
/// `Incident.fhir`): its keys are sorted, so it hashes as it always has.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AdverseEvent<'a> {
    pub resource_type: &'static str,
    /// Candour's id, for the FHIR API's readers (LFPSE gives its own).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub meta: Meta<'a>,
    /// What happened, as the narrative (docs/lfpse.md, "Assumptions").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<Narrative>,
    pub contained: Vec<Contained<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub extension: Vec<Ext<'a>>,
    pub identifier: Identifier<'a>,
    pub actuality: &'static str,
    pub event: Event<'a>,
    pub subject: Reference,
    pub date: String,
    pub recorded_date: String,
    pub recorder: Reference,
    pub location: Reference,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub suspect_entity: Vec<Suspect>,
    /// A top-level `description`, for an LFPSE that reads one (`lfpse.description_element`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<&'a str>,
}

impl AdverseEvent<'_> {
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Meta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_updated: Option<String>,
    pub profile: [&'a str; 1],
}

#[derive(Debug, Serialize)]
pub struct Narrative {
    pub status: &'static str,
    pub div: String,
}

/// A contained Patient, Practitioner, Location or Device: what LFPSE asks of each.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Contained<'a> {
    pub resource_type: &'static str,
    pub id: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub identifier: Vec<Identifier<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub extension: Vec<Ext<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manufacturer: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_number: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub serial_number: Option<&'a str>,
}

impl Contained<'_> {
    fn new(resource_type: &'static str, id: &'static str) -> Self {
        Self {
            resource_type,
            id,
            identifier: Vec::new(),
            extension: Vec::new(),
            manufacturer: None,
            model_number: None,
            serial_number: None,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Identifier<'a> {
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<Text>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system: Option<&'static str>,
    pub value: &'a str,
}

#[derive(Debug, Serialize)]
pub struct Text {
    pub text: &'static str,
}

#[derive(Debug, Serialize)]
pub struct Reference {
    pub reference: &'static str,
}

#[derive(Debug, Serialize)]
pub struct Suspect {
    pub instance: Reference,
}

#[derive(Debug, Serialize)]
pub struct Event<'a> {
    pub coding: [Coding<'a>; 1],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<&'a str>,
}

#[derive(Debug, Serialize)]
pub struct Coding<'a> {
    pub code: &'a str,
    pub display: &'static str,
}

/// A complex extension: its canonical URL and its sub-extensions.
#[derive(Debug, Serialize)]
pub struct Ext<'a> {
    pub url: &'a str,
    pub extension: Vec<Sub<'a>>,
}

/// A sub-extension: a short url and one value, typed as the taxonomy says.
#[derive(Debug, Clone, PartialEq)]
pub struct Sub<'a> {
    pub url: &'a str,
    pub value: Typed<'a>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Typed<'a> {
    Boolean(bool),
    Integer(i64),
    Code(Cow<'a, str>),
    DateTime(Cow<'a, str>),
    Date(Cow<'a, str>),
    Time(Cow<'a, str>),
    String(Cow<'a, str>),
}

impl Serialize for Sub<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("url", self.url)?;
        match &self.value {
            Typed::Boolean(b) => m.serialize_entry("valueBoolean", b)?,
            Typed::Integer(i) => m.serialize_entry("valueInteger", i)?,
            Typed::Code(v) => m.serialize_entry("valueCode", v)?,
            Typed::DateTime(v) => m.serialize_entry("valueDateTime", v)?,
            Typed::Date(v) => m.serialize_entry("valueDate", v)?,
            Typed::Time(v) => m.serialize_entry("valueTime", v)?,
            Typed::String(v) => m.serialize_entry("valueString", v)?,
        }
        m.end()
    }
}

/// A sub-extension of the element `url`, typed by `kind`; None for an integer that is not.
fn sub<'a>(url: &'a str, kind: &str, value: Cow<'a, str>) -> Option<Sub<'a>> {
    let value = match kind {
        "boolean" => Typed::Boolean(value == "true"),
        "integer" => Typed::Integer(value.parse::<i64>().ok()?),
        "code" => Typed::Code(value),
        "datetime" => Typed::DateTime(value),
        "date" => Typed::Date(value),
        "time" if value.len() == 5 => Typed::Time(Cow::Owned(format!("{value}:00"))),
        "time" => Typed::Time(value),
        _ => Typed::String(value),
    };
    Some(Sub { url, value })
}

/// The complex extensions on one resource, built up element by element.
struct Extensions<'a> {
    taxonomy: &'a Taxonomy,
    /// (extension's index in the taxonomy, element's index in it, the sub-extension), in
    /// the order added; `build` puts them in the taxonomy's order.
    values: Vec<(usize, usize, Sub<'a>)>,
}

impl<'a> Extensions<'a> {
    fn new(taxonomy: &'a Taxonomy) -> Self {
        Self {
            taxonomy,
            values: Vec::new(),
        }
    }

    /// Adds values to "Extension.Element" (by stem for contained resources' extensions),
    /// typed as the taxonomy says. Unknown elements are skipped.
    fn add(&mut self, extension: &str, element: &str, values: &[&'a str]) {
        for v in values {
            self.add_one(extension, element, Cow::Borrowed(v));
        }
    }

    fn add_one(&mut self, extension: &str, element: &str, value: Cow<'a, str>) {
        let Some(xi) = self.taxonomy.position(extension) else {
            return;
        };
        let x = &self.taxonomy.extensions[xi];
        let Some(ei) = x.elements.iter().position(|e| e.name == element) else {
            return;
        };
        let e = &x.elements[ei];
        if let Some(s) = sub(&e.name, &e.kind, value) {
            if !self
                .values
                .iter()
                .any(|(i, j, had)| *i == xi && *j == ei && *had == s)
            {
                self.values.push((xi, ei, s));
            }
        }
    }

    /// Adds a value only when the element has none yet (an answer given stands).
    fn add_default(&mut self, extension: &str, element: &str, value: &'a str) {
        let x = self
            .taxonomy
            .extensions
            .iter()
            .position(|x| x.name == extension);
        let has = self
            .values
            .iter()
            .any(|(i, _, s)| Some(*i) == x && s.url == element);
        if !has {
            self.add(extension, element, &[value]);
        }
    }

    /// The extensions that sit on `on`, in the taxonomy's order, each with its elements in
    /// the taxonomy's order (values of one element in the order added).
    fn build(self, on: &str) -> Vec<Ext<'a>> {
        let mut values = self.values;
        // Stable: values of one element keep the order they were added in.
        values.sort_by_key(|(i, j, _)| (*i, *j));
        let mut out: Vec<Ext<'a>> = Vec::new();
        let mut last = None;
        for (xi, _, s) in values {
            let x = &self.taxonomy.extensions[xi];
            if x.on != on {
                continue;
            }
            match out.last_mut() {
                Some(ext) if last == Some(xi) => ext.extension.push(s),
                _ => {
                    out.push(Ext {
                        url: &x.url,
                        extension: vec![s],
                    });
                    last = Some(xi);
                }
            }
        }
        out
    }
}

const TRUE: &str = "true";
const FALSE: &str = "false";

fn flag(b: bool) -> &'static str {
    if b {
        TRUE
    } else {
        FALSE
    }
}

/// The incident as an LFPSE AdverseEvent (without `id`: LFPSE gives its own; the FHIR read
/// API adds Candour's).
pub fn adverse_event<'a>(taxonomy: &'a Taxonomy, f: &'a Facts) -> AdverseEvent<'a> {
    let mut x = Extensions::new(taxonomy);
    // The national form's answers first; Candour's own fields fill what they hold.
    for a in &f.answers {
        if let Some((ext, el)) = a.element.split_once('.') {
            let values: Vec<&str> = a.values.iter().map(String::as_str).collect();
            x.add(ext, el, &values);
        }
    }
    if let Some(doc) = f.duty_of_candour {
        x.add("AdverseEventGovernance", "DutyOfCandour", &[flag(doc)]);
    }
    x.add(
        "AdverseEventReferenceMetadata",
        "IsAnonymous",
        &[flag(f.anonymous)],
    );
    x.add("AdverseEventReferenceMetadata", "FromOnlineForms", &[FALSE]);
    // Required by the profile; the national form's answer stands when one was given.
    x.add_default("AdverseEventReferenceMetadata", "DataSharingOptOut", FALSE);
    x.add_default(
        "AdverseEventClassification",
        "PatientSafetyIncidentHasOccurred",
        if f.near_miss { "n" } else { "y" },
    );
    if let Some(actions) = f.immediate_actions.as_deref() {
        x.add("AdverseEventOutcome", "ImmediateActions", &[actions]);
    }
    if f.equipment.is_some() {
        // A device was involved (agent type 3).
        x.add("AdverseEventAgent", "InvolvedAgents", &["3"]);
    }
    x.add("AdverseEventAgent", "InvolvedAgents", &f.agents);

    // The patient: by sequence, harm and age, never by name or number.
    let mut p = Extensions::new(taxonomy);
    p.add("patient-information", "PatientSequence", &["1"]);
    if let Some(days) = f.age_days {
        p.add_one(
            "patient-information",
            "AgeAtTimeOfIncidentDays",
            Cow::Owned(days.to_string()),
        );
    }
    let mut patient = Contained::new("Patient", "patient1");
    p.add(
        "patient-information",
        "PhysicalHarm",
        &[physical_code(f.physical_harm)],
    );
    p.add(
        "patient-information",
        "PsychologicalHarm",
        &[psychological_code(f.psychological_harm)],
    );
    patient.extension = p.build("Patient");
    let mut contained = vec![patient];

    // The reporter: their organisation only.
    let mut r = Extensions::new(taxonomy);
    if let Some(ods) = f.trust_ods.as_deref() {
        r.add("practitioner-details", "ReporterOrganisation", &[ods]);
    }
    let mut practitioner = Contained::new("Practitioner", "practitioner1");
    practitioner.extension = r.build("Practitioner");
    contained.push(practitioner);

    let mut l = Extensions::new(taxonomy);
    if let Some(ods) = f.site_ods.as_deref() {
        l.add("location-details", "Organisation", &[ods]);
    }
    let mut location = Contained::new("Location", "location1");
    if let Some(code) = &f.department_code {
        location.identifier.push(Identifier {
            kind: None,
            system: Some(DEPARTMENT_SYSTEM),
            value: code,
        });
    }
    location.extension = l.build("Location");
    contained.push(location);

    let mut suspect_entity = Vec::new();
    if let Some(eq) = &f.equipment {
        let mut device = Contained::new("Device", "device1");
        device.manufacturer = eq.manufacturer.as_deref();
        device.model_number = eq.model.as_deref();
        device.serial_number = eq.serial_number.as_deref();
        if let Some(v) = &eq.asset_id {
            device.identifier.push(Identifier {
                kind: Some(Text {
                    text: "Asset number",
                }),
                system: None,
                value: v,
            });
        }
        contained.push(device);
        suspect_entity.push(Suspect {
            instance: Reference {
                reference: "#device1",
            },
        });
    }

    let event_type = EventType::parse(&f.event_type).unwrap_or(EventType::Incident);
    let event_code = taxonomy
        .event_types
        .get(event_type.as_str())
        .map(String::as_str)
        .unwrap_or_default();
    AdverseEvent {
        resource_type: "AdverseEvent",
        id: None,
        meta: Meta {
            version_id: None,
            last_updated: None,
            profile: [&taxonomy.canonical_profile],
        },
        // R4's AdverseEvent has no element for the account of what happened: it is the
        // resource's narrative (docs/lfpse.md, "Assumptions").
        text: f.description.as_deref().map(narrative),
        contained,
        extension: x.build("AdverseEvent"),
        identifier: Identifier {
            kind: None,
            system: Some(REFERENCE_SYSTEM),
            value: &f.reference,
        },
        // A near miss, or a risk, is a potential adverse event in FHIR's terms.
        actuality: if f.near_miss || event_type == EventType::Risk {
            "potential"
        } else {
            "actual"
        },
        event: Event {
            coding: [Coding {
                code: event_code,
                display: event_type.as_str(),
            }],
            text: f.title.as_deref(),
        },
        subject: Reference {
            reference: "#patient1",
        },
        date: instant(f.occurred_at),
        recorded_date: instant(f.reported_at),
        recorder: Reference {
            reference: "#practitioner1",
        },
        location: Reference {
            reference: "#location1",
        },
        suspect_entity,
        description: None,
    }
}

/// XHTML narrative holding `text` as it was written (escaped, one paragraph per line).
pub fn narrative(text: &str) -> Narrative {
    let mut div = String::with_capacity(text.len() + 64);
    div.push_str("<div xmlns=\"http://www.w3.org/1999/xhtml\">");
    for line in text.lines() {
        div.push_str("<p>");
        escape_xml_into(line, &mut div);
        div.push_str("</p>");
    }
    div.push_str("</div>");
    Narrative {
        status: "additional",
        div,
    }
}

/// The text of a narrative `div` written by `narrative` (or any simple XHTML): tags
/// dropped, paragraphs as lines, the five XML entities and numeric references decoded.
pub fn narrative_text(div: &str) -> String {
    let mut out = String::with_capacity(div.len());
    let mut rest = div;
    let mut first_paragraph = true;
    while let Some(start) = rest.find('<') {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find('>') else {
            rest = "";
            break;
        };
        let tag = &rest[start + 1..start + end];
        let name = tag
            .trim_start_matches('/')
            .split_whitespace()
            .next()
            .unwrap_or("");
        if (name == "p" || name == "br" || name == "br/") && !tag.starts_with('/') {
            if !first_paragraph {
                out.push('\n');
            }
            first_paragraph = false;
        }
        rest = &rest[start + end + 1..];
    }
    out.push_str(rest);
    unescape_xml(&out)
}

fn escape_xml_into(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

fn unescape_xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let Some(end) = tail.find(';').filter(|e| *e <= 10) else {
            out.push('&');
            rest = &tail[1..];
            continue;
        };
        let entity = &tail[1..end];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &tail[end + 1..];
            }
            None => {
                out.push('&');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_description_goes_into_the_narrative_and_comes_back_as_written() {
        for text in [
            "Two samples swapped.",
            "Line one\nline <two> & \"three\" 'four'",
            "Ünïcode — and &amp; already escaped",
        ] {
            let n = narrative(text);
            let div = n.div.as_str();
            assert!(!div.contains("<two>"));
            assert_eq!(narrative_text(div), text);
        }
        assert_eq!(
            narrative_text("<div><p>a &#x41;&#66; &bogus; &</p></div>"),
            "a AB &bogus; &"
        );
    }
}
