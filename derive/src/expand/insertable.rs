//! `#[derive(Insertable)]` on a caller's own struct (a request body, a borrowed view), and the
//! hidden per-field items `#[derive(Entity)]` gives it to check against.
//!
//! The entity's derive emits, per field, its column index (`User::__PGREPO_FIELD_email`) and its
//! type (`User::__pgrepo_type_email()`), plus the names of the fields an insert must provide
//! (`User::__PGREPO_INSERT_FIELDS`). The insertable's derive binds each of its fields at the
//! entity field of the same name (or `#[pgrepo(field = "...")]`), so at compile time:
//! - a field the entity does not have is an unknown associated item, at that field;
//! - a field whose type cannot be inserted into the column is a trait error, at that field;
//! - a struct that leaves out a column the database does not fill fails a const assertion.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields, LitStr, Path};

use crate::ast::Entity;

fn field_const(name: &str, span: Span) -> syn::Ident {
    format_ident!("__PGREPO_FIELD_{}", name, span = span)
}

fn field_type_fn(name: &str, span: Span) -> syn::Ident {
    format_ident!("__pgrepo_type_{}", name, span = span)
}

/// `impl User { __PGREPO_FIELD_…; __pgrepo_type_…(); __PGREPO_INSERT_FIELDS }` (hidden).
pub(super) fn entity_field_items(entity: &Entity<'_>) -> TokenStream {
    let ident = entity.ident;
    let vis = entity.vis;
    let mut items = Vec::new();
    let mut insert_fields = Vec::new();
    for (index, field) in entity.fields.iter().enumerate() {
        let name = field.ident.to_string();
        let name = name.trim_start_matches("r#");
        let konst = field_const(name, Span::call_site());
        let type_fn = field_type_fn(name, Span::call_site());
        let ty = field.ty;
        let index = proc_macro2::Literal::usize_unsuffixed(index);
        items.push(quote! {
            #[doc(hidden)]
            #[allow(non_upper_case_globals)]
            #vis const #konst: usize = #index;
            #[doc(hidden)]
            #vis fn #type_fn() -> ::core::marker::PhantomData<#ty> {
                ::core::marker::PhantomData
            }
        });
        if field.attrs.generated.is_none() {
            insert_fields.push(name.to_owned());
        }
    }
    quote! {
        #[automatically_derived]
        #[allow(dead_code)]
        impl #ident {
            #(#items)*
            #[doc(hidden)]
            #vis const __PGREPO_INSERT_FIELDS: &'static [&'static str] = &[#(#insert_fields),*];
        }
    }
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
        if syn::parse_str::<syn::Ident>(&name).is_err() {
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
    let arms = mappings.iter().map(|m| {
        let konst = field_const(&m.target, m.span);
        let field = m.field;
        quote_spanned! {m.span=> #entity::#konst => &self.#field, }
    });
    let type_checks = mappings.iter().map(|m| {
        let type_fn = field_type_fn(&m.target, m.span);
        let field = m.field;
        quote_spanned! {m.ty.span()=>
            ::pgrepo::__private::assert_insert_type(
                #entity::#type_fn(),
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
                ::pgrepo::__private::covers(#entity::__PGREPO_INSERT_FIELDS, &[#(#given),*]),
                #missing
            );
        };
    })
}
