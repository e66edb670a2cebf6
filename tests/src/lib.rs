//! Black-box harness for the Candour API.
//!
//! `spawn_app()` starts the very server `candour serve` runs, in-process, on a random port and
//! against a database nobody else uses: a fresh SQLite file by default, or a fresh PostgreSQL
//! database when `TEST_DATABASE_URL` is set. Tests then speak only HTTP and GraphQL to it,
//! through the typed helpers below, so each test reads as one user's story.

use std::path::PathBuf;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{SecondsFormat, Utc};
use jsonwebtoken::{encode, EncodingKey, Header};
use reqwest::header::HeaderMap;
use serde_json::{json, Map, Value};

pub use candour::config::Settings;

pub mod attachments;
pub mod clamd;
pub mod export;
pub mod fhir;
pub mod idp;
pub mod lfpse;
pub mod logs;
pub mod mail;
pub mod python;
pub mod steps;
pub mod webhooks;
pub mod ws;

pub use steps::*;

/// The HS256 secret every test server is configured with (at least 32 characters).
pub const JWT_SECRET: &str = "candour-test-suite-hs256-secret-0123456789abcdef";

/// The GraphQL-over-HTTP media type: parse and validation failures answer 400 under it.
pub const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";

// ---------------------------------------------------------------------------------------------
// Spawning
// ---------------------------------------------------------------------------------------------

/// A running Candour server and everything a test needs to talk to it.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`
    pub address: String,
    pub port: u16,
    pub client: reqwest::Client,
    /// The HS256 secret the server verifies tokens with.
    pub jwt_secret: String,
    /// The database this server uses (shared only with instances made by
    /// `another_instance`).
    pub database_url: String,
    /// The settings this server was built with.
    pub settings: Settings,
    stopper: candour::startup::Stopper,
    _db: std::sync::Arc<DatabaseGuard>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        logs::assert_no_leaks();
    }
}

/// Start the real server with default settings against a fresh database.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Start the real server against a fresh database, after letting the test adjust the settings
/// (limits, issuer/audience, diagnostics...). Database, bind address and secret are set first,
/// so the closure may override them too.
pub async fn spawn_app_with(configure: impl FnOnce(&mut Settings)) -> TestApp {
    let (database_url, guard) = fresh_database().await;
    let mut settings = base_settings(database_url);
    configure(&mut settings);
    start(settings, std::sync::Arc::new(guard)).await
}

/// Start the real server against a fresh database that `prepare` has made first, given
/// the settings the server will have (an older schema with records in it, to upgrade).
pub async fn spawn_app_on_prepared<F, Fut>(prepare: F) -> TestApp
where
    F: FnOnce(Settings) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let (database_url, guard) = fresh_database_of(true).await;
    let settings = base_settings(database_url);
    prepare(settings.clone()).await;
    start(settings, std::sync::Arc::new(guard)).await
}

fn base_settings(database_url: String) -> Settings {
    Settings {
        database_url,
        bind: "127.0.0.1:0".into(),
        jwt_secret: Some(candour::config::Secret::from(JWT_SECRET.to_string())),
        data_key: Some(candour::config::Secret::from(
            candour::protect::generate_key(),
        )),
        ..Settings::default()
    }
}

async fn start(settings: Settings, guard: std::sync::Arc<DatabaseGuard>) -> TestApp {
    logs::install();
    let jwt_secret = settings
        .jwt_secret
        .as_ref()
        .map(|s| secrecy::ExposeSecret::expose_secret(s).to_string())
        .unwrap_or_default();
    let database_url = settings.database_url.clone();

    let app = candour::startup::Application::build(settings.clone())
        .await
        .expect("the Candour server builds (migrations run) against a fresh database");
    let port = app.port();
    let stopper = app.stopper();
    tokio::spawn(app.run_until_stopped());

    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        // Below the server's keep-alive (5 s): a connection left idle while a test blocked
        // its runtime (the FHIR validator runs synchronously) is not reused just as the
        // server, woken at the same moment, closes it.
        .pool_idle_timeout(Duration::from_secs(3))
        .build()
        .expect("reqwest client");

    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        port,
        client,
        jwt_secret,
        database_url,
        settings,
        stopper,
        _db: guard,
    }
}

impl TestApp {
    /// Another instance of the server on the same database (as when several `candour
    /// serve` processes share one PostgreSQL, or one restarts), with this one's settings
    /// changed by `configure`. The database lives until every instance is dropped.
    pub async fn another_instance(&self, configure: impl FnOnce(&mut Settings)) -> TestApp {
        let mut settings = self.settings.clone();
        settings.bind = "127.0.0.1:0".into();
        configure(&mut settings);
        start(settings, self._db.clone()).await
    }

    /// Stops this instance: it answers no more requests, and its email dispatcher and
    /// deadline scheduler end. `graceful: false` drops in-flight work as a crash would
    /// (emails it had taken stay leased until the lease runs out).
    pub async fn stop(&self, graceful: bool) {
        self.stopper.stop(graceful).await;
    }
}

/// Removes what a test created once the test is over.
enum DatabaseGuard {
    Sqlite(PathBuf),
    Postgres { admin_url: String, name: String },
}

impl Drop for DatabaseGuard {
    fn drop(&mut self) {
        match self {
            DatabaseGuard::Sqlite(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            DatabaseGuard::Postgres { admin_url, name } => {
                drop_later(admin_url.clone(), name.clone());
            }
        }
    }
}

/// Drops a test's PostgreSQL database on a thread of its own, so the test does not wait:
/// each DROP DATABASE makes PostgreSQL checkpoint, syncing every file any other test has
/// written meanwhile. What is still queued when the process exits is dropped by the next
/// run (`drop_databases_of_ended_runs`) or by `.ci/run`.
fn drop_later(admin_url: String, name: String) {
    static QUEUE: std::sync::OnceLock<std::sync::Mutex<std::sync::mpsc::Sender<(String, String)>>> =
        std::sync::OnceLock::new();
    let queue = QUEUE.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel::<(String, String)>();
        std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            while let Ok((admin_url, name)) = rx.recv() {
                rt.block_on(async {
                    let drop_it = async {
                        if let Ok(db) = sea_orm::Database::connect(&admin_url).await {
                            // FORCE ends the server's pooled connections (PostgreSQL 13+).
                            let _ = sea_orm::ConnectionTrait::execute_unprepared(
                                &db,
                                &format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
                            )
                            .await;
                            let _ = db.close().await;
                        }
                    };
                    let _ = tokio::time::timeout(Duration::from_secs(30), drop_it).await;
                });
            }
        });
        std::sync::Mutex::new(tx)
    });
    if let Ok(tx) = queue.lock() {
        let _ = tx.send((admin_url, name));
    }
}

/// A database for one test: already migrated (a copy of one this process migrated once, as
/// the server would have), or `empty` for a test that migrates it itself.
async fn fresh_database_of(empty: bool) -> (String, DatabaseGuard) {
    match std::env::var("TEST_DATABASE_URL") {
        Ok(url) if !url.trim().is_empty() => fresh_postgres_database(url.trim(), empty).await,
        _ => fresh_sqlite_database(empty).await,
    }
}

async fn fresh_database() -> (String, DatabaseGuard) {
    fresh_database_of(false).await
}

/// Runs every migration on `url`, then closes the connection (a template must have none).
async fn migrate(url: &str) {
    use migration::MigratorTrait;
    let db = sea_orm::Database::connect(url)
        .await
        .unwrap_or_else(|e| panic!("connect to {url} to migrate it: {e}"));
    migration::Migrator::up(&db, None)
        .await
        .unwrap_or_else(|e| panic!("migrations on a fresh database: {e}"));
    db.close().await.ok();
}

/// The migrated SQLite file this process copies for each test.
static SQLITE_TEMPLATE: tokio::sync::OnceCell<PathBuf> = tokio::sync::OnceCell::const_new();

async fn fresh_sqlite_database(empty: bool) -> (String, DatabaseGuard) {
    let dir = std::env::temp_dir().join(format!("candour-test-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("create a temp dir for the test database");
    let file = dir.join("candour.db");
    if !empty {
        let template = SQLITE_TEMPLATE
            .get_or_init(|| async {
                let dir = std::env::temp_dir().join(format!(
                    "candour-test-template-{}",
                    uuid::Uuid::new_v4().simple()
                ));
                std::fs::create_dir_all(&dir).expect("create a temp dir for the template");
                let file = dir.join("candour.db");
                let url = format!("sqlite://{}?mode=rwc", file.display());
                migrate(&url).await;
                // Everything in the main file, nothing left in a WAL beside it.
                let db = sea_orm::Database::connect(&url).await.expect("reopen");
                sea_orm::ConnectionTrait::execute_unprepared(
                    &db,
                    "PRAGMA wal_checkpoint(TRUNCATE)",
                )
                .await
                .expect("checkpoint the template");
                db.close().await.ok();
                file
            })
            .await;
        std::fs::copy(template, &file).expect("copy the migrated template");
    }
    let url = format!("sqlite://{}?mode=rwc", file.display());
    (url, DatabaseGuard::Sqlite(dir))
}

/// The migrated PostgreSQL database this process clones for each test.
static PG_TEMPLATE: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();

async fn fresh_postgres_database(admin_url: &str, empty: bool) -> (String, DatabaseGuard) {
    let with_path = |name: &str| {
        let mut url = reqwest::Url::parse(admin_url).expect("TEST_DATABASE_URL is a URL");
        url.set_path(&format!("/{name}"));
        url.to_string()
    };
    let template = if empty {
        None
    } else {
        Some(
            PG_TEMPLATE
                .get_or_init(|| async {
                    drop_databases_of_ended_runs(admin_url).await;
                    let name = format!(
                        "candour_t_template_{}_{}",
                        std::process::id(),
                        uuid::Uuid::new_v4().simple()
                    );
                    create_postgres_database(admin_url, &name, None).await;
                    migrate(&with_path(&name)).await;
                    name
                })
                .await
                .clone(),
        )
    };
    let name = format!(
        "candour_t_{}_{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    );
    create_postgres_database(admin_url, &name, template.as_deref()).await;
    (
        with_path(&name),
        DatabaseGuard::Postgres {
            admin_url: admin_url.to_string(),
            name,
        },
    )
}

async fn create_postgres_database(admin_url: &str, name: &str, template: Option<&str>) {
    let db = sea_orm::Database::connect(admin_url)
        .await
        .unwrap_or_else(|e| panic!("connect to TEST_DATABASE_URL={admin_url}: {e}"));
    let sql = match template {
        Some(t) => format!("CREATE DATABASE \"{name}\" TEMPLATE \"{t}\""),
        None => format!("CREATE DATABASE \"{name}\""),
    };
    sea_orm::ConnectionTrait::execute_unprepared(&db, &sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    let _ = db.close().await;
}

/// Each test process leaves its template (and the databases still queued to be dropped)
/// behind when it exits: the next run drops those whose process has ended, named by its
/// process id (on Linux, where that can be told; `.ci/run` drops them all).
async fn drop_databases_of_ended_runs(admin_url: &str) {
    if !std::path::Path::new("/proc/self").exists() {
        return;
    }
    let Ok(db) = sea_orm::Database::connect(admin_url).await else {
        return;
    };
    let rows = sea_orm::ConnectionTrait::query_all(
        &db,
        sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT datname FROM pg_database WHERE datname LIKE 'candour\\_t\\_%'",
        ),
    )
    .await
    .unwrap_or_default();
    for row in rows {
        let Ok(name) = row.try_get::<String>("", "datname") else {
            continue;
        };
        let pid = name
            .trim_start_matches("candour_t_")
            .trim_start_matches("template_")
            .split('_')
            .next()
            .unwrap_or_default();
        if !pid.is_empty() && !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            let _ = sea_orm::ConnectionTrait::execute_unprepared(
                &db,
                &format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
            )
            .await;
        }
    }
    db.close().await.ok();
}

// ---------------------------------------------------------------------------------------------
// Tokens
// ---------------------------------------------------------------------------------------------

/// What goes into a test JWT. Build one with a role constructor and adjust it with the
/// builder methods: `TokenSpec::handler("hana", &["CARD"]).expired()`.
#[derive(Clone, Debug)]
pub struct TokenSpec {
    pub sub: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub roles: Vec<String>,
    pub departments: Vec<String>,
    /// Absolute expiry (unix seconds); `None` leaves the claim out.
    pub exp: Option<i64>,
    pub scope: Option<String>,
    pub iss: Option<String>,
    pub aud: Option<String>,
}

impl TokenSpec {
    /// A signed-in person with the given roles (claim values: "staff", "handler", ...).
    pub fn person(sub: &str, roles: &[&str], departments: &[&str]) -> Self {
        TokenSpec {
            sub: sub.to_string(),
            name: Some(display_name(sub)),
            email: Some(format!("{sub}@candour.test")),
            roles: roles.iter().map(|r| r.to_string()).collect(),
            departments: departments.iter().map(|d| d.to_string()).collect(),
            exp: Some(Utc::now().timestamp() + 3600),
            scope: None,
            iss: None,
            aud: None,
        }
    }
    pub fn staff(sub: &str) -> Self {
        Self::person(sub, &["staff"], &[])
    }
    pub fn handler(sub: &str, departments: &[&str]) -> Self {
        Self::person(sub, &["handler"], departments)
    }
    pub fn quality_lead(sub: &str) -> Self {
        Self::person(sub, &["quality_lead"], &[])
    }
    pub fn admin(sub: &str) -> Self {
        Self::person(sub, &["admin"], &[])
    }
    pub fn ig_officer(sub: &str) -> Self {
        Self::person(sub, &["ig_officer"], &[])
    }
    /// A service account: no person behind it, only the scopes it lists.
    pub fn service(scopes: &[&str]) -> Self {
        TokenSpec {
            sub: "svc-integration".to_string(),
            name: Some("Integration service".to_string()),
            email: None,
            roles: vec![],
            departments: vec![],
            exp: Some(Utc::now().timestamp() + 3600),
            scope: Some(scopes.join(" ")),
            iss: None,
            aud: None,
        }
    }

    pub fn roles(mut self, roles: &[&str]) -> Self {
        self.roles = roles.iter().map(|r| r.to_string()).collect();
        self
    }
    pub fn departments(mut self, departments: &[&str]) -> Self {
        self.departments = departments.iter().map(|d| d.to_string()).collect();
        self
    }
    pub fn scope(mut self, scope: &str) -> Self {
        self.scope = Some(scope.to_string());
        self
    }
    pub fn expires_in(mut self, seconds: i64) -> Self {
        self.exp = Some(Utc::now().timestamp() + seconds);
        self
    }
    /// Expired an hour ago: well outside any clock-skew leeway.
    pub fn expired(self) -> Self {
        self.expires_in(-3600)
    }
    pub fn without_exp(mut self) -> Self {
        self.exp = None;
        self
    }
    pub fn issuer(mut self, iss: &str) -> Self {
        self.iss = Some(iss.to_string());
        self
    }
    pub fn audience(mut self, aud: &str) -> Self {
        self.aud = Some(aud.to_string());
        self
    }

    pub fn claims(&self) -> Value {
        let mut c = Map::new();
        c.insert("sub".into(), json!(self.sub));
        if let Some(n) = &self.name {
            c.insert("name".into(), json!(n));
        }
        if let Some(e) = &self.email {
            c.insert("email".into(), json!(e));
        }
        c.insert("roles".into(), json!(self.roles));
        c.insert("departments".into(), json!(self.departments));
        c.insert("iat".into(), json!(Utc::now().timestamp()));
        if let Some(exp) = self.exp {
            c.insert("exp".into(), json!(exp));
        }
        if let Some(s) = &self.scope {
            c.insert("scope".into(), json!(s));
        }
        if let Some(i) = &self.iss {
            c.insert("iss".into(), json!(i));
        }
        if let Some(a) = &self.aud {
            c.insert("aud".into(), json!(a));
        }
        Value::Object(c)
    }
}

/// "alice" -> "Alice Test"
pub fn display_name(sub: &str) -> String {
    let mut chars = sub.chars();
    match chars.next() {
        Some(first) => format!("{}{} Test", first.to_uppercase(), chars.as_str()),
        None => "Test".into(),
    }
}

/// Sign arbitrary claims with HS256 and the given secret.
pub fn sign_hs256(claims: &Value, secret: &str) -> String {
    encode(
        &Header::default(),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("sign a test token")
}

/// An unsigned token (`alg: none`) carrying the given claims.
pub fn unsigned_token(claims: &Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap());
    format!("{header}.{payload}.")
}

impl TestApp {
    /// Mint an HS256 token the server will accept (unless the spec says otherwise).
    pub fn token(&self, spec: TokenSpec) -> String {
        sign_hs256(&spec.claims(), &self.jwt_secret)
    }
    pub fn staff(&self, sub: &str) -> String {
        self.token(TokenSpec::staff(sub))
    }
    pub fn handler(&self, sub: &str, departments: &[&str]) -> String {
        self.token(TokenSpec::handler(sub, departments))
    }
    pub fn quality_lead(&self, sub: &str) -> String {
        self.token(TokenSpec::quality_lead(sub))
    }
    pub fn admin(&self, sub: &str) -> String {
        self.token(TokenSpec::admin(sub))
    }
    pub fn ig_officer(&self, sub: &str) -> String {
        self.token(TokenSpec::ig_officer(sub))
    }
    pub fn service(&self, scopes: &[&str]) -> String {
        self.token(TokenSpec::service(scopes))
    }
}

// ---------------------------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------------------------

/// One HTTP response from the server, body parsed as JSON when it is JSON (else a string).
#[derive(Debug, Clone)]
pub struct GqlResponse {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

impl GqlResponse {
    async fn from_reqwest(resp: reqwest::Response) -> Self {
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("read response body");
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        GqlResponse {
            status,
            headers,
            body,
        }
    }

    /// `body.data` (Null when absent).
    pub fn data(&self) -> &Value {
        self.body.get("data").unwrap_or(&Value::Null)
    }
    /// `body.errors` (empty when absent).
    pub fn errors(&self) -> Vec<Value> {
        self.body
            .get("errors")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    }
    /// The first error's `extensions.code`.
    pub fn error_code(&self) -> Option<String> {
        self.errors()
            .first()
            .and_then(|e| e.pointer("/extensions/code"))
            .and_then(Value::as_str)
            .map(str::to_string)
    }
    /// The first error's `extensions.field`.
    pub fn error_field(&self) -> Option<String> {
        self.errors()
            .first()
            .and_then(|e| e.pointer("/extensions/field"))
            .and_then(Value::as_str)
            .map(str::to_string)
    }
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }
    /// The `x-request-id` the server answered with.
    pub fn request_id(&self) -> String {
        self.header("x-request-id")
            .unwrap_or_else(|| panic!("response has no x-request-id header: {self}"))
    }
    pub fn content_type(&self) -> String {
        self.header("content-type").unwrap_or_default()
    }

    /// Panics (showing the whole response) unless the request executed without errors;
    /// returns `data`.
    #[track_caller]
    pub fn assert_ok(&self) -> &Value {
        assert!(
            self.status == 200 && self.errors().is_empty() && !self.data().is_null(),
            "expected a successful GraphQL response, got {self}"
        );
        self.data()
    }

    /// Panics (showing the whole response) unless the first error has this code and, when
    /// given, this `extensions.field`.
    #[track_caller]
    pub fn assert_error(&self, code: &str, field: Option<&str>) {
        assert_eq!(
            self.error_code().as_deref(),
            Some(code),
            "expected error code {code}, got {self}"
        );
        if let Some(field) = field {
            assert_eq!(
                self.error_field().as_deref(),
                Some(field),
                "expected error on field {field:?}, got {self}"
            );
        }
    }
}

impl std::fmt::Display for GqlResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let body = serde_json::to_string_pretty(&self.body).unwrap_or_default();
        let body = if body.len() > 4000 {
            let cut = (0..=4000)
                .rev()
                .find(|i| body.is_char_boundary(*i))
                .unwrap_or(0);
            format!("{}… ({} bytes)", &body[..cut], body.len())
        } else {
            body
        };
        write!(f, "HTTP {} {}", self.status, body)
    }
}

// ---------------------------------------------------------------------------------------------
// Transport
// ---------------------------------------------------------------------------------------------

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// POST /graphql as a GraphQL-over-HTTP client would.
    pub async fn gql(&self, token: Option<&str>, query: &str, variables: Value) -> GqlResponse {
        self.post_graphql(token, &json!({ "query": query, "variables": variables }))
            .await
    }

    /// POST /graphql with any JSON body (an operation, or an array for a batch).
    pub async fn post_graphql(&self, token: Option<&str>, body: &Value) -> GqlResponse {
        self.post_graphql_with_headers(token, body, &[]).await
    }

    /// `gql` with extra request headers (e.g. `x-request-id`).
    pub async fn gql_with_headers(
        &self,
        token: Option<&str>,
        query: &str,
        variables: Value,
        headers: &[(&str, &str)],
    ) -> GqlResponse {
        self.post_graphql_with_headers(
            token,
            &json!({ "query": query, "variables": variables }),
            headers,
        )
        .await
    }

    async fn post_graphql_with_headers(
        &self,
        token: Option<&str>,
        body: &Value,
        headers: &[(&str, &str)],
    ) -> GqlResponse {
        logs::register_request(body);
        let mut req = self
            .client
            .post(self.url("/graphql"))
            .header("Content-Type", "application/json")
            .header("Accept", GRAPHQL_RESPONSE_JSON)
            .body(serde_json::to_vec(body).unwrap());
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        GqlResponse::from_reqwest(req.send().await.expect("POST /graphql")).await
    }

    /// POST /graphql with a raw body and explicit headers, for HTTP-level tests.
    pub async fn post_raw(
        &self,
        content_type: Option<&str>,
        accept: Option<&str>,
        token: Option<&str>,
        body: impl Into<reqwest::Body>,
    ) -> GqlResponse {
        let mut req = self.client.post(self.url("/graphql")).body(body);
        if let Some(ct) = content_type {
            req = req.header("Content-Type", ct);
        }
        if let Some(a) = accept {
            req = req.header("Accept", a);
        }
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        GqlResponse::from_reqwest(req.send().await.expect("POST /graphql")).await
    }

    /// GET /graphql with query-string parameters.
    pub async fn get_graphql(
        &self,
        token: Option<&str>,
        accept: &str,
        params: &[(&str, &str)],
    ) -> GqlResponse {
        let mut req = self
            .client
            .get(self.url("/graphql"))
            .query(params)
            .header("Accept", accept);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        GqlResponse::from_reqwest(req.send().await.expect("GET /graphql")).await
    }

    /// GET any path.
    pub async fn get(&self, path: &str) -> GqlResponse {
        GqlResponse::from_reqwest(
            self.client
                .get(self.url(path))
                .send()
                .await
                .expect("GET request"),
        )
        .await
    }

    /// Call `Authorization` with exactly this header value (for malformed schemes).
    pub async fn gql_with_authorization(&self, authorization: &str, query: &str) -> GqlResponse {
        let req = self
            .client
            .post(self.url("/graphql"))
            .header("Content-Type", "application/json")
            .header("Accept", GRAPHQL_RESPONSE_JSON)
            .header("Authorization", authorization)
            .body(serde_json::to_vec(&json!({ "query": query })).unwrap());
        GqlResponse::from_reqwest(req.send().await.expect("POST /graphql")).await
    }
}

// ---------------------------------------------------------------------------------------------
// Domain helpers
// ---------------------------------------------------------------------------------------------

/// What tests read back about an incident. Deliberately no sensitive fields (description,
/// patient, comments), so any viewer who may see the incident can ask for it; the one
/// exception, `statusReason`, is null until an incident is declined or reopened, and its
/// read is logged from then on.
pub const INCIDENT_SUMMARY: &str = r#"
fragment IncidentSummary on Incident {
  id reference title status eventType kind category
  department { id code name }
  location occurredAt reportedAt physicalHarm psychologicalHarm nearMiss
  anonymous
  reporter { id name }
  handler { id name }
  learningResponse learningSummary feedbackToReporter
  dutyOfCandour { applies complete steps { step takenAt } }
  statusReason
  duplicateOf { id reference }
  triagedAt closedAt version allowedTransitions
}"#;

/// Everything, sensitive fields included: for handlers and quality leads.
pub const INCIDENT_FULL: &str = r#"
fragment IncidentFull on Incident {
  id reference title description status eventType kind category
  department { id code name site }
  location occurredAt reportedAt physicalHarm psychologicalHarm nearMiss immediateActions
  patient { nhsNumber name dateOfBirth }
  equipment { assetId manufacturer model serialNumber }
  anonymous
  reporter { id name email }
  handler { id name email }
  learningResponse learningSummary findings feedbackToReporter
  dutyOfCandour { applies complete steps { step takenAt } }
  statusReason
  duplicateOf { id reference }
  triagedAt closedAt version allowedTransitions
  comments { id body author { name } createdAt }
}"#;

/// The change trail of one incident.
pub const HISTORY: &str = r#"
history { id at action entityType actor { name } actorLabel requestId changes { field before after } }
"#;

/// A valid report for the given department: tests override what their story is about with
/// [`with`].
pub fn incident_input(department_id: &str) -> Value {
    json!({
        "title": "Patient fell from trolley in corridor",
        "description": "Patient was left on a trolley with the side rails down and slid off.",
        "occurredAt": rfc3339(Utc::now() - chrono::Duration::hours(2)),
        "departmentId": department_id,
        "kind": "PATIENT_SAFETY",
        "physicalHarm": "LOW",
    })
}

/// Shallow-merge `patch` over `base` (both JSON objects). A `null` in the patch sends null.
pub fn with(mut base: Value, patch: Value) -> Value {
    if let (Some(b), Value::Object(p)) = (base.as_object_mut(), patch) {
        for (k, v) in p {
            b.insert(k, v);
        }
    }
    base
}

/// Remove keys from a JSON object.
pub fn without(mut base: Value, keys: &[&str]) -> Value {
    if let Some(b) = base.as_object_mut() {
        for k in keys {
            b.remove(*k);
        }
    }
    base
}

pub fn rfc3339(t: chrono::DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Parse a DateTime the server sent.
#[track_caller]
pub fn parse_time(v: &Value) -> chrono::DateTime<Utc> {
    let s = v
        .as_str()
        .unwrap_or_else(|| panic!("expected a DateTime string, got {v}"));
    chrono::DateTime::parse_from_rfc3339(s)
        .unwrap_or_else(|e| panic!("DateTime {s:?} is not RFC 3339: {e}"))
        .with_timezone(&Utc)
}

/// A small hospital: two departments and the people who work there.
pub struct Hospital {
    /// Global id of department CARD (Cardiology).
    pub cardiology: String,
    /// Global id of department NEUR (Neurology).
    pub neurology: String,
    /// Ada, admin.
    pub ada: String,
    /// Alice, staff nurse in cardiology: reports incidents.
    pub alice: String,
    /// Bob, another member of staff.
    pub bob: String,
    /// Hana, handler for CARD.
    pub hana: String,
    /// Nina, handler for NEUR.
    pub nina: String,
    /// Quinn, quality lead.
    pub quinn: String,
}

impl TestApp {
    /// Departments CARD and NEUR, and tokens for the people in [`Hospital`].
    pub async fn hospital(&self) -> Hospital {
        let ada = self.admin("ada");
        let cardiology = self.create_department(&ada, "CARD", "Cardiology").await;
        let neurology = self.create_department(&ada, "NEUR", "Neurology").await;
        Hospital {
            cardiology,
            neurology,
            alice: self.staff("alice"),
            bob: self.staff("bob"),
            hana: self.handler("hana", &["CARD"]),
            nina: self.handler("nina", &["NEUR"]),
            quinn: self.quality_lead("quinn"),
            ada,
        }
    }

    pub async fn try_create_department(&self, token: &str, input: Value) -> GqlResponse {
        self.gql(
            Some(token),
            "mutation($input: CreateDepartmentInput!) {
               createDepartment(input: $input) { department { id code name site } }
             }",
            json!({ "input": input }),
        )
        .await
    }

    /// Create a department (as an admin) and return its global id.
    pub async fn create_department(&self, admin_token: &str, code: &str, name: &str) -> String {
        let resp = self
            .try_create_department(admin_token, json!({ "code": code, "name": name }))
            .await;
        let data = resp.assert_ok();
        data.pointer("/createDepartment/department/id")
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("createDepartment returned no id: {resp}"))
            .to_string()
    }

    /// `reportIncident`, returning the whole response (payload: `incident` summary and
    /// `followUpCode`).
    pub async fn try_report_incident(&self, token: &str, input: Value) -> GqlResponse {
        self.gql(
            Some(token),
            &format!(
                "mutation($input: ReportIncidentInput!) {{
                   reportIncident(input: $input) {{ followUpCode incident {{ ...IncidentSummary }} }}
                 }}
                 {INCIDENT_SUMMARY}"
            ),
            json!({ "input": input }),
        )
        .await
    }

    /// Report an incident that must be accepted; returns the incident summary.
    pub async fn report_incident(&self, token: &str, input: Value) -> Value {
        let resp = self.try_report_incident(token, input).await;
        resp.assert_ok();
        resp.data()["reportIncident"]["incident"].clone()
    }

    /// `incident(id)` as this viewer, summary fields.
    pub async fn fetch_incident(&self, token: &str, id: &str) -> GqlResponse {
        self.gql(
            Some(token),
            &format!("query($id: ID!) {{ incident(id: $id) {{ ...IncidentSummary }} }} {INCIDENT_SUMMARY}"),
            json!({ "id": id }),
        )
        .await
    }

    /// `incident(id)` that must be visible to this viewer.
    pub async fn incident(&self, token: &str, id: &str) -> Value {
        let resp = self.fetch_incident(token, id).await;
        resp.assert_ok();
        let incident = resp.data()["incident"].clone();
        assert!(incident.is_object(), "incident {id} not returned: {resp}");
        incident
    }

    /// `incident(id)` with every field, sensitive ones included.
    pub async fn incident_full(&self, token: &str, id: &str) -> Value {
        let resp = self
            .gql(
                Some(token),
                &format!(
                    "query($id: ID!) {{ incident(id: $id) {{ ...IncidentFull }} }} {INCIDENT_FULL}"
                ),
                json!({ "id": id }),
            )
            .await;
        resp.assert_ok();
        resp.data()["incident"].clone()
    }

    /// The trail events of one incident, as this viewer sees them.
    pub async fn history(&self, token: &str, id: &str) -> Vec<Value> {
        let resp = self
            .gql(
                Some(token),
                &format!("query($id: ID!) {{ incident(id: $id) {{ id {HISTORY} }} }}"),
                json!({ "id": id }),
            )
            .await;
        resp.assert_ok();
        resp.data()["incident"]["history"]
            .as_array()
            .unwrap_or_else(|| panic!("history is not a list: {resp}"))
            .clone()
    }

    pub async fn try_triage(&self, token: &str, input: Value) -> GqlResponse {
        self.gql(
            Some(token),
            &format!(
                "mutation($input: TriageIncidentInput!) {{
                   triageIncident(input: $input) {{ incident {{ ...IncidentSummary }} }}
                 }}
                 {INCIDENT_SUMMARY}"
            ),
            json!({ "input": input }),
        )
        .await
    }

    /// Triage `incident` at the version the test last saw, with these governance facts.
    pub async fn triage(&self, token: &str, incident: &Value, facts: Value) -> Value {
        let input = with(
            json!({ "incidentId": incident["id"], "expectedVersion": incident["version"] }),
            facts,
        );
        let resp = self.try_triage(token, input).await;
        resp.assert_ok();
        resp.data()["triageIncident"]["incident"].clone()
    }

    pub async fn try_transition(&self, token: &str, input: Value) -> GqlResponse {
        self.gql(
            Some(token),
            &format!(
                "mutation($input: TransitionIncidentInput!) {{
                   transitionIncident(input: $input) {{ incident {{ ...IncidentSummary }} }}
                 }}
                 {INCIDENT_SUMMARY}"
            ),
            json!({ "input": input }),
        )
        .await
    }

    /// Move `incident` (at the version the test last saw) to `to`, without a reason.
    pub async fn try_transition_to(&self, token: &str, incident: &Value, to: &str) -> GqlResponse {
        self.try_transition(
            token,
            json!({ "incidentId": incident["id"], "expectedVersion": incident["version"], "to": to }),
        )
        .await
    }

    /// A transition that must succeed; returns the updated incident.
    pub async fn transition(&self, token: &str, incident: &Value, to: &str) -> Value {
        let resp = self.try_transition_to(token, incident, to).await;
        resp.assert_ok();
        resp.data()["transitionIncident"]["incident"].clone()
    }

    /// A transition with a reason that must succeed; returns the updated incident.
    pub async fn transition_because(
        &self,
        token: &str,
        incident: &Value,
        to: &str,
        reason: &str,
    ) -> Value {
        let resp = self
            .try_transition(
                token,
                json!({
                    "incidentId": incident["id"], "expectedVersion": incident["version"],
                    "to": to, "reason": reason,
                }),
            )
            .await;
        resp.assert_ok();
        resp.data()["transitionIncident"]["incident"].clone()
    }

    pub async fn try_comment(&self, token: &str, incident_id: &str, body: &str) -> GqlResponse {
        self.gql(
            Some(token),
            "mutation($input: CommentOnIncidentInput!) {
               commentOnIncident(input: $input) {
                 incident { id version comments { id body author { name } createdAt } }
               }
             }",
            json!({ "input": { "incidentId": incident_id, "body": body } }),
        )
        .await
    }

    /// A comment that must be accepted; returns the incident (id, version, comments).
    pub async fn comment(&self, token: &str, incident_id: &str, body: &str) -> Value {
        let resp = self.try_comment(token, incident_id, body).await;
        resp.assert_ok();
        resp.data()["commentOnIncident"]["incident"].clone()
    }

    pub async fn try_record_candour_step(&self, token: &str, input: Value) -> GqlResponse {
        self.gql(
            Some(token),
            &format!(
                "mutation($input: RecordDutyOfCandourStepInput!) {{
                   recordDutyOfCandourStep(input: $input) {{ incident {{ ...IncidentSummary }} }}
                 }}
                 {INCIDENT_SUMMARY}"
            ),
            json!({ "input": input }),
        )
        .await
    }

    /// Record a duty-of-candour step taken an hour ago; returns the updated incident.
    pub async fn record_candour_step(&self, token: &str, incident: &Value, step: &str) -> Value {
        let resp = self
            .try_record_candour_step(
                token,
                json!({
                    "incidentId": incident["id"], "expectedVersion": incident["version"],
                    "step": step, "takenAt": rfc3339(Utc::now() - chrono::Duration::hours(1)),
                }),
            )
            .await;
        resp.assert_ok();
        resp.data()["recordDutyOfCandourStep"]["incident"].clone()
    }

    /// Close a low-harm incident as a quality lead, first recording feedback to the reporter
    /// (by triage) when there is none. Returns the CLOSED incident.
    pub async fn close_low_harm(&self, quality_lead: &str, incident: &Value) -> Value {
        let mut current = incident.clone();
        if current["feedbackToReporter"].is_null() {
            current = self
                .triage(
                    quality_lead,
                    &current,
                    json!({ "feedbackToReporter": "Thank you: the trolley rails are now checked at handover." }),
                )
                .await;
        }
        let closed = self.transition(quality_lead, &current, "CLOSED").await;
        assert_eq!(
            closed["status"], "CLOSED",
            "incident did not close: {closed}"
        );
        closed
    }

    /// The `StaffMember` global id of the person behind a token (`me { staff { id } }`).
    pub async fn staff_id(&self, token: &str) -> String {
        let resp = self
            .gql(Some(token), "{ me { staff { id } } }", json!({}))
            .await;
        resp.assert_ok();
        resp.data()
            .pointer("/me/staff/id")
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("me.staff.id missing: {resp}"))
            .to_string()
    }

    /// `incidents(...)` with the given variables (`first`, `after`, `filter`, `orderBy`),
    /// returning ids, references and the fields listing tests order and filter on.
    pub async fn list_incidents(&self, token: &str, variables: Value) -> GqlResponse {
        self.gql(
            Some(token),
            "query($first: Int, $after: String, $filter: IncidentFilter, $orderBy: IncidentOrder) {
               incidents(first: $first, after: $after, filter: $filter, orderBy: $orderBy) {
                 totalCount
                 pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
                 edges { cursor node {
                   id reference title status kind nearMiss physicalHarm occurredAt reportedAt
                   department { id code }
                 } }
               }
             }",
            variables,
        )
        .await
    }

    /// `incidents(...)` selecting only what identifies the page: `totalCount`,
    /// `pageInfo { hasNextPage endCursor }` and `edges { cursor node { id } }`. Lean enough
    /// for a page of 100 to stay well inside the default complexity budget.
    pub async fn list_incident_ids(&self, token: &str, variables: Value) -> GqlResponse {
        self.gql(
            Some(token),
            "query($first: Int, $after: String, $filter: IncidentFilter, $orderBy: IncidentOrder) {
               incidents(first: $first, after: $after, filter: $filter, orderBy: $orderBy) {
                 totalCount
                 pageInfo { hasNextPage endCursor }
                 edges { cursor node { id } }
               }
             }",
            variables,
        )
        .await
    }

    /// The incident ids a viewer gets from `incidents` (first page of up to 100).
    pub async fn visible_incident_ids(&self, token: &str) -> Vec<String> {
        let resp = self.list_incident_ids(token, json!({ "first": 100 })).await;
        resp.assert_ok();
        node_ids(&resp.data()["incidents"])
    }
}

/// The `node.id`s of a connection, in order.
pub fn node_ids(connection: &Value) -> Vec<String> {
    connection["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("not a connection: {connection}"))
        .iter()
        .map(|e| e["node"]["id"].as_str().expect("node id").to_string())
        .collect()
}

/// Whether `s` looks like `INC-<year>-<6 digits>`.
pub fn is_reference_for_year(s: &str, year: i32) -> bool {
    let prefix = format!("INC-{year}-");
    s.len() == prefix.len() + 6
        && s.starts_with(&prefix)
        && s[prefix.len()..].chars().all(|c| c.is_ascii_digit())
}

// ---------------------------------------------------------------------------------------------
// Corrective actions (CAPA)
// ---------------------------------------------------------------------------------------------

impl TokenSpec {
    /// The same person with another `email` claim (owners are matched on it).
    pub fn email(mut self, email: &str) -> Self {
        self.email = Some(email.to_string());
        self
    }
}

impl TestApp {
    /// A member of staff whose token carries exactly this `email` claim.
    pub fn staff_with_email(&self, sub: &str, email: &str) -> String {
        self.token(TokenSpec::staff(sub).email(email))
    }
}

/// "Today" as the trust's calendar has it (Europe/London: GMT, or BST from 01:00 UTC on the
/// last Sunday of March to 01:00 UTC on the last Sunday of October), which decides overdue.
pub fn london_today() -> chrono::NaiveDate {
    london_date(Utc::now())
}

/// The date in London of an instant: GMT, or BST (UTC+1) from 01:00 UTC on the last Sunday
/// of March to 01:00 UTC on the last Sunday of October. Written out here so that tests do
/// not share the server's time-zone code.
pub fn london_date(t: chrono::DateTime<Utc>) -> chrono::NaiveDate {
    use chrono::{Datelike, NaiveDate};
    let year = t.year();
    let last_sunday = |month: u32| {
        let last_day = NaiveDate::from_ymd_opt(year, month + 1, 1)
            .and_then(|d| d.pred_opt())
            .expect("a real month");
        last_day - chrono::Duration::days(last_day.weekday().num_days_from_sunday() as i64)
    };
    let at_one_utc = |d: NaiveDate| d.and_hms_opt(1, 0, 0).expect("01:00").and_utc();
    let summer = t >= at_one_utc(last_sunday(3)) && t < at_one_utc(last_sunday(10));
    let offset = if summer { 1 } else { 0 };
    (t + chrono::Duration::hours(offset)).date_naive()
}

/// `london_today()` moved by this many days, as the `Date` the API speaks ("2026-11-25").
pub fn days_from_today(days: i64) -> String {
    (london_today() + chrono::Duration::days(days)).to_string()
}

/// What tests read back about a corrective action. Only the source's id: an owner who may
/// not see the incident still sees which record their action came from.
pub const CORRECTIVE_ACTION: &str = r#"
fragment CorrectiveActionFields on CorrectiveAction {
  id title description status version priority dueDate overdue ownerEmail
  owner { id name email }
  source { __typename ... on Incident { id } }
  department { id code }
  effective verificationNote cancellationReason
  followUp { id title status version priority dueDate ownerEmail source { ... on Incident { id } } }
  followUpOf { id title status }
  completedAt verifiedAt createdAt allowedTransitions
}"#;

/// A valid corrective action on `source_id`, owned by `owner_email`, due in two weeks.
pub fn corrective_action_input(source_id: &str, owner_email: &str) -> Value {
    json!({
        "sourceId": source_id,
        "title": "Check trolley rails at every handover",
        "description": "Add trolley rails to the handover checklist and audit it weekly.",
        "ownerEmail": owner_email,
        "dueDate": days_from_today(14),
    })
}

impl TestApp {
    pub async fn try_create_corrective_action(&self, token: &str, input: Value) -> GqlResponse {
        self.gql(
            Some(token),
            &format!(
                "mutation($input: CreateCorrectiveActionInput!) {{
                   createCorrectiveAction(input: $input) {{ correctiveAction {{ ...CorrectiveActionFields }} }}
                 }}
                 {CORRECTIVE_ACTION}"
            ),
            json!({ "input": input }),
        )
        .await
    }

    /// Create a corrective action that must be accepted; returns it.
    pub async fn create_corrective_action(&self, token: &str, input: Value) -> Value {
        let resp = self.try_create_corrective_action(token, input).await;
        resp.assert_ok();
        let action = resp.data()["createCorrectiveAction"]["correctiveAction"].clone();
        assert!(action.is_object(), "no correctiveAction returned: {resp}");
        action
    }

    pub async fn try_update_corrective_action(&self, token: &str, input: Value) -> GqlResponse {
        self.gql(
            Some(token),
            &format!(
                "mutation($input: UpdateCorrectiveActionInput!) {{
                   updateCorrectiveAction(input: $input) {{ correctiveAction {{ ...CorrectiveActionFields }} }}
                 }}
                 {CORRECTIVE_ACTION}"
            ),
            json!({ "input": input }),
        )
        .await
    }

    /// `updateCorrectiveAction` on `action` at the version the test last saw, with `changes`.
    pub async fn try_update_action(
        &self,
        token: &str,
        action: &Value,
        changes: Value,
    ) -> GqlResponse {
        self.try_update_corrective_action(
            token,
            with(
                json!({ "actionId": action["id"], "expectedVersion": action["version"] }),
                changes,
            ),
        )
        .await
    }

    /// An update that must succeed; returns the updated action.
    pub async fn update_action(&self, token: &str, action: &Value, changes: Value) -> Value {
        let resp = self.try_update_action(token, action, changes).await;
        resp.assert_ok();
        resp.data()["updateCorrectiveAction"]["correctiveAction"].clone()
    }

    /// `node(id)` as this viewer, with the corrective action's fields.
    pub async fn fetch_corrective_action(&self, token: &str, id: &str) -> GqlResponse {
        self.gql(
            Some(token),
            &format!(
                "query($id: ID!) {{ node(id: $id) {{ __typename ... on CorrectiveAction {{ ...CorrectiveActionFields }} }} }}
                 {CORRECTIVE_ACTION}"
            ),
            json!({ "id": id }),
        )
        .await
    }

    /// A corrective action that must be visible to this viewer.
    pub async fn corrective_action(&self, token: &str, id: &str) -> Value {
        let resp = self.fetch_corrective_action(token, id).await;
        resp.assert_ok();
        let action = resp.data()["node"].clone();
        assert_eq!(
            action["__typename"], "CorrectiveAction",
            "corrective action {id} not returned: {resp}"
        );
        action
    }

    /// `correctiveActions(...)` with the given variables (`first`, `after`, `filter`,
    /// `orderBy`).
    pub async fn list_corrective_actions(&self, token: &str, variables: Value) -> GqlResponse {
        self.gql(
            Some(token),
            "query($first: Int, $after: String, $filter: CorrectiveActionFilter, $orderBy: CorrectiveActionOrder) {
               correctiveActions(first: $first, after: $after, filter: $filter, orderBy: $orderBy) {
                 totalCount
                 pageInfo { hasNextPage endCursor }
                 edges { cursor node {
                   id title status priority dueDate overdue ownerEmail createdAt
                   department { id } source { ... on Incident { id } }
                 } }
               }
             }",
            variables,
        )
        .await
    }

    /// The ids of the corrective actions a viewer lists with this filter (first page of 100).
    pub async fn corrective_action_ids(&self, token: &str, filter: Value) -> Vec<String> {
        let resp = self
            .list_corrective_actions(token, json!({ "first": 100, "filter": filter }))
            .await;
        resp.assert_ok();
        node_ids(&resp.data()["correctiveActions"])
    }

    /// The trail events of one corrective action, as this viewer sees them.
    pub async fn corrective_action_history(&self, token: &str, id: &str) -> Vec<Value> {
        let resp = self
            .gql(
                Some(token),
                &format!(
                    "query($id: ID!) {{ node(id: $id) {{ ... on CorrectiveAction {{ id {HISTORY} }} }} }}"
                ),
                json!({ "id": id }),
            )
            .await;
        resp.assert_ok();
        resp.data()["node"]["history"]
            .as_array()
            .unwrap_or_else(|| panic!("history is not a list: {resp}"))
            .clone()
    }
}

// ---------------------------------------------------------------------------------------------
// Clinical audits
// ---------------------------------------------------------------------------------------------

/// What tests read back about an audit (its trail is read apart, with [`HISTORY`]).
pub const AUDIT: &str = r#"
fragment AuditFields on Audit {
  id title standard plannedStart plannedEnd leadEmail status version
  startedAt reportedAt closedAt
  department { id code }
  reauditOf { id title status }
  findings {
    id criterion targetPercent sampleSize compliantCount compliancePercent nonConformity
    previousCompliancePercent complianceChange recordedAt
    correctiveActions { id title status }
    audit { id }
  }
  allowedTransitions
}"#;

/// A valid audit of the given department, planned for March 2026: tests override what
/// their story is about with [`with`].
pub fn audit_input(department_id: &str) -> Value {
    json!({
        "title": "Consent documentation audit",
        "departmentId": department_id,
        "standard": "GMC Decision making and consent (2020), paragraphs 50-57",
        "plannedStart": "2026-03-02",
        "plannedEnd": "2026-03-27",
    })
}

/// One criterion's result for `recordAuditFinding`.
pub fn finding_input(
    audit_id: &str,
    criterion: &str,
    target_percent: f64,
    sample_size: i64,
    compliant_count: i64,
) -> Value {
    json!({
        "auditId": audit_id,
        "criterion": criterion,
        "targetPercent": target_percent,
        "sampleSize": sample_size,
        "compliantCount": compliant_count,
    })
}

impl TestApp {
    pub async fn try_plan_audit(&self, token: &str, input: Value) -> GqlResponse {
        self.gql(
            Some(token),
            &format!(
                "mutation($input: PlanAuditInput!) {{
                   planAudit(input: $input) {{ audit {{ ...AuditFields }} }}
                 }}
                 {AUDIT}"
            ),
            json!({ "input": input }),
        )
        .await
    }

    /// Plan an audit that must be accepted; returns it.
    pub async fn plan_audit(&self, token: &str, input: Value) -> Value {
        let resp = self.try_plan_audit(token, input).await;
        resp.assert_ok();
        let audit = resp.data()["planAudit"]["audit"].clone();
        assert!(audit.is_object(), "no audit returned: {resp}");
        audit
    }

    pub async fn try_record_audit_finding(&self, token: &str, input: Value) -> GqlResponse {
        self.gql(
            Some(token),
            &format!(
                "mutation($input: RecordAuditFindingInput!) {{
                   recordAuditFinding(input: $input) {{ audit {{ ...AuditFields }} }}
                 }}
                 {AUDIT}"
            ),
            json!({ "input": input }),
        )
        .await
    }

    /// Record a finding that must be accepted; returns the audit.
    pub async fn record_audit_finding(&self, token: &str, input: Value) -> Value {
        let resp = self.try_record_audit_finding(token, input).await;
        resp.assert_ok();
        resp.data()["recordAuditFinding"]["audit"].clone()
    }

    pub async fn try_transition_audit(&self, token: &str, input: Value) -> GqlResponse {
        self.gql(
            Some(token),
            &format!(
                "mutation($input: TransitionAuditInput!) {{
                   transitionAudit(input: $input) {{ audit {{ ...AuditFields }} }}
                 }}
                 {AUDIT}"
            ),
            json!({ "input": input }),
        )
        .await
    }

    /// Move `audit` (at the version the test last saw) to `to`.
    pub async fn try_move_audit(&self, token: &str, audit: &Value, to: &str) -> GqlResponse {
        self.try_transition_audit(
            token,
            json!({ "auditId": audit["id"], "expectedVersion": audit["version"], "to": to }),
        )
        .await
    }

    /// A move that must succeed; returns the updated audit.
    pub async fn move_audit(&self, token: &str, audit: &Value, to: &str) -> Value {
        let resp = self.try_move_audit(token, audit, to).await;
        resp.assert_ok();
        resp.data()["transitionAudit"]["audit"].clone()
    }

    /// `node(id)` as this viewer, with the audit's fields.
    pub async fn fetch_audit(&self, token: &str, id: &str) -> GqlResponse {
        self.gql(
            Some(token),
            &format!(
                "query($id: ID!) {{ node(id: $id) {{ __typename ... on Audit {{ ...AuditFields }} }} }}
                 {AUDIT}"
            ),
            json!({ "id": id }),
        )
        .await
    }

    /// An audit that must be visible to this viewer (without `__typename`).
    pub async fn audit(&self, token: &str, id: &str) -> Value {
        let resp = self.fetch_audit(token, id).await;
        resp.assert_ok();
        let audit = resp.data()["node"].clone();
        assert_eq!(
            audit["__typename"], "Audit",
            "audit {id} not returned: {resp}"
        );
        without(audit, &["__typename"])
    }

    /// `audits(...)` with the given variables (`first`, `after`, `filter`).
    pub async fn list_audits(&self, token: &str, variables: Value) -> GqlResponse {
        self.gql(
            Some(token),
            "query($first: Int, $after: String, $filter: AuditFilter) {
               audits(first: $first, after: $after, filter: $filter) {
                 totalCount
                 pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
                 edges { cursor node {
                   id title status plannedStart plannedEnd department { id code }
                 } }
               }
             }",
            variables,
        )
        .await
    }

    /// The ids of the audits a viewer lists with this filter (first page of 100).
    pub async fn audit_ids(&self, token: &str, filter: Value) -> Vec<String> {
        let resp = self
            .list_audits(token, json!({ "first": 100, "filter": filter }))
            .await;
        resp.assert_ok();
        node_ids(&resp.data()["audits"])
    }

    /// The trail events of one audit, as this viewer sees them.
    pub async fn audit_history(&self, token: &str, id: &str) -> Vec<Value> {
        let resp = self
            .gql(
                Some(token),
                &format!(
                    "query($id: ID!) {{ node(id: $id) {{ ... on Audit {{ id {HISTORY} }} }} }}"
                ),
                json!({ "id": id }),
            )
            .await;
        resp.assert_ok();
        resp.data()["node"]["history"]
            .as_array()
            .unwrap_or_else(|| panic!("history is not a list: {resp}"))
            .clone()
    }
}
