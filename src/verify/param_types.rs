//! The check of how a field's parameters are declared against its column's type: the part of
//! `verify` that decoding cannot see. A text enum reads fine from an enum column and a `String`
//! from a `citext` one; it is binding them as `text` that fails (an insert into the enum) or
//! quietly changes the meaning (a case-sensitive lookup on `citext`).

use tokio_postgres::types::Type;
use tokio_postgres::Row;

use super::Mismatch;
use crate::entity::ColumnDef;
use crate::sql_type::ParamType;

/// A column's type as the catalog describes it (from `COLUMNS_SQL`).
struct ColumnType<'r> {
    /// `typname`.
    name: &'r str,
    /// `typtype`: `e` enum, `d` domain, `b` base, …
    kind: &'r str,
    /// A domain's base type name; empty otherwise.
    base_name: &'r str,
    /// An array's element type name and `typtype`; empty otherwise.
    element_name: &'r str,
    element_kind: &'r str,
}

impl ColumnType<'_> {
    /// The name and `typtype` of what one value of the field is: the element for an array
    /// field, the domain's base for a domain (whose kind is then unknown, reported as `b`).
    fn value_type(&self, array: bool) -> (&str, &str) {
        if array {
            (self.element_name, self.element_kind)
        } else if self.kind == "d" {
            (self.base_name, "b")
        } else {
            (self.name, self.kind)
        }
    }
}

/// The mismatch of `column`'s declared parameter type against the column described by `row`,
/// if any.
pub(super) fn check(table: &str, column: &ColumnDef, row: &Row) -> Option<Mismatch> {
    let found = ColumnType {
        name: row.get(3),
        kind: row.get(4),
        base_name: row.get(6),
        element_name: row.get(8),
        element_kind: row.get(9),
    };
    let array = column.param_type.is_array();
    let (value_name, value_kind) = found.value_type(array);
    let brackets = if array { "[]" } else { "" };
    let declared = match column.param_type {
        ParamType::Fixed { ty, .. } => match ty.kind() {
            tokio_postgres::types::Kind::Array(member) => member.name(),
            _ => ty.name(),
        },
        ParamType::FromColumn { name, .. } => name,
    };
    let fix = match column.param_type {
        ParamType::Fixed { ty, .. } => {
            let text_like =
                |ty: &Type| matches!(*ty, Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME);
            let element = match ty.kind() {
                tokio_postgres::types::Kind::Array(member) => member,
                _ => ty,
            };
            if value_kind == "e" {
                format!(
                    "inserts fail (42804, \"column is of type {value_name} but expression is of \
                     type {element}\") and lookups find no operator; bind it as the enum type: \
                     derive `PgEnum` with `#[pgrepo(type_name = \"{value_name}\")]` for the \
                     field's enum, or add `#[pgrepo(sql_type = \"{value_name}\")]` to the field"
                )
            } else if value_name == "citext" && text_like(element) {
                "lookups compare it as `text`, case-sensitively; add \
                 `#[pgrepo(sql_type = \"citext\")]` to the field so its parameters are `citext`"
                    .to_owned()
            } else {
                return None;
            }
        }
        ParamType::FromColumn { name, .. } => {
            let declared = name.rsplit('.').next().unwrap_or(name);
            if [found.name, value_name].contains(&declared) {
                return None;
            }
            format!(
                "the field names the column's type as `{name}`; name the type the column has: \
                 `#[pgrepo(sql_type = \"{value_name}\")]`"
            )
        }
    };
    Some(Mismatch::ParamType {
        table: table.to_owned(),
        column: column.name.to_owned(),
        rust_type: column.rust_type.to_owned(),
        declared: format!("{declared}{brackets}"),
        found: format!("{}{brackets}", if array { value_name } else { found.name }),
        fix,
    })
}
