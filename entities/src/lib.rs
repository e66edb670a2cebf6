//! Candour's tables as sea-orm models: one file per table, data only. Enumerations are
//! stored as their GraphQL names (or LFPSE rank for harm) and parsed in the domain layer.
pub mod access_event;
pub mod audit;
pub mod audit_finding;
pub mod break_glass_grant;
pub mod candour_step;
pub mod corrective_action;
pub mod department;
pub mod idempotency_key;
pub mod improvement_link;
pub mod improvement_project;
pub mod incident;
pub mod incident_comment;
pub mod legal_hold;
pub mod measure;
pub mod measurement;
pub mod notification;
pub mod notification_attempt;
pub mod notification_preference;
pub mod obligation;
pub mod obligation_step;
pub mod pdsa_cycle;
pub mod reference_counter;
pub mod staff;
pub mod trail_event;
pub mod trail_head;
