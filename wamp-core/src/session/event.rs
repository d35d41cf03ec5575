//! What a [`Session`](super::Session) tells the application, through
//! [`poll_event`](super::Session::poll_event).

use crate::dict::{CancelMode, Details};
use crate::id::{PublicationId, RegistrationId, RequestId, SessionId, SubscriptionId};
use crate::payload::Payload;
use crate::uri::Uri;

use super::error::{CloseReason, RequestError};

/// Something the application must see. `T` is the session's request token (see
/// [`Session`](super::Session)); `()` unless the owner attaches its own.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum SessionEvent<T = ()> {
    /// The router welcomed the session.
    Joined(Joined),
    /// A request finished: exactly one `Reply` per request that expects one (every
    /// request except PUBLISH without `acknowledge`).
    Reply(Reply<T>),
    /// A progressive (non-final) result of a call made with `receive_progress`.
    Progress {
        /// The call.
        request: RequestId,
        /// RESULT details.
        details: Details,
        /// This part's payload.
        payload: Payload,
    },
    /// The router asks this callee to run a procedure. Answer with
    /// [`yield_`](super::Session::yield_) or [`invocation_error`](super::Session::invocation_error).
    Invocation(InvocationEvent),
    /// The router asks the callee to stop an invocation (the caller canceled, or the call
    /// timed out).
    Interrupt {
        /// The invocation.
        request: RequestId,
        /// `kill` (an answer is awaited) or `killnowait` (it is not).
        mode: Option<CancelMode>,
        /// The INTERRUPT options (`reason`, ...).
        options: Details,
    },
    /// An event published to a subscription.
    Event(EventDelivery),
    /// The router revoked a registration.
    RegistrationRevoked {
        /// The revoked registration.
        registration: RegistrationId,
        /// Why, if the router said.
        reason: Option<String>,
    },
    /// The router revoked a subscription.
    SubscriptionRevoked {
        /// The revoked subscription.
        subscription: SubscriptionId,
        /// Why, if the router said.
        reason: Option<String>,
    },
    /// The session is closed, for good: the last event. The transport may be closed once
    /// the transmit queue is drained.
    Closed(CloseReason),
}

/// A joined session's identity and the router's announcement.
#[derive(Debug, Clone, PartialEq)]
pub struct Joined {
    /// The session ID.
    pub session: SessionId,
    /// The realm.
    pub realm: Uri,
    /// WELCOME details (`authid`, `authrole`, `authmethod`, `authprovider`, `roles`, ...).
    pub details: Details,
}

impl Joined {
    /// The authid the router assigned.
    pub fn authid(&self) -> Option<&str> {
        self.details.authid()
    }
    /// The authrole the router assigned.
    pub fn authrole(&self) -> Option<&str> {
        self.details.authrole()
    }
}

/// The final outcome of a request.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply<T = ()> {
    /// The request.
    pub request: RequestId,
    /// The token the request was made with (`()` for the plain methods).
    pub token: T,
    /// What came of it.
    pub outcome: Result<Outcome, RequestError>,
}

/// A successful request's result.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Outcome {
    /// CALL: the final RESULT.
    Result {
        /// RESULT details.
        details: Details,
        /// The result.
        payload: Payload,
    },
    /// REGISTER: the registration exists.
    Registered(RegistrationId),
    /// UNREGISTER: done.
    Unregistered,
    /// SUBSCRIBE: the subscription exists.
    Subscribed(SubscriptionId),
    /// UNSUBSCRIBE: done.
    Unsubscribed,
    /// PUBLISH with `acknowledge`: the publication.
    Published(PublicationId),
}

/// An INVOCATION, with what the application needs to answer it.
#[derive(Debug, Clone, PartialEq)]
pub struct InvocationEvent {
    /// The invocation's request ID (use it to answer).
    pub request: RequestId,
    /// The registration being invoked.
    pub registration: RegistrationId,
    /// The concrete procedure: `Details.procedure` for pattern registrations, else the
    /// registered URI.
    pub procedure: Uri,
    /// INVOCATION details (`caller`, `caller_authid`, `receive_progress`, `timeout`, ...).
    pub details: Details,
    /// The call arguments.
    pub payload: Payload,
    /// Whether this is a continuation of a progressive call invocation (a later part
    /// with the same request ID).
    pub continuation: bool,
}

impl InvocationEvent {
    /// Whether the caller accepts progressive results.
    pub fn receive_progress(&self) -> bool {
        self.details.receive_progress() == Some(true)
    }
    /// Whether more parts of this call's arguments will follow (progressive call
    /// invocations).
    pub fn more_parts(&self) -> bool {
        self.details.progress() == Some(true)
    }
}

/// An EVENT, with the subscribed pattern resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct EventDelivery {
    /// The subscription.
    pub subscription: SubscriptionId,
    /// The publication.
    pub publication: PublicationId,
    /// The concrete topic: `Details.topic` for pattern subscriptions, else the subscribed
    /// URI.
    pub topic: Uri,
    /// EVENT details (`publisher`, `retained`, ...).
    pub details: Details,
    /// The event payload.
    pub payload: Payload,
}
