//! Compact output schemas.
//!
//! A long tools/list eats the model's context on every turn. Output schemas exist so clients can
//! validate and models can rely on field names and types; the prose that schemars copies from
//! every doc comment into every nested definition repeats what the tool description says. This
//! keeps the structure exact and the top-level field descriptions, and drops the rest.

use std::sync::Arc;

use rmcp::handler::server::common::schema_for_output;
use rmcp::model::JsonObject;
use schemars::JsonSchema;
use serde_json::Value;

/// The output schema of `T`, compacted.
pub fn compact_output<T: JsonSchema + std::any::Any>() -> Arc<JsonObject> {
    let mut v = Value::Object((*schema_for_output::<T>()).clone());
    compact(&mut v, 0);
    match v {
        Value::Object(m) => Arc::new(m),
        _ => schema_for_output::<T>(),
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
            schema["$defs"]["WriteStatus"]["enum"]
                .as_array()
                .expect("enum")
                .len(),
            5
        );
        assert!(schema.get("$schema").is_none());
        let info = &schema["$defs"]["ConfirmationInfo"];
        assert!(info.get("description").is_none(), "nested prose dropped");
        assert!(info["properties"]["channel"].is_object(), "structure kept");
        let get_user = compact_output::<crate::ops::read::GetUserResult>();
        assert!(get_user["$defs"]["User"]["properties"]["email"].is_object());
    }
}
