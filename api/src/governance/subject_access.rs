//! Subject-access reports: every record that names a patient and every recorded access to
//! those records, found by the keyed hash of the NHS number (no decryption needed to
//! search). Producing one is itself an access, logged with the patient's key.
use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use crate::context::{AppState, RequestCtx};
use crate::error::AppResult;
use crate::protect::NhsNumber;
use entities::{access_event, incident};

pub struct SubjectAccess {
    pub generated_at: DateTime<Utc>,
    pub incidents: Vec<incident::Model>,
    pub accesses: Vec<access_event::Model>,
}

pub const ENTITY: &str = "SubjectAccessReport";

pub async fn report(
    state: &AppState,
    rc: &RequestCtx,
    nhs_number: &str,
) -> AppResult<SubjectAccess> {
    super::require_ig_officer(rc.principal()?, "produce subject-access reports")?;
    let nhs = NhsNumber::field("nhsNumber", nhs_number)?;
    let keys = state.keys.lookup_hashes(&nhs);
    let incidents = incident::Entity::find()
        .filter(incident::Column::PatientNhsHash.is_in(keys.clone()))
        .order_by_asc(incident::Column::ReportedAt)
        .order_by_asc(incident::Column::Id)
        .all(&state.db.conn)
        .await?;
    let accesses = access_event::Entity::find()
        .filter(access_event::Column::PatientKey.is_in(keys))
        .order_by_asc(access_event::Column::Id)
        .all(&state.db.conn)
        .await?;
    // The report itself is an access to the patient's records, even when it finds none.
    rc.access.record(
        ENTITY,
        Uuid::now_v7(),
        "nhsNumber",
        false,
        Some(&state.keys.lookup_hash(&nhs)),
    );
    Ok(SubjectAccess {
        generated_at: Utc::now(),
        incidents,
        accesses,
    })
}
