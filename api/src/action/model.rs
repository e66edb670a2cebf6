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

crate::stored_enum!(CorrectiveActionStatus {
    Open => "OPEN",
    InProgress => "IN_PROGRESS",
    Completed => "COMPLETED",
    Verified => "VERIFIED",
    Cancelled => "CANCELLED",
});

impl CorrectiveActionStatus {
    /// Work not yet done: blocks closing the source incident and can be overdue.
    pub fn is_open(self) -> bool {
        matches!(self, Self::Open | Self::InProgress)
    }

    pub const OPEN_STATES: [Self; 2] = [Self::Open, Self::InProgress];
}

/// How urgent a corrective action is.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Priority {
    /// Low priority.
    Low,
    /// Normal priority (the default).
    #[default]
    Medium,
    /// High priority.
    High,
    /// The highest priority.
    Urgent,
}

crate::stored_enum!(Priority { Low => "LOW", Medium => "MEDIUM", High => "HIGH", Urgent => "URGENT" });

/// The ordering of action lists.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CorrectiveActionOrderField {
    /// By due date.
    #[default]
    DueDate,
    /// By when the action was raised.
    CreatedAt,
}
