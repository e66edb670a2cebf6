//! The `candour` binary as an operator meets it: configuration errors, signals, migrations,
//! tokens it mints, and identity-provider keys from a JWKS file. Each test runs the real
//! binary in its own directory, on a fresh SQLite file or (with TEST_DATABASE_URL) a fresh
//! PostgreSQL database.
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
        Ok(admin_url) => {
            let name = format!("candour_t_{}", uuid::Uuid::new_v4().simple());
            let admin = Database::connect(&admin_url)
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
        Err(_) => format!("sqlite://{}/candour.db?mode=rwc", dir.display()),
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

#[test]
fn a_short_secret_stops_the_server_with_a_message_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        dir.path(),
        &[("CANDOUR_JWT_SECRET", "tooshort")],
        &["serve"],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("jwt_secret") && err.contains("32"), "{err}");
    assert!(
        !err.contains("tooshort"),
        "the secret must not be printed: {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn a_malformed_number_names_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        dir.path(),
        &[("CANDOUR_LIMITS__MAX_DEPTH", "deep")],
        &["serve"],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("max_depth"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn production_refuses_to_start_without_keys() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        dir.path(),
        &[("CANDOUR_ENVIRONMENT", "production")],
        &["serve"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("production"), "{}", stderr(&out));
    assert!(!dir.path().join(".candour-dev-secret").exists());
}

#[tokio::test]
async fn the_config_file_is_read_and_the_environment_overrides_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = fresh_database(dir.path()).await;
    std::fs::write(
        dir.path().join("candour.toml"),
        format!("jwt_secret = \"{SECRET}\"\nbind = \"127.0.0.1:1\"\n[limits]\nmax_depth = 3\n"),
    )
    .unwrap();
    // CANDOUR_BIND (set by start) overrides the file's unusable port.
    let server = start(dir.path(), &[("CANDOUR_DATABASE_URL", &db)]).await;
    let token = stdout(&run(dir.path(), &[], &["token", "--subject", "ann"]));
    assert_eq!(
        me(&server.base, &token).await["data"]["me"]["subject"],
        "ann"
    );
    // max_depth = 3 from the file applies.
    let deep: Value = reqwest::Client::new()
        .post(format!("{}/graphql", server.base))
        .bearer_auth(&token)
        .json(&json!({"query": "{ incidents { edges { node { department { name } } } } }"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        deep["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{deep}"
    );
}

#[tokio::test]
async fn a_development_secret_is_generated_once_and_minted_tokens_work() {
    let dir = tempfile::tempdir().unwrap();
    let db = fresh_database(dir.path()).await;
    let server = start(dir.path(), &[("CANDOUR_DATABASE_URL", &db)]).await;
    let secret_file = dir.path().join(".candour-dev-secret");
    let secret = std::fs::read_to_string(&secret_file).expect("secret written on first run");
    let token = stdout(&run(
        dir.path(),
        &[],
        &[
            "token",
            "--subject",
            "qa",
            "--role",
            "quality_lead",
            "--lifetime",
            "5m",
        ],
    ));
    let body = me(&server.base, &token).await;
    assert_eq!(body["data"]["me"]["subject"], "qa", "{body}");
    assert!(body["data"]["me"]["roles"]
        .as_array()
        .unwrap()
        .contains(&json!("QUALITY_LEAD")));
    assert_eq!(
        std::fs::read_to_string(&secret_file).unwrap(),
        secret,
        "kept, not regenerated"
    );
}

#[test]
fn token_refuses_unknown_roles_and_scopes() {
    let dir = tempfile::tempdir().unwrap();
    let envs = [("CANDOUR_JWT_SECRET", SECRET)];
    let out = run(
        dir.path(),
        &envs,
        &["token", "--subject", "x", "--role", "root"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("unknown role"));
    let out = run(
        dir.path(),
        &envs,
        &["token", "--subject", "x", "--scope", "everything"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("unknown scope"));
}

#[tokio::test]
async fn migrate_prepares_the_database_and_the_server_is_ready() {
    let dir = tempfile::tempdir().unwrap();
    let db = fresh_database(dir.path()).await;
    let envs = [
        ("CANDOUR_DATABASE_URL", db.as_str()),
        ("CANDOUR_JWT_SECRET", SECRET),
    ];
    let out = run(dir.path(), &envs, &["migrate"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let server = start(dir.path(), &envs).await;
    let ready = reqwest::get(format!("{}/readyz", server.base))
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
}

#[tokio::test]
async fn sigterm_stops_the_server_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let db = fresh_database(dir.path()).await;
    let mut server = start(
        dir.path(),
        &[
            ("CANDOUR_DATABASE_URL", &db),
            ("CANDOUR_JWT_SECRET", SECRET),
        ],
    )
    .await;
    // Requests in flight when the signal arrives still get their answers.
    let client = reqwest::Client::new();
    let base = server.base.clone();
    let in_flight: Vec<_> = (0..8)
        .map(|_| {
            let client = client.clone();
            let url = format!("{base}/graphql");
            tokio::spawn(async move {
                client
                    .post(url)
                    .json(&json!({"query": "{ __schema { types { name fields { name } } } }"}))
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(5)).await;
    let pid = server.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let mut answered = 0;
    for handle in in_flight {
        if let Ok(status) = handle.await.unwrap() {
            assert_eq!(status, 200);
            answered += 1;
        }
    }
    assert!(
        answered > 0,
        "requests sent before the signal were answered"
    );
    let deadline = Instant::now() + Duration::from_secs(35);
    let status = loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "server did not stop after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "clean exit after SIGTERM: {status:?}");
    assert!(reqwest::get(format!("{}/healthz", server.base))
        .await
        .is_err());
}

#[tokio::test]
async fn identity_provider_keys_from_a_jwks_file_are_honoured() {
    let dir = tempfile::tempdir().unwrap();
    let db = fresh_database(dir.path()).await;
    let jwks = fixtures().join("jwks.json");
    let envs = [
        ("CANDOUR_DATABASE_URL", db.as_str()),
        ("CANDOUR_JWKS_FILE", jwks.to_str().unwrap()),
        ("CANDOUR_JWT_ISSUER", "https://idp.test"),
        ("CANDOUR_JWT_AUDIENCE", "candour"),
    ];
    let server = start(dir.path(), &envs).await;
    for (alg, key, kid) in [
        ("RS256", "rs256.pem", "test-rsa"),
        ("ES256", "es256.pem", "test-ec"),
    ] {
        let key = fixtures().join(key);
        let out = run(
            dir.path(),
            &envs,
            &[
                "token",
                "--subject",
                alg,
                "--private-key",
                key.to_str().unwrap(),
                "--algorithm",
                alg,
                "--kid",
                kid,
            ],
        );
        assert!(out.status.success(), "{}", stderr(&out));
        let body = me(&server.base, &stdout(&out)).await;
        assert_eq!(body["data"]["me"]["subject"], alg, "{body}");
    }
    // A token signed with a key the JWKS does not hold is refused.
    let hs = stdout(&run(
        dir.path(),
        &[
            ("CANDOUR_JWT_SECRET", SECRET),
            ("CANDOUR_JWT_ISSUER", "https://idp.test"),
            ("CANDOUR_JWT_AUDIENCE", "candour"),
        ],
        &["token", "--subject", "intruder"],
    ));
    let body = me(&server.base, &hs).await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{body}"
    );
    // The right key but the wrong kid is refused too.
    let out = run(
        dir.path(),
        &envs,
        &[
            "token",
            "--subject",
            "x",
            "--private-key",
            fixtures().join("rs256.pem").to_str().unwrap(),
            "--algorithm",
            "RS256",
            "--kid",
            "test-ec",
        ],
    );
    let body = me(&server.base, &stdout(&out)).await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{body}"
    );
}
