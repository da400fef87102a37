//! The criterion groups: one per workload, one function id per implementation, the size as the
//! parameter, so criterion writes `<workload>/<implementation>/<size>/new/estimates.json`.
//!
//! For each (workload, size) the tables are seeded once, lazily, just before the first
//! implementation that criterion actually runs (so `cargo bench -- get_by_id` seeds nothing
//! else); every implementation then reads the same rows. Each implementation connects once per
//! (workload, size), outside timing, and its result is checked once before it is measured
//! ([`crate::checks`]; the run also starts with the post-write check of every implementation). The
//! timed loop runs inside one `block_on` per criterion sample (`iter_custom`), on the run's
//! shared runtime. The insert workload empties `users` after every sample, outside timing, so
//! the table never grows past one sample's rows.

use crate::checks::{check_concurrent, check_eq, check_post_writes, check_workload};
use crate::impls::tokio_postgres_impl::TokioPostgres;
use crate::impls::{for_each_implementation, Implementation, ImplementationVisitor};
use crate::meta::{criterion_dir, unix_now, RunMeta};
use crate::model::{self, HairColors};
use crate::runtime::RuntimeSetup;
use crate::schema::{Dataset, Seeder};
use crate::server::{start_database, Database};
use crate::Result;
use criterion::measurement::WallTime;
use criterion::{Bencher, BenchmarkGroup, BenchmarkId, Criterion, Throughput};
use std::cell::Cell;
use std::hint::black_box;
use std::time::{Duration, Instant};
use tokio::runtime::Runtime;

/// Sizes of `trivial_query` (users loaded).
pub const TRIVIAL_QUERY_SIZES: &[usize] = &[1, 100, 10_000];
/// Sizes of `medium_complex_query` (users seeded; half of them match).
pub const MEDIUM_COMPLEX_QUERY_SIZES: &[usize] = &[1, 100, 10_000];
/// Sizes of `insert` (users per statement).
pub const INSERT_SIZES: &[usize] = &[1, 100];
/// Users seeded for `get_by_id` and `concurrent_get_by_id`; ids rotate over all of them.
pub const GET_BY_ID_USERS: usize = 10_000;
/// Concurrent gets per `concurrent_get_by_id` iteration.
pub const CONCURRENT_TASKS: usize = 64;
/// Connections in each implementation's pool for `concurrent_get_by_id`.
pub const POOL_CONNECTIONS: usize = 8;
/// Connections in each implementation's pool for `saturated_get_by_id`: fewer than the tasks
/// (16 gets per connection), where pipelining on a busy connection competes with waiting for a
/// free one.
pub const SATURATED_POOL_CONNECTIONS: usize = 4;

/// A workload of the suite (a criterion group).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    /// Load all users.
    TrivialQuery,
    /// Users LEFT JOIN posts, filtered by hair colour.
    MediumComplexQuery,
    /// Insert users with one statement.
    Insert,
    /// Users → posts → comments, three queries, grouped.
    LoadingAssociations,
    /// One user by primary key.
    GetById,
    /// 64 concurrent gets over 8 connections (throughput).
    ConcurrentGetById,
    /// 64 concurrent gets over 4 connections (throughput).
    SaturatedGetById,
    /// `SELECT 1` on the floor's connection: the physical limit.
    RoundTrip,
}

impl Workload {
    /// Every workload, in the order the suite runs and reports them.
    pub const ALL: [Workload; 8] = [
        Workload::TrivialQuery,
        Workload::MediumComplexQuery,
        Workload::Insert,
        Workload::LoadingAssociations,
        Workload::GetById,
        Workload::ConcurrentGetById,
        Workload::SaturatedGetById,
        Workload::RoundTrip,
    ];

    /// The criterion group name.
    pub fn name(self) -> &'static str {
        match self {
            Workload::TrivialQuery => "trivial_query",
            Workload::MediumComplexQuery => "medium_complex_query",
            Workload::Insert => "insert",
            Workload::LoadingAssociations => "loading_associations",
            Workload::GetById => "get_by_id",
            Workload::ConcurrentGetById => "concurrent_get_by_id",
            Workload::SaturatedGetById => "saturated_get_by_id",
            Workload::RoundTrip => "round_trip",
        }
    }

    /// The sizes it runs at (1 for workloads without a size).
    pub fn sizes(self) -> &'static [usize] {
        match self {
            Workload::TrivialQuery => TRIVIAL_QUERY_SIZES,
            Workload::MediumComplexQuery => MEDIUM_COMPLEX_QUERY_SIZES,
            Workload::Insert => INSERT_SIZES,
            _ => &[1],
        }
    }

    /// Whether one iteration reads or writes a single row (RESULTS.md puts `round_trip` beside).
    pub fn is_single_row(self, size: usize) -> bool {
        match self {
            Workload::TrivialQuery | Workload::MediumComplexQuery | Workload::Insert => size == 1,
            Workload::GetById => true,
            _ => false,
        }
    }

    /// Elements per iteration for throughput workloads.
    pub fn elements(self) -> Option<u64> {
        self.pool_connections().map(|_| CONCURRENT_TASKS as u64)
    }

    /// For the concurrent workloads, the connections in each implementation's pool.
    pub fn pool_connections(self) -> Option<usize> {
        match self {
            Workload::ConcurrentGetById => Some(POOL_CONNECTIONS),
            Workload::SaturatedGetById => Some(SATURATED_POOL_CONNECTIONS),
            _ => None,
        }
    }

    /// What the tables hold while it runs (`diesel_bench`'s data rules; its medium complex query
    /// seeds users only, so every user joins to no post).
    pub fn dataset(self, size: usize) -> Dataset {
        match self {
            Workload::TrivialQuery => Dataset::Users {
                count: size,
                colors: HairColors::None,
            },
            Workload::MediumComplexQuery => Dataset::Users {
                count: size,
                colors: HairColors::Alternating,
            },
            Workload::Insert => Dataset::Empty,
            Workload::LoadingAssociations => Dataset::Associations,
            Workload::GetById
            | Workload::ConcurrentGetById
            | Workload::SaturatedGetById
            | Workload::RoundTrip => Dataset::Users {
                count: GET_BY_ID_USERS,
                colors: HairColors::Alternating,
            },
        }
    }
}

/// Ids `1..=count` followed by `1..=window`, so any `window` consecutive ids starting below
/// `count` are one slice.
pub fn id_cycle(count: usize, window: usize) -> Vec<i32> {
    (1..=count as i32).chain(1..=window as i32).collect()
}

/// What every measuring command starts from: this process pinned to the client's CPUs, the
/// shared runtime, the database with freshly created tables, a seeding connection, and a
/// local server pinned to the other CPUs.
#[derive(Debug)]
pub struct Fixture {
    /// The CPU placement (give the server its CPUs back with `unpin_server` at the end).
    pub pinning: crate::affinity::Pinning,
    /// How `runtime` was built.
    pub setup: RuntimeSetup,
    /// The runtime every async implementation shares.
    pub runtime: Runtime,
    /// The database.
    pub database: Database,
    /// The connection that creates and seeds the tables.
    pub seeder: Seeder,
}

impl Fixture {
    /// Pins the client (before any thread exists, so every thread of the run inherits it),
    /// builds the runtime, gets the database ([`start_database`]), recreates the tables and
    /// pins the server.
    ///
    /// # Errors
    /// When any of those fails.
    pub fn start() -> Result<Fixture> {
        let mut pinning = crate::affinity::pin_client();
        let setup = RuntimeSetup::from_env()?;
        let runtime = setup.build()?;
        let (database, seeder) = runtime.block_on(async {
            let database = start_database().await?;
            let seeder = Seeder::connect(database.url()).await?;
            seeder.create_tables().await?;
            Ok::<_, crate::BoxError>((database, seeder))
        })?;
        pinning.pin_server(runtime.block_on(seeder.backend_pid())?);
        Ok(Fixture {
            pinning,
            setup,
            runtime,
            database,
            seeder,
        })
    }
}

/// The run: one PostgreSQL, one shared runtime, one seeding connection.
#[derive(Debug)]
pub struct Suite {
    // Field order is drop order: connections before the runtime that drives them.
    seeder: Seeder,
    database: Database,
    runtime: Runtime,
    seeded: Cell<Option<(Workload, usize)>>,
    meta: RunMeta,
    pinning: crate::affinity::Pinning,
}

impl Suite {
    /// Builds the runtime, gets the database ([`start_database`]), recreates the tables and
    /// records the run's facts for the report.
    ///
    /// # Errors
    /// When any of those fails.
    pub fn start() -> Result<Suite> {
        let Fixture {
            pinning,
            setup,
            runtime,
            database,
            seeder,
        } = Fixture::start()?;
        let meta = RunMeta {
            postgres_version: runtime.block_on(seeder.server_version())?,
            pinning: pinning.describe(),
            runtime: setup.name().to_owned(),
            quick: crate::config::quick_mode(),
            implementations: crate::impls::IMPLEMENTATION_NAMES
                .iter()
                .map(|name| (*name).to_owned())
                .collect(),
            started: unix_now(),
            finished: None,
        };
        if crate::config::measuring() {
            meta.write(&criterion_dir())?;
        }
        eprintln!(
            "pgrepo-benches: {} on {} runtime; CPU pinning: {}; implementations {:?}",
            meta.postgres_version, meta.runtime, meta.pinning, meta.implementations
        );
        check_post_writes(&runtime, &seeder, database.url())?;
        Ok(Suite {
            seeder,
            database,
            runtime,
            seeded: Cell::new(None),
            meta,
            pinning,
        })
    }

    /// Runs every group: the floor's runtime comparison, then each workload.
    pub fn run(&self, criterion: &mut Criterion) {
        crate::floor_runtime::compare(self, criterion);
        for workload in Workload::ALL {
            let mut group = criterion.benchmark_group(workload.name());
            if let Some(elements) = workload.elements() {
                group.throughput(Throughput::Elements(elements));
            }
            for &size in workload.sizes() {
                if workload == Workload::RoundTrip {
                    self.round_trip(&mut group);
                } else {
                    for_each_implementation(&mut Measure {
                        suite: self,
                        group: &mut group,
                        workload,
                        size,
                    });
                }
            }
            group.finish();
        }
    }

    /// Gives the server its CPUs back and records the end of the run for the report.
    ///
    /// # Errors
    /// When the facts cannot be written.
    pub fn finish(mut self) -> Result<()> {
        self.pinning.unpin_server();
        if !crate::config::measuring() {
            return Ok(());
        }
        self.meta.finished = Some(unix_now());
        self.meta.write(&criterion_dir())
    }

    /// Seeds the tables for (workload, size) unless they already hold that dataset.
    pub(crate) fn ensure_seeded(&self, workload: Workload, size: usize) {
        if self.seeded.get() != Some((workload, size)) {
            self.runtime
                .block_on(self.seeder.seed(workload.dataset(size)))
                .unwrap_or_else(|error| panic!("seeding {} {size}: {error}", workload.name()));
            self.seeded.set(Some((workload, size)));
        }
    }

    fn truncate(&self) {
        self.runtime
            .block_on(self.seeder.truncate())
            .unwrap_or_else(|error| panic!("truncating: {error}"));
    }

    /// Seeds (if needed), connects `I` on the shared runtime and checks its result once.
    fn prepare<I, S>(
        &self,
        workload: Workload,
        size: usize,
        connect: impl AsyncFnOnce(&str) -> Result<S>,
        check: impl AsyncFnOnce(&mut S) -> Result<()>,
    ) -> S
    where
        I: Implementation,
    {
        self.ensure_seeded(workload, size);
        let what = format!("{} {} {size}", I::NAME, workload.name());
        self.runtime
            .block_on(async {
                let mut state = connect(self.database.url()).await?;
                check(&mut state).await?;
                Ok::<_, crate::BoxError>(state)
            })
            .unwrap_or_else(|error| panic!("{what}: {error}"))
    }

    /// The database URL every implementation connects to.
    pub(crate) fn url(&self) -> &str {
        self.database.url()
    }

    /// Times `iters` calls of `op` inside one `block_on` on the shared runtime; outputs are
    /// dropped inside the timing, as criterion's `iter` does.
    fn time<S, T>(
        &self,
        iters: u64,
        state: &mut S,
        what: &str,
        mut op: impl AsyncFnMut(&mut S, u64) -> Result<T>,
    ) -> Duration {
        self.runtime.block_on(async {
            let start = Instant::now();
            for i in 0..iters {
                match op(state, i).await {
                    Ok(output) => drop(black_box(output)),
                    Err(error) => panic!("{what}: {error}"),
                }
            }
            start.elapsed()
        })
    }

    fn round_trip(&self, group: &mut BenchmarkGroup<'_, WallTime>) {
        let mut floor: Option<TokioPostgres> = None;
        group.bench_function(BenchmarkId::new(TokioPostgres::NAME, 1), |b| {
            let floor = floor.get_or_insert_with(|| {
                self.prepare::<TokioPostgres, _>(
                    Workload::RoundTrip,
                    1,
                    TokioPostgres::connect,
                    async |floor| check_eq(floor.select_one().await?, 1),
                )
            });
            b.iter_custom(|iters| {
                self.time(iters, floor, "round_trip", async |floor, _| {
                    floor.select_one().await
                })
            });
        });
    }
}

/// Measures each implementation it visits on one (workload, size).
struct Measure<'s, 'g, 'c> {
    suite: &'s Suite,
    group: &'g mut BenchmarkGroup<'c, WallTime>,
    workload: Workload,
    size: usize,
}

impl ImplementationVisitor for Measure<'_, '_, '_> {
    fn visit<I: Implementation>(&mut self) {
        let (suite, workload, size) = (self.suite, self.workload, self.size);
        let what = format!("{} {} {size}", I::NAME, workload.name());
        let id = BenchmarkId::new(I::NAME, size);
        match workload {
            Workload::TrivialQuery => {
                single::<I, _>(self, id, &what, async |imp, _| imp.trivial_query().await)
            }
            Workload::MediumComplexQuery => single::<I, _>(self, id, &what, async |imp, _| {
                imp.medium_complex_query().await
            }),
            Workload::LoadingAssociations => single::<I, _>(self, id, &what, async |imp, _| {
                imp.loading_associations().await
            }),
            Workload::GetById => {
                let ids = id_cycle(GET_BY_ID_USERS, 0);
                let mut offset = 0;
                let mut imp: Option<I> = None;
                self.group.bench_function(id, |b| {
                    let imp = imp.get_or_insert_with(|| prepare_single::<I>(suite, workload, size));
                    b.iter_custom(|iters| {
                        let at = offset;
                        offset += iters;
                        suite.time(iters, imp, &what, async |imp, i| {
                            imp.get_by_id(ids[((at + i) % ids.len() as u64) as usize])
                                .await
                        })
                    });
                });
            }
            Workload::Insert => {
                let users = model::new_users(size, HairColors::Fixed("hair_color"));
                let mut imp: Option<I> = None;
                self.group.bench_function(id, |b| {
                    let imp = imp.get_or_insert_with(|| {
                        let imp = prepare_single::<I>(suite, workload, size);
                        suite.truncate();
                        imp
                    });
                    b.iter_custom(|iters| {
                        let elapsed = suite.time(iters, imp, &what, async |imp, _| {
                            imp.insert_users(&users).await
                        });
                        suite.truncate();
                        elapsed
                    });
                });
            }
            Workload::ConcurrentGetById | Workload::SaturatedGetById => {
                let connections = workload.pool_connections().expect("a concurrent workload");
                let ids = id_cycle(GET_BY_ID_USERS, CONCURRENT_TASKS);
                let mut offset = 0;
                let mut pool: Option<I::Pool> = None;
                self.group.bench_function(id, |b| {
                    let pool = pool.get_or_insert_with(|| {
                        suite.prepare::<I, _>(
                            workload,
                            size,
                            async |url| I::connect_pool(url, connections).await,
                            async |pool| check_concurrent::<I>(pool, &ids).await,
                        )
                    });
                    b.iter_custom(|iters| {
                        let at = offset;
                        offset += iters;
                        suite.time(iters, pool, &what, async |pool, i| {
                            let from = ((at + i) * CONCURRENT_TASKS as u64 % GET_BY_ID_USERS as u64)
                                as usize;
                            I::concurrent_get_by_id(pool, &ids[from..from + CONCURRENT_TASKS]).await
                        })
                    });
                });
            }
            Workload::RoundTrip => unreachable!("round_trip measures the floor only"),
        }
    }
}

/// Connects `I` for a single-connection workload and checks that workload's result once.
fn prepare_single<I: Implementation>(suite: &Suite, workload: Workload, size: usize) -> I {
    suite.prepare::<I, I>(workload, size, I::connect, async |imp: &mut I| {
        check_workload(imp, workload, size).await
    })
}

/// A single-connection workload whose iterations need nothing but the connection.
fn single<I: Implementation, T>(
    measure: &mut Measure<'_, '_, '_>,
    id: BenchmarkId,
    what: &str,
    mut op: impl AsyncFnMut(&mut I, u64) -> Result<T>,
) {
    let (suite, workload, size) = (measure.suite, measure.workload, measure.size);
    let mut imp: Option<I> = None;
    measure.group.bench_function(id, |b: &mut Bencher<'_>| {
        let imp = imp.get_or_insert_with(|| prepare_single::<I>(suite, workload, size));
        b.iter_custom(|iters| suite.time(iters, imp, what, &mut op));
    });
}
