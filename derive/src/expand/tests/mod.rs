//! Unit tests of the inner entry points: expansions compared token for token, and every error
//! message checked by content. They need no `pgrepo` runtime; the UI tests (`tests/ui.rs`)
//! check the same errors as the compiler renders them.

use proc_macro2::{TokenStream, TokenTree};

mod entity;
mod errors;
mod fallback;
mod insertable;
mod text_enum;

fn entity(input: TokenStream) -> TokenStream {
    super::derive_entity_inner(input)
}

fn text_enum(input: TokenStream) -> TokenStream {
    super::derive_text_enum_inner(input)
}

fn pg_enum(input: TokenStream) -> TokenStream {
    super::derive_pg_enum_inner(input)
}

fn insertable(input: TokenStream) -> TokenStream {
    super::derive_insertable_inner(input)
}

/// The messages of every `compile_error!` in `tokens`, in order.
fn error_messages(tokens: &TokenStream) -> Vec<String> {
    let mut messages = Vec::new();
    let mut trees = tokens.clone().into_iter().peekable();
    while let Some(tree) = trees.next() {
        let TokenTree::Ident(ident) = &tree else {
            continue;
        };
        if ident != "compile_error" {
            continue;
        }
        // `compile_error ! { "message" }` or `compile_error ! ("message")`
        let _bang = trees.next();
        if let Some(TokenTree::Group(group)) = trees.next() {
            if let Ok(lit) = syn::parse2::<syn::LitStr>(group.stream()) {
                messages.push(lit.value());
            }
        }
    }
    messages
}

/// Asserts that the two token streams are the same code, ignoring spacing and the trailing
/// commas of struct literals and argument lists that `quote!` users write either way.
fn assert_tokens_eq(actual: &TokenStream, expected: &TokenStream) {
    let actual = normalize(actual);
    let expected = normalize(expected);
    if actual != expected {
        let position = actual
            .chars()
            .zip(expected.chars())
            .position(|(a, e)| a != e)
            .unwrap_or_else(|| actual.len().min(expected.len()));
        let from = position.saturating_sub(200);
        panic!(
            "expansions differ at char {position}\n  actual: …{}\nexpected: …{}",
            actual
                .get(from..(position + 200).min(actual.len()))
                .unwrap_or(""),
            expected
                .get(from..(position + 200).min(expected.len()))
                .unwrap_or(""),
        );
    }
}

fn normalize(tokens: &TokenStream) -> String {
    // `r" doc"` and `" doc"` are the same doc string.
    without_trailing_commas(tokens.clone())
        .to_string()
        .replace("r\" ", "\" ")
}

/// `tokens` without the comma that may end a delimited group: `f(a, b,)` is `f(a, b)`.
fn without_trailing_commas(tokens: TokenStream) -> TokenStream {
    let mut trees: Vec<TokenTree> = tokens
        .into_iter()
        .map(|tree| match tree {
            TokenTree::Group(group) => {
                let mut stripped = proc_macro2::Group::new(
                    group.delimiter(),
                    without_trailing_commas(group.stream()),
                );
                stripped.set_span(group.span());
                TokenTree::Group(stripped)
            }
            other => other,
        })
        .collect();
    if matches!(trees.last(), Some(TokenTree::Punct(p)) if p.as_char() == ',') {
        trees.pop();
    }
    trees.into_iter().collect()
}

/// Asserts that `expanded` carries exactly one error, containing every part of `expected`
/// and a `help:` line.
fn assert_one_error_in(expanded: &TokenStream, expected: &[&str]) {
    let messages = error_messages(expanded);
    assert_eq!(messages.len(), 1, "expected one error, got {messages:#?}");
    for part in expected {
        assert!(
            messages[0].contains(part),
            "{:?} does not contain {part:?}",
            messages[0]
        );
    }
    assert!(
        messages[0].contains("\nhelp: "),
        "no help line: {:?}",
        messages[0]
    );
}
