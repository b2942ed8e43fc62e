//! Full OAuth round trips against mock GitHub and GitLab servers.

use super::*;
use crate::config::OAuthAppConfig;
use crate::mock_forge::{Flavor, MockForge};
use crate::settings::load_or_create_session_secret;

const EXTERNAL: &str = "https://caic.example.com";

struct Env {
    forge: MockForge,
    login: Login,
    secret: Secret,
    dir: tempfile::TempDir,
}

async fn env(flavor: Flavor) -> Env {
    let forge = MockForge::start(flavor).await;
    let app = OAuthAppConfig {
        client_id: forge.client_id.clone(),
        client_secret: Secret::new(forge.client_secret.clone()),
        url: Some(forge.url.clone()),
        api_url: match flavor {
            Flavor::GitHub => Some(forge.url.clone()),
            Flavor::GitLab => None, // derived: {url}/api/v4
        },
        scope: None,
    };
    let mut cfg = AuthConfig {
        external_url: Some(EXTERNAL.to_string()),
        oauth_allowed_users: vec!["Alice".to_string(), "gitlab:bob".to_string()],
        ..Default::default()
    };
    match flavor {
        Flavor::GitHub => cfg.github_oauth = Some(app),
        Flavor::GitLab => cfg.gitlab_oauth = Some(app),
    }
    let dir = tempfile::tempdir().unwrap();
    let secret = load_or_create_session_secret(dir.path()).unwrap();
    let users = Arc::new(UserStore::open(dir.path()).unwrap());
    let login = Login::new(&cfg, &secret, users).unwrap();
    Env {
        forge,
        login,
        secret,
        dir,
    }
}

fn provider(f: Flavor) -> Provider {
    match f {
        Flavor::GitHub => Provider::GitHub,
        Flavor::GitLab => Provider::GitLab,
    }
}

/// What the browser brings back to the callback.
struct Callback {
    code: String,
    state: String,
    cookie: String,
}

/// Plays the browser: start, follow the redirect to the forge's authorize page, and
/// read the redirect back to caic's callback.
async fn browse(e: &Env, flavor: Flavor) -> Callback {
    let start = e.login.start(provider(flavor)).unwrap();
    assert!(
        start.redirect_url.starts_with(&e.forge.url),
        "{}",
        start.redirect_url
    );
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let resp = http.get(&start.redirect_url).send().await.unwrap();
    assert_eq!(resp.status(), reqwest::StatusCode::SEE_OTHER);
    let loc = resp.headers()["location"].to_str().unwrap().to_string();
    let callback = callback_url(EXTERNAL, provider(flavor));
    assert!(loc.starts_with(&format!("{callback}?")), "{loc}");
    let url = url::Url::parse(&loc).unwrap();
    let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    Callback {
        code: q["code"].clone(),
        state: q["state"].clone(),
        cookie: start.state_cookie,
    }
}

async fn finish(e: &Env, flavor: Flavor, cb: &Callback) -> Result<LoginDone, Error> {
    e.login
        .finish(provider(flavor), &cb.code, &cb.state, Some(&cb.cookie))
        .await
}

async fn allowed_user_gets_a_session(flavor: Flavor, id: u64, name: &str) {
    let e = env(flavor).await;
    e.forge.log_in_as(id, name);
    let cb = browse(&e, flavor).await;
    let done = finish(&e, flavor, &cb).await.unwrap();
    let p = provider(flavor);
    assert_eq!(done.user.id, format!("{p}:{id}"));
    assert_eq!(done.user.username, name);
    // The session works on the next request.
    let (claims, user) = e.login.authenticate(done.session.expose()).unwrap();
    assert_eq!(claims.sub, done.user.id);
    assert_eq!(user.username, name);
    // The forge token is stored for later API calls, and survives a restart (S18).
    let issued = e.forge.issued_tokens();
    assert_eq!(issued.len(), 1);
    let reopened = UserStore::open(e.dir.path()).unwrap();
    assert_eq!(
        reopened.get(&done.user.id).unwrap().token.expose(),
        issued[0]
    );
    assert!(done.user.avatar_url.is_some());
}

#[tokio::test]
async fn s04_github_round_trip_allowed_user_gets_a_session() {
    // "Alice" is allowed; GitHub says "alice": case-insensitive.
    allowed_user_gets_a_session(Flavor::GitHub, 583231, "alice").await;
}

#[tokio::test]
async fn s04_gitlab_round_trip_allowed_user_gets_a_session() {
    allowed_user_gets_a_session(Flavor::GitLab, 42, "Bob").await;
}

#[tokio::test]
async fn s05_user_not_on_the_list_is_refused_after_a_valid_login() {
    for flavor in [Flavor::GitHub, Flavor::GitLab] {
        let e = env(flavor).await;
        e.forge.log_in_as(666, "mallory");
        let cb = browse(&e, flavor).await;
        let err = finish(&e, flavor, &cb).await.unwrap_err();
        assert!(
            matches!(err, Error::NotAllowed(ref u) if u == "mallory"),
            "{err}"
        );
        assert!(
            e.login.users().list().is_empty(),
            "refused users are not stored"
        );
    }
    // gitlab:bob is not allowed on GitHub.
    let e = env(Flavor::GitHub).await;
    e.forge.log_in_as(7, "bob");
    let cb = browse(&e, Flavor::GitHub).await;
    assert!(matches!(
        finish(&e, Flavor::GitHub, &cb).await,
        Err(Error::NotAllowed(_))
    ));
}

#[tokio::test]
async fn s06_tampered_state_refused() {
    let e = env(Flavor::GitHub).await;
    e.forge.log_in_as(1, "alice");
    let cb = browse(&e, Flavor::GitHub).await;
    // The attacker's state in the callback URL.
    let mut bad = Callback {
        state: "0".repeat(32),
        code: cb.code.clone(),
        cookie: cb.cookie.clone(),
    };
    assert!(matches!(
        finish(&e, Flavor::GitHub, &bad).await,
        Err(Error::State(_))
    ));
    // A cookie altered to match.
    bad.cookie = cb.cookie.replacen(&cb.state, &bad.state, 1);
    assert!(matches!(
        finish(&e, Flavor::GitHub, &bad).await,
        Err(Error::State(_))
    ));
    // No cookie at all (a login the browser did not start).
    let err = e
        .login
        .finish(Provider::GitHub, &cb.code, &cb.state, None)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::State(_)));
    // The genuine callback still works: refusals did not burn it, and no code was
    // spent at the forge.
    finish(&e, Flavor::GitHub, &cb).await.unwrap();
    assert_eq!(e.forge.issued_tokens().len(), 1);
}

#[tokio::test]
async fn s06_replayed_state_refused() {
    let e = env(Flavor::GitLab).await;
    e.forge.log_in_as(42, "bob");
    let cb = browse(&e, Flavor::GitLab).await;
    finish(&e, Flavor::GitLab, &cb).await.unwrap();
    // Same state and cookie again, even with a fresh code from the forge.
    let fresh = browse(&e, Flavor::GitLab).await;
    let replay = Callback {
        code: fresh.code,
        state: cb.state.clone(),
        cookie: cb.cookie.clone(),
    };
    let err = finish(&e, Flavor::GitLab, &replay).await.unwrap_err();
    assert_eq!(err.to_string(), "login state refused: already used");
}

#[tokio::test]
async fn s03_expired_other_secret_and_alg_none_sessions_refused() {
    let e = env(Flavor::GitHub).await;
    e.forge.log_in_as(1, "alice");
    let cb = browse(&e, Flavor::GitHub).await;
    let done = finish(&e, Flavor::GitHub, &cb).await.unwrap();
    let lifetime = e.login.sessions().lifetime().as_secs();
    // Expired.
    let old = e
        .login
        .sessions()
        .issue_at(&done.user.id, "alice", crate::now_unix() - lifetime - 1)
        .unwrap();
    assert_eq!(
        e.login.authenticate(old.expose()).unwrap_err().to_string(),
        "session refused: expired"
    );
    // Signed with another secret.
    let other = Sessions::new(&Secret::new("f".repeat(64)), Duration::from_secs(3600));
    let forged = other.issue(&done.user.id, "alice").unwrap();
    assert_eq!(
        e.login
            .authenticate(forged.expose())
            .unwrap_err()
            .to_string(),
        "session refused: bad signature"
    );
    // alg: none, with the real token's claims.
    use base64::Engine;
    let payload = done.session.expose().split('.').nth(1).unwrap();
    let header =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
    assert!(e
        .login
        .authenticate(&format!("{header}.{payload}."))
        .is_err());
    // The real one still works.
    e.login.authenticate(done.session.expose()).unwrap();
}

#[tokio::test]
async fn s05_removing_a_user_from_the_list_ends_their_sessions() {
    let e = env(Flavor::GitHub).await;
    e.forge.log_in_as(1, "alice");
    let cb = browse(&e, Flavor::GitHub).await;
    let done = finish(&e, Flavor::GitHub, &cb).await.unwrap();
    // Restart with alice gone from the list: same secret, same users.json.
    let cfg = AuthConfig {
        external_url: Some(EXTERNAL.to_string()),
        oauth_allowed_users: vec!["carol".to_string()],
        github_oauth: Some(OAuthAppConfig {
            client_id: "x".into(),
            client_secret: Secret::new("y"),
            ..Default::default()
        }),
        ..Default::default()
    };
    let users = Arc::new(UserStore::open(e.dir.path()).unwrap());
    let restarted = Login::new(&cfg, &e.secret, users).unwrap();
    assert!(matches!(
        restarted.authenticate(done.session.expose()),
        Err(Error::NotAllowed(_))
    ));
}

#[tokio::test]
async fn s04_provider_errors_are_reported_without_secrets() {
    let e = env(Flavor::GitHub).await;
    e.forge.log_in_as(1, "alice");
    let cb = browse(&e, Flavor::GitHub).await;
    let bad = Callback {
        code: "not-a-real-code".into(),
        state: cb.state.clone(),
        cookie: cb.cookie.clone(),
    };
    let err = finish(&e, Flavor::GitHub, &bad)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("github") && err.contains("bad_verification_code"),
        "{err}"
    );
    assert!(!err.contains(&e.forge.client_secret));
    let e = env(Flavor::GitLab).await;
    let cb = browse(&e, Flavor::GitLab).await;
    let bad = Callback {
        code: "nope".into(),
        state: cb.state,
        cookie: cb.cookie,
    };
    let err = finish(&e, Flavor::GitLab, &bad)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("gitlab") && err.contains("invalid_grant"),
        "{err}"
    );
}

#[tokio::test]
async fn s15_whole_login_logs_no_secret() {
    let (sub, buf) = crate::testutil::subscriber();
    let _guard = tracing::subscriber::set_default(sub);
    let e = env(Flavor::GitHub).await;
    e.forge.log_in_as(1, "alice");
    let cb = browse(&e, Flavor::GitHub).await;
    let done = finish(&e, Flavor::GitHub, &cb).await.unwrap();
    e.login.authenticate(done.session.expose()).unwrap();
    let _ = finish(&e, Flavor::GitHub, &cb).await; // a replay, logged as refused
    drop(_guard);
    let out = buf.text();
    assert!(out.contains("logged in"), "{out}");
    assert!(out.contains("login refused"), "{out}");
    let user = e.login.users().get(&done.user.id).unwrap();
    let secrets = [
        ("client secret", e.forge.client_secret.clone()),
        ("access token", user.token.expose().to_string()),
        ("session secret", e.secret.expose().to_string()),
        ("session JWT", done.session.expose().to_string()),
        (
            "JWT signature",
            done.session
                .expose()
                .rsplit('.')
                .next()
                .unwrap()
                .to_string(),
        ),
        ("state cookie", cb.cookie.clone()),
    ];
    for (what, value) in secrets {
        assert!(!out.contains(&value), "{what} leaked into the logs:\n{out}");
    }
    // The masked forms are what appears.
    assert!(out.contains(&done.session.masked()), "{out}");
    assert!(out.contains(&user.token.masked()), "{out}");
}

#[tokio::test]
async fn gitlab_tokens_are_refreshed_before_they_expire() {
    let e = env(Flavor::GitLab).await;
    e.forge.log_in_as(42, "bob");
    let cb = browse(&e, Flavor::GitLab).await;
    let done = finish(&e, Flavor::GitLab, &cb).await.unwrap();
    let before = e.login.users().get(&done.user.id).unwrap();
    let old_refresh = before.refresh_token.clone().unwrap();
    // Two hours left: not due within 15 minutes, due within three hours.
    assert_eq!(e.login.refresh_expiring(Duration::from_secs(900)).await, 0);
    assert_eq!(
        e.login
            .refresh_expiring(Duration::from_secs(3 * 3600))
            .await,
        1
    );
    let after = e.login.users().get(&done.user.id).unwrap();
    assert_ne!(after.token, before.token);
    assert_ne!(after.refresh_token.as_ref(), Some(&old_refresh));
    assert!(after.token_expires_at.unwrap() >= before.token_expires_at.unwrap());
    // The new token works at the forge, and is what a restart reads back (S18).
    let client = OAuthClient::new(
        Provider::GitLab,
        &OAuthAppConfig {
            client_id: e.forge.client_id.clone(),
            client_secret: Secret::new(e.forge.client_secret.clone()),
            url: Some(e.forge.url.clone()),
            api_url: None,
            scope: None,
        },
        &callback_url(EXTERNAL, Provider::GitLab),
    )
    .unwrap();
    assert_eq!(
        client.fetch_profile(&after.token).await.unwrap().username,
        "bob"
    );
    let reopened = UserStore::open(e.dir.path()).unwrap();
    assert_eq!(reopened.get(&done.user.id).unwrap().token, after.token);
    // The used-up refresh token is refused by GitLab: a second refresh with it fails
    // and leaves the stored token alone.
    assert!(client.refresh(&old_refresh).await.is_err());
    assert_eq!(
        e.login.users().get(&done.user.id).unwrap().token,
        after.token
    );
}
