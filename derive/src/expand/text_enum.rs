//! `#[derive(TextEnum)]`: `ToSql`, `FromSql` and `SqlType` for a fieldless enum stored as text.
//! Encoding and type checks live in the runtime (`text_to_sql`, `text_from_sql`,
//! `text_enum_accepts`); the macro only maps variants to their texts.

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::DeriveInput;

use crate::ast::TextEnum;
use crate::check;
use crate::ctxt::Ctxt;
use crate::names::unraw;

/// Everything `#[derive(TextEnum)]` generates for `input`, or every mistake in it.
pub(super) fn expand(input: &DeriveInput) -> syn::Result<TokenStream> {
    let cx = Ctxt::new();
    let text_enum = TextEnum::from_ast(&cx, input);
    if let Some(text_enum) = &text_enum {
        check::check_text_enum(&cx, text_enum);
    }
    cx.check()?;
    let text_enum = text_enum.ok_or_else(|| {
        // Unreachable: `from_ast` reports why it gives `None`. Kept as an error, not a panic.
        syn::Error::new(
            Span::call_site(),
            "`#[derive(TextEnum)]` could not read this item",
        )
    })?;

    let ident = text_enum.ident;
    let type_name = unraw(ident);
    let variants: Vec<_> = text_enum.variants.iter().map(|v| v.ident).collect();
    let texts: Vec<&str> = text_enum.variants.iter().map(|v| v.text.as_str()).collect();

    Ok(quote! {
        const _: () = {
            #[automatically_derived]
            impl ::pgrepo::__private::ToSql for #ident {
                fn to_sql(
                    &self,
                    __ty: &::pgrepo::__private::Type,
                    __out: &mut ::pgrepo::__private::BytesMut,
                ) -> ::core::result::Result<::pgrepo::__private::IsNull, ::pgrepo::__private::BoxError> {
                    let __text: &'static str = match self {
                        #(#ident::#variants => #texts,)*
                    };
                    ::pgrepo::__private::text_to_sql(__text, __ty, __out)
                }

                fn accepts(__ty: &::pgrepo::__private::Type) -> bool {
                    ::pgrepo::__private::text_enum_accepts(__ty)
                }

                ::pgrepo::__private::to_sql_checked!();
            }

            #[automatically_derived]
            impl<'__a> ::pgrepo::__private::FromSql<'__a> for #ident {
                fn from_sql(
                    __ty: &::pgrepo::__private::Type,
                    __raw: &'__a [u8],
                ) -> ::core::result::Result<Self, ::pgrepo::__private::BoxError> {
                    match ::pgrepo::__private::text_from_sql(__ty, __raw)? {
                        #(#texts => ::core::result::Result::Ok(#ident::#variants),)*
                        __other => ::core::result::Result::Err(::pgrepo::__private::unknown_enum_text(
                            #type_name,
                            __other,
                            &[#(#texts),*],
                        )),
                    }
                }

                fn accepts(__ty: &::pgrepo::__private::Type) -> bool {
                    ::pgrepo::__private::text_enum_accepts(__ty)
                }
            }

            #[automatically_derived]
            impl ::pgrepo::SqlType for #ident {
                const PG_TYPE: ::pgrepo::__private::Type = ::pgrepo::__private::Type::TEXT;
                const ARRAY_TYPE: ::pgrepo::__private::Type = ::pgrepo::__private::Type::TEXT_ARRAY;
                type NonNull = Self;
            }
        };
    })
}
