//! A `graphql-transport-ws` client over a real websocket (tokio-tungstenite), for the
//! subscription stories.
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::TestApp;

/// How long a step waits for the server before the test fails.
const PATIENCE: Duration = Duration::from_secs(15);

/// What the server sent next.
#[derive(Debug)]
pub enum Incoming {
    Message(Value),
    Closed(u16, String),
}

/// One websocket connection to the server.
pub struct Ws {
    stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// Answer the server's pings (as graphql-ws clients do); off to play a dead client.
    pub answer_pings: bool,
    /// Messages read ahead (while waiting for a pong), in order.
    buffered: std::collections::VecDeque<Value>,
}

impl TestApp {
    /// A websocket to `/graphql` asking for `protocol` (None: no subprotocol at all).
    pub async fn try_ws(
        &self,
        protocol: Option<&str>,
    ) -> Result<Ws, tokio_tungstenite::tungstenite::Error> {
        let mut request = format!("ws://127.0.0.1:{}/graphql", self.port)
            .into_client_request()
            .expect("websocket request");
        if let Some(p) = protocol {
            request
                .headers_mut()
                .insert("Sec-WebSocket-Protocol", p.parse().expect("header value"));
        }
        let (stream, response) = tokio_tungstenite::connect_async(request).await?;
        if let Some(p) = protocol {
            assert_eq!(
                response
                    .headers()
                    .get("Sec-WebSocket-Protocol")
                    .and_then(|v| v.to_str().ok()),
                Some(p),
                "the server agrees the subprotocol"
            );
        }
        Ok(Ws {
            stream,
            answer_pings: true,
            buffered: Default::default(),
        })
    }

    /// A `graphql-transport-ws` connection, not yet initialised.
    pub async fn ws(&self) -> Ws {
        self.try_ws(Some("graphql-transport-ws"))
            .await
            .expect("the websocket opens")
    }

    /// A connection initialised with `token` and acknowledged.
    pub async fn ws_as(&self, token: &str) -> Ws {
        let mut ws = self.ws().await;
        ws.init(token).await;
        ws
    }
}

impl TestApp {
    /// Waits until every trail event written so far is sealed (has its place in the
    /// chain), so that what a test did before subscribing is not announced after.
    pub async fn wait_sealed(&self) {
        use sea_orm::{ConnectionTrait, Statement};
        let db = self.db().await;
        let backend = db.get_database_backend();
        for _ in 0..200 {
            let row = db
                .query_one(Statement::from_string(
                    backend,
                    "SELECT COUNT(*) AS n FROM trail_event WHERE seq IS NULL",
                ))
                .await
                .expect("count unsealed trail events")
                .expect("a row");
            let n: i64 = row.try_get("", "n").expect("n");
            if n == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("trail events stayed unsealed for 10 s");
    }
}

impl Ws {
    pub async fn send(&mut self, message: Value) {
        self.stream
            .send(Message::text(message.to_string()))
            .await
            .expect("send on the websocket");
    }

    pub async fn send_raw(&mut self, message: Message) {
        self.stream
            .send(message)
            .await
            .expect("send on the websocket");
    }

    /// The next protocol message or the close, within `wait` (None: nothing came).
    pub async fn recv_within(&mut self, wait: Duration) -> Option<Incoming> {
        if let Some(v) = self.buffered.pop_front() {
            return Some(Incoming::Message(v));
        }
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let frame = match tokio::time::timeout_at(deadline, self.stream.next()).await {
                Err(_) => return None,
                Ok(f) => f,
            };
            match frame {
                None => return Some(Incoming::Closed(1006, "no close frame".into())),
                Some(Err(e)) => return Some(Incoming::Closed(1006, e.to_string())),
                Some(Ok(Message::Text(t))) => {
                    let v: Value = serde_json::from_str(&t).expect("the server sends JSON");
                    if v["type"] == "ping" && self.answer_pings {
                        self.send(json!({"type": "pong"})).await;
                        continue;
                    }
                    return Some(Incoming::Message(v));
                }
                Some(Ok(Message::Close(frame))) => {
                    return Some(match frame {
                        Some(f) => Incoming::Closed(u16::from(f.code), f.reason.to_string()),
                        None => Incoming::Closed(u16::from(CloseCode::Status), String::new()),
                    });
                }
                Some(Ok(_)) => continue,
            }
        }
    }

    /// The next protocol message; fails the test on a close or a silence.
    #[track_caller]
    pub fn recv(&mut self) -> impl std::future::Future<Output = Value> + '_ {
        let caller = std::panic::Location::caller();
        async move {
            match self.recv_within(PATIENCE).await {
                Some(Incoming::Message(v)) => v,
                other => panic!("{caller}: expected a message, got {other:?}"),
            }
        }
    }

    /// The close code and reason the server closes with.
    #[track_caller]
    pub fn closed(&mut self) -> impl std::future::Future<Output = (u16, String)> + '_ {
        let caller = std::panic::Location::caller();
        async move {
            loop {
                match self.recv_within(PATIENCE).await {
                    Some(Incoming::Closed(code, reason)) => return (code, reason),
                    Some(Incoming::Message(v)) if v["type"] == "pong" || v["type"] == "ping" => {
                        continue
                    }
                    other => panic!("{caller}: expected the server to close, got {other:?}"),
                }
            }
        }
    }

    /// Sends `connection_init` with the token and waits for `connection_ack`.
    pub async fn init(&mut self, token: &str) {
        self.send(json!({"type": "connection_init", "payload": {"authorization": format!("Bearer {token}")}}))
            .await;
        let ack = self.recv().await;
        assert_eq!(ack["type"], "connection_ack", "{ack}");
    }

    pub async fn subscribe(&mut self, id: &str, query: &str, variables: Value) {
        self.send(json!({"id": id, "type": "subscribe", "payload": {"query": query, "variables": variables}}))
            .await;
    }

    /// Subscribes, and waits until the server has read the subscription (it answers a ping
    /// sent after it): every event sealed from then on is the subscription's.
    pub async fn subscribe_now(&mut self, id: &str, query: &str, variables: Value) {
        self.subscribe(id, query, variables).await;
        self.send(json!({"type": "ping", "payload": {"after": id}}))
            .await;
        let mut ahead = Vec::new();
        loop {
            let m = self.recv().await;
            assert!(m["type"] != "error", "the subscription was refused: {m}");
            if m["type"] == "pong" && m["payload"]["after"] == id {
                break;
            }
            ahead.push(m);
        }
        self.buffered.extend(ahead);
    }

    /// The next `next` message's payload for operation `id`.
    pub async fn next(&mut self, id: &str) -> Value {
        let m = self.recv().await;
        assert_eq!(m["type"], "next", "expected next for {id}: {m}");
        assert_eq!(m["id"], id, "{m}");
        m["payload"].clone()
    }

    /// The next event's data for `id`, which must carry no errors.
    pub async fn event(&mut self, id: &str) -> Value {
        let payload = self.next(id).await;
        assert!(
            payload.get("errors").is_none(),
            "errors in an event: {payload}"
        );
        payload["data"].clone()
    }

    /// Nothing arrives for `wait` (pings answered).
    pub async fn silent_for(&mut self, wait: Duration) {
        if let Some(m) = self.recv_within(wait).await {
            panic!("expected nothing, got {m:?}");
        }
    }

    pub async fn close(mut self) {
        let _ = self.stream.close(None).await;
    }
}
