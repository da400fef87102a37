//! `#[derive(Insertable)]`: its mistakes are reported like the entity's (collected, each with a
//! `help:` line showing the right form), and its expansion resolves each field's column once.

use proc_macro2::TokenStream;
use quote::quote;

use super::{assert_one_error_in, error_messages, insertable};

/// Expands `input` and asserts it gives exactly one error, containing every part of `expected`
/// and a `help:` line.
fn assert_one_error(input: TokenStream, expected: &[&str]) {
    assert_one_error_in(&insertable(input), expected);
}

#[test]
fn shape_errors_show_the_right_form() {
    assert_one_error(
        quote!(
            #[pgrepo(entity = User)]
            enum E {
                A,
            }
        ),
        &[
            "works on structs, and this is an enum",
            "struct E { email: String, ... }",
        ],
    );
    assert_one_error(
        quote!(
            #[pgrepo(entity = User)]
            struct T(String);
        ),
        &["this is a tuple struct"],
    );
    assert_one_error(
        quote!(
            #[pgrepo(entity = User)]
            struct T;
        ),
        &["this is a unit struct"],
    );
    assert_one_error(
        quote!(#[pgrepo(entity = User)] union U { a: i64 }),
        &["this is a union"],
    );
}

#[test]
fn attribute_errors_show_the_right_form() {
    assert_one_error(
        quote!(
            struct SignUp {
                name: String,
            }
        ),
        &[
            "`SignUp` does not name the entity it inserts",
            "#[pgrepo(entity = User)]",
        ],
    );
    assert_one_error(
        quote!(
            #[pgrepo(entity = "User")]
            struct SignUp {
                name: String,
            }
        ),
        &[
            "`entity` takes a type path, not a string",
            "write `entity = User`",
        ],
    );
    assert_one_error(
        quote!(
            #[pgrepo(entity)]
            struct SignUp {
                name: String,
            }
        ),
        &[
            "`entity` needs the entity whose table it inserts into",
            "entity = User",
        ],
    );
    assert_one_error(
        quote!(
            #[pgrepo(entity = User, table = "users")]
            struct SignUp {
                name: String,
            }
        ),
        &[
            "unknown pgrepo insertable struct attribute `table`; `table` is an entity attribute",
            "the insertable struct attributes are `entity`",
        ],
    );
    assert_one_error(
        quote!(
            #[pgrepo(entity = User)]
            struct SignUp {
                #[pgrepo(column = "name")]
                n: String,
            }
        ),
        &[
            "`column` is an entity field attribute",
            "the insertable field attributes are `field`",
        ],
    );
    assert_one_error(
        quote!(
            #[pgrepo(entity = User)]
            struct SignUp {
                #[pgrepo(field = "a b")]
                n: String,
            }
        ),
        &["`a b` is not a field name", r#"field = "name""#],
    );
    assert_one_error(
        quote!(
            #[pgrepo(entity = User, entity = Team)]
            struct SignUp {
                name: String,
            }
        ),
        &["duplicate pgrepo attribute `entity`", "give `entity` once"],
    );
    assert_one_error(
        quote!(
            #[pgrepo(entity = User)]
            struct SignUp {
                name: String,
                #[pgrepo(field = "name")]
                also: String,
            }
        ),
        &[
            "`name` and `also` both fill the entity's field `name`",
            "point `also` at another entity field",
        ],
    );
}

#[test]
fn misspelt_keys_are_one_error_and_read_as_meant() {
    let expanded = insertable(quote! {
        #[pgrepo(entiy = User)]
        struct SignUp { #[pgrepo(feild = "name")] display_name: String }
    });
    let messages = error_messages(&expanded);
    assert_eq!(messages.len(), 2, "{messages:#?}");
    assert!(messages[0].contains("`entiy`; did you mean `entity`?"));
    assert!(messages[1].contains("`feild`; did you mean `field`?"));
    // Not also "does not name the entity": `entiy` was read as `entity`, and the fallback impl
    // names it.
    let expanded = expanded.to_string();
    assert!(
        expanded.contains("impl :: pgrepo :: Insertable for SignUp { type Entity = User ;"),
        "{expanded}"
    );
}

#[test]
fn collects_every_mistake_at_once() {
    let messages = error_messages(&insertable(quote! {
        #[pgrepo(table = "users")]
        struct SignUp {
            #[pgrepo(id)] id: i64,
            #[pgrepo(field = "")] name: String,
        }
    }));
    assert_eq!(messages.len(), 4, "{messages:#?}");
    assert!(messages[0].contains("attribute `table`"));
    assert!(messages[1].contains("does not name the entity"));
    assert!(messages[2].contains("attribute `id`"));
    assert!(messages[3].contains("is not a field name"));
    assert!(messages.iter().all(|message| message.contains("\nhelp: ")));
}

#[test]
fn each_field_is_resolved_once() {
    let expanded = insertable(quote! {
        #[pgrepo(entity = crate::models::User)]
        struct SignUp<'a> { #[pgrepo(field = "name")] display_name: &'a str, r#type: &'a str }
    })
    .to_string();
    assert!(error_messages(&expanded.parse().unwrap_or_default()).is_empty());
    assert!(
        expanded.contains(
            "const __COLUMN_0 : usize = crate :: models :: __pgrepo_fields_User :: name ;"
        ),
        "{expanded}"
    );
    assert!(
        expanded.contains(
            "const __COLUMN_1 : usize = crate :: models :: __pgrepo_fields_User :: r#type ;"
        ),
        "{expanded}"
    );
    assert!(
        expanded.contains("__COLUMN_0 => & self . display_name ,"),
        "{expanded}"
    );
    assert!(
        expanded.contains("covers (crate :: models :: __pgrepo_fields_User :: INSERT_COLUMNS , & [__COLUMN_0 , __COLUMN_1])"),
        "{expanded}"
    );
}

#[test]
fn without_an_entity_nothing_is_generated() {
    let expanded = insertable(quote!(
        struct SignUp {
            name: String,
        }
    ));
    assert_eq!(error_messages(&expanded).len(), 1);
    assert!(!expanded.to_string().contains("impl"), "{expanded}");
}
