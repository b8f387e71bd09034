//! The SCIM `filter` subset the simulator understands (RFC 7644 §3.4.2.2): `attr eq "value"`
//! and `attr sw "value"` (starts with) for identifying attributes and
//! `meta.lastModified gt|ge|lt "RFC 3339"`, joined by `and`.
//!
//! A real tokenizer and parser rather than string splitting, so quoted values may contain
//! spaces, `and`, and JSON escapes (`\"`, `\\`, `\uXXXX`). Anything else is reported as
//! `invalidFilter` naming the part that was not understood.

use std::time::SystemTime;

use super::error::ScimError;
use super::time::parse_rfc3339;

/// Which resource type a filter is evaluated on (they support different attributes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    User,
    Group,
}

/// A filterable attribute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Attr {
    Id,
    ExternalId,
    UserName,
    DisplayName,
    EmailsValue,
    LastModified,
}

/// A time comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TimeOp {
    Gt,
    Ge,
    Lt,
}

/// One comparison.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Cond {
    /// `attr eq "value"` on a string attribute.
    Eq(Attr, String),
    /// `attr sw "value"`: the attribute starts with the value.
    Sw(Attr, String),
    /// `meta.lastModified op "time"`.
    Time(TimeOp, SystemTime),
}

/// A parsed filter: every condition must hold.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Filter(pub Vec<Cond>);

/// What a resource offers to a filter.
pub(crate) struct Fields<'a> {
    pub id: &'a str,
    pub external_id: Option<&'a str>,
    pub user_name: Option<&'a str>,
    pub display_name: &'a str,
    pub emails: Vec<&'a str>,
    pub last_modified: SystemTime,
}

impl Filter {
    /// Whether the resource satisfies every condition. `userName`, `displayName` and
    /// `emails.value` compare case-insensitively (caseExact=false in RFC 7643); `id` and
    /// `externalId` exactly.
    pub fn matches(&self, f: &Fields<'_>) -> bool {
        self.0.iter().all(|c| match c {
            Cond::Eq(Attr::Id, v) => f.id == v,
            Cond::Eq(Attr::ExternalId, v) => f.external_id == Some(v.as_str()),
            Cond::Eq(Attr::UserName, v) => f.user_name.is_some_and(|u| eq_ci(u, v)),
            Cond::Eq(Attr::DisplayName, v) => eq_ci(f.display_name, v),
            Cond::Eq(Attr::EmailsValue, v) => f.emails.iter().any(|e| eq_ci(e, v)),
            Cond::Eq(Attr::LastModified, _) => false,
            Cond::Sw(Attr::Id, v) => f.id.starts_with(v.as_str()),
            Cond::Sw(Attr::ExternalId, v) => {
                f.external_id.is_some_and(|e| e.starts_with(v.as_str()))
            }
            Cond::Sw(Attr::UserName, v) => f.user_name.is_some_and(|u| sw_ci(u, v)),
            Cond::Sw(Attr::DisplayName, v) => sw_ci(f.display_name, v),
            Cond::Sw(Attr::EmailsValue, v) => f.emails.iter().any(|e| sw_ci(e, v)),
            Cond::Sw(Attr::LastModified, _) => false,
            Cond::Time(TimeOp::Gt, t) => f.last_modified > *t,
            Cond::Time(TimeOp::Ge, t) => f.last_modified >= *t,
            Cond::Time(TimeOp::Lt, t) => f.last_modified < *t,
        })
    }
}

fn eq_ci(a: &str, b: &str) -> bool {
    a.to_lowercase() == b.to_lowercase()
}

fn sw_ci(a: &str, prefix: &str) -> bool {
    a.to_lowercase().starts_with(&prefix.to_lowercase())
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
    /// An unquoted word: attribute path, operator, keyword or literal (`true`, `12`).
    Word(String),
    /// A JSON string literal, unescaped.
    Str(String),
    Open,
    Close,
}

fn describe(t: &Token) -> String {
    match t {
        Token::Word(w) => format!("'{w}'"),
        Token::Str(s) => format!("\"{s}\""),
        Token::Open => "'('".into(),
        Token::Close => "')'".into(),
    }
}

fn tokenize(input: &str) -> Result<Vec<Token>, ScimError> {
    let mut out = Vec::new();
    let mut chars = input.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' => {
                chars.next();
                out.push(Token::Open);
            }
            ')' => {
                chars.next();
                out.push(Token::Close);
            }
            '"' => {
                chars.next();
                out.push(Token::Str(string_literal(&mut chars)?));
            }
            _ => {
                let mut w = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() || matches!(c, '(' | ')' | '"') {
                        break;
                    }
                    w.push(c);
                    chars.next();
                }
                out.push(Token::Word(w));
            }
        }
    }
    Ok(out)
}

/// The rest of a JSON string literal after its opening quote.
fn string_literal(
    chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
) -> Result<String, ScimError> {
    let mut s = String::new();
    loop {
        match chars.next() {
            None => {
                return Err(ScimError::invalid_filter(
                    "unterminated string literal in filter",
                ));
            }
            Some('"') => return Ok(s),
            Some('\\') => match chars.next() {
                Some('"') => s.push('"'),
                Some('\\') => s.push('\\'),
                Some('/') => s.push('/'),
                Some('b') => s.push('\u{8}'),
                Some('f') => s.push('\u{c}'),
                Some('n') => s.push('\n'),
                Some('r') => s.push('\r'),
                Some('t') => s.push('\t'),
                Some('u') => s.push(unicode_escape(chars)?),
                Some(other) => {
                    return Err(ScimError::invalid_filter(format!(
                        "invalid escape '\\{other}' in filter string"
                    )));
                }
                None => {
                    return Err(ScimError::invalid_filter(
                        "unterminated string literal in filter",
                    ));
                }
            },
            Some(c) => s.push(c),
        }
    }
}

fn hex4(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Result<u32, ScimError> {
    let mut n = 0u32;
    for _ in 0..4 {
        let d = chars
            .next()
            .and_then(|c| c.to_digit(16))
            .ok_or_else(|| ScimError::invalid_filter("invalid \\u escape in filter string"))?;
        n = n * 16 + d;
    }
    Ok(n)
}

/// `\uXXXX` (the `\u` already read), combining a UTF-16 surrogate pair.
fn unicode_escape(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Result<char, ScimError> {
    let bad = || ScimError::invalid_filter("invalid \\u escape in filter string");
    let hi = hex4(chars)?;
    if (0xD800..0xDC00).contains(&hi) {
        if chars.next() != Some('\\') || chars.next() != Some('u') {
            return Err(bad());
        }
        let lo = hex4(chars)?;
        if !(0xDC00..0xE000).contains(&lo) {
            return Err(bad());
        }
        return char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)).ok_or_else(bad);
    }
    char::from_u32(hi).ok_or_else(bad)
}

fn attr(word: &str, kind: Kind) -> Result<Attr, ScimError> {
    let lower = word.to_ascii_lowercase();
    // A fully qualified core attribute (`urn:...:core:2.0:User:userName`) means the same.
    let short = lower
        .strip_prefix("urn:ietf:params:scim:schemas:core:2.0:user:")
        .or_else(|| lower.strip_prefix("urn:ietf:params:scim:schemas:core:2.0:group:"))
        .unwrap_or(&lower);
    let a = match short {
        "id" => Attr::Id,
        "externalid" => Attr::ExternalId,
        "displayname" => Attr::DisplayName,
        "meta.lastmodified" => Attr::LastModified,
        "username" if kind == Kind::User => Attr::UserName,
        "emails.value" | "emails" if kind == Kind::User => Attr::EmailsValue,
        _ => {
            return Err(ScimError::invalid_filter(format!(
                "attribute '{word}' is not supported in filters on {}",
                if kind == Kind::User {
                    "Users"
                } else {
                    "Groups"
                }
            )));
        }
    };
    Ok(a)
}

fn condition(a: Attr, op: &str, value: &Token) -> Result<Cond, ScimError> {
    let lit = match value {
        Token::Str(s) => s.clone(),
        other => {
            return Err(ScimError::invalid_filter(format!(
                "expected a quoted string value, found {}",
                describe(other)
            )));
        }
    };
    let op_l = op.to_ascii_lowercase();
    if a == Attr::LastModified {
        let time_op = match op_l.as_str() {
            "gt" => TimeOp::Gt,
            "ge" => TimeOp::Ge,
            "lt" => TimeOp::Lt,
            _ => {
                return Err(ScimError::invalid_filter(format!(
                    "operator '{op}' is not supported on meta.lastModified (use gt, ge or lt)"
                )));
            }
        };
        let t = parse_rfc3339(&lit).ok_or_else(|| {
            ScimError::invalid_filter(format!("'{lit}' is not an RFC 3339 date-time"))
        })?;
        return Ok(Cond::Time(time_op, t));
    }
    match op_l.as_str() {
        "eq" => Ok(Cond::Eq(a, lit)),
        "sw" => Ok(Cond::Sw(a, lit)),
        _ => Err(ScimError::invalid_filter(format!(
            "operator '{op}' is not supported here (only eq and sw)"
        ))),
    }
}

/// Parses a filter for `kind`; an empty or blank filter is "match everything".
pub(crate) fn parse(input: &str, kind: Kind) -> Result<Filter, ScimError> {
    let tokens = tokenize(input)?;
    let mut conds = Vec::new();
    let mut it = tokens.iter();
    loop {
        let Some(first) = it.next() else {
            if conds.is_empty() {
                return Ok(Filter::default());
            }
            return Err(ScimError::invalid_filter("filter ends after 'and'"));
        };
        let Token::Word(attr_word) = first else {
            return Err(ScimError::invalid_filter(format!(
                "expected an attribute name, found {}",
                describe(first)
            )));
        };
        let a = attr(attr_word, kind)?;
        let op = match it.next() {
            Some(Token::Word(op)) => op,
            Some(other) => {
                return Err(ScimError::invalid_filter(format!(
                    "expected an operator after '{attr_word}', found {}",
                    describe(other)
                )));
            }
            None => {
                return Err(ScimError::invalid_filter(format!(
                    "expected an operator after '{attr_word}'"
                )));
            }
        };
        if op.eq_ignore_ascii_case("pr") {
            return Err(ScimError::invalid_filter("operator 'pr' is not supported"));
        }
        let value = it.next().ok_or_else(|| {
            ScimError::invalid_filter(format!("expected a value after '{attr_word} {op}'"))
        })?;
        conds.push(condition(a, op, value)?);
        match it.next() {
            None => return Ok(Filter(conds)),
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("and") => {}
            Some(other) => {
                return Err(ScimError::invalid_filter(format!(
                    "unexpected {} (only 'and' may join conditions)",
                    describe(other)
                )));
            }
        }
    }
}

/// The id in a `members[value eq "id"]` selector (the part between the brackets).
pub(crate) fn value_eq(input: &str) -> Result<String, ScimError> {
    let tokens = tokenize(input)?;
    match tokens.as_slice() {
        [Token::Word(a), Token::Word(op), Token::Str(v)]
            if a.eq_ignore_ascii_case("value") && op.eq_ignore_ascii_case("eq") =>
        {
            Ok(v.clone())
        }
        _ => Err(ScimError::invalid_path(format!(
            "member selector '{input}' is not understood (expected value eq \"id\")"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::scim::time::seed_time;

    fn user_fields<'a>(user_name: &'a str, emails: Vec<&'a str>) -> Fields<'a> {
        Fields {
            id: "200001",
            external_id: Some("00u200001"),
            user_name: Some(user_name),
            display_name: "Jane Doe",
            emails,
            last_modified: seed_time(),
        }
    }

    #[test]
    fn eq_forms_and_case_rules() {
        let f = parse(r#"UserName EQ "JANE.doe@acme.example""#, Kind::User).expect("parses");
        assert_eq!(
            f.0,
            vec![Cond::Eq(Attr::UserName, "JANE.doe@acme.example".into())]
        );
        assert!(f.matches(&user_fields("jane.doe@acme.example", vec![])));
        let f = parse(r#"externalId eq "00U200001""#, Kind::User).expect("parses");
        assert!(
            !f.matches(&user_fields("x", vec![])),
            "externalId is case-exact"
        );
        let f = parse(r#"emails.value eq "J@x.example""#, Kind::User).expect("parses");
        assert!(f.matches(&user_fields("x", vec!["j@X.example"])));
        let f = parse(
            r#"id eq "200001" and displayName eq "jane doe""#,
            Kind::User,
        )
        .expect("parses");
        assert_eq!(f.0.len(), 2);
        assert!(f.matches(&user_fields("x", vec![])));
    }

    #[test]
    fn starts_with_compares_prefixes_case_insensitively() {
        let f = parse(r#"displayName sw "JANE""#, Kind::User).expect("parses");
        assert_eq!(f.0, vec![Cond::Sw(Attr::DisplayName, "JANE".into())]);
        assert!(f.matches(&user_fields("x", vec![])));
        let f = parse(r#"userName sw "jo""#, Kind::User).expect("parses");
        assert!(!f.matches(&user_fields("jane.doe@acme.example", vec![])));
        let f = parse(r#"emails.value sw "J""#, Kind::User).expect("parses");
        assert!(f.matches(&user_fields("x", vec!["j@x.example"])));
    }

    #[test]
    fn escaped_quotes_and_backslashes() {
        let f = parse(
            r#"displayName eq "say \"hi\" and \\ bye \u00e9""#,
            Kind::Group,
        )
        .expect("parses");
        assert_eq!(
            f.0,
            vec![Cond::Eq(
                Attr::DisplayName,
                "say \"hi\" and \\ bye é".into()
            )]
        );
    }

    #[test]
    fn last_modified_comparisons() {
        let f =
            parse(r#"meta.lastModified gt "2025-12-31T23:59:59Z""#, Kind::User).expect("parses");
        assert!(f.matches(&user_fields("x", vec![])));
        let f = parse(r#"meta.lastModified ge "2026-01-01T00:00:00Z" and meta.lastModified lt "2026-01-01T00:00:00.001Z""#, Kind::Group).expect("parses");
        assert!(f.matches(&user_fields("x", vec![])));
        let f =
            parse(r#"meta.lastModified gt "2026-01-01T00:00:00Z""#, Kind::User).expect("parses");
        assert!(!f.matches(&user_fields("x", vec![])));
    }

    #[test]
    fn rejects_what_it_does_not_understand() {
        let cases = [
            (r#"userName co "jane""#, "'co'"),
            (r#"userName eq "a" or userName eq "b""#, "'or'"),
            (r#"userName eq "unterminated"#, "unterminated"),
            (r#"nickName eq "x""#, "'nickName'"),
            (r#"userName eq jane"#, "'jane'"),
            (r#"userName eq "a" and"#, "after 'and'"),
            (r#"(userName eq "a")"#, "'('"),
            (r#"userName"#, "operator"),
            (r#"meta.lastModified gt "yesterday""#, "RFC 3339"),
            (r#"meta.lastModified eq "2026-01-01T00:00:00Z""#, "'eq'"),
            (r#"userName eq "\q""#, "escape"),
        ];
        for (input, needle) in cases {
            let err = parse(input, Kind::User).expect_err(input);
            assert_eq!(err.scim_type, Some("invalidFilter"), "{input}");
            assert!(err.detail.contains(needle), "{input}: {}", err.detail);
        }
        let err = parse(r#"userName eq "x""#, Kind::Group).expect_err("groups have no userName");
        assert!(err.detail.contains("Groups"));
    }

    #[test]
    fn blank_filter_matches_all() {
        assert_eq!(parse("  ", Kind::User).expect("parses"), Filter::default());
    }
}
