//! The LFPSE dispatcher: takes due versions from the queue under a lease, sends the
//! incident's AdverseEvent as it stands now (a POST for its first version, a PUT to
//! `<lfpse.url>/<LFPSE id>` for each later one), and records each answer. Failures worth
//! retrying (429, 5xx, 408, timeouts, connection errors) are retried with exponential
//! backoff and jitter (at least as long as a 429's `Retry-After`) until
//! `lfpse.max_attempts`, then dead-lettered; a refusal (any other 4xx) is dead-lettered at
//! once. A quality lead may retry a dead letter (`service::retry`).
//!
//! Versions of one incident go in order, one at a time: a version is taken only when no
//! earlier version of the incident is still queued and no other is under a lease, so two
//! instances never send two versions of one incident at once, and the lease (longer than
//! `lfpse.timeout_secs`, which bounds the whole exchange) means never the same version
//! twice. Many instances on PostgreSQL take disjoint batches (`FOR UPDATE SKIP LOCKED`);
//! on SQLite taking is one UPDATE under the database's write lock.
//!
//! At least once: a crash between LFPSE's answer and recording it sends the version again
//! after its lease expires (for a first version, a second POST).
//!
//! Nothing of the resource, of LFPSE's answer text, of `lfpse.url` (it may carry a key) or
//! of `lfpse.api_key` is ever logged or stored: an error keeps the HTTP status class and
//! LFPSE's issue codes only.
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use entities::{incident, lfpse_submission as submission};
use rand::Rng;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, ACCEPT, CONTENT_TYPE};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, Iterable, QueryFilter, QueryOrder,
    QuerySelect, Statement,
};
use secrecy::ExposeSecret;
use serde_json::Value;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::queue::{nothing_hash, DEAD, QUEUED, SENT, SUPERSEDED};
use crate::context::AppState;

const FHIR_JSON: &str = "application/fhir+json";
/// The `last_error` column's width.
const ERROR_MAX: usize = 300;

pub struct Dispatcher {
    state: Arc<AppState>,
    client: reqwest::Client,
    /// `lfpse.url` without a trailing slash. A secret: never logged.
    url: String,
    /// The API key header, marked sensitive (never in reqwest's debug output).
    key: Option<(HeaderName, HeaderValue)>,
    worker: String,
}

/// The outcome of one attempt, without anything of the resource or LFPSE's text.
enum Outcome {
    Sent(Accepted),
    /// Worth trying again later, not before `not_before` when LFPSE said so (429).
    Transient(String, Option<chrono::Duration>),
    /// Will never work as it is (LFPSE refused the resource).
    Permanent(String),
    /// Nothing to send: the incident is no longer reportable (declined, disposed of).
    Moot,
}

/// What LFPSE answered to an accepted version.
struct Accepted {
    method: &'static str,
    lfpse_id: Option<String>,
    lfpse_version: Option<String>,
    reference: Option<String>,
    /// The hash of the resource sent: later versions holding the same are superseded.
    hash: String,
    /// A remark kept on the row (e.g. accepted without an id), never LFPSE's text.
    note: Option<String>,
}

impl Dispatcher {
    /// None when `lfpse.url` is unset (versions wait in the queue). An error names the
    /// setting at fault.
    pub fn new(state: Arc<AppState>) -> Result<Option<Self>, String> {
        let s = &state.settings.lfpse;
        let Some(url) = s.url.as_ref() else {
            return Ok(None);
        };
        let url = url.expose_secret().trim_end_matches('/').to_string();
        let mut builder = reqwest::Client::builder()
            // A redirect would resend the resource somewhere nobody configured.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(s.timeout_secs))
            .user_agent(concat!("candour/", env!("CARGO_PKG_VERSION")));
        if let Some(ca) = &s.ca_file {
            let pem =
                std::fs::read(ca).map_err(|e| format!("lfpse.ca_file: cannot read it: {e}"))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .ok()
                .filter(|c| !c.is_empty())
                .ok_or_else(|| "lfpse.ca_file: not a PEM certificate".to_string())?;
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        let client = builder
            .build()
            .map_err(|_| "lfpse: the HTTP client could not be built".to_string())?;
        let key = match &s.api_key {
            Some(k) => {
                let name = HeaderName::from_bytes(s.api_key_header.trim().as_bytes())
                    .map_err(|_| "lfpse.api_key_header: not an HTTP header name".to_string())?;
                let mut value = HeaderValue::from_str(k.expose_secret().trim())
                    .map_err(|_| "lfpse.api_key: not a valid header value".to_string())?;
                value.set_sensitive(true);
                Some((name, value))
            }
            None => None,
        };
        let host = std::env::var("HOSTNAME")
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "localhost".into());
        let worker = format!(
            "{host}:{}:{}",
            std::process::id(),
            &Uuid::new_v4().simple().to_string()[..8]
        );
        Ok(Some(Self {
            state,
            client,
            url,
            key,
            worker,
        }))
    }

    /// Runs until `stop` is cancelled: takes due versions, sends them, sleeps until woken
    /// (a commit) or `lfpse.poll_ms` passes.
    pub async fn run(self, wake: Arc<Notify>, stop: CancellationToken) {
        tracing::info!(worker = %self.worker, "LFPSE dispatcher started");
        let settings = self.state.settings.clone();
        let poll = Duration::from_millis(settings.lfpse.poll_ms);
        loop {
            if stop.is_cancelled() {
                break;
            }
            let taken = match self.take().await {
                Ok(rows) => rows,
                Err(e) => {
                    tracing::warn!(error = %crate::error::db_error_kind(&e), "taking due LFPSE submissions failed");
                    Vec::new()
                }
            };
            let full = taken.len() as u32 >= settings.lfpse.batch;
            // Every version taken starts now, so each ends (timeout_secs) inside its lease.
            let sends = futures_util::future::join_all(taken.into_iter().map(|s| self.deliver(s)));
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
        tracing::info!(worker = %self.worker, "LFPSE dispatcher stopped");
    }

    /// Leases up to `lfpse.batch` due versions to this worker: each the earliest queued
    /// version of its incident, with no other version of the incident under a lease.
    async fn take(&self) -> Result<Vec<submission::Model>, sea_orm::DbErr> {
        let settings = &self.state.settings.lfpse;
        let db = &self.state.db;
        let now = Utc::now();
        let until = now + chrono::Duration::seconds(settings.lease_secs as i64);
        let batch = i64::from(settings.batch);
        let backend = db.backend();
        // The columns by name, never `*` (see notify::dispatch).
        let columns = submission::Column::iter()
            .map(|c| format!("\"{}\"", sea_orm::IdenStatic::as_str(&c)))
            .collect::<Vec<_>>()
            .join(", ");
        let due = |p: &dyn Fn(usize) -> String| {
            format!(
                "s.status = 'QUEUED' AND s.next_attempt_at <= {now} \
                 AND (s.lease_until IS NULL OR s.lease_until < {now}) \
                 AND NOT EXISTS (SELECT 1 FROM lfpse_submission e \
                   WHERE e.incident_id = s.incident_id AND e.status = 'QUEUED' AND e.id <> s.id \
                     AND (e.seq < s.seq OR e.lease_until >= {now}))",
                now = p(3)
            )
        };
        let stmt = match backend {
            DbBackend::Postgres => Statement::from_sql_and_values(
                backend,
                // SKIP LOCKED: instances racing for the same rows each take different ones.
                format!(
                    "UPDATE lfpse_submission SET lease_until = $1, leased_by = $2 \
                     WHERE id IN (SELECT s.id FROM lfpse_submission s WHERE {} \
                       ORDER BY s.next_attempt_at LIMIT $4 FOR UPDATE OF s SKIP LOCKED) \
                     RETURNING {columns}",
                    due(&|n| format!("${n}"))
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
                    "UPDATE lfpse_submission SET lease_until = ?1, leased_by = ?2 \
                     WHERE id IN (SELECT s.id FROM lfpse_submission s WHERE {} \
                       ORDER BY s.next_attempt_at LIMIT ?4) \
                     RETURNING {columns}",
                    due(&|n| format!("?{n}"))
                ),
                [
                    until.into(),
                    self.worker.clone().into(),
                    now.into(),
                    batch.into(),
                ],
            ),
        };
        let tx = db.begin_write().await?;
        let rows = submission::Entity::find()
            .from_raw_sql(stmt)
            .all(&*tx)
            .await?;
        tx.commit_quiet().await?;
        Ok(rows)
    }

    async fn deliver(&self, row: submission::Model) {
        let outcome = match self.attempt(&row).await {
            Ok(o) => o,
            Err(e) => Outcome::Transient(
                format!(
                    "could not prepare the resource ({})",
                    crate::error::db_error_kind(&e)
                ),
                None,
            ),
        };
        if let Err(e) = self.record(&row, outcome).await {
            // The lease runs out and the version is tried again: at least once.
            tracing::warn!(
                submission = %row.id,
                error = %crate::error::db_error_kind(&e),
                "recording an LFPSE submission failed"
            );
        }
    }

    /// Renders the incident as it stands and sends it.
    async fn attempt(&self, row: &submission::Model) -> Result<Outcome, sea_orm::DbErr> {
        let conn = &self.state.db.conn;
        let Some(m) = incident::Entity::find_by_id(row.incident_id)
            .one(conn)
            .await?
        else {
            return Ok(Outcome::Moot);
        };
        let resource = match super::render(conn, &self.state, &m).await {
            Ok(Some(r)) => r,
            Ok(None) => return Ok(Outcome::Moot),
            Err(_) => {
                return Ok(Outcome::Transient(
                    "the resource could not be rendered".into(),
                    None,
                ))
            }
        };
        let hash = super::content_hash(&resource);
        // The LFPSE id its first accepted version was given, if any: later ones update it.
        let earlier: Option<(Option<String>, Option<String>)> = submission::Entity::find()
            .select_only()
            .column(submission::Column::LfpseId)
            .column(submission::Column::Reference)
            .filter(submission::Column::IncidentId.eq(row.incident_id))
            .filter(submission::Column::Status.eq(SENT))
            .filter(submission::Column::LfpseId.is_not_null())
            .order_by_desc(submission::Column::Seq)
            .limit(1)
            .into_tuple()
            .one(conn)
            .await?;
        let (lfpse_id, reference) = earlier.unwrap_or((None, None));
        Ok(self.exchange(resource, hash, lfpse_id, reference).await)
    }

    async fn exchange(
        &self,
        mut resource: Value,
        hash: String,
        lfpse_id: Option<String>,
        earlier_reference: Option<String>,
    ) -> Outcome {
        let (method, request) = match &lfpse_id {
            Some(id) => {
                // An FHIR update carries the id it updates.
                if let Some(map) = resource.as_object_mut() {
                    map.insert("id".into(), Value::String(id.clone()));
                }
                ("UPDATE", self.client.put(format!("{}/{id}", self.url)))
            }
            None => ("CREATE", self.client.post(&self.url)),
        };
        let mut request = request
            .header(CONTENT_TYPE, FHIR_JSON)
            .header(ACCEPT, FHIR_JSON)
            .body(serde_json::to_vec(&resource).unwrap_or_default());
        if let Some((name, value)) = &self.key {
            request = request.header(name.clone(), value.clone());
        }
        let limit = Duration::from_secs(self.state.settings.lfpse.timeout_secs);
        // reqwest's own timeout also covers the whole exchange; this one bounds reading the
        // body too, inside the lease (lease_secs > timeout_secs).
        let exchange = async {
            let response = request.send().await?;
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let body = response.bytes().await?;
            Ok::<_, reqwest::Error>((status, headers, body))
        };
        let (status, headers, body) = match tokio::time::timeout(limit, exchange).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(e)) if e.is_timeout() => {
                return Outcome::Transient(format!("timed out after {}s", limit.as_secs()), None)
            }
            Ok(Err(e)) if e.is_connect() => {
                return Outcome::Transient("could not reach LFPSE".into(), None)
            }
            // reqwest's errors name the URL: only the class is kept.
            Ok(Err(_)) => return Outcome::Transient("the exchange with LFPSE failed".into(), None),
            Err(_) => {
                return Outcome::Transient(format!("timed out after {}s", limit.as_secs()), None)
            }
        };
        let json: Option<Value> = serde_json::from_slice(&body).ok();
        match status {
            200..=299 => {
                let mut a = accepted(json.as_ref(), &headers);
                a.method = method;
                a.hash = hash;
                if a.lfpse_id.is_none() {
                    a.lfpse_id = lfpse_id;
                    if method == "CREATE" {
                        a.note = Some(
                            "accepted, but LFPSE returned no resource id: the next version is created anew"
                                .into(),
                        );
                    }
                }
                if a.reference.is_none() {
                    a.reference = earlier_reference;
                }
                Outcome::Sent(a)
            }
            429 => Outcome::Transient(
                error_text("rate limited by LFPSE", status, json.as_ref()),
                retry_after(&headers),
            ),
            408 | 500..=599 => {
                Outcome::Transient(error_text("LFPSE unavailable", status, json.as_ref()), None)
            }
            400..=499 => Outcome::Permanent(error_text("refused by LFPSE", status, json.as_ref())),
            _ => Outcome::Permanent(error_text(
                "unexpected answer from LFPSE",
                status,
                json.as_ref(),
            )),
        }
    }

    async fn record(
        &self,
        row: &submission::Model,
        outcome: Outcome,
    ) -> Result<(), sea_orm::DbErr> {
        let settings = &self.state.settings.lfpse;
        let now = Utc::now();
        let attempts = row.attempts + 1;
        let max = settings.max_attempts as i32;
        let mut update = submission::Entity::update_many()
            .col_expr(
                submission::Column::LeaseUntil,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .col_expr(
                submission::Column::LeasedBy,
                Expr::value(Option::<String>::None),
            );
        let (status, error) = match &outcome {
            Outcome::Sent(a) => {
                update = update
                    .col_expr(submission::Column::Attempts, Expr::value(attempts))
                    .col_expr(submission::Column::SubmittedAt, Expr::value(Some(now)))
                    .col_expr(
                        submission::Column::Method,
                        Expr::value(Some(a.method.to_string())),
                    )
                    .col_expr(submission::Column::LfpseId, Expr::value(a.lfpse_id.clone()))
                    .col_expr(
                        submission::Column::LfpseVersion,
                        Expr::value(a.lfpse_version.clone()),
                    )
                    .col_expr(
                        submission::Column::Reference,
                        Expr::value(a.reference.clone()),
                    );
                (SENT, a.note.clone())
            }
            Outcome::Permanent(e) => {
                update = update.col_expr(submission::Column::Attempts, Expr::value(attempts));
                (DEAD, Some(e.clone()))
            }
            Outcome::Transient(e, _) if attempts >= max => {
                update = update.col_expr(submission::Column::Attempts, Expr::value(attempts));
                (DEAD, Some(e.clone()))
            }
            Outcome::Transient(e, not_before) => {
                let mut wait = backoff(settings, attempts as u32);
                if let Some(n) = not_before {
                    wait = wait.max(*n);
                }
                update = update
                    .col_expr(submission::Column::Attempts, Expr::value(attempts))
                    .col_expr(submission::Column::NextAttemptAt, Expr::value(now + wait));
                (QUEUED, Some(e.clone()))
            }
            Outcome::Moot => {
                // It held nothing when its turn came (see queue::nothing_hash).
                update =
                    update.col_expr(submission::Column::ContentHash, Expr::value(nothing_hash()));
                (SUPERSEDED, None)
            }
        };
        let error = error.map(|e| truncate(e, ERROR_MAX));
        update = update
            .col_expr(submission::Column::Status, Expr::value(status))
            .col_expr(submission::Column::LastError, Expr::value(error.clone()));
        let tx = self.state.db.begin_write().await?;
        // Only while the version is still ours: if our lease ran out and another dispatcher
        // took it over, its outcome is the one that counts.
        let held = update
            .filter(submission::Column::Id.eq(row.id))
            .filter(submission::Column::LeasedBy.eq(self.worker.clone()))
            .filter(submission::Column::Status.eq(QUEUED))
            .exec(&*tx)
            .await?
            .rows_affected
            == 1;
        if held {
            if let Outcome::Sent(a) = &outcome {
                supersede(&*tx, row, &a.hash).await?;
            }
        }
        tx.commit_quiet().await?;
        if !held {
            tracing::info!(
                submission = %row.id,
                "an LFPSE attempt finished after another dispatcher took the version over"
            );
            return Ok(());
        }
        match status {
            SENT => tracing::info!(
                submission = %row.id,
                version = row.seq,
                attempts,
                "LFPSE submission accepted"
            ),
            DEAD => tracing::warn!(
                submission = %row.id,
                version = row.seq,
                attempts,
                error = error.as_deref().unwrap_or(""),
                "LFPSE submission dead-lettered"
            ),
            SUPERSEDED => tracing::info!(
                submission = %row.id,
                version = row.seq,
                "LFPSE submission not sent: the incident is no longer reportable"
            ),
            _ => tracing::info!(
                submission = %row.id,
                version = row.seq,
                attempts,
                error = error.as_deref().unwrap_or(""),
                "LFPSE submission will be retried"
            ),
        }
        Ok(())
    }
}

/// After `sent` was accepted holding `hash`: the incident's other versions that LFPSE need
/// no longer receive are superseded. Those are the earlier dead letters (LFPSE now holds
/// newer content) and the later queued or dead versions up to the last one that held what
/// was sent (the resource is rendered when it is sent, so it carried every change up to
/// that version; a version queued after a change made during the send stays queued).
async fn supersede<C: ConnectionTrait>(
    conn: &C,
    sent: &submission::Model,
    hash: &str,
) -> Result<(), sea_orm::DbErr> {
    let same: Option<Option<i32>> = submission::Entity::find()
        .select_only()
        .column_as(submission::Column::Seq.max(), "seq")
        .filter(submission::Column::IncidentId.eq(sent.incident_id))
        .filter(submission::Column::ContentHash.eq(hash))
        .into_tuple()
        .one(conn)
        .await?;
    let upto = same.flatten().unwrap_or(sent.seq).max(sent.seq);
    submission::Entity::update_many()
        .col_expr(submission::Column::Status, Expr::value(SUPERSEDED))
        .col_expr(
            submission::Column::LeaseUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(
            submission::Column::LeasedBy,
            Expr::value(Option::<String>::None),
        )
        .filter(submission::Column::IncidentId.eq(sent.incident_id))
        .filter(submission::Column::Id.ne(sent.id))
        .filter(submission::Column::Seq.lte(upto))
        .filter(
            sea_orm::Condition::any()
                .add(submission::Column::Status.eq(DEAD))
                .add(
                    sea_orm::Condition::all()
                        .add(submission::Column::Status.eq(QUEUED))
                        .add(submission::Column::Seq.gt(sent.seq)),
                ),
        )
        .exec(conn)
        .await?;
    Ok(())
}

/// What a 2xx answer says: the resource's id, its `meta.versionId` and the national
/// reference number, from the AdverseEvent returned or else from the `Location` header
/// (`…/AdverseEvent/<id>/_history/<version>`).
fn accepted(json: Option<&Value>, headers: &HeaderMap) -> Accepted {
    let mut a = Accepted {
        method: "CREATE",
        lfpse_id: None,
        lfpse_version: None,
        reference: None,
        hash: String::new(),
        note: None,
    };
    if let Some(r) = json.filter(|j| j["resourceType"] == "AdverseEvent") {
        a.lfpse_id = r["id"].as_str().filter(is_fhir_id).map(str::to_string);
        a.lfpse_version = r["meta"]["versionId"]
            .as_str()
            .filter(is_fhir_id)
            .map(|s| truncate(s.to_string(), 40));
        a.reference = reference_number(r);
    }
    if a.lfpse_id.is_none() {
        let location = headers
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let parts: Vec<&str> = location.split('/').collect();
        if let Some(i) = parts.iter().rposition(|p| *p == "AdverseEvent") {
            a.lfpse_id = parts
                .get(i + 1)
                .filter(|s| is_fhir_id(s))
                .map(|s| s.to_string());
            if parts.get(i + 2) == Some(&"_history") && a.lfpse_version.is_none() {
                a.lfpse_version = parts
                    .get(i + 3)
                    .filter(|s| is_fhir_id(s))
                    .map(|s| truncate(s.to_string(), 40));
            }
        }
    }
    a
}

/// The national reference number: the `ReferenceNumber` sub-extension of the extension
/// whose url ends with `adverse-event-reference-metadata-<taxonomy version>`, wherever it
/// stands among the extensions.
pub fn reference_number(resource: &Value) -> Option<String> {
    resource["extension"]
        .as_array()?
        .iter()
        .filter(|e| {
            e["url"].as_str().is_some_and(|u| {
                u.rsplit_once("adverse-event-reference-metadata-")
                    .is_some_and(|(_, v)| !v.is_empty() && v.chars().all(|c| c.is_ascii_digit()))
            })
        })
        .filter_map(|e| e["extension"].as_array())
        .flatten()
        .find(|sub| sub["url"] == "ReferenceNumber")
        .and_then(|sub| sub["valueString"].as_str())
        .map(str::trim)
        .filter(|r| {
            !r.is_empty()
                && r.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_/.".contains(c))
        })
        .map(|r| truncate(r.to_string(), 60))
}

/// An FHIR id: 1 to 64 letters, digits, `-` and `.` (it goes into the PUT's path).
fn is_fhir_id(s: &&str) -> bool {
    (1..=64).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
}

/// A failure as its class, the HTTP status and LFPSE's issue codes (`issue[].code`,
/// `issue[].details.coding[].code`), never `details.text` or `diagnostics`: they may echo
/// the resource's free text back.
fn error_text(class: &str, status: u16, body: Option<&Value>) -> String {
    let mut codes: Vec<String> = Vec::new();
    if let Some(issues) = body
        .filter(|b| b["resourceType"] == "OperationOutcome")
        .and_then(|b| b["issue"].as_array())
    {
        for issue in issues {
            let detail: Vec<String> = issue["details"]["coding"]
                .as_array()
                .map(|c| {
                    c.iter()
                        .filter_map(|c| c["code"].as_str())
                        .filter_map(code)
                        .collect()
                })
                .unwrap_or_default();
            let kind = issue["code"].as_str().and_then(code);
            let text = match (kind, detail.is_empty()) {
                (Some(k), true) => k,
                (Some(k), false) => format!("{k} {}", detail.join(" ")),
                (None, false) => detail.join(" "),
                (None, true) => continue,
            };
            if !codes.contains(&text) {
                codes.push(text);
            }
        }
    }
    let mut out = format!("{class} (HTTP {status})");
    if !codes.is_empty() {
        out.push_str(": ");
        out.push_str(&codes.join(", "));
    }
    truncate(out, ERROR_MAX)
}

/// A code as LFPSE sent it, if it looks like a code (letters, digits, `-_.:`, at most 64).
fn code(c: &str) -> Option<String> {
    let c = c.trim();
    ((1..=64).contains(&c.len())
        && c.chars()
            .all(|ch| ch.is_ascii_alphanumeric() || "-_.:".contains(ch)))
    .then(|| c.to_string())
}

/// A 429's `Retry-After`: seconds, or an HTTP date; at most a day.
fn retry_after(headers: &HeaderMap) -> Option<chrono::Duration> {
    let v = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    let secs = match v.parse::<i64>() {
        Ok(s) => s,
        Err(_) => {
            (DateTime::parse_from_rfc2822(v).ok()?.with_timezone(&Utc) - Utc::now()).num_seconds()
        }
    };
    Some(chrono::Duration::seconds(secs.clamp(0, 86_400)))
}

/// The wait before attempt `attempts + 1`: doubling from `backoff_initial_ms`, capped at
/// `backoff_max_secs`, with "equal jitter" (half fixed, half random) so instances that
/// failed together do not retry together.
pub fn backoff(settings: &crate::config::Lfpse, attempts: u32) -> chrono::Duration {
    let initial = settings.backoff_initial_ms.max(1) as f64;
    let cap = (settings.backoff_max_secs.max(1) * 1000) as f64;
    let exp = initial * 2f64.powi(attempts.saturating_sub(1).min(30) as i32);
    let full = exp.min(cap);
    let ms = full / 2.0 + rand::thread_rng().gen_range(0.0..=full / 2.0);
    chrono::Duration::milliseconds(ms as i64)
}

fn truncate(mut s: String, max: usize) -> String {
    if s.len() > max {
        let cut = (0..=max)
            .rev()
            .find(|i| s.is_char_boundary(*i))
            .unwrap_or(0);
        s.truncate(cut);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_reference_number_is_found_whichever_extension_carries_it() {
        let r = json!({
            "resourceType": "AdverseEvent",
            "extension": [
                { "url": "https://x/taxonomy/fhir/StructureDefinition/adverse-event-reference-metadata-5",
                  "extension": [ { "url": "ReferenceNumber", "valueString": "PSE-2026-0001" } ] },
                { "url": "https://x/taxonomy/fhir/StructureDefinition/adverse-event-governance-5",
                  "extension": [ { "url": "DutyOfCandour", "valueBoolean": true } ] }
            ]
        });
        assert_eq!(reference_number(&r).as_deref(), Some("PSE-2026-0001"));
        assert_eq!(reference_number(&json!({ "extension": [] })), None);
    }

    #[test]
    fn errors_keep_the_codes_and_never_the_words() {
        let body = json!({
            "resourceType": "OperationOutcome",
            "issue": [
                { "severity": "error", "code": "invalid",
                  "details": { "coding": [ { "code": "VE-0042" } ], "text": "Patient fell from trolley" },
                  "diagnostics": "Patient fell from trolley in corridor" },
                { "severity": "error", "code": "a code with spaces is no code" }
            ]
        });
        let e = error_text("refused by LFPSE", 400, Some(&body));
        assert_eq!(e, "refused by LFPSE (HTTP 400): invalid VE-0042");
        assert!(!e.contains("trolley"));
    }

    #[test]
    fn an_id_and_version_come_from_location_when_the_body_has_none() {
        let mut h = HeaderMap::new();
        h.insert(
            reqwest::header::LOCATION,
            HeaderValue::from_static("https://l/adverse-event/fhir/AdverseEvent/abc-1/_history/2"),
        );
        let a = accepted(None, &h);
        assert_eq!(a.lfpse_id.as_deref(), Some("abc-1"));
        assert_eq!(a.lfpse_version.as_deref(), Some("2"));
    }

    #[test]
    fn retry_after_reads_seconds() {
        let mut h = HeaderMap::new();
        h.insert(reqwest::header::RETRY_AFTER, HeaderValue::from_static("3"));
        assert_eq!(retry_after(&h), Some(chrono::Duration::seconds(3)));
    }
}
