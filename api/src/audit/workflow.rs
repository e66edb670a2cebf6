//! The audit's rules as plain functions: the cycle, compliance arithmetic and closing.
use super::model::AuditStatus as S;
use crate::error::AppError;

/// What a caller may do with one audit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Access {
    pub view: bool,
    /// Quality lead or handler of the audit's department: plan, move, record findings.
    pub manage: bool,
    /// The audit's lead: records findings.
    pub lead: bool,
}

pub fn is_edge(from: S, to: S) -> bool {
    matches!(
        (from, to),
        (S::Planned, S::InProgress)
            | (S::InProgress, S::Reported)
            | (S::Reported, S::InProgress)
            | (S::Reported, S::Closed)
    )
}

pub fn check_transition(from: S, to: S, access: Access) -> Result<(), AppError> {
    if !access.manage {
        return Err(AppError::forbidden(
            "audits are moved by the department's handlers and quality leads",
        ));
    }
    if !is_edge(from, to) {
        return Err(AppError::invalid(
            "to",
            format!(
                "an audit cannot move from {} to {}",
                from.as_str(),
                to.as_str()
            ),
        ));
    }
    Ok(())
}

pub fn allowed_transitions(from: S, access: Access) -> Vec<S> {
    S::ALL
        .into_iter()
        .filter(|&to| check_transition(from, to, access).is_ok())
        .collect()
}

/// A finding's numbers, checked: a target between 0 and 100, a sample of at least one,
/// and no more compliant cases than the sample.
pub fn check_finding(
    target_percent: f64,
    sample_size: i32,
    compliant_count: i32,
) -> Result<(), AppError> {
    if !target_percent.is_finite() || !(0.0..=100.0).contains(&target_percent) {
        return Err(AppError::invalid(
            "targetPercent",
            "targetPercent is between 0 and 100",
        ));
    }
    if sample_size < 1 {
        return Err(AppError::invalid(
            "sampleSize",
            "sampleSize must be at least 1: compliance of an empty sample is undefined",
        ));
    }
    if !(0..=sample_size).contains(&compliant_count) {
        return Err(AppError::invalid(
            "compliantCount",
            "compliantCount is between 0 and sampleSize",
        ));
    }
    Ok(())
}

/// Compliance in percent: compliant cases over the sample. Computed, never entered.
pub fn compliance_percent(sample_size: i32, compliant_count: i32) -> f64 {
    if sample_size <= 0 {
        return 0.0;
    }
    f64::from(compliant_count) * 100.0 / f64::from(sample_size)
}

/// Below target. Compared as compliant × 100 < target × sample, so 2 of 3 against a 66.67 %
/// target is not misjudged by rounding the percentage first.
pub fn is_non_conformity(target_percent: f64, sample_size: i32, compliant_count: i32) -> bool {
    f64::from(compliant_count) * 100.0 < target_percent * f64::from(sample_size) - 1e-9
}

/// The criterion as the key that identifies it within an audit and across re-audits.
pub fn criterion_key(criterion: &str) -> String {
    criterion
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// Closing: every non-conformity has a corrective action. `uncorrected` names those
/// without one.
pub fn check_closing(findings: usize, uncorrected: &[String]) -> Result<(), AppError> {
    if findings == 0 {
        return Err(AppError::invalid(
            "findings",
            "an audit closes with its findings recorded",
        ));
    }
    if let Some(first) = uncorrected.first() {
        return Err(AppError::invalid(
            "findings",
            format!(
                "{} non-conformit{} without a corrective action (first: {first})",
                uncorrected.len(),
                if uncorrected.len() == 1 { "y" } else { "ies" }
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANAGER: Access = Access {
        view: true,
        manage: true,
        lead: false,
    };

    #[test]
    fn the_cycle() {
        check_transition(S::Planned, S::InProgress, MANAGER).unwrap();
        check_transition(S::InProgress, S::Reported, MANAGER).unwrap();
        check_transition(S::Reported, S::Closed, MANAGER).unwrap();
        check_transition(S::Reported, S::InProgress, MANAGER).unwrap();
        for (from, to) in [
            (S::Planned, S::Closed),
            (S::Closed, S::InProgress),
            (S::InProgress, S::Closed),
        ] {
            assert_eq!(
                check_transition(from, to, MANAGER).unwrap_err().code(),
                "BAD_USER_INPUT"
            );
        }
        let lead = Access {
            view: true,
            manage: false,
            lead: true,
        };
        assert_eq!(
            check_transition(S::Planned, S::InProgress, lead)
                .unwrap_err()
                .code(),
            "FORBIDDEN"
        );
    }

    #[test]
    fn compliance_arithmetic() {
        assert_eq!(compliance_percent(40, 36), 90.0);
        assert_eq!(compliance_percent(3, 2), 200.0 / 3.0);
        assert!(!is_non_conformity(90.0, 40, 36));
        assert!(is_non_conformity(90.0, 40, 35));
        assert!(!is_non_conformity(100.0, 1, 1));
        assert!(is_non_conformity(100.0, 10, 9));
        assert!(!is_non_conformity(0.0, 10, 0));
        // 2 of 3 is 66.666…%: meets a 66.6 target, misses 66.7.
        assert!(!is_non_conformity(66.6, 3, 2));
        assert!(is_non_conformity(66.7, 3, 2));
    }

    #[test]
    fn bad_numbers_name_their_field() {
        let field = |r: Result<(), AppError>| match r.unwrap_err() {
            AppError::Invalid { field, .. } => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(field(check_finding(90.0, 0, 0)), "sampleSize");
        assert_eq!(field(check_finding(90.0, 10, 11)), "compliantCount");
        assert_eq!(field(check_finding(90.0, 10, -1)), "compliantCount");
        assert_eq!(field(check_finding(101.0, 10, 1)), "targetPercent");
        assert_eq!(field(check_finding(f64::NAN, 10, 1)), "targetPercent");
        check_finding(0.0, 1, 0).unwrap();
    }

    #[test]
    fn criteria_match_whatever_their_spacing_and_case() {
        assert_eq!(
            criterion_key("  Consent  documented "),
            "consent documented"
        );
        assert_eq!(
            criterion_key("CONSENT documented"),
            criterion_key("consent  Documented")
        );
    }

    #[test]
    fn closing_needs_findings_and_actions_for_non_conformities() {
        assert!(check_closing(0, &[]).is_err());
        assert!(check_closing(2, &["Consent documented".into()]).is_err());
        check_closing(2, &[]).unwrap();
    }
}
