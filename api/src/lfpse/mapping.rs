//! An incident as an FHIR R4 `AdverseEvent` following the LFPSE profile (docs/lfpse.md has
//! every element and where it comes from). No I/O: `lfpse::facts` gathers what the mapping
//! reads, and the mapping never sees a name, an NHS number or a date of birth: the patient
//! appears by their age in days at the time of the incident, the reporter not at all beyond
//! their organisation's ODS code.
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde_json::{json, Map, Value};

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

/// A sub-extension: a short url and one typed value.
fn sub(url: &str, kind: &str, value: &str) -> Option<Value> {
    let v = match kind {
        "boolean" => json!({ "url": url, "valueBoolean": value == "true" }),
        "integer" => json!({ "url": url, "valueInteger": value.parse::<i64>().ok()? }),
        "code" => json!({ "url": url, "valueCode": value }),
        "datetime" => json!({ "url": url, "valueDateTime": value }),
        "date" => json!({ "url": url, "valueDate": value }),
        "time" => {
            let t = if value.len() == 5 {
                format!("{value}:00")
            } else {
                value.to_string()
            };
            json!({ "url": url, "valueTime": t })
        }
        _ => json!({ "url": url, "valueString": value }),
    };
    Some(v)
}

/// The complex extensions on one resource, built up element by element.
struct Extensions<'t> {
    taxonomy: &'t Taxonomy,
    /// extension name -> its sub-extensions, in taxonomy order when written out.
    values: Map<String, Value>,
}

impl<'t> Extensions<'t> {
    fn new(taxonomy: &'t Taxonomy) -> Self {
        Self {
            taxonomy,
            values: Map::new(),
        }
    }

    /// Adds values to "Extension.Element" (by stem for contained resources' extensions),
    /// typed as the taxonomy says. Unknown elements are skipped.
    fn add(&mut self, extension: &str, element: &str, values: &[&str]) {
        let Some(x) = self
            .taxonomy
            .extension(extension)
            .or_else(|| self.taxonomy.extension_by_stem(extension))
        else {
            return;
        };
        let Some(e) = x.elements.iter().find(|e| e.name == element) else {
            return;
        };
        let entry = self
            .values
            .entry(x.name.clone())
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(list) = entry {
            for v in values {
                if let Some(s) = sub(&e.name, &e.kind, v) {
                    if !list.contains(&s) {
                        list.push(s);
                    }
                }
            }
        }
    }

    /// Adds a value only when the element has none yet (an answer given stands).
    fn add_default(&mut self, extension: &str, element: &str, value: &str) {
        let has = self
            .values
            .get(extension)
            .and_then(Value::as_array)
            .is_some_and(|list| {
                list.iter()
                    .any(|s| s.get("url").and_then(Value::as_str) == Some(element))
            });
        if !has {
            self.add(extension, element, &[value]);
        }
    }

    /// The extensions that sit on `on`, in the taxonomy's order, each with its elements in
    /// the taxonomy's order.
    fn build(&self, on: &str) -> Vec<Value> {
        let mut out = Vec::new();
        for x in self.taxonomy.extensions.iter().filter(|x| x.on == on) {
            let Some(Value::Array(subs)) = self.values.get(&x.name) else {
                continue;
            };
            let mut ordered: Vec<Value> = Vec::new();
            for e in &x.elements {
                ordered.extend(
                    subs.iter()
                        .filter(|s| s.get("url").and_then(Value::as_str) == Some(e.name.as_str()))
                        .cloned(),
                );
            }
            if !ordered.is_empty() {
                // Moved in: `json!` would copy a Value it is given.
                let mut ext = json!({ "url": self.taxonomy.url(&x.id) });
                ext["extension"] = Value::Array(ordered);
                out.push(ext);
            }
        }
        out
    }
}

/// The incident as an LFPSE AdverseEvent (without `id`: LFPSE gives its own; the FHIR read
/// API adds Candour's).
pub fn adverse_event(taxonomy: &Taxonomy, f: &Facts) -> Value {
    let mut x = Extensions::new(taxonomy);
    // The national form's answers first; Candour's own fields fill what they hold.
    for a in &f.answers {
        if let Some((ext, el)) = a.element.split_once('.') {
            let values: Vec<&str> = a.values.iter().map(String::as_str).collect();
            x.add(ext, el, &values);
        }
    }
    if let Some(doc) = f.duty_of_candour {
        x.add(
            "AdverseEventGovernance",
            "DutyOfCandour",
            &[if doc { "true" } else { "false" }],
        );
    }
    x.add(
        "AdverseEventReferenceMetadata",
        "IsAnonymous",
        &[if f.anonymous { "true" } else { "false" }],
    );
    x.add(
        "AdverseEventReferenceMetadata",
        "FromOnlineForms",
        &["false"],
    );
    // Required by the profile; the national form's answer stands when one was given.
    x.add_default(
        "AdverseEventReferenceMetadata",
        "DataSharingOptOut",
        "false",
    );
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
    let age = f.age_days.map(|d| d.to_string());
    if let Some(age) = age.as_deref() {
        p.add("patient-information", "AgeAtTimeOfIncidentDays", &[age]);
    }
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
    let mut patient = json!({ "resourceType": "Patient", "id": "patient1" });
    patient["extension"] = Value::Array(p.build("Patient"));
    let mut contained = vec![patient];

    // The reporter: their organisation only.
    let mut r = Extensions::new(taxonomy);
    if let Some(ods) = f.trust_ods.as_deref() {
        r.add("practitioner-details", "ReporterOrganisation", &[ods]);
    }
    let mut practitioner = json!({ "resourceType": "Practitioner", "id": "practitioner1" });
    let reporter = r.build("Practitioner");
    if !reporter.is_empty() {
        practitioner["extension"] = Value::Array(reporter);
    }
    contained.push(practitioner);

    let mut l = Extensions::new(taxonomy);
    if let Some(ods) = f.site_ods.as_deref() {
        l.add("location-details", "Organisation", &[ods]);
    }
    let mut location = json!({ "resourceType": "Location", "id": "location1" });
    if let Some(code) = &f.department_code {
        location["identifier"] = json!([{ "system": DEPARTMENT_SYSTEM, "value": code }]);
    }
    let site = l.build("Location");
    if !site.is_empty() {
        location["extension"] = Value::Array(site);
    }
    contained.push(location);

    let mut suspect = Vec::new();
    if let Some(eq) = &f.equipment {
        let mut device = json!({ "resourceType": "Device", "id": "device1" });
        if let Some(v) = &eq.manufacturer {
            device["manufacturer"] = json!(v);
        }
        if let Some(v) = &eq.model {
            device["modelNumber"] = json!(v);
        }
        if let Some(v) = &eq.serial_number {
            device["serialNumber"] = json!(v);
        }
        if let Some(v) = &eq.asset_id {
            device["identifier"] = json!([{ "type": { "text": "Asset number" }, "value": v }]);
        }
        contained.push(device);
        suspect.push(json!({ "instance": { "reference": "#device1" } }));
    }

    let event_type = EventType::parse(&f.event_type).unwrap_or(EventType::Incident);
    let event_code = taxonomy
        .event_types
        .get(event_type.as_str())
        .cloned()
        .unwrap_or_default();
    let mut event = json!({ "coding": [{ "code": event_code, "display": event_type.as_str() }] });
    if let Some(t) = &f.title {
        event["text"] = json!(t);
    }
    let mut resource = json!({
        "resourceType": "AdverseEvent",
        "meta": { "profile": [taxonomy.profile_url()] },
        "identifier": { "system": REFERENCE_SYSTEM, "value": f.reference },
        // A near miss, or a risk, is a potential adverse event in FHIR's terms.
        "actuality": if f.near_miss || event_type == EventType::Risk { "potential" } else { "actual" },
        "subject": { "reference": "#patient1" },
        "date": instant(f.occurred_at),
        "recordedDate": instant(f.reported_at),
        "recorder": { "reference": "#practitioner1" },
        "location": { "reference": "#location1" },
    });
    resource["contained"] = Value::Array(contained);
    resource["event"] = event;
    let extensions = x.build("AdverseEvent");
    if !extensions.is_empty() {
        resource["extension"] = Value::Array(extensions);
    }
    // R4's AdverseEvent has no element for the account of what happened: it is the
    // resource's narrative (docs/lfpse.md, "Assumptions").
    if let Some(d) = f.description.as_deref() {
        resource["text"] = narrative(d);
    }
    if !suspect.is_empty() {
        resource["suspectEntity"] = Value::Array(suspect);
    }
    resource
}

/// XHTML narrative holding `text` as it was written (escaped, one paragraph per line).
pub fn narrative(text: &str) -> Value {
    let paragraphs: String = text
        .lines()
        .map(|line| format!("<p>{}</p>", escape_xml(line)))
        .collect();
    json!({
        "status": "additional",
        "div": format!("<div xmlns=\"http://www.w3.org/1999/xhtml\">{paragraphs}</div>"),
    })
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

fn escape_xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
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
    out
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
            let div = n["div"].as_str().unwrap();
            assert!(!div.contains("<two>"));
            assert_eq!(narrative_text(div), text);
        }
        assert_eq!(
            narrative_text("<div><p>a &#x41;&#66; &bogus; &</p></div>"),
            "a AB &bogus; &"
        );
    }
}
