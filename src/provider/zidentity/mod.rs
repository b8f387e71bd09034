//! ZIdentity (placeholder)
