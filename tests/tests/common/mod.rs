//! Shared support for the end-to-end suites: a real `caic serve` process on a temp
//! config, a temp repo with a bare origin, an HTTP client, and an SSE reader.
#![allow(dead_code)]

use anyhow::{bail, Context, Result};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// The `caic` binary built alongside the test.
pub fn caic_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let dir = exe.parent().and_then(|p| p.parent()).expect("target dir");
    let bin = dir.join("caic");
    assert!(
        bin.exists(),
        "{} is missing: build it with `cargo build -p caic-cli` (cargo test --workspace does)",
        bin.display()
    );
    bin
}

/// Runs a command, failing with its stderr.
pub fn run(dir: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new(args[0])
        .args(&args[1..])
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("{args:?}: {e}"));
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A scratch world: repos root with one repo `demo` (and its bare origin), config and
/// cache dirs.
pub struct World {
    /// The repo's id, unique per world so container names never collide.
    pub repo_id: String,
    pub tmp: tempfile::TempDir,
    pub root: PathBuf,
    pub repo: PathBuf,
    pub config: PathBuf,
    pub cache: PathBuf,
}

impl World {
    pub fn new() -> World {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("src");
        let suffix: String = tmp
            .path()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_lowercase();
        let repo_id = format!("demo{}", &suffix[suffix.len().saturating_sub(6)..]);
        let repo = root.join(&repo_id);
        let origin = tmp.path().join("origin.git");
        std::fs::create_dir_all(&repo).unwrap();
        run(
            tmp.path(),
            &[
                "git",
                "init",
                "-q",
                "--bare",
                "-b",
                "main",
                origin.to_str().unwrap(),
            ],
        );
        run(&repo, &["git", "init", "-q", "-b", "main"]);
        run(&repo, &["git", "config", "user.name", "Test User"]);
        run(&repo, &["git", "config", "user.email", "test@example.com"]);
        std::fs::write(repo.join("README.md"), "# demo\n").unwrap();
        run(&repo, &["git", "add", "."]);
        run(&repo, &["git", "commit", "-q", "-m", "initial"]);
        run(
            &repo,
            &["git", "remote", "add", "origin", origin.to_str().unwrap()],
        );
        run(&repo, &["git", "push", "-q", "-u", "origin", "main"]);
        run(&repo, &["git", "remote", "set-head", "origin", "main"]);
        let config = tmp.path().join("config");
        let cache = tmp.path().join("cache");
        World {
            repo_id,
            tmp,
            root,
            repo,
            config,
            cache,
        }
    }

    /// Points the world's repo `origin` at `url` while pushes still land in the bare repo.
    pub fn forge_origin(&self, url: &str) {
        let bare = self.tmp.path().join("origin.git");
        run(&self.repo, &["git", "remote", "set-url", "origin", url]);
        run(
            &self.repo,
            &[
                "git",
                "config",
                &format!("url.{}.insteadOf", bare.display()),
                url,
            ],
        );
    }

    /// Writes `config.toml`.
    pub fn write_config(&self, text: &str) {
        std::fs::create_dir_all(&self.config).unwrap();
        std::fs::write(self.config.join("config.toml"), text).unwrap();
    }
}

impl Drop for World {
    /// Removes the containers of this world's tasks, whatever the test's outcome.
    fn drop(&mut self) {
        let out = std::process::Command::new("docker")
            .args(["ps", "-aq", "--filter"])
            .arg(format!("name=caic-{}-", self.repo_id))
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

/// A running `caic serve` process.
pub struct Caic {
    pub repo: String,
    pub child: Child,
    pub base: String,
    pub http: reqwest::Client,
    pub stderr_log: PathBuf,
}

impl Caic {
    /// Starts `caic serve` on a random loopback port for `world`.
    pub async fn start(world: &World) -> Result<Caic> {
        Caic::start_on(world, "127.0.0.1:0").await
    }

    /// Starts `caic serve` for `world` with `--listen listen`.
    pub async fn start_on(world: &World, listen: &str) -> Result<Caic> {
        Caic::start_with_env(world, listen, &[]).await
    }

    /// Starts `caic serve` for `world` with `--listen listen` and changes to its
    /// environment: `(name, Some(value))` sets a variable, `(name, None)` removes it.
    pub async fn start_with_env(
        world: &World,
        listen: &str,
        env: &[(&str, Option<&str>)],
    ) -> Result<Caic> {
        let stderr_log = world.tmp.path().join(format!(
            "caic-{}.log",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)?
                .as_millis()
        ));
        let mut cmd = Command::new(caic_bin());
        for (name, value) in env {
            match value {
                Some(v) => cmd.env(name, v),
                None => cmd.env_remove(name),
            };
        }
        let mut child = cmd
            .args(["serve", "--listen", listen, "--root"])
            .arg(&world.root)
            .arg("--config-dir")
            .arg(&world.config)
            .arg("--cache-dir")
            .arg(&world.cache)
            .env(
                "CAIC_LOG",
                "info,caic_engine=debug,caic_runtime=debug,caic_server=debug,caic_harness=debug",
            )
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr_log)?)
            .kill_on_drop(true)
            .spawn()
            .context("spawning caic")?;
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let deadline = Instant::now() + Duration::from_secs(60);
        let base = loop {
            let line = tokio::time::timeout_at(deadline.into(), lines.next_line())
                .await
                .context("caic did not print its address in time")??;
            match line {
                Some(l) if l.starts_with("caic listening on ") => {
                    break l.trim_start_matches("caic listening on ").to_string();
                }
                Some(_) => continue,
                None => bail!(
                    "caic exited before listening: {}",
                    std::fs::read_to_string(&stderr_log).unwrap_or_default()
                ),
            }
        };
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Caic {
            repo: world.repo_id.clone(),
            child,
            base,
            http: reqwest::Client::new(),
            stderr_log,
        })
    }

    /// Kills the process the hard way (no cleanup), like a crash.
    pub async fn kill(mut self) {
        let _ = self.child.kill().await;
        let _ = self.child.wait().await;
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn get(&self, path: &str) -> Result<(u16, Value)> {
        let r = self.http.get(self.url(path)).send().await?;
        let status = r.status().as_u16();
        let body = r.text().await?;
        Ok((
            status,
            serde_json::from_str(&body).unwrap_or(Value::String(body)),
        ))
    }

    pub async fn post(&self, path: &str, body: &str) -> Result<(u16, Value)> {
        let r = self
            .http
            .post(self.url(path))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await?;
        let status = r.status().as_u16();
        let text = r.text().await?;
        Ok((
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        ))
    }

    /// Creates a task and returns its id.
    pub async fn create(&self, harness: &str, prompt: &str) -> Result<String> {
        let body = serde_json::json!({"repo": self.repo, "harness": harness, "prompt": prompt});
        let (status, v) = self.post("/api/v1/tasks", &body.to_string()).await?;
        if status != 200 {
            bail!("create: {status} {v}");
        }
        Ok(v["id"].as_str().unwrap().to_string())
    }

    pub async fn task(&self, id: &str) -> Result<Value> {
        let (status, v) = self.get(&format!("/api/v1/tasks/{id}")).await?;
        if status != 200 {
            bail!("get task: {status} {v}");
        }
        Ok(v)
    }

    /// Polls the task until its state is one of `states`.
    pub async fn wait_state(&self, id: &str, states: &[&str], within: Duration) -> Result<Value> {
        let deadline = Instant::now() + within;
        loop {
            let t = self.task(id).await?;
            let s = t["state"].as_str().unwrap_or_default();
            if states.contains(&s) {
                return Ok(t);
            }
            if Instant::now() > deadline {
                bail!(
                    "task {id} is {s}, wanted {states:?}; caic log:\n{}",
                    self.log_tail()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Polls the task until `pred` holds.
    pub async fn wait_task(
        &self,
        id: &str,
        what: &str,
        within: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> Result<Value> {
        let deadline = Instant::now() + within;
        loop {
            let t = self.task(id).await?;
            if pred(&t) {
                return Ok(t);
            }
            if Instant::now() > deadline {
                bail!("waiting for {what}: {t}\n{}", self.log_tail());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Sends follow-up input, failing unless the server accepted it.
    pub async fn input(&self, id: &str, text: &str) -> Result<()> {
        let body = serde_json::json!({"prompt": {"text": text}}).to_string();
        let (status, v) = self
            .post(&format!("/api/v1/tasks/{id}/input"), &body)
            .await?;
        if status != 200 {
            bail!("input: {status} {v}\n{}", self.log_tail());
        }
        Ok(())
    }

    /// Polls the task until it is `waiting` after `turns` turns; returns it.
    pub async fn wait_turns(&self, id: &str, turns: u64, within: Duration) -> Result<Value> {
        let deadline = Instant::now() + within;
        loop {
            let t = self.task(id).await?;
            if t["numTurns"].as_u64() == Some(turns) && t["state"] == "waiting" {
                return Ok(t);
            }
            if Instant::now() > deadline {
                bail!("wanted {turns} turns and waiting: {t}\n{}", self.log_tail());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn log_tail(&self) -> String {
        let s = std::fs::read_to_string(&self.stderr_log).unwrap_or_default();
        let lines: Vec<&str> = s.lines().collect();
        lines[lines.len().saturating_sub(60)..].join("\n")
    }

    /// Opens an SSE stream.
    pub async fn sse(&self, path: &str) -> Result<Sse> {
        let r = self
            .http
            .get(self.url(path))
            .header("accept", "text/event-stream")
            .send()
            .await?;
        if r.status() != 200 {
            bail!("sse {path}: {}", r.status());
        }
        Ok(Sse {
            resp: r,
            buf: String::new(),
        })
    }
}

/// One server-sent event.
#[derive(Debug, Clone)]
pub struct SseMsg {
    pub event: String,
    pub id: Option<String>,
    pub data: Value,
}

/// The `kind` of an event message ("" for other messages).
pub fn kind(m: &SseMsg) -> &str {
    m.data["kind"].as_str().unwrap_or_default()
}

/// The payloads of the events of kind `k`.
pub fn of_kind<'a>(events: &'a [SseMsg], k: &str) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|m| m.event == "message" && kind(m) == k)
        .map(|m| &m.data)
        .collect()
}

/// Reads SSE until the next `result` event, failing with the caic log.
pub async fn next_result(ev: &mut Sse, caic: &Caic, within: Duration) -> Vec<SseMsg> {
    ev.until(within, |m| m.event == "message" && kind(m) == "result")
        .await
        .unwrap_or_else(|e| panic!("{e}\ncaic log:\n{}", caic.log_tail()))
}

/// A minimal SSE reader over a streaming response.
pub struct Sse {
    resp: reqwest::Response,
    buf: String,
}

impl Sse {
    /// Reads the SSE stream of `resp`.
    pub fn new(resp: reqwest::Response) -> Sse {
        Sse {
            resp,
            buf: String::new(),
        }
    }

    /// The next event, or None when the stream ends.
    pub async fn next(&mut self, within: Duration) -> Result<Option<SseMsg>> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(i) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..i + 2).collect();
                let mut event = "message".to_string();
                let mut id = None;
                let mut data = String::new();
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        event = v.trim().to_string();
                    } else if let Some(v) = line.strip_prefix("id:") {
                        id = Some(v.trim().to_string());
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.strip_prefix(' ').unwrap_or(v));
                    }
                }
                if data.is_empty() && id.is_none() {
                    continue; // keep-alive comment
                }
                let data = serde_json::from_str(&data).unwrap_or(Value::String(data));
                return Ok(Some(SseMsg { event, id, data }));
            }
            let chunk = tokio::time::timeout_at(deadline.into(), self.resp.chunk())
                .await
                .context("timed out waiting for an SSE event")??;
            match chunk {
                Some(c) => self.buf.push_str(&String::from_utf8_lossy(&c)),
                None => return Ok(None),
            }
        }
    }

    /// Reads events until `pred` matches one; returns everything read, including it.
    pub async fn until(
        &mut self,
        within: Duration,
        mut pred: impl FnMut(&SseMsg) -> bool,
    ) -> Result<Vec<SseMsg>> {
        let deadline = Instant::now() + within;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let Some(m) = self.next(left).await? else {
                bail!("stream ended; saw {} events", seen.len());
            };
            let done = pred(&m);
            seen.push(m);
            if done {
                return Ok(seen);
            }
        }
    }
}

/// Runs `docker` with args, returning stdout.
pub fn docker(args: &[&str]) -> String {
    let mut v = vec!["docker"];
    v.extend_from_slice(args);
    run(Path::new("/"), &v)
}
