//! Attachments: evidence files on incidents, corrective actions, audit findings and
//! improvement projects (docs/attachments.md).
//!
//! A file is uploaded on its own (`POST /attachments`, `http.rs`), its type decided by
//! sniffing its content (`rules.rs`), a photo cleaned of its metadata (`strip.rs`), and
//! stored in the database in sealed chunks (`store.rs`), so every instance on one
//! PostgreSQL sees it and none holds more than a chunk of it in memory. Until a mutation
//! attaches it to a record (`service.rs`) only its uploader can name it. When a scanner is
//! configured nobody may open it until clamd has passed it (`scan.rs`). Openings are
//! access-logged; files follow their record's retention, legal hold and disposal.
//!
//! Who may do what with a record's files is decided in `owners.rs`, which asks the
//! record's own service and so sits above every domain; the service below it is what the
//! domains call (a report attaching its files, disposal taking them).
pub mod graphql;
pub mod http;
pub mod owners;
pub mod rules;
pub mod scan;
pub mod service;
pub mod store;
pub mod strip;
