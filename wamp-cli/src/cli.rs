//! The command line: clap types for every command and the flags they share.

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};
use wamp_tokio::wamp_proto::{serializer::SerializerKind, InvokePolicy, MatchPolicy};

/// The exit codes, for `--help` (and the README says the same).
pub const EXIT_CODES: &str = "\
Exit codes:
  0  success (also after Ctrl-C or SIGTERM when register/subscribe left cleanly)
  1  the router or the callee answered with a WAMP ERROR (its URI and arguments are
     printed on stderr)
  2  usage error: bad flags or arguments, invalid --kwargs JSON, a missing --secret
  3  could not connect or join: network, TLS, transport handshake, or the router
     refused the session (wrong credentials, unknown realm)
  4  the session ended early (connection lost, router shut down, subscription revoked)
     or a local --timeout passed";

const ABOUT: &str = "Call, register, publish and subscribe on a WAMP router from the shell.";

const LONG_ABOUT: &str = "\
Call, register, publish and subscribe on a WAMP router from the shell.

URL is ws://host:port/path, wss://... (TLS), rs://host:port (RawSocket over TCP),
rss://host:port (RawSocket over TLS) or unix:///path/to/socket.

Each ARG is taken as JSON when it is valid JSON, otherwise as a string:
`wamp call URL p 1 '\"1\"' hi` sends [1, \"1\", \"hi\"]. Use `--` before arguments that
start with a dash and are not numbers. Binary values are JSON strings in the WAMP
convention: \"\\u0000\" followed by base64, both in arguments and in the output.

Results and events are printed on stdout, one JSON object per line; everything else
(status lines such as `registered PROC`, errors, -v logs) goes to stderr.";

/// The `wamp` command line.
#[derive(Debug, Parser)]
#[command(
    name = "wamp",
    version,
    about = ABOUT,
    long_about = LONG_ABOUT,
    after_help = EXIT_CODES,
    propagate_version = true,
    allow_negative_numbers = true
)]
pub struct Cli {
    /// Logs on stderr: -v info, -vv debug, -vvv trace (RUST_LOG, when set, wins).
    #[arg(short, long, action = ArgAction::Count, global = true)]
    pub verbose: u8,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Calls a procedure and prints the result as {"args":[...],"kwargs":{...}}.
    #[command(after_help = EXIT_CODES, allow_negative_numbers = true)]
    Call(CallArgs),
    /// Registers a procedure that answers every call with its own arguments.
    #[command(after_help = EXIT_CODES)]
    Register(RegisterArgs),
    /// Publishes an event.
    #[command(after_help = EXIT_CODES, allow_negative_numbers = true)]
    Publish(PublishArgs),
    /// Subscribes to a topic and prints each event as one JSON line.
    #[command(after_help = EXIT_CODES)]
    Subscribe(SubscribeArgs),
    /// Runs a WAMP router (WebSocket and RawSocket listeners) until Ctrl-C.
    Router(RouterArgs),
    /// Reads a ticket from stdin and prints an Argon2id hash of it (a PHC string) to put
    /// in a ticket principal's `ticket` instead of the ticket itself.
    #[command(after_help = "Example: printf %s \"$TICKET\" | wamp hash-ticket")]
    HashTicket,
}

/// `wamp router`.
#[derive(Debug, Clone, Args)]
pub struct RouterArgs {
    /// WebSocket listener address ("" for none). Default 127.0.0.1:8080, or the config
    /// file's `[listen] ws`.
    #[arg(long, value_name = "ADDR")]
    pub ws: Option<String>,

    /// The WebSocket path. Default /ws.
    #[arg(long, value_name = "PATH")]
    pub ws_path: Option<String>,

    /// RawSocket listener address ("" for none). Default 127.0.0.1:8081, or the config
    /// file's `[listen] rawsocket`.
    #[arg(long, value_name = "ADDR")]
    pub rawsocket: Option<String>,

    /// Also listen for RawSocket on this Unix socket path.
    #[arg(long, value_name = "PATH")]
    pub unix: Option<PathBuf>,

    /// An anonymous realm where everyone may do everything (repeatable). Default realm1
    /// when no config file gives realms.
    #[arg(long, value_name = "NAME")]
    pub realm: Vec<String>,

    /// A TOML file with listeners, TLS, realms, roles, principals and limits (see
    /// `wamp-cli/README.md`), or a Crossbar.io node configuration (config.json).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Checks a config file (our TOML or a Crossbar.io config.json), prints what it
    /// would serve and what it leaves out, and exits without listening.
    #[arg(long, value_name = "FILE", conflicts_with = "config")]
    pub check: Option<PathBuf>,

    /// Serves the router's metrics (Prometheus text format) over HTTP at
    /// http://ADDR/metrics. Also the config file's `[metrics] listen` (and `path`).
    #[arg(long, value_name = "ADDR")]
    pub metrics: Option<String>,

    /// Reads the config file as a Crossbar.io node configuration (JSON, version 2),
    /// whatever it looks like. A file holding a JSON object is read so anyway.
    #[arg(long)]
    pub crossbar: bool,

    /// Keepalive of the WebSocket listeners: ping a client after this many seconds
    /// without a byte from it (0: off). Default 30, or the config file's `[listen]
    /// ping_interval`.
    #[arg(long, value_name = "SECS")]
    pub ping_interval: Option<f64>,

    /// How many seconds an unanswered ping waits before the client is dropped as gone.
    /// Default 15, or the config file's `[listen] ping_timeout`.
    #[arg(long, value_name = "SECS")]
    pub ping_timeout: Option<f64>,

    /// Also ping RawSocket clients (RawSocket PING) with the same keepalive. Off by
    /// default: Autobahn|Python's RawSocket clients drop a connection that sends them
    /// PING; turn it on when the RawSocket clients answer it (ours do). Also the config
    /// file's `[listen] rawsocket_ping = true`.
    #[arg(long)]
    pub rawsocket_ping: bool,

    /// How many seconds a message that has begun to arrive may take to arrive whole,
    /// on every listener (0: no limit). Default 60, or the config file's `[listen]
    /// message_timeout`.
    #[arg(long, value_name = "SECS")]
    pub message_timeout: Option<f64>,

    /// Threads for the connection tasks and the router task. Default: one per core, or
    /// one on a machine with two cores or fewer (see BENCHMARKS.md).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: Option<u16>,
}

/// Where to connect and how to join: shared by every client command.
#[derive(Debug, Clone, Args)]
pub struct Connection {
    /// The router: ws://, wss://, rs://, rss:// or unix:// URL.
    #[arg(value_name = "URL")]
    pub url: String,

    /// The realm to join.
    #[arg(long, default_value = "realm1")]
    pub realm: String,

    /// The serializer (default: offer cbor, msgpack, json and let the router pick; over
    /// RawSocket, try them in that order).
    #[arg(long, value_enum)]
    pub serializer: Option<Serializer>,

    /// The authentication method (default: none announced; the router decides, usually
    /// anonymous).
    #[arg(long, value_enum)]
    pub authmethod: Option<AuthMethod>,

    /// The authentication ID (required by ticket, wampcra, scram and scram-autobahn).
    #[arg(long)]
    pub authid: Option<String>,

    /// The ticket, the WAMP-CRA secret, the Ed25519 private key (64 hex digits) or the
    /// SCRAM password. Also read from the environment variable WAMP_SECRET, which keeps
    /// it out of the process list.
    #[arg(long, value_name = "SECRET")]
    pub secret: Option<String>,

    /// PEM file with the certificates to trust for wss:// and rss:// (default: the
    /// system's roots).
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,

    /// Seconds allowed for connecting: TCP, TLS, the transport handshake and joining,
    /// each.
    #[arg(long, value_name = "SECS", default_value_t = 10.0, value_parser = positive_seconds)]
    pub connect_timeout: f64,
}

/// `wamp call`.
#[derive(Debug, Clone, Args)]
pub struct CallArgs {
    #[command(flatten)]
    pub connection: Connection,

    /// The procedure.
    pub procedure: String,

    /// Positional arguments (JSON, or else strings).
    #[arg(value_name = "ARG")]
    pub args: Vec<String>,

    /// Keyword arguments as a JSON object.
    #[arg(long, value_name = "JSON")]
    pub kwargs: Option<String>,

    /// Ask for progressive results and print each as its own JSON line before the final
    /// result.
    #[arg(long)]
    pub progress: bool,

    /// Give up after this many seconds: the call is canceled and the command exits 4.
    /// The router and the callee are told too (call option `timeout`).
    #[arg(long, value_name = "SECS", value_parser = positive_seconds)]
    pub timeout: Option<f64>,
}

/// `wamp register`.
#[derive(Debug, Clone, Args)]
pub struct RegisterArgs {
    #[command(flatten)]
    pub connection: Connection,

    /// The procedure (or pattern, with --match).
    pub procedure: String,

    /// Leave and exit 0 after answering this many invocations (default: run until
    /// Ctrl-C or SIGTERM).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub count: Option<u64>,

    /// How the procedure URI matches calls.
    #[arg(long = "match", value_enum, default_value_t = Match::Exact)]
    pub match_policy: Match,

    /// How the router picks among several callees of the procedure.
    #[arg(long, value_enum)]
    pub invoke: Option<Invoke>,
}

/// `wamp publish`.
#[derive(Debug, Clone, Args)]
pub struct PublishArgs {
    #[command(flatten)]
    pub connection: Connection,

    /// The topic.
    pub topic: String,

    /// Positional arguments (JSON, or else strings).
    #[arg(value_name = "ARG")]
    pub args: Vec<String>,

    /// Keyword arguments as a JSON object.
    #[arg(long, value_name = "JSON")]
    pub kwargs: Option<String>,

    /// Ask the router to acknowledge; prints {"publication":ID} on stdout, and a refusal
    /// is an error (exit 1).
    #[arg(long)]
    pub acknowledge: bool,

    /// `false` lets this session's own subscriptions receive the event (the router
    /// excludes the publisher by default).
    #[arg(long, value_name = "BOOL", action = ArgAction::Set)]
    pub exclude_me: Option<bool>,
}

/// `wamp subscribe`.
#[derive(Debug, Clone, Args)]
pub struct SubscribeArgs {
    #[command(flatten)]
    pub connection: Connection,

    /// The topic (or pattern, with --match).
    pub topic: String,

    /// How the topic matches publications.
    #[arg(long = "match", value_enum, default_value_t = Match::Exact)]
    pub match_policy: Match,

    /// Leave and exit 0 after this many events (default: run until Ctrl-C or SIGTERM).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub count: Option<u64>,
}

/// `--serializer`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Serializer {
    /// JSON (`wamp.2.json`).
    Json,
    /// MessagePack (`wamp.2.msgpack`).
    Msgpack,
    /// CBOR (`wamp.2.cbor`).
    Cbor,
}

impl From<Serializer> for SerializerKind {
    fn from(s: Serializer) -> Self {
        match s {
            Serializer::Json => SerializerKind::Json,
            Serializer::Msgpack => SerializerKind::MsgPack,
            Serializer::Cbor => SerializerKind::Cbor,
        }
    }
}

/// `--authmethod`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AuthMethod {
    /// No credentials (an --authid is announced if given).
    Anonymous,
    /// WAMP-Ticket: --authid and the ticket as --secret.
    Ticket,
    /// WAMP-CRA: --authid and the shared secret as --secret.
    Wampcra,
    /// WAMP-Cryptosign: the Ed25519 private key (64 hex digits) as --secret; --authid
    /// if the router needs it.
    Cryptosign,
    /// WAMP-SCRAM of the specification (`wamp-scram`): --authid and the password as
    /// --secret.
    Scram,
    /// The earlier SCRAM draft Crossbar.io and Autobahn speak (`scram`): --authid and the
    /// password as --secret.
    ScramAutobahn,
}

/// `--match`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Match {
    /// The URI itself.
    Exact,
    /// Every URI that starts with it.
    Prefix,
    /// Empty components match any component (`com..update`).
    Wildcard,
}

impl From<Match> for MatchPolicy {
    fn from(m: Match) -> Self {
        match m {
            Match::Exact => MatchPolicy::Exact,
            Match::Prefix => MatchPolicy::Prefix,
            Match::Wildcard => MatchPolicy::Wildcard,
        }
    }
}

/// `--invoke`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Invoke {
    /// One callee only; a second registration is refused.
    Single,
    /// Callees in turn.
    Roundrobin,
    /// A random callee.
    Random,
    /// The first callee that registered.
    First,
    /// The last callee that registered.
    Last,
}

impl From<Invoke> for InvokePolicy {
    fn from(i: Invoke) -> Self {
        match i {
            Invoke::Single => InvokePolicy::Single,
            Invoke::Roundrobin => InvokePolicy::RoundRobin,
            Invoke::Random => InvokePolicy::Random,
            Invoke::First => InvokePolicy::First,
            Invoke::Last => InvokePolicy::Last,
        }
    }
}

/// A number of seconds: finite, positive, and at most a day (a `Duration` must hold it).
fn positive_seconds(text: &str) -> Result<f64, String> {
    let secs: f64 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a number of seconds"))?;
    if secs.is_finite() && secs > 0.0 && secs <= 86_400.0 {
        Ok(secs)
    } else {
        Err(format!("{text} is not in (0, 86400] seconds"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("wamp").chain(args.iter().copied()))
    }

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn call_takes_positional_args_and_flags_anywhere() {
        let cli = parse(&[
            "call",
            "ws://h/ws",
            "com.p",
            "1",
            "-2",
            "hi",
            "--kwargs",
            "{}",
            "--realm",
            "r2",
            "-v",
            "--progress",
            "--timeout",
            "1.5",
        ])
        .expect("parses");
        let Command::Call(call) = cli.command else {
            panic!("not call: {cli:?}");
        };
        assert_eq!(call.args, ["1", "-2", "hi"]);
        assert_eq!(call.kwargs.as_deref(), Some("{}"));
        assert_eq!(call.connection.realm, "r2");
        assert!(call.progress);
        assert_eq!(call.timeout, Some(1.5));
        assert_eq!(cli.verbose, 1);
    }

    #[test]
    fn defaults() {
        let cli = parse(&["subscribe", "rs://127.0.0.1:1", "a.b"]).expect("parses");
        let Command::Subscribe(sub) = cli.command else {
            panic!("not subscribe");
        };
        assert_eq!(sub.connection.realm, "realm1");
        assert_eq!(sub.connection.serializer, None);
        assert_eq!(sub.connection.authmethod, None);
        assert_eq!(sub.match_policy, Match::Exact);
        assert_eq!(sub.count, None);
        assert_eq!(sub.connection.connect_timeout, 10.0);
    }

    #[test]
    fn enums_and_booleans() {
        let cli = parse(&[
            "register",
            "ws://h/ws",
            "a.",
            "--match",
            "prefix",
            "--invoke",
            "roundrobin",
            "--count",
            "3",
            "--serializer",
            "msgpack",
            "--authmethod",
            "wampcra",
        ])
        .expect("parses");
        let Command::Register(reg) = cli.command else {
            panic!("not register");
        };
        assert_eq!(MatchPolicy::from(reg.match_policy), MatchPolicy::Prefix);
        assert_eq!(
            reg.invoke.map(InvokePolicy::from),
            Some(InvokePolicy::RoundRobin)
        );
        assert_eq!(reg.count, Some(3));
        assert_eq!(
            reg.connection.serializer.map(SerializerKind::from),
            Some(SerializerKind::MsgPack)
        );
        assert_eq!(reg.connection.authmethod, Some(AuthMethod::Wampcra));

        let cli = parse(&[
            "publish",
            "ws://h/ws",
            "t",
            "--exclude-me",
            "false",
            "--acknowledge",
        ])
        .expect("parses");
        let Command::Publish(publish) = cli.command else {
            panic!("not publish");
        };
        assert_eq!(publish.exclude_me, Some(false));
        assert!(publish.acknowledge);
    }

    #[test]
    fn bad_values_are_usage_errors() {
        for bad in [
            &["call", "ws://h/ws"][..],
            &["call", "ws://h/ws", "p", "--timeout", "0"],
            &["call", "ws://h/ws", "p", "--timeout", "abc"],
            &["register", "ws://h/ws", "p", "--count", "0"],
            &["subscribe", "ws://h/ws", "t", "--match", "regex"],
            &["publish", "ws://h/ws", "t", "--exclude-me", "maybe"],
            &["call", "ws://h/ws", "p", "--serializer", "xml"],
            &["frobnicate"],
        ] {
            let err = parse(bad).expect_err("refused");
            assert_eq!(err.exit_code(), 2, "{bad:?}: {err}");
        }
    }

    #[test]
    fn help_lists_the_exit_codes() {
        let help = Cli::command().render_long_help().to_string();
        assert!(help.contains("Exit codes"), "{help}");
        let mut cmd = Cli::command();
        let call = cmd
            .find_subcommand_mut("call")
            .expect("call")
            .render_long_help()
            .to_string();
        assert!(
            call.contains("Exit codes") && call.contains("--progress"),
            "{call}"
        );
    }
}
