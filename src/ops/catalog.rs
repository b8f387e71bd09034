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

/// Tools a deployment may put behind confirmation (`policy.confirm_tools`).
pub fn confirmable() -> Vec<&'static str> {
    TOOLS
        .iter()
        .filter(|t| t.confirmation == Confirmation::OnRequest)
        .map(|t| t.name)
        .collect()
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
            assert_eq!(
                t.effect == Effect::Destructive,
                t.confirmation == Confirmation::Always,
                "{}",
                t.name
            );
        }
        assert_eq!(confirmable(), [CREATE_USER, ADD_TO_GROUP]);
        assert!(writes(DEACTIVATE) && !writes(LIST_USERS) && !writes("nope"));
    }
}
