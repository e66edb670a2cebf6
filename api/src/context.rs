//! What every domain call receives: shared state, and the caller of this request.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use uuid::Uuid;

use crate::auth::{Authenticator, Principal, TokenError};
use crate::config::Settings;
use crate::db::Db;
use crate::error::{AppError, AppResult};
use crate::trail::access::AccessRecorder;

/// Shared by all requests of one process.
pub struct AppState {
    pub db: Db,
    pub settings: Arc<Settings>,
    pub authenticator: Authenticator,
    /// Departments never change code or id once created, so they are cached after the
    /// first read; a miss reloads (another instance may have created one).
    pub departments: Mutex<HashMap<Uuid, entities::department::Model>>,
    /// When `departments` last held every department (read from the database).
    pub departments_listed: Mutex<Option<std::time::Instant>>,
    /// subject -> (staff id, fingerprint of the claims last written, when written).
    pub staff_seen: Mutex<HashMap<String, (Uuid, u64, std::time::Instant)>>,
    /// Seals and opens patient details.
    pub keys: crate::protect::KeyRing,
    /// Writes the access log.
    pub access_log: crate::trail::access::AccessLogWriter,
    /// Templates, calendar and the dispatcher's wake-up, for the outbox and scheduler.
    pub notifier: crate::notify::Notifier,
    /// Cancelled when this instance stops: its background tasks end.
    pub stop: tokio_util::sync::CancellationToken,
    /// Incident references (per-year sequences).
    pub references: crate::incident::reference::Sequences,
    /// Dashboard rollup rows read before, kept while the rollups' generation stands.
    pub rollups: crate::dashboard::rollup::ReadCache,
    /// The LFPSE taxonomy in use (`lfpse.taxonomy_file`, or the built-in one).
    pub lfpse: Arc<crate::lfpse::taxonomy::Taxonomy>,
    /// Live events for this instance's subscribers.
    pub live: Arc<crate::live::Hub>,
    /// Woken when webhook deliveries are queued, so the dispatcher sends them promptly.
    pub webhooks_wake: Arc<tokio::sync::Notify>,
    /// Woken when a file is uploaded, so the virus scanner takes it promptly.
    pub scan_wake: Arc<tokio::sync::Notify>,
}

/// The caller of one request.
pub struct RequestCtx {
    pub request_id: String,
    pub auth: Result<Option<Principal>, TokenError>,
    staff_id: tokio::sync::OnceCell<Option<Uuid>>,
    /// Sensitive reads in this request, written to the access log before it is answered.
    pub access: Arc<AccessRecorder>,
    /// The purpose the client stated (`X-Access-Purpose`).
    pub purpose: Option<String>,
    /// How many operations the HTTP request carries (a batch has more than one).
    pub batch_len: usize,
}

impl RequestCtx {
    pub fn new(
        request_id: String,
        auth: Result<Option<Principal>, TokenError>,
        access: Arc<AccessRecorder>,
        purpose: Option<String>,
        batch_len: usize,
    ) -> Self {
        Self {
            request_id,
            auth,
            staff_id: tokio::sync::OnceCell::new(),
            access,
            purpose,
            batch_len,
        }
    }

    /// The signed-in caller, or UNAUTHENTICATED saying why not.
    pub fn principal(&self) -> AppResult<&Principal> {
        match &self.auth {
            Ok(Some(p)) => Ok(p),
            Ok(None) => Err(AppError::Unauthenticated("send a bearer token")),
            Err(e) => Err(AppError::Unauthenticated(e.reason())),
        }
    }

    /// The caller's staff record id, if Candour has seen them before (never for service
    /// accounts). Writes nothing: a request that is refused leaves no record of its caller.
    pub async fn staff_id(&self, state: &AppState) -> AppResult<Option<Uuid>> {
        let p = self.principal()?;
        if p.is_service() {
            return Ok(None);
        }
        let id = self
            .staff_id
            .get_or_try_init(|| crate::org::service::known_staff_id(state, p))
            .await?;
        Ok(*id)
    }

    /// The caller's staff record id for a change: the record is written (or its claims
    /// refreshed) in the change's own transaction `conn`, so that it is kept only if the
    /// change is. None for service accounts.
    pub async fn staff_in<C: sea_orm::ConnectionTrait>(
        &self,
        state: &AppState,
        conn: &C,
    ) -> AppResult<Option<Uuid>> {
        let p = self.principal()?;
        if p.is_service() {
            return Ok(None);
        }
        if let Some(id) = crate::org::service::staff_seen_lately(state, p) {
            return Ok(Some(id));
        }
        Ok(Some(crate::org::service::write_staff(conn, p).await?))
    }
}
