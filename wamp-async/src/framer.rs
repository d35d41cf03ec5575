//! One face for the two sans-IO framers (WebSocket and RawSocket), client or server
//! side, so the client's connection loop and the router's connection tasks drive
//! either without caring which.

use std::collections::VecDeque;
use std::time::Instant;

use bytes::Bytes;
use wamp_core::SerializerKind;
use wamp_transport_rawsocket::{self as rawsocket, Connection, RawSocketError};
use wamp_transport_ws::{self as ws, CloseCode, WsClient, WsEvent, WsServer};

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

enum Kind {
    Ws(Box<WsClient>),
    WsServer(Box<WsServer>),
    Raw(Box<Connection>),
}

/// Matches on the framer kind with one expression for both WebSocket sides (their
/// methods have the same names and signatures) and one for RawSocket.
macro_rules! by_kind {
    ($kind:expr, $ws:ident => $on_ws:expr, $raw:ident => $on_raw:expr $(,)?) => {
        match $kind {
            Kind::Ws($ws) => $on_ws,
            Kind::WsServer($ws) => $on_ws,
            Kind::Raw($raw) => $on_raw,
        }
    };
}

pub(crate) struct Framer {
    kind: Kind,
    /// RawSocket reports through return values; they are turned into events here.
    events: VecDeque<FramerEvent>,
    /// Set once `Closed` was queued: nothing more happens.
    done: bool,
}

impl Framer {
    pub(crate) fn websocket(config: ws::ClientConfig, now: Instant) -> Result<Framer, String> {
        let client = WsClient::new(config, now).map_err(|e| e.to_string())?;
        Ok(Framer {
            kind: Kind::Ws(Box::new(client)),
            events: VecDeque::new(),
            done: false,
        })
    }

    pub(crate) fn rawsocket(config: rawsocket::ClientConfig) -> Framer {
        Framer::new(Kind::Raw(Box::new(Connection::client(config))))
    }

    /// The router's side of a WebSocket: waits for the upgrade request.
    pub(crate) fn websocket_server(
        config: ws::ServerConfig,
        now: Instant,
    ) -> Result<Framer, String> {
        let server = WsServer::new(config, now).map_err(|e| e.to_string())?;
        Ok(Framer::new(Kind::WsServer(Box::new(server))))
    }

    /// The router's side of a RawSocket: waits for the handshake request.
    pub(crate) fn rawsocket_server(config: rawsocket::ServerConfig) -> Framer {
        Framer::new(Kind::Raw(Box::new(Connection::server(config))))
    }

    fn new(kind: Kind) -> Framer {
        Framer {
            kind,
            events: VecDeque::new(),
            done: false,
        }
    }

    pub(crate) fn handle_input(&mut self, now: Instant, data: &[u8]) {
        by_kind!(&mut self.kind,
            c => c.handle_input(now, data),
            c => {
                if let Err(e) = c.handle_input(data) {
                    self.raw_failed(e);
                }
            },
        )
    }

    /// The byte stream ended (or failed: `error`).
    pub(crate) fn handle_eof(&mut self, now: Instant, error: Option<IoError>) {
        by_kind!(&mut self.kind,
            c => {
                if let Some(error) = error {
                    if !c.is_closed() && !self.done {
                        self.done = true;
                        self.events
                            .push_back(FramerEvent::Closed(Some(TransportError::Io(error))));
                        return;
                    }
                }
                c.handle_transport_closed(now);
            },
            c => {
                let error = match error {
                    Some(error) => TransportError::Io(error),
                    None => c
                        .handle_eof()
                        .err()
                        .map_or(TransportError::Eof, classify_raw),
                };
                if !self.done {
                    self.done = true;
                    self.events.push_back(FramerEvent::Closed(Some(error)));
                }
            },
        )
    }

    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        by_kind!(&mut self.kind, c => c.handle_timeout(now), _c => {})
    }

    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        by_kind!(&self.kind, c => c.poll_timeout(), _c => None)
    }

    pub(crate) fn poll_transmit(&mut self) -> Option<Bytes> {
        by_kind!(&mut self.kind, c => c.poll_transmit(), c => c.poll_transmit())
    }

    pub(crate) fn poll_event(&mut self) -> Option<FramerEvent> {
        if let Some(event) = self.events.pop_front() {
            return Some(event);
        }
        by_kind!(&mut self.kind,
            c => loop {
                match c.poll_event()? {
                    WsEvent::Open(open) => return Some(FramerEvent::Open(open.serializer)),
                    WsEvent::Closed(info) => {
                        if self.done {
                            return None;
                        }
                        self.done = true;
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
                    // Pongs only prove the peer alive; the framer already noted it.
                    _ => continue,
                }
            },
            c => loop {
                match c.poll_event()? {
                    rawsocket::Event::Handshaken { serializer, .. } => {
                        return Some(FramerEvent::Open(serializer))
                    }
                    _ => continue,
                }
            },
        )
    }

    pub(crate) fn poll_message(&mut self) -> Option<Bytes> {
        by_kind!(&mut self.kind, c => c.poll_message(), c => c.poll_message())
    }

    pub(crate) fn send_message(&mut self, message: Bytes) -> Result<(), SendError> {
        by_kind!(&mut self.kind,
            c => c
                .send_message(message)
                .map_err(|e| SendError::Failed(e.to_string())),
            c => match c.send_message(message) {
                Ok(()) => Ok(()),
                Err(RawSocketError::MessageTooLong { len, max }) => {
                    Err(SendError::TooLarge { size: len, max })
                }
                Err(e) => Err(SendError::Failed(e.to_string())),
            },
        )
    }

    /// Starts an orderly close: the WebSocket closing handshake, or (RawSocket has
    /// none) the end at once.
    pub(crate) fn close(&mut self, now: Instant) {
        self.close_with(now, CloseCode::NORMAL, "");
    }

    /// Like [`close`](Self::close), with a WebSocket close code and reason that say why
    /// (RawSocket has no such thing).
    pub(crate) fn close_with(&mut self, now: Instant, code: CloseCode, reason: &str) {
        by_kind!(&mut self.kind,
            c => {
                if c.is_open() {
                    let _ = c.close(now, code, reason);
                } else if !c.is_closed() && !self.done {
                    // Not open yet: nothing to close on the wire.
                    self.done = true;
                    self.events.push_back(FramerEvent::Closed(None));
                }
            },
            _c => {
                if !self.done {
                    self.done = true;
                    self.events.push_back(FramerEvent::Closed(None));
                }
            },
        )
    }

    /// Whether nothing more will come: write what `poll_transmit` holds, then close
    /// the stream.
    pub(crate) fn is_done(&self) -> bool {
        self.done && self.events.is_empty()
    }

    /// The largest message the peer accepts, if it announced one (RawSocket).
    pub(crate) fn peer_max_message_len(&self) -> Option<usize> {
        by_kind!(&self.kind, _c => None, c => c.peer_max_message_len().map(|m| m.bytes()))
    }

    fn raw_failed(&mut self, error: RawSocketError) {
        if !self.done {
            self.done = true;
            self.events
                .push_back(FramerEvent::Closed(Some(classify_raw(error))));
        }
    }
}

fn classify_raw(error: RawSocketError) -> TransportError {
    match error {
        RawSocketError::Closed => TransportError::Eof,
        e => TransportError::RawSocket(e),
    }
}
