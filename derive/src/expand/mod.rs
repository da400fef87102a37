//! Code generation: one file per generated part, from the input the front end (`ast.rs`,
//! `check.rs`) read. When the front end found mistakes, each derive still generates what it can
//! (its fallback expansion), after the errors, so that one mistake gives one error rather than
//! one more at every use of a generated item.
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

/// `#[derive(Entity)]` on `input`: the generated items, preceded by the compile errors found.
pub(crate) fn derive_entity_inner(input: TokenStream) -> TokenStream {
    match syn::parse2::<DeriveInput>(input) {
        Ok(input) => entity::expand(&input),
        Err(error) => error.into_compile_error(),
    }
}

/// `#[derive(Insertable)]` on `input`: the generated items, preceded by the compile errors found.
pub(crate) fn derive_insertable_inner(input: TokenStream) -> TokenStream {
    match syn::parse2::<DeriveInput>(input) {
        Ok(input) => insertable::expand(&input),
        Err(error) => error.into_compile_error(),
    }
}

/// `#[derive(TextEnum)]` on `input`: the generated items, preceded by the compile errors found.
pub(crate) fn derive_text_enum_inner(input: TokenStream) -> TokenStream {
    match syn::parse2::<DeriveInput>(input) {
        Ok(input) => text_enum::expand(&input, crate::attr::EnumDerive::Text),
        Err(error) => error.into_compile_error(),
    }
}

/// `#[derive(PgEnum)]` on `input`: the generated items, preceded by the compile errors found.
pub(crate) fn derive_pg_enum_inner(input: TokenStream) -> TokenStream {
    match syn::parse2::<DeriveInput>(input) {
        Ok(input) => text_enum::expand(&input, crate::attr::EnumDerive::Native),
        Err(error) => error.into_compile_error(),
    }
}
