//! The HTTP error envelope: `{"error":{"code","message"},"details":{...}}`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Machine-readable error class; each maps to one HTTP status.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(optional_fields))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    /// 400: the request was malformed or invalid.
    BadRequest,
    /// 401: authentication required.
    Unauthorized,
    /// 403: authenticated but not allowed.
    Forbidden,
    /// 404: no such resource.
    NotFound,
    /// 405: the route exists, not with this method.
    MethodNotAllowed,
    /// 409: the resource is in a state that does not allow the action.
    Conflict,
    /// 413: the request body is over the limit.
    PayloadTooLarge,
    /// 500: something failed on the server.
    InternalError,
    /// 503: a dependency (container engine, ...) is not available.
    Unavailable,
}

impl ErrorCode {
    /// The HTTP status code for this error class.
    pub fn status(self) -> u16 {
        match self {
            ErrorCode::BadRequest => 400,
            ErrorCode::Unauthorized => 401,
            ErrorCode::Forbidden => 403,
            ErrorCode::NotFound => 404,
            ErrorCode::MethodNotAllowed => 405,
            ErrorCode::Conflict => 409,
            ErrorCode::PayloadTooLarge => 413,
            ErrorCode::InternalError => 500,
            ErrorCode::Unavailable => 503,
        }
    }
}

/// The `error` member of the envelope.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(optional_fields))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// Error class.
    pub code: ErrorCode,
    /// Human-readable explanation, safe to show to a user. On a 5xx, a generic message:
    /// the detail is in the server's log under `requestId`.
    pub message: String,
    /// The request's id (also in the `X-Request-Id` header), on a 5xx: what to quote
    /// to whoever reads the server's log.
    #[serde(rename = "requestId", default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// The full error envelope returned by every failing API call.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(optional_fields))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ApiError {
    /// What went wrong.
    pub error: ErrorBody,
    /// Extra structured context, e.g. `{"state":"stopped"}` on a 409.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub details: Option<serde_json::Value>,
}

impl ApiError {
    /// Builds an envelope without details.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            error: ErrorBody {
                code,
                message: message.into(),
                request_id: None,
            },
            details: None,
        }
    }

    /// Adds structured details.
    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = Some(details);
        self
    }
}
