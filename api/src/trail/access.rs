//! The access log: who read which record's sensitive fields, when, why and in which request.
//!
//! Resolvers of sensitive fields note the read in the request's `AccessRecorder`; after the
//! request has executed and before its response is sent, the notes are written as one
//! access event per record, by one writer task that gathers the notes of every request
//! waiting at that moment into one transaction of multi-row INSERTs. A page of 50
//! incidents costs one statement, not 50, and many concurrent pages share one commit. If that write fails the response is withheld (INTERNAL): no sensitive
//! value leaves the server without its access being on record.
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, SubsecRound, Utc};
use sea_orm::{ActiveValue::Set, EntityTrait};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use crate::context::AppState;
use crate::db::Db;
use crate::error::{AppError, AppResult};
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
    /// An anonymous report was made in this request: nothing may tie the caller to this
    /// request, not even a last-seen time on their staff record.
    anonymous_act: std::sync::atomic::AtomicBool,
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
    pub fn mark_anonymous(&self) {
        self.anonymous_act
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn anonymous(&self) -> bool {
        self.anonymous_act
            .load(std::sync::atomic::Ordering::Relaxed)
    }

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

/// Rows per INSERT at most: well inside both databases' limits on bound values.
const CHUNK: usize = 256;

/// Rows gathered into one write at most.
const MAX_GROUP: usize = 5_000;

/// Groups written at once on PostgreSQL.
const POSTGRES_WRITERS: usize = 4;

struct Job {
    rows: Vec<access_event::ActiveModel>,
    done: oneshot::Sender<bool>,
    /// The request's statement counter: the shared write counts for each request in it.
    counter: Option<Arc<crate::db::Statements>>,
}

/// Writes access events for all requests: the notes of every request waiting at that
/// moment go out together in one transaction (on PostgreSQL, up to `POSTGRES_WRITERS` such
/// transactions at once), and each request waits for the commit of its own. Under load that is one write for many pages, and on SQLite the write turn is
/// taken by this one task rather than handed from request to request.
#[derive(Clone)]
pub struct AccessLogWriter {
    jobs: mpsc::Sender<Job>,
}

impl AccessLogWriter {
    /// Starts the writer tasks on the current runtime: one on SQLite (which writes one
    /// transaction at a time anyway), `POSTGRES_WRITERS` on PostgreSQL, so that while one
    /// group waits for its commit the next is gathered and written beside it.
    pub fn spawn(db: Db) -> Self {
        let (jobs, queue) = mpsc::channel::<Job>(1024);
        let queue = Arc::new(tokio::sync::Mutex::new(queue));
        let writers = if db.backend() == sea_orm::DbBackend::Postgres {
            POSTGRES_WRITERS
        } else {
            1
        };
        for _ in 0..writers {
            let (db, queue) = (db.clone(), queue.clone());
            tokio::spawn(async move {
                loop {
                    // The queue is held only while a group is gathered, not while it is written.
                    let group = {
                        let mut queue = queue.lock().await;
                        let Some(first) = queue.recv().await else {
                            return;
                        };
                        let mut group = vec![first];
                        let mut n = group[0].rows.len();
                        while n < MAX_GROUP {
                            match queue.try_recv() {
                                Ok(job) => {
                                    n += job.rows.len();
                                    group.push(job);
                                }
                                Err(_) => break,
                            }
                        }
                        group
                    };
                    write_group(&db, group).await;
                }
            });
        }
        Self { jobs }
    }

    async fn write(&self, rows: Vec<access_event::ActiveModel>) -> AppResult<()> {
        let (done, committed) = oneshot::channel();
        self.jobs
            .send(Job {
                rows,
                done,
                counter: crate::db::statement_counter(),
            })
            .await
            .map_err(|_| AppError::Internal("the access log writer has stopped".into()))?;
        match committed.await {
            Ok(true) => Ok(()),
            _ => Err(AppError::Internal("the access log was not written".into())),
        }
    }
}

/// Writes one group's rows in one transaction and tells each of its requests how it went.
async fn write_group(db: &Db, mut group: Vec<Job>) {
    let rows: Vec<_> = group
        .iter_mut()
        .flat_map(|j| std::mem::take(&mut j.rows))
        .collect();
    let log = group.iter().any(|j| j.counter.is_some());
    let (result, statements) = crate::db::count_statements(insert(db, rows), log).await;
    let ok = match result {
        Ok(()) => true,
        Err(e) => {
            tracing::error!(
                error = %crate::error::db_error_kind(&e),
                requests = group.len(),
                "writing the access log failed"
            );
            false
        }
    };
    for job in group {
        if let Some(c) = &job.counter {
            c.add(&statements);
        }
        let _ = job.done.send(ok);
    }
}

async fn insert(db: &Db, rows: Vec<access_event::ActiveModel>) -> Result<(), sea_orm::DbErr> {
    let tx = db.begin_write().await?;
    for chunk in rows.chunks(CHUNK) {
        // An INSERT of 1, 4, 16, 64 or 256 rows, the last row repeated to fill it and its
        // repeats ignored by their id: sqlx keeps a prepared statement for every distinct
        // SQL text on every pooled connection, and an INSERT for each group size filled
        // SQLite's connections with large statements (the server grew from 106 to 191 MB
        // under the sensitive-page load). A page of 50 is still one INSERT.
        let mut size = 1;
        while size < chunk.len() {
            size *= 4;
        }
        let last = chunk.last().cloned();
        let padded = chunk
            .iter()
            .cloned()
            .chain(std::iter::repeat_n(last, size - chunk.len()).flatten());
        access_event::Entity::insert_many(padded)
            .on_conflict(
                sea_orm::sea_query::OnConflict::column(access_event::Column::Id)
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(&*tx)
            .await?;
    }
    // No trail events here: nothing for the sealer.
    tx.commit_quiet().await
}

/// Writes the notes of one request as access events by `reader` (None for a request
/// without a token), and returns once they are committed.
pub async fn write(
    state: &AppState,
    reader: Option<&super::Actor>,
    request_id: &str,
    purpose: Option<&str>,
    notes: Vec<AccessNote>,
) -> AppResult<()> {
    if notes.is_empty() {
        return Ok(());
    }
    let (actor_id, label, roles) = match reader {
        Some(actor) => (actor.staff_id, actor.label.clone(), actor.roles.clone()),
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
    state.access_log.write(rows).await
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
