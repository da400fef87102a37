//! Who holds the pool's connections: every connection a caller takes for its own (a
//! transaction) is registered with where it was borrowed (the caller's source location, through
//! `#[track_caller]`) and since when, until it goes back.
//!
//! This is what makes an exhausted pool diagnosable: [`Error::PoolTimeout`](crate::Error)
//! carries the longest current holders, and a connection held longer than the hold warning
//! threshold is logged (a `tracing` warning) once when the threshold passes, naming where it
//! was borrowed, and once more when it comes back. Registration is a lock and a slot, and no
//! task: one task per pool (spawned with the first registration, none when warnings are off)
//! looks at the holders every quarter of the threshold, so a warning comes up to a quarter of
//! the threshold after it passes.

use std::fmt;
use std::panic::Location;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tokio::task::AbortHandle;

/// How long a connection may be held before it is logged (default of
/// [`DbBuilder::hold_warning`](crate::DbBuilder::hold_warning)).
pub(crate) const DEFAULT_HOLD_WARNING: Duration = Duration::from_secs(10);

/// The holders are looked at every quarter of the threshold, but no more often than this.
const SCAN_MIN: Duration = Duration::from_millis(10);

/// How many holders an [`Error::PoolTimeout`](crate::Error::PoolTimeout) names.
pub(crate) const HOLDERS_REPORTED: usize = 5;

/// A caller holding a connection of its own, as an exhausted pool reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Holder {
    /// Where the connection was borrowed: the caller of `Db::begin`, `Db::transaction` and
    /// friends.
    pub borrowed_at: &'static Location<'static>,
    /// How long it has been held.
    pub held_for: Duration,
}

impl fmt::Display for Holder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "borrowed at {} {} ms ago",
            self.borrowed_at,
            self.held_for.as_millis()
        )
    }
}

/// The holders as the end of [`Error::PoolTimeout`](crate::Error::PoolTimeout)'s message.
pub(crate) fn describe_holders(holders: &[Holder]) -> String {
    if holders.is_empty() {
        return String::new();
    }
    let listed: Vec<String> = holders.iter().map(Holder::to_string).collect();
    format!("; longest holders: {}", listed.join(", "))
}

/// The registry of one pool's holders.
#[derive(Debug)]
pub(crate) struct Holders {
    state: Mutex<State>,
    /// `None`: no warnings.
    warn_after: Option<Duration>,
}

#[derive(Debug, Default)]
struct State {
    slots: Vec<Slot>,
    free: Vec<usize>,
    /// The task that warns about long holders (`None` until the first registration, or when
    /// warnings are off). Spawned again if it ended (its runtime shut down).
    scanner: Option<AbortHandle>,
    /// Scanner tasks spawned, for the tests.
    #[cfg(test)]
    scanners_spawned: usize,
}

#[derive(Debug, Default)]
struct Slot {
    held: Option<Held>,
    /// Bumped each time the slot is reused, so that a stale `Hold` never releases the next
    /// holder.
    generation: u64,
}

#[derive(Debug)]
struct Held {
    at: &'static Location<'static>,
    since: Instant,
    warned: bool,
}

impl Holders {
    pub(crate) fn new(warn_after: Option<Duration>) -> Arc<Self> {
        Arc::new(Holders {
            state: Mutex::new(State::default()),
            warn_after,
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers a connection borrowed at `at`, until the returned guard is dropped.
    pub(crate) fn register(self: &Arc<Self>, at: &'static Location<'static>) -> Hold {
        let mut state = self.lock();
        let index = match state.free.pop() {
            Some(index) => index,
            None => {
                state.slots.push(Slot::default());
                state.slots.len() - 1
            }
        };
        let slot = &mut state.slots[index];
        slot.generation += 1;
        slot.held = Some(Held {
            at,
            since: Instant::now(),
            warned: false,
        });
        let generation = slot.generation;
        if let Some(after) = self.warn_after {
            if state.scanner.as_ref().is_none_or(AbortHandle::is_finished) {
                // Spawning does not run the task: fine under the lock, which makes it one.
                state.scanner = self.spawn_scanner(after);
                #[cfg(test)]
                {
                    state.scanners_spawned += 1;
                }
            }
        }
        drop(state);
        Hold {
            holders: Arc::clone(self),
            index,
            generation,
        }
    }

    /// The task that warns about holders past `after`. It holds only a `Weak`: it ends when
    /// the pool is dropped. Without a runtime, none (and no warnings).
    fn spawn_scanner(self: &Arc<Self>, after: Duration) -> Option<AbortHandle> {
        let runtime = tokio::runtime::Handle::try_current().ok()?;
        let holders = Arc::downgrade(self);
        let every = (after / 4).max(SCAN_MIN);
        let task = runtime.spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let Some(holders) = holders.upgrade() else {
                    return;
                };
                holders.warn_past(after);
            }
        });
        Some(task.abort_handle())
    }

    /// Logs each holder that has held its connection for `after` or longer, once.
    fn warn_past(&self, after: Duration) {
        let now = Instant::now();
        let mut past = Vec::new();
        {
            let mut state = self.lock();
            for held in state.slots.iter_mut().filter_map(|slot| slot.held.as_mut()) {
                let held_for = now.saturating_duration_since(held.since);
                if !held.warned && held_for >= after {
                    held.warned = true;
                    past.push((held.at, held_for));
                }
            }
        }
        for (at, held_for) in past {
            tracing::warn!(
                borrowed_at = %at,
                held_ms = held_for.as_millis() as u64,
                "pgrepo: a connection borrowed at {at} has been held for {} ms; while it is \
                 held, the pool has one connection less (a transaction left open, or slow \
                 work inside one)",
                held_for.as_millis()
            );
        }
    }

    fn release(&self, index: usize, generation: u64) {
        let mut state = self.lock();
        let Some(slot) = state.slots.get_mut(index) else {
            return;
        };
        if slot.generation != generation {
            return;
        }
        let held = slot.held.take();
        state.free.push(index);
        drop(state);
        let Some(held) = held else {
            return;
        };
        let held_for = held.since.elapsed();
        if held.warned || self.warn_after.is_some_and(|after| held_for >= after) {
            tracing::warn!(
                borrowed_at = %held.at,
                held_ms = held_for.as_millis() as u64,
                "pgrepo: the connection borrowed at {} came back after {} ms",
                held.at,
                held_for.as_millis()
            );
        }
    }

    /// The current holders, longest first, at most `n`.
    pub(crate) fn longest(&self, n: usize) -> Vec<Holder> {
        let now = Instant::now();
        let mut holders: Vec<Holder> = self
            .lock()
            .slots
            .iter()
            .filter_map(|slot| slot.held.as_ref())
            .map(|held| Holder {
                borrowed_at: held.at,
                held_for: now.saturating_duration_since(held.since),
            })
            .collect();
        holders.sort_by_key(|holder| std::cmp::Reverse(holder.held_for));
        holders.truncate(n);
        holders
    }

    /// How many connections are registered.
    #[cfg(test)]
    fn count(&self) -> usize {
        let state = self.lock();
        state.slots.len() - state.free.len()
    }
}

/// A registered holder: dropping it (with the connection) unregisters it.
#[derive(Debug)]
pub(crate) struct Hold {
    holders: Arc<Holders>,
    index: usize,
    generation: u64,
}

impl Drop for Hold {
    fn drop(&mut self) {
        self.holders.release(self.index, self.generation);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holders_are_listed_longest_first_and_forgotten_when_dropped() {
        let holders = Holders::new(None);
        let first = holders.register(Location::caller());
        std::thread::sleep(Duration::from_millis(5));
        let second = holders.register(Location::caller());
        let listed = holders.longest(5);
        assert_eq!(listed.len(), 2);
        assert!(listed[0].held_for >= listed[1].held_for);
        assert_eq!(holders.count(), 2);
        drop(first);
        assert_eq!(holders.count(), 1);
        // The freed slot is reused; the old guard's generation no longer matches it.
        let third = holders.register(Location::caller());
        assert_eq!(holders.count(), 2);
        holders.release(0, 1);
        assert_eq!(holders.count(), 2, "a stale release leaves the new holder");
        drop((second, third));
        assert_eq!(holders.count(), 0);
        assert!(holders.longest(5).is_empty());
    }

    fn warned(holders: &Holders) -> Vec<bool> {
        let state = holders.lock();
        let held = state.slots.iter().filter_map(|slot| slot.held.as_ref());
        held.map(|held| held.warned).collect()
    }

    #[tokio::test(flavor = "current_thread")]
    async fn one_task_per_pool_marks_every_holder_past_the_threshold_once() {
        const AFTER: Duration = Duration::from_millis(40);
        let holders = Holders::new(Some(AFTER));
        // Many short holds: registration spawns no task of its own.
        for _ in 0..100 {
            drop(holders.register(Location::caller()));
        }
        let long = holders.register(Location::caller());
        let later = holders.register(Location::caller());
        assert_eq!(holders.lock().scanners_spawned, 1);
        assert_eq!(warned(&holders), [false, false]);
        let deadline = Instant::now() + Duration::from_secs(5);
        while warned(&holders) != [true, true] && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(warned(&holders), [true, true], "past the threshold: marked");
        drop(long);
        let fresh = holders.register(Location::caller());
        assert_eq!(
            warned(&holders),
            [false, true],
            "a new holder starts unwarned"
        );
        drop((later, fresh));
        assert_eq!(holders.lock().scanners_spawned, 1);
    }

    #[test]
    fn without_a_runtime_holders_are_registered_without_a_task() {
        let holders = Holders::new(Some(Duration::from_millis(1)));
        let hold = holders.register(Location::caller());
        assert!(holders.lock().scanner.is_none());
        assert_eq!(holders.count(), 1);
        drop(hold);
        assert_eq!(holders.count(), 0);
    }
}
