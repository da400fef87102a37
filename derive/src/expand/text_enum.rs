//! `#[derive(TextEnum)]` and `#[derive(PgEnum)]`: `ToSql`, `FromSql` and `SqlType` for a
//! fieldless enum stored as text or as a database enum type. Encoding and type checks live in
//! the runtime (`text_to_sql`, `text_from_sql`, `text_enum_accepts`, `native_enum_accepts`);
//! the macro only maps variants to their labels and names the storage.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{DeriveInput, Ident};

use crate::ast::TextEnum;
use crate::attr::EnumDerive;
use crate::check;
use crate::ctxt::Ctxt;
use crate::names::unraw;

/// Everything `#[derive(TextEnum)]` or `#[derive(PgEnum)]` generates for `input`, preceded by
/// every mistake in it.
///
/// With mistakes, the expansion is the fallback: the same impls with bodies that cannot run, so
/// entities with a field of this type still compile and only the mistakes are reported.
pub(super) fn expand(input: &DeriveInput, derive: EnumDerive) -> TokenStream {
    let cx = Ctxt::new();
    let text_enum = TextEnum::from_ast(&cx, input, derive);
    if let Some(text_enum) = &text_enum {
        check::check_text_enum(&cx, text_enum);
    }
    let expansion = match text_enum {
        // No impl fits a generic enum.
        _ if !input.generics.params.is_empty() => TokenStream::new(),
        Some(text_enum) if !cx.has_errors() => generate(&text_enum),
        _ => {
            let unreachable = quote!(::core::unreachable!());
            let storage = Storage::of(
                derive,
                text_enum.as_ref().and_then(|e| e.type_name.as_deref()),
                None,
            );
            impls(&input.ident, &storage, &unreachable, &unreachable)
        }
    };
    cx.finish(expansion)
}

/// The impls mapping each variant to its text, for an input without mistakes.
fn generate(text_enum: &TextEnum<'_>) -> TokenStream {
    let ident = text_enum.ident;
    let type_name = unraw(ident);
    let variants: Vec<_> = text_enum.variants.iter().map(|v| v.ident).collect();
    let texts: Vec<&str> = text_enum.variants.iter().map(|v| v.text.as_str()).collect();
    let to_sql = quote! {
        let __text: &'static str = match self {
            #(#ident::#variants => #texts,)*
        };
        ::pgrepo::__private::text_to_sql(__text, __ty, __out)
    };
    let from_sql = quote! {
        match ::pgrepo::__private::text_from_sql(__ty, __raw)? {
            #(#texts => ::core::result::Result::Ok(#ident::#variants),)*
            __other => ::core::result::Result::Err(::pgrepo::__private::unknown_enum_text(
                #type_name,
                __other,
                &[#(#texts),*],
            )),
        }
    };
    let storage = Storage::of(
        text_enum.derive,
        text_enum.type_name.as_deref(),
        Some(&texts),
    );
    impls(ident, &storage, &to_sql, &from_sql)
}

/// Where the enum is stored: what its `accepts` and `SqlType` say.
struct Storage {
    accepts: TokenStream,
    sql_type: TokenStream,
}

impl Storage {
    /// A text enum binds as `text`; a native enum is its type, by name, resolved from the
    /// column, and names its `labels` for `verify` to compare with the type's. (A `PgEnum`
    /// without `type_name`, reported, gets an empty name in the fallback, and no labels.)
    fn of(derive: EnumDerive, type_name: Option<&str>, labels: Option<&[&str]>) -> Self {
        match derive {
            EnumDerive::Text => Storage {
                accepts: quote!(::pgrepo::__private::text_enum_accepts(__ty)),
                sql_type: quote! {
                    const PG_TYPE: ::pgrepo::__private::Type = ::pgrepo::__private::Type::TEXT;
                    const ARRAY_TYPE: ::pgrepo::__private::Type = ::pgrepo::__private::Type::TEXT_ARRAY;
                },
            },
            EnumDerive::Native => {
                let name = type_name.unwrap_or_default();
                let labels = labels.map(|labels| {
                    quote! {
                        const ENUM_LABELS: ::core::option::Option<&'static [&'static str]> =
                            ::core::option::Option::Some(&[#(#labels),*]);
                    }
                });
                Storage {
                    accepts: quote!(::pgrepo::__private::native_enum_accepts(__ty, #name)),
                    sql_type: quote! {
                        const PARAM_TYPE: ::pgrepo::ParamType = ::pgrepo::ParamType::from_column(#name);
                        #labels
                    },
                }
            }
        }
    }
}

/// `ToSql`, `FromSql` and `SqlType` for `ident`, with the given bodies of `to_sql` (over
/// `self`, `__ty`, `__out`) and `from_sql` (over `__ty`, `__raw`).
fn impls(
    ident: &Ident,
    storage: &Storage,
    to_sql: &TokenStream,
    from_sql: &TokenStream,
) -> TokenStream {
    let Storage { accepts, sql_type } = storage;
    quote! {
        const _: () = {
            #[automatically_derived]
            impl ::pgrepo::__private::ToSql for #ident {
                fn to_sql(
                    &self,
                    __ty: &::pgrepo::__private::Type,
                    __out: &mut ::pgrepo::__private::BytesMut,
                ) -> ::core::result::Result<::pgrepo::__private::IsNull, ::pgrepo::__private::BoxError> {
                    #to_sql
                }

                fn accepts(__ty: &::pgrepo::__private::Type) -> bool {
                    #accepts
                }

                ::pgrepo::__private::to_sql_checked!();
            }

            #[automatically_derived]
            impl<'__a> ::pgrepo::__private::FromSql<'__a> for #ident {
                fn from_sql(
                    __ty: &::pgrepo::__private::Type,
                    __raw: &'__a [u8],
                ) -> ::core::result::Result<Self, ::pgrepo::__private::BoxError> {
                    #from_sql
                }

                fn accepts(__ty: &::pgrepo::__private::Type) -> bool {
                    #accepts
                }
            }

            #[automatically_derived]
            impl ::pgrepo::SqlType for #ident {
                #sql_type
                type NonNull = Self;
            }
        };
    }
}
