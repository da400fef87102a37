//! How long a connection lives: retired past its maximum lifetime or when idle too long, and a
//! floor of idle connections kept open ([`DbBuilder::max_lifetime`](crate::DbBuilder::max_lifetime),
//! [`idle_timeout`](crate::DbBuilder::idle_timeout), [`min_idle`](crate::DbBuilder::min_idle)).
//!
//! Three places apply the rules, so that no caller ever sees a retired connection:
//! - the pool, as it hands a connection out: its `pre_recycle` hook refuses one past its
//!   lifetime (deadpool then closes it and tries the next, or opens one);
//! - the lane (`Member::is_spent` of a lane connection): a connection serving autocommit
//!   statements never goes back to the pool while it is used, so it is retired there too,
//!   when its last statement ends;
//! - the reaper, a task holding only a `Weak` to its `Db` (it ends when the `Db` is dropped or
//!   closed): it closes what sits idle too long in the pool and in the lane, closed ones too,
//!   and opens connections in the background up to the idle floor.
//!
//! Statements never read the clock for this: the reaper marks lane connections past their
//! lifetime (busy ones too, which then take no more statements) and measures how long they
//! sit idle, so both are retired up to one of its rounds late (a quarter of the shortest
//! limit at most; idle ones count from the first round that finds them idle). Only without a
//! reaper (a `Db` built outside a tokio runtime) does a lane connection compare its deadline
//! with the clock on each statement.
//!
//! Deadpool's metrics say when a connection was created and last *taken* from the pool; a
//! lane connection is taken once and kept for many statements, so the time it came back is
//! recorded here (`returned`), or it would count as idle since it was taken.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use deadpool_postgres::{ClientWrapper, Hook, HookError, Metrics, Object, Pool, TimeoutType};

use super::lane::lock;

/// Default of [`DbBuilder::max_lifetime`](crate::DbBuilder::max_lifetime).
pub(crate) const DEFAULT_MAX_LIFETIME: Duration = Duration::from_secs(30 * 60);
/// Default of [`DbBuilder::idle_timeout`](crate::DbBuilder::idle_timeout).
pub(crate) const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(10 * 60);

/// The reaper runs this often at most, and at least every `REAP_MAX`.
const REAP_MIN: Duration = Duration::from_millis(100);
const REAP_MAX: Duration = Duration::from_secs(30);
/// With an idle floor, the reaper looks at least this often, to refill it soon after a
/// server restart.
const REFILL_EVERY: Duration = Duration::from_secs(1);

/// The settings of connection lifetimes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LifetimeSettings {
    pub(crate) max_lifetime: Option<Duration>,
    pub(crate) idle_timeout: Option<Duration>,
    pub(crate) min_idle: usize,
}

impl Default for LifetimeSettings {
    fn default() -> Self {
        LifetimeSettings {
            max_lifetime: Some(DEFAULT_MAX_LIFETIME),
            idle_timeout: Some(DEFAULT_IDLE_TIMEOUT),
            min_idle: 0,
        }
    }
}

impl LifetimeSettings {
    /// None of the rules (a pool given to `Db::from_pool` keeps its own).
    pub(crate) fn none() -> Self {
        LifetimeSettings {
            max_lifetime: None,
            idle_timeout: None,
            min_idle: 0,
        }
    }

    /// How often the reaper runs; `None`: no rule needs it.
    pub(crate) fn reap_interval(&self) -> Option<Duration> {
        let quarter = [self.max_lifetime, self.idle_timeout]
            .into_iter()
            .flatten()
            .min()
            .map(|shortest| (shortest / 4).clamp(REAP_MIN, REAP_MAX));
        match (quarter, self.min_idle > 0) {
            (Some(quarter), true) => Some(quarter.min(REFILL_EVERY)),
            (None, true) => Some(REFILL_EVERY),
            (quarter, false) => quarter,
        }
    }
}

/// The rules, and when the connections kept out of the pool came back to it.
#[derive(Debug)]
pub(crate) struct Lifetime {
    pub(crate) settings: LifetimeSettings,
    /// Keyed by the address of the connection's statement cache (an `Arc` the connection holds
    /// for its whole life). An entry left by a closed connection whose address a new one
    /// reuses is harmless: it is older than the new connection, and the more recent time wins.
    returned: Mutex<HashMap<usize, Instant>>,
    /// A reaper runs (set with the pool, see `Connections::new`; cleared when it ends).
    reaped: AtomicBool,
}

fn key(client: &ClientWrapper) -> usize {
    Arc::as_ptr(&client.statement_cache) as usize
}

impl Lifetime {
    pub(crate) fn new(settings: LifetimeSettings) -> Arc<Self> {
        Arc::new(Lifetime {
            settings,
            returned: Mutex::new(HashMap::new()),
            reaped: AtomicBool::new(false),
        })
    }

    /// When a connection created at `created` is due to be retired (`None`: never).
    pub(crate) fn retire_at(&self, created: Instant) -> Option<Instant> {
        self.settings
            .max_lifetime
            .and_then(|max| created.checked_add(max))
    }

    /// Whether a reaper runs its rounds: lane connections then leave their lifetime checks to
    /// it (one clock read per round instead of two per statement).
    pub(crate) fn is_reaped(&self) -> bool {
        self.reaped.load(Ordering::Relaxed)
    }

    pub(crate) fn set_reaped(&self, reaped: bool) {
        self.reaped.store(reaped, Ordering::Relaxed);
    }

    /// Whether a connection created at `created` is past its maximum lifetime.
    pub(crate) fn is_expired(&self, created: Instant) -> bool {
        self.settings
            .max_lifetime
            .is_some_and(|max| created.elapsed() >= max)
    }

    /// The pool's `pre_recycle` hook: a connection past its lifetime is not handed out.
    pub(crate) fn pre_recycle_hook(self: &Arc<Self>) -> Hook {
        let lifetime = Arc::clone(self);
        Hook::sync_fn(move |_, metrics: &Metrics| {
            if lifetime.is_expired(metrics.created) {
                Err(HookError::message("past its maximum lifetime"))
            } else {
                Ok(())
            }
        })
    }

    /// A connection kept out of the pool (a lane connection) goes back to it now.
    pub(crate) fn returning(&self, object: &Object) {
        if self.settings.idle_timeout.is_some() {
            lock(&self.returned).insert(key(object), Instant::now());
        }
    }

    /// How long a connection in the pool has been idle.
    fn idle_for(
        &self,
        client: &ClientWrapper,
        metrics: &Metrics,
        returned: &HashMap<usize, Instant>,
    ) -> Duration {
        let taken = metrics.last_used();
        match returned.get(&key(client)) {
            Some(at) => taken.min(at.elapsed()),
            None => taken,
        }
    }

    /// Closes the pool's idle connections that are closed, past their lifetime, or (while
    /// more than the idle floor remain) idle too long. Returns how many it closed.
    pub(crate) fn reap_pool(&self, pool: &Pool) -> usize {
        let idle_timeout = self.settings.idle_timeout;
        let mut idle = pool.status().available;
        let removed = {
            let returned = lock(&self.returned);
            pool.retain(|client, metrics| {
                let spent = client.is_closed() || self.is_expired(metrics.created);
                let idle_too_long = idle > self.settings.min_idle
                    && idle_timeout
                        .is_some_and(|t| self.idle_for(client, &metrics, &returned) >= t);
                let keep = !spent && !idle_too_long;
                if !keep {
                    idle = idle.saturating_sub(1);
                }
                keep
            })
            .removed
        };
        // Entries older than the idle timeout say nothing any more: a connection still idle
        // since then is closed above, one in use records a new time when it comes back.
        if let Some(timeout) = idle_timeout {
            lock(&self.returned).retain(|_, at| at.elapsed() < timeout);
        }
        removed.len()
    }

    /// Whether an idle lane connection, idle for `idle_for`, should leave the lane.
    pub(crate) fn idle_too_long(&self, idle_for: Duration) -> bool {
        self.settings
            .idle_timeout
            .is_some_and(|timeout| idle_for >= timeout)
    }

    /// Opens connections until the pool has `min_idle` idle ones (`idle_elsewhere` more are
    /// idle in the lane), within its maximum size. Every idle one is taken out while new ones
    /// open (for a moment: a connect), so that the pool opens new ones instead of handing
    /// back those it has.
    pub(crate) async fn refill(&self, pool: &Pool, idle_elsewhere: usize) {
        let status = pool.status();
        let idle = status.available + idle_elsewhere;
        if idle >= self.settings.min_idle || status.size >= status.max_size || pool.is_closed() {
            return;
        }
        let wanted = status.available + (self.settings.min_idle - idle);
        let mut timeouts = pool.timeouts();
        timeouts.wait = Some(Duration::ZERO);
        let mut taken = Vec::with_capacity(wanted);
        while taken.len() < wanted {
            match pool.timeout_get(&timeouts).await {
                Ok(object) => taken.push(object),
                Err(deadpool_postgres::PoolError::Timeout(TimeoutType::Wait)) => break,
                Err(error) => {
                    tracing::debug!(%error, "pgrepo: could not open an idle connection");
                    break;
                }
            }
        }
    }
}

/// Runs `tick` every `interval` for as long as `target` lives; the task holds only a `Weak`,
/// so dropping the last `Db` ends it. Without a tokio runtime (a `Db` built outside one),
/// there is no reaper: the pool and the lane still retire connections past their lifetime.
pub(crate) fn spawn_reaper<T, F>(target: Weak<T>, interval: Duration, tick: F)
where
    T: Send + Sync + 'static,
    F: for<'t> Fn(&'t T) -> futures_util::future::BoxFuture<'t, bool> + Send + 'static,
{
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        tracing::debug!("pgrepo: no tokio runtime; idle connections are not reaped");
        return;
    };
    runtime.spawn(async move {
        loop {
            tokio::time::sleep(interval).await;
            let Some(target) = target.upgrade() else {
                return;
            };
            if !tick(&target).await {
                return;
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reaper_runs_a_quarter_of_the_shortest_limit_within_bounds() {
        let settings = |max_lifetime, idle_timeout, min_idle| LifetimeSettings {
            max_lifetime,
            idle_timeout,
            min_idle,
        };
        let s = Duration::from_secs;
        assert_eq!(settings(None, None, 0).reap_interval(), None);
        assert_eq!(
            settings(Some(s(60)), Some(s(8)), 0).reap_interval(),
            Some(s(2))
        );
        assert_eq!(
            settings(Some(s(3600)), None, 0).reap_interval(),
            Some(REAP_MAX)
        );
        assert_eq!(
            settings(None, Some(Duration::from_millis(40)), 0).reap_interval(),
            Some(REAP_MIN)
        );
        assert_eq!(
            settings(None, Some(s(8)), 2).reap_interval(),
            Some(REFILL_EVERY)
        );
        assert_eq!(settings(None, None, 2).reap_interval(), Some(REFILL_EVERY));
    }
}
