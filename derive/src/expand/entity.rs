//! `#[derive(Entity)]`: the `Entity` and `FromRow` impls, and the assembly of every generated
//! part. The SQL itself is built by the runtime from `Entity::columns()`, so this stays small.

use proc_macro2::{Literal, TokenStream};
use quote::{quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::DeriveInput;

use super::{consts, insert};
use crate::ast::{Entity, Field};
use crate::check;
use crate::ctxt::Ctxt;
use crate::names::tokens_to_source;
use crate::sort_key::{Direction, SortColumn};

/// Everything `#[derive(Entity)]` generates for `input`, preceded by every mistake in it.
///
/// With mistakes, the expansion is the fallback: generated from what could be read, so the
/// insert struct, the impls and the constants that the rest of the crate uses still exist and
/// only the mistakes are reported, not every use of a generated item. Nothing is generated for
/// an input that is not a struct with named fields, or is generic: no impl could fit it.
pub(super) fn expand(input: &DeriveInput) -> TokenStream {
    let cx = Ctxt::new();
    let expansion = Entity::from_ast(&cx, input).map(|entity| {
        check::check_entity(&cx, &entity);
        if input.generics.params.is_empty() {
            generate(&cx, &entity)
        } else {
            TokenStream::new()
        }
    });
    cx.finish(expansion.unwrap_or_default())
}

/// The items of an entity: right for an input `check.rs` found no mistake in, and compilable
/// for any other (the fallback).
fn generate(cx: &Ctxt, entity: &Entity<'_>) -> TokenStream {
    let primary_key = PrimaryKey::of(entity);
    let new_struct = insert::new_struct(entity);
    let entity_impl = entity_impl(entity, primary_key.as_ref());
    let from_row_impl = from_row_impl(entity);
    let insertable_impl = insert::insertable_impl(entity);
    let upsertable_impl = insert::upsertable_impl(entity);
    let inherent_consts = consts::inherent_consts(cx, entity);
    let foreign_key_checks = consts::foreign_key_checks(entity);
    let (fields_module, field_types) = super::insertable::entity_fields_module(entity);

    quote! {
        #new_struct
        const _: () = {
            #entity_impl
            #from_row_impl
            #insertable_impl
            #upsertable_impl
            #inherent_consts
            #foreign_key_checks
            #field_types
        };
        #fields_module
    }
}

/// The primary key field and its index.
pub(super) struct PrimaryKey<'f, 'a> {
    pub(super) index: usize,
    pub(super) field: &'f Field<'a>,
}

impl<'f, 'a> PrimaryKey<'f, 'a> {
    /// The first `id` field; `None` only for an input with a mistake (`check.rs` reports it).
    fn of(entity: &'f Entity<'a>) -> Option<Self> {
        let index = entity.primary_key()?;
        let field = entity.fields.get(index)?;
        Some(Self { index, field })
    }
}

/// `impl ::pgrepo::Entity for User`.
///
/// In the fallback, a missing table is `""`, and without a usable primary key (none, or an
/// `Option`) the key's methods are `unreachable!()`: they can never run, as the crate does not
/// compile.
fn entity_impl(entity: &Entity<'_>, primary_key: Option<&PrimaryKey<'_, '_>>) -> TokenStream {
    let ident = entity.ident;
    let new_struct = entity.new_struct();
    let unreachable = quote!(::core::unreachable!());
    let (id_ty, id_body, pk_body) = match primary_key {
        Some(pk) if pk.field.option_inner.is_none() => {
            let id_ident = pk.field.ident;
            let index = Literal::usize_unsuffixed(pk.index);
            (
                pk.field.ty.to_token_stream(),
                quote!(&self.#id_ident),
                quote!(#index),
            )
        }
        Some(pk) => {
            let inner = pk.field.option_inner.map(ToTokens::to_token_stream);
            (inner.unwrap_or_default(), unreachable.clone(), unreachable)
        }
        None => (quote!(i64), unreachable.clone(), unreachable),
    };
    let table = match &entity.attrs.table {
        Some(table) => table.to_token_stream(),
        None => quote!(""),
    };
    let schema = match &entity.attrs.schema {
        Some(schema) => quote!(::core::option::Option::Some(#schema)),
        None => quote!(::core::option::Option::None),
    };
    let column_count = Literal::usize_unsuffixed(entity.fields.len());
    let primary_key_index = primary_key.map(|pk| pk.index);
    let column_defs = entity
        .fields
        .iter()
        .enumerate()
        .map(|(index, field)| column_def(field, Some(index) == primary_key_index));
    let default_order = sort_columns(&entity.default_order);
    let listings = entity.listings.iter().map(|listing| {
        let name = listing.name.value();
        let columns = sort_columns(&listing.columns);
        quote!(::pgrepo::SortKey::__new(#name, #columns))
    });
    let param_arms = entity
        .fields
        .iter()
        .enumerate()
        .map(|(index, field)| param_arm(index, field));

    quote! {
        #[automatically_derived]
        impl ::pgrepo::Entity for #ident {
            type Id = #id_ty;
            type New = #new_struct;
            const TABLE: &'static str = #table;
            const SCHEMA: ::core::option::Option<&'static str> = #schema;

            fn columns() -> &'static [::pgrepo::ColumnDef] {
                static __COLUMNS: ::pgrepo::__private::LazyLock<[::pgrepo::ColumnDef; #column_count]> =
                    ::pgrepo::__private::LazyLock::new(|| [#(#column_defs),*]);
                &*__COLUMNS
            }

            fn primary_key() -> usize {
                #pk_body
            }

            fn default_order() -> &'static [(usize, ::pgrepo::Direction)] {
                #default_order
            }

            fn listings() -> &'static [::pgrepo::SortKey<Self>] {
                const __LISTINGS: &[::pgrepo::SortKey<#ident>] = &[#(#listings),*];
                __LISTINGS
            }

            fn id(&self) -> &#id_ty {
                #id_body
            }

            fn param(&self, column: usize) -> &(dyn ::pgrepo::__private::ToSql + Sync) {
                match column {
                    #(#param_arms)*
                    __other => ::pgrepo::__private::no_such_column(<Self as ::pgrepo::Entity>::TABLE, __other),
                }
            }

            fn statements() -> &'static ::pgrepo::__private::EntityStatements {
                static __STATEMENTS: ::pgrepo::__private::OnceLock<::pgrepo::__private::EntityStatements> =
                    ::pgrepo::__private::OnceLock::new();
                __STATEMENTS.get_or_init(::pgrepo::__private::EntityStatements::new::<#ident>)
            }
        }
    }
}

/// `1 => &self.email,`: spanned at the field's type, where a type that is not `ToSql + Sync`
/// is then reported.
pub(super) fn param_arm(index: usize, field: &Field<'_>) -> TokenStream {
    let index = Literal::usize_unsuffixed(index);
    let ident = field.ident;
    quote_spanned!(field.ty.span()=> #index => &self.#ident,)
}

/// One `::pgrepo::ColumnDef { ... }`. The type's trait items are spanned at the field's type,
/// so an unsupported type is reported there.
fn column_def(field: &Field<'_>, primary_key: bool) -> TokenStream {
    let ty = field.ty;
    let column = &field.column;
    let name = &field.name;
    let rust_type = tokens_to_source(ty);
    let generated = field.attrs.generated.is_some();
    let lookup = field.is_lookup();
    let unique = field.attrs.unique.is_some();
    let tenant = field.attrs.tenant.is_some();
    let sql_type = quote_spanned!(ty.span()=> <#ty as ::pgrepo::SqlType>);
    let from_sql = quote_spanned!(ty.span()=> <#ty as ::pgrepo::__private::FromSql<'static>>);
    let param_type = match field.sql_type_name() {
        Some(name) => quote! {
            ::pgrepo::__private::param_type_named(#name, #sql_type::PARAM_TYPE)
        },
        None => quote!(#sql_type::PARAM_TYPE),
    };
    quote! {
        {
            let __param_type: ::pgrepo::ParamType = #param_type;
            ::pgrepo::ColumnDef {
                name: #column,
                field: #name,
                rust_type: #rust_type,
                param_type: __param_type,
                pg_type: __param_type.declared_type(),
                array_type: __param_type.declared_array_type(),
                nullable: #sql_type::NULLABLE,
                primary_key: #primary_key,
                generated: #generated,
                lookup: #lookup,
                unique: #unique,
                tenant: #tenant,
                accepts: #from_sql::accepts,
                enum_labels: #sql_type::ENUM_LABELS,
            }
        }
    }
}

/// `&[(5, ::pgrepo::Direction::Desc), ...]`.
pub(super) fn sort_columns(columns: &[SortColumn]) -> TokenStream {
    let columns = columns.iter().map(|column| {
        let index = Literal::usize_unsuffixed(column.field);
        let direction = match column.direction {
            Direction::Asc => quote!(::pgrepo::Direction::Asc),
            Direction::Desc => quote!(::pgrepo::Direction::Desc),
        };
        quote!((#index, #direction))
    });
    quote!(&[#(#columns),*])
}

/// `impl ::pgrepo::FromRow for User`: every field decoded by position from `__offset` (the
/// library's own statements), or from the result columns a hand-written query's names resolved
/// to (`__indexes`, one per field in declaration order).
fn from_row_impl(entity: &Entity<'_>) -> TokenStream {
    let ident = entity.ident;
    let column_count = Literal::usize_unsuffixed(entity.fields.len());
    let fields_at = |column: &dyn Fn(&Literal) -> TokenStream| {
        let fields = entity.fields.iter().enumerate().map(|(index, field)| {
            let index = Literal::usize_unsuffixed(index);
            let ident = field.ident;
            let column = column(&index);
            // Spanned at the type, where a type that is not `FromSql` is then reported.
            let get = quote_spanned! {field.ty.span()=>
                ::pgrepo::__private::get(
                    __row,
                    #column,
                    <Self as ::pgrepo::Entity>::TABLE,
                    &__columns[#index],
                )
            };
            quote!(#ident: #get?,)
        });
        quote! {
            let __columns = <Self as ::pgrepo::Entity>::columns();
            ::core::result::Result::Ok(#ident {
                #(#fields)*
            })
        }
    };
    let by_position = fields_at(&|index| quote!(__offset + #index));
    let by_name = fields_at(&|index| quote!(__indexes[#index]));
    quote! {
        #[automatically_derived]
        impl ::pgrepo::FromRow for #ident {
            const COLUMN_COUNT: usize = #column_count;

            fn from_row_at(
                __row: &::pgrepo::__private::Row,
                __offset: usize,
            ) -> ::core::result::Result<Self, ::pgrepo::Error> {
                #by_position
            }

            fn resolve_columns(__columns: &mut ::pgrepo::__private::Resolver<'_>) {
                ::pgrepo::__private::resolve_entity::<Self>(__columns)
            }

            fn from_row_mapped(
                __row: &::pgrepo::__private::Row,
                __indexes: &[usize],
            ) -> ::core::result::Result<Self, ::pgrepo::Error> {
                #by_name
            }
        }
    }
}
