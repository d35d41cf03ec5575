//! The methods both sides share, generated once for [`WsClient`](crate::WsClient) and
//! [`WsServer`](crate::WsServer).

macro_rules! common_methods {
    ($ty:ident) => {
        impl $ty {
            /// Feeds bytes received from the peer, in order, in chunks of any size.
            ///
            /// A peer's misbehaviour is not an error here: it closes the connection (an
            /// HTTP error response or a Close frame is queued for
            /// [`poll_transmit`](Self::poll_transmit), and a
            /// [`WsEvent::Closed`](crate::WsEvent::Closed) says why). Bytes arriving
            /// after the connection closed are ignored.
            pub fn handle_input(&mut self, now: std::time::Instant, data: &[u8]) {
                self.endpoint.handle_input(now, data);
            }

            /// Advances time: sends an auto-ping, or fails on an expired open, ping or
            /// close deadline. Afterwards [`poll_timeout`](Self::poll_timeout) is `None`
            /// or later than `now`.
            pub fn handle_timeout(&mut self, now: std::time::Instant) {
                self.endpoint.handle_timeout(now);
            }

            /// The byte stream ended (the peer closed its side, or the socket failed).
            /// Unless the connection is already closed, this closes it with code 1006 and
            /// [`WsError::ConnectionReset`](crate::WsError::ConnectionReset).
            pub fn handle_transport_closed(&mut self, now: std::time::Instant) {
                self.endpoint.handle_transport_closed(now);
            }

            /// The next bytes to write to the peer (everything queued, in one buffer).
            #[must_use]
            pub fn poll_transmit(&mut self) -> Option<bytes::Bytes> {
                self.endpoint.poll_transmit()
            }

            /// The next event.
            #[must_use]
            pub fn poll_event(&mut self) -> Option<crate::WsEvent> {
                self.endpoint.poll_event()
            }

            /// The next received WAMP message: the payload of one complete WebSocket
            /// message, in the negotiated serializer's encoding.
            ///
            /// Drains the same queue as [`poll_decoded`](Self::poll_decoded): use one or
            /// the other.
            #[must_use]
            pub fn poll_message(&mut self) -> Option<bytes::Bytes> {
                self.endpoint.poll_message()
            }

            /// The next received WAMP message, decoded. With
            /// [`Validation::Decode`](crate::Validation::Decode) (the default) this is the
            /// message decoded on arrival; with [`Validation::Skip`](crate::Validation::Skip)
            /// it is decoded now, and a message that does not decode fails the connection
            /// with close code 1002 and returns `None` (drain the other queues again).
            #[must_use]
            pub fn poll_decoded(&mut self) -> Option<wamp_core::Message> {
                self.endpoint.poll_decoded()
            }

            /// When [`handle_timeout`](Self::handle_timeout) must be called next, if ever.
            #[must_use]
            pub fn poll_timeout(&self) -> Option<std::time::Instant> {
                self.endpoint.poll_timeout()
            }

            /// Sends one WAMP message, already encoded with the negotiated serializer:
            /// in a text frame for JSON (it must be UTF-8), in a binary frame otherwise.
            pub fn send_message(&mut self, message: bytes::Bytes) -> Result<(), crate::UsageError> {
                self.endpoint.send_message(message)
            }

            /// Sends a Ping with `payload` (at most 125 bytes). The Pong arrives as
            /// [`WsEvent::Pong`](crate::WsEvent::Pong). Pings from the peer are answered
            /// without being asked.
            pub fn send_ping(&mut self, payload: bytes::Bytes) -> Result<(), crate::UsageError> {
                self.endpoint.send_ping(payload)
            }

            /// Starts the closing handshake with `code` and `reason` (truncated to 123
            /// bytes). The connection is closed when the peer echoes the Close frame, or
            /// after the close timeout. Before the opening handshake completes there is
            /// nothing on the wire to close: the connection closes at once. Closing a
            /// closing or closed connection does nothing.
            pub fn close(
                &mut self,
                now: std::time::Instant,
                code: crate::CloseCode,
                reason: &str,
            ) -> Result<(), crate::UsageError> {
                self.endpoint.close(now, code, reason)
            }

            /// The negotiated serializer, once open.
            #[must_use]
            pub fn serializer(&self) -> Option<wamp_core::SerializerKind> {
                self.endpoint.serializer()
            }

            /// Whether messages may be sent (the opening handshake completed and closing
            /// has not started).
            #[must_use]
            pub fn is_open(&self) -> bool {
                self.endpoint.is_open()
            }

            /// Whether the connection is closed: drain [`poll_transmit`](Self::poll_transmit),
            /// then close the byte stream.
            #[must_use]
            pub fn is_closed(&self) -> bool {
                self.endpoint.is_closed()
            }

            /// How the connection ended, once closed.
            #[must_use]
            pub fn close_info(&self) -> Option<&crate::CloseInfo> {
                self.endpoint.close_info()
            }
        }
    };
}

pub(crate) use common_methods;
