//! Every statement of one entity, built once per process by generated code; for a tenant entity
//! (`#[pgrepo(tenant)]`) a second set whose statements also filter by the tenant column.
//!
//! The tenant's value is always the statement's **last** parameter (`Statement::tenant_param`),
//! bound by the execution path from the scope (`exec`), never by the repository: the `New…`
//! struct does not carry the tenant column, and an insert writes the scope's tenant. The filter
//! is a second line of defence behind row-level security, lets an index on
//! `(tenant, …)` serve every lookup, and is what a cluster distributed by the tenant column
//! (Citus) routes a statement to one shard by.

use std::fmt::Write as _;

use tokio_postgres::types::Type;

use super::unnest::unnest_source;
use super::{column_list, placeholders, quote_ident, table_ref, Keyed, Shape, Statement};
use crate::entity::{conflict_column, insert_columns, update_columns, ColumnDef, Entity};
use crate::exec::Settings;
use crate::tenant::Tenancy;

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
    /// For a tenant entity, the same statements filtered by the tenant column: what a tenant
    /// scope runs (`for_scope`).
    scoped: Option<Box<EntityStatements>>,
}

fn label(kind: &str, column: &str) -> &'static str {
    // Labels live as long as the process, like the statements that carry them; there is one
    // per lookup column per entity, built once.
    Box::leak(format!("{kind}_{column}").into_boxed_str())
}

/// `E`'s table reference when `E` has a tenant column, built once per entity and kept for the
/// process (like the statements that carry it).
pub(crate) fn tenant_table<E: Entity>() -> Option<&'static str> {
    E::columns()
        .iter()
        .any(|c| c.tenant)
        .then(|| &*Box::leak(table_ref::<E>().into_boxed_str()))
}

/// What the statements of one set know about the tenant column.
struct Tenant<'c> {
    column: &'c ColumnDef,
    /// Quoted.
    name: String,
    /// Whether this set filters by it (the scoped set), or only writes it (inserts of both).
    filter: bool,
}

impl Tenant<'_> {
    /// ` WHERE <conditions>`, with `<tenant> = $n` last when filtering (its type pushed on
    /// `types`); empty when there is no condition.
    fn where_clause(tenant: Option<&Self>, conditions: &[String], types: &mut Vec<Type>) -> String {
        let mut all = conditions.to_vec();
        if let Some(t) = tenant.filter(|t| t.filter) {
            types.push(t.column.pg_type.clone());
            all.push(format!("{} = ${}", t.name, types.len()));
        }
        if all.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", all.join(" AND "))
        }
    }
}

impl EntityStatements {
    /// Builds every statement of `E`.
    pub fn new<E: Entity>() -> Self {
        let tenant_column = E::columns().iter().find(|c| c.tenant);
        let tenant = |filter| {
            tenant_column.map(|column| {
                let mut name = String::new();
                quote_ident(&mut name, column.name);
                Tenant {
                    column,
                    name,
                    filter,
                }
            })
        };
        let mut statements = Self::build::<E>(tenant(false).as_ref());
        statements.scoped = tenant(true).map(|scoped| Box::new(Self::build::<E>(Some(&scoped))));
        statements
    }

    /// The set a statement of `settings`' scope runs: the tenant-filtered one in a tenant's
    /// scope, else this one.
    pub(crate) fn for_scope(&self, settings: &Settings) -> &Self {
        match (&self.scoped, &settings.tenant) {
            (Some(scoped), Some(Tenancy::One(_))) => scoped,
            _ => self,
        }
    }

    fn build<E: Entity>(tenant: Option<&Tenant<'_>>) -> Self {
        let columns = E::columns();
        let pk = &columns[E::primary_key()];
        let table = table_ref::<E>();
        let tname = E::TABLE;
        let select_list = column_list(columns, "");
        let returning = format!(" RETURNING {select_list}");
        let select = format!("SELECT {select_list} FROM {table}");
        let mut pk_name = String::new();
        quote_ident(&mut pk_name, pk.name);
        // A statement whose conditions are `conditions` (numbered from $1, typed `types`),
        // filtered by the tenant too in the scoped set.
        let filtered = |head: &str, conditions: &[String], mut types: Vec<Type>, tail: &str| {
            let clause = Tenant::where_clause(tenant, conditions, &mut types);
            (format!("{head}{clause}{tail}"), types)
        };
        let statement = |(sql, types): (String, Vec<Type>), label, shape| {
            Statement::new(sql, types, tname, label, shape)
        };

        let all = statement(filtered(&select, &[], vec![], ""), "all", Shape::Rows);
        let by_pk = [format!("{pk_name} = $1")];
        let by_pks = [format!("{pk_name} = ANY($1)")];
        let get = statement(
            filtered(&select, &by_pk, vec![pk.pg_type.clone()], ""),
            "get",
            Shape::SingleRow,
        )
        .keyed_by(Keyed::PrimaryKey);
        let get_many = statement(
            filtered(&select, &by_pks, vec![pk.array_type.clone()], ""),
            "get_many",
            Shape::Rows,
        );

        let insertable: Vec<&ColumnDef> = insert_columns::<E>().map(|(_, c)| c).collect();
        // What an insert writes: the inserted columns, then the scope's tenant.
        let written = || {
            let mut written = insertable.clone();
            written.extend(tenant.map(|t| t.column));
            written
        };
        // `INSERT INTO t (cols) <source>`: one row from VALUES, or many from UNNEST of arrays
        // (the tenant, one value for every row, bound once).
        let insert_from = |many: bool, returning: &str, label| {
            let (sql, types) = if written().is_empty() && !many {
                (
                    format!("INSERT INTO {table} DEFAULT VALUES{returning}"),
                    vec![],
                )
            } else if many {
                let (source, types) = unnest_source(&insertable, tenant.map(|t| t.column));
                let sql = format!(
                    "INSERT INTO {table} ({}) {source}{returning}",
                    column_list(written(), ""),
                );
                (sql, types)
            } else {
                let sql = format!(
                    "INSERT INTO {table} ({}) VALUES ({}){returning}",
                    column_list(written(), ""),
                    placeholders(written().len())
                );
                (sql, written().iter().map(|c| c.pg_type.clone()).collect())
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
            let by_pk = [format!("{pk_name} = ${}", types.len())];
            statement(
                filtered(
                    &format!("UPDATE {table} SET {sets}"),
                    &by_pk,
                    types,
                    &returning,
                ),
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
            Statement::new(
                format!(
                    "INSERT INTO {table} ({}) VALUES ({}) \
                     ON CONFLICT ({target_name}) DO UPDATE SET {sets}{returning}",
                    column_list(written(), ""),
                    placeholders(written().len()),
                ),
                written().iter().map(|c| c.pg_type.clone()).collect(),
                tname,
                "upsert",
                Shape::Write,
            )
        });

        let delete_from = format!("DELETE FROM {table}");
        let delete = statement(
            filtered(&delete_from, &by_pk, vec![pk.pg_type.clone()], ""),
            "delete",
            Shape::Write,
        );
        let delete_many = statement(
            filtered(&delete_from, &by_pks, vec![pk.array_type.clone()], ""),
            "delete_many",
            Shape::Write,
        );
        let count_from = format!("SELECT count(*) FROM {table}");
        let count = statement(filtered(&count_from, &[], vec![], ""), "count", Shape::Rows);

        let lookups = columns
            .iter()
            .map(|c| {
                c.lookup.then(|| {
                    let mut col = String::new();
                    quote_ident(&mut col, c.name);
                    let one = [format!("{col} = $1")];
                    let any = [format!("{col} = ANY($1)")];
                    LookupStatements {
                        find: statement(
                            filtered(
                                &select,
                                &one,
                                vec![c.pg_type.clone()],
                                &format!(" ORDER BY {pk_name}"),
                            ),
                            label("find_by", c.name),
                            if c.unique {
                                Shape::SingleRow
                            } else {
                                Shape::Rows
                            },
                        )
                        .keyed_by(Keyed::Column),
                        // No ORDER BY: a server-side sort of a large batch costs more than
                        // the scan; callers group and order in memory.
                        find_any: statement(
                            filtered(&select, &any, vec![c.array_type.clone()], ""),
                            label("find_any_by", c.name),
                            Shape::Rows,
                        ),
                        count: statement(
                            filtered(&count_from, &one, vec![c.pg_type.clone()], ""),
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
            scoped: None,
        };
        let tenant_table = tenant_table::<E>();
        let filtering = tenant.is_some_and(|t| t.filter);
        let writing = |s: &Statement| {
            tenant.is_some() && s.label.starts_with("insert") || s.label == "upsert"
        };
        for statement in statements.each_mut() {
            statement.tenant_table = tenant_table;
            statement.tenant_param = filtering && statement.tenant_table.is_some()
                || tenant.is_some() && writing(statement);
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
