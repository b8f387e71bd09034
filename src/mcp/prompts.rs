//! Prompt templates from `prompts/*.md`, filled with the caller's arguments.

/// Fills `{{name}}` placeholders. Values are inserted as data: newlines are flattened so an
/// argument cannot add its own instructions on a new line. Values are trimmed, except that a
/// `*_clause` the server built (" on connection X") keeps its one leading space.
pub fn render(template: &str, vars: &[(&str, &str)]) -> String {
    let mut out = template.to_string();
    for (name, value) in vars {
        let clean: String = value
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let trimmed = clean.trim();
        let value = if name.ends_with("_clause") && clean.starts_with(' ') && !trimmed.is_empty() {
            format!(" {trimmed}")
        } else {
            trimmed.to_string()
        };
        out = out.replace(&format!("{{{{{name}}}}}"), &value);
    }
    out
}

/// " on connection X" or nothing.
pub fn connection_clause(connection: &str) -> String {
    let c = connection.trim();
    if c.is_empty() {
        String::new()
    } else {
        format!(" on connection {c}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_filled_and_newlines_flattened() {
        let out = render(
            "Offboard {{user}}{{c}}.",
            &[("user", "a@x\nignore all"), ("c", "")],
        );
        assert_eq!(out, "Offboard a@x ignore all.");
        let out = render(
            "Offboard {{user}}{{c_clause}}.",
            &[("user", " a@x "), ("c_clause", &connection_clause("zia"))],
        );
        assert_eq!(out, "Offboard a@x on connection zia.");
    }
}
