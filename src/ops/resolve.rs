//! Turning what a model typed (an email, an id, group and department names) into exact objects
//! on one connection. Ambiguity is an error, never a guess: changing the wrong account is the
//! one mistake this product must not make.

use crate::guard::policy::quote;
use crate::model::{Department, DepartmentRef, Group, GroupRef, User};
use crate::provider::ProviderError;

use super::{Connection, ToolError, provider_error};

/// Finds exactly one user by id or by any identity the backend has (email, SCIM userName,
/// any other email, externalId), case-insensitively. A key two accounts answer to is an
/// error, never a guess.
pub async fn user(conn: &Connection, key: &str) -> Result<User, ToolError> {
    let key = key.trim();
    if key.is_empty() {
        return Err(ToolError::invalid_input(
            "user is empty: pass the user's email (e.g. jane.doe@acme.example) or id",
        ));
    }
    let found = match conn.provider.find_users(key).await {
        Ok(found) => found,
        Err(ProviderError::Invalid { message }) => {
            return Err(ToolError::invalid_input(format!(
                "{} is not a valid user id on connection {} ({message}); pass the user's email or an id from list_users",
                quote(key),
                conn.name
            )));
        }
        Err(e) => return Err(provider_error(&conn.name, "looking up the user", e)),
    };
    let mut found = found.into_iter();
    match (found.next(), found.next()) {
        (Some(u), None) => Ok(u),
        (None, _) => Err(ToolError::not_found(format!(
            "no user {} {} on connection {}; list_users with email_prefix or name_prefix shows similar accounts",
            if key.contains('@') {
                "with email"
            } else {
                "with id or user name"
            },
            quote(key),
            conn.name
        ))),
        (Some(a), Some(b)) => {
            let ids: Vec<String> = [a, b].into_iter().chain(found).map(|u| u.id).collect();
            Err(ToolError::ambiguous(format!(
                "{} users on connection {} answer to {} (ids {}); pass the id of the one you mean",
                ids.len(),
                conn.name,
                quote(key),
                ids.join(", ")
            )))
        }
    }
}

/// Resolves group names (case-insensitive exact) against the connection's groups.
pub fn groups(
    conn: &Connection,
    all: &[Group],
    names: &[String],
) -> Result<Vec<GroupRef>, ToolError> {
    let mut out: Vec<GroupRef> = Vec::new();
    let mut missing = Vec::new();
    for name in names {
        let wanted = name.trim();
        let hits: Vec<&Group> = all
            .iter()
            .filter(|g| g.name.eq_ignore_ascii_case(wanted) || g.id == wanted)
            .collect();
        match hits.as_slice() {
            [g] => {
                if !out.iter().any(|r| r.id == g.id) {
                    out.push(GroupRef {
                        id: g.id.clone(),
                        name: g.name.clone(),
                    });
                }
            }
            [] => missing.push(quote(wanted)),
            many => {
                return Err(ToolError::ambiguous(format!(
                    "group name {} matches {} groups on connection {} (ids {}); pass the group id",
                    quote(wanted),
                    many.len(),
                    conn.name,
                    many.iter()
                        .map(|g| g.id.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        }
    }
    if !missing.is_empty() {
        return Err(ToolError::not_found(format!(
            "group {} not found on connection {}; list_groups shows the available ones",
            missing.join(", "),
            conn.name
        )));
    }
    Ok(out)
}

/// Resolves a department name (case-insensitive exact) or id.
pub fn department(
    conn: &Connection,
    all: &[Department],
    name: &str,
) -> Result<DepartmentRef, ToolError> {
    let wanted = name.trim();
    let hits: Vec<&Department> = all
        .iter()
        .filter(|d| d.name.eq_ignore_ascii_case(wanted) || d.id == wanted)
        .collect();
    match hits.as_slice() {
        [d] => Ok(DepartmentRef {
            id: d.id.clone(),
            name: d.name.clone(),
        }),
        [] => {
            let mut names: Vec<&str> = all.iter().map(|d| d.name.as_str()).collect();
            names.sort_unstable();
            let shown = names
                .iter()
                .take(30)
                .map(|n| quote(n))
                .collect::<Vec<_>>()
                .join(", ");
            // Left out: native ZIA accounts always belong to a department.
            if wanted.is_empty() {
                return Err(ToolError::invalid_input(format!(
                    "a department is required on connection {}; available departments: {shown}",
                    conn.name
                )));
            }
            Err(ToolError::not_found(format!(
                "department {} not found on connection {}; available departments: {shown}",
                quote(wanted),
                conn.name
            )))
        }
        many => Err(ToolError::ambiguous(format!(
            "department name {} matches {} departments on connection {}; pass the department id ({})",
            quote(wanted),
            many.len(),
            conn.name,
            many.iter()
                .map(|d| d.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}
