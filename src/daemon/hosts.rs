//! Which `Host` headers the API answers: the listen address, `localhost`
//! on the listen port, and the names configured in `daemon.allowed_hosts`.
//! A web page that points a name of its own at 127.0.0.1 (DNS rebinding)
//! sends that name, and is refused.

use std::net::{IpAddr, SocketAddr};

/// The accepted `Host` values.
#[derive(Debug, Clone)]
pub struct AllowedHosts {
    port: u16,
    /// Names accepted on the listen port (lower case; IPv6 in brackets).
    names: Vec<String>,
    /// `host:port` pairs accepted exactly.
    exact: Vec<String>,
    /// Names accepted on any port.
    any_port: Vec<String>,
}

impl AllowedHosts {
    /// For a daemon bound to `listen`, with the configured extra names.
    pub fn new(listen: SocketAddr, extra: &[String]) -> AllowedHosts {
        let mut names = vec!["localhost".to_string()];
        let ip = listen.ip();
        if ip.is_unspecified() {
            // Local clients (the CLI among them) come in over loopback.
            names.push("127.0.0.1".into());
            names.push("[::1]".into());
        } else {
            names.push(bracketed(ip));
        }
        let mut exact = Vec::new();
        let mut any_port = Vec::new();
        for e in extra {
            let e = e.trim().to_ascii_lowercase();
            if e.is_empty() {
                continue;
            }
            match split(&e) {
                (_, Some(_)) => exact.push(e),
                (name, None) => any_port.push(name.to_string()),
            }
        }
        AllowedHosts {
            port: listen.port(),
            names,
            exact,
            any_port,
        }
    }

    /// Whether a request naming `host` is answered.
    pub fn allows(&self, host: &str) -> bool {
        let host = host.trim().to_ascii_lowercase();
        let (name, port) = split(&host);
        if self.any_port.iter().any(|n| n == name) || self.exact.contains(&host) {
            return true;
        }
        let port_ok = match port {
            Some(p) => p == self.port,
            None => self.port == 80,
        };
        port_ok && self.names.iter().any(|n| n == name)
    }

    /// The names to put in an error message.
    pub fn describe(&self) -> String {
        let mut all: Vec<String> = self
            .names
            .iter()
            .map(|n| format!("{n}:{}", self.port))
            .collect();
        all.extend(self.exact.iter().cloned());
        all.extend(self.any_port.iter().cloned());
        all.join(", ")
    }
}

fn bracketed(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    }
}

/// (name, port) of `host` or `host:port`; IPv6 literals keep their
/// brackets. A port that is not a number leaves the whole text as the name.
fn split(host: &str) -> (&str, Option<u16>) {
    let colon = if host.starts_with('[') {
        host.find(']')
            .and_then(|end| host[end + 1..].starts_with(':').then_some(end + 1))
    } else {
        host.rfind(':')
    };
    match colon.and_then(|i| Some((&host[..i], host[i + 1..].parse().ok()?))) {
        Some((name, port)) => (name, Some(port)),
        None => (host, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_listen_accepts_its_address_and_localhost_only() {
        let h = AllowedHosts::new("127.0.0.1:7878".parse().unwrap(), &[]);
        for ok in ["127.0.0.1:7878", "localhost:7878", "LOCALHOST:7878"] {
            assert!(h.allows(ok), "{ok}");
        }
        for bad in [
            "evil.example:7878",
            "127.0.0.1:7879",
            "localhost",
            "127.0.0.1",
            "",
            "[::1]:7878",
            "localhost.evil.example:7878",
        ] {
            assert!(!h.allows(bad), "{bad}");
        }
    }

    #[test]
    fn ipv6_unspecified_and_configured_names() {
        let h = AllowedHosts::new("[::1]:9000".parse().unwrap(), &[]);
        assert!(h.allows("[::1]:9000"));
        assert!(!h.allows("[::1]:9001"));
        let h = AllowedHosts::new(
            "0.0.0.0:7878".parse().unwrap(),
            &["Box.lan".into(), "proxy.example:443".into()],
        );
        for ok in [
            "127.0.0.1:7878",
            "[::1]:7878",
            "localhost:7878",
            "box.lan",
            "box.lan:7878",
            "proxy.example:443",
        ] {
            assert!(h.allows(ok), "{ok}");
        }
        for bad in ["0.0.0.0:7878", "proxy.example", "other.lan:7878"] {
            assert!(!h.allows(bad), "{bad}");
        }
        let h = AllowedHosts::new("127.0.0.1:80".parse().unwrap(), &[]);
        assert!(h.allows("localhost"));
    }
}
