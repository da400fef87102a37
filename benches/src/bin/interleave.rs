//! Interleaved comparison: every implementation measured in alternating blocks, so that the
//! machine's drift (this is a shared virtual machine) hits all of them alike.
//!
//! Criterion measures one implementation after the other, each for several seconds; on a noisy
//! machine a single-row workload (about one round trip) can move by ±15 % between two of them.
//! This command runs, for each workload, `rounds` rounds; in each round every implementation
//! runs one block of the same number of iterations, in an order rotated every round. It prints
//! each implementation's median time per iteration and its *paired* ratio to `tokio_postgres`:
//! the median over rounds of (block time / the floor's block time in the same round).
//!
//! The concurrent workloads are compared the same way, an iteration being one batch of 64 gets
//! over the implementation's pool (8 or 4 connections).
//!
//! ```sh
//! CARGO_TARGET_DIR=/work/target-bench cargo run -p pgrepo-benches --release --bin interleave
//! # options: --rounds N (default 40), --block-ms MS (default 25), workload names to filter
//! ```
//!
//! Same database, data, pinning and runtime as the criterion suite (`benches/orm.rs`), and the
//! same checks before measuring (`pgrepo_benches::checks`): the post-write check of every
//! implementation at the start, then each implementation's result on each workload (skipped
//! with `--solo`, which profilers run).

use pgrepo_benches::checks::{check_concurrent, check_post_writes, check_workload};
use pgrepo_benches::impls::tokio_postgres_impl::TokioPostgres;
use pgrepo_benches::impls::{for_each_implementation, Implementation, ImplementationVisitor};
use pgrepo_benches::model::{self, HairColors, NewUser};
use pgrepo_benches::schema::Seeder;
use pgrepo_benches::workloads::{id_cycle, Fixture, Workload, CONCURRENT_TASKS, GET_BY_ID_USERS};
use pgrepo_benches::Result;
use std::hint::black_box;
use std::time::{Duration, Instant};
use tokio::runtime::Runtime;

/// Runs `iters` iterations and returns their total time.
type Block<'r> = Box<dyn FnMut(u64) -> Duration + 'r>;

struct Options {
    rounds: usize,
    block: Duration,
    filter: Vec<String>,
    implementations: Vec<String>,
    /// `--solo NAME ITERS`: only NAME, one block of ITERS iterations (for profilers).
    solo: Option<(String, u64)>,
}

fn options() -> Result<Options> {
    let mut options = Options {
        rounds: 40,
        block: Duration::from_millis(25),
        filter: Vec::new(),
        implementations: Vec::new(),
        solo: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--rounds" => options.rounds = value()?.parse()?,
            "--block-ms" => options.block = Duration::from_millis(value()?.parse()?),
            "--impl" => options.implementations.push(value()?),
            "--solo" => {
                let name = value()?;
                options.solo = Some((name.clone(), value()?.parse()?));
                options.implementations = vec![name];
            }
            "--bench" => {} // passed by `cargo bench`-style runners; ignored
            _ => options.filter.push(arg),
        }
    }
    Ok(options)
}

/// The (workload, size) pairs this command compares: every single-connection one, then the
/// concurrent ones (an iteration is a batch of 64 gets over the implementation's pool).
fn cases() -> Vec<(Workload, usize)> {
    let mut cases = Vec::new();
    for workload in [
        Workload::GetById,
        Workload::TrivialQuery,
        Workload::MediumComplexQuery,
        Workload::Insert,
        Workload::LoadingAssociations,
        Workload::ConcurrentGetById,
        Workload::SaturatedGetById,
    ] {
        for &size in workload.sizes() {
            cases.push((workload, size));
        }
    }
    cases
}

struct Collect<'r> {
    runtime: &'r Runtime,
    seeder: &'r Seeder,
    url: &'r str,
    workload: Workload,
    size: usize,
    implementations: &'r [String],
    solo: bool,
    blocks: Vec<(&'static str, Block<'r>)>,
}

impl<'r> ImplementationVisitor for Collect<'r> {
    fn visit<I: Implementation>(&mut self) {
        let wanted = |name: &str| self.implementations.iter().any(|i| i == name);
        let floor = I::NAME == TokioPostgres::NAME && !self.solo;
        if !self.implementations.is_empty() && !floor && !wanted(I::NAME) {
            return;
        }
        let mut block = if let Some(connections) = self.workload.pool_connections() {
            self.pool_block::<I>(connections)
        } else {
            self.single_block::<I>()
        };
        block(2); // prepares lazily prepared statements, warms caches
        self.blocks.push((I::NAME, block));
    }
}

impl<'r> Collect<'r> {
    /// A block of a concurrent workload: each iteration gets the next 64 ids over `connections`.
    fn pool_block<I: Implementation>(&self, connections: usize) -> Block<'r> {
        let (runtime, workload) = (self.runtime, self.workload);
        let what = format!("{} {} {connections} connections", I::NAME, workload.name());
        let pool: I::Pool = runtime
            .block_on(I::connect_pool(self.url, connections))
            .unwrap_or_else(|error| panic!("{what}: connect: {error}"));
        let ids = id_cycle(GET_BY_ID_USERS, CONCURRENT_TASKS);
        if !self.solo {
            runtime
                .block_on(check_concurrent::<I>(&pool, &ids))
                .unwrap_or_else(|error| panic!("{what}: check: {error}"));
        }
        let mut from = 0;
        Box::new(move |iters: u64| -> Duration {
            runtime.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let batch = &ids[from..from + CONCURRENT_TASKS];
                    from = (from + CONCURRENT_TASKS) % GET_BY_ID_USERS;
                    match I::concurrent_get_by_id(&pool, batch).await {
                        Ok(users) => drop(black_box(users)),
                        Err(error) => panic!("{what}: {error}"),
                    }
                }
                start.elapsed()
            })
        })
    }

    /// A block of a single-connection workload.
    fn single_block<I: Implementation>(&self) -> Block<'r> {
        let (runtime, seeder, workload, size) =
            (self.runtime, self.seeder, self.workload, self.size);
        let what = format!("{} {} {size}", I::NAME, workload.name());
        let mut imp: I = runtime
            .block_on(I::connect(self.url))
            .unwrap_or_else(|error| panic!("{what}: connect: {error}"));
        if !self.solo {
            runtime
                .block_on(async {
                    check_workload(&mut imp, workload, size).await?;
                    if workload == Workload::Insert {
                        seeder.truncate().await?;
                    }
                    Ok::<_, pgrepo_benches::BoxError>(())
                })
                .unwrap_or_else(|error| panic!("{what}: check: {error}"));
        }
        let users: Vec<NewUser> = model::new_users(size, HairColors::Fixed("hair_color"));
        let mut next_id = 0u64;
        Box::new(move |iters: u64| -> Duration {
            runtime.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let done = match workload {
                        Workload::GetById => {
                            next_id += 1;
                            let id = (next_id % GET_BY_ID_USERS as u64) as i32 + 1;
                            imp.get_by_id(id).await.map(|u| drop(black_box(u)))
                        }
                        Workload::TrivialQuery => {
                            imp.trivial_query().await.map(|u| drop(black_box(u)))
                        }
                        Workload::MediumComplexQuery => {
                            imp.medium_complex_query().await.map(|u| drop(black_box(u)))
                        }
                        Workload::Insert => imp.insert_users(&users).await.map(|n| {
                            black_box(n);
                        }),
                        Workload::LoadingAssociations => {
                            imp.loading_associations().await.map(|t| drop(black_box(t)))
                        }
                        _ => unreachable!("a concurrent workload runs in pool_block"),
                    };
                    if let Err(error) = done {
                        panic!("{what}: {error}");
                    }
                }
                let elapsed = start.elapsed();
                if workload == Workload::Insert {
                    seeder.truncate().await.expect("truncate");
                }
                elapsed
            })
        })
    }
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

fn format_time(seconds: f64) -> String {
    if seconds >= 1e-3 {
        format!("{:.3} ms", seconds * 1e3)
    } else {
        format!("{:.1} µs", seconds * 1e6)
    }
}

fn main() -> Result<()> {
    let options = options()?;
    let Fixture {
        pinning,
        runtime,
        database,
        seeder,
        ..
    } = Fixture::start()?;
    let mut table = format!(
        "Run {}: {} rounds, blocks of about {} ms; CPU pinning: {}.\n\n\
         | workload | size | implementation | median per iteration | paired ratio to floor | \
         middle half of the ratios |\n| --- | ---: | --- | ---: | ---: | --- |\n",
        pgrepo_benches::meta::format_utc(pgrepo_benches::meta::unix_now()),
        options.rounds,
        options.block.as_millis(),
        pinning.describe()
    );
    if options.solo.is_none() {
        check_post_writes(&runtime, &seeder, database.url())?;
    }
    print!("{table}");
    for (workload, size) in cases() {
        let name = workload.name();
        if !options.filter.is_empty()
            && !options
                .filter
                .iter()
                .any(|f| name.contains(f.as_str()) || format!("{name}/{size}") == *f)
        {
            continue;
        }
        runtime.block_on(seeder.seed(workload.dataset(size)))?;
        let mut collect = Collect {
            runtime: &runtime,
            seeder: &seeder,
            url: database.url(),
            workload,
            size,
            implementations: &options.implementations,
            solo: options.solo.is_some(),
            blocks: Vec::new(),
        };
        for_each_implementation(&mut collect);
        let mut blocks = collect.blocks;
        if let Some((name, iters)) = &options.solo {
            let elapsed = (blocks[0].1)(*iters);
            println!(
                "| {} | {size} | `{name}` | {} | | |",
                workload.name(),
                format_time(elapsed.as_secs_f64() / *iters as f64)
            );
            continue;
        }
        let floor = blocks
            .iter()
            .position(|(name, _)| *name == TokioPostgres::NAME)
            .expect("the floor is registered");
        // Iterations per block, from the floor's speed.
        let probe = (blocks[floor].1)(20);
        let per_iter = probe.as_secs_f64() / 20.0;
        let iters = ((options.block.as_secs_f64() / per_iter) as u64).clamp(1, 100_000);
        let n = blocks.len();
        let mut times = vec![Vec::with_capacity(options.rounds); n];
        for round in 0..options.rounds {
            let mut this_round = vec![0.0; n];
            for k in 0..n {
                let which = (k + round) % n;
                let elapsed = (blocks[which].1)(iters);
                this_round[which] = elapsed.as_secs_f64() / iters as f64;
            }
            for (which, time) in this_round.into_iter().enumerate() {
                times[which].push(time);
            }
        }
        for (which, (impl_name, _)) in blocks.iter().enumerate() {
            let mut ratios: Vec<f64> = times[which]
                .iter()
                .zip(&times[floor])
                .map(|(t, f)| t / f)
                .collect();
            let ratio = median(&mut ratios);
            let (q1, q3) = (ratios[ratios.len() / 4], ratios[(3 * ratios.len()) / 4]);
            let time = median(&mut times[which].clone());
            let line = format!(
                "| {name} | {size} | `{impl_name}` | {} | ×{ratio:.3} | {q1:.3}–{q3:.3} |\n",
                format_time(time)
            );
            print!("{line}");
            table.push_str(&line);
        }
        blocks.clear();
    }
    pinning.unpin_server();
    if options.solo.is_none() {
        let dir = pgrepo_benches::meta::criterion_dir();
        std::fs::create_dir_all(&dir)?;
        let file = dir.join(pgrepo_benches::report::INTERLEAVED_FILE);
        std::fs::write(&file, table)?;
        eprintln!("written to {} (the report includes it)", file.display());
    }
    drop(seeder);
    drop(database);
    Ok(())
}
