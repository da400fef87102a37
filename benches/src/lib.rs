//! Shared code of pgrepo's benchmark suite.
//!
//! The suite compares pgrepo with hand-written tokio-postgres (the floor), Diesel, diesel-async,
//! SQLx and SeaORM on the workloads of Diesel's own benchmark suite (`diesel_bench`), against one
//! PostgreSQL and with the same data for every implementation. `benches/orm.rs` is the criterion
//! entry point; `src/bin/report.rs` turns criterion's output into `RESULTS.md` and `ratios.svg`.
//!
//! Layout, so that later benches (keyset pagination, loaders) can join:
//!
//! | module | owns |
//! | --- | --- |
//! | [`server`] | where the PostgreSQL comes from (`DATABASE_URL` or pgrepo's test kit) |
//! | [`schema`] | the tables, and seeding them before each workload |
//! | [`affinity`] | pinning the client and a local server to separate CPUs |
//! | [`runtime`] | the tokio runtime setups every async implementation shares |
//! | [`floor_runtime`] | the floor on each runtime setup, to pick the shared one |
//! | [`model`] | the data every implementation reads and writes, and the checks of its results |
//! | [`checks`] | what every implementation must return and write before it is measured |
//! | [`impls`] | one module per implementation, and the one list that registers them |
//! | [`workloads`] | the criterion groups: timing loops, sizes, throughput |
//! | [`config`] | criterion settings (full or quick mode) |
//! | [`meta`] | facts about the run (PostgreSQL version, runtime setup) kept for the report |
//! | [`report`] | reading criterion's estimates and writing `RESULTS.md` and `ratios.svg` |

#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations, rust_2018_idioms)]

pub mod affinity;
pub mod checks;
pub mod config;
pub mod floor_runtime;
pub mod impls;
pub mod meta;
pub mod model;
pub mod report;
pub mod runtime;
pub mod schema;
pub mod server;
pub mod workloads;

/// The error every implementation and helper returns: each peer has its own error type.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// `Result` with [`BoxError`].
pub type Result<T, E = BoxError> = std::result::Result<T, E>;
