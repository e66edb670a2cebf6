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

#[tokio::test]
async fn token_link_is_a_sign_in_link_with_the_token_in_the_fragment() {
    let dir = tempfile::tempdir().unwrap();
    let db = fresh_database(dir.path()).await;
    let secret = (
        "CANDOUR_JWT_SECRET",
        "cli-test-secret-0123456789abcdef0123456789",
    );
    let server = start(dir.path(), &[("CANDOUR_DATABASE_URL", &db), secret]).await;
    let link = stdout(&run(
        dir.path(),
        &[
            secret,
            ("CANDOUR_PUBLIC_URL", "https://candour.trust.nhs.uk/"),
        ],
        &[
            "token",
            "--subject",
            "sam",
            "--name",
            "Sam Scientist",
            "--link",
        ],
    ));
    let token = link
        .strip_prefix("https://candour.trust.nhs.uk/#token=")
        .unwrap_or_else(|| panic!("not a sign-in link: {link}"));
    // Nothing before the fragment but the site: no query string a server would log.
    assert!(!link.contains('?'), "{link}");
    let body = me(&server.base, token).await;
    assert_eq!(body["data"]["me"]["subject"], "sam", "{body}");
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

#[test]
fn generate_data_key_prints_a_fresh_256_bit_key_each_time() {
    use base64::Engine as _;
    let dir = tempfile::tempdir().unwrap();
    let first = generate_data_key(dir.path());
    let second = generate_data_key(dir.path());
    for key in [&first, &second] {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(key)
            .unwrap_or_else(|e| panic!("{key:?} is not base64: {e}"));
        assert_eq!(bytes.len(), 32, "{key:?}");
    }
    assert_ne!(first, second, "a new key each time");
}

#[tokio::test]
async fn verify_trail_vouches_for_an_intact_chain_and_names_the_first_broken_link() {
    let dir = tempfile::tempdir().unwrap();
    let db = fresh_database(dir.path()).await;
    let key = generate_data_key(dir.path());
    let envs = [
        ("CANDOUR_DATABASE_URL", db.as_str()),
        ("CANDOUR_JWT_SECRET", SECRET),
        ("CANDOUR_DATA_KEY", key.as_str()),
    ];
    let server = start(dir.path(), &envs).await;
    let card = cardiology(dir.path(), &server.base).await;
    report(dir.path(), &server.base, &card, json!({})).await;
    report(dir.path(), &server.base, &card, json!({})).await;
    let conn = connect(&db).await;
    wait_until_sealed(&conn).await;
    drop(server);

    let out = run(dir.path(), &envs, &["verify-trail"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}\n{}", stderr(&out));
    assert!(text.starts_with("trail intact:"), "{text}");
    assert!(text.contains("3 events checked"), "{text}");
    let (seq, hash) = head(&conn).await;
    assert_eq!(seq, 3);
    assert!(
        text.contains(&format!("head {seq} {hash}")),
        "the head is printed to anchor it: {text}"
    );

    let edited = conn
        .execute_unprepared("UPDATE trail_event SET changes = '[]' WHERE seq = 2")
        .await
        .unwrap();
    assert_eq!(edited.rows_affected(), 1);
    let out = run(dir.path(), &envs, &["verify-trail"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}\n{}", stderr(&out));
    assert!(text.starts_with("trail BROKEN at event 2"), "{text}");
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
}

#[tokio::test]
async fn rotating_the_data_key_reseals_patients_so_only_the_new_key_is_needed() {
    let dir = tempfile::tempdir().unwrap();
    let db = fresh_database(dir.path()).await;
    let k1 = generate_data_key(dir.path());
    let k2 = generate_data_key(dir.path());
    let (id1, id2) = (key_id(&k1), key_id(&k2));
    assert_ne!(id1, id2);
    let with_key = |current: &str, previous: Option<&str>| {
        let mut envs = vec![
            ("CANDOUR_DATABASE_URL".to_string(), db.clone()),
            ("CANDOUR_JWT_SECRET".to_string(), SECRET.to_string()),
            ("CANDOUR_DATA_KEY".to_string(), current.to_string()),
        ];
        if let Some(p) = previous {
            envs.push(("CANDOUR_DATA_KEY_PREVIOUS".to_string(), p.to_string()));
        }
        envs
    };
    let k1_only = with_key(&k1, None);
    let k2_only = with_key(&k2, None);
    let rotating = with_key(&k2, Some(&k1));
    let handler = token(dir.path(), "hana", "handler", &["CARD"]);
    let ig = token(dir.path(), "iris", "ig_officer", &[]);
    let read_patient =
        "query($id: ID!) { incident(id: $id) { id patient { nhsNumber name dateOfBirth } } }";

    // Reported under K1.
    let server = start(dir.path(), &borrow(&k1_only)).await;
    let card = cardiology(dir.path(), &server.base).await;
    let incident = report(
        dir.path(),
        &server.base,
        &card,
        json!({ "patient": { "nhsNumber": NHS, "name": "Mary Example", "dateOfBirth": "1950-06-01" } }),
    )
    .await;
    drop(server);
    let conn = connect(&db).await;
    let before = sealed_nhs_number(&conn).await;
    assert!(before.starts_with(&format!("v1.{id1}.")), "{before}");
    assert!(!before.contains(NHS), "{before}");

    // Rotated to K2, K1 still listed as previous.
    let out = run(dir.path(), &borrow(&rotating), &["rotate-data-key"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.starts_with("re-sealed 1 incidents"), "{text}");
    assert!(text.contains(&id2), "names the new key: {text}");
    let after = sealed_nhs_number(&conn).await;
    assert!(after.starts_with(&format!("v1.{id2}.")), "{after}");
    assert!(!after.contains(NHS), "{after}");

    // Again: nothing left to re-seal.
    let out = run(dir.path(), &borrow(&rotating), &["rotate-data-key"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with("re-sealed 0 incidents"),
        "{}",
        stdout(&out)
    );
    assert_eq!(sealed_nhs_number(&conn).await, after, "left as it was");

    // K2 alone opens the patient's details and finds them by NHS number.
    let server = start(dir.path(), &borrow(&k2_only)).await;
    let data = gql(
        &server.base,
        &handler,
        read_patient,
        json!({ "id": incident }),
    )
    .await;
    assert_eq!(
        data["incident"]["patient"],
        json!({ "nhsNumber": NHS, "name": "Mary Example", "dateOfBirth": "1950-06-01" })
    );
    let data = gql(
        &server.base,
        &ig,
        "query($n: String!) { subjectAccessReport(nhsNumber: $n) { incidents { id } } }",
        json!({ "n": NHS }),
    )
    .await;
    assert_eq!(
        data["subjectAccessReport"]["incidents"],
        json!([{ "id": incident }]),
        "found by the look-up hash under the new key"
    );
    drop(server);

    // K1 alone no longer opens them: an INTERNAL error for that field, not a crash.
    let server = start(dir.path(), &borrow(&k1_only)).await;
    let (status, body) = post(
        &server.base,
        &handler,
        read_patient,
        json!({ "id": incident }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "INTERNAL",
        "{body}"
    );
    assert!(body["data"]["incident"]["patient"].is_null(), "{body}");
    assert_eq!(body["data"]["incident"]["id"], incident.as_str(), "{body}");
    let text = body.to_string();
    assert!(!text.contains(NHS) && !text.contains("Mary"), "{text}");
    let ready = reqwest::get(format!("{}/readyz", server.base))
        .await
        .unwrap();
    assert_eq!(ready.status(), 200, "the server is still up");
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

/// The ids of the access events `accessLog` finds by the patient's NHS number.
async fn reads_found_by_nhs_number(base: &str, ig: &str) -> Vec<String> {
    let data = gql(
        base,
        ig,
        "query($n: String) { accessLog(first: 100, filter: { nhsNumber: $n }) {
           edges { node { id } } pageInfo { hasNextPage } } }",
        json!({ "n": NHS }),
    )
    .await;
    assert_eq!(data["accessLog"]["pageInfo"]["hasNextPage"], false);
    let mut ids: Vec<String> = data["accessLog"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

/// The incidents a subject-access report finds for the patient.
async fn subject_access(base: &str, ig: &str) -> Value {
    gql(
        base,
        ig,
        "query($n: String!) { subjectAccessReport(nhsNumber: $n) { incidents { id } } }",
        json!({ "n": NHS }),
    )
    .await["subjectAccessReport"]["incidents"]
        .clone()
}

#[tokio::test]
async fn only_the_new_key_opens_no_patient_until_rotation_then_their_reads_are_found_by_nhs_number()
{
    let dir = tempfile::tempdir().unwrap();
    let db = fresh_database(dir.path()).await;
    let k1 = generate_data_key(dir.path());
    let k2 = generate_data_key(dir.path());
    let (id1, id2) = (key_id(&k1), key_id(&k2));
    let k1_only = keyed(&db, &k1, None);
    let k2_only = keyed(&db, &k2, None);
    let rotating = keyed(&db, &k2, Some(&k1));
    let handler = token(dir.path(), "hana", "handler", &["CARD"]);
    let ig = token(dir.path(), "iris", "ig_officer", &[]);
    let read_patient =
        "query($id: ID!) { incident(id: $id) { id patient { nhsNumber name dateOfBirth } } }";
    let mary = json!({ "nhsNumber": NHS, "name": "Mary Example", "dateOfBirth": "1950-06-01" });

    // Under K1: reported, read by its handler, and a subject-access report made.
    let server = start(dir.path(), &borrow(&k1_only)).await;
    let card = cardiology(dir.path(), &server.base).await;
    let incident = report(dir.path(), &server.base, &card, json!({ "patient": mary })).await;
    let data = gql(
        &server.base,
        &handler,
        read_patient,
        json!({ "id": incident }),
    )
    .await;
    assert_eq!(data["incident"]["patient"], mary);
    assert_eq!(
        subject_access(&server.base, &ig).await,
        json!([{ "id": incident }])
    );
    let reads_under_k1 = reads_found_by_nhs_number(&server.base, &ig).await;
    assert!(
        reads_under_k1.len() >= 2,
        "the handler's read and the subject-access report: {reads_under_k1:?}"
    );
    drop(server);
    let conn = connect(&db).await;
    let sealed_under_k1 = sealed_nhs_number(&conn).await;
    assert!(
        sealed_under_k1.starts_with(&format!("v1.{id1}.")),
        "{sealed_under_k1}"
    );

    // K2 alone, before rotating: the patient cannot be opened. An error for that field, not
    // garbage, and the server stays up.
    let server = start(dir.path(), &borrow(&k2_only)).await;
    let (status, body) = post(
        &server.base,
        &handler,
        read_patient,
        json!({ "id": incident }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "INTERNAL",
        "{body}"
    );
    assert!(body["data"]["incident"]["patient"].is_null(), "{body}");
    assert_eq!(body["data"]["incident"]["id"], incident.as_str(), "{body}");
    let text = body.to_string();
    assert!(
        !text.contains(NHS) && !text.contains("Mary") && !text.contains("1950"),
        "{text}"
    );
    // Nor found by NHS number: look-ups hash under the keys the server has.
    assert_eq!(subject_access(&server.base, &ig).await, json!([]));
    let found = reads_found_by_nhs_number(&server.base, &ig).await;
    assert!(
        reads_under_k1.iter().all(|r| !found.contains(r)),
        "{found:?}"
    );
    let ready = reqwest::get(format!("{}/readyz", server.base))
        .await
        .unwrap();
    assert_eq!(ready.status(), 200, "the server is still up");
    drop(server);
    assert_eq!(
        sealed_nhs_number(&conn).await,
        sealed_under_k1,
        "the server changed nothing it could not open"
    );

    // Rotating needs the key that sealed them: without it, it says so and changes nothing.
    let out = run(dir.path(), &borrow(&k2_only), &["rotate-data-key"]);
    assert!(!out.status.success(), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("data_key_previous"),
        "{}",
        stderr(&out)
    );
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
    assert_eq!(sealed_nhs_number(&conn).await, sealed_under_k1);

    // Rotated, with K1 as the previous key.
    let out = run(dir.path(), &borrow(&rotating), &["rotate-data-key"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.starts_with(&format!("re-sealed 1 incidents under key {id2}; re-keyed ")),
        "{text}"
    );
    let rekeyed: usize = text
        .rsplit_once("re-keyed ")
        .and_then(|(_, n)| n.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count of re-keyed entries: {text}"));
    assert!(rekeyed >= reads_under_k1.len(), "{text}");

    // K2 alone, after: the patient reads in clear, the subject-access report finds them, and
    // every read recorded under K1 is found by their NHS number.
    let server = start(dir.path(), &borrow(&k2_only)).await;
    let data = gql(
        &server.base,
        &handler,
        read_patient,
        json!({ "id": incident }),
    )
    .await;
    assert_eq!(data["incident"]["patient"], mary);
    assert_eq!(
        subject_access(&server.base, &ig).await,
        json!([{ "id": incident }])
    );
    let found = reads_found_by_nhs_number(&server.base, &ig).await;
    for read in &reads_under_k1 {
        assert!(found.contains(read), "{read} not found: {found:?}");
    }
}

#[tokio::test]
async fn dispose_removes_the_content_of_records_past_retention_and_says_how_many() {
    let dir = tempfile::tempdir().unwrap();
    let db = fresh_database(dir.path()).await;
    let key = generate_data_key(dir.path());
    let envs = [
        ("CANDOUR_DATABASE_URL", db.as_str()),
        ("CANDOUR_JWT_SECRET", SECRET),
        ("CANDOUR_DATA_KEY", key.as_str()),
    ];
    let zero_years = [
        ("CANDOUR_DATABASE_URL", db.as_str()),
        ("CANDOUR_JWT_SECRET", SECRET),
        ("CANDOUR_DATA_KEY", key.as_str()),
        ("CANDOUR_RETENTION__INCIDENT_YEARS", "0"),
    ];
    let server = start(dir.path(), &envs).await;
    let card = cardiology(dir.path(), &server.base).await;
    let closing = report(
        dir.path(),
        &server.base,
        &card,
        json!({ "patient": { "nhsNumber": NHS } }),
    )
    .await;
    report(dir.path(), &server.base, &card, json!({})).await; // stays open
    let quinn = token(dir.path(), "quinn", "quality_lead", &[]);
    gql(
        &server.base,
        &quinn,
        "mutation($id: ID!) { triageIncident(input: { incidentId: $id, expectedVersion: 1,
           feedbackToReporter: \"Thank you: rails are checked at handover.\" }) { incident { id } } }",
        json!({ "id": closing }),
    )
    .await;
    let closed = gql(
        &server.base,
        &quinn,
        "mutation($id: ID!) { transitionIncident(input: { incidentId: $id, expectedVersion: 2, to: CLOSED }) { incident { status } } }",
        json!({ "id": closing }),
    )
    .await;
    assert_eq!(closed["transitionIncident"]["incident"]["status"], "CLOSED");
    let conn = connect(&db).await;
    wait_until_sealed(&conn).await;
    drop(server);

    // Under the default schedule (10 years) nothing is due yet.
    let out = run(dir.path(), &envs, &["dispose"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with("disposed of 0 incidents"),
        "{}",
        stdout(&out)
    );

    let out = run(dir.path(), &zero_years, &["dispose"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "disposed of 1 incidents, 0 audits, 0 improvement projects; 0 held by legal hold"
    );
    assert_eq!(
        count(
            &conn,
            "SELECT COUNT(*) AS n FROM incident WHERE disposed_at IS NOT NULL \
             AND title = 'Disposed record' AND patient_nhs_sealed IS NULL AND patient_nhs_hash IS NULL"
        )
        .await,
        1,
        "the closed incident is a tombstone"
    );
    assert_eq!(
        count(
            &conn,
            "SELECT COUNT(*) AS n FROM incident WHERE disposed_at IS NULL"
        )
        .await,
        1,
        "the open incident is kept"
    );
    assert_eq!(
        count(
            &conn,
            "SELECT COUNT(*) AS n FROM trail_event WHERE action = 'incident.disposed' \
             AND actor_label = 'system:dispose'"
        )
        .await,
        1,
        "the disposal is in the trail"
    );

    let out = run(dir.path(), &zero_years, &["dispose"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with("disposed of 0 incidents"),
        "{}",
        stdout(&out)
    );

    // The disposal's event waits for a server to seal it, then the chain holds.
    let out = run(dir.path(), &envs, &["verify-trail"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(
        stdout(&out).ends_with("1 not yet sealed"),
        "{}",
        stdout(&out)
    );
    let server = start(dir.path(), &envs).await;
    wait_until_sealed(&conn).await;
    drop(server);
    let out = run(dir.path(), &envs, &["verify-trail"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let text = stdout(&out);
    assert!(text.starts_with("trail intact: 6 events checked"), "{text}");
    assert!(text.ends_with("0 not yet sealed"), "{text}");
}

/// Triage (with feedback to the reporter) and close an incident as the quality lead;
/// returns its reference.
async fn close_incident(dir: &Path, base: &str, incident: &str) -> String {
    let quinn = token(dir, "quinn", "quality_lead", &[]);
    gql(
        base,
        &quinn,
        "mutation($id: ID!) { triageIncident(input: { incidentId: $id, expectedVersion: 1,
           feedbackToReporter: \"Thank you: rails are checked at handover.\" }) { incident { id } } }",
        json!({ "id": incident }),
    )
    .await;
    let closed = gql(
        base,
        &quinn,
        "mutation($id: ID!) { transitionIncident(input: { incidentId: $id, expectedVersion: 2, to: CLOSED }) {
           incident { status reference } } }",
        json!({ "id": incident }),
    )
    .await;
    let closed = &closed["transitionIncident"]["incident"];
    assert_eq!(closed["status"], "CLOSED");
    closed["reference"].as_str().unwrap().to_string()
}

/// A cardiology audit planned, run with one finding, reported and closed by the quality
/// lead; returns its id.
async fn close_audit(dir: &Path, base: &str, department: &str) -> String {
    let quinn = token(dir, "quinn", "quality_lead", &[]);
    let planned = gql(
        base,
        &quinn,
        "mutation($d: ID!) { planAudit(input: { title: \"Consent audit\", departmentId: $d,
           standard: \"GMC consent guidance\", plannedStart: \"2026-03-02\",
           plannedEnd: \"2026-03-27\" }) { audit { id version } } }",
        json!({ "d": department }),
    )
    .await;
    let mut audit = planned["planAudit"]["audit"].clone();
    let id = audit["id"].as_str().unwrap().to_string();
    let transition = "mutation($id: ID!, $v: Int!, $to: AuditStatus!) {
        transitionAudit(input: { auditId: $id, expectedVersion: $v, to: $to }) { audit { id version status } } }";
    for to in ["IN_PROGRESS", "REPORTED", "CLOSED"] {
        if to == "REPORTED" {
            let recorded = gql(
                base,
                &quinn,
                "mutation($id: ID!) { recordAuditFinding(input: { auditId: $id,
                   criterion: \"Consent form signed\", targetPercent: 90, sampleSize: 40,
                   compliantCount: 38 }) { audit { id version } } }",
                json!({ "id": id }),
            )
            .await;
            audit = recorded["recordAuditFinding"]["audit"].clone();
        }
        let moved = gql(
            base,
            &quinn,
            transition,
            json!({ "id": id, "v": audit["version"], "to": to }),
        )
        .await;
        audit = moved["transitionAudit"]["audit"].clone();
        assert_eq!(audit["status"], to);
    }
    id
}

#[tokio::test]
async fn dispose_spares_a_record_under_legal_hold_until_released_and_says_what_it_did() {
    let dir = tempfile::tempdir().unwrap();
    let db = fresh_database(dir.path()).await;
    let key = generate_data_key(dir.path());
    let envs = keyed(&db, &key, None);
    let mut zero_years = envs.clone();
    zero_years.extend([
        ("CANDOUR_RETENTION__INCIDENT_YEARS".into(), "0".into()),
        ("CANDOUR_RETENTION__AUDIT_YEARS".into(), "0".into()),
    ]);
    let ig = token(dir.path(), "iris", "ig_officer", &[]);
    let disposed = |reference: &str| {
        format!(
            "SELECT COUNT(*) AS n FROM incident WHERE reference = '{reference}' \
             AND disposed_at IS NOT NULL AND title = 'Disposed record' AND description = '' \
             AND patient_nhs_sealed IS NULL"
        )
    };
    let untouched = |reference: &str| {
        format!(
            "SELECT COUNT(*) AS n FROM incident WHERE reference = '{reference}' \
             AND disposed_at IS NULL AND description LIKE '%slid off%' \
             AND patient_nhs_sealed IS NOT NULL"
        )
    };

    // Two closed incidents naming a patient, one of them held, and a closed audit.
    let server = start(dir.path(), &borrow(&envs)).await;
    let card = cardiology(dir.path(), &server.base).await;
    let patient = json!({ "patient": { "nhsNumber": NHS } });
    let going = report(dir.path(), &server.base, &card, patient.clone()).await;
    let going = close_incident(dir.path(), &server.base, &going).await;
    let held = report(dir.path(), &server.base, &card, patient).await;
    let held_id = held.clone();
    let held = close_incident(dir.path(), &server.base, &held).await;
    close_audit(dir.path(), &server.base, &card).await;
    let placed = gql(
        &server.base,
        &ig,
        "mutation($id: ID!) { placeLegalHold(input: { recordId: $id, reason: \"Claim received\" }) {
           legalHold { id } } }",
        json!({ "id": held_id }),
    )
    .await;
    let hold = placed["placeLegalHold"]["legalHold"]["id"].clone();
    drop(server);
    let conn = connect(&db).await;

    let out = run(dir.path(), &borrow(&zero_years), &["dispose"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "disposed of 1 incidents, 1 audits, 0 improvement projects; 1 held by legal hold"
    );
    assert_eq!(count(&conn, &disposed(&going)).await, 1, "a tombstone");
    assert_eq!(
        count(&conn, &untouched(&held)).await,
        1,
        "the held one is kept whole"
    );
    assert_eq!(
        count(
            &conn,
            "SELECT COUNT(*) AS n FROM audit WHERE disposed_at IS NOT NULL AND standard = ''"
        )
        .await,
        1
    );
    assert_eq!(
        count(
            &conn,
            "SELECT COUNT(*) AS n FROM trail_event WHERE actor_label = 'system:dispose' \
             AND action IN ('incident.disposed', 'audit.disposed')"
        )
        .await,
        2,
        "each disposal is in the trail"
    );

    // Run again (cron does, daily): nothing more goes while the hold lasts.
    let out = run(dir.path(), &borrow(&zero_years), &["dispose"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "disposed of 0 incidents, 0 audits, 0 improvement projects; 1 held by legal hold"
    );
    assert_eq!(count(&conn, &untouched(&held)).await, 1);

    // Released, it goes at the next run.
    let server = start(dir.path(), &borrow(&envs)).await;
    gql(
        &server.base,
        &ig,
        "mutation($id: ID!) { releaseLegalHold(input: { legalHoldId: $id, reason: \"Claim withdrawn\" }) {
           legalHold { id } } }",
        json!({ "id": hold }),
    )
    .await;
    drop(server);
    let out = run(dir.path(), &borrow(&zero_years), &["dispose"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "disposed of 1 incidents, 0 audits, 0 improvement projects; 0 held by legal hold"
    );
    assert_eq!(count(&conn, &disposed(&held)).await, 1);
}

// ---------------------------------------------------------------------------------------------
// Email from the command line: `candour dispatch` sends what `candour serve` queued, through a
// real SMTP server (aiosmtpd writing a Maildir), and takes over the emails of a dispatcher
// that died mid-send once their lease has run out.
// ---------------------------------------------------------------------------------------------

use std::io::{BufRead as _, BufReader, Write as _};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

/// Installs aiosmtpd with pip once per run when python3 lacks it, as the black-box suite's
/// harness does, so `cargo test --workspace` passes on a fresh machine with Python and pip.
fn ensure_aiosmtpd() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let has = |args: &[&str]| {
            Command::new("python3")
                .args(args)
                .output()
                .is_ok_and(|o| o.status.success())
        };
        if !has(&["-m", "aiosmtpd", "--version"]) {
            let pip = [
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ];
            assert!(
                has(&[&pip[..], &["aiosmtpd"]].concat()),
                "aiosmtpd is missing and `python3 -m pip install aiosmtpd` failed"
            );
        }
    });
}

/// A real SMTP server, `python3 -m aiosmtpd`, delivering into a Maildir; killed on drop.
struct Smtpd {
    child: Child,
    port: u16,
    maildir: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Smtpd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Smtpd {
    /// Starts aiosmtpd on a free port and waits until it greets (220).
    fn start() -> Self {
        ensure_aiosmtpd();
        let dir = tempfile::tempdir().unwrap();
        // A path that does not exist yet: Python's Maildir makes cur/new/tmp only when it
        // creates the folder itself.
        let maildir = dir.path().join("mail");
        let port = free_port();
        let child = Command::new("python3")
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 -m aiosmtpd starts");
        let mut smtpd = Smtpd {
            child,
            port,
            maildir,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(stream) = std::net::TcpStream::connect(("127.0.0.1", port)) {
                stream
                    .set_read_timeout(Some(Duration::from_secs(5)))
                    .unwrap();
                let mut line = String::new();
                if BufReader::new(&stream).read_line(&mut line).is_ok() && line.starts_with("220") {
                    let _ = (&stream).write_all(b"QUIT\r\n");
                    break;
                }
            }
            if let Some(status) = smtpd.child.try_wait().unwrap() {
                panic!("aiosmtpd exited before it was ready: {status:?}");
            }
            assert!(Instant::now() < deadline, "aiosmtpd did not become ready");
            std::thread::sleep(Duration::from_millis(100));
        }
        smtpd
    }

    fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// The raw messages delivered so far (files in the Maildir's `new`).
    fn received(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(self.maildir.join("new")) else {
            return Vec::new();
        };
        let mut paths: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).collect();
        paths.sort();
        paths
            .iter()
            .map(|p| std::fs::read_to_string(p).unwrap())
            .collect()
    }

    /// Waits until at least `n` messages have been delivered; returns them all.
    async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "{} of {n} emails delivered after {timeout:?}",
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// A header's value from a raw message (unfolded), if present.
fn header(raw: &str, name: &str) -> Option<String> {
    let head = raw
        .split("\r\n\r\n")
        .next()
        .unwrap()
        .split("\n\n")
        .next()
        .unwrap();
    let mut found: Option<String> = None;
    for line in head.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some(v) = found.as_mut() {
                v.push(' ');
                v.push_str(line.trim());
            }
            continue;
        }
        if found.is_some() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.trim().eq_ignore_ascii_case(name) {
                found = Some(v.trim().to_string());
            }
        }
    }
    found
}

/// A TCP server that accepts connections and never says a word (an SMTP server hung before
/// its greeting); counts the connections it accepted.
struct BlackHole {
    port: u16,
    accepted: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl BlackHole {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (accepted, stop) = (accepted.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut held = Vec::new();
                while !stop.load(Ordering::SeqCst) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            held.push(stream);
                            accepted.fetch_add(1, Ordering::SeqCst);
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(20)),
                    }
                }
            })
        };
        BlackHole {
            port,
            accepted,
            stop,
            thread: Some(thread),
        }
    }

    fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for BlackHole {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A `candour dispatch` process; killed on drop.
struct Dispatch {
    child: Child,
}

impl Drop for Dispatch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Dispatch {
    fn start(dir: &Path, envs: &[(&str, &str)]) -> Self {
        let child = command(dir, envs)
            .arg("dispatch")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("candour dispatch starts");
        Dispatch { child }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits up to `timeout` for the process to exit.
    fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Runs the binary to completion, killing it (and failing) if it is still running after
/// `timeout` (a command that should have refused to start but serves instead).
fn run_bounded(dir: &Path, envs: &[(&str, &str)], args: &[&str], timeout: Duration) -> Output {
    let mut child = command(dir, envs)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("candour runs");
    let deadline = Instant::now() + timeout;
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "`candour {}` still running after {timeout:?}; stderr:\n{}",
                args.join(" "),
                stderr(&out)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Settings for `candour serve` that queues emails but neither sends them nor raises
/// reminders, though it knows the SMTP server: sending is left to `candour dispatch`.
fn queueing_only<'a>(db: &'a str, smtp_url: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("CANDOUR_DATABASE_URL", db),
        ("CANDOUR_JWT_SECRET", SECRET),
        ("CANDOUR_SMTP_URL", smtp_url),
        ("CANDOUR_NOTIFY__DISPATCH", "false"),
        ("CANDOUR_NOTIFY__SCHEDULE", "false"),
        ("CANDOUR_NOTIFY__POLL_MS", "100"),
    ]
}

/// Queues one email: creates the cardiology department, lets its handler hana
/// (hana@candour.test) be seen, and has alice report a no-harm incident there, which
/// queues INCIDENT_REPORTED to hana. Returns the outbox as a quality lead sees it.
async fn queue_one_email(dir: &Path, base: &str) -> Value {
    let card = cardiology(dir, base).await;
    let hana = token(dir, "hana", "handler", &["CARD"]);
    let seen = me(base, &hana).await;
    assert_eq!(seen["data"]["me"]["subject"], "hana", "{seen}");
    report(dir, base, &card, json!({})).await;
    let outbox = outbox(dir, base).await;
    assert_eq!(outbox["totalCount"], 1, "one email queued: {outbox}");
    let n = &outbox["edges"][0]["node"];
    assert_eq!(n["kind"], "INCIDENT_REPORTED", "{n}");
    assert_eq!(n["recipient"], "hana@candour.test", "{n}");
    assert_eq!(n["status"], "QUEUED", "{n}");
    assert_eq!(n["attempts"], 0, "{n}");
    assert_eq!(n["deliveries"], json!([]), "{n}");
    outbox
}

/// The outbox through GraphQL, as the quality lead quinn sees it.
async fn outbox(dir: &Path, base: &str) -> Value {
    let quinn = token(dir, "quinn", "quality_lead", &[]);
    gql(
        base,
        &quinn,
        "{ notifications(first: 20) { totalCount edges { node {
             kind recipient status attempts messageId deliveries { worker outcome error } } } } }",
        json!({}),
    )
    .await["notifications"]
        .clone()
}

/// Waits (up to `timeout`) until the only email in the outbox is SENT; returns it.
async fn wait_until_sent(dir: &Path, base: &str, timeout: Duration) -> Value {
    let deadline = Instant::now() + timeout;
    loop {
        let outbox = outbox(dir, base).await;
        let n = outbox["edges"][0]["node"].clone();
        if n["status"] == "SENT" {
            assert_eq!(outbox["totalCount"], 1, "{outbox}");
            return n;
        }
        assert!(
            Instant::now() < deadline,
            "the email is not recorded as sent after {timeout:?}: {outbox}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `lease_until` and `leased_by` of the only email in the outbox.
async fn lease(
    conn: &sea_orm::DatabaseConnection,
) -> (Option<chrono::DateTime<chrono::Utc>>, Option<String>) {
    let row = conn
        .query_one(sea_orm::Statement::from_string(
            conn.get_database_backend(),
            "SELECT lease_until, leased_by FROM notification".to_string(),
        ))
        .await
        .unwrap()
        .expect("the email");
    (
        row.try_get::<Option<chrono::DateTime<chrono::Utc>>>("", "lease_until")
            .unwrap(),
        row.try_get::<Option<String>>("", "leased_by").unwrap(),
    )
}

/// The worker label a dispatcher process writes: `host:pid:instance`.
fn worker_of(pid: u32) -> String {
    format!(":{pid}:")
}

#[tokio::test]
async fn dispatch_sends_what_serve_queued_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let db = fresh_database(dir.path()).await;
    let smtpd = Smtpd::start();
    let smtp_url = smtpd.url();
    let server = start(dir.path(), &queueing_only(&db, &smtp_url)).await;
    let outbox = queue_one_email(dir.path(), &server.base).await;
    let message_id = outbox["edges"][0]["node"]["messageId"]
        .as_str()
        .unwrap()
        .to_string();

    // The server knows the SMTP server but does not dispatch: the email waits.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(smtpd.received().is_empty(), "serve sent an email");
    assert_eq!(
        outbox_status(dir.path(), &server.base).await,
        "QUEUED",
        "still queued"
    );

    let started = Instant::now();
    let mut dispatch = Dispatch::start(
        dir.path(),
        &[
            ("CANDOUR_DATABASE_URL", &db),
            ("CANDOUR_JWT_SECRET", SECRET),
            ("CANDOUR_SMTP_URL", &smtp_url),
            ("CANDOUR_NOTIFY__POLL_MS", "100"),
        ],
    );
    let received = smtpd.wait_for(1, Duration::from_secs(30)).await;
    eprintln!(
        "dispatch delivered the email {:?} after it started",
        started.elapsed()
    );
    let raw = &received[0];
    assert_eq!(
        header(raw, "Message-ID").as_deref(),
        Some(format!("<{message_id}>").as_str()),
        "{raw}"
    );
    assert!(
        header(raw, "To")
            .unwrap_or_default()
            .contains("hana@candour.test"),
        "{raw}"
    );
    assert_eq!(
        header(raw, "Auto-Submitted").as_deref(),
        Some("auto-generated"),
        "{raw}"
    );

    let sent = wait_until_sent(dir.path(), &server.base, Duration::from_secs(10)).await;
    assert_eq!(sent["attempts"], 1, "{sent}");
    let deliveries = sent["deliveries"].as_array().unwrap();
    assert_eq!(deliveries.len(), 1, "{sent}");
    assert_eq!(deliveries[0]["outcome"], "SENT", "{sent}");
    assert!(
        deliveries[0]["worker"]
            .as_str()
            .unwrap()
            .contains(&worker_of(dispatch.pid())),
        "sent by the dispatch process: {sent}"
    );

    // SIGTERM: a prompt, clean exit.
    let pid = dispatch.pid().to_string();
    let signalled = Instant::now();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let status = dispatch
        .wait_exit(Duration::from_secs(10))
        .expect("dispatch did not exit within 10 s of SIGTERM");
    assert!(status.success(), "clean exit after SIGTERM: {status:?}");
    assert!(
        signalled.elapsed() < Duration::from_secs(5),
        "dispatch took {:?} to stop",
        signalled.elapsed()
    );
    assert_eq!(smtpd.received().len(), 1, "sent exactly once");
}

/// The status of the only email in the outbox.
async fn outbox_status(dir: &Path, base: &str) -> String {
    outbox(dir, base).await["edges"][0]["node"]["status"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn dispatch_without_an_smtp_server_refuses_to_start_naming_smtp_url() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/candour.db?mode=rwc", dir.path().display());
    let out = run_bounded(
        dir.path(),
        &[
            ("CANDOUR_DATABASE_URL", &db),
            ("CANDOUR_JWT_SECRET", SECRET),
        ],
        &["dispatch"],
        Duration::from_secs(30),
    );
    assert!(!out.status.success(), "{:?}", out.status);
    let err = stderr(&out);
    assert!(err.contains("smtp_url"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn dispatch_refuses_a_lease_no_longer_than_the_smtp_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/candour.db?mode=rwc", dir.path().display());
    let out = run_bounded(
        dir.path(),
        &[
            ("CANDOUR_DATABASE_URL", &db),
            ("CANDOUR_JWT_SECRET", SECRET),
            ("CANDOUR_SMTP_URL", "smtp://127.0.0.1:1"),
            ("CANDOUR_NOTIFY__SMTP_TIMEOUT_SECS", "10"),
            ("CANDOUR_NOTIFY__LEASE_SECS", "10"),
        ],
        &["dispatch"],
        Duration::from_secs(30),
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("notify.lease_secs"), "{err}");
}

#[tokio::test]
async fn an_email_taken_by_a_killed_dispatcher_is_sent_once_by_another_after_the_lease() {
    const TIMEOUT_SECS: &str = "5";
    const LEASE_SECS: &str = "10";
    let dir = tempfile::tempdir().unwrap();
    let db = fresh_database(dir.path()).await;
    let smtpd = Smtpd::start();
    let smtp_url = smtpd.url();
    let hole = BlackHole::start();
    let hole_url = hole.url();
    let server = start(dir.path(), &queueing_only(&db, &smtp_url)).await;
    let outbox = queue_one_email(dir.path(), &server.base).await;
    let message_id = outbox["edges"][0]["node"]["messageId"]
        .as_str()
        .unwrap()
        .to_string();
    let conn = connect(&db).await;

    // A takes the email and hangs on the black hole's silence; then it is killed.
    let mut a = Dispatch::start(
        dir.path(),
        &[
            ("CANDOUR_DATABASE_URL", &db),
            ("CANDOUR_JWT_SECRET", SECRET),
            ("CANDOUR_SMTP_URL", &hole_url),
            ("CANDOUR_NOTIFY__POLL_MS", "100"),
            ("CANDOUR_NOTIFY__SCHEDULE", "false"),
            ("CANDOUR_NOTIFY__SMTP_TIMEOUT_SECS", TIMEOUT_SECS),
            ("CANDOUR_NOTIFY__LEASE_SECS", LEASE_SECS),
        ],
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while hole.accepted() == 0 {
        assert!(
            Instant::now() < deadline,
            "dispatcher A never connected to the mail server"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (lease_until, leased_by) = lease(&conn).await;
    let lease_until = lease_until.expect("A holds a lease on the email");
    let leased_by = leased_by.expect("A holds a lease on the email");
    assert!(
        leased_by.contains(&worker_of(a.pid())),
        "leased by A (pid {}): {leased_by}",
        a.pid()
    );
    assert!(
        lease_until > chrono::Utc::now(),
        "the lease is still running: {lease_until}"
    );
    a.child.kill().unwrap();
    a.child.wait().unwrap();

    // B is up while A's lease runs: the email waits for it to expire.
    let b = Dispatch::start(
        dir.path(),
        &[
            ("CANDOUR_DATABASE_URL", &db),
            ("CANDOUR_JWT_SECRET", SECRET),
            ("CANDOUR_SMTP_URL", &smtp_url),
            ("CANDOUR_NOTIFY__POLL_MS", "100"),
            ("CANDOUR_NOTIFY__SCHEDULE", "false"),
        ],
    );
    let margin = chrono::Duration::milliseconds(50);
    let mut watched = 0;
    while chrono::Utc::now() < lease_until - margin {
        assert!(
            smtpd.received().is_empty(),
            "B sent the email at {} although A's lease runs until {lease_until}",
            chrono::Utc::now()
        );
        watched += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        watched > 10,
        "B was watched while the lease ran ({watched} looks)"
    );

    // After it, B sends it, once.
    let received = smtpd.wait_for(1, Duration::from_secs(20)).await;
    let late = (chrono::Utc::now() - lease_until)
        .to_std()
        .unwrap_or_default();
    eprintln!("B delivered the email {late:?} after A's lease ran out");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let received_later = smtpd.received();
    assert_eq!(received_later.len(), 1, "sent exactly once");
    assert_eq!(
        header(&received[0], "Message-ID").as_deref(),
        Some(format!("<{message_id}>").as_str()),
        "{}",
        received[0]
    );

    let sent = wait_until_sent(dir.path(), &server.base, Duration::from_secs(10)).await;
    assert_eq!(sent["attempts"], 1, "A never recorded an attempt: {sent}");
    let deliveries = sent["deliveries"].as_array().unwrap();
    assert_eq!(deliveries.len(), 1, "one attempt, B's: {sent}");
    assert_eq!(deliveries[0]["outcome"], "SENT", "{sent}");
    let worker = deliveries[0]["worker"].as_str().unwrap();
    assert!(
        worker.contains(&worker_of(b.pid())),
        "sent by B (pid {}): {worker}",
        b.pid()
    );
    assert_eq!(
        lease(&conn).await,
        (None, None),
        "the lease is released once sent"
    );
}

#[tokio::test]
async fn a_broken_template_override_stops_the_server_at_start_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let templates = dir.path().join("templates");
    std::fs::create_dir(&templates).unwrap();
    std::fs::write(templates.join("audit_due.txt"), "{% if %}").unwrap();
    let db = fresh_database(dir.path()).await;
    let bind = format!("127.0.0.1:{}", free_port());
    let envs = [
        ("CANDOUR_DATABASE_URL", db.as_str()),
        ("CANDOUR_JWT_SECRET", SECRET),
        ("CANDOUR_BIND", bind.as_str()),
        ("CANDOUR_NOTIFY__TEMPLATES_DIR", templates.to_str().unwrap()),
    ];
    let out = run_bounded(dir.path(), &envs, &["serve"], Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("audit_due.txt"), "{err}");
    assert!(!err.contains("panicked"), "{err}");

    // The dispatcher loads the same templates and stops the same way.
    let mut with_smtp = envs.to_vec();
    with_smtp.push(("CANDOUR_SMTP_URL", "smtp://127.0.0.1:1"));
    let out = run_bounded(
        dir.path(),
        &with_smtp,
        &["dispatch"],
        Duration::from_secs(30),
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("audit_due.txt"), "{err}");
}

#[tokio::test]
async fn sigterm_stops_a_dispatcher_hung_mid_send_promptly_and_leaves_the_email_to_its_lease() {
    let dir = tempfile::tempdir().unwrap();
    let db = fresh_database(dir.path()).await;
    let hole = BlackHole::start();
    let hole_url = hole.url();
    let server = start(dir.path(), &queueing_only(&db, &hole_url)).await;
    queue_one_email(dir.path(), &server.base).await;
    let conn = connect(&db).await;
    let mut a = Dispatch::start(
        dir.path(),
        &[
            ("CANDOUR_DATABASE_URL", &db),
            ("CANDOUR_JWT_SECRET", SECRET),
            ("CANDOUR_SMTP_URL", &hole_url),
            ("CANDOUR_NOTIFY__POLL_MS", "100"),
            ("CANDOUR_NOTIFY__SMTP_TIMEOUT_SECS", "20"),
            ("CANDOUR_NOTIFY__LEASE_SECS", "25"),
        ],
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while hole.accepted() == 0 {
        assert!(
            Instant::now() < deadline,
            "the dispatcher never connected to the mail server"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (lease_until, leased_by) = lease(&conn).await;
    assert!(lease_until.is_some(), "taken under a lease");
    assert!(
        leased_by.unwrap_or_default().contains(&worker_of(a.pid())),
        "taken by the dispatcher"
    );

    // The send would hang for 20 s; SIGTERM does not wait for it.
    let pid = a.pid().to_string();
    let signalled = Instant::now();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let status = a
        .wait_exit(Duration::from_secs(15))
        .expect("a dispatcher hung mid-send did not exit within 15 s of SIGTERM");
    assert!(status.success(), "clean exit after SIGTERM: {status:?}");
    assert!(
        signalled.elapsed() < Duration::from_secs(5),
        "the dispatcher took {:?} to stop",
        signalled.elapsed()
    );

    // Nothing recorded: the email is still queued and still leased, for another dispatcher
    // to take once the lease runs out.
    let n = outbox(dir.path(), &server.base).await["edges"][0]["node"].clone();
    assert_eq!(n["status"], "QUEUED", "{n}");
    assert_eq!(n["attempts"], 0, "{n}");
    assert_eq!(n["deliveries"], json!([]), "{n}");
    assert_eq!(
        lease(&conn).await.0,
        lease_until,
        "the lease is left to run out"
    );
}

#[tokio::test]
async fn seed_fills_a_database_with_years_of_incidents_a_sealed_trail_and_a_programme_of_work() {
    let dir = tempfile::tempdir().unwrap();
    let db = fresh_database(dir.path()).await;
    let key = generate_data_key(dir.path());
    let envs = [
        ("CANDOUR_DATABASE_URL", db.as_str()),
        ("CANDOUR_JWT_SECRET", SECRET),
        ("CANDOUR_DATA_KEY", key.as_str()),
    ];
    let out = run(dir.path(), &envs, &["migrate"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run(dir.path(), &envs, &["seed", "--incidents", "3000"]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}\n{}", stderr(&out));
    assert!(text.starts_with("seeded 3000 incidents"), "{text}");

    // A second run adds to the first: references and the chain continue.
    let out = run(
        dir.path(),
        &envs,
        &["seed", "--incidents", "500", "--seed", "7"],
    );
    assert!(out.status.success(), "{}", stderr(&out));

    let conn = connect(&db).await;
    assert_eq!(
        count(&conn, "SELECT COUNT(*) AS n FROM incident").await,
        3500
    );
    assert_eq!(
        count(&conn, "SELECT COUNT(DISTINCT reference) AS n FROM incident").await,
        3500
    );
    assert_eq!(
        count(&conn, "SELECT COUNT(*) AS n FROM department").await,
        8
    );
    assert!(count(&conn, "SELECT COUNT(*) AS n FROM corrective_action").await > 0);
    assert!(count(&conn, "SELECT COUNT(*) AS n FROM audit_finding").await > 0);
    assert!(count(&conn, "SELECT COUNT(*) AS n FROM measurement").await > 0);
    // Five years of reports, more in winter than in summer.
    let month = match conn.get_database_backend() {
        sea_orm::DbBackend::Postgres => "EXTRACT(MONTH FROM reported_at)",
        _ => "CAST(substr(reported_at, 6, 2) AS INTEGER)",
    };
    let winter = count(
        &conn,
        &format!("SELECT COUNT(*) AS n FROM incident WHERE {month} IN (12, 1, 2)"),
    )
    .await;
    let summer = count(
        &conn,
        &format!("SELECT COUNT(*) AS n FROM incident WHERE {month} IN (6, 7, 8)"),
    )
    .await;
    let years = count(
        &conn,
        "SELECT COUNT(DISTINCT year) AS n FROM reference_counter WHERE prefix = 'INC'",
    )
    .await;
    assert!(years >= 5, "{years} years of references");
    assert!(winter > summer, "winter {winter}, summer {summer}");

    let out = run(dir.path(), &envs, &["verify-trail"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}\n{}", stderr(&out));
    assert!(text.contains("3500 events checked"), "{text}");
    assert!(text.contains("0 not yet sealed"), "{text}");

    // The server reads it: a quality lead lists them all, and a new report takes the next
    // reference of its year.
    let server = start(dir.path(), &envs).await;
    let ql = token(dir.path(), "quinn", "quality_lead", &[]);
    let listed = gql(
        &server.base,
        &ql,
        "{ incidents(first: 5) { totalCount edges { node { reference status department { code } } } } }",
        json!({}),
    )
    .await;
    assert_eq!(listed["incidents"]["totalCount"], json!(3500), "{listed}");
    let card = gql(&server.base, &ql, "{ departments { id code } }", json!({})).await;
    let card_id = card["departments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["code"] == "CARD")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    report(dir.path(), &server.base, &card_id, json!({})).await;
    assert_eq!(
        count(&conn, "SELECT COUNT(DISTINCT reference) AS n FROM incident").await,
        3501
    );
}
