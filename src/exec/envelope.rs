//! The envelope seam: what is sent around a statement on the same connection, pipelined with
//! it so that a scoped statement stays one round trip.
//!
//! - a *prelude* goes before the statement: `BEGIN` with a transaction's options on its first
//!   statement (a [`Tx`](crate::Tx) begins lazily), or the `BEGIN` of a one-statement
//!   transaction ([`Scope`](crate::Scope)); with it, transaction-local settings bound as
//!   parameters ([`Locals`]: a tenant);
//! - a *postlude* goes after it: `COMMIT` of a one-statement transaction, later the capture of
//!   a WAL position after a write.
//!
//! tokio-postgres sends a request when its future is first polled and answers requests in the
//! order they were sent, so the prelude is polled once (sent) before the statement is polled,
//! and the postlude after. Nothing waits for the prelude's answer before the statement goes out.

use std::sync::atomic::{AtomicBool, Ordering};

use deadpool_postgres::ClientWrapper;
use futures_util::TryStreamExt as _;
use tokio_postgres::types::{ToSql, Type};

/// Text sent before and after a statement (simple protocol), and who to tell once the
/// prelude is on its way.
#[derive(Default)]
pub(crate) struct Envelope<'a> {
    pub(crate) prelude: Option<Prelude<'a>>,
    pub(crate) postlude: Option<&'a str>,
    /// The server answered the postlude (a one-statement transaction's `COMMIT`, which ends
    /// the transaction whether it commits or, after a failed statement, rolls back).
    pub(crate) ended: bool,
}

impl Envelope<'_> {
    /// Nothing around the statement: the common case, which takes the plain path.
    pub(crate) fn is_empty(&self) -> bool {
        self.prelude.is_none() && self.postlude.is_none()
    }
}

/// Statements sent before the statement.
pub(crate) struct Prelude<'a> {
    pub(crate) sql: &'a str,
    /// Transaction-local settings sent right after `sql`, with their values bound.
    pub(crate) locals: Option<&'a Locals>,
    /// Set once the prelude has been handed to the connection (even if its future is dropped
    /// afterwards), with whatever guard kept other statements from overtaking it.
    pub(crate) sent: Option<Sent<'a>>,
}

impl Prelude<'_> {
    /// Sends the prelude: its text, then its locals, both handed to the connection at the
    /// first poll (so a caller may poll once, then send the statement behind it).
    pub(crate) async fn send(
        sql: &str,
        locals: Option<&Locals>,
        client: &ClientWrapper,
    ) -> Result<(), tokio_postgres::Error> {
        let text = client.batch_execute(sql);
        let set = async {
            match locals {
                Some(locals) => locals.send(client).await,
                None => Ok(()),
            }
        };
        // `join` polls `text` first: it is sent before the settings.
        let (text, set) = futures_util::future::join(text, set).await;
        text?;
        set
    }
}

/// Settings that hold for one transaction (`set_config(name, value, true)`), their values bound
/// as parameters: nothing a caller gives is ever quoted into SQL text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Locals {
    sql: String,
    values: Vec<String>,
}

#[allow(dead_code)] // until tenant scopes set them
impl Locals {
    /// `set_config` of each `(name, value)`; names are the library's own constants.
    pub(crate) fn new(settings: &[(&str, &str)]) -> Self {
        let calls: Vec<String> = (0..settings.len())
            .map(|i| format!("set_config(${}, ${}, true)", 2 * i + 1, 2 * i + 2))
            .collect();
        Locals {
            sql: format!("SELECT {}", calls.join(", ")),
            values: settings
                .iter()
                .flat_map(|(name, value)| [(*name).to_owned(), (*value).to_owned()])
                .collect(),
        }
    }

    /// The value set under `name`, if any.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.values
            .chunks(2)
            .find(|pair| pair[0] == name)
            .map(|pair| pair[1].as_str())
    }

    async fn send(&self, client: &ClientWrapper) -> Result<(), tokio_postgres::Error> {
        let params = self.values.iter().map(|v| (v as &dyn ToSql, Type::TEXT));
        let rows = client.query_typed_raw(&self.sql, params).await?;
        let mut rows = std::pin::pin!(rows);
        while rows.try_next().await?.is_some() {}
        Ok(())
    }
}

/// Marks a scope's prelude as sent and releases the scope's other statements, which waited so
/// as not to run before it.
pub(crate) struct Sent<'a> {
    pub(crate) flag: &'a AtomicBool,
    pub(crate) _turn: tokio::sync::MutexGuard<'a, ()>,
}

impl Sent<'_> {
    pub(crate) fn mark(self) {
        self.flag.store(true, Ordering::Release);
        // `_turn` drops here: the scope's next statements go after the prelude.
    }
}

#[cfg(test)]
mod tests {
    use super::Locals;

    #[test]
    fn locals_bind_names_and_values() {
        let locals = Locals::new(&[("pgrepo.tenant", "42"), ("app.x", "it's")]);
        assert_eq!(
            locals.sql,
            "SELECT set_config($1, $2, true), set_config($3, $4, true)"
        );
        assert_eq!(locals.values, ["pgrepo.tenant", "42", "app.x", "it's"]);
        assert_eq!(locals.get("app.x"), Some("it's"));
        assert_eq!(locals.get("nope"), None);
    }
}
