//! Every tool's arguments checked for size and hidden characters before anything reaches a
//! tenant. An oversized argument used to travel to the tenant (a 100 KB "email" in a search
//! URL) and come back as a connection failure after half a minute of retries; a key with a
//! right-to-left override or a zero-width space can look like one account and name another.
//! Both are refused here at once, with what to send instead.

use super::ToolError;
use super::audit::AuditArgs;
use super::batch::MAX_USERS;
use super::read::{GetUserArgs, ListGroupsArgs, ListUsersArgs, PendingChangesArgs};
use super::reconcile::ReconcileArgs;
use super::write::{
    ActivateChangesArgs, AddToGroupArgs, CreateUserArgs, DeactivateArgs, RemoveFromGroupArgs,
    RestoreUserArgs, UpdateUserArgs,
};

/// ZIA's limit on user, group and department names, and on a new user's email.
pub const MAX_NAME: usize = 127;
/// No email address is longer (RFC 5321); ids are much shorter.
pub const MAX_USER_KEY: usize = 254;
/// ZIA's limit on the groups of one user.
pub const MAX_GROUPS: usize = 128;
/// Configured names (connections, sources of record).
const MAX_CONFIG_NAME: usize = 128;
/// A plan id, with a token-mode token after it.
const MAX_PLAN_ID: usize = 512;
/// A list cursor this server issued.
const MAX_CURSOR: usize = 512;
/// A new user's comments.
const MAX_COMMENTS: usize = 10_240;
/// Rules of one audit (each named once is plenty).
const MAX_RULES: usize = 64;

/// A character that is invisible, or that changes how the text around it is displayed:
/// controls, bidirectional embeddings, overrides, isolates and marks, zero-width and joiner
/// characters, fillers, variation selectors and tags. None belongs in an email address or an
/// id, and each can make one address look like another.
pub fn hidden_char(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{00AD}'
                | '\u{034F}'
                | '\u{061C}'
                | '\u{115F}'
                | '\u{1160}'
                | '\u{17B4}'
                | '\u{17B5}'
                | '\u{180B}'..='\u{180F}'
                | '\u{200B}'..='\u{200F}'
                | '\u{2028}'..='\u{202E}'
                | '\u{2060}'..='\u{206F}'
                | '\u{3164}'
                | '\u{FE00}'..='\u{FE0F}'
                | '\u{FEFF}'
                | '\u{FFA0}'
                | '\u{FFF9}'..='\u{FFFB}'
                | '\u{E0000}'..='\u{E007F}'
                | '\u{E0100}'..='\u{E01EF}'
        )
}

/// Characters that reorder the display of the text around them (bidirectional embeddings,
/// overrides and isolates): refused in names too, where other format characters (a joiner in
/// a Persian or Indic name) are legitimate.
fn reordering_char(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// The first hidden character of `text`, as `U+202E (right-to-left override) at character 5`.
pub fn describe_hidden(text: &str, hidden: fn(char) -> bool) -> Option<String> {
    let (i, c) = text.chars().enumerate().find(|(_, c)| hidden(*c))?;
    let what = match c {
        '\u{200B}' => "zero-width space",
        '\u{200C}' => "zero-width non-joiner",
        '\u{200D}' => "zero-width joiner",
        '\u{200E}' => "left-to-right mark",
        '\u{200F}' => "right-to-left mark",
        '\u{202A}' => "left-to-right embedding",
        '\u{202B}' => "right-to-left embedding",
        '\u{202C}' => "pop directional formatting",
        '\u{202D}' => "left-to-right override",
        '\u{202E}' => "right-to-left override",
        '\u{2066}' => "left-to-right isolate",
        '\u{2067}' => "right-to-left isolate",
        '\u{2068}' => "first strong isolate",
        '\u{2069}' => "pop directional isolate",
        '\u{FEFF}' => "zero-width no-break space",
        '\u{00AD}' => "soft hyphen",
        c if c.is_control() => "control character",
        _ => "invisible formatting character",
    };
    Some(format!(
        "U+{:04X} ({what}) at character {}",
        c as u32,
        i + 1
    ))
}

/// `text` shortened and with hidden characters escaped, for an error message.
fn shown(text: &str) -> String {
    let short: String = text.chars().take(60).collect();
    let more = if text.chars().count() > 60 { "…" } else { "" };
    format!("{short:?}{more}")
}

fn too_long(field: &str, value: &str, max: usize, hint: &str) -> Result<(), ToolError> {
    let n = value.chars().count();
    if n > max {
        return Err(ToolError::invalid_input(format!(
            "{field} is {n} characters long, over the {max} allowed; {hint}"
        )));
    }
    Ok(())
}

/// A user key (an email or an id): bounded, and free of hidden characters.
pub fn user_key(field: &str, key: &str) -> Result<(), ToolError> {
    too_long(
        field,
        key,
        MAX_USER_KEY,
        "pass the user's email (e.g. jane.doe@acme.example) or id",
    )?;
    if let Some(what) = describe_hidden(key, hidden_char) {
        return Err(ToolError::invalid_input(format!(
            "{field} {} contains {what}, an invisible or direction-changing character that no email or id contains; retype the address without it (get_user or list_users with email_prefix finds the account)",
            shown(key)
        )));
    }
    Ok(())
}

/// A name (user, group, department): at most 127 characters, no reordering characters.
fn name(field: &str, value: &str) -> Result<(), ToolError> {
    too_long(
        field,
        value,
        MAX_NAME,
        "ZIA names have at most 127 characters",
    )?;
    if let Some(what) = describe_hidden(value, reordering_char) {
        return Err(ToolError::invalid_input(format!(
            "{field} {} contains {what}, which changes how the text around it is displayed; retype it without",
            shown(value)
        )));
    }
    Ok(())
}

fn config_name(field: &str, value: &str) -> Result<(), ToolError> {
    too_long(
        field,
        value,
        MAX_CONFIG_NAME,
        "pass a name from the server's configuration",
    )
}

fn plan_id(value: &str) -> Result<(), ToolError> {
    too_long(
        "plan_id",
        value,
        MAX_PLAN_ID,
        "pass the plan id exactly as the plan returned it",
    )
}

fn list<T>(field: &str, items: &[T], max: usize, hint: &str) -> Result<(), ToolError> {
    if items.len() > max {
        return Err(ToolError::invalid_input(format!(
            "{field} has {} entries, over the {max} allowed; {hint}",
            items.len()
        )));
    }
    Ok(())
}

fn groups(items: &[String]) -> Result<(), ToolError> {
    list(
        "groups",
        items,
        MAX_GROUPS,
        "a ZIA user belongs to at most 128 groups",
    )?;
    items.iter().try_for_each(|g| name("a group name", g))
}

/// Checks one tool's arguments before it runs.
pub trait Bounded {
    fn check_bounds(&self) -> Result<(), ToolError>;
}

impl Bounded for ListUsersArgs {
    fn check_bounds(&self) -> Result<(), ToolError> {
        config_name("connection", &self.connection)?;
        name("name_prefix", &self.name_prefix)?;
        too_long(
            "email_prefix",
            &self.email_prefix,
            MAX_USER_KEY,
            "no email is longer than 254 characters",
        )?;
        if let Some(what) = describe_hidden(&self.email_prefix, hidden_char) {
            return Err(ToolError::invalid_input(format!(
                "email_prefix {} contains {what}, which no email contains; retype it without",
                shown(&self.email_prefix)
            )));
        }
        name("group", &self.group)?;
        name("department", &self.department)?;
        too_long(
            "cursor",
            &self.cursor,
            MAX_CURSOR,
            "pass next_cursor exactly as returned, or omit it",
        )
    }
}

impl Bounded for GetUserArgs {
    fn check_bounds(&self) -> Result<(), ToolError> {
        config_name("connection", &self.connection)?;
        user_key("user", &self.user)
    }
}

impl Bounded for ListGroupsArgs {
    fn check_bounds(&self) -> Result<(), ToolError> {
        config_name("connection", &self.connection)?;
        name("name_contains", &self.name_contains)
    }
}

impl Bounded for PendingChangesArgs {
    fn check_bounds(&self) -> Result<(), ToolError> {
        config_name("connection", &self.connection)
    }
}

impl Bounded for CreateUserArgs {
    fn check_bounds(&self) -> Result<(), ToolError> {
        config_name("connection", &self.connection)?;
        name("name", &self.name)?;
        // The email's characters are checked with its domain (write::check_email).
        too_long(
            "email",
            &self.email,
            MAX_NAME,
            "ZIA emails have at most 127 characters",
        )?;
        name("department", &self.department)?;
        groups(&self.groups)?;
        too_long(
            "comments",
            &self.comments,
            MAX_COMMENTS,
            "shorten the comments",
        )?;
        plan_id(&self.plan_id)
    }
}

impl Bounded for AddToGroupArgs {
    fn check_bounds(&self) -> Result<(), ToolError> {
        config_name("connection", &self.connection)?;
        user_key("user", &self.user)?;
        groups(&self.groups)?;
        plan_id(&self.plan_id)
    }
}

impl Bounded for RemoveFromGroupArgs {
    fn check_bounds(&self) -> Result<(), ToolError> {
        config_name("connection", &self.connection)?;
        user_key("user", &self.user)?;
        groups(&self.groups)?;
        plan_id(&self.plan_id)
    }
}

impl Bounded for DeactivateArgs {
    fn check_bounds(&self) -> Result<(), ToolError> {
        config_name("connection", &self.connection)?;
        if !self.user.is_empty() {
            user_key("user", &self.user)?;
        }
        list(
            "users",
            &self.users,
            MAX_USERS,
            "split the list into calls of at most 500",
        )?;
        self.users.iter().try_for_each(|u| user_key("users[]", u))?;
        plan_id(&self.plan_id)
    }
}

impl Bounded for UpdateUserArgs {
    fn check_bounds(&self) -> Result<(), ToolError> {
        config_name("connection", &self.connection)?;
        user_key("user", &self.user)?;
        if let Some(n) = &self.name {
            name("name", n)?;
        }
        if let Some(d) = &self.department {
            name("department", d)?;
        }
        if let Some(g) = &self.groups {
            groups(g)?;
        }
        if let Some(c) = &self.comments {
            too_long("comments", c, MAX_COMMENTS, "shorten the comments")?;
        }
        plan_id(&self.plan_id)
    }
}

impl Bounded for RestoreUserArgs {
    fn check_bounds(&self) -> Result<(), ToolError> {
        config_name("connection", &self.connection)?;
        user_key("user", &self.user)?;
        plan_id(&self.plan_id)
    }
}

impl Bounded for ActivateChangesArgs {
    fn check_bounds(&self) -> Result<(), ToolError> {
        config_name("connection", &self.connection)?;
        plan_id(&self.plan_id)
    }
}

impl Bounded for AuditArgs {
    fn check_bounds(&self) -> Result<(), ToolError> {
        config_name("connection", &self.connection)?;
        config_name("source_of_record", &self.source_of_record)?;
        config_name("reference_connection", &self.reference_connection)?;
        list(
            "rules",
            &self.rules,
            MAX_RULES,
            "name each rule once, or omit rules for all",
        )
    }
}

impl Bounded for ReconcileArgs {
    fn check_bounds(&self) -> Result<(), ToolError> {
        config_name("connection", &self.connection)?;
        config_name("source_of_record", &self.source_of_record)?;
        list(
            "scope",
            &self.scope,
            3,
            "name joiners, movers and leavers once each",
        )?;
        plan_id(&self.plan_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_characters_are_found_and_named() {
        for (key, code) in [
            (
                "jane\u{202E}moc.emca@eod",
                "U+202E (right-to-left override) at character 5",
            ),
            ("jane\u{200B}.doe@acme.example", "U+200B (zero-width space)"),
            (
                "\u{2066}jane@acme.example",
                "U+2066 (left-to-right isolate) at character 1",
            ),
            ("jane@acme.example\u{FEFF}", "U+FEFF"),
            ("ja\u{0007}ne@acme.example", "U+0007 (control character)"),
            (
                "jane@acme.exam\u{E0041}ple",
                "U+E0041 (invisible formatting character)",
            ),
        ] {
            let e = user_key("user", key).expect_err(key);
            assert_eq!(e.kind, super::super::ErrorKind::InvalidInput);
            assert!(e.message.contains(code), "{key:?}: {}", e.message);
            assert!(
                !e.message.contains('\u{202E}') && !e.message.contains('\u{200B}'),
                "escaped: {}",
                e.message
            );
        }
        assert!(user_key("user", "jane.doe@acme.example").is_ok());
        assert!(user_key("user", "70001").is_ok());
        // Joiners belong in some names; reordering characters do not.
        assert!(name("name", "Mehr\u{200C}dad").is_ok());
        assert!(name("name", "Jane \u{202E}Doe").is_err());
    }

    #[test]
    fn sizes_are_bounded_with_what_to_send_instead() {
        let long = "a".repeat(300) + "@acme.example";
        let e = user_key("user", &long).expect_err("too long");
        assert!(
            e.message.contains("313 characters") && e.message.contains("254"),
            "{}",
            e.message
        );
        let args = DeactivateArgs {
            user: String::new(),
            users: vec!["a@acme.example".into(); MAX_USERS + 1],
            connection: String::new(),
            mode: None,
            plan_id: String::new(),
        };
        assert!(
            args.check_bounds()
                .expect_err("too many")
                .message
                .contains("501 entries")
        );
    }
}
