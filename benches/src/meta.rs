//! Facts about a run that criterion does not record, kept beside its output for the report:
//! PostgreSQL's version, the runtime setup, CPU pinning, quick or full mode, when the run
//! started and ended.
//!
//! Also owns where criterion's output is: [`criterion_dir`] follows criterion's own rule, so the
//! bench and the report agree whether the target directory is `<workspace>/target` or
//! `CARGO_TARGET_DIR`.

use crate::Result;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// File name of the run's facts, inside the criterion directory.
pub const META_FILE: &str = "pgrepo-bench-meta.json";

/// The workspace root (the parent of this package), where `Cargo.lock` and `target/` are.
pub fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// Where criterion writes: `$CRITERION_HOME`, else `$CARGO_TARGET_DIR/criterion`, else
/// `<workspace>/target/criterion` (a relative `CARGO_TARGET_DIR` is taken from the workspace
/// root, where cargo is run).
pub fn criterion_dir() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return PathBuf::from(home);
    }
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() {
                dir
            } else {
                workspace_root().join(dir)
            }
        }
        None => workspace_root().join("target"),
    };
    target.join("criterion")
}

/// Seconds since the Unix epoch, now.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or(0)
}

/// `YYYY-MM-DD HH:MM UTC` for a Unix time.
pub fn format_utc(unix: u64) -> String {
    let (days, seconds) = (unix / 86_400, unix % 86_400);
    // Howard Hinnant's civil_from_days.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        seconds / 3_600,
        seconds % 3_600 / 60
    )
}

/// What the report needs to know about the run.
#[derive(Debug, Clone, PartialEq)]
pub struct RunMeta {
    /// `SELECT version()` of the benchmarked server.
    pub postgres_version: String,
    /// The runtime setup every async implementation used (`current_thread`/`multi_thread`).
    pub runtime: String,
    /// Whether `PGREPO_BENCH_QUICK` was set.
    pub quick: bool,
    /// How client and server were pinned to CPUs ([`crate::affinity`]).
    pub pinning: String,
    /// The registered implementations, in order.
    pub implementations: Vec<String>,
    /// Unix time the run started.
    pub started: u64,
    /// Unix time the run ended (`None` while running or if it was interrupted).
    pub finished: Option<u64>,
}

impl RunMeta {
    /// Writes the facts into `dir` (created if needed).
    ///
    /// # Errors
    /// When the file cannot be written.
    pub fn write(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir)?;
        let value = json!({
            "postgres_version": self.postgres_version,
            "runtime": self.runtime,
            "quick": self.quick,
            "pinning": self.pinning,
            "implementations": self.implementations,
            "started": self.started,
            "finished": self.finished,
        });
        std::fs::write(dir.join(META_FILE), serde_json::to_string_pretty(&value)?)?;
        Ok(())
    }

    /// Reads the facts from `dir`, if a run left them there.
    ///
    /// # Errors
    /// When the file exists but cannot be read or parsed.
    pub fn read(dir: &Path) -> Result<Option<RunMeta>> {
        let path = dir.join(META_FILE);
        if !path.exists() {
            return Ok(None);
        }
        let value: Value = serde_json::from_str(&std::fs::read_to_string(&path)?)?;
        let text = |key: &str| value[key].as_str().unwrap_or_default().to_owned();
        Ok(Some(RunMeta {
            postgres_version: text("postgres_version"),
            runtime: text("runtime"),
            quick: value["quick"].as_bool().unwrap_or(false),
            pinning: text("pinning"),
            implementations: value["implementations"]
                .as_array()
                .map(|names| {
                    names
                        .iter()
                        .filter_map(|name| name.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
            started: value["started"].as_u64().unwrap_or(0),
            finished: value["finished"].as_u64(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc_dates() {
        assert_eq!(format_utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(format_utc(951_782_400), "2000-02-29 00:00 UTC");
        assert_eq!(format_utc(1_767_225_599), "2025-12-31 23:59 UTC");
    }

    #[test]
    fn meta_round_trips() {
        let dir = std::env::temp_dir().join(format!("pgrepo-bench-meta-{}", std::process::id()));
        let meta = RunMeta {
            postgres_version: "PostgreSQL 15.18".into(),
            runtime: "current_thread".into(),
            quick: true,
            pinning: "client on CPU 0, PostgreSQL on CPU 1 (`taskset`)".into(),
            implementations: vec!["tokio_postgres".into(), "diesel".into()],
            started: 10,
            finished: Some(20),
        };
        meta.write(&dir).unwrap();
        assert_eq!(RunMeta::read(&dir).unwrap(), Some(meta));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
