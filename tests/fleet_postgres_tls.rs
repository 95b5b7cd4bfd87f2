//! TLS to PostgreSQL: a throwaway server that accepts only TLS, with a
//! certificate from a test CA. The service connects when it trusts that
//! CA (`[service] database_ca`), over TLS as the server reports; it fails
//! with a clear error, never falling back to plain or unverified, when it
//! does not trust it, when the certificate names another host, or when the
//! connection string turns TLS off.

mod support;

use std::path::Path;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use swe_sleep::fleet::pg;

use support::postgres::Postgres;
use support::temp_dir;

/// A CA's certificate (PEM), and a server certificate and key it signed
/// for `names`.
fn certificates(names: &[&str]) -> (String, String, String) {
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "swe-sleep test CA");
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().expect("CA key")).expect("CA");
    let server = CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
        .expect("server params");
    let key = KeyPair::generate().expect("server key");
    let cert = server.signed_by(&key, &ca).expect("server certificate");
    (ca.pem(), cert.pem(), key.serialize_pem())
}

fn connect(url: &str, ca: Option<&Path>) -> Result<deadpool_postgres::Pool, String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    rt.block_on(pg::connect(url, 2, ca)).map_err(|e| {
        let mut chain = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            chain.push_str(&format!(": {s}"));
            source = s.source();
        }
        chain
    })
}

/// Whether the pool's connection is encrypted, as the server sees it.
fn encrypted(pool: &deadpool_postgres::Pool) -> bool {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    rt.block_on(async {
        let client = pool.get().await.expect("a connection");
        client
            .query_one(
                "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                &[],
            )
            .await
            .expect("pg_stat_ssl")
            .get::<_, bool>(0)
    })
}

#[test]
fn the_service_reaches_postgresql_over_verified_tls_only() {
    let (ca, cert, key) = certificates(&["127.0.0.1", "localhost"]);
    let Some(server) = Postgres::start_tls_or_skip("fleet_postgres_tls", &cert, &key) else {
        return;
    };
    let dir = temp_dir("pg-tls-");
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, &ca).expect("write the CA");
    let base = server.url();

    // Trusted CA: TLS is used, by default (sslmode prefer) and when required.
    for url in [base.clone(), format!("{base} sslmode=require")] {
        let pool = connect(&url, Some(&ca_file)).unwrap_or_else(|e| panic!("{url}: {e}"));
        assert!(encrypted(&pool), "{url}: the server sees TLS");
    }

    // The CA not trusted: an error that says so, no plain fall back.
    let err = connect(&format!("{base} sslmode=require"), None).expect_err("untrusted");
    assert!(err.contains("cannot reach postgresql"), "{err}");
    assert!(
        err.to_lowercase().contains("certificate"),
        "the error names the certificate: {err}"
    );
    let err = connect(&base, None).expect_err("prefer does not mean unverified");
    assert!(err.to_lowercase().contains("certificate"), "{err}");

    // TLS turned off: this server refuses it, and the error says why.
    let err = connect(&format!("{base} sslmode=disable"), Some(&ca_file)).expect_err("plain");
    assert!(err.contains("cannot reach postgresql"), "{err}");
    assert!(
        err.contains("no pg_hba.conf entry") || err.contains("rejects connection"),
        "{err}"
    );

    // A password in the connection string never reaches the error.
    let err = connect(
        &format!("{base} password=hunter2-secret sslmode=require"),
        None,
    )
    .expect_err("untrusted");
    assert!(!err.contains("hunter2-secret"), "{err}");
}

#[test]
fn a_certificate_for_another_host_is_refused() {
    let (ca, cert, key) = certificates(&["db.example.org"]);
    let Some(server) = Postgres::start_tls_or_skip("fleet_postgres_tls", &cert, &key) else {
        return;
    };
    let dir = temp_dir("pg-tls-host-");
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, &ca).expect("write the CA");
    let err = connect(&format!("{} sslmode=require", server.url()), Some(&ca_file))
        .expect_err("the certificate names another host");
    assert!(err.to_lowercase().contains("certificate"), "{err}");
}
