//! GraphQL over HTTP (the GraphQL-over-HTTP specification): POST with JSON for everything,
//! GET for queries only, content negotiation between `application/graphql-response+json`
//! and `application/json`, and status codes that say whether the request was executed.
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use async_graphql::parser::types::OperationType;
use async_graphql::{BatchRequest, BatchResponse, ErrorExtensionValues, ServerError, Value};
use futures_util::FutureExt;

use super::limits::Documents;
use super::loaders::Loaders;
use super::CandourSchema;
use crate::auth::Principal;
use crate::context::{AppState, RequestCtx};
use crate::telemetry::RequestId;
use crate::trail::access::{self, AccessRecorder};

const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";
const JSON: &str = "application/json";

#[derive(Clone, Copy, PartialEq, Eq)]
enum MediaType {
    GraphqlResponse,
    Json,
}

impl MediaType {
    fn header(self) -> &'static str {
        match self {
            Self::GraphqlResponse => "application/graphql-response+json; charset=utf-8",
            Self::Json => "application/json; charset=utf-8",
        }
    }
}

/// Picks the response media type from Accept; None means nothing acceptable (406).
fn negotiate(req: &HttpRequest) -> Option<MediaType> {
    let Some(accept) = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
    else {
        // The specification's default for clients that do not say.
        return Some(MediaType::Json);
    };
    let mut best: Option<(f32, MediaType)> = None;
    for part in accept.split(',') {
        let mut pieces = part.split(';');
        let mime = pieces.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = pieces
            .filter_map(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
            })
            .next()
            .unwrap_or(1.0);
        let media = match mime.as_str() {
            GRAPHQL_RESPONSE => MediaType::GraphqlResponse,
            JSON | "application/*" | "*/*" => MediaType::Json,
            _ => continue,
        };
        if q <= 0.0 {
            continue;
        }
        let better = match best {
            None => true,
            Some((bq, bm)) => {
                q > bq || (q == bq && bm == MediaType::Json && media == MediaType::GraphqlResponse)
            }
        };
        if better {
            best = Some((q, media));
        }
    }
    best.map(|(_, m)| m)
}

/// A request-level error response (nothing executed), in the negotiated media type.
fn request_error(status: StatusCode, media: MediaType, message: &str) -> HttpResponse {
    let body = serde_json::json!({
        "errors": [{ "message": message, "extensions": { "code": "BAD_USER_INPUT" } }]
    });
    HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, media.header()))
        .body(body.to_string())
}

pub(crate) async fn principal_of(
    state: &AppState,
    req: &HttpRequest,
) -> Result<Option<Principal>, crate::auth::TokenError> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| crate::auth::TokenError::Malformed)?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .ok_or(crate::auth::TokenError::Malformed)?
        .trim();
    let claims = state.authenticator.authenticate(token).await?;
    Ok(Some(Principal::from_claims(claims)))
}

/// Gives every error a code: errors the schema raised before execution (parse, validation,
/// limits) carry none of ours, and they are all the client's to fix.
pub(crate) fn ensure_codes(resp: &mut async_graphql::Response) {
    resp.errors.iter_mut().for_each(ensure_code);
}

/// Gives one error the client's code when it carries none.
pub(crate) fn ensure_code(err: &mut ServerError) {
    let ext = err
        .extensions
        .get_or_insert_with(ErrorExtensionValues::default);
    if ext.get("code").is_none() {
        ext.set("code", "BAD_USER_INPUT");
    }
}

/// Whether the request was refused before execution (no data, errors without a path).
fn is_request_error(resp: &async_graphql::Response) -> bool {
    resp.data == Value::Null
        && !resp.errors.is_empty()
        && resp.errors.iter().all(|e| e.path.is_empty())
}

/// The body for one response: as async-graphql serialises it (fields in the order the
/// query asked for them), except that a request error carries no `data` entry at all.
#[derive(serde::Serialize)]
#[serde(untagged)]
enum Body<'a> {
    Executed(&'a async_graphql::Response),
    Refused {
        errors: &'a [async_graphql::ServerError],
    },
}

fn body_of(resp: &async_graphql::Response) -> Body<'_> {
    if is_request_error(resp) {
        Body::Refused {
            errors: &resp.errors,
        }
    } else {
        Body::Executed(resp)
    }
}

/// Gives each request of the batch its parsed document (from the cache when the query was
/// seen before), checked against the document limits. Returns what remains to run, and the
/// refused ones by their place in the batch, each with the error that refuses it.
fn prepare_documents(
    documents: &Documents,
    batch: BatchRequest,
) -> (Option<BatchRequest>, Vec<(usize, ServerError)>) {
    match batch {
        BatchRequest::Single(mut r) => match documents.prepare(&mut r) {
            Ok(()) => (Some(BatchRequest::Single(r)), Vec::new()),
            Err(e) => (None, vec![(0, e)]),
        },
        BatchRequest::Batch(rs) => {
            let mut run = Vec::with_capacity(rs.len());
            let mut refused = Vec::new();
            for (i, mut r) in rs.into_iter().enumerate() {
                match documents.prepare(&mut r) {
                    Ok(()) => run.push(r),
                    Err(e) => refused.push((i, e)),
                }
            }
            (
                (!run.is_empty()).then_some(BatchRequest::Batch(run)),
                refused,
            )
        }
    }
}

/// The responses of a batch with its refused requests' errors put back in their places.
fn with_refused(
    response: BatchResponse,
    refused: Vec<(usize, ServerError)>,
    single: bool,
) -> BatchResponse {
    if single {
        return match refused.into_iter().next() {
            Some((_, e)) => BatchResponse::Single(async_graphql::Response::from_errors(vec![e])),
            None => response,
        };
    }
    let BatchResponse::Batch(ran) = response else {
        return response;
    };
    let total = ran.len() + refused.len();
    let mut ran = ran.into_iter();
    let mut refused = refused.into_iter().peekable();
    let mut out = Vec::with_capacity(total);
    for i in 0..total {
        match refused.next_if(|(j, _)| *j == i) {
            Some((_, e)) => out.push(async_graphql::Response::from_errors(vec![e])),
            None => out.extend(ran.next()),
        }
    }
    BatchResponse::Batch(out)
}

async fn execute(
    svc: &GraphqlService,
    req: &HttpRequest,
    batch: BatchRequest,
    media: MediaType,
) -> HttpResponse {
    let (schema, state) = (&svc.schema, &svc.state);
    let request_id = req
        .extensions()
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default();
    let auth = principal_of(state, req).await;
    let purpose = match access::purpose_from(
        req.headers()
            .get(access::PURPOSE_HEADER)
            .map(|v| v.to_str().unwrap_or("\u{7}")),
    ) {
        Ok(p) => p,
        Err(message) => return request_error(StatusCode::BAD_REQUEST, media, &message),
    };
    let recorder = Arc::new(AccessRecorder::default());
    let batch_len = match &batch {
        BatchRequest::Single(_) => 1,
        BatchRequest::Batch(rs) => rs.len(),
    };
    let ctx = || {
        RequestCtx::new(
            request_id.clone(),
            auth.clone(),
            recorder.clone(),
            purpose.clone(),
            batch_len,
        )
    };
    let single = matches!(batch, BatchRequest::Single(_));
    let (batch, refused) = prepare_documents(&svc.documents, batch);
    let batch = batch.map(|batch| match batch {
        BatchRequest::Single(r) => {
            BatchRequest::Single(r.data(ctx()).data(Loaders::new(&state.db.conn)))
        }
        BatchRequest::Batch(rs) => BatchRequest::Batch(
            rs.into_iter()
                .map(|r| r.data(ctx()).data(Loaders::new(&state.db.conn)))
                .collect(),
        ),
    });
    // Unconstrained by tokio's cooperative budget: a page resolves its rows' fields in one
    // pass, so every DataLoader key of a level is registered before the batch is sent.
    // Under the budget a busy worker could be made to yield half-way through a page, and
    // the rest of the page's keys would go out in a second batch.
    let run = tokio::task::unconstrained(async {
        let ran = match batch {
            Some(batch) => {
                AssertUnwindSafe(schema.execute_batch(batch))
                    .catch_unwind()
                    .await?
            }
            None => BatchResponse::Batch(Vec::new()),
        };
        Ok::<_, Box<dyn std::any::Any + Send>>(with_refused(ran, refused, single))
    });
    // The access log is written before anything is answered, in the same count.
    let run = async {
        let outcome = run.await;
        // Staff are known from their tokens: a person's record (roles, departments, email)
        // is refreshed on sight, at most once per quarter hour, so emails find them. Not
        // after an anonymous report, and not for a request that was refused in any part: a
        // refused request leaves no record of its caller.
        if let (Ok(Some(p)), Ok(answered)) = (&auth, &outcome) {
            if !p.is_service() && !recorder.anonymous() && answered.is_ok() {
                if let Err(e) = crate::org::service::upsert_staff(state, p).await {
                    tracing::warn!(
                        error = e.code(),
                        "recording the caller's staff record failed"
                    );
                }
            }
        }
        let logged = match &outcome {
            Ok(_) => {
                let notes = recorder.take();
                let principal = auth.as_ref().ok().and_then(|p| p.as_ref());
                match read_by(state, principal, &notes).await {
                    Ok(reader) => {
                        access::write(
                            state,
                            reader.as_ref(),
                            &request_id,
                            purpose.as_deref(),
                            notes,
                        )
                        .await
                    }
                    Err(e) => Err(e),
                }
            }
            Err(_) => Ok(()),
        };
        (outcome, logged)
    };
    let ((outcome, logged), statements) =
        crate::db::count_statements(run, state.settings.diagnostics.sql_statement_count).await;
    let internal = |what: &str| {
        tracing::error!("{what}");
        let body = serde_json::json!({
            "errors": [{ "message": "internal error", "extensions": { "code": "INTERNAL" } }]
        });
        HttpResponse::InternalServerError()
            .insert_header((header::CONTENT_TYPE, media.header()))
            .body(body.to_string())
    };
    let response = match outcome {
        Ok(r) => r,
        Err(_) => return internal("request handler panicked"),
    };
    if logged.is_err() {
        // Fail closed: sensitive values are not sent when their access is not on record.
        return internal("access log write failed; response withheld");
    }
    let (status, body) = match response {
        BatchResponse::Single(mut r) => {
            ensure_codes(&mut r);
            let status = if media == MediaType::GraphqlResponse && is_request_error(&r) {
                StatusCode::BAD_REQUEST
            } else {
                StatusCode::OK
            };
            (status, serde_json::to_vec(&body_of(&r)))
        }
        BatchResponse::Batch(mut rs) => {
            rs.iter_mut().for_each(ensure_codes);
            let bodies: Vec<Body<'_>> = rs.iter().map(body_of).collect();
            (StatusCode::OK, serde_json::to_vec(&bodies))
        }
    };
    let body = match body {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(error = %e, "response serialisation failed");
            return HttpResponse::InternalServerError()
                .insert_header((header::CONTENT_TYPE, media.header()))
                .body(
                    r#"{"errors":[{"message":"internal error","extensions":{"code":"INTERNAL"}}]}"#,
                );
        }
    };
    let mut http = HttpResponse::build(status);
    http.insert_header((header::CONTENT_TYPE, media.header()));
    if state.settings.diagnostics.sql_statement_count {
        http.insert_header(("x-sql-statements", HeaderValue::from(statements.count())));
        // Which statements, in the order they ran: for tests and benchmarks that look for
        // an N+1 or a statement that should not be there.
        if let Ok(v) = HeaderValue::from_str(&statements.heads().join(" | ")) {
            http.insert_header(("x-sql-log", v));
        }
    }
    http.body(body)
}

pub struct GraphqlService {
    pub schema: CandourSchema,
    pub state: Arc<AppState>,
    pub documents: Documents,
}

/// POST /graphql
pub async fn post(
    req: HttpRequest,
    body: web::Bytes,
    svc: web::Data<GraphqlService>,
) -> HttpResponse {
    let Some(media) = negotiate(&req) else {
        return HttpResponse::NotAcceptable()
            .insert_header((header::CONTENT_TYPE, "text/plain; charset=utf-8"))
            .body("Accept application/graphql-response+json or application/json");
    };
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        });
    if content_type.as_deref() != Some(JSON) {
        return HttpResponse::UnsupportedMediaType()
            .insert_header((header::CONTENT_TYPE, "text/plain; charset=utf-8"))
            .body("send the GraphQL request as application/json");
    }
    let batch: BatchRequest = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => {
            // serde_json's message names a line and column, never the content.
            return request_error(
                StatusCode::BAD_REQUEST,
                media,
                &format!("the body is not a GraphQL request: {e}"),
            );
        }
    };
    if let BatchRequest::Batch(items) = &batch {
        let max = svc.state.settings.limits.max_batch;
        if items.is_empty() || items.len() > max {
            return request_error(
                StatusCode::BAD_REQUEST,
                media,
                &format!("a batch holds 1 to {max} operations"),
            );
        }
    }
    execute(&svc, &req, batch, media).await
}

/// The type of the operation a GET request would run, or a message why it cannot tell.
pub(crate) fn operation_type(request: &async_graphql::Request) -> Result<OperationType, String> {
    let doc = async_graphql::parser::parse_query(&request.query).map_err(|e| e.to_string())?;
    let op = match (&request.operation_name, &doc.operations) {
        (_, async_graphql::parser::types::DocumentOperations::Single(op)) => op.node.ty,
        (Some(name), async_graphql::parser::types::DocumentOperations::Multiple(ops)) => ops
            .get(name.as_str())
            .map(|op| op.node.ty)
            .ok_or_else(|| format!("no operation named {name}"))?,
        (None, async_graphql::parser::types::DocumentOperations::Multiple(ops)) => {
            if ops.len() == 1 {
                ops.values()
                    .next()
                    .map(|op| op.node.ty)
                    .unwrap_or(OperationType::Query)
            } else {
                return Err("name the operation to run (operationName)".into());
            }
        }
    };
    Ok(op)
}

/// GET /graphql: a query in the URL, GraphiQL for a browser, or a websocket for
/// subscriptions (`ws`).
pub async fn get(
    req: HttpRequest,
    body: web::Payload,
    svc: web::Data<GraphqlService>,
) -> HttpResponse {
    if super::ws::is_upgrade(&req) {
        return super::ws::upgrade(req, body, svc).await;
    }
    let qs = req.query_string();
    let wants_html = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    if wants_html && !qs.contains("query=") {
        return crate::web::graphiql(&req);
    }
    let Some(media) = negotiate(&req) else {
        return HttpResponse::NotAcceptable()
            .insert_header((header::CONTENT_TYPE, "text/plain; charset=utf-8"))
            .body("Accept application/graphql-response+json or application/json");
    };
    let request = match async_graphql::http::parse_query_string(qs) {
        Ok(r) => r,
        Err(e) => {
            return request_error(
                StatusCode::BAD_REQUEST,
                media,
                &format!("the query string is not a GraphQL request: {e}"),
            );
        }
    };
    match operation_type(&request) {
        Ok(OperationType::Query) => {}
        Ok(_) => {
            return HttpResponse::MethodNotAllowed()
                .insert_header((header::ALLOW, "POST"))
                .insert_header((header::CONTENT_TYPE, media.header()))
                .body(
                    serde_json::json!({"errors": [{"message": "mutations and subscriptions are sent with POST", "extensions": {"code": "BAD_USER_INPUT"}}]})
                        .to_string(),
                );
        }
        Err(message) => return request_error(StatusCode::BAD_REQUEST, media, &message),
    }
    execute(&svc, &req, BatchRequest::Single(request), media).await
}

/// Who made a request's sensitive reads, for the access log: a person's staff record is
/// written (or refreshed) first, since the log names them by it.
pub(crate) async fn read_by(
    state: &AppState,
    principal: Option<&Principal>,
    notes: &[crate::trail::access::AccessNote],
) -> crate::error::AppResult<Option<crate::trail::Actor>> {
    let Some(p) = principal else {
        return Ok(None);
    };
    if notes.is_empty() {
        return Ok(None);
    }
    let staff = if p.is_service() {
        None
    } else {
        Some(crate::org::service::upsert_staff(state, p).await?)
    };
    Ok(Some(crate::trail::Actor::of(p, staff)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn accept(v: &str) -> Option<MediaType> {
        negotiate(
            &TestRequest::default()
                .insert_header((header::ACCEPT, v))
                .to_http_request(),
        )
    }

    #[test]
    fn content_negotiation() {
        assert!(accept(GRAPHQL_RESPONSE) == Some(MediaType::GraphqlResponse));
        assert!(accept("application/json") == Some(MediaType::Json));
        assert!(accept("*/*") == Some(MediaType::Json));
        assert!(
            accept("application/json;q=0.9, application/graphql-response+json")
                == Some(MediaType::GraphqlResponse)
        );
        assert!(accept("text/html").is_none());
        assert!(negotiate(&TestRequest::default().to_http_request()) == Some(MediaType::Json));
    }
}
