//! Strict mode: a scope that counts every statement and reports an N+1 query (an error, or a
//! `tracing` warning), in the spirit of Rails' `strict_loading`. Meant for tests and
//! development.
//!
//! An N+1 is one statement run for more *different* parameter sets than the limit in one
//! scope: a loop doing per parent what one batched statement would do for all of them. Only
//! different parameters count, since batching saves nothing on the same key read again (a
//! re-read after a write). By default the scope watches the reads that select by one key value
//! ([`Statement::keyed`]: `get`, `find_by`, `find_one_by`, `count_by`); walking a listing,
//! exporting, loaders' batches and hand-written SQL repeat legitimately and are only watched
//! with [`Strict::all_reads`]. Writes are never flagged. The statements themselves say what
//! they are (src/sql/); this module only counts.

use std::collections::HashMap;
use std::fmt;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Mutex;

use bytes::BytesMut;
use tokio_postgres::types::IsNull;

use crate::error::{Error, Result};
use crate::exec::{Executor, Lease, Params, Sealed, Settings};
use crate::sql::{Access, Keyed, Statement};

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

/// Default number of different parameter sets (keys) one statement may run with in a strict
/// scope.
pub const DEFAULT_N_PLUS_ONE_LIMIT: usize = 3;

/// An executor wrapper that counts statements and flags N+1 queries: a statement run with more
/// different parameters than [`Strict::limit`] in this scope.
///
/// By default it watches lookups by one key value ([`Statement::keyed`]): `get`, and
/// `find_by`, `find_one_by` and `count_by` on any lookup column, so a per-parent loop over a
/// has-many (`find_by(Post::USER_ID, user.id)` for each user) is caught like a per-row `get`.
/// The same key looked up again is not counted twice. [`Strict::all_reads`] widens the watch
/// to every read, hand-written [`Sql::read`](crate::Sql::read) included; writes are never
/// flagged.
///
/// ```no_run
/// # #[derive(Clone, pgrepo::Entity)] #[pgrepo(table = "users")] struct User { #[pgrepo(id, generated)] id: i64 }
/// # #[derive(Clone, pgrepo::Entity)] #[pgrepo(table = "posts")]
/// # struct Post { #[pgrepo(id, generated)] id: i64, #[pgrepo(belongs_to = User)] user_id: i64 }
/// # async fn demo(db: pgrepo::Db) -> Result<(), pgrepo::Error> {
/// use pgrepo::Executor as _;
/// let scope = db.strict(); // or pgrepo::Strict::new(db.clone())
/// for id in 1..10_i64 {
///     // The 4th user fails with Error::NPlusOne, which suggests a LookupLoader or `grouped`.
///     scope.repo::<Post>().find_by(Post::USER_ID, id).await?;
/// }
/// # Ok(()) }
/// ```
pub struct Strict<X> {
    inner: X,
    limit: usize,
    on_n_plus_one: OnNPlusOne,
    all_reads: bool,
    seen: Mutex<Seen>,
}

/// What a strict scope saw.
#[derive(Default)]
struct Seen {
    /// Executions by table and label, for [`Strict::counts`].
    executions: HashMap<(&'static str, &'static str), usize>,
    /// Per watched statement, the parameter sets it ran with, each with whether it was allowed.
    keys: HashMap<Identity, HashMap<u64, bool>>,
}

/// One statement: its slot, or (hand-written SQL, which has none) a hash of its text. Labels
/// do not tell statements apart: every hand-written query is `query`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Identity {
    Slot(u32),
    Text(u64),
}

impl Identity {
    fn of(statement: &Statement) -> Self {
        if statement.id != 0 {
            return Identity::Slot(statement.id);
        }
        let mut hasher = DefaultHasher::new();
        statement.sql.hash(&mut hasher);
        Identity::Text(hasher.finish())
    }
}

/// The parameters as one value: a hash of the bytes the server receives when the statement
/// declares their types (every generated statement), else of their `Debug` text.
fn fingerprint(statement: &Statement, params: Params<'_>) -> u64 {
    let mut hasher = DefaultHasher::new();
    let mut buf = BytesMut::new();
    for (i, param) in params.iter().enumerate() {
        buf.clear();
        match statement
            .types
            .get(i)
            .map(|ty| param.to_sql_checked(ty, &mut buf))
        {
            Some(Ok(IsNull::No)) => (1u8, &buf[..]).hash(&mut hasher),
            Some(Ok(IsNull::Yes)) => 0u8.hash(&mut hasher),
            // No declared type, or a value that does not encode (the statement will fail).
            _ => (2u8, format!("{param:?}")).hash(&mut hasher),
        }
    }
    hasher.finish()
}

/// How to do in one statement what the flagged loop does per key.
fn fix(keyed: Option<Keyed>) -> &'static str {
    match keyed {
        Some(Keyed::PrimaryKey) => {
            "load these rows in one batch with a `Loader` (`scope.loader::<E>()`) or \
             `Repo::get_many`"
        }
        Some(Keyed::Column) => {
            "load every parent's rows in one batch with a `LookupLoader`, or with \
             `Repo::find_grouped` / `Repo::grouped` for the parents at hand"
        }
        None => "fetch these rows in one statement, e.g. `= ANY($1)` over an array of keys",
    }
}

impl<X> fmt::Debug for Strict<X> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Strict")
            .field("limit", &self.limit)
            .field("on_n_plus_one", &self.on_n_plus_one)
            .field("all_reads", &self.all_reads)
            .finish()
    }
}

impl<X: Executor> Strict<X> {
    /// A strict scope over `inner` that fails an N+1 with an error, allowing each keyed lookup
    /// [`DEFAULT_N_PLUS_ONE_LIMIT`] different keys.
    pub fn new(inner: X) -> Self {
        Strict {
            inner,
            limit: DEFAULT_N_PLUS_ONE_LIMIT,
            on_n_plus_one: OnNPlusOne::Error,
            all_reads: false,
            seen: Mutex::new(Seen::default()),
        }
    }

    /// How many different parameter sets one statement may run with before the next one is
    /// an N+1.
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }

    /// Warn instead of failing.
    pub fn warn_only(mut self) -> Self {
        self.on_n_plus_one = OnNPlusOne::Warn;
        self
    }

    /// Watch every read, not only keyed lookups: listing pages walked with `after`, export
    /// batches, loaders' batches and hand-written reads ([`Sql::read`](crate::Sql::read)) run
    /// with more different parameters than the limit are N+1s too. Hand-written SQL given as a
    /// plain `&str` is a write, and writes are never flagged.
    pub fn all_reads(mut self) -> Self {
        self.all_reads = true;
        self
    }

    /// Every statement run in this scope so far (flagged ones included), most frequent first.
    pub fn counts(&self) -> Vec<StatementCount> {
        let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        let mut out: Vec<StatementCount> = seen
            .executions
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

    /// Whether the scope looks for N+1s of `statement`.
    fn watches(&self, statement: &Statement) -> bool {
        statement.access == Access::Read && (self.all_reads || statement.keyed.is_some())
    }

    /// Counts an execution; `Err` when it is an N+1 in error mode. A parameter set past the
    /// limit stays refused when it comes again; one allowed before stays allowed.
    fn record(&self, statement: &Statement, params: Params<'_>) -> Result<()> {
        // Encoded outside the lock, and only for what is watched.
        let fingerprint = self
            .watches(statement)
            .then(|| fingerprint(statement, params));
        let (allowed, new, distinct) = {
            let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
            *seen
                .executions
                .entry((statement.table, statement.label))
                .or_insert(0) += 1;
            let Some(fingerprint) = fingerprint else {
                return Ok(());
            };
            let keys = seen.keys.entry(Identity::of(statement)).or_default();
            let before = keys.len();
            let allowed = *keys.entry(fingerprint).or_insert(before < self.limit);
            (allowed, keys.len() > before, keys.len())
        };
        if allowed {
            return Ok(());
        }
        match self.on_n_plus_one {
            OnNPlusOne::Error => Err(Error::NPlusOne {
                table: statement.table,
                statement: statement.label,
                count: distinct,
                limit: self.limit,
                fix: fix(statement.keyed),
            }),
            OnNPlusOne::Warn => {
                // Once per statement: when its first key past the limit comes.
                if new && distinct == self.limit + 1 {
                    tracing::warn!(
                        table = statement.table,
                        statement = statement.label,
                        limit = self.limit,
                        "N+1 query: the same statement keeps running for different keys in \
                         one scope; {}",
                        fix(statement.keyed)
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

    fn observe(&self, statement: &Statement, params: Params<'_>) -> Result<()> {
        self.record(statement, params)?;
        self.inner.observe(statement, params)
    }

    fn lease<'a>(
        &'a self,
        statement: &'a Statement,
    ) -> impl std::future::Future<Output = Result<Lease<'a>>> + Send + 'a {
        self.inner.lease(statement)
    }
}
