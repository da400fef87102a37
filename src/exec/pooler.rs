//! What [`StatementMode::Unnamed`](super::StatementMode::Unnamed) does beyond sending statements
//! unnamed, so that a pooler in transaction mode (PgBouncer, Supavisor) works: it teaches each
//! new connection the database's own types before the connection is first used.
//!
//! Why: the driver (tokio-postgres) learns a type it does not know (an enum, `citext`, a
//! domain, `vector`) when a result or a parameter first has it, with catalog queries it
//! prepares as *named* statements and caches on the connection. Through a pooler in
//! transaction mode their Parse and their Execute may reach different server connections
//! ("prepared statement "s3" does not exist"), and the names stay behind on server connections
//! other clients get. So every type of the database's own schemas is looked up here, when the
//! connection opens, inside one transaction (one server connection throughout), and the named
//! statements the driver prepared for it are deallocated before `COMMIT`: no server connection
//! keeps anything. Types created after a connection opened are unknown to it: a new enum needs
//! new connections (a restart, or [`Db::close`](crate::Db::close) and a new `Db`).
//!
//! Runs as the pool's `post_create` hook: a connection whose setup is interrupted is dropped,
//! never handed out with the transaction open.

use deadpool_postgres::{ClientWrapper, HookError};
use futures_util::future::BoxFuture;

/// The types a statement may meet that the driver does not know by OID: base types (`citext`,
/// `vector`), enums, ranges, multiranges and domains outside the system schemas, and arrays of
/// them (arrays of tables' row types left out: rows are not columns pgrepo decodes). As SQL
/// type names, ready for a cast.
const OWN_TYPES_SQL: &str = "\
SELECT format_type(t.oid, NULL)
FROM pg_catalog.pg_type t
JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
  AND t.typtype IN ('b', 'e', 'r', 'm', 'd')
  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_type e
                  WHERE e.oid = t.typelem AND t.typcategory = 'A' AND e.typtype = 'c')
ORDER BY t.oid";

/// The protocol-level statements prepared in this transaction: the driver's catalog queries.
const PREPARED_HERE_SQL: &str = "\
SELECT name FROM pg_catalog.pg_prepared_statements
WHERE NOT from_sql AND prepare_time >= transaction_timestamp()";

/// Columns per learning statement (PostgreSQL allows 1664 in a select list).
const TYPES_PER_STATEMENT: usize = 500;

/// The `post_create` hook of a `Db` in `StatementMode::Unnamed`.
pub(crate) fn learn_types_hook<'a>(
    client: &'a mut ClientWrapper,
    _metrics: &'a deadpool_postgres::Metrics,
) -> BoxFuture<'a, Result<(), HookError>> {
    Box::pin(async move { learn_types(client).await.map_err(HookError::Backend) })
}

async fn learn_types(client: &ClientWrapper) -> Result<(), tokio_postgres::Error> {
    let types: Vec<String> = client
        .query_typed(OWN_TYPES_SQL, &[])
        .await?
        .iter()
        .map(|row| row.get(0))
        .collect();
    if types.is_empty() {
        return Ok(());
    }
    client.batch_execute("BEGIN").await?;
    for chunk in types.chunks(TYPES_PER_STATEMENT) {
        let columns: Vec<String> = chunk.iter().map(|t| format!("NULL::{t}")).collect();
        // Describing it makes the driver look up each column's type (and, in turn, element,
        // base and enum labels); the statement itself is closed when dropped, still inside.
        drop(
            client
                .prepare(&format!("SELECT {}", columns.join(", ")))
                .await?,
        );
    }
    let names: Vec<String> = client
        .query_typed(PREPARED_HERE_SQL, &[])
        .await?
        .iter()
        .map(|row| row.get(0))
        .collect();
    let mut cleanup = String::new();
    for name in names {
        cleanup.push_str("DEALLOCATE ");
        crate::sql::quote_ident(&mut cleanup, &name);
        cleanup.push_str("; ");
    }
    cleanup.push_str("COMMIT");
    client.batch_execute(&cleanup).await
}
