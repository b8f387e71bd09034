//! What a write's answer proves. A write whose answer is lost (connection dropped after
//! sending, a timeout) or cannot be read (HTML from a proxy, an empty body where the resource
//! was expected, JSON cut short, an error object under a success status) may well have been
//! applied by the tenant: it is [`ProviderError::OutcomeUnknown`], never a transport, decode or
//! API error, so that nobody repeats it blindly and the caller reads the target back.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::ProviderError;

/// The error for a write whose success answer could not be read.
pub fn unreadable(method: &Method, path: &str, status: StatusCode, why: &str) -> ProviderError {
    ProviderError::OutcomeUnknown {
        message: format!(
            "{method} {path} answered HTTP {} but {why}",
            status.as_u16()
        ),
    }
}

/// Which error objects a backend sends, to tell them from a resource under a success status.
#[derive(Debug, Clone, Copy)]
pub enum ErrorShape {
    /// Native ZIA: `{"code": "...", "message": "..."}`.
    Zia,
    /// SCIM (RFC 7644 §3.12): the Error schema, or `status` with `detail`/`scimType`.
    Scim,
}

impl ErrorShape {
    fn matches(self, v: &Value) -> bool {
        let Some(o) = v.as_object() else {
            return false;
        };
        if o.contains_key("id") {
            return false;
        }
        match self {
            ErrorShape::Zia => o.get("code").is_some_and(Value::is_string),
            ErrorShape::Scim => {
                let error_schema = o.get("schemas").and_then(Value::as_array).is_some_and(|s| {
                    s.iter()
                        .any(|u| u.as_str().is_some_and(|u| u.ends_with(":Error")))
                });
                error_schema
                    || (o.contains_key("status")
                        && (o.contains_key("detail") || o.contains_key("scimType")))
            }
        }
    }
}

/// Checks the body of a write's success answer: empty, or JSON that is not an error object.
/// Returns the JSON when there is some. Reads are not checked here (a read can be repeated).
///
/// An empty body is a complete answer with `204 No Content`, or to a `DELETE` (ZIA answers
/// those with nothing, whatever the status). Elsewhere the write's result is expected: ZIA's
/// `bulkDelete` answers 204 or 200 with the ids, a SCIM server 204 or 200/201 *with* the
/// resource (RFC 7644 §3.3, §3.5.2), so a 200 with nothing is an answer that was lost.
pub fn check_written(
    method: &Method,
    path: &str,
    status: StatusCode,
    body: &[u8],
    shape: ErrorShape,
) -> Result<Option<Value>, ProviderError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        if status != StatusCode::NO_CONTENT && method != Method::DELETE {
            return Err(unreadable(
                method,
                path,
                status,
                "its body is empty where the resource was expected",
            ));
        }
        return Ok(None);
    }
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        let why = if body.trim_ascii_start().starts_with(b"<") {
            "its body is HTML, not the tenant's JSON (a proxy or login page?)".to_string()
        } else if e.is_eof() {
            "its JSON body was cut short".to_string()
        } else {
            format!("its body is not JSON ({e})")
        };
        unreadable(method, path, status, &why)
    })?;
    if shape.matches(&value) {
        let text: String = value.to_string().chars().take(200).collect();
        return Err(unreadable(
            method,
            path,
            status,
            &format!("its body is an error object ({text})"),
        ));
    }
    Ok(Some(value))
}

/// After a write, a body that does not decode as the expected resource leaves the outcome
/// unknown; any other error passes unchanged.
pub fn decoded_after_write<T>(
    result: Result<T, ProviderError>,
    what: &str,
) -> Result<T, ProviderError> {
    result.map_err(|e| match e {
        ProviderError::Decode { message } => ProviderError::OutcomeUnknown {
            message: format!("{what} succeeded but its answer could not be read ({message})"),
        },
        other => other,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(body: &str, shape: ErrorShape) -> Result<Option<Value>, ProviderError> {
        check_written(
            &Method::POST,
            "/users",
            StatusCode::OK,
            body.as_bytes(),
            shape,
        )
    }

    #[test]
    fn unreadable_success_answers_leave_the_outcome_unknown() {
        for (body, shape) in [
            ("<html><body>wait</body></html>", ErrorShape::Zia),
            (r#"{"id": 12, "name": "#, ErrorShape::Zia),
            ("plain text", ErrorShape::Scim),
            (
                r#"{"code":"UNEXPECTED_ERROR","message":"boom"}"#,
                ErrorShape::Zia,
            ),
            (
                r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"500","detail":"x"}"#,
                ErrorShape::Scim,
            ),
        ] {
            match check(body, shape) {
                Err(ProviderError::OutcomeUnknown { message }) => {
                    assert!(message.contains("POST /users"), "{message}")
                }
                other => panic!("{body}: {other:?}"),
            }
        }
    }

    #[test]
    fn readable_success_answers_pass() {
        assert!(matches!(
            check_written(
                &Method::DELETE,
                "/users/1",
                StatusCode::OK,
                b"",
                ErrorShape::Zia
            ),
            Ok(None)
        ));
        assert!(matches!(
            check_written(
                &Method::DELETE,
                "/Users/1",
                StatusCode::NO_CONTENT,
                b" \n",
                ErrorShape::Scim
            ),
            Ok(None)
        ));
        for shape in [ErrorShape::Scim, ErrorShape::Zia] {
            assert!(matches!(
                check("", shape),
                Err(ProviderError::OutcomeUnknown { .. })
            ));
        }
        assert!(check(r#"{"id":12,"name":"A"}"#, ErrorShape::Zia).is_ok_and(|v| v.is_some()));
        assert!(check(r#"{"ids":[1,2]}"#, ErrorShape::Zia).is_ok());
        assert!(check(r#"{"status":"ACTIVE"}"#, ErrorShape::Zia).is_ok());
        assert!(check(r#"{"id":"u1","userName":"a@b"}"#, ErrorShape::Scim).is_ok());
    }
}
