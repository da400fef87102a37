//! Servers this process starts from the installed binaries: `initdb`, `pg_ctl` (as the
//! `postgres` user when run as root), a free loopback port, and a watchdog that cleans up
//! after the test process.

use super::*;

/// How often a start is retried because another process took the chosen port meanwhile.
const PORT_ATTEMPTS: usize = 5;
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
/// primary today; replicas added later are covered too) and every PgBouncer started in front of
/// it (`pgbouncer-N/pgbouncer.pid`), and removes the directory. Everything is
/// silent: after an owned cluster's `Drop`, there is nothing left to do.
const WATCHDOG_SCRIPT: &str = r#"trap '' HUP INT
owner=$1; workdir=$2; shift 2
while kill -0 "$owner" 2>/dev/null; do sleep 1; done
for pidfile in "$workdir"/*/postmaster.pid; do
  if [ -f "$pidfile" ]; then "$@" -D "${pidfile%/postmaster.pid}" stop -m immediate -w; fi
done >/dev/null 2>&1
for pidfile in "$workdir"/*/pgbouncer.pid; do
  if [ -f "$pidfile" ]; then kill -TERM "$(cat "$pidfile")"; fi
done >/dev/null 2>&1
rm -rf "$workdir" >/dev/null 2>&1
"#;

/// A server this process started: its directory, how to run its tools, the watchdog. The work
/// directory holds one subdirectory per server (`primary/` and its `primary.log`); replicas and
/// a pooler can be added beside them and are covered by the same cleanup.
#[derive(Debug)]
pub(super) struct LocalServer {
    pub(super) workdir: tempfile::TempDir,
    pub(super) tools: Tools,
    pub(super) primary: Node,
    pub(super) watchdog: Option<Child>,
    /// The certificates of a TLS-only server ([`ClusterOptions::tls_only`]).
    pub(super) tls: Option<super::TlsFiles>,
}

/// One PostgreSQL server process in the work directory.
#[derive(Debug)]
pub(super) struct Node {
    pub(super) data_dir: PathBuf,
    pub(super) log_path: PathBuf,
    pub(super) port: u16,
}

impl LocalServer {
    pub(super) fn start(options: &ClusterOptions) -> Result<LocalServer, TestkitError> {
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
            tls: None,
        };
        // From here on, an error drops `server`, whose Drop cleans up what was made so far.
        server.tools.give_to_server_user(server.workdir.path())?;
        server.watchdog = Some(server.spawn_watchdog()?);
        server.init_primary(&options.extra_conf, &options.hba)?;
        if options.tls_only {
            server.tls = Some(server.make_tls_only()?);
        }
        server.primary.port = server.start_primary()?;
        tracing::info!(
            port = server.primary.port,
            dir = %server.workdir.path().display(),
            "started throwaway PostgreSQL"
        );
        Ok(server)
    }

    /// What the kit itself connects with: TCP, or the Unix socket on a TLS-only server.
    pub(super) fn admin_url_for(&self, database: &str) -> String {
        if self.tls.is_some() {
            self.socket_url_for(database)
        } else {
            self.url_for(database)
        }
    }

    pub(super) fn url_for(&self, database: &str) -> String {
        format!(
            "postgres://{SUPERUSER}@127.0.0.1:{}/{}",
            self.primary.port,
            percent_encode(database)
        )
    }

    pub(super) fn spawn_watchdog(&self) -> Result<Child, TestkitError> {
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

    pub(super) fn init_primary(
        &self,
        extra_conf: &[String],
        hba_first: &[String],
    ) -> Result<(), TestkitError> {
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
        if !hba_first.is_empty() {
            // The first matching line wins: the caller's go before initdb's `trust` lines.
            let hba = node.data_dir.join("pg_hba.conf");
            let initdb_lines = std::fs::read_to_string(&hba)
                .map_err(io_error(format!("reading {}", hba.display())))?;
            let mut text = String::from("# Added by pgrepo::testkit (ClusterOptions::hba).\n");
            for line in hba_first {
                text.push_str(line);
                text.push('\n');
            }
            text.push_str(&initdb_lines);
            std::fs::write(&hba, text).map_err(io_error(format!("writing {}", hba.display())))?;
        }
        append(
            &node.data_dir.join("pg_hba.conf"),
            "\n# Added by pgrepo::testkit: streaming replicas.\nhost replication all 127.0.0.1/32 trust\n",
        )
    }

    /// Starts the primary on a free port; retries with another port if one got taken between
    /// choosing it and the server binding it. Returns the port.
    pub(super) fn start_primary(&self) -> Result<u16, TestkitError> {
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

    pub(super) fn run(
        &self,
        command: &mut Command,
        log: Option<&Path>,
    ) -> Result<Output, TestkitError> {
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

    /// Restarts the primary on its port (`pg_ctl restart -m fast`): every session is
    /// terminated, the server is down for a moment, then accepts connections again.
    pub(super) fn restart_primary(&self) -> Result<(), TestkitError> {
        let node = &self.primary;
        let mut pg_ctl = self.tools.command(&self.tools.pg_ctl);
        pg_ctl
            .arg("-D")
            .arg(&node.data_dir)
            .arg("-l")
            .arg(&node.log_path)
            .args(["-w", "-t", "60", "restart", "-m", "fast"]);
        self.run(&mut pg_ctl, Some(&node.log_path)).map(drop)
    }

    /// Stops every server and PgBouncer in the work directory (mirrors the watchdog).
    pub(super) fn stop_all(&self) {
        let Ok(entries) = std::fs::read_dir(self.workdir.path()) else {
            return;
        };
        for data_dir in entries.flatten().map(|entry| entry.path()) {
            if data_dir.join("pgbouncer.pid").is_file() {
                super::pgbouncer::stop(&data_dir);
                continue;
            }
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

pub(super) fn free_port() -> Result<u16, TestkitError> {
    std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .map_err(io_error("finding a free port on 127.0.0.1"))
}

/// The server binaries and how to run them: directly, or through `runuser` as `postgres` when
/// this process is root (initdb and postgres refuse to run as root).
#[derive(Debug, Clone)]
pub(super) struct Tools {
    initdb: PathBuf,
    pg_ctl: PathBuf,
    runuser: Option<PathBuf>,
}

impl Tools {
    pub(super) fn find(bin_dir: Option<&Path>) -> Result<Tools, TestkitError> {
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

    pub(super) fn argv(&self, program: &Path) -> Vec<OsString> {
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

    pub(super) fn command(&self, program: &Path) -> Command {
        let argv = self.argv(program);
        let mut command = Command::new(&argv[0]);
        command.args(&argv[1..]);
        command
    }

    /// When running as root, the server user must own the work directory.
    pub(super) fn give_to_server_user(&self, dir: &Path) -> Result<(), TestkitError> {
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

/// Whether the installation whose binaries are in `bin_dir` ships extension `name`: its control
/// file under `../share/postgresql/extension` (the layout of source builds and the PyPI wheels)
/// or `../share/extension`.
pub(super) fn has_extension(bin_dir: &Path, name: &str) -> bool {
    let Some(root) = bin_dir.parent() else {
        return false;
    };
    ["share/postgresql/extension", "share/extension"]
        .iter()
        .any(|dir| root.join(dir).join(format!("{name}.control")).is_file())
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
