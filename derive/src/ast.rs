//! The parsed derive inputs: an entity struct with its fields, a text enum with its variants,
//! an insertable struct with the entity fields it fills.
//!
//! Building these reports shape mistakes (an enum where a struct is needed, generics, tuple
//! structs) and reads every attribute and sort key; conflicts between attributes are left to
//! `check.rs`.

use syn::{Attribute, Data, DeriveInput, Fields, Generics, Ident, LitStr, Path, Type, Visibility};

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
            .map(|listing| {
                let name = listing.name.value();
                let origin = Origin::Listing(&name);
                // A sort key that does not resolve is reported; the listing is kept (its
                // constant is still generated by the fallback expansion) with no columns.
                let columns =
                    sort_key::resolve(cx, &listing.order_by, origin, &input.ident, &fields)
                        .unwrap_or_default();
                Listing {
                    name: listing.name.clone(),
                    columns,
                }
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

    /// The name of the generated insert struct: `new_struct`, else `New{Entity}` (also when
    /// `new_struct` names the entity itself, which `check.rs` reports).
    pub(crate) fn new_struct(&self) -> Ident {
        match &self.attrs.new_struct {
            Some(ident) if ident != self.ident => ident.clone(),
            _ => quote::format_ident!("New{}", self.ident),
        }
    }

    /// Index of the primary key field (the first `id`; `check.rs` reports any other count).
    pub(crate) fn primary_key(&self) -> Option<usize> {
        self.fields
            .iter()
            .position(|field| field.attrs.id.is_some())
    }

    /// The fields an insert writes, with their column indexes, in declaration order: those the
    /// database does not fill (not `generated`), except the `tenant` field, which the scope
    /// gives.
    ///
    /// The one place the derive decides it: the insert struct's fields, its `Insertable` impl
    /// and the fields a `#[derive(Insertable)]` must cover all come from here. The library
    /// decides the same from the emitted `ColumnDef` flags (`ColumnDef::is_inserted`), and
    /// `tests/columns.rs` checks that the two agree.
    pub(crate) fn insert_fields(&self) -> impl Iterator<Item = (usize, &Field<'a>)> + '_ {
        self.fields
            .iter()
            .enumerate()
            .filter(|(_, field)| field.attrs.generated.is_none() && field.attrs.tenant.is_none())
    }

    /// Whether the entity has a conflict target for an upsert, so `Upsertable` is implemented:
    /// a `unique` field, or a primary key the caller provides (not `generated`).
    ///
    /// The library picks the target itself from the emitted `ColumnDef` flags (pgrepo's
    /// `conflict_column`); `tests/columns.rs` checks that it finds one exactly when this holds.
    pub(crate) fn has_conflict_target(&self) -> bool {
        let unique = self.fields.iter().any(|field| field.attrs.unique.is_some());
        let provided_key = self
            .primary_key()
            .and_then(|index| self.fields.get(index))
            .is_some_and(|field| field.attrs.generated.is_none());
        unique || provided_key
    }
}

impl Field<'_> {
    /// Whether a typed lookup by this column is generated (`lookup`, `unique`, `belongs_to`).
    pub(crate) fn is_lookup(&self) -> bool {
        self.attrs.lookup.is_some()
            || self.attrs.unique.is_some()
            || self.attrs.belongs_to.is_some()
    }

    /// The column's database type named by `sql_type = "..."`, without a `[]` suffix.
    pub(crate) fn sql_type_name(&self) -> Option<&str> {
        self.attrs.sql_type.as_ref().map(|(_, name)| name.as_str())
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

/// A `#[derive(TextEnum)]` or `#[derive(PgEnum)]` enum.
pub(crate) struct TextEnum<'a> {
    /// The enum's name.
    pub(crate) ident: &'a Ident,
    /// Which derive it is.
    pub(crate) derive: attr::EnumDerive,
    /// `type_name = "plan"` of a `PgEnum` (`None` for a `TextEnum`, or when missing: reported).
    pub(crate) type_name: Option<String>,
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
    /// Reads a text or native enum; `None` when the input is not an enum (reported).
    pub(crate) fn from_ast(
        cx: &Ctxt,
        input: &'a DeriveInput,
        derive: attr::EnumDerive,
    ) -> Option<Self> {
        let derive_name = derive.name();
        let data = match &input.data {
            Data::Enum(data) => data,
            Data::Struct(data) => {
                cx.error_with_help(
                    data.struct_token,
                    format!("`#[derive({derive_name})]` works on enums whose variants have no fields, and this is a struct"),
                    "to map a struct to a table, use `#[derive(Entity)]`",
                );
                return None;
            }
            Data::Union(data) => {
                cx.error_with_help(
                    data.union_token,
                    format!("`#[derive({derive_name})]` works on enums whose variants have no fields, and this is a union"),
                    format!("write `enum {} {{ Active, Archived }}`", input.ident),
                );
                return None;
            }
        };
        if !input.generics.params.is_empty() {
            cx.error_with_help(
                &input.generics,
                match derive {
                    attr::EnumDerive::Text => "generic text enums are not supported",
                    attr::EnumDerive::Native => "generic database enums are not supported",
                },
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
        let attrs = attr::TextEnum::from_ast(cx, &input.attrs, derive);
        if derive == attr::EnumDerive::Native && !attrs.type_name_written {
            cx.error_with_help(
                &input.ident,
                format!(
                    "`#[derive(PgEnum)]` needs the name of the database's enum type that `{}` maps to",
                    input.ident
                ),
                format!(
                    r#"add `#[pgrepo(type_name = "{}")]` above the enum: the type of `CREATE TYPE {} AS ENUM (...)`"#,
                    crate::case::RenameRule::Snake.apply(&unraw(&input.ident)),
                    crate::case::RenameRule::Snake.apply(&unraw(&input.ident)),
                ),
            );
        }
        let variants = data
            .variants
            .iter()
            .map(|variant| {
                if !matches!(variant.fields, Fields::Unit) {
                    cx.error_with_help(
                        &variant.fields,
                        format!(
                            "variant `{}` has fields, and {} stores only which variant it is",
                            variant.ident,
                            match derive {
                                attr::EnumDerive::Text => "a text enum",
                                attr::EnumDerive::Native => "a database enum",
                            }
                        ),
                        format!("remove the fields: `{}`", variant.ident),
                    );
                }
                let variant_attrs = attr::Variant::from_ast(cx, &variant.attrs, derive);
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
            derive,
            type_name: attrs.type_name,
            variants,
        })
    }
}

/// A `#[derive(Insertable)]` struct.
pub(crate) struct Insertable<'a> {
    /// The struct's name.
    pub(crate) ident: &'a Ident,
    /// Its generics (a borrowed view has lifetimes), kept on the impl.
    pub(crate) generics: &'a Generics,
    /// The entity it inserts, `entity = User` (`None` when missing or malformed: reported).
    pub(crate) entity: Option<Path>,
    /// Its fields, in declaration order.
    pub(crate) fields: Vec<InsertableField<'a>>,
}

/// One field of an insertable struct: the entity field it fills.
pub(crate) struct InsertableField<'a> {
    /// The field's identifier, as written.
    pub(crate) ident: &'a Ident,
    /// The field's type.
    pub(crate) ty: &'a Type,
    /// The entity field it fills: `field = "..."`, else its own name (`type` for `r#type`).
    pub(crate) target: String,
    /// Where code naming the target is spanned, and errors about it point: the `field`
    /// string, else the field's identifier.
    pub(crate) target_span: proc_macro2::Span,
    /// `field = "..."`, when given.
    pub(crate) field_attr: Option<LitStr>,
}

impl<'a> Insertable<'a> {
    /// Reads an insertable struct; `None` when it is not a struct with named fields (reported).
    pub(crate) fn from_ast(cx: &Ctxt, input: &'a DeriveInput) -> Option<Self> {
        let example = format!("write `struct {} {{ email: String, ... }}`", input.ident);
        let named = match &input.data {
            Data::Struct(data) => match &data.fields {
                Fields::Named(named) => named,
                Fields::Unnamed(unnamed) => {
                    cx.error_with_help(
                        unnamed,
                        "`#[derive(Insertable)]` needs named fields, one per entity field it fills, and this is a tuple struct",
                        example,
                    );
                    return None;
                }
                Fields::Unit => {
                    cx.error_with_help(
                        &input.ident,
                        "`#[derive(Insertable)]` needs named fields, one per entity field it fills, and this is a unit struct",
                        example,
                    );
                    return None;
                }
            },
            Data::Enum(data) => {
                cx.error_with_help(
                    data.enum_token,
                    "`#[derive(Insertable)]` works on structs, and this is an enum",
                    example,
                );
                return None;
            }
            Data::Union(data) => {
                cx.error_with_help(
                    data.union_token,
                    "`#[derive(Insertable)]` works on structs, and this is a union",
                    example,
                );
                return None;
            }
        };
        let attrs = attr::Insertable::from_ast(cx, &input.attrs);
        if attrs.entity.is_none() && !attrs.entity_written {
            cx.error_with_help(
                &input.ident,
                format!("`{}` does not name the entity it inserts", input.ident),
                "add `#[pgrepo(entity = User)]` above the struct, with the entity whose table it fills",
            );
        }
        let fields = named
            .named
            .iter()
            .filter_map(|field| {
                // Named fields always have an identifier; the filter only avoids an unwrap.
                let ident = field.ident.as_ref()?;
                let attrs = attr::InsertableField::from_ast(cx, &field.attrs);
                let (target, target_span) = match &attrs.field {
                    Some(lit) => (lit.value(), lit.span()),
                    None => (unraw(ident), ident.span()),
                };
                Some(InsertableField {
                    ident,
                    ty: &field.ty,
                    target,
                    target_span,
                    field_attr: attrs.field,
                })
            })
            .collect();
        Some(Self {
            ident: &input.ident,
            generics: &input.generics,
            entity: attrs.entity,
            fields,
        })
    }
}
