//! The `floor_runtime` group: the floor (tokio-postgres) on each tokio runtime setup, so the
//! suite's shared runtime is the one the floor measures fastest.
//!
//! Three placements, each with its own runtime and its own connections on it:
//! - `current_thread`: current-thread runtime; the timed loop (`block_on`) and the connection
//!   tasks share one thread, so a round trip never crosses threads.
//! - `multi_thread`: multi-thread runtime, timed loop in `block_on` on the calling thread,
//!   connection tasks on the workers (what `diesel_bench` does for its async peers): every
//!   round trip crosses threads twice.
//! - `multi_thread_spawned`: multi-thread runtime, timed loop spawned as a task on a worker,
//!   as a server's request handler would run; connection tasks can run on the same worker.
//!
//! Each runs four benchmarks on the `get_by_id` data (10,000 users): `round_trip`,
//! `get_by_id`, `trivial_query_10000` and `concurrent_get_by_id` (64 gets over 8 clients).

use crate::impls::tokio_postgres_impl::{Clients, TokioPostgres};
use crate::impls::Implementation;
use crate::runtime::RuntimeSetup;
use crate::workloads::{
    id_cycle, Suite, Workload, CONCURRENT_TASKS, GET_BY_ID_USERS, POOL_CONNECTIONS,
};
use criterion::{BenchmarkId, Criterion, Throughput};
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Criterion group of this comparison.
pub const FLOOR_RUNTIME_GROUP: &str = "floor_runtime";

/// Where the timed loop runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    /// Criterion function id.
    pub name: &'static str,
    /// The runtime.
    pub setup: RuntimeSetup,
    /// Whether the loop runs as a spawned task (on a worker) rather than in `block_on`.
    pub spawned: bool,
}

/// The placements compared, the suite's default first.
pub const PLACEMENTS: [Placement; 3] = [
    Placement {
        name: "current_thread",
        setup: RuntimeSetup::CurrentThread,
        spawned: false,
    },
    Placement {
        name: "multi_thread",
        setup: RuntimeSetup::MultiThread,
        spawned: false,
    },
    Placement {
        name: "multi_thread_spawned",
        setup: RuntimeSetup::MultiThread,
        spawned: true,
    },
];

#[derive(Debug, Clone, Copy)]
enum FloorOp {
    RoundTrip,
    GetById,
    TrivialQuery,
    ConcurrentGetById,
}

impl FloorOp {
    const ALL: [FloorOp; 4] = [
        FloorOp::RoundTrip,
        FloorOp::GetById,
        FloorOp::TrivialQuery,
        FloorOp::ConcurrentGetById,
    ];

    fn name(self) -> &'static str {
        match self {
            FloorOp::RoundTrip => "round_trip",
            FloorOp::GetById => "get_by_id",
            FloorOp::TrivialQuery => "trivial_query_10000",
            FloorOp::ConcurrentGetById => "concurrent_get_by_id",
        }
    }

    fn elements(self) -> u64 {
        match self {
            FloorOp::ConcurrentGetById => CONCURRENT_TASKS as u64,
            _ => 1,
        }
    }
}

/// The floor's single connection and its 8 clients.
type Floor = (TokioPostgres, Clients);

/// Runs `iters` iterations of `op`; owns the floor so the loop can be a spawned task.
async fn run(mut floor: Floor, op: FloorOp, iters: u64, ids: Arc<[i32]>) -> (Floor, Duration) {
    let n = GET_BY_ID_USERS as u64;
    let what = op.name();
    let start = Instant::now();
    for i in 0..iters {
        match op {
            FloorOp::RoundTrip => {
                black_box(floor.0.select_one().await.expect(what));
            }
            FloorOp::GetById => {
                black_box(floor.0.get_by_id(ids[(i % n) as usize]).await.expect(what));
            }
            FloorOp::TrivialQuery => {
                black_box(floor.0.trivial_query().await.expect(what));
            }
            FloorOp::ConcurrentGetById => {
                let from = (i * CONCURRENT_TASKS as u64 % n) as usize;
                let batch = &ids[from..from + CONCURRENT_TASKS];
                black_box(
                    TokioPostgres::concurrent_get_by_id(&floor.1, batch)
                        .await
                        .expect(what),
                );
            }
        }
    }
    (floor, start.elapsed())
}

/// One placement's runtime and, once connected, the floor's connections on it.
struct Setup {
    placement: Placement,
    // Field order is drop order: the connections go before their runtime.
    floor: Option<Floor>,
    runtime: tokio::runtime::Runtime,
}

/// Measures the floor in every placement (criterion group `floor_runtime`), benchmark by
/// benchmark, so the placements of one benchmark are measured seconds apart: the machine's
/// load drifts over minutes, and that drift must not decide the comparison.
pub fn compare(suite: &Suite, criterion: &mut Criterion) {
    let mut group = criterion.benchmark_group(FLOOR_RUNTIME_GROUP);
    let ids: Arc<[i32]> = id_cycle(GET_BY_ID_USERS, CONCURRENT_TASKS).into();
    let mut setups: Vec<Setup> = PLACEMENTS
        .iter()
        .map(|&placement| Setup {
            placement,
            floor: None,
            runtime: placement.setup.build().expect("building a tokio runtime"),
        })
        .collect();
    for op in FloorOp::ALL {
        group.throughput(Throughput::Elements(op.elements()));
        for setup in &mut setups {
            let Setup {
                placement,
                floor: slot,
                runtime,
            } = setup;
            let what = format!("{FLOOR_RUNTIME_GROUP} {} {}", placement.name, op.name());
            group.bench_function(BenchmarkId::new(placement.name, op.name()), |b| {
                if slot.is_none() {
                    suite.ensure_seeded(Workload::GetById, 1);
                    let floor = runtime.block_on(async {
                        let single = TokioPostgres::connect(suite.url()).await?;
                        let pool =
                            TokioPostgres::connect_pool(suite.url(), POOL_CONNECTIONS).await?;
                        Ok::<_, crate::BoxError>((single, pool))
                    });
                    *slot = Some(floor.unwrap_or_else(|error| panic!("{what}: {error}")));
                }
                b.iter_custom(|iters| {
                    let floor = slot.take().expect("the floor's connections");
                    let timed = run(floor, op, iters, Arc::clone(&ids));
                    let (floor, elapsed) = if placement.spawned {
                        runtime
                            .block_on(runtime.spawn(timed))
                            .unwrap_or_else(|error| panic!("{what}: {error}"))
                    } else {
                        runtime.block_on(timed)
                    };
                    *slot = Some(floor);
                    elapsed
                });
            });
        }
    }
    group.finish();
}
