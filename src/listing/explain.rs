//! The server's plan of a listing's page: `EXPLAIN`, and `EXPLAIN (ANALYZE, BUFFERS)` to see
//! that a deep page reads what the first one reads.

use super::{Cursor, Listing};
use crate::entity::Entity;
use crate::error::Result;
use crate::exec::Executor;
use crate::sql::{Shape, Statement};

impl<E: Entity, X: Executor> Listing<'_, E, X> {
    /// The server's plan (`EXPLAIN`) for [`Listing::after`] with these arguments: check that a
    /// deep page is an index scan.
    ///
    /// # Errors
    /// [`Error::InvalidCursor`](crate::Error::InvalidCursor); driver and pool errors.
    pub async fn explain_after(&self, cursor: &Cursor, n: usize) -> Result<String> {
        self.explain("EXPLAIN", cursor, n).await
    }

    /// The page after `cursor` run under `EXPLAIN (ANALYZE, BUFFERS)`: the plan with the rows
    /// and buffers each node read. A deep page should read what the first one reads, and no
    /// node should remove rows by a filter.
    ///
    /// # Errors
    /// As [`Listing::explain_after`].
    pub async fn explain_analyze_after(&self, cursor: &Cursor, n: usize) -> Result<String> {
        self.explain("EXPLAIN (ANALYZE, BUFFERS)", cursor, n).await
    }

    async fn explain(&self, explain: &str, cursor: &Cursor, n: usize) -> Result<String> {
        let values = self.decode(cursor)?;
        self.check_schema().await?;
        // What `after` runs: `n + 1` rows.
        let fetch = self.clamp(n) + 1;
        let after = self.statements().after.for_fetch(fetch);
        let explain = Statement::ad_hoc(
            format!("{explain} {}", after.sql),
            after.types.clone(),
            E::TABLE,
            "explain",
            Shape::Rows,
        );
        let limit = i64::try_from(fetch).unwrap_or(i64::MAX);
        let rows = self
            .exec
            .run(&explain, &self.params(&values, &limit))
            .await?;
        Ok(rows
            .iter()
            .filter_map(|r| r.try_get::<_, String>(0).ok())
            .collect::<Vec<_>>()
            .join("\n"))
    }
}
