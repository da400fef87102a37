//! Production connections, shown on throwaway servers: TLS with `verify-full` and what a wrong
//! host name or root looks like; statement and lock timeouts as typed errors; an exhausted pool
//! that says who holds its connections; a server restart under load; a graceful shutdown.
//!
//! Needs nothing but the PostgreSQL server binaries and `openssl`: it starts two throwaway
//! servers of its own (one TLS-only with its own CA, one it restarts), so `DATABASE_URL` is
//! ignored. Run with `cargo run --example production` (about 15 s).

use std::collections::BTreeMap;
use std::error::Error as StdError;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pgrepo::prelude::*;
use pgrepo::testkit::{ClusterOptions, TestCluster, TestDatabase, SERVER_HOST_NAME};
use pgrepo::{Error, Timeouts, TxOptions};

type Result<T, E = Box<dyn StdError>> = std::result::Result<T, E>;

#[tokio::main]
async fn main() -> Result<()> {
    println!("starting two throwaway PostgreSQL servers (one TLS-only) …");
    let (tls_cluster, cluster) = tokio::task::block_in_place(|| {
        let tls_only = ClusterOptions::default()
            .tls_only()
            .without_pg_stat_statements();
        let plain = ClusterOptions::default().without_pg_stat_statements();
        Ok::<_, pgrepo::testkit::TestkitError>((
            TestCluster::start(tls_only)?,
            TestCluster::start(plain)?,
        ))
    })?;

    tls(&tls_cluster).await?;
    let database = cluster.create_database("production").await?;
    timeouts(&database).await?;
    pool_exhaustion(&database).await?;
    restart(&cluster, &database).await?;
    shutdown(&database).await?;
    tokio::task::block_in_place(|| drop((tls_cluster, cluster)));
    Ok(())
}

fn heading(title: &str) {
    println!("\n=== {title} ===");
}

/// The error's message, then each `source()` beneath it.
fn print_chain(error: &dyn StdError) {
    println!("  error: {error}");
    let mut cause = error.source();
    while let Some(current) = cause {
        println!("    caused by: {current}");
        cause = current.source();
    }
}

/// (a) `sslmode=verify-full` against a server with its own CA.
async fn tls(cluster: &TestCluster) -> Result<()> {
    heading("TLS: verify-full with the server's CA");
    let files = cluster.tls().expect("a TLS-only cluster");
    let database = cluster.create_database("production_tls").await?;
    let url = |host: &str, query: String| {
        format!(
            "postgres://postgres@{host}:{}/{}?{query}",
            cluster.port(),
            database.name()
        )
    };
    let ca = files.ca_cert();
    let good = url(
        "127.0.0.1",
        format!("sslmode=verify-full&sslrootcert={}", ca.display()),
    );
    println!("connecting to {good}");
    let db = Db::connect(&good).await?;
    let row = db
        .query(
            "SELECT version, cipher FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await?;
    let (version, cipher): (String, String) = (row[0].get(0), row[0].get(1));
    println!(
        "  connected: {version}, {cipher}; the certificate chains to the CA and names 127.0.0.1"
    );
    db.close(Duration::from_secs(1)).await;

    println!("\nthe same CA, but a host name the certificate does not carry (only {SERVER_HOST_NAME} and 127.0.0.1):");
    let wrong_host = url(
        "wrong-host.test",
        format!(
            "hostaddr=127.0.0.1&sslmode=verify-full&sslrootcert={}",
            ca.display()
        ),
    );
    refused(&wrong_host).await;

    println!("\nthe right host, but a root that did not sign the server's certificate:");
    let wrong_root = url(
        "127.0.0.1",
        format!(
            "sslmode=verify-full&sslrootcert={}",
            files.other_ca_cert().display()
        ),
    );
    refused(&wrong_root).await;

    println!("\nno TLS at all: the server only has hostssl lines");
    refused(&url("127.0.0.1", "sslmode=disable".to_owned())).await;
    Ok(())
}

async fn refused(url: &str) {
    match Db::connect(url).await {
        Ok(_) => println!("  unexpectedly connected"),
        Err(error) => {
            print_chain(&error);
            if let Some(tls) = error.tls_error() {
                println!("  tls_error(): kind {:?}, host {}", tls.kind(), tls.host());
            }
        }
    }
}

/// (b) Statement and lock-wait timeouts, each a typed error, the connection usable after.
async fn timeouts(database: &TestDatabase) -> Result<()> {
    heading("Timeouts");
    println!("Db defaults: {:?}", Timeouts::default());
    let timeouts = Timeouts::default()
        .statement(Some(Duration::from_millis(500)))
        .lock(Some(Duration::from_millis(300)));
    let db = Db::builder(&database.url())?
        .application_name("production-example")
        .timeouts(timeouts)
        .connect()
        .await?;
    db.batch_execute(
        "CREATE TABLE accounts (id int PRIMARY KEY, balance bigint NOT NULL);
         INSERT INTO accounts VALUES (1, 100), (2, 50);",
    )
    .await?;
    println!("this Db: statement_timeout 500 ms, lock_timeout 300 ms (startup options)");

    let error = db.execute("SELECT pg_sleep(5)", &[]).await.unwrap_err();
    if let Error::QueryCanceled { reason, .. } = &error {
        println!("pg_sleep(5) -> Error::QueryCanceled {{ reason: {reason:?}, .. }}");
    }
    print_chain(&error);

    // Another transaction holds the row; the UPDATE waits for it until lock_timeout.
    let holder = db.begin().await?;
    holder
        .execute("SELECT * FROM accounts WHERE id = 1 FOR UPDATE", &[])
        .await?;
    let error = db
        .execute(
            "UPDATE accounts SET balance = balance + 1 WHERE id = 1",
            &[],
        )
        .await
        .unwrap_err();
    if let Error::LockNotAvailable { cause, .. } = &error {
        println!("\nUPDATE of a locked row -> Error::LockNotAvailable {{ cause: {cause:?}, .. }}");
    }
    print_chain(&error);
    holder.rollback().await?;
    let n = db
        .execute(
            "UPDATE accounts SET balance = balance + 1 WHERE id = 1",
            &[],
        )
        .await?;
    println!("\nthe next statement succeeds on the same pool: {n} row updated");

    // A report that needs longer than the Db allows raises the limit for its transaction only.
    let report =
        TxOptions::new().timeouts(Timeouts::none().statement(Some(Duration::from_secs(3))));
    let started = Instant::now();
    db.transaction_with(report, async |tx| {
        tx.execute("SELECT pg_sleep(1)", &[]).await?;
        Ok(())
    })
    .await?;
    println!(
        "TxOptions::timeouts(statement 3 s): pg_sleep(1) in that transaction succeeded ({} ms)",
        started.elapsed().as_millis()
    );
    let show: String = db.query("SHOW statement_timeout", &[]).await?[0].get(0);
    println!("and afterwards the connection is back at the Db's statement_timeout: {show}");
    db.close(Duration::from_secs(1)).await;
    Ok(())
}

/// (c) An exhausted pool says how full it is and where its holders borrowed their connections.
async fn pool_exhaustion(database: &TestDatabase) -> Result<()> {
    heading("Pool exhaustion");
    let db = Db::builder(&database.url())?
        .max_size(2)
        .wait_timeout(Duration::from_millis(300))
        .connect()
        .await?;
    println!("max_size 2, wait_timeout 300 ms; two tasks each hold a transaction for 1.5 s");
    let holders: Vec<_> = (0..2)
        .map(|_| {
            let db = db.clone();
            tokio::spawn(async move {
                let tx = db.begin().await?;
                tx.execute("SELECT pg_sleep(1.5)", &[]).await?;
                tx.commit().await
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    println!("Db::status() while they hold: {:?}", db.status());

    let error = db.begin().await.map(drop).unwrap_err();
    println!("a third db.begin():");
    print_chain(&error);
    if let Error::PoolTimeout {
        max_size,
        in_use,
        idle,
        waiting,
        holders,
        ..
    } = &error
    {
        println!("  fields: max_size {max_size}, in_use {in_use}, idle {idle}, waiting {waiting}");
        for holder in holders {
            println!(
                "  holder: borrowed at {}:{}, held for {} ms",
                holder.borrowed_at.file(),
                holder.borrowed_at.line(),
                holder.held_for.as_millis()
            );
        }
    }
    for holder in holders {
        holder.await??;
    }
    println!("after they commit: {:?}", db.status());
    db.close(Duration::from_secs(1)).await;
    Ok(())
}

/// (d) The server restarts under load; the pool serves again once it is back.
async fn restart(cluster: &TestCluster, database: &TestDatabase) -> Result<()> {
    heading("Server restart under load");
    let db = Db::builder(&database.url())?
        .max_size(4)
        .connect_timeout(Duration::from_secs(2))
        .connect()
        .await?;
    let stop = Arc::new(AtomicBool::new(false));
    let last_error = Arc::new(Mutex::new(BTreeMap::<String, (usize, String)>::new()));
    let first_success_after = Arc::new(Mutex::new(None::<Instant>));
    let restarted_at = Arc::new(Mutex::new(None::<Instant>));
    // Eight tasks reading back to back, as a service under load does.
    let readers: Vec<_> = (0..8)
        .map(|_| {
            let (db, stop, errors) = (db.clone(), stop.clone(), last_error.clone());
            let (first, restarted) = (first_success_after.clone(), restarted_at.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    match db.query(Sql::read("SELECT 1"), &[]).await {
                        Ok(_) => {
                            if restarted.lock().unwrap().is_some() {
                                first.lock().unwrap().get_or_insert_with(Instant::now);
                            }
                        }
                        Err(error) => {
                            let mut errors = errors.lock().unwrap();
                            let entry = errors.entry(variant(&error)).or_default();
                            entry.0 += 1;
                            entry.1 = error.to_string();
                        }
                    }
                }
            })
        })
        .collect();
    // A write in flight when the server goes down: it may have been applied, so no retry.
    let write = tokio::spawn({
        let db = db.clone();
        async move { db.execute("SELECT pg_sleep(10)", &[]).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;

    let started = Instant::now();
    tokio::task::block_in_place(|| cluster.restart())?;
    *restarted_at.lock().unwrap() = Some(Instant::now());
    println!(
        "pg_ctl restart -m fast took {} ms",
        started.elapsed().as_millis()
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::Relaxed);
    for reader in readers {
        reader.await?;
    }
    match *first_success_after.lock().unwrap() {
        Some(at) => println!(
            "served again {} ms after the server was back ({} ms after the restart began)",
            at.duration_since(restarted_at.lock().unwrap().unwrap())
                .as_millis(),
            at.duration_since(started).as_millis()
        ),
        None => println!("not served again within 2 s"),
    }
    println!("failed reads while it was down, by variant:");
    for (variant, (count, example)) in last_error.lock().unwrap().iter() {
        println!("  {variant} x{count}: {example}");
    }
    match write.await? {
        Err(error @ Error::ConnectionLost { retry_safe, .. }) => {
            println!("the write in flight -> Error::ConnectionLost {{ retry_safe: {retry_safe}, .. }}, is_retryable() = {}", error.is_retryable());
            print_chain(&error);
        }
        other => println!("the write in flight -> {other:?}"),
    }
    println!("Db::status() now: {:?}", db.status());
    db.close(Duration::from_secs(1)).await;
    Ok(())
}

fn variant(error: &Error) -> String {
    let debug = format!("{error:?}");
    let end = debug.find([' ', '{', '(']).unwrap_or(debug.len());
    format!("Error::{}", &debug[..end])
}

/// (e) A readiness probe, then a graceful shutdown that lets running work finish.
async fn shutdown(database: &TestDatabase) -> Result<()> {
    heading("Readiness and graceful shutdown");
    let db = Db::connect(&database.url()).await?;
    println!(
        "Db::ping(): answered in {} µs",
        db.ping().await?.as_micros()
    );
    let running = tokio::spawn({
        let db = db.clone();
        async move {
            db.transaction(async |tx| {
                tx.execute("SELECT pg_sleep(0.5)", &[]).await?;
                Ok(())
            })
            .await
        }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    let still_open = db.close(Duration::from_secs(5)).await;
    println!(
        "Db::close(5 s) returned after {} ms with {still_open} connection(s) still open",
        started.elapsed().as_millis()
    );
    println!("the transaction running during close: {:?}", running.await?);
    let error = db.ping().await.unwrap_err();
    println!("Db::ping() after close:");
    print_chain(&error);
    Ok(())
}
