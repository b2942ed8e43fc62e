//! Publishing the work: sync to the task branch, the pre-push secret scan, and the
//! squash onto the default branch, against a real bare remote on disk.

mod common;

use common::{run, Caic, World};
use serde_json::json;
use std::path::Path;
use std::time::Duration;

const LONG: Duration = Duration::from_secs(300);
const TURN: Duration = Duration::from_secs(90);

fn origin(world: &World) -> std::path::PathBuf {
    world.tmp.path().join("origin.git")
}

/// What a user sees of their checkout: HEAD, branch, status.
fn checkout(repo: &Path) -> (String, String, String) {
    (
        run(repo, &["git", "rev-parse", "HEAD"]),
        run(repo, &["git", "branch", "--show-current"]),
        run(repo, &["git", "status", "--porcelain"]),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn sync_pushes_branch_blocks_secrets_and_squashes_onto_default() -> anyhow::Result<()> {
    let world = World::new();
    // The user has uncommitted work of their own: it must stay as it is.
    std::fs::write(world.repo.join("README.md"), "# demo\nlocal edit\n")?;
    let before = checkout(&world.repo);
    let caic = Caic::start(&world).await?;
    let id = caic
        .create("fake", "FAKE_WRITE feature.txt the new feature")
        .await?;
    caic.wait_turns(&id, 1, LONG).await?;
    let branch = caic.task(&id).await?["branch"]
        .as_str()
        .unwrap()
        .to_string();

    // Branch target: the remote gets caic-N with the agent's file.
    let (status, v) = caic.post(&format!("/api/v1/tasks/{id}/sync"), "{}").await?;
    assert_eq!(status, 200, "{v}\n{}", caic.log_tail());
    assert_eq!(v["status"], "synced", "{v}");
    assert_eq!(v["branch"], branch.as_str());
    assert_eq!(v["diffStat"][0]["path"], "feature.txt");
    let pushed = run(
        &origin(&world),
        &["git", "show", &format!("{branch}:feature.txt")],
    );
    assert_eq!(pushed, "the new feature");
    assert_eq!(
        v["commit"],
        run(&origin(&world), &["git", "rev-parse", &branch]).as_str()
    );
    assert_eq!(checkout(&world.repo), before, "host checkout touched");

    // The agent plants a secret: the push is blocked, the finding is masked, the agent is
    // told, and the remote branch does not move.
    let key = "AKIAQWERTYUIOPASDFGH";
    caic.input(
        &id,
        &format!("FAKE_WRITE deploy/config.env AWS_ACCESS_KEY_ID={key}"),
    )
    .await?;
    caic.wait_turns(&id, 2, TURN).await?;
    let remote_before = run(&origin(&world), &["git", "rev-parse", &branch]);
    let (status, v) = caic.post(&format!("/api/v1/tasks/{id}/sync"), "{}").await?;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["status"], "blocked", "{v}");
    let issue = &v["safetyIssues"][0];
    assert_eq!(issue["file"], "deploy/config.env", "{v}");
    assert_eq!(issue["kind"], "aws_access_key", "{v}");
    assert!(!v.to_string().contains(key), "secret not masked: {v}");
    assert_eq!(
        run(&origin(&world), &["git", "rev-parse", &branch]),
        remote_before
    );
    // The findings went to the agent as a new turn.
    let t = caic.wait_turns(&id, 3, TURN).await?;
    assert!(
        t["result"].as_str().unwrap().contains("pre-push scan"),
        "{t}"
    );

    // Force is refused for the default branch, allowed for the task branch.
    let (status, v) = caic
        .post(
            &format!("/api/v1/tasks/{id}/sync"),
            &json!({"target": "default", "force": true}).to_string(),
        )
        .await?;
    assert_eq!(status, 400, "{v}");
    let (status, v) = caic
        .post(
            &format!("/api/v1/tasks/{id}/sync"),
            &json!({"force": true}).to_string(),
        )
        .await?;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["status"], "synced", "{v}");
    assert_ne!(
        run(&origin(&world), &["git", "rev-parse", &branch]),
        remote_before
    );

    // Remove the secret, then squash onto main: one new commit on top of main.
    caic.input(&id, "FAKE_BASH git rm -q deploy/config.env")
        .await?;
    caic.wait_turns(&id, 4, TURN).await?;
    let main_before = run(&origin(&world), &["git", "rev-parse", "main"]);
    let (status, v) = caic
        .post(
            &format!("/api/v1/tasks/{id}/sync"),
            &json!({"target": "default"}).to_string(),
        )
        .await?;
    assert_eq!(status, 200, "{v}\n{}", caic.log_tail());
    assert_eq!(v["status"], "synced", "{v}");
    assert_eq!(v["branch"], "main");
    let main_after = run(&origin(&world), &["git", "rev-parse", "main"]);
    assert_eq!(
        run(&origin(&world), &["git", "rev-parse", "main^"]),
        main_before,
        "not a single commit on top of main"
    );
    assert_eq!(v["commit"], main_after.as_str());
    let files = run(
        &origin(&world),
        &["git", "ls-tree", "-r", "--name-only", "main"],
    );
    assert!(files.lines().any(|f| f == "feature.txt"), "{files}");
    assert!(!files.contains("config.env"), "{files}");
    assert_eq!(
        run(
            &origin(&world),
            &["git", "log", "-1", "--format=%an", "main"]
        ),
        "Test User"
    );
    assert_eq!(checkout(&world.repo), before, "host checkout touched");
    caic.post(&format!("/api/v1/tasks/{id}/purge"), "").await?;
    caic.wait_state(&id, &["purged"], LONG).await?;
    caic.kill().await;
    Ok(())
}
