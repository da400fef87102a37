//! Strict mode: a scope that counts how often each statement runs and reports the same
//! single-row statement repeated past a limit as an N+1 query (an error, or a `tracing`
//! warning), in the spirit of Rails' `strict_loading`. Meant for tests and development.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;

use crate::error::{Error, Result};
use crate::exec::{Executor, Lease, Sealed, Settings};
use crate::sql::{Shape, Statement};

/// What a [`Strict`] scope does when it sees an N+1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnNPlusOne {
    /// Fail the offending statement with [`Error::NPlusOne`] (without running it).
    Error,
    /// Run it, and emit one `tracing` warning per statement.
    Warn,
}

/// How often one statement ran in a scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementCount {
    /// The table.
    pub table: &'static str,
    /// The statement's label (`get`, `find_by_email`, …).
    pub statement: &'static str,
    /// Executions so far.
    pub count: usize,
}

/// Default number of times one single-row statement may run in a strict scope.
pub const DEFAULT_N_PLUS_ONE_LIMIT: usize = 3;

/// An executor wrapper that counts statements and flags N+1 queries.
///
/// ```no_run
/// # #[derive(Clone, pgrepo::Entity)] #[pgrepo(table = "users")] struct User { #[pgrepo(id)] id: i64 }
/// # async fn demo(db: pgrepo::Db) -> Result<(), pgrepo::Error> {
/// use pgrepo::Executor as _;
/// let scope = db.strict(); // or pgrepo::Strict::new(db.clone())
/// for id in 1..10 {
///     scope.repo::<User>().get(id).await?; // the 4th call fails with Error::NPlusOne
/// }
/// # Ok(()) }
/// ```
pub struct Strict<X> {
    inner: X,
    limit: usize,
    on_n_plus_one: OnNPlusOne,
    counts: Mutex<HashMap<(&'static str, &'static str), usize>>,
}

impl<X> fmt::Debug for Strict<X> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Strict")
            .field("limit", &self.limit)
            .field("on_n_plus_one", &self.on_n_plus_one)
            .finish()
    }
}

impl<X: Executor> Strict<X> {
    /// A strict scope over `inner` that fails an N+1 with an error, allowing each single-row
    /// statement [`DEFAULT_N_PLUS_ONE_LIMIT`] times.
    pub fn new(inner: X) -> Self {
        Strict {
            inner,
            limit: DEFAULT_N_PLUS_ONE_LIMIT,
            on_n_plus_one: OnNPlusOne::Error,
            counts: Mutex::new(HashMap::new()),
        }
    }

    /// How many times one single-row statement may run before it counts as an N+1.
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }

    /// Warn instead of failing.
    pub fn warn_only(mut self) -> Self {
        self.on_n_plus_one = OnNPlusOne::Warn;
        self
    }

    /// Every statement run in this scope so far, most frequent first.
    pub fn counts(&self) -> Vec<StatementCount> {
        let counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let mut out: Vec<StatementCount> = counts
            .iter()
            .map(|(&(table, statement), &count)| StatementCount {
                table,
                statement,
                count,
            })
            .collect();
        out.sort_by(|a, b| b.count.cmp(&a.count).then(a.statement.cmp(b.statement)));
        out
    }

    /// Counts an execution; `Err` when it is an N+1 in error mode.
    fn record(&self, statement: &Statement) -> Result<()> {
        let count = {
            let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
            let count = counts
                .entry((statement.table, statement.label))
                .or_insert(0);
            *count += 1;
            *count
        };
        if statement.shape != Shape::SingleRow || count <= self.limit {
            return Ok(());
        }
        match self.on_n_plus_one {
            OnNPlusOne::Error => Err(Error::NPlusOne {
                table: statement.table,
                statement: statement.label,
                count,
                limit: self.limit,
            }),
            OnNPlusOne::Warn => {
                if count == self.limit + 1 {
                    tracing::warn!(
                        table = statement.table,
                        statement = statement.label,
                        limit = self.limit,
                        "N+1 query: the same single-row statement keeps running in one scope; \
                         load these rows in one batch with a loader or get_many"
                    );
                }
                Ok(())
            }
        }
    }
}

impl<X: Executor> Sealed for Strict<X> {}
impl<X: Executor> Executor for Strict<X> {
    type Handle<'a>
        = &'a Strict<X>
    where
        Self: 'a;

    fn handle(&self) -> &Strict<X> {
        self
    }

    fn settings(&self) -> &Settings {
        self.inner.settings()
    }

    fn observe(&self, statement: &Statement) -> Result<()> {
        self.record(statement)?;
        self.inner.observe(statement)
    }

    fn lease<'a>(
        &'a self,
        statement: &'a Statement,
    ) -> impl std::future::Future<Output = Result<Lease<'a>>> + Send + 'a {
        self.inner.lease(statement)
    }
}
