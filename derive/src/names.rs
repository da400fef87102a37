//! Small helpers about names and types shared by the front end and the code generators: how a
//! field's name becomes a constant's, whether a type is an `Option`, and "did you mean" hints.

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::ToTokens;
use syn::ext::IdentExt;
use syn::{GenericArgument, Ident, PathArguments, Type};

/// The name of `ident` as the user means it: `r#type` is `type`.
pub(crate) fn unraw(ident: &Ident) -> String {
    ident.unraw().to_string()
}

/// The identifier of an associated constant named after `name` (upper-cased), spanned at `span`.
///
/// # Errors
/// When the upper-cased name is not an identifier (`name` came from a string the user wrote).
pub(crate) fn const_ident(name: &str, span: Span) -> syn::Result<Ident> {
    let mut ident: Ident = syn::parse_str(&name.to_uppercase())
        .map_err(|_| syn::Error::new(span, format!("`{name}` is not a Rust identifier")))?;
    ident.set_span(span);
    Ok(ident)
}

/// The identifier naming the field `name`, spanned at `span`: raw when `name` is a keyword
/// (`r#type`); `None` when no identifier names it (`a b`, `self`).
pub(crate) fn field_ident(name: &str, span: Span) -> Option<Ident> {
    if let Ok(mut ident) = syn::parse_str::<Ident>(name) {
        ident.set_span(span);
        return Some(ident);
    }
    // A keyword: only a raw identifier names it (and these few cannot be raw).
    let word = name.starts_with(|c: char| c.is_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_alphanumeric() || c == '_');
    (word && !matches!(name, "self" | "Self" | "super" | "crate" | "_"))
        .then(|| Ident::new_raw(name, span))
}

/// Whether `name` is a Rust identifier (and not a keyword).
pub(crate) fn is_identifier(name: &str) -> bool {
    syn::parse_str::<Ident>(name).is_ok()
}

/// The `T` of `Option<T>`, detected syntactically: the type's last path segment is `Option`
/// with exactly one generic type argument. `std::option::Option<T>` counts; a type alias of an
/// `Option` does not (the runtime still reports it through `SqlType::NULLABLE`).
pub(crate) fn option_inner(ty: &Type) -> Option<&Type> {
    match ty {
        Type::Group(group) => option_inner(&group.elem),
        Type::Paren(paren) => option_inner(&paren.elem),
        Type::Path(path) if path.qself.is_none() => {
            let last = path.path.segments.last()?;
            if last.ident != "Option" {
                return None;
            }
            let PathArguments::AngleBracketed(args) = &last.arguments else {
                return None;
            };
            let mut args = args.args.iter();
            match (args.next(), args.next()) {
                (Some(GenericArgument::Type(inner)), None) => Some(inner),
                _ => None,
            }
        }
        _ => None,
    }
}

/// The tokens of `tokens` as Rust source, spaced the way people write it: `Option<String>`,
/// `Vec<u8>`, `&'static str`, `std::collections::HashMap<String, i64>`.
pub(crate) fn tokens_to_source<T: ToTokens>(tokens: &T) -> String {
    let mut out = String::new();
    write_tokens(tokens.to_token_stream(), &mut out);
    out
}

fn write_tokens(tokens: TokenStream, out: &mut String) {
    let mut previous_word = false;
    for tree in tokens {
        match tree {
            TokenTree::Group(group) => {
                let (open, close) = match group.delimiter() {
                    proc_macro2::Delimiter::Parenthesis => ("(", ")"),
                    proc_macro2::Delimiter::Bracket => ("[", "]"),
                    proc_macro2::Delimiter::Brace => ("{ ", " }"),
                    proc_macro2::Delimiter::None => ("", ""),
                };
                out.push_str(open);
                write_tokens(group.stream(), out);
                out.push_str(close);
                previous_word = true;
            }
            TokenTree::Ident(ident) => {
                if previous_word {
                    out.push(' ');
                }
                out.push_str(&ident.to_string());
                previous_word = true;
            }
            TokenTree::Literal(literal) => {
                if previous_word {
                    out.push(' ');
                }
                out.push_str(&literal.to_string());
                previous_word = true;
            }
            TokenTree::Punct(punct) => {
                let ch = punct.as_char();
                match ch {
                    ',' | ';' => {
                        out.push(ch);
                        out.push(' ');
                        previous_word = false;
                    }
                    '+' | '=' => {
                        out.push(' ');
                        out.push(ch);
                        out.push(' ');
                        previous_word = false;
                    }
                    '\'' => {
                        if previous_word {
                            out.push(' ');
                        }
                        out.push(ch);
                        previous_word = false;
                    }
                    // `dyn Fn() -> T`: the arrow reads better spaced.
                    '-' if punct.spacing() == proc_macro2::Spacing::Joint => {
                        out.push(' ');
                        out.push(ch);
                        previous_word = false;
                    }
                    '>' if out.ends_with(" -") => {
                        out.push_str("> ");
                        previous_word = false;
                    }
                    _ => {
                        out.push(ch);
                        previous_word = false;
                    }
                }
            }
        }
    }
    // `Fn(a, b)` must not end as `Fn(a, b, )` when the user wrote a trailing comma.
    if out.ends_with(", ") {
        out.truncate(out.len() - 2);
    }
}

/// The candidate closest to `wanted` when it is a plausible typo of it: a few characters off
/// (swapped letters count once), or a prefix of it (`snake` for `snake_case`).
pub(crate) fn did_you_mean<'a, I>(wanted: &str, candidates: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    let wanted = wanted.to_lowercase();
    candidates
        .into_iter()
        .filter_map(|candidate| {
            let lower = candidate.to_lowercase();
            let distance = edit_distance(&wanted, &lower);
            let close = distance <= (lower.chars().count() / 3).max(1);
            let prefix = wanted.chars().count() >= 3 && lower.starts_with(&wanted);
            (close || prefix).then_some((distance, candidate))
        })
        .min_by_key(|&(distance, _)| distance)
        .map(|(_, candidate)| candidate)
}

/// Edit distance by characters, where swapping two neighbours counts as one edit (optimal
/// string alignment): `emial` is one edit from `email`.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let width = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * width];
    for i in 0..=a.len() {
        d[i * width] = i;
    }
    for (j, cell) in d.iter_mut().enumerate().take(width) {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[(i - 1) * width + j] + 1)
                .min(d[i * width + j - 1] + 1)
                .min(d[(i - 1) * width + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[(i - 2) * width + j - 2] + 1);
            }
            d[i * width + j] = best;
        }
    }
    d[a.len() * width + b.len()]
}

/// ``` `a`, `b`, `c` ```: names quoted for a message.
pub(crate) fn quoted_list<'a, I>(names: I) -> String
where
    I: IntoIterator<Item = &'a str>,
{
    names
        .into_iter()
        .map(|name| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_become_raw_identifiers() {
        let span = Span::call_site();
        let name = |name: &str| field_ident(name, span).map(|ident| ident.to_string());
        assert_eq!(name("name").as_deref(), Some("name"));
        assert_eq!(name("type").as_deref(), Some("r#type"));
        assert_eq!(name("self"), None);
        assert_eq!(name("a b"), None);
    }

    #[test]
    fn detects_option_by_last_segment() {
        let ty: Type = syn::parse_quote!(Option<String>);
        assert!(option_inner(&ty).is_some());
        let ty: Type = syn::parse_quote!(::std::option::Option<i64>);
        assert!(option_inner(&ty).is_some());
        let ty: Type = syn::parse_quote!(Vec<Option<i64>>);
        assert!(option_inner(&ty).is_none());
        let ty: Type = syn::parse_quote!(Option);
        assert!(option_inner(&ty).is_none());
    }

    #[test]
    fn prints_types_as_written() {
        let cases: [(Type, &str); 6] = [
            (syn::parse_quote!(Option<String>), "Option<String>"),
            (syn::parse_quote!(Vec<u8>), "Vec<u8>"),
            (syn::parse_quote!(&'static str), "&'static str"),
            (
                syn::parse_quote!(std::collections::HashMap<String, i64>),
                "std::collections::HashMap<String, i64>",
            ),
            (syn::parse_quote!([u8; 16]), "[u8; 16]"),
            (
                syn::parse_quote!(Box<dyn Fn(i32) -> i32 + Send>),
                "Box<dyn Fn(i32) -> i32 + Send>",
            ),
        ];
        for (ty, expected) in cases {
            assert_eq!(tokens_to_source(&ty), expected);
        }
    }

    #[test]
    fn suggests_close_names_only() {
        let fields = ["id", "email", "created_at"];
        assert_eq!(did_you_mean("emial", fields), Some("email"));
        assert_eq!(did_you_mean("name", fields), None);
        assert_eq!(
            did_you_mean("snake", ["snake_case", "lowercase"]),
            Some("snake_case")
        );
        assert_eq!(did_you_mean("createdat", fields), Some("created_at"));
        assert_eq!(did_you_mean("zzz", fields), None);
    }

    #[test]
    fn upper_cases_const_names() {
        let ident = const_ident("by_name", Span::call_site()).map(|i| i.to_string());
        assert_eq!(ident.ok().as_deref(), Some("BY_NAME"));
        assert!(const_ident("by name", Span::call_site()).is_err());
    }
}
