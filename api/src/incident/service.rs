//! Incident persistence and rules: each public function checks permission, applies the
//! rules and writes the change and its trail event in one transaction.
use chrono::{DateTime, Datelike, Duration, SubsecRound, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QuerySelect, QueryTrait,
};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::model::*;
use super::workflow::{self, Access, ClosingFacts};
use crate::auth::{Principal, Role};
use crate::context::{AppState, RequestCtx};
use crate::error::{is_unique_violation, AppError, AppResult};
use crate::record::keyset::{self, ColumnOrder, Page};
use crate::record::text::{self, reason, required};
use crate::record::{now, versioned, visibility, OrderDirection};
use crate::trail::{self, Actor, Diff};
use entities::{candour_step, idempotency_key, incident, incident_comment};

const ENTITY: &str = "Incident";

fn check_category(
    state: &AppState,
    field: &str,
    category: Option<String>,
) -> AppResult<Option<String>> {
    let category = text::optional(field, category, 100)?;
    let taxonomy = &state.settings.incident_categories;
    if let Some(c) = &category {
        if !taxonomy.is_empty() && !taxonomy.iter().any(|t| t == c) {
            return Err(AppError::invalid(
                field,
                format!("{field} must be one of the configured categories"),
            )
            .because(reason::NOT_ALLOWED));
        }
    }
    Ok(category)
}

/// Validates and normalises a report.
async fn parse_report(state: &AppState, mut input: NewIncident) -> AppResult<NewIncident> {
    input.title = required("title", input.title, 200)?;
    input.description = required("description", input.description, 20_000)?;
    let now = now();
    if input.occurred_at > now + Duration::minutes(5) {
        return Err(
            AppError::invalid("occurredAt", "occurredAt must not be in the future")
                .because(reason::IN_FUTURE),
        );
    }
    input.occurred_at = input.occurred_at.trunc_subsecs(6);
    if input.psychological_harm == HarmLevel::Fatal {
        return Err(AppError::invalid(
            "psychologicalHarm",
            "psychological harm is recorded up to SEVERE",
        ));
    }
    if input.near_miss && input.physical_harm > HarmLevel::None {
        return Err(AppError::invalid(
            "nearMiss",
            "a near miss did not reach the patient, so its physical harm is NONE",
        ));
    }
    if crate::org::service::department(state, input.department_id)
        .await?
        .is_none()
    {
        return Err(
            AppError::invalid("departmentId", "no such department").because(reason::UNKNOWN)
        );
    }
    input.location = text::optional("location", input.location, 200)?;
    input.category = check_category(state, "category", input.category)?;
    input.immediate_actions = text::optional("immediateActions", input.immediate_actions, 10_000)?;
    input.lfpse_answers = check_answers(state, &input.lfpse_answers)?;
    if let Some(p) = input.patient.take() {
        // The message never repeats the number.
        let nhs_number = match p.nhs_number.as_deref().map(str::trim) {
            Some("") | None => None,
            Some(n) => Some(
                crate::protect::NhsNumber::field("patient.nhsNumber", n)?
                    .as_str()
                    .to_string(),
            ),
        };
        if p.date_of_birth.is_some_and(|d| d > now.date_naive()) {
            return Err(AppError::invalid(
                "patient.dateOfBirth",
                "a date of birth cannot be in the future",
            )
            .because(reason::IN_FUTURE));
        }
        let patient = PatientDetails {
            nhs_number,
            name: text::optional("patient.name", p.name, 200)?,
            date_of_birth: p.date_of_birth,
        };
        if patient.nhs_number.is_some() || patient.name.is_some() || patient.date_of_birth.is_some()
        {
            input.patient = Some(patient);
        }
    }
    if let Some(e) = input.equipment.take() {
        let equipment = EquipmentDetails {
            asset_id: text::optional("equipment.assetId", e.asset_id, 100)?,
            manufacturer: text::optional("equipment.manufacturer", e.manufacturer, 200)?,
            model: text::optional("equipment.model", e.model, 200)?,
            serial_number: text::optional("equipment.serialNumber", e.serial_number, 100)?,
        };
        if equipment.asset_id.is_some()
            || equipment.manufacturer.is_some()
            || equipment.model.is_some()
            || equipment.serial_number.is_some()
        {
            input.equipment = Some(equipment);
        }
    }
    if let Some(key) = &input.idempotency_key {
        if key.is_empty() || key.len() > 128 {
            return Err(AppError::invalid(
                "idempotencyKey",
                "idempotencyKey must be 1 to 128 characters",
            )
            .because(if key.is_empty() {
                reason::BLANK
            } else {
                reason::TOO_LONG
            })
            .limit(128));
        }
        // An anonymous report's key is not tied to its reporter, so whoever sends it again
        // gets the receipt back: it must be as hard to guess as a random UUID.
        if input.anonymous && key.chars().count() < 16 {
            return Err(AppError::invalid(
                "idempotencyKey",
                "an anonymous report's idempotencyKey must be at least 16 random characters, such as a UUID",
            ));
        }
    }
    Ok(input)
}

/// The stored form of an idempotency key. A named report's key is scoped to its reporter;
/// an anonymous report's is not, so that nothing derived from the reporter is stored.
fn idempotency_hash(p: &Principal, anonymous: bool, key: &str) -> String {
    let mut h = Sha256::new();
    if anonymous {
        h.update(b"anonymous\n");
    } else {
        h.update(b"reporter\n");
        h.update(p.subject.as_bytes());
        h.update(b"\n");
    }
    h.update(key.as_bytes());
    hex(&h.finalize())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

async fn find_by_key<C: ConnectionTrait>(
    conn: &C,
    key_hash: &str,
) -> AppResult<Option<incident::Model>> {
    let Some(key) = idempotency_key::Entity::find_by_id(key_hash.to_string())
        .one(conn)
        .await?
    else {
        return Ok(None);
    };
    Ok(incident::Entity::find_by_id(key.incident_id)
        .one(conn)
        .await?)
}

/// Crockford's base32 alphabet: no I, L, O or U to misread when copied by hand.
const CODE_ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A follow-up code: 160 random bits as 32 characters in groups of four.
fn new_follow_up_code() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 20];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let mut bits: u64 = 0;
    let mut nbits = 0;
    let mut chars = Vec::with_capacity(32);
    for b in bytes {
        bits = (bits << 8) | u64::from(b);
        nbits += 8;
        while nbits >= 5 {
            nbits -= 5;
            chars.push(CODE_ALPHABET[((bits >> nbits) & 31) as usize] as char);
        }
    }
    chars
        .chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

/// The stored form of a follow-up code, however the reporter typed it (case, dashes,
/// spaces, and the letters Crockford's alphabet reads as digits).
pub fn follow_up_hash(code: &str) -> String {
    let normal: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| match c.to_ascii_uppercase() {
            'O' => '0',
            'I' | 'L' => '1',
            other => other,
        })
        .collect();
    hex(&Sha256::digest(normal.as_bytes()))
}

/// What an anonymous reporter may read with their code: status and learning, nothing else.
pub async fn follow_up(state: &AppState, code: &str) -> AppResult<Option<incident::Model>> {
    if code.trim().is_empty() || code.len() > 100 {
        return Err(AppError::invalid("code", "not a follow-up code").because(reason::MALFORMED));
    }
    Ok(incident::Entity::find()
        .filter(incident::Column::FollowUpCodeHash.eq(follow_up_hash(code)))
        .one(&state.db.conn)
        .await?)
}

/// Reports an incident. Returns it, the caller's access, and for an anonymous report the
/// follow-up code (None when an earlier submission with the same idempotency key made it:
/// the code was shown then and is not kept).
pub async fn report(
    state: &AppState,
    rc: &RequestCtx,
    input: NewIncident,
) -> AppResult<(incident::Model, Access, Option<String>)> {
    let p = rc.principal()?;
    workflow::may_report(p)?;
    if input.anonymous {
        rc.access.mark_anonymous();
    }
    let input = parse_report(state, input).await?;
    // What the payload may show: an anonymous receipt shows nothing sensitive and records
    // no read (a read by the reporter would name them in the access log).
    let receipt = if input.anonymous {
        Access::RECEIPT
    } else {
        Access::REPORTER
    };
    let key_hash = input
        .idempotency_key
        .as_deref()
        .map(|k| idempotency_hash(p, input.anonymous, k));
    if let Some(h) = &key_hash {
        if let Some(existing) = find_by_key(&state.db.conn, h).await? {
            return Ok((existing, receipt, None));
        }
    }
    let follow_up = input.anonymous.then(new_follow_up_code);
    let now = now();
    state
        .references
        .prepare(&state.db.conn, "INC", now.year())
        .await?;
    let tx = state.db.begin_write().await?;
    if let Some(h) = &key_hash {
        // A twin submitted a moment ago may have committed while we waited for our turn.
        if let Some(existing) = find_by_key(&*tx, h).await? {
            return Ok((existing, receipt, None));
        }
    }
    // An anonymous report looks nobody up and writes nothing about its reporter. A named
    // one records its reporter in this transaction, so a refused report records nobody.
    let reporter_id = if input.anonymous {
        None
    } else {
        rc.staff_in(state, &*tx).await?
    };
    let actor = if input.anonymous {
        Actor::anonymous()
    } else {
        Actor::of(p, reporter_id)
    };
    let reference = state.references.next(&*tx, "INC", now.year()).await?;
    let id = Uuid::now_v7();
    let patient = input
        .patient
        .as_ref()
        .map(|p| {
            state.keys.seal_patient(
                id,
                &crate::protect::PatientClear {
                    nhs_number: p
                        .nhs_number
                        .as_deref()
                        .and_then(|n| crate::protect::NhsNumber::parse(n).ok()),
                    name: p.name.clone(),
                    date_of_birth: p.date_of_birth,
                },
            )
        })
        .unwrap_or_default();
    let equipment = input.equipment.clone().unwrap_or_default();
    let model = incident::Model {
        id,
        reference,
        title: input.title,
        description: input.description,
        occurred_at: input.occurred_at,
        reported_at: now,
        department_id: input.department_id,
        location: input.location,
        event_type: input.event_type.as_str().into(),
        kind: input.kind.as_str().into(),
        category: input.category,
        near_miss: input.near_miss,
        physical_harm: input.physical_harm.rank(),
        psychological_harm: input.psychological_harm.rank(),
        immediate_actions: input.immediate_actions,
        patient_nhs_sealed: patient.nhs_sealed,
        patient_name_sealed: patient.name_sealed,
        patient_dob_sealed: patient.dob_sealed,
        patient_nhs_hash: patient.nhs_hash,
        equipment_asset_id: equipment.asset_id,
        equipment_manufacturer: equipment.manufacturer,
        equipment_model: equipment.model,
        equipment_serial_number: equipment.serial_number,
        anonymous: input.anonymous,
        follow_up_code_hash: follow_up.as_ref().map(|c| follow_up_hash(c)),
        reporter_id,
        handler_id: None,
        learning_response: None,
        learning_summary: None,
        findings: None,
        feedback_to_reporter: None,
        duty_of_candour_applies: None,
        status: IncidentStatus::Reported.as_str().into(),
        status_reason: None,
        duplicate_of_id: None,
        triaged_at: None,
        closed_at: None,
        version: 1,
        updated_at: now,
        disposed_at: None,
        regulatory_facts: crate::notify::rules::RegulatoryFact::to_json(&input.regulatory_facts),
        lfpse_answers: crate::lfpse::taxonomy::answers_to_json(&input.lfpse_answers),
        learning_response_override_reason: None,
    };
    // The report's rows go in as one statement on PostgreSQL (`Inserts`): the incident,
    // its idempotency key, its rollup delta, its trail event and its emails.
    let mut inserts = crate::db::Inserts::default();
    inserts.push(incident::Entity::insert(model.clone().into_active_model()).into_query());
    if let Some(h) = &key_hash {
        inserts.push(
            idempotency_key::Entity::insert(idempotency_key::ActiveModel {
                key_hash: sea_orm::Set(h.clone()),
                incident_id: sea_orm::Set(model.id),
                created_at: sea_orm::Set(now),
            })
            .into_query(),
        );
    }
    inserts.extend(crate::dashboard::rollup::incident_delta(
        state.settings.tz(),
        None,
        &model,
    ));
    let diff = super::columns::diff(None, &model);
    inserts.push(trail::service::event(
        Some(&rc.request_id),
        &actor,
        ENTITY,
        model.id,
        "incident.reported",
        diff,
    ));
    crate::notify::events::incident_reported(&*tx, state, &model, &mut inserts).await?;
    if let Err(e) = inserts.run(&*tx).await {
        if key_hash.is_some() && is_unique_violation(&e) {
            // PostgreSQL: a concurrent twin won the key. Ours rolls back whole.
            drop(tx);
            let h = key_hash.as_deref().unwrap_or_default();
            return find_by_key(&state.db.conn, h)
                .await?
                .map(|m| (m, receipt, None))
                .ok_or_else(|| AppError::Internal("idempotency key without incident".into()));
        }
        return Err(e.into());
    }
    crate::attachment::service::attach_in(
        &*tx,
        state,
        rc,
        &actor,
        crate::attachment::service::OwnerKind::Incident,
        model.id,
        &input.attachment_ids,
        input.anonymous,
    )
    .await?;
    // Obligations reference the incident, so they follow it (most reports owe none, and
    // cost nothing here).
    crate::notify::obligations::sync(&*tx, state, Some(&rc.request_id), &actor, &model).await?;
    // A reportable event is queued for LFPSE with the report itself.
    crate::lfpse::queue::sync(&*tx, state, &model).await?;
    tx.commit().await?;
    tracing::info!(incident = %model.id, reference = %model.reference, "incident reported");
    let access = if model.anonymous {
        Access::RECEIPT
    } else {
        let access = access_to(state, rc, &model).await?;
        if access.view {
            access
        } else {
            Access::REPORTER
        }
    };
    Ok((model, access, follow_up))
}

/// The caller's access to one incident.
pub async fn access_to(
    state: &AppState,
    rc: &RequestCtx,
    m: &incident::Model,
) -> AppResult<Access> {
    let p = rc.principal()?;
    let code = crate::org::service::department(state, m.department_id)
        .await?
        .map(|d| d.code)
        .unwrap_or_default();
    let base = workflow::access(p, &code, false);
    if base.view || p.is_service() || m.reporter_id.is_none() {
        return Ok(base);
    }
    let me = rc.staff_id(state).await?;
    Ok(workflow::access(p, &code, me == m.reporter_id))
}

/// Whether the caller may read a sensitive `field` of `m` (`allowed`, from their
/// `access`); when they may, the read is noted for the request's access log. A disposed
/// record has nothing to read. The GraphQL object and the CSV export both decide here.
pub fn note_read(
    rc: &RequestCtx,
    m: &incident::Model,
    access: Access,
    allowed: bool,
    field: &'static str,
) -> bool {
    if !allowed || m.disposed_at.is_some() {
        return false;
    }
    rc.access.record(
        "Incident",
        m.id,
        field,
        access.break_glass,
        m.patient_nhs_hash.as_deref(),
    );
    true
}

/// One incident the caller may see; NOT_FOUND otherwise (whether or not it exists).
pub async fn get(
    state: &AppState,
    rc: &RequestCtx,
    id: Uuid,
) -> AppResult<(incident::Model, Access)> {
    rc.principal()?;
    let m = incident::Entity::find_by_id(id)
        .one(&state.db.conn)
        .await?
        .ok_or(AppError::NotFound("incident"))?;
    let access =
        super::break_glass::or_grant(state, rc, &m, access_to(state, rc, &m).await?).await?;
    if !access.view {
        return Err(AppError::NotFound("incident"));
    }
    Ok((m, access))
}

pub async fn get_by_reference(
    state: &AppState,
    rc: &RequestCtx,
    reference: &str,
) -> AppResult<(incident::Model, Access)> {
    rc.principal()?;
    let m = incident::Entity::find()
        .filter(incident::Column::Reference.eq(reference.trim().to_ascii_uppercase()))
        .one(&state.db.conn)
        .await?
        .ok_or(AppError::NotFound("incident"))?;
    let access =
        super::break_glass::or_grant(state, rc, &m, access_to(state, rc, &m).await?).await?;
    if !access.view {
        return Err(AppError::NotFound("incident"));
    }
    Ok((m, access))
}

/// Loads an incident for change inside `tx` (row-locked on PostgreSQL); NOT_FOUND unless
/// the caller may see it.
async fn load_for_change(
    state: &AppState,
    rc: &RequestCtx,
    tx: &sea_orm::DatabaseTransaction,
    id: Uuid,
) -> AppResult<(incident::Model, Access)> {
    let m = incident::Entity::find_by_id(id)
        .lock_exclusive()
        .one(tx)
        .await?
        .ok_or(AppError::NotFound("incident"))?;
    let access =
        super::break_glass::or_grant(state, rc, &m, access_to(state, rc, &m).await?).await?;
    if !access.view {
        return Err(AppError::NotFound("incident"));
    }
    Ok((m, access))
}

/// Writes `updated` if the stored version is still `expected` (the version of `before`);
/// bumps the version, moves the incident in the dashboard's rollups, and queues a new
/// version for LFPSE when what LFPSE holds changed (every change to an incident row goes
/// through here: triage, transitions, duty-of-candour steps).
async fn save(
    state: &AppState,
    tx: &sea_orm::DatabaseTransaction,
    before: &incident::Model,
    updated: incident::Model,
    expected: i32,
) -> AppResult<incident::Model> {
    let updated = versioned::save(tx, updated, expected).await?;
    crate::dashboard::rollup::incident_changed(tx, state.settings.tz(), Some(before), &updated)
        .await?;
    crate::lfpse::queue::sync(tx, state, &updated).await?;
    Ok(updated)
}

fn status_of(m: &incident::Model) -> IncidentStatus {
    IncidentStatus::parse(&m.status).unwrap_or(IncidentStatus::Reported)
}

fn is_final(status: IncidentStatus) -> bool {
    matches!(status, IncidentStatus::Closed | IncidentStatus::Declined)
}

fn actor(p: &Principal, staff: Option<Uuid>) -> Actor {
    Actor::of(p, staff)
}

/// Answers to LFPSE's questions, checked against the taxonomy in use; refused by the
/// element named, never by the value given.
fn check_answers(
    state: &AppState,
    answers: &[crate::lfpse::taxonomy::Answer],
) -> AppResult<Vec<crate::lfpse::taxonomy::Answer>> {
    state
        .lfpse
        .check_answers(answers)
        .map_err(|r| AppError::invalid("lfpseAnswers", r.message).because(r.reason))
}

/// Whether `staff_id` may be made the handler of an incident in `department_code`.
async fn check_handler(state: &AppState, staff_id: Uuid, department_code: &str) -> AppResult<()> {
    let found = crate::org::service::staff_by_ids(&state.db.conn, &[staff_id]).await?;
    let Some(s) = found.into_iter().next() else {
        return Err(AppError::invalid("handlerId", "no such staff member")
            .because(crate::record::text::reason::UNKNOWN));
    };
    let roles: Vec<String> = serde_json::from_str(&s.roles).unwrap_or_default();
    let depts: Vec<String> = serde_json::from_str(&s.department_codes).unwrap_or_default();
    let ok = roles.iter().any(|r| r == Role::QualityLead.claim())
        || roles.iter().any(|r| r == Role::Handler.claim())
            && depts.iter().any(|d| d == department_code);
    if ok {
        Ok(())
    } else {
        Err(AppError::invalid(
            "handlerId",
            "the handler must be a handler of the incident's department or a quality lead",
        ))
    }
}

/// The learning response the trust's patient safety incident response plan suggests for
/// the incident's facts, and the rule that suggests it.
pub async fn suggestion(
    state: &AppState,
    m: &incident::Model,
) -> AppResult<crate::learning::rules::Suggestion> {
    let code = crate::org::service::department(state, m.department_id)
        .await?
        .map(|d| d.code)
        .unwrap_or_default();
    Ok(state
        .settings
        .psirp
        .suggest(&crate::learning::rules::Facts {
            kind: IncidentKind::parse(&m.kind).unwrap_or(IncidentKind::Other),
            physical_harm: HarmLevel::from_rank(m.physical_harm),
            psychological_harm: HarmLevel::from_rank(m.psychological_harm),
            near_miss: m.near_miss,
            category: m.category.as_deref(),
            department_code: &code,
        }))
}

pub async fn triage(
    state: &AppState,
    rc: &RequestCtx,
    id: Uuid,
    expected_version: i32,
    t: Triage,
) -> AppResult<(incident::Model, Access)> {
    let p = rc.principal()?;
    if t.psychological_harm == Some(HarmLevel::Fatal) {
        return Err(AppError::invalid(
            "psychologicalHarm",
            "psychological harm is recorded up to SEVERE",
        ));
    }
    let category = check_category(state, "category", t.category)?;
    let override_reason = text::optional(
        "learningResponseOverrideReason",
        t.learning_response_override_reason,
        2_000,
    )?;
    let learning_summary = text::optional("learningSummary", t.learning_summary, 20_000)?;
    let findings = text::optional("findings", t.findings, 50_000)?;
    let feedback = text::optional("feedbackToReporter", t.feedback_to_reporter, 20_000)?;
    let lfpse_answers = t
        .lfpse_answers
        .as_deref()
        .map(|a| check_answers(state, a))
        .transpose()?;
    let tx = state.db.begin_write().await?;
    let staff = rc.staff_in(state, &*tx).await?;
    let (current, access) = load_for_change(state, rc, &tx, id).await?;
    if !access.manage {
        return Err(AppError::forbidden(
            "only the incident's handlers and quality leads may triage it",
        ));
    }
    versioned::check(current.version, expected_version)?;
    let status = status_of(&current);
    if is_final(status) {
        return Err(AppError::invalid(
            "incidentId",
            "a closed or declined incident cannot be triaged; reopen it first",
        ));
    }
    if let Some(h) = t.handler_id {
        let code = crate::org::service::department(state, current.department_id)
            .await?
            .map(|d| d.code)
            .unwrap_or_default();
        check_handler(state, h, &code).await?;
    }
    let mut next = current.clone();
    if let Some(h) = t.handler_id {
        next.handler_id = Some(h);
    }
    if category.is_some() {
        next.category = category;
    }
    if let Some(h) = t.physical_harm {
        next.physical_harm = h.rank();
    }
    if let Some(h) = t.psychological_harm {
        next.psychological_harm = h.rank();
    }
    if let Some(l) = t.learning_response {
        // The plan's suggestion from the facts as this triage leaves them.
        let suggested = suggestion(state, &next).await?;
        let unchanged = current.learning_response.as_deref() == Some(l.as_str());
        next.learning_response = Some(l.as_str().into());
        next.learning_response_override_reason = if l == suggested.response {
            None
        } else {
            let kept = unchanged
                .then(|| current.learning_response_override_reason.clone())
                .flatten();
            match override_reason.or(kept) {
                Some(r) => Some(r),
                None => {
                    return Err(AppError::invalid(
                        "learningResponseOverrideReason",
                        format!(
                            "the response plan suggests {} ({}): choosing {} needs a reason",
                            suggested.response.as_str(),
                            suggested.rule,
                            l.as_str()
                        ),
                    )
                    .because(crate::record::text::reason::BLANK))
                }
            }
        };
    }
    if learning_summary.is_some() {
        next.learning_summary = learning_summary;
    }
    if findings.is_some() {
        next.findings = findings;
    }
    if feedback.is_some() {
        next.feedback_to_reporter = feedback;
    }
    if t.duty_of_candour_applies.is_some() {
        next.duty_of_candour_applies = t.duty_of_candour_applies;
    }
    if let Some(f) = &t.regulatory_facts {
        next.regulatory_facts = crate::notify::rules::RegulatoryFact::to_json(f);
    }
    if let Some(a) = &lfpse_answers {
        next.lfpse_answers = crate::lfpse::taxonomy::answers_to_json(a);
    }
    if status == IncidentStatus::Reported {
        next.status = IncidentStatus::UnderReview.as_str().into();
        next.triaged_at = Some(now());
    }
    let next = save(state, &tx, &current, next, expected_version).await?;
    let diff = super::columns::diff(Some(&current), &next);
    trail::record(
        &*tx,
        rc,
        &actor(p, staff),
        ENTITY,
        id,
        "incident.triaged",
        diff,
    )
    .await?;
    crate::notify::obligations::sync(&*tx, state, Some(&rc.request_id), &actor(p, staff), &next)
        .await?;
    crate::notify::events::incident_harm_confirmed(&*tx, state, &current, &next).await?;
    tx.commit().await?;
    Ok((next, access))
}

async fn candour_steps<C: ConnectionTrait>(conn: &C, id: Uuid) -> AppResult<Vec<CandourStep>> {
    Ok(candour_step::Entity::find()
        .filter(candour_step::Column::IncidentId.eq(id))
        .all(conn)
        .await?
        .iter()
        .filter_map(|s| CandourStep::parse(&s.step))
        .collect())
}

pub struct TransitionRequest {
    pub to: IncidentStatus,
    pub reason: Option<String>,
    pub expected_version: i32,
    pub duplicate_of: Option<Uuid>,
}

pub async fn transition(
    state: &AppState,
    rc: &RequestCtx,
    id: Uuid,
    req: TransitionRequest,
) -> AppResult<(incident::Model, Access)> {
    let p = rc.principal()?;
    let reason = text::optional("reason", req.reason, 2_000)?;
    if req.duplicate_of.is_some() && req.to != IncidentStatus::Declined {
        return Err(AppError::invalid(
            "duplicateOfId",
            "duplicateOfId is given only when declining a duplicate",
        ));
    }
    let tx = state.db.begin_write().await?;
    let staff = rc.staff_in(state, &*tx).await?;
    let (current, access) = load_for_change(state, rc, &tx, id).await?;
    if !access.manage && !access.close {
        return Err(AppError::forbidden(
            "only the incident's handlers and quality leads may move it through review",
        ));
    }
    // A stale version first: whoever saw an older incident learns that, not that the move
    // no longer fits the status someone else has just set.
    versioned::check(current.version, req.expected_version)?;
    let from = status_of(&current);
    workflow::check_transition(from, req.to, access, reason.as_deref())?;
    if let Some(dup) = req.duplicate_of {
        if dup == id {
            return Err(AppError::invalid(
                "duplicateOfId",
                "an incident cannot duplicate itself",
            ));
        }
        let original = incident::Entity::find_by_id(dup).one(&*tx).await?;
        let visible = match &original {
            Some(o) => access_to(state, rc, o).await?.view,
            None => false,
        };
        if !visible {
            return Err(AppError::invalid("duplicateOfId", "no such incident")
                .because(crate::record::text::reason::UNKNOWN));
        }
    }
    if req.to == IncidentStatus::Closed {
        let facts = ClosingFacts {
            physical_harm: Some(HarmLevel::from_rank(current.physical_harm)),
            psychological_harm: Some(HarmLevel::from_rank(current.psychological_harm)),
            feedback_to_reporter: current.feedback_to_reporter.clone(),
            learning_response: current
                .learning_response
                .as_deref()
                .and_then(LearningResponse::parse),
            learning_summary: current.learning_summary.clone(),
            duty_of_candour_applies: workflow::duty_applies(&current),
            candour_steps: candour_steps(&*tx, id).await?,
            open_corrective_actions: open_actions(&*tx, id).await?,
        };
        workflow::check_closing(&facts)?;
    }
    let now = now();
    let mut next = current.clone();
    next.status = req.to.as_str().into();
    next.status_reason = reason;
    match req.to {
        IncidentStatus::Closed => next.closed_at = Some(now),
        IncidentStatus::UnderReview => {
            next.closed_at = None;
            next.triaged_at.get_or_insert(now);
        }
        IncidentStatus::Declined => next.duplicate_of_id = req.duplicate_of,
        _ => {}
    }
    let next = save(state, &tx, &current, next, req.expected_version).await?;
    let diff = super::columns::diff(Some(&current), &next);
    trail::record(
        &*tx,
        rc,
        &actor(p, staff),
        ENTITY,
        id,
        "incident.transitioned",
        diff,
    )
    .await?;
    if req.to == IncidentStatus::Closed {
        crate::notify::events::incident_closed(&*tx, state, &next).await?;
    }
    tx.commit().await?;
    Ok((next, access))
}

pub async fn comment(
    state: &AppState,
    rc: &RequestCtx,
    id: Uuid,
    body: String,
) -> AppResult<(incident::Model, Access)> {
    let p = rc.principal()?;
    let body = required("body", body, 10_000)?;
    let tx = state.db.begin_write().await?;
    let staff = rc.staff_in(state, &*tx).await?;
    let (current, access) = load_for_change(state, rc, &tx, id).await?;
    workflow::may_comment(p, access)?;
    let comment = incident_comment::Model {
        id: Uuid::now_v7(),
        incident_id: id,
        author_id: staff,
        body,
        created_at: now(),
    };
    incident_comment::Entity::insert(comment.clone().into_active_model())
        .exec_without_returning(&*tx)
        .await?;
    let mut diff = Diff::new();
    diff.field("commentId", None, Some(comment.id))
        .sensitive("body", true);
    trail::record(
        &*tx,
        rc,
        &actor(p, staff),
        ENTITY,
        id,
        "incident.commented",
        diff,
    )
    .await?;
    tx.commit().await?;
    Ok((current, access))
}

pub async fn record_candour_step(
    state: &AppState,
    rc: &RequestCtx,
    id: Uuid,
    expected_version: i32,
    step: CandourStep,
    taken_at: DateTime<Utc>,
) -> AppResult<(incident::Model, Access)> {
    let p = rc.principal()?;
    let now = now();
    if taken_at > now + Duration::minutes(5) {
        return Err(
            AppError::invalid("takenAt", "takenAt must not be in the future")
                .because(reason::IN_FUTURE),
        );
    }
    let tx = state.db.begin_write().await?;
    let staff = rc.staff_in(state, &*tx).await?;
    let (current, access) = load_for_change(state, rc, &tx, id).await?;
    if !access.manage {
        return Err(AppError::forbidden(
            "only the incident's handlers and quality leads may record duty-of-candour steps",
        ));
    }
    versioned::check(current.version, expected_version)?;
    if is_final(status_of(&current)) {
        return Err(AppError::invalid(
            "incidentId",
            "a closed or declined incident cannot change; reopen it first",
        ));
    }
    if !workflow::duty_applies(&current) {
        return Err(AppError::invalid(
            "step",
            "the duty of candour does not apply to this incident",
        ));
    }
    if step != CandourStep::Update && candour_steps(&*tx, id).await?.contains(&step) {
        return Err(
            AppError::invalid("step", "this step is already recorded").because(reason::DUPLICATE)
        );
    }
    let row = candour_step::Model {
        id: Uuid::now_v7(),
        incident_id: id,
        step: step.as_str().into(),
        taken_at: taken_at.trunc_subsecs(6),
        recorded_by_id: staff,
        created_at: now,
    };
    candour_step::Entity::insert(row.clone().into_active_model())
        .exec_without_returning(&*tx)
        .await?;
    crate::notify::obligations::on_candour_step(&*tx, id, step.as_str(), row.taken_at, staff)
        .await?;
    let next = save(state, &tx, &current, current.clone(), expected_version).await?;
    let mut diff = Diff::new();
    diff.field("step", None, Some(step.as_str()))
        .field("takenAt", None, Some(row.taken_at))
        .field("version", current.version, next.version);
    trail::record(
        &*tx,
        rc,
        &actor(p, staff),
        ENTITY,
        id,
        "incident.candour_step_recorded",
        diff,
    )
    .await?;
    tx.commit().await?;
    Ok((next, access))
}

/// Which incidents the caller may see at all, as a condition on the incident table: their
/// departments' (handlers), all (quality leads, reading service accounts), and what they
/// reported themselves.
pub async fn visible(state: &AppState, rc: &RequestCtx) -> AppResult<Condition> {
    let p = rc.principal()?;
    if visibility::sees_all(p) {
        return Ok(Condition::all());
    }
    let own = rc
        .staff_id(state)
        .await?
        .map(|me| Condition::all().add(incident::Column::ReporterId.eq(me)));
    Ok(visibility::departmental(
        p,
        incident::Column::DepartmentId,
        own,
    ))
}

/// Of the incidents the caller sees, those whose reporter's words (the description, the
/// immediate actions) they may read, as a condition on the incident table: search matches
/// those words only here. `workflow::access` grants them with the incident itself to every
/// lister (handlers, quality leads, reading services, the reporter; a unit test there holds
/// it so), so today this is `visible`; it is kept apart so that search follows if that
/// changes. (Disposal clears the description, so a disposed record has none to match.)
pub async fn narrative_readable(state: &AppState, rc: &RequestCtx) -> AppResult<Condition> {
    visible(state, rc).await
}

fn filter_condition(q: &IncidentQuery) -> Condition {
    let mut c = Condition::all();
    if !q.statuses.is_empty() {
        c = c.add(incident::Column::Status.is_in(q.statuses.iter().map(|s| s.as_str())));
    }
    if let Some(d) = q.department_id {
        c = c.add(incident::Column::DepartmentId.eq(d));
    }
    if let Some(k) = q.kind {
        c = c.add(incident::Column::Kind.eq(k.as_str()));
    }
    if let Some(h) = q.min_physical_harm {
        c = c.add(incident::Column::PhysicalHarm.gte(h.rank()));
    }
    if let Some(t) = q.reported_after {
        c = c.add(incident::Column::ReportedAt.gte(t));
    }
    if let Some(t) = q.reported_before {
        c = c.add(incident::Column::ReportedAt.lt(t));
    }
    if let Some(t) = q.occurred_after {
        c = c.add(incident::Column::OccurredAt.gte(t));
    }
    if let Some(t) = q.occurred_before {
        c = c.add(incident::Column::OccurredAt.lt(t));
    }
    if let Some(r) = &q.reference {
        c = c.add(incident::Column::Reference.eq(r.trim().to_ascii_uppercase()));
    }
    if let Some(n) = q.near_miss {
        c = c.add(incident::Column::NearMiss.eq(n));
    }
    if let Some(search) = text::contains_any(
        &[incident::Column::Title, incident::Column::Reference],
        q.search.as_deref(),
    ) {
        c = c.add(search);
    }
    c
}

/// The order of an incident list.
pub fn sort_key(
    field: IncidentOrderField,
    direction: OrderDirection,
) -> ColumnOrder<incident::Entity> {
    use IncidentOrderField as F;
    match field {
        F::ReportedAt => {
            crate::column_order!(incident::ReportedAt, reported_at: DateTime<Utc>, direction)
        }
        F::OccurredAt => {
            crate::column_order!(incident::OccurredAt, occurred_at: DateTime<Utc>, direction)
        }
        F::PhysicalHarm => {
            crate::column_order!(incident::PhysicalHarm, physical_harm: i16, direction)
        }
    }
}

/// Which of an incident's columns a list reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Columns {
    All,
    /// Without the free text, patient and equipment details and regulatory facts
    /// (`columns::Brief::Blank`): for a page that shows none of them (the text is most of
    /// a row's bytes).
    Brief,
}

/// A page of the incidents the caller may see, each with the caller's access to it.
pub async fn list(
    state: &AppState,
    rc: &RequestCtx,
    query: IncidentQuery,
    order: (IncidentOrderField, OrderDirection),
    first: u64,
    after: Option<String>,
    columns: Columns,
) -> AppResult<Page<(incident::Model, Access)>> {
    let mut filtered = incident::Entity::find()
        .filter(visible(state, rc).await?)
        .filter(filter_condition(&query));
    if query.mine {
        // A service account, or someone never seen before, reported nothing.
        filtered = filtered.filter(match rc.staff_id(state).await? {
            Some(me) => Condition::all().add(incident::Column::ReporterId.eq(me)),
            None => visibility::nothing(),
        });
    }
    let key = sort_key(order.0, order.1);
    let page = keyset::list_with(filtered, &key, first, after.as_deref(), |page| async move {
        let page = match columns {
            Columns::All => page,
            Columns::Brief => {
                // The rest stand empty in the model; the page selected none of them.
                let mut brief = page.select_only().columns(super::columns::brief_columns());
                for (name, sql) in super::columns::blanks() {
                    brief = brief.column_as(Expr::cust(sql.to_string()), name.to_string());
                }
                brief
            }
        };
        let stmt = page.build(state.db.backend());
        Ok(super::columns::decode(
            &state.db.conn.query_all(stmt).await?,
        )?)
    })
    .await?;
    page.try_map(|m| async move {
        let access = access_to(state, rc, &m).await?;
        Ok((m, access))
    })
    .await
}

/// How many of an incident's corrective actions are still open (it cannot close while any
/// is).
async fn open_actions<C: sea_orm::ConnectionTrait>(conn: &C, incident_id: Uuid) -> AppResult<u64> {
    use crate::action::model::CorrectiveActionStatus as ActionStatus;
    use entities::corrective_action as action;
    use sea_orm::PaginatorTrait;
    Ok(action::Entity::find()
        .filter(action::Column::IncidentId.eq(incident_id))
        .filter(action::Column::Status.is_in(ActionStatus::OPEN_STATES.map(|s| s.as_str())))
        .count(conn)
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follow_up_codes_are_long_random_and_forgiving_to_type() {
        let a = new_follow_up_code();
        let b = new_follow_up_code();
        assert_ne!(a, b);
        assert_eq!(a.len(), 32 + 7, "{a}");
        assert_eq!(
            follow_up_hash(&a),
            follow_up_hash(&a.to_lowercase().replace('-', " "))
        );
        assert_eq!(follow_up_hash("O1-IL"), follow_up_hash("0111"));
        assert_ne!(follow_up_hash(&a), follow_up_hash(&b));
    }
}
