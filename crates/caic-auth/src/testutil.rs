//! Test helpers: capture tracing output into a string (feature `mock`, for other
//! crates' tests too).

use parking_lot::Mutex;
use std::io::Write;
use std::sync::Arc;

/// A writer that appends into a shared buffer.
#[derive(Clone, Default)]
pub struct Buffer(pub Arc<Mutex<Vec<u8>>>);

impl Buffer {
    /// Everything written so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock()).into_owned()
    }
}

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Buffer {
    type Writer = Buffer;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// A subscriber at TRACE level writing into a fresh buffer.
pub fn subscriber() -> (impl tracing::Subscriber + Send + Sync, Buffer) {
    let buf = Buffer::default();
    let sub = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(buf.clone())
        .finish();
    (sub, buf)
}

/// Runs `f` with all tracing output (TRACE and up) captured; returns the output.
pub fn capture_logs(f: impl FnOnce()) -> String {
    let (sub, buf) = subscriber();
    tracing::subscriber::with_default(sub, f);
    buf.text()
}
