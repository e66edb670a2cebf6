//! Attachments' rules with their I/O: receiving an upload, attaching it to a record,
//! removing it, deciding who may open it, and disposing of it with its record.
use chrono::{DateTime, Duration, SubsecRound, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use uuid::Uuid;

use super::rules;
use super::store::{self, ChunkWriter};
use crate::auth::Scope;
use crate::context::{AppState, RequestCtx};
use crate::error::{AppError, AppResult};
use crate::record::text::{self, reason};
use crate::trail::{self, Actor, Diff};
use entities::{attachment, audit_finding, corrective_action, improvement_project, incident};

/// The records that carry attachments, named as the trail and the access log name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnerKind {
    Incident,
    CorrectiveAction,
    AuditFinding,
    ImprovementProject,
}

impl OwnerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Incident => "Incident",
            Self::CorrectiveAction => "CorrectiveAction",
            Self::AuditFinding => "AuditFinding",
            Self::ImprovementProject => "ImprovementProject",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Incident,
            Self::CorrectiveAction,
            Self::AuditFinding,
            Self::ImprovementProject,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// Where a file's scan stands (stored as these names).
pub mod scan_status {
    pub const AWAITING: &str = "AWAITING_SCAN";
    pub const CLEAN: &str = "CLEAN";
    pub const INFECTED: &str = "INFECTED";
    pub const NOT_SCANNED: &str = "NOT_SCANNED";
}

/// What the caller may do with one record's attachments.
#[derive(Debug, Clone, Copy, Default)]
pub struct Rights {
    /// List them and open them (each opening is in the access log).
    pub see: bool,
    /// Attach more.
    pub attach: bool,
    /// Remove one, with a reason.
    pub remove: bool,
}

/// A record that carries attachments, as the caller may use it.
pub struct Owner {
    pub kind: OwnerKind,
    pub id: Uuid,
    pub rights: Rights,
    /// The patient's look-up hash, so an opening is found by a subject-access report.
    pub patient_key: Option<String>,
    /// A read from a break-glass grant (logged as such).
    pub break_glass: bool,
}

/// The keyed hash naming an uploader while their file is not yet attached.
fn uploader_key(state: &AppState, rc: &RequestCtx) -> AppResult<String> {
    let p = rc.principal()?;
    Ok(state.keys.keyed_hash("attachment uploader", &p.subject))
}

/// Who may upload: every signed-in person (they attach to what they may), and service
/// accounts that may write incidents.
fn may_upload(rc: &RequestCtx) -> AppResult<()> {
    let p = rc.principal()?;
    if p.is_service()
        && !(p.has_scope(Scope::IncidentsWrite) || p.has_scope(Scope::IncidentsManage))
    {
        return Err(AppError::forbidden(
            "uploading files needs the incidents:write scope",
        ));
    }
    Ok(())
}

fn too_large(max: u64) -> AppError {
    AppError::invalid(
        "file",
        format!("the file is larger than the {} taken", human_size(max)),
    )
    .because(reason::TOO_LONG)
}

pub fn human_size(bytes: u64) -> String {
    if bytes >= 1024 * 1024 && bytes.is_multiple_of(1024 * 1024) {
        format!("{} MiB", bytes / (1024 * 1024))
    } else if bytes >= 1024 * 1024 {
        format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
    } else {
        format!("{} KiB", bytes.div_ceil(1024))
    }
}

/// Checks an upload before its body is read: who sends it, its declared length and name.
pub fn check_upload(
    state: &AppState,
    rc: &RequestCtx,
    declared_len: Option<u64>,
    file_name: Option<&str>,
) -> AppResult<()> {
    may_upload(rc)?;
    let max = state.settings.attachments.max_bytes;
    if declared_len.is_some_and(|n| n > max) {
        return Err(too_large(max));
    }
    if declared_len == Some(0) {
        return Err(AppError::invalid("file", "the file is empty"));
    }
    if file_name.is_some_and(|n| n.chars().count() > 1000) {
        return Err(text::too_long("fileName", 1000));
    }
    Ok(())
}

/// Receives an upload's bytes from `body` and stores them sealed: not yet attached to any
/// record, visible to nobody but the uploader (who attaches it by its id). On any refusal
/// or failure what was written is deleted again.
pub async fn receive<S, E>(
    state: &AppState,
    rc: &RequestCtx,
    file_name: Option<&str>,
    mut body: S,
) -> AppResult<attachment::Model>
where
    S: futures_util::Stream<Item = Result<actix_web::web::Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    use futures_util::StreamExt;
    let settings = &state.settings.attachments;
    let max = settings.max_bytes;
    let key = uploader_key(state, rc)?;
    let broken = |e: E| {
        tracing::info!(error = %e, "upload broken off");
        AppError::invalid("file", "the upload was broken off before it ended")
    };
    // The first bytes decide the type: nothing is stored before they are read.
    let mut head: Vec<u8> = Vec::new();
    let mut ended = false;
    while head.len() < rules::SNIFF_BYTES {
        match body.next().await {
            Some(chunk) => head.extend_from_slice(&chunk.map_err(broken)?),
            None => {
                ended = true;
                break;
            }
        }
        if head.len() as u64 > max {
            return Err(too_large(max));
        }
    }
    if head.is_empty() {
        return Err(AppError::invalid("file", "the file is empty"));
    }
    let mime = rules::sniff(&head, &settings.allowed_types)
        .map_err(|m| AppError::invalid("file", m).because(reason::NOT_ALLOWED))?;
    let photo = rules::is_photo(mime);
    if photo {
        // A photo is read whole (up to its own limit) and cleaned before anything is kept.
        let limit = rules::max_photo_bytes(settings);
        while !ended {
            match body.next().await {
                Some(chunk) => {
                    head.extend_from_slice(&chunk.map_err(broken)?);
                    if head.len() as u64 > limit {
                        return Err(too_large(limit));
                    }
                }
                None => ended = true,
            }
        }
    }
    let (first, removed) = if photo {
        let (clean, removed) = super::strip::strip(mime, head.into())
            .map_err(|m| AppError::invalid("file", m).because(reason::MALFORMED))?;
        (clean.to_vec(), removed)
    } else {
        (head, Vec::new())
    };
    let id = Uuid::now_v7();
    let now = Utc::now().trunc_subsecs(6);
    let row = attachment::Model {
        id,
        owner_type: None,
        owner_id: None,
        uploader_key: Some(key),
        uploaded_by: None,
        file_name: rules::file_name(file_name.unwrap_or_default(), mime),
        content_type: mime.to_string(),
        size_bytes: 0,
        sha256: String::new(),
        chunk_count: 0,
        key_id: state.keys.current_key_id().to_string(),
        complete: false,
        scan_status: scan_status::AWAITING.into(),
        scan_signature: None,
        scan_attempts: 0,
        scan_after: None,
        scanned_at: None,
        metadata_removed: removed.join(", "),
        created_at: now,
        attached_at: None,
        removed_at: None,
        removed_by: None,
        removal_reason: None,
        disposed_at: None,
    };
    {
        let _turn = state.db.write_turn().await;
        attachment::Entity::insert(sea_orm::IntoActiveModel::into_active_model(row.clone()))
            .exec(&state.db.conn)
            .await?;
    }
    let stored = async {
        let mut writer = ChunkWriter::new(id, &state.keys);
        writer.push(&state.db, &first).await?;
        drop(first);
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(broken)?;
            if writer.size() + chunk.len() as u64 > max {
                return Err(too_large(max));
            }
            writer.push(&state.db, &chunk).await?;
        }
        let (size, sha256, chunks) = writer.finish(&state.db).await?;
        let status = if state.settings.attachments.scanner.is_some() {
            scan_status::AWAITING
        } else {
            scan_status::NOT_SCANNED
        };
        let _turn = state.db.write_turn().await;
        attachment::Entity::update_many()
            .col_expr(attachment::Column::SizeBytes, Expr::value(size as i64))
            .col_expr(attachment::Column::Sha256, Expr::value(sha256))
            .col_expr(attachment::Column::ChunkCount, Expr::value(chunks))
            .col_expr(attachment::Column::Complete, Expr::value(true))
            .col_expr(attachment::Column::ScanStatus, Expr::value(status))
            .filter(attachment::Column::Id.eq(id))
            .exec(&state.db.conn)
            .await?;
        Ok::<_, AppError>(())
    }
    .await;
    if let Err(e) = stored {
        // Nothing of a refused upload is kept. Should this delete fail too, the sweeper
        // removes the incomplete upload within the hour.
        let _turn = state.db.write_turn().await;
        if let Err(d) = attachment::Entity::delete_by_id(id)
            .exec(&state.db.conn)
            .await
        {
            tracing::warn!(error = %crate::error::db_error_kind(&d), "an incomplete upload was left for the sweeper");
        }
        return Err(e);
    }
    if state.settings.attachments.scanner.is_some() {
        state.scan_wake.notify_one();
    }
    attachment::Entity::find_by_id(id)
        .one(&state.db.conn)
        .await?
        .ok_or_else(|| AppError::Internal("upload vanished".into()))
}

/// Attaches the caller's uploads `ids` to a record, in the change's transaction `conn`.
/// The caller has already been found to have the right to attach. `anonymous`: the
/// record is an anonymous report, so the files keep nothing that could name the reporter.
#[allow(clippy::too_many_arguments)]
pub async fn attach_in<C: ConnectionTrait>(
    conn: &C,
    state: &AppState,
    rc: &RequestCtx,
    actor: &Actor,
    kind: OwnerKind,
    owner_id: Uuid,
    ids: &[Uuid],
    anonymous: bool,
) -> AppResult<Vec<attachment::Model>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let field = "attachmentIds";
    let mut unique = ids.to_vec();
    unique.sort();
    unique.dedup();
    if unique.len() != ids.len() {
        return Err(AppError::invalid(field, "a file is listed twice").because(reason::DUPLICATE));
    }
    let settings = &state.settings.attachments;
    let present = attachment::Entity::find()
        .filter(attachment::Column::OwnerType.eq(kind.as_str()))
        .filter(attachment::Column::OwnerId.eq(owner_id))
        .filter(attachment::Column::RemovedAt.is_null())
        .count(conn)
        .await?;
    if present + ids.len() as u64 > u64::from(settings.max_per_record) {
        return Err(AppError::invalid(
            field,
            format!(
                "a record carries at most {} files (it has {present})",
                settings.max_per_record
            ),
        )
        .because(reason::TOO_LONG)
        .limit(settings.max_per_record as usize));
    }
    let key = uploader_key(state, rc)?;
    let rows = attachment::Entity::find()
        .filter(attachment::Column::Id.is_in(ids.iter().copied()))
        .all(conn)
        .await?;
    let unknown = || {
        AppError::invalid(field, "no such upload of yours waiting to be attached")
            .because(reason::UNKNOWN)
    };
    if rows.len() != ids.len() {
        return Err(unknown());
    }
    for m in &rows {
        if m.owner_id.is_some() || m.uploader_key.as_deref() != Some(key.as_str()) || !m.complete {
            return Err(unknown());
        }
        if m.scan_status == scan_status::INFECTED {
            return Err(AppError::invalid(
                field,
                "the virus scanner refused this file; it was destroyed",
            )
            .because(reason::NOT_ALLOWED));
        }
        if anonymous && !rules::anonymous_may_carry(&m.content_type) {
            return Err(AppError::invalid(
                field,
                format!(
                    "an anonymous report may carry photos only ({}): documents keep their author's name inside them",
                    rules::anonymous_types().join(", ")
                ),
            )
            .because(reason::NOT_ALLOWED));
        }
    }
    let now = Utc::now().trunc_subsecs(6);
    let staff = if anonymous { None } else { actor.staff_id };
    let mut attached = Vec::with_capacity(rows.len());
    // In the order the caller listed them, so anonymous names are numbered as chosen.
    for (n, id) in ids.iter().enumerate() {
        let Some(m) = rows.iter().find(|m| m.id == *id) else {
            continue;
        };
        let name = if anonymous {
            rules::anonymous_name(present as usize + n + 1, &m.content_type)
        } else {
            m.file_name.clone()
        };
        // Conditional on the upload still waiting: a twin request attaching the same file
        // finds it gone and is refused whole.
        let r = attachment::Entity::update_many()
            .col_expr(attachment::Column::OwnerType, Expr::value(kind.as_str()))
            .col_expr(attachment::Column::OwnerId, Expr::value(owner_id))
            .col_expr(
                attachment::Column::UploaderKey,
                Expr::value(Option::<String>::None),
            )
            .col_expr(attachment::Column::UploadedBy, Expr::value(staff))
            .col_expr(attachment::Column::FileName, Expr::value(name.clone()))
            // An anonymous report's file says nothing about when its reporter was busy
            // uploading: it is dated with the report.
            .col_expr(
                attachment::Column::CreatedAt,
                Expr::value(if anonymous { now } else { m.created_at }),
            )
            .col_expr(attachment::Column::AttachedAt, Expr::value(Some(now)))
            .filter(attachment::Column::Id.eq(m.id))
            .filter(attachment::Column::OwnerId.is_null())
            .exec(conn)
            .await?;
        if r.rows_affected != 1 {
            return Err(unknown());
        }
        attached.push(attachment::Model {
            owner_type: Some(kind.as_str().into()),
            owner_id: Some(owner_id),
            uploader_key: None,
            uploaded_by: staff,
            file_name: name,
            created_at: if anonymous { now } else { m.created_at },
            attached_at: Some(now),
            ..m.clone()
        });
    }
    let mut diff = Diff::new();
    diff.field(
        "attachments",
        serde_json::Value::Null,
        serde_json::json!(attached
            .iter()
            .map(|m| serde_json::json!({
                "id": crate::record::ids::encode(crate::record::ids::Kind::Attachment, m.id).to_string(),
                "contentType": m.content_type,
                "size": m.size_bytes,
                "sha256": m.sha256,
            }))
            .collect::<Vec<_>>()),
    );
    trail::record(
        conn,
        rc,
        actor,
        kind.as_str(),
        owner_id,
        "attachment.added",
        diff,
    )
    .await?;
    Ok(attached)
}

/// Locks the record a change of attachments is made to, so that counts are checked
/// against a record nobody else is changing.
async fn lock_owner<C: ConnectionTrait>(conn: &C, kind: OwnerKind, id: Uuid) -> AppResult<()> {
    let found = match kind {
        OwnerKind::Incident => {
            incident::Entity::find_by_id(id)
                .select_only()
                .column(incident::Column::Id)
                .lock_exclusive()
                .into_tuple::<Uuid>()
                .one(conn)
                .await?
        }
        OwnerKind::CorrectiveAction => {
            corrective_action::Entity::find_by_id(id)
                .select_only()
                .column(corrective_action::Column::Id)
                .lock_exclusive()
                .into_tuple::<Uuid>()
                .one(conn)
                .await?
        }
        OwnerKind::AuditFinding => {
            audit_finding::Entity::find_by_id(id)
                .select_only()
                .column(audit_finding::Column::Id)
                .lock_exclusive()
                .into_tuple::<Uuid>()
                .one(conn)
                .await?
        }
        OwnerKind::ImprovementProject => {
            improvement_project::Entity::find_by_id(id)
                .select_only()
                .column(improvement_project::Column::Id)
                .lock_exclusive()
                .into_tuple::<Uuid>()
                .one(conn)
                .await?
        }
    };
    found.map(|_| ()).ok_or(AppError::NotFound("record"))
}

/// Attaches the caller's uploads to a record, once `owners` has found they may.
pub async fn attach_to(
    state: &AppState,
    rc: &RequestCtx,
    owner: &Owner,
    ids: &[Uuid],
) -> AppResult<Vec<attachment::Model>> {
    let tx = state.db.begin_write().await?;
    lock_owner(&*tx, owner.kind, owner.id).await?;
    let actor = Actor::of(rc.principal()?, rc.staff_in(state, &*tx).await?);
    let attached = attach_in(&*tx, state, rc, &actor, owner.kind, owner.id, ids, false).await?;
    tx.commit().await?;
    Ok(attached)
}

/// Removes a file from its record with a reason (checked), once `owners` has found the
/// caller may: its bytes are deleted at once, its row stays as the record that it was
/// there and why it went.
pub async fn remove_from(
    state: &AppState,
    rc: &RequestCtx,
    owner: &Owner,
    id: Uuid,
    why: String,
) -> AppResult<attachment::Model> {
    let (kind, owner_id) = (owner.kind, owner.id);
    let tx = state.db.begin_write().await?;
    lock_owner(&*tx, kind, owner_id).await?;
    let m = attachment::Entity::find_by_id(id)
        .lock_exclusive()
        .one(&*tx)
        .await?
        .ok_or(AppError::NotFound("attachment"))?;
    if m.removed_at.is_some() {
        return Err(AppError::Duplicate("the file was removed already".into()));
    }
    let now = Utc::now().trunc_subsecs(6);
    let staff = rc.staff_in(state, &*tx).await?;
    let actor = Actor::of(rc.principal()?, staff);
    store::delete_chunks(&*tx, id).await?;
    attachment::Entity::update_many()
        .col_expr(attachment::Column::RemovedAt, Expr::value(Some(now)))
        .col_expr(attachment::Column::RemovedBy, Expr::value(staff))
        .col_expr(
            attachment::Column::RemovalReason,
            Expr::value(Some(why.clone())),
        )
        .filter(attachment::Column::Id.eq(id))
        .exec(&*tx)
        .await?;
    let mut diff = Diff::new();
    diff.field(
        "attachment",
        serde_json::json!(
            crate::record::ids::encode(crate::record::ids::Kind::Attachment, id).to_string()
        ),
        serde_json::Value::Null,
    )
    .sensitive("removalReason", true);
    trail::record(
        &*tx,
        rc,
        &actor,
        kind.as_str(),
        owner_id,
        "attachment.removed",
        diff,
    )
    .await?;
    tx.commit().await?;
    Ok(attachment::Model {
        removed_at: Some(now),
        removed_by: staff,
        removal_reason: Some(why),
        ..m
    })
}

/// A file attached to a record (not an upload waiting), whoever may see it.
pub async fn find_attached(state: &AppState, id: Uuid) -> AppResult<attachment::Model> {
    attachment::Entity::find_by_id(id)
        .one(&state.db.conn)
        .await?
        .filter(|m| m.owner_id.is_some())
        .ok_or(AppError::NotFound("attachment"))
}

/// The kind of record a file is on.
pub fn owner_kind_of(m: &attachment::Model) -> AppResult<OwnerKind> {
    m.owner_type
        .as_deref()
        .and_then(OwnerKind::parse)
        .ok_or(AppError::NotFound("attachment"))
}

/// Whether a file may be opened: CONFLICT while it waits for its scan, or once it is
/// gone.
pub fn openable(m: &attachment::Model) -> AppResult<()> {
    match status(m) {
        Status::Available => Ok(()),
        Status::AwaitingScan => Err(AppError::Duplicate(
            "the file is waiting for its virus scan; nobody may open it until then".into(),
        )),
        Status::Infected => Err(AppError::Duplicate(
            "the virus scanner refused the file; it was destroyed".into(),
        )),
        Status::Removed => Err(AppError::Duplicate(
            "the file was removed from its record".into(),
        )),
        Status::Disposed => Err(AppError::Duplicate(
            "the file was disposed of with its record".into(),
        )),
    }
}

/// A file's state as its readers see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    AwaitingScan,
    Available,
    Infected,
    Removed,
    Disposed,
}

pub fn status(m: &attachment::Model) -> Status {
    if m.disposed_at.is_some() {
        Status::Disposed
    } else if m.removed_at.is_some() {
        Status::Removed
    } else if m.scan_status == scan_status::INFECTED {
        Status::Infected
    } else if m.scan_status == scan_status::AWAITING || !m.complete {
        Status::AwaitingScan
    } else {
        Status::Available
    }
}

/// The attachments of records, oldest first (one query for a page of records).
pub async fn of_owners<C: ConnectionTrait>(
    conn: &C,
    owners: &[Uuid],
) -> AppResult<Vec<attachment::Model>> {
    Ok(attachment::Entity::find()
        .filter(attachment::Column::OwnerId.is_in(owners.iter().copied()))
        .order_by_asc(attachment::Column::AttachedAt)
        .order_by_asc(attachment::Column::Id)
        .all(conn)
        .await?)
}

/// Disposes of the files of records being disposed of (in their transaction): bytes
/// deleted, name blanked, the row kept as a tombstone. Returns how many.
pub async fn dispose_of<C: ConnectionTrait>(
    conn: &C,
    owners: Condition,
    now: DateTime<Utc>,
) -> AppResult<u64> {
    let ids: Vec<Uuid> = attachment::Entity::find()
        .select_only()
        .column(attachment::Column::Id)
        .filter(owners)
        .filter(attachment::Column::DisposedAt.is_null())
        .into_tuple()
        .all(conn)
        .await?;
    for id in &ids {
        store::delete_chunks(conn, *id).await?;
    }
    if !ids.is_empty() {
        attachment::Entity::update_many()
            .col_expr(attachment::Column::FileName, Expr::value("disposed"))
            .col_expr(
                attachment::Column::RemovalReason,
                Expr::value(Option::<String>::None),
            )
            .col_expr(attachment::Column::DisposedAt, Expr::value(Some(now)))
            .filter(attachment::Column::Id.is_in(ids.iter().copied()))
            .exec(conn)
            .await?;
    }
    Ok(ids.len() as u64)
}

/// The condition naming the files on one record.
pub fn on(kind: OwnerKind, id: Uuid) -> Condition {
    Condition::all()
        .add(attachment::Column::OwnerType.eq(kind.as_str()))
        .add(attachment::Column::OwnerId.eq(id))
}

/// The condition naming the files on any of `ids` of a kind.
pub fn on_any(kind: OwnerKind, ids: Vec<Uuid>) -> Condition {
    Condition::all()
        .add(attachment::Column::OwnerType.eq(kind.as_str()))
        .add(attachment::Column::OwnerId.is_in(ids))
}

/// The condition naming the files on the corrective actions matching `which`.
pub fn on_actions(which: sea_orm::sea_query::SimpleExpr) -> Condition {
    use sea_orm::sea_query::Query;
    Condition::all()
        .add(attachment::Column::OwnerType.eq(OwnerKind::CorrectiveAction.as_str()))
        .add(
            attachment::Column::OwnerId.in_subquery(
                Query::select()
                    .column(corrective_action::Column::Id)
                    .from(corrective_action::Entity)
                    .and_where(which)
                    .to_owned(),
            ),
        )
}

/// Deletes uploads never attached within `unattached_hours`, and uploads that stopped
/// half-way more than an hour ago (a server stopped mid-upload). Returns how many.
pub async fn sweep_unattached(state: &AppState) -> AppResult<u64> {
    let now = Utc::now();
    let hours = i64::from(state.settings.attachments.unattached_hours);
    let stale = Condition::any()
        .add(
            Condition::all()
                .add(attachment::Column::OwnerId.is_null())
                .add(attachment::Column::CreatedAt.lt(now - Duration::hours(hours))),
        )
        .add(
            Condition::all()
                .add(attachment::Column::Complete.eq(false))
                .add(attachment::Column::CreatedAt.lt(now - Duration::hours(1))),
        );
    let ids: Vec<Uuid> = attachment::Entity::find()
        .select_only()
        .column(attachment::Column::Id)
        .filter(stale)
        .limit(500)
        .into_tuple()
        .all(&state.db.conn)
        .await?;
    if ids.is_empty() {
        return Ok(0);
    }
    let tx = state.db.begin_write().await?;
    // Chunks go with their row (ON DELETE CASCADE); re-checked in the transaction so a
    // file attached meanwhile stays.
    let r = attachment::Entity::delete_many()
        .filter(attachment::Column::Id.is_in(ids))
        .filter(
            Condition::any()
                .add(attachment::Column::OwnerId.is_null())
                .add(attachment::Column::Complete.eq(false)),
        )
        .exec(&*tx)
        .await?;
    tx.commit().await?;
    Ok(r.rows_affected)
}
