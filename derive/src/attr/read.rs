//! Reading the values of `#[pgrepo(...)]` keys: strings, flags, paths, lists, and the
//! bookkeeping every key shares (duplicates, unknown keys, skipping a malformed value so the
//! keys after it are still read).

use proc_macro2::Group;
use quote::ToTokens;
use syn::meta::ParseNestedMeta;
use syn::punctuated::Punctuated;
use syn::{token, Attribute, Expr, LitStr, Path, Token};

use super::{Symbol, PGREPO};
use crate::ctxt::Ctxt;
use crate::names::{did_you_mean, quoted_list};

/// One attribute value, reporting a duplicate when set twice.
pub(super) struct Attr<'c, T> {
    cx: &'c Ctxt,
    pub(super) name: Symbol,
    value: Option<T>,
    /// Whether the key was written at all, even with a value that was reported as malformed:
    /// such a key is not reported as missing too.
    pub(super) written: bool,
}

impl<'c, T> Attr<'c, T> {
    pub(super) fn none(cx: &'c Ctxt, name: Symbol) -> Self {
        Self {
            cx,
            name,
            value: None,
            written: false,
        }
    }

    /// Notes that the key was written, whatever its value.
    pub(super) fn written(&mut self) {
        self.written = true;
    }

    /// Sets the value; a second value is an error spanned at `key`, and the first one is kept.
    pub(super) fn set<K: ToTokens>(&mut self, key: K, value: T) {
        if self.value.is_some() {
            self.cx.error_with_help(
                key,
                format!("duplicate pgrepo attribute `{}`", self.name),
                format!("give `{}` once", self.name),
            );
        } else {
            self.value = Some(value);
        }
    }

    pub(super) fn get(self) -> Option<T> {
        self.value
    }
}

/// Calls `each` for every key of every `#[pgrepo(...)]` in `attrs`. A syntax error ends the
/// attribute it is in (`syn` cannot resynchronise inside one) and is recorded.
pub(super) fn for_each_key<F>(cx: &Ctxt, attrs: &[Attribute], mut each: F)
where
    F: FnMut(&ParseNestedMeta<'_>) -> syn::Result<()>,
{
    for attr in attrs.iter().filter(|attr| attr.path() == PGREPO) {
        if let Err(error) = attr.parse_nested_meta(|meta| each(&meta)) {
            cx.syn_error(error);
        }
    }
}

/// A key of `#[pgrepo(...)]`, as [`resolve_key`] read it.
pub(super) struct Key {
    /// The valid key it is, or was meant to be.
    pub(super) name: Symbol,
    /// Whether it was misspelt (reported already): its value is then read as the key it was
    /// meant to be, with errors muted ([`Ctxt::muted`]), so what the derive generates still
    /// has it and one typo gives one error.
    pub(super) misspelt: bool,
}

/// Which of `valid` the key of `meta` is.
///
/// An unknown key is reported, listing the valid ones (and saying where a key of another level
/// goes). When it is a plausible misspelling of a valid key, that key is given with `misspelt`
/// set; otherwise its value is skipped, so the keys after it are still read, and `None` is given.
pub(super) fn resolve_key(
    cx: &Ctxt,
    meta: &ParseNestedMeta<'_>,
    level: &str,
    valid: &[Symbol],
    elsewhere: &[(&[Symbol], &str)],
) -> syn::Result<Option<Key>> {
    if let Some(&name) = valid.iter().find(|key| meta.path == **key) {
        return Ok(Some(Key {
            name,
            misspelt: false,
        }));
    }
    let key = meta.path.to_token_stream().to_string().replace(' ', "");
    let mut message = format!("unknown pgrepo {level} attribute `{key}`");
    let mut meant = None;
    if let Some((_, other_level)) = elsewhere
        .iter()
        .find(|(keys, _)| keys.iter().any(|k| meta.path == *k))
    {
        message.push_str(&format!(
            "; `{key}` is {} attribute: put it on the {other_level}",
            with_article(other_level)
        ));
    } else if let Some(close) = did_you_mean(&key, valid.iter().map(|s| s.0)) {
        message.push_str(&format!("; did you mean `{close}`?"));
        meant = valid.iter().copied().find(|symbol| symbol.0 == close);
    }
    cx.error_with_help(
        &meta.path,
        message,
        format!(
            "the {level} attributes are {}",
            quoted_list(valid.iter().map(|s| s.0))
        ),
    );
    match meant {
        Some(name) => Ok(Some(Key {
            name,
            misspelt: true,
        })),
        None => skip_value(meta).map(|()| None),
    }
}

/// `a struct`, `an enum`.
fn with_article(noun: &str) -> String {
    let article = if noun.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    format!("{article} {noun}")
}

/// Skips whatever follows a key: `= value`, `(...)`, or nothing.
pub(super) fn skip_value(meta: &ParseNestedMeta<'_>) -> syn::Result<()> {
    if meta.input.peek(Token![=]) {
        meta.value()?.parse::<Expr>()?;
    } else if meta.input.peek(token::Paren) {
        meta.input.parse::<Group>()?;
    }
    Ok(())
}

/// Reads a flag (`id`): a key without a value. A value is reported, and the flag still counts
/// as set so that one mistake does not cause a second error elsewhere.
pub(super) fn flag(
    cx: &Ctxt,
    meta: &ParseNestedMeta<'_>,
    attr: &mut Attr<'_, Path>,
) -> syn::Result<()> {
    if meta.input.peek(Token![=]) || meta.input.peek(token::Paren) {
        cx.error_with_help(
            &meta.path,
            format!("`{}` takes no value", attr.name),
            format!("write `#[pgrepo({})]`", attr.name),
        );
        skip_value(meta)?;
    }
    attr.set(&meta.path, meta.path.clone());
    Ok(())
}

/// Reads `key = "string"`; anything else is reported with `example`, and gives `None`.
pub(super) fn lit_str(
    cx: &Ctxt,
    meta: &ParseNestedMeta<'_>,
    example: &str,
) -> syn::Result<Option<LitStr>> {
    let key = meta.path.to_token_stream();
    if !meta.input.peek(Token![=]) {
        cx.error_with_help(
            &meta.path,
            format!("`{key}` needs a value"),
            format!("write `{example}`"),
        );
        return skip_value(meta).map(|()| None);
    }
    let value = meta.value()?;
    if value.peek(LitStr) {
        return value.parse().map(Some);
    }
    let expr: Expr = value.parse()?;
    cx.error_with_help(
        &expr,
        format!("`{key}` takes a string"),
        format!("write `{example}`"),
    );
    Ok(None)
}

/// Reads `key(Path, Path, ...)`.
pub(super) fn path_list(
    cx: &Ctxt,
    meta: &ParseNestedMeta<'_>,
    example: &str,
) -> syn::Result<Option<Vec<Path>>> {
    if !meta.input.peek(token::Paren) {
        cx.error_with_help(
            &meta.path,
            format!(
                "`{}` takes a list of derives in parentheses",
                meta.path.to_token_stream()
            ),
            format!("write `{example}`"),
        );
        return skip_value(meta).map(|()| None);
    }
    let content;
    syn::parenthesized!(content in meta.input);
    let paths = Punctuated::<Path, Token![,]>::parse_terminated(&content)?;
    Ok(Some(paths.into_iter().collect()))
}

/// Reports an empty name (`table = ""`).
pub(super) fn non_empty(cx: &Ctxt, key: Symbol, lit: &LitStr, example: &str) {
    if lit.value().trim().is_empty() {
        cx.error_with_help(
            lit,
            format!("`{key}` must not be empty"),
            format!("write `{example}`"),
        );
    }
}
