//! The incident's rules as plain functions: who may see and change an incident, the state
//! machine, and what must be true before an incident closes.
use crate::auth::{Principal, Role, Scope};
use crate::error::AppError;

use super::model::{CandourStep, HarmLevel, IncidentStatus, LearningResponse};

/// What a caller may do with one incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Access {
    /// See the incident at all (its reported facts, status and the learning fed back).
    pub view: bool,
    /// See the internal record: comments and investigation notes.
    pub internal: bool,
    /// Triage, comment, record candour steps and move it through review.
    pub manage: bool,
    /// Close and reopen.
    pub close: bool,
    /// Read the reporter's own words: the description, the immediate actions taken, and
    /// who reported it.
    pub narrative: bool,
    /// Read patient identifiers (NHS number, name, date of birth).
    pub sensitive: bool,
    /// The access comes from a break-glass grant (logged as such).
    pub break_glass: bool,
}

impl Access {
    /// What an anonymous reporter's receipt shows: the record exists, nothing sensitive.
    pub const RECEIPT: Access = Access {
        view: true,
        internal: false,
        manage: false,
        close: false,
        narrative: false,
        sensitive: false,
        break_glass: false,
    };

    /// A named reporter's view of their own report: status, learning and their own words;
    /// not the patient's identifiers (they have no continuing need for them).
    pub const REPORTER: Access = Access {
        view: true,
        internal: false,
        manage: false,
        close: false,
        narrative: true,
        sensitive: false,
        break_glass: false,
    };

    /// A time-limited break-glass grant: read everything, change nothing.
    pub const BREAK_GLASS: Access = Access {
        view: true,
        internal: true,
        manage: false,
        close: false,
        narrative: true,
        sensitive: true,
        break_glass: true,
    };

    /// An information-governance officer answering a subject-access request.
    pub const SUBJECT_ACCESS: Access = Access {
        view: true,
        internal: true,
        manage: false,
        close: false,
        narrative: true,
        sensitive: true,
        break_glass: false,
    };
}

/// Access of `principal` to an incident of `department_code`, reported by the caller when
/// `is_reporter`. Denials are shaped by the caller: a record you may not see is "not found".
pub fn access(principal: &Principal, department_code: &str, is_reporter: bool) -> Access {
    let quality_lead = principal.has_role(Role::QualityLead);
    let handler = principal.handles_department(department_code);
    let service_manage = principal.has_scope(Scope::IncidentsManage);
    let service_read = principal.has_scope(Scope::IncidentsRead) || service_manage;
    let manage = quality_lead || handler || service_manage;
    if !(manage || service_read) && is_reporter {
        return Access::REPORTER;
    }
    Access {
        view: manage || service_read,
        internal: manage || service_read,
        manage,
        close: quality_lead,
        narrative: manage || service_read,
        sensitive: manage || service_read,
        break_glass: false,
    }
}

/// Whether a caller may report incidents at all.
pub fn may_report(principal: &Principal) -> Result<(), AppError> {
    if principal.is_service() && !principal.has_scope(Scope::IncidentsWrite) {
        return Err(AppError::forbidden(
            "reporting needs the incidents:write scope",
        ));
    }
    Ok(())
}

/// Whether the caller may comment (an internal note on the investigation).
pub fn may_comment(principal: &Principal, access: Access) -> Result<(), AppError> {
    if access.manage || principal.has_scope(Scope::IncidentsWrite) && access.view {
        Ok(())
    } else {
        Err(AppError::forbidden(
            "only the incident's handlers and quality leads may comment",
        ))
    }
}

/// Facts the closing rules look at.
#[derive(Debug, Clone, Default)]
pub struct ClosingFacts {
    pub physical_harm: Option<HarmLevel>,
    pub psychological_harm: Option<HarmLevel>,
    pub feedback_to_reporter: Option<String>,
    pub learning_response: Option<LearningResponse>,
    pub learning_summary: Option<String>,
    pub duty_of_candour_applies: bool,
    pub candour_steps: Vec<CandourStep>,
    pub open_corrective_actions: u64,
}

/// Moderate harm or worse, physical or psychological: the threshold for the statutory duty
/// of candour and for a recorded learning response.
pub fn is_moderate_or_worse(physical: HarmLevel, psychological: HarmLevel) -> bool {
    physical >= HarmLevel::Moderate || psychological >= HarmLevel::Moderate
}

/// Whether the duty of candour applies: as set during triage, else derived from harm.
pub fn duty_of_candour_applies(
    explicit: Option<bool>,
    physical: HarmLevel,
    psychological: HarmLevel,
) -> bool {
    explicit.unwrap_or_else(|| is_moderate_or_worse(physical, psychological))
}

pub fn candour_complete(steps: &[CandourStep]) -> bool {
    CandourStep::REQUIRED.iter().all(|s| steps.contains(s))
}

fn blank(s: &Option<String>) -> bool {
    s.as_deref().map(str::trim).unwrap_or_default().is_empty()
}

/// The rules that must hold before an incident closes, first failure first.
pub fn check_closing(f: &ClosingFacts) -> Result<(), AppError> {
    if blank(&f.feedback_to_reporter) {
        return Err(AppError::invalid(
            "feedbackToReporter",
            "an incident cannot close before feedback to the reporter is recorded",
        ));
    }
    if f.open_corrective_actions > 0 {
        return Err(AppError::invalid(
            "correctiveActions",
            "an incident cannot close while it has open corrective actions",
        ));
    }
    let serious = is_moderate_or_worse(
        f.physical_harm.unwrap_or(HarmLevel::None),
        f.psychological_harm.unwrap_or(HarmLevel::None),
    );
    if serious && f.learning_response.is_none() {
        return Err(AppError::invalid(
            "learningResponse",
            "an incident with moderate harm or worse needs a learning response before it closes",
        ));
    }
    if serious && blank(&f.learning_summary) {
        return Err(AppError::invalid(
            "learningSummary",
            "an incident with moderate harm or worse needs a learning summary before it closes",
        ));
    }
    if f.duty_of_candour_applies && !candour_complete(&f.candour_steps) {
        return Err(AppError::invalid(
            "dutyOfCandour",
            "the duty of candour applies and is incomplete: verbal notification, written notification and final letter must be recorded",
        ));
    }
    Ok(())
}

/// The edges of the state machine, without permissions.
pub fn is_edge(from: IncidentStatus, to: IncidentStatus) -> bool {
    use IncidentStatus::*;
    matches!(
        (from, to),
        (Reported, UnderReview)
            | (UnderReview, Investigating)
            | (UnderReview, Closed)
            | (Investigating, ActionsInProgress)
            | (Investigating, Closed)
            | (ActionsInProgress, Closed)
            | (
                Reported | UnderReview | Investigating | ActionsInProgress,
                Declined
            )
            | (Closed | Declined, UnderReview)
    )
}

fn is_reopen(from: IncidentStatus) -> bool {
    matches!(from, IncidentStatus::Closed | IncidentStatus::Declined)
}

/// Whether the move needs a stated reason.
pub fn needs_reason(from: IncidentStatus, to: IncidentStatus) -> bool {
    to == IncidentStatus::Declined || is_reopen(from)
}

/// Checks one transition: the edge exists, the caller may take it, a reason is given where
/// one is needed. The closing rules are checked separately (they need stored facts).
pub fn check_transition(
    from: IncidentStatus,
    to: IncidentStatus,
    access: Access,
    reason: Option<&str>,
) -> Result<(), AppError> {
    if !access.manage && !access.close {
        return Err(AppError::forbidden(
            "only the incident's handlers and quality leads may move it through review",
        ));
    }
    if !is_edge(from, to) {
        return Err(AppError::invalid(
            "to",
            format!(
                "an incident cannot move from {} to {}",
                from.as_str(),
                to.as_str()
            ),
        ));
    }
    if (to == IncidentStatus::Closed || is_reopen(from)) && !access.close {
        return Err(AppError::forbidden(
            "only a quality lead may close or reopen an incident",
        ));
    }
    if needs_reason(from, to) && reason.map(str::trim).unwrap_or_default().is_empty() {
        return Err(AppError::invalid(
            "reason",
            if to == IncidentStatus::Declined {
                "declining an incident needs a reason"
            } else {
                "reopening an incident needs a reason"
            },
        )
        .because(crate::record::text::reason::BLANK));
    }
    Ok(())
}

/// The transitions this caller may take now (closing rules aside), for clients to offer.
pub fn allowed_transitions(from: IncidentStatus, access: Access) -> Vec<IncidentStatus> {
    IncidentStatus::ALL
        .iter()
        .copied()
        .filter(|&to| check_transition(from, to, access, Some("reason")).is_ok())
        .collect()
}

/// Whether the duty of candour applies: as decided in triage, else moderate harm or worse
/// or prolonged psychological harm (28 days or more).
pub fn duty_applies(m: &entities::incident::Model) -> bool {
    let prolonged = crate::notify::rules::RegulatoryFact::parse_set(&m.regulatory_facts)
        .contains(&crate::notify::rules::RegulatoryFact::ProlongedPsychologicalHarm);
    m.duty_of_candour_applies.unwrap_or(prolonged)
        || duty_of_candour_applies(
            m.duty_of_candour_applies,
            HarmLevel::from_rank(m.physical_harm),
            HarmLevel::from_rank(m.psychological_harm),
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Claims;
    use IncidentStatus::*;

    fn principal(roles: &[&str], depts: &[&str], scope: Option<&str>) -> Principal {
        Principal::from_claims(Claims {
            sub: "p".into(),
            name: None,
            email: None,
            roles: roles.iter().map(|s| s.to_string()).collect(),
            departments: depts.iter().map(|s| s.to_string()).collect(),
            scope: scope.map(str::to_string),
            exp: 0,
            iat: None,
            iss: None,
            aud: None,
        })
    }

    /// Search matches an incident's description wherever its lister may see it
    /// (`service::narrative_readable`): that holds only while seeing an incident in a list
    /// always brings its reporter's words.
    #[test]
    fn whoever_may_see_an_incident_may_read_its_reporters_words() {
        let scopes = [
            None,
            Some("incidents:read"),
            Some("incidents:write"),
            Some("incidents:manage"),
        ];
        let roles: [&[&str]; 6] = [
            &[],
            &["handler"],
            &["quality_lead"],
            &["ig_officer"],
            &["admin"],
            &["handler", "ig_officer"],
        ];
        for scope in scopes {
            for r in roles {
                for depts in [&[][..], &["CARD"][..], &["NEUR"][..]] {
                    for reporter in [false, true] {
                        let a = access(&principal(r, depts, scope), "CARD", reporter);
                        assert!(
                            !a.view || a.narrative,
                            "{r:?} {depts:?} {scope:?} reporter={reporter}: {a:?}"
                        );
                    }
                }
            }
        }
    }

    const HANDLER: Access = Access {
        view: true,
        internal: true,
        manage: true,
        close: false,
        narrative: true,
        sensitive: true,
        break_glass: false,
    };
    const QUALITY_LEAD: Access = Access {
        close: true,
        ..HANDLER
    };
    const REPORTER: Access = Access::REPORTER;

    #[test]
    fn handlers_see_only_their_departments() {
        let h = principal(&["handler"], &["CARD"], None);
        assert_eq!(access(&h, "CARD", false), HANDLER);
        assert_eq!(access(&h, "NUCM", false), Access::default());
        assert!(
            access(&h, "NUCM", true).view,
            "but they see what they reported"
        );
    }

    #[test]
    fn a_reporter_sees_but_cannot_manage_or_read_internal_notes() {
        let s = principal(&[], &[], None);
        assert_eq!(access(&s, "CARD", true), REPORTER);
        let own = access(&s, "CARD", true);
        assert!(
            own.narrative && !own.sensitive,
            "their words, not the patient's identifiers"
        );
        assert_eq!(access(&s, "CARD", false), Access::default());
    }

    #[test]
    fn admins_see_no_clinical_records() {
        let a = principal(&["admin"], &["CARD"], None);
        assert!(!access(&a, "CARD", false).view);
    }

    #[test]
    fn service_scopes() {
        let read = principal(&["quality_lead"], &[], Some("incidents:read"));
        let a = access(&read, "CARD", false);
        assert!(a.view && a.internal && !a.manage && !a.close);
        assert!(may_report(&read).is_err());
        let write = principal(&[], &[], Some("incidents:write"));
        assert!(may_report(&write).is_ok());
        assert!(!access(&write, "CARD", false).view);
        let manage = principal(&[], &[], Some("incidents:manage"));
        let a = access(&manage, "CARD", false);
        assert!(a.manage && !a.close);
    }

    #[test]
    fn the_forward_path_and_its_shortcuts() {
        for (from, to) in [
            (Reported, UnderReview),
            (UnderReview, Investigating),
            (Investigating, ActionsInProgress),
        ] {
            check_transition(from, to, HANDLER, None).unwrap();
        }
        for from in [UnderReview, Investigating, ActionsInProgress] {
            check_transition(from, Closed, QUALITY_LEAD, None).unwrap();
        }
    }

    #[test]
    fn skipping_review_is_not_an_edge() {
        for (from, to) in [
            (Reported, Closed),
            (Reported, Investigating),
            (ActionsInProgress, Investigating),
            (Closed, Declined),
            (Declined, Closed),
            (UnderReview, Reported),
        ] {
            let err = check_transition(from, to, QUALITY_LEAD, Some("r")).unwrap_err();
            assert_eq!(err.code(), "BAD_USER_INPUT", "{from:?} -> {to:?}");
        }
    }

    #[test]
    fn only_quality_leads_close_and_reopen() {
        assert_eq!(
            check_transition(UnderReview, Closed, HANDLER, None)
                .unwrap_err()
                .code(),
            "FORBIDDEN"
        );
        assert_eq!(
            check_transition(Closed, UnderReview, HANDLER, Some("new evidence"))
                .unwrap_err()
                .code(),
            "FORBIDDEN"
        );
        check_transition(Closed, UnderReview, QUALITY_LEAD, Some("new evidence")).unwrap();
        check_transition(Declined, UnderReview, QUALITY_LEAD, Some("not a dup")).unwrap();
    }

    #[test]
    fn declining_and_reopening_need_a_reason() {
        for (from, to, access) in [
            (Investigating, Declined, HANDLER),
            (Closed, UnderReview, QUALITY_LEAD),
        ] {
            for reason in [None, Some("  ")] {
                let err = check_transition(from, to, access, reason).unwrap_err();
                assert!(matches!(err, AppError::Invalid { ref field, .. } if field == "reason"));
            }
        }
        check_transition(Reported, Declined, HANDLER, Some("duplicate")).unwrap();
    }

    #[test]
    fn a_reporter_cannot_move_an_incident() {
        assert_eq!(
            check_transition(Reported, UnderReview, REPORTER, None)
                .unwrap_err()
                .code(),
            "FORBIDDEN"
        );
        assert!(allowed_transitions(Reported, REPORTER).is_empty());
    }

    #[test]
    fn allowed_transitions_follow_the_role() {
        assert_eq!(
            allowed_transitions(UnderReview, HANDLER),
            vec![Investigating, Declined]
        );
        assert_eq!(
            allowed_transitions(UnderReview, QUALITY_LEAD),
            vec![Investigating, Closed, Declined]
        );
        assert_eq!(allowed_transitions(Closed, QUALITY_LEAD), vec![UnderReview]);
    }

    fn ready() -> ClosingFacts {
        ClosingFacts {
            physical_harm: Some(HarmLevel::Low),
            psychological_harm: Some(HarmLevel::None),
            feedback_to_reporter: Some("Thanks; the pump was recalibrated.".into()),
            ..ClosingFacts::default()
        }
    }

    fn field(err: AppError) -> String {
        match err {
            AppError::Invalid { field, .. } => field,
            other => panic!("expected bad input, got {other:?}"),
        }
    }

    #[test]
    fn closing_needs_feedback_to_the_reporter() {
        check_closing(&ready()).unwrap();
        let mut f = ready();
        f.feedback_to_reporter = Some(" ".into());
        assert_eq!(field(check_closing(&f).unwrap_err()), "feedbackToReporter");
    }

    #[test]
    fn closing_needs_no_open_actions() {
        let mut f = ready();
        f.open_corrective_actions = 1;
        assert_eq!(field(check_closing(&f).unwrap_err()), "correctiveActions");
    }

    #[test]
    fn moderate_harm_needs_a_learning_response_and_summary() {
        let mut f = ready();
        f.psychological_harm = Some(HarmLevel::Moderate);
        assert_eq!(field(check_closing(&f).unwrap_err()), "learningResponse");
        f.learning_response = Some(LearningResponse::AfterActionReview);
        assert_eq!(field(check_closing(&f).unwrap_err()), "learningSummary");
        f.learning_summary = Some("Double-check added".into());
        check_closing(&f).unwrap();
    }

    #[test]
    fn an_applicable_duty_of_candour_must_be_complete() {
        let mut f = ready();
        f.duty_of_candour_applies = true;
        f.candour_steps = vec![CandourStep::VerbalNotification, CandourStep::Update];
        assert_eq!(field(check_closing(&f).unwrap_err()), "dutyOfCandour");
        f.candour_steps
            .extend([CandourStep::WrittenNotification, CandourStep::FinalLetter]);
        check_closing(&f).unwrap();
    }

    #[test]
    fn duty_of_candour_follows_harm_unless_set() {
        assert!(duty_of_candour_applies(
            None,
            HarmLevel::Moderate,
            HarmLevel::None
        ));
        assert!(duty_of_candour_applies(
            None,
            HarmLevel::None,
            HarmLevel::Severe
        ));
        assert!(!duty_of_candour_applies(
            None,
            HarmLevel::Low,
            HarmLevel::Low
        ));
        assert!(!duty_of_candour_applies(
            Some(false),
            HarmLevel::Fatal,
            HarmLevel::None
        ));
        assert!(duty_of_candour_applies(
            Some(true),
            HarmLevel::None,
            HarmLevel::None
        ));
    }
}
