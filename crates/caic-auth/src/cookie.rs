//! The session cookie `caic_session` (S2) and reading credentials from a request:
//! cookies and `Authorization: Bearer`.

use crate::Secret;
use std::time::Duration;

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "caic_session";

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax, Path=/, Max-Age, and Secure when the
/// request came over HTTPS (see [`crate::forwarded::is_https`]).
pub fn set_cookie(name: &str, value: &str, max_age: Duration, secure: bool) -> String {
    let mut c = format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}",
        max_age.as_secs()
    );
    if secure {
        c.push_str("; Secure");
    }
    c
}

/// The `Set-Cookie` value carrying a session token.
pub fn session_cookie(token: &Secret, max_age: Duration, secure: bool) -> String {
    set_cookie(SESSION_COOKIE, token.expose(), max_age, secure)
}

/// The `Set-Cookie` value that removes a cookie (logout).
pub fn clear_cookie(name: &str, secure: bool) -> String {
    set_cookie(name, "", Duration::ZERO, secure)
}

/// The value of cookie `name` in a `Cookie` request header.
pub fn cookie_value<'a>(cookie_header: &'a str, name: &str) -> Option<&'a str> {
    cookie_header.split(';').find_map(|pair| {
        let (k, v) = pair.trim().split_once('=')?;
        (k == name).then_some(v)
    })
}

/// The token in an `Authorization: Bearer <token>` header value (scheme is
/// case-insensitive).
pub fn bearer_token(authorization: &str) -> Option<&str> {
    let (scheme, token) = authorization.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s02_session_cookie_attributes() {
        let t = Secret::new("header.payload.signature");
        let plain = session_cookie(&t, Duration::from_secs(60), false);
        assert_eq!(
            plain,
            "caic_session=header.payload.signature; Path=/; HttpOnly; SameSite=Lax; Max-Age=60"
        );
        let secure = session_cookie(&t, Duration::from_secs(60), true);
        assert!(secure.ends_with("; Secure"), "{secure}");
        let cleared = clear_cookie(SESSION_COOKIE, false);
        assert!(cleared.starts_with("caic_session=;") && cleared.contains("Max-Age=0"));
    }

    #[test]
    fn s02_reads_cookie_and_bearer() {
        assert_eq!(
            cookie_value("a=1; caic_session=tok; b=2", SESSION_COOKIE),
            Some("tok")
        );
        assert_eq!(cookie_value("xcaic_session=tok", SESSION_COOKIE), None);
        assert_eq!(bearer_token("Bearer abc.def.ghi"), Some("abc.def.ghi"));
        assert_eq!(bearer_token("bearer  abc"), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer "), None);
    }
}
