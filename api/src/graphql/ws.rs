//! GraphQL over websockets: the `graphql-transport-ws` protocol (the graphql-ws library's
//! PROTOCOL.md), on `GET /graphql` with `Sec-WebSocket-Protocol: graphql-transport-ws`.
//!
//! The token comes in `connection_init` (a browser cannot set headers on a websocket), not
//! in a cookie: a page on another site cannot open a connection in someone's name. Close
//! codes are the protocol's: 4400 a message that is not the protocol's, 4401 a subscribe
//! before the connection was acknowledged, 4403 a refused token (or too many connections
//! for it, or one that expired while connected), 4408 no `connection_init` in time, 4409 a
//! subscription id already in use, 4429 a second `connection_init`.
use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::http::header::{self, HeaderValue};
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use actix_ws::{AggregatedMessage, CloseCode, CloseReason, Session};
use async_graphql::parser::types::OperationType;
use futures_util::{FutureExt, StreamExt};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use crate::auth::Principal;
use crate::context::{AppState, RequestCtx};
use crate::graphql::http::GraphqlService;
use crate::graphql::loaders::Loaders;
use crate::live::graphql::LiveCaller;
use crate::telemetry::RequestId;
use crate::trail::access::{self, AccessRecorder};

pub const PROTOCOL: &str = "graphql-transport-ws";

/// Whether the request asks to upgrade to a websocket.
pub fn is_upgrade(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

fn offers_protocol(req: &HttpRequest) -> bool {
    req.headers()
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim() == PROTOCOL)
}

/// GET /graphql with `Upgrade: websocket`.
pub async fn upgrade(
    req: HttpRequest,
    body: web::Payload,
    svc: web::Data<GraphqlService>,
) -> HttpResponse {
    if !offers_protocol(&req) {
        return HttpResponse::BadRequest()
            .insert_header((header::CONTENT_TYPE, "text/plain; charset=utf-8"))
            .body("ask for the graphql-transport-ws subprotocol (Sec-WebSocket-Protocol)");
    }
    let (mut response, session, stream) = match actix_ws::handle(&req, body) {
        Ok(parts) => parts,
        Err(e) => return e.error_response(),
    };
    response.headers_mut().insert(
        header::SEC_WEBSOCKET_PROTOCOL,
        HeaderValue::from_static(PROTOCOL),
    );
    let max = svc.state.settings.limits.max_body_bytes;
    let stream = stream
        .max_frame_size(max)
        .aggregate_continuations()
        .max_continuation_size(max);
    let request_id = req
        .extensions()
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default();
    let conn = Connection {
        svc: svc.into_inner(),
        request_id,
        session,
        caller: None,
        ops: HashMap::new(),
    };
    actix_web::rt::spawn(conn.run(stream));
    response
}

/// A client message (the fields the protocol's messages carry).
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum ClientMessage {
    ConnectionInit {
        #[serde(default)]
        payload: Option<Value>,
    },
    Ping {
        #[serde(default)]
        payload: Option<Value>,
    },
    Pong {
        #[serde(default)]
        #[allow(dead_code)]
        payload: Option<Value>,
    },
    Subscribe {
        id: String,
        // Boxed: a request is far larger than the other messages.
        payload: Box<async_graphql::Request>,
    },
    Complete {
        id: String,
    },
}

/// What an operation's task sends back to the connection.
enum Out {
    Next(String, Value),
    Error(String, Value),
    Complete(String),
}

/// The caller of an acknowledged connection.
struct Caller {
    principal: Principal,
    expires_at: i64,
    purpose: Option<String>,
    _slot: crate::live::feed::Slot,
}

struct Connection {
    svc: Arc<GraphqlService>,
    request_id: String,
    session: Session,
    caller: Option<Caller>,
    ops: HashMap<String, tokio::task::JoinHandle<()>>,
}

/// Why the connection closes.
struct Close(u16, String);

impl Close {
    fn new(code: u16, why: impl Into<String>) -> Self {
        Self(code, why.into())
    }
}

fn errors(message: &str, code: &str) -> Value {
    json!([{ "message": message, "extensions": { "code": code } }])
}

impl Connection {
    fn state(&self) -> &Arc<AppState> {
        &self.svc.state
    }

    async fn run(mut self, mut stream: actix_ws::AggregatedMessageStream) {
        let settings = self.state().settings.subscriptions.clone();
        let stop = self.state().stop.clone();
        let (tx, mut rx) = mpsc::channel::<Out>(64);
        let init_by = tokio::time::Instant::now() + Duration::from_secs(settings.init_timeout_secs);
        let keepalive = Duration::from_secs(settings.keepalive_secs);
        let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + keepalive, keepalive);
        let mut heard = Instant::now();
        let close = loop {
            let expiry = match &self.caller {
                Some(c) => {
                    let left = (c.expires_at - chrono::Utc::now().timestamp()).max(0) as u64;
                    tokio::time::Instant::now() + Duration::from_secs(left)
                }
                None => init_by,
            };
            tokio::select! {
                msg = stream.recv() => {
                    heard = Instant::now();
                    let step = match msg {
                        None => break None,
                        Some(Err(_)) => Err(Close::new(4400, "not a websocket message")),
                        Some(Ok(AggregatedMessage::Text(text))) => self.on_text(&text, &tx).await,
                        Some(Ok(AggregatedMessage::Binary(_))) => {
                            Err(Close::new(4400, "send the protocol's messages as text"))
                        }
                        Some(Ok(AggregatedMessage::Ping(b))) => {
                            match self.session.pong(&b).await {
                                Ok(()) => Ok(()),
                                Err(_) => break None,
                            }
                        }
                        Some(Ok(AggregatedMessage::Pong(_))) => Ok(()),
                        Some(Ok(AggregatedMessage::Close(_))) => break None,
                    };
                    if let Err(c) = step {
                        break Some(c);
                    }
                }
                Some(out) = rx.recv() => {
                    let (message, done) = match out {
                        Out::Next(id, payload) => (json!({"id": id, "type": "next", "payload": payload}), None),
                        Out::Error(id, payload) => (json!({"id": id, "type": "error", "payload": payload}), Some(id)),
                        Out::Complete(id) => (json!({"id": id, "type": "complete"}), Some(id)),
                    };
                    if let Some(id) = done {
                        self.ops.remove(&id);
                    }
                    if self.session.text(message.to_string()).await.is_err() {
                        break None;
                    }
                }
                _ = tokio::time::sleep_until(expiry) => {
                    break Some(match self.caller {
                        None => Close::new(4408, "Connection initialisation timeout"),
                        Some(_) => Close::new(4403, "Forbidden: the token expired"),
                    });
                }
                _ = ping.tick() => {
                    if heard.elapsed() > keepalive * 3 {
                        break Some(Close::new(1001, "nothing heard from the client"));
                    }
                    if self.session.text(json!({"type": "ping"}).to_string()).await.is_err() {
                        break None;
                    }
                }
                _ = stop.cancelled() => break Some(Close::new(1001, "the server is stopping")),
            }
        };
        for (_, op) in self.ops.drain() {
            op.abort();
        }
        let reason = close.map(|Close(code, description)| CloseReason {
            code: CloseCode::Other(code),
            description: Some(description),
        });
        let _ = self.session.close(reason).await;
    }

    async fn on_text(&mut self, text: &str, tx: &mpsc::Sender<Out>) -> Result<(), Close> {
        let message: ClientMessage = serde_json::from_str(text)
            .map_err(|_| Close::new(4400, "not a graphql-transport-ws message"))?;
        match message {
            ClientMessage::ConnectionInit { payload } => {
                if self.caller.is_some() {
                    return Err(Close::new(4429, "Too many initialisation requests"));
                }
                self.caller = Some(self.init(payload.unwrap_or(Value::Null)).await?);
                self.send(json!({"type": "connection_ack"})).await
            }
            ClientMessage::Ping { payload } => {
                let mut pong = json!({"type": "pong"});
                if let Some(p) = payload {
                    pong["payload"] = p;
                }
                self.send(pong).await
            }
            ClientMessage::Pong { .. } => Ok(()),
            ClientMessage::Subscribe { id, payload } => self.subscribe(id, *payload, tx).await,
            ClientMessage::Complete { id } => {
                // The client is done with it: no `complete` goes back (the protocol).
                if let Some(op) = self.ops.remove(&id) {
                    op.abort();
                }
                Ok(())
            }
        }
    }

    async fn send(&mut self, message: Value) -> Result<(), Close> {
        self.session
            .text(message.to_string())
            .await
            .map_err(|_| Close::new(1001, "closed"))
    }

    /// Authenticates `connection_init`'s payload: `{"authorization": "Bearer <token>"}`
    /// (or `Authorization`, or `token`), and an optional `purpose` for the access log.
    async fn init(&self, payload: Value) -> Result<Caller, Close> {
        let refused = |why: &str| Close::new(4403, format!("Forbidden: {why}"));
        let token = ["authorization", "Authorization", "token"]
            .iter()
            .find_map(|k| payload.get(k).and_then(Value::as_str))
            .map(|t| {
                t.strip_prefix("Bearer ")
                    .or_else(|| t.strip_prefix("bearer "))
                    .unwrap_or(t)
                    .trim()
            })
            .ok_or_else(|| refused("send a token in connection_init's payload (authorization)"))?;
        let claims = self
            .state()
            .authenticator
            .authenticate(token)
            .await
            .map_err(|e| refused(e.reason()))?;
        let purpose = access::purpose_from(
            payload
                .get("purpose")
                .map(|p| p.as_str().unwrap_or("\u{7}")),
        )
        .map_err(|m| Close::new(4400, m))?;
        // The first second a request with the token would be refused.
        let expires_at = claims.exp + crate::auth::LEEWAY_SECS as i64 + 1;
        let principal = Principal::from_claims(claims);
        let max = self
            .state()
            .settings
            .subscriptions
            .max_connections_per_principal;
        let slot = self
            .state()
            .live
            .open(&principal.subject, max)
            .ok_or_else(|| refused(&format!("at most {max} connections per caller")))?;
        Ok(Caller {
            principal,
            expires_at,
            purpose,
            _slot: slot,
        })
    }

    async fn subscribe(
        &mut self,
        id: String,
        mut request: async_graphql::Request,
        tx: &mpsc::Sender<Out>,
    ) -> Result<(), Close> {
        let Some(caller) = &self.caller else {
            return Err(Close::new(4401, "Unauthorized"));
        };
        if self.ops.contains_key(&id) {
            return Err(Close::new(
                4409,
                format!("Subscriber for {id} already exists"),
            ));
        }
        let max = self.state().settings.subscriptions.max_per_connection;
        let refuse = |message: &str, code: &str| errors(message, code);
        let refusal = if self.ops.len() >= max {
            Some(refuse(
                &format!("at most {max} subscriptions per connection"),
                "RATE_LIMITED",
            ))
        } else if let Err(mut e) = self.svc.documents.prepare(&mut request) {
            crate::graphql::http::ensure_code(&mut e);
            Some(json!([e]))
        } else {
            match crate::graphql::http::operation_type(&request) {
                Ok(OperationType::Subscription) => None,
                Ok(_) => Some(refuse(
                    "send queries and mutations over HTTP (POST /graphql)",
                    "BAD_USER_INPUT",
                )),
                Err(message) => Some(refuse(&message, "BAD_USER_INPUT")),
            }
        };
        if let Some(payload) = refusal {
            return self
                .send(json!({"id": id, "type": "error", "payload": payload}))
                .await;
        }
        let state = self.state().clone();
        let start = match crate::live::graphql::listen(&state).await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = e.code(), "reading the trail's head failed");
                return self
                    .send(json!({"id": id, "type": "error", "payload": errors("internal error", "INTERNAL")}))
                    .await;
            }
        };
        let recorder = Arc::new(AccessRecorder::default());
        let rc = RequestCtx::new(
            self.request_id.clone(),
            Ok(Some(caller.principal.clone())),
            recorder.clone(),
            caller.purpose.clone(),
            1,
        );
        let request = request
            .data(rc)
            .data(Loaders::new(&state.db.conn))
            .data(LiveCaller {
                expires_at: caller.expires_at,
                start: std::sync::Mutex::new(Some(start)),
            });
        let principal = caller.principal.clone();
        let purpose = caller.purpose.clone();
        let request_id = self.request_id.clone();
        let schema = self.svc.schema.clone();
        let tx = tx.clone();
        let op_id = id.clone();
        let task = tokio::spawn(async move {
            let id = op_id;
            let mut responses = schema.execute_stream(request);
            let mut first = true;
            loop {
                let next = AssertUnwindSafe(responses.next()).catch_unwind().await;
                let mut response = match next {
                    Ok(Some(r)) => r,
                    Ok(None) => break,
                    Err(_) => {
                        tracing::error!("subscription panicked");
                        let _ = tx
                            .send(Out::Next(
                                id.clone(),
                                json!({"errors": errors("internal error", "INTERNAL")}),
                            ))
                            .await;
                        break;
                    }
                };
                // Refused before it began (validation, bad arguments): an `error`, and the
                // operation is over.
                if first && response.data == async_graphql::Value::Null && response.is_err() {
                    crate::graphql::http::ensure_codes(&mut response);
                    let _ = tx
                        .send(Out::Error(id.clone(), json!(response.errors)))
                        .await;
                    return;
                }
                first = false;
                // The access log is written before the event is sent; when it cannot be,
                // the event is not sent and the subscription ends (fail closed).
                let notes = recorder.take();
                let logged =
                    match crate::graphql::http::read_by(&state, Some(&principal), &notes).await {
                        Ok(reader) => {
                            access::write(
                                &state,
                                reader.as_ref(),
                                &request_id,
                                purpose.as_deref(),
                                notes,
                            )
                            .await
                        }
                        Err(e) => Err(e),
                    };
                if logged.is_err() {
                    tracing::error!("access log write failed; subscription event withheld");
                    let _ = tx
                        .send(Out::Next(
                            id.clone(),
                            json!({"errors": errors("internal error", "INTERNAL")}),
                        ))
                        .await;
                    break;
                }
                crate::graphql::http::ensure_codes(&mut response);
                let payload = serde_json::to_value(&response).unwrap_or(Value::Null);
                if tx.send(Out::Next(id.clone(), payload)).await.is_err() {
                    return;
                }
            }
            let _ = tx.send(Out::Complete(id)).await;
        });
        self.ops.insert(id, task);
        Ok(())
    }
}
