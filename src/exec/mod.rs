//! The execution path every statement takes, and its four seams.
//!
//! ```text
//! Repo / Listing / Loader / query / execute / batch_execute      (what to run)
//!   └─ Executor::query_map | run_execute | run_batch             (one generic path, below)
//!        1. observe   the scope sees the statement and its parameters first (strict mode
//!                     counts it, and refuses a keyed lookup run for too many keys: an N+1)
//!        2. lease     the scope lends a connection: the Db's lane, or a transaction's own;
//!                     with it an envelope (a transaction's BEGIN on its first statement)
//!        3. run       run::with_statement: span, prepare (cached) or unnamed, send inside
//!                     the envelope, decode, classify errors, retry after a schema change
//!        4. outcome   the lease hears how it ended (a server error aborts a transaction)
//! ```
//!
//! The seams: [`Settings`] (per-scope values, cloned into child scopes), `lease` (where the
//! connection comes from), `envelope` (what is pipelined around the statement) and the run
//! mode ([`StatementMode`]). A new scope (tenant, replica routing) implements [`Executor`] by
//! saying how it leases and what it wraps around a statement; repositories, listings and
//! loaders, generic over `Executor`, do not change.

use std::future::Future;

use futures_util::future::BoxFuture;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use crate::entity::Entity;
use crate::error::{Error, Result};
use crate::repo::Repo;
use crate::row::resolve::Match;
use crate::row::FromRow;
use crate::sql::raw::Sql;
use crate::sql::Statement;

pub(crate) mod envelope;
pub(crate) mod lease;
mod pooler;
mod query_as;
pub(crate) mod run;
mod settings;

pub use lease::Lease;
pub(crate) use pooler::learn_types_hook;
pub(crate) use run::Conn;
pub use settings::{Settings, StatementMode};

use query_as::QueryAs;
use run::{Batch, Execute, QueryMap};

/// Parameters of one statement execution.
pub type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

/// Decodes one row as it arrives.
pub type Decode<'a, T> = &'a (dyn Fn(Row) -> Result<T> + Sync);

mod sealed {
    pub trait Sealed {}
}
pub(crate) use sealed::Sealed;

/// Where statements run: a [`Db`](crate::Db) (autocommit statements on pooled connections), a
/// [`Tx`](crate::Tx), or a scope wrapping either ([`Strict`](crate::Strict)). Every scope has
/// the same methods, written once here: [`repo`](Executor::repo),
/// [`loader`](Executor::loader), [`strict`](Executor::strict), [`query`](Executor::query),
/// [`query_as`](Executor::query_as), [`execute`](Executor::execute) and
/// [`batch_execute`](Executor::batch_execute). Bring them into scope with
/// `use pgrepo::Executor` (or `use pgrepo::prelude::*`).
///
/// Sealed: the implementations live in pgrepo.
pub trait Executor: Sealed + Send + Sync {
    /// What loaders and strict scopes made from this scope hold: the scope itself when it is
    /// a cheap clone that owns what it needs (a [`Db`](crate::Db), so a loader can move into
    /// spawned tasks), else a reference to it.
    type Handle<'a>: Executor + Clone + 'a
    where
        Self: 'a;

    /// This scope as a [`Executor::Handle`].
    #[doc(hidden)]
    fn handle(&self) -> Self::Handle<'_>;

    /// The scope's settings.
    #[doc(hidden)]
    fn settings(&self) -> &Settings;

    /// Sees each statement and its parameters before it runs (strict mode counts it, and may
    /// refuse it). The parameters are the slice the statement binds, passed as is: a scope
    /// that does not look at them (every scope but [`Strict`](crate::Strict)) costs nothing.
    ///
    /// # Errors
    /// The scope's refusal ([`Error::NPlusOne`](crate::Error::NPlusOne)).
    #[doc(hidden)]
    fn observe(&self, _statement: &Statement, _params: Params<'_>) -> Result<()> {
        Ok(())
    }

    /// Lends a connection for `statement`, with what to send around it.
    ///
    /// # Errors
    /// Pool errors.
    #[doc(hidden)]
    fn lease<'a>(
        &'a self,
        statement: &'a Statement,
    ) -> impl Future<Output = Result<Lease<'a>>> + Send + 'a;

    /// Runs `statement` and decodes each row with `decode` as it arrives.
    ///
    /// # Errors
    /// Classified driver errors ([`Error::UniqueViolation`](crate::Error::UniqueViolation),
    /// …), pool errors, and the first error `decode` returns.
    #[doc(hidden)]
    fn query_map<'a, T: Send + 'a>(
        &'a self,
        statement: &'a Statement,
        params: Params<'a>,
        decode: Decode<'a, T>,
    ) -> BoxFuture<'a, Result<Vec<T>>> {
        if statement.tenant_param {
            return Box::pin(async move {
                let params = with_tenant(self.settings(), statement, params)?;
                run_in(
                    self,
                    statement,
                    QueryMap {
                        params: &params,
                        decode,
                    },
                )
                .await
            });
        }
        Box::pin(run_in(self, statement, QueryMap { params, decode }))
    }

    /// Runs `statement` and returns its rows.
    ///
    /// # Errors
    /// As [`Executor::query_map`].
    #[doc(hidden)]
    fn run<'a>(
        &'a self,
        statement: &'a Statement,
        params: Params<'a>,
    ) -> BoxFuture<'a, Result<Vec<Row>>> {
        self.query_map(statement, params, &run::keep)
    }

    /// Runs `statement` and returns the number of rows it affected.
    ///
    /// # Errors
    /// As [`Executor::query_map`].
    #[doc(hidden)]
    fn run_execute<'a>(
        &'a self,
        statement: &'a Statement,
        params: Params<'a>,
    ) -> BoxFuture<'a, Result<u64>> {
        if statement.tenant_param {
            return Box::pin(async move {
                let params = with_tenant(self.settings(), statement, params)?;
                run_in(self, statement, Execute { params: &params }).await
            });
        }
        Box::pin(run_in(self, statement, Execute { params }))
    }

    /// The repository of entity `E` in this scope.
    fn repo<E: Entity>(&self) -> Repo<'_, E, Self>
    where
        Self: Sized,
    {
        Repo::new(self)
    }

    /// A batched loader of `E` by primary key whose batches run in this scope. Make one per
    /// request. A `Db`'s loader owns a clone of the `Db` and can move into spawned tasks.
    fn loader<E: Entity + Clone>(&self) -> crate::Loader<E, Self::Handle<'_>> {
        crate::Loader::new(self.handle())
    }

    /// A strict scope over this one: a lookup by one key (`get`, `find_by`, `find_one_by`,
    /// `count_by`) run for more different keys than the limit fails as an N+1 query
    /// ([`Strict`](crate::Strict)).
    fn strict(&self) -> crate::Strict<Self::Handle<'_>> {
        crate::Strict::new(self.handle())
    }

    /// Runs hand-written SQL and returns its rows, prepared once per connection like the
    /// generated statements. A `&str` is a write: routing never sends it to a replica; say
    /// [`Sql::read`] for a read.
    ///
    /// # Errors
    /// Classified driver errors, pool errors.
    fn query<'a>(
        &'a self,
        sql: impl Into<Sql<'a>>,
        params: Params<'a>,
    ) -> impl Future<Output = Result<Vec<Row>>> + Send + 'a
    where
        Self: Sized,
    {
        let statement = sql.into().statement("query");
        async move {
            let attempt = QueryMap {
                params,
                decode: &run::keep,
            };
            run_in(self, &statement, attempt).await
        }
    }

    /// Runs hand-written SQL and decodes each row into `T`, matching `T`'s fields to the
    /// result's columns **by name**: an entity, `Option<E>` (for outer joins), a scalar
    /// (`i64`, `String`, `Uuid`, …, or its `Option`), or a tuple of up to 8 of these.
    ///
    /// The columns are resolved once per call, before any row is decoded (and, for a prepared
    /// statement, before it runs): an entity alone takes every column, by name; in a tuple,
    /// each entity takes the columns labelled with one alias (select it with
    /// [`Entity::select_list`]), in order, and each scalar the next column. `SELECT *` into an
    /// entity whose fields are declared in another order than the table's columns decodes
    /// correctly; a missing, extra or duplicated column is an error, never a shifted field.
    ///
    /// ```no_run
    /// # use pgrepo::prelude::*;
    /// # #[derive(Entity)] #[pgrepo(table = "users")] struct User { #[pgrepo(id)] id: i64, name: String }
    /// # #[derive(Entity)] #[pgrepo(table = "posts")] struct Post { #[pgrepo(id)] id: i64, user_id: i64 }
    /// # async fn demo(db: Db) -> pgrepo::Result<()> {
    /// let users: Vec<User> = db.query_as(Sql::read("SELECT * FROM users"), &[]).await?;
    /// let count: Vec<i64> = db.query_as(Sql::read("SELECT count(*) FROM users"), &[]).await?;
    /// let sql = format!(
    ///     "SELECT {}, {} FROM users u LEFT JOIN posts p ON p.user_id = u.id",
    ///     User::select_list("u"),
    ///     Post::select_list("p"),
    /// );
    /// let joined: Vec<(User, Option<Post>)> = db.query_as(Sql::read(&sql), &[]).await?;
    /// # let _ = (users, count, joined); Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::ColumnMismatch`](crate::Error::ColumnMismatch) naming the missing, extra or
    /// duplicated columns; [`Error::ColumnType`](crate::Error::ColumnType) when a column's
    /// database type does not fit; [`Error::Decode`](crate::Error::Decode) for a value that
    /// does not (a NULL into a type that is not an `Option`); classified driver errors, pool
    /// errors.
    fn query_as<'a, T: FromRow + Send + 'a>(
        &'a self,
        sql: impl Into<Sql<'a>>,
        params: Params<'a>,
    ) -> impl Future<Output = Result<Vec<T>>> + Send + 'a
    where
        Self: Sized,
    {
        let statement = sql.into().statement("query_as");
        async move { run_in(self, &statement, QueryAs::<T>::new(params, Match::ByName)).await }
    }

    /// Runs hand-written SQL and decodes each row into `T` **by position**: `T`'s columns are
    /// the result's, in order, whatever their names (`SELECT u.*, p.*` into `(User, Post)`,
    /// when the tables' columns are in the order the structs declare them). The column count
    /// and each column's type are checked once, before any row is decoded. Prefer
    /// [`Executor::query_as`], which cannot shift a field when a table's column order changes.
    ///
    /// # Errors
    /// [`Error::ColumnMismatch`](crate::Error::ColumnMismatch) when the count differs;
    /// otherwise as [`Executor::query_as`].
    fn query_as_positional<'a, T: FromRow + Send + 'a>(
        &'a self,
        sql: impl Into<Sql<'a>>,
        params: Params<'a>,
    ) -> impl Future<Output = Result<Vec<T>>> + Send + 'a
    where
        Self: Sized,
    {
        let statement = sql.into().statement("query_as");
        let attempt = QueryAs::<T>::new(params, Match::ByPosition);
        async move { run_in(self, &statement, attempt).await }
    }

    /// Runs a hand-written statement and returns the number of rows it affected.
    ///
    /// # Errors
    /// Classified driver errors, pool errors.
    fn execute<'a>(
        &'a self,
        sql: impl Into<Sql<'a>>,
        params: Params<'a>,
    ) -> impl Future<Output = Result<u64>> + Send + 'a
    where
        Self: Sized,
    {
        let statement = sql.into().statement("execute");
        async move { run_in(self, &statement, Execute { params }).await }
    }

    /// Runs several `;`-separated statements without parameters (DDL, migrations) in the
    /// simple protocol, through the same path as every statement (span, strict counting,
    /// the scope's transaction).
    ///
    /// # Errors
    /// Classified driver errors, pool errors.
    fn batch_execute<'a>(
        &'a self,
        sql: impl Into<Sql<'a>>,
    ) -> impl Future<Output = Result<()>> + Send + 'a
    where
        Self: Sized,
    {
        let statement = sql.into().statement("batch_execute");
        async move { run_in(self, &statement, Batch).await }
    }
}

/// `params` and, last, the scope's tenant (a tenant-filtered statement, or a tenant entity's
/// insert): the repository never binds it itself.
fn with_tenant<'a>(
    settings: &'a Settings,
    statement: &Statement,
    params: Params<'a>,
) -> Result<Vec<&'a (dyn ToSql + Sync)>> {
    let tenant = crate::tenant::tenant_param(settings, statement)?;
    let mut all = Vec::with_capacity(params.len() + 1);
    all.extend_from_slice(params);
    all.push(tenant);
    Ok(all)
}

/// The path: observe, lease, run, outcome.
async fn run_in<X: Executor + ?Sized, A: run::Attempt>(
    exec: &X,
    statement: &Statement,
    attempt: A,
) -> Result<A::Output> {
    if statement.tenant_table.is_some() {
        crate::tenant::admit(exec, statement).await?;
    }
    exec.observe(statement, attempt.params())?;
    let result = lease_and_run(exec, statement, &attempt).await;
    match result {
        // A read outside a transaction whose connection died (`Retry::after_lost_connection`):
        // once more, on a fresh connection (the dead one has left the lane).
        Err(Error::ConnectionLost {
            retry_safe: true, ..
        }) => {
            tracing::debug!(
                statement = statement.label,
                "connection lost; running the read again on another connection"
            );
            Box::pin(lease_and_run(exec, statement, &attempt)).await
        }
        other => other,
    }
}

async fn lease_and_run<X: Executor + ?Sized, A: run::Attempt>(
    exec: &X,
    statement: &Statement,
    attempt: &A,
) -> Result<A::Output> {
    let mut lease = exec.lease(statement).await?;
    let mode = exec.settings().statement_mode;
    let scope = lease.scope();
    let result = run::with_statement(
        lease.conn.as_conn(),
        statement,
        lease.retry,
        mode,
        scope,
        &mut lease.envelope,
        attempt,
    )
    .await;
    lease.outcome(&result);
    result
}

impl<X: Executor> Sealed for &X {}
impl<X: Executor> Executor for &X {
    type Handle<'a>
        = Self
    where
        Self: 'a;

    fn handle(&self) -> Self {
        self
    }

    fn settings(&self) -> &Settings {
        (**self).settings()
    }

    fn observe(&self, statement: &Statement, params: Params<'_>) -> Result<()> {
        (**self).observe(statement, params)
    }

    fn lease<'a>(
        &'a self,
        statement: &'a Statement,
    ) -> impl Future<Output = Result<Lease<'a>>> + Send + 'a {
        (**self).lease(statement)
    }
}
