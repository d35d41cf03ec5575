//! A real headless Chromium for the browser tests: the pages of `wamp-web-app` (built
//! by `scripts/web-env.sh`) and a WebDriver session through Debian's `chromedriver`,
//! started on a free port and stopped by its pid.
//!
//! WebDriver is plain JSON over HTTP, so the harness speaks it with a few lines over a
//! `TcpStream` (one request per connection) rather than with a client library.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::{ports, process, python};

/// How long `scripts/web-env.sh` may take (a first run installs wasm-bindgen-cli and
/// Chromium and builds the app: several minutes).
const WEB_ENV_LIMIT: Duration = Duration::from_secs(900);
/// How long one WebDriver request may take (opening a page included).
const REQUEST_LIMIT: Duration = Duration::from_secs(60);

/// The directory with the built pages (`index.html`, `test.html`, `pkg/`): from
/// `WAMP_WEB_DIR` if set and already built, else made by `scripts/web-env.sh`.
pub fn web_dir() -> Result<PathBuf> {
    static DIR: OnceLock<std::result::Result<PathBuf, String>> = OnceLock::new();
    DIR.get_or_init(|| {
        let script = python::repo_root().join("scripts/web-env.sh");
        let dir = PathBuf::from(python::env_script(&script, WEB_ENV_LIMIT)?);
        if dir.join("pkg/wamp_web_app_bg.wasm").is_file() {
            Ok(dir)
        } else {
            Err(format!("{} holds no built app", dir.display()))
        }
    })
    .clone()
    .map_err(Error::Browser)
}

/// A chromedriver process with one headless Chromium session.
#[derive(Debug)]
pub struct Browser {
    driver: Child,
    port: u16,
    session: String,
}

impl Browser {
    /// Starts chromedriver on a free port and opens a headless Chromium session.
    pub fn start() -> Result<Browser> {
        let port = ports::free_port()?;
        let program = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
        let driver = Command::new(&program)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| Error::Browser(format!("cannot start {program}: {e}")))?;
        let mut browser = Browser {
            driver,
            port,
            session: String::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while browser.request("GET", "/status", None).is_err() {
            if Instant::now() > deadline {
                return Err(Error::Browser(
                    "chromedriver did not answer within 20 s".into(),
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let chromium = std::env::var("CHROMIUM").ok();
        let mut options = json!({"args": [
            "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--window-size=1000,700", "--no-first-run",
        ]});
        if let (Some(binary), Some(map)) = (chromium, options.as_object_mut()) {
            map.insert("binary".into(), Value::String(binary));
        }
        let created = browser.request(
            "POST",
            "/session",
            Some(&json!({"capabilities": {"alwaysMatch": {"goog:chromeOptions": options}}})),
        )?;
        browser.session = created["sessionId"]
            .as_str()
            .ok_or_else(|| Error::Browser(format!("no session in {created}")))?
            .to_owned();
        Ok(browser)
    }

    /// Opens `url` (returns once the page has loaded).
    pub fn open(&self, url: &str) -> Result<()> {
        self.command("POST", "url", Some(&json!({"url": url})))
            .map(drop)
    }

    /// Runs `script` (a function body; `return` gives the result) in the page.
    pub fn eval(&self, script: &str) -> Result<Value> {
        self.command(
            "POST",
            "execute/sync",
            Some(&json!({"script": script, "args": []})),
        )
    }

    /// The page's visible text.
    pub fn text(&self) -> Result<String> {
        Ok(self
            .eval("return document.body.innerText")?
            .as_str()
            .unwrap_or_default()
            .to_owned())
    }

    /// Waits until `script` returns true, within `limit`; the page's text otherwise.
    pub fn wait_until(&self, script: &str, limit: Duration) -> Result<()> {
        let deadline = Instant::now() + limit;
        loop {
            if self.eval(script)? == Value::Bool(true) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(Error::Browser(format!(
                    "`{script}` was not true within {limit:?}; the page says:\n{}",
                    self.text().unwrap_or_default()
                )));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// A PNG screenshot of the window.
    pub fn screenshot(&self) -> Result<Vec<u8>> {
        use base64::Engine as _;
        let encoded = self.command("GET", "screenshot", None)?;
        base64::engine::general_purpose::STANDARD
            .decode(encoded.as_str().unwrap_or_default())
            .map_err(|e| Error::Browser(format!("screenshot: {e}")))
    }

    fn command(&self, method: &str, what: &str, body: Option<&Value>) -> Result<Value> {
        self.request(method, &format!("/session/{}/{what}", self.session), body)
    }

    /// One WebDriver request; its `value`, or the WebDriver error as [`Error::Browser`].
    fn request(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value> {
        let fail = |what: String| Error::Browser(format!("WebDriver {method} {path}: {what}"));
        let mut stream =
            TcpStream::connect(("127.0.0.1", self.port)).map_err(|e| fail(e.to_string()))?;
        stream
            .set_read_timeout(Some(REQUEST_LIMIT))
            .map_err(|e| fail(e.to_string()))?;
        let body = body.map(Value::to_string).unwrap_or_default();
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.port,
            body.len()
        );
        stream
            .write_all(request.as_bytes())
            .map_err(|e| fail(e.to_string()))?;
        let body = read_response(&mut stream).map_err(fail)?;
        let value: Value =
            serde_json::from_str(&body).map_err(|e| fail(format!("{e} in {body:?}")))?;
        let value = value.get("value").cloned().unwrap_or(Value::Null);
        if let Some(error) = value.get("error").and_then(Value::as_str) {
            let message = value.get("message").and_then(Value::as_str).unwrap_or("");
            return Err(fail(format!("{error}: {message}")));
        }
        Ok(value)
    }
}

/// Reads one HTTP response and returns its body: by its `Content-Length`, or chunked
/// (chromedriver keeps the connection open whatever the request said, so reading to
/// the end would wait for the timeout).
fn read_response(stream: &mut TcpStream) -> std::result::Result<String, String> {
    let mut data = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    let (head_len, head) = loop {
        if let Some(at) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break (
                at + 4,
                String::from_utf8_lossy(&data[..at]).to_ascii_lowercase(),
            );
        }
        let n = stream.read(&mut buf).map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("the connection closed before the response's headers".into());
        }
        data.extend_from_slice(&buf[..n]);
    };
    let length = head.lines().find_map(|line| {
        line.strip_prefix("content-length:")
            .and_then(|v| v.trim().parse::<usize>().ok())
    });
    let chunked = head.contains("transfer-encoding: chunked");
    loop {
        let body = &data[head_len..];
        let complete = match length {
            Some(length) => body.len() >= length,
            None if chunked => body.windows(5).any(|w| w == b"0\r\n\r\n"),
            None => false,
        };
        if complete {
            let body = match length {
                Some(length) => body[..length].to_vec(),
                None => dechunk(body),
            };
            return Ok(String::from_utf8_lossy(&body).into_owned());
        }
        let n = stream.read(&mut buf).map_err(|e| e.to_string())?;
        if n == 0 {
            return Ok(String::from_utf8_lossy(body).into_owned());
        }
        data.extend_from_slice(&buf[..n]);
    }
}

/// The body of a chunked HTTP response (undone on bytes: a character may straddle two
/// chunks).
fn dechunk(mut rest: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(at) = rest.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&rest[..at])
            .ok()
            .and_then(|size| usize::from_str_radix(size.trim(), 16).ok());
        let after = &rest[at + 2..];
        let Some(size) = size.filter(|&size| size > 0 && size <= after.len()) else {
            break;
        };
        out.extend_from_slice(&after[..size]);
        rest = after[size..]
            .strip_prefix(b"\r\n")
            .unwrap_or(&after[size..]);
    }
    out
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Ending the session quits Chromium; then chromedriver goes, by its pid.
        if !self.session.is_empty() {
            let _ = self.request("DELETE", &format!("/session/{}", self.session), None);
        }
        let _ = process::terminate(&mut self.driver, Duration::from_secs(5));
    }
}
