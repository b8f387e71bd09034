//! A target that changes while a human is answering the confirmation is not changed: the gate
//! reads it again after the answer and the call ends with a `conflict`, end to end (the real
//! binary, a client that answers inline, the simulator's ZPA SCIM tenant edited meanwhile).

mod common;

use std::process::Stdio;

use common::Env;
use rmcp::model::{
    CallToolRequestParams, ClientCapabilities, ClientConfig, ElicitRequestParams, ElicitResult,
    ElicitationAction, ErrorData, Implementation,
};
use rmcp::service::{RequestContext, RoleClient};
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use rmcp::{ClientHandler, ServiceExt};
use serde_json::{Value, json};

/// Accepts every confirmation, but first renames the account on the ZPA SCIM tenant, as
/// another administrator might while the person reads the plan.
struct EditsThenAccepts {
    users_url: String,
    token: String,
    id: String,
}

impl ClientHandler for EditsThenAccepts {
    fn get_info(&self) -> ClientConfig {
        ClientConfig::new(
            ClientCapabilities::builder().enable_elicitation().build(),
            Implementation::new("e2e-recheck-client", "1.0"),
        )
    }

    async fn create_elicitation(
        &self,
        _request: ElicitRequestParams,
        _ctx: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, ErrorData> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let status = reqwest::Client::new()
            .patch(format!("{}/{}", self.users_url, self.id))
            .bearer_auth(&self.token)
            .json(&json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "path": "displayName", "value": "Renamed Meanwhile"}]
            }))
            .send()
            .await
            .expect("SCIM PATCH sent")
            .status();
        assert!(status.is_success(), "the edit went through: {status}");
        Ok(ElicitResult::new(ElicitationAction::Accept).with_content(json!({"confirm": true})))
    }
}

#[tokio::test]
async fn an_account_edited_while_the_human_answers_is_left_alone_as_a_conflict() {
    let env = Env::with_sim_and_zpa().await;
    let zpa = env.zpa_users().await;
    let john = |users: &[Value]| {
        users
            .iter()
            .find(|u| u["userName"] == "john.smith@acme.example")
            .cloned()
            .expect("john on ZPA")
    };
    let before = john(&zpa);
    let handler = EditsThenAccepts {
        users_url: format!("{}/Users", env.sim().zpa_scim_url.trim_end_matches('/')),
        token: env.sim().zpa_scim_token.clone(),
        id: before["id"].as_str().expect("id").to_string(),
    };
    let (transport, _stderr) =
        TokioChildProcess::builder(env.command(&["serve"]).configure(|_| {}))
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn server");
    let client = handler.serve(transport).await.expect("initialize");
    let args = json!({"user": "john.smith@acme.example", "connection": "zpa-test"});
    let Value::Object(map) = args else {
        unreachable!()
    };
    let r = client
        .call_tool(CallToolRequestParams::new("deactivate").with_arguments(map))
        .await
        .expect("tools/call answered");
    assert_eq!(r.is_error, Some(true), "{r:?}");
    let e = r.structured_content.expect("structured error");
    assert_eq!(e["kind"], "conflict", "{e}");
    assert!(
        e["message"]
            .as_str()
            .is_some_and(|m| m.contains("modified while the confirmation was open")),
        "{e}"
    );
    // Renamed by the other administrator, and still active: the deactivation did not happen.
    let after = john(&env.zpa_users().await);
    assert_eq!(after["displayName"], "Renamed Meanwhile", "{after}");
    assert_eq!(after["active"], before["active"], "{after}");
    let _ = client.cancel().await;
}
