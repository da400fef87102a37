//! The report: criterion's estimates → `RESULTS.md` and `ratios.svg`.
//!
//! Reads `<criterion dir>/<group>/<implementation>/<size>/new/estimates.json` (the median's
//! point estimate, in nanoseconds) and `benchmark.json` beside it (throughput), the run's facts
//! ([`crate::meta`]), the machine (`/proc`), and crate versions from the workspace's
//! `Cargo.lock`. Groups it does not know (later benches) are reported after the known ones.

mod markdown;
mod svg;

use crate::meta::RunMeta;
use crate::Result;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use markdown::results_markdown;
pub use svg::ratios_svg;

/// The implementation every ratio is relative to.
pub const FLOOR: &str = "tokio_postgres";

/// One measured benchmark.
#[derive(Debug, Clone, PartialEq)]
pub struct Estimate {
    /// Median time per iteration, in nanoseconds.
    pub median_ns: f64,
    /// Elements per iteration, for throughput benchmarks.
    pub elements: Option<u64>,
}

impl Estimate {
    /// Elements per second at the median, for throughput benchmarks.
    pub fn elements_per_second(&self) -> Option<f64> {
        self.elements
            .map(|elements| elements as f64 / (self.median_ns * 1e-9))
    }
}

/// Every estimate found: group → implementation (function id) → parameter → estimate.
pub type Estimates = BTreeMap<String, BTreeMap<String, BTreeMap<String, Estimate>>>;

fn subdirectories(dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            found.push((
                entry.file_name().to_string_lossy().into_owned(),
                entry.path(),
            ));
        }
    }
    Ok(found)
}

fn read_estimate(dir: &Path) -> Result<Option<Estimate>> {
    let estimates = dir.join("new").join("estimates.json");
    if !estimates.exists() {
        return Ok(None);
    }
    let value: Value = serde_json::from_str(&std::fs::read_to_string(&estimates)?)?;
    let median_ns = value["median"]["point_estimate"]
        .as_f64()
        .ok_or_else(|| format!("{}: no median.point_estimate", estimates.display()))?;
    let benchmark = dir.join("new").join("benchmark.json");
    let elements = if benchmark.exists() {
        let value: Value = serde_json::from_str(&std::fs::read_to_string(&benchmark)?)?;
        value["throughput"]["Elements"].as_u64()
    } else {
        None
    };
    Ok(Some(Estimate {
        median_ns,
        elements,
    }))
}

/// Reads every `<group>/<function>/<parameter>/new/estimates.json` under `criterion_dir`.
///
/// # Errors
/// When a directory or an estimates file cannot be read or parsed.
pub fn read_estimates(criterion_dir: &Path) -> Result<Estimates> {
    let mut estimates = Estimates::new();
    for (group, group_dir) in subdirectories(criterion_dir)? {
        for (function, function_dir) in subdirectories(&group_dir)? {
            for (parameter, parameter_dir) in subdirectories(&function_dir)? {
                if let Some(estimate) = read_estimate(&parameter_dir)? {
                    estimates
                        .entry(group.clone())
                        .or_default()
                        .entry(function.clone())
                        .or_default()
                        .insert(parameter, estimate);
                }
            }
        }
    }
    Ok(estimates)
}

/// The machine the report runs on (the bench ran on the same one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Machine {
    /// Logical CPUs available (`nproc`).
    pub cpus: usize,
    /// `model name` from `/proc/cpuinfo`.
    pub cpu_model: String,
    /// `MemTotal` from `/proc/meminfo`, in GiB (rounded).
    pub memory: String,
}

impl Machine {
    /// Reads `/proc/cpuinfo` and `/proc/meminfo`; unknown fields read "unknown".
    pub fn current() -> Machine {
        let field = |file: &str, name: &str| {
            std::fs::read_to_string(file).ok().and_then(|text| {
                text.lines()
                    .find(|line| line.starts_with(name))
                    .and_then(|line| line.split_once(':'))
                    .map(|(_, value)| value.trim().to_owned())
            })
        };
        let memory = field("/proc/meminfo", "MemTotal")
            .and_then(|kib| kib.trim_end_matches("kB").trim().parse::<f64>().ok())
            .map(|kib| format!("{:.1} GiB", kib / (1024.0 * 1024.0)))
            .unwrap_or_else(|| "unknown".into());
        Machine {
            cpus: std::thread::available_parallelism().map_or(0, |n| n.get()),
            cpu_model: field("/proc/cpuinfo", "model name").unwrap_or_else(|| "unknown".into()),
            memory,
        }
    }
}

/// Crates whose versions the report lists, in this order.
pub const REPORTED_CRATES: &[&str] = &[
    "pgrepo",
    "tokio-postgres",
    "diesel",
    "diesel-async",
    "sqlx",
    "sea-orm",
    "sea-query",
    "deadpool",
    "tokio",
    "criterion",
];

/// `name → versions` of every package in a `Cargo.lock` (a crate can be locked twice).
pub fn locked_versions(lock: &str) -> BTreeMap<String, Vec<String>> {
    let mut versions: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut name: Option<String> = None;
    for line in lock.lines().map(str::trim) {
        if line == "[[package]]" {
            name = None;
        } else if let Some(value) = line.strip_prefix("name = ") {
            name = Some(value.trim_matches('"').to_owned());
        } else if let (Some(value), Some(package)) = (line.strip_prefix("version = "), &name) {
            versions
                .entry(package.clone())
                .or_default()
                .push(value.trim_matches('"').to_owned());
        }
    }
    versions
}

/// Everything `RESULTS.md` and the chart are made of.
#[derive(Debug, Clone)]
pub struct Report {
    /// The measurements.
    pub estimates: Estimates,
    /// The run's facts, if the bench recorded them.
    pub meta: Option<RunMeta>,
    /// The machine.
    pub machine: Machine,
    /// `(crate, versions)` for [`REPORTED_CRATES`] found in `Cargo.lock`.
    pub versions: Vec<(String, String)>,
    /// Where the estimates were read from.
    pub criterion_dir: PathBuf,
    /// Unix time the report was made.
    pub generated: u64,
    /// The table `interleave` wrote into `criterion_dir`, if it ran ([`INTERLEAVED_FILE`]).
    pub interleaved: Option<String>,
}

/// The file in criterion's directory where `src/bin/interleave.rs` leaves its table.
pub const INTERLEAVED_FILE: &str = "pgrepo-interleaved.md";

impl Report {
    /// Gathers the report from `criterion_dir` and the workspace's `Cargo.lock`.
    ///
    /// # Errors
    /// When criterion's output cannot be read.
    pub fn gather(criterion_dir: &Path, cargo_lock: &Path) -> Result<Report> {
        let lock = std::fs::read_to_string(cargo_lock).unwrap_or_default();
        let locked = locked_versions(&lock);
        let versions = REPORTED_CRATES
            .iter()
            .filter_map(|name| {
                locked
                    .get(*name)
                    .map(|versions| ((*name).to_owned(), versions.join(", ")))
            })
            .collect();
        Ok(Report {
            estimates: read_estimates(criterion_dir)?,
            meta: RunMeta::read(criterion_dir)?,
            machine: Machine::current(),
            versions,
            criterion_dir: criterion_dir.to_path_buf(),
            generated: crate::meta::unix_now(),
            interleaved: std::fs::read_to_string(criterion_dir.join(INTERLEAVED_FILE)).ok(),
        })
    }

    /// Implementations in report order: the registered ones first (the run's list, else the
    /// compiled-in list), then any others found, alphabetically.
    pub fn implementations(&self) -> Vec<String> {
        let mut names: Vec<String> = match &self.meta {
            Some(meta) if !meta.implementations.is_empty() => meta.implementations.clone(),
            _ => crate::impls::IMPLEMENTATION_NAMES
                .iter()
                .map(|name| (*name).to_owned())
                .collect(),
        };
        for (group, functions) in &self.estimates {
            if group == crate::floor_runtime::FLOOR_RUNTIME_GROUP {
                continue;
            }
            for function in functions.keys() {
                if !names.contains(function) {
                    names.push(function.clone());
                }
            }
        }
        names
    }

    /// Groups in report order: the suite's workloads, then any others alphabetically.
    pub fn groups(&self) -> Vec<String> {
        let mut groups: Vec<String> = crate::workloads::Workload::ALL
            .iter()
            .map(|workload| workload.name().to_owned())
            .filter(|name| self.estimates.contains_key(name))
            .collect();
        for group in self.estimates.keys() {
            if !groups.contains(group) && group != crate::floor_runtime::FLOOR_RUNTIME_GROUP {
                groups.push(group.clone());
            }
        }
        groups
    }

    /// Parameters (sizes) of a group, numerically where they are numbers.
    pub fn parameters(&self, group: &str) -> Vec<String> {
        let mut parameters: Vec<String> = self
            .estimates
            .get(group)
            .into_iter()
            .flat_map(|functions| functions.values())
            .flat_map(|by_parameter| by_parameter.keys().cloned())
            .collect();
        parameters.sort_by_key(|parameter| {
            (
                parameter.parse::<u64>().unwrap_or(u64::MAX),
                parameter.clone(),
            )
        });
        parameters.dedup();
        parameters
    }

    /// The estimate of one benchmark.
    pub fn estimate(&self, group: &str, function: &str, parameter: &str) -> Option<&Estimate> {
        self.estimates.get(group)?.get(function)?.get(parameter)
    }

    /// Median of `function` divided by the floor's, on the same group and parameter.
    pub fn ratio(&self, group: &str, function: &str, parameter: &str) -> Option<f64> {
        let floor = self.estimate(group, FLOOR, parameter)?;
        Some(self.estimate(group, function, parameter)?.median_ns / floor.median_ns)
    }
}

/// A duration in nanoseconds as criterion prints it: `812 ns`, `57.3 µs`, `4.21 ms`, `1.20 s`.
pub fn format_duration(ns: f64) -> String {
    let (value, unit) = if ns < 1e3 {
        (ns, "ns")
    } else if ns < 1e6 {
        (ns / 1e3, "µs")
    } else if ns < 1e9 {
        (ns / 1e6, "ms")
    } else {
        (ns / 1e9, "s")
    };
    if value < 10.0 {
        format!("{value:.2} {unit}")
    } else if value < 100.0 {
        format!("{value:.1} {unit}")
    } else {
        format!("{value:.0} {unit}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_lock_versions() {
        let lock = "version = 4\n\n[[package]]\nname = \"diesel\"\nversion = \"2.3.14\"\n\
                    source = \"registry+https://github.com/rust-lang/crates.io-index\"\n\n\
                    [[package]]\nname = \"tokio\"\nversion = \"1.54.1\"\n";
        let versions = locked_versions(lock);
        assert_eq!(versions["diesel"], ["2.3.14"]);
        assert_eq!(versions["tokio"], ["1.54.1"]);
        assert!(!versions.contains_key("version"));
    }

    #[test]
    fn formats_durations_like_criterion() {
        assert_eq!(format_duration(812.0), "812 ns");
        assert_eq!(format_duration(57_312.0), "57.3 µs");
        assert_eq!(format_duration(4_213_000.0), "4.21 ms");
        assert_eq!(format_duration(1.2e9), "1.20 s");
    }

    #[test]
    fn reads_criterion_layout() {
        let dir = std::env::temp_dir().join(format!("pgrepo-bench-report-{}", std::process::id()));
        let new = dir.join("get_by_id").join("sqlx").join("1").join("new");
        std::fs::create_dir_all(&new).unwrap();
        std::fs::write(
            new.join("estimates.json"),
            r#"{"median":{"point_estimate":50000.0,"standard_error":1.0}}"#,
        )
        .unwrap();
        std::fs::write(
            new.join("benchmark.json"),
            r#"{"throughput":{"Elements":64}}"#,
        )
        .unwrap();
        let estimates = read_estimates(&dir).unwrap();
        let estimate = &estimates["get_by_id"]["sqlx"]["1"];
        assert_eq!(estimate.median_ns, 50_000.0);
        assert_eq!(estimate.elements_per_second(), Some(64.0 / 50e-6));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
