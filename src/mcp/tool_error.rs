//! A tool error as the client sees it: `isError`, the message as text, and `{kind, message}`
//! as structured content, so a client can branch on the kind without reading prose.

use rmcp::handler::server::tool::IntoCallToolResult;
use rmcp::model::{CallToolResponse, CallToolResult, ContentBlock};

use crate::ops::ToolError;

impl IntoCallToolResult for ToolError {
    fn into_call_tool_result(self) -> Result<CallToolResponse, rmcp::ErrorData> {
        let value = serde_json::json!({"kind": self.kind, "message": self.message});
        let mut result = CallToolResult::structured_error(value);
        result.content = vec![ContentBlock::text(self.message)];
        Ok(result.into())
    }
}
