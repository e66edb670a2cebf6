//! Per-request DataLoaders: every nested relation on a page is fetched with one statement
//! per relation, whatever the page size.
use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, Loader};
use async_graphql::Context;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use crate::db::spawn_counted;
use crate::error::{AppError, AppResult};
use entities::{
    audit, audit_finding, candour_step, corrective_action, incident, incident_comment, staff,
    trail_event,
};

/// Loader errors must be Clone; the detail is logged where it is mapped to INTERNAL.
#[derive(Clone, Debug)]
pub struct LoadError(Arc<String>);

impl From<AppError> for LoadError {
    fn from(e: AppError) -> Self {
        Self(Arc::new(format!("{e:?}")))
    }
}

impl From<sea_orm::DbErr> for LoadError {
    fn from(e: sea_orm::DbErr) -> Self {
        Self(Arc::new(crate::error::db_error_kind(&e)))
    }
}

impl From<LoadError> for AppError {
    fn from(e: LoadError) -> Self {
        AppError::Internal(e.0.to_string())
    }
}

pub struct StaffLoader(DatabaseConnection);
pub struct CommentsLoader(DatabaseConnection);
pub struct CandourStepsLoader(DatabaseConnection);
pub struct TrailLoader(DatabaseConnection);
pub struct IncidentLoader(DatabaseConnection);
pub struct ActionsByIncidentLoader(DatabaseConnection);
pub struct ActionLoader(DatabaseConnection);
pub struct StaffByEmailLoader(DatabaseConnection);
pub struct AuditLoader(DatabaseConnection);
pub struct FindingLoader(DatabaseConnection);
pub struct ActionsByProjectLoader(DatabaseConnection);
pub struct ProjectLoader(DatabaseConnection);
pub struct ObligationsByIncidentLoader(DatabaseConnection);
pub struct LfpseSubmissionsLoader(DatabaseConnection);
pub struct AttachmentsLoader(DatabaseConnection);

impl Loader<Uuid> for AttachmentsLoader {
    type Value = Vec<entities::attachment::Model>;
    type Error = LoadError;
    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, LoadError> {
        let rows = crate::attachment::service::of_owners(&self.0, keys).await?;
        Ok(group(rows, |a| a.owner_id.unwrap_or_default()))
    }
}

impl Loader<Uuid> for LfpseSubmissionsLoader {
    type Value = Vec<entities::lfpse_submission::Model>;
    type Error = LoadError;
    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, LoadError> {
        Ok(crate::lfpse::service::versions_of(&self.0, keys).await?)
    }
}

impl Loader<Uuid> for ObligationsByIncidentLoader {
    type Value = Vec<entities::obligation::Model>;
    type Error = LoadError;
    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, LoadError> {
        use entities::obligation;
        let rows = obligation::Entity::find()
            .filter(obligation::Column::IncidentId.is_in(keys.iter().copied()))
            .order_by_asc(obligation::Column::DueAt)
            .all(&self.0)
            .await?;
        Ok(group(rows, |o| o.incident_id))
    }
}

impl Loader<Uuid> for ProjectLoader {
    type Value = entities::improvement_project::Model;
    type Error = LoadError;
    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, LoadError> {
        use entities::improvement_project as project;
        let rows = project::Entity::find()
            .filter(project::Column::Id.is_in(keys.iter().copied()))
            .all(&self.0)
            .await?;
        Ok(rows.into_iter().map(|p| (p.id, p)).collect())
    }
}

impl Loader<Uuid> for ActionsByProjectLoader {
    type Value = Vec<corrective_action::Model>;
    type Error = LoadError;
    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, LoadError> {
        let rows = corrective_action::Entity::find()
            .filter(corrective_action::Column::ImprovementProjectId.is_in(keys.iter().copied()))
            .order_by_asc(corrective_action::Column::CreatedAt)
            .order_by_asc(corrective_action::Column::Id)
            .all(&self.0)
            .await?;
        Ok(group(rows, |a| {
            a.improvement_project_id.unwrap_or_default()
        }))
    }
}

impl Loader<Uuid> for FindingLoader {
    type Value = audit_finding::Model;
    type Error = LoadError;
    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, LoadError> {
        let rows = audit_finding::Entity::find()
            .filter(audit_finding::Column::Id.is_in(keys.iter().copied()))
            .all(&self.0)
            .await?;
        Ok(rows.into_iter().map(|f| (f.id, f)).collect())
    }
}
pub struct FindingsByAuditLoader(DatabaseConnection);
pub struct ActionsByFindingLoader(DatabaseConnection);

impl Loader<Uuid> for AuditLoader {
    type Value = audit::Model;
    type Error = LoadError;
    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, LoadError> {
        let rows = audit::Entity::find()
            .filter(audit::Column::Id.is_in(keys.iter().copied()))
            .all(&self.0)
            .await?;
        Ok(rows.into_iter().map(|a| (a.id, a)).collect())
    }
}

impl Loader<Uuid> for FindingsByAuditLoader {
    type Value = Vec<audit_finding::Model>;
    type Error = LoadError;
    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, LoadError> {
        let rows = audit_finding::Entity::find()
            .filter(audit_finding::Column::AuditId.is_in(keys.iter().copied()))
            .order_by_asc(audit_finding::Column::RecordedAt)
            .order_by_asc(audit_finding::Column::Id)
            .all(&self.0)
            .await?;
        Ok(group(rows, |f| f.audit_id))
    }
}

impl Loader<Uuid> for ActionsByFindingLoader {
    type Value = Vec<corrective_action::Model>;
    type Error = LoadError;
    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, LoadError> {
        let rows = corrective_action::Entity::find()
            .filter(corrective_action::Column::AuditFindingId.is_in(keys.iter().copied()))
            .order_by_asc(corrective_action::Column::CreatedAt)
            .order_by_asc(corrective_action::Column::Id)
            .all(&self.0)
            .await?;
        Ok(group(rows, |a| a.audit_finding_id.unwrap_or_default()))
    }
}

/// Staff by lower-case email (an action's owner is named by email).
impl Loader<String> for StaffByEmailLoader {
    type Value = staff::Model;
    type Error = LoadError;
    async fn load(&self, keys: &[String]) -> Result<HashMap<String, staff::Model>, LoadError> {
        let rows = staff::Entity::find()
            .filter(staff::Column::Email.is_in(keys.iter().cloned()))
            .all(&self.0)
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|s| Some((s.email.clone()?, s)))
            .collect())
    }
}
pub struct FollowUpLoader(DatabaseConnection);

impl Loader<Uuid> for ActionsByIncidentLoader {
    type Value = Vec<corrective_action::Model>;
    type Error = LoadError;
    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, LoadError> {
        let rows = corrective_action::Entity::find()
            .filter(corrective_action::Column::IncidentId.is_in(keys.iter().copied()))
            .order_by_asc(corrective_action::Column::CreatedAt)
            .order_by_asc(corrective_action::Column::Id)
            .all(&self.0)
            .await?;
        Ok(group(rows, |a| a.incident_id.unwrap_or_default()))
    }
}

impl Loader<Uuid> for ActionLoader {
    type Value = corrective_action::Model;
    type Error = LoadError;
    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, LoadError> {
        let rows = corrective_action::Entity::find()
            .filter(corrective_action::Column::Id.is_in(keys.iter().copied()))
            .all(&self.0)
            .await?;
        Ok(rows.into_iter().map(|a| (a.id, a)).collect())
    }
}

/// The follow-up raised from each action (keyed by the original's id).
impl Loader<Uuid> for FollowUpLoader {
    type Value = corrective_action::Model;
    type Error = LoadError;
    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, LoadError> {
        let rows = corrective_action::Entity::find()
            .filter(corrective_action::Column::FollowUpOfId.is_in(keys.iter().copied()))
            .all(&self.0)
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|a| Some((a.follow_up_of_id?, a)))
            .collect())
    }
}

impl Loader<Uuid> for StaffLoader {
    type Value = staff::Model;
    type Error = LoadError;
    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, staff::Model>, LoadError> {
        let rows = crate::org::service::staff_by_ids(&self.0, keys).await?;
        Ok(rows.into_iter().map(|s| (s.id, s)).collect())
    }
}

impl Loader<Uuid> for IncidentLoader {
    type Value = incident::Model;
    type Error = LoadError;
    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, incident::Model>, LoadError> {
        let rows = incident::Entity::find()
            .filter(incident::Column::Id.is_in(keys.iter().copied()))
            .all(&self.0)
            .await?;
        Ok(rows.into_iter().map(|i| (i.id, i)).collect())
    }
}

/// Groups rows by a key, keeping their order.
fn group<T>(rows: Vec<T>, key: impl Fn(&T) -> Uuid) -> HashMap<Uuid, Vec<T>> {
    let mut out: HashMap<Uuid, Vec<T>> = HashMap::new();
    for row in rows {
        out.entry(key(&row)).or_default().push(row);
    }
    out
}

impl Loader<Uuid> for CommentsLoader {
    type Value = Vec<incident_comment::Model>;
    type Error = LoadError;
    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, LoadError> {
        let rows = incident_comment::Entity::find()
            .filter(incident_comment::Column::IncidentId.is_in(keys.iter().copied()))
            .order_by_asc(incident_comment::Column::CreatedAt)
            .order_by_asc(incident_comment::Column::Id)
            .all(&self.0)
            .await?;
        Ok(group(rows, |c| c.incident_id))
    }
}

impl Loader<Uuid> for CandourStepsLoader {
    type Value = Vec<candour_step::Model>;
    type Error = LoadError;
    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, LoadError> {
        let rows = candour_step::Entity::find()
            .filter(candour_step::Column::IncidentId.is_in(keys.iter().copied()))
            .order_by_asc(candour_step::Column::TakenAt)
            .all(&self.0)
            .await?;
        Ok(group(rows, |s| s.incident_id))
    }
}

impl Loader<Uuid> for TrailLoader {
    type Value = Vec<trail_event::Model>;
    type Error = LoadError;
    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, LoadError> {
        let rows = crate::trail::service::events_for(&self.0, keys).await?;
        Ok(group(rows, |e| e.entity_id))
    }
}

/// Improvement projects' measures, oldest first.
pub struct MeasuresByProjectLoader(DatabaseConnection);
/// Each measure's time series, oldest first.
pub struct MeasurementsByMeasureLoader(DatabaseConnection);
/// Improvement projects' PDSA cycles, by start date.
pub struct PdsaByProjectLoader(DatabaseConnection);
/// The incidents and audits linked to improvement projects, in the order they were linked.
pub struct LinksByProjectLoader(DatabaseConnection);

impl Loader<Uuid> for MeasuresByProjectLoader {
    type Value = Vec<entities::measure::Model>;
    type Error = LoadError;
    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, LoadError> {
        use entities::measure;
        let rows = measure::Entity::find()
            .filter(measure::Column::ProjectId.is_in(keys.iter().copied()))
            .order_by_asc(measure::Column::CreatedAt)
            .order_by_asc(measure::Column::Id)
            .all(&self.0)
            .await?;
        Ok(group(rows, |m| m.project_id))
    }
}

impl Loader<Uuid> for MeasurementsByMeasureLoader {
    type Value = Vec<entities::measurement::Model>;
    type Error = LoadError;
    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, LoadError> {
        use entities::measurement;
        let rows = measurement::Entity::find()
            .filter(measurement::Column::MeasureId.is_in(keys.iter().copied()))
            .order_by_asc(measurement::Column::At)
            .order_by_asc(measurement::Column::Id)
            .all(&self.0)
            .await?;
        Ok(group(rows, |m| m.measure_id))
    }
}

impl Loader<Uuid> for PdsaByProjectLoader {
    type Value = Vec<entities::pdsa_cycle::Model>;
    type Error = LoadError;
    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, LoadError> {
        use entities::pdsa_cycle;
        let rows = pdsa_cycle::Entity::find()
            .filter(pdsa_cycle::Column::ProjectId.is_in(keys.iter().copied()))
            .order_by_asc(pdsa_cycle::Column::StartDate)
            .order_by_asc(pdsa_cycle::Column::Id)
            .all(&self.0)
            .await?;
        Ok(group(rows, |c| c.project_id))
    }
}

impl Loader<Uuid> for LinksByProjectLoader {
    type Value = Vec<entities::improvement_link::Model>;
    type Error = LoadError;
    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, LoadError> {
        use entities::improvement_link;
        let rows = improvement_link::Entity::find()
            .filter(improvement_link::Column::ProjectId.is_in(keys.iter().copied()))
            .order_by_asc(improvement_link::Column::CreatedAt)
            .order_by_asc(improvement_link::Column::Id)
            .all(&self.0)
            .await?;
        Ok(group(rows, |l| l.project_id))
    }
}

pub struct Loaders {
    pub staff: DataLoader<StaffLoader>,
    pub comments: DataLoader<CommentsLoader>,
    pub candour_steps: DataLoader<CandourStepsLoader>,
    pub trail: DataLoader<TrailLoader>,
    pub incidents: DataLoader<IncidentLoader>,
    pub actions_by_incident: DataLoader<ActionsByIncidentLoader>,
    pub actions: DataLoader<ActionLoader>,
    pub follow_ups: DataLoader<FollowUpLoader>,
    pub staff_by_email: DataLoader<StaffByEmailLoader>,
    pub measures_by_project: DataLoader<MeasuresByProjectLoader>,
    pub measurements_by_measure: DataLoader<MeasurementsByMeasureLoader>,
    pub pdsa_by_project: DataLoader<PdsaByProjectLoader>,
    pub links_by_project: DataLoader<LinksByProjectLoader>,
    pub audits: DataLoader<AuditLoader>,
    pub finding: DataLoader<FindingLoader>,
    pub actions_by_project: DataLoader<ActionsByProjectLoader>,
    pub projects: DataLoader<ProjectLoader>,
    pub findings_by_audit: DataLoader<FindingsByAuditLoader>,
    pub actions_by_finding: DataLoader<ActionsByFindingLoader>,
    pub obligations_by_incident: DataLoader<ObligationsByIncidentLoader>,
    pub lfpse_submissions: DataLoader<LfpseSubmissionsLoader>,
    pub attachments: DataLoader<AttachmentsLoader>,
}

impl Loaders {
    pub fn new(conn: &DatabaseConnection) -> Self {
        Self {
            staff: DataLoader::new(StaffLoader(conn.clone()), spawn_counted),
            comments: DataLoader::new(CommentsLoader(conn.clone()), spawn_counted),
            candour_steps: DataLoader::new(CandourStepsLoader(conn.clone()), spawn_counted),
            trail: DataLoader::new(TrailLoader(conn.clone()), spawn_counted),
            incidents: DataLoader::new(IncidentLoader(conn.clone()), spawn_counted),
            actions_by_incident: DataLoader::new(
                ActionsByIncidentLoader(conn.clone()),
                spawn_counted,
            ),
            actions: DataLoader::new(ActionLoader(conn.clone()), spawn_counted),
            follow_ups: DataLoader::new(FollowUpLoader(conn.clone()), spawn_counted),
            staff_by_email: DataLoader::new(StaffByEmailLoader(conn.clone()), spawn_counted),
            measures_by_project: DataLoader::new(
                MeasuresByProjectLoader(conn.clone()),
                spawn_counted,
            ),
            measurements_by_measure: DataLoader::new(
                MeasurementsByMeasureLoader(conn.clone()),
                spawn_counted,
            ),
            pdsa_by_project: DataLoader::new(PdsaByProjectLoader(conn.clone()), spawn_counted),
            links_by_project: DataLoader::new(LinksByProjectLoader(conn.clone()), spawn_counted),
            audits: DataLoader::new(AuditLoader(conn.clone()), spawn_counted),
            finding: DataLoader::new(FindingLoader(conn.clone()), spawn_counted),
            actions_by_project: DataLoader::new(
                ActionsByProjectLoader(conn.clone()),
                spawn_counted,
            ),
            projects: DataLoader::new(ProjectLoader(conn.clone()), spawn_counted),
            findings_by_audit: DataLoader::new(FindingsByAuditLoader(conn.clone()), spawn_counted),
            actions_by_finding: DataLoader::new(
                ActionsByFindingLoader(conn.clone()),
                spawn_counted,
            ),
            obligations_by_incident: DataLoader::new(
                ObligationsByIncidentLoader(conn.clone()),
                spawn_counted,
            ),
            lfpse_submissions: DataLoader::new(LfpseSubmissionsLoader(conn.clone()), spawn_counted),
            attachments: DataLoader::new(AttachmentsLoader(conn.clone()), spawn_counted),
        }
    }

    pub fn of<'a>(ctx: &'a Context<'_>) -> &'a Loaders {
        ctx.data_unchecked::<Loaders>()
    }

    pub async fn staff(&self, id: Uuid) -> AppResult<Option<staff::Model>> {
        Ok(self.staff.load_one(id).await?)
    }
}
