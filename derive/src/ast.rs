//! The parsed derive inputs: an entity struct with its fields, a text enum with its variants.
//!
//! Building these reports shape mistakes (an enum where a struct is needed, generics, tuple
//! structs) and reads every attribute and sort key; conflicts between attributes are left to
//! `check.rs`.

use syn::{Attribute, Data, DeriveInput, Fields, Ident, LitStr, Type, Visibility};

use crate::attr;
use crate::ctxt::Ctxt;
use crate::names::{option_inner, unraw};
use crate::sort_key::{self, Origin, SortColumn};

/// A `#[derive(Entity)]` struct.
pub(crate) struct Entity<'a> {
    /// The struct's name.
    pub(crate) ident: &'a Ident,
    /// The struct's visibility, given to the insert struct and the generated constants.
    pub(crate) vis: &'a Visibility,
    /// Its `#[pgrepo(...)]` attributes.
    pub(crate) attrs: attr::Entity,
    /// Its fields, in declaration order (= column order).
    pub(crate) fields: Vec<Field<'a>>,
    /// The resolved `order_by` (empty when absent).
    pub(crate) default_order: Vec<SortColumn>,
    /// The resolved listings, in order.
    pub(crate) listings: Vec<Listing>,
}

/// One field of an entity: one column.
pub(crate) struct Field<'a> {
    /// The field's identifier, as written (`r#type`).
    pub(crate) ident: &'a Ident,
    /// The field's name (`type` for `r#type`).
    pub(crate) name: String,
    /// The column's name: `column = "..."`, else the field's name.
    pub(crate) column: String,
    /// The field's visibility, kept on the insert struct.
    pub(crate) vis: &'a Visibility,
    /// The field's type.
    pub(crate) ty: &'a Type,
    /// `T` when the type is `Option<T>` (a nullable column).
    pub(crate) option_inner: Option<&'a Type>,
    /// The field's doc comments, kept on the insert struct.
    pub(crate) docs: Vec<&'a Attribute>,
    /// Its `#[pgrepo(...)]` attributes.
    pub(crate) attrs: attr::Field,
}

/// A named sort key declared with `listing(...)`.
pub(crate) struct Listing {
    /// The listing's name.
    pub(crate) name: LitStr,
    /// Its resolved sort key.
    pub(crate) columns: Vec<SortColumn>,
}

impl<'a> Entity<'a> {
    /// Reads an entity; `None` when the input is not a struct with named fields (reported).
    pub(crate) fn from_ast(cx: &Ctxt, input: &'a DeriveInput) -> Option<Self> {
        let named = match &input.data {
            Data::Struct(data) => match &data.fields {
                Fields::Named(named) => named,
                Fields::Unnamed(unnamed) => {
                    cx.error_with_help(
                        unnamed,
                        "`#[derive(Entity)]` needs named fields, one per column, and this is a tuple struct",
                        format!("write `struct {} {{ id: i64, ... }}`", input.ident),
                    );
                    return None;
                }
                Fields::Unit => {
                    cx.error_with_help(
                        &input.ident,
                        "`#[derive(Entity)]` needs named fields, one per column, and this is a unit struct",
                        format!("write `struct {} {{ id: i64, ... }}`", input.ident),
                    );
                    return None;
                }
            },
            Data::Enum(data) => {
                cx.error_with_help(
                    data.enum_token,
                    "`#[derive(Entity)]` works on structs, and this is an enum",
                    "to store an enum in a text column, use `#[derive(TextEnum)]`",
                );
                return None;
            }
            Data::Union(data) => {
                cx.error_with_help(
                    data.union_token,
                    "`#[derive(Entity)]` works on structs, and this is a union",
                    format!("write `struct {} {{ id: i64, ... }}`", input.ident),
                );
                return None;
            }
        };
        if !input.generics.params.is_empty() {
            cx.error_with_help(
                &input.generics,
                "generic entities are not supported: an entity maps to one table with fixed column types",
                "remove the generic parameters, or derive `Entity` on a concrete struct per table",
            );
        }

        let attrs = attr::Entity::from_ast(cx, &input.attrs);
        if attrs.table.is_none() && !attrs.table_written {
            cx.error_with_help(
                &input.ident,
                format!("`{}` has no table name", input.ident),
                format!(
                    r#"add `#[pgrepo(table = "...")]` above the struct, e.g. `#[pgrepo(table = "{}")]`"#,
                    crate::case::RenameRule::Snake.apply(&unraw(&input.ident))
                ),
            );
        }

        let fields: Vec<Field<'a>> = named
            .named
            .iter()
            .filter_map(|field| {
                // Named fields always have an identifier; the filter only avoids an unwrap.
                let ident = field.ident.as_ref()?;
                let attrs = attr::Field::from_ast(cx, &field.attrs);
                let name = unraw(ident);
                let column = attrs
                    .column
                    .as_ref()
                    .map_or_else(|| name.clone(), LitStr::value);
                Some(Field {
                    ident,
                    name,
                    column,
                    vis: &field.vis,
                    ty: &field.ty,
                    option_inner: option_inner(&field.ty),
                    docs: field
                        .attrs
                        .iter()
                        .filter(|attr| attr.path().is_ident("doc"))
                        .collect(),
                    attrs,
                })
            })
            .collect();

        let default_order = attrs
            .order_by
            .as_ref()
            .and_then(|lit| sort_key::resolve(cx, lit, Origin::Default, &input.ident, &fields))
            .unwrap_or_default();
        let listings = attrs
            .listings
            .iter()
            .filter_map(|listing| {
                let name = listing.name.value();
                let origin = Origin::Listing(&name);
                let columns =
                    sort_key::resolve(cx, &listing.order_by, origin, &input.ident, &fields)?;
                Some(Listing {
                    name: listing.name.clone(),
                    columns,
                })
            })
            .collect();

        Some(Self {
            ident: &input.ident,
            vis: &input.vis,
            attrs,
            fields,
            default_order,
            listings,
        })
    }

    /// The name of the generated insert struct: `new_struct`, else `New{Entity}`.
    pub(crate) fn new_struct(&self) -> Ident {
        match &self.attrs.new_struct {
            Some(ident) => ident.clone(),
            None => quote::format_ident!("New{}", self.ident),
        }
    }

    /// Index of the primary key field (the first `id`; `check.rs` reports any other count).
    pub(crate) fn primary_key(&self) -> Option<usize> {
        self.fields
            .iter()
            .position(|field| field.attrs.id.is_some())
    }
}

impl Field<'_> {
    /// Whether a typed lookup by this column is generated (`lookup`, `unique`, `belongs_to`).
    pub(crate) fn is_lookup(&self) -> bool {
        self.attrs.lookup.is_some()
            || self.attrs.unique.is_some()
            || self.attrs.belongs_to.is_some()
    }

    /// The name of the lookup constant, before upper-casing: the field's name.
    pub(crate) fn lookup_const_name(&self) -> &str {
        &self.name
    }

    /// The name of the relation constant, before upper-casing: `relation = "..."`, else the
    /// field's name without a trailing `_id`. `None` unless the field is a `belongs_to`.
    pub(crate) fn relation_const_name(&self) -> Option<String> {
        self.attrs.belongs_to.as_ref()?;
        Some(match &self.attrs.relation {
            Some(relation) => relation.value(),
            None => self
                .name
                .strip_suffix("_id")
                .filter(|stem| !stem.is_empty())
                .unwrap_or(&self.name)
                .to_owned(),
        })
    }
}

/// A `#[derive(TextEnum)]` enum.
pub(crate) struct TextEnum<'a> {
    /// The enum's name.
    pub(crate) ident: &'a Ident,
    /// Its variants, in declaration order.
    pub(crate) variants: Vec<Variant<'a>>,
}

/// One variant of a text enum.
pub(crate) struct Variant<'a> {
    /// The variant's identifier.
    pub(crate) ident: &'a Ident,
    /// The text stored for it.
    pub(crate) text: String,
    /// `rename = "..."`, when given (errors about the text point at it).
    pub(crate) rename: Option<LitStr>,
}

impl<'a> TextEnum<'a> {
    /// Reads a text enum; `None` when the input is not an enum (reported).
    pub(crate) fn from_ast(cx: &Ctxt, input: &'a DeriveInput) -> Option<Self> {
        let data = match &input.data {
            Data::Enum(data) => data,
            Data::Struct(data) => {
                cx.error_with_help(
                    data.struct_token,
                    "`#[derive(TextEnum)]` works on enums whose variants have no fields, and this is a struct",
                    "to map a struct to a table, use `#[derive(Entity)]`",
                );
                return None;
            }
            Data::Union(data) => {
                cx.error_with_help(
                    data.union_token,
                    "`#[derive(TextEnum)]` works on enums whose variants have no fields, and this is a union",
                    format!("write `enum {} {{ Active, Archived }}`", input.ident),
                );
                return None;
            }
        };
        if !input.generics.params.is_empty() {
            cx.error_with_help(
                &input.generics,
                "generic text enums are not supported",
                "remove the generic parameters",
            );
        }
        if data.variants.is_empty() {
            cx.error_with_help(
                &input.ident,
                format!(
                    "`{}` has no variants, so no text could be stored",
                    input.ident
                ),
                format!(
                    "add the variants, e.g. `enum {} {{ Active, Archived }}`",
                    input.ident
                ),
            );
        }
        let attrs = attr::TextEnum::from_ast(cx, &input.attrs);
        let variants = data
            .variants
            .iter()
            .map(|variant| {
                if !matches!(variant.fields, Fields::Unit) {
                    cx.error_with_help(
                        &variant.fields,
                        format!(
                            "variant `{}` has fields, and a text enum stores only which variant it is",
                            variant.ident
                        ),
                        format!("remove the fields: `{}`", variant.ident),
                    );
                }
                let variant_attrs = attr::Variant::from_ast(cx, &variant.attrs);
                let name = unraw(&variant.ident);
                let text = match (&variant_attrs.rename, &attrs.rename_all) {
                    (Some(rename), _) => rename.value(),
                    (None, Some((rule, _))) => rule.apply(&name),
                    (None, None) => name,
                };
                Variant {
                    ident: &variant.ident,
                    text,
                    rename: variant_attrs.rename,
                }
            })
            .collect();
        Some(Self {
            ident: &input.ident,
            variants,
        })
    }
}
