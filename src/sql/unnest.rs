//! The row source of `insert_many`: `UNNEST` of one array parameter per column, with the casts
//! and slices that columns of types resolved from the column and array columns need.

use tokio_postgres::types::Type;

use crate::entity::ColumnDef;

/// The row source of `insert_many`, and its parameter types: `UNNEST` of one array per column,
/// in the order of `columns`, then `one_value`'s column bound once for every row (the scope's
/// tenant).
///
/// A column whose type the server resolves from the column is cast to its array type (an
/// `UNNEST` argument has no column to take a type from). A column that is itself an array is
/// bound as one flat array of every row's elements plus each row's bounds in it
/// (`sql::param_array::FlatArray`), and sliced back per row: `UNNEST` would flatten the rows'
/// arrays into one.
pub(super) fn unnest_source(
    columns: &[&ColumnDef],
    one_value: Option<&ColumnDef>,
) -> (String, Vec<Type>) {
    let mut types = Vec::new();
    let mut args = Vec::new();
    let mut aliases = Vec::new();
    let mut select = Vec::new();
    let mut flat = false;
    for column in columns {
        let cast = column
            .param_type
            .array_cast()
            .map(|cast| format!("::{cast}"))
            .unwrap_or_default();
        if column.param_type.is_array() {
            flat = true;
            types.push(column.pg_type.clone());
            let elements = types.len();
            types.extend([Type::INT4_ARRAY, Type::INT4_ARRAY]);
            let (lower, upper) = (elements + 1, elements + 2);
            args.extend([format!("${lower}"), format!("${upper}")]);
            aliases.extend([format!("p{lower}"), format!("p{upper}")]);
            select.push(format!("(${elements}{cast})[u.p{lower}:u.p{upper}]"));
        } else {
            types.push(column.array_type.clone());
            let n = types.len();
            args.push(format!("${n}{cast}"));
            aliases.push(format!("p{n}"));
            select.push(format!("u.p{n}"));
        }
    }
    let args = args.join(", ");
    let tail = one_value.map_or_else(String::new, |column| {
        types.push(column.pg_type.clone());
        format!(", ${}", types.len())
    });
    let source = if flat {
        format!(
            "SELECT {}{tail} FROM UNNEST({args}) AS u({})",
            select.join(", "),
            aliases.join(", ")
        )
    } else {
        format!("SELECT *{tail} FROM UNNEST({args})")
    };
    (source, types)
}
