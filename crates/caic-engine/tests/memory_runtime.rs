//! The engine end to end on the in-memory runtime: no container engine needed. A fake
//! task is created, answers, takes a follow-up, shows its diff, is stopped, revived,
//! dies, and is purged.

use caic_api::{CreateTaskReq, EventData, Prompt, TaskState};
use caic_engine::{Caller, Engine, EngineConfig, Error, Runtime};
use caic_runtime::MemoryRuntime;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);

/// No login: the caller may touch every task.
const ANY: &Caller = &Caller::Anyone;

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
    let rt = MemoryRuntime::new().unwrap();
    (engine_on(tmp, &rt).await, rt)
}

/// An engine on runtime `rt` with one repo, `demo` (made on first use).
async fn engine_on(tmp: &Path, rt: &MemoryRuntime) -> Engine {
    let repo = tmp.join("src/demo");
    if repo.exists() {
        return Engine::start_with(config(tmp), Arc::new(rt.clone()))
            .await
            .unwrap();
    }
    std::fs::create_dir_all(&repo).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    git(&repo, &["config", "user.name", "Test User"]);
    git(&repo, &["config", "user.email", "test@example.com"]);
    std::fs::write(repo.join("README.md"), "# demo\n").unwrap();
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-q", "-m", "initial"]);
    Engine::start_with(config(tmp), Arc::new(rt.clone()))
        .await
        .unwrap()
}

fn config(tmp: &Path) -> EngineConfig {
    EngineConfig {
        repos_root: tmp.join("src"),
        config_dir: tmp.join("config"),
        cache_dir: tmp.join("cache"),
        backend: Default::default(),
        harness_env: Default::default(),
        forge: Default::default(),
    }
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
            let t = engine.get(ANY, id).unwrap();
            panic!("timed out waiting for {what}; task is {:?}: {t:?}", t.state);
        }
    }
}

fn results(engine: &Engine, id: &str) -> Vec<String> {
    engine
        .subscribe(ANY, id)
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
    engine.get(ANY, id).unwrap().state
}

#[tokio::test]
async fn a_fake_task_runs_end_to_end_without_docker() {
    let tmp = tempfile::tempdir().unwrap();
    let (engine, rt) = engine(tmp.path()).await;
    let id = engine
        .create(
            ANY,
            CreateTaskReq {
                repo: "demo".into(),
                base_branch: None,
                harness: "fake".into(),
                model: None,
                prompt: "FAKE_WRITE notes.txt hello from memory".into(),
                images: Vec::new(),
                inject_token: false,
            },
        )
        .await
        .unwrap();
    wait_for(&engine, &id, "the first result", |e| {
        results(e, &id).len() == 1 && state(e, &id) == TaskState::Waiting
    })
    .await;

    // Nothing failed: there is nothing for "fix CI" to send (409, not 400).
    match engine.fix_ci(ANY, &id).await {
        Err(Error::Conflict { action, .. }) => {
            assert!(action.contains("no CI failure"), "{action}")
        }
        other => panic!("fix CI with nothing to fix: {other:?}"),
    }

    engine
        .input(
            ANY,
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

    let diff = engine.diff(ANY, &id).await.unwrap();
    assert!(diff.diff.contains("+hello from memory"), "{}", diff.diff);
    assert_eq!(diff.diff_stat.len(), 1);
    assert_eq!(diff.diff_stat[0].path, "notes.txt");

    engine.stop(ANY, &id).await.unwrap();
    wait_for(&engine, &id, "stopped", |e| {
        state(e, &id) == TaskState::Stopped
    })
    .await;
    assert!(!rt.list_containers().await.unwrap()[0].running);

    engine.revive(ANY, &id).await.unwrap();
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
        engine.get(ANY, &id).unwrap().error.as_deref(),
        Some("the container exited")
    );

    engine.purge(ANY, &id).await.unwrap();
    wait_for(&engine, &id, "purged", |e| {
        state(e, &id) == TaskState::Purged
    })
    .await;
    assert!(rt.list_containers().await.unwrap().is_empty());
}

fn forbidden<T: std::fmt::Debug>(r: Result<T, Error>, what: &str) {
    match r {
        Err(Error::Forbidden(_)) => {}
        other => panic!("{what}: expected Forbidden, got {other:?}"),
    }
}

/// The engine itself refuses another user's task, for every operation, whatever way
/// in the call came from; the owner survives a restart.
#[tokio::test]
async fn another_users_task_is_refused_by_the_engine() {
    let tmp = tempfile::tempdir().unwrap();
    let (engine, rt) = engine(tmp.path()).await;
    let alice = Caller::User("github:1".into());
    let bob = Caller::User("github:2".into());
    let id = engine
        .create(
            &alice,
            CreateTaskReq {
                repo: "demo".into(),
                base_branch: None,
                harness: "fake".into(),
                model: None,
                prompt: "FAKE_WRITE a.txt mine".into(),
                images: Vec::new(),
                inject_token: false,
            },
        )
        .await
        .unwrap();
    wait_for(&engine, &id, "the first result", |e| {
        state(e, &id) == TaskState::Waiting
    })
    .await;
    let prompt = || Prompt {
        text: "hi".into(),
        images: Vec::new(),
    };
    forbidden(engine.get(&bob, &id), "get");
    forbidden(engine.subscribe(&bob, &id).map(|_| ()), "subscribe");
    forbidden(engine.input(&bob, &id, prompt()).await, "input");
    forbidden(engine.interrupt(&bob, &id).await, "interrupt");
    forbidden(engine.restart(&bob, &id, prompt()).await, "restart");
    forbidden(engine.diff(&bob, &id).await, "diff");
    forbidden(
        engine.sync(&bob, &id, caic_api::SyncReq::default()).await,
        "sync",
    );
    forbidden(engine.fix_ci(&bob, &id).await, "fix CI");
    forbidden(engine.stop(&bob, &id).await, "stop");
    forbidden(engine.revive(&bob, &id).await, "revive");
    forbidden(engine.purge(&bob, &id).await, "purge");
    assert!(engine.list(&bob).is_empty(), "bob sees alice's task");
    // Refused means untouched: still waiting, one turn.
    assert_eq!(state(&engine, &id), TaskState::Waiting);
    // An unknown id stays a 404, not a 403.
    assert!(matches!(engine.get(&bob, "nope"), Err(Error::NotFound(_))));
    // Alice and caic itself (no login) see it.
    assert_eq!(engine.list(&alice).len(), 1);
    assert!(engine.get(&alice, &id).is_ok());
    assert_eq!(engine.owner(&id).as_deref(), Some("github:1"));

    // The owner is part of the task's log: a new engine on the same dirs knows it.
    assert!(engine.shutdown(Duration::from_secs(2)).await);
    drop(engine);
    let again = engine_on(tmp.path(), &rt).await;
    assert_eq!(again.owner(&id).as_deref(), Some("github:1"));
    forbidden(again.get(&bob, &id), "get after restart");
    assert_eq!(again.list(&alice).len(), 1);
    again.shutdown(Duration::from_secs(2)).await;
}

/// Owners an earlier caic kept in owners.json go to tasks without one, never over one.
#[tokio::test]
async fn legacy_owners_fill_in_missing_owners_only() {
    let tmp = tempfile::tempdir().unwrap();
    let (engine, _rt) = engine(tmp.path()).await;
    let req = |p: &str| CreateTaskReq {
        repo: "demo".into(),
        base_branch: None,
        harness: "fake".into(),
        model: None,
        prompt: p.into(),
        images: Vec::new(),
        inject_token: false,
    };
    let old = engine.create(ANY, req("old")).await.unwrap();
    let new = engine
        .create(&Caller::User("github:1".into()), req("new"))
        .await
        .unwrap();
    let map = std::collections::BTreeMap::from([
        (old.clone(), "github:7".to_string()),
        (new.clone(), "github:9".to_string()),
    ]);
    assert_eq!(engine.import_owners(&map), 1);
    assert_eq!(engine.owner(&old).as_deref(), Some("github:7"));
    assert_eq!(engine.owner(&new).as_deref(), Some("github:1"));
    engine.shutdown(Duration::from_secs(2)).await;
}
