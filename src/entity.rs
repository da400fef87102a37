//! What `#[derive(Entity)]` describes: a table, its columns, and how a row maps to a struct.
//!
//! This module owns the traits the derive implements and the metadata it emits. It holds no
//! behaviour: SQL is built once per entity in `statements`, executed in `executor`.

use std::fmt;
use std::hash::Hash;
use std::marker::PhantomData;

use tokio_postgres::types::{ToSql, Type};

use crate::row::{FromRow, SelectList};
use crate::sql::EntityStatements;
use crate::sql_type::{ParamType, SqlType};

/// One column of an entity, as declared on the struct.
#[derive(Debug, Clone)]
pub struct ColumnDef {
    /// The column's name in the database.
    pub name: &'static str,
    /// The Rust field it maps to.
    pub field: &'static str,
    /// The Rust type of the field, as written.
    pub rust_type: &'static str,
    /// How parameters for this column are declared: a built-in type, or resolved by the server
    /// from the column (an enum, a domain, `citext`, `vector`): the field type's
    /// [`SqlType::PARAM_TYPE`], or what `#[pgrepo(sql_type = "...")]` names.
    pub param_type: ParamType,
    /// The type statements declare parameters for this column as
    /// ([`ParamType::declared_type`]: OID 0, "unspecified", when resolved from the column).
    pub pg_type: Type,
    /// The type of an array of its values, used by `= ANY($1)` and `insert_many`
    /// ([`ParamType::declared_array_type`]).
    pub array_type: Type,
    /// Whether the field is an `Option<T>` (nullable column).
    pub nullable: bool,
    /// Whether this column is the primary key.
    pub primary_key: bool,
    /// Whether the database fills this column (default, identity, trigger): it is left out of
    /// inserts and updates and read back with `RETURNING`.
    pub generated: bool,
    /// Whether typed lookups by this column are declared.
    pub lookup: bool,
    /// Whether the column is declared unique (an upsert conflict target).
    pub unique: bool,
    /// Whether this is the entity's tenant column (`#[pgrepo(tenant)]`): its statements run
    /// only in a tenant scope ([`Db::tenant`](crate::Db::tenant)).
    pub tenant: bool,
    /// Whether a value of the database type `ty` can be decoded into the field.
    pub accepts: fn(&Type) -> bool,
    /// The labels of the database enum the field (or its array's elements) is, from
    /// [`SqlType::ENUM_LABELS`]: what [`Db::verify`](crate::Db::verify) compares with the
    /// column's type. `None` for every field that is not a `#[derive(PgEnum)]` enum.
    pub enum_labels: Option<&'static [&'static str]>,
}

impl ColumnDef {
    /// Whether an insert's values carry this column: every column the database does not fill
    /// (not [`generated`](ColumnDef::generated)), except the [`tenant`](ColumnDef::tenant)
    /// column, which the scope gives. The `New…` struct has a field for each, and
    /// [`Insertable::param`] is asked for each.
    pub fn is_inserted(&self) -> bool {
        !self.generated && !self.tenant
    }

    /// Whether the `INSERT` statements write this column: the inserted columns and the tenant
    /// column (bound from the scope).
    pub fn is_written(&self) -> bool {
        !self.generated
    }

    /// Whether [`Repo::update`](crate::Repo::update) writes this column: an inserted column
    /// that is not the primary key (never the tenant column: a row stays in its tenant).
    pub fn is_updated(&self) -> bool {
        self.is_inserted() && !self.primary_key
    }
}

// The one place the library decides which columns a statement writes, and in which order;
// statements (`sql`) and the parameters bound to them (`repo`) both iterate these. The derive
// builds the `New…` struct by the same rule and `derive/tests/columns.rs` checks they agree.

/// The columns every insert writes, with their indexes in [`Entity::columns`], in declaration
/// order: the column list of the `INSERT` statements and the order of their parameters.
pub(crate) fn insert_columns<E: Entity>() -> impl Iterator<Item = (usize, &'static ColumnDef)> {
    E::columns()
        .iter()
        .enumerate()
        .filter(|(_, column)| column.is_inserted())
}

/// The columns an update writes, with their indexes, in declaration order: the `SET` list of
/// the `UPDATE` statement and the order of its parameters (the primary key is bound last).
pub(crate) fn update_columns<E: Entity>() -> impl Iterator<Item = (usize, &'static ColumnDef)> {
    E::columns()
        .iter()
        .enumerate()
        .filter(|(_, column)| column.is_updated())
}

/// The column an upsert's `ON CONFLICT` targets: the first `unique` column, else the primary
/// key when inserts write it; `None` when there is neither (the entity is not [`Upsertable`]).
pub(crate) fn conflict_column<E: Entity>() -> Option<usize> {
    let columns = E::columns();
    columns.iter().position(|column| column.unique).or_else(|| {
        let primary_key = E::primary_key();
        columns
            .get(primary_key)
            .filter(|column| column.is_inserted())
            .map(|_| primary_key)
    })
}

/// Direction of one sort column in a listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Smallest first.
    Asc,
    /// Largest first.
    Desc,
}

/// A struct that maps to a table: implemented by `#[derive(Entity)]`.
///
/// The methods are used by generated code and by the library; call the repository instead
/// ([`Executor::repo`](crate::Executor::repo)).
pub trait Entity: FromRow + Sized + Send + Sync + Unpin + 'static {
    /// The primary key's type.
    type Id: SqlType + ToSql + Sync + Send + Clone + Ord + Hash + fmt::Debug + 'static;
    /// The struct holding what an insert needs: every column the database does not fill.
    type New: Insertable<Entity = Self>;

    /// The table name.
    const TABLE: &'static str;
    /// The schema, when declared (otherwise the connection's `search_path` decides).
    const SCHEMA: Option<&'static str>;

    /// Every column, in declaration order: the order in which the library's own statements
    /// select them, and decode them by position.
    fn columns() -> &'static [ColumnDef];
    /// Index of the primary key in [`Entity::columns`].
    fn primary_key() -> usize;
    /// The default sort key of listings: column indexes and directions. The primary key is
    /// appended as the tiebreaker when it is not already part of it.
    fn default_order() -> &'static [(usize, Direction)] {
        &[]
    }
    /// The named listings declared with `#[pgrepo(listing(...))]`.
    fn listings() -> &'static [crate::SortKey<Self>] {
        &[]
    }
    /// The primary key value.
    fn id(&self) -> &Self::Id;
    /// The value of column `column` (an index into [`Entity::columns`]), for binding.
    fn param(&self, column: usize) -> &(dyn ToSql + Sync);
    /// The entity's SQL, built once per process.
    #[doc(hidden)]
    fn statements() -> &'static EntityStatements;

    /// Every column of the entity for a hand-written query, qualified by the table alias
    /// `alias` and labelled `alias.column`: `"u"."id" AS "u.id", "u"."email" AS "u.email", …`.
    ///
    /// Select each entity of a join this way and decode the rows into a tuple with
    /// [`Executor::query_as`](crate::Executor::query_as): each entity takes the columns
    /// labelled with one alias, in order, by name (see [`SelectList`]). `alias` is quoted:
    /// give it as the server knows it (lower case unless it was quoted in the query).
    fn select_list(alias: &str) -> SelectList<'_, Self> {
        SelectList::new(alias)
    }
}

/// The values for one `INSERT`: implemented for the `New…` struct `#[derive(Entity)]` generates.
///
/// To insert from a type of your own (a request body, a borrowed view) without copying its
/// values into the `New…` struct, derive it: `#[derive(Insertable)] #[pgrepo(entity = User)]`
/// binds each field to the entity field of the same name (or `#[pgrepo(field = "...")]`), with
/// that field's type or a borrowed form of it (`&str` for `String`, `&[u8]` for `Vec<u8>`, and
/// their `Option`s). A field the entity does not have, a field of another type, or a missing
/// column that the database does not fill is a compile error.
///
/// ```
/// use pgrepo::{Entity, Insertable};
///
/// #[derive(Entity)]
/// #[pgrepo(table = "users")]
/// struct User {
///     #[pgrepo(id, generated)]
///     id: i64,
///     name: String,
///     email: String,
/// }
///
/// #[derive(Insertable)]
/// #[pgrepo(entity = User)]
/// struct SignUp<'a> {
///     email: &'a str,
///     #[pgrepo(field = "name")]
///     display_name: &'a str,
/// }
/// ```
///
/// Or implement it by hand: return the value of each column that is not `generated`, by its
/// index in [`Entity::columns`] (declaration order of the entity's fields). A value of the
/// wrong type is then a driver error, before anything is inserted.
///
/// ```
/// # use pgrepo::{Entity, Insertable};
/// # use tokio_postgres::types::ToSql;
/// #[derive(Entity)]
/// #[pgrepo(table = "users")]
/// struct User {
///     #[pgrepo(id, generated)]
///     id: i64,          // column 0 (generated: never asked for)
///     name: String,     // column 1
///     email: String,    // column 2
/// }
///
/// struct SignUp {
///     email: String,
///     display_name: String,
/// }
///
/// impl Insertable for SignUp {
///     type Entity = User;
///     fn param(&self, column: usize) -> &(dyn ToSql + Sync) {
///         match column {
///             1 => &self.display_name,
///             2 => &self.email,
///             _ => unreachable!("User has three columns, the first generated"),
///         }
///     }
/// }
/// ```
pub trait Insertable: Send + Sync {
    /// The entity this inserts.
    type Entity: Entity;
    /// The value of column `column` (an index into [`Entity::columns`]); called only for columns
    /// that inserts write ([`ColumnDef::is_inserted`]: those that are not `generated`).
    fn param(&self, column: usize) -> &(dyn ToSql + Sync);
}

/// An entity with a conflict target, so it can be upserted (`INSERT … ON CONFLICT … DO UPDATE`).
///
/// The target is read from [`Entity::columns`]: the first column declared
/// [`unique`](ColumnDef::unique), else the primary key when it is not `generated`.
/// `#[derive(Entity)]` implements this marker for exactly the entities that have one; implement
/// it by hand only for such an entity.
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no conflict target for an upsert",
    note = "mark a unique column with `#[pgrepo(unique)]`, or make the primary key not `generated`"
)]
pub trait Upsertable: Entity {}

/// A typed lookup by a declared column: `User::EMAIL` is a `Lookup<User, String>`.
///
/// `#[derive(Entity)]` generates one associated constant per `#[pgrepo(lookup)]` field, named
/// after the field in upper case. The key type is the field's type without `Option`.
pub struct Lookup<E, K> {
    column: usize,
    _marker: PhantomData<fn() -> (E, K)>,
}

impl<E: Entity, K> Lookup<E, K> {
    /// Used by generated code.
    #[doc(hidden)]
    pub const fn __new(column: usize) -> Self {
        Self {
            column,
            _marker: PhantomData,
        }
    }

    /// Index of the looked-up column in [`Entity::columns`].
    pub fn column(&self) -> usize {
        self.column
    }

    /// The looked-up column's definition.
    pub fn column_def(&self) -> &'static ColumnDef {
        &E::columns()[self.column]
    }
}

impl<E, K> Clone for Lookup<E, K> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<E, K> Copy for Lookup<E, K> {}

impl<E: Entity, K> fmt::Debug for Lookup<E, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Lookup({}.{})", E::TABLE, self.column_def().name)
    }
}
