//! [`BrowserSocket`]: the browser's `WebSocket` as a byte stream that speaks the
//! [message pipe](wamp_runtime::message_pipe).

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use futures::io::{AsyncRead, AsyncWrite};
use futures::FutureExt;
use gloo_timers::future::TimeoutFuture;
use send_wrapper::SendWrapper;
use wamp_runtime::message_pipe::{Decoder, Record};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use web_sys::{BinaryType, CloseEvent, Event, MessageEvent, WebSocket};

/// While the browser holds more than this many bytes it has not yet sent
/// (`bufferedAmount`), writes wait: the connection loop's byte budgets then hold the
/// application back, as a full socket does on a native runtime.
const HIGH_WATER: u32 = 1024 * 1024;
/// How often a waiting write looks at `bufferedAmount` again (a browser has no event
/// for it draining).
const DRAIN_POLL_MS: u32 = 5;

/// A browser `WebSocket` as the connection loop's byte stream. Reading gives the
/// socket's open, message and close events as pipe records; writing takes records and
/// sends their messages (or closes the socket).
pub struct BrowserSocket {
    inner: SendWrapper<Inner>,
}

impl std::fmt::Debug for BrowserSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrowserSocket").finish_non_exhaustive()
    }
}

/// What the socket's event handlers fill and the reader takes.
#[derive(Default)]
struct Inbound {
    bytes: VecDeque<u8>,
    /// The close event came: after `bytes`, the stream ends.
    ended: bool,
    reader: Option<Waker>,
}

impl Inbound {
    fn push(&mut self, record: &Record) {
        let mut out = Vec::new();
        record.encode_into(&mut out);
        self.bytes.extend(out);
        if let Some(waker) = self.reader.take() {
            waker.wake();
        }
    }
}

type Handler<T> = Closure<dyn FnMut(T)>;

struct Inner {
    ws: WebSocket,
    inbound: Rc<RefCell<Inbound>>,
    decoder: Decoder,
    /// The loop asked to close, or the socket is closing or closed: nothing more is
    /// sent.
    closing: bool,
    drain: Option<TimeoutFuture>,
    // Kept alive as long as the socket: the browser calls them.
    _on_open: Handler<Event>,
    _on_message: Handler<MessageEvent>,
    _on_close: Handler<CloseEvent>,
}

impl BrowserSocket {
    /// Opens a WebSocket to `url`, offering `protocols`. Returns at once; the `Open`
    /// record (or a `Close` one) follows on the stream.
    ///
    /// # Errors
    ///
    /// The browser refused the URL or the protocols (`SyntaxError`, a blocked port):
    /// `InvalidInput`, with the browser's message.
    pub fn open(url: &str, protocols: &[&str]) -> io::Result<BrowserSocket> {
        let list = js_sys::Array::new();
        for p in protocols {
            list.push(&wasm_bindgen::JsValue::from_str(p));
        }
        let ws = WebSocket::new_with_str_sequence(url, &list)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, js_text(&e)))?;
        ws.set_binary_type(BinaryType::Arraybuffer);
        let inbound = Rc::new(RefCell::new(Inbound::default()));

        let on_open = {
            let inbound = Rc::clone(&inbound);
            let socket = ws.clone();
            Closure::<dyn FnMut(Event)>::new(move |_: Event| {
                inbound.borrow_mut().push(&Record::Open {
                    protocol: socket.protocol(),
                });
            })
        };
        let on_message = {
            let inbound = Rc::clone(&inbound);
            Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
                let data = e.data();
                let record = if let Some(text) = data.as_string() {
                    Record::Text(Bytes::from(text))
                } else if let Some(buf) = data.dyn_ref::<js_sys::ArrayBuffer>() {
                    Record::Binary(Bytes::from(js_sys::Uint8Array::new(buf).to_vec()))
                } else {
                    // binaryType is "arraybuffer": nothing else arrives.
                    return;
                };
                inbound.borrow_mut().push(&record);
            })
        };
        let on_close = {
            let inbound = Rc::clone(&inbound);
            Closure::<dyn FnMut(CloseEvent)>::new(move |e: CloseEvent| {
                let mut inbound = inbound.borrow_mut();
                inbound.push(&Record::Close {
                    code: e.code(),
                    reason: e.reason(),
                });
                inbound.ended = true;
            })
        };
        ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        Ok(BrowserSocket {
            inner: SendWrapper::new(Inner {
                ws,
                inbound,
                decoder: Decoder::new(),
                closing: false,
                drain: None,
                _on_open: on_open,
                _on_message: on_message,
                _on_close: on_close,
            }),
        })
    }
}

impl Inner {
    fn send(&mut self, record: Record) -> io::Result<()> {
        if self.closing {
            return Ok(());
        }
        let sent = match record {
            Record::Text(text) => match std::str::from_utf8(&text) {
                Ok(text) => self.ws.send_with_str(text),
                Err(_) => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "a text message that is not UTF-8",
                    ))
                }
            },
            Record::Binary(data) => self.ws.send_with_u8_array(&data),
            Record::Close { code, reason } => {
                self.closing = true;
                let (code, reason) = closable(code, &reason);
                self.ws.close_with_code_and_reason(code, &reason)
            }
            Record::Open { .. } => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "an open record written to the socket",
                ))
            }
        };
        sent.map_err(|e| io::Error::new(io::ErrorKind::BrokenPipe, js_text(&e)))
    }
}

/// What a page may pass to `WebSocket.close`: code 1000 or 3000-4999 (others throw
/// `InvalidAccessError`), and a reason of at most 123 bytes. Another code (the loop
/// speaks WebSocket's: 1002, 1008, 1009) becomes 1000, with the reason kept to say why.
fn closable(code: u16, reason: &str) -> (u16, String) {
    let code = if code == 1000 || (3000..=4999).contains(&code) {
        code
    } else {
        1000
    };
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    (code, reason[..end].to_owned())
}

fn js_text(value: &wasm_bindgen::JsValue) -> String {
    value
        .dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| value.as_string())
        .unwrap_or_else(|| format!("{value:?}"))
}

impl AsyncRead for BrowserSocket {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let mut inbound = self.inner.inbound.borrow_mut();
        if inbound.bytes.is_empty() {
            if inbound.ended {
                return Poll::Ready(Ok(0));
            }
            inbound.reader = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let n = buf.len().min(inbound.bytes.len());
        for (slot, byte) in buf.iter_mut().zip(inbound.bytes.drain(..n)) {
            *slot = byte;
        }
        Poll::Ready(Ok(n))
    }
}

impl AsyncWrite for BrowserSocket {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let inner = &mut *self.inner;
        // Closed from the other side (or closing): nothing will be sent any more, and
        // `bufferedAmount` will not go down; take the bytes so the loop can finish.
        if inner.inbound.borrow().ended || inner.ws.ready_state() >= WebSocket::CLOSING {
            inner.closing = true;
        }
        if inner.ws.buffered_amount() > HIGH_WATER && !inner.closing {
            let timer = inner
                .drain
                .get_or_insert_with(|| TimeoutFuture::new(DRAIN_POLL_MS));
            if timer.poll_unpin(cx).is_ready() {
                inner.drain = None;
                cx.waker().wake_by_ref();
            }
            return Poll::Pending;
        }
        inner.drain = None;
        inner.decoder.push(buf);
        loop {
            match inner.decoder.next_record() {
                Ok(Some(record)) => inner.send(record)?,
                Ok(None) => break,
                Err(e) => return Poll::Ready(Err(io::Error::new(io::ErrorKind::InvalidData, e))),
            }
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let inner = &mut *self.inner;
        if !inner.closing {
            inner.closing = true;
            let _ = inner.ws.close();
        }
        Poll::Ready(Ok(()))
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.ws.set_onopen(None);
        self.ws.set_onmessage(None);
        self.ws.set_onclose(None);
        if !self.closing {
            let _ = self.ws.close();
        }
    }
}
