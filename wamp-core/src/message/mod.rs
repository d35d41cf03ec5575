//! Every WAMP message of the basic and advanced profiles as a typed value.
//!
//! Field names follow the spec's message table. Application payloads are a
//! [`Payload`], which keeps the encoded `Arguments`/`ArgumentsKw` bytes so a router can
//! forward them without decoding. Encoding omits empty payload tails exactly as the spec
//! requires: no empty `ArgumentsKw`, and no empty `Arguments` unless `ArgumentsKw`
//! follows.
//!
//! Encode and decode through a [`SerializerKind`](crate::serializer::SerializerKind):
//!
//! ```
//! use wamp_proto::{message::*, Payload, RequestId, serializer::SerializerKind, Uri, Dict, value};
//! let call = Message::Call(Call {
//!     request: RequestId::new(1).unwrap(),
//!     options: Dict::new().with_receive_progress(true),
//!     procedure: Uri::parse("com.example.add").unwrap(),
//!     payload: Payload::from_args(&(2, 3)).unwrap(),
//! });
//! let bytes = SerializerKind::Json.encode(&call).unwrap();
//! assert_eq!(&bytes[..], br#"[48,1,{"receive_progress":true},"com.example.add",[2,3]]"#);
//! let back = SerializerKind::Json.decode(bytes).unwrap();
//! assert_eq!(back, call);
//! ```

pub(crate) mod decode;
pub(crate) mod encode;

use std::fmt;

use crate::dict::{Details, Dict, Options};
use crate::id::{PublicationId, RegistrationId, RequestId, SessionId, SubscriptionId};
use crate::payload::Payload;
use crate::uri::Uri;

macro_rules! message_types {
    ($($(#[$doc:meta])* $name:ident = $code:literal, $wire:literal, [$($field:literal),*];)*) => {
        /// The type of a WAMP message: its code on the wire.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum MessageType {
            $($(#[$doc])* $name = $code,)*
        }

        impl MessageType {
            /// Every message type, in code order.
            pub const ALL: &'static [MessageType] = &[$(MessageType::$name),*];

            /// The type for a wire code.
            pub const fn from_code(code: u64) -> Option<MessageType> {
                match code {
                    $($code => Some(MessageType::$name),)*
                    _ => None,
                }
            }

            /// The wire code.
            pub const fn code(self) -> u64 {
                self as u64
            }

            /// The spec's upper-case name, e.g. `"CALL"`.
            pub const fn name(self) -> &'static str {
                match self {
                    $(MessageType::$name => $wire,)*
                }
            }

            /// The spec's names of the message's elements, in wire order (the type code
            /// first), including the optional payload tail.
            pub const fn field_names(self) -> &'static [&'static str] {
                match self {
                    $(MessageType::$name => &["MessageType", $($field),*],)*
                }
            }
        }
    };
}

message_types! {
    /// `[1, Realm|uri, Details|dict]`
    Hello = 1, "HELLO", ["Realm", "Details"];
    /// `[2, Session|id, Details|dict]`
    Welcome = 2, "WELCOME", ["Session", "Details"];
    /// `[3, Details|dict, Reason|uri, Arguments?, ArgumentsKw?]`
    Abort = 3, "ABORT", ["Details", "Reason", "Arguments", "ArgumentsKw"];
    /// `[4, AuthMethod|string, Extra|dict]`
    Challenge = 4, "CHALLENGE", ["AuthMethod", "Extra"];
    /// `[5, Signature|string, Extra|dict]`
    Authenticate = 5, "AUTHENTICATE", ["Signature", "Extra"];
    /// `[6, Details|dict, Reason|uri]`
    Goodbye = 6, "GOODBYE", ["Details", "Reason"];
    /// `[8, REQUEST.Type|int, REQUEST.Request|id, Details|dict, Error|uri, Arguments?, ArgumentsKw?]`
    Error = 8, "ERROR", ["REQUEST.Type", "REQUEST.Request", "Details", "Error", "Arguments", "ArgumentsKw"];
    /// `[16, Request|id, Options|dict, Topic|uri, Arguments?, ArgumentsKw?]`
    Publish = 16, "PUBLISH", ["Request", "Options", "Topic", "Arguments", "ArgumentsKw"];
    /// `[17, PUBLISH.Request|id, Publication|id]`
    Published = 17, "PUBLISHED", ["PUBLISH.Request", "Publication"];
    /// `[32, Request|id, Options|dict, Topic|uri]`
    Subscribe = 32, "SUBSCRIBE", ["Request", "Options", "Topic"];
    /// `[33, SUBSCRIBE.Request|id, Subscription|id]`
    Subscribed = 33, "SUBSCRIBED", ["SUBSCRIBE.Request", "Subscription"];
    /// `[34, Request|id, SUBSCRIBED.Subscription|id, Options|dict?]` (the Options are
    /// Autobahn's, for router-to-router `forward_for`; omitted when empty)
    Unsubscribe = 34, "UNSUBSCRIBE", ["Request", "SUBSCRIBED.Subscription", "Options"];
    /// `[35, UNSUBSCRIBE.Request|id]` or the revocation form `[35, 0, Details|dict]`
    Unsubscribed = 35, "UNSUBSCRIBED", ["UNSUBSCRIBE.Request", "Details"];
    /// `[36, Subscription|id, Publication|id, Details|dict, Arguments?, ArgumentsKw?]`
    Event = 36, "EVENT", ["SUBSCRIBED.Subscription", "PUBLISHED.Publication", "Details", "Arguments", "ArgumentsKw"];
    /// `[48, Request|id, Options|dict, Procedure|uri, Arguments?, ArgumentsKw?]`
    Call = 48, "CALL", ["Request", "Options", "Procedure", "Arguments", "ArgumentsKw"];
    /// `[49, CALL.Request|id, Options|dict]`
    Cancel = 49, "CANCEL", ["CALL.Request", "Options"];
    /// `[50, CALL.Request|id, Details|dict, Arguments?, ArgumentsKw?]`
    Result = 50, "RESULT", ["CALL.Request", "Details", "Arguments", "ArgumentsKw"];
    /// `[64, Request|id, Options|dict, Procedure|uri]`
    Register = 64, "REGISTER", ["Request", "Options", "Procedure"];
    /// `[65, REGISTER.Request|id, Registration|id]`
    Registered = 65, "REGISTERED", ["REGISTER.Request", "Registration"];
    /// `[66, Request|id, REGISTERED.Registration|id, Options|dict?]` (the Options are
    /// Autobahn's, for router-to-router `forward_for`; omitted when empty)
    Unregister = 66, "UNREGISTER", ["Request", "REGISTERED.Registration", "Options"];
    /// `[67, UNREGISTER.Request|id]` or the revocation form `[67, 0, Details|dict]`
    Unregistered = 67, "UNREGISTERED", ["UNREGISTER.Request", "Details"];
    /// `[68, Request|id, REGISTERED.Registration|id, Details|dict, Arguments?, ArgumentsKw?]`
    Invocation = 68, "INVOCATION", ["Request", "REGISTERED.Registration", "Details", "Arguments", "ArgumentsKw"];
    /// `[69, INVOCATION.Request|id, Options|dict]`
    Interrupt = 69, "INTERRUPT", ["INVOCATION.Request", "Options"];
    /// `[70, INVOCATION.Request|id, Options|dict, Arguments?, ArgumentsKw?]`
    Yield = 70, "YIELD", ["INVOCATION.Request", "Options", "Arguments", "ArgumentsKw"];
    /// `[337, EVENT.Publication|id]`: Autobahn's acknowledged event delivery (not yet in
    /// the spec; "37 on ratification").
    EventReceived = 337, "EVENT_RECEIVED", ["EVENT.Publication"];
}

impl fmt::Display for MessageType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// HELLO: a client asks to join a realm.
#[derive(Debug, Clone, PartialEq)]
pub struct Hello {
    /// The realm to join.
    pub realm: Uri,
    /// Roles, features, authentication offers.
    pub details: Details,
}

/// WELCOME: the router accepted the session.
#[derive(Debug, Clone, PartialEq)]
pub struct Welcome {
    /// The session's ID.
    pub session: SessionId,
    /// Router roles, features and the authentication outcome.
    pub details: Details,
}

/// ABORT: the session is refused or torn down; never answered.
#[derive(Debug, Clone, PartialEq)]
pub struct Abort {
    /// Details (`message`, ...).
    pub details: Details,
    /// Why, as a URI.
    pub reason: Uri,
    /// Optional arguments.
    pub payload: Payload,
}

/// CHALLENGE: the router asks the client to authenticate.
#[derive(Debug, Clone, PartialEq)]
pub struct Challenge {
    /// The authentication method (`ticket`, `wampcra`, `cryptosign`, ...).
    pub method: String,
    /// Method-specific data.
    pub extra: Dict,
}

/// AUTHENTICATE: the client's answer to a CHALLENGE.
#[derive(Debug, Clone, PartialEq)]
pub struct Authenticate {
    /// The signature or ticket.
    pub signature: String,
    /// Method-specific data.
    pub extra: Dict,
}

/// GOODBYE: close the session; the peer answers with GOODBYE.
#[derive(Debug, Clone, PartialEq)]
pub struct Goodbye {
    /// Details (`message`, ...).
    pub details: Details,
    /// Why, as a URI.
    pub reason: Uri,
}

/// ERROR: a request failed.
#[derive(Debug, Clone, PartialEq)]
pub struct Error {
    /// The type of the failed request: SUBSCRIBE, UNSUBSCRIBE, PUBLISH, REGISTER,
    /// UNREGISTER, CALL or INVOCATION.
    pub request_type: MessageType,
    /// The failed request's ID.
    pub request: RequestId,
    /// Details.
    pub details: Details,
    /// The error URI.
    pub error: Uri,
    /// Error arguments.
    pub payload: Payload,
}

impl Error {
    /// The request types an ERROR may answer.
    pub const REQUEST_TYPES: &'static [MessageType] = &[
        MessageType::Subscribe,
        MessageType::Unsubscribe,
        MessageType::Publish,
        MessageType::Register,
        MessageType::Unregister,
        MessageType::Call,
        MessageType::Invocation,
    ];
}

/// PUBLISH: publish an event to a topic.
#[derive(Debug, Clone, PartialEq)]
pub struct Publish {
    /// Request ID.
    pub request: RequestId,
    /// Options (`acknowledge`, `exclude_me`, `exclude`, `eligible`, `retain`, ...).
    pub options: Options,
    /// The topic.
    pub topic: Uri,
    /// The event payload.
    pub payload: Payload,
}

/// PUBLISHED: acknowledges an acknowledged PUBLISH.
#[derive(Debug, Clone, PartialEq)]
pub struct Published {
    /// The PUBLISH request ID.
    pub request: RequestId,
    /// The publication's ID.
    pub publication: PublicationId,
}

/// SUBSCRIBE: subscribe to a topic or topic pattern.
#[derive(Debug, Clone, PartialEq)]
pub struct Subscribe {
    /// Request ID.
    pub request: RequestId,
    /// Options (`match`, `get_retained`, ...).
    pub options: Options,
    /// The topic or pattern (empty components allowed for prefix/wildcard matching).
    pub topic: Uri,
}

/// SUBSCRIBED: the subscription exists.
#[derive(Debug, Clone, PartialEq)]
pub struct Subscribed {
    /// The SUBSCRIBE request ID.
    pub request: RequestId,
    /// The subscription's ID.
    pub subscription: SubscriptionId,
}

/// UNSUBSCRIBE: end a subscription.
#[derive(Debug, Clone, PartialEq)]
pub struct Unsubscribe {
    /// Request ID.
    pub request: RequestId,
    /// The subscription to end.
    pub subscription: SubscriptionId,
    /// Options (not in the spec's basic form; Autobahn uses them for `forward_for`).
    pub options: Options,
}

/// UNSUBSCRIBED: the subscription ended, on request or revoked by the router.
#[derive(Debug, Clone, PartialEq)]
pub struct Unsubscribed {
    /// The UNSUBSCRIBE request ID, or `None` for a router revocation (request `0` on the
    /// wire).
    pub request: Option<RequestId>,
    /// For a revocation: `subscription` and `reason`. Empty otherwise (and then the
    /// two-element form is sent).
    pub details: Details,
}

/// EVENT: an event delivered to a subscriber.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// The subscription it is delivered for.
    pub subscription: SubscriptionId,
    /// The publication's ID.
    pub publication: PublicationId,
    /// Details (`publisher`, `topic`, `retained`, ...).
    pub details: Details,
    /// The event payload.
    pub payload: Payload,
}

/// EVENT_RECEIVED: acknowledges an EVENT (Autobahn extension, code 337).
#[derive(Debug, Clone, PartialEq)]
pub struct EventReceived {
    /// The acknowledged publication.
    pub publication: PublicationId,
}

/// CALL: call a procedure.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// Request ID.
    pub request: RequestId,
    /// Options (`timeout`, `receive_progress`, `disclose_me`, `progress`, ...).
    pub options: Options,
    /// The procedure.
    pub procedure: Uri,
    /// The call arguments.
    pub payload: Payload,
}

/// CANCEL: cancel a pending call.
#[derive(Debug, Clone, PartialEq)]
pub struct Cancel {
    /// The CALL request ID.
    pub request: RequestId,
    /// Options (`mode`).
    pub options: Options,
}

/// RESULT: a call's (possibly progressive) result.
#[derive(Debug, Clone, PartialEq)]
pub struct CallResult {
    /// The CALL request ID.
    pub request: RequestId,
    /// Details (`progress`, ...).
    pub details: Details,
    /// The result.
    pub payload: Payload,
}

/// REGISTER: register a procedure or procedure pattern.
#[derive(Debug, Clone, PartialEq)]
pub struct Register {
    /// Request ID.
    pub request: RequestId,
    /// Options (`match`, `invoke`, `disclose_caller`, ...).
    pub options: Options,
    /// The procedure or pattern (empty components allowed for prefix/wildcard matching).
    pub procedure: Uri,
}

/// REGISTERED: the registration exists.
#[derive(Debug, Clone, PartialEq)]
pub struct Registered {
    /// The REGISTER request ID.
    pub request: RequestId,
    /// The registration's ID.
    pub registration: RegistrationId,
}

/// UNREGISTER: end a registration.
#[derive(Debug, Clone, PartialEq)]
pub struct Unregister {
    /// Request ID.
    pub request: RequestId,
    /// The registration to end.
    pub registration: RegistrationId,
    /// Options (not in the spec's basic form; Autobahn uses them for `forward_for`).
    pub options: Options,
}

/// UNREGISTERED: the registration ended, on request or revoked by the router.
#[derive(Debug, Clone, PartialEq)]
pub struct Unregistered {
    /// The UNREGISTER request ID, or `None` for a router revocation (request `0` on the
    /// wire).
    pub request: Option<RequestId>,
    /// For a revocation: `registration` and `reason`. Empty otherwise.
    pub details: Details,
}

/// INVOCATION: the dealer asks a callee to run a procedure.
#[derive(Debug, Clone, PartialEq)]
pub struct Invocation {
    /// Request ID (router-to-callee sequence).
    pub request: RequestId,
    /// The registration being invoked.
    pub registration: RegistrationId,
    /// Details (`caller`, `procedure`, `receive_progress`, `timeout`, ...).
    pub details: Details,
    /// The call arguments.
    pub payload: Payload,
}

/// INTERRUPT: the dealer asks a callee to stop an invocation.
#[derive(Debug, Clone, PartialEq)]
pub struct Interrupt {
    /// The INVOCATION request ID.
    pub request: RequestId,
    /// Options (`mode`, `reason`).
    pub options: Options,
}

/// YIELD: a callee's (possibly progressive) result.
#[derive(Debug, Clone, PartialEq)]
pub struct Yield {
    /// The INVOCATION request ID.
    pub request: RequestId,
    /// Options (`progress`, ...).
    pub options: Options,
    /// The result.
    pub payload: Payload,
}

/// Declares [`Message`] with one variant per message struct, each named like its
/// [`MessageType`], together with [`Message::message_type`] and the `From` impls, so the
/// list of messages is written once.
macro_rules! messages {
    ($($variant:ident($ty:ident)),* $(,)?) => {
        /// Any WAMP message.
        #[derive(Debug, Clone, PartialEq)]
        #[allow(missing_docs)] // each variant is documented by its struct
        pub enum Message {
            $($variant($ty),)*
        }

        impl Message {
            /// The message's type.
            pub fn message_type(&self) -> MessageType {
                match self {
                    $(Message::$variant(_) => MessageType::$variant,)*
                }
            }
        }

        $(
            impl From<$ty> for Message {
                fn from(m: $ty) -> Message {
                    Message::$variant(m)
                }
            }
        )*
    };
}

messages!(
    Hello(Hello),
    Welcome(Welcome),
    Abort(Abort),
    Challenge(Challenge),
    Authenticate(Authenticate),
    Goodbye(Goodbye),
    Error(Error),
    Publish(Publish),
    Published(Published),
    Subscribe(Subscribe),
    Subscribed(Subscribed),
    Unsubscribe(Unsubscribe),
    Unsubscribed(Unsubscribed),
    Event(Event),
    EventReceived(EventReceived),
    Call(Call),
    Cancel(Cancel),
    Result(CallResult),
    Register(Register),
    Registered(Registered),
    Unregister(Unregister),
    Unregistered(Unregistered),
    Invocation(Invocation),
    Interrupt(Interrupt),
    Yield(Yield),
);

impl Message {
    /// The application payload, for the messages that carry one.
    pub fn payload(&self) -> Option<&Payload> {
        match self {
            Message::Abort(m) => Some(&m.payload),
            Message::Error(m) => Some(&m.payload),
            Message::Publish(m) => Some(&m.payload),
            Message::Event(m) => Some(&m.payload),
            Message::Call(m) => Some(&m.payload),
            Message::Result(m) => Some(&m.payload),
            Message::Invocation(m) => Some(&m.payload),
            Message::Yield(m) => Some(&m.payload),
            _ => None,
        }
    }
}
