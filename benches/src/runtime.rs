//! The tokio runtime setups, and the one every async implementation shares in a run.
//!
//! Every async implementation (tokio-postgres, pgrepo, diesel-async, SQLx, SeaORM) runs on the
//! same runtime, built by [`RuntimeSetup::build`]; the timed loop runs inside one `block_on` per
//! criterion sample. The default is the setup the floor measured fastest on this machine (see
//! [`crate::floor_runtime`] and README.md); `PGREPO_BENCH_RUNTIME=current_thread|multi_thread`
//! overrides it (with `multi_thread` the timed loop stays in `block_on`, connection tasks run on
//! the workers).

use crate::Result;
use tokio::runtime::{Builder, Runtime};

/// How the tokio runtime is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuntimeSetup {
    /// One thread: the benchmark loop and every connection task share it, so a query's
    /// round trip never crosses threads.
    CurrentThread,
    /// tokio's work-stealing runtime with one worker per core; connection tasks run on the
    /// workers, the benchmark loop on the calling thread.
    MultiThread,
}

impl RuntimeSetup {
    /// The setup used unless `PGREPO_BENCH_RUNTIME` says otherwise: current-thread. In the
    /// `floor_runtime` group (2 CPUs, client and server pinned apart) the floor was fastest or
    /// within 3 % of the best on round trips, gets by id and loading 10,000 rows, where the
    /// multi-thread runtime with the loop in `block_on` was 10–30 % slower; only on 64
    /// concurrent gets was that setup about 5 % faster. README.md has the numbers.
    pub const DEFAULT: RuntimeSetup = RuntimeSetup::CurrentThread;

    /// Both setups, for the `floor_runtime` comparison.
    pub const ALL: [RuntimeSetup; 2] = [RuntimeSetup::CurrentThread, RuntimeSetup::MultiThread];

    /// `DEFAULT`, or `PGREPO_BENCH_RUNTIME` if set.
    ///
    /// # Errors
    /// When `PGREPO_BENCH_RUNTIME` names no setup.
    pub fn from_env() -> Result<RuntimeSetup> {
        match std::env::var("PGREPO_BENCH_RUNTIME") {
            Err(_) => Ok(Self::DEFAULT),
            Ok(name) => Self::ALL
                .into_iter()
                .find(|setup| setup.name() == name)
                .ok_or_else(|| {
                    format!(
                        "PGREPO_BENCH_RUNTIME={name:?}: expected current_thread or multi_thread"
                    )
                    .into()
                }),
        }
    }

    /// `current_thread` or `multi_thread` (criterion ids and RESULTS.md use it).
    pub fn name(self) -> &'static str {
        match self {
            RuntimeSetup::CurrentThread => "current_thread",
            RuntimeSetup::MultiThread => "multi_thread",
        }
    }

    /// Builds the runtime with I/O and timers enabled.
    ///
    /// # Errors
    /// When the OS refuses the threads or the I/O driver.
    pub fn build(self) -> Result<Runtime> {
        let mut builder = match self {
            RuntimeSetup::CurrentThread => Builder::new_current_thread(),
            RuntimeSetup::MultiThread => Builder::new_multi_thread(),
        };
        Ok(builder.enable_all().build()?)
    }
}
