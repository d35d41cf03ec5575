//! Errors of the client session, by blame: [`UsageError`] for local misuse (returned
//! from commands), [`RequestError`] for a request that failed, [`CloseReason`] for why the
//! session ended.

use std::fmt;
use std::time::Duration;

use crate::dict::Details;
use crate::error::EncodeError;
use crate::id::{RegistrationId, RequestId, SubscriptionId};
use crate::payload::Payload;
use crate::uri::Uri;

/// A command could not be carried out; nothing was sent.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum UsageError {
    /// The session is not joined yet (or is leaving).
    #[error("the session is not established (state: {0})")]
    NotEstablished(&'static str),
    /// The session is closed; it stays closed.
    #[error("the session is closed: {0}")]
    Closed(CloseReason),
    /// `connect` was called twice.
    #[error("the session was already started")]
    AlreadyStarted,
    /// A URI or pattern is invalid.
    #[error("invalid URI: {0}")]
    InvalidUri(String),
    /// The payload or options could not be encoded with the session's serializer.
    #[error("cannot encode the message: {0}")]
    Encode(#[from] EncodeError),
    /// The outgoing queue is full: drain `poll_transmit` first (backpressure).
    #[error("the transmit queue is full ({0} messages); drain poll_transmit first")]
    QueueFull(usize),
    /// Too many requests are in flight.
    #[error("too many requests in flight ({0})")]
    TooManyPending(usize),
    /// The encoded message is longer than the router accepts
    /// ([`Session::set_peer_max_message_len`](super::Session::set_peer_max_message_len)).
    #[error("the message is {size} bytes, more than the {max} bytes the router accepts; nothing was sent")]
    TooLarge {
        /// The encoded message's length.
        size: usize,
        /// The router's limit.
        max: usize,
    },
    /// No pending call with this ID.
    #[error("no pending call {0}")]
    NoSuchCall(RequestId),
    /// No invocation with this ID is waiting for an answer.
    #[error("no pending invocation {0}")]
    NoSuchInvocation(RequestId),
    /// Not a registration of this session.
    #[error("no registration {0}")]
    NoSuchRegistration(RegistrationId),
    /// Not a subscription of this session.
    #[error("no subscription {0}")]
    NoSuchSubscription(SubscriptionId),
    /// The router (or this session's configuration) does not support a feature the
    /// command needs.
    #[error("feature not supported: {0}")]
    FeatureNotSupported(&'static str),
    /// The command is not valid in this situation.
    #[error("{0}")]
    Invalid(&'static str),
}

/// Why a request failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// The router (or callee) answered with ERROR.
    #[error("{error}")]
    Wamp {
        /// The error URI, e.g. `wamp.error.no_such_procedure`.
        error: Uri,
        /// ERROR details.
        details: Details,
        /// Error arguments.
        payload: Payload,
    },
    /// The call was canceled locally (modes `skip` and `killnowait` resolve at once).
    #[error("canceled")]
    Canceled,
    /// The session closed before an answer came.
    #[error("session closed before the request was answered: {0}")]
    SessionClosed(CloseReason),
}

impl RequestError {
    /// The WAMP error URI: the router's, or the well-known one for local outcomes.
    pub fn uri(&self) -> &Uri {
        match self {
            RequestError::Wamp { error, .. } => error,
            RequestError::Canceled => &CANCELED,
            RequestError::SessionClosed(_) => &SESSION_CLOSED,
        }
    }
}

static CANCELED: Uri = Uri::CANCELED;
static SESSION_CLOSED: Uri = Uri::from_static("wamp.close.transport_lost");

/// Why a session closed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseReason {
    /// GOODBYE was exchanged; `reason` is the GOODBYE URI of whoever started it.
    Goodbye {
        /// The close reason URI.
        reason: Uri,
        /// Whether this side sent the first GOODBYE.
        local: bool,
        /// The GOODBYE message text, if any.
        message: Option<String>,
    },
    /// The router sent ABORT (refused the join, or aborted the session).
    Aborted {
        /// The ABORT reason URI.
        reason: Uri,
        /// The ABORT message text, if any.
        message: Option<String>,
    },
    /// This side aborted the session (e.g. it could not authenticate).
    AbortedLocally {
        /// The ABORT reason URI that was sent.
        reason: Uri,
        /// Why.
        message: String,
    },
    /// The router broke the protocol; ABORT `wamp.error.protocol_violation` was sent.
    ProtocolViolation(String),
    /// No WELCOME (or ABORT) came before the handshake deadline.
    HandshakeTimeout,
    /// No GOODBYE reply came before the deadline.
    GoodbyeTimeout,
    /// The transport closed.
    TransportLost,
    /// The router sent nothing within `timeout` of a liveness probe
    /// ([`SessionConfig::liveness_probe`](super::SessionConfig::liveness_probe)): the
    /// connection is taken for dead.
    Unresponsive {
        /// The probe's timeout.
        timeout: Duration,
    },
}

impl CloseReason {
    /// Whether the session ended by an orderly GOODBYE exchange.
    pub fn is_clean(&self) -> bool {
        matches!(self, CloseReason::Goodbye { .. })
    }

    /// The WAMP URI that best describes the reason.
    pub fn uri(&self) -> Uri {
        match self {
            CloseReason::Goodbye { reason, .. }
            | CloseReason::Aborted { reason, .. }
            | CloseReason::AbortedLocally { reason, .. } => reason.clone(),
            CloseReason::ProtocolViolation(_) => Uri::PROTOCOL_VIOLATION,
            CloseReason::HandshakeTimeout | CloseReason::GoodbyeTimeout => Uri::TIMEOUT,
            CloseReason::TransportLost | CloseReason::Unresponsive { .. } => SESSION_CLOSED.clone(),
        }
    }
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CloseReason::Goodbye {
                reason,
                local,
                message,
            } => {
                let who = if *local {
                    "we left"
                } else {
                    "the router closed the session"
                };
                write!(f, "{who} ({reason})")?;
                if let Some(m) = message {
                    write!(f, ": {m}")?;
                }
                Ok(())
            }
            CloseReason::Aborted { reason, message } => {
                write!(f, "aborted by the router ({reason})")?;
                if let Some(m) = message {
                    write!(f, ": {m}")?;
                }
                Ok(())
            }
            CloseReason::AbortedLocally { reason, message } => {
                write!(f, "aborted ({reason}): {message}")
            }
            CloseReason::ProtocolViolation(why) => {
                write!(f, "protocol violation by the router: {why}")
            }
            CloseReason::HandshakeTimeout => f.write_str("the router did not answer HELLO in time"),
            CloseReason::GoodbyeTimeout => f.write_str("the router did not answer GOODBYE in time"),
            CloseReason::TransportLost => f.write_str("the transport closed"),
            CloseReason::Unresponsive { timeout } => write!(
                f,
                "the router sent nothing within {timeout:?} of a liveness probe; the connection is taken for dead"
            ),
        }
    }
}
