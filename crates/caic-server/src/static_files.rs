//! The web UI, embedded in the binary at build time from `ui/dist` (see `build.rs`).
//!
//! Every non-`/api/` GET is answered from here: a known file as itself, anything else
//! with `index.html` so the single-page app can route it. Files come precompressed
//! (brotli, gzip) and are chosen by `Accept-Encoding`. Vite's hashed files under
//! `assets/` never change, so they are cached for a year; everything else is
//! revalidated. Every answer from here carries the UI's security headers: a strict
//! Content-Security-Policy ([`CSP`]), `nosniff` and no referrer.

use crate::error::HttpError;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

/// One file of the built UI.
#[derive(Debug)]
pub struct Asset {
    /// Path under `ui/dist`, `/`-separated, no leading slash.
    pub path: &'static str,
    /// The file as is.
    pub body: &'static [u8],
    /// Its gzip encoding, when the build wrote one.
    pub gzip: Option<&'static [u8]>,
    /// Its brotli encoding, when the build wrote one.
    pub br: Option<&'static [u8]>,
}

include!(concat!(env!("OUT_DIR"), "/ui_assets.rs"));

/// Shown instead of the app when the binary was built without `ui/dist`.
const NOT_BUILT: &str = "<!doctype html><meta charset=utf-8><title>caic: UI not built</title>\
<body style=\"font-family:sans-serif;max-width:40em;margin:3em auto;padding:0 1em\">\
<h1>caic: UI not built</h1><p>This binary was built without the web UI. Build it with \
<code>cd ui &amp;&amp; npm ci &amp;&amp; npm run build</code>, then rebuild caic \
(<code>scripts/setup.sh</code> does both). The API under <code>/api/v1/</code> works \
regardless.</p></body>";

/// The Content-Security-Policy of the UI: scripts, styles and connections only from
/// caic itself (the build has no inline script, and SolidJS sets styles through the
/// CSSOM, which CSP does not govern); images also from `data:` and `blob:` (attached
/// images) and `https:` (forge avatars: agent text never makes an image); no plugins,
/// no `<base>`, not framed by anyone, forms only posting to caic.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
img-src 'self' data: blob: https:; connect-src 'self'; object-src 'none'; \
base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/// The policy of the "UI not built" page: no script at all, its inline style only.
const NOT_BUILT_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; \
base-uri 'none'; frame-ancestors 'none'; form-action 'none'";

/// Adds the security headers every answer of the UI carries, with `csp` as its policy.
fn secure(mut resp: Response, csp: &'static str) -> Response {
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(csp),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    resp
}

/// The embedded file at `path`, if any.
pub fn find(path: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.path == path)
}

/// True when the binary carries the UI.
pub fn is_built() -> bool {
    find("index.html").is_some()
}

fn content_type(path: &str) -> &'static str {
    let ext = path.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
    match ext {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "webmanifest" => "application/manifest+json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "txt" => "text/plain; charset=utf-8",
        "map" => "application/json",
        _ => "application/octet-stream",
    }
}

/// Whether `accept` (an `Accept-Encoding` value) allows `coding` with a non-zero q.
fn accepts(accept: &str, coding: &str) -> bool {
    accept.split(',').any(|part| {
        let mut it = part.split(';');
        let name = it.next().unwrap_or("").trim();
        if !name.eq_ignore_ascii_case(coding) && name != "*" {
            return false;
        }
        !it.any(|p| {
            let p = p.trim().replace(' ', "");
            p == "q=0" || p == "q=0.0" || p == "q=0.00" || p == "q=0.000"
        })
    })
}

fn serve_asset(asset: &Asset, headers: &HeaderMap, head: bool) -> Response {
    let accept = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let (body, encoding) = match (asset.br, asset.gzip) {
        (Some(b), _) if accepts(accept, "br") => (b, Some("br")),
        (_, Some(g)) if accepts(accept, "gzip") => (g, Some("gzip")),
        _ => (asset.body, None),
    };
    let cache = if asset.path.starts_with("assets/") {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let mut resp = if head {
        ().into_response()
    } else {
        body.into_response()
    };
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(asset.path)),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    if let Some(e) = encoding {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static(e));
    }
    if head {
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    }
    resp
}

/// The router's fallback: the UI for GET/HEAD outside `/api/`, the JSON 404 inside it.
pub async fn fallback(method: Method, uri: Uri, headers: HeaderMap) -> Response {
    let path = uri.path();
    if path == "/api" || path.starts_with("/api/") {
        return HttpError::not_found("no such route").into_response();
    }
    let head = method == Method::HEAD;
    if method != Method::GET && !head {
        let resp = (StatusCode::METHOD_NOT_ALLOWED, "method not allowed").into_response();
        return secure(resp, CSP);
    }
    let rel = path.trim_start_matches('/');
    if let Some(a) = find(rel).filter(|_| !rel.is_empty()) {
        return secure(serve_asset(a, &headers, head), CSP);
    }
    // A missing hashed file is a stale page asking for an old build: a real 404, not
    // the app (which would be parsed as JavaScript).
    if rel.starts_with("assets/") {
        return secure((StatusCode::NOT_FOUND, "not found").into_response(), CSP);
    }
    match find("index.html") {
        Some(index) => secure(serve_asset(index, &headers, head), CSP),
        None => secure(
            (
                StatusCode::OK,
                [
                    (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                    (header::CACHE_CONTROL, "no-cache"),
                ],
                NOT_BUILT,
            )
                .into_response(),
            NOT_BUILT_CSP,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_encoding_parsing() {
        assert!(accepts("gzip, deflate, br, zstd", "br"));
        assert!(accepts("gzip;q=1.0, br;q=0.5", "br"));
        assert!(!accepts("gzip, br;q=0", "br"));
        assert!(accepts("gzip, br;q=0", "gzip"));
        assert!(!accepts("", "gzip"));
        assert!(accepts("*", "gzip"));
        assert!(!accepts("identity", "gzip"));
    }

    async fn get(path: &str, enc: &str) -> Response {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT_ENCODING, HeaderValue::from_str(enc).unwrap());
        fallback(Method::GET, path.parse().unwrap(), h).await
    }

    async fn body(r: Response) -> Vec<u8> {
        axum::body::to_bytes(r.into_body(), usize::MAX)
            .await
            .unwrap()
            .to_vec()
    }

    #[tokio::test]
    async fn api_paths_keep_the_json_404() {
        let r = get("/api/v1/nope", "").await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        let v: serde_json::Value = serde_json::from_slice(&body(r).await).unwrap();
        assert_eq!(v["error"]["code"], "NOT_FOUND");
    }

    #[tokio::test]
    async fn app_routes_get_the_page_and_stale_assets_a_404() {
        let r = get("/tasks/abc", "gzip").await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()[header::CACHE_CONTROL], "no-cache");
        assert!(r.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
        let r = get("/assets/index-gone.js", "").await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        let r = fallback(Method::POST, "/x".parse().unwrap(), HeaderMap::new()).await;
        assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
        if !is_built() {
            let r = get("/", "").await;
            let text = String::from_utf8(body(r).await).unwrap();
            assert!(text.contains("UI not built"), "{text}");
        }
    }

    #[tokio::test]
    async fn hashed_assets_are_immutable_and_precompressed() {
        let Some(js) = ASSETS
            .iter()
            .find(|a| a.path.starts_with("assets/") && a.path.ends_with(".js"))
        else {
            return; // built without ui/dist: nothing embedded to check
        };
        let r = get(&format!("/{}", js.path), "gzip, deflate, br").await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(
            r.headers()[header::CACHE_CONTROL],
            "public, max-age=31536000, immutable"
        );
        assert_eq!(r.headers()[header::CONTENT_ENCODING], "br");
        assert_eq!(body(r).await, js.br.unwrap());
        let r = get(&format!("/{}", js.path), "gzip").await;
        assert_eq!(r.headers()[header::CONTENT_ENCODING], "gzip");
        let r = get(&format!("/{}", js.path), "").await;
        assert!(r.headers().get(header::CONTENT_ENCODING).is_none());
        assert_eq!(body(r).await, js.body);
    }

    /// The security headers of `r`, with a policy `csp`.
    fn assert_secure(r: &Response, csp: &str) {
        assert_eq!(r.headers()[header::CONTENT_SECURITY_POLICY], csp);
        assert_eq!(r.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(r.headers()[header::REFERRER_POLICY], "no-referrer");
    }

    #[tokio::test]
    async fn the_page_and_its_assets_carry_the_security_headers() {
        let index = get("/", "gzip").await;
        assert_eq!(index.status(), StatusCode::OK);
        if !is_built() {
            assert_secure(&index, NOT_BUILT_CSP);
            return;
        }
        assert_secure(&index, CSP);
        assert_secure(&get("/tasks/abc", "").await, CSP);
        assert_secure(&get("/assets/index-gone.js", "").await, CSP);
        let js = ASSETS
            .iter()
            .find(|a| a.path.starts_with("assets/") && a.path.ends_with(".js"))
            .expect("a built UI has a script");
        assert_secure(&get(&format!("/{}", js.path), "br").await, CSP);
        // The policy has no way around it for scripts, and the page needs none: Vite
        // writes no inline script.
        for d in [
            "script-src 'self';",
            "object-src 'none'",
            "frame-ancestors 'none'",
        ] {
            assert!(CSP.contains(d), "{d}");
        }
        assert!(!CSP.contains("unsafe"), "{CSP}");
        let html = String::from_utf8(body(get("/", "").await).await).unwrap();
        for tag in html.split("<script").skip(1) {
            let open = &tag[..tag.find('>').unwrap()];
            assert!(open.contains(" src="), "inline script in index.html: {tag}");
        }
    }

    #[test]
    fn content_types() {
        assert_eq!(content_type("index.html"), "text/html; charset=utf-8");
        assert_eq!(
            content_type("assets/index-abc.js"),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(content_type("x"), "application/octet-stream");
    }
}
