//! The one place errors become HTTP responses with the error envelope
//! `{"error":{"code","message"},"details"}`: engine, auth and forge (webhook) errors map
//! to an [`HttpError`], and [`HttpError`]'s rendering applies S33: a 5xx answer says only
//! a generic message and the request id, while the full error goes to the log under the
//! same id. Every request gets its id from [`request_id`] (also sent as `X-Request-Id`).

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use caic_api::{ApiError, ErrorCode};
use tracing::Instrument;

/// The response header carrying the request id.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

tokio::task_local! {
    static REQUEST_ID: String;
}

/// Middleware: gives the request a fresh id (a ULID; an id sent by the client is not
/// trusted), runs it inside a `request` span carrying the id, and returns the id in
/// `X-Request-Id`.
pub async fn request_id(req: Request, next: Next) -> Response {
    let id = ulid::Ulid::new().to_string();
    let span = tracing::info_span!("request", id = %id);
    let mut resp = REQUEST_ID
        .scope(id.clone(), next.run(req).instrument(span))
        .await;
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert(REQUEST_ID_HEADER, v);
    }
    resp
}

/// Middleware for the API and webhook routes: an error answer that is not already the
/// JSON envelope (the framework's own 400, 404, 405, 413: a path that does not decode,
/// a method the route lacks) is rewritten into it, keeping its status (S33).
pub async fn envelope(req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let ours = path.starts_with("/api/") || path.starts_with("/webhooks/");
    let resp = next.run(req).await;
    let status = resp.status();
    let json = resp
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !ours || json || !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let code = match status.as_u16() {
        401 => ErrorCode::Unauthorized,
        403 => ErrorCode::Forbidden,
        404 => ErrorCode::NotFound,
        405 => ErrorCode::MethodNotAllowed,
        409 => ErrorCode::Conflict,
        413 => ErrorCode::PayloadTooLarge,
        503 => ErrorCode::Unavailable,
        s if s >= 500 => ErrorCode::InternalError,
        _ => ErrorCode::BadRequest,
    };
    let bytes = axum::body::to_bytes(resp.into_body(), 4096)
        .await
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&bytes);
    let message = match text.trim() {
        "" => status.canonical_reason().unwrap_or("error").to_string(),
        t => t.to_string(),
    };
    let err = public(ApiError::new(code, message), current_request_id());
    (status, Json(err)).into_response()
}

/// The id of the request being handled, when called under [`request_id`].
pub fn current_request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// An error a handler returns. 4xx messages are shown as they are; a 5xx message is a
/// detail for the log only (see [`IntoResponse`] below).
#[derive(Debug)]
pub struct HttpError(pub ApiError);

impl HttpError {
    /// An error of class `code` with `message`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> HttpError {
        HttpError(ApiError::new(code, message))
    }

    /// A 400 with `message`.
    pub fn bad_request(message: impl Into<String>) -> HttpError {
        HttpError::new(ErrorCode::BadRequest, message)
    }

    /// A 404 with `message`.
    pub fn not_found(message: impl Into<String>) -> HttpError {
        HttpError::new(ErrorCode::NotFound, message)
    }

    /// A 500 whose `detail` goes to the log only.
    pub fn internal(detail: impl std::fmt::Display) -> HttpError {
        HttpError::new(ErrorCode::InternalError, detail.to_string())
    }
}

impl From<caic_engine::Error> for HttpError {
    fn from(e: caic_engine::Error) -> Self {
        use caic_engine::Error as E;
        match &e {
            E::BadRequest(m) => HttpError::bad_request(m.clone()),
            E::NotFound(_) => HttpError::not_found(e.to_string()),
            E::Forbidden(_) => HttpError::new(ErrorCode::Forbidden, e.to_string()),
            E::Conflict { state, .. } => HttpError(
                ApiError::new(ErrorCode::Conflict, e.to_string())
                    .with_details(serde_json::json!({ "state": state })),
            ),
            E::EngineUnavailable(_) => HttpError::new(ErrorCode::Unavailable, e.to_string()),
            _ => HttpError::internal(e),
        }
    }
}

impl From<caic_auth::Error> for HttpError {
    fn from(e: caic_auth::Error) -> Self {
        use caic_auth::Error as E;
        let code = match &e {
            E::Session(_) => ErrorCode::Unauthorized,
            E::State(_) => ErrorCode::BadRequest,
            E::NotAllowed(_) => ErrorCode::Forbidden,
            E::NotConfigured(_) => ErrorCode::NotFound,
            E::Provider { .. } | E::Http(_) => ErrorCode::Unavailable,
            E::Config(_) | E::Io { .. } | E::Corrupt { .. } | E::Origin(_) | E::Geo { .. } => {
                ErrorCode::InternalError
            }
        };
        HttpError::new(code, e.to_string())
    }
}

impl From<caic_forge::Error> for HttpError {
    fn from(e: caic_forge::Error) -> Self {
        use caic_forge::Error as E;
        let code = match &e {
            E::MissingSignature(_) | E::BadSignature => ErrorCode::Unauthorized,
            E::AddressNotAllowed(_) => ErrorCode::Forbidden,
            E::BadPayload(_) => ErrorCode::BadRequest,
            E::Replayed(_) => ErrorCode::Conflict,
            E::Http { .. } | E::Status { .. } | E::RateLimited { .. } | E::Decode { .. } => {
                ErrorCode::Unavailable
            }
            E::AppKey(_) => ErrorCode::InternalError,
        };
        HttpError::new(code, e.to_string())
    }
}

/// The message a 5xx answer shows instead of its detail.
fn generic_message(code: ErrorCode) -> &'static str {
    match code {
        ErrorCode::Unavailable => "service unavailable",
        _ => "internal error",
    }
}

/// S33: a 5xx keeps only its class, a generic message and the request id; the detail
/// (message and details) is logged under that id. Other errors pass as they are.
fn public(mut err: ApiError, request_id: Option<String>) -> ApiError {
    let code = err.error.code;
    if code.status() < 500 {
        return err;
    }
    tracing::error!(
        request_id = request_id.as_deref().unwrap_or("-"),
        code = ?code,
        details = ?err.details,
        "request failed: {}",
        err.error.message
    );
    err.error.message = generic_message(code).to_string();
    err.error.request_id = request_id;
    err.details = None;
    err
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.error.code.status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, Json(public(self.0, current_request_id()))).into_response()
    }
}

/// A JSON body extractor whose rejections (bad JSON, unknown fields, wrong types,
/// wrong content type) are 400s with the error envelope.
pub struct JsonBody<T>(pub T);

impl<S, T> axum::extract::FromRequest<S> for JsonBody<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = HttpError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(JsonBody(v)),
            Err(rej) => Err(HttpError::bad_request(rej.body_text())),
        }
    }
}

#[cfg(test)]
mod tests;
