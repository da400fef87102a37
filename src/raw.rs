//! Hand-written SQL through the same statement cache and error classification as generated
//! statements: the escape hatch of [`Db::query_as`](crate::Db::query_as) and friends.

use deadpool_postgres::ClientWrapper;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use crate::entity::FromRow;
use crate::error::{Error, Result};
use crate::executor::{self, Retry};
use crate::statements::{Shape, Statement};

const TABLE: &str = "(query)";

fn statement(sql: &str, label: &'static str) -> Statement {
    Statement::new(sql, Vec::new(), TABLE, label, Shape::Rows)
}

pub(crate) async fn query_as_on<T: FromRow>(
    client: &ClientWrapper,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
    retry: Retry,
) -> Result<Vec<T>> {
    let statement = statement(sql, "query_as");
    let prepared = client
        .prepare_typed_cached(&statement.sql, &statement.types)
        .await
        .map_err(|e| Error::from_driver(e, TABLE, "query_as"))?;
    if prepared.columns().len() != T::COLUMN_COUNT {
        let names: Vec<&str> = prepared.columns().iter().map(|c| c.name()).collect();
        return Err(Error::ColumnMismatch {
            target: std::any::type_name::<T>(),
            expected: format!("{} columns", T::COLUMN_COUNT),
            found: format!("{} columns ({})", names.len(), names.join(", ")),
        });
    }
    let rows = executor::query_on(client, &statement, params, retry).await?;
    rows.iter().map(T::from_row).collect()
}

pub(crate) async fn query_on(
    client: &ClientWrapper,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
    retry: Retry,
) -> Result<Vec<Row>> {
    executor::query_on(client, &statement(sql, "query"), params, retry).await
}

pub(crate) async fn execute_on(
    client: &ClientWrapper,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
    retry: Retry,
) -> Result<u64> {
    executor::execute_on(client, &statement(sql, "execute"), params, retry).await
}
