//! Inline confirmation through MCP elicitation.

use std::time::Duration;

use async_trait::async_trait;
use rmcp::service::{ElicitationError, ElicitationMode, RequestContext, RoleServer};
use schemars::JsonSchema;
use serde::Deserialize;

use crate::guard::confirm::{ConfirmAnswer, Confirmer};
use crate::guard::plan::Plan;

/// What the human fills in. A boolean the human must tick, so an accidental "accept" with
/// default content does not confirm anything.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct ConfirmForm {
    /// Tick to carry out exactly the plan shown above.
    pub confirm: bool,
}
rmcp::elicit_safe!(ConfirmForm);

/// Asks through `elicitation/create` on clients that declared form elicitation and still speak a
/// protocol with server-to-client requests (before 2026-07-28).
pub struct ElicitationConfirmer {
    ctx: RequestContext<RoleServer>,
}

impl ElicitationConfirmer {
    pub fn new(ctx: RequestContext<RoleServer>) -> Self {
        Self { ctx }
    }
}

/// How long a human has to answer before the plan counts as cancelled.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(600);

#[async_trait]
impl Confirmer for ElicitationConfirmer {
    async fn confirm(&self, plan: &Plan) -> ConfirmAnswer {
        let modern = self
            .ctx
            .protocol_version()
            .is_some_and(|v| !v.has_initialize());
        if modern
            || !self
                .ctx
                .peer
                .supported_elicitation_modes()
                .contains(&ElicitationMode::Form)
        {
            return ConfirmAnswer::Unavailable;
        }
        let message = format!(
            "{}\n\nNothing changes unless you tick confirm and accept.",
            plan.describe()
        );
        match self
            .ctx
            .peer
            .elicit_with_timeout::<ConfirmForm>(message, Some(ANSWER_TIMEOUT))
            .await
        {
            Ok(Some(ConfirmForm { confirm: true })) => ConfirmAnswer::Accepted,
            Ok(_) => ConfirmAnswer::Declined,
            Err(ElicitationError::UserDeclined) => ConfirmAnswer::Declined,
            Err(ElicitationError::CapabilityNotSupported) => ConfirmAnswer::Unavailable,
            // Cancelled, timed out, unparsable or a transport failure: nothing executes.
            Err(e) => {
                tracing::info!(error = %e, plan = %plan.id, "confirmation not obtained");
                ConfirmAnswer::Cancelled
            }
        }
    }

    fn channel(&self) -> &'static str {
        "elicitation"
    }
}
