//! What the router checks in a WebSocket upgrade request before the WebSocket machine
//! sees it: the path (a WAMP endpoint lives at one path, e.g. `/ws`) and whether the
//! router has room for another connection. A request that fails either gets a plain
//! HTTP answer (404, 503) and the connection is closed.

use bytes::Bytes;

/// The longest request head read while looking for the path; longer heads are refused
/// with 431 (the WebSocket machine would refuse them too).
const MAX_HEAD: usize = 16 * 1024;
/// Header slots for parsing (the WebSocket machine parses the request again, fully).
const MAX_HEADERS: usize = 64;

/// What to do with the bytes received so far.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Not a complete request head yet: keep reading.
    NeedMore,
    /// Hand these bytes (everything received so far) to the WebSocket machine; the gate
    /// is done.
    Pass(Vec<u8>),
    /// Send this HTTP response and close the connection.
    Refuse {
        /// The response, ready to write.
        response: Bytes,
        /// For the log.
        why: String,
    },
}

/// Holds back the first bytes of a WebSocket connection until the request line is
/// known.
pub(crate) struct RequestGate {
    head: Vec<u8>,
    /// The required path; `None` accepts any.
    path: Option<String>,
    /// The router is at its connection limit: every request gets 503.
    full: bool,
}

impl RequestGate {
    pub(crate) fn new(path: Option<String>, full: bool) -> RequestGate {
        RequestGate {
            head: Vec::new(),
            path,
            full,
        }
    }

    /// Takes received bytes.
    pub(crate) fn input(&mut self, data: &[u8]) -> Verdict {
        self.head.extend_from_slice(data);
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut request = httparse::Request::new(&mut headers);
        let target = match request.parse(&self.head) {
            Ok(httparse::Status::Complete(_)) => request.path.map(str::to_owned),
            Ok(httparse::Status::Partial) if self.head.len() <= MAX_HEAD => {
                return Verdict::NeedMore
            }
            Ok(httparse::Status::Partial) => {
                return refuse(
                    431,
                    "Request Header Fields Too Large",
                    "the request head is too long",
                )
            }
            // Malformed: the WebSocket machine answers it with the right 400.
            Err(_) => None,
        };
        if self.full {
            return refuse(
                503,
                "Service Unavailable",
                "the router is at its connection limit",
            );
        }
        if let (Some(want), Some(target)) = (&self.path, &target) {
            let path = target.split(['?', '#']).next().unwrap_or_default();
            if path != want {
                return refuse(
                    404,
                    "Not Found",
                    &format!("no WAMP endpoint at {path} (it is at {want})"),
                );
            }
        }
        Verdict::Pass(std::mem::take(&mut self.head))
    }
}

fn refuse(status: u16, reason: &str, why: &str) -> Verdict {
    let body = format!("{why}\n");
    let response = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    Verdict::Refuse {
        response: Bytes::from(response),
        why: why.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REQUEST: &[u8] = b"GET /ws?x=1 HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n\r\n";

    #[test]
    fn the_right_path_passes_whole_at_any_split() {
        for split in 0..REQUEST.len() {
            let mut gate = RequestGate::new(Some("/ws".into()), false);
            let (a, b) = REQUEST.split_at(split);
            let first = gate.input(a);
            let verdict = if first == Verdict::NeedMore {
                gate.input(b)
            } else {
                first
            };
            assert_eq!(verdict, Verdict::Pass(REQUEST.to_vec()), "split at {split}");
        }
    }

    #[test]
    fn a_wrong_path_gets_404_and_a_full_router_503() {
        let mut gate = RequestGate::new(Some("/other".into()), false);
        let Verdict::Refuse { response, .. } = gate.input(REQUEST) else {
            panic!("not refused")
        };
        assert!(response.starts_with(b"HTTP/1.1 404 "), "{response:?}");
        let mut gate = RequestGate::new(None, true);
        let Verdict::Refuse { response, .. } = gate.input(REQUEST) else {
            panic!("not refused")
        };
        assert!(response.starts_with(b"HTTP/1.1 503 "), "{response:?}");
    }

    #[test]
    fn garbage_is_left_to_the_websocket_machine_and_endless_heads_are_refused() {
        let mut gate = RequestGate::new(Some("/ws".into()), false);
        assert!(matches!(
            gate.input(b"\x00\x01 nonsense\r\n\r\n"),
            Verdict::Pass(_)
        ));
        let mut gate = RequestGate::new(Some("/ws".into()), false);
        let mut verdict = gate.input(b"GET /ws HTTP/1.1\r\nX-Filler: ");
        while verdict == Verdict::NeedMore {
            verdict = gate.input(&[b'a'; 1000]);
        }
        assert!(
            matches!(&verdict, Verdict::Refuse { response, .. } if response.starts_with(b"HTTP/1.1 431 ")),
            "{verdict:?}"
        );
    }
}
