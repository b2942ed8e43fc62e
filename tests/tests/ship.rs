//! Shipping the work to a forge: the pull request after a push, the CI watch, failing
//! logs handed to the agent and the re-push, merge on green, token injection (S17), and
//! the webhooks (S11, S12). GitHub and GitLab are mock REST servers speaking the
//! documented endpoints and payloads; git pushes go to a real bare repo on disk (the
//! `origin` URL names the forge, git's `insteadOf` sends the bytes to the bare repo).

mod common;

use anyhow::Result;
use caic_forge::mock;
use common::{run, Caic, World};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const LONG: Duration = Duration::from_secs(300);
const TURN: Duration = Duration::from_secs(90);
const GH_TOKEN: &str = "ghp_shiptestshiptestshiptestshiptest0042";
const GL_TOKEN: &str = "glpat-shiptestshiptest0042";

/// The first 16 hex digits of a string's SHA-256, as `sha256sum | cut -c1-16` prints.
fn sha16(s: &str) -> String {
    let out = run(
        std::path::Path::new("/"),
        &[
            "sh",
            "-c",
            &format!("printf %s '{s}' | sha256sum | cut -c1-16"),
        ],
    );
    out.trim().to_string()
}

/// A GitHub Actions check run as `GET /repos/{o}/{r}/commits/{sha}/check-runs` lists it.
fn check_run(id: u64, name: &str, status: &str, conclusion: Option<&str>) -> Value {
    json!({
        "id": id,
        "name": name,
        "head_sha": "set-by-the-mock",
        "status": status,
        "conclusion": conclusion,
        "html_url": format!("https://github.com/acme/demo/actions/runs/9/job/{id}"),
        "details_url": format!("https://github.com/acme/demo/actions/runs/9/job/{id}"),
        "app": {"slug": "github-actions"},
    })
}

/// A GitHub Actions job log: a passing build step, then a failing test step whose output
/// tells the (fake) agent what to fix.
const FAILING_LOG: &str = "\
2026-11-26T10:00:00.0000000Z ##[group]Run cargo build
2026-11-26T10:00:00.1000000Z ##[endgroup]
2026-11-26T10:00:01.0000000Z build step output that must not reach the agent
2026-11-26T10:00:02.0000000Z ##[group]Run cargo test
2026-11-26T10:00:02.1000000Z ##[endgroup]
2026-11-26T10:00:03.0000000Z test feature::works ... FAILED: fix.txt is missing
2026-11-26T10:00:03.1000000Z FAKE_WRITE fix.txt fixed by the agent
2026-11-26T10:00:03.2000000Z ##[error]Process completed with exit code 101.
";

#[tokio::test(flavor = "multi_thread")]
async fn github_pr_ci_failure_to_agent_repush_green_and_merge() -> Result<()> {
    let (api, gh) = mock::github(GH_TOKEN).await;
    let world = World::new();
    let full = format!("acme/{}", world.repo_id);
    world.forge_origin(&format!("https://github.com/{full}.git"));
    world.write_config(&format!(
        "[forge]\ngithub_api = \"{api}\"\nci_poll_secs = 1\nmerge_on_green = true\n"
    ));
    let caic =
        Caic::start_with_env(&world, "127.0.0.1:0", &[("GITHUB_TOKEN", Some(GH_TOKEN))]).await?;
    let id = caic.create("fake", "FAKE_WRITE feature.txt v1").await?;
    caic.wait_turns(&id, 1, LONG).await?;
    let task = caic.task(&id).await?;
    let branch = task["branch"].as_str().unwrap().to_string();

    // Push: the pull request is opened with the task's title and the agent's result.
    let (status, v) = caic.post(&format!("/api/v1/tasks/{id}/sync"), "{}").await?;
    assert_eq!(status, 200, "{v}\n{}", caic.log_tail());
    assert_eq!(v["status"], "synced", "{v}");
    assert_eq!(v["pr"]["forge"], "github", "{v}");
    assert_eq!(v["pr"]["number"], 1, "{v}");
    let sha1 = v["commit"].as_str().unwrap().to_string();
    {
        let st = gh.lock();
        assert_eq!(st.pulls.len(), 1);
        let pull = &st.pulls[0];
        assert_eq!(pull["title"], task["title"]);
        assert_eq!(pull["head"]["ref"], branch.as_str());
        assert_eq!(pull["base"]["ref"], "main");
        let body = pull["body"].as_str().unwrap();
        assert!(
            body.contains(task["result"].as_str().unwrap()),
            "PR body lacks the agent's result: {body}"
        );
    }
    let t = caic.task(&id).await?;
    assert_eq!(t["pr"]["number"], 1, "{t}");
    assert_eq!(t["ci"]["sha"], sha1.as_str(), "{t}");
    assert_eq!(t["ci"]["state"], "pending", "{t}");

    // CI: one check passes, one runs, then fails.
    gh.lock().check_runs.insert(
        sha1.clone(),
        vec![
            check_run(10, "build", "completed", Some("success")),
            check_run(11, "test", "in_progress", None),
        ],
    );
    let t = caic
        .wait_task(&id, "CI 1/2", TURN, |t| t["ci"]["done"] == 1)
        .await?;
    assert_eq!(t["ci"]["total"], 2, "{t}");
    assert_eq!(t["ci"]["checks"][0]["state"], "passed", "{t}");
    gh.lock().logs.insert(11, FAILING_LOG.to_string());
    gh.lock().check_runs.insert(
        sha1.clone(),
        vec![
            check_run(10, "build", "completed", Some("success")),
            check_run(11, "test", "completed", Some("failure")),
        ],
    );
    caic.wait_task(&id, "CI failed", TURN, |t| t["ci"]["state"] == "failed")
        .await?;

    // The agent gets the failing step's log (not the passing one), fixes it, and when
    // its turn ends caic pushes again: same PR, new commit, watched again.
    let t = caic
        .wait_task(&id, "the re-push", LONG, |t| {
            t["ci"]["sha"].as_str().is_some_and(|s| s != sha1)
        })
        .await?;
    let sha2 = t["ci"]["sha"].as_str().unwrap().to_string();
    let mut sse = caic.sse(&format!("/api/v1/tasks/{id}/events")).await?;
    let history = sse.until(TURN, |m| m.event == "ready").await?;
    let inputs: Vec<&str> = history
        .iter()
        .filter(|m| common::kind(m) == "userInput")
        .filter_map(|m| m.data["text"].as_str())
        .collect();
    let report = inputs
        .iter()
        .find(|t| t.starts_with("CI failed"))
        .unwrap_or_else(|| panic!("no CI report sent to the agent: {inputs:?}"));
    assert!(report.contains("== Run cargo test =="), "{report}");
    assert!(report.contains("exit code 101"), "{report}");
    assert!(report.contains("pull request #1"), "{report}");
    assert!(!report.contains("build step output"), "{report}");
    assert_eq!(
        run(
            &world.tmp.path().join("origin.git"),
            &["git", "show", &format!("{branch}:fix.txt")]
        ),
        "fixed by the agent"
    );
    assert_eq!(
        run(
            &world.tmp.path().join("origin.git"),
            &["git", "rev-parse", &branch]
        ),
        sha2
    );
    assert_eq!(gh.lock().pulls.len(), 1, "a second PR was opened");

    // Green: the PR is squash-merged (opt-in setting) at the commit CI checked.
    gh.lock().heads.insert(branch.clone(), sha2.clone());
    gh.lock().check_runs.insert(
        sha2.clone(),
        vec![
            check_run(20, "build", "completed", Some("success")),
            check_run(21, "test", "completed", Some("success")),
        ],
    );
    caic.wait_task(&id, "CI passed", TURN, |t| t["ci"]["state"] == "passed")
        .await?;
    let deadline = Instant::now() + TURN;
    while gh.lock().pulls[0]["merged"] != true {
        assert!(Instant::now() < deadline, "not merged\n{}", caic.log_tail());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Polite polling: never two API calls with this token less than ~1 s apart.
    let st = gh.lock();
    let times: Vec<Instant> = st
        .requests
        .iter()
        .filter(|r| r.auth.as_deref() == Some(&format!("Bearer {GH_TOKEN}")))
        .map(|r| r.at)
        .collect();
    assert!(times.len() >= 6, "{} requests", times.len());
    for w in times.windows(2) {
        let gap = w[1].duration_since(w[0]);
        assert!(gap >= Duration::from_millis(900), "requests {gap:?} apart");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn gitlab_merge_request_and_pipeline_status() -> Result<()> {
    let world = World::new();
    let project = format!("grp/sub/{}", world.repo_id);
    let (api, gl) = mock::gitlab(&project, GL_TOKEN).await;
    world.forge_origin(&format!("https://gitlab.example.com/{project}.git"));
    world.write_config(&format!(
        "[forge]\ngitlab_api = \"{api}\"\ngitlab_hosts = [\"gitlab.example.com\"]\nci_poll_secs = 1\nci_autofix = false\n"
    ));
    let caic =
        Caic::start_with_env(&world, "127.0.0.1:0", &[("GITLAB_TOKEN", Some(GL_TOKEN))]).await?;
    let id = caic.create("fake", "FAKE_WRITE notes.txt hello").await?;
    caic.wait_turns(&id, 1, LONG).await?;
    let (status, v) = caic.post(&format!("/api/v1/tasks/{id}/sync"), "{}").await?;
    assert_eq!(status, 200, "{v}\n{}", caic.log_tail());
    assert_eq!(v["pr"]["forge"], "gitlab", "{v}");
    let iid = v["pr"]["number"].as_u64().unwrap();
    assert_eq!(gl.lock().mrs.len(), 1);
    let sha = v["commit"].as_str().unwrap().to_string();

    // Sync again: the existing MR is found, not opened twice.
    let (_, v2) = caic.post(&format!("/api/v1/tasks/{id}/sync"), "{}").await?;
    assert_eq!(v2["pr"]["number"], iid, "{v2}");
    assert_eq!(gl.lock().mrs.len(), 1, "a second MR was opened");

    let status = |id: u64, name: &str, s: &str| {
        json!({"id": id, "sha": sha, "ref": "x", "status": s, "name": name,
               "target_url": format!("https://gitlab.example.com/{project}/-/jobs/{id}"),
               "allow_failure": false})
    };
    gl.lock()
        .statuses
        .insert(sha.clone(), vec![status(31, "lint", "running")]);
    caic.wait_task(&id, "pipeline running", TURN, |t| {
        t["ci"]["total"] == 1 && t["ci"]["state"] == "pending"
    })
    .await?;
    gl.lock()
        .statuses
        .insert(sha.clone(), vec![status(31, "lint", "success")]);
    let t = caic
        .wait_task(&id, "pipeline passed", TURN, |t| {
            t["ci"]["state"] == "passed"
        })
        .await?;
    assert_eq!(
        t["ci"]["checks"][0]["url"],
        format!("https://gitlab.example.com/{project}/-/jobs/31").as_str()
    );
    // Pushing the same commit again keeps the green result (no reset to pending).
    let (status, v3) = caic.post(&format!("/api/v1/tasks/{id}/sync"), "{}").await?;
    assert_eq!(status, 200, "{v3}");
    assert_eq!(v3["commit"], sha.as_str());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let t = caic.task(&id).await?;
    assert_eq!(t["ci"]["state"], "passed", "{t}");
    assert_eq!(t["ci"]["done"], 1, "{t}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn ci_watch_resumes_after_a_server_restart() -> Result<()> {
    let (api, gh) = mock::github(GH_TOKEN).await;
    let world = World::new();
    world.forge_origin(&format!("https://github.com/acme/{}.git", world.repo_id));
    world.write_config(&format!(
        "[forge]\ngithub_api = \"{api}\"\nci_poll_secs = 1\n"
    ));
    let env = [("GITHUB_TOKEN", Some(GH_TOKEN))];
    let caic = Caic::start_with_env(&world, "127.0.0.1:0", &env).await?;
    let id = caic.create("fake", "FAKE_WRITE r.txt restart").await?;
    caic.wait_turns(&id, 1, LONG).await?;
    let (status, v) = caic.post(&format!("/api/v1/tasks/{id}/sync"), "{}").await?;
    assert_eq!(status, 200, "{v}");
    let sha = v["commit"].as_str().unwrap().to_string();
    caic.wait_task(&id, "pending", TURN, |t| t["ci"]["state"] == "pending")
        .await?;
    // caic dies while CI runs; CI finishes while it is down.
    caic.kill().await;
    gh.lock().check_runs.insert(
        sha.clone(),
        vec![check_run(40, "test", "completed", Some("success"))],
    );
    let caic = Caic::start_with_env(&world, "127.0.0.1:0", &env).await?;
    let t = caic
        .wait_task(&id, "CI passed after the restart", TURN, |t| {
            t["ci"]["state"] == "passed"
        })
        .await?;
    assert_eq!(t["ci"]["sha"], sha.as_str());
    assert!(
        caic.log_tail().contains("resumed CI watches"),
        "{}",
        caic.log_tail()
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn s17_forge_token_reaches_agent_env_only_and_is_reresolved_at_start() -> Result<()> {
    let (api, _gh) = mock::github(GH_TOKEN).await;
    let world = World::new();
    world.forge_origin(&format!("https://github.com/acme/{}.git", world.repo_id));
    world.write_config(&format!("[forge]\ngithub_api = \"{api}\"\n"));
    let caic =
        Caic::start_with_env(&world, "127.0.0.1:0", &[("GITHUB_TOKEN", Some(GH_TOKEN))]).await?;
    // The prompt must not hold the token (prompts are logged): compare hashes.
    let body = json!({"repo": caic.repo, "harness": "fake", "injectToken": true,
        "prompt": "FAKE_BASH echo \"gh=$(printf %s \"$GH_TOKEN\" | sha256sum | cut -c1-16) github=$(printf %s \"$GITHUB_TOKEN\" | sha256sum | cut -c1-16)\""});
    let (status, v) = caic.post("/api/v1/tasks", &body.to_string()).await?;
    assert_eq!(status, 200, "{v}");
    let id = v["id"].as_str().unwrap().to_string();
    let t = caic.wait_turns(&id, 1, LONG).await?;
    let container = t["container"].as_str().unwrap().to_string();
    let mut sse = caic.sse(&format!("/api/v1/tasks/{id}/events")).await?;
    let history = sse.until(TURN, |m| m.event == "ready").await?;
    let outputs: Vec<String> = history
        .iter()
        .filter(|m| common::kind(m) == "toolResult")
        .map(|m| m.data.to_string())
        .collect();
    let want = sha16(GH_TOKEN);
    assert!(
        outputs
            .iter()
            .any(|o| o.contains(&format!("gh={want} github={want}"))),
        "agent did not see the token: {outputs:?}"
    );
    // Not on disk in the container, not in its config, labels or env.
    let grep = common::docker(&[
        "exec",
        &container,
        "sh",
        "-c",
        &format!("grep -rl {GH_TOKEN} /home /etc /tmp /root 2>/dev/null || true"),
    ]);
    assert_eq!(grep.trim(), "", "token found on disk: {grep}");
    let inspect = common::docker(&["inspect", &container]);
    assert!(!inspect.contains(GH_TOKEN), "token in container config");

    // A rotated token is picked up at the next start.
    caic.kill().await;
    let rotated = "ghp_rotatedrotatedrotatedrotated00043";
    let caic =
        Caic::start_with_env(&world, "127.0.0.1:0", &[("GITHUB_TOKEN", Some(rotated))]).await?;
    let (status, v) = caic.post(&format!("/api/v1/tasks/{id}/stop"), "{}").await?;
    assert!(status == 200 || status == 409, "{v}");
    caic.wait_state(&id, &["stopped"], TURN).await?;
    let (status, v) = caic
        .post(&format!("/api/v1/tasks/{id}/revive"), "{}")
        .await?;
    assert_eq!(status, 200, "{v}");
    caic.wait_state(&id, &["waiting"], LONG).await?;
    caic.input(
        &id,
        "FAKE_BASH echo \"gh=$(printf %s \"$GH_TOKEN\" | sha256sum | cut -c1-16)\"",
    )
    .await?;
    caic.wait_turns(&id, 2, TURN).await?;
    let mut sse = caic.sse(&format!("/api/v1/tasks/{id}/events")).await?;
    let history = sse.until(TURN, |m| m.event == "ready").await?;
    assert!(
        history
            .iter()
            .filter(|m| common::kind(m) == "toolResult")
            .any(|m| m
                .data
                .to_string()
                .contains(&format!("gh={}", sha16(rotated)))),
        "revived agent did not get the rotated token\n{}",
        caic.log_tail()
    );
    let logs = std::fs::read_to_string(&caic.stderr_log)?;
    assert!(
        !logs.contains(GH_TOKEN) && !logs.contains(rotated),
        "token in caic's log"
    );
    Ok(())
}

/// A fresh RSA key pair made by `openssl`: (PKCS#1 private, SPKI public), as GitHub
/// issues an App's key.
fn rsa_pair(dir: &std::path::Path) -> (std::path::PathBuf, String) {
    let key = dir.join("app.pem");
    run(
        dir,
        &[
            "openssl",
            "genrsa",
            "-traditional",
            "-out",
            key.to_str().unwrap(),
            "2048",
        ],
    );
    let public = run(
        dir,
        &["openssl", "rsa", "-pubout", "-in", key.to_str().unwrap()],
    );
    (key, public + "\n")
}

#[tokio::test(flavor = "multi_thread")]
async fn github_app_token_opens_the_pull_request_when_the_personal_token_is_refused() -> Result<()>
{
    // GitHub accepts only the installation token the app exchange issues.
    let (api, gh) = mock::github("ghs_installation99token0001").await;
    let world = World::new();
    let (key, public) = rsa_pair(world.tmp.path());
    {
        let mut st = gh.lock();
        st.app_id = "424242".into();
        st.app_public_pem = public;
    }
    world.forge_origin(&format!("https://github.com/acme/{}.git", world.repo_id));
    world.write_config(&format!(
        "[forge]\ngithub_api = \"{api}\"\ngithub_app_id = \"424242\"\ngithub_app_key = \"{}\"\ngithub_app_installation = 99\nci_poll_secs = 3600\n",
        key.display()
    ));
    // A revoked personal token comes first: GitHub refuses it and caic falls back to
    // the app.
    let revoked = "ghp_revokedrevokedrevokedrevoked000044";
    let caic = Caic::start_with_env(
        &world,
        "127.0.0.1:0",
        &[("GITHUB_TOKEN", Some(revoked)), ("GH_TOKEN", None)],
    )
    .await?;
    let id = caic
        .create("fake", "FAKE_WRITE app.txt via the app")
        .await?;
    caic.wait_turns(&id, 1, LONG).await?;
    let (status, v) = caic.post(&format!("/api/v1/tasks/{id}/sync"), "{}").await?;
    assert_eq!(status, 200, "{v}\n{}", caic.log_tail());
    assert_eq!(v["pr"]["number"], 1, "{v}\n{}", caic.log_tail());
    let st = gh.lock();
    assert_eq!(st.tokens_issued, 1);
    let exchange = st
        .requests
        .iter()
        .find(|r| r.path == "/app/installations/99/access_tokens")
        .expect("no token exchange");
    assert!(exchange.auth.as_deref().unwrap().starts_with("Bearer eyJ"));
    let pulls: Vec<Option<&str>> = st
        .requests
        .iter()
        .filter(|r| r.path.contains("/pulls"))
        .map(|r| r.auth.as_deref())
        .collect();
    assert_eq!(pulls[0], Some(format!("Bearer {revoked}").as_str()));
    assert!(
        pulls[1..]
            .iter()
            .all(|a| *a == Some("Bearer ghs_installation99token0001")),
        "{pulls:?}"
    );
    assert!(pulls.len() >= 3, "{pulls:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn harnesses_say_which_credentials_reach_the_agent() -> Result<()> {
    let world = World::new();
    world.write_config("[harness.codex.env]\nOPENAI_API_KEY = \"sk-test-0042\"\n");
    let caic = Caic::start_with_env(
        &world,
        "127.0.0.1:0",
        &[
            ("ANTHROPIC_API_KEY", None),
            ("CLAUDE_CODE_OAUTH_TOKEN", None),
            ("GEMINI_API_KEY", Some("gemini-test-0042")),
        ],
    )
    .await?;
    let (status, v) = caic.get("/api/v1/server/harnesses").await?;
    assert_eq!(status, 200, "{v}");
    let by = |name: &str| {
        v.as_array()
            .unwrap()
            .iter()
            .find(|h| h["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no {name}: {v}"))
    };
    assert_eq!(by("codex")["credentialEnv"], json!(["OPENAI_API_KEY"]));
    assert_eq!(by("codex")["credentialsConfigured"], true);
    assert_eq!(by("gemini")["credentialsConfigured"], true);
    assert_eq!(
        by("claude")["credentialEnv"],
        json!(["ANTHROPIC_API_KEY", "CLAUDE_CODE_OAUTH_TOKEN"])
    );
    assert_eq!(by("claude")["credentialsConfigured"], false);
    assert_eq!(by("fake")["credentialsConfigured"], true);
    assert!(!v.to_string().contains("0042"), "a key leaked: {v}");
    Ok(())
}
