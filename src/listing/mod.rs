//! Keyset pagination: sort keys, listings, opaque cursor tokens, streaming export, index advice.
//!
//! A page continues from the last row's sort values with a keyset condition the server answers
//! from a composite index as ranges (`keyset`), so page 10,000 costs what page 1 costs. The statements of a
//! listing are built once per process; the cursor token format lives in `cursor`.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use tokio_postgres::types::ToSql;

use crate::entity::{Direction, Entity};
use crate::error::{Error, Result};
use crate::exec::Executor;
use crate::sql::Statement;
use crate::tenant::Tenancy;
use cursor::{Cursor, CursorKey, RawValue};

pub(crate) mod cursor;
mod explain;
mod export;
mod keyset;
mod sql;

pub use sql::IndexAdvice;
use sql::{advice_for, listing_statements, ListingStatements};
pub(crate) use sql::{check_indexes, index_advice};

/// A listing's sort key: columns and directions; the primary key is appended as tiebreaker.
///
/// `#[pgrepo(order_by = "…")]` declares the entity's default ([`SortKey::default_for`]);
/// `#[pgrepo(listing(name = "recent", order_by = "…"))]` declares `Entity::RECENT`.
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

impl<E: Entity> SortKey<E> {
    /// The entity's default sort key: its `order_by`, or the primary key alone.
    pub fn default_for() -> Self {
        SortKey::__new("default", E::default_order())
    }

    /// The full order: the declared columns, then the primary key (in the direction of the
    /// last declared column) unless it is already part of the key.
    fn total_order(&self) -> Vec<(usize, Direction)> {
        let mut order = self.columns.to_vec();
        let pk = E::primary_key();
        if !order.iter().any(|(c, _)| *c == pk) {
            let direction = order.last().map_or(Direction::Asc, |(_, d)| *d);
            order.push((pk, direction));
        }
        order
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

/// A value of `column` whose `ToSql` failed (a filter value, or a row's sort value for its
/// cursor).
#[cold]
fn encode_error<E: Entity>(
    column: &'static crate::ColumnDef,
    source: Box<dyn std::error::Error + Send + Sync>,
) -> Error {
    Error::Encode {
        table: E::TABLE,
        column: column.name,
        rust_type: column.rust_type,
        source,
    }
}

/// One page of a listing.
#[derive(Debug, Clone)]
pub struct Page<E> {
    /// The rows, in listing order.
    pub items: Vec<E>,
    /// Whether rows follow the last item.
    pub has_next: bool,
    /// Whether rows precede the first item.
    pub has_previous: bool,
    /// Cursor of the first item (pass to [`Listing::before`]); `None` when empty.
    pub start_cursor: Option<Cursor>,
    /// Cursor of the last item (pass to [`Listing::after`]); `None` when empty.
    pub end_cursor: Option<Cursor>,
}

/// Default upper bound of a page's size.
pub const DEFAULT_MAX_PAGE_SIZE: usize = 500;

/// Default upper bound of an export batch's size.
pub const DEFAULT_MAX_EXPORT_BATCH: usize = 10_000;

/// The largest page or batch size any listing accepts, whatever [`Listing::max_page_size`] or
/// [`Listing::max_export_batch`] say: the server takes the limit (one row more than the page,
/// to see whether rows follow) as a `bigint`.
pub const PAGE_SIZE_CEILING: usize = (i64::MAX - 1) as usize;

/// One equality filter of a listing.
struct Filter {
    column: usize,
    value: Arc<dyn ToSql + Send + Sync>,
    bytes: RawValue,
}

/// A keyset-paginated listing of `E` over executor `X`: pages in both directions, opaque
/// cursors, a streaming export. Obtained from [`Repo::list`](crate::Repo::list).
pub struct Listing<'x, E, X> {
    exec: &'x X,
    sort: SortKey<E>,
    /// Equality filters, ordered by column (then by when they were added): column, value, and
    /// the value's wire form for the cursor fingerprint.
    filters: Vec<Filter>,
    /// The statements of this sort key and filter columns, and the cursor fingerprint of the
    /// filter values: resolved when the listing is built, not on every page.
    statements: &'static ListingStatements,
    fingerprint: [u8; 8],
    max_page_size: usize,
    max_export_batch: usize,
    /// The cursor secret and its derived key: this listing's own, or its scope's.
    key: Option<CursorKey>,
}

impl<E: Entity, X> fmt::Debug for Listing<'_, E, X> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Listing")
            .field("sort", &self.sort)
            .field(
                "filters",
                &self
                    .filters
                    .iter()
                    .map(|f| (E::columns()[f.column].name, &f.value))
                    .collect::<Vec<_>>(),
            )
            .field("max_page_size", &self.max_page_size)
            .field("max_export_batch", &self.max_export_batch)
            .finish()
    }
}

impl<'x, E: Entity, X: Executor> Listing<'x, E, X> {
    pub(crate) fn new(exec: &'x X, sort: SortKey<E>) -> Self {
        // In a tenant's scope, a tenant entity's listing is filtered by its tenant column: a
        // second line behind row-level security, the leading column of its index, and, as a
        // filter value in the cursor fingerprint, what binds its cursors to the tenant.
        let filters = match (
            &exec.settings().tenant,
            E::columns().iter().position(|c| c.tenant),
        ) {
            (Some(Tenancy::One(tenant)), Some(column)) => {
                let value = Arc::clone(&tenant.param);
                // A value that does not encode as the column's type fails when bound, with
                // the driver's error; the cursor fingerprint takes its text then.
                let bytes = RawValue::encode(value.as_ref(), &E::columns()[column].pg_type)
                    .unwrap_or_else(|_| RawValue::from_text(&tenant.text));
                let filter = Filter {
                    column,
                    value,
                    bytes,
                };
                vec![filter]
            }
            _ => Vec::new(),
        };
        let columns: Vec<usize> = filters.iter().map(|f| f.column).collect();
        let statements = listing_statements(sort, &columns);
        let mut listing = Listing {
            exec,
            sort,
            filters,
            statements,
            fingerprint: statements.fingerprint,
            max_page_size: DEFAULT_MAX_PAGE_SIZE,
            max_export_batch: DEFAULT_MAX_EXPORT_BATCH,
            key: exec.settings().cursor_secret.clone(),
        };
        listing.fingerprint = listing.filtered_fingerprint();
        listing
    }

    /// Restricts the listing to rows whose `lookup` column equals `key` (e.g. one user's
    /// posts). Filters add up: `.filter(Post::USER_ID, 7)?.filter(Post::STATUS, draft)?` lists
    /// one user's drafts, whatever the order of the calls. Cursors of one filter value (or set
    /// of filters) are rejected by listings of another.
    ///
    /// # Errors
    /// [`Error::Encode`] when `key` cannot be encoded as the column's type (its `ToSql`
    /// fails); the listing runs no statement until a page is asked for.
    pub fn filter<K>(mut self, lookup: crate::Lookup<E, K>, key: K) -> Result<Self>
    where
        K: ToSql + Send + Sync + 'static,
    {
        let column = &E::columns()[lookup.column()];
        let bytes = RawValue::encode(&key, &column.pg_type)
            .map_err(|source| encode_error::<E>(column, source))?;
        let at = self
            .filters
            .partition_point(|f| f.column <= lookup.column());
        self.filters.insert(
            at,
            Filter {
                column: lookup.column(),
                value: Arc::new(key),
                bytes,
            },
        );
        self.statements = listing_statements(self.sort, &self.filter_columns());
        self.fingerprint = self.filtered_fingerprint();
        Ok(self)
    }

    /// The largest page served; larger requests are cut to it (default
    /// [`DEFAULT_MAX_PAGE_SIZE`], at most [`PAGE_SIZE_CEILING`], at least 1).
    pub fn max_page_size(mut self, max: usize) -> Self {
        self.max_page_size = max.clamp(1, PAGE_SIZE_CEILING);
        self
    }

    /// The largest batch [`Listing::export`] and [`Listing::export_batches`] fetch at once;
    /// larger batch sizes are cut to it (default [`DEFAULT_MAX_EXPORT_BATCH`], at most
    /// [`PAGE_SIZE_CEILING`], at least 1). One batch is what an export holds in memory.
    pub fn max_export_batch(mut self, max: usize) -> Self {
        self.max_export_batch = max.clamp(1, PAGE_SIZE_CEILING);
        self
    }

    /// Encrypts this listing's cursors with `secret` instead of the `Db`'s
    /// ([`DbBuilder::cursor_secret`](crate::DbBuilder::cursor_secret), which says how), so that
    /// clients can neither read the sort values in one nor alter or forge one. **Without a
    /// secret here or on the `Db`, cursors are readable**: only signed, with a key built into
    /// pgrepo. Each call derives a key from the secret (well under a microsecond).
    pub fn secret(mut self, secret: impl Into<Arc<[u8]>>) -> Self {
        self.key = Some(CursorKey::new(secret.into()));
        self
    }

    /// The index this listing needs.
    pub fn index_advice(&self) -> IndexAdvice {
        advice_for(self.sort, &self.filter_columns())
    }

    fn filter_columns(&self) -> Vec<usize> {
        self.filters.iter().map(|f| f.column).collect()
    }

    fn statements(&self) -> &'static ListingStatements {
        self.statements
    }

    fn fingerprint(&self) -> [u8; 8] {
        self.fingerprint
    }

    /// The statements' fingerprint with the filter values in it (a tenant scope's among them):
    /// a cursor of one filter value, or of one tenant's listing, is rejected by another's.
    fn filtered_fingerprint(&self) -> [u8; 8] {
        let base = self.statements.fingerprint;
        match self.filters.as_slice() {
            [] => base,
            [one] => cursor::fingerprint(&[&base[..], one.bytes.as_bytes()].concat()),
            many => {
                // Length-prefixed, so that two values cannot pass for two others.
                let mut data = base.to_vec();
                for f in many {
                    data.extend_from_slice(&(f.bytes.as_bytes().len() as u64).to_be_bytes());
                    data.extend_from_slice(f.bytes.as_bytes());
                }
                cursor::fingerprint(&data)
            }
        }
    }

    /// A page size in `1..=max_page_size` (itself at most [`PAGE_SIZE_CEILING`]).
    fn clamp(&self, n: usize) -> usize {
        n.clamp(1, self.max_page_size)
    }

    /// A listing statement's parameters: filter value, cursor values, then the limit.
    fn params<'p>(&'p self, values: &'p [RawValue], limit: &'p i64) -> Vec<&'p (dyn ToSql + Sync)> {
        let mut params: Vec<&(dyn ToSql + Sync)> =
            Vec::with_capacity(self.filters.len() + values.len() + 1);
        params.extend(
            self.filters
                .iter()
                .map(|f| f.value.as_ref() as &(dyn ToSql + Sync)),
        );
        params.extend(values.iter().map(|v| v as &(dyn ToSql + Sync)));
        params.push(limit);
        params
    }

    /// Fetches `limit + 1` rows, so `has_next` needs no count. `limit` is at most
    /// [`PAGE_SIZE_CEILING`].
    async fn fetch(
        &self,
        statement: &Statement,
        values: &[RawValue],
        limit: usize,
    ) -> Result<Vec<E>> {
        self.check_schema().await?;
        let limit = i64::try_from(limit.min(PAGE_SIZE_CEILING)).unwrap_or(i64::MAX - 1) + 1;
        self.exec
            .query_map(
                statement,
                &self.params(values, &limit),
                &crate::repo::decode::<E>,
            )
            .await
    }

    /// Refuses a listing whose sort columns the table lets be NULL (checked once per listing
    /// and `Db`): a keyset page never returns rows whose sort value is NULL, so a walk would
    /// end before them without a word.
    async fn check_schema(&self) -> Result<()> {
        // A listing by the primary key alone needs no check: a primary key is NOT NULL.
        // (A table whose `id` column is not its primary key is what `verify` reports.)
        if self.statements().order.len() == 1 {
            return Ok(());
        }
        let checked = &self.exec.settings().checked_listings;
        let key = std::ptr::from_ref(self.statements) as usize;
        if checked.contains(key) {
            return Ok(());
        }
        sql::check_sort_columns_not_null::<E, X>(self.exec, self.sort, &self.statements().order)
            .await?;
        checked.insert(key);
        Ok(())
    }

    fn cursor_of(&self, row: &E) -> Result<Cursor> {
        let values = self.values_of(row)?;
        cursor::encode(self.fingerprint(), &values, self.key.as_ref()).map_err(|failure| {
            let column = &E::columns()[self.statements().order[failure.value()].0];
            encode_error::<E>(column, Box::new(failure))
        })
    }

    fn values_of(&self, row: &E) -> Result<Vec<RawValue>> {
        self.statements()
            .order
            .iter()
            .map(|(c, _)| {
                let column = &E::columns()[*c];
                RawValue::encode(row.param(*c), &column.pg_type)
                    .map_err(|source| encode_error::<E>(column, source))
            })
            .collect()
    }

    fn decode(&self, cursor: &Cursor) -> Result<Vec<RawValue>> {
        let columns: Vec<&crate::ColumnDef> = self
            .statements()
            .order
            .iter()
            .map(|(c, _)| &E::columns()[*c])
            .collect();
        cursor::decode(cursor, self.fingerprint(), &columns, self.key.as_ref())
    }

    fn page(
        &self,
        mut items: Vec<E>,
        n: usize,
        forward: bool,
        from_cursor: bool,
    ) -> Result<Page<E>> {
        let more = items.len() > n;
        items.truncate(n);
        if !forward {
            items.reverse();
        }
        let (start_cursor, end_cursor) = match (items.first(), items.last()) {
            (Some(first), Some(last)) => {
                (Some(self.cursor_of(first)?), Some(self.cursor_of(last)?))
            }
            _ => (None, None),
        };
        let (has_next, has_previous) = if forward {
            (more, from_cursor)
        } else {
            (from_cursor, more)
        };
        Ok(Page {
            items,
            has_next,
            has_previous,
            start_cursor,
            end_cursor,
        })
    }

    /// The first `n` rows (`n` clamped to `1..=max_page_size`).
    ///
    /// # Errors
    /// Driver and pool errors; [`Error::Decode`]; [`Error::Encode`] when a row's sort value
    /// cannot be encoded into its cursor; [`Error::NullableSortColumn`] when the table lets a
    /// sort column be NULL.
    pub async fn first(&self, n: usize) -> Result<Page<E>> {
        let n = self.clamp(n);
        let items = self.fetch(&self.statements().first, &[], n).await?;
        self.page(items, n, true, false)
    }

    /// The last `n` rows (`n` clamped to `1..=max_page_size`), in listing order.
    ///
    /// # Errors
    /// As [`Listing::first`].
    pub async fn last(&self, n: usize) -> Result<Page<E>> {
        let n = self.clamp(n);
        let items = self.fetch(&self.statements().last, &[], n).await?;
        self.page(items, n, false, false)
    }

    /// The `n` rows after `cursor` (`n` clamped to `1..=max_page_size`).
    ///
    /// # Errors
    /// [`Error::InvalidCursor`] for a malformed, tampered or foreign cursor; otherwise as
    /// [`Listing::first`].
    pub async fn after(&self, cursor: &Cursor, n: usize) -> Result<Page<E>> {
        let values = self.decode(cursor)?;
        let n = self.clamp(n);
        let items = self
            .fetch(self.statements().after.for_fetch(n + 1), &values, n)
            .await?;
        self.page(items, n, true, true)
    }

    /// The `n` rows before `cursor` (`n` clamped to `1..=max_page_size`), in listing order.
    ///
    /// # Errors
    /// As [`Listing::after`].
    pub async fn before(&self, cursor: &Cursor, n: usize) -> Result<Page<E>> {
        let values = self.decode(cursor)?;
        let n = self.clamp(n);
        let items = self
            .fetch(self.statements().before.for_fetch(n + 1), &values, n)
            .await?;
        self.page(items, n, false, true)
    }
}
