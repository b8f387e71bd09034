//! The orphan audit's substance: its rules and what they find, the sources of record they
//! compare against (who should have an account, and who has left), and the full reports. The
//! tool that streams a tenant through them is `ops::audit`; nothing here knows of it.

pub mod duplicates;
pub mod findings;
pub mod report;
pub mod rules;
pub mod source;
