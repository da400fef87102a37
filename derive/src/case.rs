//! The `rename_all` rules of `#[derive(TextEnum)]`: how a variant's PascalCase name becomes the
//! text stored in the database. Same rules (and spellings) as serde's `rename_all`.

/// One `rename_all` rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RenameRule {
    /// `"lowercase"`: `InProgress` -> `inprogress`.
    Lower,
    /// `"UPPERCASE"`: `InProgress` -> `INPROGRESS`.
    Upper,
    /// `"PascalCase"`: `InProgress` -> `InProgress` (the name as written).
    Pascal,
    /// `"camelCase"`: `InProgress` -> `inProgress`.
    Camel,
    /// `"snake_case"`: `InProgress` -> `in_progress`.
    Snake,
    /// `"SCREAMING_SNAKE_CASE"`: `InProgress` -> `IN_PROGRESS`.
    ScreamingSnake,
    /// `"kebab-case"`: `InProgress` -> `in-progress`.
    Kebab,
}

/// Every rule with the spelling `rename_all` takes, in the order error messages list them.
pub(crate) const RULES: [(&str, RenameRule); 7] = [
    ("snake_case", RenameRule::Snake),
    ("lowercase", RenameRule::Lower),
    ("UPPERCASE", RenameRule::Upper),
    ("SCREAMING_SNAKE_CASE", RenameRule::ScreamingSnake),
    ("kebab-case", RenameRule::Kebab),
    ("camelCase", RenameRule::Camel),
    ("PascalCase", RenameRule::Pascal),
];

impl RenameRule {
    /// The rule spelled `name`, exactly as serde spells it.
    pub(crate) fn from_name(name: &str) -> Option<Self> {
        RULES
            .iter()
            .find(|(spelling, _)| *spelling == name)
            .map(|&(_, rule)| rule)
    }

    /// The text of a variant named `variant` (PascalCase, as Rust writes variants).
    pub(crate) fn apply(self, variant: &str) -> String {
        match self {
            Self::Pascal => variant.to_owned(),
            Self::Lower => variant.to_lowercase(),
            Self::Upper => variant.to_uppercase(),
            Self::Camel => {
                let mut chars = variant.chars();
                match chars.next() {
                    Some(first) => first.to_lowercase().chain(chars).collect(),
                    None => String::new(),
                }
            }
            Self::Snake => separated(variant, '_'),
            Self::ScreamingSnake => separated(variant, '_').to_uppercase(),
            Self::Kebab => separated(variant, '-'),
        }
    }
}

/// `in_progress` from `InProgress`: a separator before every upper-case letter but the first.
fn separated(variant: &str, separator: char) -> String {
    let mut out = String::with_capacity(variant.len() + 4);
    for (i, ch) in variant.char_indices() {
        if ch.is_uppercase() && i > 0 {
            out.push(separator);
        }
        out.extend(ch.to_lowercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applies_every_rule() {
        let expected = [
            ("snake_case", "in_progress"),
            ("lowercase", "inprogress"),
            ("UPPERCASE", "INPROGRESS"),
            ("SCREAMING_SNAKE_CASE", "IN_PROGRESS"),
            ("kebab-case", "in-progress"),
            ("camelCase", "inProgress"),
            ("PascalCase", "InProgress"),
        ];
        for (name, text) in expected {
            let rule = RenameRule::from_name(name);
            assert_eq!(rule.map(|r| r.apply("InProgress")).as_deref(), Some(text));
        }
        assert_eq!(RenameRule::from_name("snake"), None);
    }
}
