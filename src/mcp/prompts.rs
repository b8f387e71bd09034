//! Prompt templates from `prompts/*.md`, filled with the caller's arguments.

/// Fills `{{name}}` placeholders. Values are inserted as data: newlines are flattened so an
/// argument cannot add its own instructions on a new line.
pub fn render(template: &str, vars: &[(&str, &str)]) -> String {
    let mut out = template.to_string();
    for (name, value) in vars {
        let clean: String = value
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        out = out.replace(&format!("{{{{{name}}}}}"), clean.trim());
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
    }
}
