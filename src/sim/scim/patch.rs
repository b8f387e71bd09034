//! RFC 7644 §3.5.2 PATCH: parsing a `PatchOp` message and applying its operations to a
//! [`ScimUser`] or [`ScimGroup`] held in memory. Callers validate the result and store it only
//! if every operation succeeded, so a PATCH is atomic: nothing is applied partially.

use serde_json::{Map, Value};

use super::error::ScimError;
use super::filter;
use super::model::{ScimGroup, ScimUser, get_ci, opt_string};
use super::resources::{Set, finish_user, member_ids, remove_user_attr, set_user_attr};

/// Schema URN of a PATCH request.
pub(crate) const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// A PATCH operation kind (names compared case-insensitively: Azure AD sends `"Replace"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OpKind {
    Add,
    Remove,
    Replace,
}

/// One operation.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Op {
    pub kind: OpKind,
    pub path: Option<String>,
    pub value: Option<Value>,
}

/// The operations of a PATCH body.
///
/// A body without `Operations` and without the PatchOp schema is taken as the whole resource
/// to merge (one `replace` with no path): the ZPA Go SDK sends PATCH that way.
pub(crate) fn parse(body: &Value) -> Result<Vec<Op>, ScimError> {
    let o = body
        .as_object()
        .ok_or_else(|| ScimError::invalid_syntax("the PATCH body must be a JSON object"))?;
    let declares_patch = get_ci(o, "schemas")
        .and_then(Value::as_array)
        .is_some_and(|s| s.iter().any(|s| s.as_str() == Some(PATCH_SCHEMA)));
    let Some(ops) = get_ci(o, "Operations") else {
        if declares_patch {
            return Err(ScimError::invalid_syntax("PatchOp without Operations"));
        }
        let mut whole: Map<String, Value> = o.clone();
        whole.retain(|k, _| {
            !["schemas", "id", "meta"]
                .iter()
                .any(|r| k.eq_ignore_ascii_case(r))
        });
        return Ok(vec![Op {
            kind: OpKind::Replace,
            path: None,
            value: Some(Value::Object(whole)),
        }]);
    };
    let ops = ops
        .as_array()
        .ok_or_else(|| ScimError::invalid_syntax("Operations must be an array"))?;
    if ops.is_empty() {
        return Err(ScimError::invalid_value("Operations must not be empty"));
    }
    ops.iter().map(op).collect()
}

fn op(v: &Value) -> Result<Op, ScimError> {
    let o = v
        .as_object()
        .ok_or_else(|| ScimError::invalid_syntax("each operation must be a JSON object"))?;
    let name = opt_string(get_ci(o, "op"), "op")?.unwrap_or_default();
    let kind = match name.to_ascii_lowercase().as_str() {
        "add" => OpKind::Add,
        "remove" => OpKind::Remove,
        "replace" => OpKind::Replace,
        _ => {
            return Err(ScimError::invalid_syntax(format!(
                "unknown PATCH op '{name}' (expected add, remove or replace)"
            )));
        }
    };
    let path = opt_string(get_ci(o, "path"), "path")?.filter(|p| !p.trim().is_empty());
    let value = get_ci(o, "value").cloned();
    if kind != OpKind::Remove && value.is_none() {
        return Err(ScimError::invalid_value(format!("{name} needs a value")));
    }
    Ok(Op { kind, path, value })
}

fn set_checked(u: &mut ScimUser, path: &str, v: &Value) -> Result<(), ScimError> {
    match set_user_attr(u, path, v)? {
        Set::Done => Ok(()),
        Set::ReadOnly => Err(ScimError::mutability(format!(
            "'{path}' is read-only{}",
            if path.eq_ignore_ascii_case("groups") {
                "; change membership through /Groups"
            } else {
                ""
            }
        ))),
        Set::Unknown => Err(ScimError::invalid_path(format!(
            "'{path}' is not an attribute of User"
        ))),
    }
}

/// Applies `ops` to `u` in order.
pub(crate) fn apply_user(u: &mut ScimUser, ops: &[Op]) -> Result<(), ScimError> {
    for op in ops {
        match (op.kind, &op.path, &op.value) {
            (OpKind::Remove, None, _) => {
                return Err(ScimError::no_target("remove needs a path"));
            }
            (OpKind::Remove, Some(path), _) => match remove_user_attr(u, path)? {
                Set::Done => {}
                Set::ReadOnly => {
                    return Err(ScimError::mutability(format!("'{path}' is read-only")));
                }
                Set::Unknown => {
                    return Err(ScimError::invalid_path(format!(
                        "'{path}' is not an attribute of User"
                    )));
                }
            },
            (_, Some(path), Some(v)) => set_checked(u, path, v)?,
            (_, None, Some(Value::Object(o))) => {
                for (k, v) in o {
                    if k.eq_ignore_ascii_case("schemas") {
                        continue;
                    }
                    set_checked(u, k, v)?;
                }
            }
            _ => {
                return Err(ScimError::invalid_value(
                    "add and replace need a value (an object when there is no path)",
                ));
            }
        }
    }
    finish_user(u);
    Ok(())
}

fn add_members(g: &mut ScimGroup, ids: Vec<String>) {
    for id in ids {
        if !g.members.contains(&id) {
            g.members.push(id);
        }
    }
}

fn set_group_attr(g: &mut ScimGroup, kind: OpKind, path: &str, v: &Value) -> Result<(), ScimError> {
    match path.to_ascii_lowercase().as_str() {
        "members" if kind == OpKind::Add => add_members(g, member_ids(v)?),
        "members" => {
            g.members.clear();
            add_members(g, member_ids(v)?);
        }
        "displayname" => {
            g.display_name = opt_string(Some(v), "displayName")?
                .filter(|d| !d.trim().is_empty())
                .ok_or_else(|| {
                    ScimError::invalid_value("displayName must be a non-empty string")
                })?;
        }
        "externalid" => g.external_id = opt_string(Some(v), "externalId")?,
        "id" | "meta" | "schemas" => {
            return Err(ScimError::mutability(format!("'{path}' is read-only")));
        }
        _ => {
            return Err(ScimError::invalid_path(format!(
                "'{path}' is not a supported attribute of Group"
            )));
        }
    }
    Ok(())
}

/// Applies `ops` to `g` in order. Member existence and limits are the caller's to check.
pub(crate) fn apply_group(g: &mut ScimGroup, ops: &[Op]) -> Result<(), ScimError> {
    for op in ops {
        match (op.kind, op.path.as_deref(), &op.value) {
            (OpKind::Remove, None, _) => {
                return Err(ScimError::no_target("remove needs a path"));
            }
            (OpKind::Remove, Some(path), value) => remove_from_group(g, path, value.as_ref())?,
            (kind, Some(path), Some(v)) => {
                if path.to_ascii_lowercase().starts_with("members[") {
                    return Err(ScimError::invalid_path(format!(
                        "'{path}': a member filter is only supported with remove"
                    )));
                }
                set_group_attr(g, kind, path, v)?;
            }
            (kind, None, Some(Value::Object(o))) => {
                for (k, v) in o {
                    if k.eq_ignore_ascii_case("schemas") {
                        continue;
                    }
                    set_group_attr(g, kind, k, v)?;
                }
            }
            _ => {
                return Err(ScimError::invalid_value(
                    "add and replace need a value (an object when there is no path)",
                ));
            }
        }
    }
    Ok(())
}

/// `remove` on a group: `members` (all, or those listed in `value`, Azure style),
/// `members[value eq "id"]`, or `externalId`. Removing a non-member is a no-op, so repeated
/// deprovisioning is harmless.
fn remove_from_group(
    g: &mut ScimGroup,
    path: &str,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    let lower = path.to_ascii_lowercase();
    if lower == "members" {
        match value {
            None | Some(Value::Null) => g.members.clear(),
            Some(v) => {
                let gone = member_ids(v)?;
                g.members.retain(|m| !gone.contains(m));
            }
        }
        return Ok(());
    }
    if let Some(inner) = lower
        .strip_prefix("members[")
        .and_then(|_| path.get("members[".len()..))
        .and_then(|rest| rest.strip_suffix(']'))
    {
        let id = filter::value_eq(inner)?;
        g.members.retain(|m| *m != id);
        return Ok(());
    }
    match lower.as_str() {
        "externalid" => g.external_id = None,
        "displayname" => {
            return Err(ScimError::invalid_value(
                "displayName is required and cannot be removed",
            ));
        }
        _ => {
            return Err(ScimError::invalid_path(format!(
                "'{path}' is not a supported attribute of Group"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::scim::time::seed_time;
    use serde_json::json;

    fn group() -> ScimGroup {
        ScimGroup {
            id: "g".into(),
            display_name: "G".into(),
            external_id: None,
            members: vec!["1".into(), "2".into()],
            created: seed_time(),
            last_modified: seed_time(),
        }
    }

    #[test]
    fn group_member_ops() {
        let mut g = group();
        let ops = parse(&json!({
            "schemas": [PATCH_SCHEMA],
            "Operations": [
                {"op": "Add", "path": "members", "value": [{"value": "3"}, {"value": 4}]},
                {"op": "remove", "path": "members[value eq \"1\"]"},
                {"op": "Remove", "path": "members", "value": [{"value": "2"}]},
                {"op": "replace", "path": "displayName", "value": "H"}
            ]
        }))
        .expect("parses");
        apply_group(&mut g, &ops).expect("applies");
        assert_eq!(g.members, vec!["3".to_string(), "4".to_string()]);
        assert_eq!(g.display_name, "H");
    }

    #[test]
    fn bad_ops_are_rejected() {
        let err = parse(&json!({"Operations": [{"op": "move", "path": "x"}]})).expect_err("bad op");
        assert_eq!(err.scim_type, Some("invalidSyntax"));
        let ops = parse(&json!({"Operations": [{"op": "remove"}]})).expect("parses");
        let err = apply_group(&mut group(), &ops).expect_err("no target");
        assert_eq!(err.scim_type, Some("noTarget"));
        let ops = parse(&json!({"Operations": [{"op": "replace", "path": "owner", "value": "x"}]}))
            .expect("parses");
        let err = apply_group(&mut group(), &ops).expect_err("bad path");
        assert_eq!(err.scim_type, Some("invalidPath"));
    }

    #[test]
    fn whole_resource_patch_is_a_replace() {
        let ops = parse(&json!({"displayName": "Z", "id": "ignored"})).expect("parses");
        let mut g = group();
        apply_group(&mut g, &ops).expect("applies");
        assert_eq!(g.display_name, "Z");
        assert_eq!(g.id, "g");
    }
}
