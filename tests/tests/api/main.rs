//! The Candour API, story by story. One binary (one link) for the whole suite; each test
//! spawns its own server against its own fresh database.

mod access;
mod actions;
mod attachments;
mod audits;
mod auth;
mod comments;
mod dashboard;
mod export;
mod fhir;
mod history;
mod http;
mod ig_access;
mod ig_trail;
mod improvement;
mod introspection;
mod learning;
mod lfpse;
mod listing;
mod live;
mod logs;
mod notifications;
mod obligations;
mod oidc;
mod refusals;
mod reporting;
mod schema;
mod search;
mod triage;
mod web;
mod webhooks;
