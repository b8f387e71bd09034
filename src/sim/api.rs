//! The HTTP routes: the ZIA API under `/api/v1`, test introspection under `/__sim`.

use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{MatchedPath, Path, Query, Request, State as AxState};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use rand::RngCore;
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::{cookie_session, expected_key};
use super::store::{ApiError, Tenant};
use super::{Session, Shared, State, lock};

type Reply = Result<Response, ApiError>;

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (
            status,
            axum::Json(json!({"code": self.code, "message": self.message})),
        )
            .into_response()
    }
}

fn ok(v: Value) -> Reply {
    Ok(axum::Json(v).into_response())
}

pub fn router(state: Shared) -> Router {
    let api = Router::new()
        .route(
            "/api/v1/authenticatedSession",
            post(login).get(session_info).delete(logout),
        )
        .route("/api/v1/users", get(list_users).post(create_user))
        .route("/api/v1/users/bulkDelete", post(bulk_delete))
        .route(
            "/api/v1/users/{id}",
            get(get_user).put(put_user).delete(delete_user),
        )
        .route("/api/v1/groups", get(list_groups))
        .route("/api/v1/groups/{id}", get(get_group))
        .route("/api/v1/departments", get(list_departments))
        .route("/api/v1/departments/{id}", get(get_department))
        .route("/api/v1/status", get(status))
        .route("/api/v1/status/activate", post(activate))
        .route("/__sim/users", get(sim_users))
        .route("/__sim/users/{id}", get(sim_user))
        .route("/__sim/status", get(sim_status))
        .route("/__sim/requests", get(sim_requests))
        .route("/__sim/expire-sessions", post(sim_expire))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            count_requests,
        ));
    api.fallback(|| async { ApiError::not_found("no such API endpoint") })
        .with_state(state)
}

/// Request log by route template and status, for "N calls, zero 429s" assertions.
async fn count_requests(AxState(state): AxState<Shared>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| format!("{} {}", req.method(), p.as_str()))
        .unwrap_or_else(|| format!("{} ?", req.method()));
    let resp = next.run(req).await;
    if !route.contains("/__sim/") {
        let mut s = lock(&state);
        *s.requests_by_route.entry(route).or_default() += 1;
        *s.requests_by_status
            .entry(resp.status().as_u16().to_string())
            .or_default() += 1;
    }
    resp
}

/// Checks the session cookie and refreshes its idle timer; returns the session id.
fn authenticate(s: &mut State, headers: &HeaderMap) -> Result<String, ApiError> {
    let now = Instant::now();
    s.expire_idle(now);
    let id = headers
        .get(header::COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(cookie_session)
        .ok_or_else(|| ApiError::new(401, "SESSION_NOT_VALID", "Session is not valid"))?;
    let session = s
        .sessions
        .get_mut(&id)
        .ok_or_else(|| ApiError::new(401, "SESSION_NOT_VALID", "Session is not valid"))?;
    session.last_seen = now;
    Ok(id)
}

fn wrote(s: &mut State, session: &str) {
    if let Some(x) = s.sessions.get_mut(session) {
        x.wrote = true;
    }
}

/// POST/PUT bodies must be JSON, as on the real API (415 otherwise).
fn json_body(headers: &HeaderMap, body: &Bytes) -> Result<Value, ApiError> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("application/json"));
    if !is_json {
        return Err(ApiError::new(
            415,
            "UNSUPPORTED_MEDIA_TYPE",
            "Content-Type must be application/json",
        ));
    }
    if body.is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_slice(body).map_err(|e| ApiError::invalid(format!("malformed JSON: {e}")))
}

fn parse_id(raw: &str) -> Result<i64, ApiError> {
    raw.parse()
        .map_err(|_| ApiError::invalid(format!("invalid id {raw}")))
}

async fn login(AxState(state): AxState<Shared>, headers: HeaderMap, body: Bytes) -> Reply {
    let body = json_body(&headers, &body)?;
    let timestamp = match body.get("timestamp") {
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::String(s)) => s.trim().to_string(),
        _ => String::new(),
    };
    let field = |k: &str| {
        body.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let mut s = lock(&state);
    let creds = &s.credentials;
    let key_ok = expected_key(&creds.api_key, &timestamp).is_some_and(|k| k == field("apiKey"));
    if !key_ok || field("username") != creds.username || field("password") != creds.password {
        return Err(ApiError::new(
            401,
            "AUTHENTICATION_FAILED",
            "Invalid credentials or API key",
        ));
    }
    let mut raw = [0u8; 16];
    rand::rng().fill_bytes(&mut raw);
    let id = hex::encode(raw);
    s.sessions.insert(
        id.clone(),
        Session {
            last_seen: Instant::now(),
            wrote: false,
        },
    );
    let mut resp = axum::Json(session_object()).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("JSESSIONID={id}; Path=/; HttpOnly")) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(resp)
}

fn session_object() -> Value {
    json!({"authType": "ADMIN_LOGIN", "obfuscateApiKey": false, "passwordExpiryTime": 0, "passwordExpiryDays": 0, "source": "API"})
}

async fn session_info(AxState(state): AxState<Shared>, headers: HeaderMap) -> Reply {
    authenticate(&mut lock(&state), &headers)?;
    ok(session_object())
}

async fn logout(AxState(state): AxState<Shared>, headers: HeaderMap) -> Reply {
    let mut s = lock(&state);
    let id = authenticate(&mut s, &headers)?;
    s.end_session(&id);
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct ListQuery {
    page: Option<String>,
    page_size: Option<String>,
    name: Option<String>,
    dept: Option<String>,
    group: Option<String>,
    search: Option<String>,
}

fn paging(q: &ListQuery, max: usize) -> Result<(usize, usize), ApiError> {
    let page = match &q.page {
        Some(p) => p
            .parse::<usize>()
            .ok()
            .filter(|p| *p >= 1)
            .ok_or_else(|| ApiError::invalid("page must be a positive integer"))?,
        None => 1,
    };
    let size = match &q.page_size {
        Some(p) => p
            .parse::<usize>()
            .ok()
            .filter(|p| *p >= 1)
            .ok_or_else(|| ApiError::invalid("pageSize must be a positive integer"))?,
        None => 100,
    };
    if size > max {
        return Err(ApiError::invalid(format!("pageSize must not exceed {max}")));
    }
    Ok((page, size))
}

fn page_of<T>(items: Vec<T>, page: usize, size: usize) -> Vec<T> {
    items
        .into_iter()
        .skip((page - 1).saturating_mul(size))
        .take(size)
        .collect()
}

fn starts_ci(text: &str, prefix: &str) -> bool {
    text.to_lowercase().starts_with(&prefix.to_lowercase())
}

async fn list_users(
    AxState(state): AxState<Shared>,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> Reply {
    let mut s = lock(&state);
    authenticate(&mut s, &headers)?;
    let (page, size) = paging(&q, 10_000)?;
    let t = &s.draft;
    let matching: Vec<Value> = t
        .users
        .values()
        .filter(|u| q.name.as_deref().is_none_or(|p| starts_ci(&u.name, p)))
        .filter(|u| {
            q.dept.as_deref().is_none_or(|p| {
                u.department
                    .and_then(|d| t.departments.get(&d))
                    .is_some_and(|d| starts_ci(&d.name, p))
            })
        })
        .filter(|u| {
            q.group.as_deref().is_none_or(|p| {
                u.groups
                    .iter()
                    .filter_map(|g| t.groups.get(g))
                    .any(|g| starts_ci(&g.name, p))
            })
        })
        .map(|u| t.user_json(u))
        .collect();
    ok(Value::Array(page_of(matching, page, size)))
}

async fn get_user(
    AxState(state): AxState<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Reply {
    let mut s = lock(&state);
    authenticate(&mut s, &headers)?;
    let id = parse_id(&id)?;
    let t = &s.draft;
    let u = t
        .users
        .get(&id)
        .ok_or_else(|| ApiError::not_found(format!("user {id} not found")))?;
    ok(t.user_json(u))
}

async fn create_user(AxState(state): AxState<Shared>, headers: HeaderMap, body: Bytes) -> Reply {
    let mut s = lock(&state);
    let session = authenticate(&mut s, &headers)?;
    let body = json_body(&headers, &body)?;
    let mut user = s.draft.validate(&body, None)?;
    user.id = s.next_user_id;
    s.next_user_id += 1;
    let v = s.draft.user_json(&user);
    s.draft.users.insert(user.id, user);
    wrote(&mut s, &session);
    ok(v)
}

async fn put_user(
    AxState(state): AxState<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Reply {
    let mut s = lock(&state);
    let session = authenticate(&mut s, &headers)?;
    let id = parse_id(&id)?;
    let body = json_body(&headers, &body)?;
    if !s.draft.users.contains_key(&id) {
        return Err(ApiError::not_found(format!("user {id} not found")));
    }
    // Full replace: whatever the body omits is cleared.
    let user = s.draft.validate(&body, Some(id))?;
    let v = s.draft.user_json(&user);
    s.draft.users.insert(id, user);
    wrote(&mut s, &session);
    ok(v)
}

async fn delete_user(
    AxState(state): AxState<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Reply {
    let mut s = lock(&state);
    let session = authenticate(&mut s, &headers)?;
    let id = parse_id(&id)?;
    if s.draft.users.remove(&id).is_none() {
        return Err(ApiError::not_found(format!("user {id} not found")));
    }
    wrote(&mut s, &session);
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn bulk_delete(AxState(state): AxState<Shared>, headers: HeaderMap, body: Bytes) -> Reply {
    let mut s = lock(&state);
    let session = authenticate(&mut s, &headers)?;
    let body = json_body(&headers, &body)?;
    let ids = body
        .get("ids")
        .and_then(Value::as_array)
        .ok_or_else(|| ApiError::invalid("ids must be an array"))?;
    // The real API silently ignores everything after the first 500 ids.
    let mut deleted = Vec::new();
    for v in ids.iter().take(500) {
        let id = match v {
            Value::Number(n) => n.as_i64(),
            Value::String(x) => x.parse().ok(),
            _ => None,
        };
        if let Some(id) = id
            && s.draft.users.remove(&id).is_some()
        {
            deleted.push(id);
        }
    }
    if !deleted.is_empty() {
        wrote(&mut s, &session);
    }
    ok(json!({"ids": deleted}))
}

fn contains_ci(text: &str, needle: &str) -> bool {
    text.to_lowercase().contains(&needle.to_lowercase())
}

async fn list_groups(
    AxState(state): AxState<Shared>,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> Reply {
    let mut s = lock(&state);
    authenticate(&mut s, &headers)?;
    let (page, size) = paging(&q, 1_000)?;
    let all: Vec<Value> = s
        .draft
        .groups
        .values()
        .filter(|g| q.search.as_deref().is_none_or(|n| contains_ci(&g.name, n)))
        .map(|g| json!({"id": g.id, "name": g.name, "idpId": 0, "comments": "", "isSystemDefined": false}))
        .collect();
    ok(Value::Array(page_of(all, page, size)))
}

async fn get_group(
    AxState(state): AxState<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Reply {
    let mut s = lock(&state);
    authenticate(&mut s, &headers)?;
    let id = parse_id(&id)?;
    let g = s
        .draft
        .groups
        .get(&id)
        .ok_or_else(|| ApiError::not_found(format!("group {id} not found")))?;
    ok(json!({"id": g.id, "name": g.name, "idpId": 0, "comments": "", "isSystemDefined": false}))
}

async fn list_departments(
    AxState(state): AxState<Shared>,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> Reply {
    let mut s = lock(&state);
    authenticate(&mut s, &headers)?;
    let (page, size) = paging(&q, 1_000)?;
    let all: Vec<Value> = s
        .draft
        .departments
        .values()
        .filter(|d| q.search.as_deref().is_none_or(|n| contains_ci(&d.name, n)))
        .map(|d| json!({"id": d.id, "name": d.name, "idpId": 0, "comments": "", "deleted": false}))
        .collect();
    ok(Value::Array(page_of(all, page, size)))
}

async fn get_department(
    AxState(state): AxState<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Reply {
    let mut s = lock(&state);
    authenticate(&mut s, &headers)?;
    let id = parse_id(&id)?;
    let d = s
        .draft
        .departments
        .get(&id)
        .ok_or_else(|| ApiError::not_found(format!("department {id} not found")))?;
    ok(json!({"id": d.id, "name": d.name, "idpId": 0, "comments": "", "deleted": false}))
}

fn status_word(s: &State) -> &'static str {
    if s.draft == s.live {
        "ACTIVE"
    } else {
        "PENDING"
    }
}

async fn status(AxState(state): AxState<Shared>, headers: HeaderMap) -> Reply {
    let mut s = lock(&state);
    authenticate(&mut s, &headers)?;
    ok(json!({"status": status_word(&s)}))
}

async fn activate(AxState(state): AxState<Shared>, headers: HeaderMap) -> Reply {
    let mut s = lock(&state);
    authenticate(&mut s, &headers)?;
    s.live = s.draft.clone();
    ok(json!({"status": "ACTIVE"}))
}

#[derive(Debug, Deserialize, Default)]
struct SimQuery {
    view: Option<String>,
    email: Option<String>,
}

fn view<'a>(s: &'a State, q: &SimQuery) -> &'a Tenant {
    if q.view.as_deref() == Some("live") {
        &s.live
    } else {
        &s.draft
    }
}

async fn sim_users(AxState(state): AxState<Shared>, Query(q): Query<SimQuery>) -> Reply {
    let s = lock(&state);
    let t = view(&s, &q);
    let users: Vec<Value> = t
        .users
        .values()
        .filter(|u| {
            q.email
                .as_deref()
                .is_none_or(|e| u.email.eq_ignore_ascii_case(e))
        })
        .map(|u| t.user_json(u))
        .collect();
    ok(Value::Array(users))
}

async fn sim_user(
    AxState(state): AxState<Shared>,
    Path(id): Path<String>,
    Query(q): Query<SimQuery>,
) -> Reply {
    let s = lock(&state);
    let id = parse_id(&id)?;
    let t = view(&s, &q);
    let u = t
        .users
        .get(&id)
        .ok_or_else(|| ApiError::not_found(format!("user {id} not found")))?;
    ok(t.user_json(u))
}

async fn sim_status(AxState(state): AxState<Shared>) -> Reply {
    let mut s = lock(&state);
    s.expire_idle(Instant::now());
    ok(json!({
        "status": status_word(&s),
        "sessions": s.sessions.len(),
        "draft_users": s.draft.users.len(),
        "live_users": s.live.users.len(),
    }))
}

async fn sim_requests(AxState(state): AxState<Shared>) -> Reply {
    let s = lock(&state);
    let total: u64 = s.requests_by_route.values().sum();
    ok(json!({"total": total, "by_route": s.requests_by_route, "by_status": s.requests_by_status}))
}

async fn sim_expire(AxState(state): AxState<Shared>) -> Reply {
    let mut s = lock(&state);
    let ids: Vec<String> = s.sessions.keys().cloned().collect();
    for id in &ids {
        s.end_session(id);
    }
    ok(json!({"expired": ids.len()}))
}
