//! Who an email goes to: staff known from their tokens (roles and departments as last
//! seen), plus the distribution addresses configured per department and for quality leads.
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use entities::{notification_preference, staff};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use super::Recipient;
use crate::context::AppState;
use crate::error::AppResult;

/// How long this instance trusts what it read of roles and preferences. Changes made
/// through this instance take effect at once; through another, within this.
pub const CACHE_TTL: Duration = Duration::from_secs(60);

/// Staff by role and everyone's switched-off kinds, read at most once a minute: every
/// report needs its department's handlers, and reports come far more often than staff
/// change roles.
/// (staff id, kind) pairs switched off, and when they were read.
type SwitchedOff = Option<(Instant, HashSet<(Uuid, String)>)>;

#[derive(Default)]
pub struct Cache {
    by_role: Mutex<HashMap<&'static str, (Instant, Vec<staff::Model>)>>,
    switched_off: Mutex<SwitchedOff>,
}

impl Cache {
    /// Forget staff (a person's roles, departments or email changed).
    pub fn staff_changed(&self) {
        self.by_role.lock().expect("recipient cache").clear();
    }

    /// Forget preferences (someone switched a kind on or off).
    pub fn preferences_changed(&self) {
        *self.switched_off.lock().expect("recipient cache") = None;
    }

    /// Whether `staff_id` has switched `kind` off.
    pub async fn switched_off<C: ConnectionTrait>(
        &self,
        conn: &C,
        staff_id: Uuid,
        kind: &str,
    ) -> AppResult<bool> {
        {
            let cached = self.switched_off.lock().expect("recipient cache");
            if let Some((at, set)) = cached.as_ref() {
                if at.elapsed() < CACHE_TTL {
                    return Ok(set.contains(&(staff_id, kind.to_string())));
                }
            }
        }
        let set: HashSet<(Uuid, String)> = notification_preference::Entity::find()
            .filter(notification_preference::Column::Enabled.eq(false))
            .all(conn)
            .await?
            .into_iter()
            .map(|p| (p.staff_id, p.kind))
            .collect();
        let off = set.contains(&(staff_id, kind.to_string()));
        *self.switched_off.lock().expect("recipient cache") = Some((Instant::now(), set));
        Ok(off)
    }
}

fn has(json: &str, value: &str) -> bool {
    serde_json::from_str::<Vec<String>>(json)
        .unwrap_or_default()
        .iter()
        .any(|v| v == value)
}

fn of(s: staff::Model) -> Option<Recipient> {
    s.email.filter(|e| !e.trim().is_empty()).map(|e| Recipient {
        email: e.to_lowercase(),
        staff_id: Some(s.id),
    })
}

async fn with_role<C: ConnectionTrait>(
    conn: &C,
    state: &AppState,
    role: &'static str,
) -> AppResult<Vec<staff::Model>> {
    let cache = &state.notifier.recipients;
    if let Some((at, rows)) = cache.by_role.lock().expect("recipient cache").get(role) {
        if at.elapsed() < CACHE_TTL {
            return Ok(rows.clone());
        }
    }
    // Roles are a JSON array of names; the LIKE narrows, the parse decides.
    let rows: Vec<staff::Model> = staff::Entity::find()
        .filter(staff::Column::Roles.contains(format!("\"{role}\"")))
        .all(conn)
        .await?
        .into_iter()
        .filter(|s| has(&s.roles, role))
        .collect();
    cache
        .by_role
        .lock()
        .expect("recipient cache")
        .insert(role, (Instant::now(), rows.clone()));
    Ok(rows)
}

/// The handlers of a department, and its distribution address.
pub async fn handlers<C: ConnectionTrait>(
    conn: &C,
    state: &AppState,
    department_code: &str,
) -> AppResult<Vec<Recipient>> {
    let settings = &state.settings;
    let mut out: Vec<Recipient> = with_role(conn, state, "handler")
        .await?
        .into_iter()
        .filter(|s| has(&s.department_codes, department_code))
        .filter_map(of)
        .collect();
    if let Some(a) = settings.notify.department_addresses.get(department_code) {
        out.push(Recipient {
            email: a.to_lowercase(),
            staff_id: None,
        });
    }
    Ok(out)
}

/// The quality leads, and their distribution address.
pub async fn quality_leads<C: ConnectionTrait>(
    conn: &C,
    state: &AppState,
) -> AppResult<Vec<Recipient>> {
    let settings = &state.settings;
    let mut out: Vec<Recipient> = with_role(conn, state, "quality_lead")
        .await?
        .into_iter()
        .filter_map(of)
        .collect();
    if let Some(a) = &settings.notify.quality_leads_address {
        out.push(Recipient {
            email: a.to_lowercase(),
            staff_id: None,
        });
    }
    Ok(out)
}

/// One staff member by id (if they have an address).
pub async fn staff_member<C: ConnectionTrait>(conn: &C, id: Uuid) -> AppResult<Option<Recipient>> {
    Ok(staff::Entity::find_by_id(id).one(conn).await?.and_then(of))
}

/// Someone addressed by email (an action's owner), linked to their staff record if known.
pub async fn by_email<C: ConnectionTrait>(conn: &C, email: &str) -> AppResult<Recipient> {
    let email = email.trim().to_lowercase();
    let staff_id = staff::Entity::find()
        .filter(staff::Column::Email.eq(email.clone()))
        .one(conn)
        .await?
        .map(|s| s.id);
    Ok(Recipient { email, staff_id })
}
