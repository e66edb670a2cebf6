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
use entities::{candour_step, incident, incident_comment, staff, trail_event};

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

pub struct Loaders {
    pub staff: DataLoader<StaffLoader>,
    pub comments: DataLoader<CommentsLoader>,
    pub candour_steps: DataLoader<CandourStepsLoader>,
    pub trail: DataLoader<TrailLoader>,
    pub incidents: DataLoader<IncidentLoader>,
}

impl Loaders {
    pub fn new(conn: &DatabaseConnection) -> Self {
        Self {
            staff: DataLoader::new(StaffLoader(conn.clone()), spawn_counted),
            comments: DataLoader::new(CommentsLoader(conn.clone()), spawn_counted),
            candour_steps: DataLoader::new(CandourStepsLoader(conn.clone()), spawn_counted),
            trail: DataLoader::new(TrailLoader(conn.clone()), spawn_counted),
            incidents: DataLoader::new(IncidentLoader(conn.clone()), spawn_counted),
        }
    }

    pub fn of<'a>(ctx: &'a Context<'_>) -> &'a Loaders {
        ctx.data_unchecked::<Loaders>()
    }

    pub async fn staff(&self, id: Uuid) -> AppResult<Option<staff::Model>> {
        Ok(self.staff.load_one(id).await?)
    }
}
