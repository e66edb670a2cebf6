//! Full-text search across the records (docs/integrators.md, "Search"): one ranked,
//! highlighted `search` over incidents, corrective actions, audits and improvement
//! projects, through the same scoping as their lists. The index is kept by the database in
//! the writing transaction (migration `m20261210_000012_search`).
pub mod graphql;
pub mod index;
pub mod model;
pub mod service;
