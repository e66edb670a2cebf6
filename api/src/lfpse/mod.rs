//! LFPSE, NHS England's Learn from Patient Safety Events service (docs/lfpse.md): every
//! patient-safety event, and each later version of it, is submitted as an FHIR R4
//! `AdverseEvent` following the LFPSE profile.
//!
//! - `taxonomy`: the profile's extensions, elements and codes, as data (a versioned JSON
//!   file), and the check of the national form's answers against it;
//! - `mapping`: an incident's facts to the AdverseEvent (no I/O);
//! - `queue`: a version queued in the transaction of the change that made it;
//! - `dispatch`: the sender, with the email outbox's lease, retry and dead-letter rules;
//! - `service` and `graphql`: the incident's LFPSE status, failed submissions, retry.
pub mod dispatch;
pub mod graphql;
pub mod mapping;
pub mod queue;
pub mod service;
pub mod taxonomy;

use entities::incident;
use sea_orm::ConnectionTrait;
use sha2::{Digest, Sha256};

use crate::context::AppState;
use crate::error::AppResult;

/// Whether LFPSE should hold this incident: a patient-safety kind (`lfpse.kinds`), not
/// declined as "not an incident", and not disposed of.
pub fn reportable(state: &AppState, m: &incident::Model) -> bool {
    m.disposed_at.is_none()
        && m.status != crate::incident::model::IncidentStatus::Declined.as_str()
        && state.settings.lfpse.kinds.contains(&m.kind)
}

/// The AdverseEvent LFPSE should hold for this incident now, or None when it is not
/// reportable. Reads the department and the candour steps, and opens the patient's date of
/// birth (for the age at the time, in days): nothing that names anyone is in it.
pub async fn render<C: ConnectionTrait>(
    conn: &C,
    state: &AppState,
    m: &incident::Model,
) -> AppResult<Option<serde_json::Value>> {
    if !reportable(state, m) {
        return Ok(None);
    }
    let _ = conn;
    let mut facts = facts(state, m).await?;
    facts.description = Some(m.description.clone());
    facts.immediate_actions = m.immediate_actions.clone();
    facts.age_days = patient_age_days(state, m);
    let mut resource = mapping::adverse_event(&state.lfpse, &facts);
    if state.settings.lfpse.description_element {
        resource.description = Some(&m.description);
    }
    Ok(Some(resource.to_value()))
}

/// What anyone who may see the incident may see of it: no description, immediate actions,
/// age or title until the caller adds them, as the reader's access allows.
pub async fn facts(state: &AppState, m: &incident::Model) -> AppResult<mapping::Facts> {
    let department = crate::org::service::department(state, m.department_id).await?;
    let trust_ods = state.settings.lfpse.ods_code.clone();
    let site_ods = department
        .and_then(|d| d.ods_code)
        .or_else(|| trust_ods.clone());
    let equipment = mapping::Equipment {
        manufacturer: m.equipment_manufacturer.clone(),
        model: m.equipment_model.clone(),
        serial_number: m.equipment_serial_number.clone(),
        asset_id: m.equipment_asset_id.clone(),
    };
    let has_equipment = equipment.manufacturer.is_some()
        || equipment.model.is_some()
        || equipment.serial_number.is_some()
        || equipment.asset_id.is_some();
    Ok(mapping::Facts {
        reference: m.reference.clone(),
        occurred_at: m.occurred_at,
        reported_at: m.reported_at,
        event_type: m.event_type.clone(),
        near_miss: m.near_miss,
        physical_harm: m.physical_harm,
        psychological_harm: m.psychological_harm,
        anonymous: m.anonymous,
        duty_of_candour: m.duty_of_candour_applies,
        description: None,
        immediate_actions: None,
        age_days: None,
        equipment: has_equipment.then_some(equipment),
        trust_ods,
        site_ods,
        answers: taxonomy::answers_from_json(m.lfpse_answers.as_deref()),
        agents: agents(&m.regulatory_facts),
        title: None,
        department_code: None,
    })
}

/// The agents an incident's regulatory facts name, as AdverseEventAgent.InvolvedAgents
/// codes (taxonomy v5 agent-type-5): an MHRA medical-device incident involved a device (3),
/// a SABRE one blood (11).
fn agents(regulatory_facts: &str) -> Vec<&'static str> {
    use crate::notify::rules::RegulatoryFact;
    RegulatoryFact::parse_set(regulatory_facts)
        .into_iter()
        .filter_map(|f| match f {
            RegulatoryFact::MedicalDevice => Some("3"),
            RegulatoryFact::BloodComponent => Some("11"),
            _ => None,
        })
        .collect()
}

/// The patient's age in days on the day of the incident (in the trust's time zone), from
/// the sealed date of birth; None when there is none.
pub fn patient_age_days(state: &AppState, m: &incident::Model) -> Option<i64> {
    let sealed = crate::protect::PatientSealed::of(m);
    sealed.dob_sealed.as_ref()?;
    let clear = state.keys.open_patient(m.id, &sealed).ok()?;
    let dob = clear.date_of_birth?;
    let on = m
        .occurred_at
        .with_timezone(&state.settings.tz())
        .date_naive();
    mapping::age_in_days(dob, on)
}

/// A hash of a resource's content, to tell whether a change gives LFPSE anything new.
/// serde_json's maps are sorted, so the same content always hashes the same.
pub fn content_hash(resource: &serde_json::Value) -> String {
    let bytes = serde_json::to_vec(resource).unwrap_or_default();
    let digest = Sha256::digest(&bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}
