//! SSH into task containers (russh client): host key pinned to the container's label,
//! authentication with caic's own client key only, command execution with collected or
//! streamed output, and a client that re-dials after the connection dropped.

use parking_lot::Mutex;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use russh::client::{self, AuthResult};
use russh::keys::ssh_key::HashAlg;
use russh::keys::{PrivateKeyWithHashAlg, PublicKey, PublicKeyOrCertificate};
use russh::ChannelMsg;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, DuplexStream, ReadBuf};
use tokio::sync::{mpsc, oneshot};

use crate::keys::ClientKey;
use crate::Error;

/// Default time to wait for a freshly started container's sshd.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// Buffered stdout of an [`ExecStream`] before the remote side is paused.
const STDOUT_BUFFER: usize = 256 * 1024;
/// Unread stderr kept for an [`ExecStream`]; more is dropped (stderr is diagnostics).
const STDERR_CAP: usize = 1024 * 1024;

/// Where and as whom to connect, and which host key to expect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshTarget {
    /// Host to dial; always loopback for caic's containers.
    pub host: String,
    /// Published host port of the container's 22/tcp.
    pub port: u16,
    /// Login user.
    pub user: String,
    /// The container's host key (from its `caic.host_key` label).
    pub host_key: PublicKey,
}

impl SshTarget {
    /// `user@127.0.0.1:<port>` expecting `host_key`.
    pub fn loopback(port: u16, host_key: PublicKey) -> Self {
        Self {
            host: "127.0.0.1".into(),
            port,
            user: "user".into(),
            host_key,
        }
    }
}

/// Collected result of [`SshSession::exec`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecOutput {
    /// Exit status; `None` if the process died of a signal or the channel closed without one.
    pub status: Option<u32>,
    /// Everything written to stdout.
    pub stdout: Vec<u8>,
    /// Everything written to stderr.
    pub stderr: Vec<u8>,
}

impl ExecOutput {
    /// Exit status 0.
    pub fn success(&self) -> bool {
        self.status == Some(0)
    }

    /// stdout as (lossy) UTF-8, trimmed.
    pub fn stdout_str(&self) -> String {
        String::from_utf8_lossy(&self.stdout).trim().to_string()
    }
}

/// The russh handler: pins the server's host key.
struct Verifier {
    expected: PublicKey,
    mismatch: Arc<Mutex<Option<String>>>,
}

impl client::Handler for Verifier {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        server_public_key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        match server_public_key {
            PublicKeyOrCertificate::PublicKey { key, .. }
                if key.key_data() == self.expected.key_data() =>
            {
                Ok(true)
            }
            PublicKeyOrCertificate::PublicKey { key, .. } => {
                *self.mismatch.lock() = Some(format!(
                    "host key mismatch: expected {}, server offered {}; refusing to connect",
                    self.expected.fingerprint(HashAlg::Sha256),
                    key.fingerprint(HashAlg::Sha256)
                ));
                Ok(false)
            }
            PublicKeyOrCertificate::Certificate(_) => {
                *self.mismatch.lock() = Some(
                    "server offered a host certificate, expected the container's host key; refusing to connect"
                        .into(),
                );
                Ok(false)
            }
        }
    }
}

fn ssh_config() -> Arc<client::Config> {
    Arc::new(client::Config {
        keepalive_interval: Some(Duration::from_secs(15)),
        keepalive_max: 4,
        nodelay: true,
        ..Default::default()
    })
}

/// Why one dial attempt failed.
enum DialError {
    /// Worth retrying (sshd not up yet, connection reset).
    Transient(String),
    /// Never retried: wrong host key, key refused.
    Fatal(Error),
}

/// Dials and checks the host key, without authenticating (tests probe auth methods).
#[cfg(test)]
pub(crate) async fn dial(
    target: &SshTarget,
) -> Result<client::Handle<impl client::Handler>, Error> {
    match dial_inner(target).await {
        Ok(h) => Ok(h),
        Err(DialError::Fatal(e)) => Err(e),
        Err(DialError::Transient(m)) => Err(Error::Ssh(m)),
    }
}

async fn dial_inner(target: &SshTarget) -> Result<client::Handle<Verifier>, DialError> {
    let mismatch = Arc::new(Mutex::new(None));
    let verifier = Verifier {
        expected: target.host_key.clone(),
        mismatch: mismatch.clone(),
    };
    match client::connect(ssh_config(), (target.host.as_str(), target.port), verifier).await {
        Ok(h) => Ok(h),
        Err(e) => {
            if let Some(m) = mismatch.lock().take() {
                return Err(DialError::Fatal(Error::Ssh(format!(
                    "{}:{}: {m}",
                    target.host, target.port
                ))));
            }
            Err(DialError::Transient(format!(
                "{}:{}: {e}",
                target.host, target.port
            )))
        }
    }
}

async fn dial_and_auth(
    target: &SshTarget,
    key: &ClientKey,
) -> Result<client::Handle<Verifier>, DialError> {
    let mut handle = dial_inner(target).await?;
    let auth = handle
        .authenticate_publickey(
            target.user.clone(),
            PrivateKeyWithHashAlg::new(key.private_key(), None),
        )
        .await
        .map_err(|e| DialError::Transient(format!("authenticate: {e}")))?;
    match auth {
        AuthResult::Success => Ok(handle),
        AuthResult::Failure { .. } => Err(DialError::Fatal(Error::Ssh(format!(
            "{}@{}:{} refused caic's key {}",
            target.user,
            target.host,
            target.port,
            key.fingerprint()
        )))),
    }
}

/// One authenticated SSH connection to a container.
pub struct SshSession {
    handle: client::Handle<Verifier>,
    target: SshTarget,
}

impl std::fmt::Debug for SshSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SshSession")
            .field(
                "target",
                &format!("{}:{}", self.target.host, self.target.port),
            )
            .field("closed", &self.is_closed())
            .finish()
    }
}

impl SshSession {
    /// Connects, retrying while sshd is not ready yet (every 10 ms for a second, then
    /// doubling to 100 ms) until `timeout`. A wrong host key or a refused client key fails at once.
    pub async fn connect(
        target: &SshTarget,
        key: &ClientKey,
        timeout: Duration,
    ) -> Result<Self, Error> {
        let started = Instant::now();
        let deadline = started + timeout;
        let mut delay = Duration::from_millis(10);
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            let attempt = tokio::time::timeout(
                remaining.max(Duration::from_millis(1)),
                dial_and_auth(target, key),
            )
            .await;
            let last = match attempt {
                Ok(Ok(handle)) => {
                    return Ok(Self {
                        handle,
                        target: target.clone(),
                    })
                }
                Ok(Err(DialError::Fatal(e))) => return Err(e),
                Ok(Err(DialError::Transient(m))) => m,
                Err(_) => "attempt timed out".to_string(),
            };
            if Instant::now() + delay >= deadline {
                return Err(Error::Timeout(format!(
                    "ssh to {}:{} not ready after {timeout:?}: {last}",
                    target.host, target.port
                )));
            }
            tracing::trace!(port = target.port, error = %last, "sshd not ready yet");
            tokio::time::sleep(delay).await;
            // sshd is usually up within tens of ms of the container start: poll every
            // 10 ms for the first second, then back off.
            if started.elapsed() > Duration::from_secs(1) {
                delay = (delay * 2).min(Duration::from_millis(100));
            }
        }
    }

    /// Whether the connection is gone.
    pub fn is_closed(&self) -> bool {
        self.handle.is_closed()
    }

    /// The target this session is connected to.
    pub fn target(&self) -> &SshTarget {
        &self.target
    }

    async fn open(&self, cmd: &str) -> Result<russh::Channel<client::Msg>, Error> {
        let ch = self
            .handle
            .channel_open_session()
            .await
            .map_err(|e| Error::Ssh(format!("open channel: {e}")))?;
        ch.exec(true, cmd)
            .await
            .map_err(|e| Error::Ssh(format!("exec: {e}")))?;
        Ok(ch)
    }

    /// Runs `cmd` (a shell command line, run by the user's login shell), feeding `stdin`
    /// then EOF, and collects its output and exit status.
    pub async fn exec(&self, cmd: &str, stdin: Option<&[u8]>) -> Result<ExecOutput, Error> {
        let ch = self.open(cmd).await?;
        let (mut rx, tx) = ch.split();
        let input = async {
            if let Some(data) = stdin {
                tx.data_bytes(Bytes::copy_from_slice(data))
                    .await
                    .map_err(|e| Error::Ssh(format!("send stdin: {e}")))?;
            }
            tx.eof()
                .await
                .map_err(|e| Error::Ssh(format!("send eof: {e}")))
        };
        let output = async {
            let mut out = ExecOutput {
                status: None,
                stdout: Vec::new(),
                stderr: Vec::new(),
            };
            while let Some(msg) = rx.wait().await {
                match msg {
                    ChannelMsg::Data { data } => out.stdout.extend_from_slice(&data),
                    ChannelMsg::ExtendedData { data, ext: 1 } => {
                        out.stderr.extend_from_slice(&data)
                    }
                    ChannelMsg::ExitStatus { exit_status } => out.status = Some(exit_status),
                    ChannelMsg::Close => break,
                    _ => {}
                }
            }
            out
        };
        let (sent, out) = tokio::join!(input, output);
        // The process may exit without reading stdin; that is not an error of ours.
        if let Err(e) = sent {
            tracing::debug!(error = %e, "stdin not fully delivered");
        }
        Ok(out)
    }

    /// Starts `cmd` and returns its streams: stdout as `AsyncRead` (with backpressure, so
    /// arbitrarily long output never sits in memory), stdin as `AsyncWrite` (shutdown sends
    /// EOF), stderr (up to 1 MiB unread is kept) and the exit status.
    pub async fn exec_stream(&self, cmd: &str) -> Result<ExecStream, Error> {
        let ch = self.open(cmd).await?;
        let (mut rx, tx) = ch.split();
        let (mut out_w, out_r) = tokio::io::duplex(STDOUT_BUFFER);
        let (err_tx, err_rx) = mpsc::unbounded_channel::<Bytes>();
        let queued = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let queued2 = queued.clone();
        let (status_tx, status_rx) = oneshot::channel();
        tokio::spawn(async move {
            let mut status = None;
            let mut stdout_open = true;
            let mut dropped_stderr = 0usize;
            while let Some(msg) = rx.wait().await {
                match msg {
                    // Once the reader is gone, data is discarded (`_` below) while
                    // draining for the exit status.
                    ChannelMsg::Data { data } if stdout_open => {
                        stdout_open = out_w.write_all(&data).await.is_ok();
                    }
                    ChannelMsg::ExtendedData { data, ext: 1 } => {
                        use std::sync::atomic::Ordering;
                        if queued2.load(Ordering::Relaxed) + data.len() > STDERR_CAP {
                            dropped_stderr += data.len();
                        } else {
                            queued2.fetch_add(data.len(), Ordering::Relaxed);
                            let _ = err_tx.send(Bytes::copy_from_slice(&data));
                        }
                    }
                    ChannelMsg::Eof => {
                        let _ = out_w.shutdown().await;
                        stdout_open = false;
                    }
                    ChannelMsg::ExitStatus { exit_status } => status = Some(exit_status),
                    ChannelMsg::Close => break,
                    _ => {}
                }
            }
            let _ = out_w.shutdown().await;
            drop(out_w);
            if dropped_stderr > 0 {
                tracing::warn!(bytes = dropped_stderr, "dropped unread remote stderr");
            }
            let _ = status_tx.send(status);
        });
        let writer = tx.make_writer();
        Ok(ExecStream {
            stdout: ExecStdout { inner: out_r },
            stdin: ExecStdin {
                inner: Box::pin(writer),
                _half: tx,
            },
            stderr: ExecStderr {
                rx: err_rx,
                current: Bytes::new(),
                queued,
            },
            exit: ExitStatus { rx: status_rx },
        })
    }
}

/// A running remote command's streams, from [`SshSession::exec_stream`].
pub struct ExecStream {
    /// The command's stdout.
    pub stdout: ExecStdout,
    /// The command's stdin; `shutdown()` sends EOF.
    pub stdin: ExecStdin,
    /// The command's stderr.
    pub stderr: ExecStderr,
    /// Resolves when the channel closes.
    pub exit: ExitStatus,
}

/// stdout of a remote command.
pub struct ExecStdout {
    inner: DuplexStream,
}

impl AsyncRead for ExecStdout {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

/// stdin of a remote command; `shutdown()` is EOF for the remote process.
pub struct ExecStdin {
    inner: Pin<Box<dyn AsyncWrite + Send>>,
    _half: russh::ChannelWriteHalf<client::Msg>,
}

impl AsyncWrite for ExecStdin {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.inner.as_mut().poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.inner.as_mut().poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.inner.as_mut().poll_shutdown(cx)
    }
}

/// stderr of a remote command (at most 1 MiB unread is buffered; the rest is dropped).
pub struct ExecStderr {
    rx: mpsc::UnboundedReceiver<Bytes>,
    current: Bytes,
    queued: Arc<std::sync::atomic::AtomicUsize>,
}

impl AsyncRead for ExecStderr {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        use std::sync::atomic::Ordering;
        if self.current.is_empty() {
            match self.rx.poll_recv(cx) {
                Poll::Ready(Some(b)) => self.current = b,
                Poll::Ready(None) => return Poll::Ready(Ok(())),
                Poll::Pending => return Poll::Pending,
            }
        }
        let n = self.current.len().min(buf.remaining());
        let chunk = self.current.split_to(n);
        buf.put_slice(&chunk);
        self.queued.fetch_sub(n, Ordering::Relaxed);
        Poll::Ready(Ok(()))
    }
}

/// The exit status of a streamed command.
pub struct ExitStatus {
    rx: oneshot::Receiver<Option<u32>>,
}

impl ExitStatus {
    /// Waits for the channel to close; `None` if no exit status was sent (signal, drop).
    pub async fn wait(self) -> Option<u32> {
        self.rx.await.ok().flatten()
    }
}

/// An SSH client for one container that re-dials on the next call after the connection
/// dropped (sshd restarted, container restarted, laptop slept).
pub struct SshClient {
    key: ClientKey,
    target: Mutex<SshTarget>,
    timeout: Duration,
    current: Mutex<Option<Arc<SshSession>>>,
    dial_lock: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for SshClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SshClient")
            .field("port", &self.target.lock().port)
            .field("closed", &self.is_closed())
            .finish()
    }
}

impl SshClient {
    /// A client for `target`; connects lazily on first use, waiting up to `timeout`.
    pub fn new(target: SshTarget, key: ClientKey, timeout: Duration) -> Self {
        Self {
            key,
            target: Mutex::new(target),
            timeout,
            current: Mutex::new(None),
            dial_lock: tokio::sync::Mutex::new(()),
        }
    }

    /// Whether there is no live connection right now (the next call will dial).
    pub fn is_closed(&self) -> bool {
        self.current.lock().as_ref().is_none_or(|s| s.is_closed())
    }

    /// Points the client at a new target (e.g. the new port after a container restart);
    /// the current connection is dropped.
    pub fn set_target(&self, target: SshTarget) {
        *self.target.lock() = target;
        *self.current.lock() = None;
    }

    /// The current target.
    pub fn target(&self) -> SshTarget {
        self.target.lock().clone()
    }

    /// The live session, dialing a new one if there is none or it closed.
    pub async fn session(&self) -> Result<Arc<SshSession>, Error> {
        if let Some(s) = self.current.lock().as_ref() {
            if !s.is_closed() {
                return Ok(s.clone());
            }
        }
        let _g = self.dial_lock.lock().await;
        if let Some(s) = self.current.lock().as_ref() {
            if !s.is_closed() {
                return Ok(s.clone());
            }
        }
        let target = self.target();
        let s = Arc::new(SshSession::connect(&target, &self.key, self.timeout).await?);
        *self.current.lock() = Some(s.clone());
        Ok(s)
    }

    /// Drops a session that failed so the next call re-dials.
    fn forget(&self, s: &Arc<SshSession>) {
        let mut cur = self.current.lock();
        if cur.as_ref().is_some_and(|c| Arc::ptr_eq(c, s)) {
            *cur = None;
        }
    }

    /// Opens a channel, re-dialing once if the connection turned out to be dead. The
    /// command is sent only on a live channel, so it never runs twice.
    async fn with_channel<T, F, Fut>(&self, f: F) -> Result<T, Error>
    where
        F: Fn(Arc<SshSession>) -> Fut,
        Fut: std::future::Future<Output = Result<T, Error>>,
    {
        let s = self.session().await?;
        match f(s.clone()).await {
            Err(Error::Ssh(m)) if m.starts_with("open channel") || m.starts_with("exec:") => {
                tracing::debug!(error = %m, "ssh connection dropped; re-dialing");
                self.forget(&s);
                let s = self.session().await?;
                f(s).await
            }
            other => other,
        }
    }

    /// [`SshSession::exec`] on the live connection.
    pub async fn exec(&self, cmd: &str, stdin: Option<&[u8]>) -> Result<ExecOutput, Error> {
        self.with_channel(|s| async move { s.exec(cmd, stdin).await })
            .await
    }

    /// [`SshSession::exec_stream`] on the live connection.
    pub async fn exec_stream(&self, cmd: &str) -> Result<ExecStream, Error> {
        self.with_channel(|s| async move { s.exec_stream(cmd).await })
            .await
    }
}
