//! Candour's schema, one migration per change, written with sea-query so the same code
//! runs on SQLite (the embedded default) and PostgreSQL (production).
pub use sea_orm_migration::prelude::*;

mod m20261125_000001_foundation;
mod m20261125_000002_audits;
mod m20261125_000003_improvement;
mod m20261125_000004_corrective_actions;
mod m20261125_000005_information_governance;
mod m20261125_000006_notifications;
mod m20261201_000007_dashboard;
mod m20261202_000008_outbox_vars;
mod m20261206_000009_rollup_generation;
mod m20261208_000010_lfpse;
mod m20261209_000011_webhooks;
mod m20261210_000012_search;
mod m20261210_000013_learning_responses;
mod m20261211_000014_attachments;
mod m20261212_000015_search_keys;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261125_000001_foundation::Migration),
            Box::new(m20261125_000002_audits::Migration),
            Box::new(m20261125_000003_improvement::Migration),
            Box::new(m20261125_000004_corrective_actions::Migration),
            Box::new(m20261125_000005_information_governance::Migration),
            Box::new(m20261125_000006_notifications::Migration),
            Box::new(m20261201_000007_dashboard::Migration),
            Box::new(m20261202_000008_outbox_vars::Migration),
            Box::new(m20261206_000009_rollup_generation::Migration),
            Box::new(m20261208_000010_lfpse::Migration),
            Box::new(m20261209_000011_webhooks::Migration),
            Box::new(m20261210_000012_search::Migration),
            Box::new(m20261210_000013_learning_responses::Migration),
            Box::new(m20261211_000014_attachments::Migration),
            Box::new(m20261212_000015_search_keys::Migration),
        ]
    }
}
