//! The tenant's side of the legacy login: checking an obfuscated API key.

/// What the tenant expects for `key` at `timestamp` (epoch ms as decimal digits): the digits of
/// the last six timestamp characters index the key, then the digits of half that number
/// (six digits, zero-padded) index the key shifted by two.
pub fn expected_key(key: &str, timestamp: &str) -> Option<String> {
    let key = key.as_bytes();
    if key.len() < 12 || timestamp.len() < 6 || !timestamp.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let tail = &timestamp[timestamp.len() - 6..];
    let half = format!("{:06}", tail.parse::<u32>().ok()? / 2);
    let first = tail.bytes().map(|b| key[usize::from(b - b'0')] as char);
    let second = half.bytes().map(|b| key[usize::from(b - b'0') + 2] as char);
    Some(first.chain(second).collect())
}

/// Reads the JSESSIONID from a Cookie header.
pub fn cookie_session(cookie_header: &str) -> Option<String> {
    cookie_header
        .split(';')
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == "JSESSIONID")
        .map(|(_, v)| v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_two_reference_vectors() {
        assert_eq!(
            expected_key("abcdefghijklmnopqrstuvwxyz1234567890", "1718236987654").as_deref(),
            Some("jihgfeglfkej")
        );
        assert_eq!(
            expected_key("AbCdEfGhIjKl", "1712345000123").as_deref(),
            Some("AAAbCdCCCCId")
        );
        assert_eq!(expected_key("short", "1712345000123"), None);
        assert_eq!(expected_key("AbCdEfGhIjKl", "12x456789"), None);
    }
}
