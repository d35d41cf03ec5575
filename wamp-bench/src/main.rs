//! `wamp-bench`: the load benchmark of `wamp router` against an echo ceiling
//! and Crossbar.io, driven by a raw WAMP client written for the bench.
//!
//! ```text
//! cargo build --release -p wamp-cli
//! cargo run --release -p wamp-bench -- all     # everything, about ten minutes
//! cargo run --release -p wamp-bench -- smoke   # CI: small counts, fails on any loss
//! ```
//!
//! Modules: [`client`] (the raw WAMP client), [`framing`] (RawSocket and WebSocket),
//! [`wamp`] (messages as arrays), [`echo`] (the ceiling), [`targets`] (starting the router
//! and Crossbar.io), [`scenarios`], [`proc`] (RSS and CPU from `/proc`), [`report`].

// Printing the table is this program's job.
#![allow(clippy::print_stdout)]

mod client;
mod echo;
mod error;
mod framing;
mod proc;
mod report;
mod scenarios;
mod targets;
mod wamp;

use std::path::PathBuf;
use std::process::ExitCode;

use crate::echo::EchoProcess;
use crate::error::{BenchError, Result};
use crate::report::Report;
use crate::scenarios::Config;
use crate::targets::{CrossbarNode, Kind, RouterProcess, Target};

const USAGE: &str = "usage: wamp-bench (all | smoke | rpc) [--json] [--no-crossbar] [--router PATH]

  all            every scenario against the echo ceiling, `wamp router` and Crossbar.io
  smoke          small counts, no Crossbar.io; exits 1 on any lost event or dropped session
  rpc            only the RPC latency and throughput rows, against the echo and the router
                 (about a minute: for working on the router's hot path)
  --json         also print one JSON object per result
  --no-crossbar  skip Crossbar.io in `all`
  --router PATH  the `wamp` binary (default: next to this executable)";

/// The command line.
#[derive(Debug)]
struct Options {
    smoke: bool,
    /// Only the RPC scenarios (no fan-out, bursts, idle sessions or Crossbar.io).
    rpc_only: bool,
    json: bool,
    crossbar: bool,
    router: Option<PathBuf>,
}

fn parse_args() -> Result<Options> {
    let mut mode = None;
    let mut options = Options {
        smoke: false,
        rpc_only: false,
        json: false,
        crossbar: true,
        router: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "all" | "smoke" | "rpc" if mode.is_none() => mode = Some(arg),
            "--json" => options.json = true,
            "--no-crossbar" => options.crossbar = false,
            "--router" => {
                let path = args
                    .next()
                    .ok_or_else(|| BenchError::Setup("--router needs a path".into()))?;
                options.router = Some(PathBuf::from(path));
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => {
                return Err(BenchError::Setup(format!(
                    "unexpected argument {other:?}\n{USAGE}"
                )))
            }
        }
    }
    match mode.as_deref() {
        Some("smoke") => options.smoke = true,
        Some("rpc") => {
            options.rpc_only = true;
            options.crossbar = false;
        }
        Some(_) => {}
        None => {
            return Err(BenchError::Setup(format!(
                "say `all`, `smoke` or `rpc`\n{USAGE}"
            )))
        }
    }
    Ok(options)
}

/// Raises this process's open-file soft limit to the hard limit (10,000 idle sessions
/// need more than the usual 1,024); children (the router, Crossbar.io) inherit it.
fn raise_nofile() -> u64 {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let limit = getrlimit(Resource::Nofile);
    if limit.current != limit.maximum {
        let raised = Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        };
        if let Err(e) = setrlimit(Resource::Nofile, raised) {
            eprintln!("wamp-bench: cannot raise the open-file limit: {e}");
            return limit.current.unwrap_or(0);
        }
    }
    limit.maximum.unwrap_or(u64::MAX)
}

fn command_line(program: &str, args: &[&str]) -> String {
    std::process::Command::new(program)
        .args(args)
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}

fn header(options: &Options, router: &std::path::Path, nofile: u64) -> String {
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into());
    let date = command_line("date", &["-u", "+%Y-%m-%d %H:%M UTC"]);
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    format!(
        "## wamp-bench {mode}\n\n- date: {date}\n- machine: nproc {cores}, {cpu}, Linux {kernel}, open files {nofile}\n\
         - router: {}\n- load client: raw WAMP client in wamp-bench (tokio, {cores} worker threads); echo ceiling in a child process ({cores} worker threads)\n",
        router.display(),
        mode = if options.smoke {
            "smoke"
        } else if options.rpc_only {
            "rpc"
        } else {
            "all"
        },
    )
}

/// Whether and how Crossbar.io takes part.
enum CrossbarPlan {
    /// Start it for each phase.
    Use,
    /// Not in this run, and why (the column's text).
    Skip(&'static str),
}

/// Starts Crossbar.io, or notes why not and stops trying for the rest of the run.
fn start_crossbar(plan: &mut CrossbarPlan, report: &mut Report) -> Option<CrossbarNode> {
    if !matches!(plan, CrossbarPlan::Use) {
        return None;
    }
    eprintln!("wamp-bench: starting Crossbar.io (a first run installs it, a few minutes)");
    match CrossbarNode::start() {
        Ok(node) => Some(node),
        Err(e) => {
            eprintln!("wamp-bench: Crossbar.io not available: {e}");
            report.missing_column(Kind::Crossbar, "n/a");
            report.notes.push(format!(
                "Crossbar.io could not be started: {}",
                first_line(&e.to_string())
            ));
            *plan = CrossbarPlan::Skip("n/a");
            None
        }
    }
}

fn stop_crossbar(node: Option<CrossbarNode>) {
    if let Some(mut node) = node {
        if let Err(e) = node.stop() {
            eprintln!("wamp-bench: stopping Crossbar.io: {e}");
        }
    }
}

fn run(options: Options) -> Result<bool> {
    let nofile = raise_nofile();
    let config = if options.smoke {
        Config::smoke()
    } else {
        Config::all()
    };
    let binary = targets::router_binary(options.router.as_deref())?;
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    let mut report = Report::default();
    let mut failures = Vec::new();
    let mut crossbar_plan = if options.smoke {
        CrossbarPlan::Skip("n/a (smoke)")
    } else if !options.crossbar {
        CrossbarPlan::Skip("n/a (--no-crossbar)")
    } else {
        CrossbarPlan::Use
    };
    if let CrossbarPlan::Skip(why) = crossbar_plan {
        report.missing_column(Kind::Crossbar, why);
    }

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cores)
        .thread_name("load")
        .enable_all()
        .build()
        .map_err(error::io_ctx("start the load runtime"))?;

    // Load scenarios: the echo, one router process and one Crossbar.io node throughout.
    let echo = EchoProcess::start()?;
    let mut router = RouterProcess::start(&binary)?;
    let mut targets: Vec<Target> = vec![targets::echo_target(&echo), router.target.clone()];
    let crossbar = start_crossbar(&mut crossbar_plan, &mut report);
    if let Some(node) = &crossbar {
        targets.push(node.target.clone());
    }
    runtime.block_on(
        scenarios::Plan::new(&config, &mut report, &mut failures).load(&targets, options.rpc_only),
    );
    if !router.is_running() {
        failures.push("wamp router exited during the run".into());
    }
    router.stop();
    stop_crossbar(crossbar);

    // What a thread per core buys on this machine (where `wamp router` defaults to one
    // thread on two cores or fewer): the 32 B throughput rows again against a router
    // with one thread per core.
    if !options.smoke {
        let threads = cores.to_string();
        let mut per_core = RouterProcess::start_with(&binary, &["--threads", &threads])?;
        runtime.block_on(
            scenarios::Plan::new(&config, &mut report, &mut failures)
                .throughput_per_core(&targets::echo_target(&echo), &per_core.target),
        );
        if !per_core.is_running() {
            failures.push("wamp router --threads N exited during the run".into());
        }
        per_core.stop();
    }
    drop(echo);

    // Idle sessions: a fresh process per measurement, so memory freed by earlier
    // scenarios (and kept by the allocator) does not hide the sessions' own.
    let idle_combos: &[scenarios::Combo] = if options.rpc_only {
        &[]
    } else {
        &scenarios::IDLE_COMBOS
    };
    for &combo in idle_combos {
        let mut fresh = RouterProcess::start(&binary)?;
        runtime.block_on(
            scenarios::Plan::new(&config, &mut report, &mut failures)
                .idle_sessions(&fresh.target, combo),
        );
        if !fresh.is_running() {
            failures.push("wamp router exited during the idle-session run".into());
        }
        fresh.stop();
        let node = start_crossbar(&mut crossbar_plan, &mut report);
        if let Some(node) = &node {
            runtime.block_on(
                scenarios::Plan::new(&config, &mut report, &mut failures)
                    .idle_sessions(&node.target, combo),
            );
        }
        stop_crossbar(node);
    }
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));

    println!("{}", header(&options, &binary, nofile));
    println!("{}", report.table());
    for note in &report.notes {
        println!("- {note}");
    }
    if options.json {
        println!();
        for line in report.json_lines() {
            println!("{line}");
        }
    }
    for failure in &failures {
        eprintln!("wamp-bench: FAILED: {failure}");
    }
    Ok(failures.is_empty())
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or(text)
}

fn main() -> ExitCode {
    // The ceiling's own process (see `echo`): not for people to run.
    if std::env::args().nth(1).as_deref() == Some("echo-server") {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        return match echo::serve_until_stdin_closes(cores) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("wamp-bench echo-server: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let options = match parse_args() {
        Ok(options) => options,
        Err(e) => {
            eprintln!("wamp-bench: {e}");
            return ExitCode::from(2);
        }
    };
    match run(options) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("wamp-bench: {e}");
            ExitCode::FAILURE
        }
    }
}
