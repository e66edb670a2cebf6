//! FHIR: resources Candour serves are checked by an independent implementation, the
//! `fhir.resources` Python package (pydantic models generated from the FHIR specification,
//! `pip install fhir.resources`), run as a separate process by `tests/fixtures/fhir_validate.py`.
//! Also the FHIR HTTP calls, with `Accept`/`Content-Type: application/fhir+json`.
use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::python::python;
use crate::TestApp;

/// The package and version range the suite validates with.
pub const FHIR_RESOURCES: &str = "fhir.resources>=8,<9";

/// For each resource, None when `fhir.resources` accepts it, else the validator's message.
pub fn validate(resources: &[Value]) -> Vec<Option<String>> {
    ensure_fhir_resources();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/fhir_validate.py");
    let mut child = Command::new(python())
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the FHIR validator (python3)");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(serde_json::to_string(resources).unwrap().as_bytes())
        .expect("write resources to the validator");
    let out = child.wait_with_output().expect("the validator ran");
    assert!(
        out.status.success(),
        "the FHIR validator failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the validator's answer is JSON")
}

/// Panics, naming the resource and the validator's message, unless every resource is valid.
#[track_caller]
pub fn assert_valid(resources: &[&Value]) {
    let owned: Vec<Value> = resources.iter().map(|r| (*r).clone()).collect();
    for (r, verdict) in owned.iter().zip(validate(&owned)) {
        if let Some(message) = verdict {
            panic!(
                "fhir.resources refuses this {}: {message}\n{}",
                r["resourceType"],
                serde_json::to_string_pretty(r).unwrap()
            );
        }
    }
}

/// Installs fhir.resources with pip, once per test run, when the interpreter lacks it: so
/// `cargo test --workspace` works on a fresh machine that has Python and pip.
fn ensure_fhir_resources() {
    static ONCE: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    ONCE.get_or_init(|| {
        crate::python::ensure_installed(&["-c", "import fhir.resources.R4B"], FHIR_RESOURCES)
    });
}

/// A FHIR response: status, content type, body.
#[derive(Debug)]
pub struct FhirResponse {
    pub status: u16,
    pub content_type: String,
    pub location: Option<String>,
    /// `x-sql-statements`, when the server counts them (`diagnostics.sql_statement_count`).
    pub sql_statements: Option<u64>,
    pub body: Value,
}

impl FhirResponse {
    /// The OperationOutcome's first issue: (code, expression), after checking that the
    /// response is one, valid, with this status.
    #[track_caller]
    pub fn assert_outcome(&self, status: u16, code: &str) -> Option<String> {
        assert_eq!(self.status, status, "status: {}", self.body);
        assert!(
            self.content_type.starts_with("application/fhir+json"),
            "content type {}",
            self.content_type
        );
        assert_eq!(
            self.body["resourceType"], "OperationOutcome",
            "{}",
            self.body
        );
        assert_eq!(self.body["issue"][0]["code"], code, "{}", self.body);
        assert_valid(&[&self.body]);
        self.body["issue"][0]["expression"][0]
            .as_str()
            .map(str::to_string)
    }
}

impl TestApp {
    /// GET a FHIR path (with its query) with a bearer token, or none.
    pub async fn fhir_get(&self, token: Option<&str>, path_and_query: &str) -> FhirResponse {
        let mut req = self
            .client
            .get(self.url(path_and_query))
            .header("Accept", "application/fhir+json");
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        FhirResponse::of(req.send().await.expect("FHIR GET")).await
    }

    /// POST a resource to a FHIR path.
    pub async fn fhir_post(&self, token: Option<&str>, path: &str, body: &Value) -> FhirResponse {
        let mut req = self
            .client
            .post(self.url(path))
            .header("Accept", "application/fhir+json")
            .header("Content-Type", "application/fhir+json")
            .body(body.to_string());
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        FhirResponse::of(req.send().await.expect("FHIR POST")).await
    }
}

impl FhirResponse {
    async fn of(resp: reqwest::Response) -> Self {
        let status = resp.status().as_u16();
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let content_type = header("content-type").unwrap_or_default();
        let location = header("location");
        let sql_statements = header("x-sql-statements").and_then(|v| v.parse().ok());
        let text = resp.text().await.expect("FHIR body");
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Self {
            status,
            content_type,
            location,
            sql_statements,
            body,
        }
    }
}
