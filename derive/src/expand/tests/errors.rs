//! Every `#[derive(Entity)]` mistake gives a message that says what is wrong and how to write
//! it right, and all mistakes of one input are reported together.

use proc_macro2::TokenStream;
use quote::quote;

use super::{assert_one_error_in, entity, error_messages};

/// Expands `input` and asserts it gives exactly one error, containing every part of `expected`.
fn assert_one_error(input: TokenStream, expected: &[&str]) {
    assert_one_error_in(&entity(input), expected);
}

#[test]
fn collects_every_mistake_at_once() {
    let messages = error_messages(&entity(quote! {
        #[pgrepo(tabel = "users", order_by = "nme")]
        struct User {
            #[pgrepo(lokup)] email: String,
            #[pgrepo(id)] id: Option<i64>,
            #[pgrepo(generated = true)] at: i64,
        }
    }));
    // `tabel` is reported as a typo of `table`, not also as a missing table.
    assert_eq!(messages.len(), 5, "{messages:#?}");
    assert!(messages[0].contains("unknown pgrepo struct attribute `tabel`; did you mean `table`?"));
    assert!(messages[1].contains("unknown pgrepo field attribute `lokup`; did you mean `lookup`?"));
    assert!(messages[2].contains("`generated` takes no value"));
    assert!(messages[3].contains("`order_by` names `nme`, which is not a field of `User`"));
    assert!(messages[4].contains("the primary key `id` cannot be an `Option`"));
}

#[test]
fn shape_errors() {
    assert_one_error(
        quote!(
            #[pgrepo(table = "t")]
            enum E {
                A,
            }
        ),
        &[
            "works on structs, and this is an enum",
            "#[derive(TextEnum)]",
        ],
    );
    assert_one_error(
        quote!(
            #[pgrepo(table = "t")]
            struct T(i64);
        ),
        &["this is a tuple struct", "struct T { id: i64, ... }"],
    );
    assert_one_error(
        quote!(
            #[pgrepo(table = "t")]
            struct T;
        ),
        &["this is a unit struct"],
    );
    assert_one_error(
        quote!(
            #[pgrepo(table = "t")]
            struct T<X> {
                #[pgrepo(id)]
                id: X,
            }
        ),
        &["generic entities are not supported"],
    );
    assert_one_error(
        quote!(#[pgrepo(table = "t")] union U { #[pgrepo(id)] id: i64 }),
        &["this is a union"],
    );
}

#[test]
fn container_attribute_errors() {
    assert_one_error(
        quote!(
            struct UserAccount {
                #[pgrepo(id)]
                id: i64,
            }
        ),
        &[
            "`UserAccount` has no table name",
            r#"#[pgrepo(table = "user_account")]"#,
        ],
    );
    assert_one_error(
        quote!(
            #[pgrepo(table = "a")]
            #[pgrepo(table = "b")]
            struct T {
                #[pgrepo(id)]
                id: i64,
            }
        ),
        &["duplicate pgrepo attribute `table`", "give `table` once"],
    );
    assert_one_error(
        quote!(#[pgrepo(table = "t", colour = "red")] struct T { #[pgrepo(id)] id: i64 }),
        &[
            "unknown pgrepo struct attribute `colour`",
            "the struct attributes are `table`, `schema`, `new_struct`, `new_derive`, `order_by`, `listing`",
        ],
    );
    assert_one_error(
        quote!(
            #[pgrepo(table = "t", id)]
            struct T {
                #[pgrepo(id)]
                id: i64,
            }
        ),
        &["`id` is a field attribute: put it on the field"],
    );
    assert_one_error(
        quote!(
            #[pgrepo(table = users)]
            struct T {
                #[pgrepo(id)]
                id: i64,
            }
        ),
        &["`table` takes a string", r#"write `table = "users"`"#],
    );
    assert_one_error(
        quote!(
            #[pgrepo(table = "")]
            struct T {
                #[pgrepo(id)]
                id: i64,
            }
        ),
        &["must not be empty"],
    );
    assert_one_error(
        quote!(
            #[pgrepo(table = "t", new_struct = "new T")]
            struct T {
                #[pgrepo(id)]
                id: i64,
            }
        ),
        &["`new T` is not a Rust identifier"],
    );
    assert_one_error(
        quote!(
            #[pgrepo(table = "t", new_struct = "T")]
            struct T {
                #[pgrepo(id)]
                id: i64,
            }
        ),
        &["`T` is the entity itself"],
    );
    assert_one_error(
        quote!(
            #[pgrepo(table = "t", new_derive = "Debug")]
            struct T {
                #[pgrepo(id)]
                id: i64,
            }
        ),
        &[
            "`new_derive` takes a list of derives in parentheses",
            "new_derive(Debug, Clone)",
        ],
    );
}

#[test]
fn field_attribute_errors() {
    assert_one_error(
        quote!(
            #[pgrepo(table = "t")]
            struct T {
                id: i64,
            }
        ),
        &["`T` has no primary key", "#[pgrepo(id)]"],
    );
    assert_one_error(
        quote!(
            #[pgrepo(table = "t")]
            struct T {
                #[pgrepo(id)]
                a: i64,
                #[pgrepo(id)]
                b: i64,
            }
        ),
        &[
            "second `#[pgrepo(id)]` field, `b` (the first is `a`)",
            "#[pgrepo(unique)]",
        ],
    );
    assert_one_error(
        quote!(
            #[pgrepo(table = "t")]
            struct T {
                #[pgrepo(id)]
                id: Option<i64>,
            }
        ),
        &[
            "the primary key `id` cannot be an `Option`",
            "write `id: i64`",
        ],
    );
    for key in ["lookup", "unique", "belongs_to = U"] {
        let key: TokenStream = syn::parse_str(key).unwrap_or_default();
        assert_one_error(
            quote!(
                #[pgrepo(table = "t")]
                struct T {
                    #[pgrepo(id, #key)]
                    id: i64,
                }
            ),
            &["cannot be combined with `id` on `id`", "remove `"],
        );
    }
    assert_one_error(
        quote!(
            #[pgrepo(table = "t")]
            struct T {
                #[pgrepo(id, id)]
                id: i64,
            }
        ),
        &["duplicate pgrepo attribute `id`"],
    );
    assert_one_error(
        quote!(
            #[pgrepo(table = "t")]
            struct T {
                #[pgrepo(id)]
                id: i64,
                #[pgrepo(belongs_to = "U")]
                u: i64,
            }
        ),
        &[
            "`belongs_to` takes a type path, not a string",
            "write `belongs_to = U`",
        ],
    );
    assert_one_error(
        quote!(
            #[pgrepo(table = "t")]
            struct T {
                #[pgrepo(id)]
                id: i64,
                #[pgrepo(relation = "x")]
                u: i64,
            }
        ),
        &["`u` has no `belongs_to`"],
    );
    assert_one_error(
        quote!(
            #[pgrepo(table = "t")]
            struct T {
                #[pgrepo(id)]
                id: i64,
                #[pgrepo(column = "id")]
                other: i64,
            }
        ),
        &["fields `id` and `other` both map to column `id`"],
    );
    assert_one_error(
        quote!(
            #[pgrepo(table = "t")]
            struct T {
                #[pgrepo(id, table = "x")]
                id: i64,
            }
        ),
        &["`table` is a struct attribute: put it on the struct"],
    );
}

#[test]
fn sort_key_errors() {
    let fields = quote!({ #[pgrepo(id)] id: i64, name: String, #[pgrepo(column = "hair")] hair_color: Option<String> });
    let cases: [(TokenStream, &[&str]); 9] = [
        (
            quote!(order_by = "nmae"),
            &["`order_by` names `nmae`, which is not a field of `T`; did you mean `name`?", "the fields of `T` are `id`, `name`, `hair_color`"],
        ),
        (
            quote!(order_by = "hair"),
            &["`hair` is the column of field `hair_color`, and sort keys name fields"],
        ),
        (
            quote!(order_by = "hair_color"),
            &["nullable sort columns are not supported, because keyset pagination needs a total order", "NOT NULL"],
        ),
        (
            quote!(order_by = "name sideways"),
            &["malformed entry `name sideways` in `order_by`", "`asc` or `desc`"],
        ),
        (quote!(order_by = "  "), &["`order_by` is empty"]),
        (quote!(order_by = "name,,id"), &["`order_by` has an empty entry"]),
        (quote!(order_by = "name, name desc"), &["`order_by` names `name` twice"]),
        (
            quote!(listing(name = "x", order_by = "nope")),
            &["the `order_by` of listing `x` names `nope`"],
        ),
        (
            quote!(listing(order_by = "id")),
            &["`listing` needs a `name`", r#"listing(name = "recent", order_by = "created_at desc")"#],
        ),
    ];
    for (attr, expected) in cases {
        assert_one_error(
            quote!(#[pgrepo(table = "t", #attr)] struct T #fields),
            expected,
        );
    }
}

#[test]
fn listing_errors() {
    assert_one_error(
        quote!(
            #[pgrepo(
                table = "t",
                listing(name = "a", order_by = "id"),
                listing(name = "a", order_by = "id desc")
            )]
            struct T {
                #[pgrepo(id)]
                id: i64,
            }
        ),
        &["duplicate listing name `a`"],
    );
    assert_one_error(
        quote!(
            #[pgrepo(table = "t", listing(name = "by name", order_by = "id"))]
            struct T {
                #[pgrepo(id)]
                id: i64,
            }
        ),
        &["listing name `by name` is not a Rust identifier"],
    );
    assert_one_error(
        quote!(
            #[pgrepo(table = "t", listing)]
            struct T {
                #[pgrepo(id)]
                id: i64,
            }
        ),
        &["`listing` takes a name and a sort key in parentheses"],
    );
    assert_one_error(
        quote!(
            #[pgrepo(table = "t", listing(name = "a", order_by = "id", limit = "3"))]
            struct T {
                #[pgrepo(id)]
                id: i64,
            }
        ),
        &[
            "unknown pgrepo listing attribute `limit`",
            "the listing attributes are `name`, `order_by`",
        ],
    );
}

#[test]
fn generated_constants_must_not_collide() {
    assert_one_error(
        quote!(#[pgrepo(table = "t")] struct T { #[pgrepo(id)] id: i64, #[pgrepo(belongs_to = Team)] owner: i64 }),
        &[
            "the `belongs_to` relation of `owner` generates the constant `T::OWNER`, which the lookup by `owner` generates too",
            r#"#[pgrepo(belongs_to = Team, relation = "team")]"#,
        ],
    );
    assert_one_error(
        quote!(#[pgrepo(table = "t")] struct T {
            #[pgrepo(id)] id: i64,
            #[pgrepo(belongs_to = Team)] team_id: i64,
            #[pgrepo(lookup)] team: String,
        }),
        &[
            "the `belongs_to` relation of `team_id` generates the constant `T::TEAM`, which the lookup by `team` generates too",
            r#"relation = "parent_team""#,
        ],
    );
    assert_one_error(
        quote!(
            #[pgrepo(table = "t", listing(name = "email", order_by = "email"))]
            struct T {
                #[pgrepo(id)]
                id: i64,
                #[pgrepo(unique)]
                email: String,
            }
        ),
        &[
            "listing `email` generates the constant `T::EMAIL`",
            r#"name = "by_email""#,
        ],
    );
    // Renaming the relation resolves the collision.
    let expanded = entity(quote!(
        #[pgrepo(table = "t")]
        struct T {
            #[pgrepo(id)]
            id: i64,
            #[pgrepo(belongs_to = Team, relation = "team")]
            owner: i64,
        }
    ));
    assert!(error_messages(&expanded).is_empty(), "{expanded}");
}

#[test]
fn generated_with_id_is_fine() {
    let expanded = entity(quote!(
        #[pgrepo(table = "t")]
        struct T {
            #[pgrepo(generated, id)]
            id: i64,
        }
    ));
    assert!(error_messages(&expanded).is_empty(), "{expanded}");
}
