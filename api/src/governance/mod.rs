//! Information governance beyond the trail itself: break-glass access, subject-access
//! reports, retention with legal holds and disposal, and the IG officer's queries.
pub mod break_glass;
pub mod graphql;
pub mod retention;
pub mod service;
pub mod subject_access;

use crate::auth::{Principal, Role};
use crate::error::{AppError, AppResult};

/// Information-governance officers only (never a service account).
pub fn require_ig_officer(p: &Principal, what: &str) -> AppResult<()> {
    if !p.is_service() && p.has_role(Role::IgOfficer) {
        Ok(())
    } else {
        Err(AppError::forbidden(format!(
            "only an information-governance officer may {what}"
        )))
    }
}
