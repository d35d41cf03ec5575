//! Ctrl-C (and SIGTERM) as a future, without tying the crate to a runtime.
//!
//! The `ctrlc` crate runs the process-wide handler on its own thread; the handler wakes
//! every waiting future through a oneshot channel. Installing it happens once, on the
//! first call.

use std::sync::{Mutex, OnceLock};

use futures::channel::oneshot;

/// Waiters for the next signal, and whether installing the handler failed.
struct Waiters {
    pending: Mutex<Vec<oneshot::Sender<()>>>,
    installed: Result<(), String>,
}

fn waiters() -> &'static Waiters {
    static WAITERS: OnceLock<Waiters> = OnceLock::new();
    WAITERS.get_or_init(|| {
        let installed = ctrlc::set_handler(|| {
            let senders = match waiters().pending.lock() {
                Ok(mut pending) => std::mem::take(&mut *pending),
                Err(_) => Vec::new(),
            };
            for sender in senders {
                let _ = sender.send(());
            }
        })
        .map_err(|e| e.to_string());
        Waiters {
            pending: Mutex::new(Vec::new()),
            installed,
        }
    })
}

/// Resolves on the next Ctrl-C (SIGINT) or SIGTERM.
///
/// The process-wide handler is installed on first use; if another library already
/// installed one, this returns `Err` at once with why, so a caller can fall back to
/// its runtime's own signal support.
pub async fn ctrl_c() -> Result<(), String> {
    let waiters = waiters();
    waiters.installed.clone()?;
    let (tx, rx) = oneshot::channel();
    waiters
        .pending
        .lock()
        .map_err(|_| "signal waiters poisoned".to_string())?
        .push(tx);
    rx.await.map_err(|_| "signal handler gone".to_string())
}
