//! The two routes of attachments (docs/attachments.md):
//!
//! - `POST /attachments?fileName=<name>` with the file's bytes as the body (any
//!   Content-Type; the type is sniffed) and the bearer token: stores the upload and answers
//!   `201 {"attachment": {...}}` with its id, which `reportIncident` or `attachFiles` then
//!   attach. One upload endpoint rather than GraphQL's multipart request: the body is the
//!   file itself, streamed into sealed chunks as it arrives (no multipart parsing, no
//!   temporary file), a browser reports progress on it with a plain XMLHttpRequest, and
//!   the GraphQL mutations stay JSON.
//! - `GET /attachments/<id>` with the bearer token: the file, always as a download
//!   (`Content-Disposition: attachment`, `nosniff`, a sandboxing CSP), after its opening is
//!   written to the access log.
use std::sync::Arc;

use actix_web::http::header::{
    Charset, ContentDisposition, DispositionParam, DispositionType, ExtendedValue,
};
use actix_web::http::StatusCode;
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use futures_util::StreamExt;
use serde_json::json;

use super::service;
use super::store;
use crate::context::AppState;
use crate::edge::{refusal, refusal_with};
use crate::error::{AppError, AppResult};
use crate::record::ids::{self, Kind};
use crate::record::text::reason;
use entities::attachment;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/attachments", web::post().to(upload))
        .route("/attachments", web::route().to(upload_not_allowed))
        .route("/attachments/{id}", web::get().to(download))
        .route("/attachments/{id}", web::route().to(download_not_allowed));
}

async fn upload_not_allowed() -> HttpResponse {
    refusal_with(
        StatusCode::METHOD_NOT_ALLOWED,
        "BAD_USER_INPUT",
        "files are uploaded with POST /attachments?fileName=<name>, the file as the body",
        None,
    )
}

async fn download_not_allowed() -> HttpResponse {
    refusal_with(
        StatusCode::METHOD_NOT_ALLOWED,
        "BAD_USER_INPUT",
        "a file is read with GET; removeAttachment removes it",
        None,
    )
}

/// The file's name from the query string: `fileName`, once, and nothing else.
fn file_name(query: &str) -> AppResult<Option<String>> {
    let pairs = web::Query::<Vec<(String, String)>>::from_query(query).map_err(|_| {
        AppError::invalid("query", "the query string is not URL-encoded").because(reason::MALFORMED)
    })?;
    let mut name = None;
    for (key, value) in pairs.into_inner() {
        if key != "fileName" {
            let shown: String = key.chars().take(40).collect();
            return Err(AppError::invalid(
                shown.clone(),
                format!("{shown:?} is not a parameter of uploads (fileName)"),
            )
            .because(reason::MALFORMED));
        }
        if name.replace(value).is_some() {
            return Err(AppError::invalid("fileName", "fileName may be given once")
                .because(reason::DUPLICATE));
        }
    }
    Ok(name)
}

/// A file's description as the upload answers it (the GraphQL `Attachment`'s fields).
pub fn describe(state: &AppState, m: &attachment::Model) -> serde_json::Value {
    let id = ids::encode(Kind::Attachment, m.id).to_string();
    json!({
        "id": id,
        "fileName": m.file_name,
        "contentType": m.content_type,
        "size": m.size_bytes,
        "sha256": m.sha256,
        "status": super::graphql::AttachmentStatus::of(m),
        "metadataRemoved": super::graphql::removed_list(m),
        "scanned": state.settings.attachments.scanner.is_some(),
    })
}

async fn upload(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<Arc<AppState>>,
) -> HttpResponse {
    let state: &AppState = state.get_ref();
    let mut body = body;
    let result = async {
        let rc = crate::edge::request_ctx(&req, state).await?;
        let name = file_name(req.query_string())?;
        let declared = req
            .headers()
            .get(actix_web::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        service::check_upload(state, &rc, declared, name.as_deref())?;
        service::receive(state, &rc, name.as_deref(), &mut body).await
    }
    .await;
    match result {
        Ok(m) => HttpResponse::Created()
            .insert_header(("Cache-Control", "no-store"))
            .json(json!({ "attachment": describe(state, &m) })),
        Err(e) => {
            // Read (and drop) what the client is still sending, up to a bound, so it reads
            // the refusal instead of a reset connection.
            let mut left: u64 = 8 * 1024 * 1024;
            while let Some(Ok(chunk)) = body.next().await {
                left = left.saturating_sub(chunk.len() as u64);
                if left == 0 {
                    break;
                }
            }
            let too_large = matches!(
                &e,
                AppError::Invalid { field, reason: r, .. } if field == "file" && *r == reason::TOO_LONG
            );
            if too_large {
                let mut resp = refusal(e);
                *resp.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
                resp
            } else {
                refusal(e)
            }
        }
    }
}

async fn download(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<Arc<AppState>>,
) -> HttpResponse {
    let state: Arc<AppState> = state.get_ref().clone();
    let started = async {
        let rc = crate::edge::request_ctx(&req, &state).await?;
        rc.principal()?;
        let id = ids::decode(&path)
            .filter(|(k, _)| *k == Kind::Attachment)
            .map(|(_, id)| id)
            .ok_or(AppError::NotFound("attachment"))?;
        let (m, owner) = super::owners::for_download(&state, &rc, id).await?;
        // The opening is on record before a byte goes out: under the record (who saw this
        // incident's evidence) and under the file (which one).
        let key = owner.patient_key.as_deref();
        rc.access.record(
            owner.kind.as_str(),
            owner.id,
            "attachments",
            owner.break_glass,
            key,
        );
        rc.access
            .record("Attachment", m.id, "content", owner.break_glass, key);
        // The first chunk is read before answering, so a chunk that does not open is an
        // error status rather than a cut-off download.
        let first = store::read_chunk(&state.db.conn, &state.keys, &m, 0).await?;
        crate::edge::write_reads(&state, &rc).await?;
        Ok::<_, AppError>((m, first))
    }
    .await;
    let (m, first) = match started {
        Ok(s) => s,
        Err(e) => return refusal(e),
    };
    let disposition = ContentDisposition {
        disposition: DispositionType::Attachment,
        parameters: vec![
            DispositionParam::Filename(ascii_name(&m.file_name)),
            DispositionParam::FilenameExt(ExtendedValue {
                charset: Charset::Ext("UTF-8".into()),
                language_tag: None,
                value: m.file_name.clone().into_bytes(),
            }),
        ],
    };
    let size = m.size_bytes as u64;
    // The type the content was sniffed as (never HTML): with `attachment` and `nosniff` a
    // browser saves it, and a client knows what it has.
    let content_type = m.content_type.clone();
    let chunks = m.chunk_count;
    let rest = futures_util::stream::unfold((state, m, 1), move |(state, m, n)| async move {
        if n >= chunks {
            return None;
        }
        match store::read_chunk(&state.db.conn, &state.keys, &m, n).await {
            Ok(bytes) => Some((Ok(Bytes::from(bytes)), (state, m, n + 1))),
            Err(e) => {
                tracing::error!(attachment = %m.id, chunk = n, "download stopped: {e}");
                Some((
                    Err(std::io::Error::other("download stopped")),
                    (state, m, chunks),
                ))
            }
        }
    });
    let body =
        futures_util::stream::once(async move { Ok::<_, std::io::Error>(Bytes::from(first)) })
            .chain(rest);
    HttpResponse::Ok()
        .insert_header(("Content-Type", content_type))
        .insert_header(disposition)
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .insert_header(("Content-Security-Policy", "default-src 'none'; sandbox"))
        .insert_header(("Cache-Control", "no-store"))
        .no_chunking(size)
        .streaming(body)
}

/// The file name for clients that do not read `filename*`: ASCII only.
fn ascii_name(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .filter(|c| !matches!(c, '"' | '\\'))
        .collect();
    if s.trim().is_empty() {
        "attachment".into()
    } else {
        s
    }
}
