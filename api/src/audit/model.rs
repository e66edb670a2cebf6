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

impl AuditStatus {
    pub const ALL: [Self; 4] = [
        Self::Planned,
        Self::InProgress,
        Self::Reported,
        Self::Closed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Planned => "PLANNED",
            Self::InProgress => "IN_PROGRESS",
            Self::Reported => "REPORTED",
            Self::Closed => "CLOSED",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// The ordering of the audit programme.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuditOrderField {
    #[default]
    PlannedStart,
    CreatedAt,
}
