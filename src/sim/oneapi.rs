//! OneAPI in the simulator: a ZIdentity-style token endpoint (`POST /oauth2/v1/token`, OAuth2
//! client credentials with the `https://api.zscaler.com` audience) and the API gateway path
//! `/zia/api/v1/...`, which serves the same ZIA API with `Authorization: Bearer <token>`.
//!
//! A token is an admin session under another name: it idles out like one, and when it ends,
//! its staged writes are activated, as on a real tenant. The gateway rewrites each request to
//! the native route with the session, before routing, so both doors share every rule.

use std::time::Instant;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::{HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::json;

use super::auth::{self, SESSION_COOKIE, Session};
use super::state::SimState;

/// The OneAPI client id the simulator accepts.
pub const ONEAPI_DEMO_CLIENT_ID: &str = "demo-client-id";
/// The OneAPI client secret the simulator accepts.
pub const ONEAPI_DEMO_CLIENT_SECRET: &str = "demo-client-secret";
/// The audience a token must be requested for.
const AUDIENCE: &str = "https://api.zscaler.com";
/// The RFC 7523 client assertion type.
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// The gateway prefix of the ZIA API.
const GATEWAY_PREFIX: &str = "/zia/api/v1/";

type Shared = std::sync::Arc<SimState>;

/// The token endpoint.
pub(crate) fn routes() -> Router<Shared> {
    Router::new().route("/oauth2/v1/token", post(token))
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

async fn token(State(state): State<Shared>, body: Bytes) -> Response {
    let mut grant = None;
    let mut id = None;
    let mut secret = None;
    let mut audience = None;
    let mut assertion_type = None;
    let mut assertion = None;
    for (k, v) in url::form_urlencoded::parse(&body) {
        match k.as_ref() {
            "grant_type" => grant = Some(v.into_owned()),
            "client_id" => id = Some(v.into_owned()),
            "client_secret" => secret = Some(v.into_owned()),
            "audience" => audience = Some(v.into_owned()),
            "client_assertion_type" => assertion_type = Some(v.into_owned()),
            "client_assertion" => assertion = Some(v.into_owned()),
            _ => {}
        }
    }
    if grant.as_deref() != Some("client_credentials") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "only client_credentials is supported",
        );
    }
    let id_ok = id
        .as_deref()
        .is_some_and(|i| auth::constant_time_eq(i, ONEAPI_DEMO_CLIENT_ID));
    let secret_ok = match (&secret, &assertion) {
        (Some(s), None) => auth::constant_time_eq(s, ONEAPI_DEMO_CLIENT_SECRET),
        (None, Some(jwt)) => {
            if assertion_type.as_deref() != Some(JWT_BEARER) {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "client_assertion_type must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                );
            }
            match &state.oneapi_key {
                Some(key) => assertion_ok(jwt, key),
                None => {
                    return oauth_error(
                        StatusCode::UNAUTHORIZED,
                        "invalid_client",
                        "no public key is registered for this client",
                    );
                }
            }
        }
        _ => false,
    };
    if !(id_ok & secret_ok) {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client authentication failed",
        );
    }
    if audience.as_deref() != Some(AUDIENCE) {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "audience must be https://api.zscaler.com",
        );
    }
    let session = auth::new_session_id();
    {
        let mut inner = state.lock();
        inner
            .sessions
            .insert(session.clone(), Session::new(Instant::now()));
        // The same token opens the ZIdentity admin API until it expires.
        inner
            .zid
            .register_token(&session, Instant::now() + state.oneapi_token_lifetime);
    }
    let expires_in = state.oneapi_token_lifetime.as_secs();
    Json(json!({"access_token": session, "token_type": "Bearer", "expires_in": expires_in}))
        .into_response()
}

/// RFC 7523: an RS256 JWT signed by the registered key, `iss` and `sub` the client id,
/// `aud` the OneAPI audience, not expired.
fn assertion_ok(jwt: &str, key: &jsonwebtoken::DecodingKey) -> bool {
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    v.set_audience(&[AUDIENCE]);
    v.set_issuer(&[ONEAPI_DEMO_CLIENT_ID]);
    v.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
    v.sub = Some(ONEAPI_DEMO_CLIENT_ID.to_string());
    match jsonwebtoken::decode::<serde_json::Value>(jwt, key, &v) {
        Ok(_) => true,
        Err(e) => {
            tracing::info!(target: "sim", error = %e, "client assertion refused");
            false
        }
    }
}

/// Rewrites a gateway request (`/zia/api/v1/...` with a bearer token) into the native request
/// (`/api/v1/...` with the session cookie). Anything else passes unchanged. Runs before routing.
pub(crate) fn rewrite(mut req: Request) -> Request {
    let path = req.uri().path();
    let Some(rest) = path.strip_prefix(GATEWAY_PREFIX) else {
        return req;
    };
    let target = match req.uri().query() {
        Some(q) => format!("/api/v1/{rest}?{q}"),
        None => format!("/api/v1/{rest}"),
    };
    let token = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .map(str::to_string);
    if let Ok(uri) = target.parse::<Uri>() {
        *req.uri_mut() = uri;
    }
    let headers = req.headers_mut();
    // The gateway speaks bearer tokens only: never let a cookie through this door.
    headers.remove(COOKIE);
    if let Some(t) = token
        && let Ok(v) = HeaderValue::from_str(&format!("{SESSION_COOKIE}={t}"))
    {
        headers.insert(COOKIE, v);
    }
    req
}
