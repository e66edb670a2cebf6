//! The domain's one error type and its single mapping to GraphQL errors with
//! `extensions.code` (and `extensions.field` for bad input).
use async_graphql::ErrorExtensions;

///
/// It deliberately has no `Display`: async-graphql converts anything displayable into an
/// error without a code, so the only way out of a resolver is the mapping below.
#[derive(Debug)]
pub enum AppError {
    Unauthenticated(&'static str),
    Forbidden(String),
    NotFound(&'static str),
    /// Bad input: the field, the message, a reason code (`record::text::reason`) and,
    /// for a length, the limit.
    Invalid {
        field: String,
        message: String,
        reason: &'static str,
        limit: Option<usize>,
    },
    Conflict {
        expected: i32,
        actual: i32,
    },
    Duplicate(String),
    RateLimited,
    /// Never shown to the client: logged with the request id, answered as INTERNAL.
    Internal(String),
}

pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            message: message.into(),
            reason: crate::record::text::reason::RULE,
            limit: None,
        }
    }

    /// The reason code of bad input (`extensions.reason`).
    pub fn because(mut self, why: &'static str) -> Self {
        if let Self::Invalid { reason, .. } = &mut self {
            *reason = why;
        }
        self
    }

    /// The limit a value broke (`extensions.limit`).
    pub fn limit(mut self, max: usize) -> Self {
        if let Self::Invalid { limit, .. } = &mut self {
            *limit = Some(max);
        }
        self
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::Forbidden(message.into())
    }

    /// The message the client reads; never carries a sensitive value.
    pub fn message(&self) -> String {
        match self {
            Self::Unauthenticated(why) => format!("sign-in required: {why}"),
            Self::Forbidden(m) | Self::Duplicate(m) => m.clone(),
            Self::NotFound(what) => format!("{what} not found"),
            Self::Invalid { message, .. } => message.clone(),
            Self::Conflict { expected, actual } => format!(
                "the record was changed by someone else (it is at version {actual}, you had {expected}); reload and try again"
            ),
            Self::RateLimited => "too many requests".into(),
            Self::Internal(_) => "internal error".into(),
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::Unauthenticated(_) => "UNAUTHENTICATED",
            Self::Forbidden(_) => "FORBIDDEN",
            Self::NotFound(_) => "NOT_FOUND",
            Self::Invalid { .. } => "BAD_USER_INPUT",
            Self::Conflict { .. } | Self::Duplicate(_) => "CONFLICT",
            Self::RateLimited => "RATE_LIMITED",
            Self::Internal(_) => "INTERNAL",
        }
    }
}

impl From<sea_orm::DbErr> for AppError {
    fn from(err: sea_orm::DbErr) -> Self {
        // Database messages may quote values (including sensitive text), so only the
        // error's kind is kept for the log line.
        Self::Internal(db_error_kind(&err))
    }
}

/// A short description of a database error that carries no row values.
pub fn db_error_kind(err: &sea_orm::DbErr) -> String {
    use sea_orm::{DbErr, RuntimeErr};
    match err {
        DbErr::Conn(_) | DbErr::ConnectionAcquire(_) => "database connection".into(),
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
            match e.as_database_error() {
                Some(db) => format!(
                    "database error code {}",
                    db.code().map(|c| c.to_string()).unwrap_or_default()
                ),
                None => "database driver error".into(),
            }
        }
        DbErr::RecordNotFound(_) => "record not found".into(),
        DbErr::RecordNotUpdated => "record not updated".into(),
        _ => "database error".into(),
    }
}

/// Whether the error is a unique-constraint violation (two writers raced for one key).
pub fn is_unique_violation(err: &sea_orm::DbErr) -> bool {
    matches!(
        err.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
}

impl ErrorExtensions for AppError {
    fn extend(&self) -> async_graphql::Error {
        if let Self::Internal(detail) = self {
            tracing::error!(detail = %detail, "internal error");
        }
        async_graphql::Error::new(self.message()).extend_with(|_, e| {
            e.set("code", self.code());
            if let Self::Invalid {
                field,
                reason,
                limit,
                ..
            } = self
            {
                e.set("field", field.as_str());
                e.set("reason", *reason);
                if let Some(limit) = limit {
                    e.set("limit", *limit as u64);
                }
            }
            if let Self::Conflict { actual, .. } = self {
                e.set("currentVersion", *actual);
            }
        })
    }
}

impl From<AppError> for async_graphql::Error {
    fn from(err: AppError) -> Self {
        err.extend()
    }
}
