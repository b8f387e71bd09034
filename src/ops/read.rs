//! Read tools: list_users, get_user, list_groups, pending_changes.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::guard::ledger::LedgerEntry;
use crate::guard::policy::quote;
use crate::model::{ActivationState, Group, PageRequest, User, UserFilter};

use super::{App, ToolError, provider_error, resolve};

fn opt(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_string())
}

/// Arguments of list_users.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListUsersArgs {
    /// Omit when only one is configured.
    #[serde(default)]
    pub connection: String,
    /// Display-name prefix, case-insensitive.
    #[serde(default)]
    pub name_prefix: String,
    /// Email prefix, case-insensitive.
    #[serde(default)]
    pub email_prefix: String,
    /// Exact group name, case-insensitive.
    #[serde(default)]
    pub group: String,
    /// Exact department name, case-insensitive.
    #[serde(default)]
    pub department: String,
    /// Rows to return, 1–500 (default 50).
    #[serde(default)]
    pub limit: Option<u32>,
    /// next_cursor from the previous page.
    #[serde(default)]
    pub cursor: String,
}

/// A compact user row: enough to pick a user, small enough for a model's context.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct UserRow {
    pub id: String,
    pub name: String,
    pub email: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    pub groups: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
}

impl From<&User> for UserRow {
    fn from(u: &User) -> Self {
        Self {
            id: u.id.clone(),
            name: u.name.clone(),
            email: u.email.clone(),
            department: u.department.as_ref().map(|d| d.name.clone()),
            groups: u.groups.iter().map(|g| g.name.clone()).collect(),
            active: u.active,
        }
    }
}

/// Result of list_users.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ListUsersResult {
    pub connection: String,
    pub users: Vec<UserRow>,
    /// The next page's cursor; absent at the end.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
    /// Tell the person (e.g. a session end made staged changes live).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notices: Vec<String>,
}

pub async fn list_users(app: &App, args: ListUsersArgs) -> Result<ListUsersResult, ToolError> {
    let conn = app.connection_for("list_users", opt(&args.connection).as_deref())?;
    let limit = args.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ToolError::invalid_input(format!(
            "limit {limit} is out of range; use 1 to 500 and page with cursor"
        )));
    }
    let filter = UserFilter {
        name_prefix: opt(&args.name_prefix),
        email_prefix: opt(&args.email_prefix),
        group: opt(&args.group),
        department: opt(&args.department),
    };
    let page = conn
        .provider
        .list_users(
            &filter,
            &PageRequest {
                cursor: opt(&args.cursor),
                limit: limit as usize,
            },
        )
        .await
        .map_err(|e| provider_error(&conn.name, "list_users", e))?;
    // An empty result for a group or department that does not exist is a typo, not an answer:
    // say so (costs a call only when nothing matched).
    if page.items.is_empty() && args.cursor.trim().is_empty() {
        if let Some(group) = &filter.group {
            let groups = conn
                .provider
                .list_groups()
                .await
                .map_err(|e| provider_error(&conn.name, "list_groups", e))?;
            resolve::groups(conn, &groups, std::slice::from_ref(group))?;
        }
        if let Some(dept) = &filter.department {
            let depts = conn
                .provider
                .list_departments()
                .await
                .map_err(|e| provider_error(&conn.name, "list_departments", e))?;
            resolve::department(conn, &depts, dept)?;
        }
    }
    Ok(ListUsersResult {
        connection: conn.name.clone(),
        users: page.items.iter().map(UserRow::from).collect(),
        next_cursor: page.next_cursor,
        notices: conn.provider.take_notices(),
    })
}

/// Arguments of get_user.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetUserArgs {
    /// The user's email (case-insensitive) or id (an email when connection is "all").
    pub user: String,
    /// Omit when only one is configured; "all": every connection.
    #[serde(default)]
    pub connection: String,
}

/// One account of the person on one connection.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Account {
    pub connection: String,
    pub user: User,
}

/// Result of get_user.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct GetUserResult {
    /// The connection, or "all".
    pub connection: String,
    /// The account (one connection).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<User>,
    /// connection "all": the accounts, by connection.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accounts: Vec<Account>,
    /// connection "all": connections without one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_found_on: Vec<String>,
    /// connection "all": connections not read, and why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unreachable: Vec<String>,
    /// Tell the person (e.g. a session end made staged changes live).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notices: Vec<String>,
}

pub async fn get_user(app: &App, args: GetUserArgs) -> Result<GetUserResult, ToolError> {
    if args
        .connection
        .trim()
        .eq_ignore_ascii_case(super::offboard::ALL)
    {
        return get_user_everywhere(app, args.user.trim()).await;
    }
    let conn = app.connection_for("get_user", opt(&args.connection).as_deref())?;
    let user = resolve::user(conn, &args.user).await?;
    Ok(GetUserResult {
        connection: conn.name.clone(),
        user: Some(user),
        accounts: Vec::new(),
        not_found_on: Vec::new(),
        unreachable: Vec::new(),
        notices: conn.provider.take_notices(),
    })
}

/// Where does this person have accounts? Every connection is asked; one that cannot answer is
/// reported, not silently counted as "not found".
async fn get_user_everywhere(app: &App, email: &str) -> Result<GetUserResult, ToolError> {
    if !email.contains('@') {
        return Err(ToolError::invalid_input(format!(
            "with connection \"all\" pass the person's email, not an id (ids differ per connection); got {}",
            crate::guard::policy::quote(email)
        )));
    }
    let mut out = GetUserResult {
        connection: super::offboard::ALL.into(),
        user: None,
        accounts: Vec::new(),
        not_found_on: Vec::new(),
        unreachable: Vec::new(),
        notices: Vec::new(),
    };
    for conn in app.connections.values() {
        if let Err(why) = app.policy.check_connection("get_user", &conn.name) {
            out.unreachable.push(why);
            continue;
        }
        match conn.provider.find_users_by_email(email).await {
            Ok(found) if found.is_empty() => out.not_found_on.push(conn.name.clone()),
            Ok(found) => out.accounts.extend(found.into_iter().map(|user| Account {
                connection: conn.name.clone(),
                user,
            })),
            Err(e) => out
                .unreachable
                .push(provider_error(&conn.name, "looking up the user", e).message),
        }
        out.notices.extend(
            conn.provider
                .take_notices()
                .into_iter()
                .map(|n| format!("{}: {n}", conn.name)),
        );
    }
    Ok(out)
}

/// Arguments of list_groups.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListGroupsArgs {
    /// Omit when only one is configured.
    #[serde(default)]
    pub connection: String,
    /// Only groups whose name contains this (case-insensitive).
    #[serde(default)]
    pub name_contains: String,
}

/// Result of list_groups.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ListGroupsResult {
    pub connection: String,
    pub groups: Vec<Group>,
    /// Tell the person (e.g. a session end made staged changes live).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notices: Vec<String>,
}

pub async fn list_groups(app: &App, args: ListGroupsArgs) -> Result<ListGroupsResult, ToolError> {
    let conn = app.connection_for("list_groups", opt(&args.connection).as_deref())?;
    let needle = args.name_contains.trim().to_lowercase();
    let mut groups = conn
        .provider
        .list_groups()
        .await
        .map_err(|e| provider_error(&conn.name, "list_groups", e))?;
    groups.retain(|g| needle.is_empty() || g.name.to_lowercase().contains(&needle));
    groups.sort_by_key(|g| g.name.to_lowercase());
    Ok(ListGroupsResult {
        connection: conn.name.clone(),
        groups,
        notices: conn.provider.take_notices(),
    })
}

/// Arguments of pending_changes.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PendingChangesArgs {
    /// Omit when only one is configured.
    #[serde(default)]
    pub connection: String,
}

/// Result of pending_changes.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct PendingChangesResult {
    pub connection: String,
    /// The tenant's own activation status.
    pub tenant_status: ActivationState,
    /// Changes this server staged and has not activated.
    pub staged_by_this_server: Vec<LedgerEntry>,
    pub note: String,
    /// Tell the person (e.g. a session end made staged changes live).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notices: Vec<String>,
}

pub async fn pending_changes(
    app: &App,
    args: PendingChangesArgs,
) -> Result<PendingChangesResult, ToolError> {
    let conn = app.connection_for("pending_changes", opt(&args.connection).as_deref())?;
    if !conn.provider.capabilities().staged_changes {
        return Err(ToolError::invalid_input(format!(
            "connection {} applies changes immediately; nothing is ever pending there",
            conn.name
        )));
    }
    let status = super::activation_status(conn).await?;
    let mine = app.ledger.pending(&conn.name);
    let session_ends = app.ledger.take_session_ends(&conn.name);
    let note = match (status, mine.is_empty()) {
        (ActivationState::Active, true) => "Nothing is pending on the tenant.".to_string(),
        (ActivationState::Active, false) => {
            // Staged changes became live without activate_changes: a session end or another
            // administrator activated them. Say so, then forget them.
            app.ledger.clear(&conn.name);
            format!(
                "Nothing is pending: the {} change(s) this server staged are already live (the tenant activated them when an admin session ended, or another administrator activated).",
                mine.len()
            )
        }
        (_, true) => "The tenant has pending changes, none made by this server (another administrator's work). activate_changes would publish them too; ask a human before activating.".to_string(),
        (_, false) => format!(
            "{} change(s) by this server are staged; activate_changes publishes every pending change on connection {} (tenant-wide).",
            mine.len(),
            quote(&conn.name)
        ),
    };
    // A session that ended with changes staged activated them: say so before anything else.
    let note = if session_ends.is_empty() {
        note
    } else {
        format!("{} {note}", session_ends.join(" "))
    };
    Ok(PendingChangesResult {
        connection: conn.name.clone(),
        tenant_status: status,
        staged_by_this_server: mine,
        note,
        notices: conn.provider.take_notices(),
    })
}
