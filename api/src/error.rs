//! `ApiError`: the one place where errors become HTTP statuses and the reference's error body
//! `{"error": {"code", "message", "details"?: [{"field"?, "message"}]}}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// One detail of an error body.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Detail {
    /// The dotted path of the offending field, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl Detail {
    /// A detail about the request as a whole.
    pub fn general(message: impl Into<String>) -> Self {
        Self {
            field: None,
            message: message.into(),
        }
    }

    /// A detail about a field.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: Some(field.into()),
            message: message.into(),
        }
    }
}

/// An error answered to the client.
#[derive(Debug)]
pub enum ApiError {
    /// 400 with details.
    Validation(Vec<Detail>),
    /// 400 for a malformed id in the path.
    InvalidId {
        /// The path parameter.
        field: &'static str,
        /// E.g. "Invalid Run ID".
        message: &'static str,
    },
    /// 401 with the reason ("Missing JWT", "Invalid JWT", ...) and `WWW-Authenticate: Bearer`.
    Unauthorized(&'static str),
    /// 403: authenticated, but the role does not allow the request.
    Forbidden,
    /// 404 "Resource not found".
    NotFound,
    /// 415: the request body's content type is not accepted.
    UnsupportedMediaType(String),
    /// 409: the resource's state does not allow the request.
    Conflict(String),
    /// 500: logged once by [`crate::routes::log_server_errors`], never shown to the client.
    Internal(Box<dyn std::error::Error + Send + Sync>),
}

/// The full text of a 5xx error, kept in the response's extensions for the logging middleware.
#[derive(Debug, Clone)]
pub struct InternalErrorText(pub String);

#[derive(Serialize)]
struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    code: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "<[Detail]>::is_empty")]
    details: &'a [Detail],
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, message, details, internal) = match &self {
            Self::Validation(details) => (
                StatusCode::BAD_REQUEST,
                "validation_failed",
                "Validation failed".to_owned(),
                details.clone(),
                None,
            ),
            Self::InvalidId { field, message } => (
                StatusCode::BAD_REQUEST,
                "invalid_id",
                (*message).to_owned(),
                vec![Detail::field(*field, *message)],
                None,
            ),
            Self::Unauthorized(message) => (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                (*message).to_owned(),
                vec![],
                None,
            ),
            Self::Forbidden => (
                StatusCode::FORBIDDEN,
                "forbidden",
                "You do not have permission to perform this action.".to_owned(),
                vec![],
                None,
            ),
            Self::NotFound => (
                StatusCode::NOT_FOUND,
                "not_found",
                "Resource not found".to_owned(),
                vec![],
                None,
            ),
            Self::UnsupportedMediaType(content_type) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                format!("Unsupported media type \"{content_type}\" in request."),
                vec![],
                None,
            ),
            Self::Conflict(message) => (
                StatusCode::CONFLICT,
                "conflict",
                message.clone(),
                vec![],
                None,
            ),
            Self::Internal(error) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Unexpected internal error".to_owned(),
                vec![],
                Some(InternalErrorText(error.to_string())),
            ),
        };
        let body = Body {
            error: Inner {
                code,
                message: &message,
                details: &details,
            },
        };
        let mut response = (status, Json(body)).into_response();
        if matches!(self, Self::Unauthorized(_)) {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        if let Some(internal) = internal {
            response.extensions_mut().insert(internal);
        }
        response
    }
}

impl From<idem_engine::Error> for ApiError {
    fn from(error: idem_engine::Error) -> Self {
        match error {
            idem_engine::Error::RunNotFound(_) => Self::NotFound,
            idem_engine::Error::InvalidState {
                run_id,
                status,
                action,
            } => Self::Conflict(format!("Cannot {action} run {run_id}: it is {status}")),
            other => Self::Internal(Box::new(other)),
        }
    }
}

impl From<idem_empi::EditError> for ApiError {
    fn from(error: idem_empi::EditError) -> Self {
        use idem_empi::EditError;
        match error {
            EditError::Invalid(message) => Self::Validation(vec![Detail::general(message)]),
            EditError::NotFound(_) => Self::NotFound,
            EditError::Conflict(message) => Self::Conflict(message),
            other @ (EditError::Database(_) | EditError::Inconsistent(_)) => {
                Self::Internal(Box::new(other))
            }
        }
    }
}

impl From<idem_empi::Error> for ApiError {
    fn from(error: idem_empi::Error) -> Self {
        match error {
            idem_empi::Error::Id(e) => Self::Validation(vec![Detail::general(e.to_string())]),
            idem_empi::Error::InvalidConfig(message) => {
                Self::Validation(vec![Detail::general(message)])
            }
            other => Self::Internal(Box::new(other)),
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> Self {
        Self::Internal(Box::new(error))
    }
}

/// The result type of handlers.
pub type ApiResult<T> = Result<T, ApiError>;
