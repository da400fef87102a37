//! Criterion entry point of pgrepo's ORM benchmarks (`cargo bench -p pgrepo-benches --bench orm`).
//!
//! Needs a PostgreSQL: `DATABASE_URL`, or pgrepo's test kit once it is enabled (see
//! `src/server.rs`). `PGREPO_BENCH_QUICK=1` runs the short settings of `src/config.rs`.
//! Criterion's usual arguments work, e.g. `-- get_by_id` to run one group.

use pgrepo_benches::workloads::Suite;

fn main() {
    let mut criterion = pgrepo_benches::config::criterion();
    let suite = match Suite::start() {
        Ok(suite) => suite,
        Err(error) => {
            eprintln!("pgrepo-benches: {error}");
            std::process::exit(1);
        }
    };
    suite.run(&mut criterion);
    if let Err(error) = suite.finish() {
        eprintln!("pgrepo-benches: recording the end of the run: {error}");
    }
    criterion.final_summary();
}
