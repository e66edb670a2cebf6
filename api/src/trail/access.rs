//! The access log: who read which record's sensitive fields, when, why and in which request.
//!
//! Resolvers of sensitive fields note the read in the request's `AccessRecorder`; after the
//! request has executed and before its response is sent, the notes are written as one
//! access event per record in a single multi-row INSERT. A page of 50 incidents costs one
//! statement, not 50. If that write fails the response is withheld (INTERNAL): no sensitive
//! value leaves the server without its access being on record.
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use chrono::{DateTime, SubsecRound, Utc};
use sea_orm::{ActiveValue::Set, EntityTrait};
use uuid::Uuid;

use crate::auth::Principal;
use crate::context::AppState;
use crate::error::AppResult;
use entities::access_event;

/// The header a client states its purpose in, e.g. `X-Access-Purpose: complaint response`.
pub const PURPOSE_HEADER: &str = "x-access-purpose";
pub const MAX_PURPOSE: usize = 200;

#[derive(Debug, Default)]
struct Entry {
    fields: BTreeSet<&'static str>,
    break_glass: bool,
    patient_key: Option<String>,
}

/// The sensitive reads of one HTTP request (all operations of a batch), by record.
#[derive(Debug, Default)]
pub struct AccessRecorder {
    entries: Mutex<BTreeMap<(&'static str, Uuid), Entry>>,
}

/// One record's reads, ready to be written.
#[derive(Debug)]
pub struct AccessNote {
    pub entity_type: &'static str,
    pub entity_id: Uuid,
    pub fields: Vec<&'static str>,
    pub break_glass: bool,
    pub patient_key: Option<String>,
}

impl AccessRecorder {
    /// Notes that `field` of the record was read in this request.
    pub fn record(
        &self,
        entity_type: &'static str,
        entity_id: Uuid,
        field: &'static str,
        break_glass: bool,
        patient_key: Option<&str>,
    ) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let entry = entries.entry((entity_type, entity_id)).or_default();
        entry.fields.insert(field);
        entry.break_glass |= break_glass;
        if entry.patient_key.is_none() {
            entry.patient_key = patient_key.map(str::to_string);
        }
    }

    pub fn take(&self) -> Vec<AccessNote> {
        let entries = std::mem::take(&mut *self.entries.lock().unwrap_or_else(|e| e.into_inner()));
        entries
            .into_iter()
            .map(|((entity_type, entity_id), e)| AccessNote {
                entity_type,
                entity_id,
                fields: e.fields.into_iter().collect(),
                break_glass: e.break_glass,
                patient_key: e.patient_key,
            })
            .collect()
    }
}

/// The stated purpose from the request header: trimmed, at most 200 characters of plain
/// text. Err says what is wrong with it.
pub fn purpose_from(value: Option<&str>) -> Result<Option<String>, String> {
    let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if v.chars().count() > MAX_PURPOSE {
        return Err(format!(
            "{PURPOSE_HEADER} is at most {MAX_PURPOSE} characters"
        ));
    }
    if v.chars().any(char::is_control) {
        return Err(format!("{PURPOSE_HEADER} must be plain text"));
    }
    Ok(Some(v.to_string()))
}

/// Rows per INSERT: well inside both databases' limits on bound values.
const CHUNK: usize = 500;

/// Writes the notes of one request as access events.
pub async fn write(
    state: &AppState,
    principal: Option<&Principal>,
    request_id: &str,
    purpose: Option<&str>,
    notes: Vec<AccessNote>,
) -> AppResult<()> {
    if notes.is_empty() {
        return Ok(());
    }
    let (actor_id, label, roles) = match principal {
        Some(p) => {
            let staff = if p.is_service() {
                None
            } else {
                Some(crate::org::service::upsert_staff(state, p).await?)
            };
            let actor = super::Actor::of(p, staff);
            (staff, actor.label, actor.roles)
        }
        None => (None, None, None),
    };
    let at: DateTime<Utc> = Utc::now().trunc_subsecs(6);
    let rows: Vec<access_event::ActiveModel> = notes
        .into_iter()
        .map(|n| access_event::ActiveModel {
            id: Set(Uuid::now_v7()),
            at: Set(at),
            actor_id: Set(actor_id),
            actor_label: Set(label.clone()),
            actor_roles: Set(roles.clone()),
            entity_type: Set(n.entity_type.to_string()),
            entity_id: Set(n.entity_id),
            fields: Set(n.fields.join(",")),
            request_id: Set(Some(request_id.to_string())),
            purpose: Set(purpose.map(str::to_string)),
            break_glass: Set(n.break_glass),
            patient_key: Set(n.patient_key),
        })
        .collect();
    let _turn = state.db.write_turn().await;
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<_> = rows.by_ref().take(CHUNK).collect();
        access_event::Entity::insert_many(chunk)
            .exec_without_returning(&state.db.conn)
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_note_per_record_with_every_field_read() {
        let r = AccessRecorder::default();
        let a = Uuid::now_v7();
        let b = Uuid::now_v7();
        r.record("Incident", a, "description", false, Some("k"));
        r.record("Incident", a, "patient", false, None);
        r.record("Incident", a, "description", true, None);
        r.record("Incident", b, "comments", false, None);
        let notes = r.take();
        assert_eq!(notes.len(), 2);
        let na = notes.iter().find(|n| n.entity_id == a).unwrap();
        assert_eq!(na.fields, vec!["description", "patient"]);
        assert!(na.break_glass);
        assert_eq!(na.patient_key.as_deref(), Some("k"));
        assert!(r.take().is_empty());
    }

    #[test]
    fn purposes_are_short_plain_text() {
        assert_eq!(purpose_from(None).unwrap(), None);
        assert_eq!(purpose_from(Some("  ")).unwrap(), None);
        assert_eq!(
            purpose_from(Some(" complaint ")).unwrap().as_deref(),
            Some("complaint")
        );
        assert!(purpose_from(Some(&"x".repeat(201))).is_err());
        assert!(purpose_from(Some("a\u{7}b")).is_err());
    }
}
