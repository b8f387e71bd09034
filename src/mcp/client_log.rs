//! `notifications/message`: what a person should see in their MCP client while a call runs —
//! a tenant that is rate limiting, an admin session that ended with staged changes (which ZIA
//! then activates), a journal that could not be written, a state store that is unreachable.
//!
//! The server already says these things in its `tracing` log (stderr); [`ClientLogLayer`] also
//! sends each event of this crate to the client whose call it happened in, when the client
//! asked for that level (`logging/setLevel`, or on 2026-07-28 the request's
//! `io.modelcontextprotocol/logLevel`). The call's span carries a [`Sink`]; events outside any
//! call (start-up, another client's call) reach no client. Logs never hold secrets (a rule of
//! this code base, and each message is redacted like the stderr lines, see [`crate::logs`]),
//! and trace-level events (where tenant data may appear) are never sent.
#![allow(deprecated)] // Logging is deprecated by SEP-2577 but still what clients display.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use rmcp::model::{LoggingLevel, LoggingMessageNotificationParam};
use rmcp::service::RoleServer;
use tokio::sync::mpsc;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

/// Logger name in the notifications.
const LOGGER: &str = "zscaler-lifecycle-mcp";
/// Events of targets under this prefix (this crate) may reach a client.
const TARGET: &str = "zscaler_lifecycle_mcp";

/// Sinks alive now; when none, events cost one atomic load here.
static LIVE: AtomicUsize = AtomicUsize::new(0);

/// Severity rank of an MCP level (debug lowest).
pub fn rank(level: LoggingLevel) -> u8 {
    match level {
        LoggingLevel::Debug => 0,
        LoggingLevel::Info => 1,
        LoggingLevel::Notice => 2,
        LoggingLevel::Warning => 3,
        LoggingLevel::Error => 4,
        LoggingLevel::Critical => 5,
        LoggingLevel::Alert => 6,
        LoggingLevel::Emergency => 7,
    }
}

/// The MCP level a log level maps to (`None` for trace: never sent).
fn mcp_level(level: &Level) -> Option<LoggingLevel> {
    match *level {
        Level::ERROR => Some(LoggingLevel::Error),
        Level::WARN => Some(LoggingLevel::Warning),
        Level::INFO => Some(LoggingLevel::Info),
        Level::DEBUG => Some(LoggingLevel::Debug),
        _ => None,
    }
}

/// Where one call's log messages go: the client's peer, at or above `min`.
pub struct Sink {
    min: u8,
    tx: mpsc::UnboundedSender<LoggingMessageNotificationParam>,
}

impl Drop for Sink {
    fn drop(&mut self) {
        LIVE.fetch_sub(1, Ordering::Relaxed);
    }
}

/// One call's forwarding: the sink its span carries and the task that sends its messages, in
/// order, on the client's peer.
pub struct Forwarding {
    sink: Arc<Sink>,
    done: tokio::sync::oneshot::Sender<()>,
    sender: tokio::task::JoinHandle<()>,
}

impl Forwarding {
    /// Starts forwarding messages at or above `min` to `peer`.
    pub fn start(peer: rmcp::Peer<RoleServer>, min: LoggingLevel) -> Self {
        let (tx, mut rx) = mpsc::unbounded_channel::<LoggingMessageNotificationParam>();
        let (done, mut finished) = tokio::sync::oneshot::channel::<()>();
        LIVE.fetch_add(1, Ordering::Relaxed);
        let sender = tokio::spawn(async move {
            loop {
                tokio::select! {
                    biased;
                    note = rx.recv() => match note {
                        Some(note) => {
                            if peer.notify_logging_message(note).await.is_err() {
                                return;
                            }
                        }
                        None => return,
                    },
                    _ = &mut finished => {
                        while let Ok(note) = rx.try_recv() {
                            if peer.notify_logging_message(note).await.is_err() {
                                return;
                            }
                        }
                        return;
                    }
                }
            }
        });
        Self {
            sink: Arc::new(Sink { min: rank(min), tx }),
            done,
            sender,
        }
    }

    /// Puts the sink on `span`, so events inside it reach the client.
    pub fn attach(&self, span: &tracing::Span) {
        let sink = self.sink.clone();
        span.with_subscriber(|(id, dispatch)| {
            if let Some(registry) = dispatch.downcast_ref::<tracing_subscriber::Registry>()
                && let Some(span) = registry.span(id)
            {
                span.extensions_mut().insert(SinkRef(sink));
            }
        });
    }

    /// Sends what the call logged so far, then stops (so the messages reach the client before
    /// the call's result); later events of the call are dropped.
    pub async fn finish(self) {
        let Forwarding { sink, done, sender } = self;
        drop(sink);
        let _ = done.send(());
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), sender).await;
    }
}

/// The span extension that routes events to a sink.
struct SinkRef(Arc<Sink>);

/// Sends this crate's events to the client of the call they happen in (see the module docs).
/// Install it beside the stderr layer, with no filter of its own beyond [`ClientLogLayer::wanted`].
pub struct ClientLogLayer;

impl ClientLogLayer {
    /// Whether an event or span may matter to this layer: this crate, debug or above.
    pub fn wanted(meta: &tracing::Metadata<'_>) -> bool {
        meta.target().starts_with(TARGET) && *meta.level() <= Level::DEBUG
    }
}

impl<S> Layer<S> for ClientLogLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        if LIVE.load(Ordering::Relaxed) == 0 {
            return;
        }
        let Some(level) = mcp_level(event.metadata().level()) else {
            return;
        };
        let Some(scope) = ctx.event_scope(event) else {
            return;
        };
        for span in scope {
            let ext = span.extensions();
            let Some(SinkRef(sink)) = ext.get::<SinkRef>() else {
                continue;
            };
            if rank(level) < sink.min {
                return;
            }
            let mut fields = Fields::default();
            event.record(&mut fields);
            // Redacted like the stderr lines: plan tokens and registered secrets never leave.
            let mut data = serde_json::Map::new();
            data.insert(
                "message".into(),
                crate::logs::redact(&fields.message).into(),
            );
            for (k, v) in fields.rest {
                let v = match v {
                    serde_json::Value::String(t) => crate::logs::redact(&t).into(),
                    other => other,
                };
                data.insert(k, v);
            }
            let note = LoggingMessageNotificationParam::new(level, data.into()).with_logger(LOGGER);
            let _ = sink.tx.send(note);
            return;
        }
    }
}

/// An event's message and other fields, as text.
#[derive(Default)]
struct Fields {
    message: String,
    rest: serde_json::Map<String, serde_json::Value>,
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.message = format!("{value:?}");
        } else {
            self.rest
                .insert(field.name().into(), format!("{value:?}").into());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = value.to_string();
        } else {
            self.rest.insert(field.name().into(), value.into());
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.rest.insert(field.name().into(), value.into());
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.rest.insert(field.name().into(), value.into());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.rest.insert(field.name().into(), value.into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_map_and_order() {
        assert_eq!(mcp_level(&Level::WARN), Some(LoggingLevel::Warning));
        assert_eq!(
            mcp_level(&Level::TRACE),
            None,
            "trace never reaches a client"
        );
        assert!(rank(LoggingLevel::Error) > rank(LoggingLevel::Warning));
        assert!(rank(LoggingLevel::Info) > rank(LoggingLevel::Debug));
    }
}
