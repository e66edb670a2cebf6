//! Which record a file is on and what the caller may do with its files: decided by asking
//! each record's own service (its visibility, its access rules, break-glass), so this
//! module sits above every domain, with the edges that call it (`graphql.rs`, `http.rs`).
//! The attachment service below it stores and changes files and is called by the
//! domains themselves (a report attaching its files, disposal taking them).
use uuid::Uuid;

use super::service::{self, Owner, OwnerKind, Rights};
use crate::context::{AppState, RequestCtx};
use crate::error::{AppError, AppResult};
use crate::record::text::{self, reason};
use entities::{attachment, audit_finding, incident};
use sea_orm::EntityTrait;

/// The caller's rights on a record's attachments; NOT_FOUND when they may not see the
/// record at all (whether or not it exists).
pub async fn owner(
    state: &AppState,
    rc: &RequestCtx,
    kind: OwnerKind,
    id: Uuid,
) -> AppResult<Owner> {
    let (rights, patient_key, break_glass) = match kind {
        OwnerKind::Incident => {
            let (m, access) = match crate::incident::service::get(state, rc, id).await {
                Ok(found) => found,
                // An information-governance officer answering a subject-access request
                // gives the patient the files of every record naming them, as the report
                // gives the records (`subjectAccessReport`); each opening is logged.
                Err(AppError::NotFound(what)) if subject_access(rc) => {
                    let m = incident::Entity::find_by_id(id)
                        .one(&state.db.conn)
                        .await?
                        .filter(|m| m.patient_nhs_hash.is_some() && m.disposed_at.is_none())
                        .ok_or(AppError::NotFound(what))?;
                    let key = m.patient_nhs_hash.clone();
                    return Ok(Owner {
                        kind,
                        id,
                        rights: Rights {
                            see: true,
                            attach: false,
                            remove: false,
                        },
                        patient_key: key,
                        break_glass: false,
                    });
                }
                Err(e) => return Err(e),
            };
            let reporter = m.reporter_id.is_some() && rc.staff_id(state).await? == m.reporter_id;
            let open = !matches!(m.status.as_str(), "CLOSED" | "DECLINED");
            let live = m.disposed_at.is_none();
            (
                Rights {
                    // Evidence is the reporter's account, as the description is: those who
                    // may read the description may see it.
                    see: access.narrative && live,
                    attach: live && (access.manage || (reporter && open)),
                    remove: live && access.manage,
                },
                m.patient_nhs_hash.clone(),
                access.break_glass,
            )
        }
        OwnerKind::CorrectiveAction => {
            let (_, access) = crate::action::service::get(state, rc, id).await?;
            (
                Rights {
                    see: access.view,
                    attach: access.owner || access.manage,
                    remove: access.manage,
                },
                None,
                false,
            )
        }
        OwnerKind::AuditFinding => {
            let f = audit_finding::Entity::find_by_id(id)
                .one(&state.db.conn)
                .await?
                .ok_or(AppError::NotFound("audit finding"))?;
            let (a, access) = crate::audit::service::get(state, rc, f.audit_id)
                .await
                .map_err(|_| AppError::NotFound("audit finding"))?;
            let live = a.disposed_at.is_none();
            (
                Rights {
                    see: access.view && live,
                    attach: live && (access.manage || access.lead),
                    remove: live && access.manage,
                },
                None,
                false,
            )
        }
        OwnerKind::ImprovementProject => {
            let (m, access) = crate::improvement::service::get(state, rc, id).await?;
            let live = m.disposed_at.is_none();
            (
                Rights {
                    see: access.view && live,
                    attach: live && access.contribute,
                    remove: live && access.manage,
                },
                None,
                false,
            )
        }
    };
    Ok(Owner {
        kind,
        id,
        rights,
        patient_key,
        break_glass,
    })
}

fn subject_access(rc: &RequestCtx) -> bool {
    rc.principal()
        .is_ok_and(|p| crate::governance::require_ig_officer(p, "").is_ok())
}

/// Attaches the caller's uploads to a record they may add files to.
pub async fn attach(
    state: &AppState,
    rc: &RequestCtx,
    kind: OwnerKind,
    owner_id: Uuid,
    ids: &[Uuid],
) -> AppResult<Vec<attachment::Model>> {
    if ids.is_empty() {
        return Err(
            AppError::invalid("attachmentIds", "name at least one upload").because(reason::BLANK),
        );
    }
    let owner = owner(state, rc, kind, owner_id).await?;
    if !owner.rights.attach {
        return Err(AppError::forbidden(match kind {
            OwnerKind::Incident => "files are added to an incident by its reporter (until it is closed) and by those who handle it",
            OwnerKind::CorrectiveAction => "files are added to an action by its owner and those who manage it",
            OwnerKind::AuditFinding => "files are added to an audit finding by the audit's lead and those who manage it",
            OwnerKind::ImprovementProject => "files are added to a project by those who work on it",
        }));
    }
    service::attach_to(state, rc, &owner, ids).await
}

/// Removes a file from its record with a reason: its bytes are deleted at once, its row
/// stays as the record that it was there and why it went.
pub async fn remove(
    state: &AppState,
    rc: &RequestCtx,
    id: Uuid,
    reason_given: String,
) -> AppResult<attachment::Model> {
    let why = text::required("reason", reason_given, 2_000)?;
    let m = service::find_attached(state, id).await?;
    let kind = service::owner_kind_of(&m)?;
    let owner_id = m.owner_id.unwrap_or_default();
    let owner = owner(state, rc, kind, owner_id)
        .await
        .map_err(|_| AppError::NotFound("attachment"))?;
    if !owner.rights.see && !owner.rights.remove {
        return Err(AppError::NotFound("attachment"));
    }
    if !owner.rights.remove {
        return Err(AppError::forbidden(
            "files are removed by those who manage the record they are on",
        ));
    }
    service::remove_from(state, rc, &owner, id, why).await
}

/// A file on a record whose files the caller may see, with the record; NOT_FOUND
/// otherwise (whether or not it exists).
pub async fn get(
    state: &AppState,
    rc: &RequestCtx,
    id: Uuid,
) -> AppResult<(attachment::Model, Owner)> {
    rc.principal()?;
    let m = service::find_attached(state, id).await?;
    let kind = service::owner_kind_of(&m)?;
    let owner = owner(state, rc, kind, m.owner_id.unwrap_or_default())
        .await
        .map_err(|_| AppError::NotFound("attachment"))?;
    if !owner.rights.see {
        return Err(AppError::NotFound("attachment"));
    }
    Ok((m, owner))
}

/// A file the caller may open, with its record: NOT_FOUND unless they may see the
/// record's files; CONFLICT while it waits for its scan, or once it is gone.
pub async fn for_download(
    state: &AppState,
    rc: &RequestCtx,
    id: Uuid,
) -> AppResult<(attachment::Model, Owner)> {
    let (m, owner) = get(state, rc, id).await?;
    service::openable(&m)?;
    Ok((m, owner))
}
