//! Conflicts between attributes, found once the whole input is read: the primary key, keys that
//! contradict each other, two fields on one column, generated constants that would clash, and
//! two insertable fields filling one entity field.

use std::collections::{HashMap, HashSet};

use proc_macro2::TokenStream;
use quote::ToTokens;

use crate::ast::{Entity, Field, Insertable, TextEnum};
use crate::attr::{BELONGS_TO, ID, RELATION, TENANT};
use crate::case::RenameRule;
use crate::ctxt::Ctxt;
use crate::names::{tokens_to_source, unraw};

/// Reports every conflict in an entity.
pub(crate) fn check_entity(cx: &Ctxt, entity: &Entity<'_>) {
    check_primary_key(cx, entity);
    check_tenant(cx, entity);
    for field in &entity.fields {
        check_field(cx, field);
    }
    check_columns(cx, entity);
    check_new_struct(cx, entity);
    check_consts(cx, entity);
}

/// Exactly one `id`, and not on an `Option`.
fn check_primary_key(cx: &Ctxt, entity: &Entity<'_>) {
    let mut ids = entity.fields.iter().filter(|f| f.attrs.id.is_some());
    let Some(first) = ids.next() else {
        cx.error_with_help(
            entity.ident,
            format!("`{}` has no primary key", entity.ident),
            "mark the primary key field with `#[pgrepo(id)]` (with `generated` too when the database fills it: `#[pgrepo(id, generated)]`)",
        );
        return;
    };
    for extra in ids {
        if let Some(key) = &extra.attrs.id {
            cx.error_with_help(
                key,
                format!(
                    "`{}` has a second `#[pgrepo(id)]` field, `{}` (the first is `{}`); composite primary keys are not supported",
                    entity.ident, extra.name, first.name
                ),
                "keep `#[pgrepo(id)]` on one field; mark other unique columns with `#[pgrepo(unique)]`",
            );
        }
    }
}

/// At most one `tenant` field, never an `Option` (a row without a tenant would belong to none,
/// or, under a careless policy, to all), never the primary key.
fn check_tenant(cx: &Ctxt, entity: &Entity<'_>) {
    let mut tenants = entity.fields.iter().filter(|f| f.attrs.tenant.is_some());
    let Some(first) = tenants.next() else {
        return;
    };
    for extra in tenants {
        if let Some(key) = &extra.attrs.tenant {
            cx.error_with_help(
                key,
                format!(
                    "`{}` has a second `#[pgrepo({TENANT})]` field, `{}` (the first is `{}`)",
                    entity.ident, extra.name, first.name
                ),
                format!("keep `#[pgrepo({TENANT})]` on the one column the policies filter by"),
            );
        }
    }
    if let (Some(key), Some(inner)) = (&first.attrs.tenant, first.option_inner) {
        cx.error_with_help(
            key,
            format!(
                "the tenant column `{}` cannot be an `Option`: a row without a tenant belongs to no tenant scope",
                first.name
            ),
            format!(
                "write `{}: {}` and make the column NOT NULL",
                first.name,
                tokens_to_source(inner)
            ),
        );
    }
    if let (Some(key), Some(_)) = (&first.attrs.tenant, &first.attrs.id) {
        cx.error_with_help(
            key,
            format!(
                "the tenant column `{}` cannot be the primary key: each tenant has many rows",
                first.name
            ),
            "give the entity its own `#[pgrepo(id)]` field and mark the tenant column alone",
        );
    }
}

/// Keys of one field that contradict each other.
fn check_field(cx: &Ctxt, field: &Field<'_>) {
    let attrs = &field.attrs;
    if attrs.id.is_some() {
        if let Some(inner) = field.option_inner {
            cx.error_with_help(
                field.ty,
                format!(
                    "the primary key `{}` cannot be an `Option`: primary key columns are NOT NULL",
                    field.name
                ),
                format!("write `{}: {}`", field.name, tokens_to_source(inner)),
            );
        }
        let redundant: [(Option<TokenStream>, &str); 3] = [
            (
                attrs.lookup.as_ref().map(ToTokens::to_token_stream),
                "the primary key already has typed gets (`Repo::get`, `Repo::get_many`), so a lookup on it is redundant",
            ),
            (
                attrs.unique.as_ref().map(ToTokens::to_token_stream),
                "the primary key is unique already, and it is the upsert conflict target unless a `unique` field is declared",
            ),
            (
                attrs.belongs_to.as_ref().map(|(key, _)| key.to_token_stream()),
                "a primary key that is also a foreign key is not supported",
            ),
        ];
        for (key, why) in redundant {
            if let Some(key) = key {
                let name = key.to_string();
                cx.error_with_help(
                    &key,
                    format!(
                        "`{name}` cannot be combined with `{ID}` on `{}`: {why}",
                        field.name
                    ),
                    format!("remove `{name}` from `{}`", field.name),
                );
            }
        }
    }
    check_array_key(cx, field);
    if let (Some(relation), None) = (&attrs.relation, &attrs.belongs_to) {
        cx.error_with_help(
            relation,
            format!(
                "`{RELATION}` names the constant of a `{BELONGS_TO}` relation, and `{}` has no `{BELONGS_TO}`",
                field.name
            ),
            format!(
                r#"add the parent entity, `#[pgrepo({BELONGS_TO} = Parent, {RELATION} = "{}")]`, or remove `{RELATION}`"#,
                relation.value()
            ),
        );
    }
}

/// An array column (`Vec<…>`) is no key: `find_by_any` and `get_many` bind their keys as one
/// array parameter (`= ANY($1)`), and PostgreSQL has no arrays of arrays to hold them.
fn check_array_key(cx: &Ctxt, field: &Field<'_>) {
    let ty = field.option_inner.unwrap_or(field.ty);
    let is_vec = matches!(ty, syn::Type::Path(path)
        if path.qself.is_none()
            && path.path.segments.last().is_some_and(|last| last.ident == "Vec"));
    if !is_vec {
        return;
    }
    let attrs = &field.attrs;
    let keys = [
        attrs.id.as_ref().map(ToTokens::to_token_stream),
        attrs.lookup.as_ref().map(ToTokens::to_token_stream),
        attrs.unique.as_ref().map(ToTokens::to_token_stream),
        attrs
            .belongs_to
            .as_ref()
            .map(|(key, _)| key.to_token_stream()),
    ];
    for key in keys.into_iter().flatten() {
        let name = key.to_string();
        cx.error_with_help(
            &key,
            format!(
                "`{name}` on `{}`: an array column cannot be a key, because keys are also looked up \
                 many at a time as one array parameter (`= ANY($1)`), and PostgreSQL has no arrays \
                 of arrays",
                field.name
            ),
            format!(
                "remove `{name}`; to find rows by an array column write the query with \
                 `query_as` (`WHERE {} @> $1` for containment, with a GIN index)",
                field.name
            ),
        );
    }
}

/// No two fields on one column.
fn check_columns(cx: &Ctxt, entity: &Entity<'_>) {
    let mut seen: HashMap<&str, &Field<'_>> = HashMap::new();
    for field in &entity.fields {
        let Some(first) = seen.insert(&field.column, field) else {
            continue;
        };
        // Keep the first owner for the messages about later duplicates.
        seen.insert(&first.column, first);
        let at = field
            .attrs
            .column
            .as_ref()
            .map_or_else(|| field.ident.to_token_stream(), ToTokens::to_token_stream);
        cx.error_with_help(
            at,
            format!(
                "fields `{}` and `{}` both map to column `{}`",
                first.name, field.name, field.column
            ),
            r#"give one of them its own column with `#[pgrepo(column = "...")]`"#,
        );
    }
}

/// The insert struct must not take the entity's own name.
fn check_new_struct(cx: &Ctxt, entity: &Entity<'_>) {
    if let Some(new_struct) = &entity.attrs.new_struct {
        if new_struct == entity.ident {
            cx.error_with_help(
                new_struct,
                format!(
                    "`new_struct` names the generated insert struct, and `{}` is the entity itself",
                    entity.ident
                ),
                format!(
                    r#"pick another name, e.g. `new_struct = "New{}"`"#,
                    entity.ident
                ),
            );
        }
    }
}

/// What generates an associated constant, for collision messages.
enum ConstSource<'e> {
    Lookup(&'e Field<'e>),
    Relation(&'e Field<'e>),
    Listing(&'e syn::LitStr),
}

impl ConstSource<'_> {
    fn describe(&self) -> String {
        match self {
            Self::Lookup(field) => format!("the lookup by `{}`", field.name),
            Self::Relation(field) => format!("the `{BELONGS_TO}` relation of `{}`", field.name),
            Self::Listing(name) => format!("listing `{}`", name.value()),
        }
    }

    /// Lookups are named by their field; relations and listings can be renamed.
    fn renameable(&self) -> bool {
        !matches!(self, Self::Lookup(_))
    }

    /// Where a collision is reported: where the rename goes.
    fn tokens(&self) -> TokenStream {
        match self {
            Self::Lookup(field) => field.ident.to_token_stream(),
            Self::Relation(field) => match (&field.attrs.relation, &field.attrs.belongs_to) {
                (Some(relation), _) => relation.to_token_stream(),
                (None, Some((key, parent))) => quote::quote!(#key = #parent),
                (None, None) => field.ident.to_token_stream(),
            },
            Self::Listing(name) => name.to_token_stream(),
        }
    }

    /// How to resolve the collision; `taken` holds every generated constant's name.
    fn help(&self, taken: &HashSet<String>) -> String {
        match self {
            Self::Lookup(field) => format!(
                r#"rename the field, or keep its Rust name and set the column: `#[pgrepo(column = "{}")]`"#,
                field.column
            ),
            Self::Relation(field) => {
                let (parent, parent_name) = match &field.attrs.belongs_to {
                    Some((_, parent)) => (
                        tokens_to_source(parent),
                        parent
                            .segments
                            .last()
                            .map_or_else(String::new, |segment| unraw(&segment.ident)),
                    ),
                    None => ("Parent".to_owned(), "Parent".to_owned()),
                };
                let parent_name = RenameRule::Snake.apply(&parent_name);
                let stem = field.name.strip_suffix("_id").unwrap_or(&field.name);
                let mut candidates = vec![parent_name.clone()];
                if stem != parent_name {
                    candidates.push(format!("{stem}_{parent_name}"));
                }
                candidates.push(format!("parent_{parent_name}"));
                let suggestion = candidates
                    .into_iter()
                    .find(|candidate| !taken.contains(&candidate.to_uppercase()))
                    .unwrap_or_else(|| format!("{}_relation", field.name));
                format!(
                    r#"name the relation's constant: `#[pgrepo({BELONGS_TO} = {parent}, {RELATION} = "{suggestion}")]`"#
                )
            }
            Self::Listing(name) => {
                format!(r#"rename the listing, e.g. `name = "by_{}"`"#, name.value())
            }
        }
    }
}

/// The associated constants generated on the entity must have distinct names.
fn check_consts(cx: &Ctxt, entity: &Entity<'_>) {
    // A primary key with `lookup` or `belongs_to` is reported already; its constants are not
    // generated.
    let fields = || entity.fields.iter().filter(|f| f.attrs.id.is_none());
    let mut consts: Vec<(String, ConstSource<'_>)> = Vec::new();
    for field in fields().filter(|f| f.is_lookup()) {
        consts.push((
            field.lookup_const_name().to_uppercase(),
            ConstSource::Lookup(field),
        ));
    }
    for field in fields() {
        if let Some(name) = field.relation_const_name() {
            consts.push((name.to_uppercase(), ConstSource::Relation(field)));
        }
    }
    for listing in &entity.attrs.listings {
        consts.push((
            listing.name.value().to_uppercase(),
            ConstSource::Listing(&listing.name),
        ));
    }

    let taken: HashSet<String> = consts.iter().map(|(name, _)| name.clone()).collect();
    let mut reported = vec![false; consts.len()];
    for later in 0..consts.len() {
        for earlier in 0..later {
            let ((name, a), (other_name, b)) = (&consts[earlier], &consts[later]);
            if name != other_name || reported[earlier] || reported[later] {
                continue;
            }
            if let (ConstSource::Listing(x), ConstSource::Listing(y)) = (a, b) {
                if x.value() == y.value() {
                    cx.error_with_help(
                        y,
                        format!("duplicate listing name `{}`", y.value()),
                        "give every listing its own name",
                    );
                    reported[later] = true;
                    continue;
                }
            }
            // Point at the one that can be renamed, preferring the later one.
            let (at, other, index) = if b.renameable() || !a.renameable() {
                (b, a, later)
            } else {
                (a, b, earlier)
            };
            cx.error_with_help(
                at.tokens(),
                format!(
                    "{} generates the constant `{}::{name}`, which {} generates too",
                    at.describe(),
                    entity.ident,
                    other.describe()
                ),
                at.help(&taken),
            );
            reported[index] = true;
        }
    }
}

/// Reports two variants stored as the same text.
pub(crate) fn check_text_enum(cx: &Ctxt, text_enum: &TextEnum<'_>) {
    for (later, variant) in text_enum.variants.iter().enumerate() {
        let Some(first) = text_enum.variants[..later]
            .iter()
            .find(|earlier| earlier.text == variant.text)
        else {
            continue;
        };
        let at = variant.rename.as_ref().map_or_else(
            || variant.ident.to_token_stream(),
            ToTokens::to_token_stream,
        );
        cx.error_with_help(
            at,
            format!(
                "variants `{}` and `{}` are both stored as \"{}\", so a value read back could not tell them apart",
                first.ident, variant.ident, variant.text
            ),
            format!(
                r#"give `{}` its own text with `#[pgrepo(rename = "...")]`"#,
                variant.ident
            ),
        );
    }
}

/// Reports two fields of an insertable struct that fill the same entity field.
pub(crate) fn check_insertable(cx: &Ctxt, insertable: &Insertable<'_>) {
    for (later, field) in insertable.fields.iter().enumerate() {
        let Some(first) = insertable.fields[..later]
            .iter()
            .find(|earlier| earlier.target == field.target)
        else {
            continue;
        };
        let at = field
            .field_attr
            .as_ref()
            .map_or_else(|| field.ident.to_token_stream(), ToTokens::to_token_stream);
        cx.error_with_help(
            at,
            format!(
                "`{}` and `{}` both fill the entity's field `{}`",
                first.ident, field.ident, field.target
            ),
            format!(
                r#"remove one of them, or point `{}` at another entity field with `#[pgrepo(field = "...")]`"#,
                field.ident
            ),
        );
    }
}
