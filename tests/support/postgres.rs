//! A throwaway PostgreSQL server for a test: `initdb` into a temporary
//! directory, `pg_ctl start` on a free loopback port with its socket in
//! that directory, trust authentication for the `postgres` user, stopped
//! (immediately) and removed when dropped. As root, the server runs as the
//! `postgres` user (PostgreSQL refuses root).
//!
//! [`Postgres::start_tls`] starts one that accepts only TLS connections,
//! with the certificate and key given.
//!
//! [`Postgres::start_or_skip`] returns `None` only when no server can be
//! started here, after printing why on stderr, loudly; with
//! `REQUIRE_POSTGRES_TESTS=1` (CI, which installs PostgreSQL) it
//! panics instead.

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct Postgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    as_postgres: bool,
    pub port: u16,
}

/// The directory holding `initdb` and `pg_ctl`: on PATH, or Debian's
/// `/usr/lib/postgresql/<version>/bin` (newest first).
fn bin_dir() -> Option<PathBuf> {
    if let Some(paths) = std::env::var_os("PATH") {
        for p in std::env::split_paths(&paths) {
            if p.join("initdb").is_file() && p.join("pg_ctl").is_file() {
                return Some(p);
            }
        }
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|b| b.join("initdb").is_file())
        .collect();
    versions.sort_by_key(|p| {
        p.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    versions.pop()
}

impl Postgres {
    /// A running server, or `None` (after saying why) where none can start.
    pub fn start_or_skip(test: &str) -> Option<Postgres> {
        or_skip(test, Postgres::start())
    }

    /// [`Postgres::start_tls`], or `None` (after saying why) where no
    /// server can start.
    pub fn start_tls_or_skip(test: &str, cert: &str, key: &str) -> Option<Postgres> {
        or_skip(test, Postgres::start_tls(cert, key))
    }

    pub fn start() -> Result<Postgres, String> {
        Postgres::start_with(None)
    }

    /// A server that refuses connections without TLS; `cert` and `key` are
    /// PEM (the certificate must name 127.0.0.1).
    pub fn start_tls(cert: &str, key: &str) -> Result<Postgres, String> {
        Postgres::start_with(Some((cert, key)))
    }

    fn start_with(tls: Option<(&str, &str)>) -> Result<Postgres, String> {
        let bin =
            bin_dir().ok_or("initdb and pg_ctl are not on PATH nor under /usr/lib/postgresql")?;
        let as_postgres = is_root();
        let dir = super::temp_dir("postgres-");
        if as_postgres {
            let ok = Command::new("chown")
                .args(["-R", "postgres:"])
                .arg(dir.path())
                .status()
                .map_err(|e| format!("chown: {e}"))?
                .success();
            if !ok {
                return Err(
                    "running as root, and the postgres user cannot own a temporary directory"
                        .into(),
                );
            }
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("no free port: {e}"))?
            .port();
        let pg = Postgres {
            dir,
            bin,
            as_postgres,
            port,
        };
        let data = pg.dir.path().join("data");
        pg.run(
            "initdb",
            &[
                "-D",
                p(&data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        )?;
        if let Some((cert, key)) = tls {
            pg.serve_tls_only(&data, cert, key)?;
        }
        let options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
            p(pg.dir.path())
        );
        let log = pg.dir.path().join("log");
        pg.run(
            "pg_ctl",
            &[
                "-D",
                p(&data),
                "-o",
                &options,
                "-l",
                p(&log),
                "-w",
                "-t",
                "60",
                "start",
            ],
        )
        .map_err(|e| {
            let log = std::fs::read_to_string(&log).unwrap_or_default();
            format!("{e}\n{log}")
        })?;
        Ok(pg)
    }

    /// A connection string for `tokio-postgres` (and `psql`).
    pub fn url(&self) -> String {
        format!(
            "host=127.0.0.1 port={} user=postgres dbname=postgres",
            self.port
        )
    }

    /// `ssl = on` with `cert` and `key`, and an `pg_hba.conf` that lets
    /// loopback in over TLS only.
    fn serve_tls_only(&self, data: &Path, cert: &str, key: &str) -> Result<(), String> {
        let write = |name: &str, text: &str| {
            std::fs::write(data.join(name), text).map_err(|e| format!("writing {name}: {e}"))
        };
        write("server.crt", cert)?;
        write("server.key", key)?;
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(
                data.join("server.key"),
                std::fs::Permissions::from_mode(0o600),
            )
            .map_err(|e| format!("server.key: {e}"))?;
        }
        let mut conf = std::fs::read_to_string(data.join("postgresql.conf"))
            .map_err(|e| format!("postgresql.conf: {e}"))?;
        conf.push_str("\nssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n");
        write("postgresql.conf", &conf)?;
        write(
            "pg_hba.conf",
            "local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostnossl all all 127.0.0.1/32 reject\n",
        )?;
        if self.as_postgres {
            let ok = Command::new("chown")
                .args(["-R", "postgres:"])
                .arg(data)
                .status()
                .map_err(|e| format!("chown: {e}"))?
                .success();
            if !ok {
                return Err("cannot give the TLS files to the postgres user".into());
            }
        }
        Ok(())
    }

    fn run(&self, tool: &str, args: &[&str]) -> Result<(), String> {
        let exe = self.bin.join(tool);
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        let out = cmd
            .args(args)
            .env("LC_ALL", "C")
            .output()
            .map_err(|e| format!("cannot run {}: {e}", exe.display()))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{tool} failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    }
}

/// A blocking client for a test's own view of the database, on a runtime
/// of its own (a stand-in's slow answers on another runtime never delay
/// it).
pub struct Client {
    rt: tokio::runtime::Runtime,
    client: tokio_postgres::Client,
}

impl Client {
    pub fn connect(url: &str) -> Client {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let client = rt.block_on(async {
            let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
                .await
                .expect("connect");
            tokio::spawn(conn);
            client
        });
        Client { rt, client }
    }

    pub fn query(&self, sql: &str) -> Vec<tokio_postgres::Row> {
        self.rt
            .block_on(self.client.query(sql, &[]))
            .expect("query")
    }

    pub fn batch_execute(&self, sql: &str) {
        self.rt
            .block_on(self.client.batch_execute(sql))
            .expect("statements")
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let data = self.dir.path().join("data");
        let _ = self.run("pg_ctl", &["-D", p(&data), "-m", "immediate", "-w", "stop"]);
    }
}

fn or_skip(test: &str, started: Result<Postgres, String>) -> Option<Postgres> {
    match started {
        Ok(pg) => Some(pg),
        Err(why) => {
            if std::env::var_os("REQUIRE_POSTGRES_TESTS").is_some_and(|v| v == "1") {
                panic!("{test}: PostgreSQL is required here but cannot start: {why}");
            }
            eprintln!(
                "\n!! SKIPPED {test}: no PostgreSQL server can be started here: {why}\n!! (install Debian's postgresql package, or put initdb and pg_ctl on PATH)\n"
            );
            None
        }
    }
}

fn p(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 temporary path")
}

/// Whether this process runs as root (PostgreSQL then needs another user).
fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
}
