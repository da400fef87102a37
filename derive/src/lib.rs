//! Derive macros of [`pgrepo`](https://docs.rs/pgrepo): `#[derive(Entity)]` maps a struct to a
//! table, `#[derive(TextEnum)]` stores a fieldless enum as text.
//!
//! Use them through the `pgrepo` crate (`use pgrepo::{Entity, TextEnum};`), never by depending
//! on this crate directly: the generated code names `::pgrepo` items, and the two crates are
//! released together with an exact version pin. The attributes are documented on the
//! re-exports in `pgrepo`.

#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations, rust_2018_idioms)]

mod ast;
mod attr;
mod case;
mod check;
mod ctxt;
mod expand;
mod names;
mod sort_key;

/// Implements `pgrepo::Entity`, `pgrepo::FromRow` and (when there is a conflict target)
/// `pgrepo::Upsertable` for a struct with named fields, and generates its insert struct
/// (`New{Struct}`), typed lookup constants, relation constants and listing sort keys.
#[proc_macro_derive(Entity, attributes(pgrepo))]
pub fn derive_entity(input: proc_macro::TokenStream) -> proc_macro::TokenStream {
    expand::derive_entity_inner(input.into()).into()
}

/// Implements `pgrepo::Insertable` for a struct of the caller's (a request body, a borrowed
/// view) whose fields fill an entity's columns by name, checked at compile time.
#[proc_macro_derive(Insertable, attributes(pgrepo))]
pub fn derive_insertable(input: proc_macro::TokenStream) -> proc_macro::TokenStream {
    expand::derive_insertable_inner(input.into()).into()
}

/// Implements `ToSql`, `FromSql` and `pgrepo::SqlType` for a fieldless enum stored as text.
#[proc_macro_derive(TextEnum, attributes(pgrepo))]
pub fn derive_text_enum(input: proc_macro::TokenStream) -> proc_macro::TokenStream {
    expand::derive_text_enum_inner(input.into()).into()
}
