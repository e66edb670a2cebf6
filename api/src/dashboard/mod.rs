//! Analytics for quality leads and handlers. So far: statistical process control charts
//! for improvement measures (`spc`, shown as `Measure.spc`).
pub mod graphql;
pub mod spc;
