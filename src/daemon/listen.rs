//! Where the daemon listens (`--listen`): loopback unless an access token
//! protects the API, and, when the address is taken, an error that says by
//! whom (a swe-sleep daemon, with its pid, or another program) and which
//! flag to change.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpListener;

use super::DaemonError;

/// A non-loopback address is refused without a token (checked before the
/// lock is taken).
pub fn check_exposure(listen: SocketAddr, has_token: bool) -> Result<(), DaemonError> {
    if listen.ip().is_loopback() || has_token {
        Ok(())
    } else {
        Err(DaemonError::Exposed { addr: listen })
    }
}

/// Binds `listen`.
pub async fn bind(listen: SocketAddr) -> Result<TcpListener, DaemonError> {
    match TcpListener::bind(listen).await {
        Ok(listener) => Ok(listener),
        Err(source) => {
            let holder = if source.kind() == std::io::ErrorKind::AddrInUse {
                let pid = tokio::task::spawn_blocking(move || {
                    super::client::identify(listen, Duration::from_secs(2))
                })
                .await
                .ok()
                .flatten();
                Some(match pid {
                    Some(pid) => format!(
                        "the swe-sleep daemon with pid {pid} already listens there; stop it, or"
                    ),
                    None => "another program listens there;".to_string(),
                })
            } else {
                None
            };
            Err(DaemonError::Bind {
                addr: listen,
                holder: holder.map_or_else(String::new, |h| {
                    format!(
                        ": {h} choose another address with --listen ADDR (port 0 picks a free one)"
                    )
                }),
                source,
            })
        }
    }
}
