//! Array parameters of `insert_many`, built from borrowed, type-erased values: one column's
//! values bound as a single `UNNEST` argument without copying the rows.
//!
//! A column that is itself an array cannot be unnested that way: `UNNEST` of a 2-D array
//! flattens it, and rows of different lengths are not a 2-D array at all. Such a column is
//! bound as all rows' elements in one flat array ([`FlatArray`]) and each row's slice bounds in
//! two `int4[]` arguments; the statement takes `elements[lower:upper]` per row (NULL bounds
//! give a NULL array, `upper < lower` an empty one). The elements are each value's own
//! encoding, re-framed: no codec of pgrepo's own.

use std::error::Error as StdError;
use std::fmt;
use std::ops::Range;

use bytes::BytesMut;
use fallible_iterator::FallibleIterator as _;
use postgres_protocol::types as protocol;
use tokio_postgres::types::{to_sql_checked, IsNull, Kind, ToSql, Type};

type BoxError = Box<dyn StdError + Sync + Send>;

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

/// The element type of the array type `ty`, or the error of binding an array as `ty`.
fn member(ty: &Type) -> Result<&Type, BoxError> {
    match ty.kind() {
        Kind::Array(member) => Ok(member),
        _ => Err(format!("cannot bind an array as `{ty}`").into()),
    }
}

fn one_dimension(len: usize) -> Result<protocol::ArrayDimension, BoxError> {
    Ok(protocol::ArrayDimension {
        len: i32::try_from(len).map_err(|_| "array too long")?,
        lower_bound: 1,
    })
}

impl ToSql for ParamArray<'_> {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        let member = member(ty)?;
        protocol::array_to_sql(
            Some(one_dimension(self.values.len())?),
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

/// The elements of one array column over many rows, and each row's bounds in them.
#[derive(Default)]
pub(crate) struct FlatArray {
    /// Every element's encoding, back to back.
    data: Vec<u8>,
    /// Each element's bytes in `data`; `None` for a NULL element.
    elements: Vec<Option<Range<usize>>>,
    /// Per row, the 1-based first element (NULL for a NULL array).
    pub(crate) lower: Vec<Option<i32>>,
    /// Per row, the 1-based last element (`lower - 1` for an empty array).
    pub(crate) upper: Vec<Option<i32>>,
}

impl fmt::Debug for FlatArray {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FlatArray")
            .field("elements", &self.elements.len())
            .field("lower", &self.lower)
            .field("upper", &self.upper)
            .finish()
    }
}

impl FlatArray {
    /// Appends one row's array value, encoded by its own `ToSql` as the column's array type
    /// `ty`.
    pub(crate) fn push(&mut self, value: &(dyn ToSql + Sync), ty: &Type) -> Result<(), BoxError> {
        let mut encoded = BytesMut::new();
        if let IsNull::Yes = value.to_sql_checked(ty, &mut encoded)? {
            self.lower.push(None);
            self.upper.push(None);
            return Ok(());
        }
        let array = protocol::array_from_sql(&encoded)?;
        if array.dimensions().count()? > 1 {
            return Err("an array column holds one-dimensional arrays only".into());
        }
        let first = self.elements.len() + 1;
        let mut values = array.values();
        while let Some(element) = values.next()? {
            let range = element.map(|bytes| {
                let start = self.data.len();
                self.data.extend_from_slice(bytes);
                start..self.data.len()
            });
            self.elements.push(range);
        }
        let bound = |n: usize| i32::try_from(n).map_err(|_| "array too long");
        self.lower.push(Some(bound(first)?));
        self.upper.push(Some(bound(self.elements.len())?));
        Ok(())
    }
}

impl ToSql for FlatArray {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        let member = member(ty)?;
        protocol::array_to_sql(
            Some(one_dimension(self.elements.len())?),
            member.oid(),
            self.elements.iter(),
            |element, buf| match element {
                Some(range) => {
                    buf.extend_from_slice(&self.data[range.clone()]);
                    Ok(postgres_protocol::IsNull::No)
                }
                None => Ok(postgres_protocol::IsNull::Yes),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_array_keeps_each_rows_bounds() {
        let mut flat = FlatArray::default();
        let rows: [Option<Vec<i64>>; 4] = [Some(vec![1, 2]), Some(vec![]), None, Some(vec![3])];
        for row in &rows {
            flat.push(row, &Type::INT8_ARRAY).unwrap();
        }
        assert_eq!(flat.lower, [Some(1), Some(3), None, Some(3)]);
        assert_eq!(flat.upper, [Some(2), Some(2), None, Some(3)]);
        let mut out = BytesMut::new();
        flat.to_sql(&Type::INT8_ARRAY, &mut out).unwrap();
        let all: Vec<i64> =
            tokio_postgres::types::FromSql::from_sql(&Type::INT8_ARRAY, &out).unwrap();
        assert_eq!(all, [1, 2, 3]);
    }
}
