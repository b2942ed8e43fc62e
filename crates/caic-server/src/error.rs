//! The one place engine errors become HTTP responses with the error envelope.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use caic_api::{ApiError, ErrorCode};

/// An error a handler returns; rendered as `{"error":{"code","message"},"details"}`.
#[derive(Debug)]
pub struct HttpError(pub ApiError);

impl HttpError {
    /// A 400 with `message`.
    pub fn bad_request(message: impl Into<String>) -> HttpError {
        HttpError(ApiError::new(ErrorCode::BadRequest, message))
    }

    /// A 404 with `message`.
    pub fn not_found(message: impl Into<String>) -> HttpError {
        HttpError(ApiError::new(ErrorCode::NotFound, message))
    }
}

impl From<caic_engine::Error> for HttpError {
    fn from(e: caic_engine::Error) -> Self {
        use caic_engine::Error as E;
        let err = match &e {
            E::BadRequest(m) => ApiError::new(ErrorCode::BadRequest, m.clone()),
            E::NotFound(_) => ApiError::new(ErrorCode::NotFound, e.to_string()),
            E::Forbidden(_) => ApiError::new(ErrorCode::Forbidden, e.to_string()),
            E::Conflict { state, .. } => ApiError::new(ErrorCode::Conflict, e.to_string())
                .with_details(serde_json::json!({ "state": state })),
            E::EngineUnavailable(_) => ApiError::new(ErrorCode::Unavailable, e.to_string()),
            _ => {
                tracing::error!(error = %e, "request failed");
                ApiError::new(ErrorCode::InternalError, e.to_string())
            }
        };
        HttpError(err)
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.error.code.status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, Json(self.0)).into_response()
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

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(JsonBody(v)),
            Err(rej) => Err(HttpError::bad_request(rej.body_text())),
        }
    }
}
