//! Writes `benches/RESULTS.md` and `benches/ratios.svg` from the last criterion run.
//!
//! `cargo run -p pgrepo-benches --release --bin report [-- --criterion-dir DIR] [--out DIR]`.
//! The criterion directory defaults to criterion's own choice: `$CRITERION_HOME`, else
//! `$CARGO_TARGET_DIR/criterion`, else `<workspace>/target/criterion`.

use pgrepo_benches::meta::{criterion_dir, workspace_root};
use pgrepo_benches::report::{ratios_svg, results_markdown, Report};
use std::path::PathBuf;

fn main() {
    if let Err(error) = run() {
        eprintln!("report: {error}");
        std::process::exit(1);
    }
}

fn run() -> pgrepo_benches::Result<()> {
    let mut criterion = criterion_dir();
    let mut out = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--criterion-dir" => {
                criterion = args.next().ok_or("--criterion-dir needs a path")?.into()
            }
            "--out" => out = args.next().ok_or("--out needs a path")?.into(),
            other => return Err(format!("unknown argument {other:?}").into()),
        }
    }
    if !criterion.is_dir() {
        return Err(format!(
            "no criterion output in {} (run the benches first, with the same CARGO_TARGET_DIR)",
            criterion.display()
        )
        .into());
    }
    let report = Report::gather(&criterion, &workspace_root().join("Cargo.lock"))?;
    let results = out.join("RESULTS.md");
    let chart = out.join("ratios.svg");
    std::fs::write(&results, results_markdown(&report))?;
    std::fs::write(&chart, ratios_svg(&report))?;
    eprintln!(
        "report: read {}; wrote {} and {}",
        criterion.display(),
        results.display(),
        chart.display()
    );
    Ok(())
}
