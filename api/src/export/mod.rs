//! CSV exports of the lists (docs/integrators.md, "Export (CSV)"):
//! `GET /export/incidents.csv?filter=<IncidentFilter as JSON>&orderBy=<IncidentOrder as
//! JSON>`, and `corrective-actions.csv`, `audits.csv` and `obligations.csv` the same way.
//!
//! The filter is parsed as the GraphQL input type it is and turned into the domain's query
//! by the same function the GraphQL resolver calls, and rows are read through the
//! services' own `list` functions: an export holds exactly the rows the GraphQL list
//! would, under the same department scoping. Rows are read a keyset page at a time and
//! each page is written to the response as it is made, so a file of any length holds the
//! server's memory flat. Each page's sensitive reads are written to the access log before
//! its bytes go out; if that write fails the response is cut off rather than sending
//! unlogged data.
//!
//! Like the GraphQL layer and the FHIR API it sits above the services; no service calls it.
pub mod cells;
pub mod sheets;

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::web::Bytes;
use actix_web::{web, HttpRequest, HttpResponse};
use async_graphql::InputType;
use futures_util::StreamExt;

use crate::context::{AppState, RequestCtx};
use crate::edge::{refusal, refusal_with};
use crate::error::{AppError, AppResult};
use crate::record::text::reason;
use sheets::Sheet;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/export/incidents.csv", web::get().to(incidents))
        .route(
            "/export/corrective-actions.csv",
            web::get().to(corrective_actions),
        )
        .route("/export/audits.csv", web::get().to(audits))
        .route("/export/obligations.csv", web::get().to(obligations))
        .route("/export/{name}", web::route().to(not_allowed));
}

/// Which list a route exports.
#[derive(Clone, Copy)]
enum Which {
    Incidents,
    CorrectiveActions,
    Audits,
    Obligations,
}

async fn incidents(req: HttpRequest, state: web::Data<Arc<AppState>>) -> HttpResponse {
    export(req, state, Which::Incidents).await
}

async fn corrective_actions(req: HttpRequest, state: web::Data<Arc<AppState>>) -> HttpResponse {
    export(req, state, Which::CorrectiveActions).await
}

async fn audits(req: HttpRequest, state: web::Data<Arc<AppState>>) -> HttpResponse {
    export(req, state, Which::Audits).await
}

async fn obligations(req: HttpRequest, state: web::Data<Arc<AppState>>) -> HttpResponse {
    export(req, state, Which::Obligations).await
}

async fn not_allowed(req: HttpRequest) -> HttpResponse {
    let known = matches!(
        req.match_info().get("name"),
        Some("incidents.csv" | "corrective-actions.csv" | "audits.csv" | "obligations.csv")
    );
    if known {
        refusal_with(
            StatusCode::METHOD_NOT_ALLOWED,
            "BAD_USER_INPUT",
            "exports are read with GET",
            None,
        )
    } else {
        refusal_with(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "no such export (incidents.csv, corrective-actions.csv, audits.csv, obligations.csv)",
            None,
        )
    }
}

/// Who may export: any signed-in person (each gets the rows the list shows them), and
/// service accounts with `incidents:read` (or `incidents:manage`).
fn may_export(rc: &RequestCtx) -> AppResult<()> {
    use crate::auth::Scope;
    let p = rc.principal()?;
    if p.is_service() && !(p.has_scope(Scope::IncidentsRead) || p.has_scope(Scope::IncidentsManage))
    {
        return Err(AppError::forbidden(
            "exporting needs the incidents:read scope",
        ));
    }
    Ok(())
}

/// The query string's `filter` and `orderBy`, each still JSON text.
#[derive(Default)]
struct Asked {
    filter: Option<String>,
    order_by: Option<String>,
}

impl Asked {
    fn parse(query: &str) -> AppResult<Self> {
        let pairs = web::Query::<Vec<(String, String)>>::from_query(query).map_err(|_| {
            AppError::invalid("query", "the query string is not URL-encoded")
                .because(reason::MALFORMED)
        })?;
        let mut asked = Asked::default();
        for (key, value) in pairs.into_inner() {
            let slot = match key.as_str() {
                "filter" => &mut asked.filter,
                "orderBy" => &mut asked.order_by,
                _ => {
                    let shown: String = key.chars().take(40).collect();
                    return Err(AppError::invalid(
                        shown.clone(),
                        format!("{shown:?} is not a parameter of exports (filter, orderBy)"),
                    )
                    .because(reason::MALFORMED));
                }
            };
            if slot.is_some() {
                return Err(
                    AppError::invalid(key.clone(), format!("{key} may be given once"))
                        .because(reason::DUPLICATE),
                );
            }
            *slot = Some(value);
        }
        Ok(asked)
    }
}

/// The GraphQL input `T` a parameter holds as JSON (None when absent or null), parsed as
/// GraphQL parses a variable of that type; a field the type does not have is refused
/// rather than ignored, so a misspelt filter cannot silently export everything.
fn input<T: InputType>(param: &'static str, raw: Option<&str>) -> AppResult<Option<T>> {
    let Some(raw) = raw.map(str::trim).filter(|r| !r.is_empty()) else {
        return Ok(None);
    };
    let json: serde_json::Value = serde_json::from_str(raw).map_err(|e| {
        AppError::invalid(param, format!("{param} is not JSON ({e})")).because(reason::MALFORMED)
    })?;
    if json.is_null() {
        return Ok(None);
    }
    let value = async_graphql::Value::from_json(json.clone())
        .map_err(|_| AppError::invalid(param, format!("{param} is not JSON")))?;
    let parsed = T::parse(Some(value)).map_err(|e| {
        let message = e.into_server_error(async_graphql::Pos::default()).message;
        AppError::invalid(param, format!("{param}: {message}")).because(reason::MALFORMED)
    })?;
    if let (serde_json::Value::Object(given), async_graphql::Value::Object(known)) =
        (&json, parsed.to_value())
    {
        if let Some(unknown) = given.keys().find(|k| !known.contains_key(k.as_str())) {
            let shown: String = unknown.chars().take(40).collect();
            return Err(AppError::invalid(
                format!("{param}.{shown}"),
                format!("{param} has no field {shown:?}"),
            )
            .because(reason::MALFORMED));
        }
    }
    Ok(Some(parsed))
}

/// A refusal about a field of a parameter, named as `filter.departmentId`.
fn within(param: &str, e: AppError) -> AppError {
    match e {
        AppError::Invalid {
            field,
            message,
            reason,
            limit,
        } => AppError::Invalid {
            field: format!("{param}.{field}"),
            message: format!("{param}: {message}"),
            reason,
            limit,
        },
        e => e,
    }
}

impl Which {
    /// The list asked for, with its filter and order turned into the domain's query by the
    /// functions the GraphQL resolvers use.
    fn sheet(self, asked: &Asked) -> AppResult<Sheet> {
        use crate::action::graphql::{CorrectiveActionFilter, CorrectiveActionOrder};
        use crate::audit::graphql::{AuditFilter_, AuditOrder};
        use crate::incident::graphql::{IncidentFilter, IncidentOrder};
        use crate::notify::graphql::ObligationFilter;
        let filter = asked.filter.as_deref();
        let order_by = asked.order_by.as_deref();
        Ok(match self {
            Which::Incidents => Sheet::Incidents {
                query: input::<IncidentFilter>("filter", filter)?
                    .unwrap_or_default()
                    .into_query()
                    .map_err(|e| within("filter", e))?,
                order: IncidentOrder::or_default(input("orderBy", order_by)?),
            },
            Which::CorrectiveActions => Sheet::CorrectiveActions {
                query: input::<CorrectiveActionFilter>("filter", filter)?
                    .unwrap_or_default()
                    .into_query()
                    .map_err(|e| within("filter", e))?,
                order: CorrectiveActionOrder::or_default(input("orderBy", order_by)?),
            },
            Which::Audits => Sheet::Audits {
                query: input::<AuditFilter_>("filter", filter)?
                    .unwrap_or_default()
                    .into_query()
                    .map_err(|e| within("filter", e))?,
                order: AuditOrder::or_default(input("orderBy", order_by)?),
            },
            Which::Obligations => {
                if order_by.is_some() {
                    return Err(AppError::invalid(
                        "orderBy",
                        "obligations are exported soonest due first; orderBy is not taken",
                    ));
                }
                Sheet::Obligations {
                    query: input::<ObligationFilter>("filter", filter)?
                        .unwrap_or_default()
                        .into_query()
                        .map_err(|e| within("filter", e))?,
                }
            }
        })
    }
}

/// One export as it is being written: where it has got to, and the reader's request.
struct Export {
    state: Arc<AppState>,
    rc: RequestCtx,
    sheet: Sheet,
    page_size: u64,
    after: Option<String>,
    done: bool,
}

impl Export {
    /// The next page's bytes (the first with the byte order mark and the header), its
    /// reads written to the access log first; None when the list is done.
    async fn next_chunk(&mut self, first: bool) -> AppResult<Option<Bytes>> {
        if self.done {
            return Ok(None);
        }
        let rows = self
            .sheet
            .page(&self.state, &self.rc, self.page_size, self.after.take())
            .await?;
        self.done = rows.next.is_none();
        self.after = rows.next;
        self.log().await?;
        let mut out = Vec::with_capacity(rows.cells.len() * 256 + 512);
        if first {
            out.extend_from_slice(cells::BOM);
            cells::write(&mut out, [self.sheet.columns().iter().copied()])?;
        }
        cells::write(&mut out, rows.cells)?;
        Ok(Some(Bytes::from(out)))
    }

    /// Writes the reads noted for the page just made, one access event per record (a
    /// record is on one page only), and returns once they are committed.
    async fn log(&self) -> AppResult<()> {
        crate::edge::write_reads(&self.state, &self.rc).await
    }
}

async fn export(req: HttpRequest, state: web::Data<Arc<AppState>>, which: Which) -> HttpResponse {
    let state: Arc<AppState> = state.get_ref().clone();
    let started = async {
        let rc = crate::edge::request_ctx(&req, &state).await?;
        may_export(&rc)?;
        let sheet = which.sheet(&Asked::parse(req.query_string())?)?;
        let mut export = Export {
            state: state.clone(),
            rc,
            page_size: state.settings.limits.export_page_size,
            sheet,
            after: None,
            done: false,
        };
        // The first page is made before anything is answered, so that a refusal (a
        // department the caller may not list, a failed access log) is a status code.
        let lead = export.next_chunk(true).await?.unwrap_or_default();
        if let Ok(p) = export.rc.principal() {
            if !p.is_service() {
                if let Err(e) = crate::org::service::upsert_staff(&state, p).await {
                    tracing::warn!(
                        error = e.code(),
                        "recording the caller's staff record failed"
                    );
                }
            }
        }
        Ok::<_, AppError>((export, lead))
    }
    .await;
    let (export, lead) = match started {
        Ok(s) => s,
        Err(e) => return refusal(e),
    };
    let filename = format!("{}-{}.csv", export.sheet.name(), state.settings.today());
    let rest = futures_util::stream::unfold(export, |mut export| async move {
        match export.next_chunk(false).await {
            Ok(Some(bytes)) => Some((Ok(bytes), export)),
            Ok(None) => None,
            Err(e) => {
                // Cut off mid-file: the client sees the transfer fail, not a short file
                // that looks whole. Nothing of the page whose reads were not logged is sent.
                export.done = true;
                log_failure(&e);
                Some((Err(std::io::Error::other("export stopped")), export))
            }
        }
    });
    let body = futures_util::stream::once(async move { Ok::<_, std::io::Error>(lead) }).chain(rest);
    HttpResponse::Ok()
        .insert_header(("Content-Type", "text/csv; charset=utf-8"))
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"{filename}\""),
        ))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .insert_header(("Cache-Control", "no-store"))
        .streaming(body)
}

fn log_failure(e: &AppError) {
    match e {
        AppError::Internal(detail) => {
            tracing::error!(detail = %detail, "export stopped: the rest of the file was not sent")
        }
        e => tracing::warn!(error = e.code(), "export stopped"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_refused_by_name() {
        for (q, field) in [
            ("filterr=%7B%7D", "filterr"),
            ("filter=%7B%7D&filter=%7B%7D", "filter"),
        ] {
            match Asked::parse(q) {
                Err(AppError::Invalid { field: f, .. }) => assert_eq!(f, field, "{q}"),
                _ => panic!("{q} was taken"),
            }
        }
        let asked = Asked::parse("filter=%7B%22kind%22%3A%22RADIATION%22%7D").unwrap();
        assert_eq!(asked.filter.as_deref(), Some(r#"{"kind":"RADIATION"}"#));
    }

    #[test]
    fn filters_are_parsed_as_graphql_inputs() {
        use crate::incident::graphql::IncidentFilter;
        let f =
            input::<IncidentFilter>("filter", Some(r#"{"status":["REPORTED"],"nearMiss":true}"#))
                .unwrap()
                .unwrap()
                .into_query()
                .unwrap();
        assert_eq!(f.statuses.len(), 1);
        assert_eq!(f.near_miss, Some(true));
        assert!(input::<IncidentFilter>("filter", Some("null"))
            .unwrap()
            .is_none());
        for (raw, field) in [
            ("{", "filter"),
            (r#"{"status":["NOPE"]}"#, "filter"),
            (r#"["REPORTED"]"#, "filter"),
            (r#"{"stauts":["REPORTED"]}"#, "filter.stauts"),
        ] {
            match input::<IncidentFilter>("filter", Some(raw)) {
                Err(AppError::Invalid { field: f, .. }) => assert_eq!(f, field, "{raw}"),
                _ => panic!("{raw} was taken"),
            }
        }
    }
}
