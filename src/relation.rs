//! Relations declared on the derive: belongs-to (a foreign key) and its inverse, has-many.

use std::fmt;
use std::marker::PhantomData;

use crate::entity::{Entity, Lookup};

/// `C` belongs to `P` through a foreign-key column of `C` that holds `P`'s primary key.
///
/// `#[pgrepo(belongs_to = Post)] post_id: i64` on `Comment` generates `Comment::POST`.
pub struct BelongsTo<C, P> {
    column: usize,
    _marker: PhantomData<fn() -> (C, P)>,
}

impl<C: Entity, P: Entity> BelongsTo<C, P> {
    /// Used by generated code.
    #[doc(hidden)]
    pub const fn __new(column: usize) -> Self {
        BelongsTo {
            column,
            _marker: PhantomData,
        }
    }

    /// Index of the foreign-key column in `C::columns()`.
    pub fn column(&self) -> usize {
        self.column
    }

    /// The lookup of children by parent key.
    pub fn lookup(&self) -> Lookup<C, P::Id> {
        Lookup::__new(self.column)
    }
}

impl<C, P> Clone for BelongsTo<C, P> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<C, P> Copy for BelongsTo<C, P> {}

impl<C: Entity, P: Entity> fmt::Debug for BelongsTo<C, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "BelongsTo({}.{} -> {})",
            C::TABLE,
            C::columns()[self.column].name,
            P::TABLE
        )
    }
}
