//! The tool catalogue: every tool's name, what it does to a tenant and how it is confirmed.
//!
//! One table that the MCP router, the policy and the config checks all read, so a tool added
//! here is known everywhere at once and nothing spells tool facts on its own.

/// What a tool does to a tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Reads only; allowed in `read_only` mode.
    Read,
    /// Changes a tenant without taking access away.
    Write,
    /// Takes access away or publishes changes: always planned and confirmed.
    Destructive,
}

/// How a tool's calls are confirmed by a human.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirmation {
    /// Never: reads.
    Never,
    /// Only where `policy.confirm_tools` names the tool.
    OnRequest,
    /// Always when the call takes access away (update_user removing a group or changing the
    /// department); otherwise only where `policy.confirm_tools` names the tool.
    WhenTakingAway,
    /// Always.
    Always,
}

/// The facts of one tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tool {
    pub name: &'static str,
    pub effect: Effect,
    pub confirmation: Confirmation,
}

const fn tool(name: &'static str, effect: Effect, confirmation: Confirmation) -> Tool {
    Tool {
        name,
        effect,
        confirmation,
    }
}

pub const LIST_USERS: &str = "list_users";
pub const GET_USER: &str = "get_user";
pub const LIST_GROUPS: &str = "list_groups";
pub const CREATE_USER: &str = "create_user";
pub const ADD_TO_GROUP: &str = "add_to_group";
pub const REMOVE_FROM_GROUP: &str = "remove_from_group";
pub const DEACTIVATE: &str = "deactivate";
pub const PENDING_CHANGES: &str = "pending_changes";
pub const ACTIVATE_CHANGES: &str = "activate_changes";
pub const AUDIT_ORPHANS: &str = "audit_orphans";
pub const UPDATE_USER: &str = "update_user";
pub const RESTORE_USER: &str = "restore_user";
pub const RECONCILE: &str = "reconcile";

/// Every tool the server offers, in the order tools/list shows them.
pub const TOOLS: &[Tool] = &[
    tool(LIST_USERS, Effect::Read, Confirmation::Never),
    tool(GET_USER, Effect::Read, Confirmation::Never),
    tool(LIST_GROUPS, Effect::Read, Confirmation::Never),
    tool(CREATE_USER, Effect::Write, Confirmation::OnRequest),
    tool(ADD_TO_GROUP, Effect::Write, Confirmation::OnRequest),
    tool(REMOVE_FROM_GROUP, Effect::Destructive, Confirmation::Always),
    tool(DEACTIVATE, Effect::Destructive, Confirmation::Always),
    tool(PENDING_CHANGES, Effect::Read, Confirmation::Never),
    tool(ACTIVATE_CHANGES, Effect::Destructive, Confirmation::Always),
    tool(AUDIT_ORPHANS, Effect::Read, Confirmation::Never),
    tool(
        UPDATE_USER,
        Effect::Destructive,
        Confirmation::WhenTakingAway,
    ),
    // Grants access back: always confirmed.
    tool(RESTORE_USER, Effect::Write, Confirmation::Always),
    tool(RECONCILE, Effect::Destructive, Confirmation::Always),
];

/// The facts of a tool by name.
pub fn get(name: &str) -> Option<&'static Tool> {
    TOOLS.iter().find(|t| t.name == name)
}

/// Every tool name.
pub fn names() -> Vec<&'static str> {
    TOOLS.iter().map(|t| t.name).collect()
}

/// Tools a deployment may put behind confirmation (`policy.confirm_tools`): those some of whose
/// calls need none otherwise.
pub fn confirmable() -> Vec<&'static str> {
    TOOLS
        .iter()
        .filter(|t| {
            matches!(
                t.confirmation,
                Confirmation::OnRequest | Confirmation::WhenTakingAway
            )
        })
        .map(|t| t.name)
        .collect()
}

/// Whether every call of a tool needs confirmation only because `policy.confirm_tools` names
/// it (so naming it in `token_mode.tools` alone is pointless).
pub fn confirmed_only_on_request(name: &str) -> bool {
    get(name).is_some_and(|t| t.confirmation == Confirmation::OnRequest)
}

/// Tools that can go through a plan and its confirmation: the destructive ones (always) and the
/// confirmable ones (where `confirm_tools` says so).
pub fn guarded() -> Vec<&'static str> {
    TOOLS
        .iter()
        .filter(|t| t.confirmation != Confirmation::Never)
        .map(|t| t.name)
        .collect()
}

/// Whether a tool changes a tenant (and so is gone in `read_only` mode).
pub fn writes(name: &str) -> bool {
    get(name).is_some_and(|t| t.effect != Effect::Read)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_reads_need_no_confirmation() {
        let mut names = names();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), TOOLS.len());
        for t in TOOLS {
            assert_eq!(
                t.effect == Effect::Read,
                t.confirmation == Confirmation::Never,
                "{}",
                t.name
            );
            // Whatever takes access away is confirmed, always or whenever it does.
            if t.effect == Effect::Destructive {
                assert!(
                    matches!(
                        t.confirmation,
                        Confirmation::Always | Confirmation::WhenTakingAway
                    ),
                    "{}",
                    t.name
                );
            }
        }
        assert_eq!(confirmable(), [CREATE_USER, ADD_TO_GROUP, UPDATE_USER]);
        assert!(confirmed_only_on_request(CREATE_USER) && !confirmed_only_on_request(UPDATE_USER));
        assert!(writes(RESTORE_USER) && guarded().contains(&RESTORE_USER));
        assert!(writes(DEACTIVATE) && !writes(LIST_USERS) && !writes("nope"));
    }
}
