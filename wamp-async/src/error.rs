//! Errors by blame: [`ConnectError`] (connecting and joining), [`Error`] (one request),
//! [`WampError`] (an ERROR on the wire, both ways).

use std::fmt;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;
use wamp_proto::session::{CloseReason, RequestError, UsageError};
use wamp_proto::UriRule;
use wamp_proto::{
    serializer::SerializerKind, Details, EncodeError, Payload, PayloadError, Uri, Value,
};
use wamp_transport_rawsocket::RawSocketError;
use wamp_transport_ws::WsError;

/// `wamp.error.runtime_error`: Autobahn's URI for an application failure without a URI
/// of its own.
pub const RUNTIME_ERROR: Uri = Uri::from_static("wamp.error.runtime_error");

/// A WAMP ERROR: the URI, positional and keyword arguments, and details. A failed call
/// returns one (as [`Error::Wamp`]); a procedure handler returns one to fail an
/// invocation.
///
/// ```
/// use wamp_runtime::WampError;
/// let error = WampError::new("com.example.error.too_big").with_args(&("3 > 2",));
/// assert_eq!(error.uri(), "com.example.error.too_big");
/// assert_eq!(error.to_string(), "com.example.error.too_big: 3 > 2");
/// ```
#[derive(Clone, PartialEq)]
pub struct WampError {
    uri: Uri,
    payload: Payload,
    details: Details,
}

impl WampError {
    /// An error with `uri` and no arguments. A URI that does not parse (by the loose
    /// rule) becomes `wamp.error.invalid_uri` with the bad URI as its argument, so that
    /// building an error never fails.
    pub fn new(uri: impl IntoUri) -> WampError {
        match uri.into_uri() {
            Ok(uri) => WampError {
                uri,
                payload: Payload::empty(),
                details: Details::new(),
            },
            Err(e) => WampError::new(Uri::INVALID_URI).with_args(&(e.to_string(),)),
        }
    }

    /// An error with `uri` and one string argument, the usual way to explain it.
    pub fn with_message(uri: impl IntoUri, message: impl fmt::Display) -> WampError {
        WampError::new(uri).with_args(&(message.to_string(),))
    }

    /// An error from its parts, as received.
    pub fn from_parts(uri: Uri, details: Details, payload: Payload) -> WampError {
        WampError {
            uri,
            payload,
            details,
        }
    }

    /// Sets the positional arguments (anything that serializes as a list). Arguments
    /// that cannot be encoded are replaced by one string saying why, so that building
    /// an error never fails.
    #[must_use]
    pub fn with_args<A: Serialize + ?Sized>(mut self, args: &A) -> WampError {
        let kwargs = self.payload.raw_kwargs().is_some();
        self.payload = match (kwargs, encode_default(args, &())) {
            (false, Ok(payload)) => payload,
            (true, Ok(args)) => merge(args, &self.payload),
            (_, Err(e)) => unencodable(&e),
        };
        self
    }

    /// Sets the keyword arguments (anything that serializes as a map); see
    /// [`with_args`](Self::with_args) for failures.
    #[must_use]
    pub fn with_kwargs<K: Serialize + ?Sized>(mut self, kwargs: &K) -> WampError {
        self.payload = match encode_default(&(), kwargs) {
            Ok(kw) => merge(self.payload.clone(), &kw),
            Err(e) => unencodable(&e),
        };
        self
    }

    /// Sets the details.
    #[must_use]
    pub fn with_details(mut self, details: Details) -> WampError {
        self.details = details;
        self
    }

    /// The error URI.
    pub fn uri(&self) -> &Uri {
        &self.uri
    }

    /// Decodes the positional arguments.
    pub fn args<A: DeserializeOwned>(&self) -> Result<A, Error> {
        self.payload.args().map_err(Error::Decode)
    }

    /// Decodes the keyword arguments.
    pub fn kwargs<K: DeserializeOwned>(&self) -> Result<K, Error> {
        self.payload.kwargs().map_err(Error::Decode)
    }

    /// The ERROR details.
    pub fn details(&self) -> &Details {
        &self.details
    }

    /// The arguments as encoded.
    pub fn payload(&self) -> &Payload {
        &self.payload
    }

    /// The first positional argument, if it is a string (the conventional message).
    pub fn message(&self) -> Option<String> {
        let args = self.payload.args_values().ok()?;
        match args.into_iter().next()? {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub(crate) fn into_parts(self) -> (Uri, Details, Payload) {
        (self.uri, self.details, self.payload)
    }
}

/// Encodes with the format-less default; the session converts once if it uses another.
fn encode_default<A: Serialize + ?Sized, K: Serialize + ?Sized>(
    args: &A,
    kwargs: &K,
) -> Result<Payload, EncodeError> {
    Payload::encode(wamp_proto::Payload::DEFAULT_FORMAT, args, kwargs)
}

/// `args`'s positional part with `other`'s keyword part.
fn merge(args: Payload, other: &Payload) -> Payload {
    let format = wamp_proto::Payload::DEFAULT_FORMAT;
    let (Ok(args), Ok(other)) = (args.to_format(format), other.to_format(format)) else {
        return args;
    };
    Payload::from_encoded(
        format,
        args.raw_args().cloned(),
        other.raw_kwargs().cloned(),
    )
    .unwrap_or(args)
}

fn unencodable(e: &EncodeError) -> Payload {
    Payload::from_values(
        vec![Value::from(format!(
            "the error arguments could not be encoded: {e}"
        ))],
        Default::default(),
    )
}

impl fmt::Display for WampError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.uri)?;
        if let Some(message) = self.message() {
            write!(f, ": {message}")?;
        }
        Ok(())
    }
}

debug_fields!(WampError {
    uri,
    payload,
    details
});

impl std::error::Error for WampError {}

/// Why a request (call, register, subscribe, publish, ...) failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The router or the callee answered with ERROR.
    #[error("{0}")]
    Wamp(WampError),
    /// The session closed before the request was answered (or before it was made).
    #[error("the session is closed: {0}")]
    SessionClosed(CloseReason),
    /// The call was canceled on this side.
    #[error("the call was canceled")]
    Canceled,
    /// A URI (procedure, topic, error) is not valid.
    #[error("invalid URI: {0}")]
    InvalidUri(String),
    /// The request cannot be made in this situation (the session refused the command:
    /// not joined, too many requests in flight, a feature the router lacks, ...).
    #[error("the request cannot be made: {0}")]
    Usage(UsageError),
    /// The arguments could not be encoded.
    #[error("cannot encode the arguments: {0}")]
    Encode(EncodeError),
    /// The arguments did not decode into the requested type.
    #[error("cannot decode the arguments: {0}")]
    Decode(PayloadError),
    /// A stream (subscription, progressive results) was not read fast enough: its buffer
    /// was full and `missed` items were dropped here. The stream goes on.
    #[error("{missed} items were dropped because the stream was not read fast enough")]
    Lagged {
        /// How many items were dropped.
        missed: u64,
    },
    /// The router revoked the subscription or registration.
    #[error("revoked by the router{}", .reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default())]
    Revoked {
        /// Why, if the router said.
        reason: Option<String>,
    },
    /// The message is larger than the router accepts (the RawSocket limit it announced).
    #[error("the message of about {size} bytes exceeds the router's limit of {max} bytes")]
    PayloadTooLarge {
        /// The approximate encoded size.
        size: usize,
        /// The router's limit.
        max: usize,
    },
}

impl Error {
    /// The WAMP error URI, if this is a WAMP ERROR.
    pub fn uri(&self) -> Option<&Uri> {
        match self {
            Error::Wamp(e) => Some(e.uri()),
            _ => None,
        }
    }

    /// The WAMP ERROR, if this is one.
    pub fn as_wamp(&self) -> Option<&WampError> {
        match self {
            Error::Wamp(e) => Some(e),
            _ => None,
        }
    }
}

impl From<WampError> for Error {
    fn from(e: WampError) -> Self {
        Error::Wamp(e)
    }
}

impl From<EncodeError> for Error {
    fn from(e: EncodeError) -> Self {
        Error::Encode(e)
    }
}

impl From<PayloadError> for Error {
    fn from(e: PayloadError) -> Self {
        Error::Decode(e)
    }
}

impl From<UsageError> for Error {
    fn from(e: UsageError) -> Self {
        match e {
            UsageError::Closed(reason) => Error::SessionClosed(reason),
            UsageError::InvalidUri(why) => Error::InvalidUri(why),
            UsageError::Encode(e) => Error::Encode(e),
            UsageError::TooLarge { size, max } => Error::PayloadTooLarge { size, max },
            other => Error::Usage(other),
        }
    }
}

impl From<RequestError> for Error {
    fn from(e: RequestError) -> Self {
        match e {
            RequestError::Wamp {
                error,
                details,
                payload,
            } => Error::Wamp(WampError::from_parts(error, details, payload)),
            RequestError::Canceled => Error::Canceled,
            RequestError::SessionClosed(reason) => Error::SessionClosed(reason),
            // RequestError is non-exhaustive; a future outcome is still a failure.
            other => Error::Wamp(WampError::with_message(other.uri().clone(), &other)),
        }
    }
}

/// A handler's `?` on an [`Error`]: a WAMP ERROR passes through; arguments that do not
/// decode become `wamp.error.invalid_argument`; anything else
/// `wamp.error.runtime_error`, each with the description as its argument.
impl From<Error> for WampError {
    fn from(e: Error) -> Self {
        match e {
            Error::Wamp(e) => e,
            Error::Decode(e) => WampError::with_message(Uri::INVALID_ARGUMENT, e),
            other => WampError::with_message(RUNTIME_ERROR, other),
        }
    }
}

impl From<EncodeError> for WampError {
    fn from(e: EncodeError) -> Self {
        WampError::from(Error::Encode(e))
    }
}

impl From<PayloadError> for WampError {
    fn from(e: PayloadError) -> Self {
        WampError::from(Error::Decode(e))
    }
}

/// An error type behind a box, as a source.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// An I/O error of the byte stream, shared so that a [`TransportError`] can be cloned.
/// [`kind`](Self::kind) and [`get_ref`](Self::get_ref) reach the original; two are
/// equal when they are the same error or have the same kind and message.
#[derive(Debug, Clone)]
pub struct IoError(Arc<io::Error>);

impl IoError {
    /// The kind of the original error.
    pub fn kind(&self) -> io::ErrorKind {
        self.0.kind()
    }

    /// The original error.
    pub fn get_ref(&self) -> &io::Error {
        &self.0
    }

    /// An error of `kind` that this crate detected itself.
    pub(crate) fn new(kind: io::ErrorKind, message: impl Into<String>) -> IoError {
        IoError::from(io::Error::new(kind, message.into()))
    }
}

impl From<io::Error> for IoError {
    fn from(e: io::Error) -> Self {
        IoError(Arc::new(e))
    }
}

impl PartialEq for IoError {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
            || (self.kind() == other.kind() && self.0.to_string() == other.0.to_string())
    }
}

impl fmt::Display for IoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for IoError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

/// What went wrong below WAMP: the byte stream or the WebSocket/RawSocket framing.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The WebSocket failed (HTTP refusal of the upgrade, bad frames, ...).
    #[error("WebSocket: {0}")]
    WebSocket(WsError),
    /// The WebSocket closed with a Close frame (`code` and `reason`).
    #[error("WebSocket closed with code {code}: {reason}")]
    WebSocketClosed {
        /// The close code.
        code: u16,
        /// The close reason.
        reason: String,
    },
    /// The RawSocket connection failed (handshake refused, bad frames, ...).
    #[error("RawSocket: {0}")]
    RawSocket(RawSocketError),
    /// Reading or writing the byte stream failed; the [`io::Error`] is the source.
    #[error("I/O: {0}")]
    Io(#[source] IoError),
    /// The byte stream ended.
    #[error("the connection was closed by the peer")]
    Eof,
    /// The transport handshake did not complete in time.
    #[error("the transport handshake did not complete within {0:?}")]
    HandshakeTimeout(Duration),
}

/// Why [`connect`](crate::connect) failed. The variants tell apart what a reconnecting
/// component treats differently: the network ([`Io`](Self::Io), [`Tls`](Self::Tls),
/// [`Timeout`](Self::Timeout), [`Transport`](Self::Transport), [`Proxy`](Self::Proxy)),
/// the router's refusal to let the session join ([`Aborted`](Self::Aborted)), and
/// mistakes in the configuration ([`Config`](Self::Config)).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The configuration is invalid (URL, key, realm, ...); retrying will not help.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// Connecting the socket failed.
    #[error("I/O error: {0}")]
    Io(#[source] io::Error),
    /// The TLS handshake failed (certificate not trusted, protocol error, ...) or no
    /// TLS configuration could be built; the `rustls` error (or the I/O error that
    /// interrupted the handshake) is the source.
    #[error("TLS: {0}")]
    Tls(#[source] BoxError),
    /// The HTTP proxy refused or broke the tunnel.
    #[error("HTTP proxy: {0}")]
    Proxy(String),
    /// A step did not complete in time.
    #[error("timed out after {after:?} while {stage}")]
    Timeout {
        /// What was going on (`connecting`, `joining`).
        stage: &'static str,
        /// The configured limit.
        after: Duration,
    },
    /// The transport failed or was refused (WebSocket upgrade refused, RawSocket
    /// serializer refused, connection lost during the handshake, ...).
    #[error("transport: {0}")]
    Transport(TransportError),
    /// The router refused the session with ABORT: `wamp.error.not_authorized`,
    /// `wamp.error.no_such_realm`, `wamp.error.no_auth_method`, ...
    #[error("the router refused the session: {reason}{}", .message.as_deref().map(|m| format!(": {m}")).unwrap_or_default())]
    Aborted {
        /// The ABORT reason.
        reason: Uri,
        /// The ABORT message, if any.
        message: Option<String>,
    },
    /// This side could not authenticate (a challenge it cannot answer, or a router that
    /// failed WAMP-SCRAM's server verification); ABORT was sent.
    #[error("authentication failed: {0}")]
    Authentication(String),
    /// The router broke the protocol during the handshake.
    #[error("the router broke the protocol: {0}")]
    Protocol(String),
}

impl ConnectError {
    /// Whether the router rejected the credentials or the authentication method, or
    /// this side could not authenticate: retrying with the same configuration fails the
    /// same way.
    pub fn is_auth_rejection(&self) -> bool {
        match self {
            ConnectError::Authentication(_) => true,
            ConnectError::Aborted { reason, .. } => {
                wamp_proto::component::is_auth_rejection(reason)
            }
            _ => false,
        }
    }

    /// Whether this is a configuration error (retrying will not help).
    pub fn is_config(&self) -> bool {
        matches!(self, ConnectError::Config(_))
    }

    /// The ABORT reason, if the router refused the session.
    pub fn abort_reason(&self) -> Option<&Uri> {
        match self {
            ConnectError::Aborted { reason, .. } => Some(reason),
            _ => None,
        }
    }

    /// The error for a session that closed before WELCOME.
    pub(crate) fn from_close(
        reason: CloseReason,
        transport: Option<TransportError>,
        handshake_timeout: Duration,
    ) -> Self {
        match reason {
            CloseReason::Aborted { reason, message } => ConnectError::Aborted { reason, message },
            CloseReason::AbortedLocally { message, .. } => ConnectError::Authentication(message),
            CloseReason::ProtocolViolation(why) => ConnectError::Protocol(why),
            CloseReason::HandshakeTimeout => ConnectError::Timeout {
                stage: "joining (waiting for WELCOME)",
                after: handshake_timeout,
            },
            other => ConnectError::Transport(transport.unwrap_or_else(|| {
                TransportError::Io(IoError::new(
                    io::ErrorKind::ConnectionAborted,
                    other.to_string(),
                ))
            })),
        }
    }
}

/// Something that names a URI: [`Uri`], `&str` or `String`. Strings are checked by the
/// loose rule, with empty components allowed so that prefix and wildcard patterns pass;
/// the session checks a pattern against its match policy again.
pub trait IntoUri {
    /// The URI, or [`Error::InvalidUri`].
    fn into_uri(self) -> Result<Uri, Error>;
}

impl IntoUri for Uri {
    fn into_uri(self) -> Result<Uri, Error> {
        Ok(self)
    }
}

impl IntoUri for &Uri {
    fn into_uri(self) -> Result<Uri, Error> {
        Ok(self.clone())
    }
}

impl IntoUri for &str {
    fn into_uri(self) -> Result<Uri, Error> {
        Uri::parse_with(self, UriRule::LoosePattern).map_err(|e| Error::InvalidUri(e.to_string()))
    }
}

impl IntoUri for String {
    fn into_uri(self) -> Result<Uri, Error> {
        self.as_str().into_uri()
    }
}

impl IntoUri for &String {
    fn into_uri(self) -> Result<Uri, Error> {
        self.as_str().into_uri()
    }
}

/// Encodes typed arguments in the session's serializer.
pub(crate) fn encode_payload<A, K>(
    serializer: SerializerKind,
    args: Option<&A>,
    kwargs: Option<&K>,
) -> Result<Payload, Error>
where
    A: Serialize + ?Sized,
    K: Serialize + ?Sized,
{
    let payload = match (args, kwargs) {
        (None, None) => Payload::empty(),
        (Some(a), None) => Payload::encode(serializer, a, &())?,
        (None, Some(k)) => Payload::encode(serializer, &(), k)?,
        (Some(a), Some(k)) => Payload::encode(serializer, a, k)?,
    };
    Ok(payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wamp_error_builds_and_reads_back() {
        #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
        struct Why {
            limit: u32,
        }
        let e = WampError::new("com.example.too_big")
            .with_args(&("too big", 3))
            .with_kwargs(&Why { limit: 2 });
        assert_eq!(e.uri(), "com.example.too_big");
        assert_eq!(e.args::<(String, u32)>(), Ok(("too big".to_owned(), 3)));
        assert_eq!(e.kwargs::<Why>(), Ok(Why { limit: 2 }));
        assert_eq!(e.message().as_deref(), Some("too big"));
        assert_eq!(e.to_string(), "com.example.too_big: too big");
        // kwargs first, then args: both kept.
        let e = WampError::new("a.b")
            .with_kwargs(&Why { limit: 1 })
            .with_args(&(1,));
        assert_eq!(e.args::<(u8,)>(), Ok((1,)));
        assert_eq!(e.kwargs::<Why>(), Ok(Why { limit: 1 }));
    }

    #[test]
    fn bad_uris_and_arguments_never_fail_construction() {
        let e = WampError::new("not a uri");
        assert_eq!(e.uri(), &Uri::INVALID_URI);
        assert!(e.message().is_some_and(|m| m.contains("not a uri")));
        let e = WampError::new("a.b").with_args(&5);
        assert!(e.message().is_some_and(|m| m.contains("encoded")), "{e}");
    }

    #[test]
    fn handler_errors_map_to_uris() {
        let decode = Payload::empty().args::<(i32,)>().expect_err("empty");
        assert_eq!(WampError::from(decode).uri(), &Uri::INVALID_ARGUMENT);
        assert_eq!(WampError::from(Error::Canceled).uri(), &RUNTIME_ERROR);
        let original = WampError::new("x.y");
        assert_eq!(WampError::from(Error::Wamp(original.clone())), original);
    }

    #[test]
    fn connect_errors_tell_auth_rejections_apart() {
        let rejected = ConnectError::Aborted {
            reason: Uri::NOT_AUTHORIZED,
            message: None,
        };
        assert!(rejected.is_auth_rejection());
        let no_realm = ConnectError::Aborted {
            reason: Uri::NO_SUCH_REALM,
            message: Some("no realm x".into()),
        };
        assert!(!no_realm.is_auth_rejection());
        assert_eq!(
            no_realm.to_string(),
            "the router refused the session: wamp.error.no_such_realm: no realm x"
        );
        assert!(!ConnectError::Transport(TransportError::Eof).is_auth_rejection());
    }

    #[test]
    fn into_uri_accepts_patterns_and_refuses_garbage() {
        assert!("com..add".into_uri().is_ok());
        assert!(matches!("a b".into_uri(), Err(Error::InvalidUri(_))));
        assert!(matches!("".into_uri(), Err(Error::InvalidUri(_))));
    }
}
