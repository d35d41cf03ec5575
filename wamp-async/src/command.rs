//! What session handles send to the connection loop, and the loop's answers.

use std::sync::Arc;

use futures::channel::oneshot;
use wamp_proto::session::CloseReason;
use wamp_proto::{
    CancelMode, Options, Payload, PublicationId, RegistrationId, RequestId, SubscriptionId, Uri,
};

use crate::budget::Permit;
use crate::call::CallResult;
use crate::error::{Error, WampError};
use crate::queue::QueueTx;
use crate::register::{Handler, Yield};
use crate::subscribe::Event;

/// Where a call's outcome goes.
pub(crate) enum ReplySink {
    /// A plain call: the final result only.
    Once(oneshot::Sender<Result<CallResult, Error>>),
    /// A call with progressive results: each of them, then the final one.
    Stream(QueueTx<CallResult>),
}

impl ReplySink {
    pub(crate) fn finish(self, result: Result<CallResult, Error>) {
        match self {
            ReplySink::Once(tx) => {
                let _ = tx.send(result);
            }
            ReplySink::Stream(tx) => tx.finish(result),
        }
    }
}

/// A command with the bytes it holds of the session's budget, given back when the loop
/// has taken it.
pub(crate) struct Queued {
    pub(crate) command: Command,
    pub(crate) _permit: Permit,
}

/// Counted for the envelope and options of a request beside its payload and URI.
const ENVELOPE_BYTES: usize = 32;

impl Command {
    /// What the request holds while it waits for the loop, as the byte budget counts it.
    pub(crate) fn queued_bytes(&self) -> usize {
        ENVELOPE_BYTES
            + match self {
                Command::Call {
                    procedure, payload, ..
                } => procedure.as_str().len() + payload.encoded_len(),
                Command::Publish { topic, payload, .. } => {
                    topic.as_str().len() + payload.encoded_len()
                }
                Command::Register { procedure, .. } => procedure.as_str().len(),
                Command::Subscribe { topic, .. } => topic.as_str().len(),
                _ => 0,
            }
    }
}

/// A request from a session handle, through the bounded command channel (a full
/// channel makes the handle wait).
pub(crate) enum Command {
    Call {
        /// The handle's key, so that dropping the handle can cancel the call.
        key: u64,
        procedure: Uri,
        payload: Payload,
        options: Options,
        reply: ReplySink,
    },
    Register {
        procedure: Uri,
        options: Options,
        handler: Arc<dyn Handler>,
        reply: oneshot::Sender<Result<RegistrationId, Error>>,
    },
    Unregister {
        registration: RegistrationId,
        reply: oneshot::Sender<Result<(), Error>>,
    },
    Subscribe {
        key: u64,
        topic: Uri,
        options: Options,
        sink: QueueTx<Event>,
        reply: oneshot::Sender<Result<SubscriptionId, Error>>,
    },
    Unsubscribe {
        key: u64,
        subscription: SubscriptionId,
        reply: oneshot::Sender<Result<(), Error>>,
    },
    Publish {
        topic: Uri,
        payload: Payload,
        options: Options,
        reply: oneshot::Sender<Result<Option<PublicationId>, Error>>,
    },
    Leave {
        reason: Uri,
        message: Option<String>,
        reply: oneshot::Sender<Result<CloseReason, Error>>,
    },
}

/// A notice from a dropped handle, through the unbounded control channel: `Drop` cannot
/// wait. Each notice stands for a handle that existed, so their number is bounded by the
/// requests, registrations and subscriptions the application held.
pub(crate) enum Control {
    /// A call future or progress stream was dropped before the outcome.
    CancelCall { key: u64, mode: CancelMode },
    /// A `Registration` was dropped.
    Unregister { registration: RegistrationId },
    /// A `Subscription` was dropped.
    Unsubscribe {
        key: u64,
        subscription: SubscriptionId,
    },
}

/// A procedure handler's output, through the loop's own bounded answer channel.
pub(crate) enum Answer {
    /// A progressive result.
    Progress {
        invocation: RequestId,
        payload: Payload,
    },
    /// The handler's final answer.
    Final {
        invocation: RequestId,
        result: Result<Yield, WampError>,
    },
}
