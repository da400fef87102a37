//! Pool failures as [`Error`]s: an exhausted pool with its state, a connection that could not
//! be opened (in time), a pool that refused for a reason of its own (its error kept as source).

use std::time::Instant;

use deadpool_postgres::{PoolError, TimeoutType};

use super::holders::HOLDERS_REPORTED;
use super::Connections;
use crate::error::Error;

/// `started` is when the caller began waiting for the pool: the wait reported by
/// [`Error::PoolTimeout`].
pub(crate) fn pool_error(connections: &Connections, error: PoolError, started: Instant) -> Error {
    let pool = connections.pool();
    match error {
        PoolError::Timeout(TimeoutType::Wait) => {
            let status = connections.status();
            Error::PoolTimeout {
                max_size: status.max_size,
                in_use: status.open.saturating_sub(status.idle),
                idle: status.idle,
                transactions: status.transactions,
                autocommit: status.autocommit,
                waiting: status.waiting,
                waited_ms: millis(started.elapsed()),
                holders: connections.holders.longest(HOLDERS_REPORTED),
            }
        }
        // Opening (or checking) a connection timed out: the server does not answer, which the
        // pool's state says nothing about.
        PoolError::Timeout(kind @ (TimeoutType::Create | TimeoutType::Recycle)) => {
            let recycling = matches!(kind, TimeoutType::Recycle);
            let timeouts = pool.timeouts();
            let limit = if recycling {
                timeouts.recycle
            } else {
                timeouts.create
            };
            Error::ConnectTimeout {
                timeout_ms: millis(limit.unwrap_or_else(|| started.elapsed())),
                recycling,
            }
        }
        PoolError::Backend(source) => match crate::connect::provider_failure(source) {
            Ok(credentials) => credentials,
            Err(source) => Error::Connect { source },
        },
        source @ (PoolError::Closed
        | PoolError::NoRuntimeSpecified
        | PoolError::PostCreateHook(_)) => Error::Pool { source },
    }
}

fn millis(duration: std::time::Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
