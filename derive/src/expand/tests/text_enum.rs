//! `#[derive(TextEnum)]` and `#[derive(PgEnum)]`: the expansion, the texts of each rule, and the
//! errors.

use quote::quote;

use super::{assert_tokens_eq, error_messages, pg_enum, text_enum};

#[test]
fn expands_a_renamed_enum() {
    let expanded = text_enum(quote! {
        #[pgrepo(rename_all = "snake_case")]
        pub enum Status {
            Active,
            InReview,
            #[pgrepo(rename = "gone")]
            Archived,
        }
    });
    let expected = quote! {
        const _: () = {
            #[automatically_derived]
            impl ::pgrepo::__private::ToSql for Status {
                fn to_sql(
                    &self,
                    __ty: &::pgrepo::__private::Type,
                    __out: &mut ::pgrepo::__private::BytesMut,
                ) -> ::core::result::Result<::pgrepo::__private::IsNull, ::pgrepo::__private::BoxError> {
                    let __text: &'static str = match self {
                        Status::Active => "active",
                        Status::InReview => "in_review",
                        Status::Archived => "gone",
                    };
                    ::pgrepo::__private::text_to_sql(__text, __ty, __out)
                }
                fn accepts(__ty: &::pgrepo::__private::Type) -> bool {
                    ::pgrepo::__private::text_enum_accepts(__ty)
                }
                ::pgrepo::__private::to_sql_checked!();
            }
            #[automatically_derived]
            impl<'__a> ::pgrepo::__private::FromSql<'__a> for Status {
                fn from_sql(
                    __ty: &::pgrepo::__private::Type,
                    __raw: &'__a [u8],
                ) -> ::core::result::Result<Self, ::pgrepo::__private::BoxError> {
                    match ::pgrepo::__private::text_from_sql(__ty, __raw)? {
                        "active" => ::core::result::Result::Ok(Status::Active),
                        "in_review" => ::core::result::Result::Ok(Status::InReview),
                        "gone" => ::core::result::Result::Ok(Status::Archived),
                        __other => ::core::result::Result::Err(::pgrepo::__private::unknown_enum_text(
                            "Status",
                            __other,
                            &["active", "in_review", "gone"]
                        )),
                    }
                }
                fn accepts(__ty: &::pgrepo::__private::Type) -> bool {
                    ::pgrepo::__private::text_enum_accepts(__ty)
                }
            }
            #[automatically_derived]
            impl ::pgrepo::SqlType for Status {
                const PG_TYPE: ::pgrepo::__private::Type = ::pgrepo::__private::Type::TEXT;
                const ARRAY_TYPE: ::pgrepo::__private::Type = ::pgrepo::__private::Type::TEXT_ARRAY;
                type NonNull = Self;
            }
        };
    };
    assert_tokens_eq(&expanded, &expected);
}

#[test]
fn variant_names_are_the_default_text() {
    let expanded = text_enum(quote!(
        enum Level {
            Low,
            HighRisk,
        }
    ))
    .to_string();
    assert!(
        expanded.contains("Level :: HighRisk => \"HighRisk\""),
        "{expanded}"
    );
    let expanded = text_enum(quote!(
        #[pgrepo(rename_all = "SCREAMING_SNAKE_CASE")]
        enum Level {
            Low,
            HighRisk,
        }
    ))
    .to_string();
    assert!(
        expanded.contains("Level :: HighRisk => \"HIGH_RISK\""),
        "{expanded}"
    );
    let expanded = text_enum(quote!(
        #[pgrepo(rename_all = "kebab-case")]
        enum Level {
            Low,
            HighRisk,
        }
    ))
    .to_string();
    assert!(
        expanded.contains("Level :: HighRisk => \"high-risk\""),
        "{expanded}"
    );
}

#[test]
fn reports_every_mistake() {
    let cases = [
        (
            quote!(
                struct S {
                    a: i64,
                }
            ),
            "works on enums whose variants have no fields, and this is a struct",
        ),
        (
            quote!(
                enum E {
                    A(i64),
                    B,
                }
            ),
            "variant `A` has fields",
        ),
        (
            quote!(
                enum E {
                    A { x: i64 },
                }
            ),
            "variant `A` has fields",
        ),
        (
            quote!(
                #[pgrepo(rename_all = "snake")]
                enum E {
                    A,
                }
            ),
            "unknown `rename_all` rule `snake`; did you mean `snake_case`?",
        ),
        (
            quote!(
                #[pgrepo(rename_all = "lowercase")]
                enum E {
                    Ab,
                    AB,
                }
            ),
            "variants `Ab` and `AB` are both stored as \"ab\"",
        ),
        (
            quote!(
                enum E {
                    A,
                    #[pgrepo(rename = "A")]
                    B,
                }
            ),
            "variants `A` and `B` are both stored as \"A\"",
        ),
        (
            quote!(
                enum E {}
            ),
            "`E` has no variants",
        ),
        (
            quote!(
                enum E<T> {
                    A,
                }
            ),
            "generic text enums are not supported",
        ),
        (
            quote!(
                enum E {
                    #[pgrepo(rename_all = "lowercase")]
                    A,
                }
            ),
            "`rename_all` is an enum attribute: put it on the enum",
        ),
        (
            quote!(
                #[pgrepo(rename = "x")]
                enum E {
                    A,
                }
            ),
            "`rename` is a variant attribute: put it on the variant",
        ),
    ];
    for (input, expected) in cases {
        let messages = error_messages(&text_enum(input));
        assert_eq!(messages.len(), 1, "{messages:#?}");
        assert!(
            messages[0].contains(expected),
            "{:?} does not contain {expected:?}",
            messages[0]
        );
        assert!(
            messages[0].contains("\nhelp: "),
            "no help line: {:?}",
            messages[0]
        );
    }
}

#[test]
fn lists_valid_rules() {
    let messages = error_messages(&text_enum(quote!(
        #[pgrepo(rename_all = "Title Case")]
        enum E {
            A,
        }
    )));
    assert!(
        messages.iter().any(|m| m.contains(
            "the rules are `snake_case`, `lowercase`, `UPPERCASE`, `SCREAMING_SNAKE_CASE`, `kebab-case`, `camelCase`, `PascalCase`"
        )),
        "{messages:#?}"
    );
}

#[test]
fn a_native_enum_is_its_type_by_name_resolved_from_the_column() {
    let expanded = pg_enum(quote! {
        #[pgrepo(type_name = "billing.plan", rename_all = "snake_case")]
        pub enum Plan {
            Free,
            ProPlus,
        }
    });
    let text = expanded.to_string();
    assert!(error_messages(&expanded).is_empty(), "{text}");
    // Accepted by name (both directions), declared as resolved from the column, labels as text.
    assert_eq!(
        text.matches(":: pgrepo :: __private :: native_enum_accepts (__ty , \"billing.plan\")")
            .count(),
        2,
        "{text}"
    );
    assert!(
        text.contains(
            "const PARAM_TYPE : :: pgrepo :: ParamType = :: pgrepo :: ParamType :: from_column (\"billing.plan\")"
        ),
        "{text}"
    );
    assert!(!text.contains("PG_TYPE"), "{text}");
    assert!(text.contains("Plan :: ProPlus => \"pro_plus\""), "{text}");
    // The labels, for `verify` to compare with the type's in `pg_enum`.
    assert!(
        text.contains(
            "const ENUM_LABELS : :: core :: option :: Option < & 'static [& 'static str] > = :: core :: option :: Option :: Some (& [\"free\" , \"pro_plus\"])"
        ),
        "{text}"
    );
}

#[test]
fn a_native_enum_needs_a_well_formed_type_name() {
    let missing = pg_enum(quote!(
        enum Plan {
            Free,
        }
    ));
    assert_eq!(
        error_messages(&missing),
        ["`#[derive(PgEnum)]` needs the name of the database's enum type that `Plan` maps to\nhelp: add `#[pgrepo(type_name = \"plan\")]` above the enum: the type of `CREATE TYPE plan AS ENUM (...)`"]
    );
    let malformed = pg_enum(quote!(
        #[pgrepo(type_name = "plan(2)")]
        enum Plan {
            Free,
        }
    ));
    assert_eq!(error_messages(&malformed).len(), 1);
    // The fallback still implements the traits, so fields of this type compile.
    assert!(malformed
        .to_string()
        .contains("impl :: pgrepo :: SqlType for Plan"));
    assert!(!malformed.to_string().contains("ENUM_LABELS"));
    let on_text_enum = text_enum(quote!(
        #[pgrepo(type_name = "plan")]
        enum Plan {
            Free,
        }
    ));
    assert!(
        error_messages(&on_text_enum)[0]
            .starts_with("`type_name` is an attribute of `#[derive(PgEnum)]`"),
        "{:?}",
        error_messages(&on_text_enum)
    );
}
