//! Sort keys: `order_by = "created_at desc, name"` read into column indexes and directions.
//!
//! The string names Rust fields (not columns), each optionally followed by `asc` or `desc`
//! (any case; `asc` when absent). Every mistake is spanned at the string literal.

use syn::{Ident, LitStr};

use crate::ast::Field;
use crate::ctxt::Ctxt;
use crate::names::{did_you_mean, quoted_list};

/// The direction of one sort column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    /// Smallest first.
    Asc,
    /// Largest first.
    Desc,
}

impl Direction {
    /// `asc` or `desc`, as documentation writes it.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Asc => "asc",
            Self::Desc => "desc",
        }
    }
}

/// One column of a sort key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SortColumn {
    /// Index of the field (= the column) in declaration order.
    pub(crate) field: usize,
    /// Its direction.
    pub(crate) direction: Direction,
}

/// How messages name the sort key being read: the container's `order_by`, or a listing's.
#[derive(Clone, Copy)]
pub(crate) enum Origin<'a> {
    /// `#[pgrepo(order_by = "...")]`.
    Default,
    /// `listing(name = "...", order_by = "...")`.
    Listing(&'a str),
}

impl Origin<'_> {
    fn subject(self) -> String {
        match self {
            Self::Default => "`order_by`".to_owned(),
            Self::Listing(name) => format!("the `order_by` of listing `{name}`"),
        }
    }

    fn example(self) -> &'static str {
        match self {
            Self::Default => r#"order_by = "created_at desc, name""#,
            Self::Listing(_) => r#"listing(name = "recent", order_by = "created_at desc")"#,
        }
    }
}

/// Reads the sort key in `lit` against `fields` of `entity`. Reports every mistake and gives
/// `None` when there was one.
pub(crate) fn resolve(
    cx: &Ctxt,
    lit: &LitStr,
    origin: Origin<'_>,
    entity: &Ident,
    fields: &[Field<'_>],
) -> Option<Vec<SortColumn>> {
    let text = lit.value();
    let subject = origin.subject();
    if text.trim().is_empty() {
        cx.error_with_help(
            lit,
            format!("{subject} is empty"),
            format!("list at least one field, e.g. `{}`", origin.example()),
        );
        return None;
    }
    let mut columns: Vec<SortColumn> = Vec::new();
    let mut failed = false;
    for entry in text.split(',') {
        let words: Vec<&str> = entry.split_whitespace().collect();
        let (name, direction) = match words.as_slice() {
            [name] => (*name, Direction::Asc),
            [name, direction] if direction.eq_ignore_ascii_case("asc") => (*name, Direction::Asc),
            [name, direction] if direction.eq_ignore_ascii_case("desc") => (*name, Direction::Desc),
            [] => {
                cx.error_with_help(
                    lit,
                    format!("{subject} has an empty entry in `{text}`"),
                    format!(
                        "separate fields with single commas, e.g. `{}`",
                        origin.example()
                    ),
                );
                failed = true;
                continue;
            }
            _ => {
                cx.error_with_help(
                    lit,
                    format!(
                        "malformed entry `{}` in {subject}: an entry is a field name, optionally followed by `asc` or `desc`",
                        entry.trim()
                    ),
                    format!("write e.g. `{}`", origin.example()),
                );
                failed = true;
                continue;
            }
        };
        let Some((index, field)) = fields
            .iter()
            .enumerate()
            .find(|(_, field)| field.name == name)
        else {
            unknown_field(cx, lit, &subject, name, entity, fields);
            failed = true;
            continue;
        };
        if field.option_inner.is_some() {
            cx.error_with_help(
                lit,
                format!(
                    "{subject} sorts by `{name}`, an `Option` field: nullable sort columns are not supported, because keyset pagination needs a total order"
                ),
                format!("make the `{}` column NOT NULL (drop the `Option`) or sort by another field", field.column),
            );
            failed = true;
            continue;
        }
        if columns.iter().any(|column| column.field == index) {
            cx.error_with_help(
                lit,
                format!("{subject} names `{name}` twice"),
                "name each field once",
            );
            failed = true;
            continue;
        }
        columns.push(SortColumn {
            field: index,
            direction,
        });
    }
    (!failed).then_some(columns)
}

fn unknown_field(
    cx: &Ctxt,
    lit: &LitStr,
    subject: &str,
    name: &str,
    entity: &Ident,
    fields: &[Field<'_>],
) {
    let mut message = format!("{subject} names `{name}`, which is not a field of `{entity}`");
    if let Some(field) = fields.iter().find(|field| field.column == name) {
        message.push_str(&format!(
            "; `{name}` is the column of field `{}`, and sort keys name fields",
            field.name
        ));
    } else if let Some(close) = did_you_mean(name, fields.iter().map(|f| f.name.as_str())) {
        message.push_str(&format!("; did you mean `{close}`?"));
    }
    cx.error_with_help(
        lit,
        message,
        format!(
            "the fields of `{entity}` are {}",
            quoted_list(fields.iter().map(|f| f.name.as_str()))
        ),
    );
}
