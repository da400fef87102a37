//! Transactions: a lazy `BEGIN` pipelined with the first statement, options, aborted
//! transactions that refuse to commit, and the statement mode without named statements.

use futures_util::future::join;
use pgrepo::tokio_postgres::types::Type;
use pgrepo::{Error, Isolation, Sql, StatementMode, TxOptions};

use crate::common::*;

#[tokio::test]
async fn concurrent_first_statements_of_a_transaction_all_run_inside_it() {
    // One connection, on which the second statement is already prepared: it could be sent at
    // once, while the first still waits for its own preparation.
    let t = fresh_with("tx_first", |b| b.max_size(1)).await;
    let cached = "SELECT txid_current()";
    t.db.query(Sql::read(cached), &[]).await.unwrap();
    for i in 0..10 {
        let tx = t.db.begin().await.unwrap();
        let fresh_sql = format!("SELECT txid_current() + {i} - {i}");
        // Neither may overtake the `BEGIN` the first of them carries.
        let (a, b) = join(
            tx.query(Sql::read(&fresh_sql), &[]),
            tx.query(Sql::read(cached), &[]),
        )
        .await;
        let (a, b): (i64, i64) = (a.unwrap()[0].get(0), b.unwrap()[0].get(0));
        assert_eq!(a, b, "both statements in one transaction");
        tx.rollback().await.unwrap();
    }
}

#[tokio::test]
async fn a_transaction_commits_its_statements_and_a_dropped_one_commits_nothing() {
    // One connection: the check after the drop waits for it to come back, rolled back.
    let t = fresh_with("tx_commit", |b| b.max_size(1)).await;
    let tx = t.db.begin().await.unwrap();
    tx.repo::<User>().insert(&new_user(1)).await.unwrap();
    // Not visible outside before the commit (the pool's one connection is the transaction's).
    let outside = t.database.connect().await.unwrap();
    let count = "SELECT count(*) FROM users";
    assert_eq!(
        outside
            .query_one(count, &[])
            .await
            .unwrap()
            .get::<_, i64>(0),
        0
    );
    tx.commit().await.unwrap();
    assert_eq!(t.db.repo::<User>().count().await.unwrap(), 1);

    let tx = t.db.begin().await.unwrap();
    tx.repo::<User>().insert(&new_user(2)).await.unwrap();
    drop(tx);
    assert_eq!(t.db.repo::<User>().count().await.unwrap(), 1);
}

#[tokio::test]
async fn a_transaction_with_a_failed_statement_refuses_to_commit() {
    let t = fresh("tx_aborted").await;
    let tx = t.db.begin().await.unwrap();
    tx.repo::<User>().insert(&new_user(1)).await.unwrap();
    let duplicate = tx.repo::<User>().insert(&new_user(1)).await.unwrap_err();
    assert!(
        matches!(duplicate, Error::UniqueViolation { .. }),
        "{duplicate:?}"
    );
    // The caller ignored the error; the server has aborted the transaction. Committing must
    // not report success.
    let commit = tx.commit().await.unwrap_err();
    assert!(matches!(commit, Error::TransactionAborted), "{commit:?}");
    assert_eq!(t.db.repo::<User>().count().await.unwrap(), 0);
    // A client-side failure (a decode error) does not abort the transaction.
    let tx = t.db.begin().await.unwrap();
    tx.repo::<User>().insert(&new_user(3)).await.unwrap();
    let mismatch = tx.query_as::<User>("SELECT 1", &[]).await.unwrap_err();
    assert!(
        matches!(mismatch, Error::ColumnMismatch { .. }),
        "{mismatch:?}"
    );
    tx.commit().await.unwrap();
    assert_eq!(t.db.repo::<User>().count().await.unwrap(), 1);
}

#[tokio::test]
async fn transaction_options_reach_the_server() {
    let t = fresh_with("tx_options", |b| b.max_size(1)).await;
    let options = TxOptions::new()
        .isolation(Isolation::Serializable)
        .read_only(true)
        .prelude("SET LOCAL lock_timeout = '1234ms'");
    let owned = t.db.begin_with(options).await.unwrap();
    let tx = &owned;
    let show = |setting: &'static str| async move {
        let sql = format!("SHOW {setting}");
        let rows = tx.query(Sql::read(&sql), &[]).await.unwrap();
        rows[0].get::<_, String>(0)
    };
    assert_eq!(show("transaction_isolation").await, "serializable");
    assert_eq!(show("transaction_read_only").await, "on");
    assert_eq!(show("lock_timeout").await, "1234ms");
    let write = tx.repo::<User>().insert(&new_user(1)).await.unwrap_err();
    assert_eq!(
        write.code(),
        Some(&pgrepo::tokio_postgres::error::SqlState::READ_ONLY_SQL_TRANSACTION)
    );
    drop(owned);
    // `SET LOCAL` ended with the transaction: the pooled connection is back to the Db's
    // lock timeout (`Timeouts::default`).
    let t2 =
        t.db.query(Sql::read("SHOW lock_timeout"), &[])
            .await
            .unwrap();
    assert_eq!(t2[0].get::<_, String>(0), "10s");
}

#[tokio::test]
async fn the_closure_form_commits_on_ok_and_rolls_back_on_err() {
    let t = fresh("tx_closure").await;
    t.db.transaction(async |tx| {
        tx.repo::<User>().insert(&new_user(1)).await?;
        Ok(())
    })
    .await
    .unwrap();
    let failed: pgrepo::Result<()> =
        t.db.transaction(async |tx| {
            tx.repo::<User>().insert(&new_user(2)).await?;
            Err(Error::TransactionAborted)
        })
        .await;
    assert!(failed.is_err());
    assert_eq!(t.db.repo::<User>().count().await.unwrap(), 1);
}

#[tokio::test]
async fn unnamed_mode_prepares_no_named_statement() {
    for mode in [StatementMode::Prepared, StatementMode::Unnamed] {
        let t = fresh_with("unnamed", |b| b.max_size(1).statement_mode(mode)).await;
        let users = t.db.repo::<User>();
        let ada = users.insert(&new_user(1)).await.unwrap();
        assert_eq!(users.get(ada.id).await.unwrap().unwrap().email, ada.email);
        assert_eq!(users.list().first(10).await.unwrap().items.len(), 1);
        let n =
            t.db.execute(
                Sql::write("UPDATE users SET score = $1 WHERE id = $2")
                    .types(&[Type::FLOAT8, Type::INT8]),
                &[&2.5_f64, &ada.id],
            )
            .await
            .unwrap();
        assert_eq!(n, 1);
        let typed = Sql::read("SELECT email FROM users WHERE id = $1").types(&[Type::INT8]);
        let rows = t.db.query(typed, &[&ada.id]).await.unwrap();
        assert_eq!(rows[0].get::<_, String>(0), ada.email);
        let tx = t.db.begin().await.unwrap();
        tx.repo::<User>().delete(ada.id).await.unwrap();
        tx.rollback().await.unwrap();
        // Same connection (a pool of one): its named statements, counted by the server.
        let named: i64 =
            t.db.query(
                Sql::read("SELECT count(*) FROM pg_prepared_statements"),
                &[],
            )
            .await
            .unwrap()[0]
                .get(0);
        match mode {
            StatementMode::Unnamed => assert_eq!(named, 0, "unnamed mode kept named statements"),
            _ => assert!(named >= 3, "prepared mode keeps its statements: {named}"),
        }
    }
}

#[tokio::test]
async fn batch_execute_goes_through_the_scope() {
    let t = fresh("tx_batch").await;
    let strict = t.db.strict();
    strict
        .batch_execute("CREATE TABLE t1 (id int); INSERT INTO t1 VALUES (1)")
        .await
        .unwrap();
    let counts = strict.counts();
    assert_eq!(counts.len(), 1);
    assert_eq!(counts[0].statement, "batch_execute");
    // Inside a transaction, a batch carries the transaction's `BEGIN` and rolls back with it.
    let tx = t.db.begin().await.unwrap();
    tx.batch_execute("INSERT INTO t1 VALUES (2)").await.unwrap();
    tx.rollback().await.unwrap();
    let n: i64 =
        t.db.query(Sql::read("SELECT count(*) FROM t1"), &[])
            .await
            .unwrap()[0]
            .get(0);
    assert_eq!(n, 1);
}

#[tokio::test]
async fn a_nested_transaction_rolls_back_alone() {
    let t = fresh("tx_nested").await;
    t.db.transaction(async |tx| {
        tx.repo::<User>().insert(&new_user(1)).await?;
        // A duplicate in the nested transaction: rolled back alone, the outer goes on.
        let nested = tx
            .transaction(async |tx| {
                tx.repo::<User>().insert(&new_user(2)).await?;
                tx.repo::<User>().insert(&new_user(1)).await
            })
            .await;
        assert!(
            matches!(nested, Err(Error::UniqueViolation { .. })),
            "{nested:?}"
        );
        // An `Ok` nested transaction keeps its work.
        tx.transaction(async |tx| tx.repo::<User>().insert(&new_user(3)).await)
            .await?;
        tx.repo::<User>().insert(&new_user(4)).await?;
        Ok(())
    })
    .await
    .unwrap();
    let mut emails: Vec<String> =
        t.db.repo::<User>()
            .all()
            .await
            .unwrap()
            .into_iter()
            .map(|u| u.email)
            .collect();
    emails.sort();
    assert_eq!(
        emails,
        [
            "user1@example.com",
            "user3@example.com",
            "user4@example.com"
        ]
    );
}

#[tokio::test]
async fn a_dropped_nested_transaction_poisons_its_transaction() {
    let t = fresh("tx_nested_drop").await;
    let tx = t.db.begin().await.unwrap();
    tx.repo::<User>().insert(&new_user(1)).await.unwrap();
    let nested = tx.transaction(async |tx| {
        tx.repo::<User>().insert(&new_user(2)).await?;
        tx.execute("SELECT pg_sleep(1)", &[]).await?;
        Ok(())
    });
    // Cancelled half-way (a request timeout): its insert cannot be told apart any more.
    let timed_out = tokio::time::timeout(std::time::Duration::from_millis(300), nested).await;
    assert!(timed_out.is_err());
    let commit = tx.commit().await.unwrap_err();
    assert!(matches!(commit, Error::TransactionAborted), "{commit:?}");
    assert_eq!(t.db.repo::<User>().count().await.unwrap(), 0);
}

#[tokio::test]
async fn a_transaction_whose_first_statement_failed_before_begin_never_reports_a_commit() {
    // A syntax error fails while the statement is prepared, before its `BEGIN` went out: the
    // transaction ran nothing, and its caller must still not hear "committed".
    let t = fresh("tx_failed_first").await;
    let tx = t.db.begin().await.unwrap();
    assert!(tx.execute("SELEC 1", &[]).await.is_err());
    let error = tx.commit().await.unwrap_err();
    assert!(matches!(error, Error::TransactionAborted), "{error:?}");
    // Nothing ran: the pool serves on.
    assert_eq!(t.db.repo::<User>().count().await.unwrap(), 0);
}
