//! Relations declared on the derive: belongs-to (a foreign key) and its inverse, has-many.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::hash::Hash;

use tokio_postgres::types::{FromSql, ToSql};

use crate::entity::{Entity, Lookup};
use crate::error::Result;
use crate::exec::Executor;
use crate::repo::{lookup_statements, Repo};

/// `C` belongs to `P` through a foreign-key column of `C` that holds `P`'s primary key.
///
/// `#[pgrepo(belongs_to = Post)] post_id: i64` on `Comment` generates `Comment::POST`.
pub struct BelongsTo<C: Entity, P: Entity> {
    column: usize,
    key: fn(&C) -> Option<&P::Id>,
}

impl<C: Entity, P: Entity> BelongsTo<C, P> {
    /// Used by generated code.
    #[doc(hidden)]
    pub const fn __new(column: usize, key: fn(&C) -> Option<&P::Id>) -> Self {
        BelongsTo { column, key }
    }

    /// The parent key a child holds (`None` when its foreign key is NULL).
    pub fn key_of<'c>(&self, child: &'c C) -> Option<&'c P::Id> {
        (self.key)(child)
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

impl<C: Entity, P: Entity> Clone for BelongsTo<C, P> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<C: Entity, P: Entity> Copy for BelongsTo<C, P> {}

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

impl<'x, C: Entity, X: Executor> Repo<'x, C, X> {
    /// Rows matching any of `keys` by `lookup`, grouped by key, in one `= ANY($1)` statement;
    /// each group is ordered by primary key. Absent keys have no entry.
    ///
    /// # Errors
    /// Driver and pool errors; [`Error::Decode`](crate::Error::Decode).
    pub async fn find_grouped<K>(
        &self,
        lookup: Lookup<C, K>,
        keys: &[K],
    ) -> Result<HashMap<K, Vec<C>>>
    where
        K: ToSql + for<'a> FromSql<'a> + Eq + Hash + Send + Sync,
    {
        let mut groups: HashMap<K, Vec<C>> = HashMap::new();
        if keys.is_empty() {
            return Ok(groups);
        }
        let column = lookup.column();
        let def = lookup.column_def();
        let decode = |row: tokio_postgres::Row| -> Result<(K, C)> {
            let key: K = crate::__private::get(&row, column, C::TABLE, def)?;
            Ok((key, C::from_row(&row)?))
        };
        let rows = self
            .executor()
            .query_map(
                &lookup_statements(lookup, self.executor().settings()).find_any,
                &[&keys],
                &decode,
            )
            .await?;
        for (key, child) in rows {
            groups.entry(key).or_default().push(child);
        }
        // Ordered here rather than by the server: rows usually arrive in key order already,
        // which the sort detects in one pass.
        for group in groups.values_mut() {
            group.sort_by(|a, b| a.id().cmp(b.id()));
        }
        Ok(groups)
    }

    /// The children of each parent through `relation`, aligned with `parents` (one `Vec` per
    /// parent, in the iterator's order, each ordered by the child's primary key), in one
    /// statement. `parents` may be any iterator of references, e.g. every post of every user
    /// (`by_user.iter().flatten()`) when loading the next level.
    ///
    /// # Errors
    /// Driver and pool errors.
    pub async fn children<'p, P: Entity + 'p>(
        &self,
        relation: BelongsTo<C, P>,
        parents: impl IntoIterator<Item = &'p P>,
    ) -> Result<Vec<Vec<C>>>
    where
        P::Id: for<'a> FromSql<'a>,
    {
        let keys: Vec<P::Id> = parents.into_iter().map(|p| p.id().clone()).collect();
        let mut groups = self.find_grouped(relation.lookup(), &keys).await?;
        Ok(keys
            .iter()
            .map(|k| groups.remove(k).unwrap_or_default())
            .collect())
    }

    /// Each parent with its children through `relation`, in the parents' order: one statement.
    ///
    /// # Errors
    /// Driver and pool errors.
    pub async fn grouped<P: Entity>(
        &self,
        relation: BelongsTo<C, P>,
        parents: Vec<P>,
    ) -> Result<Vec<(P, Vec<C>)>>
    where
        P::Id: for<'a> FromSql<'a>,
    {
        let children = self.children(relation, &parents).await?;
        Ok(parents.into_iter().zip(children).collect())
    }

    /// The parent of each child through `relation`, in the children's order (`None` for a
    /// NULL or dangling key): one `get_many` statement.
    ///
    /// # Errors
    /// Driver and pool errors.
    pub async fn parents<P: Entity + Clone>(
        &self,
        relation: BelongsTo<C, P>,
        children: Vec<C>,
    ) -> Result<Vec<(C, Option<P>)>>
    where
        P::Id: for<'a> FromSql<'a>,
    {
        let keys: Vec<Option<P::Id>> = children
            .iter()
            .map(|c| relation.key_of(c).cloned())
            .collect();
        let unique: Vec<P::Id> = keys
            .iter()
            .flatten()
            .cloned()
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let parents: HashMap<P::Id, P> = Repo::<P, X>::new(self.executor())
            .get_many(&unique)
            .await?
            .into_iter()
            .map(|p| (p.id().clone(), p))
            .collect();
        Ok(children
            .into_iter()
            .zip(keys)
            .map(|(c, k)| {
                let parent = k.and_then(|k| parents.get(&k).cloned());
                (c, parent)
            })
            .collect())
    }
}
