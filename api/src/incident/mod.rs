//! Incidents: reporting, triage, the review state machine, comments and the duty of candour.
pub mod break_glass;
pub mod columns;
pub mod graphql;
pub mod model;
pub mod obligations;
pub mod reference;
pub mod service;
pub mod workflow;
