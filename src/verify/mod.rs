//! Schema verification: checks entities against the live database and reports every mismatch
//! at once (table, column, expected, found), before a query meets them one by one.

use std::fmt;

use tokio_postgres::types::{Kind, Type};

use crate::db::Db;
use crate::entity::Entity;
use crate::error::{Error, Result};
use crate::exec::Executor as _;
use crate::sql::table_ref;

mod enum_labels;
mod inserts;
mod param_types;
mod tenancy;

pub use inserts::InsertFailure;
pub use tenancy::TenantProtection;

/// One way the database differs from an entity.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Mismatch {
    /// The table does not exist.
    MissingTable {
        /// The table.
        table: String,
    },
    /// A field's column does not exist.
    MissingColumn {
        /// The table.
        table: String,
        /// The column.
        column: String,
        /// The field's Rust type.
        rust_type: String,
    },
    /// A column's type cannot be decoded into its field.
    WrongType {
        /// The table.
        table: String,
        /// The column.
        column: String,
        /// The field's Rust type.
        expected: String,
        /// The column's database type.
        found: String,
    },
    /// A column and its field disagree about NULL.
    Nullability {
        /// The table.
        table: String,
        /// The column.
        column: String,
        /// Whether the field is an `Option`.
        field_is_option: bool,
    },
    /// A field's parameters are declared as another type than its column's, where the server
    /// cannot convert (text into an enum column: inserts fail with 42804) or converts and
    /// changes the meaning (a `citext` column compared as `text` is case-sensitive).
    ParamType {
        /// The table.
        table: String,
        /// The column.
        column: String,
        /// The field's Rust type.
        rust_type: String,
        /// What the field's parameters are declared as (`text`, or the `sql_type` named).
        declared: String,
        /// The column's database type.
        found: String,
        /// What goes wrong, and how to declare the field.
        fix: String,
    },
    /// The declared primary key is not the table's primary key.
    PrimaryKey {
        /// The table.
        table: String,
        /// The declared key column.
        expected: String,
        /// The table's primary key columns (empty when it has none).
        found: Vec<String>,
    },
    /// Every insert of the entity fails on a column: one the entity leaves out or marks
    /// `generated` that nothing fills, or one it writes that the database always fills.
    InsertWouldFail {
        /// The table.
        table: String,
        /// The column.
        column: String,
        /// What fails, and how to fix it.
        reason: InsertFailure,
    },
    /// A `#[derive(PgEnum)]` field's variants and its column's enum type (or array element
    /// type) disagree on labels.
    EnumLabels {
        /// The table.
        table: String,
        /// The column.
        column: String,
        /// The field's Rust type.
        rust_type: String,
        /// The database enum type.
        type_name: String,
        /// Labels of the Rust enum the type lacks: writing them fails (22P02).
        not_in_database: Vec<String>,
        /// Labels of the type no variant maps to: reading a row holding one fails.
        not_in_rust: Vec<String>,
    },
    /// A tenant entity's table (`#[pgrepo(tenant)]`) whose rows PostgreSQL would not filter by
    /// the scope's tenant, or whose tenant scopes the verifying role would be refused.
    TenantUnprotected {
        /// The table.
        table: String,
        /// The tenant column.
        column: String,
        /// What lets rows through.
        reason: TenantProtection,
        /// SQL that fixes it, ready to run (statements separated by `;`).
        fix: String,
    },
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mismatch::MissingTable { table } => write!(f, "table `{table}` does not exist"),
            Mismatch::MissingColumn {
                table,
                column,
                rust_type,
            } => write!(
                f,
                "`{table}`.`{column}`: column does not exist (expected a column for `{rust_type}`)"
            ),
            Mismatch::WrongType {
                table,
                column,
                expected,
                found,
            } => write!(
                f,
                "`{table}`.`{column}`: type `{found}` cannot be read as `{expected}`"
            ),
            Mismatch::Nullability {
                table,
                column,
                field_is_option: false,
            } => write!(
                f,
                "`{table}`.`{column}`: column is nullable but the field is not an `Option` \
                 (add NOT NULL or make the field `Option<_>`)"
            ),
            Mismatch::Nullability {
                table,
                column,
                field_is_option: true,
            } => write!(
                f,
                "`{table}`.`{column}`: column is NOT NULL but the field is an `Option`"
            ),
            Mismatch::ParamType {
                table,
                column,
                rust_type,
                declared,
                found,
                fix,
            } => write!(
                f,
                "`{table}`.`{column}`: column is `{found}` but `{rust_type}` is bound as \
                 `{declared}`: {fix}"
            ),
            Mismatch::PrimaryKey {
                table,
                expected,
                found,
            } => write!(
                f,
                "`{table}`: declared primary key `{expected}`, table's primary key is ({})",
                found.join(", ")
            ),
            Mismatch::InsertWouldFail {
                table,
                column,
                reason,
            } => write!(f, "`{table}`.`{column}`: {reason}"),
            Mismatch::EnumLabels {
                table,
                column,
                rust_type,
                type_name,
                not_in_database,
                not_in_rust,
            } => {
                write!(
                    f,
                    "`{table}`.`{column}`: `{rust_type}` and enum type `{type_name}` differ: "
                )?;
                enum_labels::describe(f, type_name, not_in_database, not_in_rust)
            }
            Mismatch::TenantUnprotected {
                table,
                column,
                reason,
                fix,
            } => write!(
                f,
                "`{table}`: tenant entity (tenant column `{column}`) not protected by row-level \
                 security: {reason}; fix: {fix}"
            ),
        }
    }
}

/// The outcome of [`Db::verify`]: mismatches (errors) and warnings (e.g. missing indexes).
#[derive(Debug, Clone, Default)]
pub struct SchemaReport {
    /// Differences that make statements fail or decode wrongly.
    pub mismatches: Vec<Mismatch>,
    /// Things that work but will hurt (e.g. a listing without its index).
    pub warnings: Vec<String>,
}

impl SchemaReport {
    /// Whether nothing is wrong (warnings allowed).
    pub fn is_ok(&self) -> bool {
        self.mismatches.is_empty()
    }
}

impl fmt::Display for SchemaReport {
    /// `schema does not match the entities (2 mismatches)` or `schema matches the entities`,
    /// then one line per mismatch and per warning.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.mismatches.len() {
            0 => write!(f, "schema matches the entities")?,
            1 => write!(f, "schema does not match the entities (1 mismatch)")?,
            n => write!(f, "schema does not match the entities ({n} mismatches)")?,
        }
        match self.warnings.len() {
            0 => {}
            1 => write!(f, ", with 1 warning")?,
            n => write!(f, ", with {n} warnings")?,
        }
        for m in &self.mismatches {
            write!(f, "\n  - {m}")?;
        }
        for w in &self.warnings {
            write!(f, "\n  - warning: {w}")?;
        }
        Ok(())
    }
}

/// A set of entities to verify: one entity or a tuple of them.
pub trait EntitySet {
    /// Appends the checks of every entity in the set.
    #[doc(hidden)]
    fn checks() -> Vec<EntityCheck>;
}

/// What `verify` needs of one entity, without its type.
#[doc(hidden)]
#[derive(Debug)]
pub struct EntityCheck {
    table_ref: String,
    table: &'static str,
    columns: &'static [crate::entity::ColumnDef],
    primary_key: usize,
    index_advice: Vec<crate::listing::IndexAdvice>,
}

impl EntityCheck {
    fn of<E: Entity>() -> Self {
        EntityCheck {
            table_ref: table_ref::<E>(),
            table: E::TABLE,
            columns: E::columns(),
            primary_key: E::primary_key(),
            index_advice: crate::listing::index_advice::<E>(),
        }
    }
}

impl<E: Entity> EntitySet for E {
    fn checks() -> Vec<EntityCheck> {
        vec![EntityCheck::of::<E>()]
    }
}

macro_rules! tuple_entity_set {
    ($($name:ident)+) => {
        impl<$($name: Entity),+> EntitySet for ($($name,)+) {
            fn checks() -> Vec<EntityCheck> {
                vec![$(EntityCheck::of::<$name>()),+]
            }
        }
    };
}
tuple_entity_set!(A B);
tuple_entity_set!(A B C);
tuple_entity_set!(A B C D);
tuple_entity_set!(A B C D F);
tuple_entity_set!(A B C D F G);
tuple_entity_set!(A B C D F G H);
tuple_entity_set!(A B C D F G H I);

const COLUMNS_SQL: &str = "\
SELECT a.attname::text, a.atttypid, a.attnotnull, t.typname::text, t.typtype::text,
       COALESCE(bt.oid, 0::oid) AS base_oid, COALESCE(bt.typname::text, '') AS base_name,
       EXISTS (SELECT 1 FROM pg_index i
               WHERE i.indrelid = a.attrelid AND i.indisprimary AND a.attnum = ANY(i.indkey)),
       COALESCE(et.typname::text, '') AS element_name, COALESCE(et.typtype::text, '') AS element_kind,
       COALESCE(et.oid, 0::oid) AS element_oid,
       a.attidentity::text, a.attgenerated::text,
       a.atthasdef OR (t.typtype = 'd' AND t.typdefault IS NOT NULL) AS has_default,
       t.typtype = 'd' AND t.typnotnull AS domain_not_null,
       EXISTS (SELECT 1 FROM pg_trigger tg
               WHERE tg.tgrelid = a.attrelid AND NOT tg.tgisinternal AND tg.tgenabled <> 'D'
                 AND (tg.tgtype & 7) = 7) AS before_insert_row_trigger
FROM pg_attribute a
JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_type bt ON t.typtype = 'd' AND bt.oid = t.typbasetype
LEFT JOIN pg_type et ON t.typcategory = 'A' AND et.oid = t.typelem
WHERE a.attrelid = to_regclass($1::text) AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum";

const ENUM_SQL: &str =
    "SELECT enumlabel::text FROM pg_enum WHERE enumtypid = $1::oid ORDER BY enumsortorder";

impl Db {
    /// Checks entities against the live database: each table exists, each field's column
    /// exists with a type the field can be read from and bound as, nullability matches
    /// `Option`, a `PgEnum` field's labels are its enum type's, the declared primary key is the
    /// table's, and inserts can succeed (every `NOT NULL` column the entity leaves out or marks
    /// `generated` has a default, identity or generation expression, and no written field is a
    /// `GENERATED ALWAYS` column), and a tenant entity's table is filtered by row-level
    /// security (enabled, with a policy that reads the tenant setting, and forced if the
    /// verifying role owns it; a superuser or `BYPASSRLS` role gets a warning instead). Every
    /// mismatch is reported at once; warnings (such as a listing's missing index) are returned
    /// in the report.
    ///
    /// ```no_run
    /// # #[derive(pgrepo::Entity)] #[pgrepo(table = "users")] struct User { #[pgrepo(id)] id: i64 }
    /// # #[derive(pgrepo::Entity)] #[pgrepo(table = "posts")] struct Post { #[pgrepo(id)] id: i64 }
    /// # async fn demo(db: pgrepo::Db) -> Result<(), pgrepo::Error> {
    /// let report = db.verify::<(User, Post)>().await?;
    /// for warning in &report.warnings { eprintln!("{warning}"); }
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::SchemaMismatch`] listing every mismatch; driver and pool errors.
    pub async fn verify<S: EntitySet>(&self) -> Result<SchemaReport> {
        let mut report = SchemaReport::default();
        for check in S::checks() {
            self.verify_one(&check, &mut report).await?;
        }
        if report.is_ok() {
            for warning in &report.warnings {
                tracing::warn!("{warning}");
            }
            Ok(report)
        } else {
            Err(Error::SchemaMismatch(report))
        }
    }

    async fn verify_one(&self, check: &EntityCheck, report: &mut SchemaReport) -> Result<()> {
        let rows = self
            .query(
                crate::Sql::read(COLUMNS_SQL).types(&[Type::TEXT]),
                &[&check.table_ref],
            )
            .await?;
        let table = check.table.to_owned();
        if rows.is_empty() {
            report.mismatches.push(Mismatch::MissingTable { table });
            return Ok(());
        }
        let mut primary_keys = Vec::new();
        for row in &rows {
            if row.get::<_, bool>(7) {
                primary_keys.push(row.get::<_, String>(0));
            }
        }
        for column in check.columns {
            let Some(row) = rows.iter().find(|r| r.get::<_, &str>(0) == column.name) else {
                report.mismatches.push(Mismatch::MissingColumn {
                    table: table.clone(),
                    column: column.name.to_owned(),
                    rust_type: column.rust_type.to_owned(),
                });
                continue;
            };
            let ty = self.column_type(row).await?;
            if !(column.accepts)(&ty) {
                report.mismatches.push(Mismatch::WrongType {
                    table: table.clone(),
                    column: column.name.to_owned(),
                    expected: column.rust_type.to_owned(),
                    found: row.get::<_, String>(3),
                });
            } else {
                report
                    .mismatches
                    .extend(param_types::check(&table, column, row));
                report
                    .mismatches
                    .extend(enum_labels::check(&table, column, &ty));
            }
            let not_null: bool = row.get(2);
            if not_null == column.nullable {
                report.mismatches.push(Mismatch::Nullability {
                    table: table.clone(),
                    column: column.name.to_owned(),
                    field_is_option: column.nullable,
                });
            }
        }
        report
            .mismatches
            .extend(inserts::check(&table, check.columns, &rows));
        let pk = check.columns[check.primary_key].name;
        if primary_keys.len() != 1 || primary_keys[0] != pk {
            report.mismatches.push(Mismatch::PrimaryKey {
                table: table.clone(),
                expected: pk.to_owned(),
                found: primary_keys,
            });
        }
        let tenant_type = check.columns.iter().find(|c| c.tenant).and_then(|c| {
            rows.iter()
                .find(|r| r.get::<_, &str>(0) == c.name)
                .map(|r| r.get::<_, &str>(3))
        });
        tenancy::check(self, check, tenant_type, report).await?;
        crate::listing::check_indexes(
            self,
            &check.table_ref,
            check.table,
            &check.index_advice,
            report,
        )
        .await
    }

    /// The driver's `Type` of a column: built-in types by OID, enums with their labels,
    /// domains as their base type, arrays of the element's type.
    async fn column_type(&self, row: &tokio_postgres::Row) -> Result<Type> {
        let oid: u32 = row.get(1);
        if let Some(ty) = Type::from_oid(oid) {
            return Ok(ty);
        }
        let name: String = row.get(3);
        let element_oid: u32 = row.get(10);
        if element_oid != 0 {
            let element = self
                .described_type(element_oid, row.get(8), row.get(9), 0, "")
                .await?;
            return Ok(Type::new(name, oid, Kind::Array(element), String::new()));
        }
        self.described_type(oid, name, row.get(4), row.get(5), row.get(6))
            .await
    }

    /// A type that is not built in: an enum with its labels, a domain as its base type (by
    /// `base_oid` and `base_name`), another type by name.
    async fn described_type(
        &self,
        oid: u32,
        name: String,
        kind: &str,
        base_oid: u32,
        base_name: &str,
    ) -> Result<Type> {
        if let Some(ty) = Type::from_oid(oid) {
            return Ok(ty);
        }
        match kind {
            "e" => {
                let labels = self
                    .query(crate::Sql::read(ENUM_SQL).types(&[Type::OID]), &[&oid])
                    .await?
                    .iter()
                    .map(|r| r.get::<_, String>(0))
                    .collect();
                Ok(Type::new(name, oid, Kind::Enum(labels), String::new()))
            }
            "d" => Ok(Type::from_oid(base_oid).unwrap_or_else(|| {
                Type::new(base_name.to_owned(), base_oid, Kind::Simple, String::new())
            })),
            _ => Ok(Type::new(name, oid, Kind::Simple, String::new())),
        }
    }
}
