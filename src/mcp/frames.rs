//! The stdio transport: newline-delimited JSON-RPC with a validating gate in front of rmcp.
//!
//! rmcp's own line transport drops what it cannot parse and answers a malformed request with
//! an error that carries no `id`, so a client whose request had params as an array, a float or
//! huge id, no `jsonrpc`, a lone surrogate, or a line over the size cap waited for ever. Here
//! every frame is checked first: what rmcp can serve passes through untouched, and every
//! request with an `id` that it could not serve is answered at once, echoing that `id`:
//! `-32700` for a line that is not JSON (with `id: null`, as JSON-RPC requires), `-32600` for
//! an invalid request, `-32602` for params of the wrong shape. Notifications and responses
//! that are malformed are dropped (JSON-RPC never answers them) with a debug log.
//!
//! The gate costs one borrowed pass over each line ([`Envelope`]) before rmcp's own parse.

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::Bytes;
use futures::SinkExt;
use rmcp::model::{CallToolRequestParams, ClientJsonRpcMessage, ClientRequest, JsonRpcMessage};
use rmcp::service::{RoleServer, RxJsonRpcMessage, TxJsonRpcMessage};
use rmcp::transport::Transport;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, BufReader};
use tokio::sync::Mutex;
use tokio_util::codec::{BytesCodec, FramedWrite};

/// The largest message accepted on stdin. The largest legitimate request (a batch of 500
/// emails) is well under 100 KB; a line longer than this is answered `-32600` without being
/// held in memory.
pub const MAX_FRAME_BYTES: usize = 4 * 1024 * 1024;

/// JSON-RPC error codes this gate answers with.
pub mod code {
    /// The line is not JSON.
    pub const PARSE_ERROR: i32 = -32700;
    /// JSON, but not a valid JSON-RPC request.
    pub const INVALID_REQUEST: i32 = -32600;
    /// A valid request whose params do not fit the method.
    pub const INVALID_PARAMS: i32 = -32602;
}

/// The methods rmcp parses into typed requests. A request for one of them whose params do not
/// fit comes out of rmcp's parser as a custom request, which the server would answer "method
/// not found"; the gate answers `-32602` instead.
const TYPED_METHODS: &[&str] = &[
    "ping",
    "initialize",
    "server/discover",
    "completion/complete",
    "logging/setLevel",
    "prompts/get",
    "prompts/list",
    "resources/list",
    "resources/templates/list",
    "resources/read",
    "subscriptions/listen",
    "resources/subscribe",
    "resources/unsubscribe",
    "tools/call",
    "tools/list",
    "tasks/get",
    "tasks/update",
    "tasks/cancel",
    "skills/list",
    "skills/get",
    "resources/directory/read",
];

/// The transport `serve` uses on stdio: stdin and stdout behind the gate.
pub fn stdio() -> GatedTransport<tokio::io::Stdin, tokio::io::Stdout> {
    GatedTransport::new(tokio::io::stdin(), tokio::io::stdout())
}

type Writer<W> = Arc<Mutex<Option<FramedWrite<W, BytesCodec>>>>;

/// A newline-delimited JSON-RPC transport that answers the frames rmcp cannot serve.
pub struct GatedTransport<R, W> {
    read: BufReader<R>,
    line: Vec<u8>,
    max_line: usize,
    /// Set while the rest of an oversized line is skipped (it survives a cancelled `receive`).
    oversized: Option<IdScanner>,
    write: Writer<W>,
    /// Answers of the gate not yet handed to the writer, and whether one awaits a flush.
    answers: VecDeque<Bytes>,
    unflushed: bool,
}

impl<R, W> GatedTransport<R, W>
where
    R: AsyncRead + Unpin + Send,
    W: AsyncWrite + Unpin + Send + 'static,
{
    pub fn new(read: R, write: W) -> Self {
        Self {
            read: BufReader::new(read),
            line: Vec::new(),
            max_line: MAX_FRAME_BYTES,
            oversized: None,
            write: Arc::new(Mutex::new(Some(FramedWrite::new(write, BytesCodec::new())))),
            answers: VecDeque::new(),
            unflushed: false,
        }
    }

    /// Overrides [`MAX_FRAME_BYTES`] (tests use a small cap).
    pub fn with_max_frame_bytes(mut self, max: usize) -> Self {
        self.max_line = max;
        self
    }

    /// Writes the gate's pending answers. Cancel-safe: an answer leaves the queue only once the
    /// writer holds it whole, and a flush cut short is resumed by the next call.
    async fn write_answers(&mut self) -> Option<()> {
        if self.answers.is_empty() && !self.unflushed {
            return Some(());
        }
        let mut guard = self.write.lock().await;
        let framed = guard.as_mut()?;
        while let Some(answer) = self.answers.front() {
            framed.feed(answer.clone()).await.ok()?;
            self.answers.pop_front();
            self.unflushed = true;
        }
        flush(framed).await.ok()?;
        self.unflushed = false;
        Some(())
    }

    /// Reads up to the next newline into `self.line`, never holding more than `max_line` bytes.
    /// Cancel-safe: bytes are consumed from the reader only once copied or scanned.
    async fn read_line(&mut self) -> LineRead {
        loop {
            let (consumed, ended) = {
                let available = match self.read.fill_buf().await {
                    Ok(a) => a,
                    Err(e) => return LineRead::Io(e),
                };
                if available.is_empty() {
                    return LineRead::Eof;
                }
                let newline = available.iter().position(|b| *b == b'\n');
                let take = newline.map_or(available.len(), |i| i + 1);
                let chunk = &available[..take];
                if let Some(scan) = self.oversized.as_mut() {
                    scan.push(chunk);
                } else if self.line.len().saturating_add(take) > self.max_line {
                    let mut scan = IdScanner::default();
                    scan.push(&self.line);
                    scan.push(chunk);
                    self.line.clear();
                    self.oversized = Some(scan);
                } else {
                    self.line.extend_from_slice(chunk);
                }
                (take, newline.is_some())
            };
            self.read.consume(consumed);
            if ended {
                return match self.oversized.take() {
                    Some(scan) => LineRead::Oversized(scan.id()),
                    None => LineRead::Line,
                };
            }
        }
    }
}

async fn flush<W: AsyncWrite + Unpin>(
    framed: &mut FramedWrite<W, BytesCodec>,
) -> std::io::Result<()> {
    SinkExt::<Bytes>::flush(framed).await
}

enum LineRead {
    Line,
    /// A line over the cap, with the `id` found in it, if any.
    Oversized(Option<Box<RawValue>>),
    Eof,
    Io(std::io::Error),
}

impl<R, W> Transport<RoleServer> for GatedTransport<R, W>
where
    R: AsyncRead + Unpin + Send,
    W: AsyncWrite + Unpin + Send + 'static,
{
    type Error = std::io::Error;

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleServer>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        let lock = self.write.clone();
        async move {
            let mut bytes = serde_json::to_vec(&item)?;
            bytes.push(b'\n');
            let mut guard = lock.lock().await;
            match guard.as_mut() {
                Some(framed) => framed.send(Bytes::from(bytes)).await,
                None => Err(std::io::Error::new(
                    std::io::ErrorKind::NotConnected,
                    "the stdio transport is closed",
                )),
            }
        }
    }

    async fn receive(&mut self) -> Option<RxJsonRpcMessage<RoleServer>> {
        loop {
            self.write_answers().await?;
            match self.read_line().await {
                LineRead::Line => {}
                LineRead::Oversized(id) => {
                    tracing::warn!(max = self.max_line, "refused a message over the size cap");
                    self.answers.push_back(answer(
                        id.as_deref(),
                        code::INVALID_REQUEST,
                        &format!(
                            "Invalid request: the message is longer than the {} bytes this server accepts on one line",
                            self.max_line
                        ),
                    ));
                    continue;
                }
                LineRead::Eof => {
                    // An unterminated last line is not a message.
                    return None;
                }
                LineRead::Io(e) => {
                    tracing::error!("reading stdin: {e}");
                    return None;
                }
            }
            let verdict = judge(&self.line);
            self.line.clear();
            match verdict {
                Verdict::Pass(message) => return Some(*message),
                Verdict::Answer(bytes) => self.answers.extend(bytes),
                Verdict::Skip => {}
            }
        }
    }

    async fn close(&mut self) -> Result<(), Self::Error> {
        let mut guard = self.write.lock().await;
        if let Some(mut framed) = guard.take() {
            flush(&mut framed).await?;
        }
        Ok(())
    }
}

/// What the gate does with one line.
#[derive(Debug)]
pub enum Verdict {
    /// A message rmcp serves.
    Pass(Box<ClientJsonRpcMessage>),
    /// Error answers to write back (one per request; a batch may hold several).
    Answer(Vec<Bytes>),
    /// Nothing to serve or answer: an empty line, or a malformed notification or response.
    Skip,
}

/// The top-level members of a JSON-RPC message, borrowed from the line without decoding them.
/// `Some(raw)` means the member is present, even when it is `null`.
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(default, borrow, deserialize_with = "present")]
    jsonrpc: Option<&'a RawValue>,
    #[serde(default, borrow, deserialize_with = "present")]
    id: Option<&'a RawValue>,
    #[serde(default, borrow, deserialize_with = "present")]
    method: Option<&'a RawValue>,
    #[serde(default, borrow, deserialize_with = "present")]
    params: Option<&'a RawValue>,
    #[serde(default, borrow, deserialize_with = "present")]
    result: Option<&'a RawValue>,
    #[serde(default, borrow, deserialize_with = "present")]
    error: Option<&'a RawValue>,
}

fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<&'de RawValue>, D::Error> {
    <&RawValue>::deserialize(d).map(Some)
}

/// Decides what to do with one line (without its newline or with it).
pub fn judge(line: &[u8]) -> Verdict {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
    if line.iter().all(u8::is_ascii_whitespace) {
        return Verdict::Skip;
    }
    match envelope(line) {
        Ok(envelope) => judge_envelope(line, &envelope),
        Err(e) => judge_unparsed(line, e),
    }
}

/// The members of a JSON object. (Serde would also take an array for a struct, by position.)
fn envelope(text: &[u8]) -> Result<Envelope<'_>, serde_json::Error> {
    match text.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => serde_json::from_slice(text),
        _ => Err(serde::de::Error::custom(
            "a JSON-RPC message is a JSON object",
        )),
    }
}

/// A line that is not a JSON object with well-formed members: a batch, a non-object, text
/// that is not valid Unicode, or not JSON at all.
fn judge_unparsed(line: &[u8], error: serde_json::Error) -> Verdict {
    let invalid = |id: Option<&RawValue>, msg: &str| answer(id, code::INVALID_REQUEST, msg);
    if let Ok(value) = serde_json::from_slice::<&RawValue>(line) {
        let text = value.get();
        if text.starts_with('[') {
            // JSON-RPC batches were removed from MCP: answer each request in it on its own.
            let items: Vec<&RawValue> = serde_json::from_str(text).unwrap_or_default();
            let msg = "Invalid request: MCP does not accept JSON-RPC batches; send each message on its own line";
            let ids: Vec<Bytes> = items
                .iter()
                .filter_map(|item| envelope(item.get().as_bytes()).ok())
                .filter_map(|e| e.id)
                .map(|id| invalid(Some(id), msg))
                .collect();
            return Verdict::Answer(if ids.is_empty() {
                vec![invalid(None, msg)]
            } else {
                ids
            });
        }
        if !text.starts_with('{') {
            return Verdict::Answer(vec![invalid(
                None,
                "Invalid request: a JSON-RPC message is a JSON object",
            )]);
        }
        // An object whose members could not be taken apart (a duplicate member).
        let id = serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(text)
            .ok()
            .and_then(|m| m.get("id").cloned())
            .and_then(|id| serde_json::value::to_raw_value(&id).ok());
        return Verdict::Answer(vec![invalid(
            id.as_deref(),
            &format!("Invalid request: {error}"),
        )]);
    }
    // Not JSON as sent. If it becomes JSON once its text is made valid Unicode (a lone UTF-16
    // surrogate escape, or bytes that are not UTF-8), its `id` can still be answered.
    let repaired = repair_unicode(line);
    if let Ok(envelope) = envelope(repaired.as_bytes()) {
        let Some(id) = envelope.id.filter(|_| envelope.method.is_some()) else {
            return Verdict::Skip;
        };
        return Verdict::Answer(vec![answer(
            Some(id),
            code::INVALID_PARAMS,
            "Invalid params: a string in the request is not valid Unicode (a lone UTF-16 surrogate such as \\ud800, or bytes that are not UTF-8); send valid UTF-8 text",
        )]);
    }
    Verdict::Answer(vec![answer(
        None,
        code::PARSE_ERROR,
        &format!("Parse error: the line is not JSON ({error}); send one JSON-RPC message per line"),
    )])
}

fn judge_envelope(line: &[u8], e: &Envelope) -> Verdict {
    let is_request = e.id.is_some() && e.method.is_some();
    let Some(id) = e.id else {
        // A notification (or nothing): never answered.
        return match parse_message(line) {
            Ok(m) if e.method.is_some() && jsonrpc_ok(e) => Verdict::Pass(m),
            _ => {
                tracing::debug!("dropped a malformed notification");
                Verdict::Skip
            }
        };
    };
    if !is_request && (e.result.is_some() || e.error.is_some()) {
        // A response to one of the server's own requests: never answered either.
        return match parse_message(line) {
            Ok(m) if jsonrpc_ok(e) => Verdict::Pass(m),
            _ => {
                tracing::debug!("dropped a malformed response");
                Verdict::Skip
            }
        };
    }
    let invalid = |msg: &str| Verdict::Answer(vec![answer(Some(id), code::INVALID_REQUEST, msg)]);
    if !jsonrpc_ok(e) {
        return invalid(r#"Invalid request: "jsonrpc" must be "2.0""#);
    }
    if !id_ok(id) {
        return invalid(&format!(
            "Invalid request: \"id\" must be a string or an integer between -2^63 and 2^63-1, not {}",
            shorten(id.get())
        ));
    }
    let Some(method) = e.method else {
        return invalid(
            "Invalid request: a message with an \"id\" needs a \"method\" (a request) or a \"result\" or \"error\" (a response)",
        );
    };
    let Ok(method) = serde_json::from_str::<std::borrow::Cow<str>>(method.get()) else {
        return invalid("Invalid request: \"method\" must be a string");
    };
    let invalid_params =
        |msg: String| Verdict::Answer(vec![answer(Some(id), code::INVALID_PARAMS, &msg)]);
    if let Some(params) = e.params
        && !params.get().starts_with('{')
        && params.get() != "null"
    {
        return invalid_params(format!(
            "Invalid params: the params of {method} must be an object (MCP names its parameters), not {}",
            shorten(params.get())
        ));
    }
    match parse_message(line) {
        Ok(message) => {
            if let JsonRpcMessage::Request(r) = message.as_ref()
                && let ClientRequest::CustomRequest(_) = &r.request
                && TYPED_METHODS.contains(&method.as_ref())
            {
                return invalid_params(params_error(&method, e.params));
            }
            Verdict::Pass(message)
        }
        Err(err) if TYPED_METHODS.contains(&method.as_ref()) => {
            invalid_params(format!("Invalid params for {method}: {err}"))
        }
        Err(err) => invalid(&format!("Invalid request: {err}")),
    }
}

fn parse_message(line: &[u8]) -> Result<Box<ClientJsonRpcMessage>, serde_json::Error> {
    serde_json::from_slice(line).map(Box::new)
}

fn jsonrpc_ok(e: &Envelope) -> bool {
    e.jsonrpc.is_some_and(|v| v.get() == r#""2.0""#)
}

/// MCP ids are strings or integers (rmcp holds them as `i64`), never null.
fn id_ok(id: &RawValue) -> bool {
    let text = id.get();
    if text.starts_with('"') {
        return serde_json::from_str::<String>(text).is_ok();
    }
    text.parse::<i64>().is_ok()
}

/// Why a typed method's params did not fit, as precisely as the method allows.
fn params_error(method: &str, params: Option<&RawValue>) -> String {
    if method == "tools/call" {
        let detail = match params {
            None => "params are missing".to_string(),
            Some(p) => match serde_json::from_str::<CallToolRequestParams>(p.get()) {
                Err(err) => err.to_string(),
                Ok(_) => "they do not match the tools/call schema".to_string(),
            },
        };
        return format!(
            "Invalid params for tools/call: {detail}; send {{\"name\": TOOL_NAME (a string from tools/list), \"arguments\": {{...}}}}"
        );
    }
    format!("Invalid params for {method}: they do not match the MCP schema of {method}")
}

/// At most 60 characters of a member's JSON text, for error messages.
fn shorten(text: &str) -> String {
    match text.char_indices().nth(60) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}

#[derive(Serialize)]
struct ErrorAnswer<'a> {
    jsonrpc: &'static str,
    id: Option<&'a RawValue>,
    error: ErrorBody<'a>,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    code: i32,
    message: &'a str,
}

/// One JSON-RPC error line. The `id` is echoed as the client sent it (so a client that sent
/// a float or an oversized integer can still match the answer), or `null` when there is none.
fn answer(id: Option<&RawValue>, code: i32, message: &str) -> Bytes {
    let body = ErrorAnswer {
        jsonrpc: "2.0",
        id,
        error: ErrorBody { code, message },
    };
    let mut bytes = serde_json::to_vec(&body).unwrap_or_else(|_| {
        br#"{"jsonrpc":"2.0","id":null,"error":{"code":-32603,"message":"Internal error"}}"#
            .to_vec()
    });
    bytes.push(b'\n');
    Bytes::from(bytes)
}

/// The line as text with every lone UTF-16 surrogate escape (`\ud800` without its pair) and
/// every byte sequence that is not UTF-8 replaced by U+FFFD.
fn repair_unicode(line: &[u8]) -> String {
    let text = String::from_utf8_lossy(line);
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut in_string = false;
    let mut i = 0;
    let mut copied = 0;
    let hex_at = |i: usize| -> Option<u16> {
        let digits = bytes.get(i..i + 4)?;
        u16::from_str_radix(std::str::from_utf8(digits).ok()?, 16).ok()
    };
    while i < bytes.len() {
        let b = bytes[i];
        if !in_string {
            in_string = b == b'"';
            i += 1;
            continue;
        }
        match b {
            b'"' => {
                in_string = false;
                i += 1;
            }
            b'\\' if bytes.get(i + 1) == Some(&b'u') => {
                let unit = hex_at(i + 2);
                let paired = |u: u16| {
                    (0xD800..0xDC00).contains(&u)
                        && bytes.get(i + 6) == Some(&b'\\')
                        && bytes.get(i + 7) == Some(&b'u')
                        && hex_at(i + 8).is_some_and(|l| (0xDC00..0xE000).contains(&l))
                };
                match unit {
                    Some(u) if (0xD800..0xE000).contains(&u) && !paired(u) => {
                        out.push_str(&text[copied..i]);
                        out.push_str("\\ufffd");
                        i += 6;
                        copied = i;
                    }
                    Some(u) if paired(u) => i += 12,
                    _ => i += 2,
                }
            }
            b'\\' => i += 2,
            _ => i += 1,
        }
    }
    out.push_str(&text[copied.min(text.len())..]);
    out
}

/// Finds the top-level `"id"` member of a JSON object fed to it in pieces, without keeping the
/// object: how a line over the size cap is still answered with its `id`.
#[derive(Default)]
struct IdScanner {
    depth: u32,
    started: bool,
    failed: bool,
    in_string: bool,
    escaped: bool,
    expect_key: bool,
    /// The current top-level key while it is read (at most 3 bytes are kept: enough for "id").
    key: Option<Vec<u8>>,
    key_is_id: bool,
    capture: Option<Vec<u8>>,
    found: Option<Vec<u8>>,
}

/// An `id` longer than this is not worth echoing.
const MAX_ID_BYTES: usize = 1024;

impl IdScanner {
    fn push(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if self.failed || self.found.is_some() {
                return;
            }
            self.step(b);
            if self
                .capture
                .as_ref()
                .is_some_and(|c| c.len() > MAX_ID_BYTES)
            {
                self.failed = true;
            }
        }
    }

    fn step(&mut self, b: u8) {
        if self.in_string {
            if let Some(c) = self.capture.as_mut() {
                c.push(b);
            }
            if self.escaped {
                self.escaped = false;
                self.key_byte(b'\\');
            } else if b == b'\\' {
                self.escaped = true;
            } else if b == b'"' {
                self.in_string = false;
                if let Some(key) = self.key.take() {
                    self.key_is_id = key == b"id";
                }
            } else {
                self.key_byte(b);
            }
            return;
        }
        let top = self.depth == 1;
        match b {
            b'"' => {
                self.in_string = true;
                if top && self.expect_key {
                    self.key = Some(Vec::new());
                }
                self.keep(b);
            }
            b'{' | b'[' => {
                if self.depth == 0 {
                    if b != b'{' || self.started {
                        self.failed = true;
                        return;
                    }
                    self.started = true;
                    self.expect_key = true;
                } else {
                    self.keep(b);
                }
                self.depth += 1;
            }
            b'}' | b']' if top => self.end_value(),
            b'}' | b']' => {
                self.depth = self.depth.saturating_sub(1);
                self.keep(b);
            }
            b',' if top => {
                self.end_value();
                self.expect_key = true;
            }
            b':' if top && self.capture.is_none() => {
                self.expect_key = false;
                if std::mem::take(&mut self.key_is_id) {
                    self.capture = Some(Vec::new());
                }
            }
            b' ' | b'\t' | b'\r' | b'\n' if self.depth == 0 => {}
            _ if self.depth == 0 => self.failed = true,
            _ => self.keep(b),
        }
    }

    fn keep(&mut self, b: u8) {
        if let Some(c) = self.capture.as_mut() {
            c.push(b);
        }
    }

    fn key_byte(&mut self, b: u8) {
        if let Some(key) = self.key.as_mut()
            && key.len() < 3
        {
            key.push(b);
        }
    }

    fn end_value(&mut self) {
        if let Some(c) = self.capture.take() {
            self.found = Some(c);
        }
    }

    /// The `id` found, if it is a JSON value.
    fn id(self) -> Option<Box<RawValue>> {
        let text = String::from_utf8(self.found?).ok()?;
        RawValue::from_string(text.trim().to_string()).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answers(line: &str) -> Vec<serde_json::Value> {
        match judge(line.as_bytes()) {
            Verdict::Answer(lines) => lines
                .iter()
                .map(|l| serde_json::from_slice(l).expect("an answer is JSON"))
                .collect(),
            other => panic!("{line} was not answered: {other:?}"),
        }
    }

    fn one(line: &str) -> (String, i64) {
        let a = answers(line);
        assert_eq!(a.len(), 1, "{a:?}");
        (
            a[0]["id"].to_string(),
            a[0]["error"]["code"].as_i64().expect("code"),
        )
    }

    #[test]
    fn good_messages_pass_untouched() {
        for line in [
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#,
            r#"{"jsonrpc":"2.0","id":"a","method":"tools/call","params":{"name":"get_user","arguments":{"user":"x"}}}"#,
            r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
            r#"{"jsonrpc":"2.0","id":7,"result":{}}"#,
            r#"{"jsonrpc":"2.0","id":8,"method":"vendor/custom","params":{"a":1}}"#,
            "\u{feff}{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\r\n",
        ] {
            assert!(matches!(judge(line.as_bytes()), Verdict::Pass(_)), "{line}");
        }
        assert!(matches!(judge(b"   \n"), Verdict::Skip));
    }

    #[test]
    fn bad_requests_are_answered_with_their_id_and_code() {
        let cases = [
            (
                r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":[]}"#,
                "1",
                -32602,
            ),
            (
                r#"{"jsonrpc":"2.0","id":2.5,"method":"ping"}"#,
                "2.5",
                -32600,
            ),
            (
                r#"{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}"#,
                r#"{"a":1}"#,
                -32600,
            ),
            (r#"{"id":3,"method":"ping"}"#, "3", -32600),
            (r#"{"jsonrpc":"1.0","id":4,"method":"ping"}"#, "4", -32600),
            (
                r#"{"jsonrpc":"2.0","id":null,"method":"ping"}"#,
                "null",
                -32600,
            ),
            (r#"{"jsonrpc":"2.0","id":5,"method":7}"#, "5", -32600),
            (r#"{"jsonrpc":"2.0","id":6}"#, "6", -32600),
            (
                r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":5}}"#,
                "7",
                -32602,
            ),
            (
                r#"{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"get_user","arguments":{"user":"\ud800"}}}"#,
                "8",
                -32602,
            ),
            ("not json", "null", -32700),
            (
                r#"{"jsonrpc":"2.0","id":10,"method":"ping""#,
                "null",
                -32700,
            ),
            ("42", "null", -32600),
            (
                r#"{"jsonrpc":"2.0","id":11,"id":12,"method":"ping"}"#,
                "12",
                -32600,
            ),
        ];
        for (line, id, code) in cases {
            assert_eq!(one(line), (id.to_string(), code), "{line}");
        }
        // Bytes that are not UTF-8 inside a string.
        let mut raw = br#"{"jsonrpc":"2.0","id":13,"method":"tools/call","params":{"name":"x","arguments":{"user":""#.to_vec();
        raw.extend_from_slice(b"\xed\xa0\x80\"}}}");
        match judge(&raw) {
            Verdict::Answer(a) => {
                let v: serde_json::Value = serde_json::from_slice(&a[0]).expect("json");
                assert_eq!(
                    (v["id"].clone(), v["error"]["code"].clone()),
                    (13.into(), (-32602).into())
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn huge_ids_are_echoed_verbatim() {
        let line = r#"{"jsonrpc":"2.0","id":99999999999999999999999,"method":"ping"}"#;
        let Verdict::Answer(a) = judge(line.as_bytes()) else {
            panic!("not answered")
        };
        let text = std::str::from_utf8(&a[0]).expect("utf-8");
        assert!(text.contains(r#""id":99999999999999999999999,"#), "{text}");
    }

    #[test]
    fn a_batch_gets_one_answer_per_request() {
        let a = answers(
            r#"[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","method":"notifications/initialized"},{"jsonrpc":"2.0","id":"b","method":"ping"}]"#,
        );
        let ids: Vec<String> = a.iter().map(|v| v["id"].to_string()).collect();
        assert_eq!(ids, ["1", "\"b\""]);
        assert_eq!(answers("[]")[0]["id"], serde_json::Value::Null);
    }

    #[test]
    fn malformed_notifications_and_responses_are_not_answered() {
        for line in [
            r#"{"jsonrpc":"1.0","method":"notifications/initialized"}"#,
            r#"{"method":"notifications/progress","params":[1]}"#,
            r#"{"jsonrpc":"2.0","id":1.5,"result":{}}"#,
            r#"{"jsonrpc":"2.0","method":"notifications/x","params":{"a":"\ud800"}}"#,
        ] {
            assert!(matches!(judge(line.as_bytes()), Verdict::Skip), "{line}");
        }
    }

    #[test]
    fn unicode_repair_replaces_only_lone_surrogates() {
        assert_eq!(
            repair_unicode(br#"{"a":"\ud800x","b":"\ud83d\ude00","c":"\\ud800","d":"\udc00"}"#),
            r#"{"a":"\ufffdx","b":"\ud83d\ude00","c":"\\ud800","d":"\ufffd"}"#
        );
    }

    fn scan(parts: &[&str]) -> Option<String> {
        let mut s = IdScanner::default();
        for p in parts {
            s.push(p.as_bytes());
        }
        s.id().map(|r| r.get().to_string())
    }

    #[test]
    fn the_scanner_finds_the_top_level_id_wherever_it_is() {
        assert_eq!(
            scan(&[r#"{"jsonrpc":"2.0","id":4"#, r#"2,"params":{"id":1}}"#]),
            Some("42".into())
        );
        assert_eq!(
            scan(&[r#"{"params":{"id":1,"s":"\"id\":3"},"id" : "x,}"  }"#]),
            Some(r#""x,}""#.into())
        );
        assert_eq!(scan(&[r#"{"params":{"id":1}}"#]), None);
        assert_eq!(scan(&[r#"[{"id":1}]"#]), None);
        assert_eq!(scan(&[r#"{"i\u0064":1}"#]), None);
    }
}
