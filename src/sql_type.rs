//! The mapping from Rust field types to PostgreSQL parameter types.
//!
//! A field's parameters are declared one of two ways ([`ParamType`]): as a built-in type with a
//! fixed OID (`int8`, `text`, `numeric`, …), so the server never infers a type and never casts an
//! indexed column to match a parameter; or, for a type created in the database (an enum, a
//! domain, an extension's type such as `citext` or `vector`), left for the server to infer from
//! the column (OID 0 in the statement's Parse message), so the parameter has the column's own
//! type and its operators and indexes apply. The driver learns the real type from the server's
//! parameter description and encodes the value for it.
//!
//! This module owns the trait, the declared types of both kinds, and the impls for the standard
//! types; the impls for other crates' types, each behind a feature, are in `ecosystem.rs`.

use std::error::Error as StdError;

use bytes::BytesMut;
use tokio_postgres::types::{Format, FromSql, IsNull, Kind, ToSql, Type};

mod ecosystem;

/// How the parameters of a field are declared in the statements pgrepo builds.
///
/// ```
/// use pgrepo::ParamType;
/// use pgrepo::tokio_postgres::types::Type;
///
/// // A built-in type: declared by its OID.
/// let fixed = ParamType::Fixed { ty: &Type::INT8, array: &Type::INT8_ARRAY };
/// assert_eq!(fixed.declared_type(), Type::INT8);
///
/// // A type created in the database: declared as "unspecified" (OID 0), typed by the column.
/// let plan = ParamType::from_column("plan");
/// assert_eq!(plan.declared_type().oid(), 0);
/// assert_eq!(plan.declared_type().name(), "plan");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParamType {
    /// A built-in type with a fixed OID, and its array type (what `= ANY($1)` and `insert_many`
    /// bind a batch of values as). For a field that is itself an array (`Vec<i64>`), both are
    /// the array type.
    Fixed {
        /// The parameters' type.
        ty: &'static Type,
        /// The type of an array of such values.
        array: &'static Type,
    },
    /// A type created in the database, by its name (`plan`, `citext`, `vector`, or
    /// schema-qualified, `billing.plan`), as stored in the catalog (lower case unless it was
    /// created with a quoted name) and without a modifier (`vector`, not `vector(3)`).
    ///
    /// Statements leave such a parameter's type unspecified, so the server gives it the type
    /// of the column it is compared with or assigned to: an enum parameter is the enum, a
    /// `citext` lookup compares case-insensitively, and an index on the column is used. The
    /// name is what the value's `ToSql` is checked against before the server has described the
    /// statement (unnamed statements), the type `insert_many` casts its batch arrays to, and
    /// what [`Db::verify`](crate::Db::verify) compares with the column.
    FromColumn {
        /// The type's name.
        name: &'static str,
        /// Whether the field is an array of that type (`plan[]`).
        array: bool,
    },
}

impl ParamType {
    /// A type created in the database, by name: [`ParamType::FromColumn`], not an array.
    pub const fn from_column(name: &'static str) -> Self {
        ParamType::FromColumn { name, array: false }
    }

    /// The type statements declare for one value: the fixed type, or for a type resolved from
    /// the column a placeholder with OID 0 (unspecified) that carries the type's name.
    pub fn declared_type(&self) -> Type {
        match *self {
            ParamType::Fixed { ty, .. } => ty.clone(),
            ParamType::FromColumn { name, array: false } => placeholder(name),
            ParamType::FromColumn { name, array: true } => placeholder_array(name),
        }
    }

    /// The type statements declare for an array of values (`= ANY($1)`, `insert_many`): the
    /// fixed array type, or an OID 0 placeholder for an array of the named type.
    pub fn declared_array_type(&self) -> Type {
        match *self {
            ParamType::Fixed { array, .. } => array.clone(),
            ParamType::FromColumn { name, .. } => placeholder_array(name),
        }
    }

    /// Whether a value of the field is an array (`Vec<T>` other than `Vec<u8>`).
    pub fn is_array(&self) -> bool {
        match self {
            ParamType::Fixed { ty, .. } => matches!(ty.kind(), Kind::Array(_)),
            ParamType::FromColumn { array, .. } => *array,
        }
    }

    /// The name of a type resolved from the column; `None` for a fixed type.
    pub fn type_name(&self) -> Option<&'static str> {
        match self {
            ParamType::Fixed { .. } => None,
            ParamType::FromColumn { name, .. } => Some(name),
        }
    }

    /// For a type resolved from the column, the SQL of its array type (`"billing"."plan"[]`),
    /// which a parameter the server cannot type from a column (an `UNNEST` argument) is cast
    /// to. A cast of a parameter only types it: no column is converted.
    pub(crate) fn array_cast(&self) -> Option<String> {
        let name = self.type_name()?;
        let mut out = String::new();
        for (i, part) in name.split('.').enumerate() {
            if i > 0 {
                out.push('.');
            }
            crate::sql::quote_ident(&mut out, part);
        }
        out.push_str("[]");
        Some(out)
    }
}

/// `schema.name` split, the schema empty when not given.
fn split_name(name: &str) -> (&str, &str) {
    match name.rsplit_once('.') {
        Some((schema, name)) => (schema, name),
        None => ("", name),
    }
}

/// OID 0 (unspecified: the server infers it) with the type's name, which `ToSql` impls that
/// accept types by name (`citext`, `vector`, `#[derive(PgEnum)]`) check.
fn placeholder(name: &str) -> Type {
    let (schema, name) = split_name(name);
    Type::new(name.to_owned(), 0, Kind::Simple, schema.to_owned())
}

/// The placeholder of an array of the named type. An unnamed statement encodes its values before
/// the server has typed the parameter, so the array's header names element OID 0; the server
/// checks an array's element OID only when both it and the expected one are built-in types
/// (`array_recv`), and otherwise reads the elements as the type it expects (seen on PostgreSQL
/// 15 and 18).
fn placeholder_array(name: &str) -> Type {
    let (schema, element) = split_name(name);
    Type::new(
        format!("_{element}"),
        0,
        Kind::Array(placeholder(name)),
        schema.to_owned(),
    )
}

/// A parameter encoded for a domain's base type. The server describes a parameter it typed from
/// a domain column (an insert into a `CREATE DOMAIN email AS citext` column) as the domain,
/// which the value's `ToSql` does not know; the server receives a domain's values in its base
/// type's format and checks the domain's constraints itself.
#[derive(Debug)]
pub(crate) struct DomainAsBase<'a>(pub(crate) &'a (dyn ToSql + Sync));

/// `ty` without its domains.
fn base_of(ty: &Type) -> &Type {
    match ty.kind() {
        Kind::Domain(base) => base_of(base),
        _ => ty,
    }
}

impl ToSql for DomainAsBase<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn StdError + Sync + Send>> {
        self.0.to_sql_checked(base_of(ty), out)
    }

    /// Checked with the base type in [`ToSql::to_sql_checked`].
    fn accepts(_: &Type) -> bool {
        true
    }

    fn to_sql_checked(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn StdError + Sync + Send>> {
        self.0.to_sql_checked(base_of(ty), out)
    }

    fn encode_format(&self, ty: &Type) -> Format {
        self.0.encode_format(base_of(ty))
    }
}

/// A Rust type that is stored in one PostgreSQL column.
///
/// Implemented for the supported field types (see the crate's type table), `Option` and `Vec`
/// of them; `#[derive(TextEnum)]` and `#[derive(PgEnum)]` implement it for enums. Implement it
/// for your own `ToSql + FromSql` types to use them as fields, with a built-in type:
///
/// ```
/// # use pgrepo::tokio_postgres::types::{FromSql, ToSql, Type, IsNull, to_sql_checked};
/// #[derive(Debug)]
/// struct Cents(i64);
/// # impl ToSql for Cents {
/// #     fn to_sql(&self, ty: &Type, out: &mut bytes::BytesMut) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> { self.0.to_sql(ty, out) }
/// #     fn accepts(ty: &Type) -> bool { <i64 as ToSql>::accepts(ty) }
/// #     to_sql_checked!();
/// # }
/// # impl<'a> FromSql<'a> for Cents {
/// #     fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> { i64::from_sql(ty, raw).map(Cents) }
/// #     fn accepts(ty: &Type) -> bool { <i64 as FromSql>::accepts(ty) }
/// # }
/// impl pgrepo::SqlType for Cents {
///     const PG_TYPE: Type = Type::INT8;
///     const ARRAY_TYPE: Type = Type::INT8_ARRAY;
///     type NonNull = Self;
/// }
/// ```
///
/// or with a type created in the database, whose `ToSql` and `FromSql` accept it by name:
///
/// ```
/// # use pgrepo::tokio_postgres::types::{FromSql, ToSql, Type, IsNull, to_sql_checked};
/// #[derive(Debug)]
/// struct Ltree(String);
/// # impl ToSql for Ltree {
/// #     fn to_sql(&self, ty: &Type, out: &mut bytes::BytesMut) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> { self.0.to_sql(ty, out) }
/// #     fn accepts(ty: &Type) -> bool { ty.name() == "ltree" }
/// #     to_sql_checked!();
/// # }
/// # impl<'a> FromSql<'a> for Ltree {
/// #     fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> { String::from_sql(ty, raw).map(Ltree) }
/// #     fn accepts(ty: &Type) -> bool { ty.name() == "ltree" }
/// # }
/// impl pgrepo::SqlType for Ltree {
///     const PARAM_TYPE: pgrepo::ParamType = pgrepo::ParamType::from_column("ltree");
///     type NonNull = Self;
/// }
/// ```
///
/// A field of a built-in Rust type on such a column says so with `#[pgrepo(sql_type = "citext")]`.
///
/// # Newtypes
///
/// A newtype delegates all three traits to the type it wraps, so it is stored exactly as that
/// type (here `citext`, typed from the column like the field of `sql_type = "citext"`):
///
/// ```
/// use bytes::BytesMut;
/// use pgrepo::tokio_postgres::types::{to_sql_checked, FromSql, IsNull, ToSql, Type};
/// use pgrepo::{ParamType, SqlType};
///
/// type BoxError = Box<dyn std::error::Error + Sync + Send>;
///
/// #[derive(Debug, Clone, PartialEq, Eq)]
/// pub struct Email(pub String);
///
/// impl ToSql for Email {
///     fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
///         self.0.to_sql(ty, out)
///     }
///     fn accepts(ty: &Type) -> bool {
///         <String as ToSql>::accepts(ty)
///     }
///     to_sql_checked!();
/// }
///
/// impl<'a> FromSql<'a> for Email {
///     fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
///         String::from_sql(ty, raw).map(Email)
///     }
///     fn accepts(ty: &Type) -> bool {
///         <String as FromSql>::accepts(ty)
///     }
/// }
///
/// impl SqlType for Email {
///     // `<String as SqlType>::PARAM_TYPE` for a `text` column.
///     const PARAM_TYPE: ParamType = ParamType::from_column("citext");
///     type NonNull = Self;
/// }
///
/// #[derive(pgrepo::Entity)]
/// #[pgrepo(table = "members")]
/// struct Member {
///     #[pgrepo(id, generated)]
///     id: i64,
///     #[pgrepo(unique)]
///     email: Email,
/// }
/// # let _: pgrepo::Lookup<Member, Email> = Member::EMAIL;
/// ```
///
/// (`postgres-types`' own derive, `#[derive(ToSql, FromSql)] #[postgres(transparent)]`,
/// writes the first two impls.)
pub trait SqlType: ToSql + for<'a> FromSql<'a> + Send + Sync {
    /// The built-in type parameters of this field are bound as. Left at its default
    /// (`Type::UNKNOWN`, "none") by types whose parameters are resolved from the column,
    /// which set [`SqlType::PARAM_TYPE`] instead.
    const PG_TYPE: Type = Type::UNKNOWN;
    /// The array type of [`SqlType::PG_TYPE`] (for `= ANY($1)` and `UNNEST`).
    const ARRAY_TYPE: Type = Type::UNKNOWN;
    /// How parameters of this field are declared: by default the fixed types above; a type
    /// created in the database sets [`ParamType::FromColumn`].
    const PARAM_TYPE: ParamType = ParamType::Fixed {
        ty: &Self::PG_TYPE,
        array: &Self::ARRAY_TYPE,
    };
    /// Whether the field holds SQL NULL as `None`.
    const NULLABLE: bool = false;
    /// The labels of the database enum type this type is (`#[derive(PgEnum)]` sets them, in
    /// declaration order), which [`Db::verify`](crate::Db::verify) compares with the type's
    /// labels in `pg_enum`; `None` for every other type. An `Option` or `Vec` has its
    /// element's.
    const ENUM_LABELS: Option<&'static [&'static str]> = None;
    /// The type without `Option`: the key type of a lookup on this column.
    type NonNull;
}

macro_rules! sql_type {
    ($($ty:ty => $pg:ident, $arr:ident;)+) => {
        $(impl SqlType for $ty {
            const PG_TYPE: Type = Type::$pg;
            const ARRAY_TYPE: Type = Type::$arr;
            type NonNull = Self;
        })+
    };
}
pub(crate) use sql_type;

sql_type! {
    bool => BOOL, BOOL_ARRAY;
    i16 => INT2, INT2_ARRAY;
    i32 => INT4, INT4_ARRAY;
    i64 => INT8, INT8_ARRAY;
    f32 => FLOAT4, FLOAT4_ARRAY;
    f64 => FLOAT8, FLOAT8_ARRAY;
    String => TEXT, TEXT_ARRAY;
    Vec<u8> => BYTEA, BYTEA_ARRAY;
    std::net::IpAddr => INET, INET_ARRAY;
}

impl<T: SqlType> SqlType for Option<T> {
    const PG_TYPE: Type = T::PG_TYPE;
    const ARRAY_TYPE: Type = T::ARRAY_TYPE;
    const PARAM_TYPE: ParamType = T::PARAM_TYPE;
    const NULLABLE: bool = true;
    const ENUM_LABELS: Option<&'static [&'static str]> = T::ENUM_LABELS;
    type NonNull = T::NonNull;
}

/// A PostgreSQL array (`text[]`, `bigint[]`, `plan[]`) of any supported element type, including
/// `Option`s for arrays with NULL elements. (`Vec<u8>` is `bytea`, not an array.) One
/// dimension: a `Vec` of `Vec`s is not an array type here. An array column is read and written
/// like any other, including by `insert_many`; it is not a primary key or lookup column.
impl<T: SqlType> SqlType for Vec<T>
where
    Vec<T>: ToSql + for<'a> FromSql<'a>,
{
    const PG_TYPE: Type = T::ARRAY_TYPE;
    const ARRAY_TYPE: Type = T::ARRAY_TYPE;
    const PARAM_TYPE: ParamType = match T::PARAM_TYPE {
        ParamType::Fixed { array, .. } => ParamType::Fixed { ty: array, array },
        ParamType::FromColumn { name, array } => {
            assert!(!array, "an array of arrays is not a PostgreSQL type");
            ParamType::FromColumn { name, array: true }
        }
    };
    const ENUM_LABELS: Option<&'static [&'static str]> = T::ENUM_LABELS;
    type NonNull = Self;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrays_are_their_element_array_type() {
        assert_eq!(
            <Vec<String> as SqlType>::PARAM_TYPE,
            ParamType::Fixed {
                ty: &Type::TEXT_ARRAY,
                array: &Type::TEXT_ARRAY
            }
        );
        assert!(<Option<Vec<i64>> as SqlType>::PARAM_TYPE.is_array());
        assert!(!<Vec<u8> as SqlType>::PARAM_TYPE.is_array());
        assert_eq!(
            <Vec<Vec<u8>> as SqlType>::PARAM_TYPE.declared_type(),
            Type::BYTEA_ARRAY
        );
    }

    #[test]
    fn types_from_the_column_are_declared_unspecified_with_their_name() {
        let plan = ParamType::from_column("billing.plan");
        let declared = plan.declared_type();
        assert_eq!((declared.oid(), declared.name()), (0, "plan"));
        assert_eq!(declared.schema(), "billing");
        let array = plan.declared_array_type();
        assert_eq!(array.oid(), 0);
        assert!(matches!(array.kind(), Kind::Array(member) if member.name() == "plan"));
        assert_eq!(plan.array_cast().as_deref(), Some(r#""billing"."plan"[]"#));
        assert!(!plan.is_array());
        let tags = ParamType::FromColumn {
            name: "citext",
            array: true,
        };
        assert!(tags.is_array());
        assert!(matches!(tags.declared_type().kind(), Kind::Array(m) if m.name() == "citext"));
        // `String` accepts `citext` by name, so an unnamed statement can encode it unresolved.
        assert!(<String as ToSql>::accepts(
            &ParamType::from_column("citext").declared_type()
        ));
        assert!(<Vec<String> as ToSql>::accepts(&tags.declared_type()));
    }
}
