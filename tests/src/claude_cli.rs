//! Running the real Claude Code CLI against [`MockAnthropic`], fully offline.
//!
//! The CLI is found through env `CAIC_TEST_CLAUDE` (path to the binary) or `claude` on
//! `PATH`. CI installs it with:
//!
//! ```text
//! npm install --prefix /opt/claude @anthropic-ai/claude-code@2.1.332
//! export CAIC_TEST_CLAUDE=/opt/claude/node_modules/.bin/claude
//! ```
//!
//! # Re-recording the harness golden transcripts
//!
//! The files in `crates/caic-harness/testdata/recorded/*.ndjson` are produced by the
//! ignored test `record_golden_transcripts` in `tests/tests/mock_anthropic_claude.rs`,
//! which calls [`record_claude_session`] once per file. After a CLI upgrade, bump the
//! version in the install command above and run:
//!
//! ```text
//! CAIC_TEST_CLAUDE=/opt/claude/node_modules/.bin/claude \
//!   cargo test -p caic-e2e --test mock_anthropic_claude -- --ignored record_golden_transcripts
//! ```
//!
//! then review the diff: the harness parser tests read these files.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::task::JoinHandle;

use crate::mock_anthropic::{MockAnthropic, Script};

/// Fake API key given to the CLI; it is replaced in recorded transcripts.
pub const TEST_API_KEY: &str = "sk-ant-test-0000000000000000";

/// The argv caic uses for Claude Code (after the binary).
pub const CLAUDE_ARGS: &[&str] = &[
    "-p",
    "--input-format",
    "stream-json",
    "--output-format",
    "stream-json",
    "--verbose",
    "--dangerously-skip-permissions",
    "--include-partial-messages",
];

/// Locates the Claude Code CLI: `CAIC_TEST_CLAUDE`, else `claude` on `PATH`.
pub fn find_claude() -> anyhow::Result<PathBuf> {
    if let Some(p) = std::env::var_os("CAIC_TEST_CLAUDE") {
        let p = PathBuf::from(p);
        if p.is_file() {
            return Ok(p);
        }
        bail!("CAIC_TEST_CLAUDE={} is not a file", p.display());
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let p = dir.join("claude");
            if p.is_file() {
                return Ok(p);
            }
        }
    }
    bail!(
        "Claude Code CLI not found: set CAIC_TEST_CLAUDE or put `claude` on PATH \
         (npm install --prefix /opt/claude @anthropic-ai/claude-code@2.1.332; \
         CAIC_TEST_CLAUDE=/opt/claude/node_modules/.bin/claude)"
    )
}

/// Environment that makes the CLI talk only to `base_url`: the process starts from an
/// empty environment plus these variables.
///
/// Any other host the CLI tries is sent through `base_url` as an HTTPS proxy, where the
/// mock refuses it at once (and records it) instead of letting the CLI hang.
pub fn offline_env(home: &Path, base_url: &str) -> Vec<(String, String)> {
    let path = std::env::var("PATH").unwrap_or_else(|_| "/usr/local/bin:/usr/bin:/bin".into());
    [
        ("PATH", path.as_str()),
        ("HOME", &home.to_string_lossy()),
        ("IS_SANDBOX", "1"),
        ("ANTHROPIC_BASE_URL", base_url),
        ("ANTHROPIC_API_KEY", TEST_API_KEY),
        ("DISABLE_AUTOUPDATER", "1"),
        ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1"),
        ("DISABLE_TELEMETRY", "1"),
        ("DISABLE_ERROR_REPORTING", "1"),
        ("HTTPS_PROXY", base_url),
        ("HTTP_PROXY", base_url),
        ("NO_PROXY", "127.0.0.1,localhost,host.docker.internal"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// The stdin line caic sends for a plain-text prompt.
pub fn user_line(prompt: &str) -> String {
    json!({"type": "user", "message": {"role": "user", "content": prompt}}).to_string()
}

/// Extra knobs for a CLI run beyond caic's standard argv and [`offline_env`].
#[derive(Debug, Clone, Default)]
pub struct SessionOptions {
    /// Arguments appended after [`CLAUDE_ARGS`], e.g. `--permission-prompt-tool stdio`.
    pub extra_args: Vec<String>,
    /// Environment variables added to [`offline_env`].
    pub extra_env: Vec<(String, String)>,
}

impl SessionOptions {
    /// Enables the legacy `TodoWrite` tool, which 2.1.332 hides by default:
    /// `CLAUDE_CODE_ENABLE_TASKS=false CLAUDE_CODE_ENABLE_TODO_TOOLS=true`.
    pub fn todo_write() -> Self {
        Self {
            extra_env: vec![
                ("CLAUDE_CODE_ENABLE_TASKS".into(), "false".into()),
                ("CLAUDE_CODE_ENABLE_TODO_TOOLS".into(), "true".into()),
            ],
            ..Self::default()
        }
    }

    /// `--permission-prompt-tool stdio`: enables `AskUserQuestion` (and plan mode
    /// tools); the CLI then asks permission over stdout with `control_request`
    /// `can_use_tool`, which [`ClaudeSession`] auto-allows (answering questions with
    /// their first option).
    pub fn stdio_permissions() -> Self {
        Self {
            extra_args: vec!["--permission-prompt-tool".into(), "stdio".into()],
            ..Self::default()
        }
    }
}

/// The `control_response` that allows a `can_use_tool` request; questions of
/// `AskUserQuestion` are answered with their first option.
pub fn allow_tool_response(request: &Value) -> Option<String> {
    let id = request["request_id"].as_str()?;
    let req = &request["request"];
    if req["subtype"] != "can_use_tool" {
        return None;
    }
    let mut input = req["input"].clone();
    if req["tool_name"] == "AskUserQuestion" {
        let answers: serde_json::Map<String, Value> = input["questions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|q| {
                Some((
                    q["question"].as_str()?.to_string(),
                    q["options"][0]["label"].clone(),
                ))
            })
            .collect();
        input["answers"] = Value::Object(answers);
    }
    Some(
        json!({"type": "control_response", "response": {"subtype": "success", "request_id": id,
            "response": {"behavior": "allow", "updatedInput": input}}})
        .to_string(),
    )
}

/// A running `claude -p` stream-json session with its relay-style transcript.
pub struct ClaudeSession {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: Lines<BufReader<ChildStdout>>,
    stderr: JoinHandle<String>,
    transcript: Vec<String>,
    turn_durations: Vec<Duration>,
}

/// What a finished session left behind.
#[derive(Debug)]
pub struct Finished {
    /// Stdin and stdout lines, interleaved in order, as caic's relay logs them.
    pub transcript: Vec<String>,
    /// Everything the CLI wrote on stderr.
    pub stderr: String,
    /// Exit status.
    pub status: std::process::ExitStatus,
    /// Wall time from each prompt to its `result` line.
    pub turn_durations: Vec<Duration>,
}

impl ClaudeSession {
    /// Starts the CLI in `cwd` with a private `home`, talking to `base_url`.
    pub fn spawn(claude: &Path, cwd: &Path, home: &Path, base_url: &str) -> anyhow::Result<Self> {
        Self::spawn_with(claude, cwd, home, base_url, &SessionOptions::default())
    }

    /// Like [`ClaudeSession::spawn`] with extra arguments and environment.
    pub fn spawn_with(
        claude: &Path,
        cwd: &Path,
        home: &Path,
        base_url: &str,
        opts: &SessionOptions,
    ) -> anyhow::Result<Self> {
        let mut cmd = Command::new(claude);
        cmd.args(CLAUDE_ARGS)
            .args(&opts.extra_args)
            .current_dir(cwd)
            .env_clear()
            .envs(offline_env(home, base_url))
            .envs(opts.extra_env.iter().cloned())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd
            .spawn()
            .with_context(|| format!("spawning {}", claude.display()))?;
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().context("no stdout")?).lines();
        let mut err = child.stderr.take().context("no stderr")?;
        let stderr = tokio::spawn(async move {
            let mut s = String::new();
            let _ = err.read_to_string(&mut s).await;
            s
        });
        Ok(Self {
            child,
            stdin,
            stdout,
            stderr,
            transcript: Vec::new(),
            turn_durations: Vec::new(),
        })
    }

    /// The OS process id of the CLI.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Lines so far (stdin and stdout interleaved).
    pub fn transcript(&self) -> &[String] {
        &self.transcript
    }

    /// Sends one raw stdin line (logged in the transcript, like the relay does).
    pub async fn send_line(&mut self, line: &str) -> anyhow::Result<()> {
        let stdin = self.stdin.as_mut().context("stdin already closed")?;
        stdin.write_all(line.as_bytes()).await?;
        stdin.write_all(b"\n").await?;
        stdin.flush().await?;
        self.transcript.push(line.to_string());
        Ok(())
    }

    /// Sends a prompt and reads stdout until its `result` line; returns the lines read.
    pub async fn turn(&mut self, prompt: &str, timeout: Duration) -> anyhow::Result<Vec<Value>> {
        let start = Instant::now();
        self.send_line(&user_line(prompt)).await?;
        let lines = self.read_until_result(timeout).await?;
        self.turn_durations.push(start.elapsed());
        Ok(lines)
    }

    /// Reads stdout lines until a `result` line (included) or `timeout`; `can_use_tool`
    /// control requests are allowed on the way (see [`allow_tool_response`]).
    pub async fn read_until_result(&mut self, timeout: Duration) -> anyhow::Result<Vec<Value>> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut out = Vec::new();
        loop {
            let line = match tokio::time::timeout_at(deadline, self.stdout.next_line()).await {
                Err(_) => bail!(
                    "no result line within {timeout:?}; got {} lines: {:?}",
                    out.len(),
                    self.tail()
                ),
                Ok(r) => r?,
            };
            let Some(line) = line else {
                bail!(
                    "CLI stdout closed before a result line; last lines: {:?}",
                    self.tail()
                );
            };
            if line.trim().is_empty() {
                continue;
            }
            self.transcript.push(line.clone());
            let v: Value = serde_json::from_str(&line)
                .with_context(|| format!("stdout line is not JSON: {line}"))?;
            let done = v["type"] == "result";
            if v["type"] == "control_request" {
                if let Some(answer) = allow_tool_response(&v) {
                    self.send_line(&answer).await?;
                }
            }
            out.push(v);
            if done {
                return Ok(out);
            }
        }
    }

    fn tail(&self) -> Vec<String> {
        let n = self.transcript.len();
        self.transcript[n.saturating_sub(3)..]
            .iter()
            .map(|l| l.chars().take(300).collect())
            .collect()
    }

    /// Closes stdin, collects the remaining stdout lines and waits for the exit.
    pub async fn finish(mut self, timeout: Duration) -> anyhow::Result<Finished> {
        drop(self.stdin.take());
        let rest = async {
            while let Some(line) = self.stdout.next_line().await? {
                if !line.trim().is_empty() {
                    self.transcript.push(line);
                }
            }
            anyhow::Ok(self.child.wait().await?)
        };
        let status = match tokio::time::timeout(timeout, rest).await {
            Ok(r) => r?,
            Err(_) => {
                let _ = self.child.kill().await;
                bail!("CLI did not exit within {timeout:?} after stdin closed");
            }
        };
        let stderr = self.stderr.await.unwrap_or_default();
        Ok(Finished {
            transcript: self.transcript,
            stderr,
            status,
            turn_durations: self.turn_durations,
        })
    }
}

/// A throw-away git repository and home directory for one CLI run.
pub struct Workspace {
    dir: tempfile::TempDir,
}

impl Workspace {
    /// Creates `<tmp>/home` and `<tmp>/repo` (a git repo with one commit).
    pub fn new() -> anyhow::Result<Self> {
        let dir = tempfile::Builder::new().prefix("caic-claude-").tempdir()?;
        std::fs::create_dir(dir.path().join("home"))?;
        let repo = dir.path().join("repo");
        std::fs::create_dir(&repo)?;
        std::fs::write(repo.join("README.md"), "# demo\n")?;
        for args in [
            &["init", "-q", "-b", "main"][..],
            &["config", "user.email", "test@example.com"],
            &["config", "user.name", "Test"],
            &["add", "."],
            &["commit", "-q", "-m", "init"],
        ] {
            let st = std::process::Command::new("git")
                .args(args)
                .current_dir(&repo)
                .status()?;
            if !st.success() {
                bail!("git {args:?} failed");
            }
        }
        Ok(Self { dir })
    }

    /// The private home directory.
    pub fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    /// The git repository the CLI works in.
    pub fn repo(&self) -> PathBuf {
        self.dir.path().join("repo")
    }
}

/// Replaces secret-looking values (the test API key, any `sk-ant-…` token) in a line.
pub fn redact_secrets(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(i) = rest.find("sk-ant-") {
        out.push_str(&rest[..i]);
        out.push_str("sk-ant-REDACTED");
        let tail = &rest[i + "sk-ant-".len()..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
            .unwrap_or(tail.len());
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// Runs the real CLI against a fresh [`MockAnthropic`] in a fresh [`Workspace`]: sends
/// each prompt, waits for its `result`, then closes stdin. Returns the transcript with
/// secrets redacted, as caic's relay would log it (stdin lines interleaved with stdout).
///
/// `script` gets the repository path, so tool inputs can use absolute paths (`Write`
/// and `Read` require them).
pub async fn record_claude_session(
    script: impl FnOnce(&Path) -> Script,
    prompts: &[&str],
) -> anyhow::Result<Vec<String>> {
    record_claude_session_with(script, prompts, &SessionOptions::default()).await
}

/// [`record_claude_session`] with extra CLI arguments and environment.
pub async fn record_claude_session_with(
    script: impl FnOnce(&Path) -> Script,
    prompts: &[&str],
    opts: &SessionOptions,
) -> anyhow::Result<Vec<String>> {
    let claude = find_claude()?;
    let ws = Workspace::new()?;
    let mock = MockAnthropic::start(script(&ws.repo())).await?;
    let mut session =
        ClaudeSession::spawn_with(&claude, &ws.repo(), &ws.home(), &mock.base_url(), opts)?;
    for p in prompts {
        session.turn(p, Duration::from_secs(120)).await?;
    }
    let closing = Instant::now();
    let done = session.finish(Duration::from_secs(30)).await?;
    tracing::info!(
        "recorded {} prompt(s): turns {:?}, exit after stdin close {:?}",
        prompts.len(),
        done.turn_durations,
        closing.elapsed()
    );
    if !done.status.success() {
        bail!("CLI exited with {}: {}", done.status, done.stderr);
    }
    let stray = mock.unknown_requests();
    if !stray.is_empty() {
        tracing::warn!(
            "CLI made requests the mock does not serve: {:?}",
            stray
                .iter()
                .map(|r| (&r.method, &r.path))
                .collect::<Vec<_>>()
        );
    }
    Ok(done.transcript.iter().map(|l| redact_secrets(l)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_tools_and_answers_questions() {
        let req = json!({"type": "control_request", "request_id": "r1", "request": {
            "subtype": "can_use_tool", "tool_name": "AskUserQuestion",
            "input": {"questions": [{"question": "Which?", "options": [{"label": "A"}, {"label": "B"}]}]}}});
        let resp: Value = serde_json::from_str(&allow_tool_response(&req).unwrap()).unwrap();
        assert_eq!(resp["response"]["request_id"], "r1");
        assert_eq!(resp["response"]["response"]["behavior"], "allow");
        assert_eq!(
            resp["response"]["response"]["updatedInput"]["answers"]["Which?"],
            "A"
        );
        let other = json!({"type": "control_request", "request_id": "r2", "request": {"subtype": "interrupt"}});
        assert!(allow_tool_response(&other).is_none());
    }

    #[test]
    fn redacts_api_keys() {
        assert_eq!(
            redact_secrets(r#"{"k":"sk-ant-test-0000_x","n":1}"#),
            r#"{"k":"sk-ant-REDACTED","n":1}"#
        );
        assert_eq!(
            redact_secrets("a sk-ant-abc b sk-ant-def"),
            "a sk-ant-REDACTED b sk-ant-REDACTED"
        );
        assert_eq!(redact_secrets("nothing here"), "nothing here");
    }

    #[test]
    fn workspace_is_a_git_repo() {
        let ws = Workspace::new().unwrap();
        let out = std::process::Command::new("git")
            .args(["log", "--oneline"])
            .current_dir(ws.repo())
            .output()
            .unwrap();
        assert!(String::from_utf8_lossy(&out.stdout).contains("init"));
        assert!(ws.home().is_dir());
    }
}
