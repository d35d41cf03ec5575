//! In-process sessions: a client joined to the router without a socket.
//!
//! The client's connection loop and the router's connection task talk RawSocket over
//! an in-memory [`pipe`](super::pipe), so an in-process session takes exactly the code
//! path of a networked one (framing, backpressure, closing), at the cost of one copy
//! per message.

use futures::channel::oneshot;
use futures::FutureExt;
use wamp_transport_rawsocket as rawsocket;

use super::connection;
use super::hub::ServerCtx;
use super::pipe;
use crate::connect::connect_stream;
use crate::error::ConnectError;
use crate::framer::Framer;
use crate::join::JoinConfig;
use crate::runtime::{Runtime, SocketAddress};
use crate::session::Session;

/// Bytes buffered in each direction of the pipe.
const PIPE_CAPACITY: usize = 256 * 1024;

/// Starts an in-process session and answers `reply` when it has joined (or failed).
pub(crate) fn connect<R: Runtime>(
    ctx: &ServerCtx<R>,
    join: JoinConfig,
    reply: oneshot::Sender<Result<Session, ConnectError>>,
) {
    connect_via(ctx, ctx.local_spec.clone(), join, reply);
}

/// [`connect`] through `spec` (an in-process "listener" with its own authentication).
pub(crate) fn connect_via<R: Runtime>(
    ctx: &ServerCtx<R>,
    spec: std::sync::Arc<super::listener::ListenerSpec>,
    join: JoinConfig,
    reply: oneshot::Sender<Result<Session, ConnectError>>,
) {
    let (client_end, router_end) = pipe::duplex(PIPE_CAPACITY);
    connection::spawn(ctx, spec, Box::new(router_end), SocketAddress::InProcess);
    let rt = ctx.rt.clone();
    let serializer = ctx.options.local_serializer;
    let timeout = ctx.options.handshake_timeout;
    ctx.rt.spawn(
        async move {
            let framer = Framer::rawsocket(rawsocket::ClientConfig::new(serializer), rt.now());
            let session = connect_stream(
                &rt,
                Box::new(client_end),
                framer,
                &join,
                "in-process".into(),
                timeout,
            )
            .await;
            // Whoever asked may have given up; the session then ends with its handle.
            let _ = reply.send(session);
        }
        .boxed(),
    );
}
