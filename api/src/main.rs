//! The `candour` command: serve (default), migrate, token, schema.
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use candour::auth::{Claims, Role, Scope};
use candour::config::Settings;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "candour",
    version,
    about = "Incident, audit and improvement governance API"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP server (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Mint a JWT for development or for a service account.
    Token(Box<TokenArgs>),
    /// Print the GraphQL schema (SDL) the server serves.
    Schema,
    /// Check the audit trail's hash chain; print the head to anchor it externally. Exits 1
    /// when the chain is broken, naming the first broken link.
    VerifyTrail,
    /// Print a new random data key (base64 of 32 bytes) for CANDOUR_DATA_KEY.
    GenerateDataKey,
    /// Re-seal all patient details under CANDOUR_DATA_KEY (earlier keys listed in
    /// CANDOUR_DATA_KEY_PREVIOUS), and recompute their look-up hashes.
    RotateDataKey,
    /// Dispose of every record past its retention date that has no legal hold: remove its
    /// content, keep a tombstone, write a trail event.
    Dispose,
    /// Fill the database with realistic synthetic data (departments, staff, incidents over
    /// five years, actions, audits, improvement projects, a sealed trail) for
    /// demonstrations and benchmarks. Run it while no server writes to the database.
    Seed(SeedArgs),
    /// Send queued email and raise deadline reminders without serving HTTP (the scheduler
    /// too unless notify.schedule is false), until SIGTERM or SIGINT.
    Dispatch,
    /// Recount the dashboard's rollups from the records (after restoring a database from
    /// backup, for instance). Changes to incidents and actions wait while it runs.
    RebuildRollups,
    /// Recount the dashboard's rollups and compare them with what is stored. Exits 1 when
    /// they differ, listing the first differences.
    VerifyRollups,
}

#[derive(clap::Args)]
struct SeedArgs {
    /// How many incidents.
    #[arg(long, default_value_t = 10_000)]
    incidents: u64,
    /// The random seed (the same seed on an empty database gives the same data).
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

#[derive(clap::Args)]
struct TokenArgs {
    /// The subject (`sub`): a stable user or service id.
    #[arg(long)]
    subject: String,
    #[arg(long)]
    name: Option<String>,
    #[arg(long)]
    email: Option<String>,
    /// Roles: staff, handler, quality_lead, ig_officer, admin (repeat or comma-separate).
    #[arg(long, value_delimiter = ',')]
    role: Vec<String>,
    /// Department codes the holder handles (repeat or comma-separate).
    #[arg(long = "department", value_delimiter = ',')]
    departments: Vec<String>,
    /// Service-account scopes, e.g. "incidents:read incidents:write".
    #[arg(long)]
    scope: Option<String>,
    /// Lifetime, e.g. 30m, 8h, 90d.
    #[arg(long, default_value = "8h")]
    lifetime: String,
    /// Sign with this PEM private key (RS256/ES256) instead of the HS256 secret.
    #[arg(long)]
    private_key: Option<PathBuf>,
    /// Algorithm for --private-key: RS256 or ES256.
    #[arg(long, default_value = "RS256")]
    algorithm: String,
    /// Key id (`kid`) for --private-key, as in the JWKS.
    #[arg(long)]
    kid: Option<String>,
    /// Print a sign-in link for the intranet pages, `<public_url>/#token=…`, instead of the
    /// bare token. The token rides in the fragment, which browsers never send to a server.
    #[arg(long)]
    link: bool,
}

fn parse_lifetime(s: &str) -> Result<i64, String> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: i64 = num
        .parse()
        .map_err(|_| format!("lifetime {s:?}: expected e.g. 30m, 8h, 90d"))?;
    let secs = match unit {
        "s" => n,
        "m" | "" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => return Err(format!("lifetime {s:?}: unit must be s, m, h or d")),
    };
    if secs <= 0 {
        return Err("lifetime must be positive".into());
    }
    Ok(secs)
}

fn mint(settings: &Settings, args: TokenArgs) -> Result<String, String> {
    for role in &args.role {
        if Role::parse(role).is_none() {
            return Err(format!(
                "unknown role {role:?}: staff, handler, quality_lead, ig_officer or admin"
            ));
        }
    }
    if let Some(scope) = &args.scope {
        for s in scope.split_whitespace() {
            if Scope::parse(s).is_none() {
                return Err(format!(
                    "unknown scope {s:?}: incidents:read, incidents:write or incidents:manage"
                ));
            }
        }
    }
    let now = chrono::Utc::now().timestamp();
    let claims = Claims {
        sub: args.subject,
        name: args.name,
        email: args.email,
        roles: args.role,
        departments: args.departments,
        scope: args.scope,
        exp: now + parse_lifetime(&args.lifetime)?,
        iat: Some(now),
        iss: settings.jwt_issuer.clone(),
        aud: settings.jwt_audience.clone(),
    };
    match args.private_key {
        Some(path) => {
            let pem = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            let alg = match args.algorithm.to_ascii_uppercase().as_str() {
                "RS256" => jsonwebtoken::Algorithm::RS256,
                "ES256" => jsonwebtoken::Algorithm::ES256,
                other => return Err(format!("algorithm {other:?}: RS256 or ES256")),
            };
            candour::auth::mint_token(&claims, None, Some((&pem, alg, args.kid)))
        }
        None => {
            let secret = candour::auth::dev_secret(settings)?;
            candour::auth::mint_token(&claims, secret.as_ref(), None)
        }
    }
}

async fn run(cli: Cli) -> Result<(), String> {
    let command = cli.command.unwrap_or(Command::Serve);
    if let Command::Schema = command {
        print!("{}", candour::graphql::sdl());
        return Ok(());
    }
    if let Command::GenerateDataKey = command {
        println!("{}", candour::protect::generate_key());
        return Ok(());
    }
    let settings = Settings::load().map_err(|e| e.to_string())?;
    let connect = || async {
        let db = candour::db::Db::connect(&settings).await.map_err(|e| {
            format!(
                "cannot open the database: {}",
                candour::error::db_error_kind(&e)
            )
        })?;
        db.migrate()
            .await
            .map_err(|e| format!("migrations failed: {e}"))?;
        Ok::<_, String>(db)
    };
    match command {
        Command::Serve => {
            candour::telemetry::init(&settings);
            let app = candour::startup::Application::build(settings.clone())
                .await
                .map_err(|e| e.to_string())?;
            tracing::info!(
                bind = %settings.bind,
                port = app.port(),
                database = %candour::startup::redact_url(&settings.database_url),
                "candour serving"
            );
            app.run_until_stopped().await.map_err(|e| e.to_string())
        }
        Command::Migrate => {
            let db = candour::db::Db::connect(&settings).await.map_err(|e| {
                format!(
                    "cannot open the database: {}",
                    candour::error::db_error_kind(&e)
                )
            })?;
            db.migrate()
                .await
                .map_err(|e| format!("migrations failed: {e}"))?;
            eprintln!("candour: migrations applied");
            Ok(())
        }
        Command::Token(args) => {
            let link = args.link;
            let token = mint(&settings, *args)?;
            if link {
                println!(
                    "{}",
                    candour::web::sign_in_link(&settings.public_url, &token)
                );
            } else {
                println!("{token}");
            }
            Ok(())
        }
        Command::VerifyTrail => {
            let db = connect().await?;
            let started = std::time::Instant::now();
            let i = candour::trail::chain::verify(&db).await.map_err(|e| {
                format!(
                    "reading the trail failed: {}",
                    candour::error::db_error_kind(&e)
                )
            })?;
            let elapsed = started.elapsed().as_secs_f64();
            match &i.first_broken {
                None => {
                    println!(
                        "trail intact: {} events checked in {elapsed:.1} s; head {} {}; {} not yet sealed",
                        i.checked, i.head_seq, i.head_hash, i.unsealed
                    );
                    Ok(())
                }
                Some(b) => {
                    println!(
                        "trail BROKEN at event {}{}: {} ({} events verified before it)",
                        b.seq,
                        b.event_id
                            .map(|id| format!(" (id {id})"))
                            .unwrap_or_default(),
                        b.problem,
                        i.checked
                    );
                    // Exit status 1: verified, and broken (2 is for failing to verify).
                    use std::io::Write;
                    let _ = std::io::stdout().flush();
                    std::process::exit(1);
                }
            }
        }
        Command::RotateDataKey => {
            let db = connect().await?;
            let keys =
                candour::protect::KeyRing::from_settings(&settings).map_err(|e| e.to_string())?;
            let r = candour::protect::rotate(&db, &keys)
                .await
                .map_err(|e| e.to_string())?;
            println!(
                "re-sealed {} incidents under key {}; re-keyed {} access-log entries; re-sealed {} webhook secrets; re-sealed {} attachments",
                r.incidents_resealed,
                keys.current_key_id(),
                r.access_events_rekeyed,
                r.webhook_secrets_resealed,
                r.attachments_resealed
            );
            Ok(())
        }
        Command::Dispose => {
            let db = connect().await?;
            let d = candour::governance::retention::dispose_due(
                &db,
                &settings,
                &candour::trail::Actor::system("dispose"),
                None,
            )
            .await
            .map_err(|e| format!("disposal failed: {}", e.code()))?;
            println!(
                "disposed of {} incidents, {} audits, {} improvement projects, {} learning responses; {} held by legal hold",
                d.incidents, d.audits, d.improvement_projects, d.learning_responses, d.held
            );
            Ok(())
        }
        Command::Seed(args) => {
            let db = connect().await?;
            let r = candour::seed::run(
                &db,
                candour::seed::Options {
                    incidents: args.incidents,
                    seed: args.seed,
                    timezone: settings.timezone.clone(),
                },
            )
            .await
            .map_err(|e| format!("seeding failed: {}", candour::error::db_error_kind(&e)))?;
            println!(
                "seeded {} incidents ({} corrective actions, {} trail events sealed), {} departments and {} staff added, {} audits, {} improvement projects with {} measurements, in {:.1} s",
                r.incidents,
                r.corrective_actions,
                r.trail_events,
                r.departments,
                r.staff,
                r.audits,
                r.improvement_projects,
                r.measurements,
                r.seconds
            );
            Ok(())
        }
        Command::Dispatch => {
            candour::telemetry::init(&settings);
            if settings.smtp_url.is_none() {
                return Err(
                    "configuration: smtp_url: dispatch needs an SMTP server (CANDOUR_SMTP_URL)"
                        .into(),
                );
            }
            let schedule = settings.notify.schedule;
            let state = candour::startup::prepare(settings)
                .await
                .map_err(|e| e.to_string())?;
            candour::startup::start_background(&state, true, schedule)
                .map_err(|e| e.to_string())?;
            wait_for_signal().await;
            tracing::info!("stopping the dispatcher");
            state.stop.cancel();
            // In-flight sends finish or are left to their leases.
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            Ok(())
        }
        Command::RebuildRollups => {
            let db = connect().await?;
            let r = candour::dashboard::rollup::rebuild(&db, settings.tz(), &settings.timezone)
                .await
                .map_err(|e| format!("recounting failed: {}", candour::error::db_error_kind(&e)))?;
            println!(
                "rollups recounted in {:.1} s ({}): {} count rows, {} duration sketches, {} action rows",
                r.seconds, settings.timezone, r.count_rows, r.duration_rows, r.action_rows
            );
            Ok(())
        }
        Command::VerifyRollups => {
            let db = connect().await?;
            let started = std::time::Instant::now();
            let v = candour::dashboard::rollup::verify(&db, settings.tz())
                .await
                .map_err(|e| format!("recounting failed: {}", candour::error::db_error_kind(&e)))?;
            let elapsed = started.elapsed().as_secs_f64();
            if v.mismatches.is_empty() {
                println!(
                    "rollups match a recount of {} incidents ({elapsed:.1} s)",
                    v.incidents
                );
                return Ok(());
            }
            println!(
                "rollups DIFFER from a recount of {} incidents in {} places; the first:",
                v.incidents,
                v.mismatches.len()
            );
            for m in v.mismatches.iter().take(20) {
                println!("  {m}");
            }
            use std::io::Write;
            let _ = std::io::stdout().flush();
            std::process::exit(1);
        }
        Command::Schema | Command::GenerateDataKey => unreachable!("handled above"),
    }
}

async fn wait_for_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(t) => t,
                Err(_) => {
                    let _ = interrupt.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match actix_web::rt::System::new().block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("candour: {message}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_lifetime;

    #[test]
    fn lifetimes() {
        assert_eq!(parse_lifetime("30m").unwrap(), 1800);
        assert_eq!(parse_lifetime("8h").unwrap(), 28_800);
        assert_eq!(parse_lifetime("90d").unwrap(), 7_776_000);
        assert!(parse_lifetime("soon").is_err());
        assert!(parse_lifetime("0h").is_err());
    }
}
