//! Compact output schemas.
//!
//! A long tools/list eats the model's context on every turn. Output schemas exist so clients can
//! validate and models can rely on field names and types; the prose that schemars copies from
//! every doc comment into every nested definition repeats what the tool description says. This
//! keeps the structure exact and the top-level field descriptions, and drops the rest.

use std::collections::BTreeMap;
use std::sync::Arc;

use rmcp::handler::server::common::{schema_for_input, schema_for_output};
use rmcp::model::JsonObject;
use schemars::JsonSchema;
use serde_json::Value;

/// The output schema of `T`, compacted.
pub fn compact_output<T: JsonSchema + std::any::Any>() -> Arc<JsonObject> {
    let mut v = Value::Object((*schema_for_output::<T>()).clone());
    compact(&mut v, 0);
    unwrap_lines(&mut v);
    drop_empty_defaults(&mut v);
    inline_defs(&mut v);
    into_object(v)
}

/// The input schema of `T`, compacted the same way: structure, `required`, and the top-level
/// property descriptions the model reads to fill the call; no `$schema`, no empty defaults, no
/// per-variant prose, small definitions inlined. Two more cuts that lose nothing: an optional
/// argument is one the model omits, so its `null` alternative goes; and unknown arguments are
/// refused by the parser with an error naming them, so `additionalProperties: false` goes.
pub fn compact_input<T: JsonSchema + std::any::Any>() -> Arc<JsonObject> {
    let base = match schema_for_input::<T>() {
        Ok(s) => s,
        Err(e) => panic!("input schema of {}: {e}", std::any::type_name::<T>()),
    };
    let mut v = Value::Object((*base).clone());
    compact(&mut v, 0);
    drop_empty_defaults(&mut v);
    unwrap_lines(&mut v);
    inline_defs(&mut v);
    if let Value::Object(map) = &mut v {
        if map.get("additionalProperties") == Some(&Value::Bool(false)) {
            map.remove("additionalProperties");
        }
        let required: Vec<Value> = map
            .get("required")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if let Some(Value::Object(props)) = map.get_mut("properties") {
            for (name, p) in props.iter_mut() {
                if !required.contains(&Value::from(name.as_str())) {
                    drop_null_alternative(p);
                }
            }
        }
    }
    into_object(v)
}

/// `"type": ["integer", "null"]` → `"integer"`; `"anyOf": [X, {"type": "null"}]` → X.
fn drop_null_alternative(p: &mut Value) {
    let Value::Object(map) = p else { return };
    if let Some(Value::Array(types)) = map.get("type") {
        let kept: Vec<Value> = types.iter().filter(|t| *t != "null").cloned().collect();
        if kept.len() == 1 {
            map.insert("type".into(), kept[0].clone());
        }
    }
    let single = map.get("anyOf").and_then(Value::as_array).and_then(|alts| {
        let kept: Vec<&Value> = alts
            .iter()
            .filter(|a| a.get("type") != Some(&Value::from("null")))
            .collect();
        (kept.len() == 1 && alts.len() == 2).then(|| kept[0].clone())
    });
    if let Some(Value::Object(inner)) = single {
        map.remove("anyOf");
        for (k, v) in inner {
            map.entry(k).or_insert(v);
        }
    }
}

/// A brief output schema: only the fields every result carries (`required`), typed, without
/// prose (the tool description says what they mean), and open for the rest (JSON Schema's
/// default `additionalProperties`). For tools whose full result shape is long and the same
/// across tools (every write returns a `WriteResult`), this keeps tools/list small while still
/// promising what a client can rely on. A list of records is promised as a list (its rows'
/// fields are the tool description's to tell).
pub fn brief_output<T: JsonSchema + std::any::Any>() -> Arc<JsonObject> {
    let mut v = Value::Object((*compact_output::<T>()).clone());
    if let Value::Object(map) = &mut v {
        let required: Vec<String> = map
            .get("required")
            .and_then(Value::as_array)
            .map(|r| {
                r.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        if let Some(Value::Object(props)) = map.get_mut("properties") {
            props.retain(|k, _| required.contains(k));
            for p in props.values_mut() {
                if let Value::Object(p) = p {
                    p.remove("description");
                    // A list of records is promised as a list; its rows' shape is the tool's.
                    let records = p
                        .get("items")
                        .is_some_and(|i| i.get("$ref").is_some() || i.get("properties").is_some());
                    if records {
                        p.remove("items");
                    }
                }
            }
        }
        map.remove("additionalProperties");
        if !Value::Object(map.clone())
            .to_string()
            .contains("\"#/$defs/")
        {
            map.remove("$defs");
        }
    }
    inline_defs(&mut v);
    into_object(v)
}

fn into_object(v: Value) -> Arc<JsonObject> {
    match v {
        Value::Object(m) => Arc::new(m),
        _ => Arc::new(JsonObject::new()),
    }
}

/// Doc comments wrap at 100 columns; the model needs no line breaks, so they become spaces.
fn unwrap_lines(v: &mut Value) {
    match v {
        Value::Object(map) => {
            if let Some(Value::String(d)) = map.get_mut("description") {
                *d = d.split_whitespace().collect::<Vec<_>>().join(" ");
            }
            map.values_mut().for_each(unwrap_lines);
        }
        Value::Array(items) => items.iter_mut().for_each(unwrap_lines),
        _ => {}
    }
}

/// `"default": ""`, `null`, `false`, `[]` say nothing `required` does not already say.
fn drop_empty_defaults(v: &mut Value) {
    match v {
        Value::Object(map) => {
            let empty = map.get("default").is_some_and(|d| {
                d.is_null()
                    || d.as_bool() == Some(false)
                    || d.as_str() == Some("")
                    || d.as_array().is_some_and(Vec::is_empty)
            });
            if empty {
                map.remove("default");
            }
            map.values_mut().for_each(drop_empty_defaults);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_empty_defaults),
        _ => {}
    }
}

/// Replaces `$ref`s to definitions used once, or small enough that repeating them is cheaper
/// than the indirection, and drops definitions nobody refers to any more.
fn inline_defs(root: &mut Value) {
    const SMALL: usize = 120;
    let Some(Value::Object(defs)) = root.get("$defs").cloned() else {
        return;
    };
    let text = root.to_string();
    let inlinable: BTreeMap<String, Value> = defs
        .into_iter()
        .filter(|(name, def)| {
            let reference = format!("\"#/$defs/{name}\"");
            let uses = text.matches(&reference).count();
            let self_ref = def.to_string().contains(&reference);
            !self_ref && (uses <= 1 || def.to_string().len() <= SMALL)
        })
        .collect();
    fn replace(v: &mut Value, inlinable: &BTreeMap<String, Value>) {
        match v {
            Value::Object(map) => {
                let target = map
                    .get("$ref")
                    .and_then(Value::as_str)
                    .and_then(|r| r.strip_prefix("#/$defs/"))
                    .and_then(|name| inlinable.get(name));
                if map.len() == 1
                    && let Some(def) = target
                {
                    *v = def.clone();
                    replace(v, inlinable);
                    return;
                }
                for (k, child) in map.iter_mut() {
                    if k != "$defs" {
                        replace(child, inlinable);
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|i| replace(i, inlinable)),
            _ => {}
        }
    }
    replace(root, &inlinable);
    let text = root.to_string();
    if let Some(Value::Object(defs)) = root.get_mut("$defs") {
        defs.retain(|name, _| text.contains(&format!("\"#/$defs/{name}\"")));
    }
    if root
        .get("$defs")
        .and_then(Value::as_object)
        .is_some_and(|d| d.is_empty())
        && let Value::Object(map) = root
    {
        map.remove("$defs");
    }
}

/// `depth` 1 marks the top-level properties, whose descriptions stay.
fn compact(v: &mut Value, depth: usize) {
    match v {
        Value::Object(map) => {
            if depth != 1 {
                map.remove("description");
            }
            if depth == 0 {
                map.remove("$schema");
            }
            if map.get("minimum").and_then(Value::as_u64) == Some(0) {
                map.remove("minimum");
            }
            if map
                .get("format")
                .and_then(Value::as_str)
                .is_some_and(|f| f.starts_with("uint") || f.starts_with("int"))
            {
                map.remove("format");
            }
            // oneOf of string constants (single `const` or grouped `enum`) → one enum.
            let consts: Option<Vec<Value>> =
                map.get("oneOf").and_then(Value::as_array).and_then(|alts| {
                    let per_alt: Option<Vec<Vec<Value>>> = alts
                        .iter()
                        .map(|a| {
                            if a.get("type").and_then(Value::as_str) != Some("string") {
                                return None;
                            }
                            match (a.get("const"), a.get("enum").and_then(Value::as_array)) {
                                (Some(c), None) => Some(vec![c.clone()]),
                                (None, Some(e)) => Some(e.clone()),
                                _ => None,
                            }
                        })
                        .collect();
                    per_alt.map(|v| v.into_iter().flatten().collect())
                });
            if let Some(values) = consts {
                map.remove("oneOf");
                map.insert("type".into(), Value::from("string"));
                map.insert("enum".into(), Value::Array(values));
            }
            for (key, child) in map.iter_mut() {
                let next = if key == "properties" && depth == 0 {
                    // children of the root's properties are depth 1
                    if let Value::Object(props) = child {
                        for p in props.values_mut() {
                            compact(p, 1);
                        }
                    }
                    continue;
                } else {
                    depth.max(1) + 1
                };
                compact(child, next);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| compact(i, depth.max(2))),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_structure_and_top_level_descriptions() {
        let schema = compact_output::<crate::ops::write::WriteResult>();
        let text = serde_json::to_string(&*schema).expect("json");
        assert!(!text.contains("oneOf"), "{text}");
        let props = schema["properties"].as_object().expect("properties");
        assert!(props["next_step"].get("description").is_some());
        assert_eq!(
            schema["properties"]["status"]["enum"]
                .as_array()
                .expect("enum, inlined")
                .len(),
            7
        );
        assert!(schema.get("$schema").is_none());
        let info = &schema["properties"]["confirmation"]["anyOf"][0];
        assert!(info.get("description").is_none(), "nested prose dropped");
        assert!(info["properties"]["channel"].is_object(), "structure kept");
        let get_user = compact_output::<crate::ops::read::GetUserResult>();
        assert!(get_user["$defs"]["User"]["properties"]["email"].is_object());
    }

    #[test]
    fn brief_output_promises_the_required_fields_and_lists_without_their_rows() {
        let audit = brief_output::<crate::ops::audit::AuditResult>();
        let props = audit["properties"].as_object().expect("properties");
        assert_eq!(props["findings"], serde_json::json!({"type": "array"}));
        assert_eq!(props["users_scanned"]["type"], "integer");
        assert!(
            audit["required"]
                .as_array()
                .is_some_and(|r| r.len() == props.len())
        );
        let users = brief_output::<crate::ops::read::ListUsersResult>();
        assert!(users.get("$defs").is_none(), "no definitions left unused");
        assert_eq!(users["properties"]["users"]["type"], "array");
        let write = brief_output::<crate::ops::write::WriteResult>();
        assert_eq!(
            write["properties"]["status"]["enum"]
                .as_array()
                .map(Vec::len),
            Some(7)
        );
    }

    #[test]
    fn optional_inputs_lose_only_their_null_alternative() {
        let schema = compact_input::<crate::ops::write::DeactivateArgs>();
        let mode = &schema["properties"]["mode"];
        assert!(mode.get("anyOf").is_none(), "{mode}");
        assert_eq!(mode["enum"].as_array().map(Vec::len), Some(3), "{mode}");
        assert!(mode.get("description").is_some(), "{mode}");
        assert!(schema.get("additionalProperties").is_none());
        let list = compact_input::<crate::ops::read::ListUsersArgs>();
        assert_eq!(list["properties"]["limit"]["type"], "integer");
    }
}
