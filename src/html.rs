//! HTML escaping for the pages this product renders (the approval page, the audit report).
//! Everything that came from a tenant, a plan or an HR export goes through [`escape`], so markup
//! in a user name is shown, never interpreted.

/// Escapes text for element content and quoted attribute values. Control characters other than
/// newline are dropped: they have no meaning on a page and can hide text from the reader.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' => {}
            c => out.push(c),
        }
    }
    out
}
