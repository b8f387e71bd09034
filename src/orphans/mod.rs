//! Sources of record for the orphan audit: who should have an account, and who has left.

pub mod source;
