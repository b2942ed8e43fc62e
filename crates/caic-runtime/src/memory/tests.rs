//! The memory runtime with the real fake agent: repo in, turns, offsets, diff, stop.

use super::*;
use caic_secrets::Secret;
use std::time::Duration;

const WORKDIR: &str = "/home/user/src/demo";
const LIMIT: Duration = Duration::from_secs(30);

/// Runs git in `dir`, panicking with its stderr on failure; returns stdout.
fn git(dir: &Path, args: &[&str]) -> Vec<u8> {
    let out = std::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "Test")
        .env("GIT_AUTHOR_EMAIL", "test@example.com")
        .env("GIT_COMMITTER_NAME", "Test")
        .env("GIT_COMMITTER_EMAIL", "test@example.com")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A host repo with one commit on `main`, as a bundle.
fn bundle() -> (tempfile::TempDir, Vec<u8>) {
    let tmp = tempfile::tempdir().unwrap();
    git(tmp.path(), &["init", "-q", "-b", "main"]);
    std::fs::write(tmp.path().join("README.md"), "# demo\n").unwrap();
    git(tmp.path(), &["add", "."]);
    git(tmp.path(), &["commit", "-q", "-m", "initial"]);
    let bundle = git(tmp.path(), &["bundle", "create", "-", "main"]);
    (tmp, bundle)
}

fn prompt(text: &str) -> String {
    serde_json::json!({"type": "user", "message": {"role": "user", "content": text}}).to_string()
}

fn fake_agent() -> (Vec<String>, Vec<AgentFile>) {
    let path = caic_harness::fake::AGENT_PATH;
    let argv = ["python3", "-u", path].map(String::from).to_vec();
    let files = vec![AgentFile {
        path: path.to_string(),
        mode: 0o755,
        contents: caic_harness::fake::AGENT_SCRIPT.to_string(),
    }];
    (argv, files)
}

/// A running container `c1` (task `t1`) with the demo repo and the fake agent
/// started under relay `s1`.
async fn started() -> (MemoryRuntime, tempfile::TempDir) {
    let rt = MemoryRuntime::new().unwrap();
    rt.create_container("t1", "fake", "c1").await.unwrap();
    rt.wait_ready("c1").await.unwrap();
    let (host, bundle) = bundle();
    rt.push_repo("c1", &bundle, "main", WORKDIR).await.unwrap();
    let (argv, files) = fake_agent();
    let env = [("PYTHONUNBUFFERED".to_string(), Secret::new("1"))];
    rt.start_relay("c1", "s1", WORKDIR, &argv, &env, &files)
        .await
        .unwrap();
    (rt, host)
}

/// Lines up to and including the next `result` line.
async fn turn(reader: &mut dyn LinkReader) -> Vec<(String, u64)> {
    let mut lines = Vec::new();
    loop {
        let next = tokio::time::timeout(LIMIT, reader.next_line())
            .await
            .expect("a line in time")
            .unwrap()
            .expect("the link stays up during a turn");
        let done = next.0.contains(r#""type":"result""#);
        lines.push(next);
        if done {
            return lines;
        }
    }
}

#[tokio::test]
async fn the_fake_agent_runs_end_to_end() {
    let (rt, _host) = started().await;
    let readme = rt.host_path("c1", "/home/user/src/demo/README.md").unwrap();
    assert_eq!(std::fs::read_to_string(readme).unwrap(), "# demo\n");

    let (mut reader, mut writer) = rt.attach("c1", "s1", 0).await.unwrap().split();
    let first = prompt("FAKE_WRITE notes.txt hello from the agent");
    writer.send_line(&first).await.unwrap();
    let lines = turn(reader.as_mut()).await;
    // The input line is logged first, like the relay does.
    assert_eq!(lines[0], (first.clone(), first.len() as u64 + 1));
    for w in lines.windows(2) {
        assert_eq!(
            w[1].1,
            w[0].1 + w[1].0.len() as u64 + 1,
            "offsets are bytes"
        );
    }
    assert!(lines.last().unwrap().0.contains(r#""is_error":false"#));
    let written = rt.host_path("c1", "/home/user/src/demo/notes.txt").unwrap();
    assert_eq!(
        std::fs::read_to_string(written).unwrap(),
        "hello from the agent"
    );

    // Re-attach from the end of the first line: the same lines, same offsets.
    let (mut again, _w) = rt.attach("c1", "s1", lines[0].1).await.unwrap().split();
    for want in &lines[1..] {
        assert_eq!(&again.next_line().await.unwrap().unwrap(), want);
    }
    assert!(rt.attach("c1", "s1", 3).await.is_err(), "not a line start");
    // The newer attach replaced the first: its writer is detached.
    assert!(writer.send_line(&prompt("lost")).await.is_err());
    drop(again);

    // Follow-up through a new link's writer.
    let (mut reader, mut writer) = rt
        .attach("c1", "s1", lines.last().unwrap().1)
        .await
        .unwrap()
        .split();
    let second = prompt("and again");
    writer.send_line(&second).await.unwrap();
    let lines = turn(reader.as_mut()).await;
    assert_eq!(lines[0].0, second);
    assert!(
        lines.iter().any(|(l, _)| l.contains("You said: and again")),
        "{lines:?}"
    );

    let stat = caic_git::parse_numstat(&rt.numstat("c1", WORKDIR).await.unwrap());
    assert_eq!(stat.len(), 1, "{stat:?}");
    assert_eq!((stat[0].path.as_str(), stat[0].added), ("notes.txt", 1));
    let (diff, _) = rt.diff("c1", WORKDIR).await.unwrap();
    assert!(diff.contains("+hello from the agent"), "{diff}");
    let bundle = rt
        .export("c1", WORKDIR, "main", ("Agent", "agent@example.com"))
        .await
        .unwrap();
    assert!(bundle.starts_with(b"# v"), "a git bundle");

    // Closing the input ends the agent: the link ends with its exit code.
    writer.close_input().await.unwrap();
    let end = tokio::time::timeout(LIMIT, async {
        while reader.next_line().await.unwrap().is_some() {}
        reader.finish().await
    })
    .await
    .unwrap();
    assert_eq!(end, LinkEnd::AgentExited(0));
}

#[tokio::test]
async fn stop_kills_the_agent_and_reports_a_death() {
    let (rt, _host) = started().await;
    let mut deaths = rt.deaths();
    let (mut reader, _writer) = rt.attach("c1", "s1", 0).await.unwrap().split();
    rt.stop_container("c1").await.unwrap();
    let dead = tokio::time::timeout(LIMIT, deaths.recv()).await.unwrap();
    assert_eq!(dead.as_deref(), Some("t1"));
    assert_eq!(reader.next_line().await.unwrap(), None);
    assert_eq!(
        reader.finish().await,
        LinkEnd::Dropped,
        "as an SSH link drops"
    );
    assert!(rt.attach("c1", "s1", 0).await.is_err(), "not running");
    let list = rt.list_containers().await.unwrap();
    assert_eq!(
        list,
        vec![ContainerState {
            name: "c1".into(),
            task_id: "t1".into(),
            running: false
        }]
    );

    // Started again, the files are still there; removed, they are gone.
    rt.start_container("c1").await.unwrap();
    // The agent did not survive: its relay reports it killed, as a dead relay does.
    let (mut old, _w) = rt.attach("c1", "s1", 0).await.unwrap().split();
    assert_eq!(old.next_line().await.unwrap(), None);
    assert_eq!(old.finish().await, LinkEnd::AgentExited(137));
    let dir = rt.host_path("c1", WORKDIR).unwrap();
    assert!(dir.join("README.md").exists());
    assert!(rt.kill("t1"), "a running container can die");
    assert_eq!(deaths.recv().await.as_deref(), Some("t1"));
    rt.remove_container("c1").await.unwrap();
    assert!(!dir.exists());
    assert!(rt.list_containers().await.unwrap().is_empty());
    rt.remove_container("c1").await.unwrap();
}
