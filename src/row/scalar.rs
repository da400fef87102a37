//! [`FromRow`] for the scalar types and their `Option`s: one column each, checked against the
//! Rust type once per statement (`Resolver::scalar`), decoded like a field.

use tokio_postgres::types::FromSql;
use tokio_postgres::Row;

use super::{FromRow, Resolver};
use crate::error::Error;

/// Decodes column `index` into a scalar, naming the column and the type on failure.
fn scalar_at<T: for<'a> FromSql<'a>>(
    row: &Row,
    index: usize,
    rust_type: &'static str,
) -> Result<T, Error> {
    row.try_get(index).map_err(|source| Error::Decode {
        table: crate::sql::raw::TABLE,
        column: row
            .columns()
            .get(index)
            .map_or_else(|| format!("#{}", index + 1), |c| c.name().to_owned()),
        rust_type,
        source,
    })
}

macro_rules! scalar_from_row {
    ($([$($generics:tt)*] $ty:ty $(where [$($bounds:tt)+])?;)+) => {$(
        impl<$($generics)*> FromRow for $ty $(where $($bounds)+)? {
            const COLUMN_COUNT: usize = 1;

            fn from_row_at(row: &Row, offset: usize) -> Result<Self, Error> {
                scalar_at(row, offset, stringify!($ty))
            }

            fn resolve_columns(columns: &mut Resolver<'_>) {
                columns.scalar(stringify!($ty), <Self as FromSql<'_>>::accepts);
            }

            fn from_row_mapped(row: &Row, indexes: &[usize]) -> Result<Self, Error> {
                scalar_at(row, indexes[0], stringify!($ty))
            }
        }

        impl<$($generics)*> FromRow for Option<$ty> $(where $($bounds)+)? {
            const COLUMN_COUNT: usize = 1;

            fn from_row_at(row: &Row, offset: usize) -> Result<Self, Error> {
                scalar_at(row, offset, concat!("Option<", stringify!($ty), ">"))
            }

            fn resolve_columns(columns: &mut Resolver<'_>) {
                columns.scalar(
                    concat!("Option<", stringify!($ty), ">"),
                    <Self as FromSql<'_>>::accepts,
                );
            }

            fn from_row_mapped(row: &Row, indexes: &[usize]) -> Result<Self, Error> {
                scalar_at(row, indexes[0], concat!("Option<", stringify!($ty), ">"))
            }
        }
    )+};
}

scalar_from_row! {
    [] bool;
    [] i16;
    [] i32;
    [] i64;
    [] f32;
    [] f64;
    [] String;
    [] Vec<u8>;
}

#[cfg(feature = "uuid")]
scalar_from_row! { [] uuid::Uuid; }

#[cfg(feature = "json")]
scalar_from_row! {
    [] serde_json::Value;
    [T] tokio_postgres::types::Json<T> where [T: serde::de::DeserializeOwned + std::fmt::Debug];
}

#[cfg(feature = "time")]
scalar_from_row! {
    [] time::OffsetDateTime;
    [] time::PrimitiveDateTime;
    [] time::Date;
    [] time::Time;
}

#[cfg(feature = "chrono")]
scalar_from_row! {
    [] chrono::DateTime<chrono::Utc>;
    [] chrono::NaiveDateTime;
    [] chrono::NaiveDate;
    [] chrono::NaiveTime;
}
