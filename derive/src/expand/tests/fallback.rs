//! With mistakes, every derive still generates what the rest of the crate uses (its fallback
//! expansion), after the errors: one mistake is one error, not one more per use.

use quote::quote;

use super::{entity, error_messages, text_enum};

#[test]
fn an_entity_with_a_mistake_still_has_its_items() {
    let expanded = entity(quote! {
        #[pgrepo(table = "users", colour = "red", listing(name = "by_name", order_by = "name"))]
        pub struct User {
            #[pgrepo(id, generated)] pub id: i64,
            #[pgrepo(unique)] pub email: String,
            pub name: String,
            #[pgrepo(belongs_to = Team)] pub team_id: i64,
        }
    });
    assert_eq!(error_messages(&expanded).len(), 1);
    let expanded = expanded.to_string();
    for item in [
        "pub struct NewUser { pub email : String , pub name : String , pub team_id : i64 , }",
        "impl :: pgrepo :: Entity for User { type Id = i64 ; type New = NewUser ;",
        "impl :: pgrepo :: FromRow for User",
        "impl :: pgrepo :: Insertable for NewUser",
        "impl :: pgrepo :: Upsertable for User { }",
        "pub const EMAIL :",
        "pub const TEAM :",
        "pub const BY_NAME :",
        "pub mod __pgrepo_fields_User",
    ] {
        assert!(expanded.contains(item), "no `{item}` in {expanded}");
    }
}

#[test]
fn a_misspelt_key_is_read_as_the_key_meant() {
    let expanded = entity(quote! {
        #[pgrepo(tabel = "users")]
        struct User {
            #[pgrepo(iid, generatd)] id: i64,
            #[pgrepo(uniqe)] email: String,
            #[pgrepo(generated = yes)] created_at: i64,
        }
    });
    // Five mistakes, five errors: the four misspellings and the valued flag.
    let messages = error_messages(&expanded);
    assert_eq!(messages.len(), 5, "{messages:#?}");
    let expanded = expanded.to_string();
    assert!(
        expanded.contains("const TABLE : & 'static str = \"users\""),
        "{expanded}"
    );
    // `iid` is the primary key, `generatd` and the valued `generated` leave the insert struct.
    assert!(
        expanded.contains("fn id (& self) -> & i64 { & self . id }"),
        "{expanded}"
    );
    assert!(
        expanded.contains("struct NewUser { email : String , }"),
        "{expanded}"
    );
    assert!(expanded.contains("const EMAIL :"), "{expanded}");
}

#[test]
fn a_misspelt_key_adds_no_error_of_its_own_value() {
    // `tabel = 5` is one mistake: the misspelling. The value is read as `table`'s, muted.
    let messages = error_messages(&entity(quote! {
        #[pgrepo(tabel = 5)]
        struct User { #[pgrepo(id, iid)] id: i64 }
    }));
    assert_eq!(messages.len(), 2, "{messages:#?}");
    assert!(messages[0].contains("`tabel`; did you mean `table`?"));
    assert!(messages[1].contains("`iid`; did you mean `id`?"));
}

#[test]
fn without_a_usable_primary_key_the_key_methods_cannot_run() {
    for input in [
        quote!(
            #[pgrepo(table = "t")]
            struct T {
                name: String,
            }
        ),
        quote!(
            #[pgrepo(table = "t")]
            struct T {
                #[pgrepo(id)]
                id: Option<i64>,
            }
        ),
    ] {
        let expanded = entity(input);
        assert_eq!(error_messages(&expanded).len(), 1);
        let expanded = expanded.to_string();
        assert!(expanded.contains("type Id = i64 ;"), "{expanded}");
        assert!(
            expanded.contains("fn primary_key () -> usize { :: core :: unreachable ! () }"),
            "{expanded}"
        );
        assert!(
            expanded.contains("fn id (& self) -> & i64 { :: core :: unreachable ! () }"),
            "{expanded}"
        );
    }
}

#[test]
fn clashing_names_are_generated_once() {
    let expanded = entity(quote! {
        #[pgrepo(table = "t", new_struct = "T", listing(name = "email", order_by = "email"))]
        struct T { #[pgrepo(id)] id: i64, #[pgrepo(unique)] email: String }
    });
    assert_eq!(error_messages(&expanded).len(), 2);
    let expanded = expanded.to_string();
    assert_eq!(expanded.matches("const EMAIL :").count(), 1, "{expanded}");
    // `new_struct` naming the entity itself: the default name instead of a second `T`.
    assert!(expanded.contains("struct NewT"), "{expanded}");
    assert_eq!(expanded.matches("struct T ").count(), 0, "{expanded}");
}

#[test]
fn a_listing_whose_sort_key_is_wrong_keeps_its_constant() {
    let expanded = entity(quote! {
        #[pgrepo(table = "t", listing(name = "recent", order_by = "nope"))]
        struct T { #[pgrepo(id)] id: i64 }
    });
    assert_eq!(error_messages(&expanded).len(), 1);
    assert!(
        expanded
            .to_string()
            .contains("const RECENT : :: pgrepo :: SortKey < T > = :: pgrepo :: SortKey :: __new (\"recent\" , & [])"),
        "{expanded}"
    );
}

#[test]
fn nothing_fits_an_input_of_the_wrong_shape() {
    for input in [
        quote!(
            #[pgrepo(table = "t")]
            struct T<X> {
                #[pgrepo(id)]
                id: X,
            }
        ),
        quote!(
            #[pgrepo(table = "t")]
            struct T(i64);
        ),
        quote!(
            #[pgrepo(table = "t")]
            enum T {
                A,
            }
        ),
    ] {
        let expanded = entity(input);
        assert_eq!(error_messages(&expanded).len(), 1);
        assert!(!expanded.to_string().contains("impl"), "{expanded}");
    }
}

#[test]
fn a_text_enum_with_a_mistake_still_has_its_impls() {
    let expanded = text_enum(quote! {
        enum Status { Active, #[pgrepo(renmae = "gone")] Archived, Deleted { at: i64 } }
    });
    assert_eq!(error_messages(&expanded).len(), 2);
    let expanded = expanded.to_string();
    for item in [
        "impl :: pgrepo :: __private :: ToSql for Status",
        "impl < '__a > :: pgrepo :: __private :: FromSql < '__a > for Status",
        "impl :: pgrepo :: SqlType for Status",
    ] {
        assert!(expanded.contains(item), "no `{item}` in {expanded}");
    }
    // The variant with fields would not match `Status::Deleted`: the bodies cannot run instead.
    assert!(!expanded.contains("Status :: Deleted"), "{expanded}");
    assert_eq!(expanded.matches(":: core :: unreachable ! ()").count(), 2);
}
