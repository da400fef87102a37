//! Constraints that name what they reject: NOT NULL (table and column), CHECK (constraint).

use pgrepo::tokio_postgres::error::SqlState;
use pgrepo::Error;

use super::*;
use crate::common::*;

fn is_not_null_of_gadget_name(err: &Error, statement_table: &str) -> bool {
    matches!(
        err,
        Error::NotNullViolation { table, relation: Some(relation), column: Some(column), .. }
            if *table == statement_table && relation == "gadgets" && column == "name"
    )
}

#[tokio::test]
async fn a_null_for_a_not_null_column_names_its_table_and_column() {
    let (t, _) = single_connection("kind_not_null").await;
    let pid = backend_pid(&t.db).await;
    let nameless = NewGadget {
        name: None,
        price: 5,
    };

    let err = t.db.repo::<Gadget>().insert(&nameless).await.unwrap_err();
    assert!(is_not_null_of_gadget_name(&err, "gadgets"), "{err:?}");
    assert!(
        matches!(
            err,
            Error::NotNullViolation {
                statement: "insert",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(!err.is_retryable());
    assert_driver_source(&err, &SqlState::NOT_NULL_VIOLATION);
    assert!(err.to_string().contains("`gadgets`.`name`"), "{err}");
    same_connection_serves_on(&t.db, pid).await;

    let err =
        t.db.execute("INSERT INTO gadgets (name, price) VALUES (NULL, 5)", &[])
            .await
            .unwrap_err();
    assert!(is_not_null_of_gadget_name(&err, "(query)"), "{err:?}");
    assert_driver_source(&err, &SqlState::NOT_NULL_VIOLATION);
    same_connection_serves_on(&t.db, pid).await;

    // In a transaction, which it aborts.
    let tx = t.db.begin().await.unwrap();
    let err = tx.repo::<Gadget>().insert(&nameless).await.unwrap_err();
    assert!(is_not_null_of_gadget_name(&err, "gadgets"), "{err:?}");
    let commit = tx.commit().await.unwrap_err();
    assert!(matches!(commit, Error::TransactionAborted), "{commit:?}");
    same_connection_serves_on(&t.db, pid).await;

    // A domain's NOT NULL names no table or column.
    t.db.batch_execute("CREATE DOMAIN gadget_label AS text NOT NULL")
        .await
        .unwrap();
    let err =
        t.db.query("SELECT NULL::gadget_label", &[])
            .await
            .unwrap_err();
    assert!(
        matches!(
            err,
            Error::NotNullViolation {
                relation: None,
                column: None,
                ..
            }
        ),
        "{err:?}"
    );
    assert_driver_source(&err, &SqlState::NOT_NULL_VIOLATION);
}

fn is_gadget_price_check(err: &Error, statement_table: &str) -> bool {
    matches!(
        err,
        Error::CheckViolation { table, relation: Some(relation), constraint: Some(constraint), .. }
            if *table == statement_table
                && relation == "gadgets"
                && constraint == "gadgets_price_positive"
    )
}

#[tokio::test]
async fn a_row_failing_a_check_constraint_names_the_constraint() {
    let (t, _) = single_connection("kind_check").await;
    let pid = backend_pid(&t.db).await;
    let gadgets = t.db.repo::<Gadget>();

    let err = gadgets
        .insert(&NewGadget {
            name: Some("free".into()),
            price: 0,
        })
        .await
        .unwrap_err();
    assert!(is_gadget_price_check(&err, "gadgets"), "{err:?}");
    assert!(!err.is_retryable());
    assert_driver_source(&err, &SqlState::CHECK_VIOLATION);
    assert!(
        err.to_string()
            .contains("`gadgets_price_positive` of `gadgets`"),
        "{err}"
    );
    same_connection_serves_on(&t.db, pid).await;

    // An update, in a transaction, through the repository and as hand-written SQL.
    let mut gadget = gadgets
        .insert(&NewGadget {
            name: Some("lamp".into()),
            price: 10,
        })
        .await
        .unwrap();
    let tx = t.db.begin().await.unwrap();
    gadget.price = -1;
    let err = tx.repo::<Gadget>().update(&gadget).await.unwrap_err();
    assert!(is_gadget_price_check(&err, "gadgets"), "{err:?}");
    assert!(
        matches!(
            err,
            Error::CheckViolation {
                statement: "update",
                ..
            }
        ),
        "{err:?}"
    );
    tx.rollback().await.unwrap();
    let err =
        t.db.execute("UPDATE gadgets SET price = -1", &[])
            .await
            .unwrap_err();
    assert!(is_gadget_price_check(&err, "(query)"), "{err:?}");
    assert_driver_source(&err, &SqlState::CHECK_VIOLATION);
    assert_eq!(backend_pid(&t.db).await, pid);
    assert_eq!(gadgets.get(gadget.id).await.unwrap().unwrap().price, 10);
}
