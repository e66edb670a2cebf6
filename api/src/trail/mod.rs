//! The change trail: one append-only event per change, written in the change's own
//! transaction. (Hash chaining and the access log build on this table.)
pub mod graphql;
pub mod service;

pub use service::{record, Actor, Diff, FieldChange};
