//! Batched loaders (DataLoader-style) against N+1: concurrent `load(key)` calls made in the
//! same scheduling window become one `= ANY($1)` statement.
//!
//! The first caller of a window becomes its leader: it yields to the scheduler a few times (and,
//! with [`LoaderConfig::window`], waits that long) so other callers can add their keys, then
//! takes every pending key, runs the batch (split at
//! the cap) through the loader's executor and hands each waiting caller its own result. Keys
//! are deduplicated and, with the cache on (the default), fetched once per loader: make one
//! loader per request. If the leader is cancelled, its waiters are released and retry, so
//! nothing hangs. A failed batch reaches every waiting caller, the leader included, as the same
//! [`Error::Batch`]: the original error is shared (`Arc`), not copied into a message, so each
//! caller can match it through [`Error::root`].

use std::collections::HashMap;
use std::fmt;
use std::hash::Hash;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures_util::future::{try_join_all, BoxFuture};
use tokio::sync::oneshot;
use tokio_postgres::types::ToSql;

use crate::entity::{Entity, Lookup};
use crate::error::{Error, Result};
use crate::exec::Executor;
use crate::repo::Repo;

/// Settings of a loader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoaderConfig {
    /// Most keys in one statement; larger batches are split (default 1,000).
    pub max_batch: usize,
    /// How many times the leader yields before running the batch: the scheduling window in
    /// which concurrent calls coalesce (default 4).
    pub yields: usize,
    /// Whether results are kept, so a key is fetched once per loader (default true).
    pub cache: bool,
    /// How long the leader waits, after yielding, for more keys (default zero: yields only).
    /// Yields coalesce calls polled on the same thread (`join_all`, tasks of a current-thread
    /// runtime); on a multi-thread runtime, callers running on other workers, or arriving a
    /// little later (each after its own query), join the batch only within such a window. A
    /// millisecond or two suits most request handlers; it needs a runtime with timers enabled.
    pub window: Duration,
}

impl Default for LoaderConfig {
    fn default() -> Self {
        LoaderConfig {
            max_batch: 1000,
            yields: 4,
            cache: true,
            window: Duration::ZERO,
        }
    }
}

type Waiter<V> = oneshot::Sender<Result<V>>;

/// Runs one batch: one statement for `keys`, returning the values found.
trait Fetch<K, V>: Sync {
    // Boxed: an unboxed future here hits rustc's higher-ranked `Send` limitation (#100013)
    // when a loader is used from `tokio::spawn`. One allocation per batch.
    fn fetch(&self, keys: Vec<K>) -> BoxFuture<'_, Result<HashMap<K, V>>>;
}

struct State<K, V> {
    cache: HashMap<K, V>,
    /// Keys of the next batch, each with its waiting callers.
    pending: HashMap<K, Vec<Waiter<V>>>,
    /// Whether a leader will take `pending`.
    scheduled: bool,
}

/// The batching machinery shared by the typed loaders: keys `K` to values `V`.
struct Batcher<K, V> {
    state: Mutex<State<K, V>>,
    config: LoaderConfig,
    table: &'static str,
}

/// Releases a cancelled leader's window: its waiters see a closed channel and retry.
struct LeaderGuard<'a, K, V> {
    batcher: &'a Batcher<K, V>,
    armed: bool,
}

impl<K, V> Drop for LeaderGuard<'_, K, V> {
    fn drop(&mut self) {
        if self.armed {
            let mut state = lock(&self.batcher.state);
            state.scheduled = false;
            state.pending.clear();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves the maps consistent (no multi-step updates).
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl<K, V> Batcher<K, V>
where
    K: Eq + Hash + Clone,
    V: Clone + Default,
{
    fn new(config: LoaderConfig, table: &'static str) -> Self {
        Batcher {
            state: Mutex::new(State {
                cache: HashMap::new(),
                pending: HashMap::new(),
                scheduled: false,
            }),
            config: LoaderConfig {
                max_batch: config.max_batch.max(1),
                ..config
            },
            table,
        }
    }

    /// Loads one key; `fetch` runs one statement for a chunk of keys and returns the values
    /// found (absent keys get `V::default()`).
    async fn load<F: Fetch<K, V>>(&self, key: K, fetch: &F) -> Result<V> {
        loop {
            let (receiver, leader) = {
                let mut state = lock(&self.state);
                if let Some(value) = state.cache.get(&key) {
                    return Ok(value.clone());
                }
                let (sender, receiver) = oneshot::channel();
                state.pending.entry(key.clone()).or_default().push(sender);
                let leader = !state.scheduled;
                state.scheduled = true;
                (receiver, leader)
            };
            if leader {
                self.lead(fetch).await;
            }
            match receiver.await {
                Ok(result) => return result,
                // The leader was cancelled before answering: join (or lead) a new window.
                Err(_) => continue,
            }
        }
    }

    async fn lead<F: Fetch<K, V>>(&self, fetch: &F) {
        let mut guard = LeaderGuard {
            batcher: self,
            armed: true,
        };
        for _ in 0..self.config.yields {
            tokio::task::yield_now().await;
        }
        if !self.config.window.is_zero() {
            tokio::time::sleep(self.config.window).await;
        }
        let batch: Vec<(K, Vec<Waiter<V>>)> = {
            let mut state = lock(&self.state);
            state.scheduled = false;
            state.pending.drain().collect()
        };
        // From here the waiters' senders are ours: if we are dropped they close.
        guard.armed = false;
        let keys: Vec<K> = batch.iter().map(|(k, _)| k.clone()).collect();
        // Collected first: a lazy iterator held across the await would make the future's `Send`
        // depend on a closure's borrow, which the compiler cannot prove for every lifetime.
        let mut chunks = Vec::new();
        for chunk in keys.chunks(self.config.max_batch) {
            chunks.push(fetch.fetch(chunk.to_vec()));
        }
        match try_join_all(chunks).await {
            Ok(found) => {
                let mut found: HashMap<K, V> = found.into_iter().flatten().collect();
                let mut state = lock(&self.state);
                for (key, waiters) in batch {
                    let value = found.remove(&key).unwrap_or_default();
                    for waiter in waiters {
                        let _ = waiter.send(Ok(value.clone()));
                    }
                    if self.config.cache {
                        state.cache.insert(key, value);
                    }
                }
            }
            Err(error) => {
                tracing::warn!(table = self.table, %error, "batched load failed");
                // The driver's errors cannot be cloned: every caller shares the one error.
                let source = Arc::new(error);
                for (_, waiters) in batch {
                    for waiter in waiters {
                        let _ = waiter.send(Err(Error::Batch {
                            table: self.table,
                            source: Arc::clone(&source),
                        }));
                    }
                }
            }
        }
    }

    fn clear(&self) {
        lock(&self.state).cache.clear();
    }
}

/// Loads entities by primary key, batching concurrent calls into one `get_many`.
///
/// Create one per request (`db.loader::<User>()`, `tx.loader::<User>()`): its cache lives as
/// long as it does.
pub struct Loader<E: Entity, X> {
    exec: X,
    batcher: Arc<Batcher<E::Id, Option<E>>>,
}

impl<E: Entity, X> fmt::Debug for Loader<E, X> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Loader")
            .field("table", &E::TABLE)
            .field("config", &self.batcher.config)
            .finish()
    }
}

impl<E: Entity + Clone, X: Executor> Loader<E, X> {
    /// A loader running its batches on `exec` (a [`Db`](crate::Db), `&Tx`, a strict scope…).
    pub fn new(exec: X) -> Self {
        Self::with_config(exec, LoaderConfig::default())
    }

    /// A loader with explicit settings.
    pub fn with_config(exec: X, config: LoaderConfig) -> Self {
        Loader {
            exec,
            batcher: Arc::new(Batcher::new(config, E::TABLE)),
        }
    }

    /// The row with primary key `id`, fetched together with every other key requested in the
    /// same scheduling window.
    ///
    /// # Errors
    /// [`Error::Batch`] when the batch failed, for every caller whose key was in it (the one
    /// that ran it too), each with the original error as its source: match
    /// [`Error::root`] for it (e.g. [`Error::PoolTimeout`], [`Error::Decode`]).
    pub async fn load(&self, id: E::Id) -> Result<Option<E>> {
        self.batcher.load(id, &ById(&self.exec, PhantomData)).await
    }

    /// Several rows by primary key, in the order of `ids` (`None` where absent).
    ///
    /// # Errors
    /// As [`Loader::load`].
    pub async fn load_many(&self, ids: &[E::Id]) -> Result<Vec<Option<E>>> {
        try_join_all(ids.iter().map(|id| self.load(id.clone()))).await
    }

    /// Forgets cached rows (e.g. after writing them).
    pub fn clear(&self) {
        self.batcher.clear();
    }
}

/// Loads the rows matching a lookup key (e.g. the posts of a user), batching concurrent calls
/// into one `= ANY($1)` statement.
pub struct LookupLoader<E: Entity, K, X> {
    exec: X,
    lookup: Lookup<E, K>,
    batcher: Arc<Batcher<K, Vec<E>>>,
}

impl<E: Entity, K, X> fmt::Debug for LookupLoader<E, K, X> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LookupLoader")
            .field("lookup", &self.lookup)
            .field("config", &self.batcher.config)
            .finish()
    }
}

impl<E, K, X> LookupLoader<E, K, X>
where
    E: Entity + Clone,
    K: ToSql + for<'a> tokio_postgres::types::FromSql<'a> + Eq + Hash + Clone + Send + Sync,
    X: Executor,
{
    /// A loader of the rows matching `lookup`, running its batches on `exec`.
    pub fn new(exec: X, lookup: Lookup<E, K>) -> Self {
        Self::with_config(exec, lookup, LoaderConfig::default())
    }

    /// A loader with explicit settings.
    pub fn with_config(exec: X, lookup: Lookup<E, K>, config: LoaderConfig) -> Self {
        LookupLoader {
            exec,
            lookup,
            batcher: Arc::new(Batcher::new(config, E::TABLE)),
        }
    }

    /// The rows whose lookup column equals `key`, ordered by primary key.
    ///
    /// # Errors
    /// As [`Loader::load`].
    pub async fn load(&self, key: K) -> Result<Vec<E>> {
        self.batcher
            .load(key, &ByLookup(&self.exec, self.lookup))
            .await
    }

    /// Forgets cached rows.
    pub fn clear(&self) {
        self.batcher.clear();
    }
}

/// Batches of [`Loader`]: `get_many`.
struct ById<'x, E, X>(&'x X, PhantomData<fn() -> E>);

impl<E: Entity, X: Executor> Fetch<E::Id, Option<E>> for ById<'_, E, X> {
    fn fetch(&self, keys: Vec<E::Id>) -> BoxFuture<'_, Result<HashMap<E::Id, Option<E>>>> {
        Box::pin(async move {
            let rows = Repo::<E, X>::new(self.0).get_many(&keys).await?;
            Ok(rows
                .into_iter()
                .map(|e| (e.id().clone(), Some(e)))
                .collect())
        })
    }
}

/// Batches of [`LookupLoader`]: `find_grouped`.
struct ByLookup<'x, E, K, X>(&'x X, Lookup<E, K>);

impl<E, K, X> Fetch<K, Vec<E>> for ByLookup<'_, E, K, X>
where
    E: Entity,
    K: ToSql + for<'a> tokio_postgres::types::FromSql<'a> + Eq + Hash + Send + Sync,
    X: Executor,
{
    fn fetch(&self, keys: Vec<K>) -> BoxFuture<'_, Result<HashMap<K, Vec<E>>>> {
        Box::pin(async move { Repo::<E, X>::new(self.0).find_grouped(self.1, &keys).await })
    }
}
