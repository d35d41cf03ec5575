//! The raw load client: one TCP connection with RawSocket or WebSocket framing, a writer
//! task that batches queued frames into few system calls, and a reader ([`Inbox`]) that
//! answers pings and decodes WAMP messages. Deliberately not the project's session code,
//! so the same client measures the echo ceiling, `wamp router` and Crossbar.io.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::BufReader;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::error::{io_ctx, within, BenchError, Result};
use crate::framing::{self, Control, Frame, FrameReader, FrameWriter, Wire};
use crate::wamp::{self, Msg, Ser};

/// Frames queued per connection before a sender waits (backpressure from the socket).
const QUEUE: usize = 1024;

/// How long connecting, a handshake or joining may take.
pub const SETUP_TIMEOUT: Duration = Duration::from_secs(20);

/// The transport of an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// WebSocket at a path.
    Ws,
    /// RawSocket.
    Rs,
}

/// Where and how to connect.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// TCP address.
    pub addr: SocketAddr,
    /// WebSocket or RawSocket.
    pub transport: Transport,
    /// The WebSocket path (`/ws`).
    pub path: String,
}

/// Buffer sizes of one connection.
#[derive(Debug, Clone, Copy)]
pub struct Buffers {
    /// Read buffer.
    pub read: usize,
    /// Write buffer.
    pub write: usize,
}

impl Buffers {
    /// For connections that carry load.
    pub const BUSY: Buffers = Buffers {
        read: 64 * 1024,
        write: 64 * 1024,
    };
    /// For many mostly quiet connections (subscribers, idle sessions).
    pub const QUIET: Buffers = Buffers {
        read: 8 * 1024,
        write: 2 * 1024,
    };
}

/// What the writer task is asked to do.
#[derive(Debug)]
pub enum Out {
    /// Send one WAMP message.
    Msg(Vec<u8>),
    /// Answer a ping.
    Pong(Vec<u8>),
    /// Flush everything queued so far, then report.
    Sync(oneshot::Sender<()>),
}

/// The reading half of a connection.
#[derive(Debug)]
pub struct Inbox {
    reader: FrameReader<OwnedReadHalf>,
    tx: mpsc::Sender<Out>,
    ser: Ser,
}

impl Inbox {
    /// The next message's bytes; `None` when the peer closed.
    pub async fn frame(&mut self) -> Result<Option<Vec<u8>>> {
        loop {
            match self.reader.next().await.map_err(io_ctx("read"))? {
                Some(Frame::Message(bytes)) => return Ok(Some(bytes)),
                Some(Frame::Ping(payload)) => {
                    // A closed writer means the connection is going anyway.
                    let _ = self.tx.send(Out::Pong(payload)).await;
                }
                Some(Frame::Pong) => {}
                Some(Frame::Close) | None => return Ok(None),
            }
        }
    }

    /// The next decoded message; `None` when the peer closed.
    pub async fn recv(&mut self) -> Result<Option<Msg>> {
        match self.frame().await? {
            Some(bytes) => self.ser.decode(&bytes).map(Some),
            None => Ok(None),
        }
    }

    /// The next message, which must have code `want` (an ABORT, ERROR or close is an
    /// error naming `what`).
    pub async fn expect(&mut self, want: u64, what: &str) -> Result<Msg> {
        match self.recv().await? {
            Some(msg) if msg.code == want => Ok(msg),
            Some(msg) => Err(BenchError::Protocol(format!(
                "{what}: got message {} ({}) instead of {want}",
                msg.code,
                msg.uri.unwrap_or_default()
            ))),
            None => Err(BenchError::Protocol(format!("{what}: connection closed"))),
        }
    }
}

/// One open connection: a sender into its writer task and its [`Inbox`].
#[derive(Debug)]
pub struct Conn {
    /// Queue frames here.
    pub tx: mpsc::Sender<Out>,
    /// Read replies here.
    pub inbox: Inbox,
    writer: WriterTask,
}

/// The writer task; aborted when dropped, so nothing outlives its connection.
#[derive(Debug)]
pub struct WriterTask(JoinHandle<()>);

impl Drop for WriterTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A nonce for WebSocket keys: distinct per connection within this process.
fn nonce() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(0x2545_F491_4F6C_DD1D);
    NEXT.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
}

/// Connects and performs the transport handshake; returns the framed halves.
pub async fn connect_raw(
    endpoint: &Endpoint,
    ser: Ser,
    buffers: Buffers,
) -> Result<(FrameReader<OwnedReadHalf>, FrameWriter<OwnedWriteHalf>)> {
    let stream = TcpStream::connect(endpoint.addr)
        .await
        .map_err(io_ctx(format!("connect {}", endpoint.addr)))?;
    stream
        .set_nodelay(true)
        .map_err(io_ctx("set TCP_NODELAY"))?;
    let (read, write) = stream.into_split();
    let mut read = BufReader::with_capacity(buffers.read, read);
    let wire = match endpoint.transport {
        Transport::Rs => Wire::RawSocket,
        Transport::Ws => Wire::WebSocket {
            client: true,
            text: ser.is_text(),
        },
    };
    let mut writer = FrameWriter::new(write, wire, buffers.write);
    match endpoint.transport {
        Transport::Rs => framing::rawsocket_client(&mut read, writer.get_mut(), ser.rawsocket_id())
            .await
            .map_err(io_ctx(format!(
                "RawSocket handshake with {}",
                endpoint.addr
            )))?,
        Transport::Ws => framing::websocket_client(
            &mut read,
            writer.get_mut(),
            &endpoint.addr.to_string(),
            &endpoint.path,
            ser.subprotocol(),
            nonce(),
        )
        .await
        .map_err(io_ctx(format!("WebSocket upgrade with {}", endpoint.addr)))?,
    }
    Ok((FrameReader::new(read, wire), writer))
}

impl Conn {
    /// Connects (bounded by [`SETUP_TIMEOUT`]) and starts the writer task.
    pub async fn open(endpoint: &Endpoint, ser: Ser, buffers: Buffers) -> Result<Conn> {
        let (reader, writer) = within(
            SETUP_TIMEOUT,
            "connect",
            connect_raw(endpoint, ser, buffers),
        )
        .await?;
        let (tx, rx) = mpsc::channel(QUEUE);
        let writer = WriterTask(tokio::spawn(write_loop(writer, rx)));
        Ok(Conn {
            inbox: Inbox {
                reader,
                tx: tx.clone(),
                ser,
            },
            tx,
            writer,
        })
    }

    /// Connects and joins `realm`: sends HELLO and waits for a message with code
    /// `answer` (WELCOME from a router; the echo sends the HELLO itself back).
    pub async fn join(
        endpoint: &Endpoint,
        ser: Ser,
        buffers: Buffers,
        realm: &str,
        answer: u64,
    ) -> Result<Conn> {
        let mut conn = Conn::open(endpoint, ser, buffers).await?;
        conn.send(wamp::hello(ser, realm)?).await?;
        within(SETUP_TIMEOUT, "join", conn.inbox.expect(answer, "HELLO")).await?;
        Ok(conn)
    }

    /// Queues one message.
    pub async fn send(&self, bytes: Vec<u8>) -> Result<()> {
        send(&self.tx, bytes).await
    }

    /// The pieces, for a reader task and a writer side used apart.
    pub fn split(self) -> (mpsc::Sender<Out>, Inbox, WriterTask) {
        (self.tx, self.inbox, self.writer)
    }
}

/// Queues one message on a connection's writer.
pub async fn send(tx: &mpsc::Sender<Out>, bytes: Vec<u8>) -> Result<()> {
    tx.send(Out::Msg(bytes))
        .await
        .map_err(|_| BenchError::Io("connection writer has stopped".into()))
}

/// Waits until everything queued on `tx` so far is written to the socket.
pub async fn sync(tx: &mpsc::Sender<Out>, limit: Duration) -> Result<()> {
    let (done, wait) = oneshot::channel();
    tx.send(Out::Sync(done))
        .await
        .map_err(|_| BenchError::Io("connection writer has stopped".into()))?;
    match tokio::time::timeout(limit, wait).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => Err(BenchError::Io(
            "connection writer stopped before flushing".into(),
        )),
        Err(_) => Err(BenchError::Timeout(format!(
            "flushing the socket (after {limit:?})"
        ))),
    }
}

/// The writer task: takes what is queued, writes it all into the buffer, flushes once.
async fn write_loop(mut writer: FrameWriter<OwnedWriteHalf>, mut rx: mpsc::Receiver<Out>) {
    let mut waiting: Vec<oneshot::Sender<()>> = Vec::new();
    while let Some(first) = rx.recv().await {
        let mut next = Some(first);
        while let Some(out) = next {
            let written = match out {
                Out::Msg(bytes) => writer.message(&bytes).await,
                Out::Pong(payload) => writer.control(Control::Pong, &payload).await,
                Out::Sync(done) => {
                    waiting.push(done);
                    Ok(())
                }
            };
            if written.is_err() {
                return;
            }
            next = rx.try_recv().ok();
        }
        if writer.flush().await.is_err() {
            return;
        }
        for done in waiting.drain(..) {
            let _ = done.send(());
        }
    }
    let _ = writer.control(Control::Close, &[]).await;
    let _ = writer.shutdown().await;
}
