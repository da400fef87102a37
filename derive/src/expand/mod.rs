//! Code generation: one file per generated part. Each part gets an input that the front end
//! (`ast.rs`, `check.rs`) has already found free of mistakes.
//!
//! Generated code follows one shape: impls wrapped in `const _: () = { ... };`, each marked
//! `#[automatically_derived]`, naming only absolute paths (`::pgrepo::...`, `::core::...`)
//! and `__`-prefixed locals, so it cannot clash with the user's names.

use proc_macro2::TokenStream;
use syn::DeriveInput;

mod consts;
mod entity;
mod insert;
mod insertable;
mod text_enum;

#[cfg(test)]
mod tests;

/// `#[derive(Entity)]` on `input`: the generated items, or the compile errors found.
pub(crate) fn derive_entity_inner(input: TokenStream) -> TokenStream {
    syn::parse2::<DeriveInput>(input)
        .and_then(|input| entity::expand(&input))
        .unwrap_or_else(syn::Error::into_compile_error)
}

/// `#[derive(Insertable)]` on `input`: the generated items, or the compile errors found.
pub(crate) fn derive_insertable_inner(input: TokenStream) -> TokenStream {
    syn::parse2::<DeriveInput>(input)
        .and_then(|input| insertable::expand(&input))
        .unwrap_or_else(syn::Error::into_compile_error)
}

/// `#[derive(TextEnum)]` on `input`: the generated items, or the compile errors found.
pub(crate) fn derive_text_enum_inner(input: TokenStream) -> TokenStream {
    syn::parse2::<DeriveInput>(input)
        .and_then(|input| text_enum::expand(&input))
        .unwrap_or_else(syn::Error::into_compile_error)
}
