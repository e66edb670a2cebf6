//! Analytics for quality leads and handlers: the `dashboard` query, served from rollups
//! kept in step with the records (`rollup`), so that no figure reads the incident table;
//! calendar buckets (`period`), duration sketches (`sketch`), and statistical process
//! control charts for improvement measures (`spc`, shown as `Measure.spc`).
pub mod graphql;
pub mod model;
pub mod period;
pub mod plain;
pub mod rollup;
pub mod service;
pub mod sketch;
pub mod spc;
