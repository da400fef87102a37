//! Inserting from a caller's own types: a hand-written `Insertable` and the derived one.

use crate::common::*;

/// A caller's own type with a hand-written `Insertable`, inserted without copying into
/// `NewPost`: borrowed title, no body.
struct Draft<'a> {
    author: i64,
    title: &'a str,
}

impl pgrepo::Insertable for Draft<'_> {
    type Entity = Post;
    fn param(&self, column: usize) -> &(dyn pgrepo::tokio_postgres::types::ToSql + Sync) {
        const NO_BODY: Option<String> = None;
        match column {
            1 => &self.author,
            2 => &self.title,
            3 => &NO_BODY,
            _ => unreachable!("posts has four columns, the first generated"),
        }
    }
}

/// The same, derived: fields bound by name (or `field = "..."`), checked at compile time.
#[derive(pgrepo::Insertable)]
#[pgrepo(entity = Post)]
struct DerivedDraft<'a> {
    user_id: i64,
    #[pgrepo(field = "title")]
    headline: &'a str,
    body: Option<&'a str>,
}

#[tokio::test]
async fn a_derived_insertable_binds_borrowed_fields_by_name() {
    let t = fresh("insertable_derive").await;
    let author = t.db.repo::<User>().insert(&new_user(1)).await.unwrap();
    let posts = t.db.repo::<Post>();
    let text = String::from("the body");
    let one = posts
        .insert(&DerivedDraft {
            user_id: author.id,
            headline: "derived",
            body: Some(&text),
        })
        .await
        .unwrap();
    assert_eq!(
        (one.user_id, one.title.as_str(), one.body.as_deref()),
        (author.id, "derived", Some("the body"))
    );
    let many = posts
        .insert_many(&[
            DerivedDraft {
                user_id: author.id,
                headline: "a",
                body: None,
            },
            DerivedDraft {
                user_id: author.id,
                headline: "b",
                body: Some("b's"),
            },
        ])
        .await
        .unwrap();
    let got: Vec<(&str, Option<&str>)> = many
        .iter()
        .map(|p| (p.title.as_str(), p.body.as_deref()))
        .collect();
    assert_eq!(got, [("a", None), ("b", Some("b's"))]);
}

#[tokio::test]
async fn rows_insert_from_any_insertable_type() {
    let t = fresh("insertable").await;
    let author = t.db.repo::<User>().insert(&new_user(1)).await.unwrap();
    let posts = t.db.repo::<Post>();
    let titles = ["first", "second", "third", "fourth", "fifth", "sixth"];
    let draft = |i: usize| Draft {
        author: author.id,
        title: titles[i],
    };
    let one = posts.insert(&draft(0)).await.unwrap();
    let many = posts
        .insert_many(&[draft(1), draft(2), draft(3)])
        .await
        .unwrap();
    let counted = posts
        .insert_many_count(&[draft(4), draft(5)])
        .await
        .unwrap();
    assert_eq!(counted, 2);
    assert_eq!(one.title, "first");
    let returned: Vec<&str> = many.iter().map(|p| p.title.as_str()).collect();
    assert_eq!(returned, ["second", "third", "fourth"], "input order");
    let stored = posts.all().await.unwrap();
    let mut titles_stored: Vec<(&str, i64, Option<&str>)> = stored
        .iter()
        .map(|p| (p.title.as_str(), p.user_id, p.body.as_deref()))
        .collect();
    titles_stored.sort();
    let mut expected: Vec<(&str, i64, Option<&str>)> =
        titles.iter().map(|t| (*t, author.id, None)).collect();
    expected.sort();
    assert_eq!(titles_stored, expected);
}
