//! The deadline scheduler: looks at what falls due and raises each reminder once. Every
//! reminder has a key naming its occasion (say, action X overdue for due date D) and its
//! recipient; the outbox's unique key makes a second raise a no-op, however many
//! instances run and however often they restart.
//!
//! Reminders about corrective actions and audits go out on working days only (an action
//! due on a Saturday is reminded on the Friday before and, if still open, on Monday as
//! overdue). Reminders about obligations to patients and regulators go out whenever they
//! fall due: the ICO's 72 hours run through weekends.
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use entities::{audit, corrective_action, department, incident, notification, obligation};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{enqueue, link, recipients, Draft, NotificationKind, Notifier, Recipient};
use crate::action::model::CorrectiveActionStatus as ActionStatus;
use crate::context::AppState;
use crate::error::AppResult;

/// Runs passes every `notify.schedule_interval_secs` until `stop` is cancelled.
pub async fn run(state: Arc<AppState>, stop: CancellationToken) {
    let every = Duration::from_secs(state.settings.notify.schedule_interval_secs);
    tracing::info!("deadline scheduler started");
    loop {
        match pass(&state, Notifier::now(&state.settings)).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(reminders = n, "deadline reminders raised"),
            Err(e) => tracing::warn!(error = e.code(), "deadline scheduler pass failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.cancelled() => break,
        }
    }
    tracing::info!("deadline scheduler stopped");
}

/// The occasion a corrective action is at on `today`, if any.
pub fn action_occasion(due: NaiveDate, today: NaiveDate) -> Option<(NotificationKind, i64)> {
    let days = (due - today).num_days();
    match days {
        1..=7 => Some((NotificationKind::ActionDueSoon, days)),
        0 => Some((NotificationKind::ActionDueToday, 0)),
        -13..=-1 => Some((NotificationKind::ActionOverdue, days)),
        i64::MIN..=-14 => Some((NotificationKind::ActionEscalated, days)),
        _ => None,
    }
}

/// When an obligation's "due soon" reminder is due: `n` working days before its due date
/// (from the start of that day), or 24 hours before, whichever is earlier.
pub fn obligation_reminder_from(
    due_at: DateTime<Utc>,
    n: u32,
    notifier: &Notifier,
) -> DateTime<Utc> {
    let due_day = due_at.with_timezone(&notifier.tz).date_naive();
    let day = notifier.calendar.sub_working_days(due_day, n);
    let start = notifier
        .tz
        .from_local_datetime(&day.and_hms_opt(0, 0, 0).expect("midnight"))
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or(due_at);
    start.min(due_at - chrono::Duration::hours(24))
}

/// Already-raised occasions among these records (the part of each key before `|`).
async fn raised(state: &AppState, ids: Vec<Uuid>) -> AppResult<HashSet<String>> {
    if ids.is_empty() {
        return Ok(HashSet::new());
    }
    let mut out = HashSet::new();
    for chunk in ids.chunks(500) {
        let keys: Vec<String> = notification::Entity::find()
            .select_only()
            .column(notification::Column::DedupeKey)
            .filter(notification::Column::EntityId.is_in(chunk.to_vec()))
            .into_tuple()
            .all(&state.db.conn)
            .await?;
        out.extend(
            keys.into_iter()
                .filter_map(|k| k.split_once('|').map(|(o, _)| o.to_string())),
        );
    }
    Ok(out)
}

async fn raise(state: &AppState, draft: Draft, to: Vec<Recipient>) -> AppResult<usize> {
    raise_announcing(state, draft, to, None).await
}

/// Raises a reminder and, the first time it is raised, writes `announce` (a trail action)
/// in the same transaction: subscribers hear that an action fell due or went overdue once
/// per due date, however many instances run the scheduler.
async fn raise_announcing(
    state: &AppState,
    draft: Draft,
    to: Vec<Recipient>,
    announce: Option<(&str, NaiveDate)>,
) -> AppResult<usize> {
    let (entity_type, entity_id) = (draft.entity_type, draft.entity_id);
    let tx = state.db.begin_write().await?;
    let n = enqueue(&*tx, &state.notifier, draft, to).await?;
    if let (Some((action, due)), true) = (announce, n > 0) {
        let mut diff = crate::trail::Diff::new();
        diff.field("dueDate", None, Some(due));
        crate::trail::record_for(
            &*tx,
            None,
            &crate::trail::Actor::system("schedule"),
            entity_type,
            entity_id,
            action,
            diff,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(n)
}

async fn department_of(state: &AppState, id: Uuid) -> AppResult<Option<department::Model>> {
    crate::org::service::department(state, id).await
}

/// One look at everything that falls due, as at `now`. Returns the emails queued.
pub async fn pass(state: &AppState, now: DateTime<Utc>) -> AppResult<usize> {
    let n = &state.notifier;
    let settings = &state.settings;
    let today = now.with_timezone(&n.tz).date_naive();
    let mut queued = 0;

    // Obligations: every day, whatever the calendar.
    let horizon = now + chrono::Duration::days(31);
    let open = obligation::Entity::find()
        .filter(obligation::Column::Status.eq(super::obligations::OPEN))
        .filter(obligation::Column::DueAt.lte(horizon))
        .all(&state.db.conn)
        .await?;
    let done = raised(state, open.iter().map(|o| o.id).collect()).await?;
    for o in open {
        let (kind, occasion) = if now > o.due_at {
            (
                NotificationKind::ObligationMissed,
                format!("obligation.missed:{}:{}", o.id, o.due_at.timestamp()),
            )
        } else if now
            >= obligation_reminder_from(o.due_at, settings.notify.remind_working_days_before, n)
        {
            (
                NotificationKind::ObligationDueSoon,
                format!("obligation.due_soon:{}:{}", o.id, o.due_at.timestamp()),
            )
        } else {
            continue;
        };
        if done.contains(&occasion) {
            continue;
        }
        let Some(inc) = incident::Entity::find_by_id(o.incident_id)
            .one(&state.db.conn)
            .await?
        else {
            continue;
        };
        let dept = department_of(state, inc.department_id).await?;
        let mut to = recipients::quality_leads(&state.db.conn, state).await?;
        match inc.handler_id {
            Some(h) => to.extend(recipients::staff_member(&state.db.conn, h).await?),
            None => {
                if let Some(d) = &dept {
                    to.extend(recipients::handlers(&state.db.conn, state, &d.code).await?);
                }
            }
        }
        let local_due = o.due_at.with_timezone(&n.tz);
        let draft = Draft {
            kind,
            occasion,
            entity_type: "Obligation",
            entity_id: o.id,
            reference: Some(inc.reference.clone()),
            vars: serde_json::json!({
                "reference": inc.reference,
                "department": dept.map(|d| d.name),
                "name": o.name,
                "owed_to": o.owed_to,
                "due": local_due.format("%A %-d %B %Y, %H:%M").to_string(),
                "completed_by": o.completed_by.replace('_', " ").to_lowercase(),
                "needs_reference": o.completed_by == "REPORT_SUBMITTED",
                "link": link(settings, &format!("incidents/{}", inc.reference)),
            }),
        };
        queued += raise(state, draft, to).await?;
    }

    if !n.calendar.is_working_day(today) {
        return Ok(queued);
    }

    // Corrective actions: due in 7 days, due today, overdue, 14 days overdue.
    let soon = today + chrono::Days::new(7);
    let actions = corrective_action::Entity::find()
        .filter(
            corrective_action::Column::Status
                .is_in(ActionStatus::OPEN_STATES.iter().map(|s| s.as_str())),
        )
        .filter(corrective_action::Column::DueDate.lte(soon))
        .all(&state.db.conn)
        .await?;
    let done = raised(state, actions.iter().map(|a| a.id).collect()).await?;
    for a in actions {
        let Some((kind, days)) = action_occasion(a.due_date, today) else {
            continue;
        };
        let occasion = format!("action.{}:{}:{}", kind.template(), a.id, a.due_date);
        if done.contains(&occasion) {
            continue;
        }
        let source = match a.incident_id {
            Some(id) => incident::Entity::find_by_id(id).one(&state.db.conn).await?,
            None => None,
        };
        let to = if kind == NotificationKind::ActionEscalated {
            match source.as_ref().and_then(|i| i.handler_id) {
                Some(h) => recipients::staff_member(&state.db.conn, h)
                    .await?
                    .into_iter()
                    .collect(),
                None => recipients::quality_leads(&state.db.conn, state).await?,
            }
        } else {
            vec![recipients::by_email(&state.db.conn, &a.owner_email).await?]
        };
        let dept = department_of(state, a.department_id).await?;
        let due_date = a.due_date;
        let draft = Draft {
            kind,
            occasion,
            entity_type: "CorrectiveAction",
            entity_id: a.id,
            reference: source.as_ref().map(|i| i.reference.clone()),
            vars: serde_json::json!({
                "reference": source.as_ref().map(|i| i.reference.clone()),
                "department": dept.map(|d| d.name),
                "due": a.due_date.format("%A %-d %B %Y").to_string(),
                "days": days.abs(),
                "status": a.status.replace('_', " ").to_lowercase(),
                "link": link(settings, &format!("actions/{}", crate::record::ids::encode(crate::record::ids::Kind::CorrectiveAction, a.id).0)),
            }),
        };
        let announce = match kind {
            NotificationKind::ActionDueToday => Some(("corrective_action.due", due_date)),
            NotificationKind::ActionOverdue => Some(("corrective_action.overdue", due_date)),
            _ => None,
        };
        queued += raise_announcing(state, draft, to, announce).await?;
    }

    // Audits planned to start within 7 days.
    let audits = audit::Entity::find()
        .filter(audit::Column::Status.eq("PLANNED"))
        .filter(audit::Column::PlannedStart.lte(soon))
        .filter(audit::Column::PlannedStart.gte(today))
        .filter(audit::Column::DisposedAt.is_null())
        .all(&state.db.conn)
        .await?;
    let done = raised(state, audits.iter().map(|a| a.id).collect()).await?;
    for a in audits {
        let occasion = format!("audit.due:{}:{}", a.id, a.planned_start);
        if done.contains(&occasion) {
            continue;
        }
        let to = match a.lead_email.as_deref() {
            Some(e) => vec![recipients::by_email(&state.db.conn, e).await?],
            None => recipients::quality_leads(&state.db.conn, state).await?,
        };
        let dept = department_of(state, a.department_id).await?;
        let draft = Draft {
            kind: NotificationKind::AuditDue,
            occasion,
            entity_type: "Audit",
            entity_id: a.id,
            reference: None,
            vars: serde_json::json!({
                "title": a.title,
                "department": dept.map(|d| d.name),
                "due": a.planned_start.format("%A %-d %B %Y").to_string(),
                "status": "planned",
                "link": link(settings, &format!("audits/{}", crate::record::ids::encode(crate::record::ids::Kind::Audit, a.id).0)),
            }),
        };
        queued += raise(state, draft, to).await?;
    }
    Ok(queued)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn an_action_moves_through_its_occasions() {
        let due = d("2026-12-10");
        assert_eq!(action_occasion(due, d("2026-12-02")), None);
        assert_eq!(
            action_occasion(due, d("2026-12-03")),
            Some((NotificationKind::ActionDueSoon, 7))
        );
        assert_eq!(
            action_occasion(due, d("2026-12-10")),
            Some((NotificationKind::ActionDueToday, 0))
        );
        assert_eq!(
            action_occasion(due, d("2026-12-11")),
            Some((NotificationKind::ActionOverdue, -1))
        );
        assert_eq!(
            action_occasion(due, d("2026-12-23")),
            Some((NotificationKind::ActionOverdue, -13))
        );
        assert_eq!(
            action_occasion(due, d("2026-12-24")),
            Some((NotificationKind::ActionEscalated, -14))
        );
    }
}
