//! The HTTP surface: the ZIA API under `/api/v1` and the test-only introspection under
//! `/__sim` (which is **not** part of the ZIA API and needs no session).
//!
//! Every handler answers errors in the ZIA shape and never panics on input: bodies, paths and
//! queries are parsed by hand from raw bytes so that no framework rejection leaks through.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::header::{CONTENT_TYPE, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::auth::{self, SESSION_COOKIE, Session};
use super::errors::{ApiError, Code};
use super::faults::{self, Outcome};
use super::limits::{self, Weight};
use super::state::SimState;
use super::store::{self, UserBody};

type Shared = Arc<SimState>;
type ApiResult = Result<Response, ApiError>;

/// Default page size of every list endpoint.
const DEFAULT_PAGE_SIZE: usize = 100;
/// Largest `pageSize` `/users` accepts.
const MAX_USERS_PAGE_SIZE: usize = 10_000;
/// Largest `pageSize` `/groups` and `/departments` accept.
const MAX_OTHER_PAGE_SIZE: usize = 1_000;
/// `POST /users/bulkDelete` silently ignores ids past this many.
const MAX_BULK_DELETE: usize = 500;

/// Route templates of the ZIA API, for the request log (static segments before `{id}`).
const ROUTES: [&str; 10] = [
    "/api/v1/authenticatedSession",
    "/api/v1/status",
    "/api/v1/status/activate",
    "/api/v1/users",
    "/api/v1/users/bulkDelete",
    "/api/v1/users/{id}",
    "/api/v1/groups",
    "/api/v1/groups/{id}",
    "/api/v1/departments",
    "/api/v1/departments/{id}",
];

/// The template a raw path belongs to (`/api/v1/users/70001` → `/api/v1/users/{id}`), or
/// `(unmatched)`. Done by hand because axum's `MatchedPath` needs a feature this crate does
/// not enable.
fn route_template(path: &str) -> &'static str {
    let segs: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    ROUTES
        .iter()
        .find(|t| {
            let tsegs: Vec<&str> = t.split('/').collect();
            tsegs.len() == segs.len()
                && tsegs.iter().zip(&segs).all(|(t, s)| *t == "{id}" || t == s)
        })
        .copied()
        .unwrap_or("(unmatched)")
}

/// Builds the whole router.
pub(crate) fn router(state: Shared) -> Router {
    let zia = Router::new()
        .route(
            "/api/v1/authenticatedSession",
            post(login).get(get_session).delete(logout),
        )
        .route("/api/v1/status", get(status))
        .route("/api/v1/status/activate", post(activate))
        .route("/api/v1/users", get(list_users).post(create_user))
        .route("/api/v1/users/bulkDelete", post(bulk_delete))
        .route(
            "/api/v1/users/{id}",
            get(get_user).put(replace_user).delete(delete_user),
        )
        .route("/api/v1/groups", get(list_groups))
        .route("/api/v1/groups/{id}", get(get_group))
        .route("/api/v1/departments", get(list_departments))
        .route("/api/v1/departments/{id}", get(get_department))
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            record_request,
        ));

    let introspection = Router::new()
        .route("/__sim/users", get(sim_find_users))
        .route("/__sim/users/{id}", get(sim_get_user))
        .route("/__sim/status", get(sim_status))
        .route("/__sim/requests", get(sim_requests))
        .route("/__sim/expire-sessions", post(sim_expire_sessions))
        .route("/__sim/faults", post(sim_faults))
        .route("/__sim/truth/duplicates", get(sim_truth_duplicates))
        .method_not_allowed_fallback(method_not_allowed);

    zia.merge(introspection)
        .merge(super::scim::router())
        .merge(super::oneapi::routes())
        .merge(super::zidentity::router())
        .fallback(not_found)
        .with_state(state)
}

// ---------------------------------------------------------------------------------------------
// Plumbing: logging, bodies, queries, paths.

/// Counts each ZIA API request by route template and status for `/__sim/requests`. Injected
/// faults come first, then the tenant's rate limits (when on), then the handler.
async fn record_request(State(state): State<Shared>, mut req: Request, next: Next) -> Response {
    let template = route_template(req.uri().path());
    let route = format!("{} {template}", req.method());
    let weight = Weight::of(req.method(), template);
    let method = req.method().clone();
    let fault = state.lock().take_fault(&route);
    if fault
        .as_ref()
        .is_some_and(|f| f.kind == super::state::FaultKind::IgnorePaging)
    {
        *req.uri_mut() = faults::without_paging(req.uri());
    }
    let outcome = match &fault {
        Some(f) => faults::play(f, fault_response).await,
        None => Outcome::PassThrough,
    };
    let gate = match outcome {
        Outcome::Answer(r) => Err(r),
        Outcome::Drop(r) => {
            state.lock().log.record_dropped(route);
            return r;
        }
        Outcome::PassThrough | Outcome::Spoil => match (state.lock().limiter.as_mut(), weight) {
            (Some(l), Some(w)) => {
                let style = l.style();
                match l.admit(w, Instant::now()) {
                    Ok(budget) => Ok(Some((style, budget))),
                    Err(r) => Err(limits::too_many_requests(r, style)),
                }
            }
            _ => Ok(None),
        },
    };
    let response = match gate {
        Err(early) => early,
        Ok(budget) => {
            let mut resp = next.run(req).await;
            if let Some((style, b)) = budget {
                limits::decorate(&mut resp, style, b);
            }
            match &fault {
                Some(f) if f.kind.applies_first() => {
                    if f.kind.drops_after_applying() {
                        // Logged now: the write is done, whenever the connection breaks.
                        state.lock().log.record_dropped(route);
                        return faults::spoil(f, resp, fault_response).await;
                    }
                    faults::spoil(f, resp, fault_response).await
                }
                _ => resp,
            }
        }
    };
    let status = response.status().as_u16();
    tracing::debug!(target: "sim", %route, status, "request");
    state.lock().log.record(route, status);
    state.after_request(&method, status);
    response
}

async fn not_found(State(state): State<Shared>, method: Method, uri: axum::http::Uri) -> ApiError {
    state
        .lock()
        .log
        .record(format!("{method} (unmatched)"), 404);
    ApiError::not_found(format!("No resource at {}", uri.path()))
}

async fn method_not_allowed(method: Method) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        Code::InvalidOperation,
        format!("Method {method} is not supported on this resource"),
    )
}

/// 415 unless the request declares `Content-Type: application/json` (parameters allowed).
fn require_json_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let ok = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"));
    if ok {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Code::UnsupportedMediaType,
            "Content-Type must be application/json",
        ))
    }
}

/// The raw body, or 400 if it could not be read (too large, connection error).
fn body_bytes(body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|e| ApiError::invalid(format!("Cannot read request body: {}", e.body_text())))
}

/// Parses a JSON body into `T`; malformed or ill-typed JSON is 400 INVALID_INPUT_ARGUMENT.
fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::invalid("Request body is required"));
    }
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::invalid(format!("Invalid request body: {e}")))
}

/// Query parameters (the last occurrence of a repeated name wins).
fn query_map(q: Option<String>) -> HashMap<String, String> {
    url::form_urlencoded::parse(q.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

/// A non-empty filter parameter.
fn filter<'a>(q: &'a HashMap<String, String>, name: &str) -> Option<&'a str> {
    q.get(name).map(String::as_str).filter(|s| !s.is_empty())
}

/// `page` (1-based) and `pageSize` (1..=max), as (offset, size). Bad values are 400.
fn paging(q: &HashMap<String, String>, max: usize) -> Result<(usize, usize), ApiError> {
    let page = match q.get("page") {
        None => 1,
        Some(p) => p
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|p| *p >= 1)
            .ok_or_else(|| {
                ApiError::invalid(format!("Invalid page '{p}': must be a positive integer"))
            })?,
    };
    let size = match q.get("pageSize") {
        None => DEFAULT_PAGE_SIZE,
        Some(s) => s
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|s| (1..=max).contains(s))
            .ok_or_else(|| {
                ApiError::invalid(format!(
                    "Invalid pageSize '{s}': must be between 1 and {max}"
                ))
            })?,
    };
    Ok(((page - 1).saturating_mul(size), size))
}

/// The numeric `{id}` path segment; anything else is 400.
fn path_id(path: Result<Path<String>, PathRejection>) -> Result<u64, ApiError> {
    let Path(raw) =
        path.map_err(|e| ApiError::invalid(format!("Invalid path: {}", e.body_text())))?;
    raw.parse::<u64>()
        .map_err(|_| ApiError::invalid(format!("Invalid id '{raw}': must be a number")))
}

fn ok_json(v: Value) -> ApiResult {
    Ok(Json(v).into_response())
}

fn page_of<T>(items: impl Iterator<Item = T>, (offset, size): (usize, usize)) -> Vec<T> {
    items.skip(offset).take(size).collect()
}

// ---------------------------------------------------------------------------------------------
// Sessions and activation.

/// The body `GET`/`POST /authenticatedSession` return.
fn session_body() -> Value {
    json!({
        "authType": "ADMIN_LOGIN",
        "obfuscateApiKey": false,
        "passwordExpiryTime": 0,
        "passwordExpiryDays": 0,
        "source": "API"
    })
}

/// `timestamp` as decimal digits: a JSON integer or a string (the two SDKs differ).
fn timestamp_digits(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::Number(n) => n.as_u64().map(|n| n.to_string()),
        Value::String(s) => Some(s.trim().to_string()),
        _ => None,
    }
}

async fn login(
    State(state): State<Shared>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    require_json_content_type(&headers)?;
    let body: Value = parse_json(&body_bytes(body)?)?;
    let field = |name: &str| body.get(name).and_then(Value::as_str);
    let creds = &state.credentials;
    let expected_key = timestamp_digits(body.get("timestamp"))
        .and_then(|ts| auth::obfuscate_api_key(&creds.api_key, &ts));
    // Evaluate every check (no short-circuit) so timing does not hint at which part failed.
    let user_ok = field("username").is_some_and(|u| u.eq_ignore_ascii_case(&creds.username));
    let pass_ok = field("password").is_some_and(|p| auth::constant_time_eq(p, &creds.password));
    let key_ok = match (field("apiKey"), expected_key) {
        (Some(given), Some(expected)) => auth::constant_time_eq(given, &expected),
        _ => false,
    };
    if !(user_ok & pass_ok & key_ok) {
        tracing::info!(target: "sim", "login failed");
        return Err(ApiError::authentication_failed());
    }
    let id = auth::new_session_id();
    let cookie = HeaderValue::from_str(&format!("{SESSION_COOKIE}={id}; Path=/; HttpOnly"))
        .map_err(|_| ApiError::authentication_failed())?;
    state
        .lock()
        .sessions
        .insert(id, Session::new(Instant::now()));
    tracing::info!(target: "sim", "admin session started");
    let mut resp = Json(session_body()).into_response();
    resp.headers_mut().insert(SET_COOKIE, cookie);
    Ok(resp)
}

async fn get_session(State(state): State<Shared>, headers: HeaderMap) -> ApiResult {
    let _ = state.authed(&headers)?;
    ok_json(session_body())
}

async fn logout(State(state): State<Shared>, headers: HeaderMap) -> ApiResult {
    let (mut inner, id) = state.authed(&headers)?;
    inner.end_session(&id);
    tracing::info!(target: "sim", "admin session ended by logout");
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn status_word(pending: bool) -> &'static str {
    if pending { "PENDING" } else { "ACTIVE" }
}

async fn status(State(state): State<Shared>, headers: HeaderMap) -> ApiResult {
    let (inner, _) = state.authed(&headers)?;
    ok_json(json!({ "status": status_word(inner.pending()) }))
}

async fn activate(
    State(state): State<Shared>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let (mut inner, _) = state.authed(&headers)?;
    let bytes = body_bytes(body)?;
    // The Python SDK sends `{}`, Go sends `{"status":"ACTIVE"}`; an empty body is accepted too.
    if !bytes.iter().all(u8::is_ascii_whitespace) {
        require_json_content_type(&headers)?;
        let body: Value = parse_json(&bytes)?;
        if !body.is_object() {
            return Err(ApiError::invalid("Request body must be a JSON object"));
        }
    }
    inner.activate();
    ok_json(json!({ "status": "ACTIVE" }))
}

// ---------------------------------------------------------------------------------------------
// Users.

async fn list_users(
    State(state): State<Shared>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let (inner, _) = state.authed(&headers)?;
    let q = query_map(q);
    let paging = paging(&q, MAX_USERS_PAGE_SIZE)?;
    let (name, dept, group) = (filter(&q, "name"), filter(&q, "dept"), filter(&q, "group"));
    let t = &inner.draft;
    let matches = t
        .users
        .values()
        .filter(|u| t.user_matches(u, name, dept, group));
    let page = page_of(matches, paging).into_iter().map(|u| t.user_json(u));
    ok_json(Value::Array(page.collect()))
}

async fn get_user(
    State(state): State<Shared>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult {
    let (inner, _) = state.authed(&headers)?;
    let id = path_id(path)?;
    let t = &inner.draft;
    let user = t.users.get(&id).ok_or_else(|| user_not_found(id))?;
    let mut out = t.user_json(user);
    if state.zia.zidentity_encoded_get {
        for field in ["name", "email"] {
            if let Some(Value::String(v)) = out.get_mut(field) {
                *v = store::percent_encode(v);
            }
        }
    }
    ok_json(out)
}

fn user_not_found(id: u64) -> ApiError {
    ApiError::not_found(format!("User with id {id} not found"))
}

async fn create_user(
    State(state): State<Shared>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let (mut inner, sid) = state.authed(&headers)?;
    inner.check_edit_lock(&sid, state.zia.edit_lock)?;
    require_json_content_type(&headers)?;
    let body: UserBody = parse_json(&body_bytes(body)?)?;
    let id = inner.next_user_id;
    let user = inner.draft.build_user(id, body, None)?;
    inner.next_user_id += 1;
    let out = inner.draft.user_json(&user);
    inner.draft.users.insert(id, user);
    inner.mark_write(&sid);
    ok_json(out)
}

async fn replace_user(
    State(state): State<Shared>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let (mut inner, sid) = state.authed(&headers)?;
    inner.check_edit_lock(&sid, state.zia.edit_lock)?;
    require_json_content_type(&headers)?;
    let id = path_id(path)?;
    if !inner.draft.users.contains_key(&id) {
        return Err(user_not_found(id));
    }
    let body: UserBody = parse_json(&body_bytes(body)?)?;
    let user = inner.draft.build_user(id, body, Some(id))?;
    let out = inner.draft.user_json(&user);
    inner.draft.users.insert(id, user);
    inner.mark_write(&sid);
    ok_json(out)
}

async fn delete_user(
    State(state): State<Shared>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult {
    let (mut inner, sid) = state.authed(&headers)?;
    inner.check_edit_lock(&sid, state.zia.edit_lock)?;
    let id = path_id(path)?;
    inner
        .draft
        .users
        .remove(&id)
        .ok_or_else(|| user_not_found(id))?;
    inner.mark_write(&sid);
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(serde::Deserialize)]
struct BulkDeleteBody {
    ids: Vec<u64>,
}

async fn bulk_delete(
    State(state): State<Shared>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let (mut inner, sid) = state.authed(&headers)?;
    inner.check_edit_lock(&sid, state.zia.edit_lock)?;
    require_json_content_type(&headers)?;
    let body: BulkDeleteBody = parse_json(&body_bytes(body)?)?;
    let mut deleted = Vec::new();
    for id in body.ids.into_iter().take(MAX_BULK_DELETE) {
        if inner.draft.users.remove(&id).is_some() {
            deleted.push(id);
        }
    }
    if !deleted.is_empty() {
        inner.mark_write(&sid);
    }
    ok_json(json!({ "ids": deleted }))
}

// ---------------------------------------------------------------------------------------------
// Groups and departments (read-only).

async fn list_groups(
    State(state): State<Shared>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let (inner, _) = state.authed(&headers)?;
    let q = query_map(q);
    let paging = paging(&q, MAX_OTHER_PAGE_SIZE)?;
    let search = filter(&q, "search");
    let items = inner
        .draft
        .groups
        .values()
        .filter(|g| search.is_none_or(|s| store::contains_ci(&g.name, s)))
        .map(store::group_json);
    ok_json(Value::Array(page_of(items, paging)))
}

async fn get_group(
    State(state): State<Shared>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult {
    let (inner, _) = state.authed(&headers)?;
    let id = path_id(path)?;
    let g = inner
        .draft
        .groups
        .get(&id)
        .ok_or_else(|| ApiError::not_found(format!("Group with id {id} not found")))?;
    ok_json(store::group_json(g))
}

async fn list_departments(
    State(state): State<Shared>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let (inner, _) = state.authed(&headers)?;
    let q = query_map(q);
    let paging = paging(&q, MAX_OTHER_PAGE_SIZE)?;
    let search = filter(&q, "search");
    let items = inner
        .draft
        .departments
        .values()
        .filter(|d| search.is_none_or(|s| store::contains_ci(&d.name, s)))
        .map(store::department_json);
    ok_json(Value::Array(page_of(items, paging)))
}

async fn get_department(
    State(state): State<Shared>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult {
    let (inner, _) = state.authed(&headers)?;
    let id = path_id(path)?;
    let d = inner
        .draft
        .departments
        .get(&id)
        .ok_or_else(|| ApiError::not_found(format!("Department with id {id} not found")))?;
    ok_json(store::department_json(d))
}

// ---------------------------------------------------------------------------------------------
// Test-only introspection (not ZIA): no session, no request logging.

/// `view=live` selects the live copy; anything else (or nothing) the draft.
fn wants_live(q: &HashMap<String, String>) -> Result<bool, ApiError> {
    match q.get("view").map(String::as_str) {
        None | Some("draft") => Ok(false),
        Some("live") => Ok(true),
        Some(other) => Err(ApiError::invalid(format!(
            "view must be draft or live, not '{other}'"
        ))),
    }
}

async fn sim_get_user(
    State(state): State<Shared>,
    path: Result<Path<String>, PathRejection>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let id = path_id(path)?;
    let live = wants_live(&query_map(q))?;
    let inner = state.lock();
    let t = inner.view(live);
    let user = t.users.get(&id).ok_or_else(|| user_not_found(id))?;
    ok_json(t.user_json(user))
}

async fn sim_find_users(State(state): State<Shared>, RawQuery(q): RawQuery) -> ApiResult {
    let q = query_map(q);
    let live = wants_live(&q)?;
    // Without `email`, every user (a tenant dump for tests and benchmarks).
    let email = q.get("email").cloned();
    let inner = state.lock();
    let t = inner.view(live);
    let users: Vec<Value> = t
        .users
        .values()
        .filter(|u| {
            email
                .as_deref()
                .is_none_or(|e| u.email.eq_ignore_ascii_case(e))
        })
        .map(|u| t.user_json(u))
        .collect();
    ok_json(Value::Array(users))
}

async fn sim_status(State(state): State<Shared>) -> ApiResult {
    let inner = state.lock();
    ok_json(json!({
        "status": status_word(inner.pending()),
        "sessions": inner.sessions.len(),
        "draft_users": inner.draft.users.len(),
        "live_users": inner.live.users.len(),
        "rate_limited": rate_limited_json(&inner),
        "edit_locked": inner.sessions.values().any(|s| s.made_writes),
    }))
}

/// 429s sent by the native rate limits, per weight (`null` when limits are off).
fn rate_limited_json(inner: &super::state::Inner) -> Value {
    inner
        .limiter
        .as_ref()
        .map_or(Value::Null, |l| l.refused_json())
}

async fn sim_requests(State(state): State<Shared>) -> ApiResult {
    let inner = state.lock();
    let mut log = inner.log.to_json();
    log["rate_limited"] = rate_limited_json(&inner);
    ok_json(log)
}

/// The answer an injected fault stands for: ZIA's error shape, optional Retry-After forms.
fn fault_response(f: &super::state::Fault) -> Response {
    if f.body_text.is_some() {
        return super::scim::fault_response(f);
    }
    let status =
        StatusCode::from_u16(f.status.unwrap_or(500)).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut body = json!({
        "code": f.code.clone().unwrap_or_else(|| "UNEXPECTED_ERROR".into()),
        "message": f.message.clone().unwrap_or_else(|| "injected by the simulator".into()),
    });
    if let Some(r) = &f.retry_after_body {
        body["Retry-After"] = json!(r);
    }
    let mut resp = (status, Json(body)).into_response();
    if let Some(h) = f
        .retry_after_header
        .as_deref()
        .and_then(|h| HeaderValue::from_str(h).ok())
    {
        resp.headers_mut()
            .insert(axum::http::header::RETRY_AFTER, h);
    }
    for (name, value) in &f.headers {
        if let (Ok(n), Ok(v)) = (
            axum::http::HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            resp.headers_mut().insert(n, v);
        }
    }
    resp
}

/// `POST /__sim/faults` with one fault object or an array of them.
async fn sim_faults(State(state): State<Shared>, body: Bytes) -> ApiResult {
    let faults: Vec<super::state::Fault> = match serde_json::from_slice::<Value>(&body) {
        Ok(v @ Value::Array(_)) => serde_json::from_value(v),
        Ok(v) => serde_json::from_value(v).map(|f| vec![f]),
        Err(e) => Err(e),
    }
    .map_err(|e| ApiError::invalid(format!("fault spec: {e}")))?;
    let n = faults.len();
    state.lock().faults.extend(faults);
    ok_json(json!({ "queued": n }))
}

/// The scenario's planted duplicate accounts: `{"pairs": [[id, id], ...]}`, the ground truth
/// the audit bench scores `duplicate_identity` against.
async fn sim_truth_duplicates(State(state): State<Shared>) -> ApiResult {
    ok_json(json!({ "pairs": state.duplicates }))
}

async fn sim_expire_sessions(State(state): State<Shared>) -> ApiResult {
    let mut inner = state.lock();
    let n = inner.sessions.len();
    inner.expire_all();
    ok_json(json!({ "expired": n }))
}
