//! Clinical and quality audits: the audit cycle of standard, measure, compare, change and
//! re-audit, with findings per criterion and non-conformities that need corrective action.
pub mod graphql;
pub mod model;
pub mod service;
pub mod workflow;
