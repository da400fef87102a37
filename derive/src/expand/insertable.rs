//! `#[derive(Insertable)]` on a caller's own struct (a request body, a borrowed view), and the
//! hidden per-field items `#[derive(Entity)]` gives it to check against.
//!
//! The entity's derive emits a hidden module beside the entity, `__pgrepo_fields_User`, with
//! per field its column index (`const email: usize`) and the names of the fields an insert must
//! provide (`INSERT_FIELDS`), and per field `impl FieldOf<index> for User { type Ty = … }`. The insertable's derive binds each of its fields at the
//! entity field of the same name (or `#[pgrepo(field = "...")]`), so at compile time:
//! - a field the entity does not have is an unknown associated item, at that field;
//! - a field whose type cannot be inserted into the column is a trait error, at that field;
//! - a struct that leaves out a column the database does not fill fails a const assertion.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields, LitStr, Path};

use crate::ast::Entity;

/// The identifier naming field `name` (raw when `name` is a keyword: `r#type`), if any.
fn field_ident(name: &str, span: Span) -> Option<syn::Ident> {
    if let Ok(mut ident) = syn::parse_str::<syn::Ident>(name) {
        ident.set_span(span);
        return Some(ident);
    }
    // A keyword: only a raw identifier names it (and these few cannot be raw).
    let word = name.starts_with(|c: char| c.is_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_alphanumeric() || c == '_');
    (word && !matches!(name, "self" | "Self" | "super" | "crate" | "_"))
        .then(|| syn::Ident::new_raw(name, span))
}

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
/// module `__pgrepo_fields_User { const email: usize = 1; …; const INSERT_FIELDS }` (no types,
/// so it works in any scope, a function body included); in the derive's const block, per field,
/// `impl FieldOf<1> for User { type Ty = String; }` (where the field types resolve).
pub(super) fn entity_fields_module(entity: &Entity<'_>) -> (TokenStream, TokenStream) {
    let ident = entity.ident;
    let module = fields_module(ident);
    let vis = entity.vis;
    let inner = inner_vis(entity.vis);
    let mut consts = Vec::new();
    let mut impls = Vec::new();
    let mut insert_fields = Vec::new();
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
        if field.attrs.generated.is_none() {
            insert_fields.push(name.to_string().trim_start_matches("r#").to_owned());
        }
    }
    let module = quote! {
        #[doc(hidden)]
        #[allow(non_snake_case, non_upper_case_globals, dead_code)]
        #vis mod #module {
            #(#consts)*
            #inner const INSERT_FIELDS: &[&str] = &[#(#insert_fields),*];
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

/// What `#[pgrepo(...)]` says on the insertable struct and its fields.
struct Mapping<'a> {
    field: &'a syn::Ident,
    ty: &'a syn::Type,
    /// The entity field it fills.
    target: String,
    span: Span,
}

/// The value of the one key `key` of `#[pgrepo(...)]` attributes; duplicates and other keys
/// are errors (`expected` completes the latter's message).
fn read_key<T: syn::parse::Parse>(
    attrs: &[syn::Attribute],
    key: &str,
    expected: &str,
    push: &mut impl FnMut(syn::Error),
) -> Option<T> {
    let mut value = None;
    for attr in attrs.iter().filter(|a| a.path().is_ident("pgrepo")) {
        let result = attr.parse_nested_meta(|meta| {
            if !meta.path.is_ident(key) {
                return Err(meta.error(format!("unknown pgrepo attribute {expected}")));
            }
            if value.is_some() {
                return Err(meta.error(format!("duplicate pgrepo attribute `{key}`")));
            }
            value = Some(meta.value()?.parse()?);
            Ok(())
        });
        if let Err(e) = result {
            push(e);
        }
    }
    value
}

/// `#[derive(Insertable)]`.
pub(crate) fn expand(input: &DeriveInput) -> syn::Result<TokenStream> {
    let mut errors: Option<syn::Error> = None;
    let mut push = |e: syn::Error| match &mut errors {
        Some(all) => all.combine(e),
        None => errors = Some(e),
    };
    let entity: Option<Path> = read_key(
        &input.attrs,
        "entity",
        "for `#[derive(Insertable)]`: expected `entity = Type`",
        &mut push,
    );
    let fields = match &input.data {
        Data::Struct(data) => match &data.fields {
            Fields::Named(named) => Some(&named.named),
            _ => None,
        },
        _ => None,
    };
    let Some(fields) = fields else {
        push(syn::Error::new(
            input.ident.span(),
            "`#[derive(Insertable)]` needs a struct with named fields",
        ));
        return Err(errors.expect("just pushed"));
    };
    let mut mappings: Vec<Mapping<'_>> = Vec::new();
    for field in fields {
        let ident = field.ident.as_ref().expect("named fields");
        let target: Option<LitStr> = read_key(
            &field.attrs,
            "field",
            "on a field of `#[derive(Insertable)]`: expected `field = \"entity_field\"`",
            &mut push,
        );
        let (name, span) = match &target {
            Some(lit) => (lit.value(), lit.span()),
            None => (
                ident.to_string().trim_start_matches("r#").to_owned(),
                ident.span(),
            ),
        };
        if field_ident(&name, span).is_none() {
            push(syn::Error::new(
                span,
                format!("`{name}` is not a field name"),
            ));
            continue;
        }
        if let Some(first) = mappings.iter().find(|m| m.target == name) {
            push(syn::Error::new(
                span,
                format!(
                    "`{}` and `{ident}` both fill the entity's field `{name}`",
                    first.field
                ),
            ));
            continue;
        }
        mappings.push(Mapping {
            field: ident,
            ty: &field.ty,
            target: name,
            span,
        });
    }
    let Some(entity) = entity else {
        push(syn::Error::new(
            Span::call_site(),
            "`#[derive(Insertable)]` needs `#[pgrepo(entity = Type)]`: the entity whose table it inserts into",
        ));
        return Err(errors.expect("just pushed"));
    };
    if let Some(errors) = errors {
        return Err(errors);
    }

    let ident = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let fields = fields_module_path(&entity);
    let arms = mappings.iter().map(|m| {
        let name = field_ident(&m.target, m.span).expect("checked above");
        let field = m.field;
        quote_spanned! {m.span=> #fields::#name => &self.#field, }
    });
    let type_checks = mappings.iter().map(|m| {
        let name = field_ident(&m.target, m.span).expect("checked above");
        let field = m.field;
        let check = quote_spanned! {m.ty.span()=> ::pgrepo::__private::assert_insert_type };
        quote_spanned! {m.span=>
            #check(
                ::core::marker::PhantomData::<
                    <#entity as ::pgrepo::__private::FieldOf<{ #fields::#name }>>::Ty,
                >,
                ::pgrepo::__private::phantom_of(&__value.#field),
            );
        }
    });
    let given: Vec<&str> = mappings.iter().map(|m| m.target.as_str()).collect();
    let missing = format!(
        "`{ident}` has no field for a column of its entity that the database does not fill: \
         every field of the entity that is not `generated` needs one (same name, or \
         `#[pgrepo(field = \"...\")]`)"
    );
    Ok(quote! {
        const _: () = {
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
                ::pgrepo::__private::covers(#fields::INSERT_FIELDS, &[#(#given),*]),
                #missing
            );
        };
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn keywords_become_raw_identifiers() {
        let span = proc_macro2::Span::call_site();
        assert_eq!(
            super::field_ident("name", span).unwrap().to_string(),
            "name"
        );
        assert_eq!(
            super::field_ident("type", span).unwrap().to_string(),
            "r#type"
        );
        assert!(super::field_ident("self", span).is_none());
        assert!(super::field_ident("a b", span).is_none());
    }
}
