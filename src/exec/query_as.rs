//! The attempt behind [`Executor::query_as`](super::Executor::query_as) and
//! [`Executor::query_as_positional`](super::Executor::query_as_positional): hand-written SQL
//! whose rows decode into a [`FromRow`] type.
//!
//! The type's columns are resolved once per call from the prepared statement's column
//! descriptions, before the statement runs (so a mismatch never runs a write); an unnamed
//! statement has none, so its first row's are used. Rows then decode through the plan, an
//! index per field: no name is looked up per row. Generated statements do not come here: they
//! select in declaration order and decode by position (`QueryMap` in run.rs).

use std::marker::PhantomData;
use std::pin::pin;

use deadpool_postgres::ClientWrapper;
use futures_util::TryStreamExt as _;
use tokio_postgres::Column;

use super::run::{rows, Attempt, Failure, Sent};
use super::Params;
use crate::error::Result;
use crate::row::resolve::{resolve, Match};
use crate::row::FromRow;
use crate::sql::Statement;

/// Rows of hand-written SQL decoded into `T`, its columns found as `by` says.
pub(crate) struct QueryAs<'p, T> {
    params: Params<'p>,
    by: Match,
    _target: PhantomData<fn() -> T>,
}

impl<'p, T: FromRow> QueryAs<'p, T> {
    pub(crate) fn new(params: Params<'p>, by: Match) -> Self {
        QueryAs {
            params,
            by,
            _target: PhantomData,
        }
    }

    /// How each row is decoded, checked against the result's `columns`.
    fn plan(&self, columns: &[Column]) -> Result<Plan> {
        let indexes = resolve::<T>(columns, self.by)?;
        Ok(match self.by {
            Match::ByName => Plan::Mapped(indexes),
            // The checked positions are 0, 1, 2, …: the positional decoder reads the same.
            Match::ByPosition => Plan::Positional,
        })
    }
}

enum Plan {
    /// One result-column index per column `T` reads.
    Mapped(Vec<usize>),
    Positional,
}

impl Plan {
    fn decode<T: FromRow>(&self, row: &tokio_postgres::Row) -> Result<T> {
        match self {
            Plan::Mapped(indexes) => T::from_row_mapped(row, indexes),
            Plan::Positional => T::from_row(row),
        }
    }
}

impl<T: FromRow + Send> Attempt for QueryAs<'_, T> {
    type Output = Vec<T>;

    fn params(&self) -> Params<'_> {
        self.params
    }

    async fn run<'a>(
        &'a self,
        client: &'a ClientWrapper,
        statement: &'a Statement,
        sent: &'a Sent,
    ) -> std::result::Result<Vec<T>, Failure> {
        let mut plan = match sent {
            Sent::Prepared(prepared) => {
                Some(self.plan(prepared.columns()).map_err(Failure::Decode)?)
            }
            Sent::Unnamed | Sent::Simple => None,
        };
        let rows = rows(client, statement, self.params, sent).await?;
        let mut rows = pin!(rows);
        let mut out = Vec::new();
        while let Some(row) = rows.try_next().await.map_err(Failure::Driver)? {
            let plan = match &mut plan {
                Some(plan) => plan,
                unresolved => unresolved.insert(self.plan(row.columns()).map_err(Failure::Decode)?),
            };
            out.push(plan.decode(&row).map_err(Failure::Decode)?);
        }
        Ok(out)
    }
}
