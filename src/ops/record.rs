//! What ops write into the journal, and what happens when the journal cannot be written.
//!
//! The rule is "no journal, no write": a record that must exist before something happens (the
//! intent of a tenant write, a plan shown for approval) is appended first, and if that fails
//! the thing does not happen and the caller is told why. A record of something that already
//! happened (the outcome of a tenant write) cannot undo it: its failure is reported in the
//! result instead of being swallowed.

use serde_json::{Map, Value};

use super::{App, Caller, ToolError};

/// The fields every record carries: the tool, the connection or scope, who called.
fn event(caller: &Caller, tool: &str, scope: &str, fields: Value) -> Map<String, Value> {
    let mut event = Map::new();
    event.insert("tool".into(), tool.into());
    event.insert("connection".into(), scope.into());
    event.insert("caller".into(), caller.principal.clone().into());
    event.insert("client".into(), caller.client.clone().into());
    if let Value::Object(m) = fields {
        event.extend(m);
    }
    event
}

/// Appends a record that must exist before anything happens; returns its hash (what later
/// records point back to). On failure nothing may be sent: the error says so.
pub(super) fn ahead(
    app: &App,
    caller: &Caller,
    tool: &str,
    scope: &str,
    fields: Value,
) -> Result<String, ToolError> {
    app.journal
        .append(event(caller, tool, scope, fields))
        .map(|r| r.hash)
        .map_err(|e| {
            tracing::error!(error = %e, tool, scope, "journal append failed; nothing sent");
            ToolError::internal(format!(
                "{tool} refused: nothing was sent to the tenant because the audit journal could not be written ({e}); an administrator must fix the journal (see `zscaler-lifecycle-mcp journal verify`)"
            ))
        })
}

/// Appends a record of something that already happened. Returns a notice for the result when
/// it could not be written, so the person learns that the journal misses it.
#[must_use]
pub(super) fn after(
    app: &App,
    caller: &Caller,
    tool: &str,
    scope: &str,
    fields: Value,
) -> Option<String> {
    match app.journal.append(event(caller, tool, scope, fields)) {
        Ok(_) => None,
        Err(e) => {
            tracing::error!(error = %e, tool, scope, "journal append failed after a tenant write");
            Some(format!(
                "The change was made, but the audit journal could not record its outcome ({e}); the journal holds its intent record only — tell an administrator."
            ))
        }
    }
}

/// Records a refusal, with the error's kind (`error_kind`); the refusal stands either way, and
/// the error says when it went unrecorded.
pub(super) fn refusal(
    app: &App,
    caller: &Caller,
    tool: &str,
    scope: &str,
    fields: Value,
    error: ToolError,
) -> ToolError {
    let mut event = event(caller, tool, scope, fields);
    event.insert("error_kind".into(), error.kind.as_str().into());
    match app.journal.append(event) {
        Ok(_) => error,
        Err(e) => {
            tracing::error!(error = %e, tool, scope, "journal append failed for a refusal");
            let message = format!("{error} (the audit journal could not record this refusal: {e})");
            error.with_message(message)
        }
    }
}
