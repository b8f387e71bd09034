//! RFC 7644 §3.7 `/Bulk`: up to 100 operations (POST/PUT/PATCH/DELETE on `/Users` and
//! `/Groups`) run in order through the same handlers as single requests, with `bulkId:`
//! references resolved to the ids created earlier in the same request and `failOnErrors`.

use std::collections::HashMap;

use axum::http::{Method, StatusCode};
use serde_json::{Map, Value, json};

use super::api::{Answer, Endpoint, Req, dispatch, endpoint};
use super::discovery::BULK_MAX_OPERATIONS;
use super::error::ScimError;
use super::model::{get_ci, opt_string};
use crate::sim::state::Inner;

const BULK_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
const BULK_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";

/// Replaces every `"bulkId:<id>"` string in `v` (and `bulkId:<id>` in a path) by the id that
/// operation created; an unknown reference is left as is (and then fails as an unknown id).
fn resolve(text: &str, ids: &HashMap<String, String>) -> String {
    let mut out = text.to_string();
    // Longest first, so `bulkId:u1` cannot rewrite part of `bulkId:u10`.
    let mut pairs: Vec<(&String, &String)> = ids.iter().collect();
    pairs.sort_by_key(|(bulk_id, _)| std::cmp::Reverse(bulk_id.len()));
    for (bulk_id, id) in pairs {
        out = out.replace(&format!("bulkId:{bulk_id}"), id);
    }
    out
}

/// Runs a BulkRequest and returns the BulkResponse.
pub(crate) fn bulk(req: &Req<'_>, inner: &mut Inner, body: &Value) -> Result<Answer, ScimError> {
    let o = body
        .as_object()
        .ok_or_else(|| ScimError::invalid_syntax("a BulkRequest must be a JSON object"))?;
    if let Some(schemas) = get_ci(o, "schemas").and_then(Value::as_array)
        && !schemas.iter().any(|s| s.as_str() == Some(BULK_REQUEST))
    {
        return Err(ScimError::invalid_syntax(format!(
            "schemas must contain {BULK_REQUEST}"
        )));
    }
    let ops = get_ci(o, "Operations")
        .and_then(Value::as_array)
        .ok_or_else(|| ScimError::invalid_syntax("Operations must be an array"))?;
    if ops.len() > BULK_MAX_OPERATIONS {
        return Err(ScimError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            Some("tooMany"),
            format!("at most {BULK_MAX_OPERATIONS} operations per bulk request"),
        ));
    }
    let fail_on_errors =
        match get_ci(o, "failOnErrors") {
            None | Some(Value::Null) => None,
            Some(v) => Some(v.as_u64().filter(|n| *n > 0).ok_or_else(|| {
                ScimError::invalid_value("failOnErrors must be a positive integer")
            })?),
        };

    let mut ids: HashMap<String, String> = HashMap::new();
    let mut results = Vec::new();
    let mut errors = 0u64;
    for op in ops {
        if fail_on_errors.is_some_and(|max| errors >= max) {
            break;
        }
        let (result, failed) = run_one(req, inner, op, &mut ids);
        errors += u64::from(failed);
        results.push(result);
    }
    Ok(Answer {
        status: StatusCode::OK,
        body: Some(json!({ "schemas": [BULK_RESPONSE], "Operations": results })),
        location: None,
    })
}

/// One operation's BulkResponse entry and whether it failed.
fn run_one(
    req: &Req<'_>,
    inner: &mut Inner,
    op: &Value,
    ids: &mut HashMap<String, String>,
) -> (Value, bool) {
    let mut entry = Map::new();
    let outcome = run(req, inner, op, ids, &mut entry);
    let failed = match outcome {
        Ok(answer) => {
            if let Some(l) = answer.location {
                entry.insert("location".into(), json!(l));
            }
            entry.insert("status".into(), json!(answer.status.as_u16().to_string()));
            false
        }
        Err(e) => {
            entry.insert("status".into(), json!(e.status.as_u16().to_string()));
            entry.insert("response".into(), e.body());
            true
        }
    };
    (Value::Object(entry), failed)
}

/// Runs one operation, recording its method and bulkId in `entry`.
fn run(
    req: &Req<'_>,
    inner: &mut Inner,
    op: &Value,
    ids: &mut HashMap<String, String>,
    entry: &mut Map<String, Value>,
) -> Result<Answer, ScimError> {
    let o = op
        .as_object()
        .ok_or_else(|| ScimError::invalid_syntax("each operation must be a JSON object"))?;
    let method_name = opt_string(get_ci(o, "method"), "method")?.unwrap_or_default();
    entry.insert("method".into(), json!(method_name));
    let bulk_id = opt_string(get_ci(o, "bulkId"), "bulkId")?;
    if let Some(b) = &bulk_id {
        entry.insert("bulkId".into(), json!(b));
    }
    let method = match method_name.to_ascii_uppercase().as_str() {
        "POST" => Method::POST,
        "PUT" => Method::PUT,
        "PATCH" => Method::PATCH,
        "DELETE" => Method::DELETE,
        _ => {
            return Err(ScimError::invalid_syntax(format!(
                "bulk method '{method_name}' is not POST, PUT, PATCH or DELETE"
            )));
        }
    };
    if method == Method::POST && bulk_id.is_none() {
        return Err(ScimError::invalid_syntax("a bulk POST needs a bulkId"));
    }
    let path = resolve(
        &opt_string(get_ci(o, "path"), "path")?.unwrap_or_default(),
        ids,
    );
    let (ep, _) = endpoint(&path);
    let allowed = match ep {
        Endpoint::Users | Endpoint::Groups => method == Method::POST,
        Endpoint::User(_) | Endpoint::Group(_) => method != Method::POST,
        _ => false,
    };
    if !allowed {
        return Err(ScimError::invalid_path(format!(
            "bulk {method} is not supported on '{path}'"
        )));
    }
    let data = match get_ci(o, "data") {
        Some(d) => resolve(&d.to_string(), ids).into_bytes(),
        None => Vec::new(),
    };
    let answer = dispatch(req, inner, &method, ep, &HashMap::new(), &data)?;
    if let (Some(b), Some(id)) = (
        &bulk_id,
        answer
            .body
            .as_ref()
            .and_then(|v| v.get("id"))
            .and_then(Value::as_str),
    ) && method == Method::POST
    {
        ids.insert(b.clone(), id.to_string());
    }
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longer_bulk_ids_are_resolved_first() {
        let ids: HashMap<String, String> = [("u1", "A"), ("u10", "B")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(resolve("/Users/bulkId:u10 bulkId:u1", &ids), "/Users/B A");
    }
}
