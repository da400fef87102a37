//! A real PgBouncer in transaction mode in front of a throwaway server
//! ([`TestCluster::pgbouncer`]), so that what a pooler breaks is seen, not guessed: server
//! connections shared by many clients, each client's transaction on whichever is free.
//!
//! It runs from the system's `pgbouncer` binary (as the `postgres` user when this process is
//! root: PgBouncer refuses to run as root), daemonized with a pid file in a directory of its
//! own inside the cluster's work directory. Dropping the handle stops it and removes the
//! directory; if the test process dies first, the cluster's watchdog stops it (it kills every
//! `*/pgbouncer.pid` of the work directory before removing it), as it stops the server.

use std::net::TcpStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use super::local::{free_port, LocalServer};
use super::*;

/// Where `pgbouncer` is looked for after PATH (Debian installs it in `/usr/sbin`).
const PGBOUNCER_DIRS: &[&str] = &["/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"];
/// How long PgBouncer may take to accept connections after it was started.
const START_TIMEOUT: Duration = Duration::from_secs(15);

/// How [`TestCluster::pgbouncer_with`] configures a PgBouncer. Build it with
/// [`PgBouncerOptions::pool_size`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PgBouncerOptions {
    /// `default_pool_size`: server connections per database and user.
    pub pool_size: u32,
    /// Lines appended to the `[pgbouncer]` section after the kit's own, so they override them
    /// (e.g. `"pool_mode = session"`, `"ignore_startup_parameters = extra_float_digits,options"`).
    pub extra_conf: Vec<String>,
    /// Roles admitted besides the cluster's superuser. PgBouncer's trust authentication still
    /// admits only the users of its auth file, so an application role (an ordinary role a
    /// test connects as, e.g. one that row-level security filters) must be listed here; the
    /// role itself is created on the server by the test.
    pub users: Vec<String>,
}

impl PgBouncerOptions {
    /// Transaction mode with `pool_size` server connections per database.
    pub fn pool_size(pool_size: u32) -> Self {
        PgBouncerOptions {
            pool_size,
            extra_conf: Vec::new(),
            users: Vec::new(),
        }
    }

    /// Admits `role` too (see [`users`](Self::users)).
    #[must_use]
    pub fn user(mut self, role: impl Into<String>) -> Self {
        self.users.push(role.into());
        self
    }

    /// Appends one line to [`extra_conf`](Self::extra_conf).
    #[must_use]
    pub fn conf(mut self, line: impl Into<String>) -> Self {
        self.extra_conf.push(line.into());
        self
    }
}

/// A running PgBouncer in transaction mode in front of a [`TestCluster`]; every database of the
/// cluster is reachable through it (`[databases] * = …`). Stopped when dropped.
#[derive(Debug)]
pub struct PgBouncer {
    dir: PathBuf,
    port: u16,
    pool_size: u32,
}

impl TestCluster {
    /// Starts a PgBouncer in transaction mode (`default_pool_size = pool_size`, trust
    /// authentication, TCP on a free loopback port, no Unix socket) in front of this cluster.
    /// See [`TestCluster::pgbouncer_with`].
    ///
    /// # Errors
    /// As [`TestCluster::pgbouncer_with`].
    pub fn pgbouncer(&self, pool_size: u32) -> Result<PgBouncer, TestkitError> {
        self.pgbouncer_with(PgBouncerOptions::pool_size(pool_size))
    }

    /// Starts a PgBouncer in transaction mode in front of this cluster, as `options` says
    /// (blocking until it accepts connections). Connect through [`PgBouncer::url_for`].
    ///
    /// # Errors
    /// [`TestkitError::PgBouncerNotFound`] when no `pgbouncer` binary is installed;
    /// [`TestkitError::PgBouncerNeedsLocalCluster`] under `DATABASE_URL` or on a TLS-only
    /// cluster; [`TestkitError::CommandFailed`] (with the tail of its log) when it does not
    /// start; [`TestkitError::Io`] for file system errors.
    pub fn pgbouncer_with(&self, options: PgBouncerOptions) -> Result<PgBouncer, TestkitError> {
        let local = match &self.server {
            Server::Local(local) if local.tls.is_none() => local,
            _ => return Err(TestkitError::PgBouncerNeedsLocalCluster),
        };
        let binary = find_pgbouncer().ok_or(TestkitError::PgBouncerNotFound)?;
        start(local, &binary, &options)
    }
}

impl PgBouncer {
    /// URL of `database` through PgBouncer, as the cluster's superuser.
    pub fn url_for(&self, database: &str) -> String {
        self.url_as(SUPERUSER, database)
    }

    /// URL of `database` through PgBouncer, as `user` (the superuser or one of
    /// [`PgBouncerOptions::users`]; trust authentication, no password).
    pub fn url_as(&self, user: &str, database: &str) -> String {
        format!(
            "postgres://{}@127.0.0.1:{}/{}",
            percent_encode(user),
            self.port,
            percent_encode(database)
        )
    }

    /// URL of PgBouncer's admin console (`SHOW POOLS`, `SHOW SERVERS`; simple protocol only).
    pub fn admin_url(&self) -> String {
        self.url_for("pgbouncer")
    }

    /// The port it listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `default_pool_size`: how many server connections each database gets at most.
    pub fn pool_size(&self) -> u32 {
        self.pool_size
    }

    /// Its log file.
    pub fn log_path(&self) -> PathBuf {
        self.dir.join("pgbouncer.log")
    }
}

impl Drop for PgBouncer {
    fn drop(&mut self) {
        stop(&self.dir);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn start(
    local: &LocalServer,
    binary: &Path,
    options: &PgBouncerOptions,
) -> Result<PgBouncer, TestkitError> {
    static COUNTER: AtomicU64 = AtomicU64::new(1);
    let dir = local.workdir.path().join(format!(
        "pgbouncer-{}",
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir(&dir).map_err(io_error(format!("creating {}", dir.display())))?;
    local.tools.give_to_server_user(&dir)?;
    // From here on, `bouncer`'s Drop stops whatever was started and removes the directory.
    let mut bouncer = PgBouncer {
        dir,
        port: 0,
        pool_size: options.pool_size,
    };
    // `"name" ""` per user (a `"` in a name doubled): trust authentication, no password.
    let users: String = std::iter::once(SUPERUSER)
        .chain(options.users.iter().map(String::as_str))
        .map(|user| format!("\"{}\" \"\"\n", user.replace('"', "\"\"")))
        .collect();
    write(&bouncer.dir.join("users.txt"), &users)?;
    let ini = bouncer.dir.join("pgbouncer.ini");
    let mut attempt = 1;
    loop {
        let port = free_port()?;
        write(
            &ini,
            &config(&bouncer.dir, local.primary.port, port, options),
        )?;
        let log = bouncer.log_path();
        let log_start = std::fs::metadata(&log).map_or(0, |m| m.len());
        let mut command = local.tools.command(binary);
        command.arg("-d").arg(&ini);
        local.run(&mut command, Some(&log))?;
        match wait_until_listening(port, &bouncer.dir) {
            Ok(()) => {
                bouncer.port = port;
                tracing::info!(port, server_port = local.primary.port, "started PgBouncer");
                return Ok(bouncer);
            }
            Err(error) if attempt < 5 && log_says_port_taken(&log, log_start) => {
                tracing::debug!(port, %error, "PgBouncer's port taken meanwhile; retrying");
                stop(&bouncer.dir);
            }
            Err(error) => return Err(error),
        }
        attempt += 1;
    }
}

fn config(dir: &Path, server_port: u16, port: u16, options: &PgBouncerOptions) -> String {
    let dir = dir.display();
    let mut ini = format!(
        "[databases]\n\
         * = host=127.0.0.1 port={server_port}\n\
         \n\
         [pgbouncer]\n\
         listen_addr = 127.0.0.1\n\
         listen_port = {port}\n\
         unix_socket_dir =\n\
         auth_type = trust\n\
         auth_file = {dir}/users.txt\n\
         admin_users = {SUPERUSER}\n\
         pool_mode = transaction\n\
         default_pool_size = {pool_size}\n\
         min_pool_size = 0\n\
         reserve_pool_size = 0\n\
         max_client_conn = 500\n\
         ignore_startup_parameters = extra_float_digits\n\
         logfile = {dir}/pgbouncer.log\n\
         pidfile = {dir}/pgbouncer.pid\n",
        pool_size = options.pool_size,
    );
    for line in &options.extra_conf {
        ini.push_str(line);
        ini.push('\n');
    }
    ini
}

/// Waits until the port accepts TCP connections, or the daemon is gone (its log says why).
fn wait_until_listening(port: u16, dir: &Path) -> Result<(), TestkitError> {
    let started = Instant::now();
    loop {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        let running = pid(dir).is_some_and(is_alive);
        let waited = started.elapsed();
        if (!running && waited > Duration::from_secs(2)) || waited > START_TIMEOUT {
            let log = std::fs::read_to_string(dir.join("pgbouncer.log")).unwrap_or_default();
            return Err(TestkitError::CommandFailed {
                command: format!("pgbouncer -d {}/pgbouncer.ini", dir.display()),
                status: format!("not accepting connections on 127.0.0.1:{port} after {waited:?}"),
                output: tail(&log),
            });
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn log_says_port_taken(log: &Path, from: u64) -> bool {
    let text = std::fs::read(log).unwrap_or_default();
    let new = String::from_utf8_lossy(text.get(from as usize..).unwrap_or_default());
    new.contains("Address already in use")
}

/// Stops the PgBouncer whose pid file is in `dir` (SIGTERM: immediate shutdown) and waits for
/// it to exit. Also what [`LocalServer`]'s cleanup does for each one in its work directory.
pub(super) fn stop(dir: &Path) {
    let Some(pid) = pid(dir) else { return };
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    let started = Instant::now();
    while is_alive(pid) && started.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = std::fs::remove_file(dir.join("pgbouncer.pid"));
}

fn pid(dir: &Path) -> Option<u32> {
    std::fs::read_to_string(dir.join("pgbouncer.pid"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

fn is_alive(pid: u32) -> bool {
    // Not a zombie child: the daemon's parent is init, not this process.
    Path::new(&format!("/proc/{pid}")).exists()
}

fn find_pgbouncer() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default();
    on_path
        .into_iter()
        .chain(PGBOUNCER_DIRS.iter().map(PathBuf::from))
        .map(|dir| dir.join("pgbouncer"))
        .find(|path| path.is_file())
}

fn write(path: &Path, text: &str) -> Result<(), TestkitError> {
    std::fs::write(path, text).map_err(io_error(format!("writing {}", path.display())))
}
