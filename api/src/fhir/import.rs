//! `POST /fhir/AdverseEvent`: an incident raised by another system (a LIMS, a radiotherapy
//! system) from its own AdverseEvent. A service account with `incidents:write`; idempotent
//! on the resource's identifier (the same identifier again answers the incident it made);
//! a bad resource is refused by an `OperationOutcome` that names the element at fault.
use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::outcome::Outcome;
use super::{adverse_event, resource_url, Call};
use crate::context::AppState;
use crate::incident::model::{
    EquipmentDetails, EventType, HarmLevel, IncidentKind, NewIncident, PatientDetails,
};
use crate::lfpse::mapping::DEPARTMENT_SYSTEM;
use crate::lfpse::taxonomy::{Answer, Taxonomy, DERIVED};

/// The code system of Candour's incident kinds, in `AdverseEvent.category`.
pub const KIND_SYSTEM: &str = "urn:candour:incident-kind";
const NHS_NUMBER_SYSTEM: &str = "https://fhir.nhs.uk/Id/nhs-number";

fn bad(expression: &str, text: impl Into<String>) -> Outcome {
    Outcome::invalid(format!("AdverseEvent.{expression}"), text)
}

fn string<'a>(v: &'a Value, key: &str, at: &str) -> Result<Option<&'a str>, Outcome> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(_) => Err(bad(at, format!("{at} must be a string"))),
    }
}

/// The contained resource a local reference (`#patient1`) points at.
fn contained<'a>(r: &'a Value, reference: &Value, at: &str) -> Result<Option<&'a Value>, Outcome> {
    let Some(reference) = reference.get("reference").and_then(Value::as_str) else {
        return Ok(None);
    };
    let Some(id) = reference.strip_prefix('#') else {
        return Err(bad(
            at,
            format!("{at} must reference a contained resource (#id)"),
        ));
    };
    let found = r
        .get("contained")
        .and_then(Value::as_array)
        .and_then(|list| {
            list.iter()
                .find(|c| c.get("id").and_then(Value::as_str) == Some(id))
        });
    match found {
        Some(c) => Ok(Some(c)),
        None => Err(bad(
            at,
            format!(
                "{at} names #{} but no contained resource has that id",
                short(id)
            ),
        )),
    }
}

fn short(s: &str) -> String {
    s.chars().take(40).collect()
}

/// The values of one complex extension's sub-extensions, as strings, by element name.
fn sub_values(ext: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for s in ext
        .get("extension")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(url) = s.get("url").and_then(Value::as_str) else {
            continue;
        };
        let value = s.as_object().and_then(|o| {
            o.iter()
                .find(|(k, _)| k.starts_with("value"))
                .map(|(_, v)| match v {
                    Value::String(s) => s.clone(),
                    Value::Bool(b) => b.to_string(),
                    Value::Number(n) => n.to_string(),
                    other => other.to_string(),
                })
        });
        if let Some(v) = value {
            out.push((url.to_string(), v));
        }
    }
    out
}

/// The extension on `resource` with the taxonomy extension `stem` (any version's url).
fn extension_of<'a>(taxonomy: &Taxonomy, resource: &'a Value, stem: &str) -> Option<&'a Value> {
    let url = &taxonomy.extension_by_stem(stem)?.url;
    resource
        .get("extension")
        .and_then(Value::as_array)?
        .iter()
        .find(|e| e.get("url").and_then(Value::as_str) == Some(url))
}

fn harm_of(code: &str, physical: bool) -> Option<HarmLevel> {
    Some(match (physical, code) {
        (true, "5") | (false, "4") => HarmLevel::None,
        (true, "4") | (false, "3") => HarmLevel::Low,
        (true, "3") | (false, "2") => HarmLevel::Moderate,
        (true, "2") | (false, "1") => HarmLevel::Severe,
        (true, "1") => HarmLevel::Fatal,
        _ => return None,
    })
}

/// What an AdverseEvent says, as a new incident (its idempotency key from the identifier),
/// and the department it names. Checks the shape; the incident service checks the rest
/// (lengths, dates, the patient's details).
pub fn parse(state: &AppState, r: &Value) -> Result<(NewIncident, Option<String>), Outcome> {
    let taxonomy = &state.lfpse;
    if !r.is_object() {
        return Err(Outcome::invalid(
            "AdverseEvent",
            "the body must be a JSON AdverseEvent resource",
        ));
    }
    if r.get("resourceType").and_then(Value::as_str) != Some("AdverseEvent") {
        return Err(bad("resourceType", "resourceType must be AdverseEvent"));
    }
    // R4: identifier is one Identifier; a list of one is taken too.
    let identifier = match r.get("identifier") {
        Some(Value::Array(list)) if list.len() == 1 => &list[0],
        Some(v @ Value::Object(_)) => v,
        _ => {
            return Err(bad(
                "identifier",
                "identifier (system and value) is required: it makes the import idempotent",
            ))
        }
    };
    let system = string(identifier, "system", "identifier.system")?
        .unwrap_or("")
        .trim();
    let value = string(identifier, "value", "identifier.value")?
        .unwrap_or("")
        .trim();
    if system.is_empty() || value.is_empty() {
        return Err(bad("identifier", "identifier needs both system and value"));
    }
    if system.len() + value.len() > 500 {
        return Err(bad(
            "identifier",
            "identifier is longer than 500 characters",
        ));
    }
    let actuality = string(r, "actuality", "actuality")?;
    let potential = match actuality {
        Some("actual") => false,
        Some("potential") => true,
        _ => return Err(bad("actuality", "actuality must be actual or potential")),
    };
    let event_code = r
        .pointer("/event/coding/0/code")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            bad(
                "event.coding",
                "event.coding[0].code (LFPSE's event type) is required",
            )
        })?;
    let event_type = taxonomy
        .event_types
        .iter()
        .find(|(_, code)| code.as_str() == event_code)
        .and_then(|(name, _)| EventType::parse(name))
        .ok_or_else(|| {
            bad(
                "event.coding",
                "event.coding[0].code is not an LFPSE event type",
            )
        })?;
    let title = r
        .pointer("/event/text")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("event.text", "event.text (a short title) is required"))?
        .to_string();
    // What happened: the narrative (as Candour writes it), or the `description` element
    // some senders add (docs/fhir.md).
    let narrative = match r.pointer("/text/div") {
        None | Some(Value::Null) => None,
        Some(Value::String(div)) => Some(crate::lfpse::mapping::narrative_text(div)),
        Some(_) => return Err(bad("text.div", "text.div must be a string")),
    };
    let description = match string(r, "description", "description")? {
        Some(d) => d.to_string(),
        None => narrative.filter(|t| !t.trim().is_empty()).ok_or_else(|| {
            bad(
                "text",
                "the narrative (text.div), what happened, is required",
            )
        })?,
    };
    let date = string(r, "date", "date")?
        .ok_or_else(|| bad("date", "date (when it happened) is required"))?;
    let occurred_at: DateTime<Utc> = DateTime::parse_from_rfc3339(date)
        .map_err(|_| bad("date", "date must be a dateTime with a time zone"))?
        .with_timezone(&Utc);

    // The department: a contained Location naming Candour's department code, or the ODS
    // code of exactly one department's site.
    let location = match r.get("location") {
        Some(l) => contained(r, l, "location")?,
        None => None,
    };
    let location = location.ok_or_else(|| {
        bad(
            "location",
            "location must reference a contained Location naming the department",
        )
    })?;
    let mut department_code = None;
    for id in location
        .get("identifier")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if id.get("system").and_then(Value::as_str) == Some(DEPARTMENT_SYSTEM) {
            department_code = id.get("value").and_then(Value::as_str).map(str::to_string);
        }
    }
    let site_ods = extension_of(taxonomy, location, "location-details")
        .map(sub_values)
        .unwrap_or_default()
        .into_iter()
        .find(|(k, _)| k == "Organisation")
        .map(|(_, v)| v);

    let mut kind = IncidentKind::PatientSafety;
    for c in r
        .get("category")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        for coding in c
            .get("coding")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if coding.get("system").and_then(Value::as_str) == Some(KIND_SYSTEM) {
                kind = coding
                    .get("code")
                    .and_then(Value::as_str)
                    .and_then(IncidentKind::parse)
                    .ok_or_else(|| bad("category", "category names an unknown incident kind"))?;
            }
        }
    }

    // The patient: harm, and (for systems that hold them) the NHS number and date of birth.
    let subject = r
        .get("subject")
        .ok_or_else(|| bad("subject", "subject is required (a contained Patient)"))?;
    let patient = contained(r, subject, "subject")?;
    let (mut physical, mut psychological) = (HarmLevel::None, HarmLevel::None);
    let mut details = PatientDetails::default();
    if let Some(p) = patient {
        for (k, v) in extension_of(taxonomy, p, "patient-information")
            .map(sub_values)
            .unwrap_or_default()
        {
            match k.as_str() {
                "PhysicalHarm" => {
                    physical = harm_of(&v, true).ok_or_else(|| {
                        bad("subject", "the patient's PhysicalHarm is not an LFPSE code")
                    })?
                }
                "PsychologicalHarm" => {
                    psychological = harm_of(&v, false).ok_or_else(|| {
                        bad(
                            "subject",
                            "the patient's PsychologicalHarm is not an LFPSE code",
                        )
                    })?
                }
                _ => {}
            }
        }
        for id in p
            .get("identifier")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if id.get("system").and_then(Value::as_str) == Some(NHS_NUMBER_SYSTEM) {
                details.nhs_number = id.get("value").and_then(Value::as_str).map(str::to_string);
            }
        }
        if let Some(b) = p.get("birthDate").and_then(Value::as_str) {
            details.date_of_birth = Some(
                chrono::NaiveDate::parse_from_str(b, "%Y-%m-%d")
                    .map_err(|_| bad("subject", "the patient's birthDate must be YYYY-MM-DD"))?,
            );
        }
    }

    // Equipment: a contained Device among the suspect entities.
    let mut equipment = None;
    for (i, s) in r
        .get("suspectEntity")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let at = format!("suspectEntity[{i}].instance");
        let Some(instance) = s.get("instance") else {
            continue;
        };
        let Some(d) = contained(r, instance, &at)? else {
            continue;
        };
        if d.get("resourceType").and_then(Value::as_str) != Some("Device") {
            continue;
        }
        let asset = d
            .get("identifier")
            .and_then(Value::as_array)
            .and_then(|ids| ids.first())
            .and_then(|id| id.get("value"))
            .and_then(Value::as_str)
            .map(str::to_string);
        equipment = Some(EquipmentDetails {
            asset_id: asset,
            manufacturer: d
                .get("manufacturer")
                .and_then(Value::as_str)
                .map(str::to_string),
            model: d
                .get("modelNumber")
                .and_then(Value::as_str)
                .map(str::to_string),
            serial_number: d
                .get("serialNumber")
                .and_then(Value::as_str)
                .map(str::to_string),
        });
    }

    // The national form's answers on the AdverseEvent's own extensions.
    let mut answers: Vec<Answer> = Vec::new();
    let mut immediate_actions = None;
    for (i, e) in r
        .get("extension")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let url = e.get("url").and_then(Value::as_str).unwrap_or("");
        let Some(x) = taxonomy
            .extensions
            .iter()
            .find(|x| x.on == "AdverseEvent" && x.url == url)
        else {
            return Err(bad(
                &format!("extension[{i}]"),
                format!(
                    "extension[{i}] is not an extension of LFPSE taxonomy {}",
                    taxonomy.version
                ),
            ));
        };
        for (element, v) in sub_values(e) {
            let path = format!("{}.{element}", x.name);
            if path == "AdverseEventOutcome.ImmediateActions" {
                immediate_actions = Some(v);
                continue;
            }
            if DERIVED.contains(&path.as_str()) {
                continue;
            }
            match answers.iter_mut().find(|a| a.element == path) {
                Some(a) => a.values.push(v),
                None => answers.push(Answer {
                    element: path,
                    values: vec![v],
                }),
            }
        }
    }

    let department = department_code.or(site_ods);
    let key = {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(format!("{system}|{value}").as_bytes());
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        format!("fhir:{hex}")
    };
    let new = NewIncident {
        title,
        description,
        occurred_at,
        // Resolved by the caller from `department`.
        department_id: uuid::Uuid::nil(),
        kind,
        physical_harm: physical,
        psychological_harm: psychological,
        event_type,
        near_miss: potential && event_type != EventType::Risk,
        location: None,
        category: None,
        immediate_actions,
        patient: (details.nhs_number.is_some() || details.date_of_birth.is_some())
            .then_some(details),
        equipment,
        anonymous: false,
        idempotency_key: Some(key),
        regulatory_facts: Default::default(),
        lfpse_answers: answers,
        attachment_ids: Vec::new(),
    };
    Ok((new, department))
}

/// The department an import names: by Candour code, else by a site's ODS code that
/// exactly one department has.
async fn department_of(state: &AppState, named: Option<&str>) -> Result<uuid::Uuid, Outcome> {
    let Some(named) = named.map(str::trim).filter(|s| !s.is_empty()) else {
        return Err(bad(
            "location",
            format!("the contained Location needs an identifier with system {DEPARTMENT_SYSTEM} (the department code), or a location-details Organisation ODS code"),
        ));
    };
    let all = crate::org::service::departments(state).await?;
    if let Some(d) = all.iter().find(|d| d.code == named) {
        return Ok(d.id);
    }
    let by_ods: Vec<_> = all
        .iter()
        .filter(|d| d.ods_code.as_deref() == Some(named))
        .collect();
    match by_ods.as_slice() {
        [d] => Ok(d.id),
        [] => Err(bad(
            "location",
            "the Location names no department of this trust",
        )),
        _ => Err(bad(
            "location",
            "the Location's ODS code is shared by several departments: name the department code",
        )),
    }
}

pub async fn create(
    req: HttpRequest,
    state: web::Data<Arc<AppState>>,
    body: web::Bytes,
) -> HttpResponse {
    let call = match Call::begin(&req, &state).await {
        Ok(c) => c,
        Err(o) => return o.response(),
    };
    let result = run(&call, &req, &body).await;
    match result {
        Ok((status, body, location)) => {
            let mut resp = call.finish(Ok((status, body))).await;
            if resp.status().is_success() {
                if let Ok(v) = actix_web::http::header::HeaderValue::from_str(&location) {
                    resp.headers_mut()
                        .insert(actix_web::http::header::LOCATION, v);
                }
            }
            resp
        }
        Err(o) => call.finish(Err(o)).await,
    }
}

async fn run(
    call: &Call,
    req: &HttpRequest,
    body: &[u8],
) -> Result<(StatusCode, Vec<u8>, String), Outcome> {
    let state = &call.state;
    let p = call.rc.principal()?;
    if !p.is_service() {
        return Err(Outcome::from(crate::error::AppError::forbidden(
            "importing an AdverseEvent is for service accounts with incidents:write; staff report through GraphQL",
        )));
    }
    let content_type = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if !matches!(
        content_type.as_str(),
        "application/fhir+json" | "application/json"
    ) {
        return Err(Outcome::not_supported(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the AdverseEvent as application/fhir+json",
        ));
    }
    let resource: Value = serde_json::from_slice(body)
        .map_err(|_| Outcome::invalid("AdverseEvent", "the body is not JSON"))?;
    let (mut new, named) = parse(state, &resource)?;
    new.department_id = department_of(state, named.as_deref()).await?;
    let started = crate::record::now();
    let (m, access, _) = crate::incident::service::report(state, &call.rc, new)
        .await
        .map_err(|e| match e {
            // The service names GraphQL's fields; FHIR callers read elements.
            crate::error::AppError::Invalid { field, message, .. } => {
                Outcome::invalid(format!("AdverseEvent ({field})"), message)
            }
            e => Outcome::from(e),
        })?;
    let location = resource_url(state, m.id);
    // A second import of the same identifier answers the incident the first made.
    let created = m.reported_at >= started;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let body = if access.view {
        adverse_event(state, &call.rc, &m, access)
            .await?
            .to_vec(&state.lfpse)
    } else {
        let outcome = json!({
            "resourceType": "OperationOutcome",
            "issue": [{
                "severity": "information",
                "code": "informational",
                "details": { "text": format!("incident {} recorded", m.reference) },
            }],
        });
        serde_json::to_vec(&outcome).unwrap_or_default()
    };
    Ok((status, body, location))
}
