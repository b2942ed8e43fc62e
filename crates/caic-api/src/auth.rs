//! Login and server-configuration bodies.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `GET /api/v1/auth/me`: who is logged in.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(optional_fields))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserResp {
    /// Stable user id, `provider:numeric id` (e.g. `github:583231`).
    pub id: String,
    /// The login name at the provider.
    pub username: String,
    /// `github` or `gitlab`.
    pub provider: String,
    /// Avatar image URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar_url: Option<String>,
}

/// `GET /api/v1/server/config`: what the UI needs before anyone logs in.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(optional_fields))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServerConfig {
    /// Whether login is required (at least one OAuth provider is configured).
    pub auth_enabled: bool,
    /// The configured login providers (`github`, `gitlab`), one login button each;
    /// start a login at `/api/v1/auth/{provider}/start`.
    pub auth_providers: Vec<String>,
}
