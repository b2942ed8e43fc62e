//! The relay: a small stdlib-only Python program (`relay/relay.py`) that runs inside each
//! task container, owns the agent process and an append-only log of everything the agent
//! printed and every line caic sent it, so caic can drop and re-attach its SSH link
//! without losing or duplicating a line.
//!
//! This module holds the script itself ([`RELAY_PY`]), the shell commands that install
//! and drive it over an SSH exec channel ([`RelayCommands`]), the parsed answers of
//! `start` and `status`, and [`RelayLink`], the byte-exact line reader/writer over an
//! `attach` command's stdio.
//!
//! Lifecycle, as caic uses it:
//! 1. [`RelayCommands::install`] with [`RELAY_PY`] on stdin, at every session start (so
//!    caic and the relay always come from the same build).
//! 2. [`RelayCommands::start`] with [`StartRequest::to_line`] on stdin (argv + credentials
//!    in env: they travel over the channel only, never through argv or disk; S17). Prints
//!    a [`StartReply`] once the relay accepts attaches.
//! 3. [`RelayCommands::attach`] from the byte offset caic has already stored; wrap its
//!    stdout/stdin in a [`RelayLink`]. Store [`RelayLine::end_offset`] with each line: it
//!    is where the next attach starts.
//! 4. [`RelayLink::close_input`] for a graceful end (the agent finishes and exits; the
//!    attach then ends with the agent's exit code); [`RelayLink::detach`] or simply
//!    dropping the link leaves the agent running.
//!
//! `attach` exit codes: the agent's exit code (128 + signal when killed) once the agent
//! has exited and the whole log was delivered; [`ATTACH_DETACHED`] after stdin EOF;
//! [`ATTACH_REPLACED`] when a newer attach took over; [`ATTACH_UNAVAILABLE`] when no
//! relay runs under that name; [`ATTACH_USAGE`] for a bad name or offset. The codes can
//! collide with an agent's own exit code: after the link ends, [`RelayCommands::status`]
//! is the authority on whether (and how) the agent exited.

use crate::Error;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};

/// The relay program, deployed into every container before each session start.
pub const RELAY_PY: &str = include_str!("../relay/relay.py");

/// Where [`RelayCommands::install`] puts [`RELAY_PY`] inside the container.
///
/// `/tmp/caic-relay` is writable by the container's unprivileged user without sudo, is
/// per container (never a host mount), and is also the relay's default state root, so
/// the script and every relay's state live in one 0700 directory.
pub const RELAY_INSTALL_PATH: &str = "/tmp/caic-relay/relay.py";

/// The relay name caic uses when a container runs a single agent.
pub const DEFAULT_RELAY_NAME: &str = "agent";

/// Longest line [`RelayReader`] returns by default (base64 images can be large).
pub const MAX_LINE: usize = 32 << 20;

/// `attach` exit code after its stdin reached EOF (a detach).
pub const ATTACH_DETACHED: i32 = 0;
/// `attach` exit code when a newer attach replaced it.
pub const ATTACH_REPLACED: i32 = 75;
/// `attach` exit code when no relay of that name runs (and none finished), or the link to
/// the relay daemon was lost.
pub const ATTACH_UNAVAILABLE: i32 = 69;
/// `attach` exit code for a bad name or offset.
pub const ATTACH_USAGE: i32 = 2;

/// Quotes `s` for a POSIX shell: single quotes, with each `'` written as `'\''`.
pub fn shell_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        if c == '\'' {
            out.push_str("'\\''");
        } else {
            out.push(c);
        }
    }
    out.push('\'');
    out
}

/// Checks a relay name: 1 to 64 of `[A-Za-z0-9._-]`, not starting with `.`, `-` or `_`
/// (the same rule relay.py applies).
pub fn validate_name(name: &str) -> Result<(), Error> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(Error::Relay(format!("invalid relay name {name:?}")))
    }
}

/// Builds the shell commands (for an SSH exec channel) that install and drive the relay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayCommands {
    python: String,
    script: String,
    root: Option<String>,
}

impl Default for RelayCommands {
    fn default() -> Self {
        Self {
            python: "python3".into(),
            script: RELAY_INSTALL_PATH.into(),
            root: None,
        }
    }
}

impl RelayCommands {
    /// Commands for the standard layout: `python3`, [`RELAY_INSTALL_PATH`], default root.
    pub fn new() -> Self {
        Self::default()
    }

    /// Uses another install path for the script (tests, unusual images).
    pub fn with_script(mut self, path: impl Into<String>) -> Self {
        self.script = path.into();
        self
    }

    /// Uses another state root than the relay's default `/tmp/caic-relay` (`--root`).
    pub fn with_root(mut self, root: impl Into<String>) -> Self {
        self.root = Some(root.into());
        self
    }

    /// Uses another Python interpreter (3.9 or newer).
    pub fn with_python(mut self, python: impl Into<String>) -> Self {
        self.python = python.into();
        self
    }

    /// Where the script is installed.
    pub fn script_path(&self) -> &str {
        &self.script
    }

    /// Writes the script from stdin (send [`RELAY_PY`]) to its path, atomically (a
    /// running relay keeps its already loaded copy), creating its directory 0700.
    pub fn install(&self) -> String {
        let dir = match self.script.rfind('/') {
            Some(0) => "/",
            Some(i) => &self.script[..i],
            None => ".",
        };
        let tmp = format!("{}.tmp", self.script);
        format!(
            "umask 077 && mkdir -p {dir} && cat > {tmp}.$$ && mv -f {tmp}.$$ {path}",
            dir = shell_quote(dir),
            tmp = shell_quote(&tmp),
            path = shell_quote(&self.script),
        )
    }

    /// Starts relay `name` with the agent working in `workdir`. Send
    /// [`StartRequest::to_line`] on stdin; stdout is one [`StartReply`] line. Fails
    /// (non-zero, message on stderr) if a live relay already has that name or the agent
    /// cannot be spawned. A new start truncates the previous log of that name.
    pub fn start(&self, name: &str, workdir: &str) -> Result<String, Error> {
        Ok(format!(
            "{} start --dir {}",
            self.base(name)?,
            shell_quote(workdir)
        ))
    }

    /// Attaches to relay `name` from byte `offset` of its log (a line boundary). Run
    /// with `exec`, so the channel's exit status is the relay's.
    pub fn attach(&self, name: &str, offset: u64) -> Result<String, Error> {
        Ok(format!(
            "exec {} attach --offset {offset}",
            self.base(name)?
        ))
    }

    /// Prints one [`RelayStatus`] line for relay `name`.
    pub fn status(&self, name: &str) -> Result<String, Error> {
        Ok(format!("{} status", self.base(name)?))
    }

    /// Sends SIGTERM to relay `name`, which terminates the agent (SIGKILL after 10 s).
    pub fn stop(&self, name: &str) -> Result<String, Error> {
        Ok(format!("{} stop", self.base(name)?))
    }

    fn base(&self, name: &str) -> Result<String, Error> {
        validate_name(name)?;
        let mut s = format!(
            "{} -I {}",
            shell_quote(&self.python),
            shell_quote(&self.script)
        );
        if let Some(root) = &self.root {
            s.push_str(" --root ");
            s.push_str(&shell_quote(root));
        }
        s.push_str(" --name ");
        s.push_str(&shell_quote(name));
        Ok(s)
    }
}

/// What `start` reads on stdin. Its `Debug` never shows env values (credentials).
#[derive(Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StartRequest {
    /// The agent's argv; `argv[0]` is looked up in `PATH`.
    pub argv: Vec<String>,
    /// Variables merged over the relay's environment for the agent only.
    pub env: BTreeMap<String, String>,
    /// Whether lines sent to the agent are also appended to the log (default true;
    /// off for protocols whose requests caic does not want to replay).
    pub log_input: bool,
}

impl StartRequest {
    /// A request for `argv` with no extra env, logging input.
    pub fn new(argv: Vec<String>) -> Self {
        Self {
            argv,
            env: BTreeMap::new(),
            log_input: true,
        }
    }

    /// The JSON line to write on `start`'s stdin.
    pub fn to_line(&self) -> String {
        let mut s = serde_json::to_string(self).expect("strings always serialize");
        s.push('\n');
        s
    }
}

impl fmt::Debug for StartRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StartRequest")
            .field("argv", &self.argv)
            .field("env", &self.env.keys().collect::<Vec<_>>())
            .field("log_input", &self.log_input)
            .finish()
    }
}

/// What a successful `start` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StartReply {
    /// The agent's pid (in the container's pid namespace).
    pub pid: u32,
    /// The relay daemon's pid.
    pub relay_pid: u32,
}

impl StartReply {
    /// Parses `start`'s stdout.
    pub fn parse(stdout: &str) -> Result<Self, Error> {
        parse_json_line(stdout, "start")
    }
}

/// What `status` prints about one relay.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RelayStatus {
    /// The relay daemon runs and its agent has not exited: attach works live.
    pub alive: bool,
    /// The agent's pid, if a relay of that name was ever started.
    pub pid: Option<u32>,
    /// The relay daemon's pid while it runs.
    #[serde(default)]
    pub relay_pid: Option<u32>,
    /// Size of the output log in bytes (complete lines only).
    pub log_size: u64,
    /// The agent's exit code once it exited (128 + signal when killed by one).
    pub exit_code: Option<i32>,
    /// The signal that killed the agent, if one did.
    #[serde(default)]
    pub signal: Option<i32>,
    /// The last 4 KiB of the agent's stderr.
    pub stderr_tail: String,
}

impl RelayStatus {
    /// Parses `status`'s stdout.
    pub fn parse(stdout: &str) -> Result<Self, Error> {
        parse_json_line(stdout, "status")
    }
}

fn parse_json_line<T: for<'de> Deserialize<'de>>(stdout: &str, what: &str) -> Result<T, Error> {
    let line = stdout.lines().rev().find(|l| !l.trim().is_empty());
    let line = line.ok_or_else(|| Error::Relay(format!("{what}: no output")))?;
    serde_json::from_str(line)
        .map_err(|e| Error::Relay(format!("{what}: unexpected output ({e}): {line:.200}")))
}

/// One complete line of the relay log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayLine {
    /// The line without its `\n`; invalid UTF-8 is replaced (offsets count raw bytes).
    pub text: String,
    /// Absolute log offset just after this line's `\n`: attach from here to get the
    /// lines that follow it.
    pub end_offset: u64,
}

/// Reads complete lines from an `attach` command's stdout, tracking absolute offsets.
pub struct RelayReader<R> {
    inner: BufReader<R>,
    /// End offset of the last complete line consumed.
    offset: u64,
    /// Bytes of the current incomplete line consumed so far (kept or discarded).
    partial: u64,
    buf: Vec<u8>,
    overflow: bool,
    max_line: usize,
}

impl<R: AsyncRead + Unpin> RelayReader<R> {
    /// Reads from `reader`, which starts at byte `offset` of the relay log.
    pub fn new(reader: R, offset: u64) -> Self {
        Self {
            inner: BufReader::with_capacity(256 << 10, reader),
            offset,
            partial: 0,
            buf: Vec::new(),
            overflow: false,
            max_line: MAX_LINE,
        }
    }

    /// Changes the longest line returned (default [`MAX_LINE`]).
    pub fn with_max_line(mut self, max_line: usize) -> Self {
        self.max_line = max_line;
        self
    }

    /// End offset of the last complete line returned (or skipped): where to re-attach.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The next complete line, or `None` at EOF. Bytes of a final line without `\n` are
    /// not returned and not counted: they come again on re-attach from [`Self::offset`].
    ///
    /// A line over the limit yields [`Error::RelayLineTooLong`] and is skipped; the next
    /// call continues with the following line. Cancel-safe (e.g. in `tokio::select!`).
    pub async fn next_line(&mut self) -> Result<Option<RelayLine>, Error> {
        loop {
            let avail = self.inner.fill_buf().await?;
            if avail.is_empty() {
                return Ok(None);
            }
            let newline = avail.iter().position(|&b| b == b'\n');
            let take = newline.map_or(avail.len(), |i| i + 1);
            if !self.overflow {
                let content = &avail[..newline.unwrap_or(avail.len())];
                if self.buf.len() + content.len() > self.max_line {
                    self.overflow = true;
                    self.buf = Vec::new();
                } else {
                    self.buf.extend_from_slice(content);
                }
            }
            self.inner.consume(take);
            self.partial += take as u64;
            if newline.is_none() {
                continue;
            }
            self.offset += self.partial;
            let len = self.partial - 1;
            self.partial = 0;
            if std::mem::take(&mut self.overflow) {
                return Err(Error::RelayLineTooLong {
                    end_offset: self.offset,
                    len,
                });
            }
            let bytes = std::mem::take(&mut self.buf);
            let text = String::from_utf8(bytes)
                .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
            return Ok(Some(RelayLine {
                text,
                end_offset: self.offset,
            }));
        }
    }
}

/// Writes to an `attach` command's stdin: lines for the agent, the close marker, EOF.
pub struct RelayWriter<W> {
    /// `None` once detached.
    inner: Option<W>,
}

impl<W: AsyncWrite + Unpin> RelayWriter<W> {
    /// Writes to `writer`.
    pub fn new(writer: W) -> Self {
        Self {
            inner: Some(writer),
        }
    }

    fn writer(&mut self) -> Result<&mut W, Error> {
        self.inner
            .as_mut()
            .ok_or_else(|| Error::Relay("the link is detached".into()))
    }

    /// Sends one line to the agent (the relay also appends it to the log, unless started
    /// with `log_input: false`). `line` must not contain `\n` or NUL. Not cancel-safe: a
    /// cancelled send leaves a partial line, which the relay drops on detach.
    pub async fn send_line(&mut self, line: &str) -> Result<(), Error> {
        if line.bytes().any(|b| b == b'\n' || b == 0) {
            return Err(Error::Relay(
                "a line for the agent cannot contain a newline or NUL".into(),
            ));
        }
        let w = self.writer()?;
        w.write_all(line.as_bytes()).await?;
        w.write_all(b"\n").await?;
        w.flush().await?;
        Ok(())
    }

    /// Closes the agent's stdin (graceful end): the agent finishes its turn and exits,
    /// its last output arrives, then the attach ends with the agent's exit code.
    pub async fn close_input(&mut self) -> Result<(), Error> {
        let w = self.writer()?;
        w.write_all(&[0]).await?;
        w.flush().await?;
        Ok(())
    }

    /// Ends this attach only (EOF on its stdin): the agent keeps running, the log keeps
    /// growing. Shuts the writer down and drops it (some writers, like a child's stdin,
    /// only close on drop); later sends fail. Dropping the writer has the same effect.
    pub async fn detach(&mut self) -> Result<(), Error> {
        if let Some(mut w) = self.inner.take() {
            w.shutdown().await?;
        }
        Ok(())
    }
}

/// Both directions of one `attach`: over an SSH exec channel's stdio in production, or
/// any other byte streams.
pub struct RelayLink<R, W> {
    reader: RelayReader<R>,
    writer: RelayWriter<W>,
}

impl<R: AsyncRead + Unpin, W: AsyncWrite + Unpin> RelayLink<R, W> {
    /// A link over an attach started at log byte `offset`: `reader` is its stdout,
    /// `writer` its stdin.
    pub fn new(reader: R, writer: W, offset: u64) -> Self {
        Self {
            reader: RelayReader::new(reader, offset),
            writer: RelayWriter::new(writer),
        }
    }

    /// See [`RelayReader::next_line`].
    pub async fn next_line(&mut self) -> Result<Option<RelayLine>, Error> {
        self.reader.next_line().await
    }

    /// See [`RelayReader::offset`].
    pub fn offset(&self) -> u64 {
        self.reader.offset()
    }

    /// See [`RelayWriter::send_line`].
    pub async fn send_line(&mut self, line: &str) -> Result<(), Error> {
        self.writer.send_line(line).await
    }

    /// See [`RelayWriter::close_input`].
    pub async fn close_input(&mut self) -> Result<(), Error> {
        self.writer.close_input().await
    }

    /// See [`RelayWriter::detach`].
    pub async fn detach(&mut self) -> Result<(), Error> {
        self.writer.detach().await
    }

    /// Splits the link so lines can be read in one task while another sends input.
    pub fn into_split(self) -> (RelayReader<R>, RelayWriter<W>) {
        (self.reader, self.writer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::{Path, PathBuf};
    use std::process::Stdio;
    use std::time::Duration;
    use tokio::io::AsyncReadExt;
    use tokio::process::{Child, ChildStdin, ChildStdout, Command};

    // ------------------------------------------------------------------ pure units

    #[test]
    fn shell_quote_wraps_and_escapes_single_quotes() {
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("abc"), "'abc'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(shell_quote("$(x) `y` \"z\""), "'$(x) `y` \"z\"'");
    }

    #[test]
    fn shell_quote_round_trips_through_a_real_shell() {
        for s in [
            "",
            "plain",
            "it's a 'quote'",
            "$HOME $(id) `id` ; rm -rf / && echo \\ \" *",
            "new\nline\ttab",
            "héllo ✓",
            "'",
            "''",
        ] {
            let out = std::process::Command::new("sh")
                .arg("-c")
                .arg(format!("printf %s {}", shell_quote(s)))
                .output()
                .unwrap();
            assert!(out.status.success());
            assert_eq!(String::from_utf8(out.stdout).unwrap(), s);
        }
    }

    #[test]
    fn commands_quote_every_argument_and_reject_bad_names() {
        let c = RelayCommands::new()
            .with_script("/x y/relay.py")
            .with_root("/r o'ot");
        assert_eq!(
            c.attach("agent", 42).unwrap(),
            "exec 'python3' -I '/x y/relay.py' --root '/r o'\\''ot' --name 'agent' attach --offset 42"
        );
        assert_eq!(
            c.start("a-1", "/home/user/src/my repo").unwrap(),
            "'python3' -I '/x y/relay.py' --root '/r o'\\''ot' --name 'a-1' start --dir '/home/user/src/my repo'"
        );
        assert_eq!(
            RelayCommands::new().status("agent").unwrap(),
            "'python3' -I '/tmp/caic-relay/relay.py' --name 'agent' status"
        );
        assert_eq!(
            RelayCommands::new().install(),
            "umask 077 && mkdir -p '/tmp/caic-relay' && cat > '/tmp/caic-relay/relay.py.tmp'.$$ \
             && mv -f '/tmp/caic-relay/relay.py.tmp'.$$ '/tmp/caic-relay/relay.py'"
        );
        for bad in [
            "",
            "../x",
            "a/b",
            ".hidden",
            "-x",
            "a b",
            "a'b",
            &"x".repeat(65),
        ] {
            assert!(c.attach(bad, 0).is_err(), "{bad:?} accepted");
            assert!(c.start(bad, "/").is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn start_request_debug_hides_env_values() {
        let mut r = StartRequest::new(vec!["claude".into(), "-p".into()]);
        r.env
            .insert("ANTHROPIC_API_KEY".into(), "sk-ant-secret".into());
        let dbg = format!("{r:?}");
        assert!(dbg.contains("ANTHROPIC_API_KEY"));
        assert!(!dbg.contains("sk-ant-secret"));
        let line = r.to_line();
        assert!(line.ends_with('\n') && !line[..line.len() - 1].contains('\n'));
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["env"]["ANTHROPIC_API_KEY"], "sk-ant-secret");
        assert_eq!(v["logInput"], true);
    }

    #[test]
    fn status_and_reply_parse() {
        let s = RelayStatus::parse(
            "{\"alive\": false, \"pid\": 12, \"relayPid\": null, \"logSize\": 99, \"exitCode\": 137, \"signal\": 9, \"stderrTail\": \"boom\\n\"}\n",
        )
        .unwrap();
        assert_eq!(s.exit_code, Some(137));
        assert_eq!(s.log_size, 99);
        assert_eq!(s.stderr_tail, "boom\n");
        let r = StartReply::parse("{\"ok\": true, \"pid\": 5, \"relayPid\": 4}\n").unwrap();
        assert_eq!((r.pid, r.relay_pid), (5, 4));
        assert!(RelayStatus::parse("").is_err());
        assert!(StartReply::parse("garbage").is_err());
    }

    /// Feeds `data` through a tiny pipe so the reader sees many small chunks.
    fn chunked(data: Vec<u8>) -> tokio::io::DuplexStream {
        let (mut w, r) = tokio::io::duplex(3);
        tokio::spawn(async move {
            w.write_all(&data).await.unwrap();
        });
        r
    }

    #[tokio::test]
    async fn reader_offsets_are_absolute_and_partial_tail_is_not_a_line() {
        let data = "a\n\nhéllo\n{\"k\":1}\nxyz".as_bytes().to_vec();
        let mut r = RelayReader::new(chunked(data), 100);
        let mut got = vec![];
        while let Some(l) = r.next_line().await.unwrap() {
            got.push((l.text, l.end_offset));
        }
        assert_eq!(
            got,
            vec![
                ("a".to_string(), 102),
                (String::new(), 103),
                ("héllo".to_string(), 110),
                ("{\"k\":1}".to_string(), 118),
            ]
        );
        // "xyz" had no newline: not returned, not counted.
        assert_eq!(r.offset(), 118);
        assert!(r.next_line().await.unwrap().is_none());
    }

    #[tokio::test]
    async fn reader_skips_over_long_lines_and_keeps_counting() {
        let data = b"12345678\nok\n\xffz\n".to_vec();
        let mut r = RelayReader::new(chunked(data), 0).with_max_line(4);
        match r.next_line().await {
            Err(Error::RelayLineTooLong { end_offset, len }) => {
                assert_eq!((end_offset, len), (9, 8));
            }
            other => panic!("expected RelayLineTooLong, got {other:?}"),
        }
        let l = r.next_line().await.unwrap().unwrap();
        assert_eq!((l.text.as_str(), l.end_offset), ("ok", 12));
        // Invalid UTF-8 is replaced in the text but counted as raw bytes.
        let l = r.next_line().await.unwrap().unwrap();
        assert_eq!((l.text.as_str(), l.end_offset), ("\u{fffd}z", 15));
        assert!(r.next_line().await.unwrap().is_none());
    }

    #[tokio::test]
    async fn writer_sends_lines_nul_and_eof() {
        let (w, mut r) = tokio::io::duplex(1 << 16);
        let mut w = RelayWriter::new(w);
        w.send_line("{\"a\":1}").await.unwrap();
        assert!(w.send_line("two\nlines").await.is_err());
        assert!(w.send_line("nul\0").await.is_err());
        w.close_input().await.unwrap();
        w.detach().await.unwrap();
        assert!(w.send_line("after").await.is_err());
        let mut got = vec![];
        r.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"{\"a\":1}\n\0");
    }

    // ------------------------------------------------- the real relay.py, real processes

    const AGENT_PY: &str = r#"
import json, os, sys, time
def out(o):
    sys.stdout.write(json.dumps(o) + "\n"); sys.stdout.flush()
out({"type": "init", "pid": os.getpid()})
for line in sys.stdin:
    line = line.rstrip("\n")
    cmd, _, arg = line.partition(" ")
    if cmd == "count":
        for i in range(int(arg)):
            out({"n": i})
            if i % 20 == 0:
                time.sleep(0.01)
        out({"done": True})
    elif cmd == "slow":
        for i in range(int(arg)):
            time.sleep(0.1)
            out({"slow": i})
    elif cmd == "env":
        out({"secret_rev": os.environ.get("CAIC_TEST_SECRET", "")[::-1]})
    elif cmd == "stderr":
        sys.stderr.write(arg + "\n"); sys.stderr.flush()
        out({"stderr": True})
    elif cmd == "partial":
        sys.stdout.write('{"partial": true}'); sys.stdout.flush()
        sys.exit(5)
    else:
        out({"echo": line})
out({"final": True})
sys.exit(3)
"#;

    const T: Duration = Duration::from_secs(20);

    type Link = RelayLink<ChildStdout, ChildStdin>;

    /// A relay root in a temp dir, the script installed by the real install command, and
    /// a test agent. Stops its relay on drop.
    struct Fixture {
        dir: tempfile::TempDir,
        cmds: RelayCommands,
        name: String,
    }

    impl Fixture {
        async fn new() -> Self {
            let dir = tempfile::tempdir().unwrap();
            // CAIC_TEST_PYTHON runs the relay under another interpreter (e.g. 3.9, the
            // oldest supported).
            let python = std::env::var("CAIC_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
            let cmds = RelayCommands::new()
                .with_python(python)
                .with_script(dir.path().join("bin/relay.py").to_str().unwrap())
                .with_root(dir.path().join("root").to_str().unwrap());
            let out = sh(&cmds.install(), Some(RELAY_PY.as_bytes())).await;
            assert!(out.status.success(), "install: {out:?}");
            assert_eq!(
                std::fs::read_to_string(cmds.script_path()).unwrap(),
                RELAY_PY
            );
            std::fs::write(dir.path().join("agent.py"), AGENT_PY).unwrap();
            Self {
                dir,
                cmds,
                name: "agent".into(),
            }
        }

        fn root(&self) -> PathBuf {
            self.dir.path().join("root")
        }

        fn log_path(&self) -> PathBuf {
            self.root().join(&self.name).join("output.log")
        }

        fn request(&self) -> StartRequest {
            StartRequest::new(vec![
                "python3".into(),
                self.dir.path().join("agent.py").to_str().unwrap().into(),
            ])
        }

        async fn try_start(&self, req: &StartRequest) -> std::process::Output {
            let workdir = self.dir.path().to_str().unwrap();
            let cmd = self.cmds.start(&self.name, workdir).unwrap();
            sh(&cmd, Some(req.to_line().as_bytes())).await
        }

        async fn start(&self) -> StartReply {
            self.start_with(&self.request()).await
        }

        async fn start_with(&self, req: &StartRequest) -> StartReply {
            let out = self.try_start(req).await;
            assert!(out.status.success(), "start: {out:?}");
            StartReply::parse(&String::from_utf8_lossy(&out.stdout)).unwrap()
        }

        fn attach(&self, offset: u64) -> (Child, Link) {
            let mut child = Command::new("sh")
                .arg("-c")
                .arg(self.cmds.attach(&self.name, offset).unwrap())
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .kill_on_drop(true)
                .spawn()
                .unwrap();
            let link = RelayLink::new(
                child.stdout.take().unwrap(),
                child.stdin.take().unwrap(),
                offset,
            );
            (child, link)
        }

        async fn status(&self) -> RelayStatus {
            let out = sh(&self.cmds.status(&self.name).unwrap(), None).await;
            assert!(out.status.success(), "status: {out:?}");
            RelayStatus::parse(&String::from_utf8_lossy(&out.stdout)).unwrap()
        }

        /// Waits until status says the agent exited.
        async fn wait_exited(&self) -> RelayStatus {
            for _ in 0..200 {
                let s = self.status().await;
                if s.exit_code.is_some() {
                    return s;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            panic!("agent did not exit: {:?}", self.status().await);
        }
    }

    impl Drop for Fixture {
        fn drop(&mut self) {
            if let Ok(cmd) = self.cmds.stop(&self.name) {
                let _ = std::process::Command::new("sh")
                    .arg("-c")
                    .arg(cmd)
                    .stderr(Stdio::null())
                    .status();
            }
        }
    }

    async fn sh(cmd: &str, stdin: Option<&[u8]>) -> std::process::Output {
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(cmd)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut w = child.stdin.take().unwrap();
        if let Some(data) = stdin {
            w.write_all(data).await.unwrap();
        }
        drop(w);
        tokio::time::timeout(T, child.wait_with_output())
            .await
            .expect("command timed out")
            .unwrap()
    }

    async fn line(link: &mut Link) -> RelayLine {
        tokio::time::timeout(T, link.next_line())
            .await
            .expect("no line in time")
            .unwrap()
            .expect("link ended")
    }

    /// Reads lines until one contains `needle`; returns all lines read.
    async fn until(link: &mut Link, needle: &str) -> Vec<RelayLine> {
        let mut v = vec![];
        loop {
            let l = line(link).await;
            let done = l.text.contains(needle);
            v.push(l);
            if done {
                return v;
            }
        }
    }

    async fn exit_code(child: &mut Child) -> Option<i32> {
        tokio::time::timeout(T, child.wait())
            .await
            .expect("attach did not exit")
            .unwrap()
            .code()
    }

    fn pid_running(pid: u32) -> bool {
        // Present and not a zombie.
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Ok(stat) => !stat
                .rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('Z'),
            Err(_) => false,
        }
    }

    fn kill(pid: u32, sig: &str) {
        let st = std::process::Command::new("kill")
            .args([sig, &pid.to_string()])
            .status()
            .unwrap();
        assert!(st.success());
    }

    #[tokio::test]
    async fn replay_from_zero_and_from_a_middle_offset_is_byte_exact() {
        let f = Fixture::new().await;
        f.start().await;
        let (mut child, mut link) = f.attach(0);
        let mut lines = vec![line(&mut link).await];
        for word in ["alpha", "beta", "gamma"] {
            link.send_line(word).await.unwrap();
            lines.extend(until(&mut link, &format!("\"echo\": \"{word}\"")).await);
        }
        let texts: Vec<&str> = lines.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(texts.len(), 7, "{texts:?}");
        assert_eq!(texts[1..3], ["alpha", "{\"echo\": \"alpha\"}"]);
        // Offsets are cumulative byte counts of complete lines.
        let mut expect = 0;
        for l in &lines {
            expect += l.text.len() as u64 + 1;
            assert_eq!(l.end_offset, expect);
        }
        let log = std::fs::read(f.log_path()).unwrap();
        assert_eq!(log.len() as u64, expect);

        // Live attach from the middle: the very next line, no more, no less.
        drop(link);
        let _ = exit_code(&mut child).await;
        let mid = lines[2].end_offset;
        let (mut child, mut link) = f.attach(mid);
        let l = line(&mut link).await;
        assert_eq!(
            (l.text.as_str(), l.end_offset),
            ("beta", lines[3].end_offset)
        );
        link.close_input().await.unwrap();
        until(&mut link, "final").await;
        assert!(link.next_line().await.unwrap().is_none());
        assert_eq!(exit_code(&mut child).await, Some(3));

        // The agent has exited: replay is served from disk, exactly the tail, then the
        // agent's exit code.
        let log = std::fs::read(f.log_path()).unwrap();
        for offset in [0, mid, log.len() as u64] {
            let (mut child, link) = f.attach(offset);
            let (mut out, _stdin) = link.into_split();
            let mut got = vec![];
            while let Some(l) = out.next_line().await.unwrap() {
                got.extend_from_slice(l.text.as_bytes());
                got.push(b'\n');
            }
            assert_eq!(got, &log[offset as usize..], "from offset {offset}");
            assert_eq!(exit_code(&mut child).await, Some(3));
        }
        // An offset that is not a line boundary is refused.
        let (mut child, _link) = f.attach(mid + 1);
        assert_eq!(exit_code(&mut child).await, Some(ATTACH_USAGE));
    }

    #[tokio::test]
    async fn detach_keeps_the_agent_and_its_output_waits_for_reattach() {
        let f = Fixture::new().await;
        let reply = f.start().await;
        let (mut child, mut link) = f.attach(0);
        line(&mut link).await;
        link.send_line("slow 5").await.unwrap();
        let at = line(&mut link).await.end_offset; // the logged input line
        link.detach().await.unwrap();
        assert_eq!(exit_code(&mut child).await, Some(ATTACH_DETACHED));
        tokio::time::sleep(Duration::from_millis(900)).await;
        let st = f.status().await;
        assert!(st.alive && st.exit_code.is_none(), "{st:?}");
        assert!(pid_running(reply.pid));
        let (_child, mut link) = f.attach(at);
        let got: Vec<String> = (0..5).map(|i| format!("{{\"slow\": {i}}}")).collect();
        for want in got {
            assert_eq!(line(&mut link).await.text, want);
        }
    }

    #[tokio::test]
    async fn reattach_while_output_flows_loses_and_duplicates_nothing() {
        let f = Fixture::new().await;
        let reply = f.start().await;
        let (mut child, mut link) = f.attach(0);
        line(&mut link).await;
        link.send_line("count 3000").await.unwrap();
        let mut seen = vec![];
        let mut round = 0;
        'outer: loop {
            for _ in 0..(150 + round * 37 % 200) {
                let l = line(&mut link).await;
                if l.text.contains("\"done\"") {
                    break 'outer;
                }
                if let Some(n) = l.text.strip_prefix("{\"n\": ") {
                    seen.push(n.trim_end_matches('}').parse::<u32>().unwrap());
                }
            }
            let offset = link.offset();
            if round % 2 == 0 {
                // A dropped SSH link: the attach process dies without a word.
                child.start_kill().unwrap();
            } else {
                link.detach().await.unwrap();
            }
            let _ = exit_code(&mut child).await;
            assert!(pid_running(reply.pid), "agent died with its attach");
            (child, link) = f.attach(offset);
            round += 1;
        }
        assert!(round >= 4, "too few re-attaches ({round}) to mean anything");
        assert_eq!(seen, (0..3000).collect::<Vec<_>>());
        assert!(f.status().await.alive);
    }

    #[tokio::test]
    async fn kill_9_of_attach_leaves_the_agent_running() {
        let f = Fixture::new().await;
        let reply = f.start().await;
        let (mut child, mut link) = f.attach(0);
        line(&mut link).await;
        kill(child.id().unwrap(), "-9");
        let _ = exit_code(&mut child).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(pid_running(reply.pid));
        assert!(f.status().await.alive);
        let (_c, mut link) = f.attach(link.offset());
        link.send_line("still there").await.unwrap();
        until(&mut link, "\"echo\": \"still there\"").await;
    }

    #[tokio::test]
    async fn nul_closes_agent_stdin_then_final_output_and_exit_code() {
        let f = Fixture::new().await;
        let reply = f.start().await;
        let (mut child, mut link) = f.attach(0);
        line(&mut link).await;
        link.send_line("last words").await.unwrap();
        link.close_input().await.unwrap();
        // The host may also close its end right after the NUL: that must not cut the end.
        link.detach().await.unwrap();
        let mut rest = vec![];
        while let Some(l) = tokio::time::timeout(T, link.next_line())
            .await
            .unwrap()
            .unwrap()
        {
            rest.push(l.text);
        }
        assert_eq!(
            rest,
            [
                "last words",
                "{\"echo\": \"last words\"}",
                "{\"final\": true}"
            ]
        );
        assert_eq!(exit_code(&mut child).await, Some(3));
        let st = f.wait_exited().await;
        assert!(!st.alive);
        assert_eq!(st.exit_code, Some(3));
        assert_eq!(st.log_size, link.offset());
        assert!(!pid_running(reply.pid), "agent left as a zombie or alive");
    }

    #[tokio::test]
    async fn s17_start_env_reaches_agent_but_not_disk_nor_argv() {
        use rand::Rng;
        let secret: String = format!("caic-secret-{:016x}", rand::thread_rng().gen::<u64>());
        let f = Fixture::new().await;
        let mut req = f.request();
        req.env.insert("CAIC_TEST_SECRET".into(), secret.clone());
        let reply = f.start_with(&req).await;
        let (_child, mut link) = f.attach(0);
        link.send_line("env").await.unwrap();
        let l = until(&mut link, "secret_rev").await.pop().unwrap();
        let rev: String = secret.chars().rev().collect();
        assert_eq!(l.text, format!("{{\"secret_rev\": \"{rev}\"}}"));

        fn walk(p: &Path, secret: &[u8]) {
            for e in std::fs::read_dir(p).unwrap() {
                let e = e.unwrap();
                let ft = e.file_type().unwrap();
                if ft.is_dir() {
                    walk(&e.path(), secret);
                } else if ft.is_file() {
                    let data = std::fs::read(e.path()).unwrap();
                    assert!(
                        !data.windows(secret.len()).any(|w| w == secret),
                        "secret found in {}",
                        e.path().display()
                    );
                }
            }
        }
        walk(f.dir.path(), secret.as_bytes());
        for pid in [reply.pid, reply.relay_pid] {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
            assert!(!cmdline
                .windows(secret.len())
                .any(|w| w == secret.as_bytes()));
        }
        // The relay daemon's own environment does not carry it either: only the agent's.
        let environ = std::fs::read(format!("/proc/{}/environ", reply.relay_pid)).unwrap();
        assert!(!environ
            .windows(secret.len())
            .any(|w| w == secret.as_bytes()));
    }

    #[tokio::test]
    async fn a_second_attach_replaces_the_first() {
        let f = Fixture::new().await;
        f.start().await;
        let (mut a, mut link_a) = f.attach(0);
        line(&mut link_a).await;
        let (_b, mut link_b) = f.attach(0);
        line(&mut link_b).await;
        assert!(tokio::time::timeout(T, link_a.next_line())
            .await
            .unwrap()
            .unwrap()
            .is_none());
        assert_eq!(exit_code(&mut a).await, Some(ATTACH_REPLACED));
        link_b.send_line("from b").await.unwrap();
        until(&mut link_b, "\"echo\": \"from b\"").await;
        // Input from the replaced client no longer reaches the agent.
        let _ = link_a.send_line("from a").await;
        link_b.send_line("marker").await.unwrap();
        let seen = until(&mut link_b, "\"echo\": \"marker\"").await;
        assert!(seen.iter().all(|l| !l.text.contains("from a")), "{seen:?}");
    }

    #[tokio::test]
    async fn a_second_start_with_the_same_name_fails_clearly() {
        let f = Fixture::new().await;
        let first = f.start().await;
        let out = f.try_start(&f.request()).await;
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("already running"), "{err}");
        let st = f.status().await;
        assert!(st.alive);
        assert_eq!(st.pid, Some(first.pid));
    }

    #[tokio::test]
    async fn start_fails_clearly_when_the_agent_cannot_spawn() {
        let f = Fixture::new().await;
        let out = f
            .try_start(&StartRequest::new(vec!["/nonexistent/agent-cli".into()]))
            .await;
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("cannot start agent"), "{err}");
        assert!(!f.status().await.alive);
        // The name is free again.
        f.start().await;
    }

    #[tokio::test]
    async fn a_5_mib_line_passes_intact_amid_agent_output() {
        let f = Fixture::new().await;
        f.start().await;
        let (_child, mut link) = f.attach(0);
        line(&mut link).await;
        let big: String = (0..5 << 20)
            .map(|i: usize| (b'A' + (i * 7 % 26) as u8) as char)
            .collect();
        link.send_line("count 500").await.unwrap();
        link.send_line(&big).await.unwrap();
        let mut saw_input = false;
        let mut saw_echo = false;
        let want_echo = format!("{{\"echo\": \"{big}\"}}");
        while !(saw_input && saw_echo) {
            let l = line(&mut link).await;
            if l.text == big {
                saw_input = true;
            } else if l.text == want_echo {
                saw_echo = true;
            } else if l.text != "count 500" {
                // Everything else is a whole agent line: no interleaving with the big one.
                serde_json::from_str::<serde_json::Value>(&l.text)
                    .unwrap_or_else(|_| panic!("torn line of {} bytes", l.text.len()));
            }
        }
    }

    #[tokio::test]
    async fn killed_agent_shows_exit_code_and_stderr_tail() {
        let f = Fixture::new().await;
        let reply = f.start().await;
        let (mut child, mut link) = f.attach(0);
        line(&mut link).await;
        link.send_line("stderr boom: disk on fire").await.unwrap();
        until(&mut link, "\"stderr\": true").await;
        kill(reply.pid, "-9");
        assert!(tokio::time::timeout(T, link.next_line())
            .await
            .unwrap()
            .unwrap()
            .is_none());
        assert_eq!(exit_code(&mut child).await, Some(137));
        let st = f.wait_exited().await;
        assert!(!st.alive);
        assert_eq!((st.exit_code, st.signal), (Some(137), Some(9)));
        assert!(st.stderr_tail.contains("boom: disk on fire"), "{st:?}");
        assert!(!pid_running(reply.pid));
    }

    #[tokio::test]
    async fn a_partial_last_line_is_completed_when_the_agent_exits() {
        let f = Fixture::new().await;
        f.start().await;
        let (mut child, mut link) = f.attach(0);
        line(&mut link).await;
        link.send_line("partial").await.unwrap();
        let l = until(&mut link, "partial\": true").await.pop().unwrap();
        assert_eq!(l.text, "{\"partial\": true}");
        assert_eq!(exit_code(&mut child).await, Some(5));
        let log = std::fs::read(f.log_path()).unwrap();
        assert_eq!(l.end_offset, log.len() as u64);
        assert!(log.ends_with(b"{\"partial\": true}\n"));
    }

    #[tokio::test]
    async fn stop_terminates_the_agent_and_reaps_it() {
        let f = Fixture::new().await;
        let reply = f.start().await;
        let out = sh(&f.cmds.stop(&f.name).unwrap(), None).await;
        assert!(out.status.success(), "{out:?}");
        let st = f.wait_exited().await;
        assert_eq!((st.exit_code, st.signal), (Some(143), Some(15)));
        assert!(!pid_running(reply.pid));
        for _ in 0..100 {
            if !pid_running(reply.relay_pid) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("relay daemon still running after its agent was reaped");
    }
}
