//! The data every implementation reads and writes, and the checks of what they return.
//!
//! The data rules follow Diesel's `diesel_bench`: users are named `User {i}` (i from 0), hair
//! colours alternate `black` (even i) / `brown` (odd i) where a workload filters on them, posts
//! are titled `Post {i} by user {user_id}` with no body, comments read
//! `Comment {i} on post {post_id}`. Posts also carry `tags` (the array column Diesel's
//! migrations give `posts`) and `nullable_tags` (this suite's nullable one); `diesel_bench`
//! leaves `tags` at its default, so their values ([`post_tags`], [`post_nullable_tags`]) are
//! this suite's rule. Each implementation
//! returns its own row types; the record traits here let the suite check them, once per
//! implementation and outside the timed loop.

use std::collections::HashMap;

use crate::Result;

/// A user to insert, built once outside the timed loop; implementations borrow or clone it as
/// their API requires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    /// `User {i}`.
    pub name: String,
    /// Hair colour, `None` where `diesel_bench` inserts none.
    pub hair_color: Option<String>,
}

/// Which hair colours the seeded users get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HairColors {
    /// Every user has `NULL` (trivial_query, as in `diesel_bench`).
    None,
    /// `black` for even indexes, `brown` for odd ones.
    Alternating,
    /// The same colour for every user (the insert workload's `"hair_color"`).
    Fixed(&'static str),
}

impl HairColors {
    /// The colour of the user with index `i` (0-based).
    pub fn of(self, i: usize) -> Option<&'static str> {
        match self {
            HairColors::None => None,
            HairColors::Alternating => Some(if i.is_multiple_of(2) {
                "black"
            } else {
                "brown"
            }),
            HairColors::Fixed(color) => Some(color),
        }
    }
}

/// The name of the user with index `i` (0-based; its id is `i + 1` after a fresh seed).
pub fn user_name(i: usize) -> String {
    format!("User {i}")
}

/// The title of post `i` (0..10) of the user with id `user_id`.
pub fn post_title(i: usize, user_id: i32) -> String {
    format!("Post {i} by user {user_id}")
}

/// The words tags are drawn from: plain words, and two that a text-format array literal must
/// quote (`NULL` would read as a NULL element, the other has a comma, a quote and braces), so
/// that an implementation building array literals instead of binding arrays shows up.
const TAG_WORDS: [&str; 7] = [
    "rust",
    "postgres",
    "orm",
    "benchmark",
    "arrays",
    "NULL",
    "a \"quoted\", {braced} tag",
];

/// `posts.tags` of post `i` (0..10) of the user with id `user_id`: `i % 4` words (so one post
/// in four has the empty array, the column's default), rotating through [`TAG_WORDS`].
pub fn post_tags(i: usize, user_id: i32) -> Vec<String> {
    let start = i + user_id.unsigned_abs() as usize;
    (0..i % 4)
        .map(|k| TAG_WORDS[(start + k) % TAG_WORDS.len()].to_owned())
        .collect()
}

/// `posts.nullable_tags` of post `i` (0..10) of the user with id `user_id`: NULL for every
/// third post (`i % 3 == 0`), else one or two tags naming the post.
pub fn post_nullable_tags(i: usize, user_id: i32) -> Option<Vec<String>> {
    match i % 3 {
        0 => None,
        n => Some(
            (0..n)
                .map(|k| format!("tag {k} of post {i} by user {user_id}"))
                .collect(),
        ),
    }
}

/// A post to insert, as seeding and the post-write check pass it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPost {
    /// The author's id.
    pub user_id: i32,
    /// `Post {i} by user {user_id}`.
    pub title: String,
    /// Always `None`, as in `diesel_bench`.
    pub body: Option<String>,
    /// [`post_tags`].
    pub tags: Vec<String>,
    /// [`post_nullable_tags`].
    pub nullable_tags: Option<Vec<String>>,
}

/// Posts `0..per_user` of each user with an id in `user_ids`, user by user: the rows that
/// seeding (and the post-write check) insert, in id order.
pub fn new_posts(user_ids: std::ops::RangeInclusive<i32>, per_user: usize) -> Vec<NewPost> {
    user_ids
        .flat_map(|user_id| {
            (0..per_user).map(move |i| NewPost {
                user_id,
                title: post_title(i, user_id),
                body: None,
                tags: post_tags(i, user_id),
                nullable_tags: post_nullable_tags(i, user_id),
            })
        })
        .collect()
}

/// The text of comment `i` (0..10) on the post with id `post_id`.
pub fn comment_text(i: usize, post_id: i32) -> String {
    format!("Comment {i} on post {post_id}")
}

/// `count` users to insert, as the insert workload passes them.
pub fn new_users(count: usize, colors: HairColors) -> Vec<NewUser> {
    (0..count)
        .map(|i| NewUser {
            name: user_name(i),
            hair_color: colors.of(i).map(str::to_owned),
        })
        .collect()
}

/// A loaded `users` row, whatever type the implementation decodes it into.
pub trait UserRecord {
    /// `users.id`.
    fn id(&self) -> i32;
    /// `users.name`.
    fn name(&self) -> &str;
    /// `users.hair_color`.
    fn hair_color(&self) -> Option<&str>;
}

/// A loaded `posts` row.
pub trait PostRecord {
    /// `posts.id`.
    fn id(&self) -> i32;
    /// `posts.user_id`.
    fn user_id(&self) -> i32;
    /// `posts.title`.
    fn title(&self) -> &str;
    /// `posts.body`.
    fn body(&self) -> Option<&str>;
    /// `posts.tags`.
    fn tags(&self) -> &[String];
    /// `posts.nullable_tags`, elements as `Option` whatever the implementation decodes them into
    /// (Diesel's schema types them `Nullable<Array<Nullable<Text>>>`, the others `Vec<String>`).
    fn nullable_tags(&self) -> Option<Vec<Option<&str>>>;
}

/// An element of a decoded array of text: `String`, or `Option<String>` where the
/// implementation maps the elements as nullable.
pub trait TextElement {
    /// The element, `None` for a NULL element.
    fn as_text(&self) -> Option<&str>;
}

impl TextElement for String {
    fn as_text(&self) -> Option<&str> {
        Some(self)
    }
}

impl TextElement for Option<String> {
    fn as_text(&self) -> Option<&str> {
        self.as_deref()
    }
}

/// A loaded `comments` row.
pub trait CommentRecord {
    /// `comments.id`.
    fn id(&self) -> i32;
    /// `comments.post_id`.
    fn post_id(&self) -> i32;
    /// `comments.text`.
    fn text(&self) -> &str;
}

/// Implements [`UserRecord`], [`PostRecord`] and [`CommentRecord`] for row structs whose fields
/// are named like the columns (`id`, `name`, `hair_color`; `id`, `user_id`, `title`, `body`,
/// `tags`, `nullable_tags`; `id`, `post_id`, `text`), which is what every implementation here
/// uses.
#[macro_export]
macro_rules! impl_records {
    ($user:ty, $post:ty, $comment:ty) => {
        impl $crate::model::UserRecord for $user {
            fn id(&self) -> i32 {
                self.id
            }
            fn name(&self) -> &str {
                &self.name
            }
            fn hair_color(&self) -> Option<&str> {
                self.hair_color.as_deref()
            }
        }
        impl $crate::model::PostRecord for $post {
            fn id(&self) -> i32 {
                self.id
            }
            fn user_id(&self) -> i32 {
                self.user_id
            }
            fn title(&self) -> &str {
                &self.title
            }
            fn body(&self) -> Option<&str> {
                self.body.as_deref()
            }
            fn tags(&self) -> &[String] {
                &self.tags
            }
            fn nullable_tags(&self) -> Option<Vec<Option<&str>>> {
                self.nullable_tags.as_ref().map(|tags| {
                    tags.iter()
                        .map($crate::model::TextElement::as_text)
                        .collect()
                })
            }
        }
        impl $crate::model::CommentRecord for $comment {
            fn id(&self) -> i32 {
                self.id
            }
            fn post_id(&self) -> i32 {
                self.post_id
            }
            fn text(&self) -> &str {
                &self.text
            }
        }
    };
}

fn check(condition: bool, what: impl FnOnce() -> String) -> Result<()> {
    if condition {
        Ok(())
    } else {
        Err(what().into())
    }
}

/// Checks one user against the seed: id `i + 1` is named `User {i}` with colour `colors.of(i)`.
pub fn verify_user(user: &impl UserRecord, colors: HairColors) -> Result<()> {
    let index = usize::try_from(user.id() - 1).map_err(|_| format!("user id {}", user.id()))?;
    check(user.name() == user_name(index), || {
        format!("user {} is named {:?}", user.id(), user.name())
    })?;
    check(user.hair_color() == colors.of(index), || {
        format!("user {} has hair colour {:?}", user.id(), user.hair_color())
    })
}

/// Checks a full load of `count` seeded users (any order).
pub fn verify_users<U: UserRecord>(users: &[U], count: usize, colors: HairColors) -> Result<()> {
    check(users.len() == count, || {
        format!("loaded {} users, expected {count}", users.len())
    })?;
    let mut seen = vec![false; count];
    for user in users {
        verify_user(user, colors)?;
        let slot = seen
            .get_mut(user.id() as usize - 1)
            .ok_or_else(|| format!("user id {} out of range", user.id()))?;
        check(!std::mem::replace(slot, true), || {
            format!("user {} loaded twice", user.id())
        })?;
    }
    Ok(())
}

/// Checks `users LEFT JOIN posts WHERE hair_color = 'black'` over `count` alternating users and
/// no posts (as `diesel_bench` seeds it): every black user once, each with no post.
pub fn verify_medium<U: UserRecord, P: PostRecord>(
    rows: &[(U, Option<P>)],
    count: usize,
) -> Result<()> {
    let black = count.div_ceil(2);
    check(rows.len() == black, || {
        format!("loaded {} rows, expected {black}", rows.len())
    })?;
    for (user, post) in rows {
        verify_user(user, HairColors::Alternating)?;
        check(user.hair_color() == Some("black"), || {
            format!("user {} is not black-haired", user.id())
        })?;
        check(post.is_none(), || format!("user {} has a post", user.id()))?;
    }
    Ok(())
}

/// Users, posts per user and comments per post of the loading_associations workload.
pub const ASSOCIATION_USERS: usize = 100;
/// Posts per user of the loading_associations workload.
pub const POSTS_PER_USER: usize = 10;
/// Comments per post of the loading_associations workload.
pub const COMMENTS_PER_POST: usize = 10;

/// A user with its posts, each with its comments, as loading_associations returns them.
pub type UserTree<U, P, C> = (U, Vec<(P, Vec<C>)>);

/// Groups the three flat row lists of loading_associations into the tree, for implementations
/// that query with `= ANY($1)` and group by hand: every post under its user, every comment
/// under its post, each in the order it arrived.
pub fn group_tree<U: UserRecord, P: PostRecord, C: CommentRecord>(
    users: Vec<U>,
    posts: Vec<P>,
    comments: Vec<C>,
) -> Vec<UserTree<U, P, C>> {
    let post_index: HashMap<i32, usize> =
        posts.iter().enumerate().map(|(i, p)| (p.id(), i)).collect();
    let mut comments_by_post: Vec<Vec<C>> = posts.iter().map(|_| Vec::new()).collect();
    for comment in comments {
        comments_by_post[post_index[&comment.post_id()]].push(comment);
    }
    let user_index: HashMap<i32, usize> =
        users.iter().enumerate().map(|(i, u)| (u.id(), i)).collect();
    let mut tree: Vec<UserTree<U, P, C>> =
        users.into_iter().map(|user| (user, Vec::new())).collect();
    for (post, comments) in posts.into_iter().zip(comments_by_post) {
        tree[user_index[&post.user_id()]].1.push((post, comments));
    }
    tree
}

/// Zips levels loaded one statement each, already grouped per parent (pgrepo's `children`:
/// posts per user; comments per post, in the order of the flattened posts), into the tree.
pub fn nest<U, P, C>(
    users: Vec<U>,
    posts: Vec<Vec<P>>,
    comments: impl IntoIterator<Item = Vec<C>>,
) -> Vec<UserTree<U, P, C>> {
    let mut comments = comments.into_iter();
    users
        .into_iter()
        .zip(posts)
        .map(|(user, posts)| {
            let with_comments = posts
                .into_iter()
                .map(|post| (post, comments.next().unwrap_or_default()))
                .collect();
            (user, with_comments)
        })
        .collect()
}

/// Checks one seeded post against the data rules: titled `Post {i} by user {user_id}`, no body,
/// and the tags of post `i` of that user ([`post_tags`], [`post_nullable_tags`]).
pub fn verify_post(post: &impl PostRecord) -> Result<()> {
    let index = post
        .title()
        .strip_prefix("Post ")
        .and_then(|rest| rest.strip_suffix(&format!(" by user {}", post.user_id())))
        .and_then(|i| i.parse::<usize>().ok())
        .ok_or_else(|| format!("post {} is titled {:?}", post.id(), post.title()))?;
    check(post.body().is_none(), || {
        format!("post {} has a body", post.id())
    })?;
    let tags = post_tags(index, post.user_id());
    check(post.tags() == tags.as_slice(), || {
        format!(
            "post {} has tags {:?}, wanted {tags:?}",
            post.id(),
            post.tags()
        )
    })?;
    let nullable_tags = post_nullable_tags(index, post.user_id());
    let wanted: Option<Vec<Option<&str>>> = nullable_tags
        .as_ref()
        .map(|tags| tags.iter().map(|tag| Some(tag.as_str())).collect());
    check(post.nullable_tags() == wanted, || {
        format!(
            "post {} has nullable_tags {:?}, wanted {wanted:?}",
            post.id(),
            post.nullable_tags()
        )
    })
}

/// Checks the loading_associations result: every user once, each with its 10 posts (each as
/// [`verify_post`] checks it), each with its 10 comments, every child under the right parent.
pub fn verify_associations<U, P, C>(tree: &[UserTree<U, P, C>]) -> Result<()>
where
    U: UserRecord,
    P: PostRecord,
    C: CommentRecord,
{
    let users: Vec<&U> = tree.iter().map(|(user, _)| user).collect();
    check(users.len() == ASSOCIATION_USERS, || {
        format!("loaded {} users", users.len())
    })?;
    let mut seen = [false; ASSOCIATION_USERS];
    for (user, posts) in tree {
        verify_user(user, HairColors::Alternating)?;
        let slot = seen
            .get_mut(user.id() as usize - 1)
            .ok_or_else(|| format!("user id {} out of range", user.id()))?;
        check(!std::mem::replace(slot, true), || {
            format!("user {} loaded twice", user.id())
        })?;
        check(posts.len() == POSTS_PER_USER, || {
            format!("user {} has {} posts", user.id(), posts.len())
        })?;
        for (post, comments) in posts {
            check(post.user_id() == user.id(), || {
                format!("post {} grouped under user {}", post.id(), user.id())
            })?;
            verify_post(post)?;
            check(comments.len() == COMMENTS_PER_POST, || {
                format!("post {} has {} comments", post.id(), comments.len())
            })?;
            for comment in comments {
                check(comment.post_id() == post.id(), || {
                    format!("comment {} grouped under post {}", comment.id(), post.id())
                })?;
                check(
                    comment.text().ends_with(&format!(" on post {}", post.id())),
                    || format!("comment {} reads {:?}", comment.id(), comment.text()),
                )?;
            }
        }
    }
    Ok(())
}

/// Checks a batch of gets by id: one user per requested id, each matching the seed.
pub fn verify_gets<U: UserRecord>(users: &[U], ids: &[i32], colors: HairColors) -> Result<()> {
    check(users.len() == ids.len(), || {
        format!("got {} users for {} ids", users.len(), ids.len())
    })?;
    let mut got: Vec<i32> = users.iter().map(UserRecord::id).collect();
    let mut wanted = ids.to_vec();
    got.sort_unstable();
    wanted.sort_unstable();
    check(got == wanted, || {
        format!("got ids {got:?}, wanted {wanted:?}")
    })?;
    users.iter().try_for_each(|user| verify_user(user, colors))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_posts_cover_empty_null_and_quoted_tags() {
        let posts = new_posts(1..=ASSOCIATION_USERS as i32, POSTS_PER_USER);
        let tags: usize = posts.iter().map(|post| post.tags.len()).sum();
        let nullable: Vec<&Vec<String>> = posts
            .iter()
            .filter_map(|post| post.nullable_tags.as_ref())
            .collect();
        // The figures benches/README.md quotes for loading_associations.
        assert_eq!(posts.len(), 1_000);
        assert_eq!(tags, 1_300);
        assert_eq!(nullable.len(), 600);
        assert_eq!(nullable.iter().map(|tags| tags.len()).sum::<usize>(), 900);
        assert!(posts.iter().any(|post| post.tags.is_empty()));
        for word in ["NULL", "a \"quoted\", {braced} tag"] {
            assert!(posts
                .iter()
                .any(|post| post.tags.iter().any(|tag| tag == word)));
        }
        assert_eq!(
            posts,
            new_posts(1..=ASSOCIATION_USERS as i32, POSTS_PER_USER)
        );
    }
}
