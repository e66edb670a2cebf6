//! Incident domain types. Each enum is stored as its GraphQL name, except harm, which is
//! stored as its LFPSE rank so it orders and compares.
use async_graphql::Enum;
use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use crate::stored_enum;

/// Where an incident is in its review.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IncidentStatus {
    /// Reported, awaiting triage.
    Reported,
    /// Triaged; a handler is reviewing it.
    UnderReview,
    /// A learning response is under way.
    Investigating,
    /// Investigation done; corrective actions are being carried out.
    ActionsInProgress,
    /// Learning fed back and all actions done.
    Closed,
    /// Not an incident, or a duplicate (a reason is recorded).
    Declined,
}
stored_enum!(IncidentStatus {
    Reported => "REPORTED", UnderReview => "UNDER_REVIEW", Investigating => "INVESTIGATING",
    ActionsInProgress => "ACTIONS_IN_PROGRESS", Closed => "CLOSED", Declined => "DECLINED",
});

/// What kind of event it was.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IncidentKind {
    /// Harm, or the risk of harm, to a patient in their care.
    PatientSafety,
    /// Harm, or the risk of harm, to a member of staff.
    StaffSafety,
    /// A fault or failure of a device or equipment.
    Equipment,
    /// Ionising radiation (IR(ME)R) incidents, including unintended exposures.
    Radiation,
    /// A breach, or near breach, of personal data or confidentiality.
    InformationGovernance,
    /// The premises or the environment: the estate, utilities, spills, waste.
    Environment,
    /// Anything else.
    Other,
}
stored_enum!(IncidentKind {
    PatientSafety => "PATIENT_SAFETY", StaffSafety => "STAFF_SAFETY", Equipment => "EQUIPMENT",
    Radiation => "RADIATION", InformationGovernance => "INFORMATION_GOVERNANCE",
    Environment => "ENVIRONMENT", Other => "OTHER",
});

/// LFPSE harm levels, least to most.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HarmLevel {
    /// No harm.
    None,
    /// Minimal harm; required extra observation or minor treatment.
    Low,
    /// Significant but not permanent harm.
    Moderate,
    /// Permanent harm, or prolonged psychological harm.
    Severe,
    /// Death caused by the incident (physical harm only).
    Fatal,
}

impl HarmLevel {
    pub fn rank(self) -> i16 {
        self as i16
    }
    pub fn from_rank(rank: i16) -> Self {
        match rank {
            i16::MIN..=0 => Self::None,
            1 => Self::Low,
            2 => Self::Moderate,
            3 => Self::Severe,
            _ => Self::Fatal,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "NONE",
            Self::Low => "LOW",
            Self::Moderate => "MODERATE",
            Self::Severe => "SEVERE",
            Self::Fatal => "FATAL",
        }
    }
}

/// LFPSE event types.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum EventType {
    /// Something went wrong, or could have, in care (the default).
    #[default]
    Incident,
    /// A poor outcome for a patient, where it is not known whether an incident caused it.
    Outcome,
    /// A risk to patient safety in the future, with no incident yet.
    Risk,
    /// Good care worth learning from.
    GoodCare,
}
stored_enum!(EventType { Incident => "INCIDENT", Outcome => "OUTCOME", Risk => "RISK", GoodCare => "GOOD_CARE" });

/// PSIRF learning responses.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LearningResponse {
    /// No learning response beyond the review of the report.
    None,
    /// An after action review: a structured conversation about what happened and why.
    AfterActionReview,
    /// A swarm huddle: those involved meet soon after the event.
    SwarmHuddle,
    /// A multidisciplinary team review.
    MdtReview,
    /// A thematic review across several incidents.
    ThematicReview,
    /// Patient safety incident investigation.
    Psii,
}
stored_enum!(LearningResponse {
    None => "NONE", AfterActionReview => "AFTER_ACTION_REVIEW", SwarmHuddle => "SWARM_HUDDLE",
    MdtReview => "MDT_REVIEW", ThematicReview => "THEMATIC_REVIEW", Psii => "PSII",
});

/// Steps of the statutory duty of candour (Health and Social Care Act 2008 regulation 20).
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CandourStep {
    /// The patient or family told in person, with an apology.
    VerbalNotification,
    /// The written follow-up to the verbal notification.
    WrittenNotification,
    /// An update while enquiries continue (may happen more than once).
    Update,
    /// The letter with the outcome of enquiries.
    FinalLetter,
}
stored_enum!(CandourStep {
    VerbalNotification => "VERBAL_NOTIFICATION", WrittenNotification => "WRITTEN_NOTIFICATION",
    Update => "UPDATE", FinalLetter => "FINAL_LETTER",
});

impl CandourStep {
    /// Steps that happen once and together complete the duty.
    pub const REQUIRED: [CandourStep; 3] = [
        CandourStep::VerbalNotification,
        CandourStep::WrittenNotification,
        CandourStep::FinalLetter,
    ];
}

/// The patient an incident concerns (all sensitive).
#[derive(Clone, Default)]
pub struct PatientDetails {
    pub nhs_number: Option<String>,
    pub name: Option<String>,
    pub date_of_birth: Option<NaiveDate>,
}

// Never printed: every field is personal data.
impl std::fmt::Debug for PatientDetails {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PatientDetails(..)")
    }
}

#[derive(Debug, Clone, Default)]
pub struct EquipmentDetails {
    pub asset_id: Option<String>,
    pub manufacturer: Option<String>,
    pub model: Option<String>,
    pub serial_number: Option<String>,
}

/// A report as submitted, before validation.
#[derive(Debug, Clone)]
pub struct NewIncident {
    pub title: String,
    pub description: String,
    pub occurred_at: DateTime<Utc>,
    pub department_id: Uuid,
    pub kind: IncidentKind,
    pub physical_harm: HarmLevel,
    pub psychological_harm: HarmLevel,
    pub event_type: EventType,
    pub near_miss: bool,
    pub location: Option<String>,
    pub category: Option<String>,
    pub immediate_actions: Option<String>,
    pub patient: Option<PatientDetails>,
    pub equipment: Option<EquipmentDetails>,
    pub anonymous: bool,
    pub idempotency_key: Option<String>,
    pub regulatory_facts: std::collections::BTreeSet<crate::notify::rules::RegulatoryFact>,
    /// Answers to LFPSE's questions (checked against the taxonomy).
    pub lfpse_answers: Vec<crate::lfpse::taxonomy::Answer>,
    /// Uploads of the reporter's to attach to the report (`POST /attachments`).
    pub attachment_ids: Vec<Uuid>,
}

/// Governance facts a handler sets during review; `None` leaves a fact unchanged.
#[derive(Debug, Clone, Default)]
pub struct Triage {
    pub handler_id: Option<Uuid>,
    pub category: Option<String>,
    pub physical_harm: Option<HarmLevel>,
    pub psychological_harm: Option<HarmLevel>,
    pub learning_response: Option<LearningResponse>,
    /// Why `learning_response` differs from the plan's suggestion (required when it does).
    pub learning_response_override_reason: Option<String>,
    pub learning_summary: Option<String>,
    pub findings: Option<String>,
    pub feedback_to_reporter: Option<String>,
    pub duty_of_candour_applies: Option<bool>,
    /// Replaces the incident's regulatory facts when given.
    pub regulatory_facts: Option<std::collections::BTreeSet<crate::notify::rules::RegulatoryFact>>,
    /// Replaces the answers to LFPSE's questions when given.
    pub lfpse_answers: Option<Vec<crate::lfpse::taxonomy::Answer>>,
}

/// The ordering of incident lists.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IncidentOrderField {
    /// By when it was reported.
    #[default]
    ReportedAt,
    /// By when it happened.
    OccurredAt,
    /// By physical harm, least to most in ascending order.
    PhysicalHarm,
}

/// Filters on incident lists; all given filters must match.
#[derive(Debug, Clone, Default)]
pub struct IncidentQuery {
    pub statuses: Vec<IncidentStatus>,
    pub department_id: Option<Uuid>,
    pub kind: Option<IncidentKind>,
    pub min_physical_harm: Option<HarmLevel>,
    pub reported_after: Option<DateTime<Utc>>,
    pub reported_before: Option<DateTime<Utc>>,
    /// When it happened: at or after, and before (the FHIR `date` search).
    pub occurred_after: Option<DateTime<Utc>>,
    pub occurred_before: Option<DateTime<Utc>>,
    /// Only this reference.
    pub reference: Option<String>,
    pub search: Option<String>,
    pub near_miss: Option<bool>,
    /// Only incidents the caller reported (named reports).
    pub mine: bool,
}
