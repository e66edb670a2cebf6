//! The LFPSE queue as the API serves it: where one incident stands with LFPSE, the list of
//! submissions (quality leads, as the email outbox), and the retry of a dead letter.
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entities::{incident, lfpse_submission as submission};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use super::queue::{DEAD, QUEUED, SENT, SUPERSEDED};
use crate::auth::Role;
use crate::context::{AppState, RequestCtx};
use crate::error::{AppError, AppResult};
use crate::record::keyset::{self, IdOrder, Page};
use crate::trail::{self, Actor, Diff};

/// Where an incident stands with LFPSE, in words a quality lead uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// A version is waiting to be sent (or between attempts).
    Queued,
    /// LFPSE holds the incident as it stands.
    Submitted,
    /// The latest version was dead-lettered: a quality lead should look.
    Failed,
}

/// An incident's LFPSE standing, folded from its versions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub standing: Standing,
    /// From the latest accepted version.
    pub reference: Option<String>,
    pub lfpse_id: Option<String>,
    pub lfpse_version: Option<String>,
    /// Our number (seq) of the latest accepted version.
    pub version: Option<i32>,
    pub submitted_at: Option<DateTime<Utc>>,
    /// Of the version that decides the standing (the newest not superseded).
    pub last_error: Option<String>,
    pub attempts: i32,
    pub next_attempt_at: Option<DateTime<Utc>>,
}

/// Folds an incident's versions (any order) into its standing: that of the newest version
/// not superseded (QUEUED, SENT or DEAD: FAILED), with what the latest accepted version
/// brought back. None when nothing was ever queued, or when every version was superseded
/// without one being sent (the incident stopped being reportable before its turn).
pub fn summarise(rows: &[submission::Model]) -> Option<Summary> {
    let decisive = rows
        .iter()
        .filter(|r| r.status != SUPERSEDED)
        .max_by_key(|r| r.seq)?;
    let sent = rows
        .iter()
        .filter(|r| r.status == SENT)
        .max_by_key(|r| r.seq);
    let standing = match decisive.status.as_str() {
        SENT => Standing::Submitted,
        DEAD => Standing::Failed,
        _ => Standing::Queued,
    };
    Some(Summary {
        standing,
        reference: sent.and_then(|s| s.reference.clone()),
        lfpse_id: sent.and_then(|s| s.lfpse_id.clone()),
        lfpse_version: sent.and_then(|s| s.lfpse_version.clone()),
        version: sent.map(|s| s.seq),
        submitted_at: sent.and_then(|s| s.submitted_at),
        last_error: decisive.last_error.clone(),
        attempts: decisive.attempts,
        next_attempt_at: (decisive.status == QUEUED).then_some(decisive.next_attempt_at),
    })
}

/// The versions of these incidents, by incident (for a page of incidents: one query).
pub async fn versions_of<C: ConnectionTrait>(
    conn: &C,
    incident_ids: &[Uuid],
) -> AppResult<HashMap<Uuid, Vec<submission::Model>>> {
    let mut out: HashMap<Uuid, Vec<submission::Model>> = HashMap::new();
    if incident_ids.is_empty() {
        return Ok(out);
    }
    let rows = submission::Entity::find()
        .filter(submission::Column::IncidentId.is_in(incident_ids.iter().copied()))
        .order_by_asc(submission::Column::Seq)
        .all(conn)
        .await?;
    for r in rows {
        out.entry(r.incident_id).or_default().push(r);
    }
    Ok(out)
}

fn require_quality_lead(rc: &RequestCtx, what: &str) -> AppResult<()> {
    if !rc.principal()?.has_role(Role::QualityLead) {
        return Err(AppError::forbidden(format!(
            "only quality leads may {what}"
        )));
    }
    Ok(())
}

/// LFPSE submissions in these states (all when none), newest first, each with its
/// incident's reference (quality leads, as the email outbox).
pub async fn list(
    state: &AppState,
    rc: &RequestCtx,
    statuses: &[&'static str],
    first: u64,
    after: Option<&str>,
) -> AppResult<Page<(submission::Model, String)>> {
    require_quality_lead(rc, "list LFPSE submissions")?;
    let mut query = submission::Entity::find();
    if !statuses.is_empty() {
        query = query.filter(submission::Column::Status.is_in(statuses.iter().copied()));
    }
    let key = IdOrder {
        id: submission::Column::Id,
        newest_first: true,
        id_of: |m: &submission::Model| m.id,
    };
    let page = keyset::list(&state.db.conn, query, &key, first, after).await?;
    let ids: Vec<Uuid> = page.rows.iter().map(|(s, _)| s.incident_id).collect();
    let refs = references(&state.db.conn, ids).await?;
    Ok(page.map(|s| {
        let r = refs.get(&s.incident_id).cloned().unwrap_or_default();
        (s, r)
    }))
}

async fn references<C: ConnectionTrait>(
    conn: &C,
    ids: Vec<Uuid>,
) -> AppResult<HashMap<Uuid, String>> {
    if ids.is_empty() {
        return Ok(Default::default());
    }
    let rows: Vec<(Uuid, String)> = incident::Entity::find()
        .select_only()
        .column(incident::Column::Id)
        .column(incident::Column::Reference)
        .filter(incident::Column::Id.is_in(ids))
        .into_tuple()
        .all(conn)
        .await?;
    Ok(rows.into_iter().collect())
}

/// Puts a dead-lettered version back in the queue, due now, its attempts reset, with a
/// trail event (quality leads). Refused, writing nothing: FORBIDDEN for anyone else,
/// NOT_FOUND for no such submission, CONFLICT unless it is DEAD or when a later version of
/// the incident is already queued (that one will carry the incident as it stands).
pub async fn retry(
    state: &AppState,
    rc: &RequestCtx,
    id: Uuid,
) -> AppResult<(submission::Model, String)> {
    require_quality_lead(rc, "retry LFPSE submissions")?;
    let p = rc.principal()?;
    let tx = state.db.begin_write().await?;
    let Some(row) = submission::Entity::find_by_id(id).one(&*tx).await? else {
        return Err(AppError::NotFound("LFPSE submission"));
    };
    // The incident's row lock: changes to the incident (which queue its versions) wait,
    // so the check for a later queued version below stays true until this commits.
    let reference: Option<String> = incident::Entity::find_by_id(row.incident_id)
        .select_only()
        .column(incident::Column::Reference)
        .lock_exclusive()
        .into_tuple()
        .one(&*tx)
        .await?;
    // Read again under the lock: a dispatcher may have moved it meanwhile.
    let row = submission::Entity::find_by_id(id)
        .one(&*tx)
        .await?
        .ok_or(AppError::NotFound("LFPSE submission"))?;
    if row.status != DEAD {
        return Err(AppError::Duplicate(
            "only a failed (DEAD) LFPSE submission can be retried".into(),
        ));
    }
    let later_queued = submission::Entity::find()
        .select_only()
        .column(submission::Column::Id)
        .filter(submission::Column::IncidentId.eq(row.incident_id))
        .filter(submission::Column::Seq.gt(row.seq))
        .filter(submission::Column::Status.eq(QUEUED))
        .into_tuple::<Uuid>()
        .one(&*tx)
        .await?;
    if later_queued.is_some() {
        return Err(AppError::Duplicate(
            "a later version of this incident is already queued for LFPSE and will carry it".into(),
        ));
    }
    let staff = rc.staff_in(state, &*tx).await?;
    let now = Utc::now();
    submission::Entity::update_many()
        .col_expr(submission::Column::Status, Expr::value(QUEUED))
        .col_expr(submission::Column::Attempts, Expr::value(0))
        .col_expr(submission::Column::NextAttemptAt, Expr::value(now))
        .col_expr(
            submission::Column::LeaseUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(
            submission::Column::LeasedBy,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            submission::Column::LastError,
            Expr::value(Option::<String>::None),
        )
        .filter(submission::Column::Id.eq(id))
        .filter(submission::Column::Status.eq(DEAD))
        .exec(&*tx)
        .await?;
    let mut diff = Diff::new();
    diff.field("incidentId", None, Some(row.incident_id))
        .field("version", None, Some(row.seq))
        .field("status", DEAD, QUEUED)
        .field("attempts", row.attempts, 0);
    trail::record(
        &*tx,
        rc,
        &Actor::of(p, staff),
        "LfpseSubmission",
        id,
        "lfpse.retried",
        diff,
    )
    .await?;
    let updated = submission::Entity::find_by_id(id)
        .one(&*tx)
        .await?
        .ok_or(AppError::NotFound("LFPSE submission"))?;
    tx.commit().await?;
    Ok((updated, reference.unwrap_or_default()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(seq: i32, status: &str) -> submission::Model {
        submission::Model {
            id: Uuid::now_v7(),
            incident_id: Uuid::nil(),
            seq,
            content_hash: String::new(),
            status: status.into(),
            attempts: 1,
            next_attempt_at: Utc::now(),
            lease_until: None,
            leased_by: None,
            last_error: None,
            created_at: Utc::now(),
            submitted_at: (status == SENT).then(Utc::now),
            method: None,
            lfpse_id: (status == SENT).then(|| format!("ae-{seq}")),
            lfpse_version: None,
            reference: (status == SENT).then(|| "REF-1".to_string()),
        }
    }

    #[test]
    fn the_newest_version_not_superseded_decides() {
        assert_eq!(summarise(&[]), None);
        let s = summarise(&[row(1, SENT), row(2, QUEUED)]).unwrap();
        assert_eq!(s.standing, Standing::Queued);
        assert_eq!(
            (s.version, s.reference.as_deref()),
            (Some(1), Some("REF-1"))
        );
        let s = summarise(&[row(1, SENT), row(2, DEAD), row(3, SUPERSEDED)]).unwrap();
        assert_eq!(s.standing, Standing::Failed);
        let s = summarise(&[row(1, DEAD), row(2, SENT), row(3, SUPERSEDED)]).unwrap();
        assert_eq!((s.standing, s.version), (Standing::Submitted, Some(2)));
        assert_eq!(summarise(&[row(1, SUPERSEDED)]), None);
    }
}
