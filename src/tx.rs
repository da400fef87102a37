//! [`Tx`]: statements that run in one transaction on one connection, committed or rolled back
//! as a whole.

use std::fmt;

use deadpool_postgres::Object;
use futures_util::future::BoxFuture;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use crate::entity::{Entity, FromRow};
use crate::error::{Error, Result};
use crate::exec::{execute_on, query_map_on, Decode, Executor, Params, Retry, Sealed};
use crate::repo::Repo;
use crate::sql::Statement;

/// An open transaction holding one pooled connection.
///
/// End it with [`Tx::commit`] or [`Tx::rollback`]. Dropped while open, it is rolled back in the
/// background before its connection returns to the pool (or the connection is closed when no
/// runtime is available), so an abandoned transaction never leaks into another caller.
pub struct Tx {
    conn: Option<Object>,
    cursor_secret: Option<std::sync::Arc<[u8]>>,
}

impl fmt::Debug for Tx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tx")
            .field("open", &self.conn.is_some())
            .finish()
    }
}

const TX_TABLE: &str = "(transaction)";

impl Tx {
    pub(crate) async fn begin(
        conn: Object,
        cursor_secret: Option<std::sync::Arc<[u8]>>,
    ) -> Result<Tx> {
        conn.batch_execute("BEGIN")
            .await
            .map_err(|e| Error::from_driver(e, TX_TABLE, "begin"))?;
        Ok(Tx {
            conn: Some(conn),
            cursor_secret,
        })
    }

    fn conn(&self) -> &Object {
        // `conn` is only taken by `commit`/`rollback`, which consume `self`.
        self.conn
            .as_ref()
            .expect("transaction connection present until commit/rollback")
    }

    /// The repository of entity `E`, running its statements in this transaction.
    pub fn repo<E: Entity>(&self) -> Repo<'_, E, Tx> {
        Repo::new(self)
    }

    /// A batched loader of `E` by primary key whose batches run in this transaction.
    pub fn loader<E: Entity + Clone>(&self) -> crate::Loader<E, &Tx> {
        crate::Loader::new(self)
    }

    /// Commits the transaction.
    ///
    /// # Errors
    /// The server's error if the commit fails (e.g. a deferred constraint); the transaction is
    /// then rolled back.
    pub async fn commit(mut self) -> Result<()> {
        self.finish("COMMIT", "commit").await
    }

    /// Rolls the transaction back.
    ///
    /// # Errors
    /// A driver error if the connection broke; it is then closed, not reused.
    pub async fn rollback(mut self) -> Result<()> {
        self.finish("ROLLBACK", "rollback").await
    }

    async fn finish(&mut self, sql: &str, label: &'static str) -> Result<()> {
        let conn = self.conn.take().expect("transaction not finished twice");
        match conn.batch_execute(sql).await {
            Ok(()) => Ok(()),
            Err(e) => {
                // The connection's transaction state is unknown: never hand it to another caller.
                drop(Object::take(conn));
                Err(Error::from_driver(e, TX_TABLE, label))
            }
        }
    }

    /// Runs hand-written SQL in this transaction and decodes rows by position into `T`.
    ///
    /// # Errors
    /// [`Error::ColumnMismatch`] when the query's columns do not fit `T`; driver errors.
    pub async fn query_as<T: FromRow + Send>(
        &self,
        sql: &str,
        params: Params<'_>,
    ) -> Result<Vec<T>> {
        crate::raw::query_as_on(self.conn(), sql, params, Retry::Never).await
    }

    /// Runs hand-written SQL in this transaction and returns its rows.
    ///
    /// # Errors
    /// Driver errors.
    pub async fn query(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>> {
        crate::raw::query_on(self.conn(), sql, params, Retry::Never).await
    }

    /// Runs a hand-written statement in this transaction; returns the affected row count.
    ///
    /// # Errors
    /// Driver errors.
    pub async fn execute(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64> {
        crate::raw::execute_on(self.conn(), sql, params, Retry::Never).await
    }
}

impl Drop for Tx {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else { return };
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                handle.spawn(async move {
                    if conn.batch_execute("ROLLBACK").await.is_err() {
                        drop(Object::take(conn));
                    }
                });
            }
            Err(_) => drop(Object::take(conn)),
        }
    }
}

impl Sealed for Tx {}
impl Executor for Tx {
    fn query_map<'a, T: Send + 'a>(
        &'a self,
        statement: &'a Statement,
        params: Params<'a>,
        decode: Decode<'a, T>,
    ) -> BoxFuture<'a, Result<Vec<T>>> {
        Box::pin(async move {
            query_map_on(
                &**self.conn(),
                statement,
                params,
                Retry::Never,
                decode,
                None,
            )
            .await
        })
    }

    fn run_execute<'a>(
        &'a self,
        statement: &'a Statement,
        params: Params<'a>,
    ) -> BoxFuture<'a, Result<u64>> {
        Box::pin(async move { execute_on(&**self.conn(), statement, params, Retry::Never).await })
    }

    fn cursor_secret(&self) -> Option<&std::sync::Arc<[u8]>> {
        self.cursor_secret.as_ref()
    }
}
