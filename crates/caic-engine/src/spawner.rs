//! Every background job of the engine (agent sessions, container-death watcher, image
//! warm-up, CI watches, per-action work, webhook follow-ups) runs through one
//! [`Spawner`], so shutdown can cancel them all and wait until they are gone.

use std::future::Future;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};
use tokio_util::task::TaskTracker;

/// Tracks and cancels the engine's background jobs. Cheap to clone.
#[derive(Clone, Default)]
pub(crate) struct Spawner {
    tracker: TaskTracker,
    cancel: CancellationToken,
}

impl Spawner {
    /// Runs `job` in the background until it ends or the engine shuts down, whichever
    /// comes first. After shutdown, a new job ends at once without running.
    pub(crate) fn spawn<F>(&self, job: F) -> JoinHandle<()>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let cancel = self.cancel.clone();
        self.tracker.spawn(async move {
            tokio::select! {
                biased;
                _ = cancel.cancelled() => {}
                _ = job => {}
            }
        })
    }

    /// Resolves when shutdown starts.
    pub(crate) fn cancelled(&self) -> WaitForCancellationFutureOwned {
        self.cancel.clone().cancelled_owned()
    }

    /// Jobs still running.
    pub(crate) fn len(&self) -> usize {
        self.tracker.len()
    }

    /// Cancels every job and waits up to `within` for them to end; true when all did.
    pub(crate) async fn shutdown(&self, within: Duration) -> bool {
        self.cancel.cancel();
        self.tracker.close();
        tokio::time::timeout(within, self.tracker.wait())
            .await
            .is_ok()
    }
}

impl crate::Engine {
    /// Runs `job` in the background, tracked and cancelled by [`Engine::shutdown`].
    ///
    /// [`Engine::shutdown`]: crate::Engine::shutdown
    pub fn spawn<F>(&self, job: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.inner.jobs.spawn(job);
    }

    /// Stops the engine: cancels every background job (agent sessions are detached,
    /// the agents keep running in their containers under the relay) and waits up to
    /// `within` for them to end. Containers are left running for the next start to
    /// adopt. Returns true when every job ended in time. Idempotent.
    pub async fn shutdown(&self, within: Duration) -> bool {
        let t0 = std::time::Instant::now();
        let done = self.inner.jobs.shutdown(within).await;
        self.inner.backend.close();
        crate::log_sink::flush().await;
        if done {
            tracing::info!(ms = t0.elapsed().as_millis() as u64, "engine stopped");
        } else {
            tracing::warn!(
                left = self.inner.jobs.len(),
                "engine stop: background jobs still running after {within:?}"
            );
        }
        done
    }

    /// Resolves when the engine starts shutting down; streams end on it.
    pub fn closed(&self) -> impl Future<Output = ()> + Send + 'static {
        self.inner.jobs.cancelled()
    }

    /// How many background jobs are running now.
    pub fn background_jobs(&self) -> usize {
        self.inner.jobs.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn shutdown_cancels_running_jobs_and_refuses_new_ones() {
        let s = Spawner::default();
        let (tx, mut rx) = tokio::sync::mpsc::channel::<()>(1);
        // A job that would run forever, holding a sender.
        s.spawn(async move {
            let _tx = tx;
            std::future::pending::<()>().await
        });
        assert_eq!(s.len(), 1);
        assert!(s.shutdown(Duration::from_secs(2)).await, "jobs did not end");
        assert_eq!(s.len(), 0);
        // The job was dropped: its sender is gone.
        assert!(rx.recv().await.is_none());
        // A job spawned after shutdown never runs.
        let ran = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let r = ran.clone();
        s.spawn(async move { r.store(true, std::sync::atomic::Ordering::SeqCst) })
            .await
            .unwrap();
        assert!(!ran.load(std::sync::atomic::Ordering::SeqCst));
    }
}
