//! The SQL text of every statement, built once per entity from its column metadata.
//!
//! A [`Statement`] is what the executor prepares and caches: SQL, explicit parameter types and
//! the labels tracing, errors and strict mode report. Nothing here talks to a server.

use std::sync::atomic::{AtomicU32, Ordering};

use tokio_postgres::types::Type;

use crate::entity::{ColumnDef, Entity};

mod entity_statements;
pub(crate) mod param_array;
pub(crate) mod raw;
mod unnest;

pub use entity_statements::EntityStatements;
pub(crate) use entity_statements::LookupStatements;

/// Whether a statement only reads or may write: reads may be routed to a replica, writes go
/// to the primary. Independent of its [`Shape`] (an `INSERT … RETURNING` writes and returns
/// rows).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Only reads.
    Read,
    /// May write (the default of hand-written SQL).
    Write,
}

/// What a statement returns. (Strict mode goes by [`Statement::keyed`], not by the shape: a
/// has-many lookup returns many rows and is the N+1 a per-parent loop repeats all the same.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// At most one row, selected by a unique key.
    SingleRow,
    /// Any number of rows.
    Rows,
    /// A write.
    Write,
}

/// A read that selects rows by one key value: the statement an N+1 loop runs once per parent,
/// and the one [`Strict`](crate::Strict) scopes flag by default. Its batched form takes an
/// array of keys (`= ANY($1)`) and is not keyed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Keyed {
    /// By one primary-key value ([`Repo::get`](crate::Repo::get)); batched by a
    /// [`Loader`](crate::Loader) or [`Repo::get_many`](crate::Repo::get_many).
    PrimaryKey,
    /// By one value of a lookup column ([`Repo::find_by`](crate::Repo::find_by),
    /// [`Repo::find_one_by`](crate::Repo::find_one_by), [`Repo::count_by`](crate::Repo::count_by)),
    /// e.g. a parent's children through a foreign key; batched by a
    /// [`LookupLoader`](crate::LookupLoader), [`Repo::find_grouped`](crate::Repo::find_grouped)
    /// or [`Repo::grouped`](crate::Repo::grouped).
    Column,
}

/// The next [`Statement::id`]; 0 is never handed out.
static NEXT_ID: AtomicU32 = AtomicU32::new(1);

/// A statement with its parameter types: prepared once per connection and reused.
#[derive(Debug, Clone)]
pub struct Statement {
    /// Its slot in a connection's own statement cache (`pool::LaneConn`); 0 for ad hoc
    /// statements, which only the driver's cache (keyed by SQL text) keeps.
    pub(crate) id: u32,
    pub(crate) sql: String,
    pub(crate) types: Vec<Type>,
    pub(crate) table: &'static str,
    pub(crate) label: &'static str,
    pub(crate) shape: Shape,
    pub(crate) access: Access,
    pub(crate) keyed: Option<Keyed>,
    /// The table (schema-qualified as written) when it belongs to a tenant entity: it runs
    /// only in a tenant scope (`tenant::admit`).
    pub(crate) tenant_table: Option<&'static str>,
    /// Its last parameter is the scope's tenant, which the execution path binds (a statement
    /// of a tenant entity's filtered set, or an insert of one).
    pub(crate) tenant_param: bool,
}

impl Statement {
    /// A statement on `table`, labelled `label` in traces and errors. Build it once and keep
    /// it (the repository builds each entity's statements once per process): each one gets its
    /// own slot in every connection's statement cache.
    pub fn new(
        sql: impl Into<String>,
        types: Vec<Type>,
        table: &'static str,
        label: &'static str,
        shape: Shape,
    ) -> Self {
        Statement {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            ..Statement::ad_hoc(sql, types, table, label, shape)
        }
    }

    /// A statement built for one call (hand-written SQL): cached by its text only.
    pub(crate) fn ad_hoc(
        sql: impl Into<String>,
        types: Vec<Type>,
        table: &'static str,
        label: &'static str,
        shape: Shape,
    ) -> Self {
        Statement {
            id: 0,
            sql: sql.into(),
            types,
            table,
            label,
            shape,
            // Generated statements: a write is exactly what returns `Shape::Write`; a builder
            // saying otherwise calls `with_access`.
            access: if shape == Shape::Write {
                Access::Write
            } else {
                Access::Read
            },
            keyed: None,
            tenant_table: None,
            tenant_param: false,
        }
    }

    /// The same statement, on `E`'s table, and tenant-scoped when `E` has a tenant column.
    pub(crate) fn of_entity<E: Entity>(mut self) -> Self {
        self.tenant_table = entity_statements::tenant_table::<E>();
        self
    }

    /// Whether it belongs to a tenant entity (`#[pgrepo(tenant)]`): it runs only in a tenant
    /// scope ([`Db::tenant`](crate::Db::tenant), [`Db::all_tenants`](crate::Db::all_tenants)).
    pub fn is_tenant_scoped(&self) -> bool {
        self.tenant_table.is_some()
    }

    /// The same statement, reading or writing as `access` says.
    pub(crate) fn with_access(mut self, access: Access) -> Self {
        self.access = access;
        self
    }

    /// The same statement, marked as a read of rows by one key value.
    pub(crate) fn keyed_by(mut self, keyed: Keyed) -> Self {
        self.keyed = Some(keyed);
        self
    }

    /// `Some` when it reads rows by one key value (`get`, `find_by_…`, `count_by_…`): what an
    /// N+1 loop repeats once per parent. `None` for reads of a table, a page or a batch of
    /// keys, hand-written SQL, and writes.
    pub fn keyed(&self) -> Option<Keyed> {
        self.keyed
    }

    /// Whether it reads or writes.
    pub fn access(&self) -> Access {
        self.access
    }

    /// What it returns.
    pub fn shape(&self) -> Shape {
        self.shape
    }

    /// The SQL text.
    pub fn sql(&self) -> &str {
        &self.sql
    }

    /// The explicit parameter types.
    pub fn types(&self) -> &[Type] {
        &self.types
    }

    /// The table it concerns.
    pub fn table(&self) -> &'static str {
        self.table
    }

    /// The label used in traces and errors (`get`, `insert`, `find_by_email`, …).
    pub fn label(&self) -> &'static str {
        self.label
    }
}

/// Quotes an identifier for PostgreSQL (`"name"`, inner quotes doubled).
pub(crate) fn quote_ident(out: &mut String, ident: &str) {
    out.push('"');
    for c in ident.chars() {
        if c == '"' {
            out.push('"');
        }
        out.push(c);
    }
    out.push('"');
}

/// The entity's table, schema-qualified when a schema is declared.
pub(crate) fn table_ref<E: Entity>() -> String {
    let mut out = String::new();
    if let Some(schema) = E::SCHEMA {
        quote_ident(&mut out, schema);
        out.push('.');
    }
    quote_ident(&mut out, E::TABLE);
    out
}

/// `"a", "b", "c"` for the given columns, each prefixed by `prefix` (e.g. `t.`).
pub(crate) fn column_list<'a>(
    columns: impl IntoIterator<Item = &'a ColumnDef>,
    prefix: &str,
) -> String {
    let mut out = String::new();
    for (i, c) in columns.into_iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(prefix);
        quote_ident(&mut out, c.name);
    }
    out
}

/// `$1, $2, …, $n`.
pub(crate) fn placeholders(n: usize) -> String {
    (1..=n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}
