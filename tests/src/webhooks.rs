//! A real webhook receiver, for black-box tests of webhook deliveries: a Python HTTP server
//! process (`tests/fixtures/webhook_receiver.py`) that verifies each delivery's signature
//! with the `standardwebhooks` package from PyPI (an implementation of the Standard
//! Webhooks scheme that is not Candour's), records what it received and answers as scripted.
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::process::Child;

/// The Standard Webhooks reference implementation for Python.
pub const STANDARD_WEBHOOKS: &str = "standardwebhooks>=1.3,<2";

/// The receiver; killed when dropped.
pub struct WebhookReceiver {
    pub port: u16,
    _dir: tempfile::TempDir,
    _child: Child,
    client: reqwest::Client,
}

impl WebhookReceiver {
    pub async fn start() -> WebhookReceiver {
        static INSTALLED: OnceLock<()> = OnceLock::new();
        INSTALLED.get_or_init(|| {
            crate::python::ensure_installed(&["-c", "import standardwebhooks"], STANDARD_WEBHOOKS)
        });
        let dir = tempfile::Builder::new()
            .prefix("candour-webhooks-")
            .tempdir()
            .expect("a temporary directory for the webhook receiver");
        let port_file = dir.path().join("port");
        let log = dir.path().join("receiver.log");
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/webhook_receiver.py");
        let (child, port) = crate::python::start_server(
            "webhook receiver",
            script,
            &[port_file.as_os_str()],
            &port_file,
            &log,
        )
        .await;
        WebhookReceiver {
            port,
            _dir: dir,
            _child: child,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .expect("reqwest client"),
        }
    }

    /// Where deliveries are to go.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hooks/candour", self.port)
    }

    async fn control(&self, path: &str, body: Value) {
        let resp = self
            .client
            .post(format!("http://127.0.0.1:{}/_control/{path}", self.port))
            .json(&body)
            .send()
            .await
            .expect("control the webhook receiver");
        assert!(resp.status().is_success(), "{resp:?}");
    }

    /// The secret the receiver verifies signatures with.
    pub async fn verify_with(&self, secret: &str) {
        self.control("secret", json!({ "secret": secret })).await;
    }

    /// The next deliveries get these answers (`{"status": 503}`, `{"hang": 5}`), in order;
    /// those after them get 204.
    pub async fn script(&self, answers: Value) {
        self.control("script", json!({ "answers": answers })).await;
    }

    /// Every delivery received so far.
    pub async fn requests(&self) -> Vec<Value> {
        self.client
            .get(format!("http://127.0.0.1:{}/_control/requests", self.port))
            .send()
            .await
            .expect("read the webhook receiver")
            .json()
            .await
            .expect("JSON")
    }

    /// Waits until at least `n` deliveries have arrived (up to 30 s); returns them all.
    pub async fn wait_for(&self, n: usize) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let got = self.requests().await;
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "expected {n} deliveries, got {}: {got:#?}",
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
