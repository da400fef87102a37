//! The envelope seam: what is sent around a statement on the same connection, pipelined with
//! it so that a scoped statement stays one round trip.
//!
//! - a *prelude* goes before the statement: `BEGIN` with a transaction's options on its first
//!   statement (a [`Tx`](crate::Tx) begins lazily), or the `BEGIN` of a one-statement
//!   transaction ([`Scope`](crate::Scope)); in the same message, transaction-local settings
//!   ([`Locals`]: a tenant, timeouts);
//! - a *postlude* goes after it: `COMMIT` of a one-statement transaction, later the capture of
//!   a WAL position after a write.
//!
//! tokio-postgres sends a request when its future is first polled and answers requests in the
//! order they were sent, so the prelude is polled once (sent) before the statement is polled,
//! and the postlude after. Nothing waits for the prelude's answer before the statement goes out.

use std::sync::atomic::{AtomicBool, Ordering};

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
    /// Set once the prelude has been handed to the connection (even if its future is dropped
    /// afterwards), with whatever guard kept other statements from overtaking it.
    pub(crate) sent: Option<Sent<'a>>,
}

/// Settings that hold for one transaction (`SET LOCAL name = E'value'`), sent in the same
/// message as the transaction's `BEGIN`: no request, no parse and no round trip of their own.
///
/// Each value is a string literal in PostgreSQL's escape syntax (`E'…'`, backslashes and
/// quotes doubled), which the server reads the same whatever `standard_conforming_strings`
/// says; values with a NUL byte are refused before (`tenant::checked_id`), and names are the
/// library's own or checked setting names (`tenant::check_setting_name`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Locals {
    sql: String,
}

impl Locals {
    /// `SET LOCAL` of each `(name, value)`.
    pub(crate) fn new(settings: &[(&str, &str)]) -> Self {
        let sql = settings
            .iter()
            .map(|(name, value)| format!("SET LOCAL {name} = {}", escaped_literal(value)))
            .collect::<Vec<_>>()
            .join("; ");
        Locals { sql }
    }

    /// The statements, `;`-separated.
    pub(crate) fn sql(&self) -> &str {
        &self.sql
    }
}

/// `value` as an escape string literal: `E'…'` with `\` and `'` doubled.
fn escaped_literal(value: &str) -> String {
    debug_assert!(!value.contains('\0'), "values are checked for NUL before");
    let mut out = String::with_capacity(value.len() + 3);
    out.push_str("E'");
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("''"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
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
    fn locals_are_set_with_escaped_literals() {
        let locals = Locals::new(&[("pgrepo.tenant", "42"), ("app.x", r"it's \' x")]);
        assert_eq!(
            locals.sql(),
            r"SET LOCAL pgrepo.tenant = E'42'; SET LOCAL app.x = E'it''s \\'' x'"
        );
    }
}
