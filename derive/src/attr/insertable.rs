//! The `#[pgrepo(...)]` attributes of `#[derive(Insertable)]`: `entity = User` on the struct,
//! `field = "name"` on a field that fills an entity field of another name.

use syn::{Attribute, LitStr, Path};

use super::read::{for_each_key, lit_str, resolve_key, skip_value, Attr};
use super::{
    entity_path, ENTITY, ENTITY_KEYS, FIELD, FIELD_KEYS, INSERTABLE_FIELD_KEYS, INSERTABLE_KEYS,
};
use crate::ctxt::Ctxt;
use crate::names::field_ident;

/// The attributes of a `#[derive(Insertable)]` struct.
pub(crate) struct Insertable {
    /// `entity = User`.
    pub(crate) entity: Option<Path>,
    /// Whether `entity` was written, even with a malformed value (then reported already).
    pub(crate) entity_written: bool,
}

/// The attributes of one field of a `#[derive(Insertable)]` struct.
pub(crate) struct InsertableField {
    /// `field = "name"`, already checked to name a field.
    pub(crate) field: Option<LitStr>,
}

impl Insertable {
    /// Reads the `#[pgrepo(...)]` attributes of an insertable struct.
    pub(crate) fn from_ast(cx: &Ctxt, attrs: &[Attribute]) -> Self {
        let mut entity = Attr::none(cx, ENTITY);
        for_each_key(cx, attrs, |meta| {
            let elsewhere = [
                (INSERTABLE_FIELD_KEYS, "insertable field"),
                (ENTITY_KEYS, "entity"),
            ];
            let Some(key) =
                resolve_key(cx, meta, "insertable struct", INSERTABLE_KEYS, &elsewhere)?
            else {
                return Ok(());
            };
            cx.muted(key.misspelt, || match key.name {
                ENTITY => {
                    entity.written();
                    let path = entity_path(
                        cx,
                        meta,
                        "the entity whose table it inserts into",
                        "write the entity's type, e.g. `entity = User`",
                    )?;
                    if let Some(path) = path {
                        entity.set(&meta.path, path);
                    }
                    Ok(())
                }
                // `resolve_key` gives only keys of `INSERTABLE_KEYS`.
                _ => skip_value(meta),
            })
        });
        Self {
            entity_written: entity.written,
            entity: entity.get(),
        }
    }
}

impl InsertableField {
    /// Reads the `#[pgrepo(...)]` attributes of one insertable field.
    pub(crate) fn from_ast(cx: &Ctxt, attrs: &[Attribute]) -> Self {
        let mut field = Attr::none(cx, FIELD);
        for_each_key(cx, attrs, |meta| {
            let elsewhere = [
                (INSERTABLE_KEYS, "insertable struct"),
                (FIELD_KEYS, "entity field"),
            ];
            let Some(key) = resolve_key(
                cx,
                meta,
                "insertable field",
                INSERTABLE_FIELD_KEYS,
                &elsewhere,
            )?
            else {
                return Ok(());
            };
            cx.muted(key.misspelt, || match key.name {
                FIELD => {
                    let Some(lit) = lit_str(cx, meta, r#"field = "name""#)? else {
                        return Ok(());
                    };
                    if field_ident(&lit.value(), lit.span()).is_some() {
                        field.set(&meta.path, lit);
                    } else {
                        cx.error_with_help(
                            &lit,
                            format!(
                                "`field` names a field of the entity, and `{}` is not a field name",
                                lit.value()
                            ),
                            r#"write the entity field's name, e.g. `field = "name"`"#,
                        );
                    }
                    Ok(())
                }
                // `resolve_key` gives only keys of `INSERTABLE_FIELD_KEYS`.
                _ => skip_value(meta),
            })
        });
        Self { field: field.get() }
    }
}
