//! ZIA legacy API-key login: key obfuscation and the JSESSIONID session.

use super::super::ProviderError;

/// Obfuscates a 12+ character ZIA API key with a millisecond timestamp, exactly as the official
/// SDKs do: the last six digits `n` of the timestamp pick key characters, then the digits of
/// `n >> 1` (zero-padded to six) pick characters offset by two. The same timestamp must be sent
/// in the login body.
pub fn obfuscate_api_key(api_key: &str, timestamp_ms: u64) -> Result<String, ProviderError> {
    let key: Vec<char> = api_key.chars().collect();
    if key.len() < 12 {
        return Err(ProviderError::Auth {
            message: "the ZIA API key must be at least 12 characters (copy it from Administration > API Key Management)".into(),
        });
    }
    let ts = timestamp_ms.to_string();
    if ts.len() < 6 {
        return Err(ProviderError::Auth {
            message: "timestamp too short for key obfuscation".into(),
        });
    }
    let n = &ts[ts.len() - 6..];
    let n_value: u64 = n.parse().map_err(|_| ProviderError::Auth {
        message: "timestamp is not numeric".into(),
    })?;
    let r = format!("{:06}", n_value >> 1);
    let mut out = String::with_capacity(12);
    for d in n.bytes() {
        out.push(key[(d - b'0') as usize]);
    }
    for d in r.bytes() {
        out.push(key[(d - b'0') as usize + 2]);
    }
    Ok(out)
}

/// Extracts the JSESSIONID value from one `Set-Cookie` header value.
pub fn jsessionid(set_cookie: &str) -> Option<&str> {
    set_cookie.split(';').find_map(|part| {
        let (name, value) = part.trim().split_once('=')?;
        (name.trim() == "JSESSIONID" && !value.is_empty()).then_some(value.trim())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_vectors() {
        assert_eq!(
            obfuscate_api_key("abcdefghijklmnopqrstuvwxyz1234567890", 1718236987654).expect("ok"),
            "jihgfeglfkej"
        );
        assert_eq!(
            obfuscate_api_key("AbCdEfGhIjKl", 1712345000123).expect("ok"),
            "AAAbCdCCCCId"
        );
    }

    #[test]
    fn short_key_is_refused() {
        assert!(matches!(
            obfuscate_api_key("short", 1712345000123),
            Err(ProviderError::Auth { .. })
        ));
    }

    #[test]
    fn cookie_parsing() {
        assert_eq!(
            jsessionid("JSESSIONID=abc123; Path=/; HttpOnly"),
            Some("abc123")
        );
        assert_eq!(jsessionid("other=1; Path=/"), None);
        assert_eq!(jsessionid("JSESSIONID=; Path=/"), None);
    }
}
