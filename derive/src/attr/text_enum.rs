//! The `#[pgrepo(...)]` attributes of `#[derive(TextEnum)]` and `#[derive(PgEnum)]`:
//! `rename_all` (both) and `type_name` (`PgEnum`) on the enum, `rename` on a variant.

use syn::{Attribute, LitStr};

use super::read::{for_each_key, lit_str, resolve_key, skip_value, Attr};
use super::{type_name, ENUM_KEYS, PG_ENUM_KEYS, RENAME, RENAME_ALL, TYPE_NAME, VARIANT_KEYS};
use crate::case::{RenameRule, RULES};
use crate::ctxt::Ctxt;
use crate::names::{did_you_mean, quoted_list};

/// Which derive reads the attributes: they differ in where the enum is stored.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum EnumDerive {
    /// `#[derive(TextEnum)]`: labels in a text column.
    Text,
    /// `#[derive(PgEnum)]`: a `CREATE TYPE ... AS ENUM` type.
    Native,
}

impl EnumDerive {
    /// `TextEnum` or `PgEnum`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            EnumDerive::Text => "TextEnum",
            EnumDerive::Native => "PgEnum",
        }
    }
}

/// The attributes of a `#[derive(TextEnum)]` or `#[derive(PgEnum)]` enum.
pub(crate) struct TextEnum {
    /// `rename_all = "snake_case"`, with the rule it names.
    pub(crate) rename_all: Option<(RenameRule, LitStr)>,
    /// `type_name = "plan"` (`PgEnum` only), checked.
    pub(crate) type_name: Option<String>,
    /// Whether `type_name` was written, even malformed (then reported already).
    pub(crate) type_name_written: bool,
}

/// The attributes of one variant of a `#[derive(TextEnum)]` enum.
pub(crate) struct Variant {
    /// `rename = "text"`.
    pub(crate) rename: Option<LitStr>,
}

impl TextEnum {
    /// Reads the `#[pgrepo(...)]` attributes of a text or native enum.
    pub(crate) fn from_ast(cx: &Ctxt, attrs: &[Attribute], derive: EnumDerive) -> Self {
        let mut rename_all = Attr::none(cx, RENAME_ALL);
        let mut type_name_attr = Attr::none(cx, TYPE_NAME);
        let keys = match derive {
            EnumDerive::Text => ENUM_KEYS,
            EnumDerive::Native => PG_ENUM_KEYS,
        };
        for_each_key(cx, attrs, |meta| {
            if derive == EnumDerive::Text && meta.path == TYPE_NAME {
                cx.error_with_help(
                    &meta.path,
                    "`type_name` is an attribute of `#[derive(PgEnum)]`: a `TextEnum` is stored as text",
                    "to store the enum as a `CREATE TYPE ... AS ENUM` type, derive `PgEnum` instead of `TextEnum`",
                );
                return skip_value(meta);
            }
            let Some(key) = resolve_key(cx, meta, "enum", keys, &[(VARIANT_KEYS, "variant")])?
            else {
                return Ok(());
            };
            cx.muted(key.misspelt, || {
                if key.name == TYPE_NAME {
                    const EXAMPLE: &str = r#"type_name = "plan""#;
                    type_name_attr.written();
                    if let Some(lit) = lit_str(cx, meta, EXAMPLE)? {
                        if let Some(name) = type_name(cx, TYPE_NAME, &lit, &lit.value(), EXAMPLE) {
                            type_name_attr.set(&meta.path, name);
                        }
                    }
                    return Ok(());
                }
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
            type_name_written: type_name_attr.written,
            type_name: type_name_attr.get(),
        }
    }
}

impl Variant {
    /// Reads the `#[pgrepo(...)]` attributes of one enum variant.
    pub(crate) fn from_ast(cx: &Ctxt, attrs: &[Attribute], derive: EnumDerive) -> Self {
        let enum_keys = match derive {
            EnumDerive::Text => ENUM_KEYS,
            EnumDerive::Native => PG_ENUM_KEYS,
        };
        let mut rename = Attr::none(cx, RENAME);
        for_each_key(cx, attrs, |meta| {
            let Some(key) = resolve_key(cx, meta, "variant", VARIANT_KEYS, &[(enum_keys, "enum")])?
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
