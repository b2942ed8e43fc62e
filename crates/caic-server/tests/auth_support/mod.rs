//! Support for the auth suites: a real server (tasks on an in-memory runtime) on a temp
//! config, mock forges, and a "browser" that keeps cookies and follows redirects by hand.
#![allow(dead_code)]

pub use caic_auth::mock_forge;

use caic_auth::config::{AuthConfig, OAuthAppConfig};
use caic_auth::Secret;
use caic_server::config::Config;
use caic_server::Server;
use mock_forge::{Flavor, MockForge};
use parking_lot::Mutex;
use reqwest::StatusCode;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Starts a server on `cfg` with its tasks on an in-memory runtime: these suites do not
/// test containers, so they need no container engine.
pub async fn start_server(cfg: Config) -> Result<Server, caic_server::ServerError> {
    let rt = caic_engine::MemoryRuntime::new().expect("memory runtime");
    Server::start_with_runtime(cfg, std::sync::Arc::new(rt)).await
}

/// What users type to reach caic in these tests.
pub const EXTERNAL: &str = "https://caic.example.com";

/// Temp dirs for one server.
pub struct Dirs {
    pub tmp: tempfile::TempDir,
    pub config: PathBuf,
    pub root: PathBuf,
    pub cache: PathBuf,
}

impl Dirs {
    pub fn new() -> Dirs {
        let tmp = tempfile::tempdir().unwrap();
        let config = tmp.path().join("config");
        let root = tmp.path().join("src");
        let cache = tmp.path().join("cache");
        std::fs::create_dir_all(&root).unwrap();
        Dirs {
            tmp,
            config,
            root,
            cache,
        }
    }

    pub fn config(&self, auth: AuthConfig) -> Config {
        Config {
            listen: "127.0.0.1:0".into(),
            repos_root: Some(self.root.clone()),
            cache_dir: Some(self.cache.clone()),
            config_dir: self.config.clone(),
            auth,
            ..Default::default()
        }
    }
}

/// Runs git in `dir`, failing with its stderr; returns stdout.
pub fn git(dir: &std::path::Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Removes the containers of a repo's tasks when dropped, whatever the test's outcome.
pub struct Containers(pub String);

impl Drop for Containers {
    fn drop(&mut self) {
        let out = std::process::Command::new("docker")
            .args(["ps", "-aq", "--filter"])
            .arg(format!("name=caic-{}-", self.0))
            .output();
        if let Ok(out) = out {
            let ids: Vec<String> = String::from_utf8_lossy(&out.stdout)
                .split_whitespace()
                .map(String::from)
                .collect();
            if !ids.is_empty() {
                let _ = std::process::Command::new("docker")
                    .args(["rm", "-f"])
                    .args(&ids)
                    .output();
            }
        }
    }
}

impl Dirs {
    /// A repo `<prefix><unique suffix>` under the repos root with one commit on `main`,
    /// pushed to a bare `origin.git` beside it; returns its id and the clean-up guard.
    pub fn repo(&self, prefix: &str) -> (String, Containers) {
        let suffix: String = self
            .tmp
            .path()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_lowercase();
        let repo_id = format!("{prefix}{}", &suffix[suffix.len().saturating_sub(6)..]);
        let cleanup = Containers(repo_id.clone());
        let repo = self.root.join(&repo_id);
        let origin = self.origin();
        std::fs::create_dir_all(&repo).unwrap();
        git(
            self.tmp.path(),
            &[
                "init",
                "-q",
                "--bare",
                "-b",
                "main",
                origin.to_str().unwrap(),
            ],
        );
        git(&repo, &["init", "-q", "-b", "main"]);
        git(&repo, &["config", "user.name", "Test User"]);
        git(&repo, &["config", "user.email", "test@example.com"]);
        std::fs::write(repo.join("README.md"), "# demo\n").unwrap();
        git(&repo, &["add", "."]);
        git(&repo, &["commit", "-q", "-m", "initial"]);
        git(
            &repo,
            &["remote", "add", "origin", origin.to_str().unwrap()],
        );
        git(&repo, &["push", "-q", "-u", "origin", "main"]);
        git(&repo, &["remote", "set-head", "origin", "main"]);
        (repo_id, cleanup)
    }

    /// The bare repo made by [`Dirs::repo`].
    pub fn origin(&self) -> PathBuf {
        self.tmp.path().join("origin.git")
    }
}

/// The OAuth app registered at `forge`.
pub fn app(forge: &MockForge) -> OAuthAppConfig {
    OAuthAppConfig {
        client_id: forge.client_id.clone(),
        client_secret: Secret::new(forge.client_secret.clone()),
        url: Some(forge.url.clone()),
        api_url: match forge.flavor {
            Flavor::GitHub => Some(forge.url.clone()),
            Flavor::GitLab => None,
        },
        scope: None,
    }
}

/// A server with GitHub and GitLab login against fresh mocks.
pub struct Env {
    pub dirs: Dirs,
    pub server: Server,
    pub base: String,
    pub github: MockForge,
    pub gitlab: MockForge,
}

impl Env {
    /// `tweak` adjusts the auth settings before start.
    pub async fn start(tweak: impl FnOnce(&mut AuthConfig)) -> Env {
        let github = MockForge::start(Flavor::GitHub).await;
        let gitlab = MockForge::start(Flavor::GitLab).await;
        let mut auth = AuthConfig {
            external_url: Some(EXTERNAL.into()),
            oauth_allowed_users: vec!["Alice".into(), "gitlab:bob".into()],
            github_oauth: Some(app(&github)),
            gitlab_oauth: Some(app(&gitlab)),
            ..Default::default()
        };
        tweak(&mut auth);
        let dirs = Dirs::new();
        Env::start_with(dirs, auth, github, gitlab).await
    }

    pub async fn start_with(
        dirs: Dirs,
        auth: AuthConfig,
        github: MockForge,
        gitlab: MockForge,
    ) -> Env {
        let server = start_server(dirs.config(auth))
            .await
            .expect("server starts");
        let base = format!("http://{}", server.addrs[0]);
        Env {
            dirs,
            server,
            base,
            github,
            gitlab,
        }
    }

    pub fn browser(&self) -> Browser {
        Browser::new(&self.base)
    }

    /// The persisted session secret (settings.json).
    pub fn session_secret(&self) -> Secret {
        caic_auth::settings::load_or_create_session_secret(&self.dirs.config).unwrap()
    }
}

/// One response as the browser saw it.
#[derive(Debug)]
pub struct Page {
    pub status: StatusCode,
    pub url: String,
    pub location: Option<String>,
    pub set_cookies: Vec<String>,
    pub body: String,
}

impl Page {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// The `Set-Cookie` line of cookie `name`.
    pub fn cookie(&self, name: &str) -> Option<&String> {
        self.set_cookies
            .iter()
            .find(|c| c.starts_with(&format!("{name}=")))
    }
}

/// A browser: keeps caic's cookies, sends `Host: caic.example.com` to caic, follows
/// redirects one by one (mapping `EXTERNAL` to the test server), and can add headers
/// as a proxy in front of caic would.
pub struct Browser {
    pub base: String,
    http: reqwest::Client,
    pub jar: Mutex<BTreeMap<String, String>>,
    pub extra: Vec<(String, String)>,
    /// Every `Set-Cookie` caic sent.
    pub seen_cookies: Mutex<Vec<String>>,
}

impl Browser {
    pub fn new(base: &str) -> Browser {
        Browser {
            base: base.to_string(),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            jar: Mutex::default(),
            extra: Vec::new(),
            seen_cookies: Mutex::default(),
        }
    }

    /// Adds a header to every request to caic.
    pub fn with_header(mut self, k: &str, v: &str) -> Browser {
        self.extra.push((k.into(), v.into()));
        self
    }

    fn to_caic(&self, url: &str) -> Option<String> {
        if let Some(rest) = url.strip_prefix(EXTERNAL) {
            return Some(format!("{}{rest}", self.base));
        }
        if url.starts_with(&self.base) {
            return Some(url.to_string());
        }
        if url.starts_with('/') {
            return Some(format!("{}{url}", self.base));
        }
        None
    }

    pub fn cookie(&self, name: &str) -> Option<String> {
        self.jar.lock().get(name).cloned()
    }

    pub fn set_cookie(&self, name: &str, value: &str) {
        self.jar.lock().insert(name.to_string(), value.to_string());
    }

    /// One request, no redirect following.
    pub async fn request(&self, method: reqwest::Method, url: &str) -> Page {
        self.send(method, url, None).await
    }

    /// POST a JSON body.
    pub async fn post_json(&self, url: &str, body: &serde_json::Value) -> Page {
        self.send(reqwest::Method::POST, url, Some(body)).await
    }

    /// A streaming GET with the browser's cookies (for SSE).
    pub async fn stream(&self, path: &str) -> reqwest::Response {
        let jar = self.jar.lock().clone();
        let c: Vec<String> = jar.iter().map(|(k, v)| format!("{k}={v}")).collect();
        self.http
            .get(format!("{}{path}", self.base))
            .header("cookie", c.join("; "))
            .send()
            .await
            .expect("stream request")
    }

    async fn send(
        &self,
        method: reqwest::Method,
        url: &str,
        json: Option<&serde_json::Value>,
    ) -> Page {
        let (url, caic) = match self.to_caic(url) {
            Some(u) => (u, true),
            None => (url.to_string(), false),
        };
        let mut req = self.http.request(method, &url);
        if let Some(j) = json {
            req = req.json(j);
        }
        if caic {
            req = req.header("host", "caic.example.com");
            let jar = self.jar.lock();
            if !jar.is_empty() {
                let c: Vec<String> = jar.iter().map(|(k, v)| format!("{k}={v}")).collect();
                req = req.header("cookie", c.join("; "));
            }
            for (k, v) in &self.extra {
                req = req.header(k, v);
            }
        }
        let resp = req.send().await.expect("request");
        let status = resp.status();
        let location = resp
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_string());
        let set_cookies: Vec<String> = resp
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect();
        if caic {
            let mut jar = self.jar.lock();
            for c in &set_cookies {
                let pair = c.split(';').next().unwrap();
                let (k, v) = pair.split_once('=').unwrap();
                if c.contains("Max-Age=0") || v.is_empty() {
                    jar.remove(k);
                } else {
                    jar.insert(k.to_string(), v.to_string());
                }
            }
            self.seen_cookies.lock().extend(set_cookies.iter().cloned());
        }
        let body = resp.text().await.unwrap_or_default();
        Page {
            status,
            url,
            location,
            set_cookies,
            body,
        }
    }

    pub async fn get(&self, url: &str) -> Page {
        self.request(reqwest::Method::GET, url).await
    }

    pub async fn post(&self, url: &str) -> Page {
        self.request(reqwest::Method::POST, url).await
    }

    /// GET and follow redirects; returns every page on the way.
    pub async fn navigate(&self, url: &str) -> Vec<Page> {
        let mut pages = Vec::new();
        let mut next = url.to_string();
        for _ in 0..10 {
            let page = self.get(&next).await;
            let loc = page
                .status
                .is_redirection()
                .then(|| page.location.clone())
                .flatten();
            pages.push(page);
            match loc {
                Some(l) => next = l,
                None => return pages,
            }
        }
        panic!("too many redirects: {pages:?}");
    }

    /// A whole login with `provider`: returns the pages, the last one where it ended.
    pub async fn login(&self, provider: &str) -> Vec<Page> {
        self.navigate(&format!("/api/v1/auth/{provider}/start"))
            .await
    }
}
