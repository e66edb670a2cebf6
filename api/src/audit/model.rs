use async_graphql::Enum;

/// Where an audit is in its cycle.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditStatus {
    /// In the audit programme, not started.
    Planned,
    /// Data collection under way; findings are recorded.
    InProgress,
    /// Findings reported; non-conformities get corrective actions.
    Reported,
    /// Every non-conformity has a corrective action.
    Closed,
}

crate::stored_enum!(AuditStatus {
    Planned => "PLANNED",
    InProgress => "IN_PROGRESS",
    Reported => "REPORTED",
    Closed => "CLOSED",
});

/// The ordering of the audit programme.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuditOrderField {
    /// By planned start date.
    #[default]
    PlannedStart,
    /// By when the audit was planned.
    CreatedAt,
}
