//! The MCP face of the product: tool and prompt routing over rmcp. No Zscaler knowledge here;
//! every tool delegates to `crate::ops`.

pub mod client_log;
pub mod completion;
pub mod confirm;
pub mod frames;
pub mod http;
pub mod legacy_sse;
pub mod prompts;
pub mod resources;
pub mod schema;
pub mod server;
pub mod session_store;
pub mod sessions;
pub mod tasks;
mod tool_error;

pub use server::LifecycleServer;
