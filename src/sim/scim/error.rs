//! SCIM errors in the RFC 7644 §3.12 shape: `{"schemas":[Error], "status":"400",
//! "scimType":"invalidFilter", "detail":"..."}` (note `status` is a string).

use axum::http::header::{CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// Schema URN of a SCIM error body.
pub(crate) const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
/// Media type of every SCIM answer.
pub(crate) const SCIM_JSON: &str = "application/scim+json";

/// One failed SCIM request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ScimError {
    pub status: StatusCode,
    pub scim_type: Option<&'static str>,
    pub detail: String,
}

impl ScimError {
    pub fn new(
        status: StatusCode,
        scim_type: Option<&'static str>,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            status,
            scim_type,
            detail: detail.into(),
        }
    }

    fn bad(scim_type: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Some(scim_type), detail)
    }

    /// 400 invalidValue: a value is missing, ill-typed or breaks a tenant rule.
    pub fn invalid_value(detail: impl Into<String>) -> Self {
        Self::bad("invalidValue", detail)
    }

    /// 400 invalidFilter: the filter could not be parsed or is not supported.
    pub fn invalid_filter(detail: impl Into<String>) -> Self {
        Self::bad("invalidFilter", detail)
    }

    /// 400 invalidSyntax: the body is not JSON or not the expected message.
    pub fn invalid_syntax(detail: impl Into<String>) -> Self {
        Self::bad("invalidSyntax", detail)
    }

    /// 400 invalidPath: a PATCH path names no attribute this server knows.
    pub fn invalid_path(detail: impl Into<String>) -> Self {
        Self::bad("invalidPath", detail)
    }

    /// 400 noTarget: a PATCH operation has no target (e.g. `remove` without a path).
    pub fn no_target(detail: impl Into<String>) -> Self {
        Self::bad("noTarget", detail)
    }

    /// 400 mutability: the resource or attribute cannot be changed.
    pub fn mutability(detail: impl Into<String>) -> Self {
        Self::bad("mutability", detail)
    }

    /// 409 uniqueness.
    pub fn uniqueness(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, Some("uniqueness"), detail)
    }

    /// 404 with no scimType, as RFC 7644 §3.12 lists.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, None, detail)
    }

    /// 401: missing or wrong bearer token.
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            None,
            "Authorization failure: a valid bearer token is required",
        )
    }

    /// 501: the operation is switched off for this flavour.
    pub fn not_implemented(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_IMPLEMENTED, None, detail)
    }

    /// 429 with `Retry-After: 1` (see [`IntoResponse`]).
    pub fn too_many_requests() -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            None,
            "Too many requests: the SCIM API allows a limited number of requests per second",
        )
    }

    /// The JSON error body.
    pub fn body(&self) -> Value {
        error_body(self.status.as_u16(), self.scim_type, &self.detail)
    }
}

/// An RFC 7644 error body.
pub(crate) fn error_body(status: u16, scim_type: Option<&str>, detail: &str) -> Value {
    let mut v = json!({
        "schemas": [ERROR_SCHEMA],
        "status": status.to_string(),
        "detail": detail,
    });
    if let (Some(t), Some(m)) = (scim_type, v.as_object_mut()) {
        m.insert("scimType".into(), json!(t));
    }
    v
}

/// A SCIM JSON response with the given status.
pub(crate) fn scim_response(status: StatusCode, body: &Value) -> Response {
    let mut resp = (status, body.to_string()).into_response();
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON));
    resp
}

impl IntoResponse for ScimError {
    fn into_response(self) -> Response {
        let mut resp = scim_response(self.status, &self.body());
        if self.status == StatusCode::TOO_MANY_REQUESTS {
            resp.headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from_static("1"));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut()
                .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        resp
    }
}
