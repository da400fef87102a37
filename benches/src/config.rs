//! Criterion settings: the full run, or a quick one (`PGREPO_BENCH_QUICK=1`).

use criterion::Criterion;
use std::time::Duration;

/// Warm-up per benchmark in quick mode.
pub const QUICK_WARM_UP: Duration = Duration::from_millis(500);
/// Measurement per benchmark in quick mode.
pub const QUICK_MEASUREMENT: Duration = Duration::from_secs(2);
/// Samples per benchmark in quick mode (criterion's minimum).
pub const QUICK_SAMPLES: usize = 10;

/// Whether `PGREPO_BENCH_QUICK` asks for a quick run (`1`, `true` or `yes`).
pub fn quick_mode() -> bool {
    std::env::var("PGREPO_BENCH_QUICK")
        .map(|value| matches!(value.to_ascii_lowercase().as_str(), "1" | "true" | "yes"))
        .unwrap_or(false)
}

/// Whether criterion will measure (rather than test, list or profile): criterion's own rule,
/// `--bench` present and none of `--test`, `--list`, `--profile-time`. Only a measuring run
/// records its facts for the report, so a smoke test never overwrites a real run's.
pub fn measuring() -> bool {
    let args: Vec<String> = std::env::args().collect();
    let has = |flag: &str| {
        args.iter()
            .any(|arg| arg == flag || arg.starts_with(&format!("{flag}=")))
    };
    has("--bench") && !has("--test") && !has("--list") && !has("--profile-time")
}

/// Criterion for this run: criterion's defaults (3 s warm-up, 5 s measurement, 100 samples),
/// or the quick settings; command-line options (`--sample-size`, …) still override both.
pub fn criterion() -> Criterion {
    let criterion = Criterion::default().without_plots();
    let criterion = if quick_mode() {
        criterion
            .warm_up_time(QUICK_WARM_UP)
            .measurement_time(QUICK_MEASUREMENT)
            .sample_size(QUICK_SAMPLES)
            .nresamples(20_000)
    } else {
        criterion
    };
    criterion.configure_from_args()
}
