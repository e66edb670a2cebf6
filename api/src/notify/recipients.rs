//! Who an email goes to: staff known from their tokens (roles and departments as last
//! seen), plus the distribution addresses configured per department and for quality leads.
use entities::staff;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use super::Recipient;
use crate::config::Settings;
use crate::error::AppResult;

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

async fn with_role<C: ConnectionTrait>(conn: &C, role: &str) -> AppResult<Vec<staff::Model>> {
    // Roles are a JSON array of names; the LIKE narrows, the parse decides.
    Ok(staff::Entity::find()
        .filter(staff::Column::Roles.contains(format!("\"{role}\"")))
        .all(conn)
        .await?
        .into_iter()
        .filter(|s| has(&s.roles, role))
        .collect())
}

/// The handlers of a department, and its distribution address.
pub async fn handlers<C: ConnectionTrait>(
    conn: &C,
    settings: &Settings,
    department_code: &str,
) -> AppResult<Vec<Recipient>> {
    let mut out: Vec<Recipient> = with_role(conn, "handler")
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
    settings: &Settings,
) -> AppResult<Vec<Recipient>> {
    let mut out: Vec<Recipient> = with_role(conn, "quality_lead")
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
