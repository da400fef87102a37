//! `RESULTS.md`: the run's facts, the machine, crate versions, and per workload and size each
//! implementation's median with its ratio to the floor.

use super::{format_duration, Report, FLOOR};
use crate::config::{QUICK_MEASUREMENT, QUICK_SAMPLES, QUICK_WARM_UP};
use crate::floor_runtime::{FLOOR_RUNTIME_GROUP, PLACEMENTS};
use crate::meta::format_utc;
use crate::workloads::Workload;
use std::fmt::Write;

fn workload(group: &str) -> Option<Workload> {
    Workload::ALL.into_iter().find(|w| w.name() == group)
}

fn cell(report: &Report, group: &str, function: &str, parameter: &str) -> String {
    let Some(estimate) = report.estimate(group, function, parameter) else {
        return "–".into();
    };
    let mut text = format_duration(estimate.median_ns);
    if let Some(ratio) = report.ratio(group, function, parameter) {
        let _ = write!(text, " (×{ratio:.2})");
    }
    if let Some(rate) = estimate.elements_per_second() {
        let _ = write!(text, "<br>{:.0} /s", rate);
    }
    text
}

fn run_facts(report: &Report, out: &mut String) {
    let Some(meta) = &report.meta else {
        out.push_str(
            "No run facts found (`pgrepo-bench-meta.json`): the bench did not record them.\n\n",
        );
        return;
    };
    let mode = if meta.quick {
        format!(
            "quick (`PGREPO_BENCH_QUICK=1`: {} ms warm-up, {} s measurement, {} samples per benchmark)",
            QUICK_WARM_UP.as_millis(),
            QUICK_MEASUREMENT.as_secs_f64(),
            QUICK_SAMPLES
        )
    } else {
        "full (criterion's defaults: 3 s warm-up, 5 s measurement, 100 samples)".into()
    };
    let took = match meta.finished {
        Some(finished) => {
            let seconds = finished.saturating_sub(meta.started);
            format!("{} min {:02} s", seconds / 60, seconds % 60)
        }
        None => "unfinished (interrupted, or still running)".into(),
    };
    let _ = writeln!(out, "| run | |\n| --- | --- |");
    let _ = writeln!(out, "| started | {} |", format_utc(meta.started));
    let _ = writeln!(
        out,
        "| took | {took} (seeding, connecting, measuring and analysis; compiling excluded) |"
    );
    let _ = writeln!(out, "| mode | {mode} |");
    let _ = writeln!(
        out,
        "| runtime of every async implementation | `{}` |",
        meta.runtime
    );
    let _ = writeln!(out, "| CPU pinning | {} |", meta.pinning);
    let _ = writeln!(out, "| PostgreSQL | {} |", meta.postgres_version);
    out.push('\n');
}

fn machine_and_versions(report: &Report, out: &mut String) {
    let machine = &report.machine;
    let _ = writeln!(out, "| machine | |\n| --- | --- |");
    let _ = writeln!(out, "| CPUs (`nproc`) | {} |", machine.cpus);
    let _ = writeln!(out, "| CPU model | {} |", machine.cpu_model);
    let _ = writeln!(out, "| memory | {} |", machine.memory);
    out.push('\n');
    let _ = writeln!(
        out,
        "| crate | version (workspace `Cargo.lock`) |\n| --- | --- |"
    );
    for (name, version) in &report.versions {
        let _ = writeln!(out, "| `{name}` | {version} |");
    }
    if !report.versions.iter().any(|(name, _)| name == "pgrepo") {
        out.push_str("| `pgrepo` | not a dependency of the benches yet |\n");
    }
    out.push('\n');
}

fn workload_tables(report: &Report, out: &mut String) {
    let implementations = report.implementations();
    let round_trip = report
        .estimate(Workload::RoundTrip.name(), FLOOR, "1")
        .map(|estimate| estimate.median_ns);
    for group in report.groups() {
        let present: Vec<&String> = implementations
            .iter()
            .filter(|name| {
                report
                    .estimates
                    .get(&group)
                    .is_some_and(|functions| functions.contains_key(*name))
            })
            .collect();
        let known = workload(&group);
        let with_round_trip = known.is_some_and(|w| w != Workload::RoundTrip)
            && round_trip.is_some()
            && report.parameters(&group).iter().any(|p| {
                p.parse()
                    .is_ok_and(|size| known.is_some_and(|w| w.is_single_row(size)))
            });
        let _ = writeln!(out, "### {group}\n");
        let mut header = String::from(if known.is_some() {
            "| size |"
        } else {
            "| parameter |"
        });
        let mut rule = String::from("| ---: |");
        for name in &present {
            let _ = write!(header, " `{name}` |");
            rule.push_str(" ---: |");
        }
        if with_round_trip {
            header.push_str(" round_trip (`SELECT 1`) |");
            rule.push_str(" ---: |");
        }
        let _ = writeln!(out, "{header}\n{rule}");
        for parameter in report.parameters(&group) {
            let mut row = format!("| {parameter} |");
            for name in &present {
                let _ = write!(row, " {} |", cell(report, &group, name, &parameter));
            }
            if with_round_trip {
                let single = parameter
                    .parse()
                    .is_ok_and(|size| known.is_some_and(|w| w.is_single_row(size)));
                match round_trip.filter(|_| single) {
                    Some(ns) => {
                        let _ = write!(row, " {} |", format_duration(ns));
                    }
                    None => row.push_str(" |"),
                }
            }
            let _ = writeln!(out, "{row}");
        }
        out.push('\n');
    }
}

fn floor_runtime_table(report: &Report, out: &mut String) {
    let Some(measured) = report.estimates.get(FLOOR_RUNTIME_GROUP) else {
        return;
    };
    let base = PLACEMENTS[0].name;
    let others = &PLACEMENTS[1..];
    let _ = writeln!(
        out,
        "## The floor's runtime setup\n\n\
         tokio-postgres on each runtime setup, with its own connections on that runtime and the \
         same data (10,000 users). `current_thread`: the timed loop and the connection tasks \
         share one thread. `multi_thread`: the loop in `block_on` on the calling thread, the \
         connection tasks on the workers (as `diesel_bench` runs its async peers). \
         `multi_thread_spawned`: the loop as a task on a worker, as a server's handler runs. \
         The ratio columns divide by `{base}`; the suite runs every async implementation on \
         the fastest setup.\n"
    );
    let mut header = String::from("| benchmark |");
    let mut rule = String::from("| --- |");
    for placement in PLACEMENTS {
        let _ = write!(header, " `{}` |", placement.name);
        rule.push_str(" ---: |");
    }
    for placement in others {
        let _ = write!(header, " {} / {base} |", placement.name);
        rule.push_str(" ---: |");
    }
    let _ = writeln!(out, "{header}\n{rule}");
    let mut names: Vec<&String> = measured.values().flat_map(|by| by.keys()).collect();
    names.sort();
    names.dedup();
    for name in names {
        let get = |placement: &str| report.estimate(FLOOR_RUNTIME_GROUP, placement, name);
        let mut row = format!("| {name} |");
        for placement in PLACEMENTS {
            match get(placement.name) {
                Some(estimate) => {
                    let _ = write!(row, " {}", format_duration(estimate.median_ns));
                    if estimate.elements.is_some_and(|n| n > 1) {
                        let rate = estimate.elements_per_second().unwrap_or(0.0);
                        let _ = write!(row, "<br>{rate:.0} /s");
                    }
                    row.push_str(" |");
                }
                None => row.push_str(" – |"),
            }
        }
        for placement in others {
            match (get(base), get(placement.name)) {
                (Some(b), Some(p)) => {
                    let _ = write!(row, " {:.2} |", p.median_ns / b.median_ns);
                }
                _ => row.push_str(" – |"),
            }
        }
        let _ = writeln!(out, "{row}");
    }
    out.push('\n');
}

/// The whole `RESULTS.md`.
pub fn results_markdown(report: &Report) -> String {
    let mut out = String::from(
        "# pgrepo benchmark results\n\n\
         Written by `cargo run -p pgrepo-benches --release --bin report` from criterion's \
         estimates; do not edit by hand. How the suite works: [README.md](README.md).\n\n",
    );
    let _ = writeln!(
        out,
        "Generated {} from `{}`.\n",
        format_utc(report.generated),
        report.criterion_dir.display()
    );
    run_facts(report, &mut out);
    machine_and_versions(report, &mut out);
    out.push_str(
        "## Results\n\n\
         Each cell: criterion's median time per iteration and, in parentheses, its ratio to \
         `tokio_postgres` (the hand-written floor; lower is better, ×1.00 is the floor). \
         Throughput workloads also show elements per second. `round_trip` (a prepared \
         `SELECT 1` on the floor's connection, the physical limit) is shown beside the \
         single-row rows. The machine is shared and noisy: compare ratios within one run. \
         Chart of the ratios: [ratios.svg](ratios.svg).\n\n",
    );
    workload_tables(report, &mut out);
    if let Some(table) = &report.interleaved {
        out.push_str(
            "## Interleaved comparison\n\n\
             Criterion measures one implementation after another; on this machine a \
             single-row workload drifts by up to ±15 % between two of them, and 64 concurrent \
             gets by more (identical binaries measured 0.82–1.27× the floor in consecutive \
             runs). \
             `cargo run -p pgrepo-benches --release --bin interleave` measures every \
             implementation in alternating blocks instead (same database, data, pinning and \
             runtime) and gives each one's ratio to the floor *paired by round*, which the \
             drift cancels out of. Its last output:\n\n",
        );
        out.push_str(table.trim_end());
        out.push_str("\n\n");
    }
    floor_runtime_table(report, &mut out);
    out
}
