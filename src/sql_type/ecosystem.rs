//! `SqlType` for other crates' types, each behind a feature of pgrepo. Encoding and decoding are
//! the crates' own `ToSql`/`FromSql` (through `postgres-types` or the crate's postgres
//! feature): this file only says how their parameters are declared.

// Which of these are used depends on the features.
#[allow(unused_imports)]
use super::{sql_type, ParamType, SqlType};
#[allow(unused_imports)]
use tokio_postgres::types::Type;

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

// `numeric`, through rust_decimal's own `tokio-pg` codec. A `numeric` value outside
// `Decimal`'s range (28 significant digits) is a decoding error, never a rounded value.
#[cfg(feature = "decimal")]
sql_type! { rust_decimal::Decimal => NUMERIC, NUMERIC_ARRAY; }

// `inet` and `cidr` as the `cidr` crate's types (`std::net::IpAddr` is `inet` without a feature).
#[cfg(feature = "cidr")]
sql_type! {
    cidr::IpInet => INET, INET_ARRAY;
    cidr::IpCidr => CIDR, CIDR_ARRAY;
}

// `interval` as pg_interval's months, days and microseconds: the server's own three fields,
// so `'1 month'` stays a month rather than becoming 30 days.
#[cfg(feature = "interval")]
sql_type! { pg_interval::Interval => INTERVAL, INTERVAL_ARRAY; }

// pgvector's types: created by `CREATE EXTENSION vector`, so resolved from the column.
#[cfg(feature = "pgvector")]
impl SqlType for pgvector::Vector {
    const PARAM_TYPE: ParamType = ParamType::from_column("vector");
    type NonNull = Self;
}

#[cfg(feature = "pgvector")]
impl SqlType for pgvector::SparseVector {
    const PARAM_TYPE: ParamType = ParamType::from_column("sparsevec");
    type NonNull = Self;
}
