//! The keyset condition: the rows after a boundary row, written so that a composite index
//! answers it with range scans whatever the directions of the sort key.
//!
//! A sort key whose columns share one direction is a single row comparison,
//! `(c1, c2, id) > ($1, $2, $3)`, one index range. A key that mixes directions cannot be one
//! row comparison (`(grp, score) > …` orders `score` ascending), and the expanded form
//! `grp > $1 OR (grp = $1 AND score < $2)` leaves everything after `grp` to a filter that reads
//! every earlier row of the group. So the key is cut into runs of columns sharing a direction,
//! and each run gives one branch, read from the index as its own range:
//!
//! ```text
//! order (grp ASC, score DESC, id DESC): runs [grp] [score, id]
//!   (… WHERE grp = $1 AND (score, id) < ($2, $3) ORDER BY … LIMIT $4)   -- rest of the group
//!   UNION ALL
//!   (… WHERE grp > $1 ORDER BY … LIMIT $4)                              -- the groups after it
//! ORDER BY … LIMIT $4
//! ```
//!
//! Each branch stops after a page of rows, so a page costs one index descent per run at any
//! depth. The branches' limit is a literal (the page size rounded up to a power of two, see
//! [`branch_limit`]): with a parameter there, the server's estimate of a generic plan is so
//! poor that it plans every page again (about 0.2 ms of its CPU per page, measured), while a
//! literal lets it keep one plan per statement, as it does for a key of one direction. Sort columns are `NOT NULL` (the derive refuses `Option` sort fields and listings
//! check the table once, see `nullability`), so no comparison meets a NULL.

use crate::entity::Direction;

/// A sort column: its quoted name and direction.
pub(super) type SortColumn = (String, Direction);

fn strict_op(direction: Direction) -> &'static str {
    match direction {
        Direction::Asc => ">",
        Direction::Desc => "<",
    }
}

/// `(a, b) < ($2, $3)`, or `a > $2` for one column.
fn row_after(columns: &[SortColumn], first_param: usize) -> String {
    let op = strict_op(columns[0].1);
    if let [(name, _)] = columns {
        return format!("{name} {op} ${first_param}");
    }
    let names: Vec<&str> = columns.iter().map(|(n, _)| n.as_str()).collect();
    let params: Vec<String> = (0..columns.len())
        .map(|i| format!("${}", first_param + i))
        .collect();
    format!("({}) {op} ({})", names.join(", "), params.join(", "))
}

/// The runs of consecutive columns sharing a direction, with the index of each run's first
/// column.
fn runs(columns: &[SortColumn]) -> Vec<(usize, &[SortColumn])> {
    let mut out = Vec::new();
    let mut start = 0;
    for i in 1..=columns.len() {
        if i == columns.len() || columns[i].1 != columns[start].1 {
            out.push((start, &columns[start..i]));
            start = i;
        }
    }
    out
}

/// `c1 ASC, c2 DESC, …`.
pub(super) fn order_by(columns: &[SortColumn]) -> String {
    columns
        .iter()
        .map(|(n, d)| format!("{n} {}", if *d == Direction::Asc { "ASC" } else { "DESC" }))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether the rows after a boundary of `columns` take one range (one direction) or one per
/// run (mixed directions).
pub(super) fn is_one_range(columns: &[SortColumn]) -> bool {
    runs(columns).len() == 1
}

/// The literal limit of each branch for pages fetching `fetch` rows: `fetch` rounded up to a
/// power of two, so a listing has at most one statement per power of two; `None` (no branch
/// limit) past 2^62, beyond any real page.
pub(super) fn branch_limit(fetch: usize) -> Option<u64> {
    let bucket = (fetch.max(1) as u64).checked_next_power_of_two()?;
    (bucket <= 1 << 62).then_some(bucket)
}

/// The query for the page after a boundary row: `select` is `SELECT <columns> FROM <table>`,
/// `filters` the listing's equality conditions, the boundary's sort values are parameters
/// `first_param..` in `columns` order and the limit is parameter `limit_param`. For a key of
/// mixed directions, each branch stops at `branch_limit` rows (which must be at least the
/// limit; `None`: no branch limit).
pub(super) fn after_query(
    select: &str,
    filters: &[String],
    columns: &[SortColumn],
    first_param: usize,
    limit_param: usize,
    branch_limit: Option<u64>,
) -> String {
    let order = order_by(columns);
    let runs = runs(columns);
    if let [(_, run)] = runs.as_slice() {
        let mut conditions = filters.to_vec();
        conditions.push(row_after(run, first_param));
        return format!(
            "{select} WHERE {} ORDER BY {order} LIMIT ${limit_param}",
            conditions.join(" AND ")
        );
    }
    let limit = branch_limit.map_or_else(String::new, |n| format!(" LIMIT {n}"));
    let branch = |conditions: Vec<String>| {
        format!(
            "{select} WHERE {} ORDER BY {order}{limit}",
            conditions.join(" AND ")
        )
    };
    // The branch of the last run (rows sharing every earlier value with the boundary) comes
    // first; the first run's branch (rows whose leading value comes later) last.
    let branches: Vec<String> = runs
        .iter()
        .rev()
        .map(|(start, run)| {
            let mut conditions = filters.to_vec();
            conditions.extend(
                columns[..*start]
                    .iter()
                    .enumerate()
                    .map(|(i, (name, _))| format!("{name} = ${}", first_param + i)),
            );
            conditions.push(row_after(run, first_param + start));
            format!("({})", branch(conditions))
        })
        .collect();
    format!(
        "SELECT * FROM ({}) AS keyset_page ORDER BY {order} LIMIT ${limit_param}",
        branches.join(" UNION ALL ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use Direction::{Asc, Desc};

    fn cols(spec: &[(&str, Direction)]) -> Vec<SortColumn> {
        spec.iter().map(|(n, d)| ((*n).to_owned(), *d)).collect()
    }

    #[test]
    fn one_direction_is_one_row_comparison() {
        let sql = after_query(
            "SELECT * FROM t",
            &[],
            &cols(&[("a", Desc), ("id", Desc)]),
            1,
            3,
            Some(64),
        );
        assert_eq!(
            sql,
            "SELECT * FROM t WHERE (a, id) < ($1, $2) ORDER BY a DESC, id DESC LIMIT $3"
        );
    }

    #[test]
    fn mixed_directions_give_one_range_per_run() {
        let sql = after_query(
            "SELECT x FROM t",
            &["f = $1".to_owned()],
            &cols(&[("g", Asc), ("s", Desc), ("id", Desc)]),
            2,
            5,
            Some(64),
        );
        assert_eq!(
            sql,
            "SELECT * FROM (\
             (SELECT x FROM t WHERE f = $1 AND g = $2 AND (s, id) < ($3, $4) \
             ORDER BY g ASC, s DESC, id DESC LIMIT 64) UNION ALL \
             (SELECT x FROM t WHERE f = $1 AND g > $2 ORDER BY g ASC, s DESC, id DESC LIMIT 64)\
             ) AS keyset_page ORDER BY g ASC, s DESC, id DESC LIMIT $5"
        );
    }

    #[test]
    fn every_direction_change_starts_a_run() {
        let c = cols(&[("a", Asc), ("b", Desc), ("c", Asc), ("id", Asc)]);
        let lens: Vec<(usize, usize)> = runs(&c).iter().map(|(s, r)| (*s, r.len())).collect();
        assert_eq!(lens, [(0, 1), (1, 1), (2, 2)]);
        let sql = after_query("SELECT x FROM t", &[], &c, 1, 5, None);
        assert!(
            sql.contains("a = $1 AND b = $2 AND (c, id) > ($3, $4)"),
            "{sql}"
        );
        assert!(sql.contains("a = $1 AND b < $2 ORDER BY"), "{sql}");
        assert!(sql.contains("WHERE a > $1 ORDER BY"), "{sql}");
        assert!(!sql.contains("LIMIT 0"), "{sql}");
    }

    #[test]
    fn branch_limits_are_powers_of_two_at_least_the_fetch() {
        assert_eq!(branch_limit(0), Some(1));
        assert_eq!(branch_limit(1), Some(1));
        assert_eq!(branch_limit(51), Some(64));
        assert_eq!(branch_limit(64), Some(64));
        assert_eq!(branch_limit(65), Some(128));
        assert_eq!(branch_limit(1 << 62), Some(1 << 62));
        assert_eq!(branch_limit((1 << 62) + 1), None);
        assert_eq!(branch_limit(usize::MAX), None);
    }
}
