//! Where task log bytes go: one background thread appends them to their files, in the
//! order they were written, so recording an agent's output never blocks the async
//! runtime on the disk. [`flush`] waits until everything written so far is on disk
//! (the engine does at shutdown, so a new engine in the same process reads it all).

use std::fs::File;
use std::io::Write;
use std::sync::mpsc::{channel, Sender};
use std::sync::{Arc, OnceLock};

enum Op {
    Write(Arc<File>, Vec<u8>),
    Flush(Box<dyn FnOnce() + Send>),
}

fn sink() -> &'static Sender<Op> {
    static SINK: OnceLock<Sender<Op>> = OnceLock::new();
    SINK.get_or_init(|| {
        let (tx, rx) = channel::<Op>();
        let spawned = std::thread::Builder::new()
            .name("caic-log-writer".into())
            .spawn(move || {
                for op in rx {
                    match op {
                        Op::Write(file, bytes) => {
                            if let Err(e) = (&*file).write_all(&bytes) {
                                tracing::error!(error = %e, "writing a task log");
                            }
                        }
                        Op::Flush(done) => done(),
                    }
                }
            });
        if let Err(e) = spawned {
            // Without the thread every write is lost: say so loudly, once.
            tracing::error!(error = %e, "cannot start the task log writer");
        }
        tx
    })
}

/// Queues `bytes` to be appended to `file`.
pub(crate) fn write(file: &Arc<File>, bytes: Vec<u8>) {
    if sink().send(Op::Write(file.clone(), bytes)).is_err() {
        tracing::error!("the task log writer is gone: a log line was lost");
    }
}

/// Resolves once everything queued before the call is written.
pub(crate) async fn flush() {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let done = Box::new(move || {
        let _ = tx.send(());
    });
    if sink().send(Op::Flush(done)).is_ok() {
        let _ = rx.await;
    }
}

/// Blocks until everything queued before the call is written.
#[cfg(test)]
pub(crate) fn flush_blocking() {
    let (tx, rx) = std::sync::mpsc::channel();
    let done = Box::new(move || {
        let _ = tx.send(());
    });
    if sink().send(Op::Flush(done)).is_ok() {
        let _ = rx.recv();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn writes_land_in_order_per_file_and_flush_waits_for_them() {
        let dir = tempfile::tempdir().unwrap();
        let open = |name: &str| {
            Arc::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(dir.path().join(name))
                    .unwrap(),
            )
        };
        let (a, b) = (open("a"), open("b"));
        for i in 0..500 {
            write(&a, format!("a{i}\n").into_bytes());
            write(&b, format!("b{i}\n").into_bytes());
        }
        flush().await;
        let want = |p: &str| (0..500).map(|i| format!("{p}{i}\n")).collect::<String>();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("a")).unwrap(),
            want("a")
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join("b")).unwrap(),
            want("b")
        );
    }
}
