use async_graphql::Enum;

/// Where an action is.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CorrectiveActionStatus {
    /// Raised, not started.
    Open,
    /// The owner is working on it.
    InProgress,
    /// Done; awaiting verification that it worked.
    Completed,
    /// Verified, with a verdict on its effectiveness.
    Verified,
    /// Withdrawn, with a reason.
    Cancelled,
}

impl CorrectiveActionStatus {
    pub const ALL: [Self; 5] = [
        Self::Open,
        Self::InProgress,
        Self::Completed,
        Self::Verified,
        Self::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "OPEN",
            Self::InProgress => "IN_PROGRESS",
            Self::Completed => "COMPLETED",
            Self::Verified => "VERIFIED",
            Self::Cancelled => "CANCELLED",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// Work not yet done: blocks closing the source incident and can be overdue.
    pub fn is_open(self) -> bool {
        matches!(self, Self::Open | Self::InProgress)
    }

    pub const OPEN_STATES: [Self; 2] = [Self::Open, Self::InProgress];
}

#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Priority {
    Low,
    #[default]
    Medium,
    High,
    Urgent,
}

impl Priority {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Low => "LOW",
            Self::Medium => "MEDIUM",
            Self::High => "HIGH",
            Self::Urgent => "URGENT",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Low, Self::Medium, Self::High, Self::Urgent]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CorrectiveActionOrderField {
    #[default]
    DueDate,
    CreatedAt,
}
