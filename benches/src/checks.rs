//! The checks every implementation passes before it is measured, shared by the criterion suite
//! and the interleaved runner.
//!
//! Reads: each workload's result is checked against the seed, once per implementation and
//! (workload, size), outside timing ([`check_workload`], [`check_concurrent`]); the data rules
//! and the record checks themselves are [`crate::model`]'s. Writes of posts: no timed workload
//! writes posts, so [`check_post_writes`] has every implementation insert the same posts (array
//! columns included) and reads them back through one neutral reader, the seeding connection;
//! with the reads checked against the same rules, every implementation is shown to read and
//! write the same values.

use crate::impls::{for_each_implementation, Implementation, ImplementationVisitor};
use crate::model::{self, HairColors, NewUser, POSTS_PER_USER};
use crate::schema::{Dataset, Seeder};
use crate::workloads::{Workload, CONCURRENT_TASKS, GET_BY_ID_USERS};
use crate::Result;
use tokio::runtime::Runtime;

/// `Ok` when `got == wanted`, else an error showing both.
pub fn check_eq<T: PartialEq + std::fmt::Debug>(got: T, wanted: T) -> Result<()> {
    if got == wanted {
        Ok(())
    } else {
        Err(format!("got {got:?}, wanted {wanted:?}").into())
    }
}

/// Runs a single-connection workload once on `imp` and checks its result against the seed of
/// (workload, size). The insert workload leaves its rows behind: empty `users` before
/// measuring it.
///
/// # Errors
/// When the implementation fails or returns anything but the seed.
pub async fn check_workload<I: Implementation>(
    imp: &mut I,
    workload: Workload,
    size: usize,
) -> Result<()> {
    match workload {
        Workload::TrivialQuery => {
            model::verify_users(&imp.trivial_query().await?, size, HairColors::None)
        }
        Workload::MediumComplexQuery => {
            model::verify_medium(&imp.medium_complex_query().await?, size)
        }
        Workload::LoadingAssociations => {
            model::verify_associations(&imp.loading_associations().await?)
        }
        Workload::GetById => {
            let user = imp.get_by_id(GET_BY_ID_USERS as i32).await?;
            model::verify_gets(&[user], &[GET_BY_ID_USERS as i32], HairColors::Alternating)
        }
        Workload::Insert => {
            let users: Vec<NewUser> = model::new_users(size, HairColors::Fixed("hair_color"));
            check_eq(imp.insert_users(&users).await?, size as u64)?;
            let loaded = imp.trivial_query().await?;
            model::verify_users(&loaded, size, HairColors::Fixed("hair_color"))
        }
        Workload::ConcurrentGetById | Workload::SaturatedGetById | Workload::RoundTrip => Ok(()),
    }
}

/// Runs one batch of the concurrent gets over `pool` (the first `CONCURRENT_TASKS` ids of
/// `ids`) and checks every user against the seed.
///
/// # Errors
/// When the implementation fails or returns anything but the seed.
pub async fn check_concurrent<I: Implementation>(pool: &I::Pool, ids: &[i32]) -> Result<()> {
    let batch = &ids[..CONCURRENT_TASKS];
    let users = I::concurrent_get_by_id(pool, batch).await?;
    model::verify_gets(&users, batch, HairColors::Alternating)
}

/// Users the post-write check seeds; it inserts [`POSTS_PER_USER`] posts for each.
pub const POST_CHECK_USERS: usize = 3;

/// The post-write check, for every registered implementation in turn: seed
/// [`POST_CHECK_USERS`] users, insert their posts ([`model::new_posts`]: tags of 0 to 3
/// elements, `nullable_tags` NULL, of one or of two elements) with the implementation's
/// `insert_posts` (one row, then the rest in one statement), and read `posts` back through the
/// seeding connection: it must hold exactly those rows, in order. Leaves the tables holding the
/// last implementation's rows: seed before measuring.
///
/// # Errors
/// The first implementation that fails or writes anything else, named.
pub fn check_post_writes(runtime: &Runtime, seeder: &Seeder, url: &str) -> Result<()> {
    let mut check = PostWrites {
        runtime,
        seeder,
        url,
        result: Ok(()),
    };
    for_each_implementation(&mut check);
    check.result
}

struct PostWrites<'a> {
    runtime: &'a Runtime,
    seeder: &'a Seeder,
    url: &'a str,
    result: Result<()>,
}

impl ImplementationVisitor for PostWrites<'_> {
    fn visit<I: Implementation>(&mut self) {
        if self.result.is_err() {
            return;
        }
        self.result = self
            .runtime
            .block_on(post_writes::<I>(self.seeder, self.url))
            .map_err(|error| format!("{}: post-write check: {error}", I::NAME).into());
    }
}

async fn post_writes<I: Implementation>(seeder: &Seeder, url: &str) -> Result<()> {
    seeder
        .seed(Dataset::Users {
            count: POST_CHECK_USERS,
            colors: HairColors::Alternating,
        })
        .await?;
    let posts = model::new_posts(1..=POST_CHECK_USERS as i32, POSTS_PER_USER);
    let mut imp = I::connect(url).await?;
    // One row, then many: pgrepo (and possibly others) take another path for a single row.
    check_eq(imp.insert_posts(&posts[..1]).await?, 1)?;
    check_eq(
        imp.insert_posts(&posts[1..]).await?,
        (posts.len() - 1) as u64,
    )?;
    drop(imp);
    let stored = seeder.posts().await?;
    check_eq(stored.len(), posts.len())?;
    for ((id, got), (wanted_id, wanted)) in stored.iter().zip((1..).zip(&posts)) {
        if (*id, got) != (wanted_id, wanted) {
            return Err(format!(
                "post {id} reads back as {got:?}, wanted id {wanted_id}: {wanted:?}"
            )
            .into());
        }
    }
    Ok(())
}
