//! A tool failure the model can act on: what kind of failure it is (so a client can branch on
//! it without reading prose) and what was wrong and what to call instead.

use schemars::JsonSchema;
use serde::Serialize;

use crate::guard::GuardError;
use crate::guard::caps::CapError;

/// What kind of failure a tool error is. It travels with the error to the edge: the tool
/// result's structured content and the journal's refusal and failed-outcome records carry it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The policy or the guard refused the call (protected account, read-only, cap reached,
    /// plan not approved …): nothing was changed; a human or the configuration decides.
    Refused,
    /// A user, group, plan or connection the call names does not exist.
    NotFound,
    /// A key names several accounts or groups: the call must name one by id.
    Ambiguous,
    /// An argument is wrong or not supported by this backend: fix it and call again.
    InvalidInput,
    /// The tenant failed or could not be reached (credentials, rate limits, maintenance,
    /// transport, an answer the server could not read): nothing is known to have changed.
    Upstream,
    /// A write may or may not have happened: read the state back before trying again.
    OutcomeUnknown,
    /// The state changed under the call (the account already exists, another administrator is
    /// editing, the plan expired or was used): look again, then call again.
    Conflict,
    /// The call was cancelled before it finished; nothing was reported.
    Cancelled,
    /// The server itself failed (its journal, state store or configuration).
    Internal,
    /// No kind was given ([`ToolError::new`]).
    Failed,
}

impl ErrorKind {
    /// The name a client sees (`not_found`, `refused` …).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Refused => "refused",
            Self::NotFound => "not_found",
            Self::Ambiguous => "ambiguous",
            Self::InvalidInput => "invalid_input",
            Self::Upstream => "upstream",
            Self::OutcomeUnknown => "outcome_unknown",
            Self::Conflict => "conflict",
            Self::Cancelled => "cancelled",
            Self::Internal => "internal",
            Self::Failed => "failed",
        }
    }
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A tool failure: its kind and the message for the person or model reading it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema, thiserror::Error)]
#[error("{message}")]
pub struct ToolError {
    pub kind: ErrorKind,
    pub message: String,
}

impl ToolError {
    /// An error of no particular kind (`failed`); prefer a kind constructor.
    pub fn new(message: impl Into<String>) -> Self {
        Self::of(ErrorKind::Failed, message)
    }

    pub fn of(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    pub fn refused(message: impl Into<String>) -> Self {
        Self::of(ErrorKind::Refused, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::of(ErrorKind::NotFound, message)
    }

    pub fn ambiguous(message: impl Into<String>) -> Self {
        Self::of(ErrorKind::Ambiguous, message)
    }

    pub fn invalid_input(message: impl Into<String>) -> Self {
        Self::of(ErrorKind::InvalidInput, message)
    }

    pub fn upstream(message: impl Into<String>) -> Self {
        Self::of(ErrorKind::Upstream, message)
    }

    pub fn outcome_unknown(message: impl Into<String>) -> Self {
        Self::of(ErrorKind::OutcomeUnknown, message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::of(ErrorKind::Conflict, message)
    }

    pub fn cancelled(message: impl Into<String>) -> Self {
        Self::of(ErrorKind::Cancelled, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::of(ErrorKind::Internal, message)
    }

    /// The same kind with another message (a note appended, a prefix added).
    pub fn with_message(self, message: impl Into<String>) -> Self {
        Self::of(self.kind, message)
    }
}

impl From<GuardError> for ToolError {
    fn from(e: GuardError) -> Self {
        let kind = match &e {
            GuardError::PlanNotFound { .. } => ErrorKind::NotFound,
            GuardError::BadSignature { .. }
            | GuardError::KeyGone { .. }
            | GuardError::BadToken { .. }
            | GuardError::TokenModeOff { .. }
            | GuardError::NotApproved { .. }
            | GuardError::NeedsApprovals { .. }
            | GuardError::Mismatch { .. } => ErrorKind::Refused,
            GuardError::Expired { .. } | GuardError::AlreadyUsed { .. } => ErrorKind::Conflict,
            GuardError::State { .. } | GuardError::Journal { .. } | GuardError::Backend(_) => {
                ErrorKind::Internal
            }
        };
        Self::of(kind, e.to_string())
    }
}

/// The deletion cap refuses; when it cannot be read it refuses too (nothing was changed).
impl From<CapError> for ToolError {
    fn from(e: CapError) -> Self {
        Self::refused(e.to_string())
    }
}

/// Tool handlers that answer with a plain message keep working.
impl From<ToolError> for String {
    fn from(e: ToolError) -> Self {
        e.message
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_serialize_as_their_names_and_new_keeps_the_message() {
        for kind in [
            ErrorKind::Refused,
            ErrorKind::NotFound,
            ErrorKind::Ambiguous,
            ErrorKind::InvalidInput,
            ErrorKind::Upstream,
            ErrorKind::OutcomeUnknown,
            ErrorKind::Conflict,
            ErrorKind::Cancelled,
            ErrorKind::Internal,
            ErrorKind::Failed,
        ] {
            assert_eq!(
                serde_json::to_value(kind).expect("kind"),
                serde_json::Value::from(kind.as_str())
            );
        }
        let e = ToolError::new("no such thing");
        assert_eq!(
            (e.kind, e.to_string().as_str()),
            (ErrorKind::Failed, "no such thing")
        );
        let e = ToolError::from(GuardError::Expired { id: "p1".into() });
        assert_eq!(e.kind, ErrorKind::Conflict);
        assert!(e.to_string().contains("plan p1 expired"), "{e}");
    }
}
