//! The SQL text of every statement, built once per entity from its column metadata.
//!
//! A [`Statement`] is what the executor prepares and caches: SQL, explicit parameter types and
//! the labels tracing, errors and strict mode report. Nothing here talks to a server.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU32, Ordering};

use tokio_postgres::types::Type;

use crate::entity::{conflict_column, insert_columns, update_columns, ColumnDef, Entity};

pub(crate) mod param_array;
pub(crate) mod raw;
mod unnest;

use unnest::unnest_source;

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
        }
    }

    /// The same statement, on `E`'s table, and tenant-scoped when `E` has a tenant column.
    pub(crate) fn of_entity<E: Entity>(mut self) -> Self {
        self.tenant_table = tenant_table::<E>();
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

/// `E`'s table reference when `E` has a tenant column, built once per entity and kept for the
/// process (like the statements that carry it).
fn tenant_table<E: Entity>() -> Option<&'static str> {
    E::columns()
        .iter()
        .any(|c| c.tenant)
        .then(|| &*Box::leak(table_ref::<E>().into_boxed_str()))
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
fn placeholders(n: usize) -> String {
    (1..=n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The per-lookup-column statements.
#[derive(Debug)]
pub(crate) struct LookupStatements {
    pub(crate) find: Statement,
    pub(crate) find_any: Statement,
    pub(crate) count: Statement,
}

/// Every statement of one entity. Built once per process by generated code.
#[derive(Debug)]
pub struct EntityStatements {
    pub(crate) table: String,
    pub(crate) select_list: String,
    pub(crate) all: Statement,
    pub(crate) get: Statement,
    pub(crate) get_many: Statement,
    pub(crate) insert: Statement,
    pub(crate) insert_many: Statement,
    pub(crate) insert_many_count: Statement,
    pub(crate) insert_count: Statement,
    pub(crate) update: Option<Statement>,
    pub(crate) upsert: Option<Statement>,
    pub(crate) delete: Statement,
    pub(crate) delete_many: Statement,
    pub(crate) count: Statement,
    /// Indexed like `Entity::columns()`; `Some` for lookup columns.
    pub(crate) lookups: Vec<Option<LookupStatements>>,
}

fn label(kind: &str, column: &str) -> &'static str {
    // Labels live as long as the process, like the statements that carry them; there is one
    // per lookup column per entity, built once.
    Box::leak(format!("{kind}_{column}").into_boxed_str())
}

impl EntityStatements {
    /// Builds every statement of `E`.
    pub fn new<E: Entity>() -> Self {
        let columns = E::columns();
        let pk = &columns[E::primary_key()];
        let table = table_ref::<E>();
        let tname = E::TABLE;
        let select_list = column_list(columns, "");
        let returning = format!(" RETURNING {select_list}");
        let select = format!("SELECT {select_list} FROM {table}");
        let mut pk_name = String::new();
        quote_ident(&mut pk_name, pk.name);

        let all = Statement::new(select.clone(), vec![], tname, "all", Shape::Rows);
        let get = Statement::new(
            format!("{select} WHERE {pk_name} = $1"),
            vec![pk.pg_type.clone()],
            tname,
            "get",
            Shape::SingleRow,
        )
        .keyed_by(Keyed::PrimaryKey);
        let get_many = Statement::new(
            format!("{select} WHERE {pk_name} = ANY($1)"),
            vec![pk.array_type.clone()],
            tname,
            "get_many",
            Shape::Rows,
        );

        let insertable: Vec<&ColumnDef> = insert_columns::<E>().map(|(_, c)| c).collect();
        // `INSERT INTO t (cols) <source>`: one row from VALUES, or many from UNNEST of arrays.
        let insert_from = |many: bool, returning: &str, label| {
            let (sql, types) = if insertable.is_empty() && !many {
                (
                    format!("INSERT INTO {table} DEFAULT VALUES{returning}"),
                    vec![],
                )
            } else if many {
                let (source, types) = unnest_source(&insertable);
                let sql = format!(
                    "INSERT INTO {table} ({}) {source}{returning}",
                    column_list(insertable.iter().copied(), ""),
                );
                (sql, types)
            } else {
                let sql = format!(
                    "INSERT INTO {table} ({}) VALUES ({}){returning}",
                    column_list(insertable.iter().copied(), ""),
                    placeholders(insertable.len())
                );
                (sql, insertable.iter().map(|c| c.pg_type.clone()).collect())
            };
            Statement::new(sql, types, tname, label, Shape::Write)
        };
        let insert = insert_from(false, &returning, "insert");
        // One row: VALUES costs the server less than unnesting one-element arrays.
        let insert_count = insert_from(false, "", "insert_many_count");
        let insert_many = insert_from(true, &returning, "insert_many");
        let insert_many_count = insert_from(true, "", "insert_many_count");

        let updatable: Vec<&ColumnDef> = update_columns::<E>().map(|(_, c)| c).collect();
        let update = (!updatable.is_empty()).then(|| {
            let mut sets = String::new();
            for (i, c) in updatable.iter().enumerate() {
                if i > 0 {
                    sets.push_str(", ");
                }
                quote_ident(&mut sets, c.name);
                let _ = write!(sets, " = ${}", i + 1);
            }
            let mut types: Vec<Type> = updatable.iter().map(|c| c.pg_type.clone()).collect();
            types.push(pk.pg_type.clone());
            Statement::new(
                format!(
                    "UPDATE {table} SET {sets} WHERE {pk_name} = ${}{returning}",
                    updatable.len() + 1
                ),
                types,
                tname,
                "update",
                Shape::Write,
            )
        });

        let conflict = conflict_column::<E>().and_then(|index| columns.get(index));
        let upsert = conflict.filter(|_| !insertable.is_empty()).map(|target| {
            let mut sets = String::new();
            for c in insertable.iter().filter(|c| c.name != target.name) {
                if !sets.is_empty() {
                    sets.push_str(", ");
                }
                quote_ident(&mut sets, c.name);
                sets.push_str(" = EXCLUDED.");
                quote_ident(&mut sets, c.name);
            }
            let mut target_name = String::new();
            quote_ident(&mut target_name, target.name);
            // With nothing to update, a no-op assignment still makes RETURNING yield the row.
            if sets.is_empty() {
                let _ = write!(sets, "{target_name} = EXCLUDED.{target_name}");
            }
            let placeholders = placeholders(insertable.len());
            Statement::new(
                format!(
                    "INSERT INTO {table} ({}) VALUES ({placeholders}) \
                     ON CONFLICT ({target_name}) DO UPDATE SET {sets}{returning}",
                    column_list(insertable.iter().copied(), "")
                ),
                insertable.iter().map(|c| c.pg_type.clone()).collect(),
                tname,
                "upsert",
                Shape::Write,
            )
        });

        let delete = Statement::new(
            format!("DELETE FROM {table} WHERE {pk_name} = $1"),
            vec![pk.pg_type.clone()],
            tname,
            "delete",
            Shape::Write,
        );
        let delete_many = Statement::new(
            format!("DELETE FROM {table} WHERE {pk_name} = ANY($1)"),
            vec![pk.array_type.clone()],
            tname,
            "delete_many",
            Shape::Write,
        );
        let count = Statement::new(
            format!("SELECT count(*) FROM {table}"),
            vec![],
            tname,
            "count",
            Shape::Rows,
        );

        let lookups = columns
            .iter()
            .map(|c| {
                c.lookup.then(|| {
                    let mut col = String::new();
                    quote_ident(&mut col, c.name);
                    LookupStatements {
                        find: Statement::new(
                            format!("{select} WHERE {col} = $1 ORDER BY {pk_name}"),
                            vec![c.pg_type.clone()],
                            tname,
                            label("find_by", c.name),
                            if c.unique {
                                Shape::SingleRow
                            } else {
                                Shape::Rows
                            },
                        )
                        .keyed_by(Keyed::Column),
                        find_any: Statement::new(
                            // No ORDER BY: a server-side sort of a large batch costs more than
                            // the scan; callers group and order in memory.
                            format!("{select} WHERE {col} = ANY($1)"),
                            vec![c.array_type.clone()],
                            tname,
                            label("find_any_by", c.name),
                            Shape::Rows,
                        ),
                        count: Statement::new(
                            format!("SELECT count(*) FROM {table} WHERE {col} = $1"),
                            vec![c.pg_type.clone()],
                            tname,
                            label("count_by", c.name),
                            Shape::Rows,
                        )
                        .keyed_by(Keyed::Column),
                    }
                })
            })
            .collect();

        let mut statements = EntityStatements {
            table,
            select_list,
            all,
            get,
            get_many,
            insert,
            insert_many,
            insert_many_count,
            insert_count,
            update,
            upsert,
            delete,
            delete_many,
            count,
            lookups,
        };
        let tenant = tenant_table::<E>();
        for statement in statements.each_mut() {
            statement.tenant_table = tenant;
        }
        statements
    }

    /// Every statement, to mark them all alike.
    fn each_mut(&mut self) -> impl Iterator<Item = &mut Statement> {
        [
            &mut self.all,
            &mut self.get,
            &mut self.get_many,
            &mut self.insert,
            &mut self.insert_many,
            &mut self.insert_many_count,
            &mut self.insert_count,
            &mut self.delete,
            &mut self.delete_many,
            &mut self.count,
        ]
        .into_iter()
        .chain(self.update.as_mut())
        .chain(self.upsert.as_mut())
        .chain(
            self.lookups
                .iter_mut()
                .flatten()
                .flat_map(|l| [&mut l.find, &mut l.find_any, &mut l.count]),
        )
    }

    /// The quoted, possibly schema-qualified table name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The entity's columns as a quoted, comma-separated list (for hand-written SQL).
    pub fn select_list(&self) -> &str {
        &self.select_list
    }
}
