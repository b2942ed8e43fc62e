//! The caller of a request as the engine sees it: the logged-in user when login is
//! on, anyone otherwise (S7). The engine decides what that caller may touch.

use super::{Auth, CurrentUser};
use crate::error::HttpError;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use caic_api::{ApiError, ErrorCode};
use caic_engine::Caller;
use std::sync::Arc;

/// Extracts the engine [`Caller`] of a request.
pub struct RequestCaller(pub Caller);

impl<S: Send + Sync> FromRequestParts<S> for RequestCaller {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        if let Some(CurrentUser(user)) = parts.extensions.get::<CurrentUser>() {
            return Ok(RequestCaller(Caller::User(user.id.clone())));
        }
        // With login on, a request without a user never acts as "anyone", even on a
        // route the session middleware let through.
        let login_on = parts
            .extensions
            .get::<Arc<Auth>>()
            .is_some_and(|a| a.enabled());
        if login_on {
            return Err(HttpError(ApiError::new(
                ErrorCode::Unauthorized,
                "login required",
            )));
        }
        Ok(RequestCaller(Caller::Anyone))
    }
}
