//! The one clock every record's timestamps come from.
use chrono::{DateTime, SubsecRound, Utc};

/// Timestamps are kept to the microsecond, the precision PostgreSQL stores, so that both
/// databases compare and page identically.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}
