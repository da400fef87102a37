//! A PostgreSQL array parameter built from borrowed, type-erased values: one column of an
//! `insert_many`, bound as a single `UNNEST` argument without copying the rows.

use std::error::Error as StdError;
use std::fmt;

use bytes::BytesMut;
use postgres_protocol::types as protocol;
use tokio_postgres::types::{to_sql_checked, IsNull, Kind, ToSql, Type};

/// One-dimensional array of `values`, encoded with the element type of the bound array type.
pub(crate) struct ParamArray<'a> {
    values: Vec<&'a (dyn ToSql + Sync)>,
}

impl<'a> ParamArray<'a> {
    pub(crate) fn new(values: Vec<&'a (dyn ToSql + Sync)>) -> Self {
        ParamArray { values }
    }
}

impl fmt::Debug for ParamArray<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.values.iter()).finish()
    }
}

impl ToSql for ParamArray<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn StdError + Sync + Send>> {
        let Kind::Array(member) = ty.kind() else {
            return Err(format!("cannot bind an array as `{ty}`").into());
        };
        let len = i32::try_from(self.values.len()).map_err(|_| "array too long")?;
        let dimension = protocol::ArrayDimension {
            len,
            lower_bound: 1,
        };
        protocol::array_to_sql(
            Some(dimension),
            member.oid(),
            self.values.iter(),
            |value, buf| match value.to_sql_checked(member, buf)? {
                IsNull::No => Ok(postgres_protocol::IsNull::No),
                IsNull::Yes => Ok(postgres_protocol::IsNull::Yes),
            },
            out,
        )?;
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        matches!(ty.kind(), Kind::Array(_))
    }

    to_sql_checked!();
}
