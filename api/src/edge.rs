//! What the plain HTTP routes beside GraphQL (CSV exports, attachments) share: the caller
//! of a request, and refusals shaped like GraphQL errors so clients read one format.
use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{HttpMessage, HttpRequest, HttpResponse};
use serde_json::json;

use crate::context::{AppState, RequestCtx};
use crate::error::{AppError, AppResult};
use crate::record::text::reason;
use crate::telemetry::RequestId;
use crate::trail::access::{self, AccessRecorder};

/// The caller of a plain HTTP request (not GraphQL); Err answers a bad
/// `x-access-purpose`.
pub async fn request_ctx(req: &HttpRequest, state: &AppState) -> AppResult<RequestCtx> {
    let request_id = req
        .extensions()
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default();
    let auth = crate::graphql::http::principal_of(state, req).await;
    let purpose = access::purpose_from(
        req.headers()
            .get(access::PURPOSE_HEADER)
            .map(|v| v.to_str().unwrap_or("\u{7}")),
    )
    .map_err(|m| AppError::invalid(access::PURPOSE_HEADER, m).because(reason::MALFORMED))?;
    let recorder = Arc::new(AccessRecorder::default());
    Ok(RequestCtx::new(request_id, auth, recorder, purpose, 1))
}

/// Writes the sensitive reads noted so far in the request to the access log, one event per
/// record, and returns once they are committed: call it before the bytes read go out.
pub async fn write_reads(state: &AppState, rc: &RequestCtx) -> AppResult<()> {
    let notes = rc.access.take();
    if notes.is_empty() {
        return Ok(());
    }
    let principal = rc.principal().ok();
    let reader = crate::graphql::http::read_by(state, principal, &notes).await?;
    access::write(
        state,
        reader.as_ref(),
        &rc.request_id,
        rc.purpose.as_deref(),
        notes,
    )
    .await
}

/// A refused request, as JSON shaped like a GraphQL error (`errors[0].extensions.code`,
/// and `field` for bad input), with the status that fits it.
pub fn refusal(e: AppError) -> HttpResponse {
    let status = match &e {
        AppError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
        AppError::Forbidden(_) => StatusCode::FORBIDDEN,
        AppError::NotFound(_) => StatusCode::NOT_FOUND,
        AppError::Invalid { .. } => StatusCode::BAD_REQUEST,
        AppError::Conflict { .. } | AppError::Duplicate(_) => StatusCode::CONFLICT,
        AppError::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    if let AppError::Internal(detail) = &e {
        tracing::error!(detail = %detail, "request failed");
    }
    let field = match &e {
        AppError::Invalid { field, reason, .. } => Some((field.as_str(), *reason)),
        _ => None,
    };
    refusal_with(status, e.code(), &e.message(), field)
}

pub fn refusal_with(
    status: StatusCode,
    code: &str,
    message: &str,
    field: Option<(&str, &str)>,
) -> HttpResponse {
    let mut extensions = json!({ "code": code });
    if let Some((field, reason)) = field {
        extensions["field"] = json!(field);
        extensions["reason"] = json!(reason);
    }
    let mut resp = HttpResponse::build(status);
    resp.insert_header(("Content-Type", "application/json"))
        .insert_header(("Cache-Control", "no-store"));
    if status == StatusCode::UNAUTHORIZED {
        resp.insert_header(("WWW-Authenticate", "Bearer"));
    }
    resp.body(
        serde_json::to_vec(
            &json!({ "errors": [{ "message": message, "extensions": extensions }] }),
        )
        .unwrap_or_default(),
    )
}
