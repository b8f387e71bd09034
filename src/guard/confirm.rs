//! How a human says yes. The MCP layer implements [`Confirmer`] with elicitation; the guard only
//! needs an answer, so a new channel never touches the tools.

use async_trait::async_trait;

use super::plan::Plan;

/// A human's answer to a plan shown inline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfirmAnswer {
    /// The human accepted this exact plan.
    Accepted,
    /// The human said no.
    Declined,
    /// The human dismissed the dialog.
    Cancelled,
    /// This client cannot ask a human inline; fall back to out-of-band approval.
    Unavailable,
    /// The client asks the human itself and calls again with the answer (MCP 2026-07-28
    /// `InputRequiredResult`): return the plan to the client now.
    AskClient,
}

/// Asks a human, inline, to confirm a plan.
#[async_trait]
pub trait Confirmer: Send + Sync {
    async fn confirm(&self, plan: &Plan) -> ConfirmAnswer;
    /// Name of the channel, recorded in the journal.
    fn channel(&self) -> &'static str;
}

/// For callers that cannot ask anyone (e.g. a client without elicitation).
pub struct NoInlineConfirmation;

#[async_trait]
impl Confirmer for NoInlineConfirmation {
    async fn confirm(&self, _plan: &Plan) -> ConfirmAnswer {
        ConfirmAnswer::Unavailable
    }
    fn channel(&self) -> &'static str {
        "none"
    }
}
