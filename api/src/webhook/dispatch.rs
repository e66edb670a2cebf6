//! Sends queued deliveries: takes due ones under a lease (many instances take disjoint
//! batches: `FOR UPDATE SKIP LOCKED` on PostgreSQL, the write lock on SQLite), signs each
//! as Standard Webhooks says (`webhook-id`, `webhook-timestamp`, `webhook-signature`), and
//! records the answer. A 2xx delivers it; a 410 Gone dead-letters it and disables the
//! endpoint; anything else (another status, a timeout, no connection, an address that may
//! not be reached) is retried with exponential backoff and jitter until
//! `webhooks.max_attempts`, then dead-lettered. `webhooks.disable_after_failures` failed
//! attempts in a row disable the endpoint; its deliveries wait until an admin enables it.
//!
//! At least once: a crash between the receiver's answer and recording it sends the
//! delivery again when its lease runs out, with the same `webhook-id` for the receiver to
//! see it has had it.
//!
//! The host is resolved before each attempt and every address it gives is checked (no
//! link-local or metadata address, whatever the name); the request then goes to the
//! address checked, so a name that resolves differently a moment later reaches nothing
//! else. Redirects are not followed.
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use entities::{webhook_delivery as delivery, webhook_endpoint as endpoint};
use rand::Rng;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DbBackend, EntityTrait, Iterable, QueryFilter, Statement};
use uuid::Uuid;

use super::service::{secret_of, DEAD, DELIVERED, QUEUED};
use crate::context::AppState;
use crate::error::AppResult;

/// Deliveries taken at a time.
const BATCH: i64 = 20;

/// What one attempt came to, without anything of the receiver's answer but its status.
pub enum Outcome {
    Delivered(u16),
    /// Worth trying again (a status, or why there was none).
    Failed(Option<u16>, String),
    /// Never to be tried again: the receiver said the endpoint is gone.
    Gone,
}

/// Runs until the instance stops: takes due deliveries, sends them, sleeps until woken (a
/// delivery queued) or `webhooks.poll_ms` passes.
pub async fn run(state: Arc<AppState>) {
    let worker = format!(
        "{}:{}",
        std::process::id(),
        &Uuid::new_v4().simple().to_string()[..8]
    );
    let poll = Duration::from_millis(state.settings.webhooks.poll_ms);
    loop {
        if state.stop.is_cancelled() {
            break;
        }
        let taken = match take(&state, &worker).await {
            Ok(rows) => rows,
            Err(e) => {
                tracing::warn!(error = e.code(), "taking due webhook deliveries failed");
                Vec::new()
            }
        };
        let full = taken.len() as i64 >= BATCH;
        let sends = futures_util::future::join_all(taken.into_iter().map(|(row, ep)| {
            let state = state.clone();
            async move {
                let outcome = attempt(&state, &ep, &row).await;
                if let Err(e) = record(&state, &ep, &row, outcome, false).await {
                    // The lease runs out and it is sent again: at least once.
                    tracing::warn!(error = e.code(), "recording a webhook delivery failed");
                }
            }
        }));
        tokio::select! {
            _ = sends => {}
            _ = state.stop.cancelled() => break,
        }
        if full {
            continue;
        }
        tokio::select! {
            _ = state.webhooks_wake.notified() => {}
            _ = tokio::time::sleep(poll) => {}
            _ = state.stop.cancelled() => break,
        }
    }
}

/// Leases up to BATCH due deliveries of enabled endpoints to this worker.
async fn take(
    state: &AppState,
    worker: &str,
) -> AppResult<Vec<(delivery::Model, endpoint::Model)>> {
    let db = &state.db;
    let now = Utc::now();
    // Longer than an attempt may take, so one worker's attempt ends inside its lease.
    let until = now + chrono::Duration::seconds(state.settings.webhooks.timeout_secs as i64 * 3);
    let backend = db.backend();
    let columns = delivery::Column::iter()
        .map(|c| format!("\"{}\"", sea_orm::IdenStatic::as_str(&c)))
        .collect::<Vec<_>>()
        .join(", ");
    let p = |n: usize| match backend {
        DbBackend::Postgres => format!("${n}"),
        _ => format!("?{n}"),
    };
    let lock = if backend == DbBackend::Postgres {
        "FOR UPDATE OF d SKIP LOCKED"
    } else {
        ""
    };
    let sql = format!(
        "UPDATE webhook_delivery SET lease_until = {p1}, leased_by = {p2} \
         WHERE id IN (SELECT d.id FROM webhook_delivery d \
           JOIN webhook_endpoint e ON e.id = d.endpoint_id AND e.enabled \
           WHERE d.status = 'QUEUED' AND d.next_attempt_at <= {p3} \
             AND (d.lease_until IS NULL OR d.lease_until < {p3}) \
           ORDER BY d.next_attempt_at LIMIT {p4} {lock}) \
         RETURNING {columns}",
        p1 = p(1),
        p2 = p(2),
        p3 = p(3),
        p4 = p(4),
    );
    let stmt = Statement::from_sql_and_values(
        backend,
        sql,
        [
            until.into(),
            worker.to_string().into(),
            now.into(),
            BATCH.into(),
        ],
    );
    let tx = db.begin_write().await?;
    let rows = delivery::Entity::find()
        .from_raw_sql(stmt)
        .all(&*tx)
        .await?;
    tx.commit_quiet().await?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Uuid> = rows.iter().map(|r| r.endpoint_id).collect();
    let endpoints = endpoint::Entity::find()
        .filter(endpoint::Column::Id.is_in(ids))
        .all(&db.conn)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            let ep = endpoints.iter().find(|e| e.id == r.endpoint_id)?.clone();
            Some((r, ep))
        })
        .collect())
}

/// The addresses `url`'s host resolves to, each checked; an error says why none may be used.
async fn addresses(url: &reqwest::Url) -> Result<Vec<SocketAddr>, String> {
    let host = url.host_str().ok_or("no host")?;
    let port = url.port_or_known_default().ok_or("no port")?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let found: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|_| "the host name did not resolve".to_string())?
        .collect();
    if found.is_empty() {
        return Err("the host name did not resolve".into());
    }
    if found.iter().any(|a| super::forbidden_address(a.ip())) {
        return Err("the host resolves to an address webhooks may not reach".into());
    }
    Ok(found)
}

/// One attempt: the endpoint's URL checked again (the allowed hosts may have changed since
/// it was registered), resolved and checked, the message signed and sent.
pub async fn attempt(state: &AppState, ep: &endpoint::Model, row: &delivery::Model) -> Outcome {
    let settings = &state.settings.webhooks;
    let url = match super::check_url(&ep.url, &settings.allowed_hosts) {
        Ok(u) => u,
        Err(why) => return Outcome::Failed(None, format!("not sent: the url {why}")),
    };
    let addrs = match addresses(&url).await {
        Ok(a) => a,
        Err(why) => return Outcome::Failed(None, format!("not sent: {why}")),
    };
    let secret = match secret_of(state, ep) {
        Ok(s) => s,
        Err(_) => {
            return Outcome::Failed(
                None,
                "not sent: the signing secret could not be opened".into(),
            )
        }
    };
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(settings.timeout_secs))
        .user_agent(concat!("candour-webhooks/", env!("CARGO_PKG_VERSION")));
    if let Some(host) = url.host_str() {
        builder = builder.resolve_to_addrs(host, &addrs);
    }
    let client = match builder.build() {
        Ok(c) => c,
        Err(_) => return Outcome::Failed(None, "not sent: no HTTP client".into()),
    };
    let id = row.id.to_string();
    let timestamp = Utc::now().timestamp();
    let body = row.payload.as_bytes().to_vec();
    let signature = super::sign(&secret, &id, timestamp, &body);
    let sent = client
        .post(url)
        .header("content-type", "application/json")
        .header("webhook-id", &id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(body)
        .send()
        .await;
    match sent {
        Ok(r) => {
            let status = r.status().as_u16();
            // Read (and drop) the answer, so the connection closes cleanly.
            let _ =
                tokio::time::timeout(Duration::from_secs(settings.timeout_secs), r.bytes()).await;
            match status {
                200..=299 => Outcome::Delivered(status),
                410 => Outcome::Gone,
                _ => Outcome::Failed(Some(status), format!("the receiver answered {status}")),
            }
        }
        Err(e) if e.is_timeout() => {
            Outcome::Failed(None, format!("no answer within {}s", settings.timeout_secs))
        }
        Err(e) if e.is_connect() => Outcome::Failed(None, "could not connect".into()),
        // reqwest's errors name the URL: only the class is kept.
        Err(_) => Outcome::Failed(None, "the exchange failed".into()),
    }
}

/// The wait before attempt `n + 1` after `n` failed: doubling from
/// `webhooks.backoff_initial_ms`, at most `webhooks.backoff_max_secs`, with up to a quarter
/// of jitter so that deliveries that failed together do not come back together.
fn backoff(state: &AppState, attempts: i32) -> chrono::Duration {
    let s = &state.settings.webhooks;
    let base = s
        .backoff_initial_ms
        .saturating_mul(1u64 << (attempts - 1).clamp(0, 30) as u32);
    let ms = base.min(s.backoff_max_secs.saturating_mul(1000));
    let jitter = rand::thread_rng().gen_range(0..=ms / 4);
    chrono::Duration::milliseconds((ms + jitter) as i64)
}

/// Records an attempt on the delivery and the endpoint. `once`: a test message, which is
/// not tried again.
pub async fn record(
    state: &AppState,
    ep: &endpoint::Model,
    row: &delivery::Model,
    outcome: Outcome,
    once: bool,
) -> AppResult<()> {
    let now = Utc::now();
    let attempts = row.attempts + 1;
    let max = state.settings.webhooks.max_attempts as i32;
    let (status, last_status, error, next): (&str, Option<i32>, Option<String>, DateTime<Utc>) =
        match &outcome {
            Outcome::Delivered(code) => (DELIVERED, Some(*code as i32), None, row.next_attempt_at),
            Outcome::Gone => (
                DEAD,
                Some(410),
                Some("the receiver answered 410 Gone".into()),
                row.next_attempt_at,
            ),
            Outcome::Failed(code, why) => {
                let dead = once || attempts >= max;
                (
                    if dead { DEAD } else { QUEUED },
                    code.map(i32::from),
                    Some(if dead && !once {
                        format!("{why}; given up after {attempts} attempts")
                    } else {
                        why.clone()
                    }),
                    now + backoff(state, attempts),
                )
            }
        };
    let tx = state.db.begin_write().await?;
    delivery::Entity::update_many()
        .col_expr(delivery::Column::Status, Expr::value(status))
        .col_expr(delivery::Column::Attempts, Expr::value(attempts))
        .col_expr(delivery::Column::NextAttemptAt, Expr::value(next))
        .col_expr(
            delivery::Column::LeaseUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(
            delivery::Column::LeasedBy,
            Expr::value(Option::<String>::None),
        )
        .col_expr(delivery::Column::LastStatus, Expr::value(last_status))
        .col_expr(delivery::Column::LastError, Expr::value(error))
        .col_expr(
            delivery::Column::DeliveredAt,
            Expr::value(matches!(outcome, Outcome::Delivered(_)).then_some(now)),
        )
        .filter(delivery::Column::Id.eq(row.id))
        .exec(&*tx)
        .await?;
    let disable = match &outcome {
        Outcome::Delivered(_) => {
            endpoint::Entity::update_many()
                .col_expr(endpoint::Column::Failures, Expr::value(0))
                .filter(endpoint::Column::Id.eq(ep.id))
                .exec(&*tx)
                .await?;
            None
        }
        Outcome::Gone => Some("the receiver answered 410 Gone".to_string()),
        Outcome::Failed(..) => {
            endpoint::Entity::update_many()
                .col_expr(
                    endpoint::Column::Failures,
                    Expr::col(endpoint::Column::Failures).add(1),
                )
                .filter(endpoint::Column::Id.eq(ep.id))
                .exec(&*tx)
                .await?;
            let failures: Option<i32> = {
                use sea_orm::QuerySelect;
                endpoint::Entity::find_by_id(ep.id)
                    .select_only()
                    .column(endpoint::Column::Failures)
                    .into_tuple()
                    .one(&*tx)
                    .await?
            };
            let limit = state.settings.webhooks.disable_after_failures as i32;
            failures
                .filter(|f| *f >= limit)
                .map(|f| format!("{f} failed attempts in a row"))
        }
    };
    if let Some(reason) = disable {
        let disabled = endpoint::Entity::update_many()
            .col_expr(endpoint::Column::Enabled, Expr::value(false))
            .col_expr(
                endpoint::Column::DisabledReason,
                Expr::value(Some(reason.clone())),
            )
            .col_expr(
                endpoint::Column::Version,
                Expr::col(endpoint::Column::Version).add(1),
            )
            .filter(endpoint::Column::Id.eq(ep.id))
            .filter(endpoint::Column::Enabled.eq(true))
            .exec(&*tx)
            .await?;
        if disabled.rows_affected > 0 {
            let mut diff = crate::trail::Diff::new();
            diff.field("enabled", true, false)
                .field("disabledReason", None, Some(&reason));
            crate::trail::record_for(
                &*tx,
                None,
                &crate::trail::Actor::system("webhooks"),
                super::service::ENTITY,
                ep.id,
                "webhook.disabled",
                diff,
            )
            .await?;
            tracing::warn!(webhook = %ep.id, "webhook endpoint disabled after failing");
        }
    }
    tx.commit().await?;
    Ok(())
}
