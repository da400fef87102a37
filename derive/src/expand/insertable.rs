//! `#[derive(Insertable)]` on a caller's own struct (a request body, a borrowed view), and the
//! hidden per-field items `#[derive(Entity)]` gives it to check against.
//!
//! The entity's derive emits a hidden module beside the entity, `__pgrepo_fields_User`, with
//! per field its column index (`const email: usize`) and the indexes of the columns an insert
//! must fill (`INSERT_COLUMNS`), and per field `impl FieldOf<index> for User { type Ty = … }`.
//! The insertable's derive resolves each of its fields to the column of the entity field of the
//! same name (or `#[pgrepo(field = "...")]`) once, in a constant, so at compile time:
//! - a field the entity does not have is one unknown-value error, at that field;
//! - a field whose type cannot be inserted into the column is a trait error, at that field;
//! - a struct that leaves out a column the database does not fill fails a const assertion.
//!
//! Attribute mistakes are read and reported by the front end (`ast.rs`, `attr/insertable.rs`,
//! `check.rs`) like the entity's.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{DeriveInput, Path};

use crate::ast::{Entity, Insertable};
use crate::check;
use crate::ctxt::Ctxt;
use crate::names::field_ident;

/// `__pgrepo_fields_User`: the hidden module beside an entity naming its fields.
fn fields_module(entity: &syn::Ident) -> syn::Ident {
    format_ident!("__pgrepo_fields_{}", entity)
}

/// The entity's visibility as seen from inside its fields module (one level deeper).
fn inner_vis(vis: &syn::Visibility) -> TokenStream {
    match vis {
        syn::Visibility::Public(_) => quote!(pub),
        syn::Visibility::Inherited => quote!(pub(super)),
        syn::Visibility::Restricted(r) if r.path.is_ident("crate") => quote!(pub(crate)),
        syn::Visibility::Restricted(r) if r.path.is_ident("super") && r.in_token.is_none() => {
            quote!(pub(in super::super))
        }
        syn::Visibility::Restricted(_) => quote!(pub(crate)),
    }
}

/// Hidden items naming an entity's fields for `#[derive(Insertable)]`: beside the entity, the
/// module `__pgrepo_fields_User { const email: usize = 1; …; const INSERT_COLUMNS }` (no types,
/// so it works in any scope, a function body included); in the derive's const block, per field,
/// `impl FieldOf<1> for User { type Ty = String; }` (where the field types resolve).
pub(super) fn entity_fields_module(entity: &Entity<'_>) -> (TokenStream, TokenStream) {
    let ident = entity.ident;
    let module = fields_module(ident);
    let vis = entity.vis;
    let inner = inner_vis(entity.vis);
    let mut consts = Vec::new();
    let mut impls = Vec::new();
    for (index, field) in entity.fields.iter().enumerate() {
        let name = field.ident;
        let ty = field.ty;
        let index = proc_macro2::Literal::usize_unsuffixed(index);
        consts.push(quote!(#inner const #name: usize = #index;));
        impls.push(quote! {
            #[automatically_derived]
            impl ::pgrepo::__private::FieldOf<#index> for #ident {
                type Ty = #ty;
            }
        });
    }
    let insert_columns = entity
        .insert_fields()
        .map(|(index, _)| proc_macro2::Literal::usize_unsuffixed(index));
    let module = quote! {
        #[doc(hidden)]
        #[allow(non_snake_case, non_upper_case_globals, dead_code)]
        #vis mod #module {
            #(#consts)*
            #inner const INSERT_COLUMNS: &[usize] = &[#(#insert_columns),*];
        }
    };
    (module, quote!(#(#impls)*))
}

/// The path of the fields module of the entity at `entity` (`a::User` -> `a::__pgrepo_fields_User`).
fn fields_module_path(entity: &Path) -> Path {
    let mut path = entity.clone();
    if let Some(last) = path.segments.last_mut() {
        last.ident = fields_module(&last.ident);
        last.arguments = syn::PathArguments::None;
    }
    path
}

/// Everything `#[derive(Insertable)]` generates for `input`, preceded by every mistake in it.
///
/// With mistakes, and an entity to name, the expansion is the fallback: the `Insertable` impl
/// with a `param` that cannot run, so the code inserting this struct still compiles and only
/// the mistakes are reported.
pub(crate) fn expand(input: &DeriveInput) -> TokenStream {
    let cx = Ctxt::new();
    let Some(insertable) = Insertable::from_ast(&cx, input) else {
        return cx.finish(TokenStream::new());
    };
    check::check_insertable(&cx, &insertable);
    let expansion = match &insertable.entity {
        Some(entity) if cx.has_errors() => fallback(&insertable, entity),
        Some(entity) => generate(&insertable, entity),
        None => TokenStream::new(),
    };
    cx.finish(expansion)
}

/// The impl and its compile-time checks, for an input without mistakes.
fn generate(insertable: &Insertable<'_>, entity: &Path) -> TokenStream {
    let ident = insertable.ident;
    let (impl_generics, ty_generics, where_clause) = insertable.generics.split_for_impl();
    let fields = fields_module_path(entity);
    // Each field's column, resolved once: an entity field that does not exist is one error.
    let columns: Vec<syn::Ident> = (0..insertable.fields.len())
        .map(|index| format_ident!("__COLUMN_{}", index))
        .collect();
    let column_consts = insertable
        .fields
        .iter()
        .zip(&columns)
        .map(|(field, column)| {
            // `from_ast` keeps only targets that an identifier names.
            let name = field_ident(&field.target, field.target_span);
            quote_spanned! {field.target_span=> const #column: usize = #fields::#name; }
        });
    let arms = insertable
        .fields
        .iter()
        .zip(&columns)
        .map(|(field, column)| {
            let ident = field.ident;
            quote_spanned! {field.target_span=> #column => &self.#ident, }
        });
    let type_checks = insertable
        .fields
        .iter()
        .zip(&columns)
        .map(|(field, column)| {
            let ident = field.ident;
            let check = quote_spanned! {field.ty.span()=> ::pgrepo::__private::assert_insert_type };
            quote_spanned! {field.target_span=>
                #check(
                    ::core::marker::PhantomData::<
                        <#entity as ::pgrepo::__private::FieldOf<{ #column }>>::Ty,
                    >,
                    ::pgrepo::__private::phantom_of(&__value.#ident),
                );
            }
        });
    let missing = format!(
        "`{ident}` has no field for a column of its entity that the database does not fill: \
         every field of the entity that is not `generated` needs one (same name, or \
         `#[pgrepo(field = \"...\")]`)"
    );
    quote! {
        const _: () = {
            #(#column_consts)*

            #[automatically_derived]
            impl #impl_generics ::pgrepo::Insertable for #ident #ty_generics #where_clause {
                type Entity = #entity;

                fn param(&self, column: usize) -> &(dyn ::pgrepo::__private::ToSql + Sync) {
                    match column {
                        #(#arms)*
                        __other => ::pgrepo::__private::no_such_column(
                            <#entity as ::pgrepo::Entity>::TABLE,
                            __other,
                        ),
                    }
                }
            }

            #[allow(dead_code)]
            fn __pgrepo_check #impl_generics (__value: &#ident #ty_generics) #where_clause {
                #(#type_checks)*
            }

            ::core::assert!(
                ::pgrepo::__private::covers(#fields::INSERT_COLUMNS, &[#(#columns),*]),
                #missing
            );
        };
    }
}

/// The impl alone, with a `param` that cannot run (the crate does not compile), for an input
/// with mistakes.
fn fallback(insertable: &Insertable<'_>, entity: &Path) -> TokenStream {
    let ident = insertable.ident;
    let (impl_generics, ty_generics, where_clause) = insertable.generics.split_for_impl();
    quote! {
        const _: () = {
            #[automatically_derived]
            impl #impl_generics ::pgrepo::Insertable for #ident #ty_generics #where_clause {
                type Entity = #entity;

                fn param(&self, __column: usize) -> &(dyn ::pgrepo::__private::ToSql + Sync) {
                    ::core::unreachable!()
                }
            }
        };
    }
}
