//! A daemon run in process for a test: on a runtime of its own, bound to a
//! free loopback port, stopped cleanly by [`Running::stop`] (or told to stop
//! when dropped, as when a test fails half-way).

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use swe_sleep::config::Config;
use swe_sleep::daemon::{self, DaemonConfig, DaemonError};
use tokio::runtime::Runtime;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A daemon for `repo` with its state in `state`: a free loopback port and
/// short quiet and polling periods, so tests see a sleep soon.
pub fn config(repo: &Path, state: &Path) -> DaemonConfig {
    config_with(repo, state, Config::default())
}

/// [`config`] with the given configuration.
pub fn config_with(repo: &Path, state: &Path, config: Config) -> DaemonConfig {
    let mut c = DaemonConfig::new(repo.to_path_buf(), state.to_path_buf(), config);
    c.listen = "127.0.0.1:0".parse().expect("an address");
    c.quiet_period = Duration::from_millis(300);
    c.head_poll = Duration::from_millis(300);
    c
}

/// A runtime like the daemon's own, small.
pub fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
}

/// A daemon running until [`Running::stop`] or drop.
pub struct Running {
    pub addr: SocketAddr,
    rt: Option<Runtime>,
    stop: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<Result<(), DaemonError>>>,
}

impl Running {
    /// Starts the daemon on a runtime of its own and waits until it has
    /// bound its address.
    pub fn start(cfg: DaemonConfig) -> Running {
        Running::start_on(runtime(), cfg)
    }

    /// [`Running::start`] on `rt` (which may run other things too).
    pub fn start_on(rt: Runtime, mut cfg: DaemonConfig) -> Running {
        let (bound_tx, bound_rx) = oneshot::channel();
        let (stop, stop_rx) = oneshot::channel::<()>();
        cfg.bound = Some(bound_tx);
        let handle = rt.spawn(daemon::run(cfg, async {
            let _ = stop_rx.await;
        }));
        let addr = rt.block_on(bound_rx).expect("the daemon binds");
        Running {
            addr,
            rt: Some(rt),
            stop: Some(stop),
            handle: Some(handle),
        }
    }

    /// The runtime it runs on.
    pub fn rt(&self) -> &Runtime {
        self.rt.as_ref().expect("running")
    }

    /// Asks the daemon to shut down and checks that it did so cleanly;
    /// returns the runtime (and whatever else runs on it).
    pub fn stop(mut self) -> Runtime {
        let _ = self.stop.take().expect("running").send(());
        let handle = self.handle.take().expect("running");
        let rt = self.rt.take().expect("running");
        rt.block_on(handle)
            .expect("the daemon task")
            .expect("a clean shutdown");
        rt
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let (Some(rt), Some(handle)) = (&self.rt, self.handle.take()) {
            let _ =
                rt.block_on(async { tokio::time::timeout(Duration::from_secs(10), handle).await });
        }
    }
}
