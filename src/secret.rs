//! A string that must never reach a log, a tool result or the journal.

use std::fmt;

/// Holds a credential. `Debug` and `Display` print a fixed marker, so a secret that slips into a
/// `tracing` field or an error message is redacted rather than leaked.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Registers the value with [`crate::logs::never_log`], so that even a library's dump of a
    /// request that carries it is redacted in the logs.
    pub fn new(value: impl Into<String>) -> Self {
        let value = value.into();
        crate::logs::never_log(&value);
        Self(value)
    }

    /// The only way to read the value: grep for `expose` to audit every use.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_redact() {
        let s = Secret::new("hunter2");
        assert!(!format!("{s:?}").contains("hunter2"));
        assert!(!format!("{s}").contains("hunter2"));
        assert_eq!(s.expose(), "hunter2");
    }
}
