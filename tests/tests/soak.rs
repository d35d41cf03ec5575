//! A soak with exact accounting: mixed RPC and pub/sub through `wamp router` (run as a
//! user runs it) while clients reconnect at random, connections are cut by a fault
//! proxy, and one subscriber sits behind a slow link.
//!
//! - **RPC**: callers (over WebSocket and RawSocket, one behind a proxy that is cut at
//!   random) call an echo with a unique value, a procedure with progressive results,
//!   and a slow procedure with a call timeout (the router cancels it and interrupts the
//!   callee), and cancel slow calls by dropping them. Two callees share the procedures
//!   (`roundrobin`); one of them is cut at random.
//! - **Pub/sub**: publishers send acknowledged events, in bursts, to three topics;
//!   subscribers hold exact, prefix and wildcard subscriptions and reconnect at random;
//!   one subscriber receives through a link of 64 KB/s for the whole run (the router
//!   must hold it with backpressure, not drop it: a session of it that ends before the
//!   round does counts as lost), one is cut at random.
//!
//! Checked, and printed: every call got exactly one answer within its bound, and every
//! answer that carries a value carries the right one (progressive parts in order);
//! every acknowledged publication reached every subscriber that was subscribed for the
//! whole of its lifetime (publish sent after SUBSCRIBED arrived, PUBLISHED arrived
//! before the subscriber's next sync point), once; events from one publisher arrived in
//! publication order, also across topics; nothing was reported lagged; and the router's
//! memory after all clients left is within 10% of what it was after a warm-up round of
//! the same load (as long as the run, at most 2 minutes).
//!
//! A subscriber's sync point: it notes the time, then makes an acknowledged publication
//! of its own. The router answers it on the subscriber's connection after every event
//! it dispatched before, so once the answer is in, every publication acknowledged before
//! the noted time is in the subscription's queue; then the check runs. A subscriber that
//! is cut is checked up to its last sync point.
//!
//! Length: `WAMP_SOAK_SECS` (default 30, the CI form; the long form is 480, which with
//! its 2-minute warm-up runs 10 minutes); the random choices come from
//! `WAMP_SOAK_SEED` (printed, so a run can be repeated):
//!
//! ```text
//! WAMP_SOAK_SECS=480 cargo test --release -p wamp-integration --test soak -- --nocapture
//! ```

mod common;

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::{Future, IntoFuture};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::within as bounded;
use futures::future::{select, Either};
use futures::{FutureExt, StreamExt};
use wamp_integration::fault_proxy::FaultProxy;
use wamp_integration::wamp_cli::RouterProcess;
use wamp_integration::REALM;
use wamp_tokio::wamp_runtime::{
    self, Error, Invocation, InvokePolicy, JoinConfig, MatchPolicy, RegisterOptions, Runtime,
    Session, SubscribeOptions, TransportConfig, WampError, Yield,
};
use wamp_tokio::TokioRuntime;

/// No call may take longer than this to be answered (the slow procedure's calls carry a
/// timeout far below it; a cut is noticed at once).
const ANSWER_BOUND: Duration = Duration::from_secs(30);
/// How long the slow procedure works unless interrupted.
const SLOW_WORK: Duration = Duration::from_secs(2);
/// The call timeout given to calls of the slow procedure.
const SLOW_TIMEOUT_MS: u64 = 50;
/// Bytes per second that reach the slow subscriber.
const SLOW_LINK: u64 = 64_000;
/// The slow subscriber's sync answers queue behind everything the router and the
/// kernel hold for it: the router's queue (backpressure from 256 KiB), at most
/// `TCP_UNSENT_LIMIT` unsent in the router's socket, and what is in flight to the
/// proxy, about half a megabyte, 8 to 16 s at 64 KB/s: late, but they must come within
/// this.
const SLOW_ANSWER_BOUND: Duration = Duration::from_secs(60);
/// How often a subscriber checks what it has against what was acknowledged.
const SYNC_EVERY: Duration = Duration::from_millis(500);
/// The router's memory after the run may exceed its baseline by this factor.
const MEMORY_SLACK: f64 = 1.10;

const TOPICS: [&str; 3] = ["soak.topic.a", "soak.topic.b", "soak.other.b"];

/// A small deterministic generator (xorshift64*), one per actor.
struct Rng(u64);

impl Rng {
    fn new(seed: u64, stream: u64) -> Rng {
        Rng((seed ^ stream.wrapping_mul(0x9e37_79b9_7f4a_7c15)) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn millis(&mut self, lo: u64, hi: u64) -> Duration {
        Duration::from_millis(lo + self.below(hi - lo + 1))
    }
}

/// An acknowledged publication.
struct Publication {
    topic: usize,
    publisher: u64,
    seq: u64,
    sent: Instant,
    acked: Instant,
}

/// Everything counted; printed at the end of each round.
#[derive(Default, Debug)]
struct Tally {
    calls: u64,
    answered: u64,
    errors: BTreeMap<String, u64>,
    unanswered: u64,
    wrong: u64,
    progress_parts: u64,
    timed_out_calls: u64,
    dropped_calls: u64,
    published: u64,
    acknowledged: u64,
    publish_errors: u64,
    delivered: u64,
    checked: u64,
    missing: u64,
    duplicates: u64,
    out_of_order: u64,
    lagged: u64,
    slow_events: u64,
    /// Sessions of the slow subscriber that ended before the round did: the router
    /// must hold a reader that keeps reading, however slowly, never cut it.
    slow_dropped: u64,
    /// The longest a sync point's acknowledged publication took, for the slow
    /// subscriber and for the others.
    slowest_sync: (Duration, Duration),
    reconnects: u64,
    cuts: u64,
    notes: Vec<String>,
}

impl Tally {
    fn error(&mut self, e: &Error) {
        let kind = match e {
            Error::Wamp(w) => w.uri().to_string(),
            Error::SessionClosed(_) => "session closed".into(),
            other => format!("{other}"),
        };
        *self.errors.entry(kind).or_default() += 1;
    }

    fn note(&mut self, note: String) {
        if self.notes.len() < 20 {
            self.notes.push(note);
        }
    }

    fn lost(&self) -> u64 {
        self.unanswered
            + self.wrong
            + self.missing
            + self.duplicates
            + self.out_of_order
            + self.lagged
            + self.slow_dropped
    }
}

/// What the actors share (all on one thread).
struct Shared {
    rt: TokioRuntime,
    ws: String,
    rs: String,
    seed: u64,
    stop: Cell<bool>,
    tally: RefCell<Tally>,
    publications: RefCell<Vec<Publication>>,
    next_publisher: Cell<u64>,
}

impl Shared {
    async fn sleep(&self, d: Duration) {
        self.rt.sleep_until(Instant::now() + d).await;
    }

    async fn join(&self, url: &str) -> Option<Session> {
        let transport = TransportConfig::new(url).expect("a valid URL");
        let mut join = JoinConfig::new(REALM);
        join.stream_buffer = 1 << 20;
        let connect = wamp_runtime::connect(&self.rt, &transport, &join);
        match bounded(&self.rt, ANSWER_BOUND, connect).await {
            Some(Ok(session)) => Some(session),
            Some(Err(e)) => {
                self.tally.borrow_mut().note(format!("join {url}: {e}"));
                None
            }
            None => {
                self.tally
                    .borrow_mut()
                    .note(format!("join {url}: no answer"));
                None
            }
        }
    }
}

impl Shared {
    /// The actor's next session: joins (retrying while the run lasts) and counts a
    /// reconnect for every session after its first. `None` once the run is over.
    async fn next_session(&self, url: &str, sessions: &mut u64) -> Option<Session> {
        while !self.stop.get() {
            if let Some(session) = self.join(url).await {
                if *sessions > 0 {
                    self.tally.borrow_mut().reconnects += 1;
                }
                *sessions += 1;
                return Some(session);
            }
            self.sleep(Duration::from_millis(100)).await;
        }
        None
    }
}

// ---------------------------------------------------------------------------- callees

async fn register_all(
    shared: &Rc<Shared>,
    session: &Session,
) -> Result<Vec<wamp_runtime::Registration>, Error> {
    let options = || RegisterOptions::new().invoke(InvokePolicy::RoundRobin);
    let mut held = Vec::new();
    held.push(
        session
            .register_with("soak.echo", options(), |inv: Invocation| async move {
                let (v,): (u64,) = inv.args()?;
                Ok(Yield::args(&(v,))?)
            })
            .await?,
    );
    held.push(
        session
            .register_with("soak.parts", options(), |inv: Invocation| async move {
                let (n,): (u64,) = inv.args()?;
                if inv.receive_progress() {
                    for i in 0..n {
                        inv.progress(&(i,), &serde_json::Map::new()).await?;
                    }
                }
                Ok(Yield::args(&(n,))?)
            })
            .await?,
    );
    let rt = shared.rt.clone();
    held.push(
        session
            .register_with("soak.slow", options(), move |inv: Invocation| {
                let rt = rt.clone();
                async move {
                    let work = rt.sleep_until(Instant::now() + SLOW_WORK);
                    match select(std::pin::pin!(work), std::pin::pin!(inv.interrupted())).await {
                        Either::Left(_) => Ok(Yield::args(&("done",))?),
                        Either::Right(_) => Err(WampError::new("wamp.error.canceled")),
                    }
                }
            })
            .await?,
    );
    Ok(held)
}

/// A callee; `proxy`: it joins through it (and is cut by the fault actor).
async fn callee(shared: Rc<Shared>, id: u64, url: String, reconnect: bool) {
    let mut rng = Rng::new(shared.seed, 100 + id);
    let mut sessions = 0;
    while let Some(session) = shared.next_session(&url, &mut sessions).await {
        let held = match register_all(&shared, &session).await {
            Ok(held) => held,
            Err(e) => {
                shared
                    .tally
                    .borrow_mut()
                    .note(format!("callee {id} register: {e}"));
                continue;
            }
        };
        let life = if reconnect {
            rng.millis(1000, 4000)
        } else {
            Duration::from_secs(1 << 20)
        };
        let until = Instant::now() + life;
        while !shared.stop.get() && Instant::now() < until && !session.is_closed() {
            shared.sleep(Duration::from_millis(50)).await;
        }
        drop(held);
        if !session.is_closed() {
            let _ = bounded(&shared.rt, ANSWER_BOUND, session.leave()).await;
        }
    }
}

// ---------------------------------------------------------------------------- callers

async fn one_call(shared: &Shared, session: &Session, rng: &mut Rng) {
    let pick = rng.below(100);
    let tally = |f: &mut dyn FnMut(&mut Tally)| f(&mut shared.tally.borrow_mut());
    if pick < 10 {
        // Canceled by the caller: the future is dropped after a moment.
        tally(&mut |t| t.dropped_calls += 1);
        let call = session.call("soak.slow").into_future();
        let _ = bounded(&shared.rt, rng.millis(0, 30), call).await;
        return;
    }
    tally(&mut |t| t.calls += 1);
    if pick < 55 {
        let value = rng.next() >> 1;
        match bounded(
            &shared.rt,
            ANSWER_BOUND,
            session.call("soak.echo").args(&(value,)),
        )
        .await
        {
            None => tally(&mut |t| t.unanswered += 1),
            Some(Ok(result)) => {
                let got: Result<u64, _> = result.first();
                tally(&mut |t| {
                    t.answered += 1;
                    if got.as_ref().ok() != Some(&value) {
                        t.wrong += 1;
                        t.note(format!("echo {value} answered {got:?}"));
                    }
                });
            }
            Some(Err(e)) => tally(&mut |t| {
                t.answered += 1;
                t.error(&e);
            }),
        }
    } else if pick < 85 {
        let n = rng.below(8);
        let stream = session.call("soak.parts").args(&(n,)).progress();
        let collect = stream.collect::<Vec<_>>();
        match bounded(&shared.rt, ANSWER_BOUND, collect).await {
            None => tally(&mut |t| t.unanswered += 1),
            Some(items) => tally(&mut |t| {
                t.answered += 1;
                let mut next = 0u64;
                let mut finals = 0;
                for item in &items {
                    match item {
                        Ok(part) if part.is_progress() => {
                            t.progress_parts += 1;
                            if part.first::<u64>().ok() != Some(next) {
                                t.wrong += 1;
                                t.note(format!("part {next} of {n}: {:?}", part.first::<u64>()));
                            }
                            next += 1;
                        }
                        Ok(last) => {
                            finals += 1;
                            if last.first::<u64>().ok() != Some(n) || next != n {
                                t.wrong += 1;
                                t.note(format!(
                                    "final of {n} after {next} parts: {:?}",
                                    last.first::<u64>()
                                ));
                            }
                        }
                        Err(e) => {
                            finals += 1;
                            t.error(e);
                        }
                    }
                }
                if finals != 1 {
                    t.wrong += 1;
                    t.note(format!("a progressive call ended {finals} times"));
                }
            }),
        }
    } else {
        // The router cancels it at the call timeout and interrupts the callee.
        let call = session
            .call("soak.slow")
            .timeout(Duration::from_millis(SLOW_TIMEOUT_MS));
        match bounded(&shared.rt, ANSWER_BOUND, call).await {
            None => tally(&mut |t| t.unanswered += 1),
            Some(Ok(_)) => tally(&mut |t| {
                t.answered += 1;
                t.wrong += 1;
                t.note("a timed-out call returned a result".into());
            }),
            Some(Err(e)) => tally(&mut |t| {
                t.answered += 1;
                t.timed_out_calls += 1;
                t.error(&e);
            }),
        }
    }
}

async fn caller(shared: Rc<Shared>, id: u64, url: String) {
    let mut rng = Rng::new(shared.seed, 200 + id);
    let mut sessions = 0;
    while let Some(session) = shared.next_session(&url, &mut sessions).await {
        let calls = 20 + rng.below(400);
        for _ in 0..calls {
            if shared.stop.get() || session.is_closed() {
                break;
            }
            // A few calls in flight at once.
            let k = 1 + rng.below(4);
            let mut rngs: Vec<Rng> = (0..k).map(|_| Rng::new(rng.next(), 0)).collect();
            let batch = rngs.iter_mut().map(|r| one_call(&shared, &session, r));
            futures::future::join_all(batch).await;
        }
        if !session.is_closed() {
            let _ = bounded(&shared.rt, ANSWER_BOUND, session.leave()).await;
        }
    }
}

// ------------------------------------------------------------------------- publishers

async fn publisher(shared: Rc<Shared>, id: u64, url: String) {
    let mut rng = Rng::new(shared.seed, 300 + id);
    let mut sessions = 0;
    while let Some(session) = shared.next_session(&url, &mut sessions).await {
        // Each session is its own publisher: order holds per publisher session.
        let key = shared.next_publisher.get();
        shared.next_publisher.set(key + 1);
        let mut seq = 0u64;
        let bursts = 20 + rng.below(200);
        for _ in 0..bursts {
            if shared.stop.get() || session.is_closed() {
                break;
            }
            let k = 1 + rng.below(8);
            let burst = (0..k).map(|_| {
                let topic = rng.below(TOPICS.len() as u64) as usize;
                seq += 1;
                let this = seq;
                let publish = session
                    .publish(TOPICS[topic])
                    .args(&(key, this))
                    .acknowledge(true);
                let shared = &shared;
                async move {
                    let sent = Instant::now();
                    shared.tally.borrow_mut().published += 1;
                    match bounded(&shared.rt, ANSWER_BOUND, publish).await {
                        Some(Ok(_)) => {
                            shared.tally.borrow_mut().acknowledged += 1;
                            shared.publications.borrow_mut().push(Publication {
                                topic,
                                publisher: key,
                                seq: this,
                                sent,
                                acked: Instant::now(),
                            });
                        }
                        Some(Err(_)) => shared.tally.borrow_mut().publish_errors += 1,
                        None => shared.tally.borrow_mut().unanswered += 1,
                    }
                }
            });
            futures::future::join_all(burst.collect::<Vec<_>>()).await;
            shared.sleep(rng.millis(1, 10)).await;
        }
        if !session.is_closed() {
            let _ = bounded(&shared.rt, ANSWER_BOUND, session.leave()).await;
        }
    }
}

// ------------------------------------------------------------------------ subscribers

/// Which topics a subscription matches.
#[derive(Clone, Copy)]
enum Pattern {
    Exact(&'static str),
    Prefix(&'static str),
    Wildcard(&'static str),
}

impl Pattern {
    fn matches(self, topic: &str) -> bool {
        match self {
            Pattern::Exact(t) => topic == t,
            Pattern::Prefix(p) => topic.starts_with(p),
            Pattern::Wildcard(w) => {
                let (a, b): (Vec<_>, Vec<_>) = (w.split('.').collect(), topic.split('.').collect());
                a.len() == b.len() && a.iter().zip(&b).all(|(x, y)| x.is_empty() || x == y)
            }
        }
    }

    fn subscribe(self) -> (&'static str, SubscribeOptions) {
        let options = SubscribeOptions::new().buffer(1 << 20);
        match self {
            Pattern::Exact(t) => (t, options),
            Pattern::Prefix(p) => (p, options.match_policy(MatchPolicy::Prefix)),
            Pattern::Wildcard(w) => (w, options.match_policy(MatchPolicy::Wildcard)),
        }
    }
}

/// One subscription's view, checked at each sync point.
struct Watch {
    pattern: Pattern,
    subscribed: Instant,
    /// Publications checked so far (an index into the shared list).
    cursor: usize,
    /// Received and not yet checked: (publisher, seq).
    received: HashSet<(u64, u64)>,
    /// The last sequence number seen per publisher.
    last: HashMap<u64, u64>,
}

impl Watch {
    fn new(shared: &Shared, pattern: Pattern, subscribed: Instant) -> Watch {
        Watch {
            pattern,
            subscribed,
            cursor: shared.publications.borrow().len(),
            received: HashSet::new(),
            last: HashMap::new(),
        }
    }

    fn event(&mut self, shared: &Shared, event: Result<wamp_runtime::Event, Error>, slow: bool) {
        let mut t = shared.tally.borrow_mut();
        match event {
            Ok(event) => {
                t.delivered += 1;
                if slow {
                    t.slow_events += 1;
                }
                let Ok((publisher, seq)) = event.args::<(u64, u64)>() else {
                    t.wrong += 1;
                    t.note(format!("an event with args {:?}", event.payload()));
                    return;
                };
                if !self.received.insert((publisher, seq)) {
                    t.duplicates += 1;
                    t.note(format!("event {publisher}/{seq} twice"));
                }
                let last = self.last.entry(publisher).or_default();
                if seq <= *last {
                    t.out_of_order += 1;
                    t.note(format!("publisher {publisher}: {seq} after {last}"));
                }
                *last = (*last).max(seq);
            }
            Err(Error::Lagged { missed }) => t.lagged += missed,
            Err(_) => {}
        }
    }

    /// Every publication acknowledged before `point` that this subscription had to get.
    fn check(&mut self, shared: &Shared, point: Instant, who: &str) {
        let publications = shared.publications.borrow();
        let mut t = shared.tally.borrow_mut();
        while let Some(p) = publications.get(self.cursor) {
            if p.acked >= point {
                break;
            }
            self.cursor += 1;
            if p.sent <= self.subscribed || !self.pattern.matches(TOPICS[p.topic]) {
                continue;
            }
            t.checked += 1;
            if !self.received.remove(&(p.publisher, p.seq)) {
                t.missing += 1;
                t.note(format!(
                    "{who} missed {}/{} on {}",
                    p.publisher, p.seq, TOPICS[p.topic]
                ));
            }
        }
    }
}

async fn subscriber(shared: Rc<Shared>, id: u64, url: String, pattern: Pattern, reconnect: bool) {
    let mut rng = Rng::new(shared.seed, 400 + id);
    let who = format!("subscriber {id}");
    let slow = !reconnect;
    let sync_topic = format!("sync.soak.{id}");
    let mut sessions = 0;
    while let Some(session) = shared.next_session(&url, &mut sessions).await {
        if slow && sessions > 1 {
            let mut t = shared.tally.borrow_mut();
            t.slow_dropped += 1;
            t.note(format!("{who}: its session ended before the round did"));
        }
        let (topic, options) = pattern.subscribe();
        let mut subscription = match session.subscribe_with(topic, options).await {
            Ok(s) => s,
            Err(e) => {
                shared
                    .tally
                    .borrow_mut()
                    .note(format!("{who} subscribe: {e}"));
                continue;
            }
        };
        let mut watch = Watch::new(&shared, pattern, Instant::now());
        let life = if reconnect {
            rng.millis(1000, 5000)
        } else {
            Duration::from_secs(1 << 20)
        };
        let until = Instant::now() + life;
        let mut next_sync = Instant::now() + SYNC_EVERY;
        loop {
            let ending = shared.stop.get() || Instant::now() >= until;
            if ending || Instant::now() >= next_sync {
                // A sync point: everything acknowledged before `point` is in the queue
                // once our own acknowledged publication is answered.
                let point = Instant::now();
                let sync = session.publish(sync_topic.as_str()).acknowledge(true);
                let bound = if slow {
                    SLOW_ANSWER_BOUND
                } else {
                    ANSWER_BOUND
                };
                match bounded(&shared.rt, bound, sync).await {
                    Some(Ok(_)) => {
                        let took = point.elapsed();
                        let mut t = shared.tally.borrow_mut();
                        let slowest = if slow {
                            &mut t.slowest_sync.0
                        } else {
                            &mut t.slowest_sync.1
                        };
                        *slowest = (*slowest).max(took);
                    }
                    Some(Err(_)) => break, // cut: checked up to the last sync point
                    None => {
                        let mut t = shared.tally.borrow_mut();
                        t.unanswered += 1;
                        t.note(format!(
                            "{who}: a sync publication unanswered for {bound:?}"
                        ));
                        break;
                    }
                }
                while let Some(Some(event)) = subscription.next().now_or_never() {
                    watch.event(&shared, event, slow);
                }
                watch.check(&shared, point, &who);
                next_sync = Instant::now() + SYNC_EVERY;
                if ending {
                    break;
                }
            }
            let wait = shared.rt.sleep_until(next_sync.min(until));
            match select(subscription.next(), std::pin::pin!(wait)).await {
                Either::Left((Some(event), _)) => watch.event(&shared, event, slow),
                Either::Left((None, _)) => break,
                Either::Right(_) => {}
            }
        }
        if !session.is_closed() {
            let _ = bounded(&shared.rt, ANSWER_BOUND, subscription.unsubscribe()).await;
            let _ = bounded(&shared.rt, ANSWER_BOUND, session.leave()).await;
        }
    }
}

// ------------------------------------------------------------------------------ faults

async fn faults(shared: Rc<Shared>, proxies: Vec<Arc<FaultProxy>>) {
    let mut rng = Rng::new(shared.seed, 500);
    while !shared.stop.get() {
        shared.sleep(rng.millis(300, 1200)).await;
        if shared.stop.get() {
            break;
        }
        let proxy = &proxies[rng.below(proxies.len() as u64) as usize];
        proxy.cut();
        shared.tally.borrow_mut().cuts += 1;
    }
}

// ------------------------------------------------------------------------------ rounds

/// Runs every actor for `length`, then lets them finish and leave.
async fn round(rt: &TokioRuntime, ws: &str, rs: &str, seed: u64, length: Duration) -> Tally {
    let shared = Rc::new(Shared {
        rt: rt.clone(),
        ws: ws.to_owned(),
        rs: rs.to_owned(),
        seed,
        stop: Cell::new(false),
        tally: RefCell::new(Tally::default()),
        publications: RefCell::new(Vec::new()),
        next_publisher: Cell::new(1),
    });
    let proxy = || Arc::new(FaultProxy::start(common::url_addr(ws)).expect("a proxy"));
    let (cut_callee, cut_caller, cut_publisher, cut_subscriber, slow) =
        (proxy(), proxy(), proxy(), proxy(), proxy());
    slow.slow_downstream(SLOW_LINK);
    let via = |p: &FaultProxy| format!("ws://{}/ws", p.addr());
    let s = &shared;
    let mut actors: Vec<std::pin::Pin<Box<dyn Future<Output = ()>>>> = vec![
        Box::pin(callee(s.clone(), 1, s.rs.clone(), false)),
        Box::pin(callee(s.clone(), 2, via(&cut_callee), true)),
        Box::pin(caller(s.clone(), 1, s.ws.clone())),
        Box::pin(caller(s.clone(), 2, s.rs.clone())),
        Box::pin(caller(s.clone(), 3, via(&cut_caller))),
        Box::pin(publisher(s.clone(), 1, s.ws.clone())),
        Box::pin(publisher(s.clone(), 2, s.rs.clone())),
        Box::pin(publisher(s.clone(), 3, via(&cut_publisher))),
        Box::pin(subscriber(
            s.clone(),
            1,
            s.ws.clone(),
            Pattern::Exact(TOPICS[0]),
            true,
        )),
        Box::pin(subscriber(
            s.clone(),
            2,
            s.rs.clone(),
            Pattern::Prefix("soak.topic"),
            true,
        )),
        Box::pin(subscriber(
            s.clone(),
            3,
            s.ws.clone(),
            Pattern::Wildcard("soak..b"),
            true,
        )),
        Box::pin(subscriber(
            s.clone(),
            4,
            via(&cut_subscriber),
            Pattern::Prefix("soak."),
            true,
        )),
        Box::pin(subscriber(
            s.clone(),
            5,
            via(&slow),
            Pattern::Prefix("soak."),
            false,
        )),
        Box::pin(faults(
            s.clone(),
            vec![
                cut_callee.clone(),
                cut_caller.clone(),
                cut_publisher.clone(),
                cut_subscriber.clone(),
            ],
        )),
    ];
    let stopper = {
        let shared = shared.clone();
        async move {
            shared.sleep(length).await;
            shared.stop.set(true);
        }
    };
    actors.push(Box::pin(stopper));
    let all = futures::future::join_all(actors);
    let finished = bounded(
        rt,
        length + SLOW_ANSWER_BOUND + Duration::from_secs(30),
        all,
    )
    .await;
    assert!(
        finished.is_some(),
        "the actors did not finish after the end"
    );
    drop((cut_callee, cut_caller, cut_publisher, cut_subscriber, slow));
    Rc::try_unwrap(shared)
        .ok()
        .expect("every actor is done")
        .tally
        .into_inner()
}

fn report(label: &str, length: Duration, t: &Tally) {
    eprintln!("soak {label}: {length:?}");
    eprintln!(
        "  calls {} answered {} (errors {:?}), progressive parts {}, timed out by the router {}, \
         canceled by dropping {}",
        t.calls, t.answered, t.errors, t.progress_parts, t.timed_out_calls, t.dropped_calls
    );
    eprintln!(
        "  publications {} acknowledged {} (publish errors {}), events delivered {} (to the slow \
         subscriber {}), deliveries checked {}",
        t.published, t.acknowledged, t.publish_errors, t.delivered, t.slow_events, t.checked
    );
    eprintln!(
        "  reconnects {}, connections cut {}; longest sync round trip {:?} (slow subscriber), \
         {:?} (the others)",
        t.reconnects, t.cuts, t.slowest_sync.0, t.slowest_sync.1
    );
    eprintln!(
        "  lost: unanswered {}, wrong {}, missing {}, duplicated {}, out of order {}, lagged {}, \
         slow subscriber dropped {} => {}",
        t.unanswered,
        t.wrong,
        t.missing,
        t.duplicates,
        t.out_of_order,
        t.lagged,
        t.slow_dropped,
        t.lost()
    );
    for note in &t.notes {
        eprintln!("  note: {note}");
    }
}

/// Waits until the router counts no session but the one asking.
async fn wait_all_left(rt: &TokioRuntime, ws: &str) {
    {
        let transport = TransportConfig::new(ws).expect("url");
        let session = wamp_runtime::connect(rt, &transport, &JoinConfig::new(REALM))
            .await
            .expect("joins");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let count = common::session_count(&session).await;
            if count == 1 {
                break;
            }
            assert!(Instant::now() < deadline, "{count} sessions still joined");
            rt.sleep_until(Instant::now() + Duration::from_millis(50))
                .await;
        }
        session.leave().await.expect("leaves");
    }
}

#[test]
fn soak_with_exact_accounting() {
    let secs: u64 = std::env::var("WAMP_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);
    let seed: u64 = std::env::var("WAMP_SOAK_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
    eprintln!("soak: WAMP_SOAK_SECS={secs} WAMP_SOAK_SEED={seed}");
    let (router, ws, rs) = RouterProcess::start_local(&["--realm", REALM]);

    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let rt = TokioRuntime::from_handle(tokio.handle().clone());

    // The baseline is taken after a warm-up round of the same load, long enough for
    // the slow subscriber's backlog to reach the router's high-water mark (so the
    // router's allocator has seen the peak once): the run's length, at most 2 minutes.
    let warm_length = Duration::from_secs(secs.min(120));
    let warm = tokio.block_on(round(&rt, &ws, &rs, seed, warm_length));
    report("warm-up", warm_length, &warm);
    tokio.block_on(wait_all_left(&rt, &ws));
    let baseline = router.rss_kib().expect("the router's memory");

    let length = Duration::from_secs(secs);
    let tally = tokio.block_on(round(&rt, &ws, &rs, seed.wrapping_add(1), length));
    report("run", length, &tally);
    tokio.block_on(wait_all_left(&rt, &ws));
    let after = router.rss_kib().expect("the router's memory");
    let ratio = after as f64 / baseline as f64;
    eprintln!("  router memory: {baseline} KiB after the warm-up, {after} KiB after the run ({ratio:.3}x)");
    router.stop();

    for t in [&warm, &tally] {
        assert_eq!(t.lost(), 0, "lost something: {t:?}");
        assert!(
            t.calls > 0 && t.acknowledged > 0 && t.checked > 0,
            "no load: {t:?}"
        );
        assert!(t.slow_events > 0, "the slow subscriber got nothing: {t:?}");
    }
    assert!(
        tally.cuts > 0 && tally.reconnects > 0,
        "no faults: {tally:?}"
    );
    assert!(
        ratio <= MEMORY_SLACK,
        "the router's memory grew {ratio:.3}x"
    );
}
