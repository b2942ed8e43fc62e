//! S27: without login, a web page the user visits cannot drive caic: not through DNS
//! rebinding (a foreign Host), not with a cross-site form or fetch.

mod auth_support;

use auth_support::Dirs;
use caic_auth::config::AuthConfig;
use reqwest::StatusCode;

#[tokio::test]
async fn s27_foreign_host_and_cross_site_requests_are_refused_without_login() {
    let dirs = Dirs::new();
    let server = auth_support::start_server(dirs.config(AuthConfig::default()))
        .await
        .unwrap();
    let addr = server.addrs[0];
    let base = format!("http://{addr}");
    let http = reqwest::Client::new();

    // DNS rebinding: the page's own name arrives as Host.
    for bad in [
        "evil.example",
        "evil.example:2242",
        "localhost.evil.example",
    ] {
        let r = http
            .get(format!("{base}/api/v1/tasks"))
            .header("host", bad)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{bad}");
        let v: serde_json::Value = r.json().await.unwrap();
        assert_eq!(v["error"]["code"], "FORBIDDEN", "{bad}");
    }
    for good in [
        format!("localhost:{}", addr.port()),
        addr.to_string(),
        "[::1]:2242".to_string(),
    ] {
        let r = http
            .get(format!("{base}/api/v1/tasks"))
            .header("host", &good)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{good}");
    }

    // A cross-site form post (what a hidden form on any page can send) changes nothing.
    let purge = format!("{base}/api/v1/tasks/some-task/purge");
    let r = http
        .post(&purge)
        .header("origin", "http://evil.example")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("a=b")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // The browser's own word for it, with or without an Origin.
    for site in ["cross-site", "same-site"] {
        let r = http
            .post(&purge)
            .header("sec-fetch-site", site)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{site}");
    }
    // caic's own page (same origin) and clients that are not browsers go through (to a
    // 404: there is no such task).
    for origin in [Some(base.clone()), None] {
        let mut req = http.post(&purge).header("sec-fetch-site", "same-origin");
        if let Some(o) = &origin {
            req = req.header("origin", o);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{origin:?}");
    }
    let r = http.post(&purge).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND, "curl-like client");
    server.stop().await;
}
