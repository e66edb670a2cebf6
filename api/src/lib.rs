//! Candour: incident, audit and service-improvement governance for healthcare-science
//! services. `startup::Application` is the server; `main.rs` is its command line.
pub mod action;
pub mod audit;
pub mod auth;
pub mod config;
pub mod context;
pub mod dashboard;
pub mod db;
pub mod error;
pub mod export;
pub mod fhir;
pub mod governance;
pub mod graphql;
pub mod improvement;
pub mod incident;
pub mod lfpse;
pub mod live;
pub mod notify;
pub mod org;
pub mod protect;
pub mod record;
pub mod seed;
pub mod startup;
pub mod telemetry;
pub mod trail;
pub mod web;
pub mod webhook;
