//! The learning response's rules as plain functions: who may do what, the status machine
//! and when a response is overdue against the timeframe agreed with those affected.
use chrono::NaiveDate;

use super::model::LearningResponseStatus as S;
use crate::auth::{Principal, Role, Scope};
use crate::error::AppError;

/// What a caller may do with one learning response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Access {
    /// See it, findings included (every read of them logged): the handlers of its
    /// department, quality leads, its lead, and service accounts that read incidents.
    pub view: bool,
    /// Do the work: record findings, start and complete it (its lead, and everyone who may
    /// manage it).
    pub contribute: bool,
    /// Govern it: change its lead, timeframe and links, cancel it, raise actions from it
    /// (quality leads and the handlers of its department).
    pub manage: bool,
}

/// May `p` plan a learning response in the department with this code?
pub fn may_plan(p: &Principal, department_code: &str) -> bool {
    !p.is_service() && (p.has_role(Role::QualityLead) || p.handles_department(department_code))
}

/// Access of `p` to a response of `department_code` led by `lead_email` (lower case).
pub fn access(p: &Principal, department_code: &str, lead_email: &str) -> Access {
    let manage = may_plan(p, department_code);
    let lead = !p.is_service()
        && p.email
            .as_deref()
            .is_some_and(|mine| mine.trim().eq_ignore_ascii_case(lead_email));
    let reader = p.has_scope(Scope::IncidentsRead) || p.has_scope(Scope::IncidentsManage);
    Access {
        view: manage || lead || reader,
        contribute: manage || lead,
        manage,
    }
}

pub fn is_edge(from: S, to: S) -> bool {
    matches!(
        (from, to),
        (S::Planned, S::InProgress)
            | (S::InProgress, S::Completed)
            | (S::Planned | S::InProgress, S::Cancelled)
    )
}

/// Checks a status change: the caller's part in it, the edge, a reason for cancelling and
/// findings before completing.
pub fn check_transition(
    from: S,
    to: S,
    reason: Option<&str>,
    has_findings: bool,
    access: Access,
) -> Result<(), AppError> {
    let allowed = match to {
        S::Cancelled => access.manage,
        _ => access.contribute,
    };
    if !allowed {
        return Err(AppError::forbidden(if to == S::Cancelled {
            "only quality leads and the department's handlers may cancel a learning response"
        } else {
            "only the response's lead, quality leads and the department's handlers may move a learning response"
        }));
    }
    if from.is_final() {
        return Err(AppError::invalid(
            "to",
            format!(
                "a {} learning response is final and cannot move to {}",
                from.as_str(),
                to.as_str()
            ),
        ));
    }
    if !is_edge(from, to) {
        return Err(AppError::invalid(
            "to",
            format!(
                "a learning response cannot move from {} to {}",
                from.as_str(),
                to.as_str()
            ),
        ));
    }
    if to == S::Cancelled && reason.is_none_or(|r| r.trim().is_empty()) {
        return Err(
            AppError::invalid("reason", "cancelling a learning response needs a reason")
                .because(crate::record::text::reason::BLANK),
        );
    }
    if to == S::Completed && !has_findings {
        return Err(AppError::invalid(
            "to",
            "a learning response completes with its findings: record them first",
        ));
    }
    Ok(())
}

/// The statuses this caller may move the response to now (a reason or findings may still
/// be needed).
pub fn allowed_transitions(from: S, access: Access) -> Vec<S> {
    S::ALL
        .iter()
        .copied()
        .filter(|&to| check_transition(from, to, Some("reason"), true, access).is_ok())
        .collect()
}

/// Past the date agreed with those affected and not finished.
pub fn is_overdue(status: S, agreed_due_date: NaiveDate, today: NaiveDate) -> bool {
    !status.is_final() && agreed_due_date < today
}

#[cfg(test)]
mod tests {
    use super::*;

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

    fn field(e: AppError) -> String {
        match e {
            AppError::Invalid { field, .. } => field,
            other => panic!("expected bad input, got {other:?}"),
        }
    }

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
    fn planned_then_in_progress_then_completed() {
        check_transition(S::Planned, S::InProgress, None, false, LEAD).unwrap();
        check_transition(S::InProgress, S::Completed, None, true, LEAD).unwrap();
    }

    #[test]
    fn completing_needs_findings() {
        let e = check_transition(S::InProgress, S::Completed, None, false, MANAGER).unwrap_err();
        assert_eq!(field(e), "to");
    }

    #[test]
    fn cancelling_needs_a_reason_and_a_manager() {
        for from in S::OPEN_STATES {
            assert_eq!(
                field(check_transition(from, S::Cancelled, None, false, MANAGER).unwrap_err()),
                "reason"
            );
            assert_eq!(
                field(check_transition(from, S::Cancelled, Some(" "), false, MANAGER).unwrap_err()),
                "reason"
            );
            check_transition(
                from,
                S::Cancelled,
                Some("merged into the thematic review"),
                false,
                MANAGER,
            )
            .unwrap();
            assert_eq!(
                check_transition(from, S::Cancelled, Some("why"), false, LEAD)
                    .unwrap_err()
                    .code(),
                "FORBIDDEN"
            );
        }
    }

    #[test]
    fn no_skipping_no_going_back_and_the_end_is_final() {
        for (from, to) in [
            (S::Planned, S::Completed),
            (S::Planned, S::Planned),
            (S::InProgress, S::Planned),
            (S::InProgress, S::InProgress),
            (S::Completed, S::InProgress),
            (S::Completed, S::Cancelled),
            (S::Cancelled, S::Planned),
            (S::Cancelled, S::InProgress),
        ] {
            let e = check_transition(from, to, Some("why"), true, MANAGER).unwrap_err();
            assert_eq!(field(e), "to", "{from:?} -> {to:?}");
        }
    }

    #[test]
    fn nobody_else_moves_it() {
        let e = check_transition(S::Planned, S::InProgress, None, false, Access::default())
            .unwrap_err();
        assert_eq!(e.code(), "FORBIDDEN");
        assert!(allowed_transitions(S::Planned, Access::default()).is_empty());
    }

    #[test]
    fn allowed_transitions_follow_the_machine() {
        assert_eq!(
            allowed_transitions(S::Planned, MANAGER),
            vec![S::InProgress, S::Cancelled]
        );
        assert_eq!(
            allowed_transitions(S::InProgress, MANAGER),
            vec![S::Completed, S::Cancelled]
        );
        assert_eq!(allowed_transitions(S::InProgress, LEAD), vec![S::Completed]);
        assert!(allowed_transitions(S::Completed, MANAGER).is_empty());
        assert!(allowed_transitions(S::Cancelled, MANAGER).is_empty());
    }

    #[test]
    fn overdue_is_past_the_agreed_date_and_not_finished() {
        let due = NaiveDate::from_ymd_opt(2026, 12, 7).unwrap();
        let next = due.succ_opt().unwrap();
        assert!(!is_overdue(S::InProgress, due, due));
        assert!(is_overdue(S::InProgress, due, next));
        assert!(is_overdue(S::Planned, due, next));
        assert!(!is_overdue(S::Completed, due, next));
        assert!(!is_overdue(S::Cancelled, due, next));
    }

    #[test]
    fn who_may_do_what() {
        let ql = person(&[Role::QualityLead], &[], Some("q@t.nhs.uk"));
        assert_eq!(access(&ql, "CARD", "l@t.nhs.uk"), MANAGER);
        let handler = person(&[Role::Handler], &["CARD"], Some("h@t.nhs.uk"));
        assert_eq!(access(&handler, "CARD", "l@t.nhs.uk"), MANAGER);
        assert_eq!(access(&handler, "NEUR", "l@t.nhs.uk"), Access::default());
        let lead = person(&[], &[], Some("L@T.nhs.uk"));
        assert_eq!(access(&lead, "NEUR", "l@t.nhs.uk"), LEAD);
        let staff = person(&[], &[], Some("s@t.nhs.uk"));
        assert_eq!(access(&staff, "CARD", "l@t.nhs.uk"), Access::default());
        let mut reader = person(&[], &[], None);
        reader.roles = Default::default();
        reader.scopes = Some([Scope::IncidentsRead].into());
        let a = access(&reader, "CARD", "l@t.nhs.uk");
        assert!(a.view && !a.contribute && !a.manage);
    }
}
