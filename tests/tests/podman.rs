//! The spine on Podman: a real `caic serve` told `CAIC_CONTAINER_RUNTIME=podman`, Podman's
//! Docker-compatible API service, a real container in Podman, the relay and the `fake`
//! harness. caic is driven over HTTP only; the container is checked with the `podman` CLI
//! against the same service (never the docker CLI: the container lives in Podman).
//!
//! scripts/test.sh sets Podman up and exports `CAIC_TEST_PODMAN_SOCK`; see
//! [`PODMAN_SETUP`] for the steps by hand.

mod common;

use common::{kind, of_kind, Caic, SseMsg, World};
use serde_json::json;
use std::process::Output;
use std::time::Duration;

const LONG: Duration = Duration::from_secs(300);
const TURN: Duration = Duration::from_secs(60);

/// The socket the Podman service listens on by default, where caic looks for it.
const DEFAULT_SOCK: &str = "/run/podman/podman.sock";

/// How to set Podman up for this suite, shown when it is not.
const PODMAN_SETUP: &str = "scripts/test.sh sets Podman up; by hand, as root: \
     apt-get install podman netavark catatonit; \
     podman system service --time=0 unix:///run/podman/podman.sock &; \
     docker save debian:bookworm-slim | podman load; \
     CAIC_CONTAINER_RUNTIME=podman caic image; \
     export CAIC_TEST_PODMAN_SOCK=/run/podman/podman.sock";

/// The `podman` CLI talking to the service at `sock`, the one caic uses.
struct Podman {
    url: String,
}

impl Podman {
    /// Finds the service from `CAIC_TEST_PODMAN_SOCK`, failing with how to set it up.
    fn from_env() -> Podman {
        let sock = std::env::var("CAIC_TEST_PODMAN_SOCK").unwrap_or_else(|_| {
            panic!("Podman is not set up: CAIC_TEST_PODMAN_SOCK is unset. {PODMAN_SETUP}")
        });
        let podman = Podman {
            url: format!("unix://{sock}"),
        };
        let out = podman.output(&["version", "--format", "{{.Server.Version}}"]);
        assert!(
            out.status.success(),
            "the Podman service at {sock} does not answer: {}. {PODMAN_SETUP}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
        let images = podman.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
        assert!(
            images.lines().any(|l| l.contains("caic-base:")),
            "caic's image is not built in Podman (images: {images:?}). {PODMAN_SETUP}"
        );
        podman
    }

    fn socket(&self) -> &str {
        self.url.trim_start_matches("unix://")
    }

    fn output(&self, args: &[&str]) -> Output {
        std::process::Command::new("podman")
            .arg("--url")
            .arg(&self.url)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("podman {args:?}: {e}. {PODMAN_SETUP}"))
    }

    /// Runs `podman args`, failing with its stderr; returns its trimmed stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.output(args);
        assert!(
            out.status.success(),
            "podman {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Names of all containers (running or not) whose name contains `part`.
    fn names(&self, part: &str) -> Vec<String> {
        self.ok(&["ps", "-a", "--format", "{{.Names}}"])
            .lines()
            .filter(|n| n.contains(part))
            .map(String::from)
            .collect()
    }
}

/// Removes this world's containers from Podman whatever the outcome (World's own drop
/// only cleans Docker).
struct Cleanup<'a> {
    podman: &'a Podman,
    prefix: String,
}

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        let names = self.podman.names(&self.prefix);
        if !names.is_empty() {
            let mut args = vec!["rm", "-f"];
            args.extend(names.iter().map(String::as_str));
            let _ = self.podman.output(&args);
        }
    }
}

/// The first `toolResult` output in `events`.
fn tool_output(events: &[SseMsg]) -> String {
    of_kind(events, "toolResult")
        .first()
        .and_then(|v| v["output"].as_str())
        .unwrap_or_default()
        .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn podman_spine_create_follow_up_stop_revive_purge() -> anyhow::Result<()> {
    let podman = Podman::from_env();
    let world = World::new();
    let prefix = format!("caic-{}-", world.repo_id);
    let _cleanup = Cleanup {
        podman: &podman,
        prefix: prefix.clone(),
    };
    // As a user would: CAIC_CONTAINER_RUNTIME=podman, and caic finds the socket itself
    // when it is Podman's default one. DOCKER_HOST and XDG_RUNTIME_DIR would point it
    // elsewhere, so they are not passed on.
    let explicit = (podman.socket() != DEFAULT_SOCK).then(|| podman.url.clone());
    let caic = Caic::start_with_env(
        &world,
        "127.0.0.1:0",
        &[
            ("CAIC_CONTAINER_RUNTIME", Some("podman")),
            ("CAIC_CONTAINER_SOCKET", explicit.as_deref()),
            ("DOCKER_HOST", None),
            ("XDG_RUNTIME_DIR", None),
        ],
    )
    .await?;

    // Create: the task streams its events up to the first result.
    let id = caic
        .create(
            "fake",
            "FAKE_SLOW 1\nFAKE_WRITE hello.txt hi from the agent on podman",
        )
        .await?;
    let mut ev = caic.sse(&format!("/api/v1/tasks/{id}/events")).await?;
    let first = common::next_result(&mut ev, &caic, LONG).await;
    let kinds: Vec<&str> = first.iter().map(kind).collect();
    for k in ["init", "userInput", "toolUse", "toolResult", "result"] {
        assert!(kinds.contains(&k), "no {k} event in {kinds:?}");
    }
    assert!(first.iter().any(|m| m.event == "ready"), "no ready event");
    let t = caic.wait_turns(&id, 1, TURN).await?;
    let container = t["container"].as_str().unwrap().to_string();
    assert!(container.starts_with(&prefix), "{container}");

    // The container lives in Podman, runs caic's image, and is running.
    assert_eq!(podman.names(&prefix), vec![container.clone()]);
    let image = podman.ok(&["inspect", "-f", "{{.ImageName}}", &container]);
    assert!(image.contains("caic-base:"), "{image}");
    let running = podman.ok(&["inspect", "-f", "{{.State.Running}}", &container]);
    assert_eq!(running, "true");

    // The file the agent wrote: in the diff, and on disk in the container.
    let (status, diff) = caic.get(&format!("/api/v1/tasks/{id}/diff")).await?;
    assert_eq!(status, 200, "{diff}");
    assert!(
        diff["diff"]
            .as_str()
            .unwrap_or_default()
            .contains("+hi from the agent on podman"),
        "{diff}"
    );
    assert_eq!(diff["diffStat"][0]["path"], "hello.txt", "{diff}");
    let file = format!("/home/user/src/{}/hello.txt", world.repo_id);
    let on_disk = podman.ok(&["exec", &container, "cat", &file]);
    assert_eq!(on_disk, "hi from the agent on podman");

    // A follow-up turn runs a command in the container that sees that file.
    caic.input(&id, "FAKE_SLOW 1\nFAKE_BASH cat hello.txt")
        .await?;
    let second = common::next_result(&mut ev, &caic, TURN).await;
    let out = tool_output(&second);
    assert!(out.contains("hi from the agent on podman"), "{out}");
    caic.wait_turns(&id, 2, TURN).await?;

    // Stop keeps the container, stopped; input is refused while stopped.
    let (status, v) = caic.post(&format!("/api/v1/tasks/{id}/stop"), "").await?;
    assert_eq!(status, 200, "{v}");
    caic.wait_state(&id, &["stopped"], LONG).await?;
    let running = podman.ok(&["inspect", "-f", "{{.State.Running}}", &container]);
    assert_eq!(running, "false");
    let (status, v) = caic
        .post(
            &format!("/api/v1/tasks/{id}/input"),
            &json!({"prompt": {"text": "hello"}}).to_string(),
        )
        .await?;
    assert_eq!(status, 409, "{v}");
    assert_eq!(v["details"]["state"], "stopped", "{v}");

    // Revive starts the same container again; input resumes the agent, and the work
    // on disk survived the stop.
    let (status, v) = caic.post(&format!("/api/v1/tasks/{id}/revive"), "").await?;
    assert_eq!(status, 200, "{v}");
    caic.wait_turns(&id, 2, LONG).await?;
    let running = podman.ok(&["inspect", "-f", "{{.State.Running}}", &container]);
    assert_eq!(running, "true");
    let mut ev = caic.sse(&format!("/api/v1/tasks/{id}/events")).await?;
    caic.input(&id, "FAKE_SLOW 1\nFAKE_BASH cat hello.txt")
        .await?;
    // The stream replays the history first: read until the third result.
    let mut seen = Vec::new();
    while of_kind(&seen, "result").len() < 3 {
        seen.extend(common::next_result(&mut ev, &caic, TURN).await);
    }
    let third = &seen[seen
        .iter()
        .rposition(|m| kind(m) == "userInput")
        .expect("the revived turn's prompt")..];
    let out = tool_output(third);
    assert!(out.contains("hi from the agent on podman"), "{out}");
    caic.wait_turns(&id, 3, TURN).await?;

    // Purge removes the container from Podman; the history stays readable.
    let (status, v) = caic.post(&format!("/api/v1/tasks/{id}/purge"), "").await?;
    assert_eq!(status, 200, "{v}");
    caic.wait_state(&id, &["purged"], LONG).await?;
    let left = podman.names(&prefix);
    assert!(left.is_empty(), "podman ps -a still lists {left:?}");
    let gone = podman.output(&["inspect", &container]);
    assert!(!gone.status.success(), "podman inspect still finds it");
    let mut ev = caic.sse(&format!("/api/v1/tasks/{id}/events")).await?;
    let mut replay = Vec::new();
    while let Some(m) = ev.next(TURN).await? {
        replay.push(m);
    }
    assert_eq!(of_kind(&replay, "result").len(), 3, "one result per turn");

    // caic said which engine it used: Podman, on the socket the CLI above talked to.
    let log = std::fs::read_to_string(&caic.stderr_log)?;
    assert!(
        log.lines()
            .any(|l| l.contains("Podman") && l.contains(podman.socket())),
        "caic did not connect to Podman at {}:\n{}",
        podman.socket(),
        caic.log_tail()
    );
    caic.kill().await;
    Ok(())
}
