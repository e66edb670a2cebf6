//! The dispatcher: takes due emails from the outbox under a lease, sends them through
//! lettre's async SMTP transport, and records each attempt. Failures are retried with
//! exponential backoff and jitter until `notify.max_attempts`, then dead-lettered for a
//! quality lead to retry. At least once: a crash between sending and recording sends again
//! after the lease expires, with the same Message-ID so the duplicate is recognisable.
//!
//! Many instances on PostgreSQL take disjoint batches (`FOR UPDATE SKIP LOCKED`); on SQLite
//! taking is one UPDATE under the database's write lock, so instances sharing the file take
//! disjoint batches too.
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use entities::{notification, notification_attempt};
use lettre::message::{header, Mailbox, MultiPart};
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use rand::Rng;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, IntoActiveModel, Iterable, QueryFilter,
    Set, Statement,
};
use secrecy::ExposeSecret;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{DEAD, QUEUED, SENT};
use crate::config::Settings;
use crate::db::Db;

pub struct Dispatcher {
    db: Db,
    settings: Arc<Settings>,
    templates: Arc<super::templates::Templates>,
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    worker: String,
}

/// The outcome of one attempt, without anything from the message.
enum Outcome {
    Sent,
    /// Worth trying again later.
    Transient(String),
    /// Will never work (the server refused the recipient or the message).
    Permanent(String),
}

impl Dispatcher {
    /// None when no SMTP server is configured (emails wait in the outbox).
    pub fn new(
        db: Db,
        settings: Arc<Settings>,
        templates: Arc<super::templates::Templates>,
    ) -> Result<Option<Self>, String> {
        let Some(url) = settings.smtp_url.as_ref() else {
            return Ok(None);
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose_secret())
            .map_err(|e| format!("smtp_url: {e}"))?;
        if let Some(ca) = &settings.smtp_ca_file {
            builder = builder.tls(tls_with_ca(url.expose_secret(), ca)?);
        }
        let transport = builder
            .timeout(Some(Duration::from_secs(settings.notify.smtp_timeout_secs)))
            // As many connections as emails taken at once (notify.batch).
            .pool_config(lettre::transport::smtp::PoolConfig::new().max_size(settings.notify.batch))
            .build();
        let from: Mailbox = settings
            .mail_from
            .parse()
            .map_err(|e| format!("mail_from: {e}"))?;
        let host = hostname_or_local();
        let worker = format!(
            "{host}:{}:{}",
            std::process::id(),
            &Uuid::new_v4().simple().to_string()[..8]
        );
        Ok(Some(Self {
            db,
            templates,
            settings,
            transport,
            from,
            worker,
        }))
    }

    /// Runs until `stop` is cancelled: takes due emails, sends them, sleeps until woken or
    /// `notify.poll_ms` passes.
    pub async fn run(self, wake: Arc<Notify>, stop: CancellationToken) {
        tracing::info!(worker = %self.worker, "email dispatcher started");
        let poll = Duration::from_millis(self.settings.notify.poll_ms);
        loop {
            if stop.is_cancelled() {
                break;
            }
            let taken = match self.take().await {
                Ok(rows) => rows,
                Err(e) => {
                    tracing::warn!(error = %crate::error::db_error_kind(&e), "taking due emails failed");
                    Vec::new()
                }
            };
            let full = taken.len() as u32 >= self.settings.notify.batch;
            // Every email taken starts its send now, so each ends (smtp_timeout_secs)
            // inside its lease (lease_secs): none waits its turn while the lease runs out.
            let sends = futures_util::future::join_all(taken.into_iter().map(|n| self.deliver(n)));
            tokio::select! {
                _ = sends => {}
                // Stopping mid-send leaves the lease to expire: another dispatcher sends.
                _ = stop.cancelled() => break,
            }
            if full {
                continue;
            }
            tokio::select! {
                _ = wake.notified() => {
                    // Let a burst of commits settle into one look.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                _ = tokio::time::sleep(poll) => {}
                _ = stop.cancelled() => break,
            }
        }
        tracing::info!(worker = %self.worker, "email dispatcher stopped");
    }

    /// Leases up to `notify.batch` due emails to this worker.
    async fn take(&self) -> Result<Vec<notification::Model>, sea_orm::DbErr> {
        let now = Utc::now();
        let until = now + chrono::Duration::seconds(self.settings.notify.lease_secs as i64);
        let batch = i64::from(self.settings.notify.batch);
        let backend = self.db.backend();
        // The columns by name, never `*`: an SQLite connection may prepare a statement
        // against the schema it read before a migration added a column, and the row then
        // has more values than the statement described when it was prepared.
        let columns = notification::Column::iter()
            .map(|c| format!("\"{}\"", sea_orm::IdenStatic::as_str(&c)))
            .collect::<Vec<_>>()
            .join(", ");
        let stmt = match backend {
            DbBackend::Postgres => Statement::from_sql_and_values(
                backend,
                // SKIP LOCKED: instances racing for the same rows each take different ones.
                format!(
                    "UPDATE notification SET lease_until = $1, leased_by = $2 \
                     WHERE id IN (SELECT id FROM notification \
                       WHERE status = 'QUEUED' AND next_attempt_at <= $3 \
                         AND (lease_until IS NULL OR lease_until < $3) \
                       ORDER BY next_attempt_at LIMIT $4 FOR UPDATE SKIP LOCKED) \
                     RETURNING {columns}"
                ),
                [
                    until.into(),
                    self.worker.clone().into(),
                    now.into(),
                    batch.into(),
                ],
            ),
            _ => Statement::from_sql_and_values(
                backend,
                format!(
                    "UPDATE notification SET lease_until = ?, leased_by = ? \
                     WHERE id IN (SELECT id FROM notification \
                       WHERE status = 'QUEUED' AND next_attempt_at <= ? \
                         AND (lease_until IS NULL OR lease_until < ?) \
                       ORDER BY next_attempt_at LIMIT ?) \
                     RETURNING {columns}"
                ),
                [
                    until.into(),
                    self.worker.clone().into(),
                    now.into(),
                    now.into(),
                    batch.into(),
                ],
            ),
        };
        let tx = self.db.begin_write().await?;
        let rows = notification::Entity::find()
            .from_raw_sql(stmt)
            .all(&*tx)
            .await?;
        tx.commit_quiet().await?;
        Ok(rows)
    }

    async fn deliver(&self, n: notification::Model) {
        let outcome = match self.message(&n) {
            Ok(m) => {
                // lettre's own timeout covers connecting only; this bounds the whole exchange, inside
                // the lease (lease_secs > smtp_timeout_secs), so a hung send ends before another
                // dispatcher may take the email over.
                let limit = Duration::from_secs(self.settings.notify.smtp_timeout_secs);
                match tokio::time::timeout(limit, self.transport.send(m)).await {
                    Ok(Ok(_)) => Outcome::Sent,
                    Ok(Err(e)) => classify(&e),
                    Err(_) => Outcome::Transient("timed out".into()),
                }
            }
            Err(e) => Outcome::Permanent(e),
        };
        if let Err(e) = self.record(&n, outcome).await {
            // The lease runs out and the email is tried again: at least once.
            tracing::warn!(
                notification = %n.id,
                error = %crate::error::db_error_kind(&e),
                "recording a delivery failed"
            );
        }
    }

    fn message(&self, n: &notification::Model) -> Result<Message, String> {
        let to: Mailbox = n
            .recipient
            .parse()
            .map_err(|_| "the recipient is not an email address".to_string())?;
        // Rendered now from the variables kept at the time (older rows kept the bodies).
        let (text, html) = match &n.vars {
            Some(vars) => {
                let vars: serde_json::Value = serde_json::from_str(vars)
                    .map_err(|_| "the email's variables are not readable".to_string())?;
                let kind = super::NotificationKind::parse(&n.kind)
                    .ok_or_else(|| "the email's kind is unknown".to_string())?;
                self.templates.bodies(kind.template(), &vars, &n.subject)?
            }
            None => (n.body_text.clone(), n.body_html.clone()),
        };
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(n.subject.clone())
            .message_id(Some(format!("<{}>", n.message_id)))
            .multipart(MultiPart::alternative_plain_html(text, html))
            .map(|mut m| {
                m.headers_mut().insert_raw(header::HeaderValue::new(
                    header::HeaderName::new_from_ascii_str("Auto-Submitted"),
                    "auto-generated".into(),
                ));
                m
            })
            .map_err(|_| "the message could not be built".to_string())
    }

    async fn record(
        &self,
        n: &notification::Model,
        outcome: Outcome,
    ) -> Result<(), sea_orm::DbErr> {
        let now = Utc::now();
        let attempts = n.attempts + 1;
        let max = self.settings.notify.max_attempts as i32;
        let (status, error, next, sent_at, label) = match &outcome {
            Outcome::Sent => (SENT, None, n.next_attempt_at, Some(now), "SENT"),
            Outcome::Permanent(e) => (DEAD, Some(e.clone()), n.next_attempt_at, None, "FAILED"),
            Outcome::Transient(e) if attempts >= max => {
                (DEAD, Some(e.clone()), n.next_attempt_at, None, "FAILED")
            }
            Outcome::Transient(e) => (
                QUEUED,
                Some(e.clone()),
                now + backoff(&self.settings, attempts as u32),
                None,
                "FAILED",
            ),
        };
        let tx = self.db.begin_write().await?;
        notification_attempt::Entity::insert(
            notification_attempt::Model {
                id: Uuid::now_v7(),
                notification_id: n.id,
                attempted_at: now,
                worker: self.worker.clone(),
                outcome: label.into(),
                error: error.clone(),
            }
            .into_active_model(),
        )
        .exec_without_returning(&*tx)
        .await?;
        // Only while the email is still ours: if our lease ran out and another dispatcher
        // took it over, its outcome is the one that counts (this attempt stays on record).
        let held = notification::Entity::update_many()
            .col_expr(notification::Column::Status, Expr::value(status))
            .col_expr(notification::Column::Attempts, Expr::value(attempts))
            .col_expr(notification::Column::NextAttemptAt, Expr::value(next))
            .col_expr(
                notification::Column::LeaseUntil,
                Expr::value(Option::<chrono::DateTime<Utc>>::None),
            )
            .col_expr(
                notification::Column::LeasedBy,
                Expr::value(Option::<String>::None),
            )
            .col_expr(notification::Column::LastError, Expr::value(error.clone()))
            .col_expr(notification::Column::SentAt, Expr::value(sent_at))
            .filter(notification::Column::Id.eq(n.id))
            .filter(notification::Column::LeasedBy.eq(self.worker.clone()))
            .filter(notification::Column::Status.eq(QUEUED))
            .exec(&*tx)
            .await?
            .rows_affected
            == 1;
        tx.commit_quiet().await?;
        if !held {
            tracing::info!(
                notification = %n.id,
                kind = %n.kind,
                "an attempt finished after another dispatcher took the email over"
            );
            return Ok(());
        }
        match status {
            SENT => tracing::info!(notification = %n.id, kind = %n.kind, attempts, "email sent"),
            DEAD => tracing::warn!(
                notification = %n.id,
                kind = %n.kind,
                attempts,
                error = error.as_deref().unwrap_or(""),
                "email dead-lettered"
            ),
            _ => tracing::info!(
                notification = %n.id,
                kind = %n.kind,
                attempts,
                error = error.as_deref().unwrap_or(""),
                "email will be retried"
            ),
        }
        Ok(())
    }
}

/// The TLS the URL asks for (`smtps://` = TLS from the start, `?tls=required` = STARTTLS,
/// `?tls=opportunistic`), trusting `ca` as well as the usual roots.
fn tls_with_ca(url: &str, ca: &std::path::Path) -> Result<Tls, String> {
    let pem = std::fs::read(ca).map_err(|e| format!("smtp_ca_file: cannot read it: {e}"))?;
    // lettre accepts a file with no certificate in it (and would then trust nothing more).
    let has_cert = String::from_utf8_lossy(&pem).contains("-----BEGIN CERTIFICATE-----");
    let cert = Certificate::from_pem(&pem)
        .ok()
        .filter(|_| has_cert)
        .ok_or_else(|| "smtp_ca_file: not a PEM certificate".to_string())?;
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let authority = rest.split(['/', '?']).next().unwrap_or(rest);
    let host_port = authority.rsplit('@').next().unwrap_or(authority);
    let host = match host_port.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(v6),
        None => host_port.split(':').next().unwrap_or(host_port),
    };
    let params = TlsParameters::builder(host.to_string())
        .add_root_certificate(cert)
        .build_rustls()
        .map_err(|e| format!("smtp_ca_file: {e}"))?;
    let query = url.split_once('?').map(|(_, q)| q).unwrap_or("");
    Ok(if url.starts_with("smtps://") {
        Tls::Wrapper(params)
    } else if query.contains("tls=required") {
        Tls::Required(params)
    } else if query.contains("tls=opportunistic") {
        Tls::Opportunistic(params)
    } else {
        return Err(
            "smtp_ca_file: set, but smtp_url asks for no TLS (use smtps:// or ?tls=required)"
                .into(),
        );
    })
}

/// The wait before attempt `attempts + 1`: doubling from `backoff_initial_ms`, capped at
/// `backoff_max_secs`, with "equal jitter" (half fixed, half random) so instances that
/// failed together do not retry together.
pub fn backoff(settings: &Settings, attempts: u32) -> chrono::Duration {
    let initial = settings.notify.backoff_initial_ms.max(1) as f64;
    let cap = (settings.notify.backoff_max_secs.max(1) * 1000) as f64;
    let exp = initial * 2f64.powi(attempts.saturating_sub(1).min(30) as i32);
    let full = exp.min(cap);
    let ms = full / 2.0 + rand::thread_rng().gen_range(0.0..=full / 2.0);
    chrono::Duration::milliseconds(ms as i64)
}

/// An SMTP error as a class and status code, never the server's text (it can echo
/// addresses back).
fn classify(e: &lettre::transport::smtp::Error) -> Outcome {
    let code = e.status().map(|c| c.to_string());
    if e.is_permanent() {
        Outcome::Permanent(format!(
            "refused by the mail server ({})",
            code.unwrap_or_else(|| "5xx".into())
        ))
    } else if e.is_transient() {
        Outcome::Transient(format!(
            "deferred by the mail server ({})",
            code.unwrap_or_else(|| "4xx".into())
        ))
    } else if e.is_timeout() {
        Outcome::Transient("timed out".into())
    } else {
        Outcome::Transient("could not reach the mail server".into())
    }
}

fn hostname_or_local() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// Counts for `/metrics`: emails by state and attempts by outcome.
pub async fn counts(db: &Db) -> Result<Vec<(String, i64)>, sea_orm::DbErr> {
    let backend = db.backend();
    let rows = db
        .conn
        .query_all(Statement::from_string(
            backend,
            "SELECT 'queued' AS k, COUNT(*) AS n FROM notification WHERE status = 'QUEUED' AND attempts = 0 \
             UNION ALL SELECT 'retrying', COUNT(*) FROM notification WHERE status = 'QUEUED' AND attempts > 0 \
             UNION ALL SELECT 'sent', COUNT(*) FROM notification WHERE status = 'SENT' \
             UNION ALL SELECT 'dead', COUNT(*) FROM notification WHERE status = 'DEAD' \
             UNION ALL SELECT 'attempts_failed', COUNT(*) FROM notification_attempt WHERE outcome = 'FAILED'",
        ))
        .await?;
    let mut out = Vec::new();
    for r in rows {
        let k: String = r.try_get("", "k")?;
        let n: i64 = r.try_get("", "n")?;
        out.push((k, n));
    }
    Ok(out)
}

/// Puts a dead-lettered email back in the queue, due now, with its attempts reset.
pub fn requeue(n: notification::Model) -> notification::ActiveModel {
    let mut row = n.into_active_model();
    row.status = Set(QUEUED.into());
    row.attempts = Set(0);
    row.next_attempt_at = Set(Utc::now());
    row.lease_until = Set(None);
    row.leased_by = Set(None);
    row.last_error = Set(None);
    row
}
