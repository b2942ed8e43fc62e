//! The engine end to end on the in-memory runtime: no container engine needed. A fake
//! task is created, answers, takes a follow-up, shows its diff, is stopped, revived,
//! dies, and is purged.

use caic_api::{CreateTaskReq, EventData, Prompt, TaskState};
use caic_engine::{Engine, EngineConfig, Runtime};
use caic_runtime::MemoryRuntime;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);

fn git(dir: &Path, args: &[&str]) {
    let out = std::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// An engine on a memory runtime with one repo, `demo`.
async fn engine(tmp: &Path) -> (Engine, MemoryRuntime) {
    let repo = tmp.join("src/demo");
    std::fs::create_dir_all(&repo).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    git(&repo, &["config", "user.name", "Test User"]);
    git(&repo, &["config", "user.email", "test@example.com"]);
    std::fs::write(repo.join("README.md"), "# demo\n").unwrap();
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-q", "-m", "initial"]);
    let cfg = EngineConfig {
        repos_root: tmp.join("src"),
        config_dir: tmp.join("config"),
        cache_dir: tmp.join("cache"),
        backend: Default::default(),
        harness_env: Default::default(),
        forge: Default::default(),
    };
    let rt = MemoryRuntime::new().unwrap();
    let engine = Engine::start_with(cfg, Arc::new(rt.clone())).await.unwrap();
    (engine, rt)
}

/// Waits until `check` holds for task `id`, or fails with what the task looks like.
async fn wait_for(engine: &Engine, id: &str, what: &str, check: impl Fn(&Engine) -> bool) {
    let mut changes = engine.changes();
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        changes.borrow_and_update();
        if check(engine) {
            return;
        }
        if tokio::time::timeout_at(deadline, changes.changed())
            .await
            .is_err()
        {
            let t = engine.get(id).unwrap();
            panic!("timed out waiting for {what}; task is {:?}: {t:?}", t.state);
        }
    }
}

fn results(engine: &Engine, id: &str) -> Vec<String> {
    engine
        .subscribe(id)
        .unwrap()
        .history
        .into_iter()
        .filter_map(|e| match e.data {
            EventData::Result { result, .. } => Some(result),
            _ => None,
        })
        .collect()
}

fn state(engine: &Engine, id: &str) -> TaskState {
    engine.get(id).unwrap().state
}

#[tokio::test]
async fn a_fake_task_runs_end_to_end_without_docker() {
    let tmp = tempfile::tempdir().unwrap();
    let (engine, rt) = engine(tmp.path()).await;
    let id = engine
        .create(CreateTaskReq {
            repo: "demo".into(),
            base_branch: None,
            harness: "fake".into(),
            model: None,
            prompt: "FAKE_WRITE notes.txt hello from memory".into(),
            images: Vec::new(),
            inject_token: false,
        })
        .await
        .unwrap();
    wait_for(&engine, &id, "the first result", |e| {
        results(e, &id).len() == 1 && state(e, &id) == TaskState::Waiting
    })
    .await;

    engine
        .input(
            &id,
            Prompt {
                text: "and now?".into(),
                images: Vec::new(),
            },
        )
        .await
        .unwrap();
    wait_for(&engine, &id, "the second result", |e| {
        results(e, &id).len() == 2 && state(e, &id) == TaskState::Waiting
    })
    .await;
    assert!(
        results(&engine, &id)[1].contains("and now?"),
        "{:?}",
        results(&engine, &id)
    );

    let diff = engine.diff(&id).await.unwrap();
    assert!(diff.diff.contains("+hello from memory"), "{}", diff.diff);
    assert_eq!(diff.diff_stat.len(), 1);
    assert_eq!(diff.diff_stat[0].path, "notes.txt");

    engine.stop(&id).await.unwrap();
    wait_for(&engine, &id, "stopped", |e| {
        state(e, &id) == TaskState::Stopped
    })
    .await;
    assert!(!rt.list_containers().await.unwrap()[0].running);

    engine.revive(&id).await.unwrap();
    wait_for(&engine, &id, "revived", |e| {
        state(e, &id) == TaskState::Waiting
    })
    .await;

    // The container dies under a live task: the engine notices.
    assert!(rt.kill(&id));
    wait_for(&engine, &id, "the death noticed", |e| {
        state(e, &id) == TaskState::Stopped
    })
    .await;
    assert_eq!(
        engine.get(&id).unwrap().error.as_deref(),
        Some("the container exited")
    );

    engine.purge(&id).await.unwrap();
    wait_for(&engine, &id, "purged", |e| {
        state(e, &id) == TaskState::Purged
    })
    .await;
    assert!(rt.list_containers().await.unwrap().is_empty());
}
