//! Builds the running application from `Settings`, so `main` and the tests start the very
//! same server.
use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpResponse, HttpServer};

use crate::auth::Authenticator;
use crate::config::Settings;
use crate::context::AppState;
use crate::db::Db;
use crate::graphql::http::GraphqlService;

#[derive(Debug)]
pub struct StartupError(pub String);

impl std::fmt::Display for StartupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StartupError {}

pub struct Application {
    port: u16,
    server: Server,
    pub state: Arc<AppState>,
}

/// Connects, migrates and assembles the shared state.
pub async fn prepare(settings: Settings) -> Result<Arc<AppState>, StartupError> {
    let secret = crate::auth::dev_secret(&settings).map_err(StartupError)?;
    let authenticator = Authenticator::new(&settings, secret.as_ref())
        .map_err(|e| StartupError(format!("configuration: {e}")))?;
    let db = Db::connect(&settings).await.map_err(|e| {
        StartupError(format!(
            "cannot open the database ({}): {}",
            redact_url(&settings.database_url),
            crate::error::db_error_kind(&e)
        ))
    })?;
    db.migrate()
        .await
        .map_err(|e| StartupError(format!("migrations failed: {e}")))?;
    let keys = crate::protect::KeyRing::from_settings(&settings)
        .map_err(|e| StartupError(format!("configuration: {e}")))?;
    let sealed = crate::protect::seal_plaintext_columns(&db, &keys)
        .await
        .map_err(|e| {
            StartupError(format!(
                "sealing patient details failed: {}",
                crate::error::db_error_kind(&e)
            ))
        })?;
    if sealed > 0 {
        tracing::info!(
            incidents = sealed,
            "sealed patient details stored in plaintext"
        );
    }
    if let Some(r) =
        crate::dashboard::rollup::ensure_counted(&db, settings.tz(), &settings.timezone)
            .await
            .map_err(|e| {
                StartupError(format!(
                    "counting the dashboard rollups failed: {}",
                    crate::error::db_error_kind(&e)
                ))
            })?
    {
        tracing::info!(
            rows = r.count_rows + r.duration_rows + r.action_rows,
            seconds = r.seconds,
            timezone = %settings.timezone,
            "dashboard rollups counted from the records"
        );
    }
    let stop = tokio_util::sync::CancellationToken::new();
    if let Some(provider) = authenticator.provider() {
        // Without keys every token is refused until the provider answers; the refresher
        // keeps asking.
        if provider.fetch().await.is_err() {
            tracing::warn!(
                "the identity provider's keys could not be fetched at start; tokens are refused until they are"
            );
        }
        provider.clone().spawn_refresher(stop.clone());
    }
    crate::trail::chain::spawn_sealer(db.clone(), db.trail_wake.clone());
    crate::trail::chain::spawn_listener(db.clone(), settings.database_url.clone(), stop.clone());
    crate::dashboard::rollup::spawn_compactor(db.clone(), stop.clone());
    let access_log = crate::trail::access::AccessLogWriter::spawn(db.clone());
    let notifier = crate::notify::Notifier::new(&settings, db.outbox_wake.clone())
        .map_err(|e| StartupError(format!("configuration: {e}")))?;
    let lfpse = crate::lfpse::taxonomy::Taxonomy::load(settings.lfpse.taxonomy_file.as_deref())
        .map_err(|e| StartupError(format!("configuration: lfpse.taxonomy_file: {e}")))?;
    let live = Arc::new(crate::live::Hub::default());
    live.spawn(
        db.clone(),
        std::time::Duration::from_millis(settings.subscriptions.poll_ms),
        stop.clone(),
    );
    Ok(Arc::new(AppState {
        db,
        settings: Arc::new(settings),
        authenticator,
        departments: Mutex::new(HashMap::new()),
        departments_listed: Mutex::new(None),
        staff_seen: Mutex::new(HashMap::new()),
        keys,
        access_log,
        notifier,
        stop,
        references: Default::default(),
        rollups: Default::default(),
        lfpse: Arc::new(lfpse),
        live,
        webhooks_wake: Default::default(),
        scan_wake: Default::default(),
    }))
}

/// Starts this instance's email dispatcher (when an SMTP server is configured) and its
/// deadline scheduler, as `notify.dispatch` and `notify.schedule` say, and its LFPSE
/// dispatcher (when `lfpse.url` is set) as `lfpse.dispatch` says. They run until
/// `state.stop` is cancelled.
pub fn start_background(
    state: &Arc<AppState>,
    dispatch: bool,
    schedule: bool,
) -> Result<(), StartupError> {
    if dispatch {
        match crate::notify::dispatch::Dispatcher::new(
            state.db.clone(),
            state.settings.clone(),
            state.notifier.templates.clone(),
        )
        .map_err(|e| StartupError(format!("configuration: {e}")))?
        {
            Some(d) => {
                tokio::spawn(d.run(state.notifier.wake.clone(), state.stop.clone()));
            }
            None => tracing::warn!(
                "no smtp_url: emails are queued in the outbox and wait until one is configured"
            ),
        }
    }
    if state.settings.lfpse.dispatch {
        match crate::lfpse::dispatch::Dispatcher::new(state.clone())
            .map_err(|e| StartupError(format!("configuration: {e}")))?
        {
            Some(d) => {
                tokio::spawn(d.run(state.db.lfpse_wake.clone(), state.stop.clone()));
            }
            None => tracing::warn!(
                "no lfpse.url: LFPSE submissions are queued and wait until one is configured"
            ),
        }
    }
    crate::webhook::fanout::spawn(state.clone());
    crate::attachment::scan::spawn(state.clone());
    if state.settings.webhooks.dispatch {
        tokio::spawn(crate::webhook::dispatch::run(state.clone()));
    }
    if schedule {
        tokio::spawn(crate::notify::schedule::run(
            state.clone(),
            state.stop.clone(),
        ));
    }
    Ok(())
}

/// Stops a running instance: its HTTP server and its background tasks.
#[derive(Clone)]
pub struct Stopper {
    server: actix_web::dev::ServerHandle,
    stop: tokio_util::sync::CancellationToken,
}

impl Stopper {
    /// Stops accepting requests and ends the dispatcher and scheduler. `graceful` lets
    /// in-flight requests finish; otherwise they are dropped (as if the process died).
    pub async fn stop(&self, graceful: bool) {
        self.stop.cancel();
        self.server.stop(graceful).await;
    }
}

/// A database URL without its password, for messages.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            let user = creds.split(':').next().unwrap_or("");
            format!("{}{}@{}", &url[..scheme + 3], user, &url[at + 1..])
        }
        _ => url.to_string(),
    }
}

impl Application {
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        let listener = TcpListener::bind(&settings.bind)
            .map_err(|e| StartupError(format!("cannot listen on {}: {e}", settings.bind)))?;
        let port = listener
            .local_addr()
            .map_err(|e| StartupError(e.to_string()))?
            .port();
        let (dispatch, schedule) = (settings.notify.dispatch, settings.notify.schedule);
        let state = prepare(settings).await?;
        let server = run(listener, state.clone())?;
        start_background(&state, dispatch, schedule)?;
        Ok(Self {
            port,
            server,
            state,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// A handle that stops this instance from elsewhere.
    pub fn stopper(&self) -> Stopper {
        Stopper {
            server: self.server.handle(),
            stop: self.state.stop.clone(),
        }
    }

    /// Serves until SIGTERM/SIGINT, then lets in-flight requests finish.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let stop = self.state.stop.clone();
        let out = self.server.await;
        stop.cancel();
        out
    }
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok")
}

async fn readyz(state: web::Data<Arc<AppState>>) -> HttpResponse {
    match state.db.pending_migrations().await {
        Ok(0) => HttpResponse::Ok().content_type("text/plain").body("ready"),
        Ok(n) => HttpResponse::ServiceUnavailable()
            .content_type("text/plain")
            .body(format!("{n} migrations pending")),
        Err(e) => {
            tracing::warn!(error = %crate::error::db_error_kind(&e), "readiness check failed");
            HttpResponse::ServiceUnavailable()
                .content_type("text/plain")
                .body("database unreachable")
        }
    }
}

/// Prometheus text: the outbox by state, and failed delivery attempts.
async fn metrics(state: web::Data<Arc<AppState>>) -> HttpResponse {
    let counts = match crate::notify::dispatch::counts(&state.db).await {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %crate::error::db_error_kind(&e), "metrics query failed");
            return HttpResponse::ServiceUnavailable()
                .content_type("text/plain")
                .body("database unreachable");
        }
    };
    let mut out = String::from(
        "# HELP candour_notifications Emails in the outbox by state.\n\
         # TYPE candour_notifications gauge\n",
    );
    let mut failed = 0;
    for (k, n) in counts {
        if k == "attempts_failed" {
            failed = n;
        } else {
            out.push_str(&format!("candour_notifications{{state=\"{k}\"}} {n}\n"));
        }
    }
    out.push_str(
        "# HELP candour_notification_failed_attempts_total Delivery attempts that failed (each is retried or dead-lettered).\n\
         # TYPE candour_notification_failed_attempts_total counter\n",
    );
    out.push_str(&format!(
        "candour_notification_failed_attempts_total {failed}\n"
    ));
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(out)
}

async fn schema_sdl() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body(crate::graphql::sdl())
}

fn run(listener: TcpListener, state: Arc<AppState>) -> Result<Server, StartupError> {
    let settings = state.settings.clone();
    let schema = crate::graphql::build_schema(Some(state.clone()), &settings.limits);
    let service = web::Data::new(GraphqlService {
        schema,
        state: state.clone(),
        documents: crate::graphql::limits::Documents::new(&settings.limits),
    });
    let state_data = web::Data::new(state);
    let body_limit = settings.limits.max_body_bytes;
    let mut server = HttpServer::new(move || {
        App::new()
            .wrap(from_fn(crate::telemetry::request_span))
            .app_data(service.clone())
            .app_data(state_data.clone())
            .app_data(web::PayloadConfig::new(body_limit))
            .route("/graphql", web::post().to(crate::graphql::http::post))
            .route("/graphql", web::get().to(crate::graphql::http::get))
            .route("/healthz", web::get().to(healthz))
            .route("/readyz", web::get().to(readyz))
            .route("/metrics", web::get().to(metrics))
            .route("/schema.graphql", web::get().to(schema_sdl))
            .configure(crate::fhir::routes)
            .configure(crate::export::routes)
            .configure(crate::attachment::http::routes)
            .configure(crate::web::routes)
            .default_service(web::to(crate::web::not_found_service))
    })
    .shutdown_timeout(settings.shutdown_timeout_secs);
    if let Some(workers) = settings.workers {
        server = server.workers(workers);
    }
    Ok(server
        .listen(listener)
        .map_err(|e| StartupError(e.to_string()))?
        .run())
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_are_taken_out_of_database_urls() {
        assert_eq!(
            super::redact_url("postgres://app:s3cret@db:5432/candour"),
            "postgres://app@db:5432/candour"
        );
        assert_eq!(
            super::redact_url("sqlite://candour.db"),
            "sqlite://candour.db"
        );
    }
}
