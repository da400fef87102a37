//! [`Timeouts`]: how long a statement may run, wait for a lock, or leave a transaction idle,
//! before the server cancels it.
//!
//! A [`Db`](crate::Db) sets its timeouts on every connection it opens (as startup options, so
//! they cost no round trip). A handle ([`Db::with_timeouts`](crate::Db::with_timeouts), a
//! [`Scope`](crate::Scope)) or a transaction ([`TxOptions::timeouts`](crate::TxOptions::timeouts))
//! overrides them for its own statements only: `SET LOCAL` in the `BEGIN` of each of its
//! transactions (a handle runs each statement in a one-statement transaction, all pipelined),
//! so they end with it and never stay on a pooled connection. A statement the server
//! cancels for a timeout fails with [`Error::QueryCanceled`](crate::Error::QueryCanceled)
//! (reason [`StatementTimeout`](crate::CancelReason::StatementTimeout)) or
//! [`Error::LockNotAvailable`](crate::Error::LockNotAvailable) (cause
//! [`LockTimeout`](crate::LockWait::LockTimeout)), and the connection stays usable. An idle
//! transaction past its timeout is ended by the server together with its session: its next
//! statement fails, and the connection is replaced.

use std::fmt::Write as _;
use std::time::Duration;

/// The three timeouts of a [`Db`](crate::Db), of a [`Scope`](crate::Scope) or of one
/// transaction; `None` leaves the server's setting (or, in a scope or a transaction, the
/// enclosing one's) as it is, and `Some(Duration::ZERO)` turns the timeout off.
///
/// ```
/// use std::time::Duration;
/// use pgrepo::Timeouts;
/// let timeouts = Timeouts::default().statement(Some(Duration::from_secs(2)));
/// assert_eq!(timeouts.statement_ms(), Some(2000));
/// assert_eq!(Timeouts::none().statement_ms(), None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    statement: Option<Duration>,
    lock: Option<Duration>,
    idle_in_transaction: Option<Duration>,
}

impl Default for Timeouts {
    /// A `Db`'s defaults: statements 30 s, lock waits 10 s, idle in a transaction 60 s. A
    /// service that needs longer statements (reports, migrations) raises them for those
    /// transactions ([`TxOptions::timeouts`](crate::TxOptions::timeouts)).
    fn default() -> Self {
        Timeouts {
            statement: Some(Duration::from_secs(30)),
            lock: Some(Duration::from_secs(10)),
            idle_in_transaction: Some(Duration::from_secs(60)),
        }
    }
}

impl Timeouts {
    /// No timeout set: the server's settings apply.
    pub fn none() -> Self {
        Timeouts {
            statement: None,
            lock: None,
            idle_in_transaction: None,
        }
    }

    /// `statement_timeout`: the longest a statement may run.
    #[must_use]
    pub fn statement(mut self, timeout: Option<Duration>) -> Self {
        self.statement = timeout;
        self
    }

    /// `lock_timeout`: the longest a statement may wait for a lock (a row another transaction
    /// is updating, a table an `ALTER` holds).
    #[must_use]
    pub fn lock(mut self, timeout: Option<Duration>) -> Self {
        self.lock = timeout;
        self
    }

    /// `idle_in_transaction_session_timeout`: the longest a transaction may sit idle between
    /// statements (the server then ends the session, and with it the transaction).
    #[must_use]
    pub fn idle_in_transaction(mut self, timeout: Option<Duration>) -> Self {
        self.idle_in_transaction = timeout;
        self
    }

    /// These timeouts, each one left `None` taken from `base`.
    pub(crate) fn over(self, base: Option<Timeouts>) -> Timeouts {
        let base = base.unwrap_or(Timeouts::none());
        Timeouts {
            statement: self.statement.or(base.statement),
            lock: self.lock.or(base.lock),
            idle_in_transaction: self.idle_in_transaction.or(base.idle_in_transaction),
        }
    }

    /// The statement timeout in milliseconds, as sent.
    pub fn statement_ms(&self) -> Option<u64> {
        self.statement.map(millis)
    }

    fn settings(&self) -> impl Iterator<Item = (&'static str, u64)> {
        [
            ("statement_timeout", self.statement),
            ("lock_timeout", self.lock),
            (
                "idle_in_transaction_session_timeout",
                self.idle_in_transaction,
            ),
        ]
        .into_iter()
        .filter_map(|(name, timeout)| timeout.map(|t| (name, millis(t))))
    }

    /// The startup options that set them on a new connection (`-c statement_timeout=30000 …`),
    /// after `existing` options of the URL.
    pub(crate) fn startup_options(&self, existing: Option<&str>) -> Option<String> {
        let mut options = existing.unwrap_or_default().to_owned();
        for (name, ms) in self.settings() {
            if !options.is_empty() {
                options.push(' ');
            }
            let _ = write!(options, "-c {name}={ms}");
        }
        (!options.is_empty()).then_some(options)
    }

    /// `SET LOCAL` statements that set them for one transaction (empty when none is set).
    pub(crate) fn set_local(&self) -> String {
        let mut sql = String::new();
        for (name, ms) in self.settings() {
            if !sql.is_empty() {
                sql.push_str("; ");
            }
            let _ = write!(sql, "SET LOCAL {name} = {ms}");
        }
        sql
    }
}

/// At least a millisecond for any non-zero duration: `0` means "no timeout" to the server.
fn millis(duration: Duration) -> u64 {
    let ms = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
    if ms == 0 && !duration.is_zero() {
        1
    } else {
        ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn startup_options_follow_the_urls_and_set_local_lists_each_timeout() {
        let timeouts = Timeouts::none()
            .statement(Some(Duration::from_millis(1500)))
            .lock(Some(Duration::from_micros(10)));
        assert_eq!(
            timeouts
                .startup_options(Some("-c search_path=app"))
                .as_deref(),
            Some("-c search_path=app -c statement_timeout=1500 -c lock_timeout=1")
        );
        assert_eq!(
            timeouts.set_local(),
            "SET LOCAL statement_timeout = 1500; SET LOCAL lock_timeout = 1"
        );
        assert_eq!(Timeouts::none().startup_options(None), None);
        assert_eq!(Timeouts::none().set_local(), "");
        assert_eq!(
            Timeouts::default().startup_options(None).as_deref(),
            Some(
                "-c statement_timeout=30000 -c lock_timeout=10000 \
                 -c idle_in_transaction_session_timeout=60000"
            )
        );
    }
}
