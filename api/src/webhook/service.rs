//! Registering and looking after webhook endpoints (admins), and their delivery logs.
use chrono::Utc;
use entities::{webhook_delivery as delivery, webhook_endpoint as endpoint};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use super::WebhookEvent;
use crate::auth::Role;
use crate::context::{AppState, RequestCtx};
use crate::error::{AppError, AppResult};
use crate::incident::model::{HarmLevel, IncidentKind};
use crate::trail::{self, Actor, Diff};

pub const ENTITY: &str = "Webhook";

/// Waiting for its first attempt, or between attempts.
pub const QUEUED: &str = "QUEUED";
/// The receiver answered 2xx.
pub const DELIVERED: &str = "DELIVERED";
/// Given up after `webhooks.max_attempts`, or refused for good (410 Gone).
pub const DEAD: &str = "DEAD";

/// What an admin registers.
pub struct NewEndpoint {
    pub url: String,
    pub description: Option<String>,
    pub events: Vec<WebhookEvent>,
    pub department_ids: Vec<Uuid>,
    pub kinds: Vec<IncidentKind>,
    pub min_harm: Option<HarmLevel>,
}

/// What an admin changes (None: unchanged).
#[derive(Default)]
pub struct EndpointChange {
    pub url: Option<String>,
    pub description: Option<Option<String>>,
    pub events: Option<Vec<WebhookEvent>>,
    pub department_ids: Option<Vec<Uuid>>,
    pub kinds: Option<Vec<IncidentKind>>,
    pub min_harm: Option<Option<HarmLevel>>,
    pub enabled: Option<bool>,
}

fn admin(rc: &RequestCtx, doing: &str) -> AppResult<()> {
    rc.principal()?.require_role(Role::Admin, doing)
}

fn parse_url(state: &AppState, url: &str) -> AppResult<String> {
    super::check_url(url, &state.settings.webhooks.allowed_hosts)
        .map(|u| u.to_string())
        .map_err(|m| AppError::invalid("url", format!("url {m}")))
}

fn parse_events(events: &[WebhookEvent]) -> AppResult<String> {
    if events.is_empty() {
        return Err(AppError::invalid("events", "name at least one event"));
    }
    let mut names: Vec<&str> = events.iter().map(|e| e.name()).collect();
    names.sort();
    names.dedup();
    Ok(serde_json::to_string(&names).unwrap_or_default())
}

fn parse_description(d: Option<String>) -> AppResult<Option<String>> {
    crate::record::text::optional("description", d, 500)
}

async fn check_departments(state: &AppState, ids: &[Uuid]) -> AppResult<String> {
    for id in ids {
        if crate::org::service::department(state, *id).await?.is_none() {
            return Err(AppError::invalid("departmentIds", "no such department"));
        }
    }
    Ok(serde_json::to_string(ids).unwrap_or_default())
}

fn kinds_json(kinds: &[IncidentKind]) -> String {
    let names: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
    serde_json::to_string(&names).unwrap_or_default()
}

/// The secret's sealing context: bound to its endpoint (`protect::rotate` re-seals it).
fn context(id: Uuid) -> String {
    crate::protect::context(ENTITY, id, "secret")
}

/// An endpoint's signing secret, opened.
pub fn secret_of(state: &AppState, m: &endpoint::Model) -> AppResult<String> {
    state
        .keys
        .open(&context(m.id), &m.secret)
        .map_err(|_| AppError::Internal("a webhook secret could not be opened".into()))
}

/// Registers an endpoint; returns it with its signing secret (shown this once).
pub async fn register(
    state: &AppState,
    rc: &RequestCtx,
    input: NewEndpoint,
) -> AppResult<(endpoint::Model, String)> {
    admin(rc, "registering a webhook")?;
    let p = rc.principal()?;
    let url = parse_url(state, &input.url)?;
    let events = parse_events(&input.events)?;
    let description = parse_description(input.description)?;
    let department_ids = check_departments(state, &input.department_ids).await?;
    let id = Uuid::now_v7();
    let secret = super::new_secret();
    let m = endpoint::Model {
        id,
        url,
        description,
        events,
        department_ids,
        kinds: kinds_json(&input.kinds),
        min_harm: input.min_harm.map(HarmLevel::rank),
        secret: state.keys.seal(&context(id), &secret),
        enabled: true,
        disabled_reason: None,
        failures: 0,
        created_at: Utc::now(),
        created_by: p.label(),
        version: 1,
    };
    let tx = state.db.begin_write().await?;
    let staff = rc.staff_in(state, &*tx).await?;
    endpoint::ActiveModel::from(m.clone()).insert(&*tx).await?;
    let mut diff = Diff::new();
    diff.field("url", None, Some(&m.url))
        .field("events", None, Some(&m.events))
        .field("departmentIds", None, Some(&m.department_ids))
        .field("kinds", None, Some(&m.kinds))
        .field("minHarm", None, m.min_harm)
        .sensitive("secret", true);
    trail::record(
        &*tx,
        rc,
        &Actor::of(p, staff),
        ENTITY,
        id,
        "webhook.registered",
        diff,
    )
    .await?;
    tx.commit().await?;
    Ok((m, secret))
}

async fn current(state: &AppState, id: Uuid) -> AppResult<endpoint::Model> {
    endpoint::Entity::find_by_id(id)
        .one(&state.db.conn)
        .await?
        .ok_or(AppError::NotFound("webhook"))
}

/// Changes an endpoint (at the version the admin saw). Enabling one that was disabled
/// starts its count of failures afresh; its waiting deliveries go out again.
pub async fn update(
    state: &AppState,
    rc: &RequestCtx,
    id: Uuid,
    expected_version: i32,
    change: EndpointChange,
) -> AppResult<endpoint::Model> {
    admin(rc, "changing a webhook")?;
    let p = rc.principal()?;
    let before = current(state, id).await?;
    let mut next = before.clone();
    if let Some(url) = change.url {
        next.url = parse_url(state, &url)?;
    }
    if let Some(d) = change.description {
        next.description = parse_description(d)?;
    }
    if let Some(e) = change.events {
        next.events = parse_events(&e)?;
    }
    if let Some(d) = change.department_ids {
        next.department_ids = check_departments(state, &d).await?;
    }
    if let Some(k) = change.kinds {
        next.kinds = kinds_json(&k);
    }
    if let Some(h) = change.min_harm {
        next.min_harm = h.map(HarmLevel::rank);
    }
    if let Some(enabled) = change.enabled {
        if enabled && !before.enabled {
            next.failures = 0;
            next.disabled_reason = None;
        }
        if !enabled && before.enabled {
            next.disabled_reason = Some("disabled by an admin".into());
        }
        next.enabled = enabled;
    }
    let tx = state.db.begin_write().await?;
    let staff = rc.staff_in(state, &*tx).await?;
    let next = crate::record::versioned::save(&*tx, next, expected_version).await?;
    let mut diff = Diff::new();
    diff.field("url", &before.url, &next.url)
        .text("description", &before.description, &next.description)
        .field("events", &before.events, &next.events)
        .field(
            "departmentIds",
            &before.department_ids,
            &next.department_ids,
        )
        .field("kinds", &before.kinds, &next.kinds)
        .field("minHarm", before.min_harm, next.min_harm)
        .field("enabled", before.enabled, next.enabled)
        .field("version", before.version, next.version);
    trail::record(
        &*tx,
        rc,
        &Actor::of(p, staff),
        ENTITY,
        id,
        "webhook.updated",
        diff,
    )
    .await?;
    tx.commit().await?;
    Ok(next)
}

// An endpoint is saved as every versioned record is (`record::versioned::save`); it has no
// last-changed time of its own (the trail has when).
impl crate::record::versioned::Versioned for endpoint::Model {
    type Entity = endpoint::Entity;
    type Active = endpoint::ActiveModel;
    const ID: endpoint::Column = endpoint::Column::Id;
    const VERSION: endpoint::Column = endpoint::Column::Version;
    fn id(&self) -> Uuid {
        self.id
    }
    fn version(&self) -> i32 {
        self.version
    }
    fn stamp(&mut self, version: i32, _at: chrono::DateTime<Utc>) {
        self.version = version;
    }
    fn active(self) -> Self::Active {
        sea_orm::IntoActiveModel::into_active_model(self)
    }
}

/// Gives an endpoint a new signing secret (shown this once); the old one signs nothing more.
pub async fn rotate_secret(
    state: &AppState,
    rc: &RequestCtx,
    id: Uuid,
    expected_version: i32,
) -> AppResult<(endpoint::Model, String)> {
    admin(rc, "rotating a webhook's secret")?;
    let p = rc.principal()?;
    let before = current(state, id).await?;
    let secret = super::new_secret();
    let mut next = before.clone();
    next.secret = state.keys.seal(&context(id), &secret);
    let tx = state.db.begin_write().await?;
    let staff = rc.staff_in(state, &*tx).await?;
    let next = crate::record::versioned::save(&*tx, next, expected_version).await?;
    let mut diff = Diff::new();
    diff.sensitive("secret", true)
        .field("version", before.version, next.version);
    trail::record(
        &*tx,
        rc,
        &Actor::of(p, staff),
        ENTITY,
        id,
        "webhook.secret_rotated",
        diff,
    )
    .await?;
    tx.commit().await?;
    Ok((next, secret))
}

/// Every endpoint, oldest first (admins).
pub async fn list(state: &AppState, rc: &RequestCtx) -> AppResult<Vec<endpoint::Model>> {
    admin(rc, "reading webhooks")?;
    Ok(endpoint::Entity::find()
        .order_by_asc(endpoint::Column::Id)
        .all(&state.db.conn)
        .await?)
}

/// One endpoint (admins).
pub async fn get(state: &AppState, rc: &RequestCtx, id: Uuid) -> AppResult<endpoint::Model> {
    admin(rc, "reading webhooks")?;
    current(state, id).await
}

/// An endpoint's deliveries, newest first, optionally of one status.
pub async fn deliveries(
    state: &AppState,
    endpoint_id: Uuid,
    status: Option<&str>,
    first: u64,
) -> AppResult<Vec<delivery::Model>> {
    let mut q = delivery::Entity::find().filter(delivery::Column::EndpointId.eq(endpoint_id));
    if let Some(s) = status {
        q = q.filter(delivery::Column::Status.eq(s));
    }
    Ok(q.order_by_desc(delivery::Column::CreatedAt)
        .order_by_desc(delivery::Column::Id)
        .limit(first)
        .all(&state.db.conn)
        .await?)
}

/// Queues a dead delivery again, for its next attempt now.
pub async fn retry(state: &AppState, rc: &RequestCtx, id: Uuid) -> AppResult<delivery::Model> {
    admin(rc, "retrying a webhook delivery")?;
    let p = rc.principal()?;
    let tx = state.db.begin_write().await?;
    let staff = rc.staff_in(state, &*tx).await?;
    let updated = delivery::Entity::update_many()
        .col_expr(delivery::Column::Status, Expr::value(QUEUED))
        .col_expr(delivery::Column::Attempts, Expr::value(0))
        .col_expr(delivery::Column::NextAttemptAt, Expr::value(Utc::now()))
        .filter(delivery::Column::Id.eq(id))
        .filter(delivery::Column::Status.eq(DEAD))
        .exec(&*tx)
        .await?;
    let row = delivery::Entity::find_by_id(id)
        .one(&*tx)
        .await?
        .ok_or(AppError::NotFound("webhook delivery"))?;
    if updated.rows_affected == 0 {
        return Err(AppError::invalid(
            "deliveryId",
            "only a dead delivery can be retried",
        ));
    }
    let mut diff = Diff::new();
    diff.field("deliveryId", None, Some(id))
        .field("status", Some(DEAD), Some(QUEUED));
    trail::record(
        &*tx,
        rc,
        &Actor::of(p, staff),
        ENTITY,
        row.endpoint_id,
        "webhook.delivery_retried",
        diff,
    )
    .await?;
    tx.commit().await?;
    Ok(row)
}

/// Sends a `webhook.test` message to the endpoint now, and returns its delivery as the
/// attempt left it (kept in the endpoint's log; not retried).
pub async fn test(state: &AppState, rc: &RequestCtx, id: Uuid) -> AppResult<delivery::Model> {
    admin(rc, "testing a webhook")?;
    let m = current(state, id).await?;
    let now = Utc::now();
    let delivery_id = Uuid::now_v7();
    let payload = serde_json::json!({
        "type": "webhook.test",
        "timestamp": now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "data": { "webhookId": crate::record::ids::encode(crate::record::ids::Kind::Webhook, m.id).0 },
    });
    let row = delivery::Model {
        id: delivery_id,
        endpoint_id: m.id,
        event_seq: None,
        event_type: "webhook.test".into(),
        payload: payload.to_string(),
        status: QUEUED.into(),
        attempts: 0,
        // Taken by no dispatcher: this request sends it.
        next_attempt_at: now + chrono::Duration::days(3650),
        lease_until: None,
        leased_by: None,
        last_status: None,
        last_error: None,
        created_at: now,
        delivered_at: None,
    };
    {
        let _turn = state.db.write_turn().await;
        delivery::ActiveModel::from(row.clone())
            .insert(&state.db.conn)
            .await?;
    }
    let outcome = super::dispatch::attempt(state, &m, &row).await;
    super::dispatch::record(state, &m, &row, outcome, true).await?;
    delivery::Entity::find_by_id(delivery_id)
        .one(&state.db.conn)
        .await?
        .ok_or(AppError::NotFound("webhook delivery"))
}
