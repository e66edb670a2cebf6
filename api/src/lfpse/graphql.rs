//! The LFPSE part of the schema: `Incident.lfpse` (where an incident stands with the
//! national service), the queue of submissions and the retry of a dead letter (quality
//! leads).
use async_graphql::{Context, Enum, InputObject, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};
use entities::lfpse_submission as submission;
use uuid::Uuid;

use super::queue::{DEAD, QUEUED, SENT, SUPERSEDED};
use super::service::{self, Standing, Summary};
use crate::error::AppError;
use crate::graphql::connection::Connection;
use crate::graphql::loaders::Loaders;
use crate::graphql::{request, state};
use crate::record::ids::{self, Kind};
use crate::record::keyset::page_size;
use crate::record::text::reason;

type GqlResult<T> = async_graphql::Result<T>;

/// Where an incident stands with LFPSE.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum LfpseStatus {
    /// A version is waiting to be sent, or between attempts (see `lastError`).
    Queued,
    /// LFPSE holds the incident as it stands (`reference` is its national reference).
    Submitted,
    /// The latest version was refused, or given up after the configured attempts: a
    /// quality lead may retry it (`retryLfpseSubmission`).
    Failed,
}

/// Where one version of an incident is in the LFPSE queue.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum LfpseQueueStatus {
    /// Waiting for its first attempt, or between attempts.
    Queued,
    /// Accepted by LFPSE.
    Sent,
    /// Not sent on its own: a later send carried what it held, or the incident was no
    /// longer reportable when its turn came.
    Superseded,
    /// Refused by LFPSE, or given up after the configured attempts.
    Dead,
}

impl LfpseQueueStatus {
    fn stored(self) -> &'static str {
        match self {
            Self::Queued => QUEUED,
            Self::Sent => SENT,
            Self::Superseded => SUPERSEDED,
            Self::Dead => DEAD,
        }
    }

    fn of(s: &str) -> Self {
        match s {
            SENT => Self::Sent,
            SUPERSEDED => Self::Superseded,
            DEAD => Self::Dead,
            _ => Self::Queued,
        }
    }
}

/// How a version went to LFPSE.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum LfpseMethod {
    /// The incident's first version: a POST that created the LFPSE record.
    Create,
    /// A later version: a PUT to the LFPSE record.
    Update,
}

/// Where an incident stands with NHS England's Learn from Patient Safety Events service.
#[derive(SimpleObject, Debug, Clone)]
pub struct LfpseSubmissionStatus {
    /// Queued, submitted, or failed.
    pub status: LfpseStatus,
    /// The national reference number LFPSE gave the incident.
    pub reference: Option<String>,
    /// LFPSE's id for the incident's record (later versions update it).
    pub lfpse_id: Option<String>,
    /// LFPSE's version of its record (`meta.versionId`) after the latest accepted version.
    pub lfpse_version_id: Option<String>,
    /// Candour's number of the latest version LFPSE accepted (1 for the first).
    pub version: Option<i32>,
    /// When LFPSE accepted the latest version.
    pub submitted_at: Option<DateTime<Utc>>,
    /// Why the latest attempt failed: the HTTP status and LFPSE's issue codes, never the
    /// record's content.
    pub last_error: Option<String>,
    /// Attempts made at the latest version.
    pub attempts: i32,
    /// When the next attempt is due, while queued.
    pub next_attempt_at: Option<DateTime<Utc>>,
}

impl From<Summary> for LfpseSubmissionStatus {
    fn from(s: Summary) -> Self {
        Self {
            status: match s.standing {
                Standing::Queued => LfpseStatus::Queued,
                Standing::Submitted => LfpseStatus::Submitted,
                Standing::Failed => LfpseStatus::Failed,
            },
            reference: s.reference,
            lfpse_id: s.lfpse_id,
            lfpse_version_id: s.lfpse_version,
            version: s.version,
            submitted_at: s.submitted_at,
            last_error: s.last_error,
            attempts: s.attempts,
            next_attempt_at: s.next_attempt_at,
        }
    }
}

/// `Incident.lfpse`: the incident's standing, from its versions (one query per page of
/// incidents). None when nothing was ever queued for it.
pub async fn status_of(
    ctx: &Context<'_>,
    incident_id: Uuid,
) -> GqlResult<Option<LfpseSubmissionStatus>> {
    let rows = Loaders::of(ctx)
        .lfpse_submissions
        .load_one(incident_id)
        .await
        .map_err(AppError::from)?
        .unwrap_or_default();
    Ok(service::summarise(&rows).map(Into::into))
}

/// One version of an incident in the LFPSE queue.
#[derive(SimpleObject)]
pub struct LfpseSubmission {
    /// The submission's id (for `retryLfpseSubmission`).
    pub id: ID,
    /// The incident it is a version of.
    pub incident_id: ID,
    /// The incident's reference (`INC-2026-000123`).
    pub incident_reference: String,
    /// 1 for the incident's first version, then 2, 3, ...
    pub version: i32,
    /// Where it is in the queue.
    pub status: LfpseQueueStatus,
    /// Attempts made to send it.
    pub attempts: i32,
    /// Why the last attempt failed: the HTTP status and LFPSE's issue codes, never the
    /// record's content.
    pub last_error: Option<String>,
    /// When the change that made this version was committed.
    pub created_at: DateTime<Utc>,
    /// When the next attempt is due, while queued.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// When LFPSE accepted it.
    pub submitted_at: Option<DateTime<Utc>>,
    /// How it went to LFPSE, once accepted.
    pub method: Option<LfpseMethod>,
    /// LFPSE's id for the incident's record.
    pub lfpse_id: Option<String>,
    /// LFPSE's version of its record (`meta.versionId`) after this one.
    pub lfpse_version_id: Option<String>,
    /// The national reference number.
    pub reference: Option<String>,
}

impl LfpseSubmission {
    fn of(m: submission::Model, incident_reference: String) -> Self {
        Self {
            id: ids::encode(Kind::LfpseSubmission, m.id),
            incident_id: ids::encode(Kind::Incident, m.incident_id),
            incident_reference,
            version: m.seq,
            status: LfpseQueueStatus::of(&m.status),
            attempts: m.attempts,
            last_error: m.last_error,
            created_at: m.created_at,
            next_attempt_at: (m.status == QUEUED).then_some(m.next_attempt_at),
            submitted_at: m.submitted_at,
            method: match m.method.as_deref() {
                Some("CREATE") => Some(LfpseMethod::Create),
                Some("UPDATE") => Some(LfpseMethod::Update),
                _ => None,
            },
            lfpse_id: m.lfpse_id,
            lfpse_version_id: m.lfpse_version,
            reference: m.reference,
        }
    }
}

#[derive(Default)]
pub struct LfpseQuery;

#[Object]
impl LfpseQuery {
    /// Versions of incidents in the LFPSE queue, newest first (quality leads): those in
    /// any of `status` (all when not given), with their attempts and errors. Ask for
    /// `[DEAD]` for the failed submissions to look at.
    async fn lfpse_submissions(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only versions in any of these states; all when not given.")]
        status: Option<Vec<LfpseQueueStatus>>,
        #[graphql(
            desc = "How many to return: 20 when not given, at most `limits.max_page_size` (100 by default)."
        )]
        first: Option<i32>,
        #[graphql(
            desc = "A cursor from the previous page (`pageInfo.endCursor`): the list continues after it."
        )]
        after: Option<String>,
    ) -> GqlResult<Connection<LfpseSubmission>> {
        let st = state(ctx);
        let first = page_size(first, st.settings.limits.max_page_size)?;
        let statuses: Vec<&'static str> = status
            .unwrap_or_default()
            .into_iter()
            .map(LfpseQueueStatus::stored)
            .collect();
        let page = service::list(st, request(ctx), &statuses, first, after.as_deref()).await?;
        Ok(Connection::of(page, |(m, r)| LfpseSubmission::of(m, r)))
    }
}

/// Which dead letter to put back in the LFPSE queue.
#[derive(InputObject)]
pub struct RetryLfpseSubmissionInput {
    /// A DEAD submission (`LfpseSubmission.id`).
    pub submission_id: ID,
}

/// What `retryLfpseSubmission` returns.
#[derive(SimpleObject)]
pub struct LfpseSubmissionPayload {
    /// The submission, queued again.
    pub submission: LfpseSubmission,
}

#[derive(Default)]
pub struct LfpseMutation;

#[Object]
impl LfpseMutation {
    /// Puts a dead-lettered LFPSE submission back in the queue, due now, its attempts reset
    /// (quality leads). CONFLICT unless it is DEAD, or when a later version of the
    /// incident is already queued (that one carries the incident as it stands).
    async fn retry_lfpse_submission(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The dead letter to retry.")] input: RetryLfpseSubmissionInput,
    ) -> GqlResult<LfpseSubmissionPayload> {
        let id = match ids::decode(&input.submission_id) {
            Some((Kind::LfpseSubmission, id)) => id,
            _ => {
                return Err(AppError::invalid(
                    "submissionId",
                    "submissionId is not an LFPSE submission id",
                )
                .because(reason::MALFORMED)
                .into())
            }
        };
        let (m, r) = service::retry(state(ctx), request(ctx), id).await?;
        Ok(LfpseSubmissionPayload {
            submission: LfpseSubmission::of(m, r),
        })
    }
}

crate::listed!(LfpseSubmission => "LfpseSubmissionEdge", "LfpseSubmissionConnection");
