//! Quality improvement projects by the Model for Improvement: an aim, measures with their
//! time series, PDSA cycles, and links to the incidents and audits that prompted them.
pub mod graphql;
pub mod model;
pub mod service;
pub mod workflow;
