//! Attachments in the GraphQL schema: the `Attachment` object, the rules uploads follow,
//! and the mutations that attach and remove files. Uploads and downloads themselves are
//! plain HTTP (`http.rs`).
use async_graphql::{Context, Enum, InputObject, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::service::{self, OwnerKind, Status};
use crate::error::AppError;
use crate::graphql::loaders::Loaders;
use crate::graphql::{request, state};
use crate::org::graphql::StaffMember;
use crate::record::ids::{self, Kind};
use entities::attachment;

type GqlResult<T> = async_graphql::Result<T>;

/// Where a file stands.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug, serde::Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AttachmentStatus {
    /// Waiting for the virus scanner: nobody may open it yet.
    AwaitingScan,
    /// May be opened by those who may see its record.
    Available,
    /// The virus scanner found malware in it; its bytes were destroyed.
    Infected,
    /// Removed from its record (see `removalReason`); its bytes were deleted.
    Removed,
    /// Disposed of with its record at the end of the record's retention.
    Disposed,
}

impl AttachmentStatus {
    pub fn of(m: &attachment::Model) -> Self {
        match service::status(m) {
            Status::AwaitingScan => Self::AwaitingScan,
            Status::Available => Self::Available,
            Status::Infected => Self::Infected,
            Status::Removed => Self::Removed,
            Status::Disposed => Self::Disposed,
        }
    }
}

/// What was taken out of a file on the way in.
pub fn removed_list(m: &attachment::Model) -> Vec<String> {
    m.metadata_removed
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

pub struct Attachment(pub attachment::Model);

/// An evidence file on an incident, a corrective action, an audit finding or an
/// improvement project. Its bytes are read with `GET downloadUrl` and the bearer token;
/// every opening is in the access log.
#[Object]
impl Attachment {
    /// The file's global ID.
    pub async fn id(&self) -> ID {
        ids::encode(Kind::Attachment, self.0.id)
    }
    /// The name it was uploaded under, less any folders, with the extension of the type it
    /// really is. An anonymous report's files are named `evidence-<n>`.
    async fn file_name(&self) -> &str {
        &self.0.file_name
    }
    /// Its type, decided from its content when it was uploaded.
    async fn content_type(&self) -> &str {
        &self.0.content_type
    }
    /// Its size in bytes, as stored (after metadata was taken out).
    async fn size(&self) -> i32 {
        i32::try_from(self.0.size_bytes).unwrap_or(i32::MAX)
    }
    /// SHA-256 of the stored bytes, in hex: what a download can be checked against.
    async fn sha256(&self) -> &str {
        &self.0.sha256
    }
    /// Where it stands.
    async fn status(&self) -> AttachmentStatus {
        AttachmentStatus::of(&self.0)
    }
    /// Metadata taken out on the way in (for photos: EXIF, XMP, IPTC, comment, text,
    /// timestamp).
    async fn metadata_removed(&self) -> Vec<String> {
        removed_list(&self.0)
    }
    /// When it was scanned by the virus scanner; null when no scanner is configured or it
    /// waits.
    async fn scanned_at(&self) -> Option<DateTime<Utc>> {
        self.0.scanned_at
    }
    /// The malware the scanner named, for an INFECTED file.
    async fn malware(&self) -> Option<&str> {
        self.0.scan_signature.as_deref()
    }
    /// When it was uploaded (an anonymous report's files: when the report was made).
    async fn uploaded_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// Who attached it; null for an anonymous report's files and service accounts.
    async fn uploaded_by(&self, ctx: &Context<'_>) -> GqlResult<Option<StaffMember>> {
        let Some(id) = self.0.uploaded_by else {
            return Ok(None);
        };
        Ok(Loaders::of(ctx).staff(id).await?.map(StaffMember))
    }
    /// Where to GET its bytes (with the bearer token), while it is AVAILABLE.
    async fn download_url(&self) -> Option<String> {
        (AttachmentStatus::of(&self.0) == AttachmentStatus::Available).then(|| {
            format!(
                "/attachments/{}",
                ids::encode(Kind::Attachment, self.0.id).as_str()
            )
        })
    }
    /// When it was removed from its record.
    async fn removed_at(&self) -> Option<DateTime<Utc>> {
        self.0.removed_at
    }
    /// Who removed it.
    async fn removed_by(&self, ctx: &Context<'_>) -> GqlResult<Option<StaffMember>> {
        let Some(id) = self.0.removed_by else {
            return Ok(None);
        };
        Ok(Loaders::of(ctx).staff(id).await?.map(StaffMember))
    }
    /// Why it was removed.
    async fn removal_reason(&self) -> Option<&str> {
        self.0.removal_reason.as_deref()
    }
}

/// The files on a record, for its object's `attachments` field: null when the caller may
/// not see them. Reading an incident's list is in the access log (file names are the
/// reporter's words).
pub async fn of_record(
    ctx: &Context<'_>,
    kind: OwnerKind,
    id: Uuid,
    see: bool,
    logged: Option<(bool, Option<&str>)>,
) -> GqlResult<Option<Vec<Attachment>>> {
    if !see {
        return Ok(None);
    }
    let rows = Loaders::of(ctx)
        .attachments
        .load_one(id)
        .await
        .map_err(AppError::from)?
        .unwrap_or_default();
    let rows: Vec<attachment::Model> = rows
        .into_iter()
        .filter(|m| m.owner_type.as_deref() == Some(kind.as_str()))
        .collect();
    if let (Some((break_glass, patient_key)), false) = (logged, rows.is_empty()) {
        request(ctx)
            .access
            .record(kind.as_str(), id, "attachments", break_glass, patient_key);
    }
    Ok(Some(rows.into_iter().map(Attachment).collect()))
}

/// The limits uploads are held to, for forms to check before sending.
#[derive(SimpleObject)]
pub struct AttachmentRules {
    /// Largest file taken, in bytes.
    pub max_bytes: i32,
    /// Largest photo taken, in bytes (photos are cleaned of metadata in memory).
    pub max_image_bytes: i32,
    /// Most files one record may carry.
    pub max_per_record: i32,
    /// The types taken (MIME types), decided by sniffing the content.
    pub allowed_types: Vec<String>,
    /// The types an anonymous report may carry (photos whose metadata can be removed).
    pub anonymous_types: Vec<String>,
    /// Whether files are virus-scanned before anyone may open them.
    pub scanned: bool,
}

#[derive(Default)]
pub struct AttachmentQuery;

#[Object]
impl AttachmentQuery {
    /// The limits uploads are held to (`POST /attachments`).
    async fn attachment_rules(&self, ctx: &Context<'_>) -> GqlResult<AttachmentRules> {
        request(ctx).principal()?;
        let a = &state(ctx).settings.attachments;
        Ok(AttachmentRules {
            max_bytes: i32::try_from(a.max_bytes).unwrap_or(i32::MAX),
            max_image_bytes: i32::try_from(super::rules::max_photo_bytes(a)).unwrap_or(i32::MAX),
            max_per_record: a.max_per_record as i32,
            allowed_types: a.allowed_types.clone(),
            anonymous_types: super::rules::anonymous_types()
                .into_iter()
                .filter(|t| a.allowed_types.iter().any(|a| a == t))
                .map(String::from)
                .collect(),
            scanned: a.scanner.is_some(),
        })
    }
}

/// Files to attach to a record.
#[derive(InputObject)]
pub struct AttachFilesInput {
    /// An Incident, CorrectiveAction, AuditFinding or ImprovementProject.
    pub record_id: ID,
    /// The ids `POST /attachments` answered, of your own uploads not yet attached.
    pub attachment_ids: Vec<ID>,
}

/// The result of `attachFiles`.
#[derive(SimpleObject)]
pub struct AttachFilesPayload {
    /// The files attached, in the order given.
    pub attachments: Vec<Attachment>,
}

/// A file to remove from its record.
#[derive(InputObject)]
pub struct RemoveAttachmentInput {
    /// The file's global ID.
    pub attachment_id: ID,
    /// Why (at most 2,000 characters; kept, and shown to those who see the record).
    pub reason: String,
}

/// The result of `removeAttachment`.
#[derive(SimpleObject)]
pub struct AttachmentPayload {
    /// The file as it now is.
    pub attachment: Attachment,
}

/// Uploads' ids as given in `field`, each an Attachment's.
pub fn upload_ids(field: &str, given: &[ID]) -> Result<Vec<Uuid>, AppError> {
    given
        .iter()
        .map(|id| ids::decode_as(Kind::Attachment, id, field))
        .collect()
}

#[derive(Default)]
pub struct AttachmentMutation;

#[Object]
impl AttachmentMutation {
    /// Attaches your uploads to a record you may add files to: an incident you reported
    /// (until it is closed) or handle, an action you own or manage, an audit finding of an
    /// audit you lead or manage, a project you work on.
    async fn attach_files(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The record and your uploads.")] input: AttachFilesInput,
    ) -> GqlResult<AttachFilesPayload> {
        request(ctx).principal()?;
        let (kind, id) = match ids::decode(&input.record_id) {
            Some((Kind::Incident, id)) => (OwnerKind::Incident, id),
            Some((Kind::CorrectiveAction, id)) => (OwnerKind::CorrectiveAction, id),
            Some((Kind::AuditFinding, id)) => (OwnerKind::AuditFinding, id),
            Some((Kind::ImprovementProject, id)) => (OwnerKind::ImprovementProject, id),
            _ => {
                return Err(AppError::invalid(
                    "recordId",
                    "recordId is the ID of an Incident, CorrectiveAction, AuditFinding or ImprovementProject",
                )
                .because(crate::record::text::reason::MALFORMED)
                .into())
            }
        };
        let uploads = upload_ids("attachmentIds", &input.attachment_ids)?;
        let attached = super::owners::attach(state(ctx), request(ctx), kind, id, &uploads).await?;
        Ok(AttachFilesPayload {
            attachments: attached.into_iter().map(Attachment).collect(),
        })
    }

    /// Removes a file from its record, with a reason: its bytes are deleted; the record
    /// keeps a line saying it was there, who removed it and why. For those who manage the
    /// record.
    async fn remove_attachment(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The file and why it goes.")] input: RemoveAttachmentInput,
    ) -> GqlResult<AttachmentPayload> {
        request(ctx).principal()?;
        let id = ids::decode_as(Kind::Attachment, &input.attachment_id, "attachmentId")?;
        let m = super::owners::remove(state(ctx), request(ctx), id, input.reason).await?;
        Ok(AttachmentPayload {
            attachment: Attachment(m),
        })
    }
}
