//! The end of a run, shared by `swe-sleep daemon` and `swe-sleep serve`:
//! wait for the shutdown signal (or the server stopping by itself, a
//! failure), then, once the caller has told every task to stop, give the
//! server, the sleep scheduler and the GitHub worker until one deadline
//! each in that order, aborting what is late with a warning that says
//! what it leaves behind.

use std::future::Future;

use tokio::task::JoinHandle;
use tokio::time::Instant;

/// The HTTP server's task, as `serve::serve` returns it.
pub type ServerTask = JoinHandle<std::io::Result<()>>;

/// Resolves when `shutdown` does (`None`) or when the server stops by
/// itself, which is a failure (`Some` with why).
pub async fn until_shutdown(
    shutdown: impl Future<Output = ()>,
    server: &mut ServerTask,
) -> Option<std::io::Error> {
    tokio::select! {
        () = shutdown => {
            tracing::info!("shutting down");
            None
        }
        r = server => Some(match r {
            Ok(Ok(())) => std::io::Error::other("the server stopped"),
            Ok(Err(e)) => e,
            Err(e) => std::io::Error::other(e),
        }),
    }
}

/// The tasks a run waits for after its stop signal was sent.
pub struct Draining<'a> {
    /// `None` when the server already stopped (it failed).
    pub server: Option<&'a mut ServerTask>,
    pub scheduler: &'a mut JoinHandle<()>,
    pub worker: Option<&'a mut JoinHandle<()>>,
}

impl Draining<'_> {
    /// Joins each task before `deadline`, aborting the late ones.
    pub async fn finish(self, deadline: Instant) {
        if let Some(server) = self.server
            && tokio::time::timeout_at(deadline, &mut *server)
                .await
                .is_err()
        {
            tracing::warn!("open connections did not close in time");
            server.abort();
        }
        if tokio::time::timeout_at(deadline, &mut *self.scheduler)
            .await
            .is_err()
        {
            tracing::warn!(
                "a running sleep did not finish in time; the notebook keeps its previous snapshot"
            );
            self.scheduler.abort();
        }
        if let Some(worker) = self.worker
            && tokio::time::timeout_at(deadline, &mut *worker)
                .await
                .is_err()
        {
            tracing::warn!(
                "the running GitHub job did not finish in time; it runs again at the next start"
            );
            worker.abort();
        }
    }
}
