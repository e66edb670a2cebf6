//! The change trail: one append-only event per change, written in the change's own
//! transaction, sealed into a hash chain; and the access log of sensitive reads.
pub mod access;
pub mod chain;
pub mod graphql;
pub mod service;

pub use service::{record, record_for, Actor, Diff, FieldChange};
