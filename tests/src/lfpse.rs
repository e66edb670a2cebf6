//! A real HTTP server that plays NHS England's LFPSE FHIR API, for black-box tests of the
//! submission path, never a mock inside the server.
//!
//! [`LfpseServer::start`] runs `tests/fixtures/lfpse_server.py` (Python's standard library,
//! nothing to install) as a child process on a free loopback port. Point Candour's
//! `lfpse.url` at [`LfpseServer::url`]; by default every POST is created (201, an
//! AdverseEvent with a new id, `meta.versionId` 1 and a national reference number) and
//! every PUT to a known id updated (200, the next version). [`LfpseServer::script`] makes
//! the next requests fail instead ([`Answer`]: a status, 429 with `Retry-After`, an
//! OperationOutcome, a hang past the client's timeout), and [`LfpseServer::requests`]
//! reads back every request it received: method, path, headers and body.
//!
//! The interpreter is `python3`, or whatever `CANDOUR_TEST_PYTHON` names.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::process::Child;

/// The path LFPSE's AdverseEvent endpoint has (`<host>/adverse-event/fhir/AdverseEvent`).
pub const ENDPOINT: &str = "/adverse-event/fhir/AdverseEvent";

/// How the server answers one request.
#[derive(Debug, Clone)]
pub enum Answer {
    /// As LFPSE does when all is well: 201 for a POST, 200 for a PUT.
    Accept,
    /// This status, with an OperationOutcome (`code` transient or processing).
    Status(u16),
    /// 429, with `Retry-After: <seconds>`.
    RateLimited { retry_after: u64 },
    /// This status with this body (an OperationOutcome).
    Outcome { status: u16, body: Value },
    /// Nothing for this long, then the connection closes without an answer.
    Hang { secs: f64 },
    /// Accepted, after this long.
    Slow { secs: f64 },
}

impl Answer {
    fn json(&self) -> Value {
        match self {
            Answer::Accept => json!({ "accept": true }),
            Answer::Status(s) => json!({ "status": s }),
            Answer::RateLimited { retry_after } => {
                json!({ "status": 429, "retry_after": retry_after.to_string() })
            }
            Answer::Outcome { status, body } => json!({ "status": status, "outcome": body }),
            Answer::Hang { secs } => json!({ "hang": secs }),
            Answer::Slow { secs } => json!({ "accept": true, "delay": secs }),
        }
    }
}

/// One request the server received.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    /// Lower-case names.
    pub headers: BTreeMap<String, String>,
    /// Parsed JSON (a string when it was not JSON).
    pub body: Value,
    /// The status it was answered with; None while hanging, or never answered.
    pub answered: Option<u16>,
    /// When it arrived (seconds since the epoch).
    pub at: f64,
}

impl Request {
    /// The LFPSE id a PUT updated (the last segment of its path).
    pub fn updated_id(&self) -> Option<&str> {
        (self.method == "PUT").then(|| self.path.rsplit('/').next().unwrap_or(""))
    }
}

/// The LFPSE stand-in; killed when dropped.
pub struct LfpseServer {
    port: u16,
    _dir: tempfile::TempDir,
    child: Child,
    client: reqwest::Client,
}

impl LfpseServer {
    /// Starts the server; panics (with its output) if it is not listening within 20 s.
    pub async fn start() -> LfpseServer {
        let dir = tempfile::Builder::new()
            .prefix("candour-lfpse-")
            .tempdir()
            .expect("a temporary directory for the LFPSE server");
        let port_file = dir.path().join("port");
        let log = dir.path().join("server.log");
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/lfpse_server.py");
        let (child, port) = crate::python::start_server(
            "LFPSE server",
            script,
            &[port_file.as_os_str()],
            &port_file,
            &log,
        )
        .await;
        LfpseServer {
            port,
            _dir: dir,
            child,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .expect("reqwest client"),
        }
    }

    /// The AdverseEvent endpoint, for `lfpse.url`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}{ENDPOINT}", self.port)
    }

    /// The next requests get these answers in order; those after them are accepted.
    pub async fn script(&self, answers: &[Answer]) {
        let body = json!({ "answers": answers.iter().map(Answer::json).collect::<Vec<_>>() });
        let resp = self
            .client
            .post(format!("http://127.0.0.1:{}/_control/script", self.port))
            .json(&body)
            .send()
            .await
            .expect("script the LFPSE server");
        assert!(resp.status().is_success(), "scripting failed: {resp:?}");
    }

    /// Every request received so far, oldest first.
    pub async fn requests(&self) -> Vec<Request> {
        let rows: Vec<Value> = self
            .client
            .get(format!("http://127.0.0.1:{}/_control/requests", self.port))
            .send()
            .await
            .expect("read the LFPSE server's requests")
            .json()
            .await
            .expect("the requests as JSON");
        rows.into_iter()
            .map(|r| Request {
                method: r["method"].as_str().unwrap_or("").to_string(),
                path: r["path"].as_str().unwrap_or("").to_string(),
                headers: r["headers"]
                    .as_object()
                    .map(|h| {
                        h.iter()
                            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                            .collect()
                    })
                    .unwrap_or_default(),
                body: r["body"].clone(),
                answered: r["answered"].as_u64().map(|s| s as u16),
                at: r["at"].as_f64().unwrap_or(0.0),
            })
            .collect()
    }

    /// Waits until at least `n` requests have arrived; returns them all. Panics, listing
    /// what did arrive, after `timeout`.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Request> {
        let deadline = Instant::now() + timeout;
        loop {
            let got = self.requests().await;
            if got.len() >= n {
                return got;
            }
            if Instant::now() >= deadline {
                panic!(
                    "expected at least {n} request(s) at the LFPSE server within {timeout:?}, got {}: {:?}",
                    got.len(),
                    got.iter()
                        .map(|r| format!("{} {} -> {:?}", r.method, r.path, r.answered))
                        .collect::<Vec<_>>()
                );
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Kills the server now (its port refuses connections from then on).
    pub async fn kill(&mut self) {
        let _ = self.child.kill().await;
    }
}
