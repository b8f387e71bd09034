//! Remote serving: MCP Streamable HTTP at `/mcp`, with bearer tokens, Host and Origin checks,
//! a body limit, health endpoints and graceful shutdown.
//!
//! The same `LifecycleServer` and guardrails as on stdio. Stateful mode keeps a session per
//! client in this process (needed for inline elicitation by pre-2026 clients); `--stateless`
//! is for replicas behind a load balancer: any replica answers any request (sessions of
//! pre-2026 clients are restored from Redis by whichever replica a request reaches, nothing
//! waits in one process for a client's next request). TLS belongs to a reverse proxy.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use subtle::ConstantTimeEq;
use tokio_util::sync::CancellationToken;

use super::LifecycleServer;
use super::session_store::RedisSessionStore;
use super::sessions::{BoundedSessionManager, SessionLimits, Sessions};
use crate::secret::Secret;

/// Largest request body accepted (an MCP request is a few KB).
const MAX_BODY: usize = 1 << 20;

/// How long a session stays restorable from the shared store (`--stateless` with Redis).
const SESSION_RECORD_TTL: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// A named bearer token. The name, never the token, identifies the caller in the journal.
#[derive(Debug, Clone)]
pub struct Token {
    pub name: String,
    pub secret: Secret,
}

/// Who called, put in the request extensions by the auth layer.
#[derive(Debug, Clone)]
pub struct Principal(pub String);

/// How to serve.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    pub bind: SocketAddr,
    pub stateless: bool,
    pub tokens: Vec<Token>,
    /// Host header values accepted (DNS-rebinding protection) besides the loopback names.
    pub allowed_hosts: Vec<String>,
    /// Origin values accepted from browsers; empty = localhost origins only.
    pub allowed_origins: Vec<String>,
    /// Requests per second each caller may make to `/mcp` (bursts up to twice that).
    pub per_caller_rps: u32,
    /// Bounds of stateful sessions (Streamable HTTP and legacy SSE together).
    pub sessions: SessionLimits,
}

type CallerLimiter = governor::DefaultKeyedRateLimiter<String>;

/// What the auth layer needs: the tokens, one limiter keyed by caller, and which caller opened
/// each stateful session — a session id must not let one token ride on another's session (and
/// its pending inline confirmations).
struct Gatekeeper {
    tokens: Vec<Token>,
    limiter: CallerLimiter,
    sessions: Arc<Sessions>,
    /// With `--stateless` and Redis: where sessions (and who opened them) are kept for every
    /// replica.
    store: Option<Arc<RedisSessionStore>>,
}

impl Gatekeeper {
    /// Whether `caller` may use session `sid`: it opened it (as recorded here, or for a session
    /// another replica opened, in the session store). Unknown sessions pass, for rmcp to answer
    /// 404.
    async fn may_use(&self, sid: &str, caller: &str) -> bool {
        if let Some(owner) = self.sessions.owner(sid) {
            return owner == caller;
        }
        match &self.store {
            Some(store) => match store.owner(sid).await {
                Ok(Some(owner)) => owner == caller,
                Ok(None) => true,
                Err(e) => {
                    tracing::warn!(error = %e, "session store unreadable; refusing the session");
                    false
                }
            },
            None => true,
        }
    }
}

/// The Streamable HTTP session header.
const SESSION_HEADER: &str = "mcp-session-id";

/// Why serving could not start.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error(
        "refusing to listen on {0} without authentication: set ZSCALER_LIFECYCLE_MCP_TOKENS or --tokens-file, or bind 127.0.0.1"
    )]
    OpenWithoutAuth(SocketAddr),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("server stopped: {0}")]
    Serve(std::io::Error),
    #[error("tokens: {0}")]
    Tokens(String),
}

/// Parses `name:token` pairs separated by commas or newlines (`#` starts a comment line).
pub fn parse_tokens(text: &str) -> Result<Vec<Token>, HttpError> {
    let mut out: Vec<Token> = Vec::new();
    for (i, item) in text.split([',', '\n']).enumerate() {
        let item = item.trim();
        if item.is_empty() || item.starts_with('#') {
            continue;
        }
        let (name, secret) = item
            .split_once(':')
            .ok_or_else(|| HttpError::Tokens(format!("entry {} is not name:token", i + 1)))?;
        let (name, secret) = (name.trim(), secret.trim());
        if name.is_empty() || secret.len() < 16 {
            return Err(HttpError::Tokens(format!(
                "entry {} ('{name}'): needs a name and a token of at least 16 characters",
                i + 1
            )));
        }
        if out.iter().any(|t| t.name == name) {
            return Err(HttpError::Tokens(format!(
                "token name '{name}' is used twice"
            )));
        }
        out.push(Token {
            name: name.into(),
            secret: Secret::new(secret),
        });
    }
    Ok(out)
}

/// The token's name if `presented` matches one, compared in constant time against every token.
fn authenticate(tokens: &[Token], presented: &str) -> Option<String> {
    let mut found = None;
    for t in tokens {
        let eq: bool = t
            .secret
            .expose()
            .as_bytes()
            .ct_eq(presented.as_bytes())
            .into();
        if eq {
            found = Some(t.name.clone());
        }
    }
    found
}

async fn require_token(
    State(gate): State<Arc<Gatekeeper>>,
    mut req: Request,
    next: Next,
) -> Response {
    let caller = if gate.tokens.is_empty() {
        Some("anonymous".to_string())
    } else {
        let presented = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(bearer)
            .unwrap_or_default();
        authenticate(&gate.tokens, presented)
    };
    match caller {
        Some(name) => {
            if gate.limiter.check_key(&name).is_err() {
                return (
                    StatusCode::TOO_MANY_REQUESTS,
                    [(header::RETRY_AFTER, "1")],
                    "too many requests from this caller; retry in a second",
                )
                    .into_response();
            }
            let session = req
                .headers()
                .get(SESSION_HEADER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            if let Some(sid) = &session
                && !gate.may_use(sid, &name).await
            {
                tracing::warn!(caller = %name, "refused a request on another caller's session");
                // Same answer as an unknown session: do not confirm that the id exists.
                return (StatusCode::NOT_FOUND, "session not found").into_response();
            }
            let closing = req.method() == axum::http::Method::DELETE;
            if !gate.tokens.is_empty() {
                req.extensions_mut().insert(Principal(name.clone()));
            }
            let mut resp = next.run(req).await;
            match &session {
                None => {
                    if let Some(new_sid) = resp
                        .headers()
                        .get(SESSION_HEADER)
                        .and_then(|v| v.to_str().ok())
                    {
                        gate.sessions.set_owner(new_sid, &name);
                        // Recorded before the client learns the id, so no replica ever
                        // restores the session for another caller.
                        if let Some(store) = &gate.store
                            && let Err(e) = store.set_owner(new_sid, &name).await
                        {
                            tracing::warn!(error = %e, "session owner not stored; other replicas will refuse this session");
                        }
                    }
                }
                // A session restored here from the store: its owner was checked above.
                Some(sid) if !closing => {
                    if gate.sessions.owner(sid).is_none() {
                        gate.sessions.set_owner(sid, &name);
                    }
                }
                Some(_) => {}
            }
            // The session is gone: say so plainly (rmcp answers 202, which clients read as
            // "still in progress").
            if closing && resp.status() == StatusCode::ACCEPTED {
                *resp.status_mut() = StatusCode::NO_CONTENT;
                *resp.body_mut() = axum::body::Body::empty();
            }
            resp
        }
        None => (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "missing or invalid bearer token",
        )
            .into_response(),
    }
}

/// The token of an `Authorization: Bearer …` value; the scheme is case-insensitive (RFC 9110).
fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// A JSON-RPC error as an HTTP answer.
fn jsonrpc_error(
    status: StatusCode,
    id: serde_json::Value,
    code: i32,
    message: impl Into<String>,
) -> Response {
    let body = serde_json::json!({
        "jsonrpc": "2.0",
        "id": id,
        "error": {"code": code, "message": message.into()},
    });
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// What the body check of `POST /mcp` needs.
struct BodyCheck {
    sessions: Arc<Sessions>,
}

/// `POST /mcp` bodies, before rmcp sees them: not JSON → 400 with a JSON-RPC parse error
/// (-32700); a batch (JSON array) → 400 saying batches are not supported (MCP removed them in
/// 2025-06-18); an `initialize` that would open a session past `--max-sessions` → 503.
async fn check_body(State(check): State<Arc<BodyCheck>>, req: Request, next: Next) -> Response {
    if req.method() != axum::http::Method::POST || req.uri().path() != "/mcp" {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => {
            return (
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("request body over {MAX_BODY} bytes"),
            )
                .into_response();
        }
    };
    let message: serde_json::Value = match serde_json::from_slice(&bytes) {
        Ok(v) => v,
        Err(e) => {
            return jsonrpc_error(
                StatusCode::BAD_REQUEST,
                serde_json::Value::Null,
                -32700,
                format!("Parse error: the body is not valid JSON ({e})"),
            );
        }
    };
    if message.is_array() {
        return jsonrpc_error(
            StatusCode::BAD_REQUEST,
            serde_json::Value::Null,
            -32600,
            "Invalid Request: JSON-RPC batches are not supported; send one message per POST",
        );
    }
    if message["method"] == "initialize" && check.sessions.full() {
        let full = super::sessions::Full(check.sessions.limits().max);
        tracing::warn!(
            sessions = check.sessions.count(),
            "refused a new session: {full}"
        );
        let mut resp = jsonrpc_error(
            StatusCode::SERVICE_UNAVAILABLE,
            message["id"].clone(),
            -32000,
            full.to_string(),
        );
        resp.headers_mut().insert(
            header::RETRY_AFTER,
            axum::http::HeaderValue::from_static("5"),
        );
        return resp;
    }
    next.run(Request::from_parts(parts, axum::body::Body::from(bytes)))
        .await
}

/// Legacy SSE under `--stateless`: its session lives in one process, which a load balancer
/// cannot route back to, so it is refused with a message that says why.
async fn legacy_refused() -> Response {
    (
        StatusCode::NOT_IMPLEMENTED,
        "legacy HTTP+SSE (GET /sse, POST /message) is not served with --stateless: its session lives in one server process, which requests spread over replicas cannot reach. Use Streamable HTTP at /mcp, or serve without --stateless.",
    )
        .into_response()
}

/// Host and Origin rules for the legacy SSE routes, which rmcp's service does not cover: the same
/// DNS-rebinding protection as `/mcp`.
struct BrowserGuard {
    /// Accepted Host values (with or without port) besides the loopback names.
    hosts: Vec<String>,
    /// Accepted Origin values; `scheme://host:*` accepts any port.
    origins: Vec<String>,
}

impl BrowserGuard {
    fn host_ok(&self, host: &str) -> bool {
        let bare = host
            .rsplit_once(':')
            .filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit()))
            .map_or(host, |(h, _)| h)
            .trim_start_matches('[')
            .trim_end_matches(']');
        // The loopback names are always accepted; `--allowed-host` adds to them.
        if matches!(bare, "localhost" | "127.0.0.1" | "::1") {
            return true;
        }
        self.hosts
            .iter()
            .any(|h| h.eq_ignore_ascii_case(host) || h.eq_ignore_ascii_case(bare))
    }

    fn origin_ok(&self, origin: &str) -> bool {
        self.origins
            .iter()
            .any(|allowed| match allowed.strip_suffix(":*") {
                Some(prefix) => origin.strip_prefix(prefix).is_some_and(|rest| {
                    rest.is_empty()
                        || (rest.starts_with(':') && rest[1..].chars().all(|c| c.is_ascii_digit()))
                }),
                None => allowed.eq_ignore_ascii_case(origin),
            })
    }
}

async fn check_host_and_origin(
    State(guard): State<Arc<BrowserGuard>>,
    req: Request,
    next: Next,
) -> Response {
    let verdict = {
        let header_str = |name| {
            req.headers()
                .get(name)
                .and_then(|v: &axum::http::HeaderValue| v.to_str().ok())
        };
        if !header_str(header::HOST).is_some_and(|h| guard.host_ok(h)) {
            Some("Host not allowed")
        } else if header_str(header::ORIGIN).is_some_and(|o| !guard.origin_ok(o)) {
            Some("Origin not allowed")
        } else {
            None
        }
    };
    if let Some(why) = verdict {
        return (StatusCode::FORBIDDEN, why).into_response();
    }
    next.run(req).await
}

/// The HTTP application (without the listener), for tests and embedding.
pub fn router(server: LifecycleServer, opts: &HttpOptions, shutdown: CancellationToken) -> Router {
    let mut config = StreamableHttpServerConfig::default()
        .with_max_request_body_bytes(MAX_BODY)
        .with_cancellation_token(shutdown.child_token());
    let mut server = server;
    let mut store = None;
    if opts.stateless {
        // Every replica can answer every request. Pre-2026 clients still get sessions (their
        // protocol has them), kept where every replica finds them when Redis is shared; nothing
        // waits in one process for the client's next request; 2026-07-28 requests carry
        // everything and get one JSON answer.
        server = server.without_inline_elicitation();
        config = config.with_json_response(true);
        if let Some(redis) = server.app().shared.clone() {
            let s = Arc::new(RedisSessionStore::new(redis, SESSION_RECORD_TTL));
            config.session_store = Some(s.clone());
            store = Some(s);
        }
    }
    if !opts.allowed_hosts.is_empty() {
        // Added to rmcp's loopback defaults, never replacing them.
        let mut hosts = config.allowed_hosts.clone();
        hosts.extend(opts.allowed_hosts.iter().cloned());
        config = config.with_allowed_hosts(hosts);
    }
    let origins = if opts.allowed_origins.is_empty() {
        vec![
            "http://localhost:*".to_string(),
            "http://127.0.0.1:*".to_string(),
        ]
    } else {
        opts.allowed_origins.clone()
    };
    let origins_for_legacy = origins.clone();
    config = config.with_allowed_origins(origins);
    let server_for_legacy = server.clone();
    let app_for_ready = server.app().clone();
    let sessions = Sessions::new(opts.sessions);
    let manager = BoundedSessionManager::new(sessions.clone());
    manager.spawn_sweeper(shutdown.clone());
    // Each session (or stateless request) gets session state of its own.
    let mcp = StreamableHttpService::new(move || Ok(server.for_session()), manager, config);
    let rps =
        std::num::NonZeroU32::new(opts.per_caller_rps.max(1)).unwrap_or(std::num::NonZeroU32::MIN);
    let burst =
        std::num::NonZeroU32::new(opts.per_caller_rps.max(1).saturating_mul(2)).unwrap_or(rps);
    let gate = Arc::new(Gatekeeper {
        tokens: opts.tokens.clone(),
        limiter: governor::RateLimiter::keyed(governor::Quota::per_second(rps).allow_burst(burst)),
        sessions: sessions.clone(),
        store,
    });
    let body_check = Arc::new(BodyCheck {
        sessions: sessions.clone(),
    });
    let legacy_routes = if opts.stateless {
        Router::new()
            .route("/sse", get(legacy_refused))
            .route("/message", axum::routing::post(legacy_refused))
    } else {
        let legacy =
            super::legacy_sse::LegacySse::new(server_for_legacy, shutdown, MAX_BODY, sessions);
        let guard = Arc::new(BrowserGuard {
            hosts: opts.allowed_hosts.clone(),
            origins: origins_for_legacy,
        });
        Router::new()
            .route("/sse", get(super::legacy_sse::open))
            .route("/message", axum::routing::post(super::legacy_sse::post))
            .with_state(legacy)
            .layer(middleware::from_fn_with_state(guard, check_host_and_origin))
    };
    Router::new()
        .nest_service("/mcp", mcp)
        .merge(legacy_routes)
        .layer(middleware::from_fn_with_state(body_check, check_body))
        .layer(middleware::from_fn_with_state(gate, require_token))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(move || readyz(app_for_ready.clone())))
        .layer(middleware::from_fn(with_request_id))
}

/// Ready when plans can be stored (the state directory, or Redis, answers); 503 otherwise, so
/// a load balancer stops sending work that would fail at the first destructive call.
async fn readyz(app: std::sync::Arc<crate::ops::App>) -> Response {
    match tokio::task::spawn_blocking(move || app.plans.ready()).await {
        Ok(Ok(())) => (StatusCode::OK, "ready").into_response(),
        Ok(Err(why)) => {
            (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {why}")).into_response()
        }
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "not ready").into_response(),
    }
}

/// The request-id header: taken from a proxy when it sends one, else generated, echoed back.
const REQUEST_ID: &str = "x-request-id";

/// Gives every HTTP request an id, puts it on a tracing span around everything the request
/// does (tool calls, tenant requests, journal writes log inside it) and on the response, so one
/// log line can be followed back to the caller's request.
async fn with_request_id(mut req: Request, next: Next) -> Response {
    use tracing::Instrument;
    let id = req
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 64 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_string)
        .unwrap_or_else(|| {
            use rand::Rng;
            hex::encode(rand::rng().random::<[u8; 8]>())
        });
    let header = axum::http::HeaderValue::from_str(&id).ok();
    if let Some(v) = &header {
        req.headers_mut().insert(REQUEST_ID, v.clone());
    }
    let span = tracing::info_span!(
        "http",
        request_id = %id,
        method = %req.method(),
        path = %req.uri().path()
    );
    let mut resp = next.run(req).instrument(span.clone()).await;
    span.in_scope(|| tracing::debug!(status = resp.status().as_u16(), "answered"));
    if let Some(v) = header {
        resp.headers_mut().insert(REQUEST_ID, v);
    }
    resp
}

/// Serves until `shutdown` is cancelled, finishing in-flight requests.
pub async fn serve(
    server: LifecycleServer,
    opts: HttpOptions,
    shutdown: CancellationToken,
) -> Result<(), HttpError> {
    if !opts.bind.ip().is_loopback() && opts.tokens.is_empty() {
        return Err(HttpError::OpenWithoutAuth(opts.bind));
    }
    if opts.tokens.is_empty() {
        tracing::warn!("no bearer tokens configured: any local process can call this server");
    }
    let listener = tokio::net::TcpListener::bind(opts.bind)
        .await
        .map_err(|source| HttpError::Bind {
            addr: opts.bind,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| HttpError::Bind {
        addr: opts.bind,
        source,
    })?;
    tracing::info!(url = %format!("http://{addr}/mcp"), stateless = opts.stateless, tokens = opts.tokens.len(), "serving MCP over Streamable HTTP");
    let app = router(server, &opts, shutdown.clone());
    // Small answers go out at once: with Nagle's algorithm, a response written in two parts
    // (headers, then an SSE body) waits for the client's delayed ACK, ~40 ms per call.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
    });
    axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
        .map_err(HttpError::Serve)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_parsing_and_matching() {
        let t = parse_tokens("ops:0123456789abcdef, bot:fedcba9876543210\n# comment\n")
            .expect("tokens");
        assert_eq!(t.len(), 2);
        assert_eq!(authenticate(&t, "fedcba9876543210").as_deref(), Some("bot"));
        assert_eq!(authenticate(&t, "fedcba987654321"), None);
        assert_eq!(authenticate(&t, ""), None);
        assert!(parse_tokens("ops:short").is_err());
        assert!(parse_tokens("justatoken0123456789").is_err());
        assert!(parse_tokens("a:0123456789abcdef,a:0123456789abcdeg").is_err());
        assert!(
            !format!("{t:?}").contains("0123456789abcdef"),
            "tokens redacted in Debug"
        );
    }

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        assert_eq!(bearer("Bearer abc"), Some("abc"));
        assert_eq!(bearer("bearer abc"), Some("abc"));
        assert_eq!(bearer("BEARER  abc "), Some("abc"));
        assert_eq!(bearer("Basic abc"), None);
        assert_eq!(bearer("Bearer"), None);
        assert_eq!(bearer("Bearer   "), None);
    }

    #[test]
    fn allowed_hosts_add_to_the_loopback_names() {
        let g = BrowserGuard {
            hosts: vec!["mcp.example.com".into()],
            origins: vec![],
        };
        assert!(g.host_ok("127.0.0.1:8765") && g.host_ok("localhost") && g.host_ok("[::1]:80"));
        assert!(g.host_ok("mcp.example.com") && g.host_ok("mcp.example.com:443"));
        assert!(!g.host_ok("evil.example"));
    }
}
