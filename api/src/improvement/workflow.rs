//! The improvement project's rules as plain functions: who may do what, the status machine
//! and the order of a PDSA cycle's stages.
use chrono::NaiveDate;

use super::model::{ImprovementStatus as S, PdsaOutcome, PdsaStage};
use crate::auth::{Principal, Role, Scope};
use crate::error::AppError;

/// What a caller may do with one project.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Access {
    /// See it: improvement work is aggregate quality data, open to every signed-in person.
    pub view: bool,
    /// Do the work: record measurements, add measures, run PDSA cycles (the project's lead
    /// and everyone who may manage it).
    pub contribute: bool,
    /// Govern it: move it through its statuses and link incidents and audits (quality leads
    /// and the handlers of its department).
    pub manage: bool,
}

/// May `p` start a project in the department with this code?
pub fn may_start(p: &Principal, department_code: &str) -> bool {
    p.has_role(Role::QualityLead) || p.handles_department(department_code)
}

/// Access of `p` to a project of `department_code` led by `lead_email` (lower case).
pub fn access(p: &Principal, department_code: &str, lead_email: Option<&str>) -> Access {
    let manage = !p.is_service() && may_start(p, department_code);
    let lead = !p.is_service()
        && matches!(
            (p.email.as_deref(), lead_email),
            (Some(mine), Some(lead)) if mine.trim().eq_ignore_ascii_case(lead)
        );
    let read_scope = p.has_scope(Scope::IncidentsRead) || p.has_scope(Scope::IncidentsManage);
    Access {
        view: !p.is_service() || read_scope,
        contribute: manage || lead,
        manage,
    }
}

pub fn is_edge(from: S, to: S) -> bool {
    matches!(
        (from, to),
        (S::Proposed, S::Active)
            | (S::Active, S::Sustaining)
            | (S::Sustaining, S::Closed)
            | (S::Active, S::Closed)
            | (S::Proposed | S::Active | S::Sustaining, S::Abandoned)
    )
}

/// Whether moving to `to` needs a stated reason.
pub fn needs_reason(to: S) -> bool {
    to == S::Abandoned
}

/// Checks a status change: this caller may govern the project, the edge exists and a
/// required reason is given.
pub fn check_transition(
    from: S,
    to: S,
    reason: Option<&str>,
    access: Access,
) -> Result<(), AppError> {
    if !access.manage {
        return Err(AppError::forbidden(
            "only quality leads and the department's handlers may move an improvement project",
        ));
    }
    if from.is_final() {
        return Err(AppError::invalid(
            "to",
            format!(
                "a {} project is final and cannot move to {}",
                from.as_str(),
                to.as_str()
            ),
        ));
    }
    if !is_edge(from, to) {
        return Err(AppError::invalid(
            "to",
            format!(
                "an improvement project cannot move from {} to {}",
                from.as_str(),
                to.as_str()
            ),
        ));
    }
    if needs_reason(to) && reason.is_none_or(|r| r.trim().is_empty()) {
        return Err(
            AppError::invalid("reason", "abandoning a project needs a reason")
                .because(crate::record::text::reason::BLANK),
        );
    }
    Ok(())
}

/// The statuses this caller may move the project to now (a reason may still be needed).
pub fn allowed_transitions(from: S, access: Access) -> Vec<S> {
    S::ALL
        .iter()
        .copied()
        .filter(|&to| check_transition(from, to, Some("reason"), access).is_ok())
        .collect()
}

/// Stages only move forward (staying put is fine: a stage's notes are written over time).
pub fn check_stage(from: PdsaStage, to: PdsaStage) -> Result<(), AppError> {
    if to < from {
        return Err(AppError::invalid(
            "stage",
            format!(
                "a PDSA cycle moves forward only (PLAN, DO, STUDY, ACT); it is at {} and cannot go back to {}",
                from.as_str(),
                to.as_str()
            ),
        ));
    }
    Ok(())
}

/// A cycle's outcome is decided at ACT, and it cannot end before it started.
pub fn check_cycle(
    stage: PdsaStage,
    outcome: Option<PdsaOutcome>,
    start: NaiveDate,
    end: Option<NaiveDate>,
) -> Result<(), AppError> {
    if outcome.is_some() && stage != PdsaStage::Act {
        return Err(AppError::invalid(
            "outcome",
            "an outcome is decided at the ACT stage",
        ));
    }
    if end.is_some_and(|e| e < start) {
        return Err(AppError::invalid(
            "endDate",
            "a cycle cannot end before its start date",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    const MANAGER: Access = Access {
        view: true,
        contribute: true,
        manage: true,
    };
    const LEAD: Access = Access {
        view: true,
        contribute: true,
        manage: false,
    };

    fn person(roles: &[Role], departments: &[&str], email: Option<&str>) -> Principal {
        Principal {
            subject: "p".into(),
            name: None,
            email: email.map(str::to_string),
            roles: roles.iter().copied().chain([Role::Staff]).collect(),
            department_codes: departments.iter().map(|d| d.to_string()).collect(),
            scopes: None,
        }
    }

    #[test]
    fn the_happy_path_and_its_shortcut() {
        check_transition(S::Proposed, S::Active, None, MANAGER).unwrap();
        check_transition(S::Active, S::Sustaining, None, MANAGER).unwrap();
        check_transition(S::Sustaining, S::Closed, None, MANAGER).unwrap();
        check_transition(S::Active, S::Closed, None, MANAGER).unwrap();
    }

    #[test]
    fn abandoning_needs_a_reason_and_is_open_until_the_end() {
        for from in [S::Proposed, S::Active, S::Sustaining] {
            let e = check_transition(from, S::Abandoned, None, MANAGER).unwrap_err();
            assert!(matches!(e, AppError::Invalid { ref field, .. } if field == "reason"));
            let e = check_transition(from, S::Abandoned, Some("  "), MANAGER).unwrap_err();
            assert!(matches!(e, AppError::Invalid { ref field, .. } if field == "reason"));
            check_transition(from, S::Abandoned, Some("no capacity"), MANAGER).unwrap();
        }
    }

    #[test]
    fn no_skipping_no_going_back_and_the_end_is_final() {
        for (from, to) in [
            (S::Proposed, S::Sustaining),
            (S::Proposed, S::Closed),
            (S::Sustaining, S::Active),
            (S::Active, S::Proposed),
            (S::Active, S::Active),
            (S::Closed, S::Active),
            (S::Closed, S::Abandoned),
            (S::Abandoned, S::Proposed),
            (S::Abandoned, S::Abandoned),
        ] {
            let e = check_transition(from, to, Some("why"), MANAGER).unwrap_err();
            assert!(
                matches!(e, AppError::Invalid { ref field, .. } if field == "to"),
                "{from:?} -> {to:?}"
            );
        }
    }

    #[test]
    fn the_lead_does_the_work_but_does_not_move_the_project() {
        assert_eq!(
            check_transition(S::Proposed, S::Active, None, LEAD)
                .unwrap_err()
                .code(),
            "FORBIDDEN"
        );
        assert!(allowed_transitions(S::Active, LEAD).is_empty());
    }

    #[test]
    fn allowed_transitions_follow_the_machine() {
        assert_eq!(
            allowed_transitions(S::Proposed, MANAGER),
            vec![S::Active, S::Abandoned]
        );
        assert_eq!(
            allowed_transitions(S::Active, MANAGER),
            vec![S::Sustaining, S::Closed, S::Abandoned]
        );
        assert_eq!(
            allowed_transitions(S::Sustaining, MANAGER),
            vec![S::Closed, S::Abandoned]
        );
        assert!(allowed_transitions(S::Closed, MANAGER).is_empty());
        assert!(allowed_transitions(S::Abandoned, MANAGER).is_empty());
    }

    #[test]
    fn who_may_do_what() {
        let ql = person(&[Role::QualityLead], &[], Some("q@t.nhs.uk"));
        assert_eq!(access(&ql, "CARD", None), MANAGER);
        let handler = person(&[Role::Handler], &["CARD"], Some("h@t.nhs.uk"));
        assert_eq!(access(&handler, "CARD", None), MANAGER);
        let other = access(&handler, "RAD", None);
        assert!(other.view && !other.contribute && !other.manage);
        let lead = person(&[], &[], Some("Lead@Trust.NHS.uk"));
        assert_eq!(access(&lead, "CARD", Some("lead@trust.nhs.uk")), LEAD);
        let staff = access(&lead, "CARD", Some("someone@trust.nhs.uk"));
        assert!(staff.view && !staff.contribute);
        let mut service = person(&[], &[], Some("lead@trust.nhs.uk"));
        service.roles = BTreeSet::new();
        service.scopes = Some([Scope::IncidentsWrite].into());
        assert_eq!(
            access(&service, "CARD", Some("lead@trust.nhs.uk")),
            Access::default()
        );
        service.scopes = Some([Scope::IncidentsRead].into());
        let reader = access(&service, "CARD", None);
        assert!(reader.view && !reader.contribute);
    }

    #[test]
    fn pdsa_stages_move_forward_only() {
        use PdsaStage::*;
        check_stage(Plan, Do).unwrap();
        check_stage(Do, Study).unwrap();
        check_stage(Study, Act).unwrap();
        check_stage(Study, Study).unwrap();
        for (from, to) in [(Do, Plan), (Act, Study), (Study, Plan), (Act, Plan)] {
            let e = check_stage(from, to).unwrap_err();
            assert!(matches!(e, AppError::Invalid { ref field, .. } if field == "stage"));
        }
    }

    #[test]
    fn outcomes_come_at_act_and_cycles_end_after_they_start() {
        let start = NaiveDate::from_ymd_opt(2026, 3, 2).unwrap();
        let before = start.pred_opt().unwrap();
        check_cycle(PdsaStage::Act, Some(PdsaOutcome::Adopt), start, Some(start)).unwrap();
        check_cycle(PdsaStage::Do, None, start, None).unwrap();
        let e = check_cycle(PdsaStage::Study, Some(PdsaOutcome::Adapt), start, None).unwrap_err();
        assert!(matches!(e, AppError::Invalid { ref field, .. } if field == "outcome"));
        let e = check_cycle(PdsaStage::Act, None, start, Some(before)).unwrap_err();
        assert!(matches!(e, AppError::Invalid { ref field, .. } if field == "endDate"));
    }
}
