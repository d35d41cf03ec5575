//! The connection state machine shared by both roles.

use std::collections::VecDeque;
use std::time::Duration;

use wamp_proto::Instant;

use bytes::{Buf, Bytes, BytesMut};
use wamp_proto::serializer::SerializerKind;

use wamp_proto::liveness::{Due, Liveness};

use crate::config::{ClientConfig, KeepAlive, MaxMessageLen, ServerConfig};
use crate::error::RawSocketError;
use crate::frame::{self, FrameType, HEADER_LEN};
use crate::handshake::{self, ServerPolicy};
use crate::output::Output;

/// Which end of the connection this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Sends the handshake request; checks the reply.
    Client,
    /// Waits for the request; replies.
    Server,
}

/// Something the runtime or the application should know about, from
/// [`Connection::poll_event`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The handshake completed. Messages can now be sent.
    Handshaken {
        /// The serializer both sides use.
        serializer: SerializerKind,
        /// The largest message the peer accepts; [`Connection::send_message`] refuses
        /// longer ones.
        peer_max_message_len: MaxMessageLen,
    },
    /// A PONG arrived, with its payload (normally the payload of a PING this side sent).
    Pong(Bytes),
    /// The connection is over: the last event. Write what
    /// [`Connection::poll_transmit`] still yields (a router's handshake error reply, or
    /// frames queued before a local close), then close the stream.
    Closed(Closed),
}

/// How a connection ended, in [`Event::Closed`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Closed {
    /// This side closed it ([`Connection::close`]).
    Local,
    /// The peer ended the stream cleanly between frames.
    Peer,
    /// It failed: a protocol violation by the peer, a stream that ended during the
    /// handshake or inside a frame, or a timeout.
    Failed(RawSocketError),
}

#[derive(Debug)]
enum State {
    /// Client: the request is queued; waiting for the reply.
    AwaitingReply { requested: SerializerKind },
    /// Server: waiting for the request.
    AwaitingRequest { policy: ServerPolicy },
    /// Handshake done: frames flow both ways.
    Open {
        serializer: SerializerKind,
        peer_max: MaxMessageLen,
    },
    /// Failed for good, with the reason returned by every later call.
    Failed(RawSocketError),
    /// The peer closed the stream cleanly between frames.
    Closed,
}

/// One RawSocket connection, client or server, as a sans-IO state machine.
///
/// Feed it what the stream delivers with [`handle_input`](Self::handle_input), in chunks
/// split anywhere, the end of the stream with
/// [`handle_transport_closed`](Self::handle_transport_closed), and the clock with
/// [`handle_timeout`](Self::handle_timeout) when [`poll_timeout`](Self::poll_timeout)
/// is due. After *every* call drain [`poll_transmit`](Self::poll_transmit) (bytes to
/// write, in order), [`poll_event`](Self::poll_event) and
/// [`poll_message`](Self::poll_message) (WAMP message payloads, in order). Send with
/// [`send_message`](Self::send_message) and [`send_ping`](Self::send_ping). This is the
/// shape of the WebSocket machines (`wamp-transport-ws`), so a runtime drives both the
/// same way. See the crate documentation for a complete loop.
///
/// # Limits
///
/// - A received frame announcing more than this side's maximum message length fails
///   the connection as soon as its header is complete; its payload is not waited for.
/// - [`send_message`](Self::send_message) and [`send_ping`](Self::send_ping) refuse a
///   payload longer than the peer's announced limit ([`RawSocketError::MessageTooLong`]),
///   queueing nothing.
/// - Queued output (every byte not yet taken from [`poll_transmit`](Self::poll_transmit))
///   is bounded by `max_queued_bytes`, a high-water mark: a frame is queued while the
///   queue holds at most that many bytes, so it never holds more than `max_queued_bytes`
///   plus one frame, and every frame within the limits can be sent once the queue has
///   drained. Past the mark, a local send is refused with [`RawSocketError::OutputFull`]
///   (backpressure: drain and retry), and a due PONG fails the connection with
///   [`RawSocketError::OutputLimitExceeded`], since the peer is sending PINGs faster
///   than the runtime writes. So drain after every input; take transmits as the socket
///   accepts them, and stop reading while the socket cannot take them.
/// - Input is buffered only up to the end of the current, incomplete frame, which is
///   at most the header plus this side's limit (plus what one `handle_input` call
///   delivered beyond it). Received messages wait in the message queue until polled;
///   they add up to at most the bytes given to `handle_input` since the last drain.
///
/// # Failure
///
/// The peer's faults are not errors of a call: they end the connection with
/// [`Event::Closed`]`(`[`Closed::Failed`]`)`, the last event, and
/// [`error`](Self::error) keeps the reason. Buffered input and queued output are then
/// dropped, except a server's handshake error reply, which waits in
/// [`poll_transmit`](Self::poll_transmit): write it, then close the stream. Messages and
/// events received before the fault stay available to poll; input after the end is
/// ignored. Only local misuse is an `Err` (a send before the handshake, too long, or
/// into a full queue, or after the end).
#[derive(Debug)]
pub struct Connection {
    role: Role,
    state: State,
    max_message_len: MaxMessageLen,
    max_queued_bytes: usize,
    /// When the handshake must have completed, while it has not, and the timeout it
    /// came from.
    open_deadline: Option<(Instant, Duration)>,
    /// The keepalive and the message timeout, once open.
    liveness: Liveness,
    input: BytesMut,
    output: Output,
    messages: VecDeque<Bytes>,
    events: VecDeque<Event>,
}

/// The [`Limits`] of a `ClientConfig` or a `ServerConfig`: both name them alike.
macro_rules! limits_of {
    ($config:expr) => {
        Limits {
            max_message_len: $config.max_message_len,
            max_queued_bytes: $config.max_queued_bytes,
            open_timeout: $config.open_timeout,
            keepalive: $config.keepalive,
            message_timeout: $config.message_timeout,
        }
    };
}

impl Connection {
    /// A client. Its handshake request is queued for [`poll_transmit`](Self::poll_transmit)
    /// at once; `now` starts the open timeout.
    pub fn client(config: ClientConfig, now: Instant) -> Self {
        let mut connection = Self::new(
            Role::Client,
            State::AwaitingReply {
                requested: config.serializer,
            },
            limits_of!(config),
            now,
        );
        connection.output.push_raw(&handshake::encode(
            config.serializer,
            config.max_message_len,
        ));
        connection
    }

    /// A server. It waits for the client's handshake request and answers it; `now`
    /// starts the open timeout.
    pub fn server(config: ServerConfig, now: Instant) -> Self {
        let policy = ServerPolicy {
            serializers: config.serializers,
            min_peer_max_message_len: config.min_peer_max_message_len,
            max_connections_reached: config.max_connections_reached,
        };
        Self::new(
            Role::Server,
            State::AwaitingRequest { policy },
            limits_of!(config),
            now,
        )
    }

    fn new(role: Role, state: State, limits: Limits, now: Instant) -> Self {
        Self {
            role,
            state,
            max_message_len: limits.max_message_len,
            max_queued_bytes: limits.max_queued_bytes,
            open_deadline: limits
                .open_timeout
                .and_then(|t| Some((now.checked_add(t)?, t))),
            liveness: Liveness::new(
                limits.keepalive.map(|k| (k.interval, k.timeout)),
                limits.message_timeout,
            ),
            input: BytesMut::new(),
            output: Output::default(),
            messages: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// Feeds bytes read from the stream. Any chunking works, down to one byte at a time.
    ///
    /// A protocol violation by the peer ends the connection with
    /// [`Event::Closed`]`(`[`Closed::Failed`]`)` (see [`RawSocketError`]). Input after
    /// the end is ignored.
    pub fn handle_input(&mut self, now: Instant, bytes: &[u8]) {
        if self.is_closed() || bytes.is_empty() {
            return;
        }
        self.liveness.handle_input(now);
        self.input.extend_from_slice(bytes);
        match self.process() {
            Ok(whole) => {
                let mid_frame = self.is_open() && !self.input.is_empty();
                self.liveness.handle_frames(now, whole, mid_frame);
            }
            Err(error) => self.fail(error),
        }
    }

    /// Tells the connection that the stream has ended (the read returned 0 bytes, or
    /// failed).
    ///
    /// A clean end between frames closes the connection ([`Closed::Peer`]). An end during
    /// the handshake ([`RawSocketError::ClosedDuringHandshake`]) or inside a frame
    /// ([`RawSocketError::TruncatedFrame`]) fails it. After the end, nothing happens.
    pub fn handle_transport_closed(&mut self, _now: Instant) {
        if self.is_closed() {
            return;
        }
        let error = match self.state {
            State::AwaitingReply { .. } | State::AwaitingRequest { .. } => {
                RawSocketError::ClosedDuringHandshake
            }
            _ if self.input.is_empty() => {
                self.finish(State::Closed, Closed::Peer);
                return;
            }
            _ => {
                let received = self.input.len();
                let expected = match self.input.first_chunk::<HEADER_LEN>() {
                    Some(header) => {
                        // A complete header was validated when it arrived.
                        frame::decode_header(*header, self.max_message_len.bytes())
                            .map_or(HEADER_LEN, |h| HEADER_LEN + h.len)
                    }
                    None => HEADER_LEN,
                };
                RawSocketError::TruncatedFrame { received, expected }
            }
        };
        self.fail(error);
    }

    /// Advances time: fails an unfinished handshake past its open timeout, sends a
    /// keepalive PING after `interval` of silence, or fails the connection when the PING
    /// went unanswered for `timeout`. Afterwards [`poll_timeout`](Self::poll_timeout) is
    /// `None` or later than `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        match self.state {
            State::AwaitingReply { .. } | State::AwaitingRequest { .. } => {
                if let Some((deadline, timeout)) = self.open_deadline {
                    if deadline <= now {
                        self.fail(RawSocketError::HandshakeTimeout(timeout));
                    }
                }
            }
            State::Open { .. } => match self.liveness.handle_timeout(now) {
                Some(Due::Ping(payload)) => {
                    // A full queue means the peer is not reading: the timeout decides.
                    let _ = self.send(FrameType::Ping, payload);
                }
                Some(Due::PingTimeout(timeout)) => self.fail(RawSocketError::PingTimeout(timeout)),
                Some(Due::MessageTimeout(timeout)) => {
                    self.fail(RawSocketError::MessageTimeout(timeout))
                }
                None => {}
            },
            State::Failed(_) | State::Closed => {}
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) must be called next, if ever.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            State::AwaitingReply { .. } | State::AwaitingRequest { .. } => {
                self.open_deadline.map(|(deadline, _)| deadline)
            }
            State::Open { .. } => self.liveness.poll_timeout(),
            State::Failed(_) | State::Closed => None,
        }
    }

    /// Closes the connection from this side. RawSocket has no closing handshake: what
    /// is queued stays in [`poll_transmit`](Self::poll_transmit) (write it, then close
    /// the stream), and [`Event::Closed`]`(`[`Closed::Local`]`)` is queued. Closing a
    /// closed connection does nothing.
    pub fn close(&mut self, _now: Instant) {
        if !self.is_closed() {
            self.input = BytesMut::new();
            self.finish(State::Closed, Closed::Local);
        }
    }

    /// The next bytes to write to the stream, in order.
    #[must_use = "queued bytes must be written to the stream"]
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        self.output.pop()
    }

    /// The payload of the next WAMP message received, in order.
    #[must_use = "received messages must be handled"]
    pub fn poll_message(&mut self) -> Option<Bytes> {
        self.messages.pop_front()
    }

    /// The next event.
    #[must_use = "events must be handled"]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Queues a WAMP message (its serialized bytes) as one regular frame.
    ///
    /// # Errors
    ///
    /// Nothing is queued on error. [`RawSocketError::MessageTooLong`] if `message` is
    /// longer than the peer's limit, [`RawSocketError::OutputFull`] if the output queue is
    /// full, [`RawSocketError::NotOpen`] before the handshake completes: the connection
    /// stays usable after these. After a failure, the stored error.
    pub fn send_message(&mut self, message: Bytes) -> Result<(), RawSocketError> {
        self.send(FrameType::Regular, message)
    }

    /// Queues a PING. The peer must answer with a PONG echoing `payload`, which arrives as
    /// [`Event::Pong`], so `payload` must fit both the peer's limit and this side's.
    /// Crossbar and Autobahn|Python do not implement PING: they drop the
    /// connection, so send PINGs only to peers known to answer them.
    ///
    /// # Errors
    ///
    /// As [`send_message`](Self::send_message).
    pub fn send_ping(&mut self, payload: Bytes) -> Result<(), RawSocketError> {
        self.send(FrameType::Ping, payload)
    }

    /// Which end this is.
    pub fn role(&self) -> Role {
        self.role
    }

    /// Whether the handshake has completed and the connection has not failed or closed.
    pub fn is_open(&self) -> bool {
        matches!(self.state, State::Open { .. })
    }

    /// Whether the connection has failed (see [`error`](Self::error)).
    pub fn is_failed(&self) -> bool {
        matches!(self.state, State::Failed(_))
    }

    /// Whether the connection is over, failed or closed ([`Event::Closed`] is queued or
    /// was polled).
    pub fn is_closed(&self) -> bool {
        matches!(self.state, State::Failed(_) | State::Closed)
    }

    /// Why the connection failed, if it did.
    pub fn error(&self) -> Option<&RawSocketError> {
        match &self.state {
            State::Failed(error) => Some(error),
            _ => None,
        }
    }

    /// The negotiated serializer, once the handshake has completed.
    pub fn serializer(&self) -> Option<SerializerKind> {
        match self.state {
            State::Open { serializer, .. } => Some(serializer),
            _ => None,
        }
    }

    /// The largest message the peer accepts, once the handshake has completed.
    pub fn peer_max_message_len(&self) -> Option<MaxMessageLen> {
        match self.state {
            State::Open { peer_max, .. } => Some(peer_max),
            _ => None,
        }
    }

    /// The largest message this side accepts (as announced in its handshake).
    pub fn max_message_len(&self) -> MaxMessageLen {
        self.max_message_len
    }

    /// Bytes queued for [`poll_transmit`](Self::poll_transmit).
    pub fn queued_bytes(&self) -> usize {
        self.output.queued()
    }

    fn check_live(&self) -> Result<(), RawSocketError> {
        match &self.state {
            State::Failed(error) => Err(error.clone()),
            State::Closed => Err(RawSocketError::Closed),
            _ => Ok(()),
        }
    }

    fn send(&mut self, ty: FrameType, payload: Bytes) -> Result<(), RawSocketError> {
        self.check_live()?;
        let State::Open { peer_max, .. } = self.state else {
            return Err(RawSocketError::NotOpen);
        };
        // A PING comes back as a PONG of the same size, which must fit our own limit too.
        let max = match ty {
            FrameType::Ping => peer_max.min(self.max_message_len),
            FrameType::Regular | FrameType::Pong => peer_max,
        }
        .bytes();
        if payload.len() > max {
            return Err(RawSocketError::MessageTooLong {
                len: payload.len(),
                max,
            });
        }
        self.queue_frame(ty, payload, |queued, frame, limit| {
            RawSocketError::OutputFull {
                queued,
                frame,
                limit,
            }
        })
    }

    /// Queues one frame unless the output is already over its bound. `refused` builds the
    /// error from (queued, frame, limit): a refused send is the caller's to handle, a
    /// refused PONG fails the connection, so the two report different variants.
    fn queue_frame(
        &mut self,
        ty: FrameType,
        payload: Bytes,
        refused: impl FnOnce(usize, usize, usize) -> RawSocketError,
    ) -> Result<(), RawSocketError> {
        let frame = HEADER_LEN + payload.len();
        if !self.output.accepts_more(self.max_queued_bytes) {
            return Err(refused(self.output.queued(), frame, self.max_queued_bytes));
        }
        self.output
            .push_frame(frame::encode_header(ty, payload.len()), payload);
        Ok(())
    }

    /// Consumes every complete handshake or frame in the input buffer; returns how many
    /// whole frames there were.
    fn process(&mut self) -> Result<usize, RawSocketError> {
        let mut whole = 0;
        while let Some(&octets) = self.input.first_chunk::<HEADER_LEN>() {
            match &self.state {
                State::AwaitingReply { requested } => {
                    let serializer = *requested;
                    let peer_max = handshake::check_reply(octets, serializer)?;
                    self.input.advance(HEADER_LEN);
                    self.open(serializer, peer_max);
                }
                State::AwaitingRequest { policy } => {
                    let (serializer, peer_max) = handshake::check_request(octets, policy)?;
                    self.input.advance(HEADER_LEN);
                    self.output
                        .push_raw(&handshake::encode(serializer, self.max_message_len));
                    self.open(serializer, peer_max);
                }
                State::Open { .. } => {
                    let header = frame::decode_header(octets, self.max_message_len.bytes())?;
                    let total = HEADER_LEN + header.len;
                    if self.input.len() < total {
                        return Ok(whole);
                    }
                    let mut payload = self.input.split_to(total);
                    payload.advance(HEADER_LEN);
                    self.dispatch(header.ty, payload.freeze())?;
                    whole += 1;
                }
                // `handle_input` checked liveness, and failures leave this loop.
                State::Failed(_) | State::Closed => return Ok(whole),
            }
        }
        if self.input.is_empty() {
            // Frames handed out share the buffer's allocation; an idle connection keeps
            // none of it.
            self.input = BytesMut::new();
        }
        Ok(whole)
    }

    fn open(&mut self, serializer: SerializerKind, peer_max: MaxMessageLen) {
        self.state = State::Open {
            serializer,
            peer_max,
        };
        self.events.push_back(Event::Handshaken {
            serializer,
            peer_max_message_len: peer_max,
        });
    }

    fn dispatch(&mut self, ty: FrameType, payload: Bytes) -> Result<(), RawSocketError> {
        match ty {
            FrameType::Regular => self.messages.push_back(payload),
            FrameType::Pong => self.events.push_back(Event::Pong(payload)),
            FrameType::Ping => {
                // The PONG must echo the whole payload, and we must not send the peer more
                // than it accepts: a peer pinging beyond its own limit has broken the
                // protocol one way or the other.
                let peer_max = self.peer_max_message_len().map_or(0, MaxMessageLen::bytes);
                if payload.len() > peer_max {
                    return Err(RawSocketError::UnanswerablePing {
                        len: payload.len(),
                        peer_max,
                    });
                }
                return self.queue_frame(FrameType::Pong, payload, |queued, frame, limit| {
                    RawSocketError::OutputLimitExceeded {
                        queued,
                        frame,
                        limit,
                    }
                });
            }
        }
        Ok(())
    }

    /// Fails the connection for good.
    fn fail(&mut self, error: RawSocketError) {
        self.input = BytesMut::new();
        self.output.clear();
        if self.role == Role::Server {
            if let Some(code) = error.reply_code() {
                self.output.push_raw(&handshake::encode_error(code));
            }
        }
        self.finish(State::Failed(error.clone()), Closed::Failed(error));
    }

    fn finish(&mut self, state: State, how: Closed) {
        self.state = state;
        self.open_deadline = None;
        self.liveness.stop();
        self.events.push_back(Event::Closed(how));
    }
}

/// What both constructors configure alike.
struct Limits {
    max_message_len: MaxMessageLen,
    max_queued_bytes: usize,
    open_timeout: Option<Duration>,
    keepalive: Option<KeepAlive>,
    message_timeout: Option<Duration>,
}
