//! What a failed `COMMIT` tells the caller: known not committed (the server rejected it, or
//! never received it), or unknown (sent, and the connection failed before the answer); and
//! connections of unknown state never reach another caller.

use std::time::Duration;

use pgrepo::tokio_postgres::error::SqlState;
use pgrepo::tokio_postgres::Client;
use pgrepo::{Db, Error, Isolation, TxOptions};

use crate::common::*;

/// `ledger` rows pass a gate when their transaction commits: a deferred trigger that waits for
/// an advisory lock, so a test can hold a `COMMIT` on the server for as long as it needs.
const GATED_LEDGER: &str = r#"
CREATE TABLE ledger (id BIGINT PRIMARY KEY, note TEXT NOT NULL);
CREATE FUNCTION ledger_gate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(4242);
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER ledger_gate AFTER INSERT ON ledger
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_gate();
"#;

/// Closes the gate: `COMMIT`s of ledger rows wait until the returned session ends.
async fn close_gate(t: &TestDb) -> Client {
    let gate = t.database.connect().await.unwrap();
    gate.execute("SELECT pg_advisory_lock(4242)", &[])
        .await
        .unwrap();
    gate
}

/// Waits until backend `pid` is running `COMMIT` and waiting at the gate (so `COMMIT` has
/// reached the server), then terminates it.
async fn terminate_while_committing(admin: &Client, pid: i32) {
    for _ in 0..500 {
        let waiting: bool = admin
            .query_one(
                "SELECT EXISTS (SELECT FROM pg_stat_activity WHERE pid = $1 \
                 AND query = 'COMMIT' AND wait_event_type = 'Lock')",
                &[&pid],
            )
            .await
            .unwrap()
            .get(0);
        if waiting {
            terminate(admin, pid).await;
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("backend {pid} never waited at the gate in COMMIT");
}

/// Terminates backend `pid` and waits for it to exit.
async fn terminate(admin: &Client, pid: i32) {
    let terminated: bool = admin
        .query_one("SELECT pg_terminate_backend($1, 5000)", &[&pid])
        .await
        .unwrap()
        .get(0);
    assert!(terminated, "backend {pid} terminated");
}

async fn backend_pid(db: &impl Executor) -> i32 {
    db.query("SELECT pg_backend_pid()", &[]).await.unwrap()[0].get(0)
}

async fn ledger_rows(t: &TestDb) -> i64 {
    let outside = t.database.connect().await.unwrap();
    outside
        .query_one("SELECT count(*) FROM ledger", &[])
        .await
        .unwrap()
        .get(0)
}

fn assert_unknown_after_termination(err: &Error) {
    assert!(matches!(err, Error::CommitOutcomeUnknown { .. }), "{err:?}");
    assert_eq!(err.code(), Some(&SqlState::ADMIN_SHUTDOWN), "{err:?}");
    let text = err.to_string();
    for needle in [
        "may or may not have committed",
        "idempotency key",
        "terminating connection due to administrator command (SQLSTATE 57P01)",
    ] {
        assert!(text.contains(needle), "{needle:?} in {text}");
    }
    let source = std::error::Error::source(err).expect("the driver's error");
    assert!(source
        .downcast_ref::<pgrepo::tokio_postgres::Error>()
        .is_some());
}

#[tokio::test]
async fn a_commit_cut_off_by_a_terminated_backend_has_an_unknown_outcome() {
    // One connection: serving again afterwards needs a new one.
    let t = fresh_with("commit_unknown", |b| b.max_size(1)).await;
    t.db.batch_execute(GATED_LEDGER).await.unwrap();
    let admin = t.database.connect().await.unwrap();
    let gate = close_gate(&t).await;

    let tx = t.db.begin().await.unwrap();
    let pid = backend_pid(&tx).await;
    tx.execute("INSERT INTO ledger VALUES (1, 'paid')", &[])
        .await
        .unwrap();
    let (commit, ()) = tokio::join!(tx.commit(), terminate_while_committing(&admin, pid));
    let err = commit.unwrap_err();
    assert_unknown_after_termination(&err);
    drop(gate);

    // Unknown to the client, not to the server: this one was stopped at the gate, before its
    // commit record. The caller has to look, which is what the error says.
    assert_eq!(ledger_rows(&t).await, 0);
    // The pool serves on, on a new connection: the terminated one is not handed out.
    assert_ne!(backend_pid(&t.db).await, pid);
    assert_eq!(t.db.repo::<User>().count().await.unwrap(), 0);
}

#[tokio::test]
async fn the_closure_form_reports_an_unknown_commit_outcome_too() {
    let t = fresh_with("commit_unknown_closure", |b| b.max_size(1)).await;
    t.db.batch_execute(GATED_LEDGER).await.unwrap();
    let gate = close_gate(&t).await;

    let mut terminator = None;
    let mut backend = 0;
    let result =
        t.db.transaction(async |tx| {
            backend = backend_pid(tx).await;
            tx.execute("INSERT INTO ledger VALUES (1, 'paid')", &[])
                .await?;
            let (database, pid) = (t.database.clone(), backend);
            // Runs while `transaction` commits, after this body returns.
            terminator = Some(tokio::spawn(async move {
                let admin = database.connect().await.unwrap();
                terminate_while_committing(&admin, pid).await;
            }));
            Ok("committed?")
        })
        .await;
    terminator.expect("the body ran").await.unwrap();
    let err = result.unwrap_err();
    assert_unknown_after_termination(&err);
    drop(gate);
    assert_ne!(backend_pid(&t.db).await, backend);
}

#[tokio::test]
async fn a_commit_after_the_connection_closed_is_known_not_to_have_committed() {
    let t = fresh_with("commit_lost", |b| b.max_size(1)).await;
    let admin = t.database.connect().await.unwrap();

    let tx = t.db.begin().await.unwrap();
    let pid = backend_pid(&tx).await;
    tx.repo::<User>().insert(&new_user(1)).await.unwrap();
    terminate(&admin, pid).await;
    // A statement meets the closed connection: from here on the client knows it is gone, so a
    // `COMMIT` cannot have been sent.
    let statement = tx.query("SELECT 1", &[]).await.unwrap_err();
    assert_eq!(statement.code(), None, "{statement:?}");
    let err = tx.commit().await.unwrap_err();
    assert!(matches!(err, Error::TransactionLost { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("nothing of the transaction was committed"),
        "{text}"
    );
    assert!(text.contains("connection closed"), "{text}");

    assert_eq!(t.db.repo::<User>().count().await.unwrap(), 0);
    assert_ne!(backend_pid(&t.db).await, pid);
}

#[tokio::test]
async fn an_aborted_transaction_whose_connection_died_still_reports_nothing_committed() {
    let t = fresh_with("commit_aborted_lost", |b| b.max_size(1)).await;
    let admin = t.database.connect().await.unwrap();

    let tx = t.db.begin().await.unwrap();
    let pid = backend_pid(&tx).await;
    tx.repo::<User>().insert(&new_user(1)).await.unwrap();
    let duplicate = tx.repo::<User>().insert(&new_user(1)).await.unwrap_err();
    assert!(
        matches!(duplicate, Error::UniqueViolation { .. }),
        "{duplicate:?}"
    );
    terminate(&admin, pid).await;
    // Its ROLLBACK cannot get through, but no COMMIT is ever sent: the answer stays that
    // nothing of it was committed, not the rollback's "connection closed".
    let err = tx.commit().await.unwrap_err();
    assert!(matches!(err, Error::TransactionAborted), "{err:?}");
    assert_ne!(backend_pid(&t.db).await, pid);
}

#[tokio::test]
async fn a_commit_right_after_the_backend_died_never_reads_as_an_ordinary_failure() {
    let t = fresh_with("commit_after_death", |b| b.max_size(1)).await;
    let admin = t.database.connect().await.unwrap();

    let tx = t.db.begin().await.unwrap();
    let pid = backend_pid(&tx).await;
    tx.repo::<User>().insert(&new_user(1)).await.unwrap();
    terminate(&admin, pid).await;
    // Whether the client has noticed yet is a race: the outcome is known (never sent) or,
    // when the `COMMIT` was handed to a connection that turned out closed, unknown. Never a
    // success, never a plain query error a caller would retry.
    let err = tx.commit().await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::TransactionLost { .. } | Error::CommitOutcomeUnknown { .. }
        ),
        "{err:?}"
    );
    assert_eq!(t.db.repo::<User>().count().await.unwrap(), 0);
    assert_ne!(backend_pid(&t.db).await, pid);
}

#[tokio::test]
async fn a_commit_the_server_rejects_is_a_known_failure_and_keeps_the_connection() {
    let t = fresh_with("commit_rejected", |b| b.max_size(2)).await;
    t.db.batch_execute(
        "CREATE TABLE slots (code TEXT UNIQUE DEFERRABLE INITIALLY DEFERRED);
         CREATE TABLE owners (id BIGINT PRIMARY KEY);
         CREATE TABLE pets (owner BIGINT REFERENCES owners (id) DEFERRABLE INITIALLY DEFERRED);
         CREATE TABLE seats (n INT NOT NULL)",
    )
    .await
    .unwrap();

    // A deferred unique constraint fails at COMMIT: the server answered, nothing committed.
    let tx = t.db.begin().await.unwrap();
    let pid = backend_pid(&tx).await;
    tx.execute("INSERT INTO slots VALUES ('a'), ('a')", &[])
        .await
        .unwrap();
    let err = tx.commit().await.unwrap_err();
    assert!(
        matches!(
            &err,
            Error::UniqueViolation { table: "(transaction)", statement: "commit", constraint, .. }
                if constraint == "slots_code_key"
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("(SQLSTATE 23505)"), "{err}");
    // The session is fine: the same connection serves the next caller.
    let tx = t.db.begin().await.unwrap();
    assert_eq!(backend_pid(&tx).await, pid);

    // A deferred foreign key.
    tx.execute("INSERT INTO pets VALUES (7)", &[])
        .await
        .unwrap();
    let err = tx.commit().await.unwrap_err();
    assert!(matches!(err, Error::ForeignKeyViolation { .. }), "{err:?}");
    assert!(err.to_string().contains("(SQLSTATE 23503)"), "{err}");

    // A serialization failure raised by COMMIT (write skew: the second to commit is the pivot).
    let serializable = || TxOptions::new().isolation(Isolation::Serializable);
    let first = t.db.begin_with(serializable()).await.unwrap();
    let second = t.db.begin_with(serializable()).await.unwrap();
    let count = "SELECT count(*) FROM seats WHERE n = $1";
    first.query(count, &[&1]).await.unwrap();
    second.query(count, &[&2]).await.unwrap();
    first
        .execute("INSERT INTO seats VALUES (2)", &[])
        .await
        .unwrap();
    second
        .execute("INSERT INTO seats VALUES (1)", &[])
        .await
        .unwrap();
    first.commit().await.unwrap();
    let err = second.commit().await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::SerializationFailure {
                statement: "commit",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.is_retryable(), "{err:?}");
    assert_eq!(err.code(), Some(&SqlState::T_R_SERIALIZATION_FAILURE));
    assert!(err.to_string().contains("(SQLSTATE 40001)"), "{err}");

    let rows: i64 = t.db.query("SELECT count(*) FROM slots", &[]).await.unwrap()[0].get(0);
    assert_eq!(rows, 0);
}

/// Asks the server of `admin`'s session for a smart shutdown (SIGTERM to the postmaster, whose
/// pid begins `postmaster.pid`): it refuses new connections while existing sessions, `admin`'s
/// included, go on.
async fn begin_smart_shutdown(admin: &Client) {
    let pid_file: String = admin
        .query_one("SELECT pg_read_file('postmaster.pid')", &[])
        .await
        .unwrap()
        .get(0);
    let postmaster = pid_file.lines().next().unwrap().trim().to_owned();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &postmaster])
        .status()
        .unwrap();
    assert!(status.success());
}

#[tokio::test]
async fn a_server_shutting_down_refuses_connections_with_its_own_words() {
    // A cluster of its own: this test shuts it down.
    let cluster = tokio::task::spawn_blocking(|| {
        pgrepo::testkit::TestCluster::start(pgrepo::testkit::ClusterOptions::default())
    })
    .await
    .unwrap()
    .expect("a cluster of its own");
    let database = cluster.create_database("shutdown").await.unwrap();
    let admin = database.connect().await.unwrap();
    begin_smart_shutdown(&admin).await;

    let mut refused = None;
    for _ in 0..500 {
        let db = Db::builder(&database.url()).unwrap().build().unwrap();
        match db.query("SELECT 1", &[]).await {
            Ok(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            Err(err) => {
                refused = Some(err);
                break;
            }
        }
    }
    let err = refused.expect("connections refused once shutting down");
    assert!(matches!(err, Error::Connect { .. }), "{err:?}");
    assert_eq!(err.code(), Some(&SqlState::CANNOT_CONNECT_NOW), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("the database system is shutting down (SQLSTATE 57P03)"),
        "{text}"
    );

    drop(admin);
    tokio::task::spawn_blocking(move || drop(cluster))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_statement_dropped_before_it_failed_still_keeps_the_commit_from_reporting_success() {
    let t = fresh_with("commit_unseen_failure", |b| b.max_size(1)).await;
    let tx = t.db.begin().await.unwrap();
    tx.repo::<User>().insert(&new_user(1)).await.unwrap();
    // Sent, then given up on before the server fails it (the cast of '' to int): the server
    // aborts the transaction, and nobody hears about it.
    let late_failure = tx.execute("SELECT (pg_sleep(1))::text::int", &[]);
    let gave_up = tokio::time::timeout(Duration::from_millis(300), late_failure).await;
    assert!(gave_up.is_err(), "{gave_up:?}");
    let err = tx.commit().await.unwrap_err();
    assert!(matches!(err, Error::TransactionAborted), "{err:?}");
    assert_eq!(t.db.repo::<User>().count().await.unwrap(), 0);

    // A statement given up on that then succeeds does not stop the commit.
    let tx = t.db.begin().await.unwrap();
    tx.repo::<User>().insert(&new_user(2)).await.unwrap();
    let late_success = tx.execute("SELECT pg_sleep(1)", &[]);
    let gave_up = tokio::time::timeout(Duration::from_millis(300), late_success).await;
    assert!(gave_up.is_err(), "{gave_up:?}");
    tx.commit().await.unwrap();
    assert_eq!(t.db.repo::<User>().count().await.unwrap(), 1);
}
