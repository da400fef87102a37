//! Hand-written SQL: its text and whether it reads or writes, run through the same path and
//! statement cache as generated statements ([`Executor::query`](crate::Executor::query) and
//! friends).

use tokio_postgres::types::Type;

use crate::sql::{Access, Shape, Statement};

/// The table hand-written statements report in spans and errors.
pub(crate) const TABLE: &str = "(query)";

/// Hand-written SQL text and its [`Access`]. A plain `&str` converts into a write, so that a
/// router never sends `UPDATE …` to a replica by mistake; say [`Sql::read`] for a read.
///
/// ```no_run
/// # async fn demo(db: pgrepo::Db) -> pgrepo::Result<()> {
/// use pgrepo::{Executor, Sql};
/// let rows = db.query(Sql::read("SELECT count(*) FROM users"), &[]).await?;
/// db.execute("UPDATE users SET name = $1 WHERE id = $2", &[&"Ada", &1_i64]).await?;
/// # let _ = rows; Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sql<'s> {
    text: &'s str,
    access: Access,
    types: &'s [Type],
}

impl<'s> Sql<'s> {
    /// A statement that only reads.
    pub fn read(text: &'s str) -> Self {
        Sql {
            text,
            access: Access::Read,
            types: &[],
        }
    }

    /// A statement that writes (what a plain `&str` means).
    pub fn write(text: &'s str) -> Self {
        Sql {
            text,
            access: Access::Write,
            types: &[],
        }
    }

    /// Declares the parameter types (one per `$n`), as generated statements do: the server
    /// infers none, so no implicit cast keeps it from using an index, and in
    /// [`StatementMode::Unnamed`](crate::StatementMode::Unnamed) the statement is parsed,
    /// bound and run in one round trip without a named statement. Without them, the server
    /// infers the types when it prepares the statement.
    pub fn types(mut self, types: &'s [Type]) -> Self {
        self.types = types;
        self
    }

    /// The SQL text.
    pub fn text(&self) -> &'s str {
        self.text
    }

    /// Whether it reads or writes.
    pub fn access(&self) -> Access {
        self.access
    }

    /// The statement run for it, labelled `label` in spans and errors.
    pub(crate) fn statement(self, label: &'static str) -> Statement {
        Statement::ad_hoc(self.text, self.types.to_vec(), TABLE, label, Shape::Rows)
            .with_access(self.access)
    }
}

impl<'s> From<&'s str> for Sql<'s> {
    fn from(text: &'s str) -> Self {
        Sql::write(text)
    }
}

impl<'s> From<&'s String> for Sql<'s> {
    fn from(text: &'s String) -> Self {
        Sql::write(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_written_sql_writes_unless_it_says_it_reads() {
        assert_eq!(
            Sql::from("SELECT 1").statement("query").access(),
            Access::Write
        );
        assert_eq!(
            Sql::read("SELECT 1").statement("query").access(),
            Access::Read
        );
        let statement = Sql::read("SELECT 1").statement("query");
        // Access and shape are separate: a hand-written read still returns rows.
        assert_eq!(statement.shape(), Shape::Rows);
        // Never a keyed lookup: strict mode watches it only with `all_reads`.
        assert_eq!(statement.keyed(), None);
    }

    #[test]
    fn generated_statements_read_or_write_as_they_do() {
        let select = Statement::new("SELECT 1", vec![], "t", "get", Shape::SingleRow);
        let insert = Statement::new("INSERT …", vec![], "t", "insert", Shape::Write);
        assert_eq!(select.access(), Access::Read);
        assert_eq!(insert.access(), Access::Write);
    }
}
