//! Why the server stopped a statement when one SQLSTATE covers several causes: which lock wait
//! gave up ([`LockWait`], SQLSTATE 55P03) and which cancellation fired ([`CancelReason`],
//! SQLSTATE 57014).
//!
//! The server tells these apart only in its message, so they are read from it. Its messages
//! are English unless the server's `lc_messages` says otherwise; in another language every
//! cause reads as `Other`, and the SQLSTATE (and so the variant) is still right.

/// Which wait for a lock gave up ([`Error::LockNotAvailable`](super::Error::LockNotAvailable)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LockWait {
    /// The statement waited for a lock longer than `lock_timeout` ("canceling statement due to
    /// lock timeout").
    LockTimeout,
    /// The statement asked not to wait (`FOR UPDATE NOWAIT`, `LOCK TABLE … NOWAIT`) and the row
    /// or table was locked ("could not obtain lock on …").
    NoWait,
    /// The server's message names neither (another cause, or messages in another language).
    Other,
}

impl LockWait {
    pub(super) fn from_message(message: &str) -> LockWait {
        if message == "canceling statement due to lock timeout" {
            LockWait::LockTimeout
        } else if message.starts_with("could not obtain lock on ") {
            LockWait::NoWait
        } else {
            LockWait::Other
        }
    }

    /// What happened and what to do about it, for the error's message.
    pub(super) fn advice(self) -> &'static str {
        match self {
            LockWait::LockTimeout => {
                "waited longer than lock_timeout for a lock another transaction holds; retry \
                 later, or shorten the transactions holding it or raise lock_timeout"
            }
            LockWait::NoWait => {
                "asked not to wait (NOWAIT) for a row or table another transaction has locked; \
                 retry later, or use SKIP LOCKED to pass over locked rows"
            }
            LockWait::Other => "could not obtain a lock another transaction holds; retry later",
        }
    }
}

/// Which cancellation stopped a statement
/// ([`Error::QueryCanceled`](super::Error::QueryCanceled)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CancelReason {
    /// It ran longer than `statement_timeout` ("canceling statement due to statement
    /// timeout"), however that was set (the role's or database's default, `SET`, `SET LOCAL`).
    StatementTimeout,
    /// A cancel request reached its backend: the driver's cancel token
    /// (`tokio_postgres::CancelToken`), `pg_cancel_backend`, or Ctrl-C in `psql` ("canceling
    /// statement due to user request").
    UserRequest,
    /// Another cause, or server messages in another language.
    Other,
}

impl CancelReason {
    pub(super) fn from_message(message: &str) -> CancelReason {
        match message {
            "canceling statement due to statement timeout" => CancelReason::StatementTimeout,
            "canceling statement due to user request" => CancelReason::UserRequest,
            _ => CancelReason::Other,
        }
    }

    /// What happened and what to do about it, for the error's message.
    pub(super) fn advice(self) -> &'static str {
        match self {
            CancelReason::StatementTimeout => {
                "ran longer than statement_timeout (lock waits included) and was canceled; \
                 make it faster (an index, a smaller batch) or raise statement_timeout for it"
            }
            CancelReason::UserRequest => {
                "was canceled by a cancel request (a cancel token, pg_cancel_backend)"
            }
            CancelReason::Other => "was canceled by the server",
        }
    }
}
