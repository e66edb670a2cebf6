//! The virus scanner: each file waiting is streamed to clamd (INSTREAM) from its sealed
//! chunks. A clean file becomes available; a file clamd finds malware in is destroyed
//! (its bytes deleted, its row kept saying what was found). While clamd cannot be reached
//! files wait, unseen, and are tried again with backoff. Many instances may scan at once:
//! each file is claimed by a conditional update before it is read.
use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{Duration, SubsecRound, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::rules::Scanner;
use super::service::{scan_status, OwnerKind};
use super::store;
use crate::context::AppState;
use crate::error::{AppError, AppResult};
use crate::trail::{self, Actor, Diff};
use entities::attachment;

/// What clamd said of one file.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Clean,
    Infected(String),
}

/// clamd's answer to INSTREAM: `stream: OK`, `stream: <signature> FOUND`, or an error.
pub fn verdict(answer: &[u8]) -> Result<Verdict, String> {
    let text = String::from_utf8_lossy(answer);
    let text = text.trim_end_matches(['\0', '\n', '\r']).trim();
    let body = text.strip_prefix("stream:").map(str::trim).unwrap_or(text);
    if body == "OK" {
        Ok(Verdict::Clean)
    } else if let Some(sig) = body.strip_suffix("FOUND") {
        let sig: String = sig.trim().chars().take(200).collect();
        Ok(Verdict::Infected(sig))
    } else {
        // e.g. "INSTREAM size limit exceeded. ERROR": clamd's own words, no file content.
        Err(body.chars().take(200).collect())
    }
}

/// Starts the scanner (when this instance scans and a scanner is configured) and the
/// sweeper of uploads never attached (always).
pub fn spawn(state: Arc<AppState>) {
    let scanner = state
        .settings
        .attachments
        .scanner
        .as_deref()
        .and_then(Scanner::parse)
        .filter(|_| state.settings.attachments.scan);
    let poll = StdDuration::from_millis(state.settings.attachments.scan_poll_ms);
    let stop = state.stop.clone();
    tokio::spawn(async move {
        let mut last_sweep = std::time::Instant::now() - StdDuration::from_secs(3600);
        loop {
            if let Some(scanner) = &scanner {
                loop {
                    match scan_next(&state, scanner).await {
                        Ok(true) => continue,
                        Ok(false) => break,
                        Err(e) => {
                            tracing::warn!(error = e.code(), "attachment scanner: {}", detail(&e));
                            break;
                        }
                    }
                }
            }
            if last_sweep.elapsed() >= StdDuration::from_secs(600) {
                last_sweep = std::time::Instant::now();
                match super::service::sweep_unattached(&state).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(uploads = n, "uploads never attached were deleted"),
                    Err(e) => {
                        tracing::warn!(error = e.code(), "sweeping uploads failed: {}", detail(&e))
                    }
                }
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = state.scan_wake.notified() => {}
                _ = tokio::time::sleep(poll) => {}
            }
        }
    });
}

fn detail(e: &AppError) -> String {
    match e {
        AppError::Internal(d) => d.clone(),
        e => e.message(),
    }
}

/// Claims and scans one file waiting; false when none is waiting (or due again yet).
pub async fn scan_next(state: &AppState, scanner: &Scanner) -> AppResult<bool> {
    let settings = &state.settings.attachments;
    let now = Utc::now().trunc_subsecs(6);
    let due = Condition::any()
        .add(attachment::Column::ScanAfter.is_null())
        .add(attachment::Column::ScanAfter.lte(now));
    let waiting = attachment::Entity::find()
        .filter(attachment::Column::ScanStatus.eq(scan_status::AWAITING))
        .filter(attachment::Column::Complete.eq(true))
        .filter(due.clone())
        .order_by_asc(attachment::Column::CreatedAt)
        .limit(5)
        .all(&state.db.conn)
        .await?;
    if waiting.is_empty() {
        return Ok(false);
    }
    let lease = Duration::seconds(settings.scan_timeout_secs as i64 * 2);
    for m in waiting {
        let claimed = {
            let _turn = state.db.write_turn().await;
            attachment::Entity::update_many()
                .col_expr(
                    attachment::Column::ScanAfter,
                    Expr::value(Some(now + lease)),
                )
                .filter(attachment::Column::Id.eq(m.id))
                .filter(attachment::Column::ScanStatus.eq(scan_status::AWAITING))
                .filter(due.clone())
                .exec(&state.db.conn)
                .await?
                .rows_affected
                == 1
        };
        if !claimed {
            continue;
        }
        let timeout = StdDuration::from_secs(settings.scan_timeout_secs);
        let outcome = match tokio::time::timeout(timeout, ask_clamd(state, scanner, &m)).await {
            Ok(r) => r,
            Err(_) => Err("clamd did not answer in time".into()),
        };
        match outcome {
            Ok(v) => record(state, &m, v).await?,
            Err(why) => {
                let attempts = m.scan_attempts + 1;
                // The initial wait, doubled for each failure after, up to 10 minutes.
                let first = settings.scan_retry_initial_ms.max(1) as i64;
                let wait = Duration::milliseconds((first << (attempts - 1).min(16)).min(600_000));
                tracing::warn!(
                    attempts,
                    "attachment scan failed, trying again later: {why}"
                );
                let _turn = state.db.write_turn().await;
                attachment::Entity::update_many()
                    .col_expr(attachment::Column::ScanAttempts, Expr::value(attempts))
                    .col_expr(
                        attachment::Column::ScanAfter,
                        Expr::value(Some(Utc::now() + wait)),
                    )
                    .filter(attachment::Column::Id.eq(m.id))
                    .exec(&state.db.conn)
                    .await?;
            }
        }
        return Ok(true);
    }
    // Every one was claimed by another instance meanwhile.
    Ok(false)
}

/// Streams the file to clamd, chunk by chunk as stored (so memory is one chunk).
async fn ask_clamd(
    state: &AppState,
    scanner: &Scanner,
    m: &attachment::Model,
) -> Result<Verdict, String> {
    let chunks = futures_util::stream::unfold(0, move |n| async move {
        if n >= m.chunk_count {
            return None;
        }
        let item = store::read_chunk(&state.db.conn, &state.keys, m, n)
            .await
            .map(actix_web::web::Bytes::from)
            .map_err(|e| std::io::Error::other(e.to_string()));
        Some((item, n + 1))
    });
    let chunks = Box::pin(chunks);
    let answer = match scanner {
        Scanner::Tcp(addr) => {
            clamav_client::tokio::scan_stream(
                chunks,
                clamav_client::tokio::Tcp {
                    host_address: addr.as_str(),
                },
                Some(store::CHUNK),
            )
            .await
        }
        Scanner::Unix(path) => {
            clamav_client::tokio::scan_stream(
                chunks,
                clamav_client::tokio::Socket {
                    socket_path: path.as_str(),
                },
                Some(store::CHUNK),
            )
            .await
        }
    }
    .map_err(|e| format!("clamd: {}", e.kind()))?;
    verdict(&answer)
}

/// Writes the verdict; a file found infected loses its bytes in the same transaction.
async fn record(state: &AppState, m: &attachment::Model, v: Verdict) -> AppResult<()> {
    let now = Utc::now().trunc_subsecs(6);
    let tx = state.db.begin_write().await?;
    let current = attachment::Entity::find_by_id(m.id)
        .lock_exclusive()
        .one(&*tx)
        .await?;
    let Some(current) = current.filter(|c| c.scan_status == scan_status::AWAITING) else {
        return Ok(());
    };
    match v {
        Verdict::Clean => {
            attachment::Entity::update_many()
                .col_expr(
                    attachment::Column::ScanStatus,
                    Expr::value(scan_status::CLEAN),
                )
                .col_expr(attachment::Column::ScannedAt, Expr::value(Some(now)))
                .col_expr(
                    attachment::Column::ScanAfter,
                    Expr::value(Option::<chrono::DateTime<Utc>>::None),
                )
                .filter(attachment::Column::Id.eq(m.id))
                .exec(&*tx)
                .await?;
            tracing::info!(attachment = %m.id, "attachment scanned clean");
        }
        Verdict::Infected(signature) => {
            store::delete_chunks(&*tx, m.id).await?;
            attachment::Entity::update_many()
                .col_expr(
                    attachment::Column::ScanStatus,
                    Expr::value(scan_status::INFECTED),
                )
                .col_expr(
                    attachment::Column::ScanSignature,
                    Expr::value(Some(signature.clone())),
                )
                .col_expr(attachment::Column::ScannedAt, Expr::value(Some(now)))
                .col_expr(
                    attachment::Column::ScanAfter,
                    Expr::value(Option::<chrono::DateTime<Utc>>::None),
                )
                .filter(attachment::Column::Id.eq(m.id))
                .exec(&*tx)
                .await?;
            if let (Some(kind), Some(owner)) = (
                current.owner_type.as_deref().and_then(OwnerKind::parse),
                current.owner_id,
            ) {
                let mut diff = Diff::new();
                diff.field(
                    "attachment",
                    serde_json::json!(crate::record::ids::encode(
                        crate::record::ids::Kind::Attachment,
                        m.id
                    )
                    .to_string()),
                    serde_json::json!({ "malware": signature }),
                );
                trail::record_for(
                    &*tx,
                    None,
                    &Actor::system("virus-scanner"),
                    kind.as_str(),
                    owner,
                    "attachment.infected",
                    diff,
                )
                .await?;
            }
            tracing::warn!(attachment = %m.id, signature = %signature, "the virus scanner refused an attachment; its bytes were deleted");
        }
    }
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clamds_answers_are_read() {
        assert_eq!(verdict(b"stream: OK\0").unwrap(), Verdict::Clean);
        assert_eq!(
            verdict(b"stream: Eicar-Test-Signature FOUND\0").unwrap(),
            Verdict::Infected("Eicar-Test-Signature".into())
        );
        assert!(verdict(b"INSTREAM size limit exceeded. ERROR\0").is_err());
        assert!(verdict(b"").is_err());
    }
}
