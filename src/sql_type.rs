//! The mapping from Rust field types to PostgreSQL parameter types.
//!
//! Every statement pgrepo prepares names its parameter types explicitly, taken from here, so the
//! server never infers a type and never casts an indexed column to match a parameter.

use tokio_postgres::types::{FromSql, ToSql, Type};

/// A Rust type that is stored in one PostgreSQL column.
///
/// Implemented for the supported field types; `#[derive(TextEnum)]` implements it for enums
/// stored as text. Implement it for your own `ToSql + FromSql` types to use them as fields.
pub trait SqlType: ToSql + for<'a> FromSql<'a> + Send + Sync {
    /// The type parameters of this field are bound as.
    const PG_TYPE: Type;
    /// The array type of [`SqlType::PG_TYPE`] (for `= ANY($1)` and `UNNEST`).
    const ARRAY_TYPE: Type;
    /// Whether the field holds SQL NULL as `None`.
    const NULLABLE: bool = false;
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

sql_type! {
    bool => BOOL, BOOL_ARRAY;
    i16 => INT2, INT2_ARRAY;
    i32 => INT4, INT4_ARRAY;
    i64 => INT8, INT8_ARRAY;
    f32 => FLOAT4, FLOAT4_ARRAY;
    f64 => FLOAT8, FLOAT8_ARRAY;
    String => TEXT, TEXT_ARRAY;
    Vec<u8> => BYTEA, BYTEA_ARRAY;
}

#[cfg(feature = "uuid")]
sql_type! { uuid::Uuid => UUID, UUID_ARRAY; }

#[cfg(feature = "json")]
sql_type! { serde_json::Value => JSONB, JSONB_ARRAY; }

#[cfg(feature = "json")]
impl<T> SqlType for tokio_postgres::types::Json<T>
where
    T: serde::Serialize + serde::de::DeserializeOwned + std::fmt::Debug + Send + Sync,
{
    const PG_TYPE: Type = Type::JSONB;
    const ARRAY_TYPE: Type = Type::JSONB_ARRAY;
    type NonNull = Self;
}

#[cfg(feature = "time")]
sql_type! {
    time::OffsetDateTime => TIMESTAMPTZ, TIMESTAMPTZ_ARRAY;
    time::PrimitiveDateTime => TIMESTAMP, TIMESTAMP_ARRAY;
    time::Date => DATE, DATE_ARRAY;
    time::Time => TIME, TIME_ARRAY;
}

#[cfg(feature = "chrono")]
sql_type! {
    chrono::DateTime<chrono::Utc> => TIMESTAMPTZ, TIMESTAMPTZ_ARRAY;
    chrono::NaiveDateTime => TIMESTAMP, TIMESTAMP_ARRAY;
    chrono::NaiveDate => DATE, DATE_ARRAY;
    chrono::NaiveTime => TIME, TIME_ARRAY;
}

impl<T: SqlType> SqlType for Option<T> {
    const PG_TYPE: Type = T::PG_TYPE;
    const ARRAY_TYPE: Type = T::ARRAY_TYPE;
    const NULLABLE: bool = true;
    type NonNull = T::NonNull;
}
