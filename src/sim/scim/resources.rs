//! JSON rendering of users and groups, and tolerant parsing of user attributes.
//!
//! Parsing is shared by POST/PUT bodies (every attribute of the body) and PATCH (one path at a
//! time): attribute names are case-insensitive, `active` may be a bool or a string, and the
//! department is accepted top-level (ZIA docs), in the enterprise extension object, or as the
//! flattened `urn:…:enterprise:2.0:User:department` key Azure AD sends.

use std::collections::HashMap;
use std::time::SystemTime;

use serde_json::{Map, Value, json};

use super::error::ScimError;
use super::model::{
    ENTERPRISE_SCHEMA, GROUP_SCHEMA, ScimGroup, ScimUser, USER_SCHEMA, as_object, get_ci,
    opt_string, tolerant_bool,
};
use super::time::format_rfc3339;
use super::{Flavour, ScimOptions};

/// Everything needed to render resources for one request.
pub(crate) struct Render<'a> {
    pub flavour: Flavour,
    pub opts: &'a ScimOptions,
    /// `http://host` + base path when the request named its Host, else the base path alone.
    pub prefix: String,
}

impl Render<'_> {
    /// The location of a resource: `{prefix}/Users/{id}` or `{prefix}/Groups/{id}`.
    pub fn location(&self, kind: &str, id: &str) -> String {
        format!("{}/{kind}/{id}", self.prefix)
    }

    fn meta(&self, kind: &str, id: &str, created: SystemTime, modified: SystemTime) -> Value {
        json!({
            "resourceType": kind.trim_end_matches('s'),
            "created": format_rfc3339(created),
            "lastModified": format_rfc3339(modified),
            "location": self.location(kind, id),
        })
    }

    fn active(&self, active: bool) -> Value {
        if self.flavour == Flavour::Zpa && self.opts.zpa_active_as_string {
            json!(active.to_string())
        } else {
            json!(active)
        }
    }

    /// A user resource.
    pub fn user(&self, u: &ScimUser) -> Value {
        let mut schemas = vec![json!(USER_SCHEMA)];
        if u.department.is_some() {
            schemas.push(json!(ENTERPRISE_SCHEMA));
        }
        let mut m = Map::new();
        m.insert("schemas".into(), Value::Array(schemas));
        m.insert("id".into(), json!(u.id));
        if let Some(e) = &u.external_id {
            m.insert("externalId".into(), json!(e));
        }
        m.insert("userName".into(), json!(u.user_name));
        m.insert("displayName".into(), json!(u.display_name));
        let mut name = Map::new();
        name.insert("formatted".into(), json!(u.display_name));
        if let Some(g) = &u.given_name {
            name.insert("givenName".into(), json!(g));
        }
        if let Some(f) = &u.family_name {
            name.insert("familyName".into(), json!(f));
        }
        m.insert("name".into(), Value::Object(name));
        let emails: Vec<Value> = u
            .emails
            .iter()
            .enumerate()
            .map(|(i, e)| json!({ "value": e, "primary": i == 0, "type": "work" }))
            .collect();
        m.insert("emails".into(), Value::Array(emails));
        m.insert("active".into(), self.active(u.active));
        let groups: Vec<Value> = u
            .groups
            .iter()
            .map(|(id, name)| {
                json!({ "value": id, "display": name, "$ref": self.location("Groups", id) })
            })
            .collect();
        m.insert("groups".into(), Value::Array(groups));
        if let Some(d) = &u.department {
            m.insert(ENTERPRISE_SCHEMA.into(), json!({ "department": d }));
            if self.flavour == Flavour::Zia {
                m.insert("department".into(), json!(d));
            }
        }
        m.insert(
            "meta".into(),
            self.meta("Users", &u.id, u.created, u.last_modified),
        );
        Value::Object(m)
    }

    /// A group resource; `names` maps member ids to their displayName.
    pub fn group(&self, g: &ScimGroup, names: &HashMap<String, String>) -> Value {
        let members: Vec<Value> = g
            .members
            .iter()
            .map(|id| {
                json!({
                    "value": id,
                    "display": names.get(id).map(String::as_str).unwrap_or(""),
                    "$ref": self.location("Users", id),
                })
            })
            .collect();
        let mut m = Map::new();
        m.insert("schemas".into(), json!([GROUP_SCHEMA]));
        m.insert("id".into(), json!(g.id));
        m.insert("displayName".into(), json!(g.display_name));
        if let Some(e) = &g.external_id {
            m.insert("externalId".into(), json!(e));
        }
        m.insert("members".into(), Value::Array(members));
        m.insert(
            "meta".into(),
            self.meta("Groups", &g.id, g.created, g.last_modified),
        );
        Value::Object(m)
    }
}

/// The flattened enterprise department path, lower case.
fn enterprise_department() -> String {
    format!("{}:department", ENTERPRISE_SCHEMA.to_ascii_lowercase())
}

fn req_string(v: &Value, what: &str) -> Result<String, ScimError> {
    match v {
        Value::String(s) => Ok(s.clone()),
        other => Err(ScimError::invalid_value(format!(
            "{what} must be a string, not {other}"
        ))),
    }
}

/// Email values of an `emails` array, the primary one first.
fn emails(v: &Value) -> Result<Vec<String>, ScimError> {
    let items: Vec<&Value> = match v {
        Value::Null => Vec::new(),
        Value::Array(a) => a.iter().collect(),
        obj @ Value::Object(_) => vec![obj],
        other => {
            return Err(ScimError::invalid_value(format!(
                "emails must be an array, not {other}"
            )));
        }
    };
    let mut out: Vec<(bool, String)> = Vec::new();
    for item in items {
        let o = as_object(item, "each email")?;
        let value = opt_string(get_ci(o, "value"), "emails.value")?
            .ok_or_else(|| ScimError::invalid_value("each email needs a value"))?;
        let primary = get_ci(o, "primary")
            .map(|p| tolerant_bool(p, "emails.primary"))
            .transpose()?
            .unwrap_or(false);
        out.push((primary, value));
    }
    out.sort_by_key(|(primary, _)| !primary);
    Ok(out.into_iter().map(|(_, v)| v).collect())
}

/// What setting an attribute did.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Set {
    /// The attribute was set.
    Done,
    /// The attribute is read-only or server-assigned (`id`, `meta`, `groups`, `schemas`).
    ReadOnly,
    /// No such attribute.
    Unknown,
}

/// Sets (add/replace) one attribute of `u` by its path; `path` is compared case-insensitively.
pub(crate) fn set_user_attr(u: &mut ScimUser, path: &str, v: &Value) -> Result<Set, ScimError> {
    let p = path.to_ascii_lowercase();
    match p.as_str() {
        "username" => {
            let name = req_string(v, "userName")?;
            if name.trim().is_empty() {
                return Err(ScimError::invalid_value("userName must not be empty"));
            }
            u.user_name = name;
        }
        "externalid" => u.external_id = opt_string(Some(v), "externalId")?,
        "displayname" => u.display_name = opt_string(Some(v), "displayName")?.unwrap_or_default(),
        "name" => {
            let o = as_object(v, "name")?;
            for (k, sub) in o {
                set_user_attr(u, &format!("name.{k}"), sub)?;
            }
        }
        "name.givenname" => u.given_name = opt_string(Some(v), "name.givenName")?,
        "name.familyname" => u.family_name = opt_string(Some(v), "name.familyName")?,
        // `formatted` is rendered from displayName; it fills displayName only when that is empty.
        "name.formatted" => {
            if let Some(f) = opt_string(Some(v), "name.formatted")?
                && u.display_name.is_empty()
            {
                u.display_name = f;
            }
        }
        p if p.starts_with("name.") => {}
        "emails" => u.emails = emails(v)?,
        p if p.starts_with("emails[") && p.ends_with("].value") => {
            let value = req_string(v, "email value")?;
            match u.emails.first_mut() {
                Some(first) => *first = value,
                None => u.emails.push(value),
            }
        }
        "active" => u.active = tolerant_bool(v, "active")?,
        "department" => u.department = opt_string(Some(v), "department")?,
        p if p == enterprise_department() => u.department = opt_string(Some(v), "department")?,
        p if p == ENTERPRISE_SCHEMA.to_ascii_lowercase() => {
            let o = as_object(v, ENTERPRISE_SCHEMA)?;
            if let Some(d) = get_ci(o, "department") {
                u.department = opt_string(Some(d), "department")?;
            }
        }
        "id" | "meta" | "groups" | "schemas" => return Ok(Set::ReadOnly),
        p if p.starts_with("meta.") => return Ok(Set::ReadOnly),
        _ => return Ok(Set::Unknown),
    }
    Ok(Set::Done)
}

/// Removes one attribute of `u` by its path (PATCH `remove`).
pub(crate) fn remove_user_attr(u: &mut ScimUser, path: &str) -> Result<Set, ScimError> {
    let p = path.to_ascii_lowercase();
    match p.as_str() {
        "username" => {
            return Err(ScimError::invalid_value(
                "userName is required and cannot be removed",
            ));
        }
        "active" => {
            return Err(ScimError::invalid_value(
                "active cannot be removed; replace it with false",
            ));
        }
        "externalid" => u.external_id = None,
        "displayname" => u.display_name = u.user_name.clone(),
        "name" => {
            u.given_name = None;
            u.family_name = None;
        }
        "name.givenname" => u.given_name = None,
        "name.familyname" => u.family_name = None,
        p if p.starts_with("name.") => {}
        "emails" => u.emails.clear(),
        "department" => u.department = None,
        p if p == enterprise_department() || p == ENTERPRISE_SCHEMA.to_ascii_lowercase() => {
            u.department = None;
        }
        "id" | "meta" | "groups" | "schemas" => return Ok(Set::ReadOnly),
        _ => return Ok(Set::Unknown),
    }
    Ok(Set::Done)
}

/// Fills defaults after a write: displayName from name parts or userName.
pub(crate) fn finish_user(u: &mut ScimUser) {
    if u.display_name.trim().is_empty() {
        let parts: Vec<&str> = [u.given_name.as_deref(), u.family_name.as_deref()]
            .into_iter()
            .flatten()
            .collect();
        u.display_name = if parts.is_empty() {
            u.user_name.clone()
        } else {
            parts.join(" ")
        };
    }
}

/// A user built from a POST/PUT body: a full replace of every writable attribute. Read-only
/// attributes (`groups`, `meta`, `id`) and unknown ones are ignored.
pub(crate) fn user_from_body(
    body: &Value,
    id: String,
    created: SystemTime,
    modified: SystemTime,
) -> Result<ScimUser, ScimError> {
    let o = body
        .as_object()
        .ok_or_else(|| ScimError::invalid_syntax("the request body must be a JSON object"))?;
    let mut u = ScimUser {
        id,
        external_id: None,
        user_name: String::new(),
        display_name: String::new(),
        given_name: None,
        family_name: None,
        emails: Vec::new(),
        active: true,
        department: None,
        groups: Vec::new(),
        created,
        last_modified: modified,
    };
    // `name.formatted` only fills an empty displayName, so apply displayName first.
    if let Some(d) = get_ci(o, "displayName") {
        set_user_attr(&mut u, "displayName", d)?;
    }
    for (k, v) in o {
        if k.eq_ignore_ascii_case("displayName") {
            continue;
        }
        set_user_attr(&mut u, k, v)?;
    }
    if u.user_name.trim().is_empty() {
        return Err(ScimError::invalid_value("userName is required"));
    }
    finish_user(&mut u);
    Ok(u)
}

/// Member ids of a `members` value: an array of `{"value": id}` (or one such object); numeric
/// ids are accepted as numbers too.
pub(crate) fn member_ids(v: &Value) -> Result<Vec<String>, ScimError> {
    let items: Vec<&Value> = match v {
        Value::Null => Vec::new(),
        Value::Array(a) => a.iter().collect(),
        obj @ Value::Object(_) => vec![obj],
        other => {
            return Err(ScimError::invalid_value(format!(
                "members must be an array of {{\"value\": id}}, not {other}"
            )));
        }
    };
    items
        .into_iter()
        .map(|item| {
            let o = as_object(item, "each member")?;
            match get_ci(o, "value") {
                Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
                Some(Value::Number(n)) => Ok(n.to_string()),
                _ => Err(ScimError::invalid_value(
                    "each member needs a string value (the user id)",
                )),
            }
        })
        .collect()
}

/// A group built from a POST/PUT body (full replace, members included).
pub(crate) fn group_from_body(
    body: &Value,
    id: String,
    created: SystemTime,
    modified: SystemTime,
) -> Result<ScimGroup, ScimError> {
    let o = body
        .as_object()
        .ok_or_else(|| ScimError::invalid_syntax("the request body must be a JSON object"))?;
    let display_name = opt_string(get_ci(o, "displayName"), "displayName")?
        .filter(|d| !d.trim().is_empty())
        .ok_or_else(|| ScimError::invalid_value("displayName is required"))?;
    let mut members = Vec::new();
    for m in get_ci(o, "members")
        .map(member_ids)
        .transpose()?
        .unwrap_or_default()
    {
        if !members.contains(&m) {
            members.push(m);
        }
    }
    Ok(ScimGroup {
        id,
        display_name,
        external_id: opt_string(get_ci(o, "externalId"), "externalId")?,
        members,
        created,
        last_modified: modified,
    })
}
