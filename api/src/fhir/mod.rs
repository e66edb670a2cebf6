//! The FHIR R4 API for integrators (docs/fhir.md): `GET /fhir/metadata`, AdverseEvent read
//! and search, and `POST /fhir/AdverseEvent` to raise an incident from another system's
//! resource. Authorised by the same tokens and scopes as GraphQL, with the same department
//! scoping; every error is an `OperationOutcome`; every read of a patient's details or a
//! reporter's words is in the access log, as a GraphQL read is.
//!
//! Like the GraphQL layer it sits above every service and calls them; no service calls it.
pub mod import;
pub mod outcome;
pub mod search;

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use entities::incident;
use serde_json::{json, Value};

use crate::context::{AppState, RequestCtx};
use crate::incident::workflow::Access;
use crate::lfpse::mapping;
use crate::telemetry::RequestId;
use crate::trail::access::{self, AccessRecorder};
use outcome::{Outcome, FHIR_JSON};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/fhir/metadata", web::get().to(metadata))
        .route("/fhir/AdverseEvent", web::get().to(search::search))
        .route("/fhir/AdverseEvent", web::post().to(import::create))
        .route("/fhir/AdverseEvent/{id}", web::get().to(read))
        .route("/fhir/metadata", web::route().to(not_allowed))
        .route("/fhir/AdverseEvent", web::route().to(not_allowed))
        .route("/fhir/AdverseEvent/{id}", web::route().to(not_allowed))
        .route("/fhir", web::route().to(unknown))
        .route("/fhir/{tail:.*}", web::route().to(unknown));
}

/// Runs one interaction; with `diagnostics.sql_statement_count`, its answer carries the
/// number of SQL statements it ran (`x-sql-statements`), as GraphQL's do.
pub async fn counted(
    state: &AppState,
    answer: impl std::future::Future<Output = HttpResponse>,
) -> HttpResponse {
    let diagnostics = state.settings.diagnostics.sql_statement_count;
    let (mut resp, statements) = crate::db::count_statements(answer, false).await;
    if diagnostics {
        resp.headers_mut().insert(
            actix_web::http::header::HeaderName::from_static("x-sql-statements"),
            actix_web::http::header::HeaderValue::from(statements.count()),
        );
    }
    resp
}

async fn not_allowed() -> HttpResponse {
    Outcome::not_supported(
        StatusCode::METHOD_NOT_ALLOWED,
        "this interaction is not supported (see /fhir/metadata)",
    )
    .response()
}

async fn unknown() -> HttpResponse {
    Outcome::not_found("no such FHIR resource type or interaction (see /fhir/metadata)").response()
}

/// One FHIR request's caller and access recorder, and the writing of its access log before
/// anything is answered (as the GraphQL endpoint does).
pub(crate) struct Call {
    pub state: Arc<AppState>,
    pub rc: RequestCtx,
    recorder: Arc<AccessRecorder>,
    purpose: Option<String>,
}

impl Call {
    pub async fn begin(
        req: &HttpRequest,
        state: &web::Data<Arc<AppState>>,
    ) -> Result<Self, Outcome> {
        let state: Arc<AppState> = state.get_ref().clone();
        if !accepts_json(req) {
            return Err(Outcome::not_supported(
                StatusCode::NOT_ACCEPTABLE,
                "only application/fhir+json is served",
            ));
        }
        let request_id = req
            .extensions()
            .get::<RequestId>()
            .map(|r| r.0.clone())
            .unwrap_or_default();
        let auth = crate::graphql::http::principal_of(&state, req).await;
        let purpose = access::purpose_from(
            req.headers()
                .get(access::PURPOSE_HEADER)
                .map(|v| v.to_str().unwrap_or("\u{7}")),
        )
        .map_err(|m| Outcome::invalid(access::PURPOSE_HEADER, m))?;
        let recorder = Arc::new(AccessRecorder::default());
        let rc = RequestCtx::new(request_id, auth, recorder.clone(), purpose.clone(), 1);
        Ok(Self {
            state,
            rc,
            recorder,
            purpose,
        })
    }

    /// Answers `result`: on success the caller's staff record is refreshed and the reads
    /// are logged first (a failed log withholds the answer); a refusal writes nothing.
    pub async fn finish(self, result: Result<(StatusCode, Vec<u8>), Outcome>) -> HttpResponse {
        let (status, body) = match result {
            Ok(ok) => ok,
            Err(o) => return o.response(),
        };
        let principal = self.rc.principal().ok();
        if let Some(p) = principal {
            if !p.is_service() && !self.recorder.anonymous() {
                if let Err(e) = crate::org::service::upsert_staff(&self.state, p).await {
                    tracing::warn!(
                        error = e.code(),
                        "recording the caller's staff record failed"
                    );
                }
            }
        }
        let notes = self.recorder.take();
        let logged = match crate::graphql::http::read_by(&self.state, principal, &notes).await {
            Ok(reader) => {
                access::write(
                    &self.state,
                    reader.as_ref(),
                    &self.rc.request_id,
                    self.purpose.as_deref(),
                    notes,
                )
                .await
            }
            Err(e) => Err(e),
        };
        if logged.is_err() {
            tracing::error!("access log write failed; response withheld");
            return Outcome::internal().response();
        }
        HttpResponse::build(status)
            .insert_header(("Content-Type", FHIR_JSON))
            .body(body)
    }
}

/// Whether the client takes JSON: no Accept, `*/*`, `application/json` or
/// `application/fhir+json` (with or without parameters), or `_format=json`.
fn accepts_json(req: &HttpRequest) -> bool {
    let format = req
        .query_string()
        .split('&')
        .find_map(|kv| kv.strip_prefix("_format="));
    if let Some(f) = format {
        let f = f
            .replace("%2B", "+")
            .replace("%2F", "/")
            .to_ascii_lowercase();
        return matches!(
            f.as_str(),
            "json" | "application/json" | "application/fhir+json"
        );
    }
    let Some(accept) = req.headers().get("accept").and_then(|v| v.to_str().ok()) else {
        return true;
    };
    accept.split(',').any(|part| {
        let media = part
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        matches!(
            media.as_str(),
            "" | "*/*" | "application/*" | "application/json" | "application/fhir+json"
        )
    })
}

/// Who may read AdverseEvents: any signed-in person (each sees what GraphQL shows them), and
/// service accounts with `incidents:read` (or `incidents:manage`).
pub fn may_read(rc: &RequestCtx) -> crate::error::AppResult<()> {
    use crate::auth::Scope;
    let p = rc.principal()?;
    if p.is_service() && !(p.has_scope(Scope::IncidentsRead) || p.has_scope(Scope::IncidentsManage))
    {
        return Err(crate::error::AppError::forbidden(
            "reading AdverseEvents needs the incidents:read scope",
        ));
    }
    Ok(())
}

/// The FHIR id of an incident: its UUID.
pub fn resource_url(state: &AppState, id: uuid::Uuid) -> String {
    format!(
        "{}/fhir/AdverseEvent/{id}",
        state.settings.public_url.trim_end_matches('/')
    )
}

/// An incident as the FHIR API serves it: the LFPSE AdverseEvent, with Candour's id and
/// version, the description and immediate actions only for those who may read them, and
/// the patient's age only for those who may read patient details. Each such read is noted
/// for the access log, as GraphQL notes them.
pub async fn adverse_event(
    state: &AppState,
    rc: &RequestCtx,
    m: &incident::Model,
    access: Access,
) -> crate::error::AppResult<Served> {
    let mut facts = crate::lfpse::facts(state, m).await?;
    let live = m.disposed_at.is_none();
    if live {
        facts.title = Some(m.title.clone());
    }
    facts.department_code = crate::org::service::department(state, m.department_id)
        .await?
        .map(|d| d.code);
    let note = |field: &'static str| {
        rc.access.record(
            "Incident",
            m.id,
            field,
            access.break_glass,
            m.patient_nhs_hash.as_deref(),
        )
    };
    if live && access.narrative {
        note("description");
        facts.description = Some(m.description.clone());
        if m.immediate_actions.is_some() {
            note("immediateActions");
            facts.immediate_actions = m.immediate_actions.clone();
        }
    }
    if live && access.sensitive && m.patient_dob_sealed.is_some() {
        note("patient");
        facts.age_days = crate::lfpse::patient_age_days(state, m);
    }
    Ok(Served {
        facts,
        id: m.id.to_string(),
        version: m.version.to_string(),
        last_updated: m
            .updated_at
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    })
}

/// What a reader may see of one incident, ready to be written out as its AdverseEvent.
pub struct Served {
    facts: mapping::Facts,
    id: String,
    version: String,
    last_updated: String,
}

impl Served {
    /// The AdverseEvent, borrowing from what was gathered.
    pub fn resource<'a>(
        &'a self,
        taxonomy: &'a crate::lfpse::taxonomy::Taxonomy,
    ) -> mapping::AdverseEvent<'a> {
        let mut r = mapping::adverse_event(taxonomy, &self.facts);
        r.id = Some(self.id.clone());
        r.meta.version_id = Some(self.version.clone());
        r.meta.last_updated = Some(self.last_updated.clone());
        r
    }

    pub fn to_value(&self, taxonomy: &crate::lfpse::taxonomy::Taxonomy) -> Value {
        self.resource(taxonomy).to_value()
    }

    /// The resource as `application/fhir+json`.
    pub fn to_vec(&self, taxonomy: &crate::lfpse::taxonomy::Taxonomy) -> Vec<u8> {
        serde_json::to_vec(&self.resource(taxonomy)).unwrap_or_default()
    }
}

async fn read(
    req: HttpRequest,
    state: web::Data<Arc<AppState>>,
    path: web::Path<String>,
) -> HttpResponse {
    let call = match Call::begin(&req, &state).await {
        Ok(c) => c,
        Err(o) => return o.response(),
    };
    counted(&state, read_one(call, path.into_inner())).await
}

async fn read_one(call: Call, path: String) -> HttpResponse {
    let result = async {
        may_read(&call.rc)?;
        // Any id that is not one of ours is simply not found (FHIR ids are not secret, but
        // a malformed one tells nothing either).
        let id = uuid::Uuid::parse_str(path.as_str())
            .map_err(|_| crate::error::AppError::NotFound("AdverseEvent"))?;
        let (m, access) = crate::incident::service::get(&call.state, &call.rc, id).await?;
        let r = adverse_event(&call.state, &call.rc, &m, access).await?;
        Ok::<_, crate::error::AppError>((StatusCode::OK, r.to_vec(&call.state.lfpse)))
    }
    .await
    .map_err(Outcome::from);
    call.finish(result).await
}

async fn metadata(state: web::Data<Arc<AppState>>) -> HttpResponse {
    let state = state.get_ref();
    let base = state.settings.public_url.trim_end_matches('/');
    let body = json!({
        "resourceType": "CapabilityStatement",
        "status": "active",
        // What this instance serves, as of now.
        "date": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "publisher": "Candour",
        "kind": "instance",
        "software": { "name": "Candour", "version": env!("CARGO_PKG_VERSION") },
        "implementation": {
            "description": "Candour incident, audit and improvement governance",
            "url": format!("{base}/fhir"),
        },
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json"],
        "rest": [{
            "mode": "server",
            "security": {
                "cors": false,
                "service": [{
                    "coding": [{
                        "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                        "code": "OAuth",
                    }],
                }],
                "description": "A bearer token, as for GraphQL: staff roles and departments, or a service account's scopes (incidents:read to read, incidents:write to create).",
            },
            "resource": [{
                "type": "AdverseEvent",
                "profile": state.lfpse.profile_url(),
                "interaction": [
                    { "code": "read" },
                    { "code": "search-type" },
                    { "code": "create" },
                ],
                "versioning": "versioned",
                "readHistory": false,
                "updateCreate": false,
                "conditionalCreate": true,
                "searchParam": [
                    {
                        "name": "date",
                        "type": "date",
                        "documentation": "When the event occurred; prefixes eq, gt, ge, lt, le; repeat for a range.",
                    },
                    {
                        "name": "identifier",
                        "type": "token",
                        "documentation": format!("The incident reference, `{}|INC-2026-000123`.", mapping::REFERENCE_SYSTEM),
                    },
                    {
                        "name": "_count",
                        "type": "number",
                        "documentation": format!("Entries per page, 1 to {}.", state.settings.limits.max_page_size),
                    },
                ],
            }],
        }],
    });
    HttpResponse::Ok()
        .insert_header(("Content-Type", FHIR_JSON))
        .body(serde_json::to_vec(&body).unwrap_or_default())
}
