//! The ZIdentity HTTP surface: one catch-all route per path prefix, dispatched by hand so that
//! every answer (including 404/405 and unreadable bodies) is a ZIdentity-shaped error.
//!
//! Order of checks for each request: injected fault, rate limit (429), bearer token (401), body,
//! then the handler. Each request is counted in the request log under `METHOD
//! /admin/api/v1/users/{id}`-style templates (whichever prefix it came through), the same strings
//! faults are keyed by.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::{RawQuery, Request, State};
use axum::http::header::{AUTHORIZATION, HOST, RETRY_AFTER};
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use serde_json::{Map, Value, json};

use super::limits::{Admission, ZidLimits};
use super::model::{IdName, ZidDirectory, ZidUser, admin_entitlements_json, group_json, user_json};
use super::{ZIDENTITY_BASE_PATH, ZIDENTITY_GATEWAY_PATH};
use crate::sim::faults::{self, Outcome};
use crate::sim::state::{Fault, SimState};

type Shared = Arc<SimState>;

/// Largest request body accepted (the doc lists 413 for larger ones).
const MAX_BODY: usize = 1 << 20;
/// `limit` when none is given, and its maximum (go `common.go`; the help pages).
const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1000;
/// Most groups one user may be in: the ranges page says 1,000 (the adding-users page 1,024;
/// the stricter one is enforced).
const MAX_GROUPS_PER_USER: usize = 1000;

/// The ZIdentity routes (both prefixes) plus the introspection under `/__sim/zidentity`.
pub(crate) fn router() -> Router<Shared> {
    let h = |State(s): State<Shared>, req: Request| entry(s, req);
    let mut r = Router::new();
    for prefix in [ZIDENTITY_BASE_PATH, ZIDENTITY_GATEWAY_PATH] {
        r = r
            .route(prefix, any(h))
            .route(&format!("{prefix}/{{*rest}}"), any(h));
    }
    r.route("/__sim/zidentity/users", get(sim_users))
        .route("/__sim/zidentity/status", get(sim_status))
        .route("/__sim/zidentity/expire-tokens", post(sim_expire_tokens))
}

/// A failed request: its status and a `{"code","message"}` body (no ZIdentity error body is
/// recorded; both SDKs' parsers read these two fields).
#[derive(Debug)]
pub(crate) struct ZidError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ZidError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }
    fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "INVALID_INPUT", message)
    }
    fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "RESOURCE_NOT_FOUND", message)
    }
    fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "CONFLICT", message)
    }
}

impl IntoResponse for ZidError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(json!({"code": self.code, "message": self.message})),
        )
            .into_response()
    }
}

type ZidResult = Result<Response, ZidError>;

/// What a path below the prefix names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Endpoint<'a> {
    Users,
    User(&'a str),
    UserGroups(&'a str),
    UserAdminEntitlements(&'a str),
    Groups,
    Group(&'a str),
    GroupUsers(&'a str),
    GroupUser(&'a str, &'a str),
    Unknown,
}

/// The endpoint and its route-template suffix for a path below the prefix.
fn endpoint(rest: &str) -> (Endpoint<'_>, &'static str) {
    let segs: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    match segs.as_slice() {
        ["users"] => (Endpoint::Users, "/users"),
        ["users", id] => (Endpoint::User(id), "/users/{id}"),
        ["users", id, "groups"] => (Endpoint::UserGroups(id), "/users/{id}/groups"),
        ["users", id, "admin-entitlements"] => (
            Endpoint::UserAdminEntitlements(id),
            "/users/{id}/admin-entitlements",
        ),
        ["groups"] => (Endpoint::Groups, "/groups"),
        ["groups", id] => (Endpoint::Group(id), "/groups/{id}"),
        ["groups", id, "users"] => (Endpoint::GroupUsers(id), "/groups/{id}/users"),
        ["groups", g, "users", u] => (Endpoint::GroupUser(g, u), "/groups/{id}/users/{userId}"),
        _ => (Endpoint::Unknown, "/(unmatched)"),
    }
}

async fn entry(state: Shared, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_string();
    let (gateway, rest) = match path.strip_prefix(ZIDENTITY_GATEWAY_PATH) {
        Some(r) => (true, r),
        None => (false, path.strip_prefix(ZIDENTITY_BASE_PATH).unwrap_or("")),
    };
    let (ep, suffix) = endpoint(rest);
    let route = format!("{} {ZIDENTITY_BASE_PATH}{suffix}", parts.method);
    let fault = state.lock().take_fault(&route);
    let outcome = match &fault {
        Some(f) => faults::play(f, fault_response).await,
        None => Outcome::PassThrough,
    };
    let resp = match outcome {
        Outcome::Answer(r) => r,
        Outcome::Drop(r) => {
            state.lock().log.record_dropped(route);
            return r;
        }
        Outcome::PassThrough | Outcome::Spoil => {
            let admission = {
                let mut inner = state.lock();
                inner
                    .zid
                    .limiter
                    .as_mut()
                    .map(|l| (l.limits, l.admit(Instant::now())))
            };
            match admission {
                Some((limits, Admission::Refused { retry_after_secs })) => {
                    too_many_requests(limits, retry_after_secs)
                }
                other => {
                    let mut resp = match handle(&state, &parts, ep, rest, gateway, body).await {
                        Ok(r) => r,
                        Err(e) => e.into_response(),
                    };
                    if let Some((
                        limits,
                        Admission::Admitted {
                            remaining,
                            reset_secs,
                        },
                    )) = other
                    {
                        rate_headers(&mut resp, limits, remaining, reset_secs);
                    }
                    // An `apply_then_*` fault: the write happened; its answer is lost or spoiled.
                    match &fault {
                        Some(f) if f.kind.applies_first() => {
                            if f.kind.drops_after_applying() {
                                state.lock().log.record_dropped(route);
                                return faults::spoil(f, resp, fault_response).await;
                            }
                            faults::spoil(f, resp, fault_response).await
                        }
                        _ => resp,
                    }
                }
            }
        }
    };
    let status = resp.status().as_u16();
    tracing::debug!(target: "sim", %route, status, "zidentity request");
    state.lock().log.record(route, status);
    state.after_request(&parts.method, status);
    resp
}

fn set_header(resp: &mut Response, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        resp.headers_mut().insert(HeaderName::from_static(name), v);
    }
}

fn rate_headers(resp: &mut Response, limits: ZidLimits, remaining: u32, reset: u64) {
    set_header(resp, "x-ratelimit-limit", &limits.header());
    set_header(resp, "x-ratelimit-remaining", &remaining.to_string());
    set_header(resp, "x-ratelimit-reset", &reset.to_string());
}

fn too_many_requests(limits: ZidLimits, retry_after: u64) -> Response {
    let mut resp = ZidError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "TOO_MANY_REQUESTS",
        format!("Rate limit exceeded; retry after {retry_after} s"),
    )
    .into_response();
    if let Ok(v) = HeaderValue::from_str(&retry_after.to_string()) {
        resp.headers_mut().insert(RETRY_AFTER, v);
    }
    rate_headers(&mut resp, limits, 0, retry_after);
    resp
}

/// The answer an injected fault stands for: its status with a ZIdentity error body (or its raw
/// `body_text`), plus its `Retry-After` and other headers.
fn fault_response(f: &Fault) -> Response {
    let status =
        StatusCode::from_u16(f.status.unwrap_or(500)).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = match &f.body_text {
        Some(text) => (status, text.clone()).into_response(),
        None => (
            status,
            Json(json!({
                "code": f.code.clone().unwrap_or_else(|| "UNEXPECTED_ERROR".into()),
                "message": f.message.clone().unwrap_or_else(|| "injected by the simulator".into()),
            })),
        )
            .into_response(),
    };
    if let Some(v) = f
        .retry_after_header
        .as_deref()
        .and_then(|h| HeaderValue::from_str(h).ok())
    {
        resp.headers_mut().insert(RETRY_AFTER, v);
    }
    for (name, value) in &f.headers {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            resp.headers_mut().insert(n, v);
        }
    }
    resp
}

/// The bearer token of the request, if it is one the token endpoint issued and still valid.
fn check_token(state: &SimState, parts: &Parts) -> Result<(), ZidError> {
    let token = parts
        .headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let Some(token) = token else {
        return Err(ZidError::new(
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
            "No access token: send Authorization: Bearer <token> from the OneAPI token endpoint",
        ));
    };
    if state.lock().zid.token_valid(token, Instant::now()) {
        Ok(())
    } else {
        Err(ZidError::new(
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
            "The access token is invalid or expired",
        ))
    }
}

async fn handle(
    state: &SimState,
    parts: &Parts,
    ep: Endpoint<'_>,
    rest: &str,
    gateway: bool,
    body: Body,
) -> ZidResult {
    check_token(state, parts)?;
    let bytes = axum::body::to_bytes(body, MAX_BODY).await.map_err(|_| {
        ZidError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
            format!("The request body is over {MAX_BODY} bytes"),
        )
    })?;
    let query = Query::parse(parts.uri.query());
    let link = LinkBase {
        host: parts
            .headers
            .get(HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("localhost")
            .to_string(),
        path: format!("{ZIDENTITY_BASE_PATH}{rest}"),
        raw_query: parts.uri.query().unwrap_or("").to_string(),
        gateway,
    };
    let method = parts.method.clone();
    let mut inner = state.lock();
    let d = &mut inner.zid.dir;
    match (method, ep) {
        (Method::GET, Endpoint::Users) => {
            let page = query.paging()?;
            let users: Vec<&ZidUser> = d.users.values().filter(|u| query.user_matches(u)).collect();
            Ok(envelope(users.into_iter().map(user_json), page, &link))
        }
        (Method::POST, Endpoint::Users) => {
            let body = json_object(&bytes)?;
            let user = user_from_body(d, &body, None)?;
            let out = user_json(&user);
            d.users.insert(user.id.clone(), user);
            Ok((StatusCode::CREATED, Json(out)).into_response())
        }
        (Method::GET, Endpoint::User(id)) => Ok(Json(user_json(user(d, id)?)).into_response()),
        (Method::PUT, Endpoint::User(id)) => {
            user(d, id)?;
            let body = json_object(&bytes)?;
            let updated = user_from_body(d, &body, Some(id))?;
            let out = user_json(&updated);
            d.users.insert(id.to_string(), updated);
            Ok(Json(out).into_response())
        }
        (Method::DELETE, Endpoint::User(id)) => {
            d.users.remove(id).ok_or_else(|| user_not_found(id))?;
            for g in d.groups.values_mut() {
                g.members.remove(id);
            }
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        (Method::GET, Endpoint::UserGroups(id)) => {
            user(d, id)?;
            let page = query.paging()?;
            Ok(envelope(d.groups_of(id).map(group_json), page, &link))
        }
        (Method::GET, Endpoint::UserAdminEntitlements(id)) => {
            Ok(Json(admin_entitlements_json(user(d, id)?)).into_response())
        }
        (Method::GET, Endpoint::Groups) => {
            let page = query.paging()?;
            let groups = d.groups.values().filter(|g| query.group_matches(g));
            Ok(envelope(groups.map(group_json), page, &link))
        }
        (Method::GET, Endpoint::Group(id)) => Ok(Json(group_json(
            d.groups.get(id).ok_or_else(|| group_not_found(id))?,
        ))
        .into_response()),
        (Method::GET, Endpoint::GroupUsers(id)) => {
            let g = d.groups.get(id).ok_or_else(|| group_not_found(id))?;
            let page = query.paging()?;
            let users = g
                .members
                .iter()
                .filter_map(|m| d.users.get(m))
                .filter(|u| query.user_matches(u));
            Ok(envelope(users.map(user_json), page, &link))
        }
        (m @ (Method::POST | Method::PUT), Endpoint::GroupUsers(id)) => {
            let ids = member_list(&bytes)?;
            change_members(d, id, &ids, m == Method::PUT)?;
            Ok(Json(json!({})).into_response())
        }
        (Method::POST, Endpoint::GroupUser(gid, uid)) => {
            change_members(d, gid, &[uid.to_string()], false)?;
            Ok(Json(json!({})).into_response())
        }
        (Method::DELETE, Endpoint::GroupUser(gid, uid)) => {
            let g = d.groups.get_mut(gid).ok_or_else(|| group_not_found(gid))?;
            if g.dynamic {
                return Err(dynamic_group(&g.name));
            }
            if !g.members.remove(uid) {
                return Err(ZidError::not_found(format!(
                    "User {uid} is not a member of group {gid}"
                )));
            }
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        (_, Endpoint::Unknown) => Err(ZidError::not_found(format!(
            "No resource at {ZIDENTITY_BASE_PATH}{rest}"
        ))),
        (m, _) => Err(ZidError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "METHOD_NOT_ALLOWED",
            format!("Method {m} is not supported on this resource"),
        )),
    }
}

fn user_not_found(id: &str) -> ZidError {
    ZidError::not_found(format!("User {id} not found"))
}

fn group_not_found(id: &str) -> ZidError {
    ZidError::not_found(format!("Group {id} not found"))
}

fn dynamic_group(name: &str) -> ZidError {
    ZidError::invalid(format!(
        "Group {name} is dynamic: its members follow its rules and cannot be changed one by one"
    ))
}

fn user<'a>(d: &'a ZidDirectory, id: &str) -> Result<&'a ZidUser, ZidError> {
    d.users.get(id).ok_or_else(|| user_not_found(id))
}

fn json_object(bytes: &[u8]) -> Result<Map<String, Value>, ZidError> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(o)) => Ok(o),
        Ok(_) => Err(ZidError::invalid("The request body must be a JSON object")),
        Err(e) => Err(ZidError::invalid(format!("Invalid request body: {e}"))),
    }
}

/// `[{"id": "..."}, ...]`, the body of `POST|PUT /groups/{id}/users`.
fn member_list(bytes: &[u8]) -> Result<Vec<String>, ZidError> {
    let v: Value = serde_json::from_slice(bytes)
        .map_err(|e| ZidError::invalid(format!("Invalid request body: {e}")))?;
    let Value::Array(items) = v else {
        return Err(ZidError::invalid(
            "The request body must be a JSON array of {\"id\": \"<userId>\"}",
        ));
    };
    items
        .iter()
        .map(|i| {
            i.get("id")
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| ZidError::invalid("Each member must be {\"id\": \"<userId>\"}"))
        })
        .collect()
}

/// Adds `ids` to group `gid` (or makes them its only members with `replace`). All or nothing:
/// an unknown user, a dynamic group or a user over the group cap changes nothing.
fn change_members(
    d: &mut ZidDirectory,
    gid: &str,
    ids: &[String],
    replace: bool,
) -> Result<(), ZidError> {
    let g = d.groups.get(gid).ok_or_else(|| group_not_found(gid))?;
    if g.dynamic {
        return Err(dynamic_group(&g.name));
    }
    for id in ids {
        if !d.users.contains_key(id) {
            return Err(ZidError::invalid(format!("User {id} does not exist")));
        }
        let already = g.members.contains(id);
        if !already && d.groups_of(id).count() >= MAX_GROUPS_PER_USER {
            return Err(ZidError::invalid(format!(
                "User {id} is already in {MAX_GROUPS_PER_USER} groups, the most a user may be in"
            )));
        }
    }
    let g = d.groups.get_mut(gid).ok_or_else(|| group_not_found(gid))?;
    if replace {
        g.members = ids.iter().cloned().collect::<BTreeSet<_>>();
    } else {
        g.members.extend(ids.iter().cloned());
    }
    Ok(())
}

fn opt_string(body: &Map<String, Value>, key: &str) -> Result<Option<String>, ZidError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim().to_string())),
        Some(_) => Err(ZidError::invalid(format!("{key} must be a string"))),
    }
}

fn required(body: &Map<String, Value>, key: &str) -> Result<String, ZidError> {
    opt_string(body, key)?.ok_or_else(|| ZidError::invalid(format!("{key} is required")))
}

fn valid_email(s: &str) -> bool {
    let mut parts = s.split('@');
    matches!(
        (parts.next(), parts.next(), parts.next()),
        (Some(local), Some(domain), None)
            if !local.is_empty() && domain.contains('.') && !domain.starts_with('.')
                && !domain.ends_with('.') && !s.chars().any(char::is_whitespace)
    )
}

/// A user built from a create (`existing` = None) or replace (`PUT`) body, validated as the
/// adding-users page says: the login name is an email, unique, in one of the organisation's
/// domains. On replace, the server keeps `id`, `source`, `idp` and the admin roles; every other
/// field is taken from the body (absent optional fields are cleared).
fn user_from_body(
    d: &mut ZidDirectory,
    body: &Map<String, Value>,
    existing: Option<&str>,
) -> Result<ZidUser, ZidError> {
    let login = required(body, "loginName")?;
    if !valid_email(&login) {
        return Err(ZidError::invalid(format!(
            "loginName {login:?} must be in email format"
        )));
    }
    let domain = login.rsplit('@').next().unwrap_or("").to_ascii_lowercase();
    let kept = existing.and_then(|id| d.users.get(id)).cloned();
    let domain_changed = kept.as_ref().is_none_or(|k| {
        !k.login_name
            .to_ascii_lowercase()
            .ends_with(&format!("@{domain}"))
    });
    if domain_changed && !d.domains.iter().any(|x| x.eq_ignore_ascii_case(&domain)) {
        return Err(ZidError::invalid(format!(
            "The domain {domain} of loginName does not belong to the organisation"
        )));
    }
    if d.by_login(&login)
        .is_some_and(|u| Some(u.id.as_str()) != existing)
    {
        return Err(ZidError::conflict(format!(
            "A user with loginName {login} already exists"
        )));
    }
    let display = required(body, "displayName")?;
    let primary = required(body, "primaryEmail")?;
    if !valid_email(&primary) {
        return Err(ZidError::invalid(format!(
            "primaryEmail {primary:?} must be an email address"
        )));
    }
    let status = match body.get("status") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(ZidError::invalid("status must be true or false")),
    };
    let department = match body.get("department") {
        None | Some(Value::Null) => None,
        Some(Value::Object(o)) if o.is_empty() => None,
        Some(Value::Object(o)) => {
            let id = o
                .get("id")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty());
            let name = o
                .get("name")
                .and_then(Value::as_str)
                .filter(|s| !s.trim().is_empty());
            match (id, name) {
                (Some(id), _) => Some(
                    d.departments
                        .iter()
                        .find(|x| x.id == id)
                        .cloned()
                        .ok_or_else(|| {
                            ZidError::invalid(format!("Department {id} does not exist"))
                        })?,
                ),
                (None, Some(name)) => Some(d.department_named(name.trim())),
                (None, None) => {
                    return Err(ZidError::invalid("department needs an id or a name"));
                }
            }
        }
        Some(_) => return Err(ZidError::invalid("department must be an object")),
    };
    let custom_attrs = match body.get("customAttrsInfo") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(o)) => o.clone(),
        Some(_) => return Err(ZidError::invalid("customAttrsInfo must be an object")),
    };
    let (id, source, idp, admin_roles) = match kept {
        Some(k) => (k.id, k.source, k.idp, k.admin_roles),
        // The recorded server sets source API even when the request says SCIM, and gives the
        // tenant's default identity provider.
        None => (
            d.new_id(),
            "API".to_string(),
            Some(d.default_idp.clone()),
            Vec::new(),
        ),
    };
    Ok(ZidUser {
        id,
        login_name: login,
        display_name: display,
        first_name: opt_string(body, "firstName")?,
        last_name: opt_string(body, "lastName")?,
        primary_email: primary,
        secondary_email: opt_string(body, "secondaryEmail")?,
        department,
        status,
        source,
        idp,
        custom_attrs,
        admin_roles,
    })
}

/// The query string with names normalised: lower-case, `_` removed, so `loginName` (Python,
/// camelCased), `loginname` (Go) and `login_name` (the documented spelling) are one parameter.
struct Query {
    params: Vec<(String, String)>,
}

impl Query {
    fn parse(q: Option<&str>) -> Self {
        Self {
            params: url::form_urlencoded::parse(q.unwrap_or("").as_bytes())
                .map(|(k, v)| (k.to_ascii_lowercase().replace('_', ""), v.into_owned()))
                .collect(),
        }
    }

    fn all(&self, name: &str) -> Vec<&str> {
        self.params
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
            .collect()
    }

    fn one(&self, name: &str) -> Option<&str> {
        self.all(name).last().copied()
    }

    /// `(offset, limit)`: offset ≥ 0 (default 0), limit 0..=1000 (default 100); else 400.
    fn paging(&self) -> Result<(usize, usize), ZidError> {
        let num = |name: &str, default: usize, max: usize| match self.one(name) {
            None => Ok(default),
            Some(v) => v
                .trim()
                .parse::<usize>()
                .ok()
                .filter(|n| *n <= max)
                .ok_or_else(|| {
                    ZidError::invalid(format!(
                        "Invalid {name} '{v}': must be an integer from 0 to {max}"
                    ))
                }),
        };
        Ok((
            num("offset", 0, usize::MAX)?,
            num("limit", DEFAULT_LIMIT, MAX_LIMIT)?,
        ))
    }

    fn user_matches(&self, u: &ZidUser) -> bool {
        let contains = |text: &str, part: &str| text.to_lowercase().contains(&part.to_lowercase());
        let logins = self.all("loginname");
        let domains = self.all("domainname");
        let idps = self.all("idpname");
        (logins.is_empty() || logins.iter().any(|l| l.eq_ignore_ascii_case(&u.login_name)))
            && self
                .one("loginname[like]")
                .is_none_or(|p| contains(&u.login_name, p))
            && self
                .one("displayname[like]")
                .is_none_or(|p| contains(&u.display_name, p))
            && self
                .one("primaryemail[like]")
                .is_none_or(|p| contains(&u.primary_email, p))
            && (domains.is_empty()
                || domains.iter().any(|dn| {
                    u.primary_email
                        .rsplit('@')
                        .next()
                        .is_some_and(|x| x.eq_ignore_ascii_case(dn))
                }))
            && (idps.is_empty()
                || idps.iter().any(|i| {
                    u.idp
                        .as_ref()
                        .is_some_and(|x: &IdName| x.name.eq_ignore_ascii_case(i))
                }))
    }

    fn group_matches(&self, g: &super::model::ZidGroup) -> bool {
        let exclude_dynamic = self
            .one("excludedynamicgroups")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"));
        self.one("name[like]")
            .is_none_or(|p| g.name.to_lowercase().contains(&p.to_lowercase()))
            && !(exclude_dynamic && g.dynamic)
    }
}

/// Where `next_link` and `prev_link` point: the admin host's `/admin/api/v1` path even for a
/// gateway request (as recorded), the original query with `offset` replaced.
struct LinkBase {
    host: String,
    path: String,
    raw_query: String,
    gateway: bool,
}

impl LinkBase {
    fn at(&self, offset: usize) -> String {
        let kept: Vec<String> = self
            .raw_query
            .split('&')
            .filter(|p| !p.is_empty() && !p.starts_with("offset="))
            .map(str::to_string)
            .collect();
        let mut q = kept.join("&");
        if !q.is_empty() {
            q.push('&');
        }
        format!("http://{}{}?{q}offset={offset}", self.host, self.path)
    }
}

/// The list envelope: `results_total`, `pageOffset`, `pageSize` (the requested limit),
/// `records`, `next_link` unless this is the last page, `prev_link` unless the first; the
/// gateway also sends `totalRecord`.
fn envelope(
    items: impl Iterator<Item = Value>,
    (offset, limit): (usize, usize),
    link: &LinkBase,
) -> Response {
    let all: Vec<Value> = items.collect();
    let total = all.len();
    let records: Vec<Value> = all.into_iter().skip(offset).take(limit).collect();
    let mut out = json!({
        "results_total": total,
        "pageOffset": offset,
        "pageSize": limit,
        "records": records,
    });
    if link.gateway {
        out["totalRecord"] = json!(total);
    }
    if limit > 0 && offset.saturating_add(limit) < total {
        out["next_link"] = json!(link.at(offset + limit));
    }
    if offset > 0 && limit > 0 {
        out["prev_link"] = json!(link.at(offset.saturating_sub(limit)));
    }
    Json(out).into_response()
}

// ---------------------------------------------------------------------------------------------
// Test-only introspection (not ZIdentity): no token, no request logging.

/// Every user (or the one with `login=`), with group names and admin roles.
async fn sim_users(State(state): State<Shared>, RawQuery(q): RawQuery) -> Response {
    let q: HashMap<String, String> = url::form_urlencoded::parse(q.unwrap_or_default().as_bytes())
        .into_owned()
        .collect();
    let inner = state.lock();
    let d = &inner.zid.dir;
    let users: Vec<Value> = d
        .users
        .values()
        .filter(|u| {
            q.get("login")
                .is_none_or(|l| u.login_name.eq_ignore_ascii_case(l))
        })
        .map(|u| {
            let mut v = user_json(u);
            v["groups"] = json!(
                d.groups_of(&u.id)
                    .map(|g| g.name.clone())
                    .collect::<Vec<_>>()
            );
            v["adminRoles"] = json!(u.admin_roles);
            v
        })
        .collect();
    Json(Value::Array(users)).into_response()
}

async fn sim_status(State(state): State<Shared>) -> Response {
    let inner = state.lock();
    let z = &inner.zid;
    Json(json!({
        "users": z.dir.users.len(),
        "groups": z.dir.groups.len(),
        "tokens_issued": z.tokens_issued,
        "rate_limited": z.limiter.as_ref().map(|l| l.refused),
    }))
    .into_response()
}

async fn sim_expire_tokens(State(state): State<Shared>) -> Response {
    let n = state.lock().zid.expire_tokens();
    Json(json!({"expired": n})).into_response()
}
