//! Sources of record for the orphan audit (who should have an account, and who has left), and
//! the audit's full reports.

pub mod duplicates;
pub mod report;
pub mod source;
