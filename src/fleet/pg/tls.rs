//! TLS to PostgreSQL. Every connection offers TLS (rustls, ring), as the
//! connection string's `sslmode` asks: `disable` never, `prefer` (the
//! default) when the server supports it, `require` always. Whenever TLS is
//! used the server's certificate is verified against the system's roots and
//! `[service] database_ca` (a PEM file, for a private or cloud provider's
//! CA) and must name the host connected to: a certificate that does not
//! verify is an error, never a silent fall back to an unverified or plain
//! connection.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use tokio_postgres_rustls::MakeRustlsConnect;

/// Why the TLS setup failed (before any connection is tried).
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("service.database_ca {}: cannot read its certificates", path.display())]
    CaFile {
        path: PathBuf,
        #[source]
        source: rustls::pki_types::pem::Error,
    },
    #[error("service.database_ca {}: no certificate in it (expected PEM)", path.display())]
    NoCertificate { path: PathBuf },
    #[error("service.database_ca {}: a certificate in it is not a usable CA", path.display())]
    BadCertificate {
        path: PathBuf,
        #[source]
        source: rustls::Error,
    },
    #[error("cannot set up TLS for postgresql")]
    Config(#[source] rustls::Error),
}

/// The connector for `tokio-postgres`: the system's roots, plus `ca` when
/// given.
pub fn connector(ca: Option<&Path>) -> Result<MakeRustlsConnect, TlsError> {
    let mut roots = RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for e in &native.errors {
        tracing::debug!("a system certificate could not be loaded: {e}");
    }
    let (added, ignored) = roots.add_parsable_certificates(native.certs);
    tracing::debug!(added, ignored, "system roots for postgresql TLS");
    if let Some(path) = ca {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
            .and_then(|it| it.collect())
            .map_err(|source| TlsError::CaFile {
                path: path.to_path_buf(),
                source,
            })?;
        if certs.is_empty() {
            return Err(TlsError::NoCertificate {
                path: path.to_path_buf(),
            });
        }
        for c in certs {
            roots.add(c).map_err(|source| TlsError::BadCertificate {
                path: path.to_path_buf(),
                source,
            })?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Config)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ca_file_must_hold_certificates() {
        let dir = std::env::temp_dir().join(format!("swe-sleep-pg-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "no certificate here\n").expect("write");
        let err = connector(Some(&empty)).err().expect("refused");
        assert!(err.to_string().contains("no certificate in it"), "{err}");
        let missing = dir.join("missing.pem");
        let err = connector(Some(&missing)).err().expect("refused");
        assert!(
            err.to_string().contains("cannot read its certificates"),
            "{err}"
        );
        assert!(connector(None).is_ok(), "the system's roots alone are fine");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
