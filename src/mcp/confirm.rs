//! Inline confirmation over MCP, by the best channel the client offers:
//! - protocol 2026-07-28 clients: `InputRequiredResult` (MRTR). The plan goes to the client in a
//!   sealed `requestState`; the client asks the human and calls again with the answer. The state
//!   is HMAC-verified, expires with the plan, and the plan id is consumed so an answer cannot be
//!   replayed.
//! - older clients that declared form elicitation: `elicitation/create` within the call.
//! - anything else: [`ConfirmAnswer::Unavailable`], which falls back to out-of-band approval.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use rmcp::model::{
    CallToolResponse, ElicitRequest, ElicitRequestParams, ElicitationSchema, InputRequest,
    InputRequests, InputRequiredResult, RequestStateCodec, SealOptions,
};
use rmcp::service::{ElicitationError, ElicitationMode, RequestContext, RoleServer};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

use crate::guard::confirm::{ConfirmAnswer, Confirmer};
use crate::guard::plan::Plan;
use crate::ops::App;

/// What the human fills in. A boolean the human must tick, so an accidental "accept" with
/// default content does not confirm anything.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct ConfirmForm {
    /// Tick to carry out exactly the plan shown above.
    pub confirm: bool,
}
rmcp::elicit_safe!(ConfirmForm);

/// The key of the single input request in an `InputRequiredResult`.
const INPUT_KEY: &str = "confirm";

/// How long a human has to answer an inline elicitation before it counts as cancelled.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(600);

fn message(plan: &Plan) -> String {
    format!(
        "{}\n\nNothing changes unless you tick confirm and accept.",
        plan.describe()
    )
}

/// A human's answer carried back by an MRTR retry, with the plan it answers.
pub struct PriorAnswer {
    pub plan: Plan,
    pub answer: ConfirmAnswer,
}

/// What a sealed confirmation state is bound to: the tool and the caller it was issued to, so
/// that neither another tool nor another caller can use it.
fn binding(tool: &str, principal: &str) -> Vec<u8> {
    format!("{tool}\0{principal}").into_bytes()
}

/// Opens the echoed `requestState` and reads the human's answer from `inputResponses`.
/// `Ok(None)` for a first call; `Err` with a message for tampered, expired or foreign state.
pub fn prior_answer(
    codec: &RequestStateCodec,
    tool: &str,
    principal: &str,
    state: Option<&str>,
    responses: Option<&rmcp::model::InputResponses>,
) -> Result<Option<PriorAnswer>, String> {
    let Some(state) = state else {
        return Ok(None);
    };
    let plan: Plan = codec
        .open_json_with(state, &binding(tool, principal))
        .map_err(|e| {
            format!(
                "the confirmation state for {tool} is invalid ({e}): it was altered, belongs to another tool, caller or server, or expired; call {tool} again without requestState"
            )
        })?;
    let response = responses.and_then(|r| r.get(INPUT_KEY));
    let action = response
        .and_then(|r| r.get("action"))
        .and_then(Value::as_str);
    let ticked = response
        .and_then(|r| r.get("content"))
        .and_then(|c| c.get("confirm"))
        .and_then(Value::as_bool)
        == Some(true);
    let answer = match action {
        Some("accept") if ticked => ConfirmAnswer::Accepted,
        Some("accept") | Some("decline") => ConfirmAnswer::Declined,
        _ => ConfirmAnswer::Cancelled,
    };
    Ok(Some(PriorAnswer { plan, answer }))
}

/// Turns a plan awaiting the human into the MRTR result the client acts on.
pub fn input_required(codec: &RequestStateCodec, plan: &Plan) -> Result<CallToolResponse, String> {
    let schema = ElicitationSchema::from_type::<ConfirmForm>()
        .map_err(|e| format!("internal error building the confirmation form: {e}"))?;
    let mut requests = InputRequests::new();
    requests.insert(
        INPUT_KEY.to_string(),
        InputRequest::Elicitation(ElicitRequest::new(
            ElicitRequestParams::FormElicitationParams {
                meta: None,
                message: message(plan),
                requested_schema: schema,
            },
        )),
    );
    let ttl = Duration::from_secs(plan.expires_at.saturating_sub(plan.created_at).max(1));
    let sealed = codec
        .seal_json_with(
            plan,
            &SealOptions::new()
                .associated_data(&binding(&plan.tool, &plan.caller))
                .ttl(ttl),
        )
        .map_err(|e| format!("internal error sealing the confirmation state: {e}"))?;
    Ok(InputRequiredResult::new(Some(requests), Some(sealed)).into())
}

/// Picks the channel per request.
pub struct McpConfirmer {
    ctx: RequestContext<RoleServer>,
    app: Arc<App>,
    prior: Option<PriorAnswer>,
    /// Whether a pre-2026 client may be asked within the call (`elicitation/create`). Off where
    /// its answer could reach another replica (`--stateless`): the plan goes to approval.
    elicit_inline: bool,
}

impl McpConfirmer {
    pub fn new(
        ctx: RequestContext<RoleServer>,
        app: Arc<App>,
        prior: Option<PriorAnswer>,
        elicit_inline: bool,
    ) -> Self {
        Self {
            ctx,
            app,
            prior,
            elicit_inline,
        }
    }

    fn modern(&self) -> bool {
        self.ctx
            .protocol_version()
            .is_some_and(|v| !v.has_initialize())
    }

    fn client_can_elicit(&self) -> bool {
        self.ctx
            .client_capabilities()
            .is_some_and(|c| c.elicitation.is_some())
    }

    async fn elicit(&self, plan: &Plan) -> ConfirmAnswer {
        if !self.elicit_inline {
            return ConfirmAnswer::Unavailable;
        }
        if !self
            .ctx
            .peer
            .supported_elicitation_modes()
            .contains(&ElicitationMode::Form)
        {
            return ConfirmAnswer::Unavailable;
        }
        match self
            .ctx
            .peer
            .elicit_with_timeout::<ConfirmForm>(message(plan), Some(ANSWER_TIMEOUT))
            .await
        {
            Ok(Some(ConfirmForm { confirm: true })) => ConfirmAnswer::Accepted,
            Ok(_) => ConfirmAnswer::Declined,
            Err(ElicitationError::UserDeclined) => ConfirmAnswer::Declined,
            Err(ElicitationError::CapabilityNotSupported) => ConfirmAnswer::Unavailable,
            Err(ElicitationError::UserCancelled) => ConfirmAnswer::Cancelled,
            // The question could not be put or answered (stateless HTTP has no channel back,
            // a timeout, a malformed answer): nothing executes, and the plan goes to
            // out-of-band approval instead of being lost.
            Err(e) => {
                tracing::info!(error = %e, plan = %plan.id, "inline confirmation unavailable; falling back to approval");
                ConfirmAnswer::Unavailable
            }
        }
    }
}

#[async_trait]
impl Confirmer for McpConfirmer {
    async fn confirm(&self, plan: &Plan) -> ConfirmAnswer {
        if !self.modern() {
            return self.elicit(plan).await;
        }
        if let Some(prior) = &self.prior {
            let same = prior.plan.tool == plan.tool
                && prior.plan.connection == plan.connection
                && prior.plan.arguments == plan.arguments
                && prior.plan.input == plan.input
                && prior.plan.caller == plan.caller
                && prior.plan.targets == plan.targets;
            if !same {
                // The tenant or the arguments changed since the human saw the plan: ask again
                // about the new one rather than act on an answer to another question.
                return ConfirmAnswer::AskClient;
            }
            return match prior.answer {
                ConfirmAnswer::Accepted => match self.app.plans.consume(&prior.plan.id) {
                    Ok(()) => ConfirmAnswer::Accepted,
                    Err(e) => {
                        tracing::warn!(error = %e, "replayed confirmation refused");
                        ConfirmAnswer::Cancelled
                    }
                },
                ref other => other.clone(),
            };
        }
        if self.client_can_elicit() {
            ConfirmAnswer::AskClient
        } else {
            ConfirmAnswer::Unavailable
        }
    }

    fn channel(&self) -> &'static str {
        if self.modern() { "mrtr" } else { "elicitation" }
    }
}
