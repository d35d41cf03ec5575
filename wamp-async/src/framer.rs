//! One face for the two sans-IO framers (WebSocket and RawSocket), client or server
//! side, so the client's connection loop and the router's connection tasks drive
//! either without caring which.
//!
//! Both machines have the same shape (`handle_input(now, ..)`, `handle_timeout`,
//! `handle_transport_closed`; frames, messages, events and the next deadline out; the
//! peer's faults as a last `Closed` event, local misuse as `Err`), so what is left here
//! is one small trait that says, for each, what its events and errors mean to the loop.

use std::collections::VecDeque;
use std::time::Duration;
use wamp_proto::Instant;

use bytes::Bytes;
use wamp_proto::serializer::SerializerKind;
use wamp_transport_rawsocket::{self as rawsocket, Closed, Connection, RawSocketError};
use wamp_transport_ws::message_pipe::{PipeEnd, PipeEvent, PipeMachine};
use wamp_transport_ws::{self as ws, CloseCode, WebSocket, WsClient, WsEvent};

use crate::error::{IoError, TransportError};

/// What the loop must react to.
#[derive(Debug)]
pub(crate) enum FramerEvent {
    /// The transport handshake completed with this serializer.
    Open(SerializerKind),
    /// The transport is over; the last event. Messages received before it were already
    /// handed out.
    Closed(Option<TransportError>),
}

/// Why a message could not be sent.
#[derive(Debug)]
pub(crate) enum SendError {
    /// Larger than the peer accepts (RawSocket's announced limit).
    TooLarge { size: usize, max: usize },
    /// The transport refused for another reason; the connection is unusable.
    Failed(String),
}

/// A framing machine as the loop sees it: the machines' own methods, with their events
/// and errors translated into the loop's terms.
trait Framing: Send {
    fn handle_input(&mut self, now: Instant, data: &[u8]);
    fn handle_timeout(&mut self, now: Instant);
    fn handle_transport_closed(&mut self, now: Instant);
    fn poll_timeout(&self) -> Option<Instant>;
    fn poll_transmit(&mut self) -> Option<Bytes>;
    fn poll_message(&mut self) -> Option<Bytes>;
    /// The next event the loop acts on (pongs only prove the peer alive, and the
    /// machine already noted that).
    fn poll_event(&mut self) -> Option<FramerEvent>;
    fn send_message(&mut self, message: Bytes) -> Result<(), SendError>;
    /// An orderly close, with a WebSocket close code and reason (RawSocket has neither).
    fn close(&mut self, now: Instant, code: CloseCode, reason: &str);
    fn is_closed(&self) -> bool;
    /// The largest message the peer accepts, if it announced one (RawSocket).
    fn peer_max_message_len(&self) -> Option<usize>;
}

impl Framing for WebSocket {
    fn handle_input(&mut self, now: Instant, data: &[u8]) {
        WebSocket::handle_input(self, now, data);
    }

    fn handle_timeout(&mut self, now: Instant) {
        WebSocket::handle_timeout(self, now);
    }

    fn handle_transport_closed(&mut self, now: Instant) {
        WebSocket::handle_transport_closed(self, now);
    }

    fn poll_timeout(&self) -> Option<Instant> {
        WebSocket::poll_timeout(self)
    }

    fn poll_transmit(&mut self) -> Option<Bytes> {
        WebSocket::poll_transmit(self)
    }

    fn poll_message(&mut self) -> Option<Bytes> {
        WebSocket::poll_message(self)
    }

    fn poll_event(&mut self) -> Option<FramerEvent> {
        loop {
            match WebSocket::poll_event(self)? {
                WsEvent::Open(open) => return Some(FramerEvent::Open(open.serializer)),
                WsEvent::Closed(info) => {
                    let error = match info.error {
                        Some(e) => Some(TransportError::WebSocket(e)),
                        None if info.code == CloseCode::NORMAL => None,
                        None => Some(TransportError::WebSocketClosed {
                            code: info.code.0,
                            reason: info.reason,
                        }),
                    };
                    return Some(FramerEvent::Closed(error));
                }
                _ => continue,
            }
        }
    }

    fn send_message(&mut self, message: Bytes) -> Result<(), SendError> {
        WebSocket::send_message(self, message).map_err(|e| SendError::Failed(e.to_string()))
    }

    fn close(&mut self, now: Instant, code: CloseCode, reason: &str) {
        // Before the upgrade nothing is on the wire to close: that is a normal end, not
        // one with the code meant for the peer.
        let code = if self.is_open() {
            code
        } else {
            CloseCode::NORMAL
        };
        // The codes come from this crate (normal, policy, too big), all sendable.
        let _ = WebSocket::close(self, now, code, reason);
    }

    fn is_closed(&self) -> bool {
        WebSocket::is_closed(self)
    }

    fn peer_max_message_len(&self) -> Option<usize> {
        None
    }
}

impl Framing for Connection {
    fn handle_input(&mut self, now: Instant, data: &[u8]) {
        Connection::handle_input(self, now, data);
    }

    fn handle_timeout(&mut self, now: Instant) {
        Connection::handle_timeout(self, now);
    }

    fn handle_transport_closed(&mut self, now: Instant) {
        Connection::handle_transport_closed(self, now);
    }

    fn poll_timeout(&self) -> Option<Instant> {
        Connection::poll_timeout(self)
    }

    fn poll_transmit(&mut self) -> Option<Bytes> {
        Connection::poll_transmit(self)
    }

    fn poll_message(&mut self) -> Option<Bytes> {
        Connection::poll_message(self)
    }

    fn poll_event(&mut self) -> Option<FramerEvent> {
        loop {
            match Connection::poll_event(self)? {
                rawsocket::Event::Handshaken { serializer, .. } => {
                    return Some(FramerEvent::Open(serializer))
                }
                rawsocket::Event::Closed(how) => {
                    return Some(FramerEvent::Closed(match how {
                        Closed::Local => None,
                        // RawSocket has no closing handshake: the stream's end is all
                        // a peer that leaves without GOODBYE shows.
                        Closed::Peer => Some(TransportError::Eof),
                        Closed::Failed(error) => Some(TransportError::RawSocket(error)),
                    }));
                }
                _ => continue,
            }
        }
    }

    fn send_message(&mut self, message: Bytes) -> Result<(), SendError> {
        match Connection::send_message(self, message) {
            Ok(()) => Ok(()),
            Err(RawSocketError::MessageTooLong { len, max }) => {
                Err(SendError::TooLarge { size: len, max })
            }
            Err(e) => Err(SendError::Failed(e.to_string())),
        }
    }

    fn close(&mut self, now: Instant, _code: CloseCode, _reason: &str) {
        Connection::close(self, now);
    }

    fn is_closed(&self) -> bool {
        Connection::is_closed(self)
    }

    fn peer_max_message_len(&self) -> Option<usize> {
        Connection::peer_max_message_len(self).map(|m| m.bytes())
    }
}

impl Framing for PipeMachine {
    fn handle_input(&mut self, _now: Instant, data: &[u8]) {
        PipeMachine::handle_input(self, data);
    }

    fn handle_timeout(&mut self, _now: Instant) {}

    fn handle_transport_closed(&mut self, _now: Instant) {
        PipeMachine::handle_transport_closed(self);
    }

    fn poll_timeout(&self) -> Option<Instant> {
        None
    }

    fn poll_transmit(&mut self) -> Option<Bytes> {
        PipeMachine::poll_transmit(self)
    }

    fn poll_message(&mut self) -> Option<Bytes> {
        PipeMachine::poll_message(self)
    }

    fn poll_event(&mut self) -> Option<FramerEvent> {
        Some(match PipeMachine::poll_event(self)? {
            PipeEvent::Open(serializer) => FramerEvent::Open(serializer),
            PipeEvent::Closed(end) => FramerEvent::Closed(match end {
                PipeEnd::Normal => None,
                PipeEnd::Closed { code, reason } => {
                    Some(TransportError::WebSocketClosed { code, reason })
                }
                PipeEnd::Eof => Some(TransportError::Eof),
                PipeEnd::Failed(why) => Some(TransportError::Io(IoError::new(
                    std::io::ErrorKind::InvalidData,
                    why,
                ))),
            }),
        })
    }

    fn send_message(&mut self, message: Bytes) -> Result<(), SendError> {
        PipeMachine::send_message(self, message).map_err(SendError::Failed)
    }

    fn close(&mut self, _now: Instant, code: CloseCode, reason: &str) {
        PipeMachine::close(self, code, reason);
    }

    fn is_closed(&self) -> bool {
        PipeMachine::is_closed(self)
    }

    fn peer_max_message_len(&self) -> Option<usize> {
        None
    }
}

pub(crate) struct Framer {
    machine: Box<dyn Framing>,
    /// The WAMP-level keepalive the session should run, where the transport has none
    /// the loop can drive (a platform's own WebSocket).
    session_probe: Option<(Duration, Duration)>,
    /// A read error ends the transport here, before the machine hears of it.
    events: VecDeque<FramerEvent>,
    /// Set once `Closed` was handed out or queued: nothing more happens.
    done: bool,
}

impl Framer {
    pub(crate) fn websocket(config: ws::ClientConfig, now: Instant) -> Result<Framer, String> {
        let client = WsClient::new(config, now).map_err(|e| e.to_string())?;
        Ok(Framer::new(Box::new(client.into_inner())))
    }

    pub(crate) fn rawsocket(config: rawsocket::ClientConfig, now: Instant) -> Framer {
        Framer::new(Box::new(Connection::client(config, now)))
    }

    /// A WebSocket the platform implements, over the [message pipe](crate::message_pipe).
    /// Its pings are the platform's business, so `keepalive` (the WebSocket auto-ping
    /// setting) becomes the session's WAMP-level liveness probe instead.
    pub(crate) fn pipe(
        offered: Vec<SerializerKind>,
        keepalive: Option<(Duration, Duration)>,
        max_message: Option<usize>,
    ) -> Framer {
        let machine = PipeMachine::new(offered, max_message);
        let mut framer = Framer::new(Box::new(machine));
        framer.session_probe = keepalive;
        framer
    }

    /// The liveness probe the session should run over this transport, if any.
    pub(crate) fn session_probe(&self) -> Option<(Duration, Duration)> {
        self.session_probe
    }

    /// The router's side of a WebSocket: waits for the upgrade request.
    #[cfg(feature = "router")]
    pub(crate) fn websocket_server(
        config: ws::ServerConfig,
        now: Instant,
    ) -> Result<Framer, String> {
        let server = wamp_transport_ws::WsServer::new(config, now).map_err(|e| e.to_string())?;
        Ok(Framer::new(Box::new(server.into_inner())))
    }

    /// The router's side of a RawSocket: waits for the handshake request.
    #[cfg(feature = "router")]
    pub(crate) fn rawsocket_server(config: rawsocket::ServerConfig, now: Instant) -> Framer {
        Framer::new(Box::new(Connection::server(config, now)))
    }

    fn new(machine: Box<dyn Framing>) -> Framer {
        Framer {
            machine,
            session_probe: None,
            events: VecDeque::new(),
            done: false,
        }
    }

    pub(crate) fn handle_input(&mut self, now: Instant, data: &[u8]) {
        self.machine.handle_input(now, data);
    }

    /// The byte stream ended (or failed: `error`, which is then the reason given).
    pub(crate) fn handle_eof(&mut self, now: Instant, error: Option<IoError>) {
        if let Some(error) = error {
            if !self.machine.is_closed() && !self.done {
                self.done = true;
                self.events
                    .push_back(FramerEvent::Closed(Some(TransportError::Io(error))));
            }
        }
        self.machine.handle_transport_closed(now);
    }

    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        self.machine.handle_timeout(now);
    }

    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.machine.poll_timeout()
    }

    pub(crate) fn poll_transmit(&mut self) -> Option<Bytes> {
        self.machine.poll_transmit()
    }

    pub(crate) fn poll_event(&mut self) -> Option<FramerEvent> {
        if let Some(event) = self.events.pop_front() {
            return Some(event);
        }
        match self.machine.poll_event()? {
            // A read error already ended it.
            FramerEvent::Closed(_) if self.done => None,
            event @ FramerEvent::Closed(_) => {
                self.done = true;
                Some(event)
            }
            event => Some(event),
        }
    }

    pub(crate) fn poll_message(&mut self) -> Option<Bytes> {
        self.machine.poll_message()
    }

    pub(crate) fn send_message(&mut self, message: Bytes) -> Result<(), SendError> {
        self.machine.send_message(message)
    }

    /// Starts an orderly close: the WebSocket closing handshake, or (RawSocket has
    /// none) the end at once.
    pub(crate) fn close(&mut self, now: Instant) {
        self.close_with(now, CloseCode::NORMAL, "");
    }

    /// Like [`close`](Self::close), with a WebSocket close code and reason that say why
    /// (RawSocket has no such thing).
    pub(crate) fn close_with(&mut self, now: Instant, code: CloseCode, reason: &str) {
        self.machine.close(now, code, reason);
    }

    /// Whether nothing more will come: write what `poll_transmit` holds, then close
    /// the stream.
    pub(crate) fn is_done(&self) -> bool {
        self.done && self.events.is_empty()
    }

    /// The largest message the peer accepts, if it announced one (RawSocket).
    pub(crate) fn peer_max_message_len(&self) -> Option<usize> {
        self.machine.peer_max_message_len()
    }
}
