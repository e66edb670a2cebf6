//! FHIR `OperationOutcome`s: every error the FHIR API answers, with the HTTP status and
//! the issue code FHIR names for it. Messages come from `AppError::message`, which never
//! carries a sensitive value.
use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use serde_json::{json, Value};

use crate::error::AppError;

pub const FHIR_JSON: &str = "application/fhir+json; charset=utf-8";

/// One refused or failed request: its status, FHIR issue code, text and, for bad input,
/// the element (a FHIRPath expression) or search parameter at fault.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub status: StatusCode,
    pub code: &'static str,
    pub text: String,
    pub expression: Option<String>,
    /// Candour's error code (`extensions.code` over GraphQL), in `details.coding`.
    pub candour_code: &'static str,
}

impl Outcome {
    pub fn invalid(expression: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code: "invalid",
            text: text.into(),
            expression: Some(expression.into()),
            candour_code: "BAD_USER_INPUT",
        }
    }

    pub fn not_found(text: impl Into<String>) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            code: "not-found",
            text: text.into(),
            expression: None,
            candour_code: "NOT_FOUND",
        }
    }

    pub fn not_supported(status: StatusCode, text: impl Into<String>) -> Self {
        Self {
            status,
            code: "not-supported",
            text: text.into(),
            expression: None,
            candour_code: "BAD_USER_INPUT",
        }
    }

    pub fn internal() -> Self {
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "exception",
            text: "internal error".into(),
            expression: None,
            candour_code: "INTERNAL",
        }
    }

    pub fn resource(&self) -> Value {
        let mut issue = json!({
            "severity": "error",
            "code": self.code,
            "details": {
                "coding": [{ "system": "urn:candour:error-code", "code": self.candour_code }],
                "text": self.text,
            },
        });
        if let Some(e) = &self.expression {
            issue["expression"] = json!([e]);
        }
        json!({ "resourceType": "OperationOutcome", "issue": [issue] })
    }

    pub fn response(&self) -> HttpResponse {
        let mut r = HttpResponse::build(self.status);
        r.insert_header(("Content-Type", FHIR_JSON));
        if self.status == StatusCode::UNAUTHORIZED {
            r.insert_header(("WWW-Authenticate", "Bearer"));
        }
        r.body(self.resource().to_string())
    }
}

impl From<AppError> for Outcome {
    fn from(e: AppError) -> Self {
        let (status, code) = match &e {
            AppError::Unauthenticated(_) => (StatusCode::UNAUTHORIZED, "login"),
            AppError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            AppError::NotFound(_) => (StatusCode::NOT_FOUND, "not-found"),
            AppError::Invalid { .. } => (StatusCode::BAD_REQUEST, "invalid"),
            AppError::Conflict { .. } | AppError::Duplicate(_) => {
                (StatusCode::CONFLICT, "conflict")
            }
            AppError::RateLimited => (StatusCode::TOO_MANY_REQUESTS, "throttled"),
            AppError::Internal(why) => {
                tracing::error!(error = %why, "fhir request failed");
                (StatusCode::INTERNAL_SERVER_ERROR, "exception")
            }
        };
        let expression = match &e {
            AppError::Invalid { field, .. } => Some(field.clone()),
            _ => None,
        };
        Self {
            status,
            code,
            text: e.message(),
            expression,
            candour_code: e.code(),
        }
    }
}
