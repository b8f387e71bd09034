//! zscaler-lifecycle-mcp: an MCP server that runs the Zscaler user lifecycle with a human
//! guardrail on every destructive change.
//!
//! Data flows one way: transport → tool handler → guard → provider → HTTP → tenant (or the
//! embedded simulator) → verification → result.

pub mod config;
pub mod guard;
pub mod html;
pub mod logs;
pub mod mcp;
pub mod model;
pub mod ops;
pub mod orphans;
pub mod provider;
pub mod secret;
pub mod setup;
pub mod sim;
pub mod state;
