//! Incidents in the GraphQL schema: thin resolvers that parse input, call the service and
//! shape what the caller may see.
use async_graphql::{ComplexObject, Context, InputObject, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};

use crate::record::scalars::Date;

use super::model::*;
use super::service::{self, TransitionRequest};
use super::workflow::{self, Access};
use crate::graphql::connection::Connection;
use crate::graphql::loaders::Loaders;
use crate::graphql::{request, state};
use crate::org::graphql::{Department, StaffMember};
use crate::record::ids::{self, Kind};
use crate::record::keyset::page_size;
use crate::record::OrderDirection;
use crate::trail::graphql::TrailEvent;
use entities::incident;

type GqlResult<T> = async_graphql::Result<T>;

pub struct Incident {
    // Boxed: the row is large and Incident is one variant of the Node interface.
    m: Box<incident::Model>,
    access: Access,
}

impl Incident {
    pub fn new(m: incident::Model, access: Access) -> Self {
        Self {
            m: Box::new(m),
            access,
        }
    }

    /// Whether the viewer may read a sensitive `field` (per `allowed`); when they may, the
    /// read is noted for this request's access log. A disposed record has nothing to read.
    fn read(&self, ctx: &Context<'_>, allowed: bool, field: &'static str) -> bool {
        service::note_read(request(ctx), &self.m, self.access, allowed, field)
    }
}

/// The patient an incident concerns. Sensitive: every field is personal data.
#[derive(SimpleObject)]
pub struct Patient {
    /// The NHS number, 10 digits without spaces; null when not given.
    pub nhs_number: Option<String>,
    /// The patient's name; null when not given.
    pub name: Option<String>,
    /// The date of birth; null when not given.
    pub date_of_birth: Option<Date>,
}

/// The equipment involved.
#[derive(SimpleObject)]
pub struct Equipment {
    /// The trust's asset number; null when not given.
    pub asset_id: Option<String>,
    /// The manufacturer; null when not given.
    pub manufacturer: Option<String>,
    /// The model; null when not given.
    pub model: Option<String>,
    /// The serial number; null when not given.
    pub serial_number: Option<String>,
}

/// The learning response the patient safety incident response plan suggests.
#[derive(SimpleObject)]
pub struct SuggestedLearningResponse {
    /// The response suggested.
    pub response: LearningResponse,
    /// The name of the plan's rule that suggests it ("Default" when none applies).
    pub rule: String,
}

/// A recorded step of the duty of candour.
#[derive(SimpleObject)]
pub struct CandourStepRecord {
    /// Which step.
    pub step: CandourStep,
    /// When it was taken, as recorded.
    pub taken_at: DateTime<Utc>,
}

/// The statutory duty of candour for this incident.
#[derive(SimpleObject)]
pub struct DutyOfCandour {
    /// Whether the duty applies: as set in triage, else true for moderate harm or worse.
    pub applies: bool,
    /// The steps recorded, in the order they were taken.
    pub steps: Vec<CandourStepRecord>,
    /// Verbal notification, written notification and final letter all recorded.
    pub complete: bool,
}

/// An internal note on an incident's review.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct IncidentComment {
    /// The comment's global ID.
    pub id: ID,
    /// The note's text. Sensitive: reading the comments is logged.
    pub body: String,
    /// When it was written.
    pub created_at: DateTime<Utc>,
    #[graphql(skip)]
    pub author_id: Option<uuid::Uuid>,
}

#[ComplexObject]
impl IncidentComment {
    /// Who wrote it.
    async fn author(&self, ctx: &Context<'_>) -> GqlResult<Option<StaffMember>> {
        let Some(id) = self.author_id else {
            return Ok(None);
        };
        Ok(Loaders::of(ctx).staff(id).await?.map(StaffMember))
    }
}

/// An event that caused or could have caused harm, and its review.
#[Object]
impl Incident {
    /// The incident's global ID.
    pub async fn id(&self) -> ID {
        ids::encode(Kind::Incident, self.m.id)
    }
    /// Evidence files (photos, documents) on it: for those who may read its description,
    /// and reading the list is in the access log. Null otherwise.
    async fn attachments(
        &self,
        ctx: &Context<'_>,
    ) -> GqlResult<Option<Vec<crate::attachment::graphql::Attachment>>> {
        crate::attachment::graphql::of_record(
            ctx,
            crate::attachment::service::OwnerKind::Incident,
            self.m.id,
            self.access.narrative && self.m.disposed_at.is_none(),
            Some((self.access.break_glass, self.m.patient_nhs_hash.as_deref())),
        )
        .await
    }
    /// Human reference, `INC-YYYY-NNNNNN`, unique and never reused.
    async fn reference(&self) -> &str {
        &self.m.reference
    }
    /// A short summary (at most 200 characters).
    async fn title(&self) -> &str {
        &self.m.title
    }
    /// What happened, in the reporter's words. Sensitive: null for viewers without a need
    /// (an anonymous report's receipt), and every read is logged.
    async fn description(&self, ctx: &Context<'_>) -> Option<&str> {
        self.read(ctx, self.access.narrative, "description")
            .then_some(self.m.description.as_str())
    }
    /// Where the incident is in its review.
    async fn status(&self) -> IncidentStatus {
        IncidentStatus::parse(&self.m.status).unwrap_or(IncidentStatus::Reported)
    }
    /// The LFPSE event type.
    async fn event_type(&self) -> EventType {
        EventType::parse(&self.m.event_type).unwrap_or_default()
    }
    /// What kind of event it was.
    async fn kind(&self) -> IncidentKind {
        IncidentKind::parse(&self.m.kind).unwrap_or(IncidentKind::Other)
    }
    /// The category (one of the configured `incident_categories` when they are set), as
    /// reported or set in triage; null when none.
    async fn category(&self) -> Option<&str> {
        self.m.category.as_deref()
    }
    /// The department it was reported to; its handlers review it.
    async fn department(&self, ctx: &Context<'_>) -> GqlResult<Department> {
        let d = crate::org::service::department(state(ctx), self.m.department_id)
            .await?
            .ok_or(crate::error::AppError::Internal(
                "incident without department".into(),
            ))?;
        Ok(Department(d))
    }
    /// Where it happened, in the reporter's words; null when not given.
    async fn location(&self) -> Option<&str> {
        self.m.location.as_deref()
    }
    /// When it happened, as reported.
    async fn occurred_at(&self) -> DateTime<Utc> {
        self.m.occurred_at
    }
    /// When it was reported.
    async fn reported_at(&self) -> DateTime<Utc> {
        self.m.reported_at
    }
    /// Physical harm (LFPSE), as reported or as confirmed in triage.
    async fn physical_harm(&self) -> HarmLevel {
        HarmLevel::from_rank(self.m.physical_harm)
    }
    /// Psychological harm (LFPSE; up to SEVERE).
    async fn psychological_harm(&self) -> HarmLevel {
        HarmLevel::from_rank(self.m.psychological_harm)
    }
    /// A near miss: it did not reach the patient.
    async fn near_miss(&self) -> bool {
        self.m.near_miss
    }
    /// What was done at once, in the reporter's words. Sensitive, like the description.
    async fn immediate_actions(&self, ctx: &Context<'_>) -> Option<&str> {
        let text = self.m.immediate_actions.as_deref()?;
        self.read(ctx, self.access.narrative, "immediateActions")
            .then_some(text)
    }
    /// The patient concerned, if any. Sensitive: null for viewers without a need (the
    /// reporter, once reported), and every read is logged.
    async fn patient(&self, ctx: &Context<'_>) -> GqlResult<Option<Patient>> {
        let sealed = crate::protect::PatientSealed::of(&self.m);
        if sealed.is_empty() || !self.read(ctx, self.access.sensitive, "patient") {
            return Ok(None);
        }
        let clear = state(ctx)
            .keys
            .open_patient(self.m.id, &sealed)
            .map_err(|e| crate::error::AppError::Internal(format!("patient details: {e}")))?;
        Ok(Some(Patient {
            nhs_number: clear.nhs_number.map(|n| n.as_str().to_string()),
            name: clear.name,
            date_of_birth: clear.date_of_birth.map(Date),
        }))
    }
    /// The equipment involved; null when none was named.
    async fn equipment(&self) -> Option<Equipment> {
        let m = &self.m;
        (m.equipment_asset_id.is_some()
            || m.equipment_manufacturer.is_some()
            || m.equipment_model.is_some()
            || m.equipment_serial_number.is_some())
        .then(|| Equipment {
            asset_id: m.equipment_asset_id.clone(),
            manufacturer: m.equipment_manufacturer.clone(),
            model: m.equipment_model.clone(),
            serial_number: m.equipment_serial_number.clone(),
        })
    }
    /// Reported anonymously: no link to the reporter is stored.
    async fn anonymous(&self) -> bool {
        self.m.anonymous
    }
    /// Who reported it; null when anonymous, reported by a system, or not yours to know.
    /// Sensitive: every read is logged.
    async fn reporter(&self, ctx: &Context<'_>) -> GqlResult<Option<StaffMember>> {
        let Some(id) = self.m.reporter_id else {
            return Ok(None);
        };
        if !self.read(ctx, self.access.narrative, "reporter") {
            return Ok(None);
        }
        Ok(Loaders::of(ctx).staff(id).await?.map(StaffMember))
    }
    /// The handler leading the review; null until one is assigned in triage.
    async fn handler(&self, ctx: &Context<'_>) -> GqlResult<Option<StaffMember>> {
        let Some(id) = self.m.handler_id else {
            return Ok(None);
        };
        Ok(Loaders::of(ctx).staff(id).await?.map(StaffMember))
    }
    /// The PSIRF learning response chosen.
    async fn learning_response(&self) -> Option<LearningResponse> {
        self.m
            .learning_response
            .as_deref()
            .and_then(LearningResponse::parse)
    }
    /// The learning response the trust's patient safety incident response plan (PSIRP)
    /// suggests for the incident's facts, and the rule that suggests it; null for viewers
    /// who only reported it.
    async fn suggested_learning_response(
        &self,
        ctx: &Context<'_>,
    ) -> GqlResult<Option<SuggestedLearningResponse>> {
        if !self.access.internal {
            return Ok(None);
        }
        let s = service::suggestion(state(ctx), &self.m).await?;
        Ok(Some(SuggestedLearningResponse {
            response: s.response,
            rule: s.rule,
        }))
    }
    /// Why the learning response chosen differs from the suggested one. Free text:
    /// sensitive (null for viewers who only reported it, and every read is logged).
    async fn learning_response_override_reason(&self, ctx: &Context<'_>) -> Option<&str> {
        let text = self.m.learning_response_override_reason.as_deref()?;
        self.read(ctx, self.access.internal, "learningResponseOverrideReason")
            .then_some(text)
    }
    /// The learning responses that cover this incident and that the viewer may see, oldest
    /// first; empty for viewers who only reported it.
    async fn learning_responses(
        &self,
        ctx: &Context<'_>,
    ) -> GqlResult<Vec<crate::learning::graphql::LearningResponse>> {
        if !self.access.internal {
            return Ok(Vec::new());
        }
        Ok(
            crate::learning::service::covering(state(ctx), request(ctx), self.m.id)
                .await?
                .into_iter()
                .map(|(m, access)| crate::learning::graphql::LearningResponse::new(m, access))
                .collect(),
        )
    }
    /// What was learned, fed back to staff.
    async fn learning_summary(&self) -> Option<&str> {
        self.m.learning_summary.as_deref()
    }
    /// Investigation findings (internal, sensitive: every read is logged).
    async fn findings(&self, ctx: &Context<'_>) -> Option<&str> {
        let text = self.m.findings.as_deref()?;
        self.read(ctx, self.access.internal, "findings")
            .then_some(text)
    }
    /// Feedback to the reporter: what happened next and what was learned.
    async fn feedback_to_reporter(&self) -> Option<&str> {
        self.m.feedback_to_reporter.as_deref()
    }
    /// Facts that decide what is owed to regulators and to the patient.
    async fn regulatory_facts(&self) -> Vec<crate::notify::rules::RegulatoryFact> {
        crate::notify::rules::RegulatoryFact::parse_set(&self.m.regulatory_facts)
            .into_iter()
            .collect()
    }
    /// The answers to LFPSE's questions given for it (codes, never free text).
    async fn lfpse_answers(&self) -> Vec<LfpseAnswer> {
        crate::lfpse::taxonomy::answers_from_json(self.m.lfpse_answers.as_deref())
            .into_iter()
            .map(|a| LfpseAnswer {
                element: a.element,
                values: a.values,
            })
            .collect()
    }
    /// The incident as an FHIR R4 AdverseEvent (LFPSE profile), as `GET
    /// /fhir/AdverseEvent/{id}` serves it: the description and the patient's age only for
    /// viewers who may read them, each such read logged.
    async fn fhir(&self, ctx: &Context<'_>) -> GqlResult<async_graphql::Json<serde_json::Value>> {
        let state = state(ctx);
        let r = crate::fhir::adverse_event(state, request(ctx), &self.m, self.access).await?;
        Ok(async_graphql::Json(r.to_value(&state.lfpse)))
    }
    /// What is owed to the patient and to regulators because of this incident, each a
    /// clock (all states, soonest due first); null for viewers who only reported it.
    async fn obligations(
        &self,
        ctx: &Context<'_>,
    ) -> GqlResult<Option<Vec<crate::notify::graphql::Obligation>>> {
        if !self.access.internal {
            return Ok(None);
        }
        let rows = Loaders::of(ctx)
            .obligations_by_incident
            .load_one(self.m.id)
            .await
            .map_err(crate::error::AppError::from)?
            .unwrap_or_default();
        let now = chrono::Utc::now();
        Ok(Some(
            rows.into_iter()
                .map(|o| crate::notify::graphql::Obligation::of(o, self.m.reference.clone(), now))
                .collect(),
        ))
    }
    /// Where the incident stands with NHS England's Learn from Patient Safety Events
    /// service (LFPSE): queued, submitted (with the national reference) or failed; null
    /// when nothing was ever queued for it (not a patient-safety event).
    async fn lfpse(
        &self,
        ctx: &Context<'_>,
    ) -> GqlResult<Option<crate::lfpse::graphql::LfpseSubmissionStatus>> {
        crate::lfpse::graphql::status_of(ctx, self.m.id).await
    }
    /// Whether the statutory duty of candour applies, and the steps recorded.
    async fn duty_of_candour(&self, ctx: &Context<'_>) -> GqlResult<DutyOfCandour> {
        let rows = Loaders::of(ctx)
            .candour_steps
            .load_one(self.m.id)
            .await
            .map_err(crate::error::AppError::from)?
            .unwrap_or_default();
        let steps: Vec<CandourStepRecord> = rows
            .iter()
            .filter_map(|r| {
                Some(CandourStepRecord {
                    step: CandourStep::parse(&r.step)?,
                    taken_at: r.taken_at,
                })
            })
            .collect();
        let kinds: Vec<CandourStep> = steps.iter().map(|s| s.step).collect();
        Ok(DutyOfCandour {
            applies: workflow::duty_applies(&self.m),
            complete: workflow::candour_complete(&kinds),
            steps,
        })
    }
    /// Why it was last declined or reopened. Free text that may name a patient or a
    /// colleague: sensitive like the description (null for viewers without a need, and
    /// every read is logged).
    async fn status_reason(&self, ctx: &Context<'_>) -> Option<&str> {
        let text = self.m.status_reason.as_deref()?;
        self.read(ctx, self.access.narrative, "statusReason")
            .then_some(text)
    }
    /// The incident this one duplicates, when declined as a duplicate.
    async fn duplicate_of(&self, ctx: &Context<'_>) -> GqlResult<Option<Incident>> {
        let Some(id) = self.m.duplicate_of_id else {
            return Ok(None);
        };
        match service::get(state(ctx), request(ctx), id).await {
            Ok((m, access)) => Ok(Some(Incident::new(m, access))),
            Err(crate::error::AppError::NotFound(_)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
    /// When it was first triaged (moved to UNDER_REVIEW); null until then.
    async fn triaged_at(&self) -> Option<DateTime<Utc>> {
        self.m.triaged_at
    }
    /// When it was CLOSED; null while open, and again once reopened.
    async fn closed_at(&self) -> Option<DateTime<Utc>> {
        self.m.closed_at
    }
    /// Send this back as `expectedVersion` with the next change.
    async fn version(&self) -> i32 {
        self.m.version
    }
    /// Until when the record is kept (NHS Records Management Code of Practice), counted
    /// from its closure or declining; null while it is open.
    async fn retention_until(&self, ctx: &Context<'_>) -> Option<DateTime<Utc>> {
        crate::governance::retention::incident_until(&state(ctx).settings.retention, &self.m)
    }
    /// When its content was disposed of at the end of retention; the record stays as a
    /// tombstone.
    async fn disposed_at(&self) -> Option<DateTime<Utc>> {
        self.m.disposed_at
    }
    /// Whether you are reading it under a break-glass grant.
    async fn break_glass(&self) -> bool {
        self.access.break_glass
    }
    /// The statuses this viewer may move the incident to now (closing rules aside).
    async fn allowed_transitions(&self) -> Vec<IncidentStatus> {
        workflow::allowed_transitions(
            IncidentStatus::parse(&self.m.status).unwrap_or(IncidentStatus::Reported),
            self.access,
        )
    }
    /// Internal notes, oldest first; null for viewers who only reported the incident.
    async fn comments(&self, ctx: &Context<'_>) -> GqlResult<Option<Vec<IncidentComment>>> {
        if !self.read(ctx, self.access.internal, "comments") {
            return Ok(None);
        }
        let rows = Loaders::of(ctx)
            .comments
            .load_one(self.m.id)
            .await
            .map_err(crate::error::AppError::from)?
            .unwrap_or_default();
        Ok(Some(
            rows.into_iter()
                .map(|c| IncidentComment {
                    id: ids::encode(Kind::Comment, c.id),
                    body: c.body,
                    created_at: c.created_at,
                    author_id: c.author_id,
                })
                .collect(),
        ))
    }
    /// Corrective actions raised from this incident, oldest first; null for viewers who
    /// only reported it.
    async fn corrective_actions(
        &self,
        ctx: &Context<'_>,
    ) -> GqlResult<Option<Vec<crate::action::graphql::CorrectiveAction>>> {
        if !self.access.internal {
            return Ok(None);
        }
        let rows = Loaders::of(ctx)
            .actions_by_incident
            .load_one(self.m.id)
            .await
            .map_err(crate::error::AppError::from)?
            .unwrap_or_default();
        let mut out = Vec::with_capacity(rows.len());
        for m in rows {
            if let Some(a) = crate::action::graphql::CorrectiveAction::visible(ctx, m).await? {
                out.push(a);
            }
        }
        Ok(Some(out))
    }
    /// Every change to the incident, oldest first; empty for viewers who only reported it
    /// (the trail names the staff who reviewed it). Free text is never in the trail: a
    /// change to it is shown as `sensitive` without its words.
    async fn history(&self, ctx: &Context<'_>) -> GqlResult<Vec<TrailEvent>> {
        if !self.access.internal {
            return Ok(Vec::new());
        }
        let rows = Loaders::of(ctx)
            .trail
            .load_one(self.m.id)
            .await
            .map_err(crate::error::AppError::from)?
            .unwrap_or_default();
        Ok(rows.into_iter().map(TrailEvent::from).collect())
    }
}

/// Filters for incident lists; all given must match.
#[derive(InputObject, Default)]
pub struct IncidentFilter {
    /// Any of these statuses.
    pub status: Option<Vec<IncidentStatus>>,
    /// Incidents of this department.
    pub department_id: Option<ID>,
    /// Incidents of this kind.
    pub kind: Option<IncidentKind>,
    /// Physical harm at least this.
    pub min_physical_harm: Option<HarmLevel>,
    /// Reported at or after this time.
    pub reported_after: Option<DateTime<Utc>>,
    /// Reported before this time.
    pub reported_before: Option<DateTime<Utc>>,
    /// Words in the title or the reference (case-insensitive).
    pub search: Option<String>,
    /// Only near misses (true) or only others (false).
    pub near_miss: Option<bool>,
    /// Only incidents you reported yourself. Anonymous reports are linked to nobody, so
    /// they never appear here (their reporters follow them with the follow-up code).
    pub mine: Option<bool>,
}

/// How to order incident lists (default: REPORTED_AT DESC).
#[derive(InputObject)]
pub struct IncidentOrder {
    /// What to order by.
    pub field: IncidentOrderField,
    /// Which way.
    pub direction: OrderDirection,
}

impl IncidentFilter {
    /// The domain's query for this filter: the `incidents` list and the CSV export read
    /// the same rows for the same filter.
    pub fn into_query(self) -> crate::error::AppResult<IncidentQuery_> {
        Ok(IncidentQuery_ {
            statuses: self.status.unwrap_or_default(),
            department_id: self
                .department_id
                .as_ref()
                .map(|id| ids::decode_as(Kind::Department, id, "departmentId"))
                .transpose()?,
            kind: self.kind,
            min_physical_harm: self.min_physical_harm,
            reported_after: self.reported_after,
            reported_before: self.reported_before,
            search: self.search,
            near_miss: self.near_miss,
            mine: self.mine.unwrap_or(false),
            occurred_after: None,
            occurred_before: None,
            reference: None,
        })
    }
}

impl IncidentOrder {
    /// The order asked for, REPORTED_AT DESC when none.
    pub fn or_default(order: Option<Self>) -> (IncidentOrderField, OrderDirection) {
        order.map(|o| (o.field, o.direction)).unwrap_or_default()
    }
}

crate::listed!(Incident => "IncidentEdge", "IncidentConnection");

#[derive(Default)]
pub struct IncidentQuery;

#[Object]
impl IncidentQuery {
    /// One incident; NOT_FOUND when it does not exist or is not yours to see.
    async fn incident(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The incident's global ID.")] id: ID,
    ) -> GqlResult<Option<Incident>> {
        let uuid = ids::decode_as(Kind::Incident, &id, "id")?;
        let (m, access) = service::get(state(ctx), request(ctx), uuid).await?;
        Ok(Some(Incident::new(m, access)))
    }

    /// One incident by its reference, e.g. `INC-2026-000123`.
    async fn incident_by_reference(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The reference, `INC-YYYY-NNNNNN` (case-insensitive).")] reference: String,
    ) -> GqlResult<Option<Incident>> {
        let (m, access) = service::get_by_reference(state(ctx), request(ctx), &reference).await?;
        Ok(Some(Incident::new(m, access)))
    }

    /// An anonymous report's status and the learning fed back, by its follow-up code; null
    /// for an unknown code. Needs no sign-in, and records nothing about who asked.
    async fn follow_up(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The code `reportIncident` returned as `followUpCode`.")] code: String,
    ) -> GqlResult<Option<AnonymousFollowUp>> {
        Ok(service::follow_up(state(ctx), &code)
            .await?
            .map(|m| AnonymousFollowUp {
                reference: m.reference,
                status: IncidentStatus::parse(&m.status).unwrap_or(IncidentStatus::Reported),
                reported_at: m.reported_at,
                closed_at: m.closed_at,
                learning_summary: m.learning_summary,
                feedback_to_reporter: m.feedback_to_reporter,
            }))
    }

    /// Incidents the caller may see, newest report first unless ordered otherwise.
    // The page's selection counts once per row. `first` is clamped to the largest page a
    // default server allows, so an over-large `first` is refused by its own check (naming
    // the field) rather than as "too complex".
    #[graphql(complexity = "first.unwrap_or(20).clamp(1, 100) as usize * child_complexity")]
    async fn incidents(
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
        #[graphql(desc = "Which incidents; all the caller may see when not given.")] filter: Option<
            IncidentFilter,
        >,
        #[graphql(desc = "The order; REPORTED_AT DESC when not given.")] order_by: Option<
            IncidentOrder,
        >,
    ) -> GqlResult<Connection<Incident>> {
        let st = state(ctx);
        let rc = request(ctx);
        rc.principal()?;
        let first = page_size(first, st.settings.limits.max_page_size)?;
        let query = filter.unwrap_or_default().into_query()?;
        let order = IncidentOrder::or_default(order_by);
        // A page that shows none of the text reads none of it.
        let node = ctx.look_ahead().field("edges").field("node");
        let columns = if super::columns::text_fields().any(|f| node.field(f).exists()) {
            service::Columns::All
        } else {
            service::Columns::Brief
        };
        let page = service::list(st, rc, query, order, first, after, columns).await?;
        Ok(Connection::of(page, |(m, access)| Incident::new(m, access)))
    }
}

use super::model::IncidentQuery as IncidentQuery_;

/// What an anonymous reporter reads with their follow-up code: status and learning only.
#[derive(SimpleObject)]
pub struct AnonymousFollowUp {
    /// The incident's reference, `INC-YYYY-NNNNNN`.
    pub reference: String,
    /// Where the incident is in its review.
    pub status: IncidentStatus,
    /// When it was reported.
    pub reported_at: DateTime<Utc>,
    /// When it was closed; null while open.
    pub closed_at: Option<DateTime<Utc>>,
    /// What was learned.
    pub learning_summary: Option<String>,
    /// Feedback to the reporter.
    pub feedback_to_reporter: Option<String>,
}

/// The patient an incident concerns.
#[derive(InputObject)]
pub struct PatientInput {
    /// 10 digits; spaces are ignored.
    pub nhs_number: Option<String>,
    /// The patient's name (at most 200 characters).
    pub name: Option<String>,
    /// The date of birth; not in the future.
    pub date_of_birth: Option<Date>,
}

/// The equipment involved.
#[derive(InputObject)]
pub struct EquipmentInput {
    /// The trust's asset number (at most 100 characters).
    pub asset_id: Option<String>,
    /// The manufacturer (at most 200 characters).
    pub manufacturer: Option<String>,
    /// The model (at most 200 characters).
    pub model: Option<String>,
    /// The serial number (at most 100 characters).
    pub serial_number: Option<String>,
}

/// A new incident report.
#[derive(InputObject)]
pub struct ReportIncidentInput {
    /// A short summary (at most 200 characters).
    pub title: String,
    /// What happened. Sensitive.
    pub description: String,
    /// When it happened; not in the future.
    pub occurred_at: DateTime<Utc>,
    /// The department to report it to.
    pub department_id: ID,
    /// What kind of event it was.
    pub kind: IncidentKind,
    /// Physical harm as the reporter sees it; NONE for a near miss.
    pub physical_harm: HarmLevel,
    /// Default NONE; FATAL is not a psychological harm level.
    pub psychological_harm: Option<HarmLevel>,
    /// Default INCIDENT.
    pub event_type: Option<EventType>,
    /// It did not reach the patient; default false.
    pub near_miss: Option<bool>,
    /// Where it happened (at most 200 characters).
    pub location: Option<String>,
    /// At most 100 characters; one of the configured `incident_categories` when they are set.
    pub category: Option<String>,
    /// What was done at once (at most 10,000 characters). Sensitive.
    pub immediate_actions: Option<String>,
    /// The patient concerned, if any. Sensitive: sealed when stored.
    pub patient: Option<PatientInput>,
    /// The equipment involved, if any.
    pub equipment: Option<EquipmentInput>,
    /// Report without any link to you being stored.
    pub anonymous: Option<bool>,
    /// Send the same key again (e.g. a double-submitted form) to get the first result back.
    pub idempotency_key: Option<String>,
    /// Facts that decide what is owed to regulators (RIDDOR, IR(ME)R, ICO, MHRA, SABRE)
    /// and to the patient (prolonged psychological harm): see `obligations`.
    pub regulatory_facts: Option<Vec<crate::notify::rules::RegulatoryFact>>,
    /// Answers to LFPSE's questions that Candour has no field of its own for (see
    /// `lfpseTaxonomy`); each element at most once.
    pub lfpse_answers: Option<Vec<LfpseAnswerInput>>,
    /// Files to attach: the ids `POST /attachments` answered for your uploads (photos
    /// only for an anonymous report; see `attachmentRules`).
    pub attachment_ids: Option<Vec<ID>>,
}

/// The result of `reportIncident`.
#[derive(SimpleObject)]
pub struct ReportIncidentPayload {
    /// The incident reported, as the reporter may see it.
    pub incident: Incident,
    /// For anonymous reports: the code to read feedback with through `followUp`. Shown
    /// once and never stored (only its hash is): it cannot be recovered.
    pub follow_up_code: Option<String>,
}

/// The result of a change to an incident.
#[derive(SimpleObject)]
pub struct IncidentPayload {
    /// The incident as it now is.
    pub incident: Incident,
}

/// Governance facts set during review; omitted fields stay as they are. Triaging a
/// REPORTED incident moves it to UNDER_REVIEW.
#[derive(InputObject)]
pub struct TriageIncidentInput {
    /// The incident to triage.
    pub incident_id: ID,
    /// The `version` last read; a stale one is CONFLICT.
    pub expected_version: i32,
    /// The handler to lead the review: a handler of the incident's department or a
    /// quality lead.
    pub handler_id: Option<ID>,
    /// At most 100 characters; one of the configured `incident_categories` when they are set.
    pub category: Option<String>,
    /// Confirmed physical harm.
    pub physical_harm: Option<HarmLevel>,
    /// Confirmed psychological harm.
    pub psychological_harm: Option<HarmLevel>,
    /// The PSIRF learning response chosen. One other than `suggestedLearningResponse` needs
    /// `learningResponseOverrideReason`.
    pub learning_response: Option<LearningResponse>,
    /// Why the response chosen differs from the one the trust's patient safety incident
    /// response plan suggests (at most 2,000 characters). Sensitive.
    pub learning_response_override_reason: Option<String>,
    /// What was learned, fed back to staff (at most 20,000 characters).
    pub learning_summary: Option<String>,
    /// Investigation findings (at most 50,000 characters). Sensitive.
    pub findings: Option<String>,
    /// Feedback to the reporter (at most 20,000 characters).
    pub feedback_to_reporter: Option<String>,
    /// Overrides the harm-derived default.
    pub duty_of_candour_applies: Option<bool>,
    /// Replaces the regulatory facts; the incident's obligations follow.
    pub regulatory_facts: Option<Vec<crate::notify::rules::RegulatoryFact>>,
    /// Replaces the answers to LFPSE's questions (an empty list clears them).
    pub lfpse_answers: Option<Vec<LfpseAnswerInput>>,
}

/// An answer to one of LFPSE's questions that Candour has no field of its own for.
#[derive(InputObject)]
pub struct LfpseAnswerInput {
    /// The taxonomy element, `Extension.Element`, e.g. `AdverseEventGovernance.NeverEvent`
    /// (see `lfpseTaxonomy`).
    pub element: String,
    /// Its values: codes from the element's value set (as many as it takes), or one
    /// `true`/`false`, whole number, `YYYY-MM-DD` or `HH:MM`. Free-text elements are not
    /// answered here: words go in the description.
    pub values: Vec<String>,
}

impl From<LfpseAnswerInput> for crate::lfpse::taxonomy::Answer {
    fn from(a: LfpseAnswerInput) -> Self {
        Self {
            element: a.element,
            values: a.values,
        }
    }
}

/// An answer to one of LFPSE's questions.
#[derive(SimpleObject)]
pub struct LfpseAnswer {
    /// The taxonomy element, `Extension.Element`.
    pub element: String,
    /// Its values, as stored (codes, `true`/`false`, numbers, dates, times).
    pub values: Vec<String>,
}

/// A move of an incident through its review.
#[derive(InputObject)]
pub struct TransitionIncidentInput {
    /// The incident to move.
    pub incident_id: ID,
    /// The status to move to: one of `allowedTransitions`.
    pub to: IncidentStatus,
    /// Required to decline or reopen (at most 2,000 characters); becomes `statusReason`.
    pub reason: Option<String>,
    /// The `version` last read; a stale one is CONFLICT.
    pub expected_version: i32,
    /// When declining a duplicate: the incident it duplicates.
    pub duplicate_of_id: Option<ID>,
}

/// An internal note on an incident's review.
#[derive(InputObject)]
pub struct CommentOnIncidentInput {
    /// The incident to comment on.
    pub incident_id: ID,
    /// Sensitive; at most 10,000 characters.
    pub body: String,
}

/// A step of the duty of candour taken for an incident.
#[derive(InputObject)]
pub struct RecordDutyOfCandourStepInput {
    /// The incident.
    pub incident_id: ID,
    /// The `version` last read; a stale one is CONFLICT.
    pub expected_version: i32,
    /// The step taken; each but UPDATE is recorded once.
    pub step: CandourStep,
    /// When it was taken; not in the future.
    pub taken_at: DateTime<Utc>,
}

#[derive(Default)]
pub struct IncidentMutation;

#[Object]
impl IncidentMutation {
    /// Reports an incident or near miss. Any signed-in person; service accounts need
    /// `incidents:write`.
    async fn report_incident(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The report.")] input: ReportIncidentInput,
    ) -> GqlResult<ReportIncidentPayload> {
        let department_id = ids::decode_as(Kind::Department, &input.department_id, "departmentId")?;
        if input.anonymous == Some(true) && !alone_in_request(ctx) {
            // Anything else in the request (a read that is logged, a change that names its
            // actor, the caller's last-seen time) would tie the caller to this report.
            return Err(crate::error::AppError::invalid(
                "anonymous",
                "an anonymous report is sent on its own: no other operation or field in the same request",
            )
            .into());
        }
        let attachment_ids = crate::attachment::graphql::upload_ids(
            "attachmentIds",
            input.attachment_ids.as_deref().unwrap_or_default(),
        )?;
        let new = NewIncident {
            attachment_ids,
            title: input.title,
            description: input.description,
            occurred_at: input.occurred_at,
            department_id,
            kind: input.kind,
            physical_harm: input.physical_harm,
            psychological_harm: input.psychological_harm.unwrap_or(HarmLevel::None),
            event_type: input.event_type.unwrap_or_default(),
            near_miss: input.near_miss.unwrap_or(false),
            location: input.location,
            category: input.category,
            immediate_actions: input.immediate_actions,
            patient: input.patient.map(|p| PatientDetails {
                nhs_number: p.nhs_number,
                name: p.name,
                date_of_birth: p.date_of_birth.map(Into::into),
            }),
            equipment: input.equipment.map(|e| EquipmentDetails {
                asset_id: e.asset_id,
                manufacturer: e.manufacturer,
                model: e.model,
                serial_number: e.serial_number,
            }),
            anonymous: input.anonymous.unwrap_or(false),
            idempotency_key: input.idempotency_key,
            regulatory_facts: input
                .regulatory_facts
                .unwrap_or_default()
                .into_iter()
                .collect(),
            lfpse_answers: input
                .lfpse_answers
                .unwrap_or_default()
                .into_iter()
                .map(Into::into)
                .collect(),
        };
        let (m, access, follow_up_code) = service::report(state(ctx), request(ctx), new).await?;
        Ok(ReportIncidentPayload {
            incident: Incident::new(m, access),
            follow_up_code,
        })
    }

    /// Records governance facts (handler, confirmed harm, learning, feedback, candour).
    async fn triage_incident(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The facts to set.")] input: TriageIncidentInput,
    ) -> GqlResult<IncidentPayload> {
        let id = ids::decode_as(Kind::Incident, &input.incident_id, "incidentId")?;
        let handler_id = input
            .handler_id
            .as_ref()
            .map(|h| ids::decode_as(Kind::Staff, h, "handlerId"))
            .transpose()?;
        let t = Triage {
            handler_id,
            category: input.category,
            physical_harm: input.physical_harm,
            psychological_harm: input.psychological_harm,
            learning_response: input.learning_response,
            learning_response_override_reason: input.learning_response_override_reason,
            learning_summary: input.learning_summary,
            findings: input.findings,
            feedback_to_reporter: input.feedback_to_reporter,
            duty_of_candour_applies: input.duty_of_candour_applies,
            regulatory_facts: input.regulatory_facts.map(|f| f.into_iter().collect()),
            lfpse_answers: input
                .lfpse_answers
                .map(|a| a.into_iter().map(Into::into).collect()),
        };
        let (m, access) =
            service::triage(state(ctx), request(ctx), id, input.expected_version, t).await?;
        Ok(IncidentPayload {
            incident: Incident::new(m, access),
        })
    }

    /// Moves an incident through review. Closing checks the closing rules; closing and
    /// reopening are for quality leads; declining and reopening need a reason.
    async fn transition_incident(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The move.")] input: TransitionIncidentInput,
    ) -> GqlResult<IncidentPayload> {
        let id = ids::decode_as(Kind::Incident, &input.incident_id, "incidentId")?;
        let duplicate_of = input
            .duplicate_of_id
            .as_ref()
            .map(|d| ids::decode_as(Kind::Incident, d, "duplicateOfId"))
            .transpose()?;
        let (m, access) = service::transition(
            state(ctx),
            request(ctx),
            id,
            TransitionRequest {
                to: input.to,
                reason: input.reason,
                expected_version: input.expected_version,
                duplicate_of,
            },
        )
        .await?;
        Ok(IncidentPayload {
            incident: Incident::new(m, access),
        })
    }

    /// Adds an internal note to an incident's review.
    async fn comment_on_incident(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The note.")] input: CommentOnIncidentInput,
    ) -> GqlResult<IncidentPayload> {
        let id = ids::decode_as(Kind::Incident, &input.incident_id, "incidentId")?;
        let (m, access) = service::comment(state(ctx), request(ctx), id, input.body).await?;
        Ok(IncidentPayload {
            incident: Incident::new(m, access),
        })
    }

    /// Records a duty-of-candour step (verbal, written, update, final letter).
    async fn record_duty_of_candour_step(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The step.")] input: RecordDutyOfCandourStepInput,
    ) -> GqlResult<IncidentPayload> {
        let id = ids::decode_as(Kind::Incident, &input.incident_id, "incidentId")?;
        let (m, access) = service::record_candour_step(
            state(ctx),
            request(ctx),
            id,
            input.expected_version,
            input.step,
            input.taken_at,
        )
        .await?;
        Ok(IncidentPayload {
            incident: Incident::new(m, access),
        })
    }
}

/// Whether the field being resolved is the only root field of the only operation of its
/// HTTP request.
fn alone_in_request(ctx: &Context<'_>) -> bool {
    use async_graphql::parser::types::Selection;
    let items = &ctx.query_env.operation.node.selection_set.node.items;
    request(ctx).batch_len == 1 && items.len() == 1 && matches!(items[0].node, Selection::Field(_))
}
