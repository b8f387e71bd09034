//! The SCIM HTTP surface of both flavours: one catch-all route per base path, dispatched by hand
//! so that every answer (including 404/405 and unreadable bodies) is a SCIM error.
//!
//! Order of checks for each request: injected fault, rate limit (429), bearer token (401, except
//! discovery), body, then the handler. Each request is counted in the request log under
//! `METHOD {base}/Users/{id}`-style route templates, the same strings faults are keyed by.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, HOST, LOCATION, RETRY_AFTER};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use serde_json::{Value, json};

use super::dir::{Directory, dir};
use super::discovery::{self, MAX_RESULTS};
use super::error::{ScimError, error_body, scim_response};
use super::filter::{self, Kind};
use super::model::{ScimGroup, ScimUser, get_ci};
use super::patch;
use super::resources::{Render, group_from_body, user_from_body};
use super::{Flavour, ScimRuntime};
use crate::sim::auth::constant_time_eq;
use crate::sim::faults::{self, Outcome};
use crate::sim::state::{Fault, Inner, SimState};

type Shared = Arc<SimState>;
type ScimResult = Result<Answer, ScimError>;

/// Largest request body accepted.
const MAX_BODY: usize = discovery::BULK_MAX_PAYLOAD;

/// The SCIM routes of both flavours plus the SCIM introspection under `/__sim/scim`.
pub(crate) fn router() -> Router<Shared> {
    let mut r = Router::new();
    for f in [Flavour::Zia, Flavour::Zpa] {
        let h = move |State(s): State<Shared>, req: Request| entry(f, s, req);
        r = r
            .route(f.base(), any(h))
            .route(&format!("{}/{{*rest}}", f.base()), any(h));
    }
    r.route("/__sim/scim/zpa/users", get(sim_zpa_users))
}

/// What a path below the base names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Endpoint<'a> {
    Users,
    User(&'a str),
    UsersSearch,
    Groups,
    Group(&'a str),
    GroupsSearch,
    Bulk,
    ServiceProviderConfig,
    Schemas,
    Schema(&'a str),
    ResourceTypes,
    ResourceType(&'a str),
    Unknown,
}

/// The endpoint and its route-template suffix (`/Users/{id}`) for a path below the base.
pub(crate) fn endpoint(rest: &str) -> (Endpoint<'_>, &'static str) {
    let segs: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    match segs.as_slice() {
        ["Users"] => (Endpoint::Users, "/Users"),
        ["Users", ".search"] => (Endpoint::UsersSearch, "/Users/.search"),
        ["Users", id] => (Endpoint::User(id), "/Users/{id}"),
        ["Groups"] => (Endpoint::Groups, "/Groups"),
        ["Groups", ".search"] => (Endpoint::GroupsSearch, "/Groups/.search"),
        ["Groups", id] => (Endpoint::Group(id), "/Groups/{id}"),
        ["Bulk"] => (Endpoint::Bulk, "/Bulk"),
        ["ServiceProviderConfig"] => (Endpoint::ServiceProviderConfig, "/ServiceProviderConfig"),
        ["Schemas"] => (Endpoint::Schemas, "/Schemas"),
        ["Schemas", id] => (Endpoint::Schema(id), "/Schemas/{id}"),
        ["ResourceTypes"] => (Endpoint::ResourceTypes, "/ResourceTypes"),
        ["ResourceTypes", id] => (Endpoint::ResourceType(id), "/ResourceTypes/{id}"),
        _ => (Endpoint::Unknown, "/(unmatched)"),
    }
}

async fn entry(f: Flavour, state: Shared, req: Request) -> Response {
    let (mut parts, body) = req.into_parts();
    let path = parts.uri.path().to_string();
    let rest = path.strip_prefix(f.base()).unwrap_or("");
    let (ep, suffix) = endpoint(rest);
    let route = format!("{} {}{}", parts.method, f.base(), suffix);
    let fault = state.lock().take_fault(&route);
    if fault
        .as_ref()
        .is_some_and(|f| f.kind == crate::sim::state::FaultKind::IgnorePaging)
    {
        parts.uri = faults::without_paging(&parts.uri);
    }
    let outcome = match &fault {
        Some(fault) => faults::play(fault, fault_response).await,
        None => Outcome::PassThrough,
    };
    let resp = match outcome {
        Outcome::Answer(r) => r,
        Outcome::Drop(r) => {
            state.lock().log.record_dropped(route);
            return r;
        }
        Outcome::PassThrough => match handle(f, &state, &parts, ep, body).await {
            Ok(answer) => answer.into_response(),
            Err(e) => e.into_response(),
        },
        Outcome::Spoil => {
            let real = match handle(f, &state, &parts, ep, body).await {
                Ok(answer) => answer.into_response(),
                Err(e) => e.into_response(),
            };
            let Some(fault) = &fault else { return real };
            if fault.kind.drops_after_applying() {
                // Logged now: the write is done, whenever the connection breaks.
                state.lock().log.record_dropped(route);
                return faults::spoil(fault, real, fault_response).await;
            }
            faults::spoil(fault, real, fault_response).await
        }
    };
    let status = resp.status().as_u16();
    tracing::debug!(target: "sim", %route, status, "scim request");
    state.lock().log.record(route, status);
    state.after_request(&parts.method, status);
    resp
}

/// The answer an injected fault stands for: its status with a SCIM error body (or the fault's
/// raw `body_text` as `text/plain`), plus its headers.
pub(crate) fn fault_response(f: &Fault) -> Response {
    let code = f.status.unwrap_or(500);
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = match &f.body_text {
        Some(text) => {
            let mut r = (status, text.clone()).into_response();
            r.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            );
            r
        }
        None => scim_response(
            status,
            &error_body(code, f.code.as_deref(), "injected by the simulator"),
        ),
    };
    if let Some(h) = f
        .retry_after_header
        .as_deref()
        .and_then(|h| HeaderValue::from_str(h).ok())
    {
        resp.headers_mut().insert(RETRY_AFTER, h);
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

fn check_token(headers: &HeaderMap, expected: &str) -> Result<(), ScimError> {
    let given = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    match given {
        Some(t) if constant_time_eq(t, expected) => Ok(()),
        _ => Err(ScimError::unauthorized()),
    }
}

/// A body may be `application/scim+json`, `application/json`, or undeclared.
fn check_content_type(headers: &HeaderMap) -> Result<(), ScimError> {
    let Some(ct) = headers.get(CONTENT_TYPE) else {
        return Ok(());
    };
    let mime = ct
        .to_str()
        .ok()
        .and_then(|v| v.split(';').next())
        .map(|m| m.trim().to_ascii_lowercase())
        .unwrap_or_default();
    if mime == "application/scim+json" || mime == "application/json" {
        Ok(())
    } else {
        Err(ScimError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            None,
            format!("Content-Type '{mime}' is not supported; use application/scim+json"),
        ))
    }
}

/// One request's context, after auth and body reading.
pub(crate) struct Req<'a> {
    pub f: Flavour,
    pub rt: &'a ScimRuntime,
    pub render: Render<'a>,
}

fn prefix(headers: &HeaderMap, f: Flavour) -> String {
    match headers.get(HOST).and_then(|h| h.to_str().ok()) {
        Some(host) if !host.is_empty() => format!("http://{host}{}", f.base()),
        _ => f.base().to_string(),
    }
}

/// Parses a JSON body; empty or malformed is 400 invalidSyntax.
pub(crate) fn json_body(bytes: &[u8]) -> Result<Value, ScimError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ScimError::invalid_syntax("a JSON request body is required"));
    }
    serde_json::from_slice(bytes)
        .map_err(|e| ScimError::invalid_syntax(format!("the request body is not valid JSON: {e}")))
}

async fn handle(
    f: Flavour,
    state: &SimState,
    parts: &Parts,
    ep: Endpoint<'_>,
    body: Body,
) -> ScimResult {
    let rt = &state.scim;
    if !rt.admit(f) {
        return Err(ScimError::too_many_requests());
    }
    let discovery = matches!(
        ep,
        Endpoint::ServiceProviderConfig
            | Endpoint::Schemas
            | Endpoint::Schema(_)
            | Endpoint::ResourceTypes
            | Endpoint::ResourceType(_)
    );
    if !discovery {
        check_token(&parts.headers, rt.token(f))?;
    }
    let bytes: Bytes = axum::body::to_bytes(body, MAX_BODY).await.map_err(|_| {
        ScimError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            None,
            format!("the request body could not be read or exceeds {MAX_BODY} bytes"),
        )
    })?;
    if !bytes.is_empty() {
        check_content_type(&parts.headers)?;
    }
    let req = Req {
        f,
        rt,
        render: Render {
            flavour: f,
            opts: &rt.opts,
            prefix: prefix(&parts.headers, f),
        },
    };
    let query = query_map(parts.uri.query());
    let mut inner = state.lock();
    dispatch(&req, &mut inner, &parts.method, ep, &query, &bytes)
}

/// Routes one request to its handler; the outcome is a plain status + JSON so `/Bulk` can
/// reuse it.
pub(crate) fn dispatch(
    req: &Req<'_>,
    inner: &mut Inner,
    method: &Method,
    ep: Endpoint<'_>,
    query: &HashMap<String, String>,
    bytes: &[u8],
) -> ScimResult {
    let m = method.clone();
    match (m, ep) {
        (Method::GET, Endpoint::ServiceProviderConfig) => {
            Ok(ok(&discovery::service_provider_config(
                req.rt,
                req.f,
                &format!("{}/ServiceProviderConfig", req.render.prefix),
            )))
        }
        (Method::GET, Endpoint::Schemas) => Ok(ok(&discovery::list_all(discovery::schemas()))),
        (Method::GET, Endpoint::Schema(id)) => discovery::schemas()
            .into_iter()
            .find(|s| s["id"] == id)
            .map(|s| ok(&s))
            .ok_or_else(|| ScimError::not_found(format!("Schema {id} not found"))),
        (Method::GET, Endpoint::ResourceTypes) => {
            Ok(ok(&discovery::list_all(discovery::resource_types())))
        }
        (Method::GET, Endpoint::ResourceType(id)) => discovery::resource_types()
            .into_iter()
            .find(|s| s["id"] == id)
            .map(|s| ok(&s))
            .ok_or_else(|| ScimError::not_found(format!("ResourceType {id} not found"))),
        (Method::GET, Endpoint::Users) => list(
            req,
            inner,
            Kind::User,
            ListParams::from_query(req.f, query)?,
        ),
        (Method::POST, Endpoint::UsersSearch) => list(
            req,
            inner,
            Kind::User,
            ListParams::from_body(req.f, &json_body(bytes)?)?,
        ),
        (Method::GET, Endpoint::Groups) => list(
            req,
            inner,
            Kind::Group,
            ListParams::from_query(req.f, query)?,
        ),
        (Method::POST, Endpoint::GroupsSearch) => list(
            req,
            inner,
            Kind::Group,
            ListParams::from_body(req.f, &json_body(bytes)?)?,
        ),
        (Method::GET, Endpoint::User(id)) => get_user(req, inner, id),
        (Method::POST, Endpoint::Users) => create_user(req, inner, &json_body(bytes)?),
        (Method::PUT, Endpoint::User(id)) => replace_user(req, inner, id, &json_body(bytes)?),
        (Method::PATCH, Endpoint::User(id)) => {
            require_patch(req)?;
            patch_user(req, inner, id, &json_body(bytes)?)
        }
        (Method::DELETE, Endpoint::User(id)) => {
            if dir(inner, req.f).delete_user(id)? {
                Ok(Answer::no_content())
            } else {
                Err(user_not_found(id))
            }
        }
        (Method::GET, Endpoint::Group(id)) => get_group(req, inner, id),
        (Method::POST, Endpoint::Groups) => create_group(req, inner, &json_body(bytes)?),
        (Method::PUT, Endpoint::Group(id)) => replace_group(req, inner, id, &json_body(bytes)?),
        (Method::PATCH, Endpoint::Group(id)) => {
            require_patch(req)?;
            patch_group(req, inner, id, &json_body(bytes)?)
        }
        (Method::DELETE, Endpoint::Group(id)) => {
            if dir(inner, req.f).delete_group(id) {
                Ok(Answer::no_content())
            } else {
                Err(group_not_found(id))
            }
        }
        (Method::POST, Endpoint::Bulk) => super::bulk::bulk(req, inner, &json_body(bytes)?),
        (_, Endpoint::Unknown) => Err(ScimError::not_found("No SCIM resource at this path")),
        (m, _) => Err(ScimError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            None,
            format!("Method {m} is not supported on this resource"),
        )),
    }
}

fn require_patch(req: &Req<'_>) -> Result<(), ScimError> {
    if req.rt.patch_supported(req.f) {
        Ok(())
    } else {
        Err(ScimError::not_implemented("PATCH not supported"))
    }
}

/// A handler's successful outcome, kept as data (not a `Response`) so `/Bulk` can embed it.
#[derive(Debug)]
pub(crate) struct Answer {
    pub status: StatusCode,
    pub body: Option<Value>,
    pub location: Option<String>,
}

impl Answer {
    fn no_content() -> Self {
        Self {
            status: StatusCode::NO_CONTENT,
            body: None,
            location: None,
        }
    }
}

impl IntoResponse for Answer {
    fn into_response(self) -> Response {
        let mut resp = match &self.body {
            Some(b) => scim_response(self.status, b),
            None => self.status.into_response(),
        };
        if let Some(h) = self
            .location
            .as_deref()
            .and_then(|l| HeaderValue::from_str(l).ok())
        {
            resp.headers_mut().insert(LOCATION, h);
        }
        resp
    }
}

fn ok(v: &Value) -> Answer {
    ok_at(v, None)
}

fn ok_at(v: &Value, location: Option<String>) -> Answer {
    Answer {
        status: StatusCode::OK,
        body: Some(v.clone()),
        location,
    }
}

fn created(v: &Value, location: &str) -> Answer {
    Answer {
        status: StatusCode::CREATED,
        body: Some(v.clone()),
        location: Some(location.to_string()),
    }
}

fn user_not_found(id: &str) -> ScimError {
    ScimError::not_found(format!("User {id} not found"))
}

fn group_not_found(id: &str) -> ScimError {
    ScimError::not_found(format!("Group {id} not found"))
}

/// Query parameters (the last occurrence of a repeated name wins).
fn query_map(q: Option<&str>) -> HashMap<String, String> {
    url::form_urlencoded::parse(q.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Lists.

/// Paging and filter of a list or `.search`.
pub(crate) struct ListParams {
    /// 1-based; values below 1 are taken as 1.
    start: usize,
    /// 0..=100; negative is 0, larger is clamped to 100.
    count: usize,
    filter: String,
}

fn index_value(v: Option<&Value>, name: &str) -> Result<Option<i64>, ScimError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .map(Some)
            .ok_or_else(|| ScimError::invalid_value(format!("{name} must be an integer"))),
        Some(Value::String(s)) => parse_int(s, name).map(Some),
        Some(other) => Err(ScimError::invalid_value(format!(
            "{name} must be an integer, not {other}"
        ))),
    }
}

fn parse_int(s: &str, name: &str) -> Result<i64, ScimError> {
    s.trim()
        .parse::<i64>()
        .map_err(|_| ScimError::invalid_value(format!("{name} must be an integer, not '{s}'")))
}

impl ListParams {
    fn new(f: Flavour, start: Option<i64>, count: Option<i64>, filter: String) -> Self {
        let start = usize::try_from(start.unwrap_or(1).max(1)).unwrap_or(1);
        let count = match count {
            None => f.default_count(),
            Some(c) => usize::try_from(c.max(0)).unwrap_or(0).min(MAX_RESULTS),
        };
        Self {
            start,
            count,
            filter,
        }
    }

    fn from_query(f: Flavour, q: &HashMap<String, String>) -> Result<Self, ScimError> {
        let start = q
            .get("startIndex")
            .map(|s| parse_int(s, "startIndex"))
            .transpose()?;
        let count = q.get("count").map(|s| parse_int(s, "count")).transpose()?;
        Ok(Self::new(
            f,
            start,
            count,
            q.get("filter").cloned().unwrap_or_default(),
        ))
    }

    fn from_body(f: Flavour, body: &Value) -> Result<Self, ScimError> {
        let o = body
            .as_object()
            .ok_or_else(|| ScimError::invalid_syntax("a SearchRequest must be a JSON object"))?;
        let start = index_value(get_ci(o, "startIndex"), "startIndex")?;
        let count = index_value(get_ci(o, "count"), "count")?;
        let filter = match get_ci(o, "filter") {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(_) => return Err(ScimError::invalid_filter("filter must be a string")),
        };
        Ok(Self::new(f, start, count, filter))
    }
}

/// member id → displayName, to render group members.
fn user_names(d: &dyn Directory) -> HashMap<String, String> {
    d.users()
        .into_iter()
        .map(|u| (u.id, u.display_name))
        .collect()
}

fn list(req: &Req<'_>, inner: &mut Inner, kind: Kind, p: ListParams) -> ScimResult {
    let filter = filter::parse(&p.filter, kind)?;
    let d = dir(inner, req.f);
    let skip = p.start - 1;
    let (total, items) = match kind {
        Kind::User => {
            let all: Vec<ScimUser> = d
                .users()
                .into_iter()
                .filter(|u| filter.matches(&u.fields()))
                .collect();
            let page = all
                .iter()
                .skip(skip)
                .take(p.count)
                .map(|u| req.render.user(u))
                .collect();
            (all.len(), page)
        }
        Kind::Group => {
            let names = user_names(&*d);
            let all: Vec<ScimGroup> = d
                .groups()
                .into_iter()
                .filter(|g| filter.matches(&g.fields()))
                .collect();
            let page = all
                .iter()
                .skip(skip)
                .take(p.count)
                .map(|g| req.render.group(g, &names))
                .collect();
            (all.len(), page)
        }
    };
    Ok(ok(&discovery::list_page(total, p.start, items)))
}

// ---------------------------------------------------------------------------------------------
// Users.

fn get_user(req: &Req<'_>, inner: &mut Inner, id: &str) -> ScimResult {
    let u = dir(inner, req.f)
        .user(id)
        .ok_or_else(|| user_not_found(id))?;
    Ok(ok(&req.render.user(&u)))
}

/// 409 if another user already has `u`'s userName (compared case-insensitively).
fn check_unique_user(d: &dyn Directory, u: &ScimUser) -> Result<(), ScimError> {
    let lower = u.user_name.to_lowercase();
    match d
        .users()
        .into_iter()
        .find(|o| o.id != u.id && o.user_name.to_lowercase() == lower)
    {
        Some(other) => Err(ScimError::uniqueness(format!(
            "userName '{}' is already taken by user {}",
            u.user_name, other.id
        ))),
        None => Ok(()),
    }
}

/// Stores a replaced or patched user; `None` when ZIA's rule deleted it for `active:false`.
fn write_user(
    req: &Req<'_>,
    d: &mut dyn Directory,
    u: ScimUser,
    existing: &ScimUser,
) -> Result<Option<ScimUser>, ScimError> {
    if req.f == Flavour::Zia && !u.active && req.rt.opts.zia_inactive_deletes {
        d.delete_user(&u.id)?;
        return Ok(None);
    }
    d.check_user(&u, Some(existing))?;
    check_unique_user(d, &u)?;
    let id = u.id.clone();
    d.put_user(u);
    Ok(d.user(&id))
}

/// 200 with the user, or 204 when it was deleted.
fn user_written(req: &Req<'_>, u: Option<ScimUser>) -> ScimResult {
    Ok(match u {
        Some(u) => ok_at(
            &req.render.user(&u),
            Some(req.render.location("Users", &u.id)),
        ),
        None => Answer::no_content(),
    })
}

pub(crate) fn create_user(req: &Req<'_>, inner: &mut Inner, body: &Value) -> ScimResult {
    let stamp = inner.scim.stamp();
    let mut u = user_from_body(body, String::new(), stamp, stamp)?;
    if req.f == Flavour::Zia && !u.active && req.rt.opts.zia_inactive_deletes {
        return Err(ScimError::invalid_value(
            "ZIA cannot create an inactive user (inactive users are deleted)",
        ));
    }
    let mut d = dir(inner, req.f);
    d.check_user(&u, None)?;
    check_unique_user(&*d, &u)?;
    u.id = d.new_user_id();
    let id = u.id.clone();
    d.put_user(u);
    let u = d.user(&id).ok_or_else(|| user_not_found(&id))?;
    Ok(created(
        &req.render.user(&u),
        &req.render.location("Users", &id),
    ))
}

fn replace_user(req: &Req<'_>, inner: &mut Inner, id: &str, body: &Value) -> ScimResult {
    let stamp = inner.scim.stamp();
    let mut d = dir(inner, req.f);
    let existing = d.user(id).ok_or_else(|| user_not_found(id))?;
    let u = user_from_body(body, id.to_string(), existing.created, stamp)?;
    let written = write_user(req, &mut *d, u, &existing)?;
    user_written(req, written)
}

fn patch_user(req: &Req<'_>, inner: &mut Inner, id: &str, body: &Value) -> ScimResult {
    let ops = patch::parse(body)?;
    let stamp = inner.scim.stamp();
    let mut d = dir(inner, req.f);
    let existing = d.user(id).ok_or_else(|| user_not_found(id))?;
    let mut u = existing.clone();
    patch::apply_user(&mut u, &ops)?;
    u.last_modified = stamp;
    let written = write_user(req, &mut *d, u, &existing)?;
    user_written(req, written)
}

// ---------------------------------------------------------------------------------------------
// Groups.

fn get_group(req: &Req<'_>, inner: &mut Inner, id: &str) -> ScimResult {
    let d = dir(inner, req.f);
    let g = d.group(id).ok_or_else(|| group_not_found(id))?;
    Ok(ok(&req.render.group(&g, &user_names(&*d))))
}

/// The rules for storing `g` whose previous members were `before`: every new member must be
/// a user, no user may end up in more than 128 groups, and displayName must be unique.
fn check_group(d: &dyn Directory, g: &ScimGroup, before: &[String]) -> Result<(), ScimError> {
    let limit = crate::sim::store::MAX_GROUPS_PER_USER;
    for m in g.members.iter().filter(|m| !before.contains(m)) {
        let u = d.user(m).ok_or_else(|| {
            ScimError::invalid_value(format!("member '{m}' is not an existing user"))
        })?;
        let others = u.groups.iter().filter(|(gid, _)| *gid != g.id).count();
        if others + 1 > limit {
            return Err(ScimError::invalid_value(format!(
                "user '{m}' already belongs to {others} groups; a user can belong to at most {limit} groups"
            )));
        }
    }
    let lower = g.display_name.to_lowercase();
    if let Some(other) = d
        .groups()
        .into_iter()
        .find(|o| o.id != g.id && o.display_name.to_lowercase() == lower)
    {
        return Err(ScimError::uniqueness(format!(
            "displayName '{}' is already used by group {}",
            g.display_name, other.id
        )));
    }
    Ok(())
}

fn group_written(
    req: &Req<'_>,
    d: &mut dyn Directory,
    g: ScimGroup,
    status: StatusCode,
) -> ScimResult {
    let id = g.id.clone();
    d.put_group(g);
    let g = d.group(&id).ok_or_else(|| group_not_found(&id))?;
    let body = req.render.group(&g, &user_names(d));
    if status == StatusCode::CREATED {
        Ok(created(&body, &req.render.location("Groups", &id)))
    } else {
        Ok(ok_at(&body, Some(req.render.location("Groups", &id))))
    }
}

pub(crate) fn create_group(req: &Req<'_>, inner: &mut Inner, body: &Value) -> ScimResult {
    let stamp = inner.scim.stamp();
    let mut d = dir(inner, req.f);
    let mut g = group_from_body(body, String::new(), stamp, stamp)?;
    check_group(&*d, &g, &[])?;
    g.id = d.new_group_id();
    group_written(req, &mut *d, g, StatusCode::CREATED)
}

fn replace_group(req: &Req<'_>, inner: &mut Inner, id: &str, body: &Value) -> ScimResult {
    let stamp = inner.scim.stamp();
    let mut d = dir(inner, req.f);
    let existing = d.group(id).ok_or_else(|| group_not_found(id))?;
    let g = group_from_body(body, id.to_string(), existing.created, stamp)?;
    check_group(&*d, &g, &existing.members)?;
    group_written(req, &mut *d, g, StatusCode::OK)
}

fn patch_group(req: &Req<'_>, inner: &mut Inner, id: &str, body: &Value) -> ScimResult {
    let ops = patch::parse(body)?;
    let stamp = inner.scim.stamp();
    let mut d = dir(inner, req.f);
    let existing = d.group(id).ok_or_else(|| group_not_found(id))?;
    let mut g = existing.clone();
    patch::apply_group(&mut g, &ops)?;
    g.last_modified = stamp;
    check_group(&*d, &g, &existing.members)?;
    group_written(req, &mut *d, g, StatusCode::OK)
}

// ---------------------------------------------------------------------------------------------
// Introspection (test-only, no auth, not logged).

async fn sim_zpa_users(State(state): State<Shared>) -> Response {
    let render = Render {
        flavour: Flavour::Zpa,
        opts: &state.scim.opts,
        prefix: Flavour::Zpa.base().to_string(),
    };
    let mut inner = state.lock();
    let users: Vec<Value> = dir(&mut inner, Flavour::Zpa)
        .users()
        .iter()
        .map(|u| render.user(u))
        .collect();
    scim_response(StatusCode::OK, &json!(users))
}
