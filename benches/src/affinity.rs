//! CPU pinning: the benchmark client on one half of the CPUs, a local PostgreSQL on the other.
//!
//! Why: on this kind of (virtual, 2-CPU) machine a loopback round trip costs about 22 µs when
//! the client and the server backend happen to run on the same CPU and about 75 µs when they
//! run on different ones (waking an idle virtual CPU is slow). Unpinned, the scheduler picks per
//! connection, so one implementation's connection lands on the fast placement and the next
//! one's on the slow one, and their ratio measures the scheduler. Pinned apart, every
//! implementation gets the same placement — one core for the client (all its threads), one for
//! the server, as with a database on another host — and runs are repeatable.
//!
//! Uses `taskset` (util-linux) rather than unsafe `sched_setaffinity`. `PGREPO_BENCH_PIN=0`
//! turns it off. A server that is not a local process (remote `DATABASE_URL`) is left alone.

use std::path::Path;
use std::process::Command;

/// What was pinned, for the log and the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pinning {
    /// The client's CPU list (`taskset` syntax), if pinned.
    pub client: Option<String>,
    /// The server's CPU list, if its processes were pinned.
    pub server: Option<String>,
    /// The server's postmaster, to unpin at the end.
    postmaster: Option<u32>,
    /// How many CPUs the process could use before pinning.
    cpus: usize,
}

impl Pinning {
    /// One line for RESULTS.md.
    pub fn describe(&self) -> String {
        match (&self.client, &self.server) {
            (Some(client), Some(server)) => {
                format!("client on CPU {client}, PostgreSQL on CPU {server} (`taskset`)")
            }
            (Some(client), None) => format!("client on CPU {client}; server not pinned"),
            _ => "none".into(),
        }
    }
}

fn enabled() -> bool {
    !matches!(
        std::env::var("PGREPO_BENCH_PIN").as_deref(),
        Ok("0" | "false" | "no" | "off")
    )
}

fn taskset(args: &[&str]) -> bool {
    Command::new("taskset")
        .args(args)
        .output()
        .is_ok_and(|output| output.status.success())
}

/// The parent pid of `pid`, from `/proc/<pid>/stat` (the field after the `(comm)` field).
fn parent(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_comm = &stat[stat.rfind(')')? + 1..];
    after_comm.split_whitespace().nth(1)?.parse().ok()
}

/// `pid` and every process whose parent it is.
fn with_children(pid: u32) -> Vec<u32> {
    let mut pids = vec![pid];
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            if let Some(child) = entry.file_name().to_str().and_then(|n| n.parse().ok()) {
                if parent(child) == Some(pid) {
                    pids.push(child);
                }
            }
        }
    }
    pids
}

/// `taskset` syntax for CPUs `first..=last`: `3` or `0-3`.
fn cpu_list(first: usize, last: usize) -> String {
    if first == last {
        first.to_string()
    } else {
        format!("{first}-{last}")
    }
}

fn set(pids: &[u32], cpus: &str) {
    for pid in pids {
        taskset(&["-a", "-p", "-c", cpus, &pid.to_string()]);
    }
}

/// Pins this process (all its threads, and every thread it starts later) to the first half of
/// the CPUs. Call before any runtime or worker thread exists.
pub fn pin_client() -> Pinning {
    // Counted now: once pinned, `available_parallelism` sees only the client's CPUs.
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut pinning = Pinning {
        client: None,
        server: None,
        postmaster: None,
        cpus,
    };
    if !enabled() || cpus < 2 {
        return pinning;
    }
    let client = cpu_list(0, cpus / 2 - 1);
    if taskset(&["-a", "-p", "-c", &client, &std::process::id().to_string()]) {
        pinning.client = Some(client);
    }
    pinning
}

impl Pinning {
    /// Pins the local server whose backend serves `backend_pid` (its postmaster, so every later
    /// backend, and its current children) to the CPUs the client does not use.
    pub fn pin_server(&mut self, backend_pid: i32) {
        let Some(client) = &self.client else { return };
        let Ok(backend) = u32::try_from(backend_pid) else {
            return;
        };
        let is_postgres = |pid: u32| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| c.trim() == "postgres")
        };
        if !Path::new(&format!("/proc/{backend}")).exists() || !is_postgres(backend) {
            return; // not a local server
        }
        let Some(postmaster) = parent(backend).filter(|&pid| is_postgres(pid)) else {
            return;
        };
        let first_server_cpu = client
            .rsplit('-')
            .next()
            .and_then(|last| last.parse::<usize>().ok())
            .map_or(1, |last| last + 1);
        let server = cpu_list(first_server_cpu, self.cpus - 1);
        set(&with_children(postmaster), &server);
        self.server = Some(server);
        self.postmaster = Some(postmaster);
    }

    /// Gives the server back every CPU (it may outlive the run).
    pub fn unpin_server(&self) {
        if let Some(postmaster) = self.postmaster {
            set(&with_children(postmaster), &cpu_list(0, self.cpus - 1));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_cpu_lists() {
        assert_eq!(cpu_list(1, 1), "1");
        assert_eq!(cpu_list(0, 3), "0-3");
    }

    #[test]
    fn reads_own_parent() {
        let me = std::process::id();
        assert!(parent(me).is_some_and(|ppid| ppid != me));
    }
}
