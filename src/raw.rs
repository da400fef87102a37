//! Hand-written SQL through the same statement cache and error classification as generated
//! statements: the escape hatch of [`Db::query_as`](crate::Db::query_as) and friends.

use deadpool_postgres::ClientWrapper;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use crate::entity::FromRow;
use crate::error::Result;
use crate::exec::{self, Retry};
use crate::sql::{Shape, Statement};

const TABLE: &str = "(query)";

fn statement(sql: &str, label: &'static str) -> Statement {
    Statement::ad_hoc(sql, Vec::new(), TABLE, label, Shape::Rows)
}

pub(crate) async fn query_as_on<T: FromRow + Send>(
    client: &ClientWrapper,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
    retry: Retry,
) -> Result<Vec<T>> {
    exec::query_map_on(
        client,
        &statement(sql, "query_as"),
        params,
        retry,
        &crate::repo::decode::<T>,
        Some((T::COLUMN_COUNT, std::any::type_name::<T>())),
    )
    .await
}

pub(crate) async fn query_on(
    client: &ClientWrapper,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
    retry: Retry,
) -> Result<Vec<Row>> {
    exec::query_on(client, &statement(sql, "query"), params, retry).await
}

pub(crate) async fn execute_on(
    client: &ClientWrapper,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
    retry: Retry,
) -> Result<u64> {
    exec::execute_on(client, &statement(sql, "execute"), params, retry).await
}
