//! The versioned save: every change carries the version the client last saw, and a stale
//! one is CONFLICT with the version the record is really at.
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect,
};
use uuid::Uuid;

use crate::error::{AppError, AppResult};

/// A record with an optimistic-concurrency version and a last-changed time.
pub trait Versioned: Clone + Send + Sync + Sized {
    type Entity: EntityTrait<Model = Self>;
    type Active: ActiveModelTrait<Entity = Self::Entity> + Send;
    const ID: <Self::Entity as EntityTrait>::Column;
    const VERSION: <Self::Entity as EntityTrait>::Column;
    fn id(&self) -> Uuid;
    fn version(&self) -> i32;
    /// Sets the version and the last-changed time.
    fn stamp(&mut self, version: i32, at: DateTime<Utc>);
    fn active(self) -> Self::Active;
}

/// The client must have seen the current version (checked after permission, so a caller
/// who may not act learns nothing from the version).
pub fn check(current: i32, expected: i32) -> AppResult<()> {
    if current == expected {
        Ok(())
    } else {
        Err(AppError::Conflict {
            expected,
            actual: current,
        })
    }
}

/// Writes `updated` if the stored version is still `expected`, with the version bumped and
/// the time stamped; CONFLICT naming the stored version otherwise (another writer got in
/// between the read and the write, as can happen where the read did not lock).
pub async fn save<M, C>(conn: &C, mut updated: M, expected: i32) -> AppResult<M>
where
    M: Versioned,
    C: ConnectionTrait,
{
    updated.stamp(expected + 1, super::now());
    let id = updated.id();
    let am = updated.clone().active().reset_all();
    let result = M::Entity::update_many()
        .set(am)
        .filter(M::ID.eq(id))
        .filter(M::VERSION.eq(expected))
        .exec(conn)
        .await?;
    if result.rows_affected != 1 {
        let actual: Option<i32> = M::Entity::find()
            .select_only()
            .column(M::VERSION)
            .filter(M::ID.eq(id))
            .into_tuple()
            .one(conn)
            .await?;
        return Err(match actual {
            Some(actual) => AppError::Conflict { expected, actual },
            None => AppError::NotFound("record"),
        });
    }
    Ok(updated)
}

/// Implements `Versioned` for entities whose model has `id`, `version` and `updated_at`.
#[macro_export]
macro_rules! versioned {
    ($($entity:ident),+ $(,)?) => {$(
        impl $crate::record::versioned::Versioned for entities::$entity::Model {
            type Entity = entities::$entity::Entity;
            type Active = entities::$entity::ActiveModel;
            const ID: entities::$entity::Column = entities::$entity::Column::Id;
            const VERSION: entities::$entity::Column = entities::$entity::Column::Version;
            fn id(&self) -> uuid::Uuid {
                self.id
            }
            fn version(&self) -> i32 {
                self.version
            }
            fn stamp(&mut self, version: i32, at: chrono::DateTime<chrono::Utc>) {
                self.version = version;
                self.updated_at = at;
            }
            fn active(self) -> Self::Active {
                sea_orm::IntoActiveModel::into_active_model(self)
            }
        }
    )+};
}

versioned!(
    incident,
    corrective_action,
    audit,
    improvement_project,
    pdsa_cycle,
    learning_response
);
