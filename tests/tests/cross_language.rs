//! Cross-language RPC through a real Crossbar.io router: Autobahn|Python and this
//! client (`wamp-runtime` through `wamp-tokio` and `wamp-async-std`) call each other,
//! on both runtimes, with all three serializers, over WebSocket and RawSocket.
//!
//! - Our caller, Autobahn's callee (`tests/interop/ab_callee.py`): positional and
//!   keyword arguments both ways (nested values, unicode, floats, negative numbers),
//!   the callee's error URI and arguments, and progressive results.
//! - Our callee, Autobahn's caller (`tests/interop/ab_caller.py`): results our handler
//!   computed, a `WampError` reaching Python with its URI, arguments and keyword
//!   arguments, and undecodable arguments coming back as `wamp.error.invalid_argument`.
//!   Over WebSocket our callee is a plain `session.register`; over RawSocket it is a
//!   Component with declared registrations.
//! - Mixed serializers and transports: every case talks both to a peer on its own
//!   transport and serializer and to one on the other transport with the next
//!   serializer (us on CBOR over WebSocket, Python on JSON over RawSocket, ...), so
//!   the router converts the payloads.
//!
//! One router and six long-lived Python callees (one per transport and serializer)
//! serve the whole file; every Python caller is its own short process. All of them are
//! stopped by their pids when the test ends.

mod common;

use std::collections::BTreeMap;
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use futures::channel::oneshot;
use futures::future::{select, Either};
use futures::StreamExt;
use serde_json::{json, Map, Value};
use wamp_integration::autobahn::{self, CallOutcome, Callee, Peer, Serializer};
use wamp_integration::credentials::ANONYMOUS_ROLE;
use wamp_integration::{Crossbar, CrossbarOptions, REALM};
use wamp_tokio::wamp_runtime::{
    self, Component, Error, Handler, Invocation, JoinConfig, Registration, RetryPolicy, Runtime,
    SerializerKind, Session, TransportConfig, TransportSpec, Uri, WampError, Yield,
};

// `bounded` holds every step of a case to `common::CASE_LIMIT` (30 s).
use common::{bounded, on_tokio};

/// The bound of one `ab_caller.py` run (plus the interpreter's start).
const CALL_LIMIT: Duration = Duration::from_secs(20);
/// How long a Python callee may take to report an invocation it has already answered.
const INVOCATION_LIMIT: Duration = Duration::from_secs(10);

/// The two transports, and the router's anonymous URL for each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transport {
    WebSocket,
    RawSocket,
}

impl Transport {
    const ALL: [Transport; 2] = [Transport::WebSocket, Transport::RawSocket];

    fn other(self) -> Transport {
        match self {
            Transport::WebSocket => Transport::RawSocket,
            Transport::RawSocket => Transport::WebSocket,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Transport::WebSocket => "ws",
            Transport::RawSocket => "rs",
        }
    }
}

/// The router's URLs, by transport.
struct Urls {
    ws: String,
    rs: String,
}

impl Urls {
    fn of(&self, transport: Transport) -> &str {
        match transport {
            Transport::WebSocket => &self.ws,
            Transport::RawSocket => &self.rs,
        }
    }
}

/// The serializer after `serializer`, for the mixed pairings.
fn next(serializer: SerializerKind) -> SerializerKind {
    match serializer {
        SerializerKind::Json => SerializerKind::MsgPack,
        SerializerKind::MsgPack => SerializerKind::Cbor,
        _ => SerializerKind::Json,
    }
}

fn python_serializer(serializer: SerializerKind) -> Serializer {
    match serializer {
        SerializerKind::Json => Serializer::Json,
        SerializerKind::MsgPack => Serializer::MsgPack,
        _ => Serializer::Cbor,
    }
}

/// The procedure of the Python callee on `transport` with `serializer`.
fn python_procedure(transport: Transport, serializer: SerializerKind) -> String {
    format!("xl.ab.{}.{serializer}", transport.name())
}

/// The long-lived Python callees, one per transport and serializer.
struct PythonCallees(Vec<(Transport, SerializerKind, Callee)>);

impl PythonCallees {
    /// Starts all six at once (each takes about a second to join and register).
    fn start(urls: &Urls) -> PythonCallees {
        let started = Instant::now();
        let callees = thread::scope(|scope| {
            let starting: Vec<_> = Transport::ALL
                .into_iter()
                .flat_map(|t| SerializerKind::ALL.into_iter().map(move |s| (t, s)))
                .map(|(transport, serializer)| {
                    let peer = Peer::new(urls.of(transport), python_serializer(serializer));
                    let procedure = python_procedure(transport, serializer);
                    let callee = scope.spawn(move || Callee::start(&peer, &procedure, None));
                    (transport, serializer, callee)
                })
                .collect();
            starting
                .into_iter()
                .map(|(transport, serializer, callee)| {
                    let callee = callee
                        .join()
                        .expect("the starting thread")
                        .unwrap_or_else(|e| {
                            panic!("python callee {transport:?} {serializer}: {e}")
                        });
                    (transport, serializer, callee)
                })
                .collect()
        });
        eprintln!(
            "six Autobahn|Python callees ready in {:?}",
            started.elapsed()
        );
        PythonCallees(callees)
    }

    fn get(&mut self, transport: Transport, serializer: SerializerKind) -> &mut Callee {
        self.0
            .iter_mut()
            .find(|(t, s, _)| *t == transport && *s == serializer)
            .map(|(_, _, callee)| callee)
            .expect("a callee for every transport and serializer")
    }
}

/// Registers `handler` for `procedure` on `session`, bounded.
async fn register<R: Runtime>(
    rt: &R,
    session: &Session,
    procedure: String,
    handler: impl Handler,
) -> Registration {
    bounded(rt, "register", session.register(procedure.clone(), handler))
        .await
        .unwrap_or_else(|e| panic!("register {procedure}: {e}"))
}

fn transport_config(
    urls: &Urls,
    transport: Transport,
    serializer: SerializerKind,
) -> TransportConfig {
    TransportConfig::new(urls.of(transport))
        .expect("valid URL")
        .serializer(serializer)
}

fn as_map(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

/// Our caller against the Python callee on its own transport and serializer, then
/// against the one on the other transport with the next serializer.
async fn our_caller<R: Runtime>(
    rt: R,
    urls: &Urls,
    callees: &mut PythonCallees,
    transport: Transport,
    serializer: SerializerKind,
    tag: String,
) {
    let config = transport_config(urls, transport, serializer);
    let session = bounded(
        &rt,
        "connect",
        wamp_runtime::connect(&rt, &config, &JoinConfig::new(REALM)),
    )
    .await
    .unwrap_or_else(|e| panic!("{tag}: connect: {e}"));
    assert_eq!(session.serializer(), serializer);

    for (peer_transport, peer_serializer) in [
        (transport, serializer),
        (transport.other(), next(serializer)),
    ] {
        let procedure = python_procedure(peer_transport, peer_serializer);
        let callee = callees.get(peer_transport, peer_serializer);
        let what = |step: &str| format!("{tag} -> {procedure}: {step}");

        // Arguments both ways: the callee reverses the positional ones and echoes the
        // keyword ones with its own additions.
        let args = json!([1, -7, "ünïcødé ✓", 3.5, {"three": [3.25, true, null]}, [], tag]);
        let kwargs = json!({
            "tag": tag,
            "n": -70000000000_i64,
            "nested": {"list": [1, 2.5, "x", false], "empty": {}},
        });
        let result = bounded(
            &rt,
            &what("call"),
            session.call(&procedure).args(&args).kwargs(&kwargs),
        )
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", what("call")));
        let mut reversed = args.as_array().cloned().unwrap_or_default();
        reversed.reverse();
        assert_eq!(
            result.args::<Vec<Value>>().expect("args"),
            reversed,
            "{}",
            what("args")
        );
        let got = as_map(result.kwargs::<Value>().expect("kwargs"));
        for (key, value) in as_map(kwargs.clone()) {
            assert_eq!(
                got.get(&key),
                Some(&value),
                "{}: kwarg {key}",
                what("kwargs")
            );
        }
        assert_eq!(got.get("served_by"), Some(&json!("autobahn")), "{got:?}");
        assert_eq!(
            got.get("caller"),
            Some(&json!(session.id().get())),
            "{got:?}"
        );
        let received = callee
            .next_call(INVOCATION_LIMIT)
            .unwrap_or_else(|e| panic!("{}: {e}", what("invocation")));
        assert_eq!(
            Value::Array(received.args),
            args,
            "{}",
            what("received args")
        );
        assert_eq!(
            Value::Object(received.kwargs),
            kwargs,
            "{}",
            what("received kwargs")
        );

        // The callee's error: its URI, with the call's positional arguments.
        let error_uri = format!("{tag}.refused");
        let err = bounded(
            &rt,
            &what("error"),
            session
                .call(&procedure)
                .args(&(tag.as_str(), 42))
                .kwargs(&json!({"error": error_uri})),
        )
        .await
        .expect_err("the callee fails the call");
        let Error::Wamp(wamp) = &err else {
            panic!("{}: not a WAMP error: {err}", what("error"))
        };
        assert_eq!(wamp.uri().as_str(), error_uri);
        assert_eq!(
            wamp.args::<(String, i64)>().expect("error args"),
            (tag.clone(), 42)
        );
        callee
            .next_call(INVOCATION_LIMIT)
            .unwrap_or_else(|e| panic!("{}: {e}", what("error invocation")));

        // Progressive results, then the final one.
        let parts: Vec<(bool, Value)> = bounded(
            &rt,
            &what("progress"),
            session
                .call(&procedure)
                .args(&("last",))
                .kwargs(&json!({"progress": 3}))
                .progress()
                .map(|part| {
                    let part = part.unwrap_or_else(|e| panic!("a progressive result: {e}"));
                    (part.is_progress(), part.args::<Value>().expect("args"))
                })
                .collect::<Vec<_>>(),
        )
        .await;
        assert_eq!(
            parts,
            [
                (true, json!([0])),
                (true, json!([1])),
                (true, json!([2])),
                (false, json!(["last"])),
            ],
            "{}",
            what("progress")
        );
        callee
            .next_call(INVOCATION_LIMIT)
            .unwrap_or_else(|e| panic!("{}: {e}", what("progress invocation")));
    }
    common::leave(&rt, &session).await;
}

/// `{tag}.echo(a, b, text, times=n, nested=v)`: `[a + b, text * n]` with keyword results
/// saying who computed them.
fn echo_handler(runtime: &'static str, serializer: SerializerKind) -> impl Handler + Clone {
    move |invocation: Invocation| async move {
        let (a, b, text): (i64, i64, String) = invocation.args()?;
        let kwargs: BTreeMap<String, Value> = invocation.kwargs()?;
        let times = kwargs.get("times").and_then(Value::as_u64).unwrap_or(1);
        let repeated = text.repeat(usize::try_from(times).unwrap_or(1));
        let mut results = BTreeMap::from([
            ("served_by", json!("wamp-rs")),
            ("runtime", json!(runtime)),
            ("serializer", json!(serializer.to_string())),
            ("caller", json!(invocation.caller().map(|id| id.get()))),
            ("caller_authrole", json!(invocation.caller_authrole())),
        ]);
        if let Some(nested) = kwargs.get("nested") {
            results.insert("nested", nested.clone());
        }
        Ok(Yield::new(&(a + b, repeated), &results)?)
    }
}

/// `{tag}.fail(text)`: always the error `{tag}.refused` with arguments and keywords.
fn fail_handler(tag: String, runtime: &'static str) -> impl Handler + Clone {
    move |invocation: Invocation| {
        let uri = format!("{tag}.refused");
        async move {
            let (text,): (String,) = invocation.args()?;
            Err::<Yield, _>(
                WampError::new(uri)
                    .with_args(&(text, 42, [1.5, -2.0]))
                    .with_kwargs(&json!({"why": "refused on purpose", "runtime": runtime})),
            )
        }
    }
}

/// Calls through `ab_caller.py` on a thread of its own, so the runtime keeps serving
/// while the Python process runs.
fn python_call(
    peer: Peer,
    procedure: String,
    args: Value,
    kwargs: Value,
) -> oneshot::Receiver<CallOutcome> {
    let (tx, rx) = oneshot::channel();
    thread::spawn(move || {
        let outcome = autobahn::call(&peer, &procedure, &args, &kwargs, CALL_LIMIT)
            .unwrap_or_else(|e| panic!("ab_caller.py {procedure}: {e}"));
        let _ = tx.send(outcome);
    });
    rx
}

/// What the Python callers of one case found.
struct PythonOutcomes {
    echo: CallOutcome,
    fail: CallOutcome,
    invalid: Option<CallOutcome>,
}

/// Python callers for our procedures: `echo` from a peer on our transport and
/// serializer, `fail` from one on the other transport with the next serializer, and
/// (when asked) `echo` with arguments it cannot decode. They run at once.
async fn python_callers<R: Runtime>(
    rt: &R,
    urls: &Urls,
    transport: Transport,
    serializer: SerializerKind,
    tag: &str,
    invalid: bool,
) -> PythonOutcomes {
    let same = Peer::new(urls.of(transport), python_serializer(serializer));
    let mixed = Peer::new(
        urls.of(transport.other()),
        python_serializer(next(serializer)),
    );
    let echo = python_call(
        same.clone(),
        format!("{tag}.echo"),
        json!([40, 2, "ab"]),
        json!({"times": 3, "nested": {"ü": [1, 2.5, null, {"deep": true}]}}),
    );
    let fail = python_call(mixed, format!("{tag}.fail"), json!(["no"]), json!({}));
    let invalid =
        invalid.then(|| python_call(same, format!("{tag}.echo"), json!(["x"]), json!({})));
    let what = format!("{tag}: Python callers");
    let echo = bounded(rt, &what, echo).await.expect("the echo caller");
    let fail = bounded(rt, &what, fail).await.expect("the fail caller");
    let invalid = match invalid {
        Some(rx) => Some(bounded(rt, &what, rx).await.expect("the invalid caller")),
        None => None,
    };
    PythonOutcomes {
        echo,
        fail,
        invalid,
    }
}

/// Our callee serving Python callers: a plain registration over WebSocket, a Component
/// with declared registrations over RawSocket.
async fn our_callee<R: Runtime>(
    rt: R,
    urls: &Urls,
    transport: Transport,
    serializer: SerializerKind,
    runtime: &'static str,
    tag: String,
    invalid: bool,
) {
    let config = transport_config(urls, transport, serializer);
    let echo = echo_handler(runtime, serializer);
    let fail = fail_handler(tag.clone(), runtime);
    let outcomes = match transport {
        Transport::WebSocket => {
            let session: Session = bounded(
                &rt,
                "connect",
                wamp_runtime::connect(&rt, &config, &JoinConfig::new(REALM)),
            )
            .await
            .unwrap_or_else(|e| panic!("{tag}: connect: {e}"));
            let _echo = register(&rt, &session, format!("{tag}.echo"), echo).await;
            let _fail = register(&rt, &session, format!("{tag}.fail"), fail).await;
            let outcomes = python_callers(&rt, urls, transport, serializer, &tag, invalid).await;
            common::leave(&rt, &session).await;
            outcomes
        }
        Transport::RawSocket => {
            let (ready_tx, ready_rx) = oneshot::channel::<()>();
            let ready_tx = Arc::new(Mutex::new(Some(ready_tx)));
            let component = Component::builder()
                .transport(TransportSpec::new(config).retry(RetryPolicy::never()))
                .realm(REALM)
                .register(format!("{tag}.echo"), echo)
                .register(format!("{tag}.fail"), fail)
                .on_ready(move |_session: Session| {
                    let ready = ready_tx.lock().ok().and_then(|mut tx| tx.take());
                    async move {
                        if let Some(ready) = ready {
                            let _ = ready.send(());
                        }
                        Ok(())
                    }
                })
                .build()
                .expect("a valid component");
            let serve = async {
                bounded(&rt, "the component joins", ready_rx)
                    .await
                    .expect("on_ready ran");
                let outcomes =
                    python_callers(&rt, urls, transport, serializer, &tag, invalid).await;
                component.stop();
                outcomes
            };
            let start = component.start(&rt);
            // A statement, not the block's tail: the futures borrow `component`.
            let outcomes =
                match bounded(&rt, "the component", select(pin!(start), pin!(serve))).await {
                    Either::Left((ended, _)) => {
                        panic!("{tag}: the component ended before serving: {ended:?}")
                    }
                    Either::Right((outcomes, start)) => {
                        bounded(&rt, "the component stops", start)
                            .await
                            .unwrap_or_else(|e| panic!("{tag}: the component: {e}"));
                        outcomes
                    }
                };
            outcomes
        }
    };

    // The results our handler computed, as Python decoded them.
    match outcomes.echo {
        CallOutcome::Result { args, kwargs } => {
            assert_eq!(args, [json!(42), json!("ababab")], "{tag}");
            assert_eq!(kwargs.get("served_by"), Some(&json!("wamp-rs")), "{tag}");
            assert_eq!(kwargs.get("runtime"), Some(&json!(runtime)), "{tag}");
            assert_eq!(
                kwargs.get("serializer"),
                Some(&json!(serializer.to_string())),
                "{tag}"
            );
            assert_eq!(
                kwargs.get("nested"),
                Some(&json!({"ü": [1, 2.5, null, {"deep": true}]})),
                "{tag}"
            );
            assert!(
                kwargs.get("caller").is_some_and(Value::is_u64),
                "{tag}: the router discloses the Python caller: {kwargs:?}"
            );
            assert_eq!(
                kwargs.get("caller_authrole"),
                Some(&json!(ANONYMOUS_ROLE)),
                "{tag}"
            );
        }
        other => panic!("{tag}: echo from Python: {other:?}"),
    }
    // Our WampError, as Python's ApplicationError.
    match outcomes.fail {
        CallOutcome::Error { uri, args, kwargs } => {
            assert_eq!(uri, format!("{tag}.refused"));
            assert_eq!(args, [json!("no"), json!(42), json!([1.5, -2.0])], "{tag}");
            assert_eq!(
                Value::Object(kwargs),
                json!({"why": "refused on purpose", "runtime": runtime}),
                "{tag}"
            );
        }
        other => panic!("{tag}: fail from Python: {other:?}"),
    }
    match outcomes.invalid {
        None => {}
        Some(CallOutcome::Error { uri, .. }) => assert_eq!(uri, Uri::INVALID_ARGUMENT.as_str()),
        Some(other) => panic!("{tag}: undecodable arguments from Python: {other:?}"),
    }
}

#[test]
fn autobahn_python_and_this_client_call_each_other() {
    let mut options = CrossbarOptions::default();
    // A safety net only: the router is stopped by its pid when this test ends.
    options.max_lifetime = Duration::from_secs(600);
    let crossbar = Crossbar::start(options).unwrap_or_else(|e| panic!("{e}"));
    let urls = Urls {
        ws: crossbar.ws_url(),
        rs: crossbar.rawsocket_url(),
    };
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut callees = PythonCallees::start(&urls);
        let started = Instant::now();
        for transport in Transport::ALL {
            for serializer in SerializerKind::ALL {
                let tag = |rt: &str| format!("xl.{rt}.{}.{serializer}", transport.name());
                on_tokio(|rt| {
                    our_caller(rt, &urls, &mut callees, transport, serializer, tag("tokio"))
                });
                async_std::task::block_on(our_caller(
                    wamp_async_std::AsyncStdRuntime,
                    &urls,
                    &mut callees,
                    transport,
                    serializer,
                    tag("asyncstd"),
                ));
            }
        }
        eprintln!("our caller, Python callees: {:?}", started.elapsed());

        let started = Instant::now();
        for transport in Transport::ALL {
            for serializer in SerializerKind::ALL {
                let tag = |rt: &str| format!("xl.{rt}.{}.{serializer}", transport.name());
                // Undecodable arguments once per runtime and transport.
                let invalid = serializer == SerializerKind::Json;
                on_tokio(|rt| {
                    our_callee(
                        rt,
                        &urls,
                        transport,
                        serializer,
                        "tokio",
                        tag("tokio"),
                        invalid,
                    )
                });
                async_std::task::block_on(our_callee(
                    wamp_async_std::AsyncStdRuntime,
                    &urls,
                    transport,
                    serializer,
                    "async-std",
                    tag("asyncstd"),
                    invalid,
                ));
            }
        }
        eprintln!("Python callers, our callee: {:?}", started.elapsed());

        // Every Python callee is still serving, and leaves cleanly when stopped.
        for (transport, serializer, callee) in callees.0.drain(..) {
            let finished = callee
                .stop()
                .unwrap_or_else(|e| panic!("stop callee {transport:?} {serializer}: {e}"));
            assert!(
                finished.stdout.iter().any(|line| line.starts_with("LEFT")),
                "callee {transport:?} {serializer}: {finished:?}"
            );
        }
    }));
    if let Err(panic) = outcome {
        crossbar.print_log();
        std::panic::resume_unwind(panic);
    }
}
