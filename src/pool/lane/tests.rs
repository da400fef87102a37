//! The lane's rules, driven with stand-in connections (no pool, no server), in the manner of
//! bb8's pool state tests: many waiters, closed connections, statements ending with and
//! without waiters, pipelining on and off, guards dropped at every point. A stand-in dropped
//! for the last time is a connection back in the pool: the tests read that list.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::{lock, Lane, Member, Placed, Share, Waiter};

/// A connection: `id`, whether it is closed, and the pool it goes back to when dropped.
struct Fake {
    id: usize,
    closed: Cell<bool>,
    pool: Rc<RefCell<Vec<usize>>>,
}

impl Member for Fake {
    fn is_spent(&self) -> bool {
        self.closed.get()
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.pool.borrow_mut().push(self.id);
    }
}

/// A lane and the pool its connections come from and go back to.
struct World {
    lane: Mutex<Lane<Fake>>,
    returned: Rc<RefCell<Vec<usize>>>,
}

/// (connections in the lane, statements running on them, callers waiting)
type Counts = (usize, usize, usize);

impl World {
    fn new(pipelining: bool) -> World {
        World {
            lane: Mutex::new(Lane::new(pipelining)),
            returned: Rc::default(),
        }
    }

    /// A connection the pool hands out.
    fn conn(&self, id: usize) -> Fake {
        Fake {
            id,
            closed: Cell::new(false),
            pool: self.returned.clone(),
        }
    }

    /// A statement, as `Connections::autocommit` places it while the pool has connection
    /// `free` to give (or none): the lane places it if it can without the pool, else the pool
    /// is probed and rules 2 to 4 apply. Says whether the pool was probed.
    fn statement(&self, free: Option<usize>) -> (Placed<'_, Fake>, bool) {
        match Lane::join(&self.lane, || free.is_none()) {
            Some(share) => (Placed::Run(share), false),
            None => (
                Lane::after_probe(&self.lane, free.map(|id| self.conn(id))),
                true,
            ),
        }
    }

    /// A statement that must run on a lane connection now.
    fn run(&self, free: Option<usize>) -> Share<'_, Fake> {
        match self.statement(free).0 {
            Placed::Run(share) => share,
            Placed::Wait(_) => panic!("the statement waits, expected it to run"),
        }
    }

    /// A statement that must wait for the pool.
    fn waits(&self, free: Option<usize>) -> Waiter<'_, Fake> {
        match self.statement(free).0 {
            Placed::Wait(waiter) => waiter,
            Placed::Run(share) => panic!("the statement runs on {}, expected it to wait", share.id),
        }
    }

    fn counts(&self) -> Counts {
        let lane = lock(&self.lane);
        (lane.connections(), lane.statements(), lane.waiting())
    }

    /// Ids back in the pool, in order.
    fn returned(&self) -> Vec<usize> {
        let mut ids = self.returned.borrow().clone();
        ids.sort_unstable();
        ids
    }
}

fn ids(shares: &[Share<'_, Fake>]) -> Vec<usize> {
    shares.iter().map(|s| s.id).collect()
}

#[test]
fn an_idle_lane_connection_serves_the_next_statement_without_asking_the_pool() {
    let w = World::new(true);
    drop(w.run(Some(1)));
    assert_eq!(w.counts(), (1, 0, 0), "kept in the lane, idle");

    let (placed, probed) = w.statement(Some(2));
    let Placed::Run(share) = placed else {
        panic!("expected the idle connection")
    };
    assert_eq!(share.id, 1);
    assert!(!probed, "an idle lane connection needs no pool");
    assert_eq!(w.counts(), (1, 1, 0));
    drop(share);
    assert_eq!(w.returned(), Vec::<usize>::new());
}

#[test]
fn a_free_pooled_connection_joins_the_lane_before_any_is_shared() {
    let w = World::new(true);
    let first = w.run(Some(1));
    assert_eq!(w.counts(), (1, 1, 0));
    // Connection 1 is busy: a free one from the pool joins rather than pipelining on it.
    let second = w.run(Some(2));
    assert_eq!((first.id, second.id), (1, 2));
    assert_eq!(w.counts(), (2, 2, 0));
    drop((first, second));
    assert_eq!(w.counts(), (2, 0, 0), "both stay for the next statements");
    assert_eq!(w.returned(), Vec::<usize>::new());
}

#[test]
fn with_pipelining_a_saturated_pool_shares_the_least_busy_lane_connection() {
    let w = World::new(true);
    let mut shares = vec![w.run(Some(1)), w.run(Some(2)), w.run(Some(3))];
    // The pool has nothing free: six more statements spread over the three, least busy first,
    // without asking the pool.
    for _ in 0..6 {
        let (placed, probed) = w.statement(None);
        assert!(!probed, "a drained pool is not asked");
        let Placed::Run(share) = placed else {
            panic!("expected a share")
        };
        shares.push(share);
    }
    assert_eq!(ids(&shares), [1, 2, 3, 1, 2, 3, 1, 2, 3]);
    assert_eq!(w.counts(), (3, 9, 0));

    // Connection 2 drains: it is now the least busy.
    shares.retain(|s| s.id != 2);
    assert_eq!(w.run(None).id, 2);
    assert_eq!(w.counts(), (3, 6, 0), "the share above ended when dropped");
    drop(shares);
    assert_eq!(w.counts(), (3, 0, 0));
    assert_eq!(w.returned(), Vec::<usize>::new());
}

#[test]
fn a_probe_that_finds_the_pool_empty_shares_the_least_busy_lane_connection() {
    let w = World::new(true);
    let (a, b) = (w.run(Some(1)), w.run(Some(2)));
    let on_a = w.run(None);
    // The pool looked like it had a connection, but another caller took it first.
    let Placed::Run(share) = Lane::after_probe(&w.lane, None) else {
        panic!("expected a share")
    };
    assert_eq!(share.id, 2);
    assert_eq!(w.counts(), (2, 4, 0));
    drop((a, b, on_a, share));
}

#[test]
fn without_pipelining_a_saturated_pool_makes_statements_wait() {
    let w = World::new(false);
    let busy = w.run(Some(1));
    let waiter = w.waits(None);
    assert_eq!(w.counts(), (1, 1, 1), "waiting, not sharing connection 1");

    // The pool hands it a connection: it joins the lane and stops waiting, in one step.
    let served = waiter.served(w.conn(2));
    assert_eq!(served.id, 2);
    assert_eq!(w.counts(), (2, 2, 0));
    drop((busy, served));
    assert_eq!(w.counts(), (2, 0, 0));
}

#[test]
fn with_pipelining_an_empty_lane_and_pool_make_statements_wait() {
    let w = World::new(true);
    let waiter = w.waits(None);
    assert_eq!(w.counts(), (0, 0, 1));
    drop(waiter);
    assert_eq!(w.counts(), (0, 0, 0));
}

#[test]
fn nobody_joins_the_lane_while_somebody_waits() {
    let w = World::new(true);
    let (a, b, c) = (w.run(Some(1)), w.run(Some(2)), w.run(Some(3)));
    drop((a, b));
    assert_eq!(w.counts(), (3, 1, 0));

    // A transaction waits: one idle connection goes back to the pool for it.
    let tx = Lane::wait(&w.lane);
    assert_eq!(w.counts(), (2, 1, 1));
    assert_eq!(w.returned().len(), 1);

    // The other idle one and the busy one take no statement while it waits: statements probe
    // the pool and wait too.
    let (placed, probed) = w.statement(None);
    assert!(probed, "the idle connection was not taken");
    let Placed::Wait(statement) = placed else {
        panic!("a statement joined the lane while a transaction waits")
    };
    assert_eq!(
        w.counts(),
        (1, 1, 2),
        "the other idle connection went back too"
    );
    assert_eq!(w.returned().len(), 2);

    drop((tx, statement));
    assert_eq!(w.counts(), (1, 1, 0));
    // Nobody waits: the lane serves statements again.
    let shared = w.run(None);
    assert_eq!(shared.id, c.id);
    drop((c, shared));
    assert_eq!(w.counts(), (1, 0, 0));
}

#[test]
fn many_waiters_take_every_idle_connection_then_each_busy_one_as_it_drains() {
    let w = World::new(true);
    // Connections 4 and 5 run two statements each; 1 to 3 are idle.
    let mut busy = vec![w.run(Some(4)), w.run(Some(5)), w.run(None), w.run(None)];
    assert_eq!(ids(&busy), [4, 5, 4, 5]);
    drop([w.run(Some(1)), w.run(Some(2)), w.run(Some(3))]);
    assert_eq!(w.counts(), (5, 4, 0));

    let waiters: Vec<_> = (0..6).map(|_| Lane::wait(&w.lane)).collect();
    assert_eq!(w.returned(), [1, 2, 3], "one idle connection per waiter");
    assert_eq!(w.counts(), (2, 4, 6));

    // A busy connection goes back when its last statement ends, not before.
    let last_on_4 = busy.remove(2);
    drop(busy.remove(0));
    assert_eq!(w.counts(), (2, 3, 6));
    assert_eq!(w.returned(), [1, 2, 3]);
    drop(last_on_4);
    assert_eq!(w.returned(), [1, 2, 3, 4]);
    drop(busy);
    assert_eq!(w.returned(), [1, 2, 3, 4, 5]);
    assert_eq!(w.counts(), (0, 0, 6));
    drop(waiters);
    assert_eq!(w.counts(), (0, 0, 0));
}

#[test]
fn without_waiters_connections_stay_in_the_lane_after_their_statements() {
    let w = World::new(true);
    let shares: Vec<_> = (1..=3).map(|id| w.run(Some(id))).collect();
    let shared = w.run(None);
    drop(shares);
    drop(shared);
    assert_eq!(w.counts(), (3, 0, 0));
    assert_eq!(w.returned(), Vec::<usize>::new());
}

#[test]
fn a_closed_connection_leaves_the_lane_and_serves_nobody() {
    let w = World::new(true);
    let (a, b) = (w.run(Some(1)), w.run(Some(2)));
    let on_a = w.run(None);
    assert_eq!(on_a.id, 1);
    drop(b);

    // Both break: idle 2 and busy 1.
    a.closed.set(true);
    lock(&w.lane).entries[1].conn.closed.set(true);

    // The idle closed one is dropped, not handed out; the busy closed one is not shared.
    let (placed, probed) = w.statement(None);
    assert!(probed);
    assert!(
        matches!(placed, Placed::Wait(_)),
        "no open connection to run on"
    );
    drop(placed);
    assert_eq!(w.returned(), [2]);
    assert_eq!(w.counts(), (1, 2, 0));

    // The busy one leaves when its last statement ends, though nobody waits.
    drop(a);
    assert_eq!(w.counts(), (1, 1, 0));
    drop(on_a);
    assert_eq!(w.returned(), [1, 2]);
    assert_eq!(w.counts(), (0, 0, 0));

    // The pool's new connection serves the next statement.
    assert_eq!(w.run(Some(3)).id, 3);
}

#[test]
fn a_waiter_dropped_before_it_is_served_stops_waiting() {
    let w = World::new(false);
    let busy = w.run(Some(1));
    let waiter = w.waits(None);
    let tx = Lane::wait(&w.lane);
    assert_eq!(w.counts(), (1, 1, 2));
    drop(waiter);
    assert_eq!(w.counts(), (1, 1, 1));
    drop(tx);
    assert_eq!(w.counts(), (1, 1, 0));
    // Nobody waits: the connection stays in the lane when its statement ends.
    drop(busy);
    assert_eq!(w.counts(), (1, 0, 0));
    assert_eq!(w.returned(), Vec::<usize>::new());
}

/// The reaper's looks at the lane at `now`, taking what has been idle for `limit`: the ids taken.
fn reap(w: &World, now: Instant, limit: Duration) -> Vec<usize> {
    let taken = lock(&w.lane).take_idle_where(now, |_, idle_for| idle_for >= limit);
    taken.iter().map(|conn| conn.id).collect()
}

#[test]
fn idle_time_counts_from_the_reapers_first_look_and_restarts_after_each_statement() {
    let w = World::new(true);
    let limit = Duration::from_secs(10);
    let t0 = Instant::now();
    let first = w.run(Some(1));
    let busy = w.run(Some(2));
    drop(first);
    // Connection 1 is idle since before this look: counted from here (no statement read the
    // clock), so not taken however long ago its statement ended; 2 is busy.
    assert_eq!(reap(&w, t0 + limit * 5, limit), Vec::<usize>::new());
    assert_eq!(
        reap(&w, t0 + limit * 5 + limit / 2, limit),
        Vec::<usize>::new()
    );
    // 1 serves a statement before the next look: its idle time starts over.
    assert_eq!(w.run(None).id, 1);
    drop(busy);
    assert_eq!(reap(&w, t0 + limit * 6, limit), Vec::<usize>::new());
    // A limit later, both have been idle that long.
    let mut taken = reap(&w, t0 + limit * 7, limit);
    taken.sort_unstable();
    assert_eq!(taken, [1, 2]);
    assert_eq!(w.counts(), (0, 0, 0));
    assert_eq!(w.returned(), [1, 2]);
}

/// One step of a scripted load on a lane of at most two pooled connections, pipelining on.
#[derive(Debug, Clone, Copy)]
enum Step {
    /// A statement; the pool has connection `Some(id)` free, or none.
    Statement(Option<usize>),
    /// A transaction starts waiting for the pool.
    Transaction,
    /// The `n`th guard taken so far is dropped (a statement ends, a waiter gives up).
    End(usize),
}

/// Runs `script` up to every point and drops every guard there, in both orders: whatever the
/// point, nobody is left counted as waiting or running, and every connection is either in the
/// lane, idle and open, or back in the pool, never both and never lost.
#[test]
fn guards_dropped_at_every_point_leave_the_lane_consistent() {
    use Step::*;
    let script = [
        Statement(Some(1)),
        Statement(Some(2)),
        Statement(None),
        Transaction,
        Statement(None),
        End(0),
        End(2),
        Statement(None),
        End(1),
        End(3),
        Statement(Some(3)),
        End(4),
    ];
    for point in 0..=script.len() {
        for reverse in [false, true] {
            let w = World::new(true);
            let mut guards: Vec<Option<Placed<'_, Fake>>> = Vec::new();
            let mut created = Vec::new();
            for step in &script[..point] {
                match *step {
                    Statement(free) => {
                        let (placed, probed) = w.statement(free);
                        if let (true, Some(id), Placed::Run(share)) = (probed, free, &placed) {
                            if share.id == id {
                                created.push(id);
                            }
                        }
                        guards.push(Some(placed));
                    }
                    Transaction => guards.push(Some(Placed::Wait(Lane::wait(&w.lane)))),
                    End(n) => drop(guards[n].take()),
                }
            }
            let (_, statements, waiting) = w.counts();
            let running = guards
                .iter()
                .filter(|g| matches!(g, Some(Placed::Run(_))))
                .count();
            let waiters = guards
                .iter()
                .filter(|g| matches!(g, Some(Placed::Wait(_))))
                .count();
            assert_eq!(
                (statements, waiting),
                (running, waiters),
                "counts at point {point}"
            );
            if reverse {
                guards.reverse();
            }
            drop(guards);
            let (connections, statements, waiting) = w.counts();
            assert_eq!((statements, waiting), (0, 0), "at point {point}");
            let mut accounted = w.returned();
            accounted.extend(lock(&w.lane).entries.iter().map(|e| e.conn.id));
            accounted.sort_unstable();
            assert_eq!(accounted, created, "at point {point}: each connection once");
            assert_eq!(connections + w.returned().len(), created.len());
        }
    }
}
