//! The corrective action's rules as plain functions.
use chrono::NaiveDate;

use super::model::CorrectiveActionStatus as S;
use crate::error::AppError;

/// What a caller may do with one action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Access {
    pub view: bool,
    /// The caller owns it: may progress it and add notes.
    pub owner: bool,
    /// Handler of its department or quality lead: may do everything (but verify their own).
    pub manage: bool,
}

pub fn is_edge(from: S, to: S) -> bool {
    matches!(
        (from, to),
        (S::Open, S::InProgress)
            | (S::Open, S::Completed)
            | (S::InProgress, S::Completed)
            | (S::Completed, S::Verified)
            | (S::Open | S::InProgress | S::Completed, S::Cancelled)
    )
}

/// Checks a status change: the edge exists and this caller may take it.
pub fn check_transition(from: S, to: S, access: Access) -> Result<(), AppError> {
    if !access.manage && !access.owner {
        return Err(AppError::forbidden(
            "only the action's owner and its department's handlers may change it",
        ));
    }
    if !is_edge(from, to) {
        return Err(AppError::invalid(
            "status",
            format!(
                "an action cannot move from {} to {}",
                from.as_str(),
                to.as_str()
            ),
        ));
    }
    match to {
        S::Verified if access.owner => Err(AppError::forbidden(
            "an action is verified by someone other than its owner",
        )),
        S::Verified | S::Cancelled if !access.manage => Err(AppError::forbidden(
            "verifying and cancelling are for the department's handlers and quality leads",
        )),
        _ => Ok(()),
    }
}

/// The statuses this caller may move the action to now.
pub fn allowed_transitions(from: S, access: Access) -> Vec<S> {
    S::ALL
        .into_iter()
        .filter(|&to| check_transition(from, to, access).is_ok())
        .collect()
}

/// Overdue: its due date has passed and the work is not done. Derived, never stored.
pub fn is_overdue(status: S, due: NaiveDate, today: NaiveDate) -> bool {
    status.is_open() && due < today
}

#[cfg(test)]
mod tests {
    use super::*;

    const OWNER: Access = Access {
        view: true,
        owner: true,
        manage: false,
    };
    const HANDLER: Access = Access {
        view: true,
        owner: false,
        manage: true,
    };
    const HANDLER_OWNER: Access = Access {
        view: true,
        owner: true,
        manage: true,
    };

    #[test]
    fn the_owner_does_the_work_but_does_not_verify_or_cancel() {
        check_transition(S::Open, S::InProgress, OWNER).unwrap();
        check_transition(S::InProgress, S::Completed, OWNER).unwrap();
        for to in [S::Verified, S::Cancelled] {
            let from = if to == S::Verified {
                S::Completed
            } else {
                S::Open
            };
            assert_eq!(
                check_transition(from, to, OWNER).unwrap_err().code(),
                "FORBIDDEN"
            );
        }
        assert_eq!(
            check_transition(S::Completed, S::Verified, HANDLER_OWNER)
                .unwrap_err()
                .code(),
            "FORBIDDEN"
        );
        check_transition(S::Completed, S::Verified, HANDLER).unwrap();
    }

    #[test]
    fn no_skipping_verification_and_nothing_after_the_end() {
        for (from, to) in [
            (S::Open, S::Verified),
            (S::InProgress, S::Open),
            (S::Verified, S::Cancelled),
            (S::Cancelled, S::Open),
            (S::Verified, S::InProgress),
        ] {
            assert_eq!(
                check_transition(from, to, HANDLER).unwrap_err().code(),
                "BAD_USER_INPUT"
            );
        }
    }

    #[test]
    fn overdue_is_strictly_after_the_due_date_and_only_for_open_work() {
        let due = NaiveDate::from_ymd_opt(2026, 3, 31).unwrap();
        let same = due;
        let next = due.succ_opt().unwrap();
        assert!(!is_overdue(S::Open, due, same));
        assert!(is_overdue(S::Open, due, next));
        assert!(is_overdue(S::InProgress, due, next));
        for s in [S::Completed, S::Verified, S::Cancelled] {
            assert!(!is_overdue(s, due, next));
        }
    }

    #[test]
    fn allowed_transitions_follow_the_caller() {
        assert_eq!(
            allowed_transitions(S::Open, OWNER),
            vec![S::InProgress, S::Completed]
        );
        assert_eq!(
            allowed_transitions(S::Completed, HANDLER),
            vec![S::Verified, S::Cancelled]
        );
        assert!(allowed_transitions(S::Verified, HANDLER).is_empty());
    }
}
