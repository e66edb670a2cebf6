//! Logging (human-readable or JSON) and the request-id middleware: one span per request,
//! carrying the id that is also returned in the `x-request-id` header.
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::HttpMessage;
use tracing::Instrument;
use tracing_subscriber::{fmt, EnvFilter};

use crate::config::{LogFormat, Settings};

pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The id of the request being served (request extension).
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

/// The log filter: the configured level, with the database drivers held at `warn` whatever
/// the level (at debug they would print statements with their bound values, which may be
/// sensitive).
pub fn filter(settings: &Settings) -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new(format!("{},sqlx=warn,sea_orm=warn", settings.log_level))
    })
}

/// Installs the global subscriber once; later calls (tests) are ignored.
pub fn init(settings: &Settings) {
    init_with_writer(settings, std::io::stderr);
}

/// Installs the global subscriber writing to `writer` (the test suite captures the logs
/// this way to check that no sensitive value reaches them).
pub fn init_with_writer<W>(settings: &Settings, writer: W)
where
    W: for<'w> fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = filter(settings);
    let _ = match settings.log_format {
        LogFormat::Json => fmt()
            .json()
            .with_env_filter(filter)
            .with_current_span(true)
            .with_writer(writer)
            .try_init(),
        LogFormat::Text => fmt().with_env_filter(filter).with_writer(writer).try_init(),
    };
}

/// Accepts a client's request id when it is short and plain; otherwise makes one.
fn request_id_from(req: &ServiceRequest) -> String {
    req.headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        })
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string())
}

/// actix middleware: span per request, request id in and out, one line per response.
pub async fn request_span(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = request_id_from(&req);
    req.extensions_mut().insert(RequestId(id.clone()));
    // The path only, never the query string: GET queries may carry values.
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %req.method(),
        path = %req.path()
    );
    let started = Instant::now();
    let result = next.call(req).instrument(span.clone()).await;
    let _enter = span.enter();
    match result {
        Ok(mut res) => {
            if let Ok(v) = HeaderValue::from_str(&id) {
                res.headers_mut()
                    .insert(HeaderName::from_static(REQUEST_ID_HEADER), v);
            }
            tracing::info!(
                status = res.status().as_u16(),
                elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
                "served"
            );
            Ok(res)
        }
        Err(e) => {
            tracing::warn!(
                elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
                "request failed"
            );
            Err(e)
        }
    }
}
