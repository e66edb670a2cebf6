//! Corrective and preventive actions (CAPA): raised from an incident (and later an audit
//! finding or an improvement project), owned, carried out and verified for effectiveness.
pub mod graphql;
pub mod model;
pub mod service;
pub mod workflow;
