//! The state machine both sides share: framing through [`frames`](crate::frames), WAMP
//! message checks, the closing handshake and timers. The opening handshake of each side
//! is in its own module: [`client_upgrade`] (tungstenite's client handshake over a
//! [`Pipe`](crate::pipe::Pipe)) and [`server_upgrade`].

mod client_upgrade;
mod server_upgrade;

use std::collections::VecDeque;
use wamp_proto::Instant;

use bytes::Bytes;
use tungstenite::http::{header, HeaderMap, HeaderValue, Response, StatusCode, Uri};
use wamp_proto::liveness::{Due, Liveness};
use wamp_proto::{message::Message, serializer::SerializerKind};

use crate::config::{Validation, WsOptions};
use crate::error::{CloseCode, FrameKind, UsageError, WsError};
use crate::event::{CloseInfo, Initiator, OpenInfo, WsEvent};
use crate::frames::{self, FrameReader, Incoming, Limits, Role};

/// The longest HTTP head accepted (request or response), as tungstenite's own limit.
pub(crate) const MAX_HEAD: usize = 64 * 1024;

/// A close reason fits in a control frame: 125 bytes minus the 2-byte code.
const MAX_CLOSE_REASON: usize = 123;

use client_upgrade::ClientHs;
use server_upgrade::ServerHs;

enum State {
    Client(Box<ClientHs>),
    Server(Box<ServerHs>),
    Open,
    /// We sent a Close frame and wait for the peer's.
    Closing {
        deadline: Option<Instant>,
        code: CloseCode,
        reason: String,
    },
    Closed(CloseInfo),
    /// Only while a transition is in progress.
    Taken,
}

struct Inbound {
    bytes: Bytes,
    message: Option<Message>,
}

/// One WAMP-over-WebSocket connection, either side, as a sans-IO state machine: what
/// [`WsClient::new`](crate::WsClient::new) and [`WsServer::new`](crate::WsServer::new)
/// build, and what they dereference to.
///
/// Its inputs are [`handle_input`](Self::handle_input),
/// [`handle_transport_closed`](Self::handle_transport_closed) and
/// [`handle_timeout`](Self::handle_timeout); after each, drain
/// [`poll_transmit`](Self::poll_transmit), [`poll_event`](Self::poll_event) and
/// [`poll_message`](Self::poll_message), and wait until
/// [`poll_timeout`](Self::poll_timeout). See the [crate docs](crate) for the run loop.
pub struct WebSocket {
    options: WsOptions,
    state: State,
    /// Handshake bytes not yet given to the HTTP parser.
    head: Vec<u8>,
    /// Where the search for the end of the head resumes.
    head_scan: usize,
    transmit: VecDeque<Bytes>,
    events: VecDeque<WsEvent>,
    inbound: VecDeque<Inbound>,
    open_deadline: Option<Instant>,
    serializer: Option<SerializerKind>,
    /// The auto-ping and the message timeout, once open.
    liveness: Liveness,
    role: Role,
    /// Received frames, once open.
    frames: FrameReader,
}

/// What a drained queue reserves when it is used again: a batch of small messages grows
/// it once rather than 4, 8, 16 entries at a time.
const QUEUE_START: usize = 16;

fn push<T>(queue: &mut VecDeque<T>, item: T) {
    if queue.capacity() == 0 {
        queue.reserve(QUEUE_START);
    }
    queue.push_back(item);
}

/// An idle connection keeps no queue: a drained deque gives its allocation back.
fn release_if_empty<T>(queue: &mut VecDeque<T>) {
    if queue.is_empty() && queue.capacity() > 0 {
        *queue = VecDeque::new();
    }
}

impl std::fmt::Debug for WebSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSocket")
            .field("role", &self.role)
            .field("open", &self.is_open())
            .field("closed", &self.is_closed())
            .field("serializer", &self.serializer())
            .finish_non_exhaustive()
    }
}

impl WebSocket {
    fn new(options: WsOptions, state: State, now: Instant) -> WebSocket {
        let open_deadline = options.open_timeout.and_then(|t| now.checked_add(t));
        let liveness = Liveness::new(
            options.auto_ping.map(|ping| (ping.interval, ping.timeout)),
            options.message_timeout,
        );
        let role = match state {
            State::Server(_) => Role::Server,
            _ => Role::Client,
        };
        WebSocket {
            options,
            state,
            head: Vec::new(),
            head_scan: 0,
            transmit: VecDeque::new(),
            events: VecDeque::new(),
            inbound: VecDeque::new(),
            open_deadline,
            serializer: None,
            liveness,
            role,
            frames: FrameReader::default(),
        }
    }

    // ---- output ------------------------------------------------------------------

    /// The next bytes to write to the peer (everything queued, in one buffer).
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        // Frame headers and payloads come out as they are: the runtime gathers small
        // chunks into one write.
        let chunk = self.transmit.pop_front();
        release_if_empty(&mut self.transmit);
        chunk
    }

    /// The next event.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<WsEvent> {
        let event = self.events.pop_front();
        release_if_empty(&mut self.events);
        event
    }

    /// The next received WAMP message: the payload of one complete WebSocket
    /// message, in the negotiated serializer's encoding.
    ///
    /// Drains the same queue as [`poll_decoded`](Self::poll_decoded): use one or
    /// the other.
    #[must_use]
    pub fn poll_message(&mut self) -> Option<Bytes> {
        let inbound = self.inbound.pop_front();
        release_if_empty(&mut self.inbound);
        inbound.map(|inbound| inbound.bytes)
    }

    /// The next received WAMP message, decoded. With
    /// [`Validation::Decode`](crate::Validation::Decode) (the default) this is the
    /// message decoded on arrival; with [`Validation::Skip`](crate::Validation::Skip)
    /// it is decoded now, and a message that does not decode fails the connection
    /// with close code 1002 and returns `None` (drain the other queues again).
    #[must_use]
    pub fn poll_decoded(&mut self) -> Option<Message> {
        let inbound = self.inbound.pop_front()?;
        release_if_empty(&mut self.inbound);
        if let Some(message) = inbound.message {
            return Some(message);
        }
        let serializer = self.serializer?;
        match serializer.decode(inbound.bytes) {
            Ok(message) => Some(message),
            Err(e) => {
                // The same outcome as `Validation::Decode`, found later: what followed the
                // bad message is not delivered, as it would not have been read.
                self.inbound.clear();
                self.fail(WsError::InvalidMessage(e));
                None
            }
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) must be called next, if ever.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.state {
            State::Client(_) | State::Server(_) => self.open_deadline,
            State::Open => self.liveness.poll_timeout(),
            State::Closing { deadline, .. } => *deadline,
            State::Closed(_) | State::Taken => None,
        }
    }

    /// The negotiated serializer, once open.
    #[must_use]
    pub fn serializer(&self) -> Option<SerializerKind> {
        self.serializer
    }

    /// Whether messages may be sent (the opening handshake completed and closing
    /// has not started).
    #[must_use]
    pub fn is_open(&self) -> bool {
        matches!(self.state, State::Open)
    }

    /// Whether the connection is closed: drain [`poll_transmit`](Self::poll_transmit),
    /// then close the byte stream.
    #[must_use]
    pub fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed(_) | State::Taken)
    }

    /// How the connection ended, once closed.
    #[must_use]
    pub fn close_info(&self) -> Option<&CloseInfo> {
        match &self.state {
            State::Closed(info) => Some(info),
            _ => None,
        }
    }

    // ---- input -------------------------------------------------------------------

    /// Feeds bytes received from the peer, in order, in chunks of any size.
    ///
    /// A peer's misbehaviour is not an error here: it closes the connection (an
    /// HTTP error response or a Close frame is queued for
    /// [`poll_transmit`](Self::poll_transmit), and a
    /// [`WsEvent::Closed`](crate::WsEvent::Closed) says why). Bytes arriving
    /// after the connection closed are ignored.
    pub fn handle_input(&mut self, now: Instant, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        match &mut self.state {
            State::Client(_) => self.client_input(now, data),
            State::Server(_) => self.server_input(now, data),
            State::Open | State::Closing { .. } => {
                // Anything from the peer proves it alive, not only a Pong.
                self.liveness.handle_input(now);
                self.frames.feed(data);
                self.read_input(now);
            }
            State::Closed(_) | State::Taken => {}
        }
    }

    /// Advances time: sends an auto-ping, or fails on an expired open, ping or
    /// close deadline. Afterwards [`poll_timeout`](Self::poll_timeout) is `None`
    /// or later than `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        match &mut self.state {
            State::Client(_) | State::Server(_) => {
                if self.open_deadline.is_some_and(|d| d <= now) {
                    self.open_deadline = None;
                    let timeout = self.options.open_timeout.unwrap_or_default();
                    self.fail(WsError::OpenTimeout(timeout));
                }
            }
            State::Open => match self.liveness.handle_timeout(now) {
                Some(Due::Ping(payload)) => self.write(frames::PING, payload),
                Some(Due::PingTimeout(timeout)) => self.fail(WsError::PingTimeout(timeout)),
                Some(Due::MessageTimeout(timeout)) => self.fail(WsError::MessageTimeout(timeout)),
                None => {}
            },
            State::Closing { deadline, .. } => {
                if deadline.is_some_and(|d| d <= now) {
                    *deadline = None;
                    let timeout = self.options.close_timeout;
                    self.fail(WsError::CloseTimeout(timeout));
                }
            }
            State::Closed(_) | State::Taken => {}
        }
    }

    /// The byte stream ended (the peer closed its side, or the socket failed).
    /// Unless the connection is already closed, this closes it with code 1006 and
    /// [`WsError::ConnectionReset`](crate::WsError::ConnectionReset).
    pub fn handle_transport_closed(&mut self, _now: Instant) {
        if !self.is_closed() {
            self.fail(WsError::ConnectionReset);
        }
    }

    // ---- commands ----------------------------------------------------------------

    /// Sends one WAMP message, already encoded with the negotiated serializer:
    /// in a text frame for JSON (it must be UTF-8), in a binary frame otherwise.
    pub fn send_message(&mut self, payload: Bytes) -> Result<(), UsageError> {
        if !self.is_open() {
            return Err(self.not_open());
        }
        let binary = self.serializer.is_none_or(SerializerKind::is_binary);
        if !binary && std::str::from_utf8(&payload).is_err() {
            return Err(UsageError::NotUtf8);
        }
        self.write(if binary { frames::BINARY } else { frames::TEXT }, payload);
        Ok(())
    }

    /// Sends a Ping with `payload` (at most 125 bytes). The Pong arrives as
    /// [`WsEvent::Pong`](crate::WsEvent::Pong). Pings from the peer are answered
    /// without being asked.
    pub fn send_ping(&mut self, payload: Bytes) -> Result<(), UsageError> {
        if payload.len() > 125 {
            return Err(UsageError::PingTooLong(payload.len()));
        }
        if !self.is_open() {
            return Err(self.not_open());
        }
        self.write(frames::PING, payload);
        Ok(())
    }

    /// Starts the closing handshake with `code` and `reason` (truncated to 123
    /// bytes). The connection is closed when the peer echoes the Close frame, or
    /// after the close timeout. Before the opening handshake completes there is
    /// nothing on the wire to close: the connection closes at once. Closing a
    /// closing or closed connection does nothing.
    pub fn close(&mut self, now: Instant, code: CloseCode, reason: &str) -> Result<(), UsageError> {
        if !code.is_sendable() {
            return Err(UsageError::InvalidCloseCode(code.0));
        }
        let reason = truncate(reason, MAX_CLOSE_REASON).to_owned();
        match std::mem::replace(&mut self.state, State::Taken) {
            State::Open => {
                self.write(frames::CLOSE, frames::close_payload(code, &reason));
                self.state = State::Closing {
                    deadline: now.checked_add(self.options.close_timeout),
                    code,
                    reason,
                };
            }
            State::Client(_) | State::Server(_) => {
                // Nothing is on the wire to close yet.
                self.finish_cleanly(code, reason, Initiator::Local);
            }
            other => self.state = other,
        }
        Ok(())
    }

    fn not_open(&self) -> UsageError {
        match &self.state {
            State::Client(_) | State::Server(_) => UsageError::NotOpen,
            State::Closing { .. } => UsageError::Closed(Some("closing".into())),
            State::Closed(info) => UsageError::Closed(Some(match &info.error {
                Some(e) => e.to_string(),
                None => format!("{} {}", info.code, info.reason),
            })),
            _ => UsageError::Closed(None),
        }
    }

    // ---- the open connection -----------------------------------------------------

    /// `rest`: what the peer sent right behind its handshake (frames, already).
    fn open(&mut self, now: Instant, rest: &[u8], info: OpenInfo) {
        self.serializer = Some(info.serializer);
        self.open_deadline = None;
        self.liveness.handle_input(now);
        self.head = Vec::new();
        self.state = State::Open;
        self.events.push_back(WsEvent::Open(info));
        self.frames.feed(rest);
        self.read_input(now);
    }

    /// Queues one frame for the peer.
    fn write(&mut self, opcode: tungstenite::protocol::frame::coding::OpCode, payload: Bytes) {
        let (head, rest) = frames::encode_frame(self.role, opcode, payload);
        push(&mut self.transmit, head);
        if let Some(rest) = rest {
            self.transmit.push_back(rest);
        }
    }

    /// Moves what the client's handshake wrote into the transmit queue.
    fn collect_handshake_output(&mut self) {
        if let State::Client(hs) = &mut self.state {
            if let Some(bytes) = hs
                .mid
                .as_mut()
                .and_then(|m| m.get_mut().get_mut().take_output())
            {
                self.transmit.push_back(bytes);
            }
        }
    }

    /// Reads the frames buffered, and tells the message clock what arrived whole.
    fn read_input(&mut self, now: Instant) {
        let whole = self.read_frames();
        self.liveness
            .handle_frames(now, whole, self.frames.is_mid_message());
    }

    /// Handles every complete message and control frame buffered; returns how many
    /// frames there were.
    fn read_frames(&mut self) -> usize {
        let limits = Limits {
            max_message_size: self.options.max_message_size,
            max_frame_size: self.options.max_frame_size,
        };
        let mut whole = 0;
        // Closed (by a Close frame or a fault) ends the loop: nothing after is read.
        while matches!(self.state, State::Open | State::Closing { .. }) {
            whole += 1;
            match self.frames.next(self.role, limits) {
                Ok(Some(Incoming::Data(kind, data))) => self.on_data(kind, data),
                Ok(Some(Incoming::Ping(data))) => {
                    // RFC 6455 §5.5.2: answer at once, unless we already sent a Close.
                    if self.is_open() {
                        self.write(frames::PONG, data);
                    }
                }
                Ok(Some(Incoming::Pong(data))) => self.events.push_back(WsEvent::Pong(data)),
                Ok(Some(Incoming::Close(frame))) => self.on_close_frame(frame),
                Ok(None) => return whole - 1,
                Err(e) => self.fail(e),
            }
        }
        whole
    }

    fn on_data(&mut self, received: FrameKind, bytes: Bytes) {
        let Some(serializer) = self.serializer else {
            return;
        };
        if FrameKind::for_serializer(serializer) != received {
            self.fail(WsError::WrongFrameKind {
                serializer,
                received,
            });
            return;
        }
        let message = match self.options.validation {
            Validation::Skip => None,
            Validation::Decode => match serializer.decode(bytes.clone()) {
                Ok(message) => Some(message),
                Err(e) => {
                    self.fail(WsError::InvalidMessage(e));
                    return;
                }
            },
        };
        push(&mut self.inbound, Inbound { bytes, message });
    }

    fn on_close_frame(&mut self, frame: Option<(CloseCode, String)>) {
        match std::mem::replace(&mut self.state, State::Taken) {
            State::Open => {
                // The peer started closing: echo its code (RFC 6455 §5.5.1), or answer a
                // code that may not be sent with a protocol error.
                let (code, reason) = match frame {
                    Some((code, _)) if !code.is_sendable() => {
                        (CloseCode::PROTOCOL_ERROR, "Protocol violation".to_owned())
                    }
                    Some(frame) => frame,
                    None => (CloseCode::NO_STATUS, String::new()),
                };
                let echo = if code == CloseCode::NO_STATUS {
                    Bytes::new()
                } else {
                    frames::close_payload(code, "")
                };
                self.write(frames::CLOSE, echo);
                self.finish_cleanly(code, reason, Initiator::Peer);
            }
            State::Closing { code, reason, .. } => {
                // The echo of our Close: the closing handshake is complete.
                self.finish_cleanly(code, reason, Initiator::Local);
            }
            other => self.state = other,
        }
    }

    /// Fails the connection: sends a Close frame with the error's code when that means
    /// something on the wire and one may still be sent, then closes.
    fn fail(&mut self, error: WsError) {
        let code = error.close_code();
        let reason = error.to_string();
        match std::mem::replace(&mut self.state, State::Taken) {
            State::Open if code != CloseCode::ABNORMAL => {
                let payload = frames::close_payload(code, truncate(&reason, MAX_CLOSE_REASON));
                self.write(frames::CLOSE, payload);
            }
            // A peer presumed gone gets no Close frame; in Closing ours is out already.
            State::Open | State::Closing { .. } => {}
            State::Closed(info) => {
                self.state = State::Closed(info);
                return;
            }
            _ => {}
        }
        let initiator = match error {
            WsError::HandshakeRejected { .. } | WsError::ConnectionReset => Initiator::Peer,
            _ => Initiator::Local,
        };
        self.finish(CloseInfo {
            code,
            reason,
            initiator,
            error: Some(error),
        });
    }

    /// Closes after a completed (or never started) closing handshake: no error to report.
    fn finish_cleanly(&mut self, code: CloseCode, reason: String, initiator: Initiator) {
        self.finish(CloseInfo {
            code,
            reason,
            initiator,
            error: None,
        });
    }

    fn finish(&mut self, info: CloseInfo) {
        self.open_deadline = None;
        self.liveness.stop();
        self.head = Vec::new();
        self.events.push_back(WsEvent::Closed(info.clone()));
        self.state = State::Closed(info);
    }
}

/// The index just past the first blank line (the end of an HTTP head) at or after
/// `from`, if it has arrived. `from` is advanced past what is settled, so feeding a head
/// byte by byte stays linear, and a search after a find starts behind it.
pub(crate) fn find_head_end(buf: &[u8], from: &mut usize) -> Option<usize> {
    for i in *from..buf.len() {
        if buf[i] != b'\n' {
            continue;
        }
        match (buf.get(i + 1), buf.get(i + 2)) {
            (Some(b'\n'), _) => {
                *from = i + 2;
                return Some(i + 2);
            }
            (Some(b'\r'), Some(b'\n')) => {
                *from = i + 3;
                return Some(i + 3);
            }
            // A line end at the very end of the buffer: decide when more arrives.
            (None, _) | (Some(b'\r'), None) => {
                *from = i;
                return None;
            }
            _ => {}
        }
    }
    *from = buf.len();
    None
}

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary.
fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// What [`WsClient`](crate::WsClient) and [`WsServer`](crate::WsServer) share as
/// wrappers of the [`WebSocket`] in their `endpoint` field: a `Debug` that shows its state,
/// `into_inner`, and `Deref`/`DerefMut` to every method of the running connection.
macro_rules! wraps_endpoint {
    ($wrapper:ident) => {
        impl ::std::fmt::Debug for $wrapper {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.debug_struct(stringify!($wrapper))
                    .field("open", &self.is_open())
                    .field("closed", &self.is_closed())
                    .field("serializer", &self.serializer())
                    .finish_non_exhaustive()
            }
        }

        impl $wrapper {
            /// The connection machine itself, for an owner that drives clients and servers
            /// alike.
            pub fn into_inner(self) -> $crate::WebSocket {
                self.endpoint
            }
        }

        /// Every method of the running connection ([`WebSocket`]).
        impl ::std::ops::Deref for $wrapper {
            type Target = $crate::WebSocket;

            fn deref(&self) -> &$crate::WebSocket {
                &self.endpoint
            }
        }

        impl ::std::ops::DerefMut for $wrapper {
            fn deref_mut(&mut self) -> &mut $crate::WebSocket {
                &mut self.endpoint
            }
        }
    };
}
pub(crate) use wraps_endpoint;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_end_is_found_at_every_split() {
        let head = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\nFRAMES";
        let end = head.len() - "FRAMES".len();
        for split in 0..=head.len() {
            let mut buf = Vec::new();
            let mut scan = 0;
            buf.extend_from_slice(&head[..split]);
            let first = find_head_end(&buf, &mut scan);
            buf.extend_from_slice(&head[split..]);
            let found = first.or_else(|| find_head_end(&buf, &mut scan));
            assert_eq!(found, Some(end), "split at {split}");
        }
        let mut scan = 0;
        let two = b"GET / HTTP/1.1\n\nx\n\n";
        assert_eq!(find_head_end(two, &mut scan), Some(16));
        assert_eq!(find_head_end(two, &mut scan), Some(19));
        assert_eq!(find_head_end(two, &mut scan), None);
    }

    #[test]
    fn truncation_respects_char_boundaries() {
        assert_eq!(truncate("héllo", 2), "h");
        assert_eq!(truncate("abc", 10), "abc");
    }
}
