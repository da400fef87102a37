//! The SQL of listings: each listing's statements (built once per process), the keyset
//! predicate, and the index a listing needs (advice, and the check `verify` runs).

use std::any::TypeId;
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use tokio_postgres::types::Type;

use super::cursor;
use super::keyset;
use super::SortKey;
use crate::entity::{Direction, Entity};
use crate::error::Result;
use crate::exec::Executor as _;
use crate::sql::{quote_ident, table_ref, Shape, Statement};
use crate::verify::SchemaReport;

/// An index a listing needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexAdvice {
    /// Columns in index order, each with its direction.
    pub columns: Vec<(String, Direction)>,
    /// The `CREATE INDEX CONCURRENTLY IF NOT EXISTS …` statement.
    pub sql: String,
}

/// The statements of one listing (entity, sort key, filter columns), built once per process.
#[derive(Debug)]
pub(super) struct ListingStatements {
    pub(super) first: Statement,
    pub(super) last: Statement,
    pub(super) after: BoundaryStatements,
    pub(super) before: BoundaryStatements,
    pub(super) order: Vec<(usize, Direction)>,
    pub(super) fingerprint: [u8; 8],
}

/// The statements of the pages after (or before) a boundary row: one for a key of one
/// direction; for a key mixing directions one per power of two of the rows fetched (the
/// literal limit of its branches, `keyset::branch_limit`), each built on first use.
pub(super) struct BoundaryStatements {
    one: Option<Statement>,
    /// Slot `k` holds the statement whose branches stop at 2^k rows; slot 63 has no limit.
    by_limit: Box<[OnceLock<Statement>]>,
    build: Box<dyn Fn(Option<u64>) -> Statement + Send + Sync>,
}

impl BoundaryStatements {
    /// The statement for pages fetching `fetch` rows.
    pub(super) fn for_fetch(&self, fetch: usize) -> &Statement {
        if let Some(one) = &self.one {
            return one;
        }
        let limit = keyset::branch_limit(fetch);
        let slot = limit.map_or(63, |n| n.trailing_zeros() as usize);
        self.by_limit[slot].get_or_init(|| (self.build)(limit))
    }
}

impl std::fmt::Debug for BoundaryStatements {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BoundaryStatements")
            .field("one", &self.one)
            .field(
                "built",
                &self.by_limit.iter().filter(|s| s.get().is_some()).count(),
            )
            .finish()
    }
}

/// A listing's identity: entity, sort key (name *and* columns: a listing the user names
/// `default` is not the entity's default order) and filter columns.
type ListingCacheKey = (
    TypeId,
    &'static str,
    &'static [(usize, Direction)],
    Vec<usize>,
);

pub(super) fn listing_statements<E: Entity>(
    sort: SortKey<E>,
    filters: &[usize],
) -> &'static ListingStatements {
    static CACHE: OnceLock<Mutex<HashMap<ListingCacheKey, &'static ListingStatements>>> =
        OnceLock::new();
    let key = (TypeId::of::<E>(), sort.name, sort.columns, filters.to_vec());
    let cache = CACHE.get_or_init(Default::default);
    let mut map = cache
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    // One leaked value per distinct listing of the program: bounded by its source code.
    map.entry(key)
        .or_insert_with(|| Box::leak(Box::new(build_listing::<E>(sort, filters))))
}

fn ident(name: &str) -> String {
    let mut out = String::new();
    quote_ident(&mut out, name);
    out
}

fn build_listing<E: Entity>(sort: SortKey<E>, filters: &[usize]) -> ListingStatements {
    let all = E::columns();
    let order = sort.total_order();
    let table = table_ref::<E>();
    let select = format!("SELECT {} FROM {table}", crate::sql::column_list(all, ""));
    let named: Vec<(String, Direction)> = order
        .iter()
        .map(|(c, d)| (ident(all[*c].name), *d))
        .collect();
    let reversed: Vec<(String, Direction)> =
        named.iter().map(|(n, d)| (n.clone(), flip(*d))).collect();
    let base_types: Vec<Type> = filters.iter().map(|f| all[*f].pg_type.clone()).collect();
    let filter_conditions: Vec<String> = filters
        .iter()
        .enumerate()
        .map(|(i, f)| format!("{} = ${}", ident(all[*f].name), i + 1))
        .collect();
    let sort_types: Vec<Type> = order.iter().map(|(c, _)| all[*c].pg_type.clone()).collect();
    let build = |cols: &[(String, Direction)], label: &'static str| {
        let mut types = base_types.clone();
        types.push(Type::INT8);
        let where_clause = if filter_conditions.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", filter_conditions.join(" AND "))
        };
        let sql = format!(
            "{select}{where_clause} ORDER BY {} LIMIT ${}",
            keyset::order_by(cols),
            types.len()
        );
        Statement::new(sql, types, E::TABLE, label, Shape::Rows).of_entity::<E>()
    };
    let boundary = |cols: Vec<(String, Direction)>, label: &'static str| {
        let mut types = base_types.clone();
        let first_param = types.len() + 1;
        types.extend(sort_types.iter().cloned());
        types.push(Type::INT8);
        let (select, filters) = (select.clone(), filter_conditions.clone());
        let one_range = keyset::is_one_range(&cols);
        let build = move |branch_limit: Option<u64>| {
            let sql = keyset::after_query(
                &select,
                &filters,
                &cols,
                first_param,
                types.len(),
                branch_limit,
            );
            Statement::new(sql, types.clone(), E::TABLE, label, Shape::Rows).of_entity::<E>()
        };
        BoundaryStatements {
            one: one_range.then(|| build(None)),
            by_limit: (0..64).map(|_| OnceLock::new()).collect(),
            build: Box::new(build),
        }
    };
    let mut description = format!("{}|{}|", E::TABLE, sort.name);
    for (c, d) in &order {
        description.push_str(&format!("{}:{d:?},", all[*c].name));
    }
    if !filters.is_empty() {
        let names: Vec<&str> = filters.iter().map(|f| all[*f].name).collect();
        description.push_str(&format!("|filter:{}", names.join(",")));
    }
    ListingStatements {
        first: build(&named, "page_first"),
        last: build(&reversed, "page_last"),
        after: boundary(named.clone(), "page_after"),
        before: boundary(reversed.clone(), "page_before"),
        order,
        fingerprint: cursor::fingerprint(description.as_bytes()),
    }
}

fn flip(d: Direction) -> Direction {
    match d {
        Direction::Asc => Direction::Desc,
        Direction::Desc => Direction::Asc,
    }
}

/// The index that serves a listing: filter columns first, then the total order.
pub(super) fn advice_for<E: Entity>(sort: SortKey<E>, filters: &[usize]) -> IndexAdvice {
    let all = E::columns();
    let mut columns: Vec<(String, Direction)> = Vec::new();
    for f in filters {
        if !columns.iter().any(|(c, _)| c == all[*f].name) {
            columns.push((all[*f].name.to_owned(), Direction::Asc));
        }
    }
    for (c, d) in sort.total_order() {
        columns.push((all[c].name.to_owned(), d));
    }
    let index_name = {
        let mut n = format!(
            "{}_{}",
            E::TABLE,
            columns
                .iter()
                .map(|(c, _)| c.as_str())
                .collect::<Vec<_>>()
                .join("_")
        );
        n.push_str("_keyset");
        n.truncate(63);
        n
    };
    let list = columns
        .iter()
        .map(|(c, d)| {
            format!(
                "{}{}",
                ident(c),
                if *d == Direction::Desc { " DESC" } else { "" }
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    IndexAdvice {
        sql: format!(
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS {} ON {} ({list})",
            ident(&index_name),
            table_ref::<E>()
        ),
        columns,
    }
}

/// The indexes an entity's declared listings need (default order and named listings).
pub(crate) fn index_advice<E: Entity>() -> Vec<IndexAdvice> {
    let mut advice = Vec::new();
    let pk_only = |k: &SortKey<E>| k.total_order().len() == 1;
    let default = SortKey::<E>::default_for();
    if !pk_only(&default) {
        advice.push(advice_for(default, &[]));
    }
    for key in E::listings() {
        if !pk_only(key) {
            advice.push(advice_for(*key, &[]));
        }
    }
    advice.dedup();
    advice
}

const NULLABLE_SQL: &str = "\
SELECT a.attname::text FROM pg_attribute a
WHERE a.attrelid = to_regclass($1::text) AND a.attname = ANY($2::text[]) AND NOT a.attnotnull
ORDER BY a.attnum";

/// Refuses a listing whose table lets one of its sort columns (`order`) be NULL.
pub(super) async fn check_sort_columns_not_null<E: Entity, X: crate::Executor>(
    exec: &X,
    sort: SortKey<E>,
    order: &[(usize, Direction)],
) -> Result<()> {
    let names: Vec<&str> = order.iter().map(|(c, _)| E::columns()[*c].name).collect();
    let table = table_ref::<E>();
    let statement = Statement::ad_hoc(
        NULLABLE_SQL,
        vec![Type::TEXT, Type::TEXT_ARRAY],
        E::TABLE,
        "check_sort_columns",
        Shape::Rows,
    );
    // `run` returns a boxed future: the listing's own futures stay `Send` for any lifetime.
    let rows = exec.run(&statement, &[&table, &names]).await?;
    match rows.first() {
        None => Ok(()),
        Some(row) => {
            let column: String = row.get(0);
            let column = names.iter().copied().find(|n| *n == column).unwrap_or("?");
            Err(crate::Error::NullableSortColumn {
                table: E::TABLE,
                listing: sort.name(),
                column,
            })
        }
    }
}

const INDEXES_SQL: &str = "\
SELECT array(SELECT a.attname::text FROM unnest(i.indkey) WITH ORDINALITY k(attnum, ord)
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
             ORDER BY k.ord),
       array(SELECT (o & 1) = 1 FROM unnest(i.indoption::int2[]) o)
FROM pg_index i WHERE i.indrelid = to_regclass($1::text) AND i.indisvalid";

/// Adds a warning to `report` for each advised index the table lacks.
pub(crate) async fn check_indexes(
    db: &crate::Db,
    table_ref: &str,
    table: &str,
    advice: &[IndexAdvice],
    report: &mut SchemaReport,
) -> Result<()> {
    if advice.is_empty() {
        return Ok(());
    }
    let rows = db
        .query(
            crate::Sql::read(INDEXES_SQL).types(&[Type::TEXT]),
            &[&table_ref],
        )
        .await?;
    let indexes: Vec<(Vec<String>, Vec<bool>)> =
        rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    for wanted in advice {
        let served = indexes.iter().any(|(names, desc)| {
            names.len() >= wanted.columns.len() && {
                let matches = |invert: bool| {
                    wanted.columns.iter().enumerate().all(|(i, (name, d))| {
                        names[i] == *name && (desc[i] != invert) == (*d == Direction::Desc)
                    })
                };
                matches(false) || matches(true)
            }
        });
        if !served {
            report.warnings.push(format!(
                "no index serves a listing of `{table}` ordered by ({}); create it with: {}",
                wanted
                    .columns
                    .iter()
                    .map(|(c, d)| format!("{c} {d:?}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                wanted.sql
            ));
        }
    }
    Ok(())
}
