//! Resolution of a hand-written statement's result columns into a decoding plan: for each
//! column a type reads (in the order its `from_row_mapped` reads them), the index of the result
//! column holding it. Done once per call from the statement's column descriptions, before the
//! first row; decoding a row then costs an index per field, like decoding by position.
//!
//! The rules (what [`FromRow`](super::FromRow) documents): an entity alone matches every column
//! by name; in a tuple each entity takes the run of columns labelled with one alias
//! (`alias.column`, what [`Entity::select_list`](crate::Entity::select_list) writes), each
//! scalar the next column. Every problem is collected, then reported as one error.

use tokio_postgres::types::Type;
use tokio_postgres::Column;

use crate::entity::ColumnDef;
use crate::error::Error;

/// Whether a type's columns are found by name or taken in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Match {
    /// By name: what [`Executor::query_as`](crate::Executor::query_as) does.
    ByName,
    /// By position, count and types checked: `query_as_positional`.
    ByPosition,
}

/// The result columns of one statement, walked by the type decoding its rows: each part of the
/// type claims its columns and the plan records them. Used by `FromRow` implementations; not
/// public API.
#[derive(Debug)]
pub struct Resolver<'c> {
    columns: &'c [Column],
    by: Match,
    /// The next column a tuple's element starts at.
    cursor: usize,
    /// Inside a tuple: an entity takes one alias's columns, not the whole result.
    in_tuple: bool,
    plan: Vec<usize>,
    problems: Problems,
}

#[derive(Debug, Default)]
struct Problems {
    missing: Vec<String>,
    extra: Vec<String>,
    duplicate: Vec<String>,
    unlabelled: Vec<&'static str>,
    /// The first column whose database type does not fit: (column, database type, Rust type).
    wrong_type: Option<(String, String, &'static str)>,
}

/// The alias of a column labelled `alias.column`, and the column's name.
fn split_label(label: &str) -> Option<(&str, &str)> {
    label.split_once('.')
}

impl<'c> Resolver<'c> {
    fn new(columns: &'c [Column], by: Match) -> Self {
        Resolver {
            columns,
            by,
            cursor: 0,
            in_tuple: false,
            plan: Vec::new(),
            problems: Problems::default(),
        }
    }

    /// The elements of a tuple, in order.
    pub fn tuple(&mut self, elements: impl FnOnce(&mut Self)) {
        let outer = std::mem::replace(&mut self.in_tuple, true);
        elements(self);
        self.in_tuple = outer;
    }

    /// One column of type `rust_type` (a scalar): the next column, whatever its name.
    pub fn scalar(&mut self, rust_type: &'static str, accepts: fn(&Type) -> bool) {
        match self.columns.get(self.cursor) {
            Some(column) => {
                self.check_type(column.name(), column.type_(), rust_type, accepts);
                self.plan.push(self.cursor);
            }
            None => {
                let place = format!("#{} ({})", self.cursor + 1, short_type_name(rust_type));
                self.problems.missing.push(place);
                self.plan.push(0);
            }
        }
        self.cursor += 1;
    }

    /// `count` columns by position, unchecked: a hand-written `FromRow`.
    pub fn positional(&mut self, count: usize) {
        for _ in 0..count {
            if self.cursor >= self.columns.len() {
                self.problems.missing.push(format!("#{}", self.cursor + 1));
            }
            self.plan.push(self.cursor);
            self.cursor += 1;
        }
    }

    /// The columns of an entity of type `rust_type` whose fields are `fields`.
    pub fn entity(&mut self, rust_type: &'static str, fields: &'static [ColumnDef]) {
        if self.by == Match::ByPosition {
            for field in fields {
                match self.columns.get(self.cursor) {
                    Some(column) => self.check_type(
                        column.name(),
                        column.type_(),
                        field.rust_type,
                        field.accepts,
                    ),
                    None => self.problems.missing.push(field.name.to_owned()),
                }
                self.plan.push(self.cursor);
                self.cursor += 1;
            }
            return;
        }
        let Some((start, end, alias)) = self.entity_columns() else {
            self.problems.unlabelled.push(rust_type);
            self.plan.extend(std::iter::repeat_n(0, fields.len()));
            return;
        };
        let segment = &self.columns[start..end];
        let name = |column: &'c Column| match alias {
            Some(_) => split_label(column.name()).map_or(column.name(), |(_, name)| name),
            None => column.name(),
        };
        let label = |name: &str| match alias {
            Some(alias) => format!("{alias}.{name}"),
            None => name.to_owned(),
        };
        for field in fields {
            let mut found = segment
                .iter()
                .enumerate()
                .filter(|(_, c)| name(c) == field.name);
            match found.next() {
                Some((at, column)) => {
                    if found.next().is_some() {
                        self.problems.duplicate.push(label(field.name));
                    }
                    self.check_type(
                        column.name(),
                        column.type_(),
                        field.rust_type,
                        field.accepts,
                    );
                    self.plan.push(start + at);
                }
                None => {
                    self.problems.missing.push(label(field.name));
                    self.plan.push(0);
                }
            }
        }
        for column in segment {
            if !fields.iter().any(|field| field.name == name(column)) {
                self.problems.extra.push(column.name().to_owned());
            }
        }
        self.cursor = end;
    }

    /// The columns an entity takes by name, and their alias: alone, the whole result (with the
    /// alias they all share, if any); in a tuple, the run of columns labelled with the alias of
    /// the next column. `None` when the next column has no alias (or there is none).
    fn entity_columns(&self) -> Option<(usize, usize, Option<&'c str>)> {
        let columns = self.columns;
        let alias_of = |at: usize| {
            columns
                .get(at)
                .and_then(|c| split_label(c.name()))
                .map(|(a, _)| a)
        };
        if !self.in_tuple && self.cursor == 0 {
            let alias =
                alias_of(0).filter(|&a| (0..columns.len()).all(|at| alias_of(at) == Some(a)));
            return Some((0, columns.len(), alias));
        }
        let alias = alias_of(self.cursor)?;
        let end = (self.cursor..columns.len())
            .find(|&at| alias_of(at) != Some(alias))
            .unwrap_or(columns.len());
        Some((self.cursor, end, Some(alias)))
    }

    fn check_type(
        &mut self,
        column: &str,
        pg_type: &Type,
        rust_type: &'static str,
        accepts: fn(&Type) -> bool,
    ) {
        if !accepts(pg_type) && self.problems.wrong_type.is_none() {
            self.problems.wrong_type =
                Some((column.to_owned(), pg_type.name().to_owned(), rust_type));
        }
    }

    /// The plan, or the error naming every mismatch.
    fn finish(mut self, target: &'static str) -> Result<Vec<usize>, Error> {
        if let Some(rest) = self.columns.get(self.cursor..) {
            self.problems
                .extra
                .extend(rest.iter().map(|c| c.name().to_owned()));
        }
        let Problems {
            missing,
            extra,
            duplicate,
            unlabelled,
            wrong_type,
        } = self.problems;
        if !(missing.is_empty()
            && extra.is_empty()
            && duplicate.is_empty()
            && unlabelled.is_empty())
        {
            return Err(Error::ColumnMismatch {
                target,
                missing,
                extra,
                duplicate,
                unlabelled,
            });
        }
        if let Some((column, pg_type, rust_type)) = wrong_type {
            return Err(Error::ColumnType {
                target,
                column,
                pg_type,
                rust_type,
            });
        }
        Ok(self.plan)
    }
}

/// For each column `T` reads, the index of the result column holding it, found in `columns`
/// (a statement's column descriptions) as `by` says.
pub(crate) fn resolve<T: super::FromRow>(
    columns: &[Column],
    by: Match,
) -> Result<Vec<usize>, Error> {
    let mut resolver = Resolver::new(columns, by);
    T::resolve_columns(&mut resolver);
    debug_assert_eq!(resolver.plan.len(), T::COLUMN_COUNT);
    resolver.finish(std::any::type_name::<T>())
}

/// The message of [`Error::ColumnType`].
pub(crate) fn describe_wrong_type(
    target: &str,
    column: &str,
    pg_type: &str,
    rust_type: &str,
) -> String {
    let (target, rust_type) = (short_type_name(target), short_type_name(rust_type));
    let reading = if target == rust_type {
        String::new()
    } else {
        format!(" (decoding `{target}`)")
    };
    format!(
        "column `{column}` of the query is `{pg_type}`, which does not decode into \
         `{rust_type}`{reading}; cast it in the query (`…::type AS {column}`) or change the Rust \
         type"
    )
}

/// A type name without its module paths: `Option<String>` for
/// `core::option::Option<alloc::string::String>`.
pub(crate) fn short_type_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(at) = rest.find("::") {
        let head = &rest[..at];
        out.push_str(head.trim_end_matches(|c: char| c.is_alphanumeric() || c == '_'));
        rest = &rest[at + 2..];
    }
    out.push_str(rest);
    out
}

/// The message of [`Error::ColumnMismatch`]: what is missing, extra, duplicated or unlabelled,
/// and how to write the query instead.
pub(crate) fn describe_mismatch(
    target: &str,
    missing: &[String],
    extra: &[String],
    duplicate: &[String],
    unlabelled: &[&str],
) -> String {
    let list = |names: &[String]| {
        names
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let target = short_type_name(target);
    let mut parts = Vec::new();
    if !missing.is_empty() {
        parts.push(format!("missing {}", list(missing)));
    }
    if !extra.is_empty() {
        parts.push(format!("extra {}", list(extra)));
    }
    if !duplicate.is_empty() {
        parts.push(format!("more than one {}", list(duplicate)));
    }
    if !unlabelled.is_empty() {
        let types: Vec<String> = unlabelled.iter().map(|t| short_type_name(t)).collect();
        parts.push(format!(
            "no columns labelled `alias.column` where {} should be",
            list(&types)
        ));
    }
    let mut help = Vec::new();
    if !unlabelled.is_empty() || !duplicate.is_empty() {
        help.push(
            "select each entity with `Entity::select_list(\"alias\")`, which labels its columns \
             `alias.column`, and decode into a tuple: each entity takes one alias's columns, in \
             order",
        );
    } else {
        if !missing.is_empty() {
            help.push("select each missing column, or alias an expression to its name with `AS`");
        }
        if !extra.is_empty() {
            help.push(
                "leave the extra columns out: name the columns instead of `*`, or write an \
                 entity's with `Entity::select_list(alias)`",
            );
        }
    }
    format!(
        "the columns of the query do not match `{target}`: {}; {}",
        parts.join("; "),
        help.join("; ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_lose_their_module_paths() {
        assert_eq!(
            short_type_name("core::option::Option<alloc::string::String>"),
            "Option<String>"
        );
        assert_eq!(
            short_type_name("(app::User, core::option::Option<app::Post>, i64)"),
            "(User, Option<Post>, i64)"
        );
    }

    #[test]
    fn a_mismatch_says_what_to_change() {
        let message = describe_mismatch("app::User", &["email".into()], &["mail".into()], &[], &[]);
        assert_eq!(
            message,
            "the columns of the query do not match `User`: missing `email`; extra `mail`; select \
             each missing column, or alias an expression to its name with `AS`; leave the extra \
             columns out: name the columns instead of `*`, or write an entity's with \
             `Entity::select_list(alias)`"
        );
        let message = describe_mismatch("(app::User, app::Post)", &[], &[], &[], &["app::Post"]);
        assert!(message.contains("where `Post` should be"), "{message}");
        assert!(message.contains("select_list"), "{message}");
    }
}
