//! Pool failures as [`Error`]s: an exhausted pool with its state, a connection that could not
//! be opened, a closed pool.

use std::time::Instant;

use deadpool_postgres::{Pool, PoolError};

use crate::error::Error;

pub(crate) fn pool_error(pool: &Pool, error: PoolError, started: Instant) -> Error {
    match error {
        PoolError::Timeout(_) => {
            let status = pool.status();
            Error::PoolTimeout {
                max_size: status.max_size,
                in_use: status.size.saturating_sub(status.available),
                waiting: status.waiting,
                waited_ms: started.elapsed().as_millis() as u64,
            }
        }
        PoolError::Backend(source) => Error::Connect { source },
        PoolError::Closed => Error::Pool("the pool is closed".into()),
        PoolError::NoRuntimeSpecified => {
            Error::Pool("no runtime specified for the pool's timeouts".into())
        }
        PoolError::PostCreateHook(e) => Error::Pool(format!("post-create hook failed: {e}")),
    }
}
