//! Throwaway PostgreSQL servers for tests, examples and benches (feature `testkit`).
//!
//! This module owns a test server's whole life: it finds the server binaries installed on the
//! machine (`initdb`, `pg_ctl`), creates a cluster in a temporary directory on a free loopback
//! port with `pg_stat_statements` preloaded, hands out one fresh database per test, and cleans up
//! even when the test process dies: a watchdog process stops the server and removes its directory
//! once the process is gone. It does not install PostgreSQL; it leaves pooling and everything
//! else to the code under test.
//!
//! When the environment variable `DATABASE_URL` is set, [`TestCluster::shared`] uses that server
//! instead of starting one.
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
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, NoTls};

/// The superuser `initdb` creates; trust authentication, so no password.
const SUPERUSER: &str = "postgres";
/// How often a start is retried because another process took the chosen port meanwhile.
const PORT_ATTEMPTS: usize = 5;
/// How many lines of a command's output and of the server log an error shows.
const LOG_TAIL_LINES: usize = 30;
/// PostgreSQL truncates longer identifiers (NAMEDATALEN - 1).
const MAX_IDENTIFIER_LEN: usize = 63;
/// Where Debian/Ubuntu install the versioned server binaries (`<dir>/<version>/bin`).
const DEBIAN_LIB_DIR: &str = "/usr/lib/postgresql";

/// Settings appended to `postgresql.conf` (before [`ClusterOptions::extra_conf`] and the port).
/// Durability is off because the data is thrown away; WAL and replication settings let a
/// streaming replica be attached; `%d` in the log prefix lets a test filter the shared server's
/// log by its own database.
const BASE_CONF: &[&str] = &[
    "listen_addresses = '127.0.0.1'",
    "wal_level = replica",
    "max_wal_senders = 10",
    "max_replication_slots = 10",
    "hot_standby = on",
    "shared_preload_libraries = 'pg_stat_statements'",
    "pg_stat_statements.max = 10000",
    "fsync = off",
    "synchronous_commit = off",
    "full_page_writes = off",
    "max_connections = 300",
    "log_line_prefix = '%m [%p] %d '",
];

/// Runs detached from the test process. Arguments: the test process's pid, the work directory,
/// then the command that runs `pg_ctl` (with `runuser` in front when root). It waits for the
/// process to exit, then stops every server whose data directory lies in the work directory (the
/// primary today; replicas added later are covered too) and removes the directory. Everything is
/// silent: after an owned cluster's `Drop`, there is nothing left to do.
const WATCHDOG_SCRIPT: &str = r#"trap '' HUP INT
owner=$1; workdir=$2; shift 2
while kill -0 "$owner" 2>/dev/null; do sleep 1; done
for pidfile in "$workdir"/*/postmaster.pid; do
  if [ -f "$pidfile" ]; then "$@" -D "${pidfile%/postmaster.pid}" stop -m immediate -w; fi
done >/dev/null 2>&1
rm -rf "$workdir" >/dev/null 2>&1
"#;

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
}

impl ClusterOptions {
    /// Appends one line to [`extra_conf`](Self::extra_conf).
    #[must_use]
    pub fn conf(mut self, line: impl Into<String>) -> Self {
        self.extra_conf.push(line.into());
        self
    }

    /// Sets [`bin_dir`](Self::bin_dir).
    #[must_use]
    pub fn bin_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.bin_dir = Some(dir.into());
        self
    }
}

/// A running throwaway PostgreSQL cluster (or the server named by `DATABASE_URL`).
#[derive(Debug)]
pub struct TestCluster {
    server: Server,
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
        match std::env::var("DATABASE_URL") {
            Ok(url) if !url.trim().is_empty() => Ok(TestCluster {
                server: Server::External(ExternalServer::parse(url.trim())?),
            }),
            _ => TestCluster::start(ClusterOptions::default()),
        }
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
    pub fn start(options: ClusterOptions) -> Result<TestCluster, TestkitError> {
        Ok(TestCluster {
            server: Server::Local(LocalServer::start(&options)?),
        })
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
    /// `pg_stat_statements` installed in it. Tests isolate themselves by using one each.
    /// The database is not dropped afterwards: the throwaway server goes away as a whole.
    ///
    /// Must be called within a tokio runtime (the connections are spawned on it).
    ///
    /// # Errors
    ///
    /// [`TestkitError::Postgres`] if connecting, `CREATE DATABASE` or `CREATE EXTENSION` fails.
    pub async fn create_database(&self, prefix: &str) -> Result<TestDatabase, TestkitError> {
        let address = self.address();
        let admin = connect(&self.url(), &address).await?;
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
            name,
            address,
        };
        let client = database.connect().await?;
        match client
            .batch_execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            .await
        {
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
                    server: database.address,
                    source,
                })
            }
        }
        Ok(database)
    }
}

/// A database created by [`TestCluster::create_database`].
#[derive(Debug, Clone)]
pub struct TestDatabase {
    name: String,
    url: String,
    address: String,
}

impl TestDatabase {
    /// Connection URL of this database (as the cluster's superuser).
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Opens a connection to this database, driven by a task spawned on the current tokio
    /// runtime.
    ///
    /// # Errors
    ///
    /// [`TestkitError::Postgres`] if the connection cannot be established.
    pub async fn connect(&self) -> Result<Client, TestkitError> {
        connect(&self.url, &self.address).await
    }
}

async fn connect(url: &str, address: &str) -> Result<Client, TestkitError> {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .map_err(|source| TestkitError::Postgres {
            action: "connecting".to_owned(),
            server: address.to_owned(),
            source,
        })?;
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::debug!(%error, "testkit connection ended with an error");
        }
    });
    Ok(client)
}

fn unique_database_name(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(1);
    let suffix = format!(
        "_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    let mut base: String = prefix
        .chars()
        .map(|c| match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9' | '_') => c,
            _ => '_',
        })
        .collect();
    if base.is_empty() {
        base.push_str("test");
    }
    base.truncate(MAX_IDENTIFIER_LEN - suffix.len());
    base + &suffix
}

/// A server this process started: its directory, how to run its tools, the watchdog. The work
/// directory holds one subdirectory per server (`primary/` and its `primary.log`); replicas and
/// a pooler can be added beside them and are covered by the same cleanup.
#[derive(Debug)]
struct LocalServer {
    workdir: tempfile::TempDir,
    tools: Tools,
    primary: Node,
    watchdog: Option<Child>,
}

/// One PostgreSQL server process in the work directory.
#[derive(Debug)]
struct Node {
    data_dir: PathBuf,
    log_path: PathBuf,
    port: u16,
}

impl LocalServer {
    fn start(options: &ClusterOptions) -> Result<LocalServer, TestkitError> {
        let tools = Tools::find(options.bin_dir.as_deref())?;
        let workdir = tempfile::Builder::new()
            .prefix("pgrepo-testkit-")
            .tempdir()
            .map_err(io_error("creating the cluster's temporary directory"))?;
        let mut server = LocalServer {
            primary: Node {
                data_dir: workdir.path().join("primary"),
                log_path: workdir.path().join("primary.log"),
                port: 0,
            },
            workdir,
            tools,
            watchdog: None,
        };
        // From here on, an error drops `server`, whose Drop cleans up what was made so far.
        server.tools.give_to_server_user(server.workdir.path())?;
        server.watchdog = Some(server.spawn_watchdog()?);
        server.init_primary(&options.extra_conf)?;
        server.primary.port = server.start_primary()?;
        tracing::info!(
            port = server.primary.port,
            dir = %server.workdir.path().display(),
            "started throwaway PostgreSQL"
        );
        Ok(server)
    }

    fn url_for(&self, database: &str) -> String {
        format!(
            "postgres://{SUPERUSER}@127.0.0.1:{}/{}",
            self.primary.port,
            percent_encode(database)
        )
    }

    fn spawn_watchdog(&self) -> Result<Child, TestkitError> {
        Command::new("sh")
            .arg("-c")
            .arg(WATCHDOG_SCRIPT)
            .arg("pgrepo-testkit-watchdog")
            .arg(std::process::id().to_string())
            .arg(self.workdir.path())
            .args(self.tools.argv(&self.tools.pg_ctl))
            .current_dir("/")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own process group: a Ctrl-C aimed at the test run must not kill the watchdog.
            .process_group(0)
            .spawn()
            .map_err(io_error("spawning the cleanup watchdog (sh)"))
    }

    fn init_primary(&self, extra_conf: &[String]) -> Result<(), TestkitError> {
        let node = &self.primary;
        let mut initdb = self.tools.command(&self.tools.initdb);
        initdb
            .arg("-D")
            .arg(&node.data_dir)
            .args(["-A", "trust", "-U", SUPERUSER, "-E", "UTF8"])
            .args(["--locale=C", "--no-sync"]);
        self.run(&mut initdb, None)?;

        let socket_dir = self.workdir.path().to_string_lossy().replace('\'', "''");
        let mut conf = String::from("\n# Added by pgrepo::testkit (throwaway test server).\n");
        conf.push_str(&format!("unix_socket_directories = '{socket_dir}'\n"));
        for line in BASE_CONF
            .iter()
            .copied()
            .chain(extra_conf.iter().map(String::as_str))
        {
            conf.push_str(line);
            conf.push('\n');
        }
        append(&node.data_dir.join("postgresql.conf"), &conf)?;
        append(
            &node.data_dir.join("pg_hba.conf"),
            "\n# Added by pgrepo::testkit: streaming replicas.\nhost replication all 127.0.0.1/32 trust\n",
        )
    }

    /// Starts the primary on a free port; retries with another port if one got taken between
    /// choosing it and the server binding it. Returns the port.
    fn start_primary(&self) -> Result<u16, TestkitError> {
        let node = &self.primary;
        let mut attempt = 1;
        loop {
            let port = free_port()?;
            // The last setting in postgresql.conf wins, so a retry simply appends a new port.
            append(
                &node.data_dir.join("postgresql.conf"),
                &format!("port = {port}\n"),
            )?;
            let log_start = std::fs::metadata(&node.log_path).map_or(0, |m| m.len());
            let mut pg_ctl = self.tools.command(&self.tools.pg_ctl);
            pg_ctl
                .arg("-D")
                .arg(&node.data_dir)
                .arg("-l")
                .arg(&node.log_path)
                .args(["-w", "-t", "60", "start"]);
            match self.run(&mut pg_ctl, Some(&node.log_path)) {
                Ok(_) => return Ok(port),
                Err(error)
                    if attempt < PORT_ATTEMPTS && port_was_taken(&node.log_path, log_start) =>
                {
                    tracing::debug!(port, %error, "port taken meanwhile; retrying with another");
                }
                Err(error) => return Err(error),
            }
            attempt += 1;
        }
    }

    fn run(&self, command: &mut Command, log: Option<&Path>) -> Result<Output, TestkitError> {
        let description = format!("{command:?}");
        let output = command
            .current_dir(self.workdir.path())
            .stdin(Stdio::null())
            .output()
            .map_err(io_error(format!("running {description}")))?;
        if output.status.success() {
            return Ok(output);
        }
        let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&output.stderr));
        let mut report = tail(&text);
        if let Some(log) = log {
            let log_text = std::fs::read_to_string(log).unwrap_or_default();
            report.push_str(&format!("\n--- {} (last lines) ---\n", log.display()));
            report.push_str(&tail(&log_text));
        }
        Err(TestkitError::CommandFailed {
            command: description,
            status: output.status.to_string(),
            output: report,
        })
    }

    /// Stops every server in the work directory (mirrors the watchdog).
    fn stop_all(&self) {
        let Ok(entries) = std::fs::read_dir(self.workdir.path()) else {
            return;
        };
        for data_dir in entries.flatten().map(|entry| entry.path()) {
            if !data_dir.join("postmaster.pid").is_file() {
                continue;
            }
            let mut pg_ctl = self.tools.command(&self.tools.pg_ctl);
            pg_ctl
                .arg("-D")
                .arg(&data_dir)
                .args(["stop", "-m", "immediate", "-w"]);
            if let Err(error) = self.run(&mut pg_ctl, None) {
                tracing::warn!(%error, "could not stop the throwaway PostgreSQL");
            }
        }
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        self.stop_all();
        if let Some(mut watchdog) = self.watchdog.take() {
            let _ = watchdog.kill();
            let _ = watchdog.wait();
        }
        // `workdir` (a TempDir) removes the directory when the fields are dropped next.
    }
}

fn port_was_taken(log: &Path, from: u64) -> bool {
    let Ok(text) = std::fs::read(log) else {
        return false;
    };
    let new = String::from_utf8_lossy(text.get(from as usize..).unwrap_or_default());
    new.contains("Address already in use") || new.contains("could not bind")
}

fn free_port() -> Result<u16, TestkitError> {
    std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .map_err(io_error("finding a free port on 127.0.0.1"))
}

/// The server binaries and how to run them: directly, or through `runuser` as `postgres` when
/// this process is root (initdb and postgres refuse to run as root).
#[derive(Debug, Clone)]
struct Tools {
    initdb: PathBuf,
    pg_ctl: PathBuf,
    runuser: Option<PathBuf>,
}

impl Tools {
    fn find(bin_dir: Option<&Path>) -> Result<Tools, TestkitError> {
        let (initdb, pg_ctl) = match bin_dir {
            Some(dir) => binaries_in(dir).ok_or_else(|| TestkitError::BinariesNotFoundIn {
                dir: dir.to_path_buf(),
            })?,
            None => search_binaries().ok_or(TestkitError::BinariesNotFound)?,
        };
        let runuser = if is_root() {
            if !command_succeeds(Command::new("id").args(["-u", SUPERUSER])) {
                return Err(TestkitError::NoPostgresUser);
            }
            let known = ["/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser"];
            Some(
                known
                    .iter()
                    .map(PathBuf::from)
                    .find(|path| path.is_file())
                    .unwrap_or_else(|| PathBuf::from("runuser")),
            )
        } else {
            None
        };
        Ok(Tools {
            initdb,
            pg_ctl,
            runuser,
        })
    }

    fn argv(&self, program: &Path) -> Vec<OsString> {
        let mut argv = Vec::new();
        if let Some(runuser) = &self.runuser {
            argv.extend([
                runuser.as_os_str(),
                "-u".as_ref(),
                SUPERUSER.as_ref(),
                "--".as_ref(),
            ]);
        }
        argv.push(program.as_os_str());
        argv.into_iter().map(OsString::from).collect()
    }

    fn command(&self, program: &Path) -> Command {
        let argv = self.argv(program);
        let mut command = Command::new(&argv[0]);
        command.args(&argv[1..]);
        command
    }

    /// When running as root, the server user must own the work directory.
    fn give_to_server_user(&self, dir: &Path) -> Result<(), TestkitError> {
        if self.runuser.is_none() {
            return Ok(());
        }
        let mut chown = Command::new("chown");
        chown.arg(SUPERUSER).arg(dir);
        let output = chown
            .output()
            .map_err(io_error("running chown on the temporary directory"))?;
        if output.status.success() {
            return Ok(());
        }
        Err(TestkitError::CommandFailed {
            command: format!("{chown:?}"),
            status: output.status.to_string(),
            output: tail(&String::from_utf8_lossy(&output.stderr)),
        })
    }
}

fn binaries_in(dir: &Path) -> Option<(PathBuf, PathBuf)> {
    let initdb = dir.join("initdb");
    let pg_ctl = dir.join("pg_ctl");
    (initdb.is_file() && pg_ctl.is_file()).then_some((initdb, pg_ctl))
}

fn search_binaries() -> Option<(PathBuf, PathBuf)> {
    let on_path = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default();
    if let Some(found) = on_path.iter().find_map(|dir| binaries_in(dir)) {
        return Some(found);
    }
    let mut versions: Vec<(Vec<u32>, PathBuf)> = std::fs::read_dir(DEBIAN_LIB_DIR)
        .ok()?
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            let version = name
                .split('.')
                .map(str::parse)
                .collect::<Result<Vec<u32>, _>>()
                .ok()?;
            Some((version, entry.path().join("bin")))
        })
        .collect();
    versions.sort();
    versions.iter().rev().find_map(|(_, dir)| binaries_in(dir))
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|output| output.status.success() && output.stdout.trim_ascii() == b"0")
}

fn command_succeeds(command: &mut Command) -> bool {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// The server named by `DATABASE_URL`, split so that the database can be swapped.
#[derive(Debug)]
struct ExternalServer {
    url: String,
    /// `scheme://userinfo@host:port`, without the path.
    base: String,
    /// `?...` or empty.
    query: String,
    /// `host:port`, without credentials, for messages.
    address: String,
    port: u16,
}

impl ExternalServer {
    fn parse(url: &str) -> Result<ExternalServer, TestkitError> {
        let invalid = |reason| TestkitError::InvalidDatabaseUrl { reason };
        let rest = url
            .strip_prefix("postgres://")
            .or_else(|| url.strip_prefix("postgresql://"))
            .ok_or(invalid(
                "it does not start with postgres:// or postgresql://",
            ))?;
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let base = url[..url.len() - rest.len() + authority_end].to_owned();
        let after = &rest[authority_end..];
        let query = after.find('?').map_or("", |i| &after[i..]).to_owned();
        let hosts = rest[..authority_end]
            .rsplit_once('@')
            .map_or(&rest[..authority_end], |(_, hosts)| hosts);
        // With several hosts (`h1:5432,h2:5433`) the first is the one tests talk to.
        let host_port = hosts.split(',').next().unwrap_or_default();
        let (host, port) = match host_port.strip_prefix('[') {
            Some(bracketed) => {
                let (host, after) = bracketed
                    .split_once(']')
                    .ok_or(invalid("an IPv6 host lacks its closing ']'"))?;
                (host, after.strip_prefix(':'))
            }
            None => match host_port.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (host_port, None),
            },
        };
        let port = match port {
            None | Some("") => 5432,
            Some(port) => port
                .parse()
                .map_err(|_| invalid("the port is not a number"))?,
        };
        let host = if host.is_empty() { "localhost" } else { host };
        Ok(ExternalServer {
            url: url.to_owned(),
            base,
            query,
            address: format!("{host}:{port}"),
            port,
        })
    }

    fn url_for(&self, database: &str) -> String {
        format!("{}/{}{}", self.base, percent_encode(database), self.query)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_names_are_sanitised_unique_and_short() {
        let a = unique_database_name("Orders-Spec ü!");
        let b = unique_database_name("Orders-Spec ü!");
        assert!(a.starts_with("orders_spec___"), "{a}");
        assert_ne!(a, b);
        assert!(a.contains(&std::process::id().to_string()));
        let long = unique_database_name(&"x".repeat(200));
        assert_eq!(long.len(), MAX_IDENTIFIER_LEN);
        assert!(unique_database_name("").starts_with("test_"));
    }

    #[test]
    fn database_url_is_split_and_rebuilt() {
        let server = ExternalServer::parse("postgres://u:p@db.example:6543/app?sslmode=disable")
            .expect("valid URL");
        assert_eq!(server.port, 6543);
        assert_eq!(server.address, "db.example:6543");
        assert_eq!(
            server.url_for("t_1"),
            "postgres://u:p@db.example:6543/t_1?sslmode=disable"
        );
        let bare = ExternalServer::parse("postgresql://localhost").expect("valid URL");
        assert_eq!(bare.port, 5432);
        assert_eq!(bare.url_for("a b"), "postgresql://localhost/a%20b");
        let ipv6 = ExternalServer::parse("postgres://[::1]:5433/x").expect("valid URL");
        assert_eq!(ipv6.port, 5433);
        assert!(ExternalServer::parse("mysql://x/y").is_err());
        assert!(ExternalServer::parse("postgres://h:port/y").is_err());
    }
}
