//! The associated constants of `#[derive(Entity)]`: typed lookups, `belongs_to` relations and
//! listing sort keys, plus the compile-time check that a foreign key has its parent's key type.

use std::collections::HashSet;

use proc_macro2::{Literal, Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::Ident;

use super::entity::sort_columns;
use crate::ast::Entity;
use crate::ctxt::Ctxt;
use crate::names::{const_ident, tokens_to_source};

/// The constants of one entity, each generated once: `check.rs` reports two constants of one
/// name, and the fallback expansion keeps the first.
struct Consts<'c> {
    cx: &'c Ctxt,
    names: HashSet<String>,
    items: Vec<TokenStream>,
}

impl Consts<'_> {
    /// Adds the constant `name` (upper-cased) built by `item`, unless one is named so already.
    fn push(&mut self, name: &str, span: Span, item: impl FnOnce(Ident) -> TokenStream) {
        match const_ident(name, span) {
            Ok(ident) => {
                if self.names.insert(ident.to_string()) {
                    self.items.push(item(ident));
                }
            }
            Err(error) => self.cx.syn_error(error),
        }
    }
}

/// `impl User { pub const EMAIL: ...; pub const TEAM: ...; pub const BY_NAME: ...; }`, or
/// nothing when there is no constant to generate.
pub(super) fn inherent_consts(cx: &Ctxt, entity: &Entity<'_>) -> TokenStream {
    let ident = entity.ident;
    let vis = entity.vis;
    let table = qualified_table(entity);
    let mut consts = Consts {
        cx,
        names: HashSet::new(),
        items: Vec::new(),
    };

    for (index, field) in entity.fields.iter().enumerate() {
        if !field.is_lookup() {
            continue;
        }
        let ty = field.ty;
        let column = Literal::usize_unsuffixed(index);
        let doc = format!(" Typed lookup by `{table}.{}`.", field.column);
        let key = quote_spanned!(ty.span()=> <#ty as ::pgrepo::SqlType>::NonNull);
        consts.push(field.lookup_const_name(), field.ident.span(), |name| {
            quote! {
                #[doc = #doc]
                #vis const #name: ::pgrepo::Lookup<#ident, #key> = ::pgrepo::Lookup::__new(#column);
            }
        });
    }

    for (index, field) in entity.fields.iter().enumerate() {
        let (Some(relation), Some((_, parent))) =
            (field.relation_const_name(), &field.attrs.belongs_to)
        else {
            continue;
        };
        let span = match &field.attrs.relation {
            Some(lit) => lit.span(),
            None => field.ident.span(),
        };
        let field_ident = field.ident;
        let column = Literal::usize_unsuffixed(index);
        // Spanned at the parent's path: with the foreign-key type check, a key of the wrong
        // type is reported at the attribute.
        let key_of = quote_spanned! {parent.span()=>
            ::pgrepo::BelongsTo::<#ident, #parent>::__new(
                #column,
                |__row: &#ident| ::pgrepo::__private::AsKey::as_key(&__row.#field_ident),
            )
        };
        let doc = format!(
            " The `{table}.{} -> {}` relation.",
            field.column,
            tokens_to_source(parent)
        );
        consts.push(&relation, span, |name| {
            quote! {
                #[doc = #doc]
                #vis const #name: ::pgrepo::BelongsTo<#ident, #parent> =
                    #key_of;
            }
        });
    }

    let primary_key = entity.primary_key();
    for listing in &entity.listings {
        let listing_name = listing.name.value();
        let described: Vec<String> = listing
            .columns
            .iter()
            .filter_map(|column| {
                let field = entity.fields.get(column.field)?;
                Some(format!("{} {}", field.name, column.direction.as_str()))
            })
            .collect();
        let tiebreaker = if listing.columns.iter().any(|c| Some(c.field) == primary_key) {
            ""
        } else {
            " (the primary key is the tiebreaker)"
        };
        let doc = format!(
            " Listing sort key `{listing_name}`: {}{tiebreaker}.",
            described.join(", ")
        );
        let columns = sort_columns(&listing.columns);
        consts.push(&listing_name, listing.name.span(), |name| {
            quote! {
                #[doc = #doc]
                #vis const #name: ::pgrepo::SortKey<#ident> = ::pgrepo::SortKey::__new(#listing_name, #columns);
            }
        });
    }

    let consts = consts.items;
    if consts.is_empty() {
        return TokenStream::new();
    }
    quote! {
        #[automatically_derived]
        impl #ident {
            #(#consts)*
        }
    }
}

/// For every `belongs_to`: the foreign key's type (without `Option`) must be the parent's
/// `Id`. Spanned at the parent's path, where a mismatch is then reported.
pub(super) fn foreign_key_checks(entity: &Entity<'_>) -> TokenStream {
    entity
        .fields
        .iter()
        .filter_map(|field| {
            let (_, parent) = field.attrs.belongs_to.as_ref()?;
            let ty = field.ty;
            Some(quote_spanned! {parent.span()=>
                const _: fn() = || {
                    ::pgrepo::__private::assert_foreign_key_type::<
                        <#ty as ::pgrepo::SqlType>::NonNull,
                        <#parent as ::pgrepo::Entity>::Id,
                    >();
                };
            })
        })
        .collect()
}

/// `users`, or `app.users` when a schema is declared: how doc comments name the table.
fn qualified_table(entity: &Entity<'_>) -> String {
    let table = entity
        .attrs
        .table
        .as_ref()
        .map(|table| table.value())
        .unwrap_or_default();
    match &entity.attrs.schema {
        Some(schema) => format!("{}.{table}", schema.value()),
        None => table,
    }
}
