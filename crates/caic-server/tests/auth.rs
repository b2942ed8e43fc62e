//! Login, sessions and exposure controls through a real server (the real engine, tasks on
//! an in-memory runtime) against mock GitHub and GitLab servers, driven like a browser.

mod auth_support;

use auth_support::mock_forge::{Flavor, MockForge};
use auth_support::{Browser, Dirs, Env, EXTERNAL};
use base64::Engine as _;
use caic_auth::config::AuthConfig;
use caic_auth::session::Sessions;
use caic_auth::Secret;
use reqwest::StatusCode;
use std::time::Duration;

fn b64(s: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
}

/// Logs `name` in at `provider` and returns the browser, holding the session.
async fn logged_in(env: &Env, provider: &str, id: u64, name: &str) -> Browser {
    match provider {
        "github" => env.github.log_in_as(id, name),
        _ => env.gitlab.log_in_as(id, name),
    }
    let b = env.browser();
    let pages = b.login(provider).await;
    let last = pages.last().unwrap();
    assert_eq!(last.status, StatusCode::OK, "{pages:#?}");
    assert!(b.cookie("caic_session").is_some(), "{pages:#?}");
    b
}

#[tokio::test]
async fn s04_github_and_gitlab_round_trips_then_logout() {
    let env = Env::start(|_| {}).await;
    // The login page learns the providers before anyone logs in.
    let b = env.browser();
    let cfg = b.get("/api/v1/server/config").await;
    assert_eq!(cfg.status, StatusCode::OK);
    assert_eq!(
        cfg.json(),
        serde_json::json!({"authEnabled": true, "authProviders": ["github", "gitlab"]})
    );
    for (provider, id, name, shown) in [
        ("github", 583231, "alice", "alice"),
        ("gitlab", 42, "Bob", "Bob"),
    ] {
        let b = logged_in(&env, provider, id, name).await;
        let pages = b.navigate("/api/v1/auth/me").await;
        let me = pages.last().unwrap();
        assert_eq!(me.status, StatusCode::OK, "{me:?}");
        assert_eq!(me.json()["username"], shown);
        assert_eq!(me.json()["id"], format!("{provider}:{id}"));
        assert_eq!(me.json()["provider"], provider);
        // The login went start -> forge -> callback -> "/".
        let pages = {
            let b2 = env.browser();
            b2.login(provider).await
        };
        assert_eq!(pages[0].status, StatusCode::FOUND);
        assert!(pages[0]
            .location
            .as_ref()
            .unwrap()
            .starts_with(match provider {
                "github" => &env.github.url,
                _ => &env.gitlab.url,
            }));
        assert!(pages[2]
            .url
            .contains(&format!("/api/v1/auth/{provider}/callback")));
        assert_eq!(pages[2].location.as_deref(), Some("/"));
        // The API answers with the session.
        assert_eq!(b.get("/api/v1/tasks").await.status, StatusCode::OK);
        // Logout clears the cookie; the API is closed again.
        let out = b.post("/api/v1/auth/logout").await;
        assert_eq!(out.status, StatusCode::OK);
        let cleared = out.cookie("caic_session").unwrap();
        assert!(cleared.contains("Max-Age=0"), "{cleared}");
        assert!(b.cookie("caic_session").is_none());
        assert_eq!(b.get("/api/v1/auth/me").await.status, StatusCode::NOT_FOUND);
        let denied = b.get("/api/v1/tasks").await;
        assert_eq!(denied.status, StatusCode::UNAUTHORIZED);
        assert_eq!(denied.json()["error"]["code"], "UNAUTHORIZED");
    }
    env.server.stop().await;
}

#[tokio::test]
async fn s05_user_not_allowed_gets_403_and_no_session() {
    let env = Env::start(|_| {}).await;
    env.github.log_in_as(666, "mallory");
    let b = env.browser();
    let pages = b.login("github").await;
    let last = pages.last().unwrap();
    assert_eq!(last.status, StatusCode::FORBIDDEN, "{pages:#?}");
    assert_eq!(last.json()["error"]["code"], "FORBIDDEN");
    assert!(b.cookie("caic_session").is_none());
    // bob is allowed on GitLab only.
    env.github.log_in_as(7, "bob");
    let pages = b.login("github").await;
    assert_eq!(pages.last().unwrap().status, StatusCode::FORBIDDEN);
    assert_eq!(
        b.get("/api/v1/tasks").await.status,
        StatusCode::UNAUTHORIZED
    );
    env.server.stop().await;
}

#[tokio::test]
async fn s05_refused_browser_is_sent_back_to_the_ui_without_a_session() {
    let env = Env::start(|_| {}).await;
    env.github.log_in_as(666, "mallory");
    let b = env
        .browser()
        .with_header("accept", "text/html,application/xhtml+xml,*/*;q=0.8");
    let pages = b.login("github").await;
    let last = pages
        .iter()
        .find(|p| {
            p.status == StatusCode::FOUND
                && p.location
                    .as_deref()
                    .is_some_and(|l| l.contains("refused="))
        })
        .unwrap_or_else(|| panic!("{pages:#?}"));
    assert_eq!(last.location.as_deref(), Some("/?refused=mallory"));
    assert!(b.cookie("caic_session").is_none());
    assert_eq!(
        b.get("/api/v1/tasks").await.status,
        StatusCode::UNAUTHORIZED
    );
    env.server.stop().await;
}

/// Start and the forge's redirect, stopping before caic's callback.
async fn until_callback(b: &Browser, env: &Env) -> String {
    let start = b.get("/api/v1/auth/github/start").await;
    assert_eq!(start.status, StatusCode::FOUND);
    let state_cookie = start.cookie("caic_oauth_state").unwrap();
    assert!(state_cookie.contains("HttpOnly") && state_cookie.contains("SameSite=Lax"));
    let forge = b.get(start.location.as_ref().unwrap()).await;
    let cb = forge.location.unwrap();
    assert!(
        cb.starts_with(&format!("{EXTERNAL}/api/v1/auth/github/callback?")),
        "{cb}"
    );
    let _ = env;
    cb
}

#[tokio::test]
async fn s06_tampered_and_replayed_state_refused() {
    let env = Env::start(|_| {}).await;
    env.github.log_in_as(1, "alice");
    let b = env.browser();
    let cb = until_callback(&b, &env).await;
    let url = url::Url::parse(&cb).unwrap();
    let state: String = url
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    // The attacker's state in the URL.
    let tampered = cb.replace(&state, &"0".repeat(32));
    let p = b.get(&tampered).await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST, "{p:?}");
    assert!(p.body.contains("login state refused"), "{}", p.body);
    assert!(b.cookie("caic_session").is_none());
    // A browser that never started the login (no state cookie).
    let stranger = env.browser();
    let p = stranger.get(&cb).await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST);
    // The genuine callback works once ...
    let kept = {
        // The refusal cleared the state cookie; the browser still has it from start?
        // Start again to get a fresh, untouched pair.
        let cb = until_callback(&b, &env).await;
        let cookie = b.cookie("caic_oauth_state").unwrap();
        let ok = b.get(&cb).await;
        assert_eq!(ok.status, StatusCode::FOUND, "{ok:?}");
        assert!(b.cookie("caic_session").is_some());
        (cb, cookie)
    };
    // ... and is refused when replayed with the same state cookie.
    let replay = Browser::new(&env.base);
    replay.set_cookie("caic_oauth_state", &kept.1);
    let p = replay.get(&kept.0).await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST, "{p:?}");
    assert!(p.body.contains("already used"), "{}", p.body);
    assert!(replay.cookie("caic_session").is_none());
    env.server.stop().await;
}

#[tokio::test]
async fn s03_expired_foreign_and_alg_none_sessions_refused() {
    let env = Env::start(|_| {}).await;
    let b = logged_in(&env, "github", 1, "alice").await;
    let good = b.cookie("caic_session").unwrap();
    let ours = Sessions::new(&env.session_secret(), Duration::from_secs(3600));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let expired = ours.issue_at("github:1", "alice", now - 7200).unwrap();
    let foreign = Sessions::new(&Secret::new("f".repeat(64)), Duration::from_secs(3600))
        .issue("github:1", "alice")
        .unwrap();
    let payload = good.split('.').nth(1).unwrap().to_string();
    let none = format!("{}.{payload}.", b64(r#"{"alg":"none","typ":"JWT"}"#));
    let sig = good.rsplit('.').next().unwrap();
    let none_sig = format!("{}.{payload}.{sig}", b64(r#"{"alg":"none","typ":"JWT"}"#));
    let http = reqwest::Client::new();
    let tasks = format!("{}/api/v1/tasks", env.base);
    for (what, token) in [
        ("expired", expired.expose().to_string()),
        ("other secret", foreign.expose().to_string()),
        ("alg none", none),
        ("alg none with a real signature", none_sig),
    ] {
        let r = http.get(&tasks).bearer_auth(&token).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "bearer {what}");
        let r = http
            .get(&tasks)
            .header("cookie", format!("caic_session={token}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "cookie {what}");
        let me = http
            .get(format!("{}/api/v1/auth/me", env.base))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(me.status(), StatusCode::NOT_FOUND, "me {what}");
    }
    // The real session works as a cookie and as a bearer token.
    let r = http.get(&tasks).bearer_auth(&good).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    env.server.stop().await;
}

fn assert_session_cookie(c: &str, secure: bool) {
    assert!(c.starts_with("caic_session="), "{c}");
    assert!(c.contains("; HttpOnly"), "{c}");
    assert!(c.contains("; SameSite=Lax"), "{c}");
    assert!(c.contains("; Path=/"), "{c}");
    assert_eq!(c.contains("; Secure"), secure, "{c}");
}

fn session_set_cookie(b: &Browser) -> String {
    b.seen_cookies
        .lock()
        .iter()
        .find(|c| c.starts_with("caic_session=") && !c.contains("Max-Age=0"))
        .cloned()
        .expect("a session cookie was set")
}

#[tokio::test]
async fn s02_cookie_attributes_over_http_and_https_via_trusted_proxy() {
    // Plain HTTP: no Secure.
    let env = Env::start(|a| a.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()]).await;
    let b = logged_in(&env, "github", 1, "alice").await;
    assert_session_cookie(&session_set_cookie(&b), false);
    // HTTPS at the trusted proxy (127.0.0.1): Secure, on the state cookie too.
    env.github.log_in_as(1, "alice");
    let b = env.browser().with_header("x-forwarded-proto", "https");
    let pages = b.login("github").await;
    assert_eq!(pages.last().unwrap().status, StatusCode::OK, "{pages:#?}");
    assert_session_cookie(&session_set_cookie(&b), true);
    assert!(pages[0]
        .cookie("caic_oauth_state")
        .unwrap()
        .contains("; Secure"));
    env.server.stop().await;
    // The same header from a peer that is not a trusted proxy is ignored.
    let env = Env::start(|a| a.trusted_proxies = vec!["10.0.0.0/8".parse().unwrap()]).await;
    env.github.log_in_as(1, "alice");
    let b = env.browser().with_header("x-forwarded-proto", "https");
    let pages = b.login("github").await;
    assert_eq!(pages.last().unwrap().status, StatusCode::OK, "{pages:#?}");
    assert_session_cookie(&session_set_cookie(&b), false);
    env.server.stop().await;
}

async fn start_err(auth: AuthConfig) -> String {
    let dirs = Dirs::new();
    match auth_support::start_server(dirs.config(auth)).await {
        Ok(s) => {
            s.stop().await;
            panic!("the server started")
        }
        Err(e) => e.to_string(),
    }
}

#[tokio::test]
async fn s05_s10_startup_refuses_unsafe_settings() {
    let github = MockForge::start(Flavor::GitHub).await;
    let ok = AuthConfig {
        external_url: Some(EXTERNAL.into()),
        oauth_allowed_users: vec!["alice".into()],
        github_oauth: Some(auth_support::app(&github)),
        ..Default::default()
    };
    let mut a = ok.clone();
    a.oauth_allowed_users.clear();
    let e = start_err(a).await;
    assert!(e.contains("oauth_allowed_users"), "S5: {e}");
    let mut a = ok.clone();
    a.external_url = Some("http://caic.example.com".into());
    let e = start_err(a).await;
    assert!(
        e.contains("external_url") && e.contains("https"),
        "S10: {e}"
    );
    let mut a = ok.clone();
    a.external_url = None;
    assert!(start_err(a).await.contains("external_url"));
    let mut a = ok.clone();
    a.github_oauth.as_mut().unwrap().client_secret = Secret::new("");
    assert!(start_err(a).await.contains("github_oauth.client_secret"));
    let mut a = ok;
    a.allow_origins = Some(vec!["moon".into()]);
    assert!(start_err(a).await.contains("moon"));
}

#[tokio::test]
async fn s07_without_oauth_everything_is_open() {
    let dirs = Dirs::new();
    let server = auth_support::start_server(dirs.config(AuthConfig::default()))
        .await
        .unwrap();
    let base = format!("http://{}", server.addrs[0]);
    let http = reqwest::Client::new();
    let get = |p: &str| http.get(format!("{base}{p}")).send();
    assert_eq!(get("/api/v1/tasks").await.unwrap().status(), StatusCode::OK);
    assert_eq!(
        get("/api/v1/server/repos").await.unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(
        get("/api/v1/auth/me").await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get("/api/v1/auth/github/start").await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    let cfg: serde_json::Value = get("/api/v1/server/config")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        cfg,
        serde_json::json!({"authEnabled": false, "authProviders": []})
    );
    // The session secret was created privately at startup.
    let settings = dirs.config.join("settings.json");
    assert!(settings.exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let m = std::fs::metadata(&settings).unwrap().permissions().mode();
        assert_eq!(m & 0o777, 0o600);
    }
    // The auth routes are in the OpenAPI document.
    let doc: serde_json::Value = get("/api/v1/openapi.json")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for p in [
        "/api/v1/auth/{provider}/start",
        "/api/v1/auth/{provider}/callback",
        "/api/v1/auth/me",
        "/api/v1/auth/logout",
        "/api/v1/server/config",
    ] {
        assert!(
            doc["paths"].get(p).is_some(),
            "{p} missing from the OpenAPI doc"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn api_needs_a_session_but_the_ui_stays_reachable() {
    let env = Env::start(|_| {}).await;
    let b = env.browser();
    for p in [
        "/api/v1/tasks",
        "/api/v1/server/repos",
        "/api/v1/server/tasks/events",
        "/api/v1/openapi.json",
    ] {
        let r = b.get(p).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{p}");
        assert_eq!(r.json()["error"]["code"], "UNAUTHORIZED", "{p}");
    }
    let r = b.post("/api/v1/tasks").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    for p in ["/", "/tasks/some-id", "/api/v1/server/config"] {
        assert_eq!(b.get(p).await.status, StatusCode::OK, "{p}");
    }
    env.server.stop().await;
}

#[tokio::test]
async fn host_header_must_match_external_url() {
    let dirs = Dirs::new();
    let auth = AuthConfig {
        external_url: Some("https://Caic.Example.com".into()),
        ..Default::default()
    };
    let server = auth_support::start_server(dirs.config(auth)).await.unwrap();
    let base = format!("http://{}", server.addrs[0]);
    let http = reqwest::Client::new();
    let with_host = |h: &str| {
        http.get(format!("{base}/api/v1/server/config"))
            .header("host", h)
            .send()
    };
    for bad in [
        "evil.example",
        "caic.example.com.evil.example",
        "attacker:2242",
    ] {
        let r = with_host(bad).await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{bad}");
        let v: serde_json::Value = r.json().await.unwrap();
        assert_eq!(v["error"]["code"], "FORBIDDEN");
    }
    for good in [
        "caic.example.com",
        "CAIC.EXAMPLE.COM:8443",
        "localhost:2242",
        "127.0.0.1",
    ] {
        assert_eq!(
            with_host(good).await.unwrap().status(),
            StatusCode::OK,
            "{good}"
        );
    }
    // The UI is guarded too.
    assert_eq!(
        http.get(format!("{base}/"))
            .header("host", "evil.example")
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::FORBIDDEN
    );
    server.stop().await;
}

#[tokio::test]
async fn s09_allowlist_refuses_outside_clients() {
    let start = |origins: Vec<&str>, trusted: Vec<&str>| {
        let dirs = Dirs::new();
        let auth = AuthConfig {
            allow_origins: Some(origins.into_iter().map(String::from).collect()),
            trusted_proxies: trusted.into_iter().map(|t| t.parse().unwrap()).collect(),
            ..Default::default()
        };
        async move {
            let s = auth_support::start_server(dirs.config(auth)).await.unwrap();
            (dirs, s)
        }
    };
    let http = reqwest::Client::new();
    // 127.0.0.1 is outside 10.0.0.0/8: refused, UI and API alike.
    let (_d, s) = start(vec!["10.0.0.0/8"], vec![]).await;
    let base = format!("http://{}", s.addrs[0]);
    for p in ["/", "/api/v1/tasks"] {
        let r = http.get(format!("{base}{p}")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{p}");
        let v: serde_json::Value = r.json().await.unwrap();
        assert_eq!(v["error"]["code"], "FORBIDDEN");
    }
    s.stop().await;
    // A spoofed X-Forwarded-For from an untrusted peer is ignored ...
    let (_d, s) = start(vec!["203.0.113.0/24"], vec![]).await;
    let base = format!("http://{}", s.addrs[0]);
    let r = http
        .get(format!("{base}/api/v1/tasks"))
        .header("x-forwarded-for", "203.0.113.5")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    s.stop().await;
    // ... and believed from a trusted proxy.
    let (_d, s) = start(vec!["203.0.113.0/24"], vec!["127.0.0.1/32"]).await;
    let base = format!("http://{}", s.addrs[0]);
    let r = http
        .get(format!("{base}/api/v1/tasks"))
        .header("x-forwarded-for", "203.0.113.5")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    s.stop().await;
    // local covers the loopback client.
    let (_d, s) = start(vec!["local"], vec![]).await;
    let base = format!("http://{}", s.addrs[0]);
    let r = http
        .get(format!("{base}/api/v1/tasks"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    s.stop().await;
}

#[tokio::test]
async fn s15_whole_login_logs_no_secret() {
    let buf = caic_auth::testutil::Buffer::default();
    let sub = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(buf.clone())
        .finish();
    let guard = tracing::subscriber::set_default(sub);
    let env = Env::start(|_| {}).await;
    let b = logged_in(&env, "github", 1, "alice").await;
    let me = b.get("/api/v1/auth/me").await;
    assert_eq!(me.status, StatusCode::OK);
    let gl = logged_in(&env, "gitlab", 42, "bob").await;
    let stale = b.cookie("caic_session").unwrap();
    let _ = b.post("/api/v1/auth/logout").await;
    let session_secret = env.session_secret().expose().to_string();
    env.server.stop().await;
    drop(guard);
    let out = buf.text();
    assert!(out.contains("logged in"), "{out}");
    let mut secrets = vec![
        ("github client secret", env.github.client_secret.clone()),
        ("gitlab client secret", env.gitlab.client_secret.clone()),
        ("session secret", session_secret),
        ("session JWT", stale.clone()),
        (
            "JWT signature",
            stale.rsplit('.').next().unwrap().to_string(),
        ),
        ("gitlab session", gl.cookie("caic_session").unwrap()),
    ];
    for t in env
        .github
        .issued_tokens()
        .into_iter()
        .chain(env.gitlab.issued_tokens())
    {
        secrets.push(("forge access token", t));
    }
    for c in b.seen_cookies.lock().iter() {
        if let Some(v) = c.strip_prefix("caic_oauth_state=") {
            let v = v.split(';').next().unwrap();
            if !v.is_empty() {
                secrets.push(("state cookie", v.to_string()));
            }
        }
    }
    for (what, value) in secrets {
        assert!(!value.is_empty());
        assert!(!out.contains(&value), "{what} leaked into the logs:\n{out}");
    }
}
