//! PSIRF learning responses as records of their own: a lead, a department, a timeframe
//! agreed with those affected, a status, findings, the incidents a response covers and the
//! actions and improvement projects it raised; and the trust's patient safety incident
//! response plan (PSIRP), which suggests a response from an incident's facts.
pub mod graphql;
pub mod model;
pub mod rules;
pub mod service;
pub mod workflow;
