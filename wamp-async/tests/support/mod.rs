//! A runtime whose "TCP" connections are in-memory pipes to a small scripted router,
//! written with wamp-proto messages and the RawSocket server machine.

#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use futures::future::BoxFuture;
use futures::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use futures::FutureExt;
use wamp_proto::message::{
    CallResult, Error as ErrorMessage, Event, Goodbye, Interrupt, Invocation, Published,
    Registered, Subscribed, Unregistered, Unsubscribed, Welcome,
};
use wamp_proto::{
    message::Message, message::MessageType, serializer::SerializerKind, Dict, MatchPolicy, Payload,
    PublicationId, RegistrationId, RequestId, SessionId, SubscriptionId, Uri,
};
use wamp_runtime::{BoxStream, Runtime};
use wamp_transport_rawsocket::{Connection, ServerConfig};
use wamp_transport_ws::{WsEvent, WsServer};

// ---- an in-memory byte pipe ------------------------------------------------------------

#[derive(Default)]
struct Half {
    buf: VecDeque<u8>,
    closed: bool,
    waker: Option<Waker>,
}

type Shared = Arc<Mutex<Half>>;

fn lock(half: &Shared) -> std::sync::MutexGuard<'_, Half> {
    half.lock().unwrap_or_else(|e| e.into_inner())
}

/// One end of a bidirectional in-memory stream.
pub struct End {
    rx: Shared,
    tx: Shared,
}

pub fn duplex() -> (End, End) {
    let a = Shared::default();
    let b = Shared::default();
    (
        End {
            rx: a.clone(),
            tx: b.clone(),
        },
        End { rx: b, tx: a },
    )
}

impl AsyncRead for End {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let mut half = lock(&self.rx);
        if !half.buf.is_empty() {
            let n = buf.len().min(half.buf.len());
            for (slot, byte) in buf.iter_mut().zip(half.buf.drain(..n)) {
                *slot = byte;
            }
            return Poll::Ready(Ok(n));
        }
        if half.closed {
            return Poll::Ready(Ok(0));
        }
        half.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl AsyncWrite for End {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let mut half = lock(&self.tx);
        if half.closed {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        half.buf.extend(buf);
        if let Some(waker) = half.waker.take() {
            waker.wake();
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut half = lock(&self.tx);
        half.closed = true;
        if let Some(waker) = half.waker.take() {
            waker.wake();
        }
        Poll::Ready(Ok(()))
    }
}

impl Drop for End {
    fn drop(&mut self) {
        for half in [&self.tx, &self.rx] {
            let mut half = lock(half);
            half.closed = true;
            if let Some(waker) = half.waker.take() {
                waker.wake();
            }
        }
    }
}

// ---- the runtime ---------------------------------------------------------------------

/// Runs everything on one Tokio thread whose clock is paused: time moves only when
/// every task waits, and then straight to the next timer, so timeouts and delays are
/// exact and cost no real time. "Connects" to a fresh scripted router per connection.
#[derive(Clone)]
pub struct TestRuntime {
    tokio: Arc<tokio::runtime::Runtime>,
    pub router: RouterSpec,
    pub connects: Arc<AtomicUsize>,
    /// Every message each router received, in order.
    pub log: Arc<Mutex<Vec<Message>>>,
    /// The `x-test` header of each WebSocket upgrade, and each proxy request line.
    pub seen: Arc<Mutex<Vec<String>>>,
    /// Seeds the generator `rng` hands out, so a run is reproducible.
    pub seed: u64,
}

#[derive(Clone)]
pub struct RouterSpec {
    /// The serializers the router accepts over RawSocket.
    pub serializers: Vec<SerializerKind>,
}

impl TestRuntime {
    pub fn new() -> Self {
        TestRuntime {
            tokio: Arc::new(
                tokio::runtime::Builder::new_current_thread()
                    .enable_time()
                    .start_paused(true)
                    .build()
                    .expect("a Tokio runtime"),
            ),
            router: RouterSpec {
                serializers: SerializerKind::ALL.to_vec(),
            },
            connects: Arc::new(AtomicUsize::new(0)),
            log: Arc::new(Mutex::new(Vec::new())),
            seen: Arc::new(Mutex::new(Vec::new())),
            seed: 7,
        }
    }

    /// Runs a test's body to completion on the virtual clock.
    pub fn block_on<T>(&self, future: impl std::future::Future<Output = T>) -> T {
        self.tokio.block_on(future)
    }

    fn spawn_ok(&self, future: impl std::future::Future<Output = ()> + Send + 'static) {
        drop(self.tokio.spawn(future));
    }

    pub fn received(&self) -> Vec<Message> {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl Runtime for TestRuntime {
    fn spawn(&self, future: BoxFuture<'static, ()>) {
        self.spawn_ok(future);
    }

    fn sleep_until(&self, deadline: Instant) -> BoxFuture<'static, ()> {
        let _guard = self.tokio.enter();
        tokio::time::sleep_until(tokio::time::Instant::from_std(deadline)).boxed()
    }

    fn now(&self) -> Instant {
        let _guard = self.tokio.enter();
        tokio::time::Instant::now().into_std()
    }

    fn rng(&self) -> Box<dyn rand_core::CryptoRng + Send> {
        Box::new(SplitMix(self.seed))
    }

    fn connect_tcp(&self, host: String, _port: u16) -> BoxFuture<'static, io::Result<BoxStream>> {
        self.connects.fetch_add(1, Ordering::SeqCst);
        if host == "refused" {
            return async { Err(io::ErrorKind::ConnectionRefused.into()) }.boxed();
        }
        let (client, server) = duplex();
        let mut router = Router::new(self.router.clone(), self.log.clone(), self.seen.clone());
        if host == "proxy" {
            // An HTTP proxy in front of a WebSocket router.
            let seen = self.seen.clone();
            router.websocket();
            self.spawn_ok(async move {
                let mut server = server;
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if server.read(&mut byte).await.unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(byte[0]);
                }
                let text = String::from_utf8_lossy(&head);
                let line = text.lines().next().unwrap_or_default().to_owned();
                seen.lock().unwrap_or_else(|e| e.into_inner()).push(line);
                if server
                    .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    .await
                    .is_ok()
                {
                    router.serve(server).await;
                }
            });
        } else if host == "silent" {
            // Accepts the connection and never answers.
            self.spawn_ok(async move {
                let mut server = server;
                let mut buf = [0u8; 64];
                while server.read(&mut buf).await.is_ok_and(|n| n > 0) {}
            });
        } else {
            if host.starts_with("ws") {
                router.websocket();
            }
            self.spawn_ok(router.serve(server));
        }
        async move { Ok(Box::new(client) as BoxStream) }.boxed()
    }

    fn connect_unix(&self, _path: PathBuf) -> BoxFuture<'static, io::Result<BoxStream>> {
        async { Err(io::ErrorKind::Unsupported.into()) }.boxed()
    }
}

/// A small seeded generator (SplitMix64): reproducible, and not for production.
struct SplitMix(u64);

// Predictable on purpose (a test must reproduce from its input alone); the marker
// lets it stand where the API demands a cryptographic generator.
impl rand_core::CryptoRng for SplitMix {}

impl rand_core::RngCore for SplitMix {
    fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for chunk in dest.chunks_mut(8) {
            let bytes = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
    }
}

// ---- the router ----------------------------------------------------------------------

/// A one-session router: enough dealer and broker for the client's own calls to reach
/// its own registrations and its own publications its own subscriptions.
enum Framing {
    Raw(Box<Connection>),
    Ws(Box<WsServer>),
}

struct Router {
    conn: Framing,
    seen: Arc<Mutex<Vec<String>>>,
    serializer: SerializerKind,
    log: Arc<Mutex<Vec<Message>>>,
    next: u64,
    registrations: Vec<(String, MatchPolicy, RegistrationId)>,
    /// INVOCATION request -> CALL request.
    invocations: HashMap<RequestId, RequestId>,
    /// CALL request -> INVOCATION request.
    calls: HashMap<RequestId, RequestId>,
    subscriptions: Vec<(String, MatchPolicy, SubscriptionId)>,
    closing: bool,
}

fn id(n: u64) -> RequestId {
    RequestId::new(n).expect("in range")
}

impl Router {
    fn new(
        spec: RouterSpec,
        log: Arc<Mutex<Vec<Message>>>,
        seen: Arc<Mutex<Vec<String>>>,
    ) -> Router {
        let config = ServerConfig {
            serializers: spec.serializers,
            ..ServerConfig::default()
        };
        Router {
            conn: Framing::Raw(Box::new(Connection::server(config, Instant::now()))),
            seen,
            serializer: SerializerKind::Json,
            log,
            next: 100,
            registrations: Vec::new(),
            invocations: HashMap::new(),
            calls: HashMap::new(),
            subscriptions: Vec::new(),
            closing: false,
        }
    }

    /// Speaks WebSocket instead of RawSocket.
    fn websocket(&mut self) {
        let server = WsServer::new(wamp_transport_ws::ServerConfig::new(), Instant::now())
            .expect("a valid configuration");
        self.conn = Framing::Ws(Box::new(server));
    }

    fn poll_transmit(&mut self) -> Option<bytes::Bytes> {
        match &mut self.conn {
            Framing::Raw(c) => c.poll_transmit(),
            Framing::Ws(c) => c.poll_transmit(),
        }
    }

    /// Feeds input; false when the connection failed.
    fn handle_input(&mut self, data: &[u8]) -> bool {
        match &mut self.conn {
            Framing::Raw(c) => {
                c.handle_input(Instant::now(), data);
                !c.is_closed()
            }
            Framing::Ws(c) => {
                c.handle_input(Instant::now(), data);
                !c.is_closed()
            }
        }
    }

    fn poll_open(&mut self) {
        match &mut self.conn {
            Framing::Raw(c) => {
                while let Some(event) = c.poll_event() {
                    if let wamp_transport_rawsocket::Event::Handshaken { serializer, .. } = event {
                        self.serializer = serializer;
                    }
                }
            }
            Framing::Ws(c) => {
                while let Some(event) = c.poll_event() {
                    if let WsEvent::Open(open) = event {
                        self.serializer = open.serializer;
                        if let Some(value) = open.headers.get("x-test") {
                            let value = value.to_str().unwrap_or_default().to_owned();
                            self.seen
                                .lock()
                                .unwrap_or_else(|e| e.into_inner())
                                .push(value);
                        }
                    }
                }
            }
        }
    }

    fn poll_message(&mut self) -> Option<bytes::Bytes> {
        match &mut self.conn {
            Framing::Raw(c) => c.poll_message(),
            Framing::Ws(c) => c.poll_message(),
        }
    }

    fn send_message(&mut self, bytes: bytes::Bytes) {
        match &mut self.conn {
            Framing::Raw(c) => c.send_message(bytes).expect("fits"),
            Framing::Ws(c) => c.send_message(bytes).expect("open"),
        }
    }

    fn next_id(&mut self) -> u64 {
        self.next += 1;
        self.next
    }

    async fn serve(mut self, mut stream: End) {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            while let Some(bytes) = self.poll_transmit() {
                if stream.write_all(&bytes).await.is_err() {
                    return;
                }
            }
            if self.closing {
                let _ = stream.close().await;
                return;
            }
            let n = match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            if !self.handle_input(&buf[..n]) {
                // A refused handshake: send the error reply, then hang up.
                while let Some(bytes) = self.poll_transmit() {
                    let _ = stream.write_all(&bytes).await;
                }
                return;
            }
            self.poll_open();
            while let Some(bytes) = self.poll_message() {
                let Ok(message) = self.serializer.decode(bytes) else {
                    return;
                };
                self.log
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(message.clone());
                if matches!(&message, Message::Call(c) if c.procedure == "test.hangup") {
                    return;
                }
                for reply in self.handle(message) {
                    let bytes = self.serializer.encode(&reply).expect("encodes");
                    self.send_message(bytes);
                }
            }
        }
    }

    fn find_registration(&self, procedure: &str) -> Option<(RegistrationId, bool)> {
        self.registrations
            .iter()
            .find(|(p, policy, _)| *policy == MatchPolicy::Exact && p == procedure)
            .or_else(|| {
                self.registrations.iter().find(|(p, policy, _)| {
                    Uri::parse_pattern(p, *policy).is_ok_and(|u| u.matches(*policy, procedure))
                })
            })
            .map(|(_, policy, id)| (*id, *policy != MatchPolicy::Exact))
    }

    fn handle(&mut self, message: Message) -> Vec<Message> {
        match message {
            Message::Hello(hello) => {
                if hello.realm == "forbidden" {
                    return vec![Message::Abort(wamp_proto::message::Abort {
                        details: Dict::new().with_message("no such realm here"),
                        reason: Uri::NO_SUCH_REALM,
                        payload: Payload::empty(),
                    })];
                }
                let details = Dict::new()
                    .with_authid("anon")
                    .with_authrole("anonymous")
                    .with_role(
                        "broker",
                        ["pattern_based_subscription", "publisher_exclusion"],
                    )
                    .with_role(
                        "dealer",
                        [
                            "call_canceling",
                            "progressive_call_results",
                            "pattern_based_registration",
                            "caller_identification",
                        ],
                    );
                vec![Message::Welcome(Welcome {
                    session: SessionId::new(4242).expect("in range"),
                    details,
                })]
            }
            Message::Register(register) => {
                let registration = RegistrationId::new(self.next_id()).expect("in range");
                let policy = register
                    .options
                    .match_policy()
                    .unwrap_or(MatchPolicy::Exact);
                self.registrations
                    .push((register.procedure.to_string(), policy, registration));
                vec![Message::Registered(Registered {
                    request: register.request,
                    registration,
                })]
            }
            Message::Unregister(unregister) => {
                self.registrations
                    .retain(|(_, _, r)| *r != unregister.registration);
                vec![Message::Unregistered(Unregistered {
                    request: Some(unregister.request),
                    details: Dict::new(),
                })]
            }
            Message::Call(call) => {
                let Some((registration, pattern)) = self.find_registration(&call.procedure) else {
                    return vec![Message::Error(ErrorMessage {
                        request_type: MessageType::Call,
                        request: call.request,
                        details: Dict::new(),
                        error: Uri::NO_SUCH_PROCEDURE,
                        payload: Payload::empty(),
                    })];
                };
                let invocation = id(self.next_id());
                self.invocations.insert(invocation, call.request);
                self.calls.insert(call.request, invocation);
                let mut details = Dict::new();
                if call.options.receive_progress() == Some(true) {
                    details = details.with_receive_progress(true);
                }
                if pattern {
                    details = details.with_procedure(call.procedure.to_string());
                }
                if call.options.disclose_me() == Some(true) {
                    details = details.with_caller(SessionId::new(4242).expect("in range"));
                }
                vec![Message::Invocation(Invocation {
                    request: invocation,
                    registration,
                    details,
                    payload: call.payload,
                })]
            }
            Message::Yield(y) => {
                let progress = y.options.progress() == Some(true);
                let call = if progress {
                    self.invocations.get(&y.request).copied()
                } else {
                    self.invocations.remove(&y.request)
                };
                let Some(call) = call else {
                    return Vec::new();
                };
                let details = if progress {
                    Dict::new().with_progress(true)
                } else {
                    self.calls.remove(&call);
                    Dict::new()
                };
                vec![Message::Result(CallResult {
                    request: call,
                    details,
                    payload: y.payload,
                })]
            }
            Message::Error(error) if error.request_type == MessageType::Invocation => {
                let Some(call) = self.invocations.remove(&error.request) else {
                    return Vec::new();
                };
                self.calls.remove(&call);
                vec![Message::Error(ErrorMessage {
                    request_type: MessageType::Call,
                    request: call,
                    details: error.details,
                    error: error.error,
                    payload: error.payload,
                })]
            }
            Message::Cancel(cancel) => {
                let Some(invocation) = self.calls.get(&cancel.request).copied() else {
                    return Vec::new();
                };
                let mode = cancel
                    .options
                    .mode()
                    .unwrap_or(wamp_proto::CancelMode::KillNoWait);
                let mut out = vec![Message::Interrupt(Interrupt {
                    request: invocation,
                    options: Dict::new().with_mode(mode),
                })];
                if mode != wamp_proto::CancelMode::Kill {
                    // The caller is answered at once; the callee's late answer is dropped.
                    self.calls.remove(&cancel.request);
                    self.invocations.remove(&invocation);
                    out.push(Message::Error(ErrorMessage {
                        request_type: MessageType::Call,
                        request: cancel.request,
                        details: Dict::new(),
                        error: Uri::CANCELED,
                        payload: Payload::empty(),
                    }));
                }
                out
            }
            Message::Subscribe(subscribe) => {
                let policy = subscribe
                    .options
                    .match_policy()
                    .unwrap_or(MatchPolicy::Exact);
                let existing = self
                    .subscriptions
                    .iter()
                    .find(|(t, p, _)| *t == subscribe.topic.as_str() && *p == policy)
                    .map(|(_, _, s)| *s);
                let subscription = match existing {
                    Some(s) => s,
                    None => {
                        let s = SubscriptionId::new(self.next_id()).expect("in range");
                        self.subscriptions
                            .push((subscribe.topic.to_string(), policy, s));
                        s
                    }
                };
                vec![Message::Subscribed(Subscribed {
                    request: subscribe.request,
                    subscription,
                })]
            }
            Message::Unsubscribe(unsubscribe) => {
                self.subscriptions
                    .retain(|(_, _, s)| *s != unsubscribe.subscription);
                vec![Message::Unsubscribed(Unsubscribed {
                    request: Some(unsubscribe.request),
                    details: Dict::new(),
                })]
            }
            Message::Publish(publish) => {
                let publication = PublicationId::new(self.next_id()).expect("in range");
                let mut out = Vec::new();
                if publish.options.exclude_me() == Some(false) {
                    for (topic, policy, subscription) in &self.subscriptions {
                        let matched = Uri::parse_pattern(topic, *policy)
                            .is_ok_and(|u| u.matches(*policy, &publish.topic));
                        if matched {
                            let mut details = Dict::new();
                            if *policy != MatchPolicy::Exact {
                                details = details.with_topic(publish.topic.to_string());
                            }
                            out.push(Message::Event(Event {
                                subscription: *subscription,
                                publication,
                                details,
                                payload: publish.payload.clone(),
                            }));
                        }
                    }
                }
                if publish.options.acknowledge() == Some(true) {
                    out.push(Message::Published(Published {
                        request: publish.request,
                        publication,
                    }));
                }
                out
            }
            Message::Goodbye(_) => {
                self.closing = true;
                vec![Message::Goodbye(Goodbye {
                    details: Dict::new(),
                    reason: Uri::GOODBYE_AND_OUT,
                })]
            }
            _ => Vec::new(),
        }
    }
}
