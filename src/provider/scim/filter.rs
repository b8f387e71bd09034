//! SCIM filter expressions (RFC 7644 §3.4.2.2), built so that no value can change the filter's
//! meaning: a value is always one JSON string literal, with `"` and `\` escaped.

/// `attr eq "value"`, with the value quoted as a JSON string.
pub fn eq(attr: &str, value: &str) -> String {
    format!("{attr} eq {}", literal(value))
}

/// `attr sw "value"`: starts with (RFC 7644), for prefix searches the server can narrow.
pub fn starts_with(attr: &str, value: &str) -> String {
    format!("{attr} sw {}", literal(value))
}

/// `meta.lastModified gt "timestamp"`: what changed since a point in time.
pub fn modified_since(rfc3339: &str) -> String {
    format!("meta.lastModified gt {}", literal(rfc3339))
}

/// The member path that removes one member from a group (`members[value eq "id"]`).
pub fn member_path(user_id: &str) -> String {
    format!("members[{}]", eq("value", user_id))
}

fn literal(value: &str) -> String {
    // serde_json's string encoding is exactly the JSON string grammar RFC 7644 refers to.
    serde_json::Value::from(value).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_cannot_break_out_of_the_literal() {
        assert_eq!(
            eq("userName", "jane@acme.example"),
            r#"userName eq "jane@acme.example""#
        );
        assert_eq!(
            eq("userName", r#"x" or userName pr or "y"#),
            r#"userName eq "x\" or userName pr or \"y""#
        );
        assert_eq!(eq("externalId", r"a\b"), r#"externalId eq "a\\b""#);
        assert_eq!(member_path("42"), r#"members[value eq "42"]"#);
        assert_eq!(
            starts_with("displayName", r#"Ja"ne"#),
            r#"displayName sw "Ja\"ne""#
        );
        assert_eq!(
            modified_since("2026-01-01T00:00:00Z"),
            r#"meta.lastModified gt "2026-01-01T00:00:00Z""#
        );
    }
}
