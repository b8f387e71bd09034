//! The MCP face of the product: tool and prompt routing over rmcp. No Zscaler knowledge here;
//! every tool delegates to `crate::ops`.

pub mod confirm;
pub mod frames;
pub mod http;
pub mod legacy_sse;
pub mod prompts;
pub mod schema;
pub mod server;

pub use server::LifecycleServer;
