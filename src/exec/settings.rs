//! The settings seam: values that belong to a scope (a `Db`, its transactions, a strict scope
//! over either) and travel with every statement run in it.
//!
//! One struct instead of a trait method per value: a child scope (a transaction begun from a
//! `Db`) clones its parent's settings, which costs a reference count per shared value. Tenancy,
//! read consistency and timeouts add fields here, not methods to [`Executor`](super::Executor).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use super::envelope::Locals;
use crate::listing::cursor::CursorKey;
use crate::tenant::{CheckedTables, Tenancy};

/// How a statement reaches the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum StatementMode {
    /// Prepared once per connection under a name and kept in the connection's statement cache
    /// (the default): a statement run again costs no parse and no plan lookup by text.
    #[default]
    Prepared,
    /// Parsed, bound and run in one round trip as the server's unnamed statement, with the
    /// parameter types given explicitly, nothing kept between statements. For connection
    /// poolers in transaction mode, where a named statement prepared on one server connection
    /// is unknown on the next. Each new connection also learns the database's own types
    /// (enums, `citext`, domains) in one transaction when it opens, and hand-written SQL with
    /// parameters must declare their types ([`Sql::types`](crate::Sql::types)) outside a
    /// transaction ([`Error::UndeclaredParameterTypes`](crate::Error::UndeclaredParameterTypes)).
    Unnamed,
}

/// A scope's settings, cheap to clone into child scopes.
#[derive(Clone, Default)]
pub struct Settings {
    /// The secret and the key derived from it, once per `Db`.
    pub(crate) cursor_secret: Option<CursorKey>,
    pub(crate) statement_mode: StatementMode,
    pub(crate) checked_listings: CheckedListings,
    /// The `Db`'s timeouts, when they must be set in each transaction (`SET LOCAL`) because
    /// connections cannot carry them (a pooler in transaction mode).
    pub(crate) tx_timeouts: Option<crate::Timeouts>,
    /// Settings every transaction of the scope sets for itself (`SET LOCAL` in its `BEGIN`): a
    /// tenant.
    pub(crate) locals: Option<Arc<Locals>>,
    /// The tenant the scope serves, if any.
    pub(crate) tenant: Option<Tenancy>,
    /// The setting a tenant goes into (`None`: [`DEFAULT_TENANT_SETTING`](crate::DEFAULT_TENANT_SETTING)).
    pub(crate) tenant_setting: Option<Arc<str>>,
    /// Tables whose row-level security the `Db` has checked, shared by its scopes.
    pub(crate) checked_tables: CheckedTables,
}

/// The listings whose table a scope has checked (their sort columns are `NOT NULL`), by the
/// address of their statements, which live for the whole program. Shared by a `Db` and every
/// scope begun from it.
#[derive(Clone, Default)]
pub(crate) struct CheckedListings(Arc<Mutex<HashSet<usize>>>);

impl CheckedListings {
    pub(crate) fn contains(&self, listing: usize) -> bool {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&listing)
    }

    pub(crate) fn insert(&self, listing: usize) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(listing);
    }
}

impl Settings {
    /// The secret listings encrypt their cursors with unless they set their own.
    pub fn cursor_secret(&self) -> Option<&Arc<[u8]>> {
        self.cursor_secret.as_ref().map(CursorKey::secret)
    }

    /// How statements reach the server.
    pub fn statement_mode(&self) -> StatementMode {
        self.statement_mode
    }
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret.
        f.debug_struct("Settings")
            .field(
                "cursor_secret",
                &self.cursor_secret.as_ref().map(|_| "<set>"),
            )
            .field("statement_mode", &self.statement_mode)
            .field("tx_timeouts", &self.tx_timeouts)
            .field("locals", &self.locals)
            .field("tenant", &self.tenant)
            .finish()
    }
}
