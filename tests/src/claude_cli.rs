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
    "--permission-prompt-tool",
    "stdio",
    "--include-partial-messages",
];

/// Tools whose permission request waits for the user's answer (caic holds them).
pub const HELD_TOOLS: &[&str] = &["AskUserQuestion", "ExitPlanMode"];

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
        // As caic sets them: TodoWrite instead of the Task* tools.
        ("CLAUDE_CODE_ENABLE_TASKS", "false"),
        ("CLAUDE_CODE_ENABLE_TODO_TOOLS", "true"),
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

/// The `control_response` caic sends at once for a `can_use_tool` request (allow, with
/// the input unchanged); `None` for other lines and for [`HELD_TOOLS`].
pub fn allow_tool_response(request: &Value) -> Option<String> {
    let id = request["request_id"].as_str()?;
    let req = &request["request"];
    if request["type"] != "control_request" || req["subtype"] != "can_use_tool" {
        return None;
    }
    if HELD_TOOLS.iter().any(|t| req["tool_name"] == *t) {
        return None;
    }
    Some(
        json!({"type": "control_response", "response": {"subtype": "success", "request_id": id,
            "response": {"behavior": "allow", "updatedInput": req["input"]}}})
        .to_string(),
    )
}

/// The `control_response` caic sends when the user's input `text` answers a held
/// request (see `caic_harness::claude`'s permission module, which this mirrors so that
/// recorded transcripts look like caic's; the real path is checked end to end in
/// `tests/tests/claude.rs`): `AskUserQuestion` gets `answers` (one question) or the free
/// text as `response`; `ExitPlanMode` is allowed with the user's reply appended to the
/// plan. The text also rides in `caic_answer` for caic's history.
pub fn held_answer(request: &Value, text: &str) -> Option<String> {
    let id = request["request_id"].as_str()?;
    let req = &request["request"];
    let mut input = req["input"].clone();
    match req["tool_name"].as_str()? {
        "AskUserQuestion" => {
            let qs = input["questions"].as_array().cloned().unwrap_or_default();
            if let [q] = qs.as_slice() {
                let q = q["question"].as_str()?.to_string();
                input["answers"] = json!({ q: text.trim() });
            } else {
                input["answers"] = json!({});
                input["response"] = json!(text.trim());
            }
        }
        "ExitPlanMode" => {
            let plan = input["plan"].as_str()?.to_string();
            input["plan"] = json!(format!("{plan}\n\n## The user's reply\n\n{text}"));
        }
        _ => return None,
    }
    Some(
        json!({"type": "control_response", "caic_answer": text, "response": {"subtype": "success",
            "request_id": id, "response": {"behavior": "allow", "updatedInput": input}}})
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
    /// A `can_use_tool` request for one of [`HELD_TOOLS`], waiting for an answer.
    held: Option<Value>,
}

/// How a read of the CLI's output ended.
#[derive(Debug)]
pub enum Stop {
    /// A `result` line (the last of the lines read).
    Result,
    /// A permission request that waits for the user (see [`ClaudeSession::answer`]).
    Held(Value),
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

    /// The permission request waiting for the user, if any.
    pub fn held(&self) -> Option<&Value> {
        self.held.as_ref()
    }

    /// Answers the held request with the user's `text` the way caic does
    /// ([`held_answer`]), then reads until the next `result` or held request.
    pub async fn answer(
        &mut self,
        text: &str,
        timeout: Duration,
    ) -> anyhow::Result<(Vec<Value>, Stop)> {
        let req = self
            .held
            .take()
            .context("no request is waiting for an answer")?;
        let line = held_answer(&req, text)
            .with_context(|| format!("cannot answer this request: {req}"))?;
        self.send_line(&line).await?;
        self.read_until_stop(timeout).await
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
            held: None,
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
    /// control requests are allowed on the way (see [`allow_tool_response`]). A request
    /// that waits for the user is an error here (see [`ClaudeSession::read_until_stop`]).
    pub async fn read_until_result(&mut self, timeout: Duration) -> anyhow::Result<Vec<Value>> {
        match self.read_until_stop(timeout).await? {
            (lines, Stop::Result) => Ok(lines),
            (_, Stop::Held(req)) => bail!("the CLI waits for the user's answer to {req}"),
        }
    }

    /// Sends a prompt and reads until its `result` or a request held for the user.
    pub async fn prompt(
        &mut self,
        prompt: &str,
        timeout: Duration,
    ) -> anyhow::Result<(Vec<Value>, Stop)> {
        self.send_line(&user_line(prompt)).await?;
        self.read_until_stop(timeout).await
    }

    /// Reads stdout lines until a `result` line (included), a permission request for
    /// one of [`HELD_TOOLS`] (included; kept for [`ClaudeSession::answer`]) or
    /// `timeout`; other `can_use_tool` requests are allowed on the way.
    pub async fn read_until_stop(
        &mut self,
        timeout: Duration,
    ) -> anyhow::Result<(Vec<Value>, Stop)> {
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
            let held = v["type"] == "control_request"
                && v["request"]["subtype"] == "can_use_tool"
                && HELD_TOOLS.iter().any(|t| v["request"]["tool_name"] == *t);
            if let Some(answer) = allow_tool_response(&v) {
                self.send_line(&answer).await?;
            }
            out.push(v.clone());
            if done {
                return Ok((out, Stop::Result));
            }
            if held {
                self.held = Some(v.clone());
                return Ok((out, Stop::Held(v)));
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
/// each input, as a prompt or, when the CLI holds a question or plan for the user, as
/// the answer (the way caic does), waits for its `result` or the next held request,
/// then closes stdin. Returns the transcript with secrets redacted, as caic's relay
/// would log it (stdin lines interleaved with stdout).
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
        if session.held().is_some() {
            session.answer(p, Duration::from_secs(120)).await?;
        } else {
            session.prompt(p, Duration::from_secs(120)).await?;
        }
    }
    if let Some(req) = session.held() {
        bail!("the script ends with a request still waiting for the user: {req}");
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
    fn allows_tools_holds_questions_and_answers_like_caic() {
        let bash = json!({"type": "control_request", "request_id": "r0", "request": {
            "subtype": "can_use_tool", "tool_name": "Bash", "input": {"command": "ls"}}});
        let resp: Value = serde_json::from_str(&allow_tool_response(&bash).unwrap()).unwrap();
        assert_eq!(resp["response"]["request_id"], "r0");
        assert_eq!(resp["response"]["response"]["behavior"], "allow");
        assert_eq!(
            resp["response"]["response"]["updatedInput"]["command"],
            "ls"
        );

        let req = json!({"type": "control_request", "request_id": "r1", "request": {
            "subtype": "can_use_tool", "tool_name": "AskUserQuestion",
            "input": {"questions": [{"question": "Which?", "options": [{"label": "A"}, {"label": "B"}]}]}}});
        assert!(
            allow_tool_response(&req).is_none(),
            "questions wait for the user"
        );
        let resp: Value = serde_json::from_str(&held_answer(&req, "B").unwrap()).unwrap();
        assert_eq!(resp["caic_answer"], "B");
        assert_eq!(resp["response"]["request_id"], "r1");
        assert_eq!(
            resp["response"]["response"]["updatedInput"]["answers"]["Which?"],
            "B"
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
