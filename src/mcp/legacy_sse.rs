//! The 2024-11-05 HTTP+SSE transport (`GET /sse` + `POST /message?sessionId=`), for clients that
//! never moved to Streamable HTTP. rmcp no longer serves it, so it is built here on rmcp's
//! [`Transport`] trait: each SSE connection runs the same [`LifecycleServer`] (same tools, same
//! guardrails, same journal) over a pair of channels.
//!
//! The session belongs to the bearer token that opened it, like a Streamable HTTP session. The
//! session ends when the client drops the event stream or the server shuts down.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Query, Request, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use rmcp::RoleServer;
use rmcp::ServiceExt;
use rmcp::model::{ClientJsonRpcMessage, GetExtensions, ServerJsonRpcMessage};
use rmcp::service::{RxJsonRpcMessage, TxJsonRpcMessage};
use rmcp::transport::Transport;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::LifecycleServer;
use super::http::Principal;
use super::sessions::Sessions;

/// Messages buffered per direction before the sender waits.
const CHANNEL: usize = 32;

/// One open legacy session.
struct Session {
    to_server: mpsc::Sender<ClientJsonRpcMessage>,
    /// The token name that opened it (`None` when serving without tokens).
    owner: Option<String>,
}

/// The legacy endpoint's shared state.
pub struct LegacySse {
    server: LifecycleServer,
    sessions: Mutex<HashMap<String, Session>>,
    shutdown: CancellationToken,
    max_body: usize,
    /// The bound on sessions this process holds, shared with Streamable HTTP.
    bounded: Arc<Sessions>,
}

/// The server's side of one SSE session: what the client POSTs comes in, what the server says
/// goes out on the event stream.
struct ChannelTransport {
    from_client: mpsc::Receiver<ClientJsonRpcMessage>,
    to_client: mpsc::Sender<ServerJsonRpcMessage>,
}

/// The client went away while the server was still talking.
#[derive(Debug, thiserror::Error)]
#[error("the SSE client disconnected")]
pub struct Disconnected;

impl Transport<RoleServer> for ChannelTransport {
    type Error = Disconnected;

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleServer>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        let tx = self.to_client.clone();
        async move { tx.send(item).await.map_err(|_| Disconnected) }
    }

    fn receive(&mut self) -> impl Future<Output = Option<RxJsonRpcMessage<RoleServer>>> + Send {
        self.from_client.recv()
    }

    async fn close(&mut self) -> Result<(), Self::Error> {
        self.from_client.close();
        Ok(())
    }
}

/// Removes the session when the event stream is dropped (client gone or server stopping), which
/// closes the server's inbound channel and so ends its service loop.
struct SessionGuard {
    legacy: Arc<LegacySse>,
    id: String,
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        self.legacy.sessions().remove(&self.id);
        self.legacy.bounded.remove(&self.id);
        tracing::debug!("legacy SSE session closed");
    }
}

#[derive(serde::Deserialize)]
pub struct MessageQuery {
    #[serde(rename = "sessionId")]
    session_id: String,
}

fn new_session_id() -> String {
    use rand::Rng;
    let bytes: [u8; 16] = rand::rng().random();
    hex::encode(bytes)
}

impl LegacySse {
    pub fn new(
        server: LifecycleServer,
        shutdown: CancellationToken,
        max_body: usize,
        bounded: Arc<Sessions>,
    ) -> Arc<Self> {
        Arc::new(Self {
            server,
            sessions: Mutex::new(HashMap::new()),
            shutdown,
            max_body,
            bounded,
        })
    }

    fn sessions(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// `GET /sse`: opens a session and streams the server's messages, starting with the `endpoint`
/// event that tells the client where to POST.
pub async fn open(State(legacy): State<Arc<LegacySse>>, req: Request) -> Response {
    let owner = req.extensions().get::<Principal>().map(|p| p.0.clone());
    let id = new_session_id();
    // Ends the stream when the session expires (idle) or the server stops.
    let closed = legacy.shutdown.child_token();
    if let Err(full) = legacy
        .bounded
        .register_legacy(&id, owner.clone(), closed.clone())
    {
        tracing::warn!("refused a legacy SSE session: {full}");
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(axum::http::header::RETRY_AFTER, "5")],
            full.to_string(),
        )
            .into_response();
    }
    let (to_server, from_client) = mpsc::channel(CHANNEL);
    let (to_client, from_server) = mpsc::channel::<ServerJsonRpcMessage>(CHANNEL);
    legacy.sessions().insert(
        id.clone(),
        Session {
            to_server,
            owner: owner.clone(),
        },
    );
    let server = legacy.server.for_session();
    tokio::spawn(async move {
        let transport = ChannelTransport {
            from_client,
            to_client,
        };
        match server.serve(transport).await {
            Ok(running) => {
                let _ = running.waiting().await;
            }
            Err(e) => tracing::info!(error = %e, "legacy SSE session ended before initialize"),
        }
    });
    tracing::info!(
        caller = owner.as_deref().unwrap_or("anonymous"),
        "legacy SSE session opened"
    );
    let guard = SessionGuard {
        legacy: legacy.clone(),
        id: id.clone(),
    };
    let shutdown = closed;
    let endpoint = Event::default()
        .event("endpoint")
        .data(format!("/message?sessionId={id}"));
    let stream = futures::stream::unfold(
        (Some(endpoint), from_server, guard, shutdown),
        |(first, mut from_server, guard, shutdown)| async move {
            if let Some(e) = first {
                return Some((
                    Ok::<Event, Infallible>(e),
                    (None, from_server, guard, shutdown),
                ));
            }
            let msg = tokio::select! {
                m = from_server.recv() => m?,
                () = shutdown.cancelled() => return None,
            };
            guard.legacy.bounded.touch(&guard.id);
            let data = match serde_json::to_string(&msg) {
                Ok(d) => d,
                Err(e) => {
                    tracing::error!(error = %e, "cannot encode a server message");
                    return None;
                }
            };
            Some((
                Ok(Event::default().event("message").data(data)),
                (None, from_server, guard, shutdown),
            ))
        },
    );
    Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

/// `POST /message?sessionId=…`: one JSON-RPC message from the client into its session.
pub async fn post(
    State(legacy): State<Arc<LegacySse>>,
    Query(q): Query<MessageQuery>,
    req: Request,
) -> Response {
    let (parts, body) = req.into_parts();
    let caller = parts.extensions.get::<Principal>().map(|p| p.0.clone());
    let sender = {
        let sessions = legacy.sessions();
        match sessions.get(&q.session_id) {
            Some(s) if s.owner == caller => s.to_server.clone(),
            // Unknown and foreign sessions get the same answer.
            _ => return (StatusCode::NOT_FOUND, "session not found").into_response(),
        }
    };
    legacy.bounded.touch(&q.session_id);
    let bytes = match axum::body::to_bytes(Body::new(body), legacy.max_body).await {
        Ok(b) => b,
        Err(_) => return (StatusCode::PAYLOAD_TOO_LARGE, "request body too large").into_response(),
    };
    let mut message: ClientJsonRpcMessage = match serde_json::from_slice(&bytes) {
        Ok(m) => m,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                format!("not a JSON-RPC message: {e}"),
            )
                .into_response();
        }
    };
    // The same request parts a Streamable HTTP call carries, so the caller is journaled alike.
    match &mut message {
        ClientJsonRpcMessage::Request(r) => {
            r.request.extensions_mut().insert(parts);
        }
        ClientJsonRpcMessage::Notification(n) => {
            n.notification.extensions_mut().insert(parts);
        }
        _ => {}
    }
    if sender.send(message).await.is_err() {
        return (StatusCode::NOT_FOUND, "session ended").into_response();
    }
    (StatusCode::ACCEPTED, "Accepted").into_response()
}
