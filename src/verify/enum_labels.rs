//! The check of a `#[derive(PgEnum)]` field's labels against its column's enum type, in both
//! directions: a variant whose label the type lacks cannot be written (22P02), and a label of the
//! type that no variant maps to cannot be read. The type's name is checked by decoding
//! (`WrongType`); this compares the labels of a type the field already accepts, as
//! `column_type` read them from `pg_enum`.

use tokio_postgres::types::{Kind, Type};

use super::Mismatch;
use crate::entity::ColumnDef;

/// The mismatch of `column`'s variants against the labels of the enum `ty` (the column's type,
/// or its array's element type), if any.
pub(super) fn check(table: &str, column: &ColumnDef, ty: &Type) -> Option<Mismatch> {
    let rust_labels = column.enum_labels?;
    let enum_type = match ty.kind() {
        Kind::Array(element) => element,
        _ => ty,
    };
    let Kind::Enum(db_labels) = enum_type.kind() else {
        // A domain over an enum is described as its base type without labels: nothing to
        // compare with.
        return None;
    };
    let not_in_database: Vec<String> = rust_labels
        .iter()
        .filter(|label| !db_labels.iter().any(|db| db == *label))
        .map(|label| (*label).to_owned())
        .collect();
    let not_in_rust: Vec<String> = db_labels
        .iter()
        .filter(|db| !rust_labels.contains(&db.as_str()))
        .cloned()
        .collect();
    if not_in_database.is_empty() && not_in_rust.is_empty() {
        return None;
    }
    Some(Mismatch::EnumLabels {
        table: table.to_owned(),
        column: column.name.to_owned(),
        rust_type: column.rust_type.to_owned(),
        type_name: enum_type.name().to_owned(),
        not_in_database,
        not_in_rust,
    })
}

/// The text of [`Mismatch::EnumLabels`]: each direction that differs, with its failure and fix.
pub(super) fn describe(
    f: &mut std::fmt::Formatter<'_>,
    type_name: &str,
    not_in_database: &[String],
    not_in_rust: &[String],
) -> std::fmt::Result {
    let quoted = |labels: &[String]| {
        labels
            .iter()
            .map(|label| format!("'{}'", label.replace('\'', "''")))
            .collect::<Vec<_>>()
    };
    let mut separator = "";
    if !not_in_database.is_empty() {
        let labels = quoted(not_in_database);
        write!(
            f,
            "variants with labels the type lacks ({}): writing them fails (22P02, invalid input \
             value for enum {type_name}); add them to the type (`ALTER TYPE {type_name} ADD \
             VALUE {}`) or `#[pgrepo(rename = \"...\")]` the variants to the type's labels",
            labels.join(", "),
            labels[0],
        )?;
        separator = "; ";
    }
    if !not_in_rust.is_empty() {
        write!(
            f,
            "{separator}labels no variant maps to ({}): reading a row that holds one fails; add \
             a variant for each (or `#[pgrepo(rename = \"...\")]` one to it)",
            quoted(not_in_rust).join(", "),
        )?;
    }
    Ok(())
}
