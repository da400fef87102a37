//! The `#[pgrepo(...)]` attributes of `#[derive(TextEnum)]`: `rename_all` on the enum,
//! `rename` on a variant.

use syn::{Attribute, LitStr};

use super::read::{for_each_key, lit_str, resolve_key, Attr};
use super::{ENUM_KEYS, RENAME, RENAME_ALL, VARIANT_KEYS};
use crate::case::{RenameRule, RULES};
use crate::ctxt::Ctxt;
use crate::names::{did_you_mean, quoted_list};

/// The attributes of a `#[derive(TextEnum)]` enum.
pub(crate) struct TextEnum {
    /// `rename_all = "snake_case"`, with the rule it names.
    pub(crate) rename_all: Option<(RenameRule, LitStr)>,
}

/// The attributes of one variant of a `#[derive(TextEnum)]` enum.
pub(crate) struct Variant {
    /// `rename = "text"`.
    pub(crate) rename: Option<LitStr>,
}

impl TextEnum {
    /// Reads the `#[pgrepo(...)]` attributes of a text enum.
    pub(crate) fn from_ast(cx: &Ctxt, attrs: &[Attribute]) -> Self {
        let mut rename_all = Attr::none(cx, RENAME_ALL);
        for_each_key(cx, attrs, |meta| {
            let Some(key) = resolve_key(cx, meta, "enum", ENUM_KEYS, &[(VARIANT_KEYS, "variant")])?
            else {
                return Ok(());
            };
            cx.muted(key.misspelt, || {
                let Some(lit) = lit_str(cx, meta, r#"rename_all = "snake_case""#)? else {
                    return Ok(());
                };
                match RenameRule::from_name(&lit.value()) {
                    Some(rule) => rename_all.set(&meta.path, (rule, lit)),
                    None => {
                        let valid = quoted_list(RULES.iter().map(|(name, _)| *name));
                        let mut message = format!("unknown `rename_all` rule `{}`", lit.value());
                        if let Some(close) =
                            did_you_mean(&lit.value(), RULES.iter().map(|(name, _)| *name))
                        {
                            message.push_str(&format!("; did you mean `{close}`?"));
                        }
                        cx.error_with_help(&lit, message, format!("the rules are {valid}"));
                    }
                }
                Ok(())
            })
        });
        Self {
            rename_all: rename_all.get(),
        }
    }
}

impl Variant {
    /// Reads the `#[pgrepo(...)]` attributes of one text enum variant.
    pub(crate) fn from_ast(cx: &Ctxt, attrs: &[Attribute]) -> Self {
        let mut rename = Attr::none(cx, RENAME);
        for_each_key(cx, attrs, |meta| {
            let Some(key) = resolve_key(cx, meta, "variant", VARIANT_KEYS, &[(ENUM_KEYS, "enum")])?
            else {
                return Ok(());
            };
            cx.muted(key.misspelt, || {
                if let Some(lit) = lit_str(cx, meta, r#"rename = "in_progress""#)? {
                    rename.set(&meta.path, lit);
                }
                Ok(())
            })
        });
        Self {
            rename: rename.get(),
        }
    }
}
