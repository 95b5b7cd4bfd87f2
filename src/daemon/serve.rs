//! The HTTP/1.1 server loop, with the limits a daemon beside a checkout
//! needs: a cap on open connections (one more is answered 503 at once, and
//! past a small reserve for those answers it is closed unanswered), a
//! deadline for a request's header (a slow or silent client is cut off,
//! idle keep-alive connections too), and a graceful stop: no new
//! connections, answers in flight finished.
//!
//! The body deadline and size caps are applied per route, before the
//! handlers ([`super::body`]).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};

use super::refusal::{Refusal, Refusals};

/// Connections beyond the cap that are still answered (503) rather than
/// closed unanswered.
const REFUSAL_RESERVE: usize = 16;

/// How much the server takes from its clients.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Connections served at once.
    pub max_connections: usize,
    /// Time for a request's header to arrive (and for an idle
    /// keep-alive connection to send its next one).
    pub header_timeout: Duration,
    /// Time for a request's body to arrive.
    pub body_timeout: Duration,
    /// Webhook deliveries received at once, and how long another waits.
    pub webhook_concurrency: usize,
    pub webhook_wait: Duration,
}

impl Default for Limits {
    /// 64 connections, 10 s for a header, 30 s for a body, 4 deliveries at
    /// once and 10 s of waiting (GitHub gives up on a delivery after 10 s).
    fn default() -> Limits {
        Limits {
            max_connections: 64,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            webhook_concurrency: 4,
            webhook_wait: Duration::from_secs(10),
        }
    }
}

/// Serves `app` on `listener` until `stop` turns true, then waits for the
/// open connections to finish their answers.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    refusals: Arc<Refusals>,
    mut stop: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let max = limits.max_connections.max(1);
    let served = Arc::new(Semaphore::new(max));
    let reserve = Arc::new(Semaphore::new(REFUSAL_RESERVE));
    let busy = Router::new().fallback(|| async {
        Refusal::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "connections",
            "too many open connections to this daemon; try again",
        )
    });
    loop {
        let accepted = tokio::select! {
            _ = stop.wait_for(|s| *s) => break,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _)) => {
                // Answers are written whole: send them without Nagle's delay
                // (a keep-alive client's next request would wait on it).
                if let Err(e) = stream.set_nodelay(true) {
                    tracing::debug!("cannot set TCP_NODELAY: {e}");
                }
                stream
            }
            Err(e) => {
                // Out of file descriptors, most likely: wait a little.
                tracing::warn!("cannot accept a connection: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let (app, permit, keep_alive) = if let Ok(p) = served.clone().try_acquire_owned() {
            (app.clone(), p, true)
        } else if let Ok(p) = reserve.clone().try_acquire_owned() {
            refusals.count("connections", 503);
            (busy.clone(), p, false)
        } else {
            refusals.count("connections", 0);
            continue;
        };
        tokio::spawn(connection(
            stream,
            app,
            limits.header_timeout,
            keep_alive,
            refusals.clone(),
            stop.clone(),
            permit,
        ));
    }
    drop(listener);
    // Every connection holds a permit until it ends.
    let _ = served.acquire_many(max as u32).await;
    let _ = reserve.acquire_many(REFUSAL_RESERVE as u32).await;
    Ok(())
}

/// One connection, until the client closes it, a deadline passes, or the
/// server stops (after the answer in flight).
async fn connection(
    stream: TcpStream,
    app: Router,
    header_timeout: Duration,
    keep_alive: bool,
    refusals: Arc<Refusals>,
    mut stop: watch::Receiver<bool>,
    _permit: OwnedSemaphorePermit,
) {
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .keep_alive(keep_alive);
    let conn = builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app));
    let mut conn = std::pin::pin!(conn);
    let stopping = async move {
        let _ = stop.wait_for(|s| *s).await;
    };
    let result = tokio::select! {
        r = conn.as_mut() => r,
        () = stopping => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        if e.is_timeout() {
            refusals.count("header_timeout", 408);
        } else {
            tracing::debug!("connection: {e}");
        }
    }
}
