//! Log output that cannot carry a credential, whatever a library decides to print.
//!
//! Our own code never logs a secret (see [`crate::secret::Secret`]), but libraries do dump whole
//! messages at debug and trace (rmcp logs every request and response), and those carry a token
//! mode plan token (`p-1a2b3c4d.<64 hex>`) and tenant data. So every log line passes through
//! [`RedactingWriter`], which replaces plan tokens and every registered secret value before the
//! bytes reach stderr; and library message dumps stay at trace only ([`filter`]).

use std::io::Write;
use std::sync::RwLock;

use tracing_subscriber::fmt::MakeWriter;

/// Secret values seen by this process (credentials, bearer tokens), never to be printed.
static SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Shortest value worth registering: shorter strings would redact ordinary words.
const MIN_SECRET_LEN: usize = 6;

/// Registers a value that must never appear in a log line.
pub fn never_log(value: &str) {
    let value = value.trim();
    if value.len() < MIN_SECRET_LEN {
        return;
    }
    let mut all = SECRETS.write().unwrap_or_else(|p| p.into_inner());
    if !all.iter().any(|s| s == value) {
        all.push(value.to_string());
        // Longest first, so a secret containing another is replaced whole.
        all.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }
}

/// The line with plan tokens and registered secrets replaced by `<redacted>`.
pub fn redact(line: &str) -> String {
    let mut out = redact_plan_tokens(line);
    let all = SECRETS.read().unwrap_or_else(|p| p.into_inner());
    for s in all.iter() {
        if out.contains(s.as_str()) {
            out = out.replace(s.as_str(), "<redacted>");
        }
    }
    out
}

/// `p-XXXXXXXX.` followed by 64 hex digits: keeps the plan id, drops the token.
fn redact_plan_tokens(line: &str) -> String {
    let b = line.as_bytes();
    let mut out = String::with_capacity(line.len());
    let mut i = 0;
    let mut copied = 0;
    while i + 11 + 64 <= b.len() {
        let is_token = b[i] == b'p'
            && b[i + 1] == b'-'
            && b[i + 2..i + 10].iter().all(u8::is_ascii_hexdigit)
            && b[i + 10] == b'.'
            && b[i + 11..i + 75].iter().all(u8::is_ascii_hexdigit);
        if is_token {
            out.push_str(&line[copied..i + 11]);
            out.push_str("<redacted>");
            i += 75;
            copied = i;
        } else {
            i += 1;
        }
    }
    out.push_str(&line[copied..]);
    out
}

/// Writes to stderr through [`redact`].
pub struct RedactingWriter {
    buf: Vec<u8>,
}

impl Write for RedactingWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let text = String::from_utf8_lossy(&self.buf);
        let clean = redact(&text);
        self.buf.clear();
        std::io::stderr().lock().write_all(clean.as_bytes())
    }
}

impl Drop for RedactingWriter {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

/// The `MakeWriter` for the subscriber: one buffered writer per event, flushed whole.
#[derive(Debug, Clone, Copy, Default)]
pub struct RedactingStderr;

impl<'a> MakeWriter<'a> for RedactingStderr {
    type Writer = RedactingWriter;

    fn make_writer(&'a self) -> Self::Writer {
        RedactingWriter { buf: Vec::new() }
    }
}

/// Sets up logging to stderr: `RUST_LOG` (default `default`) decides what is shown, every line is
/// redacted, and libraries' debug lines (rmcp dumps whole requests and results, which carry
/// tenant data) are shown only when `RUST_LOG` asks for trace. The events of a tool call also go
/// to its MCP client, at the level it asked for ([`crate::mcp::client_log`]).
pub fn init(json: bool, default: &str) {
    use tracing_subscriber::Layer;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let trace = filter
        .max_level_hint()
        .is_some_and(|l| l == tracing::level_filters::LevelFilter::TRACE);
    let dumps = tracing_subscriber::filter::filter_fn(move |meta| {
        trace || !(meta.target().starts_with("rmcp") && *meta.level() == tracing::Level::DEBUG)
    });
    let layer = tracing_subscriber::fmt::layer().with_writer(RedactingStderr);
    use crate::mcp::client_log::ClientLogLayer;
    let registry = tracing_subscriber::registry().with(ClientLogLayer.with_filter(
        tracing_subscriber::filter::filter_fn(ClientLogLayer::wanted),
    ));
    if json {
        registry
            .with(layer.json().with_filter(filter).with_filter(dumps))
            .init();
    } else {
        let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
        registry
            .with(layer.with_ansi(ansi).with_filter(filter).with_filter(dumps))
            .init();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_tokens_and_registered_secrets_are_redacted() {
        let token = "ab".repeat(32);
        let line = format!("call plan_id=\"p-1a2b3c4d.{token}\" and p-1a2b3c4d alone");
        let clean = redact(&line);
        assert!(!clean.contains(&token), "{clean}");
        assert!(clean.contains("p-1a2b3c4d.<redacted>"));
        assert!(clean.contains("p-1a2b3c4d alone"));
        never_log("hunter2-api-key");
        never_log("abc");
        assert_eq!(
            redact("key=hunter2-api-key abc"),
            "key=<redacted> abc",
            "short values are not registered"
        );
    }
}
