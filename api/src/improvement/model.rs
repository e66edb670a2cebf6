use async_graphql::Enum;

/// Where an improvement project is.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImprovementStatus {
    /// Aim and measures agreed; work not started.
    Proposed,
    /// Testing changes in PDSA cycles.
    Active,
    /// The changes work; measuring that the gain holds.
    Sustaining,
    /// Finished.
    Closed,
    /// Stopped before it finished, with a reason.
    Abandoned,
}

crate::stored_enum!(ImprovementStatus {
    Proposed => "PROPOSED",
    Active => "ACTIVE",
    Sustaining => "SUSTAINING",
    Closed => "CLOSED",
    Abandoned => "ABANDONED",
});

impl ImprovementStatus {
    /// Still running: measurements, measures and PDSA cycles may be added.
    pub fn is_open(self) -> bool {
        !self.is_final()
    }

    /// CLOSED and ABANDONED: nothing moves a project out of these.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Closed | Self::Abandoned)
    }
}

/// The three families of measures in the Model for Improvement.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MeasureKind {
    /// Whether the system is better for patients: the aim itself.
    Outcome,
    /// Whether the changed steps are being carried out.
    Process,
    /// Whether the change is making something else worse.
    Balancing,
}

crate::stored_enum!(MeasureKind {
    Outcome => "OUTCOME",
    Process => "PROCESS",
    Balancing => "BALANCING",
});

/// Which way a measure improves.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Higher values are better.
    Higher,
    /// Lower values are better.
    Lower,
}

crate::stored_enum!(Direction {
    Higher => "HIGHER",
    Lower => "LOWER",
});

/// The stage of a Plan-Do-Study-Act cycle; stages only move forward.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PdsaStage {
    /// Planning the test of change and predicting its result.
    Plan,
    /// Carrying out the test and collecting data.
    Do,
    /// Comparing the data with the prediction.
    Study,
    /// Deciding what to do next.
    Act,
}

crate::stored_enum!(PdsaStage {
    Plan => "PLAN",
    Do => "DO",
    Study => "STUDY",
    Act => "ACT",
});

/// What was decided at the end of a PDSA cycle.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PdsaOutcome {
    /// Keep the change.
    Adopt,
    /// Change it and test again.
    Adapt,
    /// Drop it.
    Abandon,
}

crate::stored_enum!(PdsaOutcome {
    Adopt => "ADOPT",
    Adapt => "ADAPT",
    Abandon => "ABANDON",
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for s in ImprovementStatus::ALL {
            assert_eq!(ImprovementStatus::parse(s.as_str()), Some(s));
        }
        for s in PdsaStage::ALL {
            assert_eq!(PdsaStage::parse(s.as_str()), Some(s));
        }
        assert_eq!(
            MeasureKind::parse("BALANCING"),
            Some(MeasureKind::Balancing)
        );
        assert_eq!(Direction::parse("LOWER"), Some(Direction::Lower));
        assert_eq!(PdsaOutcome::parse("ADAPT"), Some(PdsaOutcome::Adapt));
        assert_eq!(PdsaOutcome::parse("adapt"), None);
    }
}

/// The ordering of project lists.
#[derive(async_graphql::Enum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ImprovementProjectOrderField {
    /// By when the project was created.
    #[default]
    CreatedAt,
    /// By when the project last changed status or gained a measure.
    UpdatedAt,
}
