//! Webhooks in the GraphQL schema: admins register endpoints, read their delivery logs,
//! test them and retry dead deliveries.
use async_graphql::{Context, Enum, InputObject, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};
use entities::{webhook_delivery as delivery, webhook_endpoint as endpoint};

use super::service::{self, EndpointChange, NewEndpoint};
use super::WebhookEvent;
use crate::graphql::{request, state};
use crate::incident::model::{HarmLevel, IncidentKind};
use crate::record::ids::{self, Kind};

type GqlResult<T> = async_graphql::Result<T>;

/// Where a delivery stands.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum WebhookDeliveryStatus {
    /// Waiting for its first attempt, or between attempts.
    Queued,
    /// The receiver answered 2xx.
    Delivered,
    /// Given up after the last attempt, or refused for good (410 Gone); may be retried.
    Dead,
}

impl WebhookDeliveryStatus {
    fn stored(self) -> &'static str {
        match self {
            Self::Queued => service::QUEUED,
            Self::Delivered => service::DELIVERED,
            Self::Dead => service::DEAD,
        }
    }
    fn of(s: &str) -> Self {
        match s {
            service::DELIVERED => Self::Delivered,
            service::DEAD => Self::Dead,
            _ => Self::Queued,
        }
    }
}

/// An endpoint other systems receive events at.
pub struct Webhook(endpoint::Model);

/// An endpoint other systems receive events at, signed as Standard Webhooks describes.
#[Object]
impl Webhook {
    /// The webhook's global ID.
    async fn id(&self) -> ID {
        ids::encode(Kind::Webhook, self.0.id)
    }
    /// Where deliveries are POSTed.
    async fn url(&self) -> &str {
        &self.0.url
    }
    /// What it is for, in the admin's words.
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }
    /// The events it is sent.
    async fn events(&self) -> Vec<WebhookEvent> {
        serde_json::from_str::<Vec<String>>(&self.0.events)
            .unwrap_or_default()
            .iter()
            .filter_map(|n| WebhookEvent::parse(n))
            .collect()
    }
    /// Only these departments' records (empty: every department).
    async fn department_ids(&self) -> Vec<ID> {
        serde_json::from_str::<Vec<uuid::Uuid>>(&self.0.department_ids)
            .unwrap_or_default()
            .into_iter()
            .map(|d| ids::encode(Kind::Department, d))
            .collect()
    }
    /// Only incidents of these kinds (empty: every kind).
    async fn kinds(&self) -> Vec<IncidentKind> {
        serde_json::from_str::<Vec<String>>(&self.0.kinds)
            .unwrap_or_default()
            .iter()
            .filter_map(|k| IncidentKind::parse(k))
            .collect()
    }
    /// Only incidents whose physical or psychological harm is at least this.
    async fn min_harm(&self) -> Option<HarmLevel> {
        self.0.min_harm.map(HarmLevel::from_rank)
    }
    /// Whether deliveries are sent (false: they wait).
    async fn enabled(&self) -> bool {
        self.0.enabled
    }
    /// Why it was disabled, if it is.
    async fn disabled_reason(&self) -> Option<&str> {
        self.0.disabled_reason.as_deref()
    }
    /// Failed attempts in a row (reaching `webhooks.disable_after_failures` disables it).
    async fn consecutive_failures(&self) -> i32 {
        self.0.failures
    }
    /// When it was registered.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// Its version, for `updateWebhook` and `rotateWebhookSecret`.
    async fn version(&self) -> i32 {
        self.0.version
    }
    /// Its delivery log, newest first.
    async fn deliveries(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only deliveries in this state.")] status: Option<WebhookDeliveryStatus>,
        #[graphql(desc = "How many (at most `limits.max_page_size`; default 20).")] first: Option<
            i32,
        >,
    ) -> GqlResult<Vec<WebhookDelivery>> {
        let max = state(ctx).settings.limits.max_page_size;
        let first = first.map(|f| f.clamp(1, max as i32) as u64).unwrap_or(20);
        Ok(
            service::deliveries(state(ctx), self.0.id, status.map(|s| s.stored()), first)
                .await?
                .into_iter()
                .map(WebhookDelivery)
                .collect(),
        )
    }
}

/// One event sent (or to be sent) to one endpoint.
pub struct WebhookDelivery(delivery::Model);

/// One event sent (or to be sent) to one endpoint.
#[Object]
impl WebhookDelivery {
    /// The delivery's global ID.
    async fn id(&self) -> ID {
        ids::encode(Kind::WebhookDelivery, self.0.id)
    }
    /// The `webhook-id` header it is sent with, the same on every attempt.
    async fn message_id(&self) -> String {
        self.0.id.to_string()
    }
    /// The event, e.g. `incident.reported` (or `webhook.test`).
    async fn event_type(&self) -> &str {
        &self.0.event_type
    }
    /// The trail event it announces (null for a test).
    async fn event_id(&self) -> Option<ID> {
        self.0.event_seq.map(|s| ID(s.to_string()))
    }
    /// Where it stands.
    async fn status(&self) -> WebhookDeliveryStatus {
        WebhookDeliveryStatus::of(&self.0.status)
    }
    /// Attempts made.
    async fn attempts(&self) -> i32 {
        self.0.attempts
    }
    /// When the next attempt is due (while queued).
    async fn next_attempt_at(&self) -> Option<DateTime<Utc>> {
        (self.0.status == service::QUEUED && self.0.event_seq.is_some())
            .then_some(self.0.next_attempt_at)
    }
    /// The HTTP status of the last answer, if there was one.
    async fn last_status(&self) -> Option<i32> {
        self.0.last_status
    }
    /// Why the last attempt failed (never the receiver's text).
    async fn last_error(&self) -> Option<&str> {
        self.0.last_error.as_deref()
    }
    /// When it was queued.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// When the receiver accepted it.
    async fn delivered_at(&self) -> Option<DateTime<Utc>> {
        self.0.delivered_at
    }
    /// The JSON body sent (ids, references, states and what changed: never a patient
    /// identifier or free text).
    async fn payload(&self) -> async_graphql::Json<serde_json::Value> {
        async_graphql::Json(serde_json::from_str(&self.0.payload).unwrap_or_default())
    }
}

/// A webhook with its signing secret, shown only when made or rotated.
#[derive(SimpleObject)]
pub struct WebhookSecretPayload {
    /// The webhook.
    pub webhook: Webhook,
    /// The signing secret (`whsec_...`): keep it; it is not shown again.
    pub secret: String,
}

/// A webhook after a change.
#[derive(SimpleObject)]
pub struct WebhookPayload {
    /// The webhook.
    pub webhook: Webhook,
}

/// A delivery after a test or a retry.
#[derive(SimpleObject)]
pub struct WebhookDeliveryPayload {
    /// The delivery.
    pub delivery: WebhookDelivery,
}

/// A new endpoint.
#[derive(InputObject)]
pub struct RegisterWebhookInput {
    /// Where to POST deliveries: http(s), on a host in `webhooks.allowed_hosts`.
    pub url: String,
    /// What it is for.
    pub description: Option<String>,
    /// The events to send (at least one).
    pub events: Vec<WebhookEvent>,
    /// Only these departments' records (none: every department).
    pub department_ids: Option<Vec<ID>>,
    /// Only incidents of these kinds (none: every kind).
    pub kinds: Option<Vec<IncidentKind>>,
    /// Only incidents whose physical or psychological harm is at least this.
    pub min_harm: Option<HarmLevel>,
}

/// A change to an endpoint; what is not given stays.
#[derive(InputObject)]
pub struct UpdateWebhookInput {
    /// The webhook.
    pub webhook_id: ID,
    /// The version last read (`CONFLICT` if it has changed since).
    pub expected_version: i32,
    /// A new URL.
    pub url: Option<String>,
    /// A new description.
    pub description: Option<String>,
    /// The events to send.
    pub events: Option<Vec<WebhookEvent>>,
    /// Only these departments' records (empty: every department).
    pub department_ids: Option<Vec<ID>>,
    /// Only incidents of these kinds (empty: every kind).
    pub kinds: Option<Vec<IncidentKind>>,
    /// Only incidents at least this harmful.
    pub min_harm: Option<HarmLevel>,
    /// Enable (its waiting deliveries go out, its failures count from nought) or disable.
    pub enabled: Option<bool>,
}

fn department_ids(ids_in: Option<Vec<ID>>) -> GqlResult<Option<Vec<uuid::Uuid>>> {
    Ok(ids_in
        .map(|v| {
            v.iter()
                .map(|id| ids::decode_as(Kind::Department, id, "departmentIds"))
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?)
}

#[derive(Default)]
pub struct WebhookQuery;

#[Object]
impl WebhookQuery {
    /// Every webhook endpoint (admins).
    async fn webhooks(&self, ctx: &Context<'_>) -> GqlResult<Vec<Webhook>> {
        Ok(service::list(state(ctx), request(ctx))
            .await?
            .into_iter()
            .map(Webhook)
            .collect())
    }

    /// One webhook endpoint (admins).
    async fn webhook(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The webhook's global ID.")] id: ID,
    ) -> GqlResult<Webhook> {
        let id = ids::decode_as(Kind::Webhook, &id, "id")?;
        Ok(Webhook(service::get(state(ctx), request(ctx), id).await?))
    }
}

#[derive(Default)]
pub struct WebhookMutation;

#[Object]
impl WebhookMutation {
    /// Registers an endpoint (admins); the answer carries its signing secret, once.
    async fn register_webhook(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The endpoint.")] input: RegisterWebhookInput,
    ) -> GqlResult<WebhookSecretPayload> {
        let (m, secret) = service::register(
            state(ctx),
            request(ctx),
            NewEndpoint {
                url: input.url,
                description: input.description,
                events: input.events,
                department_ids: department_ids(input.department_ids)?.unwrap_or_default(),
                kinds: input.kinds.unwrap_or_default(),
                min_harm: input.min_harm,
            },
        )
        .await?;
        Ok(WebhookSecretPayload {
            webhook: Webhook(m),
            secret,
        })
    }

    /// Changes, enables or disables an endpoint (admins).
    async fn update_webhook(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The change.")] input: UpdateWebhookInput,
    ) -> GqlResult<WebhookPayload> {
        let id = ids::decode_as(Kind::Webhook, &input.webhook_id, "webhookId")?;
        let change = EndpointChange {
            url: input.url,
            description: input.description.map(Some),
            events: input.events,
            department_ids: department_ids(input.department_ids)?,
            kinds: input.kinds,
            min_harm: input.min_harm.map(Some),
            enabled: input.enabled,
        };
        let m =
            service::update(state(ctx), request(ctx), id, input.expected_version, change).await?;
        Ok(WebhookPayload {
            webhook: Webhook(m),
        })
    }

    /// Gives an endpoint a new signing secret (admins), shown once.
    async fn rotate_webhook_secret(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The webhook.")] webhook_id: ID,
        #[graphql(desc = "The version last read.")] expected_version: i32,
    ) -> GqlResult<WebhookSecretPayload> {
        let id = ids::decode_as(Kind::Webhook, &webhook_id, "webhookId")?;
        let (m, secret) =
            service::rotate_secret(state(ctx), request(ctx), id, expected_version).await?;
        Ok(WebhookSecretPayload {
            webhook: Webhook(m),
            secret,
        })
    }

    /// Sends a `webhook.test` message now and answers with how it went (admins).
    async fn test_webhook(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The webhook.")] webhook_id: ID,
    ) -> GqlResult<WebhookDeliveryPayload> {
        let id = ids::decode_as(Kind::Webhook, &webhook_id, "webhookId")?;
        Ok(WebhookDeliveryPayload {
            delivery: WebhookDelivery(service::test(state(ctx), request(ctx), id).await?),
        })
    }

    /// Queues a dead delivery again, for an attempt now (admins).
    async fn retry_webhook_delivery(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The delivery.")] delivery_id: ID,
    ) -> GqlResult<WebhookDeliveryPayload> {
        let id = ids::decode_as(Kind::WebhookDelivery, &delivery_id, "deliveryId")?;
        let row = service::retry(state(ctx), request(ctx), id).await?;
        state(ctx).webhooks_wake.notify_one();
        Ok(WebhookDeliveryPayload {
            delivery: WebhookDelivery(row),
        })
    }
}
