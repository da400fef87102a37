//! Used by generated code. Not public API.

pub use std::marker::PhantomData;
pub use std::sync::{LazyLock, OnceLock};

pub use bytes::BytesMut;
pub use tokio_postgres::types::{to_sql_checked, FromSql, IsNull, ToSql, Type};
pub use tokio_postgres::Row;

pub use crate::row::Resolver;
pub use crate::sql::EntityStatements;

use crate::entity::ColumnDef;
use crate::error::Error;

/// The column an upsert of `E` conflicts on: what the library reads from the column flags.
/// The derive's tests check that it finds one exactly when the derive implements `Upsertable`.
pub fn conflict_column<E: crate::Entity>() -> Option<usize> {
    crate::entity::conflict_column::<E>()
}

/// The parameter type of a field with `#[pgrepo(sql_type = "name")]`: resolved from the column,
/// an array of it when the field's own type is an array.
pub fn param_type_named(name: &'static str, of_field: crate::ParamType) -> crate::ParamType {
    crate::ParamType::FromColumn {
        name,
        array: of_field.is_array(),
    }
}

/// Finds the columns of entity `E` among a hand-written query's result columns, by name.
pub fn resolve_entity<E: crate::Entity>(columns: &mut Resolver<'_>) {
    columns.entity(std::any::type_name::<E>(), E::columns());
}

/// Boxed error of `ToSql`/`FromSql`.
pub type BoxError = Box<dyn std::error::Error + Sync + Send>;

/// Decodes column `index` of `row` into a field, naming table and column on failure.
#[inline]
pub fn get<'a, T: FromSql<'a>>(
    row: &'a Row,
    index: usize,
    table: &'static str,
    column: &'static ColumnDef,
) -> Result<T, Error> {
    row.try_get(index)
        .map_err(|source| decode_error(table, column, source))
}

/// The [`Error::Decode`] of a column.
#[cold]
pub fn decode_error(
    table: &'static str,
    column: &ColumnDef,
    source: tokio_postgres::Error,
) -> Error {
    Error::Decode {
        table,
        column: column.name.to_owned(),
        rust_type: column.rust_type,
        source,
    }
}

/// An entity's generated `param` was asked for a column it does not have: a bug in pgrepo.
#[cold]
#[track_caller]
pub fn no_such_column(table: &'static str, column: usize) -> ! {
    panic!("pgrepo internal error: entity `{table}` has no insertable column #{column}")
}

/// Any value, to test a column for NULL whatever its type.
#[derive(Debug)]
pub struct AnyValue;

impl<'a> FromSql<'a> for AnyValue {
    fn from_sql(_: &Type, _: &'a [u8]) -> Result<Self, BoxError> {
        Ok(AnyValue)
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

/// Marker: `A` and `B` are the same type.
#[diagnostic::on_unimplemented(
    message = "the foreign key's type `{Self}` is not the parent's primary key type `{T}`",
    note = "a `belongs_to` field must have the type of the parent entity's `#[pgrepo(id)]` field (or `Option` of it)"
)]
pub trait SameType<T> {}
impl<T> SameType<T> for T {}

/// Compile-time check that a `belongs_to` field's type matches the parent's primary key.
pub fn assert_foreign_key_type<Fk: SameType<ParentId>, ParentId>() {}

/// A foreign-key field's value as the parent's key: `K` itself, or `Option<K>` (NULL: none).
pub trait AsKey<K> {
    /// The key, if the field holds one.
    fn as_key(&self) -> Option<&K>;
}

impl<K> AsKey<K> for K {
    fn as_key(&self) -> Option<&K> {
        Some(self)
    }
}

impl<K> AsKey<K> for Option<K> {
    fn as_key(&self) -> Option<&K> {
        self.as_ref()
    }
}

/// Encodes a text enum's label.
pub fn text_to_sql(text: &str, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
    <&str as ToSql>::to_sql(&text, ty, out)
}

/// Decodes a text enum's label.
pub fn text_from_sql<'a>(ty: &Type, raw: &'a [u8]) -> Result<&'a str, BoxError> {
    <&str as FromSql>::from_sql(ty, raw)
}

/// Text enums are stored in text-like columns or PostgreSQL enum types.
pub fn text_enum_accepts(ty: &Type) -> bool {
    <&str as FromSql>::accepts(ty) || matches!(ty.kind(), tokio_postgres::types::Kind::Enum(_))
}

/// A `#[derive(PgEnum)]` enum is its database type, by name (`plan` or `schema.plan`): the
/// type the server describes, or the placeholder an unnamed statement declares.
pub fn native_enum_accepts(ty: &Type, type_name: &str) -> bool {
    let (schema, name) = match type_name.rsplit_once('.') {
        Some((schema, name)) => (Some(schema), name),
        None => (None, type_name),
    };
    ty.name() == name
        && schema.is_none_or(|schema| ty.schema().is_empty() || ty.schema() == schema)
        && matches!(
            ty.kind(),
            tokio_postgres::types::Kind::Enum(_) | tokio_postgres::types::Kind::Simple
        )
}

/// The error for a label no variant maps to.
#[cold]
pub fn unknown_enum_text(enum_name: &str, found: &str, expected: &[&str]) -> BoxError {
    format!(
        "`{found}` is not a variant of `{enum_name}` (expected one of: {})",
        expected.join(", ")
    )
    .into()
}

/// The type of an entity's field at index `N` (implemented by `#[derive(Entity)]`).
pub trait FieldOf<const N: usize> {
    /// The field's type.
    type Ty;
}

/// A field type `#[derive(Insertable)]` may bind where the entity has `Column`: the same type,
/// or a borrowed form of it.
#[diagnostic::on_unimplemented(
    message = "a `{Self}` field cannot fill a column the entity declares as `{Column}`",
    note = "a `#[derive(Insertable)]` field has the entity field's type, or a borrowed form of it (`&str` for `String`, `&[u8]` for `Vec<u8>`, and their `Option`s)"
)]
pub trait InsertAs<Column> {}
impl<T> InsertAs<T> for T {}
impl InsertAs<String> for &str {}
impl InsertAs<Option<String>> for Option<&str> {}
impl InsertAs<Vec<u8>> for &[u8] {}
impl InsertAs<Option<Vec<u8>>> for Option<&[u8]> {}

/// Compile-time check that an insertable field of type `F` can fill a column of type `C`.
pub fn assert_insert_type<C, F: InsertAs<C>>(_: PhantomData<C>, _: PhantomData<F>) {}

/// The type of a value, as a marker.
pub fn phantom_of<T>(_: &T) -> PhantomData<T> {
    PhantomData
}

/// Whether every column of `required` is in `given` (evaluated at compile time).
pub const fn covers(required: &[usize], given: &[usize]) -> bool {
    let mut r = 0;
    while r < required.len() {
        let mut found = false;
        let mut g = 0;
        while g < given.len() {
            if required[r] == given[g] {
                found = true;
            }
            g += 1;
        }
        if !found {
            return false;
        }
        r += 1;
    }
    true
}
