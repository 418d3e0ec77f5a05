//! [`Receiver`]: a recording, misbehaving HTTP/1.1 server on loopback.
//!
//! Written on raw TCP rather than an HTTP server crate because the faults it
//! must produce (resets, malformed replies, refused connections, requests
//! held open) are exactly what a well-behaved server library prevents.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

/// How the receiver answers a request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Fault {
    /// Answer normally (the configured reply, 200 `OK` by default).
    #[default]
    None,
    /// Answer with this status and an empty-ish body.
    Status(u16),
    /// Answer 429 with `Retry-After: <seconds>`.
    TooManyRequests {
        /// The `Retry-After` value, in seconds.
        retry_after_secs: u64,
    },
    /// Wait this long, then answer normally.
    Slow(Duration),
    /// Read the request and never answer; the connection stays open until
    /// the client gives up (see [`Receiver::held`]).
    Hang,
    /// Read the request, then reset the connection (TCP RST).
    Reset,
    /// Read the request, then answer with bytes that are not HTTP.
    Malformed,
    /// Stop listening: connections are refused until the fault changes.
    /// Only meaningful with [`Receiver::set_fault`].
    Refuse,
}

/// A request the receiver read.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Request {
    /// `GET`, `POST`, …
    pub method: String,
    /// The path, percent-decoded, without the query.
    pub path: String,
    /// The query parameters in order, percent-decoded.
    pub query: Vec<(String, String)>,
    /// The headers in order; names lowercased.
    pub headers: Vec<(String, String)>,
    /// The body, as UTF-8 (lossy).
    pub body: String,
    /// How it was answered.
    pub fault: Fault,
    /// When it was read.
    pub received_at: SystemTime,
}

impl Request {
    /// The first value of a query parameter.
    pub fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// All values of a query parameter (e.g. Cronitor's repeated `metric`).
    pub fn query_all(&self, name: &str) -> Vec<&str> {
        self.query
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// A header's value (name is case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether it was answered normally.
    pub fn was_answered(&self) -> bool {
        matches!(self.fault, Fault::None | Fault::Slow(_))
    }
}

#[derive(Debug)]
struct State {
    requests: Vec<Request>,
    fault: Fault,
    script: VecDeque<Fault>,
    status: u16,
    body: String,
    headers: Vec<(String, String)>,
    held: usize,
    shutdown: bool,
    responder: Option<ResponderFn>,
}

/// A [`Responder`], with a `Debug` that says only that there is one.
#[derive(Clone)]
struct ResponderFn(Arc<Responder>);

impl std::fmt::Debug for ResponderFn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ResponderFn")
    }
}

/// Computes the normal reply from the request (status, headers, body), for
/// a receiver that keeps state as a real service does.
type Responder = dyn Fn(&Request) -> Reply + Send + Sync;

/// A normal reply, from a [`Receiver::set_responder`] function.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: String,
}

impl Reply {
    /// A reply with this status and body, and no extra headers.
    pub fn new(status: u16, body: impl Into<String>) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: body.into(),
        }
    }
}

#[derive(Debug)]
struct Inner {
    state: Mutex<State>,
    /// Signalled on every recorded request and held-count change.
    changed: Condvar,
    /// Wakes the accept loop and held connections (fault change, shutdown).
    wake: Notify,
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        crate::sync::lock(&self.state)
    }

    fn update(&self, f: impl FnOnce(&mut State)) {
        f(&mut self.lock());
        self.changed.notify_all();
        self.wake.notify_waiters();
    }
}

/// A real HTTP/1.1 server on `127.0.0.1` that records every request and
/// answers, or misbehaves, as told. It runs on its own thread, so it works
/// from synchronous tests and from any async runtime. Dropping it stops it.
///
/// See the [module docs](crate::test) for an example.
#[derive(Debug)]
pub struct Receiver {
    inner: Arc<Inner>,
    addr: SocketAddr,
}

impl Receiver {
    /// Binds a free port on 127.0.0.1 and starts serving.
    ///
    /// # Errors
    /// When the socket cannot be bound or the thread cannot start.
    pub fn start() -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        std_listener.set_nonblocking(true)?;
        let addr = std_listener.local_addr()?;
        let inner = Arc::new(Inner {
            state: Mutex::new(State {
                requests: Vec::new(),
                fault: Fault::None,
                script: VecDeque::new(),
                status: 200,
                body: "OK".into(),
                headers: Vec::new(),
                held: 0,
                shutdown: false,
                responder: None,
            }),
            changed: Condvar::new(),
            wake: Notify::new(),
        });
        let serve_inner = inner.clone();
        std::thread::Builder::new()
            .name("heartbeat-test-receiver".into())
            .spawn(move || {
                runtime.block_on(async move {
                    match TcpListener::from_std(std_listener) {
                        Ok(listener) => serve(serve_inner, listener, addr).await,
                        Err(e) => eprintln!("test receiver could not start: {e}"),
                    }
                });
            })?;
        Ok(Self { inner, addr })
    }

    /// The base URL, `http://127.0.0.1:<port>` (no trailing slash).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The socket address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// How every following request is answered (after any scripted faults).
    pub fn set_fault(&self, fault: Fault) {
        self.inner.update(|s| s.fault = fault);
    }

    /// Faults for the next requests, one each, before the standing fault applies again.
    pub fn push_faults(&self, faults: impl IntoIterator<Item = Fault>) {
        let faults: Vec<_> = faults.into_iter().collect();
        self.inner.update(|s| s.script.extend(faults));
    }

    /// The normal reply's status and body (default 200 `OK`).
    pub fn set_reply(&self, status: u16, body: impl Into<String>) {
        let body = body.into();
        self.inner.update(|s| {
            s.status = status;
            s.body = body;
        });
    }

    /// Computes every normal reply from its request, instead of the fixed
    /// [`set_reply`](Self::set_reply). It runs on a thread of its own per
    /// request, so concurrent requests reach it concurrently, as they reach
    /// a real service. Faults still apply first.
    pub fn set_responder(&self, responder: impl Fn(&Request) -> Reply + Send + Sync + 'static) {
        let responder = ResponderFn(Arc::new(responder));
        self.inner.update(|s| s.responder = Some(responder));
    }

    /// A header added to every normal reply (e.g. `Ping-Body-Limit`).
    pub fn set_header(&self, name: impl Into<String>, value: impl Into<String>) {
        let (name, value) = (name.into(), value.into());
        self.inner.update(|s| s.headers.push((name, value)));
    }

    /// Every request read so far, in arrival order.
    pub fn requests(&self) -> Vec<Request> {
        self.inner.lock().requests.clone()
    }

    /// Forgets the recorded requests.
    pub fn clear(&self) {
        self.inner.update(|s| s.requests.clear());
    }

    /// Connections currently held open by [`Fault::Hang`].
    pub fn held(&self) -> usize {
        self.inner.lock().held
    }

    /// Blocks until `done(requests)` is true or `timeout` passes; returns the
    /// requests either way. Safe to call from async tests too: the receiver
    /// and the monitor run on their own threads.
    pub fn wait_until(&self, timeout: Duration, done: impl Fn(&[Request]) -> bool) -> Vec<Request> {
        self.wait(timeout, |s| done(&s.requests)).requests.clone()
    }

    /// Blocks until at least `n` requests arrived (or `timeout`).
    pub fn wait_for_requests(&self, n: usize, timeout: Duration) -> Vec<Request> {
        self.wait_until(timeout, |r| r.len() >= n)
    }

    /// Blocks until at least `n` connections are held by [`Fault::Hang`];
    /// returns whether they are.
    pub fn wait_for_held(&self, n: usize, timeout: Duration) -> bool {
        self.wait(timeout, |s| s.held >= n).held >= n
    }

    /// Waits on the condition variable until `done` or the timeout.
    fn wait(&self, timeout: Duration, done: impl Fn(&State) -> bool) -> MutexGuard<'_, State> {
        let deadline = Instant::now()
            .checked_add(timeout)
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(24 * 3600));
        let mut s = self.inner.lock();
        while !done(&s) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            s = self
                .inner
                .changed
                .wait_timeout(s, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        s
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.inner.update(|s| s.shutdown = true);
    }
}

async fn serve(inner: Arc<Inner>, listener: TcpListener, addr: SocketAddr) {
    let mut listener = Some(listener);
    loop {
        let wake = inner.wake.notified();
        tokio::pin!(wake);
        wake.as_mut().enable();
        let (refuse, shutdown) = {
            let s = inner.lock();
            (s.fault == Fault::Refuse, s.shutdown)
        };
        if shutdown {
            return;
        }
        if refuse {
            // Closing the socket makes connects fail with "connection refused".
            listener = None;
            wake.await;
            continue;
        }
        if listener.is_none() {
            match TcpListener::bind(addr).await {
                Ok(l) => listener = Some(l),
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            }
        }
        let Some(l) = &listener else { continue };
        tokio::select! {
            accepted = l.accept() => {
                if let Ok((stream, _)) = accepted {
                    tokio::spawn(connection(inner.clone(), stream));
                }
            }
            () = wake => {}
        }
    }
}

/// Serves one connection, request after request (keep-alive).
async fn connection(inner: Arc<Inner>, mut stream: TcpStream) {
    let mut buf = Vec::new();
    loop {
        let Some(mut request) = read_request(&mut stream, &mut buf).await else {
            return;
        };
        let (fault, mut normal, responder) = {
            let mut s = inner.lock();
            let fault = s.script.pop_front().unwrap_or_else(|| s.fault.clone());
            let normal = Reply {
                status: s.status,
                headers: s.headers.clone(),
                body: s.body.clone(),
            };
            (fault, normal, s.responder.clone())
        };
        request.fault = fault.clone();
        let head = request.method == "HEAD";
        if let (Some(responder), Fault::None | Fault::Slow(_)) = (responder, &fault) {
            let seen = request.clone();
            match tokio::task::spawn_blocking(move || (responder.0)(&seen)).await {
                Ok(reply) => normal = reply,
                Err(_) => normal = Reply::new(500, "the responder panicked"),
            }
        }
        inner.update(|s| s.requests.push(request));
        let reply = match fault {
            Fault::None => response(normal.status, &normal.headers, &normal.body),
            Fault::Slow(d) => {
                tokio::time::sleep(d).await;
                response(normal.status, &normal.headers, &normal.body)
            }
            Fault::Status(code) => response(code, &[], "error"),
            Fault::TooManyRequests { retry_after_secs } => response(
                429,
                &[("Retry-After".into(), retry_after_secs.to_string())],
                "rate limit exceeded",
            ),
            Fault::Hang => {
                hold(&inner, &mut stream).await;
                return;
            }
            Fault::Reset | Fault::Refuse => {
                reset(stream);
                return;
            }
            Fault::Malformed => {
                let _ = stream
                    .write_all(b"HTTP/1.1 banana\r\n\x00\x01garbage\r\n\r\n")
                    .await;
                return;
            }
        };
        // A reply to HEAD has the headers (content-length included) but no body.
        let reply = if head {
            let end = reply.find("\r\n\r\n").map_or(reply.len(), |i| i + 4);
            &reply[..end]
        } else {
            &reply[..]
        };
        if stream.write_all(reply.as_bytes()).await.is_err() {
            return;
        }
    }
}

/// Holds a connection without answering until the client closes it or the
/// receiver stops.
async fn hold(inner: &Inner, stream: &mut TcpStream) {
    inner.update(|s| s.held += 1);
    let mut scratch = [0u8; 512];
    loop {
        let wake = inner.wake.notified();
        tokio::pin!(wake);
        wake.as_mut().enable();
        if inner.lock().shutdown {
            break;
        }
        tokio::select! {
            n = stream.read(&mut scratch) => if matches!(n, Ok(0) | Err(_)) { break },
            () = wake => {}
        }
    }
    inner.update(|s| s.held -= 1);
}

#[allow(deprecated)] // set_linger is deprecated only because lingering blocks on close; a zero linger does not.
fn reset(stream: TcpStream) {
    let _ = stream.set_linger(Some(Duration::ZERO));
    drop(stream);
}

fn response(status: u16, headers: &[(String, String)], body: &str) -> String {
    let reason = reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Status");
    let mut out = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    out.push_str(body);
    out
}

/// Reads one request (head and `content-length` body); `None` when the
/// connection closes or sends something unparseable.
async fn read_request(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Option<Request> {
    let head_end = loop {
        if let Some(i) = find(buf, b"\r\n\r\n") {
            break i;
        }
        if buf.len() > 64 * 1024 || !read_more(stream, buf).await {
            return None;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_owned();
    let target = first.next()?.to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.to_ascii_lowercase())
    };
    buf.drain(..head_end + 4);
    // curl and others wait for this before sending a larger body.
    if header("expect").as_deref() == Some("100-continue") {
        stream
            .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
            .await
            .ok()?;
    }
    let body = if header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        read_chunked(stream, buf).await?
    } else {
        let len = header("content-length")
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(0);
        while buf.len() < len {
            if !read_more(stream, buf).await {
                return None;
            }
        }
        buf.drain(..len).collect()
    };
    let body = String::from_utf8_lossy(&body).into_owned();
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    Some(Request {
        method,
        path: decode(path, false),
        query: query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (decode(k, true), decode(v, true))
            })
            .collect(),
        headers,
        body,
        fault: Fault::None,
        received_at: SystemTime::now(),
    })
}

/// A `Transfer-Encoding: chunked` body (trailers are read and ignored).
async fn read_chunked(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line_end = loop {
            if let Some(i) = find(buf, b"\r\n") {
                break i;
            }
            if buf.len() > 1024 || !read_more(stream, buf).await {
                return None;
            }
        };
        let size_text = String::from_utf8_lossy(&buf[..line_end]).into_owned();
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        buf.drain(..line_end + 2);
        if size == 0 {
            // Trailer section: lines up to an empty one.
            loop {
                let end = loop {
                    if let Some(i) = find(buf, b"\r\n") {
                        break i;
                    }
                    if buf.len() > 64 * 1024 || !read_more(stream, buf).await {
                        return None;
                    }
                };
                buf.drain(..end + 2);
                if end == 0 {
                    return Some(body);
                }
            }
        }
        while buf.len() < size + 2 {
            if body.len() + buf.len() > 16 * 1024 * 1024 || !read_more(stream, buf).await {
                return None;
            }
        }
        body.extend(buf.drain(..size));
        buf.drain(..2);
    }
}

async fn read_more(stream: &mut TcpStream, buf: &mut Vec<u8>) -> bool {
    let mut chunk = [0u8; 8192];
    match stream.read(&mut chunk).await {
        Ok(0) | Err(_) => false,
        Ok(n) => {
            buf.extend_from_slice(&chunk[..n]);
            true
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Percent-decoding; `plus` turns `+` into a space (query strings).
fn decode(s: &str, plus: bool) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(hi), Some(lo)) => {
                    out.push(hi << 4 | lo);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' if plus => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::{Receiver, decode};
    use std::io::{Read, Write};
    use std::time::Duration;

    /// Sends raw bytes as another HTTP client would, and returns what came
    /// back before the read timeout (the receiver keeps connections open).
    fn raw(rx: &Receiver, request: &[u8]) -> String {
        let mut s = std::net::TcpStream::connect(rx.addr()).unwrap();
        s.set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        s.write_all(request).unwrap();
        let mut reply = Vec::new();
        let _ = s.read_to_end(&mut reply);
        String::from_utf8_lossy(&reply).into_owned()
    }

    #[test]
    fn chunked_bodies_expect_continue_and_head() {
        let rx = Receiver::start().unwrap();
        let reply = raw(
            &rx,
            b"POST /k/job/fail HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\
              5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\n\r\n",
        );
        assert!(reply.starts_with("HTTP/1.1 200 OK"), "{reply}");
        let reply = raw(
            &rx,
            b"POST /k/job HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nlog",
        );
        assert!(
            reply.starts_with("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK"),
            "{reply}"
        );
        let requests = rx.wait_for_requests(2, Duration::from_secs(5));
        assert_eq!(requests[0].body, "hello, world");
        assert_eq!(requests[1].body, "log");

        let reply = raw(&rx, b"HEAD /k/job HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(reply.starts_with("HTTP/1.1 200 OK"), "{reply}");
        assert!(reply.contains("content-length: 2"), "{reply}");
        assert!(reply.ends_with("\r\n\r\n"), "no body after HEAD: {reply:?}");
    }

    #[test]
    fn decodes_percent_and_plus() {
        assert_eq!(decode("a%20b+c%2F", true), "a b c/");
        assert_eq!(decode("a+b", false), "a+b");
        assert_eq!(decode("100%", true), "100%");
        assert_eq!(decode("%zz", true), "%zz");
    }
}
