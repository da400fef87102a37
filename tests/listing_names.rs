//! A listing is its sort key, not its name: a listing the user names `default` pages in its own
//! order, not in the entity's default order (and the other way round), and their cursors are
//! not interchangeable.

use pgrepo::{Entity, Error};

use crate::common::*;

/// The users table ordered by name by default, with a listing named `default` by score.
#[derive(Debug, Clone, PartialEq, Entity)]
#[pgrepo(table = "users", order_by = "name")]
#[pgrepo(listing(name = "default", order_by = "score desc"))]
struct Ranked {
    #[pgrepo(id, generated)]
    id: i64,
    #[pgrepo(unique)]
    email: String,
    name: String,
    score: f64,
}

fn names(page: &pgrepo::Page<Ranked>) -> Vec<&str> {
    page.items.iter().map(|r| r.name.as_str()).collect()
}

#[tokio::test]
async fn a_listing_named_default_pages_in_its_own_order() {
    let t = fresh("listing_default").await;
    insert_users(&t.db, 12).await; // "User 0" … "User 11", scores 0 … 11
    let repo = t.db.repo::<Ranked>();

    // The entity's default order (by name) first, then the listing named `default`: each
    // must get its own statements, whichever was built first.
    let by_name = repo.list().first(4).await.unwrap();
    assert_eq!(names(&by_name), ["User 0", "User 1", "User 10", "User 11"]);
    let by_score = repo.list_by(Ranked::DEFAULT).first(4).await.unwrap();
    assert_eq!(names(&by_score), ["User 11", "User 10", "User 9", "User 8"]);

    let next = repo
        .list_by(Ranked::DEFAULT)
        .after(by_score.end_cursor.as_ref().unwrap(), 2)
        .await
        .unwrap();
    assert_eq!(names(&next), ["User 7", "User 6"]);
    let next = repo
        .list()
        .after(by_name.end_cursor.as_ref().unwrap(), 2)
        .await
        .unwrap();
    assert_eq!(names(&next), ["User 2", "User 3"]);

    // A cursor of one order is rejected by the other.
    let err = repo
        .list()
        .after(by_score.end_cursor.as_ref().unwrap(), 2)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidCursor { .. }), "{err:?}");
}
