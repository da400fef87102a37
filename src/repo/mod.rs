//! [`Repo`]: the typed CRUD and lookups of one entity, over any [`Executor`].
//!
//! Every method runs one statement built once per entity (see `statements`), prepared once per
//! connection, with parameter types from the entity's field types.

use std::borrow::Borrow;
use std::fmt;
use std::marker::PhantomData;

use tokio_postgres::types::ToSql;

use crate::entity::{insert_columns, update_columns, Entity, Insertable, Lookup, Upsertable};
use crate::error::{Error, Result};
use crate::exec::Executor;
use crate::listing::{Listing, SortKey};
use crate::row::FromRow;
use crate::sql::param_array::{FlatArray, ParamArray};
use crate::sql::{LookupStatements, Statement};

pub(crate) mod relation;

/// The repository of entity `E` over executor `X` ([`Db`](crate::Db), [`Tx`](crate::Tx), …).
///
/// Obtained from [`Executor::repo`](crate::Executor::repo) on any scope; cheap to create.
pub struct Repo<'x, E, X> {
    exec: &'x X,
    _entity: PhantomData<fn() -> E>,
}

impl<E, X> Clone for Repo<'_, E, X> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<E, X> Copy for Repo<'_, E, X> {}

impl<E: Entity, X> fmt::Debug for Repo<'_, E, X> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Repo").field("table", &E::TABLE).finish()
    }
}

/// Decodes a row into `E`; a plain `fn` so executors can call it as each row arrives.
pub(crate) fn decode<E: FromRow>(row: tokio_postgres::Row) -> Result<E> {
    E::from_row(&row)
}

fn count_of(rows: &[tokio_postgres::Row], statement: &Statement) -> Result<i64> {
    rows.first()
        .ok_or(Error::NotFound {
            table: statement.table,
            statement: statement.label,
        })?
        .try_get(0)
        .map_err(|source| Error::Query {
            table: statement.table,
            statement: statement.label,
            source,
        })
}

impl<'x, E: Entity, X: Executor> Repo<'x, E, X> {
    pub(crate) fn new(exec: &'x X) -> Self {
        Repo {
            exec,
            _entity: PhantomData,
        }
    }

    /// The executor this repository runs on.
    pub fn executor(&self) -> &'x X {
        self.exec
    }

    /// The statements this scope runs: filtered by the tenant in a tenant's scope.
    fn statements(&self) -> &'static crate::sql::EntityStatements {
        E::statements().for_scope(self.exec.settings())
    }

    async fn one(
        &self,
        statement: &Statement,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<E>> {
        let rows = self.exec.query_map(statement, params, &decode::<E>).await?;
        Ok(rows.into_iter().next())
    }

    async fn all_of(
        &self,
        statement: &Statement,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<E>> {
        self.exec.query_map(statement, params, &decode::<E>).await
    }

    async fn required(&self, statement: &Statement, params: &[&(dyn ToSql + Sync)]) -> Result<E> {
        self.one(statement, params).await?.ok_or(Error::NotFound {
            table: statement.table,
            statement: statement.label,
        })
    }

    /// Every row of the table, in no particular order. For large tables page through
    /// [`Repo::list`] or stream with [`Listing::export`] instead.
    ///
    /// # Errors
    /// Driver and pool errors; [`Error::Decode`].
    pub async fn all(&self) -> Result<Vec<E>> {
        self.all_of(&self.statements().all, &[]).await
    }

    /// The row with primary key `id`, if any.
    ///
    /// # Errors
    /// Driver and pool errors; [`Error::Decode`] if the row does not fit the struct.
    pub async fn get(&self, id: impl Borrow<E::Id>) -> Result<Option<E>> {
        self.one(&self.statements().get, &[id.borrow()]).await
    }

    /// The rows whose primary key is in `ids`, in one `= ANY($1)` statement whatever the count.
    /// Missing ids are absent from the result; the order is the server's.
    ///
    /// # Errors
    /// As [`Repo::get`].
    pub async fn get_many(&self, ids: &[E::Id]) -> Result<Vec<E>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        self.all_of(&self.statements().get_many, &[&ids]).await
    }

    /// Inserts one row and returns it as stored (with the columns the database filled).
    ///
    /// `new` is any [`Insertable`] of `E`: the `New…` struct the derive generates, or a type of
    /// your own implementing it, so values need not be copied into a `New…` first.
    ///
    /// # Errors
    /// [`Error::UniqueViolation`], [`Error::ForeignKeyViolation`], driver and pool errors.
    pub async fn insert<N: Insertable<Entity = E>>(&self, new: &N) -> Result<E> {
        let statement = &self.statements().insert;
        let params = insert_params(new);
        self.required(statement, &params).await
    }

    /// Inserts many rows in one statement (`INSERT … SELECT * FROM UNNEST(…)`) and returns
    /// them as stored, in input order. Array columns (`Vec<T>` fields) are bound as one flat
    /// array of all rows' elements and sliced back per row, so rows may hold arrays of
    /// different lengths, empty arrays or NULL.
    ///
    /// # Errors
    /// As [`Repo::insert`]; nothing is inserted when any row is rejected.
    /// [`Error::Encode`] when an array value cannot be encoded (before anything is sent).
    pub async fn insert_many<N: Insertable<Entity = E>>(&self, rows: &[N]) -> Result<Vec<E>> {
        match rows {
            [] => return Ok(Vec::new()),
            // One row: plain VALUES costs the server less than unnesting arrays.
            [row] => return Ok(vec![self.insert(row).await?]),
            _ => {}
        }
        let arrays = column_arrays(rows)?;
        self.all_of(&self.statements().insert_many, &array_params(&arrays))
            .await
    }

    /// Inserts many rows in one statement without reading them back; returns how many were
    /// inserted. The bulk-load form of [`Repo::insert_many`].
    ///
    /// # Errors
    /// As [`Repo::insert`]; nothing is inserted when any row is rejected.
    pub async fn insert_many_count<N: Insertable<Entity = E>>(&self, rows: &[N]) -> Result<u64> {
        match rows {
            [] => return Ok(0),
            [row] => {
                let params = insert_params(row);
                return self
                    .exec
                    .run_execute(&self.statements().insert_count, &params)
                    .await;
            }
            _ => {}
        }
        let arrays = column_arrays(rows)?;
        self.exec
            .run_execute(&self.statements().insert_many_count, &array_params(&arrays))
            .await
    }

    /// Writes every column that is neither the primary key nor `generated` to the row with
    /// `entity`'s primary key, and returns the row as stored.
    ///
    /// # Errors
    /// [`Error::NotFound`] when no row has that key; constraint, driver and pool errors.
    pub async fn update(&self, entity: &E) -> Result<E> {
        let statements = self.statements();
        let Some(statement) = &statements.update else {
            // Nothing to write: the entity has only key and generated columns.
            return self.get(entity.id()).await?.ok_or(Error::NotFound {
                table: E::TABLE,
                statement: "update",
            });
        };
        let mut params: Vec<&(dyn ToSql + Sync)> = update_columns::<E>()
            .map(|(i, _)| entity.param(i))
            .collect();
        params.push(entity.id());
        self.required(statement, &params).await
    }

    /// Inserts the row, or updates the existing row with the same conflict key
    /// (`ON CONFLICT (…) DO UPDATE`), and returns it as stored.
    ///
    /// # Errors
    /// [`Error::NotUpsertable`] when the entity has no upsert statement (every column is
    /// `generated`, or [`Upsertable`] is implemented by hand for an entity with no `unique`
    /// column and a `generated` primary key); constraint, driver and pool errors.
    pub async fn upsert<N: Insertable<Entity = E>>(&self, new: &N) -> Result<E>
    where
        E: Upsertable,
    {
        let statements = self.statements();
        let Some(statement) = statements.upsert.as_ref() else {
            return Err(not_upsertable::<E>());
        };
        let params = insert_params(new);
        self.required(statement, &params).await
    }

    /// Deletes the row with primary key `id`; returns whether there was one.
    ///
    /// # Errors
    /// [`Error::ForeignKeyViolation`] when other rows reference it; driver and pool errors.
    pub async fn delete(&self, id: impl Borrow<E::Id>) -> Result<bool> {
        let n = self
            .exec
            .run_execute(&self.statements().delete, &[id.borrow()])
            .await?;
        Ok(n > 0)
    }

    /// Deletes the rows whose primary key is in `ids`, in one statement; returns how many.
    ///
    /// # Errors
    /// As [`Repo::delete`].
    pub async fn delete_many(&self, ids: &[E::Id]) -> Result<u64> {
        if ids.is_empty() {
            return Ok(0);
        }
        self.exec
            .run_execute(&self.statements().delete_many, &[&ids])
            .await
    }

    /// A keyset-paginated listing in the entity's default order (`#[pgrepo(order_by)]`, or
    /// the primary key).
    pub fn list(&self) -> Listing<'x, E, X> {
        Listing::new(self.exec, SortKey::default_for())
    }

    /// A keyset-paginated listing in the order of `sort` (e.g. `User::BY_NAME`).
    pub fn list_by(&self, sort: SortKey<E>) -> Listing<'x, E, X> {
        Listing::new(self.exec, sort)
    }

    /// The number of rows in the table.
    ///
    /// # Errors
    /// Driver and pool errors.
    pub async fn count(&self) -> Result<i64> {
        let statement = &self.statements().count;
        let rows = self.exec.run(statement, &[]).await?;
        count_of(&rows, statement)
    }

    /// Every row whose `lookup` column equals `key`, ordered by primary key.
    ///
    /// # Errors
    /// Driver and pool errors.
    pub async fn find_by<K: ToSql + Sync>(
        &self,
        lookup: Lookup<E, K>,
        key: impl Borrow<K>,
    ) -> Result<Vec<E>> {
        self.all_of(
            &lookup_statements::<E, K>(lookup, self.exec.settings()).find,
            &[key.borrow()],
        )
        .await
    }

    /// The row whose `lookup` column equals `key`, if any (the first by primary key if the
    /// column is not unique).
    ///
    /// # Errors
    /// Driver and pool errors.
    pub async fn find_one_by<K: ToSql + Sync>(
        &self,
        lookup: Lookup<E, K>,
        key: impl Borrow<K>,
    ) -> Result<Option<E>> {
        self.one(
            &lookup_statements::<E, K>(lookup, self.exec.settings()).find,
            &[key.borrow()],
        )
        .await
    }

    /// Every row whose `lookup` column is one of `keys`, in one `= ANY($1)` statement, in no
    /// particular order ([`Repo::find_grouped`] groups and orders them).
    ///
    /// # Errors
    /// Driver and pool errors.
    pub async fn find_by_any<K: ToSql + Sync>(
        &self,
        lookup: Lookup<E, K>,
        keys: &[K],
    ) -> Result<Vec<E>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        self.all_of(
            &lookup_statements::<E, K>(lookup, self.exec.settings()).find_any,
            &[&keys],
        )
        .await
    }

    /// The number of rows whose `lookup` column equals `key`.
    ///
    /// # Errors
    /// Driver and pool errors.
    pub async fn count_by<K: ToSql + Sync>(
        &self,
        lookup: Lookup<E, K>,
        key: impl Borrow<K>,
    ) -> Result<i64> {
        let statement = &lookup_statements::<E, K>(lookup, self.exec.settings()).count;
        let rows = self.exec.run(statement, &[key.borrow()]).await?;
        count_of(&rows, statement)
    }
}

/// Why `E` has no upsert statement (see `EntityStatements::new`).
#[cold]
fn not_upsertable<E: Entity>() -> Error {
    let reason = if E::columns().iter().all(|c| c.generated) {
        "every column is `generated`, so an upsert has no value to insert"
    } else {
        "it has no conflict target: no column is `#[pgrepo(unique)]` and the primary key is \
         `generated`"
    };
    Error::NotUpsertable {
        table: E::TABLE,
        reason,
    }
}

pub(crate) fn lookup_statements<E: Entity, K>(
    lookup: Lookup<E, K>,
    settings: &crate::exec::Settings,
) -> &'static LookupStatements {
    E::statements().for_scope(settings).lookups[lookup.column()]
        .as_ref()
        .expect("a Lookup is only generated for lookup columns")
}

/// One `insert_many` argument per inserted column: an array borrowing that column's value from
/// every row, or for an array column all rows' elements with each row's bounds (see
/// `sql::unnest_source`).
enum ColumnBatch<'a> {
    Values(ParamArray<'a>),
    Flat(FlatArray),
}

fn column_arrays<N: Insertable>(rows: &[N]) -> Result<Vec<ColumnBatch<'_>>> {
    let table = <N::Entity as Entity>::TABLE;
    insert_columns::<N::Entity>()
        .map(|(i, column)| {
            if !column.param_type.is_array() {
                return Ok(ColumnBatch::Values(ParamArray::new(
                    rows.iter().map(|r| r.param(i)).collect(),
                )));
            }
            let mut flat = FlatArray::default();
            for row in rows {
                flat.push(row.param(i), &column.pg_type)
                    .map_err(|source| Error::Encode {
                        table,
                        column: column.name,
                        rust_type: column.rust_type,
                        source,
                    })?;
            }
            Ok(ColumnBatch::Flat(flat))
        })
        .collect()
}

fn array_params<'a>(arrays: &'a [ColumnBatch<'a>]) -> Vec<&'a (dyn ToSql + Sync)> {
    let mut params: Vec<&'a (dyn ToSql + Sync)> = Vec::with_capacity(arrays.len());
    for array in arrays {
        match array {
            ColumnBatch::Values(values) => params.push(values),
            ColumnBatch::Flat(flat) => {
                params.extend([flat as &(dyn ToSql + Sync), &flat.lower, &flat.upper])
            }
        }
    }
    params
}

fn insert_params<N: Insertable>(new: &N) -> Vec<&(dyn ToSql + Sync)> {
    insert_columns::<N::Entity>()
        .map(|(i, _)| new.param(i))
        .collect()
}
