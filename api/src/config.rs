//! Settings, layered: built-in defaults < `candour.toml` < `CANDOUR_*` environment variables.
//! Nested keys use a double underscore in the environment (`CANDOUR_LIMITS__MAX_DEPTH=10`).
//! Every value is checked at start so a bad one stops the server with a clear sentence.
use std::path::PathBuf;

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

/// A string that never prints: Debug and logs show `[REDACTED]`.
pub type Secret = secrecy::SecretString;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    Development,
    Production,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// The identity provider's claims and keys (docs/operations.md, "Signing in through the
/// trust's identity provider").
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Oidc {
    /// The claim naming the person: `sub`, or Entra ID's `oid` (the same in every app).
    pub subject_claim: String,
    pub name_claim: String,
    /// The claim holding an email address (Entra ID: `email`, or `preferred_username`).
    pub email_claim: String,
    /// The claim holding role values (a list, or one space-separated string).
    pub roles_claim: String,
    /// The claim holding department codes, if the provider sends them.
    pub departments_claim: String,
    /// The claim holding group ids (Entra ID: `groups`), read through `group_roles` and
    /// `group_departments`.
    pub groups_claim: String,
    /// The claim holding a service's scopes (`scope`; Entra ID puts delegated ones in `scp`).
    pub scope_claim: String,
    /// A role value the provider sends to what it means here: a Candour role (`handler`,
    /// `quality_lead`, `ig_officer`, `admin`) or a service scope (`incidents:read`, ...).
    /// Values that are Candour's own names need no entry.
    pub role_values: std::collections::BTreeMap<String, String>,
    /// A group id to a Candour role or service scope.
    pub group_roles: std::collections::BTreeMap<String, String>,
    /// A group id to a department code.
    pub group_departments: std::collections::BTreeMap<String, String>,
    /// How often the keys are fetched again in any case.
    pub refresh_secs: u64,
    /// The fewest seconds between two fetches for a token with an unknown key id, so that a
    /// flood of bad tokens cannot make Candour hammer the provider.
    pub refetch_min_secs: u64,
    /// How long one request to the provider may take.
    pub timeout_secs: u64,
    /// A PEM file of extra certificate authorities to trust for the provider.
    pub ca_file: Option<PathBuf>,
}

impl Default for Oidc {
    fn default() -> Self {
        Self {
            subject_claim: "sub".into(),
            name_claim: "name".into(),
            email_claim: "email".into(),
            roles_claim: "roles".into(),
            departments_claim: "departments".into(),
            groups_claim: "groups".into(),
            scope_claim: "scope".into(),
            role_values: Default::default(),
            group_roles: Default::default(),
            group_departments: Default::default(),
            refresh_secs: 3600,
            refetch_min_secs: 60,
            timeout_secs: 5,
            ca_file: None,
        }
    }
}

/// Protection for the server against expensive or oversized requests.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Deepest selection nesting a query may have.
    pub max_depth: usize,
    /// Highest complexity score: one per field, a list's selection counted once per row
    /// of its page (`first`). The default admits a full page of 100 with about 45 fields.
    pub max_complexity: usize,
    /// Most aliased fields in one document (aliases multiply work cheaply for a client).
    pub max_aliases: usize,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Most operations in one batched request.
    pub max_batch: usize,
    /// Largest `first` a connection accepts.
    pub max_page_size: u64,
    /// Rows a CSV export reads and sends at a time (its memory is about one page).
    pub export_page_size: u64,
    /// Whether `__schema`/`__type` introspection is served (on: this is an integration API).
    pub introspection: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_depth: 12,
            max_complexity: 5000,
            max_aliases: 30,
            max_body_bytes: 1024 * 1024,
            max_batch: 10,
            max_page_size: 100,
            export_page_size: 500,
            introspection: true,
        }
    }
}

/// Diagnostics that are useful in tests and benchmarks, off in normal operation.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Diagnostics {
    /// Adds an `x-sql-statements` header with the number of SQL statements a request ran,
    /// and `x-sql-log` with the head of each (parameterised SQL: no values).
    pub sql_statement_count: bool,
}

/// How long records are kept after they end (NHS Records Management Code of Practice),
/// in whole years; 0 makes a record due for review as soon as it ends.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Retention {
    /// Incidents, from closure (or declining).
    pub incident_years: u32,
    /// Serious incidents (severe or fatal physical harm, or severe psychological harm).
    pub serious_incident_years: u32,
    /// Clinical and quality audits, from closure.
    pub audit_years: u32,
    /// Improvement projects, from closure or abandonment.
    pub improvement_project_years: u32,
    /// Learning responses, from completion or cancellation (kept as long as the incident
    /// records they learn from).
    pub learning_response_years: u32,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            incident_years: 10,
            serious_incident_years: 20,
            audit_years: 5,
            improvement_project_years: 6,
            learning_response_years: 10,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    pub environment: Environment,
    /// `sqlite://candour.db?mode=rwc` (embedded default) or `postgres://user@host/db`.
    pub database_url: String,
    /// Largest number of pooled database connections.
    pub database_max_connections: u32,
    /// Address and port to listen on.
    pub bind: String,
    /// HTTP worker threads; defaults to the number of cores.
    pub workers: Option<usize>,
    /// Seconds in-flight requests get to finish after SIGTERM.
    pub shutdown_timeout_secs: u64,
    /// HS256 secret (at least 32 characters). Either this or `jwks_file`.
    #[serde(serialize_with = "serialize_secret")]
    pub jwt_secret: Option<Secret>,
    /// JWKS file with the identity provider's RS256/ES256 public keys.
    pub jwks_file: Option<PathBuf>,
    /// The trust's identity provider (OpenID Connect), e.g.
    /// `https://login.microsoftonline.com/<tenant id>/v2.0`: its keys are read from its
    /// discovery document's `jwks_uri` and kept fresh; tokens must carry it as `iss`.
    /// Instead of `jwt_secret` or `jwks_file`; needs `jwt_audience` (docs/operations.md).
    pub oidc_issuer: Option<String>,
    /// How the identity provider's tokens are read (with `oidc_issuer`).
    pub oidc: Oidc,
    /// Required `iss` claim, when set.
    pub jwt_issuer: Option<String>,
    /// Required `aud` claim, when set.
    pub jwt_audience: Option<String>,
    /// The address users reach Candour at, for links in emails.
    pub public_url: String,
    pub log_format: LogFormat,
    /// Default tracing filter when `RUST_LOG` is not set.
    pub log_level: String,
    /// IANA time zone whose calendar decides "today" for due dates (default Europe/London).
    pub timezone: String,
    /// Incident categories (the taxonomy); empty means free text.
    pub incident_categories: Vec<String>,
    /// Base64 of 32 random bytes: the AES-256-GCM key that seals patient details.
    #[serde(serialize_with = "serialize_secret")]
    pub data_key: Option<Secret>,
    /// Earlier data keys (comma-separated base64), still read while `candour
    /// rotate-data-key` re-seals under `data_key`.
    #[serde(serialize_with = "serialize_secret")]
    pub data_key_previous: Option<Secret>,
    /// How long a break-glass grant lasts.
    pub break_glass_minutes: u32,
    pub retention: Retention,
    /// Where emails go out: `smtp://host:port` (plain, for a relay on the same host),
    /// `smtp://user:pass@host:587?tls=required` (STARTTLS) or `smtps://user:pass@host:465`
    /// (TLS). Unset: emails are queued in the outbox and wait.
    #[serde(serialize_with = "serialize_secret")]
    pub smtp_url: Option<Secret>,
    /// A PEM certificate authority to trust for the SMTP server's TLS certificate (a
    /// trust's internal CA), besides the system's and the public ones.
    pub smtp_ca_file: Option<PathBuf>,
    /// The From address of every email.
    pub mail_from: String,
    /// Bank holidays (YYYY-MM-DD) skipped when counting working days; England and Wales
    /// 2025-2028 by default.
    pub bank_holidays: Vec<String>,
    pub notify: Notify,
    /// Submission to NHS England's Learn from Patient Safety Events service (docs/lfpse.md).
    pub lfpse: Lfpse,
    /// The regulatory obligations an incident's facts give rise to, each a clock (see
    /// docs/notifications.md). Setting this replaces the built-in list whole.
    pub obligation_rules: Vec<crate::notify::rules::ObligationRule>,
    /// The trust's patient safety incident response plan: which facts of an incident
    /// suggest which learning response (docs/operations.md, "The PSIRP").
    pub psirp: crate::learning::rules::Psirp,
    pub limits: Limits,
    /// GraphQL subscriptions over websockets (docs/integrators.md, "Live events").
    pub subscriptions: Subscriptions,
    /// Signed webhooks to other systems (docs/integrators.md, "Webhooks").
    pub webhooks: Webhooks,
    /// Evidence files on records (docs/attachments.md).
    pub attachments: Attachments,
    pub diagnostics: Diagnostics,
}

/// Evidence files: limits, the types taken, and the virus scanner.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Attachments {
    /// Largest file taken, in bytes.
    pub max_bytes: u64,
    /// Largest photo taken, in bytes (and never more than `max_bytes`): a photo is held in
    /// memory while its metadata is removed, every other file is streamed chunk by chunk.
    pub max_image_bytes: u64,
    /// Most files one record may carry (removed files do not count).
    pub max_per_record: u32,
    /// The types taken, as MIME types, decided by sniffing the content (never by the
    /// file's name or the client's word). Known: image/jpeg, image/png, image/webp,
    /// image/gif, application/pdf, and the Office formats
    /// application/vnd.openxmlformats-officedocument.{wordprocessingml.document,
    /// spreadsheetml.sheet, presentationml.presentation}.
    pub allowed_types: Vec<String>,
    /// clamd to scan every file with before anyone may open it: `tcp://host:3310` or
    /// `unix:/run/clamav/clamd.ctl`. None: files are not scanned (and say so).
    pub scanner: Option<String>,
    /// Seconds a scan may take before it is given up and tried again later.
    pub scan_timeout_secs: u64,
    /// How often, in milliseconds, the scanner looks for files waiting.
    pub scan_poll_ms: u64,
    /// The wait after a failed scan (clamd unreachable) before the next try, in
    /// milliseconds; doubled for each failure after, up to 10 minutes.
    pub scan_retry_initial_ms: u64,
    /// Whether this instance scans (others leave it to those that do).
    pub scan: bool,
    /// Hours an upload may wait to be attached to a record before it is deleted.
    pub unattached_hours: u32,
}

impl Default for Attachments {
    fn default() -> Self {
        Self {
            max_bytes: 50 * 1024 * 1024,
            max_image_bytes: 25 * 1024 * 1024,
            max_per_record: 20,
            allowed_types: [
                "image/jpeg",
                "image/png",
                "image/webp",
                "image/gif",
                "application/pdf",
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                "application/vnd.openxmlformats-officedocument.presentationml.presentation",
            ]
            .map(String::from)
            .to_vec(),
            scanner: None,
            scan_timeout_secs: 60,
            scan_poll_ms: 1_000,
            scan_retry_initial_ms: 5_000,
            scan: true,
            unattached_hours: 24,
        }
    }
}

/// Webhook deliveries.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Webhooks {
    /// Hosts an endpoint may be registered at: an exact host name or address, or
    /// `*.example.nhs.uk` for any host under it. Empty: no endpoint can be registered.
    /// Link-local and cloud metadata addresses are refused whatever this says.
    pub allowed_hosts: Vec<String>,
    /// Whether this instance sends deliveries (others queue them all the same).
    pub dispatch: bool,
    /// Attempts before a delivery is dead-lettered.
    pub max_attempts: u32,
    /// The wait before the second attempt, doubled for each after (with jitter).
    pub backoff_initial_ms: u64,
    /// The longest wait between attempts.
    pub backoff_max_secs: u64,
    /// Seconds an attempt may take, connecting and answering.
    pub timeout_secs: u64,
    /// Failed attempts in a row, across an endpoint's deliveries, that disable it.
    pub disable_after_failures: u32,
    /// How often the dispatcher looks for due deliveries, in milliseconds.
    pub poll_ms: u64,
}

impl Default for Webhooks {
    fn default() -> Self {
        Self {
            allowed_hosts: Vec::new(),
            dispatch: true,
            max_attempts: 8,
            backoff_initial_ms: 5_000,
            backoff_max_secs: 3_600,
            timeout_secs: 10,
            disable_after_failures: 20,
            poll_ms: 500,
        }
    }
}

/// GraphQL subscriptions (`graphql-transport-ws` on `/graphql`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Subscriptions {
    /// Most subscriptions one connection may hold at once.
    pub max_per_connection: usize,
    /// Most connections one caller (token subject) may hold at once, across this instance.
    pub max_connections_per_principal: usize,
    /// Seconds a new connection has to send `connection_init` before it is closed (4408).
    pub init_timeout_secs: u64,
    /// Seconds between the server's pings; a connection silent for three of them is closed.
    pub keepalive_secs: u64,
    /// How often, in milliseconds, each instance looks for trail events that other
    /// instances sealed (its own it hears of at once, and on PostgreSQL others' too).
    pub poll_ms: u64,
    /// Most events a reconnecting client may ask to replay (`after`); older is refused.
    pub max_replay: i64,
}

impl Default for Subscriptions {
    fn default() -> Self {
        Self {
            max_per_connection: 10,
            max_connections_per_principal: 5,
            init_timeout_secs: 10,
            keepalive_secs: 30,
            poll_ms: 100,
            max_replay: 10_000,
        }
    }
}

/// The outbox dispatcher and the deadline scheduler.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Notify {
    /// Whether `candour serve` runs a dispatcher (`candour dispatch` runs one alone).
    pub dispatch: bool,
    /// Attempts before an email is dead-lettered for a quality lead to retry.
    pub max_attempts: u32,
    /// The wait before the first retry; each later one doubles, with jitter.
    pub backoff_initial_ms: u64,
    /// The longest wait between attempts.
    pub backoff_max_secs: u64,
    /// How long a dispatcher holds the emails it took; another takes them over after this
    /// if it died. Longer than `smtp_timeout_secs`.
    pub lease_secs: u64,
    /// How often a dispatcher looks for due emails when nothing woke it.
    pub poll_ms: u64,
    /// Emails taken per round.
    pub batch: u32,
    /// Time allowed for one SMTP exchange.
    pub smtp_timeout_secs: u64,
    /// Whether `candour serve` runs the deadline scheduler.
    pub schedule: bool,
    /// How often the scheduler looks for reminders due.
    pub schedule_interval_secs: u64,
    /// Working days before a regulatory or duty-of-candour deadline that its reminder goes.
    pub remind_working_days_before: u32,
    /// For drills and tests: the scheduler works as if it were this time. Refused in
    /// production.
    pub clock: Option<chrono::DateTime<chrono::Utc>>,
    /// A folder whose templates (same names as the built-in ones) replace the built-in.
    pub templates_dir: Option<PathBuf>,
    /// A distribution address that receives what quality leads receive.
    pub quality_leads_address: Option<String>,
    /// Per department code, a distribution address that receives what its handlers receive.
    pub department_addresses: std::collections::BTreeMap<String, String>,
}

/// LFPSE: what is submitted, where, and how the dispatcher retries. Unset `url`:
/// submissions wait in the queue, as email does without `smtp_url`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Lfpse {
    /// The AdverseEvent endpoint, e.g.
    /// `https://psims-uat.azure-api.net/adverse-event/fhir/AdverseEvent`; versions after
    /// the first are PUT to `<url>/<LFPSE id>`.
    #[serde(serialize_with = "serialize_secret")]
    pub url: Option<Secret>,
    /// Sent as the `Ocp-Apim-Subscription-Key` header (Azure API Management).
    #[serde(serialize_with = "serialize_secret")]
    pub api_key: Option<Secret>,
    /// The header the key goes in.
    pub api_key_header: String,
    /// A PEM file of extra certificate authorities to trust for `url`.
    pub ca_file: Option<PathBuf>,
    /// The trust's ODS code (the reporter's organisation), e.g. `RGT`.
    pub ods_code: Option<String>,
    /// Incident kinds that are patient-safety events for LFPSE.
    pub kinds: Vec<String>,
    /// A taxonomy file (JSON, as `api/lfpse/taxonomy-5.json`) replacing the built-in one.
    pub taxonomy_file: Option<PathBuf>,
    /// Whether `candour serve` runs the LFPSE dispatcher.
    pub dispatch: bool,
    /// Attempts before a submission is dead-lettered for a quality lead to retry.
    pub max_attempts: u32,
    /// First retry delay; doubled each attempt (with jitter) up to `backoff_max_secs`.
    pub backoff_initial_ms: u64,
    pub backoff_max_secs: u64,
    /// How long a dispatcher holds a submission it took; longer than `timeout_secs`.
    pub lease_secs: u64,
    /// How often a dispatcher looks for due submissions when nothing woke it.
    pub poll_ms: u64,
    /// Submissions taken per round.
    pub batch: u32,
    /// Time allowed for one HTTP exchange with LFPSE.
    pub timeout_secs: u64,
    /// Whether submissions also carry the account of what happened as a top-level
    /// `description`, as one LFPSE client is seen to send (docs/lfpse.md): not an element
    /// of R4's AdverseEvent, so off unless LFPSE is found to want it. The narrative
    /// (`text`) always carries it.
    pub description_element: bool,
}

impl Lfpse {
    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key, message: &str| ConfigError::Invalid {
            key,
            message: message.to_string(),
        };
        if let Some(url) = &self.url {
            let url = url.expose_secret();
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return Err(invalid("lfpse.url", "must be an http(s) address"));
            }
        }
        if let Some(code) = &self.ods_code {
            if !crate::lfpse::taxonomy::is_ods_code(code) {
                return Err(invalid(
                    "lfpse.ods_code",
                    "must be an ODS code: 3 to 6 letters and digits, such as RGT",
                ));
            }
        }
        for kind in &self.kinds {
            if crate::incident::model::IncidentKind::parse(kind).is_none() {
                return Err(invalid("lfpse.kinds", "names an unknown incident kind"));
            }
        }
        if self.max_attempts == 0 || self.batch == 0 || self.timeout_secs == 0 {
            return Err(invalid(
                "lfpse",
                "max_attempts, batch and timeout_secs must be at least 1",
            ));
        }
        if self.lease_secs <= self.timeout_secs {
            return Err(invalid(
                "lfpse.lease_secs",
                "must be longer than lfpse.timeout_secs, or a slow submission could go twice",
            ));
        }
        if let Err(e) = crate::lfpse::taxonomy::Taxonomy::load(self.taxonomy_file.as_deref()) {
            return Err(ConfigError::Invalid {
                key: "lfpse.taxonomy_file",
                message: e,
            });
        }
        Ok(())
    }
}

impl Default for Lfpse {
    fn default() -> Self {
        Self {
            url: None,
            api_key: None,
            api_key_header: "Ocp-Apim-Subscription-Key".into(),
            ca_file: None,
            ods_code: None,
            kinds: vec!["PATIENT_SAFETY".into(), "RADIATION".into()],
            taxonomy_file: None,
            dispatch: true,
            max_attempts: 8,
            backoff_initial_ms: 30_000,
            backoff_max_secs: 3600,
            lease_secs: 120,
            poll_ms: 5000,
            batch: 10,
            timeout_secs: 40,
            description_element: false,
        }
    }
}

impl Default for Notify {
    fn default() -> Self {
        Self {
            dispatch: true,
            max_attempts: 8,
            backoff_initial_ms: 30_000,
            backoff_max_secs: 3600,
            lease_secs: 120,
            poll_ms: 5000,
            batch: 20,
            smtp_timeout_secs: 30,
            schedule: true,
            schedule_interval_secs: 300,
            remind_working_days_before: 2,
            clock: None,
            templates_dir: None,
            quality_leads_address: None,
            department_addresses: Default::default(),
        }
    }
}

fn serialize_secret<S: serde::Serializer>(value: &Option<Secret>, s: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(secret) => s.serialize_some(secret.expose_secret()),
        None => s.serialize_none(),
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            environment: Environment::Development,
            database_url: "sqlite://candour.db?mode=rwc".into(),
            database_max_connections: 16,
            bind: "127.0.0.1:8080".into(),
            workers: None,
            shutdown_timeout_secs: 30,
            jwt_secret: None,
            jwks_file: None,
            oidc_issuer: None,
            oidc: Oidc::default(),
            jwt_issuer: None,
            jwt_audience: None,
            public_url: "http://127.0.0.1:8080".into(),
            log_format: LogFormat::Text,
            log_level: "info".into(),
            timezone: "Europe/London".into(),
            incident_categories: Vec::new(),
            data_key: None,
            data_key_previous: None,
            break_glass_minutes: 60,
            retention: Retention::default(),
            smtp_url: None,
            smtp_ca_file: None,
            mail_from: "Candour <candour@localhost>".into(),
            bank_holidays: crate::notify::calendar::ENGLAND_AND_WALES
                .iter()
                .map(|d| d.to_string())
                .collect(),
            notify: Notify::default(),
            lfpse: Lfpse::default(),
            obligation_rules: crate::notify::rules::defaults(),
            psirp: Default::default(),
            limits: Limits::default(),
            subscriptions: Subscriptions::default(),
            webhooks: Webhooks::default(),
            attachments: Attachments::default(),
            diagnostics: Diagnostics::default(),
        }
    }
}

/// Why the settings cannot be used; each says which key and what is wrong.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Parse(String),
    #[error("configuration: {key}: {message}")]
    Invalid { key: &'static str, message: String },
}

impl Settings {
    /// Reads defaults, then `candour.toml` (or the file named by `CANDOUR_CONFIG`), then the
    /// environment, and validates the result.
    pub fn load() -> Result<Self, ConfigError> {
        let file = std::env::var("CANDOUR_CONFIG").unwrap_or_else(|_| "candour.toml".into());
        let figment = Figment::from(Serialized::defaults(Settings::default()))
            .merge(Toml::file(&file))
            .merge(
                Env::prefixed("CANDOUR_")
                    .ignore(&["CONFIG"])
                    .split("__")
                    .map(|k| k.as_str().to_ascii_lowercase().into()),
            );
        let settings: Settings = figment.extract().map_err(|e| {
            let messages: Vec<String> = e
                .into_iter()
                .map(|e| {
                    let key = e.path.join(".").to_ascii_lowercase();
                    let source = e
                        .metadata
                        .as_ref()
                        .map(|m| m.name.to_string())
                        .unwrap_or_else(|| "settings".into());
                    format!("{key}: {} (from {source})", e.kind)
                })
                .collect();
            ConfigError::Parse(messages.join("; "))
        })?;
        settings.validate()?;
        Ok(settings)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key, message: &str| ConfigError::Invalid {
            key,
            message: message.to_string(),
        };
        if !(self.database_url.starts_with("sqlite:")
            || self.database_url.starts_with("postgres://")
            || self.database_url.starts_with("postgresql://"))
        {
            return Err(invalid(
                "database_url",
                "must start with sqlite: or postgres:// (e.g. sqlite://candour.db?mode=rwc)",
            ));
        }
        if self.database_max_connections == 0 {
            return Err(invalid("database_max_connections", "must be at least 1"));
        }
        if self.bind.parse::<std::net::SocketAddr>().is_err() {
            return Err(invalid(
                "bind",
                "must be an address and port such as 127.0.0.1:8080",
            ));
        }
        if self.workers == Some(0) {
            return Err(invalid("workers", "must be at least 1"));
        }
        if let Some(secret) = &self.jwt_secret {
            if secret.expose_secret().chars().count() < 32 {
                return Err(invalid("jwt_secret", "must be at least 32 characters"));
            }
        }
        if self.jwt_secret.is_some() && self.jwks_file.is_some() {
            return Err(invalid(
                "jwks_file",
                "set either jwt_secret (HS256) or jwks_file (RS256/ES256), not both",
            ));
        }
        if let Some(issuer) = &self.oidc_issuer {
            if self.jwt_secret.is_some() || self.jwks_file.is_some() {
                return Err(invalid(
                    "oidc_issuer",
                    "set one of jwt_secret, jwks_file and oidc_issuer",
                ));
            }
            let url = reqwest::Url::parse(issuer)
                .map_err(|_| invalid("oidc_issuer", "must be the provider's issuer URL"))?;
            if !matches!(url.scheme(), "https" | "http") || url.host_str().is_none() {
                return Err(invalid("oidc_issuer", "must be an https URL"));
            }
            if self.jwt_audience.is_none() {
                return Err(invalid(
                    "jwt_audience",
                    "oidc_issuer needs jwt_audience (the application id the provider puts in aud): without it a token the provider made for any other application would be accepted",
                ));
            }
            if self.jwt_issuer.as_deref().is_some_and(|i| i != issuer) {
                return Err(invalid(
                    "jwt_issuer",
                    "differs from oidc_issuer; leave it unset (the issuer is oidc_issuer)",
                ));
            }
            for (key, value) in self.oidc.role_values.iter().chain(&self.oidc.group_roles) {
                if crate::auth::Role::parse(value).is_none()
                    && crate::auth::Scope::parse(value).is_none()
                {
                    return Err(invalid(
                        "oidc",
                        &format!("{key} maps to {value}, which is neither a role (handler, quality_lead, ig_officer, admin) nor a scope (incidents:read, incidents:write, incidents:manage)"),
                    ));
                }
            }
            if self.oidc.refetch_min_secs == 0 || self.oidc.timeout_secs == 0 {
                return Err(invalid(
                    "oidc",
                    "refetch_min_secs and timeout_secs must be at least 1",
                ));
            }
        }
        if self.environment == Environment::Production
            && self.jwt_secret.is_none()
            && self.jwks_file.is_none()
            && self.oidc_issuer.is_none()
        {
            return Err(invalid(
                "jwt_secret",
                "production needs jwt_secret, jwks_file or oidc_issuer; a development secret is never used in production",
            ));
        }
        if self.environment == Environment::Production && self.data_key.is_none() {
            return Err(invalid(
                "data_key",
                "production needs data_key (base64 of 32 random bytes); a development key is never used in production",
            ));
        }
        if self.break_glass_minutes == 0 || self.break_glass_minutes > 24 * 60 {
            return Err(invalid(
                "break_glass_minutes",
                "must be between 1 and 1440 (a day)",
            ));
        }
        if !(self.public_url.starts_with("http://") || self.public_url.starts_with("https://")) {
            return Err(invalid("public_url", "must start with http:// or https://"));
        }
        if self.timezone.parse::<chrono_tz::Tz>().is_err() {
            return Err(invalid(
                "timezone",
                "must be an IANA time zone such as Europe/London",
            ));
        }
        if let Some(url) = &self.smtp_url {
            let url = url.expose_secret();
            if !(url.starts_with("smtp://") || url.starts_with("smtps://")) {
                return Err(invalid(
                    "smtp_url",
                    "must start with smtp:// or smtps:// (e.g. smtp://user:pass@relay:587?tls=required)",
                ));
            }
        }
        if self.mail_from.parse::<lettre::message::Mailbox>().is_err() {
            return Err(invalid(
                "mail_from",
                "must be an email address, optionally with a name: Candour <candour@trust.nhs.uk>",
            ));
        }
        if let Err(e) = crate::notify::calendar::WorkingCalendar::new(&self.bank_holidays) {
            return Err(ConfigError::Invalid {
                key: "bank_holidays",
                message: e,
            });
        }
        let n = &self.notify;
        if n.max_attempts == 0 || n.batch == 0 || n.poll_ms == 0 || n.schedule_interval_secs == 0 {
            return Err(invalid(
                "notify",
                "max_attempts, batch, poll_ms and schedule_interval_secs must be at least 1",
            ));
        }
        if n.lease_secs <= n.smtp_timeout_secs {
            return Err(invalid(
                "notify.lease_secs",
                "must be longer than notify.smtp_timeout_secs, or a slow send could go out twice",
            ));
        }
        if n.clock.is_some() && self.environment == Environment::Production {
            return Err(invalid(
                "notify.clock",
                "is for drills and tests; production runs on the real time",
            ));
        }
        for (code, address) in &n.department_addresses {
            if address.parse::<lettre::Address>().is_err() {
                return Err(ConfigError::Invalid {
                    key: "notify.department_addresses",
                    message: format!("{code}: {address:?} is not an email address"),
                });
            }
        }
        if let Some(a) = &n.quality_leads_address {
            if a.parse::<lettre::Address>().is_err() {
                return Err(invalid(
                    "notify.quality_leads_address",
                    "is not an email address",
                ));
            }
        }
        self.lfpse.validate()?;
        if let Err((key, message)) = crate::attachment::rules::check(&self.attachments) {
            return Err(ConfigError::Invalid { key, message });
        }
        if let Err(e) = crate::notify::rules::check(&self.obligation_rules) {
            return Err(ConfigError::Invalid {
                key: "obligation_rules",
                message: e,
            });
        }
        if let Err(e) = self.psirp.check() {
            return Err(ConfigError::Invalid {
                key: "psirp",
                message: e,
            });
        }
        let l = &self.limits;
        for (key, value) in [
            ("limits.max_depth", l.max_depth),
            ("limits.max_complexity", l.max_complexity),
            ("limits.max_batch", l.max_batch),
            ("limits.max_page_size", l.max_page_size as usize),
            ("limits.export_page_size", l.export_page_size as usize),
        ] {
            if value == 0 {
                return Err(invalid(key, "must be at least 1"));
            }
        }
        if l.max_body_bytes < 1024 {
            return Err(invalid("limits.max_body_bytes", "must be at least 1024"));
        }
        let s = &self.subscriptions;
        for (key, value) in [
            (
                "subscriptions.max_per_connection",
                s.max_per_connection as u64,
            ),
            (
                "subscriptions.max_connections_per_principal",
                s.max_connections_per_principal as u64,
            ),
            ("subscriptions.init_timeout_secs", s.init_timeout_secs),
            ("subscriptions.keepalive_secs", s.keepalive_secs),
            ("subscriptions.poll_ms", s.poll_ms),
        ] {
            if value == 0 {
                return Err(invalid(key, "must be at least 1"));
            }
        }
        let w = &self.webhooks;
        for (key, value) in [
            ("webhooks.max_attempts", w.max_attempts as u64),
            ("webhooks.timeout_secs", w.timeout_secs),
            (
                "webhooks.disable_after_failures",
                w.disable_after_failures as u64,
            ),
            ("webhooks.poll_ms", w.poll_ms),
        ] {
            if value == 0 {
                return Err(invalid(key, "must be at least 1"));
            }
        }
        if w.allowed_hosts
            .iter()
            .any(|h| h.trim().is_empty() || h.contains('/'))
        {
            return Err(invalid(
                "webhooks.allowed_hosts",
                "each entry is a host name or address, or *.domain",
            ));
        }
        if s.max_replay < 0 {
            return Err(invalid("subscriptions.max_replay", "must not be negative"));
        }
        if self.incident_categories.iter().any(|c| c.trim().is_empty()) {
            return Err(invalid(
                "incident_categories",
                "categories must not be blank",
            ));
        }
        Ok(())
    }

    /// Today's date in the configured time zone.
    pub fn today(&self) -> chrono::NaiveDate {
        chrono::Utc::now().with_timezone(&self.tz()).date_naive()
    }

    /// The trust's time zone (checked at start).
    pub fn tz(&self) -> chrono_tz::Tz {
        self.timezone.parse().unwrap_or(chrono_tz::Europe::London)
    }

    pub fn is_postgres(&self) -> bool {
        self.database_url.starts_with("postgres")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        Settings::default().validate().unwrap();
    }

    #[test]
    fn a_short_secret_is_rejected_by_name() {
        let s = Settings {
            jwt_secret: Some(Secret::from("short".to_string())),
            ..Settings::default()
        };
        let err = s.validate().unwrap_err().to_string();
        assert!(err.contains("jwt_secret"), "{err}");
        assert!(
            !err.contains("short"),
            "the secret itself must not be printed: {err}"
        );
    }

    #[test]
    fn production_without_keys_is_rejected() {
        let s = Settings {
            environment: Environment::Production,
            ..Settings::default()
        };
        assert!(s.validate().is_err());
    }

    #[test]
    fn a_bad_bind_address_is_rejected() {
        let s = Settings {
            bind: "localhost".into(),
            ..Settings::default()
        };
        assert!(s.validate().unwrap_err().to_string().contains("bind"));
    }
}
