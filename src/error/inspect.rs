//! What a caller (or the executor) asks of an [`Error`] beyond its variant: the error behind a
//! batch, the server's report and SQLSTATE, whether to retry, whether it aborted a transaction.

use deadpool_postgres::{HookError, PoolError};
use tokio_postgres::error::{DbError, SqlState};

use super::Error;

impl Error {
    /// The error itself, or for [`Error::Batch`] the error that failed the batch: what to
    /// match on to handle an error whether or not it came through a loader.
    ///
    /// ```
    /// # fn demo(error: pgrepo::Error) {
    /// match error.root() {
    ///     pgrepo::Error::PoolTimeout { .. } => { /* retry later */ }
    ///     other => eprintln!("{other}"),
    /// }
    /// # }
    /// ```
    pub fn root(&self) -> &Error {
        let mut error = self;
        while let Error::Batch { source, .. } = error {
            error = source;
        }
        error
    }

    /// The SQLSTATE the server reported, when the error came from the server (also through
    /// [`Error::Batch`]).
    pub fn code(&self) -> Option<&SqlState> {
        self.as_db_error().map(DbError::code)
    }

    /// The server's error report, when the error came from the server (also through
    /// [`Error::Batch`]).
    pub fn as_db_error(&self) -> Option<&DbError> {
        match self.root() {
            Error::UniqueViolation { source, .. }
            | Error::ForeignKeyViolation { source, .. }
            | Error::SerializationFailure { source, .. }
            | Error::Deadlock { source, .. }
            | Error::NotNullViolation { source, .. }
            | Error::CheckViolation { source, .. }
            | Error::LockNotAvailable { source, .. }
            | Error::QueryCanceled { source, .. }
            | Error::SchemaChanged { source, .. }
            | Error::Query { source, .. }
            | Error::ConnectionLost { source, .. }
            | Error::PreparedStatementLost { source, .. }
            | Error::Connect { source }
            | Error::TransactionLost { source }
            | Error::CommitOutcomeUnknown { source } => source.as_db_error(),
            Error::Pool {
                source: PoolError::PostCreateHook(HookError::Backend(source)),
            } => source.as_db_error(),
            _ => None,
        }
    }

    /// Whether running the failed work again may succeed and cannot apply it twice: the
    /// transaction was rolled back because of concurrent ones, or never reached `COMMIT`.
    ///
    /// **Retry the whole transaction**, from its start, re-reading whatever it read; never the
    /// failed statement alone: the server has already rolled the transaction back, and what it
    /// read before may be stale. (A statement run outside a transaction was a transaction of its
    /// own: run it again.) Bound the attempts and back off between them.
    ///
    /// `true` for:
    /// - [`Error::SerializationFailure`] and [`Error::Deadlock`], also when `COMMIT` reported
    ///   them;
    /// - [`Error::TransactionLost`]: the connection closed before `COMMIT` was sent, so nothing
    ///   committed; the retry gets another connection;
    /// - [`Error::ConnectionLost`] of a read outside a transaction (`retry_safe`): reading
    ///   again cannot change anything (pgrepo already retried it once on a fresh connection).
    ///
    /// `false` for everything else, notably:
    /// - [`Error::CommitOutcomeUnknown`]: the transaction may have committed; reconcile first;
    /// - [`Error::ConnectionLost`] of a write, or inside a transaction: a write outside a
    ///   transaction may or may not have run, so repeating it may apply it twice; inside a
    ///   transaction, the whole transaction is gone (its `COMMIT` says nothing of it was
    ///   committed): run it again from its start if that is what the caller wants;
    /// - [`Error::LockNotAvailable`] and [`Error::QueryCanceled`]: a limit the application set
    ///   (`lock_timeout`, `NOWAIT`, `statement_timeout`) or a cancel request fired; retrying
    ///   under the same limit is a choice for the caller, not a property of the error;
    /// - [`Error::TransactionAborted`]: an earlier statement failed (and was reported to its
    ///   caller, who decides);
    /// - [`Error::PoolTimeout`] and [`Error::ConnectTimeout`]: nothing ran, but retrying at once
    ///   only adds load to a saturated pool or an unreachable server.
    ///
    /// Looks through [`Error::Batch`] (see [`Error::root`]).
    ///
    /// ```no_run
    /// # async fn demo(db: pgrepo::Db) -> pgrepo::Result<()> {
    /// use pgrepo::{Executor as _, Isolation, TxOptions};
    /// let mut attempts = 0;
    /// loop {
    ///     let options = TxOptions::new().isolation(Isolation::Serializable);
    ///     let result = db
    ///         .transaction_with(options, async |tx| {
    ///             tx.execute("UPDATE accounts SET balance = balance - 10 WHERE id = 1", &[])
    ///                 .await?;
    ///             tx.execute("UPDATE accounts SET balance = balance + 10 WHERE id = 2", &[])
    ///                 .await?;
    ///             Ok(())
    ///         })
    ///         .await;
    ///     match result {
    ///         Err(e) if e.is_retryable() && attempts < 5 => attempts += 1,
    ///         other => return other,
    ///     }
    /// }
    /// # }
    /// ```
    pub fn is_retryable(&self) -> bool {
        matches!(
            self.root(),
            Error::SerializationFailure { .. }
                | Error::Deadlock { .. }
                | Error::TransactionLost { .. }
                | Error::ConnectionLost {
                    retry_safe: true,
                    ..
                }
        )
    }

    /// Whether the server saw this statement fail, which aborts the transaction it ran in.
    pub(crate) fn aborts_transaction(&self) -> bool {
        match self {
            Error::UniqueViolation { .. }
            | Error::ForeignKeyViolation { .. }
            | Error::SerializationFailure { .. }
            | Error::Deadlock { .. }
            | Error::NotNullViolation { .. }
            | Error::CheckViolation { .. }
            | Error::LockNotAvailable { .. }
            | Error::QueryCanceled { .. }
            | Error::SchemaChanged { .. }
            | Error::PreparedStatementLost { .. } => true,
            Error::Query { source, .. } | Error::ConnectionLost { source, .. } => {
                source.as_db_error().is_some()
            }
            _ => false,
        }
    }

    /// The failed TLS handshake behind an [`Error::Connect`] (also through
    /// [`Error::Batch`]): which way it failed ([`TlsError::kind`](crate::TlsError::kind)), for
    /// which host.
    pub fn tls_error(&self) -> Option<&crate::TlsError> {
        let Error::Connect { source } = self.root() else {
            return None;
        };
        std::error::Error::source(source)?.downcast_ref()
    }

    /// Whether this is [`Error::NotFound`].
    pub fn is_not_found(&self) -> bool {
        matches!(self.root(), Error::NotFound { .. })
    }
}
