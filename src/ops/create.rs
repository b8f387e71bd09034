//! create_user: a new account with its department and groups, read back and verified.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::guard::confirm::Confirmer;
use crate::guard::plan::{PlanTarget, value_fingerprint};
use crate::guard::policy::quote;
use crate::model::{NewUser, normalize_email};

use super::catalog::CREATE_USER;
use super::execute::Writer;
use super::gate::{Passed, Proposal, gate_once, input_of, precheck_plan};
use super::result::{
    ConfirmationInfo, STAGED_NEXT_STEP, WriteResult, WriteStatus, group_names, opt,
};
use super::{App, Caller, Connection, ToolError, provider_error, resolve};

fn check_email(conn: &Connection, email: &str) -> Result<(), ToolError> {
    let bad = |why: &str| {
        Err(ToolError::invalid_input(format!(
            "email {} is not valid: {why}; pass an address like first.last@{}",
            quote(email),
            conn.registered_domains
                .first()
                .map(String::as_str)
                .unwrap_or("example.com")
        )))
    };
    if email.len() > 127 {
        return bad("ZIA allows at most 127 characters");
    }
    // A bidirectional override or a zero-width character makes one address look like another.
    if let Some(what) = super::args::describe_hidden(email, super::args::hidden_char) {
        return Err(ToolError::invalid_input(format!(
            "email {email:?} contains {what}, an invisible or direction-changing character; type the address again without it"
        )));
    }
    if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return bad("it contains spaces or control characters");
    }
    let Some((local, domain)) = email.split_once('@') else {
        return bad("it has no @");
    };
    if local.is_empty() || domain.is_empty() || domain.contains('@') || !domain.contains('.') {
        return bad("it needs exactly one @ between a name and a domain");
    }
    if !conn.registered_domains.is_empty()
        && !conn
            .registered_domains
            .iter()
            .any(|d| d.eq_ignore_ascii_case(domain))
    {
        return Err(ToolError::invalid_input(format!(
            "domain {} is not registered on connection {} (registered: {}); ZIA only accepts users in its registered domains",
            quote(domain),
            conn.name,
            conn.registered_domains.join(", ")
        )));
    }
    Ok(())
}

/// Arguments of create_user.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUserArgs {
    /// Display name, 1–127 characters.
    pub name: String,
    /// Unique, in a registered domain.
    pub email: String,
    /// Must exist on native ZIA; free text on SCIM.
    #[serde(default)]
    pub department: String,
    /// Group names (see list_groups); native ZIA needs one or more.
    pub groups: Vec<String>,
    /// Stored on the account.
    #[serde(default)]
    pub comments: String,
    /// Omit when only one is configured.
    #[serde(default)]
    pub connection: String,
    /// Approved plan id, if policy requires confirmation.
    #[serde(default)]
    pub plan_id: String,
}

pub async fn create_user(
    app: &App,
    caller: &Caller,
    confirmer: &dyn Confirmer,
    args: CreateUserArgs,
) -> Result<WriteResult, ToolError> {
    app.policy
        .check_write(CREATE_USER)
        .map_err(ToolError::refused)?;
    let conn = app.connection_for(CREATE_USER, opt(&args.connection).as_deref())?;
    if !conn.provider.capabilities().create {
        return Err(ToolError::invalid_input(format!(
            "connection {} cannot create users",
            conn.name
        )));
    }
    let name = args.name.trim();
    let email = args.email.trim();
    let chars = name.chars().count();
    if chars == 0 || chars > 127 || name.chars().any(char::is_control) {
        return Err(ToolError::invalid_input(format!(
            "name must be 1 to 127 characters without control characters (got {chars}); shorten it and call again"
        )));
    }
    check_email(conn, email)?;
    app.policy
        .check_create_domain(email)
        .map_err(ToolError::refused)?;
    app.policy
        .check_new_account(email, name)
        .map_err(ToolError::refused)?;
    app.policy
        .check_targets(CREATE_USER, args.groups.len(), "groups")
        .map_err(ToolError::refused)?;
    let caps = conn.provider.capabilities();
    if args.groups.is_empty() && caps.create_needs_group {
        return Err(ToolError::invalid_input(
            "groups is empty: ZIA needs at least one group for a new user; list_groups shows the available ones",
        ));
    }
    for g in &args.groups {
        app.policy.check_group(g).map_err(ToolError::refused)?;
    }
    let (groups, departments) = tokio::try_join!(
        conn.provider.list_groups(),
        conn.provider.list_departments()
    )
    .map_err(|e| provider_error(&conn.name, "reading groups and departments", e))?;
    let group_refs = resolve::groups(conn, &groups, &args.groups)?;
    // Protection is decided on the groups as resolved: an id or a padded name of a protected
    // group names it all the same.
    for g in &group_refs {
        app.policy.check_group_ref(g).map_err(ToolError::refused)?;
    }
    // Where departments are objects (native ZIA) the one named must exist; elsewhere it is
    // free text.
    let department = if caps.departments {
        Some(resolve::department(conn, &departments, &args.department)?)
    } else {
        opt(&args.department).map(|d| crate::model::DepartmentRef {
            id: d.clone(),
            name: d,
        })
    };
    let new = NewUser {
        name: name.to_string(),
        email: email.to_string(),
        department,
        groups: group_refs,
        comments: opt(&args.comments),
        password: None,
    };
    let (plan, confirmation) = if app.policy.needs_confirmation(CREATE_USER) {
        precheck_plan(app, caller, CREATE_USER, &conn.name, &args.plan_id)?;
        let mut group_ids: Vec<&str> = new.groups.iter().map(|g| g.id.as_str()).collect();
        group_ids.sort_unstable();
        let arguments = json!({
            "name": new.name, "email": normalize_email(&new.email),
            "department": new.department.as_ref().map(|d| &d.id), "groups": group_ids,
            "comments": new.comments,
        });
        let proposal = Proposal {
            tool: CREATE_USER,
            changes: vec![format!(
                "Create user {} {} on connection {} in department {} with groups {}{}",
                quote(&new.name),
                quote(&new.email),
                conn.name,
                new.department
                    .as_ref()
                    .map(|d| quote(&d.name))
                    .unwrap_or_else(|| "none".into()),
                if new.groups.is_empty() {
                    "none".into()
                } else {
                    group_names(&new.groups)
                },
                new.comments
                    .as_deref()
                    .map(|c| format!(", comments {}", quote(c)))
                    .unwrap_or_default()
            )],
            targets: vec![PlanTarget {
                kind: "new_user".into(),
                id: normalize_email(&new.email),
                label: normalize_email(&new.email),
                fingerprint: value_fingerprint(&arguments),
            }],
            arguments,
            input: input_of(&args),
            plan_id: &args.plan_id,
        };
        match gate_once(app, &conn.name, caller, confirmer, proposal).await? {
            Ok(Passed { plan, confirmation }) => (Some(plan), confirmation),
            Err(stop) => return Ok(*stop),
        }
    } else {
        (None, ConfirmationInfo::not_required())
    };
    let writer = Writer {
        app,
        caller,
        conn,
        tool: CREATE_USER,
        plan: plan.as_ref(),
        confirmation: &confirmation,
    };
    let written = writer.create_user(&new).await?;
    let staged = conn.provider.capabilities().staged_changes;
    let mut r = match &written.after {
        Some(user) => WriteResult::new(
            WriteStatus::Executed,
            conn,
            format!(
                "Created user {} (id {}) on {}.",
                quote(&user.email),
                user.id,
                conn.name
            ),
        ),
        None => WriteResult::new(
            WriteStatus::OutcomeUnknown,
            conn,
            format!(
                "Whether user {} was created on {} is unknown (the tenant's answer was lost); call get_user with the email before trying again.",
                quote(email),
                conn.name
            ),
        ),
    };
    r.notices.extend(written.notices);
    r.verification = Some(written.verification);
    r.user = written.after;
    r.staged = staged;
    r.plan = plan;
    r.confirmation = Some(confirmation);
    if staged {
        r.next_step = Some(STAGED_NEXT_STEP.into());
    }
    Ok(r)
}
