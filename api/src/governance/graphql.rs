//! The information-governance officer's part of the schema: the access log, the audit
//! trail and its integrity, subject-access reports, retention and legal holds, break-glass
//! review; and the break-glass request any person may make.
use async_graphql::{ComplexObject, Context, InputObject, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::retention::{self, RecordType};
use super::{break_glass, service, subject_access};
use crate::error::AppError;
use crate::graphql::connection::Connection;
use crate::graphql::loaders::Loaders;
use crate::graphql::{request, state};
use crate::incident::graphql::Incident;
use crate::incident::workflow::Access;
use crate::org::graphql::StaffMember;
use crate::protect::NhsNumber;
use crate::record::ids::{self, Kind};
use crate::record::keyset::page_size;
use crate::trail::graphql::TrailEvent;
use entities::{access_event, break_glass_grant, incident, legal_hold};

type GqlResult<T> = async_graphql::Result<T>;

/// The record an id names, for filters and holds: any Node id.
fn record_id(id: &ID, field: &str) -> GqlResult<(Kind, Uuid)> {
    ids::decode(id).ok_or_else(|| {
        AppError::invalid(field, format!("{field} is not an id"))
            .because(crate::record::text::reason::MALFORMED)
            .into()
    })
}

fn kind_of(entity_type: &str, id: Uuid) -> ID {
    let kind = match entity_type {
        "Incident" => Some(Kind::Incident),
        "CorrectiveAction" => Some(Kind::CorrectiveAction),
        "Audit" => Some(Kind::Audit),
        "ImprovementProject" => Some(Kind::ImprovementProject),
        "LearningResponse" => Some(Kind::LearningResponse),
        "BreakGlassGrant" => Some(Kind::BreakGlassGrant),
        "AuditFinding" => Some(Kind::AuditFinding),
        "Attachment" => Some(Kind::Attachment),
        _ => None,
    };
    match kind {
        Some(k) => ids::encode(k, id),
        None => ID(id.to_string()),
    }
}

crate::listed!(
    AccessEvent => "AccessEventEdge", "AccessLogConnection";
    TrailEvent => "TrailEventEdge", "AuditTrailConnection";
    RetentionRecord => "RetentionRecordEdge", "RetentionRecordConnection";
    LegalHold => "LegalHoldEdge", "LegalHoldConnection";
    BreakGlassGrant => "BreakGlassGrantEdge", "BreakGlassGrantConnection";
);

/// One request's reads of one record's sensitive fields.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct AccessEvent {
    /// The event's global ID.
    pub id: ID,
    /// When the fields were read.
    pub at: DateTime<Utc>,
    /// Who read: a subject, or `service:<subject>` for a service account.
    pub actor_label: Option<String>,
    /// The roles (or scopes) they held.
    pub actor_roles: Option<String>,
    /// The kind of record read, e.g. `Incident`.
    pub record_type: String,
    /// The record read (a Node id where the record is one).
    pub record_id: ID,
    /// The sensitive fields read, e.g. `description`, `patient`.
    pub fields: Vec<String>,
    /// The request (the `x-request-id` response header).
    pub request_id: Option<String>,
    /// The purpose the client stated in `X-Access-Purpose`.
    pub purpose: Option<String>,
    /// Read under a break-glass grant.
    pub break_glass: bool,
    #[graphql(skip)]
    pub actor_id: Option<Uuid>,
}

#[ComplexObject]
impl AccessEvent {
    /// The staff member who read it, when a person.
    async fn actor(&self, ctx: &Context<'_>) -> GqlResult<Option<StaffMember>> {
        let Some(id) = self.actor_id else {
            return Ok(None);
        };
        Ok(Loaders::of(ctx).staff(id).await?.map(StaffMember))
    }
}

impl From<access_event::Model> for AccessEvent {
    fn from(m: access_event::Model) -> Self {
        Self {
            id: ids::encode(Kind::AccessEvent, m.id),
            at: m.at,
            actor_label: m.actor_label,
            actor_roles: m.actor_roles,
            record_id: kind_of(&m.entity_type, m.entity_id),
            record_type: m.entity_type,
            fields: m.fields.split(',').map(str::to_string).collect(),
            request_id: m.request_id,
            purpose: m.purpose,
            break_glass: m.break_glass,
            actor_id: m.actor_id,
        }
    }
}

/// Filters for the access log; all given must match.
#[derive(InputObject, Default)]
pub struct AccessLogFilter {
    /// Reads by this staff member.
    pub actor_id: Option<ID>,
    /// Reads of this record (any record id).
    pub record_id: Option<ID>,
    /// Reads of records naming this patient.
    pub nhs_number: Option<String>,
    /// At or after this time.
    pub after: Option<DateTime<Utc>>,
    /// Before this time.
    pub before: Option<DateTime<Utc>>,
    /// Only break-glass reads (true) or only others (false).
    pub break_glass: Option<bool>,
}

/// Filters for the audit trail; all given must match.
#[derive(InputObject, Default)]
pub struct AuditTrailFilter {
    /// Changes to this record (any record id).
    pub record_id: Option<ID>,
    /// Changes to records of this type, e.g. `Incident`.
    pub record_type: Option<String>,
    /// Changes by this staff member.
    pub actor_id: Option<ID>,
    /// This action, e.g. `incident.transitioned`.
    pub action: Option<String>,
    /// At or after this time.
    pub after: Option<DateTime<Utc>>,
    /// Before this time.
    pub before: Option<DateTime<Utc>>,
}

/// Where the chain first fails.
#[derive(SimpleObject)]
pub struct BrokenLink {
    /// The place in the chain.
    pub seq: i64,
    /// The event found at that place, if any.
    pub event_id: Option<ID>,
    /// What is wrong, in words.
    pub problem: String,
}

/// The result of checking every sealed trail event against its predecessor and the head.
#[derive(SimpleObject)]
pub struct TrailIntegrity {
    /// No event was edited, deleted or moved.
    pub intact: bool,
    /// How many sealed events were checked.
    pub checked_events: i64,
    /// Events committed in the last moments and not yet sealed into the chain.
    pub unsealed_events: i64,
    /// The latest sealed place and its hash: record these outside the system (e.g. in a
    /// signed daily log) to anchor the chain.
    pub head_seq: i64,
    /// The hash at `headSeq` (SHA-256, hex).
    pub head_hash: String,
    /// Where the chain first fails; null when it is intact.
    pub first_broken_link: Option<BrokenLink>,
}

pub struct SubjectAccessReport {
    generated_at: DateTime<Utc>,
    incidents: Vec<incident::Model>,
    accesses: Vec<access_event::Model>,
}

/// Everything held about one patient, for a subject-access request.
#[Object]
impl SubjectAccessReport {
    /// When the report was produced.
    async fn generated_at(&self) -> DateTime<Utc> {
        self.generated_at
    }
    /// Every incident naming the patient, oldest report first, with its sensitive fields
    /// (each read is logged against this request).
    async fn incidents(&self) -> Vec<Incident> {
        self.incidents
            .iter()
            .cloned()
            .map(|m| Incident::new(m, Access::SUBJECT_ACCESS))
            .collect()
    }
    /// Every recorded read of those records, oldest first (before this report).
    async fn accesses(&self) -> Vec<AccessEvent> {
        self.accesses
            .iter()
            .cloned()
            .map(AccessEvent::from)
            .collect()
    }
}

/// A record past its retention date, for review.
#[derive(SimpleObject)]
pub struct RetentionRecord {
    /// The kind of record.
    pub record_type: RecordType,
    /// The record's global ID.
    pub record_id: ID,
    /// The incident's reference, or the audit's or project's title.
    pub label: String,
    /// When the record ended (closed, declined or abandoned).
    pub ended_at: DateTime<Utc>,
    /// When its retention ended (NHS Records Management Code of Practice).
    pub retention_until: DateTime<Utc>,
    /// Under an active legal hold: it will not be disposed of.
    pub legal_hold: bool,
}

/// Filters for records past retention.
#[derive(InputObject, Default)]
pub struct RetentionFilter {
    /// Only records of this kind; every kind when not given.
    pub record_type: Option<RecordType>,
}

/// A hold that stops a record being disposed of.
#[derive(SimpleObject)]
pub struct LegalHold {
    /// The hold's global ID.
    pub id: ID,
    /// The kind of record held: `Incident`, `Audit` or `ImprovementProject`.
    pub record_type: String,
    /// The record held.
    pub record_id: ID,
    /// Why it is held, as given when it was placed.
    pub reason: String,
    /// Who placed it: a subject, or `service:<subject>` for a service account.
    pub placed_by: String,
    /// When it was placed.
    pub placed_at: DateTime<Utc>,
    /// When it was released; null while it is active.
    pub released_at: Option<DateTime<Utc>>,
    /// Who released it (as `placedBy`); null while it is active.
    pub released_by: Option<String>,
    /// Why it was released; null while it is active.
    pub release_reason: Option<String>,
    /// Not released: the record will not be disposed of.
    pub active: bool,
}

impl From<legal_hold::Model> for LegalHold {
    fn from(m: legal_hold::Model) -> Self {
        Self {
            id: ids::encode(Kind::LegalHold, m.id),
            record_id: kind_of(&m.entity_type, m.entity_id),
            record_type: m.entity_type,
            reason: m.reason,
            placed_by: m.placed_by,
            placed_at: m.placed_at,
            active: m.released_at.is_none(),
            released_at: m.released_at,
            released_by: m.released_by,
            release_reason: m.release_reason,
        }
    }
}

/// Time-limited access to one incident outside its holder's normal scope.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct BreakGlassGrant {
    /// The grant's global ID.
    pub id: ID,
    /// The incident the grant opens.
    pub incident_id: ID,
    /// The holder: a subject.
    pub holder_label: String,
    /// Why they needed the record.
    pub justification: String,
    /// When it was granted.
    pub granted_at: DateTime<Utc>,
    /// When it stops giving access (`break_glass_minutes` after it was granted).
    pub expires_at: DateTime<Utc>,
    /// Not yet expired: the holder may still read the incident.
    pub active: bool,
    /// When an IG officer reviewed it; null until reviewed.
    pub reviewed_at: Option<DateTime<Utc>>,
    /// The reviewing IG officer: a subject; null until reviewed.
    pub reviewed_by: Option<String>,
    /// The IG officer's review note; null until reviewed.
    pub review_note: Option<String>,
    #[graphql(skip)]
    pub holder_id: Option<Uuid>,
    #[graphql(skip)]
    pub incident_uuid: Uuid,
}

#[ComplexObject]
impl BreakGlassGrant {
    /// The holder as a staff member.
    async fn holder(&self, ctx: &Context<'_>) -> GqlResult<Option<StaffMember>> {
        let Some(id) = self.holder_id else {
            return Ok(None);
        };
        Ok(Loaders::of(ctx).staff(id).await?.map(StaffMember))
    }
    /// The incident's reference.
    async fn incident_reference(&self, ctx: &Context<'_>) -> GqlResult<String> {
        Ok(Loaders::of(ctx)
            .incidents
            .load_one(self.incident_uuid)
            .await
            .map_err(AppError::from)?
            .map(|m| m.reference)
            .unwrap_or_default())
    }
}

impl From<break_glass_grant::Model> for BreakGlassGrant {
    fn from(m: break_glass_grant::Model) -> Self {
        Self {
            id: ids::encode(Kind::BreakGlassGrant, m.id),
            incident_id: ids::encode(Kind::Incident, m.incident_id),
            holder_label: m.actor_label,
            justification: m.justification,
            granted_at: m.granted_at,
            expires_at: m.expires_at,
            active: m.expires_at > Utc::now(),
            reviewed_at: m.reviewed_at,
            reviewed_by: m.reviewed_by,
            review_note: m.review_note,
            holder_id: m.staff_id,
            incident_uuid: m.incident_id,
        }
    }
}

#[derive(Default)]
pub struct GovernanceQuery;

#[Object]
impl GovernanceQuery {
    /// Reads of sensitive fields, newest first (ig_officer).
    #[graphql(complexity = "first.unwrap_or(20).clamp(1, 100) as usize * child_complexity")]
    async fn access_log(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "How many to return: 20 when not given, at most `limits.max_page_size` (100 by default)."
        )]
        first: Option<i32>,
        #[graphql(
            desc = "A cursor from the previous page (`pageInfo.endCursor`): the list continues after it."
        )]
        after: Option<String>,
        #[graphql(desc = "Which reads; every read when not given.")] filter: Option<
            AccessLogFilter,
        >,
    ) -> GqlResult<Connection<AccessEvent>> {
        let st = state(ctx);
        let first = page_size(first, st.settings.limits.max_page_size)?;
        let f = filter.unwrap_or_default();
        let q = service::AccessLogQuery {
            actor_id: f
                .actor_id
                .as_ref()
                .map(|a| ids::decode_as(Kind::Staff, a, "actorId"))
                .transpose()?,
            record_id: f
                .record_id
                .as_ref()
                .map(|r| record_id(r, "recordId").map(|(_, id)| id))
                .transpose()?,
            patient: f
                .nhs_number
                .as_deref()
                .map(|n| NhsNumber::field("nhsNumber", n))
                .transpose()?,
            after: f.after,
            before: f.before,
            break_glass: f.break_glass,
        };
        let page = service::access_log(st, request(ctx), q, first, after.as_deref()).await?;
        Ok(Connection::of(page, AccessEvent::from))
    }

    /// Every change to every record, newest first (ig_officer).
    #[graphql(complexity = "first.unwrap_or(20).clamp(1, 100) as usize * child_complexity")]
    async fn audit_trail(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "How many to return: 20 when not given, at most `limits.max_page_size` (100 by default)."
        )]
        first: Option<i32>,
        #[graphql(
            desc = "A cursor from the previous page (`pageInfo.endCursor`): the list continues after it."
        )]
        after: Option<String>,
        #[graphql(desc = "Which changes; every change when not given.")] filter: Option<
            AuditTrailFilter,
        >,
    ) -> GqlResult<Connection<TrailEvent>> {
        let st = state(ctx);
        let first = page_size(first, st.settings.limits.max_page_size)?;
        let f = filter.unwrap_or_default();
        let q = service::TrailQuery {
            record_id: f
                .record_id
                .as_ref()
                .map(|r| record_id(r, "recordId").map(|(_, id)| id))
                .transpose()?,
            record_type: f.record_type,
            actor_id: f
                .actor_id
                .as_ref()
                .map(|a| ids::decode_as(Kind::Staff, a, "actorId"))
                .transpose()?,
            action: f.action,
            after: f.after,
            before: f.before,
        };
        let page = service::audit_trail(st, request(ctx), q, first, after.as_deref()).await?;
        Ok(Connection::of(page, TrailEvent::from))
    }

    /// Checks the whole hash chain of the audit trail (ig_officer). Reads every event.
    async fn audit_trail_integrity(&self, ctx: &Context<'_>) -> GqlResult<TrailIntegrity> {
        let i = service::verify_trail(state(ctx), request(ctx)).await?;
        Ok(TrailIntegrity {
            intact: i.intact(),
            checked_events: i.checked as i64,
            unsealed_events: i.unsealed as i64,
            head_seq: i.head_seq,
            head_hash: i.head_hash,
            first_broken_link: i.first_broken.map(|b| BrokenLink {
                seq: b.seq,
                event_id: b.event_id.map(|id| ids::encode(Kind::TrailEvent, id)),
                problem: b.problem,
            }),
        })
    }

    /// Every record naming a patient and every access to them (ig_officer). Producing the
    /// report is itself logged as an access to the patient's records.
    async fn subject_access_report(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The patient's NHS number: 10 digits; spaces and hyphens are ignored.")]
        nhs_number: String,
    ) -> GqlResult<SubjectAccessReport> {
        let r = subject_access::report(state(ctx), request(ctx), &nhs_number).await?;
        Ok(SubjectAccessReport {
            generated_at: r.generated_at,
            incidents: r.incidents,
            accesses: r.accesses,
        })
    }

    /// Records past their retention date, for review before disposal (ig_officer): by
    /// type (incidents, audits, improvement projects), then oldest first by the date their
    /// retention ended, then by id.
    async fn retention_due(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "How many to return: 20 when not given, at most `limits.max_page_size` (100 by default)."
        )]
        first: Option<i32>,
        #[graphql(
            desc = "A cursor from the previous page (`pageInfo.endCursor`): the list continues after it."
        )]
        after: Option<String>,
        #[graphql(desc = "Which kinds of record; every kind when not given.")] filter: Option<
            RetentionFilter,
        >,
    ) -> GqlResult<Connection<RetentionRecord>> {
        let st = state(ctx);
        let first = page_size(first, st.settings.limits.max_page_size)?;
        let only = filter.unwrap_or_default().record_type;
        let page = service::retention_due(st, request(ctx), only, first, after.as_deref()).await?;
        Ok(Connection::of(page, |d| RetentionRecord {
            record_type: d.record_type,
            record_id: kind_of(d.record_type.as_str(), d.id),
            label: d.label,
            ended_at: d.ended_at,
            retention_until: d.retention_until,
            legal_hold: d.on_hold,
        }))
    }

    /// Legal holds, newest first (ig_officer).
    async fn legal_holds(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "How many to return: 20 when not given, at most `limits.max_page_size` (100 by default)."
        )]
        first: Option<i32>,
        #[graphql(
            desc = "A cursor from the previous page (`pageInfo.endCursor`): the list continues after it."
        )]
        after: Option<String>,
        #[graphql(desc = "Only holds not yet released; default false (every hold).")]
        active_only: Option<bool>,
    ) -> GqlResult<Connection<LegalHold>> {
        let st = state(ctx);
        let first = page_size(first, st.settings.limits.max_page_size)?;
        let active_only = active_only.unwrap_or(false);
        let page =
            service::legal_holds(st, request(ctx), active_only, first, after.as_deref()).await?;
        Ok(Connection::of(page, LegalHold::from))
    }

    /// Break-glass grants, newest first, for review (ig_officer).
    async fn break_glass_grants(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "How many to return: 20 when not given, at most `limits.max_page_size` (100 by default)."
        )]
        first: Option<i32>,
        #[graphql(
            desc = "A cursor from the previous page (`pageInfo.endCursor`): the list continues after it."
        )]
        after: Option<String>,
        #[graphql(desc = "Only grants not yet reviewed; default false (every grant).")]
        unreviewed_only: Option<bool>,
    ) -> GqlResult<Connection<BreakGlassGrant>> {
        let st = state(ctx);
        let first = page_size(first, st.settings.limits.max_page_size)?;
        let unreviewed = unreviewed_only.unwrap_or(false);
        let page =
            service::break_glass_grants(st, request(ctx), unreviewed, first, after.as_deref())
                .await?;
        Ok(Connection::of(page, BreakGlassGrant::from))
    }
}

/// A request to read one incident outside your normal scope.
#[derive(InputObject)]
pub struct BreakGlassInput {
    /// The incident you need.
    pub incident_id: ID,
    /// Why you need this record now (20 to 2,000 characters). Reviewed by IG.
    pub justification: String,
}

/// The result of `breakGlass`.
#[derive(SimpleObject)]
pub struct BreakGlassPayload {
    /// The grant made.
    pub grant: BreakGlassGrant,
    /// The incident, readable until the grant expires.
    pub incident: Incident,
}

/// An IG officer's review of a break-glass grant; a grant is reviewed once.
#[derive(InputObject)]
pub struct ReviewBreakGlassInput {
    /// The grant reviewed.
    pub grant_id: ID,
    /// The review's conclusion (1 to 2,000 characters).
    pub note: String,
}

/// The result of `reviewBreakGlass`.
#[derive(SimpleObject)]
pub struct BreakGlassGrantPayload {
    /// The grant, reviewed.
    pub grant: BreakGlassGrant,
}

/// A legal hold to place; one record has at most one active hold.
#[derive(InputObject)]
pub struct PlaceLegalHoldInput {
    /// An incident, audit, improvement project or learning response.
    pub record_id: ID,
    /// Why the record must be kept (at most 2,000 characters).
    pub reason: String,
}

/// The release of an active legal hold.
#[derive(InputObject)]
pub struct ReleaseLegalHoldInput {
    /// The hold to release.
    pub legal_hold_id: ID,
    /// Why it is released (at most 2,000 characters).
    pub reason: String,
}

/// The result of placing or releasing a legal hold.
#[derive(SimpleObject)]
pub struct LegalHoldPayload {
    /// The hold as it now is.
    pub legal_hold: LegalHold,
}

/// What a disposal run did.
#[derive(SimpleObject)]
pub struct DisposalPayload {
    /// Incidents disposed of.
    pub incidents: i64,
    /// Audits disposed of.
    pub audits: i64,
    /// Improvement projects disposed of.
    pub improvement_projects: i64,
    /// Learning responses disposed of.
    pub learning_responses: i64,
    /// Records past retention left alone because of an active legal hold.
    pub held: i64,
}

#[derive(Default)]
pub struct GovernanceMutation;

#[Object]
impl GovernanceMutation {
    /// Opens an incident outside your normal scope for `break_glass_minutes`, with a
    /// written justification. Read-only; every read is logged as break-glass and the grant
    /// is listed for IG review.
    async fn break_glass(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The incident and why you need it.")] input: BreakGlassInput,
    ) -> GqlResult<BreakGlassPayload> {
        let id = ids::decode_as(Kind::Incident, &input.incident_id, "incidentId")?;
        let (grant, m) =
            crate::incident::break_glass::open(state(ctx), request(ctx), id, input.justification)
                .await?;
        Ok(BreakGlassPayload {
            grant: grant.into(),
            incident: Incident::new(m, Access::BREAK_GLASS),
        })
    }

    /// Records an IG officer's review of a break-glass grant.
    async fn review_break_glass(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The review.")] input: ReviewBreakGlassInput,
    ) -> GqlResult<BreakGlassGrantPayload> {
        let id = ids::decode_as(Kind::BreakGlassGrant, &input.grant_id, "grantId")?;
        let g = break_glass::review(state(ctx), request(ctx), id, input.note).await?;
        Ok(BreakGlassGrantPayload { grant: g.into() })
    }

    /// Stops a record being disposed of until released (ig_officer).
    async fn place_legal_hold(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The record and the reason.")] input: PlaceLegalHoldInput,
    ) -> GqlResult<LegalHoldPayload> {
        let (kind, id) = record_id(&input.record_id, "recordId")?;
        let t = match kind {
            Kind::Incident => RecordType::Incident,
            Kind::Audit => RecordType::Audit,
            Kind::ImprovementProject => RecordType::ImprovementProject,
            Kind::LearningResponse => RecordType::LearningResponse,
            _ => {
                return Err(AppError::invalid(
                    "recordId",
                    "a legal hold is placed on an incident, audit, improvement project or learning response",
                )
                .into())
            }
        };
        let h = retention::place_hold(state(ctx), request(ctx), t, id, input.reason).await?;
        Ok(LegalHoldPayload {
            legal_hold: h.into(),
        })
    }

    /// Releases a legal hold (ig_officer).
    async fn release_legal_hold(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The hold and the reason.")] input: ReleaseLegalHoldInput,
    ) -> GqlResult<LegalHoldPayload> {
        let id = ids::decode_as(Kind::LegalHold, &input.legal_hold_id, "legalHoldId")?;
        let h = retention::release_hold(state(ctx), request(ctx), id, input.reason).await?;
        Ok(LegalHoldPayload {
            legal_hold: h.into(),
        })
    }

    /// Disposes of every record past retention without an active legal hold: removes its
    /// content, keeps a tombstone, writes a trail event (ig_officer). `candour dispose` does
    /// the same from the command line.
    async fn dispose_due_records(&self, ctx: &Context<'_>) -> GqlResult<DisposalPayload> {
        let d = service::dispose_due(state(ctx), request(ctx)).await?;
        Ok(DisposalPayload {
            incidents: d.incidents as i64,
            audits: d.audits as i64,
            improvement_projects: d.improvement_projects as i64,
            learning_responses: d.learning_responses as i64,
            held: d.held as i64,
        })
    }
}
