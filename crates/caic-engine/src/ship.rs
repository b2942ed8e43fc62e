//! After a push: the pull request, the CI watch, and feeding CI failures back to the
//! agent. Which forge and which repository come from the host repo's `origin`; which
//! credential from [`ForgeConfig`] and the task owner's login ([`UserTokens`]).

use caic_api::{CiCheck, CiState, PullInfo};
use caic_forge::{CheckState, ForgeKind, GitHubApp, RateLimiter, Remote, Secret};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// Where the forges' APIs are, the credentials caic holds, and how CI is followed.
#[derive(Debug, Clone)]
pub struct ForgeConfig {
    /// GitHub's REST API root (default `https://api.github.com`; tests point it at a mock).
    pub github_api: Option<String>,
    /// A GitHub token: configured, or detected with `gh auth token` at startup (S16).
    pub github_token: Option<Secret>,
    /// A GitHub App used when no token is available.
    pub github_app: Option<GitHubAppConfig>,
    /// GitLab's REST API root override (default `https://<host>/api/v4` of the remote).
    pub gitlab_api: Option<String>,
    /// A GitLab token (configured personal, project or group access token).
    pub gitlab_token: Option<Secret>,
    /// Host names of self-hosted GitLab instances.
    pub gitlab_hosts: Vec<String>,
    /// How often a pushed commit's checks are polled (webhooks cut the wait short).
    pub ci_poll: Duration,
    /// Send failing CI logs to the agent as a follow-up, and re-push when its turn ends.
    pub ci_autofix: bool,
    /// Squash-merge the pull request when all checks pass (opt-in).
    pub merge_on_green: bool,
}

impl Default for ForgeConfig {
    fn default() -> Self {
        ForgeConfig {
            github_api: None,
            github_token: None,
            github_app: None,
            gitlab_api: None,
            gitlab_token: None,
            gitlab_hosts: Vec::new(),
            ci_poll: Duration::from_secs(20),
            ci_autofix: true,
            merge_on_green: false,
        }
    }
}

/// A GitHub App installation caic acts as.
#[derive(Debug, Clone)]
pub struct GitHubAppConfig {
    /// The app id (or client id).
    pub app_id: String,
    /// The app's RSA private key, PEM.
    pub private_key_pem: Secret,
    /// The installation on the repos' owner.
    pub installation_id: u64,
}

/// The forge token of the user who owns a task, when they logged in with that forge.
pub trait UserTokens: Send + Sync {
    /// The OAuth token of user `owner` (a task's owner) for `forge`, if any.
    fn token_for(&self, owner: &str, forge: ForgeKind) -> Option<Secret>;
}

/// A forge client for the repository of one task's remote.
pub(crate) type Forge = Arc<dyn caic_forge::Forge>;

/// The API's description of pull request `pr` on `forge`.
pub(crate) fn pull_info(forge: &Forge, pr: caic_forge::PullRequest) -> PullInfo {
    PullInfo {
        forge: forge.name().to_string(),
        number: pr.number,
        url: pr.url,
    }
}

/// One commit being watched.
struct Watch {
    sha: String,
    nudge: Arc<Notify>,
    handle: tokio::task::JoinHandle<()>,
}

/// The engine's forge side: clients, credentials, CI watches.
pub(crate) struct Ship {
    pub(crate) cfg: ForgeConfig,
    limiter: Arc<RateLimiter>,
    app: Option<GitHubApp>,
    users: Mutex<Option<Arc<dyn UserTokens>>>,
    watches: Mutex<HashMap<String, Watch>>,
    /// The last CI failure report per task, for "fix CI".
    failures: Mutex<HashMap<String, String>>,
    /// Runs the CI watches, tracked for shutdown.
    jobs: crate::spawner::Spawner,
}

impl Ship {
    pub(crate) fn new(cfg: ForgeConfig, jobs: crate::spawner::Spawner) -> Ship {
        let limiter = Arc::new(RateLimiter::new(caic_forge::DEFAULT_INTERVAL));
        let app = cfg.github_app.as_ref().and_then(|a| {
            let base = cfg.github_api.as_deref().unwrap_or(caic_forge::GITHUB_API);
            match GitHubApp::new(
                base,
                &a.app_id,
                a.private_key_pem.expose().as_bytes(),
                limiter.clone(),
            ) {
                Ok(app) => Some(app),
                Err(e) => {
                    tracing::error!(error = %e, "GitHub App disabled");
                    None
                }
            }
        });
        Ship {
            cfg,
            limiter,
            app,
            users: Mutex::new(None),
            watches: Mutex::new(HashMap::new()),
            failures: Mutex::new(HashMap::new()),
            jobs,
        }
    }

    pub(crate) fn set_user_tokens(&self, users: Arc<dyn UserTokens>) {
        *self.users.lock() = Some(users);
    }

    /// Which forge repository a remote URL names, if any.
    pub(crate) fn remote(&self, url: &str) -> Option<Remote> {
        let hosts: Vec<&str> = self.cfg.gitlab_hosts.iter().map(String::as_str).collect();
        caic_forge::parse_remote(url, &hosts)
    }

    /// The credential for a task of `owner` on `remote`'s forge (S17 order): the owner's
    /// OAuth token, then the configured token (or `gh auth token`), then the GitHub App.
    pub(crate) async fn credential(&self, owner: Option<&str>, remote: &Remote) -> Option<Secret> {
        self.credentials(owner, remote).await.into_iter().next()
    }

    /// Every credential for a task of `owner` on `remote`'s forge, in the S17 order; API
    /// calls try the next one when a token is refused (a login token without write scope).
    pub(crate) async fn credentials(&self, owner: Option<&str>, remote: &Remote) -> Vec<Secret> {
        let mut out = Vec::new();
        let user = self.users.lock().clone();
        if let Some(t) = user
            .zip(owner)
            .and_then(|(u, owner)| u.token_for(owner, remote.kind))
        {
            out.push(t);
        }
        let configured = match remote.kind {
            ForgeKind::GitHub => self.cfg.github_token.clone(),
            ForgeKind::GitLab => self.cfg.gitlab_token.clone(),
        };
        if let Some(t) = configured.filter(|t| !t.is_empty()) {
            out.push(t);
        }
        if remote.kind == ForgeKind::GitHub {
            if let (Some(app), Some(cfg)) = (&self.app, &self.cfg.github_app) {
                match app.installation_token(cfg.installation_id).await {
                    Ok(t) => out.push(t),
                    Err(e) => tracing::warn!(error = %e, "GitHub App installation token"),
                }
            }
        }
        out.dedup();
        out
    }

    /// A client for `remote` with `token`, at the configured API root of its forge.
    pub(crate) fn client(&self, remote: &Remote, token: Secret) -> caic_forge::Result<Forge> {
        let base = match remote.kind {
            ForgeKind::GitHub => self.cfg.github_api.as_deref(),
            ForgeKind::GitLab => self.cfg.gitlab_api.as_deref(),
        };
        caic_forge::connect(remote, base, Some(token), self.limiter.clone())
    }

    /// Replaces `task_id`'s watch (if any) by `handle` on `sha`.
    fn set_watch(
        &self,
        task_id: &str,
        sha: &str,
        nudge: Arc<Notify>,
        handle: tokio::task::JoinHandle<()>,
    ) {
        let old = self.watches.lock().insert(
            task_id.to_string(),
            Watch {
                sha: sha.to_string(),
                nudge,
                handle,
            },
        );
        if let Some(w) = old {
            w.handle.abort();
        }
    }

    /// Whether `task_id`'s CI watch follows `sha` and still runs.
    pub(crate) fn watching(&self, task_id: &str, sha: &str) -> bool {
        self.watches
            .lock()
            .get(task_id)
            .is_some_and(|w| w.sha == sha && !w.handle.is_finished())
    }

    /// Stops watching `task_id`.
    pub(crate) fn unwatch(&self, task_id: &str) {
        if let Some(w) = self.watches.lock().remove(task_id) {
            w.handle.abort();
        }
    }

    /// Polls now every watch on commit `sha` (a webhook said its CI changed). Returns
    /// how many watches it woke.
    pub(crate) fn nudge(&self, sha: &str) -> usize {
        let w = self.watches.lock();
        let mut n = 0;
        for watch in w.values().filter(|w| w.sha == sha) {
            watch.nudge.notify_one();
            n += 1;
        }
        n
    }

    /// The last CI failure report of `task_id`, for "fix CI".
    pub(crate) fn failure(&self, task_id: &str) -> Option<String> {
        self.failures.lock().get(task_id).cloned()
    }

    /// Remembers `task_id`'s last CI failure report.
    pub(crate) fn set_failure(&self, task_id: &str, text: Option<String>) {
        let mut f = self.failures.lock();
        match text {
            Some(t) => f.insert(task_id.to_string(), t),
            None => f.remove(task_id),
        };
    }
}

/// What a watch loop reports to the engine.
pub(crate) enum CiOutcome {
    Passed,
    Failed(Vec<caic_forge::Check>),
}

/// Converts forge checks into the API's shape.
pub(crate) fn ci_event(sha: &str, checks: &[caic_forge::Check]) -> caic_api::EventData {
    let status = caic_forge::ci_status(checks);
    let (state, done) = match status {
        caic_forge::CiStatus::None => (CiState::Pending, 0),
        caic_forge::CiStatus::Pending { done, .. } => (CiState::Pending, done),
        caic_forge::CiStatus::Passed => (CiState::Passed, checks.len()),
        caic_forge::CiStatus::Failed => (CiState::Failed, checks.len()),
    };
    caic_api::EventData::Ci {
        sha: sha.to_string(),
        state,
        done: done as u32,
        total: checks.len() as u32,
        checks: checks
            .iter()
            .map(|c| CiCheck {
                name: c.name.clone(),
                state: match c.state {
                    CheckState::Pending => "pending",
                    CheckState::Passed => "passed",
                    CheckState::Failed => "failed",
                    CheckState::Skipped => "skipped",
                }
                .to_string(),
                url: c.url.clone(),
            })
            .collect(),
    }
}

/// The follow-up telling the agent which checks failed, with their log excerpts.
pub(crate) async fn failure_report(
    forge: &Forge,
    sha: &str,
    pr: Option<&PullInfo>,
    checks: &[caic_forge::Check],
) -> String {
    let failed: Vec<&caic_forge::Check> = checks
        .iter()
        .filter(|c| c.state == CheckState::Failed)
        .collect();
    let on = match pr {
        Some(p) => format!(" for pull request #{}", p.number),
        None => String::new(),
    };
    let mut out = format!(
        "CI failed on commit {}{on}: {} of {} checks failed. Fix the cause, commit, and end your turn; caic will push again and watch CI.\n",
        &sha[..sha.len().min(12)],
        failed.len(),
        checks.len()
    );
    // At most three logs: enough to act on, short enough to read.
    for c in failed.iter().take(3) {
        out.push_str(&format!("\n## {}", c.name));
        if let Some(u) = &c.url {
            out.push_str(&format!(" ({u})"));
        }
        out.push('\n');
        match c.job_id {
            Some(job) => match forge.failure_excerpt(job).await {
                Ok(text) if !text.trim().is_empty() => {
                    out.push_str("```\n");
                    out.push_str(text.trim_end());
                    out.push_str("\n```\n");
                }
                Ok(_) => out.push_str("(the log is empty)\n"),
                Err(e) => out.push_str(&format!("(could not fetch the log: {e})\n")),
            },
            None => out.push_str("(no log available for this check)\n"),
        }
    }
    if failed.len() > 3 {
        out.push_str(&format!(
            "\n…and {} more failing checks.\n",
            failed.len() - 3
        ));
    }
    out
}

impl Ship {
    /// Starts following `sha`'s checks for `task_id`; `report` gets the events and the
    /// final outcome. Replaces any earlier watch of the task.
    pub(crate) fn watch<F, Fut>(&self, task_id: &str, forge: Forge, sha: &str, report: F)
    where
        F: Fn(WatchReport) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = ()> + Send,
    {
        let nudge = Arc::new(Notify::new());
        let poll = self.cfg.ci_poll;
        let sha_owned = sha.to_string();
        let task = task_id.to_string();
        let n = nudge.clone();
        let handle = self.jobs.spawn(async move {
            let mut delay = Duration::ZERO;
            let mut last: Option<caic_api::EventData> = None;
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = n.notified() => {}
                }
                let checks = match forge.checks(&sha_owned).await {
                    Ok(c) => c,
                    Err(e) => {
                        // Back off on errors (rate limits, outages): double up to 5 min.
                        delay = (delay.max(poll) * 2).min(Duration::from_secs(300));
                        tracing::warn!(task = %task, error = %e, "polling CI");
                        continue;
                    }
                };
                delay = poll;
                let ev = ci_event(&sha_owned, &checks);
                if last.as_ref() != Some(&ev) {
                    last = Some(ev.clone());
                    report(WatchReport::Event(ev)).await;
                }
                match caic_forge::ci_status(&checks) {
                    caic_forge::CiStatus::Passed => {
                        report(WatchReport::Done(CiOutcome::Passed, forge.clone())).await;
                        break;
                    }
                    caic_forge::CiStatus::Failed => {
                        report(WatchReport::Done(CiOutcome::Failed(checks), forge.clone())).await;
                        break;
                    }
                    _ => {}
                }
            }
        });
        self.set_watch(task_id, sha, nudge, handle);
    }
}

/// What a watch tells the engine.
pub(crate) enum WatchReport {
    /// The CI picture changed.
    Event(caic_api::EventData),
    /// CI finished.
    Done(CiOutcome, Forge),
}
