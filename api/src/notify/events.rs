//! The rules that turn domain events into emails (DESIGN §5), each called inside the
//! transaction of the change that fired it.
use entities::{corrective_action, incident};
use sea_orm::ConnectionTrait;

use super::{enqueue, link, recipients, Draft, NotificationKind};
use crate::context::AppState;
use crate::error::AppResult;
use crate::incident::model::{HarmLevel, IncidentKind};

fn harm_words(h: HarmLevel) -> &'static str {
    match h {
        HarmLevel::None => "no",
        HarmLevel::Low => "low",
        HarmLevel::Moderate => "moderate",
        HarmLevel::Severe => "severe",
        HarmLevel::Fatal => "fatal",
    }
}

fn kind_words(k: &str) -> String {
    IncidentKind::parse(k)
        .map(|k| k.as_str())
        .unwrap_or(k)
        .replace('_', " ")
        .to_lowercase()
}

fn worst_harm(m: &incident::Model) -> HarmLevel {
    HarmLevel::from_rank(m.physical_harm.max(m.psychological_harm))
}

fn incident_vars(
    state: &AppState,
    m: &incident::Model,
    department: Option<String>,
) -> serde_json::Value {
    serde_json::json!({
        "reference": m.reference,
        "department": department,
        "kind": kind_words(&m.kind),
        "harm": harm_words(worst_harm(m)),
        "status": m.status.replace('_', " ").to_lowercase(),
        "link": link(&state.settings, &format!("incidents/{}", m.reference)),
    })
}

/// An incident was reported: its department's handlers; at moderate harm or worse (as
/// reported, or as confirmed later: see `incident_harm_confirmed`) quality leads as well.
pub async fn incident_reported<C: ConnectionTrait>(
    conn: &C,
    state: &AppState,
    m: &incident::Model,
    inserts: &mut crate::db::Inserts,
) -> AppResult<()> {
    let dept = crate::org::service::department(state, m.department_id).await?;
    let code = dept.as_ref().map(|d| d.code.clone()).unwrap_or_default();
    let vars = incident_vars(state, m, dept.map(|d| d.name));
    let handlers = recipients::handlers(conn, state, &code).await?;
    let (draft, to) = if worst_harm(m) >= HarmLevel::Moderate {
        let mut to = handlers;
        to.extend(recipients::quality_leads(conn, state).await?);
        let draft = Draft {
            kind: NotificationKind::SeriousIncidentReported,
            occasion: format!("incident.serious:{}", m.id),
            entity_type: "Incident",
            entity_id: m.id,
            reference: Some(m.reference.clone()),
            vars,
        };
        (draft, to)
    } else {
        let draft = Draft {
            kind: NotificationKind::IncidentReported,
            occasion: format!("incident.reported:{}", m.id),
            entity_type: "Incident",
            entity_id: m.id,
            reference: Some(m.reference.clone()),
            vars,
        };
        (draft, handlers)
    };
    if let Some((insert, _)) =
        crate::notify::outbox_insert(conn, &state.notifier, draft, to).await?
    {
        inserts.push(insert);
    }
    Ok(())
}

/// Triage confirmed moderate harm or worse where the report said less: quality leads and
/// handlers hear of it then (once).
pub async fn incident_harm_confirmed<C: ConnectionTrait>(
    conn: &C,
    state: &AppState,
    before: &incident::Model,
    after: &incident::Model,
) -> AppResult<()> {
    if worst_harm(before) >= HarmLevel::Moderate || worst_harm(after) < HarmLevel::Moderate {
        return Ok(());
    }
    let dept = crate::org::service::department(state, after.department_id).await?;
    let code = dept.as_ref().map(|d| d.code.clone()).unwrap_or_default();
    let mut to = recipients::handlers(conn, state, &code).await?;
    to.extend(recipients::quality_leads(conn, state).await?);
    enqueue(
        conn,
        &state.notifier,
        Draft {
            kind: NotificationKind::SeriousIncidentReported,
            occasion: format!("incident.serious:{}", after.id),
            entity_type: "Incident",
            entity_id: after.id,
            reference: Some(after.reference.clone()),
            vars: incident_vars(state, after, dept.map(|d| d.name)),
        },
        to,
    )
    .await?;
    Ok(())
}

/// An incident closed: its reporter hears what was learned (never for anonymous reports:
/// there is nobody on record to write to).
pub async fn incident_closed<C: ConnectionTrait>(
    conn: &C,
    state: &AppState,
    m: &incident::Model,
) -> AppResult<()> {
    let Some(reporter) = m.reporter_id.filter(|_| !m.anonymous) else {
        return Ok(());
    };
    let Some(to) = recipients::staff_member(conn, reporter).await? else {
        return Ok(());
    };
    let dept = crate::org::service::department(state, m.department_id).await?;
    let mut vars = incident_vars(state, m, dept.map(|d| d.name));
    if let Some(map) = vars.as_object_mut() {
        map.insert("learning_summary".into(), m.learning_summary.clone().into());
        map.insert("feedback".into(), m.feedback_to_reporter.clone().into());
    }
    enqueue(
        conn,
        &state.notifier,
        Draft {
            kind: NotificationKind::IncidentClosed,
            occasion: format!(
                "incident.closed:{}:{}",
                m.id,
                m.closed_at.map(|t| t.timestamp()).unwrap_or_default()
            ),
            entity_type: "Incident",
            entity_id: m.id,
            reference: Some(m.reference.clone()),
            vars,
        },
        vec![to],
    )
    .await?;
    Ok(())
}

/// A corrective action was assigned (raised, or given a new owner): its owner.
pub async fn action_assigned<C: ConnectionTrait>(
    conn: &C,
    state: &AppState,
    a: &corrective_action::Model,
    reference: Option<String>,
) -> AppResult<()> {
    let to = recipients::by_email(conn, &a.owner_email).await?;
    let dept = crate::org::service::department(state, a.department_id).await?;
    enqueue(
        conn,
        &state.notifier,
        Draft {
            kind: NotificationKind::ActionAssigned,
            occasion: format!("action.assigned:{}:{}:{}", a.id, a.owner_email.to_lowercase(), a.version),
            entity_type: "CorrectiveAction",
            entity_id: a.id,
            reference: reference.clone(),
            vars: serde_json::json!({
                "reference": reference,
                "department": dept.map(|d| d.name),
                "due": a.due_date.format("%A %-d %B %Y").to_string(),
                "status": a.status.replace('_', " ").to_lowercase(),
                "link": link(&state.settings, &format!("actions/{}", crate::record::ids::encode(crate::record::ids::Kind::CorrectiveAction, a.id).0)),
            }),
        },
        vec![to],
    )
    .await?;
    Ok(())
}
