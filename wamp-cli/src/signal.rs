//! Ctrl-C and SIGTERM, for the commands that run until told to stop.

use std::io;

/// The stop signals, listened to from creation on: a signal that comes while the
/// command is still joining is not lost (nor does it kill the process half-way).
pub struct Shutdown {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl Shutdown {
    /// Starts listening.
    pub fn listen() -> io::Result<Shutdown> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Ok(Shutdown {
                interrupt: signal(SignalKind::interrupt())?,
                terminate: signal(SignalKind::terminate())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Shutdown {})
    }

    /// Resolves at the next stop signal, with its name.
    pub async fn recv(&mut self) -> &'static str {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.interrupt.recv() => "interrupt",
                _ = self.terminate.recv() => "terminate",
            }
        }
        #[cfg(not(unix))]
        {
            // Without a handler there is nothing to wait for but the end.
            match tokio::signal::ctrl_c().await {
                Ok(()) => "interrupt",
                Err(_) => std::future::pending().await,
            }
        }
    }
}
