//! The `#[pgrepo(...)]` attributes: their names, and reading them into plain values.
//!
//! This module owns the attribute grammar: which keys exist at which level, what value each
//! takes, duplicates, and values that are malformed on their own (an empty table name, a
//! `new_struct` that is not an identifier). Conflicts *between* attributes, and names that refer
//! to fields, are checked later (`check.rs`, `sort_key.rs`), once the whole input is read.
//!
//! An unknown key is reported; a misspelt one (`uniqe`) is also read as the key it was meant to
//! be, so the expansion still has it (`read::resolve_key`). The entity's keys are read here,
//! `Insertable`'s and `TextEnum`'s in the submodules of the same names.

use std::fmt;

use proc_macro2::Group;
use quote::ToTokens;
use syn::meta::ParseNestedMeta;
use syn::{token, Attribute, Expr, Ident, LitStr, Path, Token};

mod insertable;
mod read;
mod text_enum;

pub(crate) use self::insertable::{Insertable, InsertableField};
pub(crate) use self::text_enum::{EnumDerive, TextEnum, Variant};

use self::read::{
    flag, for_each_key, lit_str, non_empty, path_list, resolve_key, skip_value, Attr,
};
use crate::ctxt::Ctxt;
use crate::names::is_identifier;

/// The name of one attribute key, comparable with the paths `syn` parses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Symbol(pub(crate) &'static str);

/// The helper attribute of both derives: `#[pgrepo(...)]`.
pub(crate) const PGREPO: Symbol = Symbol("pgrepo");
/// Container: the table name (required).
pub(crate) const TABLE: Symbol = Symbol("table");
/// Container: the schema the table lives in.
pub(crate) const SCHEMA: Symbol = Symbol("schema");
/// Container: the name of the generated insert struct.
pub(crate) const NEW_STRUCT: Symbol = Symbol("new_struct");
/// Container: the derives put on the generated insert struct.
pub(crate) const NEW_DERIVE: Symbol = Symbol("new_derive");
/// Container and `listing(...)`: a sort key, as comma-separated field names.
pub(crate) const ORDER_BY: Symbol = Symbol("order_by");
/// Container: a named sort key, `listing(name = "...", order_by = "...")`.
pub(crate) const LISTING: Symbol = Symbol("listing");
/// `listing(...)`: the listing's name.
pub(crate) const NAME: Symbol = Symbol("name");
/// Field: the primary key.
pub(crate) const ID: Symbol = Symbol("id");
/// Field: filled by the database, read back with `RETURNING`.
pub(crate) const GENERATED: Symbol = Symbol("generated");
/// Field: the column name, when it differs from the field name.
pub(crate) const COLUMN: Symbol = Symbol("column");
/// Field: declare a typed lookup by this column.
pub(crate) const LOOKUP: Symbol = Symbol("lookup");
/// Field: a unique column (a lookup, and the upsert conflict target).
pub(crate) const UNIQUE: Symbol = Symbol("unique");
/// Field: a foreign key to another entity's primary key.
pub(crate) const BELONGS_TO: Symbol = Symbol("belongs_to");
/// Field: the name of the `belongs_to` relation's constant.
pub(crate) const RELATION: Symbol = Symbol("relation");
/// Field: the tenant column, which tenant scopes and row-level security filter by.
pub(crate) const TENANT: Symbol = Symbol("tenant");
/// `TextEnum` container: how variant names become text.
pub(crate) const RENAME_ALL: Symbol = Symbol("rename_all");
/// `TextEnum` variant: the variant's text.
pub(crate) const RENAME: Symbol = Symbol("rename");
/// Field: the column's database type, when the server is to resolve parameters from it.
pub(crate) const SQL_TYPE: Symbol = Symbol("sql_type");
/// `PgEnum` container: the `CREATE TYPE ... AS ENUM` type's name.
pub(crate) const TYPE_NAME: Symbol = Symbol("type_name");
/// `Insertable` container: the entity whose table it inserts into.
pub(crate) const ENTITY: Symbol = Symbol("entity");
/// `Insertable` field: the entity field it fills, when it has another name.
pub(crate) const FIELD: Symbol = Symbol("field");

/// The keys of `#[pgrepo(...)]` on a `#[derive(Entity)]` struct.
pub(crate) const ENTITY_KEYS: &[Symbol] =
    &[TABLE, SCHEMA, NEW_STRUCT, NEW_DERIVE, ORDER_BY, LISTING];
/// The keys of `#[pgrepo(...)]` on a field of a `#[derive(Entity)]` struct.
pub(crate) const FIELD_KEYS: &[Symbol] = &[
    ID, GENERATED, COLUMN, LOOKUP, UNIQUE, BELONGS_TO, RELATION, SQL_TYPE, TENANT,
];
/// The keys inside `listing(...)`.
pub(crate) const LISTING_KEYS: &[Symbol] = &[NAME, ORDER_BY];
/// The keys of `#[pgrepo(...)]` on a `#[derive(TextEnum)]` enum.
pub(crate) const ENUM_KEYS: &[Symbol] = &[RENAME_ALL];
/// The keys of `#[pgrepo(...)]` on a `#[derive(PgEnum)]` enum.
pub(crate) const PG_ENUM_KEYS: &[Symbol] = &[TYPE_NAME, RENAME_ALL];
/// The keys of `#[pgrepo(...)]` on a variant of a `#[derive(TextEnum)]` or `#[derive(PgEnum)]`
/// enum.
pub(crate) const VARIANT_KEYS: &[Symbol] = &[RENAME];
/// The keys of `#[pgrepo(...)]` on a `#[derive(Insertable)]` struct.
pub(crate) const INSERTABLE_KEYS: &[Symbol] = &[ENTITY];
/// The keys of `#[pgrepo(...)]` on a field of a `#[derive(Insertable)]` struct.
pub(crate) const INSERTABLE_FIELD_KEYS: &[Symbol] = &[FIELD];

impl PartialEq<Symbol> for Path {
    fn eq(&self, word: &Symbol) -> bool {
        self.is_ident(word.0)
    }
}

impl PartialEq<Symbol> for &Path {
    fn eq(&self, word: &Symbol) -> bool {
        self.is_ident(word.0)
    }
}

impl fmt::Display for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// The attributes of a `#[derive(Entity)]` struct.
pub(crate) struct Entity {
    /// `table = "users"`.
    pub(crate) table: Option<LitStr>,
    /// Whether `table` was written, even with a malformed value (then reported already).
    pub(crate) table_written: bool,
    /// `schema = "app"`.
    pub(crate) schema: Option<LitStr>,
    /// `new_struct = "NewUser"`, already checked to be an identifier.
    pub(crate) new_struct: Option<Ident>,
    /// `new_derive(Debug, Clone)`.
    pub(crate) new_derive: Vec<Path>,
    /// `order_by = "created_at desc, name"`.
    pub(crate) order_by: Option<LitStr>,
    /// Every complete `listing(name = "...", order_by = "...")`, in order.
    pub(crate) listings: Vec<Listing>,
}

/// One `listing(name = "...", order_by = "...")`.
pub(crate) struct Listing {
    /// The listing's name, already checked to be an identifier.
    pub(crate) name: LitStr,
    /// Its sort key.
    pub(crate) order_by: LitStr,
}

/// The attributes of one field of a `#[derive(Entity)]` struct. Flags keep the key's path, so
/// that errors about them point at the key.
#[derive(Default)]
pub(crate) struct Field {
    /// `id`.
    pub(crate) id: Option<Path>,
    /// `generated`.
    pub(crate) generated: Option<Path>,
    /// `lookup`.
    pub(crate) lookup: Option<Path>,
    /// `unique`.
    pub(crate) unique: Option<Path>,
    /// `column = "db_name"`.
    pub(crate) column: Option<LitStr>,
    /// `belongs_to = Team`: the key's path and the parent entity's path.
    pub(crate) belongs_to: Option<(Path, Path)>,
    /// `relation = "owner"`, already checked to be an identifier.
    pub(crate) relation: Option<LitStr>,
    /// `sql_type = "citext"`: the literal and the type's name, checked, without a `[]` suffix.
    pub(crate) sql_type: Option<(LitStr, String)>,
    /// `tenant`.
    pub(crate) tenant: Option<Path>,
}

impl Entity {
    /// Reads the `#[pgrepo(...)]` attributes of an entity struct.
    pub(crate) fn from_ast(cx: &Ctxt, attrs: &[Attribute]) -> Self {
        let mut table = Attr::none(cx, TABLE);
        let mut schema = Attr::none(cx, SCHEMA);
        let mut new_struct = Attr::none(cx, NEW_STRUCT);
        let mut new_derive = Attr::none(cx, NEW_DERIVE);
        let mut order_by = Attr::none(cx, ORDER_BY);
        let mut listings = Vec::new();

        for_each_key(cx, attrs, |meta| {
            let Some(key) = resolve_key(cx, meta, "struct", ENTITY_KEYS, &[(FIELD_KEYS, "field")])?
            else {
                return Ok(());
            };
            cx.muted(key.misspelt, || match key.name {
                TABLE => {
                    table.written();
                    if let Some(lit) = lit_str(cx, meta, r#"table = "users""#)? {
                        non_empty(cx, TABLE, &lit, r#"table = "users""#);
                        table.set(&meta.path, lit);
                    }
                    Ok(())
                }
                SCHEMA => {
                    if let Some(lit) = lit_str(cx, meta, r#"schema = "app""#)? {
                        non_empty(cx, SCHEMA, &lit, r#"schema = "app""#);
                        schema.set(&meta.path, lit);
                    }
                    Ok(())
                }
                NEW_STRUCT => {
                    if let Some(lit) = lit_str(cx, meta, r#"new_struct = "NewUser""#)? {
                        match lit.parse::<Ident>() {
                            Ok(ident) => new_struct.set(&meta.path, ident),
                            Err(_) => cx.error_with_help(
                                &lit,
                                format!(
                                    "`new_struct` must name a struct, and `{}` is not a Rust identifier",
                                    lit.value()
                                ),
                                r#"write a type name, e.g. `new_struct = "NewUser"`"#,
                            ),
                        }
                    }
                    Ok(())
                }
                NEW_DERIVE => {
                    if let Some(paths) = path_list(cx, meta, "new_derive(Debug, Clone)")? {
                        new_derive.set(&meta.path, paths);
                    }
                    Ok(())
                }
                ORDER_BY => {
                    if let Some(lit) = lit_str(cx, meta, r#"order_by = "created_at desc, name""#)? {
                        order_by.set(&meta.path, lit);
                    }
                    Ok(())
                }
                LISTING => {
                    if let Some(listing) = listing(cx, meta)? {
                        listings.push(listing);
                    }
                    Ok(())
                }
                // `resolve_key` gives only keys of `ENTITY_KEYS`.
                _ => skip_value(meta),
            })
        });

        Self {
            table_written: table.written,
            table: table.get(),
            schema: schema.get(),
            new_struct: new_struct.get(),
            new_derive: new_derive.get().unwrap_or_default(),
            order_by: order_by.get(),
            listings,
        }
    }
}

/// Reads `listing(name = "...", order_by = "...")`; `None` when it is incomplete (reported).
fn listing(cx: &Ctxt, meta: &ParseNestedMeta<'_>) -> syn::Result<Option<Listing>> {
    const EXAMPLE: &str = r#"listing(name = "recent", order_by = "created_at desc")"#;
    if !meta.input.peek(token::Paren) {
        cx.error_with_help(
            &meta.path,
            "`listing` takes a name and a sort key in parentheses",
            format!("write `{EXAMPLE}`"),
        );
        return skip_value(meta).map(|()| None);
    }
    let mut name = Attr::none(cx, NAME);
    let mut order_by = Attr::none(cx, ORDER_BY);
    let is_empty = meta
        .input
        .fork()
        .parse::<Group>()
        .is_ok_and(|group| group.stream().is_empty());
    if is_empty {
        // `listing()`: `syn` rejects empty nested lists; report what is missing instead.
        meta.input.parse::<Group>()?;
    } else {
        meta.parse_nested_meta(|inner| listing_key(cx, &inner, &mut name, &mut order_by))?;
    }
    let missing = match (name.written, order_by.written) {
        (true, true) => None,
        (false, false) => Some("a `name` and an `order_by`"),
        (false, true) => Some("a `name`"),
        (true, false) => Some("an `order_by`"),
    };
    match (name.get(), order_by.get()) {
        (Some(name), Some(order_by)) => Ok(Some(Listing { name, order_by })),
        // A malformed `name` or `order_by` is reported already.
        _ => {
            let Some(missing) = missing else {
                return Ok(None);
            };
            cx.error_with_help(
                &meta.path,
                format!("`listing` needs {missing}"),
                format!("write `{EXAMPLE}`"),
            );
            Ok(None)
        }
    }
}

/// Reads one key inside `listing(...)`.
fn listing_key(
    cx: &Ctxt,
    meta: &ParseNestedMeta<'_>,
    name: &mut Attr<'_, LitStr>,
    order_by: &mut Attr<'_, LitStr>,
) -> syn::Result<()> {
    let Some(key) = resolve_key(cx, meta, "listing", LISTING_KEYS, &[])? else {
        return Ok(());
    };
    cx.muted(key.misspelt, || match key.name {
        NAME => {
            name.written();
            let Some(lit) = lit_str(cx, meta, r#"name = "recent""#)? else {
                return Ok(());
            };
            if is_identifier(&lit.value()) {
                name.set(&meta.path, lit);
            } else {
                cx.error_with_help(
                    &lit,
                    format!(
                        "listing name `{}` is not a Rust identifier; it names the listing's constant",
                        lit.value()
                    ),
                    r#"name the listing like a function, e.g. `name = "recent"`"#,
                );
            }
            Ok(())
        }
        ORDER_BY => {
            order_by.written();
            if let Some(lit) = lit_str(cx, meta, r#"order_by = "created_at desc""#)? {
                order_by.set(&meta.path, lit);
            }
            Ok(())
        }
        // `resolve_key` gives only keys of `LISTING_KEYS`.
        _ => skip_value(meta),
    })
}

impl Field {
    /// Reads the `#[pgrepo(...)]` attributes of one entity field.
    pub(crate) fn from_ast(cx: &Ctxt, attrs: &[Attribute]) -> Self {
        let mut id = Attr::none(cx, ID);
        let mut generated = Attr::none(cx, GENERATED);
        let mut lookup = Attr::none(cx, LOOKUP);
        let mut unique = Attr::none(cx, UNIQUE);
        let mut column = Attr::none(cx, COLUMN);
        let mut belongs_to = Attr::none(cx, BELONGS_TO);
        let mut relation = Attr::none(cx, RELATION);
        let mut sql_type = Attr::none(cx, SQL_TYPE);
        let mut tenant = Attr::none(cx, TENANT);

        for_each_key(cx, attrs, |meta| {
            let Some(key) = resolve_key(cx, meta, "field", FIELD_KEYS, &[(ENTITY_KEYS, "struct")])?
            else {
                return Ok(());
            };
            cx.muted(key.misspelt, || match key.name {
                ID => flag(cx, meta, &mut id),
                GENERATED => flag(cx, meta, &mut generated),
                LOOKUP => flag(cx, meta, &mut lookup),
                UNIQUE => flag(cx, meta, &mut unique),
                TENANT => flag(cx, meta, &mut tenant),
                COLUMN => {
                    if let Some(lit) = lit_str(cx, meta, r#"column = "db_name""#)? {
                        non_empty(cx, COLUMN, &lit, r#"column = "db_name""#);
                        column.set(&meta.path, lit);
                    }
                    Ok(())
                }
                BELONGS_TO => {
                    let parent = entity_path(
                        cx,
                        meta,
                        "the parent entity",
                        "write the parent entity's type, e.g. `belongs_to = Team`",
                    )?;
                    if let Some(parent) = parent {
                        belongs_to.set(&meta.path, (meta.path.clone(), parent));
                    }
                    Ok(())
                }
                RELATION => {
                    if let Some(lit) = lit_str(cx, meta, r#"relation = "owner""#)? {
                        if is_identifier(&lit.value()) {
                            relation.set(&meta.path, lit);
                        } else {
                            cx.error_with_help(
                                &lit,
                                format!(
                                    "relation name `{}` is not a Rust identifier; it names the relation's constant",
                                    lit.value()
                                ),
                                r#"name the relation like a field, e.g. `relation = "owner"`"#,
                            );
                        }
                    }
                    Ok(())
                }
                SQL_TYPE => {
                    const EXAMPLE: &str = r#"sql_type = "citext""#;
                    if let Some(lit) = lit_str(cx, meta, EXAMPLE)? {
                        let value = lit.value();
                        // `citext[]` on a `Vec<String>`: the array-ness comes from the field.
                        let name = value.strip_suffix("[]").unwrap_or(&value);
                        if let Some(name) = type_name(cx, SQL_TYPE, &lit, name, EXAMPLE) {
                            sql_type.set(&meta.path, (lit, name));
                        }
                    }
                    Ok(())
                }
                // `resolve_key` gives only keys of `FIELD_KEYS`.
                _ => skip_value(meta),
            })
        });

        Self {
            id: id.get(),
            generated: generated.get(),
            lookup: lookup.get(),
            unique: unique.get(),
            column: column.get(),
            belongs_to: belongs_to.get(),
            relation: relation.get(),
            sql_type: sql_type.get(),
            tenant: tenant.get(),
        }
    }
}

/// Checks the name of a database type given to `key` (`plan`, `billing.plan`): one or two
/// dot-separated parts, neither empty nor holding spaces, quotes or a modifier. `None` when it
/// is malformed (reported, with `example` as the right form).
pub(crate) fn type_name(
    cx: &Ctxt,
    key: Symbol,
    lit: &LitStr,
    name: &str,
    example: &str,
) -> Option<String> {
    let parts: Vec<&str> = name.split('.').collect();
    let well_formed = parts.len() <= 2
        && parts.iter().all(|part| {
            !part.is_empty()
                && !part
                    .chars()
                    .any(|c| c.is_whitespace() || matches!(c, '"' | '(' | ')' | '[' | ']' | ','))
        });
    if well_formed {
        return Some(name.to_owned());
    }
    let found = match lit.value() {
        value if value.is_empty() => "it is empty".to_owned(),
        value => format!("`{value}` is not one"),
    };
    cx.error_with_help(
        lit,
        format!(
            "`{key}` takes a type's name as the catalog stores it (`plan`, or `schema.plan`), and {found}"
        ),
        format!("write e.g. `{example}`, without quotes or a modifier such as `(3)`"),
    );
    None
}

/// Reads the entity of `belongs_to = Team` or `entity = User`: a path, not a string. `what`
/// completes "needs ..." when the value is missing; `help` shows the right form.
pub(crate) fn entity_path(
    cx: &Ctxt,
    meta: &ParseNestedMeta<'_>,
    what: &str,
    help: &str,
) -> syn::Result<Option<Path>> {
    let key = meta.path.to_token_stream();
    if !meta.input.peek(Token![=]) {
        cx.error_with_help(&meta.path, format!("`{key}` needs {what}"), help);
        return skip_value(meta).map(|()| None);
    }
    let value = meta.value()?;
    if value.peek(LitStr) {
        let lit: LitStr = value.parse()?;
        let help = match lit.parse::<Path>() {
            Ok(path) => format!("write `{key} = {}`", path.to_token_stream()),
            Err(_) => help.to_owned(),
        };
        cx.error_with_help(
            &lit,
            format!("`{key}` takes a type path, not a string"),
            help,
        );
        return Ok(None);
    }
    let expr: Expr = value.parse()?;
    match expr {
        Expr::Path(path) if path.qself.is_none() && path.attrs.is_empty() => Ok(Some(path.path)),
        other => {
            cx.error_with_help(
                &other,
                format!("`{key}` takes the path of an entity type"),
                help,
            );
            Ok(None)
        }
    }
}
