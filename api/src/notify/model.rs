//! The states of the outbox's emails and of obligations, as clients see them.
use async_graphql::Enum;
use entities::notification;

use super::{obligations, DEAD, SENT};

/// Where an email is.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotificationStatus {
    /// Waiting for its first attempt.
    Queued,
    /// An attempt failed; another is due at `nextAttemptAt`.
    Retrying,
    /// Accepted by the mail server.
    Sent,
    /// Given up after the configured attempts (or refused outright); a quality lead may
    /// retry it.
    Dead,
}

impl NotificationStatus {
    pub fn of(m: &notification::Model) -> Self {
        match m.status.as_str() {
            SENT => Self::Sent,
            DEAD => Self::Dead,
            _ if m.attempts > 0 => Self::Retrying,
            _ => Self::Queued,
        }
    }
}

/// Whether an obligation is still owed.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObligationStatus {
    /// The clock is running (or has run out: see `overdue`).
    Open,
    /// Met: the completing step is recorded.
    Submitted,
    /// The incident's facts changed and no longer call for it.
    Withdrawn,
}

impl ObligationStatus {
    pub fn parse(s: &str) -> Self {
        match s {
            obligations::SUBMITTED => Self::Submitted,
            obligations::WITHDRAWN => Self::Withdrawn,
            _ => Self::Open,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => obligations::OPEN,
            Self::Submitted => obligations::SUBMITTED,
            Self::Withdrawn => obligations::WITHDRAWN,
        }
    }
}
