//! Diesel (synchronous `PgConnection`, libpq), with its query DSL.
//!
//! Written as `diesel_bench` writes it: `load::<User>`, `left_outer_join`, `belonging_to` +
//! `grouped_by`, and batch inserts from fixed-size arrays so Diesel's statement cache keeps the
//! prepared insert. Diesel blocks, so its `async fn`s never yield; the suite's `block_on` just
//! runs them to completion. For the concurrent workloads it has one worker thread per pool
//! connection (8 or 4), each owning its connection (Diesel's sync model: one thread per
//! connection in use), fed from a shared queue of ids, so 64 gets run over the pool's
//! connections like the async implementations' 64 tasks.

use super::diesel_schema::{self, as_array, posts, users, Comment, Post, User};
use super::Implementation;
use crate::model::{NewPost, NewUser, UserTree};
use crate::Result;
use diesel::prelude::*;
use diesel::PgConnection;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;

/// One synchronous Diesel connection.
pub struct Diesel {
    conn: PgConnection,
}

impl std::fmt::Debug for Diesel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Diesel").finish_non_exhaustive()
    }
}

fn insert(conn: &mut PgConnection, users: &[NewUser]) -> QueryResult<usize> {
    let insert = diesel::insert_into(users::table);
    if let Some(rows) = as_array::<1>(users) {
        insert.values(rows).execute(conn)
    } else if let Some(rows) = as_array::<100>(users) {
        insert.values(rows).execute(conn)
    } else {
        insert.values(users).execute(conn)
    }
}

fn get_user(conn: &mut PgConnection, id: i32) -> QueryResult<User> {
    users::table.find(id).get_result(conn)
}

/// A batch of ids for the workers, and where their users go.
struct Batch {
    ids: Arc<[i32]>,
    next: Arc<AtomicUsize>,
    results: Sender<QueryResult<User>>,
}

/// 8 threads, each with its own connection, taking ids from a shared cursor.
pub struct DieselWorkers {
    jobs: Vec<Sender<Batch>>,
    threads: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for DieselWorkers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DieselWorkers")
            .field("threads", &self.threads.len())
            .finish()
    }
}

fn work(mut conn: PgConnection, jobs: Receiver<Batch>) {
    for batch in jobs {
        loop {
            let i = batch.next.fetch_add(1, Ordering::Relaxed);
            let Some(&id) = batch.ids.get(i) else { break };
            if batch.results.send(get_user(&mut conn, id)).is_err() {
                break;
            }
        }
    }
}

impl Drop for DieselWorkers {
    fn drop(&mut self) {
        self.jobs.clear();
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

impl Implementation for Diesel {
    const NAME: &'static str = "diesel";
    type User = User;
    type Post = Post;
    type Comment = Comment;
    type Pool = DieselWorkers;

    async fn connect(url: &str) -> Result<Self> {
        Ok(Diesel {
            conn: PgConnection::establish(url)?,
        })
    }

    async fn trivial_query(&mut self) -> Result<Vec<User>> {
        Ok(users::table.load::<User>(&mut self.conn)?)
    }

    async fn medium_complex_query(&mut self) -> Result<Vec<(User, Option<Post>)>> {
        Ok(diesel_schema::medium_complex_query().load::<(User, Option<Post>)>(&mut self.conn)?)
    }

    async fn insert_users(&mut self, users: &[NewUser]) -> Result<u64> {
        Ok(insert(&mut self.conn, users)? as u64)
    }

    async fn insert_posts(&mut self, rows: &[NewPost]) -> Result<u64> {
        let inserted = diesel::insert_into(posts::table)
            .values(rows)
            .execute(&mut self.conn)?;
        Ok(inserted as u64)
    }

    async fn loading_associations(&mut self) -> Result<Vec<UserTree<User, Post, Comment>>> {
        let conn = &mut self.conn;
        let users = users::table.load::<User>(conn)?;
        let posts = Post::belonging_to(&users).load::<Post>(conn)?;
        let comments = Comment::belonging_to(&posts)
            .load::<Comment>(conn)?
            .grouped_by(&posts);
        let posts_and_comments = posts.into_iter().zip(comments).grouped_by(&users);
        Ok(users.into_iter().zip(posts_and_comments).collect())
    }

    async fn get_by_id(&mut self, id: i32) -> Result<User> {
        Ok(get_user(&mut self.conn, id)?)
    }

    async fn connect_pool(url: &str, connections: usize) -> Result<DieselWorkers> {
        let mut workers = DieselWorkers {
            jobs: Vec::new(),
            threads: Vec::new(),
        };
        for i in 0..connections {
            let conn = PgConnection::establish(url)?;
            let (jobs, receiver) = channel();
            let thread = std::thread::Builder::new()
                .name(format!("diesel-worker-{i}"))
                .spawn(move || work(conn, receiver))?;
            workers.jobs.push(jobs);
            workers.threads.push(thread);
        }
        Ok(workers)
    }

    async fn concurrent_get_by_id(pool: &DieselWorkers, ids: &[i32]) -> Result<Vec<User>> {
        let ids: Arc<[i32]> = ids.into();
        let next = Arc::new(AtomicUsize::new(0));
        let (results, received) = channel();
        for jobs in &pool.jobs {
            jobs.send(Batch {
                ids: Arc::clone(&ids),
                next: Arc::clone(&next),
                results: results.clone(),
            })
            .map_err(|_| "a Diesel worker thread has stopped")?;
        }
        drop(results);
        let users = received
            .iter()
            .take(ids.len())
            .collect::<QueryResult<Vec<User>>>()?;
        if users.len() != ids.len() {
            return Err("a Diesel worker thread stopped mid-batch".into());
        }
        Ok(users)
    }
}
