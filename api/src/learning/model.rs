use async_graphql::Enum;

use crate::incident::model::LearningResponse;

/// Where a learning response is.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LearningResponseStatus {
    /// Agreed and scheduled; the work has not started.
    Planned,
    /// Under way.
    InProgress,
    /// Done, with its findings recorded.
    Completed,
    /// Stopped before it was done, with a reason.
    Cancelled,
}

crate::stored_enum!(LearningResponseStatus {
    Planned => "PLANNED",
    InProgress => "IN_PROGRESS",
    Completed => "COMPLETED",
    Cancelled => "CANCELLED",
});

impl LearningResponseStatus {
    /// PLANNED and IN_PROGRESS: the agreed timeframe still runs.
    pub const OPEN_STATES: [Self; 2] = [Self::Planned, Self::InProgress];

    /// COMPLETED and CANCELLED: nothing moves a response out of these.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Completed | Self::Cancelled)
    }
}

/// The learning responses a record can be: every PSIRF response but NONE.
pub fn is_record_kind(kind: LearningResponse) -> bool {
    kind != LearningResponse::None
}

/// The ordering of learning-response lists.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LearningResponseOrderField {
    /// By when the response was planned.
    #[default]
    CreatedAt,
    /// By the date agreed with those affected.
    AgreedDueDate,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for s in LearningResponseStatus::ALL {
            assert_eq!(LearningResponseStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(LearningResponseStatus::parse("in_progress"), None);
        assert!(!is_record_kind(LearningResponse::None));
        assert!(is_record_kind(LearningResponse::ThematicReview));
    }
}
