//! The `candour` binary as an operator meets it: configuration errors, signals, migrations,
//! tokens it mints, and identity-provider keys from a JWKS file. Each test runs the real
//! binary in its own directory, on a fresh SQLite file or (with TEST_DATABASE_URL) a fresh
//! PostgreSQL database.

mod dispatch;
mod disposal;
mod seed;
mod serving;
mod trail_and_keys;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, Database};
use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_candour");
const SECRET: &str = "cli-test-secret-that-is-long-enough-0123456789";

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A fresh database URL for one test.
async fn fresh_database(dir: &Path) -> String {
    match std::env::var("TEST_DATABASE_URL") {
        // Empty means unset, as in the black-box harness (tests/src/lib.rs).
        Ok(admin_url) if !admin_url.trim().is_empty() => {
            let admin_url = admin_url.trim();
            let name = format!("candour_t_{}", uuid::Uuid::new_v4().simple());
            let admin = Database::connect(admin_url)
                .await
                .expect("PostgreSQL reachable");
            admin
                .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                .await
                .expect("create test database");
            let base = admin_url
                .rsplit_once('/')
                .expect("database url has a path")
                .0;
            format!("{base}/{name}")
        }
        _ => format!("sqlite://{}/candour.db?mode=rwc", dir.display()),
    }
}

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn command(dir: &Path, envs: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("CANDOUR_LOG_LEVEL", "warn");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd
}

async fn start(dir: &Path, envs: &[(&str, &str)]) -> Server {
    let port = free_port();
    let bind = format!("127.0.0.1:{port}");
    let mut all: Vec<(&str, &str)> = envs.to_vec();
    all.push(("CANDOUR_BIND", &bind));
    let child = command(dir, &all)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("candour starts");
    let base = format!("http://{bind}");
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = client.get(format!("{base}/readyz")).send().await {
            if r.status().is_success() {
                break;
            }
        }
        assert!(Instant::now() < deadline, "server did not become ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Server { child, base }
}

fn run(dir: &Path, envs: &[(&str, &str)], args: &[&str]) -> Output {
    command(dir, envs)
        .args(args)
        .output()
        .expect("candour runs")
}

async fn me(base: &str, token: &str) -> Value {
    reqwest::Client::new()
        .post(format!("{base}/graphql"))
        .bearer_auth(token)
        .json(&json!({"query": "{ me { subject roles serviceAccount } }"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

// ---------------------------------------------------------------------------------------------
// Information governance from the command line: verifying the trail, rotating the data key,
// disposing of records past retention.
// ---------------------------------------------------------------------------------------------

const NHS: &str = "9434765919";

/// A data key from `candour generate-data-key`.
fn generate_data_key(dir: &Path) -> String {
    let out = run(dir, &[], &["generate-data-key"]);
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out)
}

/// The key id a sealed value names: 8 hex digits of SHA-256("candour data key id\n" || key).
fn key_id(key: &str) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(key)
        .expect("a base64 key");
    let digest = sha2::Sha256::new()
        .chain_update(b"candour data key id\n")
        .chain_update(&bytes)
        .finalize();
    digest[..4].iter().map(|b| format!("{b:02x}")).collect()
}

/// Mint a token with the configured secret.
fn token(dir: &Path, subject: &str, role: &str, departments: &[&str]) -> String {
    let mut args = vec!["token", "--subject", subject, "--role", role];
    let email = format!("{subject}@candour.test");
    args.extend(["--name", subject, "--email", &email]);
    for d in departments {
        args.extend(["--department", d]);
    }
    let out = run(dir, &[("CANDOUR_JWT_SECRET", SECRET)], &args);
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out)
}

fn borrow(envs: &[(String, String)]) -> Vec<(&str, &str)> {
    envs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// POST a GraphQL operation; returns the HTTP status and the body.
async fn post(base: &str, token: &str, query: &str, variables: Value) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .post(format!("{base}/graphql"))
        .bearer_auth(token)
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .expect("POST /graphql");
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, body)
}

/// A GraphQL operation that must succeed; returns `data`.
async fn gql(base: &str, token: &str, query: &str, variables: Value) -> Value {
    let (status, body) = post(base, token, query, variables).await;
    assert!(
        status == 200 && body.get("errors").is_none() && body["data"].is_object(),
        "expected success, got HTTP {status} {body}"
    );
    body["data"].clone()
}

/// The cardiology department, created by an admin; returns its id.
async fn cardiology(dir: &Path, base: &str) -> String {
    let admin = token(dir, "ada", "admin", &[]);
    let data = gql(
        base,
        &admin,
        "mutation { createDepartment(input: { code: \"CARD\", name: \"Cardiology\" }) { department { id } } }",
        json!({}),
    )
    .await;
    data["createDepartment"]["department"]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Report an incident (as staff) in the department; returns the incident's id.
async fn report(dir: &Path, base: &str, department: &str, extra: Value) -> String {
    let staff = token(dir, "alice", "staff", &[]);
    let mut input = json!({
        "title": "Patient fell from trolley in corridor",
        "description": "Patient was left on a trolley with the side rails down and slid off.",
        "occurredAt": (chrono::Utc::now() - chrono::Duration::hours(2)).to_rfc3339(),
        "departmentId": department,
        "kind": "PATIENT_SAFETY",
        "physicalHarm": "NONE",
    });
    for (k, v) in extra.as_object().unwrap() {
        input[k] = v.clone();
    }
    let data = gql(
        base,
        &staff,
        "mutation($input: ReportIncidentInput!) { reportIncident(input: $input) { incident { id } } }",
        json!({ "input": input }),
    )
    .await;
    data["reportIncident"]["incident"]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn connect(db: &str) -> sea_orm::DatabaseConnection {
    Database::connect(db)
        .await
        .expect("connect to the test database")
}

async fn count(conn: &sea_orm::DatabaseConnection, sql: &str) -> i64 {
    let row = conn
        .query_one(sea_orm::Statement::from_string(
            conn.get_database_backend(),
            sql.to_string(),
        ))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .expect("a row");
    row.try_get::<i64>("", "n")
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// Waits (up to 10 s) until every trail event has its place in the chain.
async fn wait_until_sealed(conn: &sea_orm::DatabaseConnection) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while count(
        conn,
        "SELECT COUNT(*) AS n FROM trail_event WHERE seq IS NULL",
    )
    .await
        > 0
    {
        assert!(
            Instant::now() < deadline,
            "trail events still unsealed after 10 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The chain's head as the database holds it.
async fn head(conn: &sea_orm::DatabaseConnection) -> (i64, String) {
    let row = conn
        .query_one(sea_orm::Statement::from_string(
            conn.get_database_backend(),
            "SELECT seq, hash FROM trail_head WHERE id = 1".to_string(),
        ))
        .await
        .unwrap()
        .expect("a trail head once events are sealed");
    (
        row.try_get::<i64>("", "seq").unwrap(),
        row.try_get::<String>("", "hash").unwrap(),
    )
}

async fn sealed_nhs_number(conn: &sea_orm::DatabaseConnection) -> String {
    let row = conn
        .query_one(sea_orm::Statement::from_string(
            conn.get_database_backend(),
            "SELECT patient_nhs_sealed FROM incident".to_string(),
        ))
        .await
        .unwrap()
        .expect("the incident");
    row.try_get::<Option<String>>("", "patient_nhs_sealed")
        .unwrap()
        .expect("the NHS number is stored sealed")
}

/// The settings of a server or command keyed with `current` (and `previous` keys).
fn keyed(db: &str, current: &str, previous: Option<&str>) -> Vec<(String, String)> {
    let mut envs = vec![
        ("CANDOUR_DATABASE_URL".to_string(), db.to_string()),
        ("CANDOUR_JWT_SECRET".to_string(), SECRET.to_string()),
        ("CANDOUR_DATA_KEY".to_string(), current.to_string()),
    ];
    if let Some(p) = previous {
        envs.push(("CANDOUR_DATA_KEY_PREVIOUS".to_string(), p.to_string()));
    }
    envs
}
