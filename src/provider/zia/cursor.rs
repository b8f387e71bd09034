//! The list cursor: which API page and which row within it to continue from.

use crate::provider::ProviderError;

pub fn encode(page: u32, offset: usize) -> String {
    format!("zia1.{page}.{offset}")
}

/// `None` starts at the beginning. Anything malformed is refused with a message, never guessed.
pub fn decode(cursor: Option<&str>) -> Result<(u32, usize), ProviderError> {
    let Some(c) = cursor.map(str::trim).filter(|c| !c.is_empty()) else {
        return Ok((1, 0));
    };
    let bad = || ProviderError::Invalid {
        message: format!(
            "cursor {c:?} is not one this server issued; pass next_cursor exactly as returned, or omit it to start over"
        ),
    };
    let mut parts = c.split('.');
    if parts.next() != Some("zia1") {
        return Err(bad());
    }
    let page: u32 = parts
        .next()
        .and_then(|p| p.parse().ok())
        .filter(|p| *p >= 1)
        .ok_or_else(bad)?;
    let offset: usize = parts.next().and_then(|o| o.parse().ok()).ok_or_else(bad)?;
    if parts.next().is_some() {
        return Err(bad());
    }
    Ok((page, offset))
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn decoding_never_panics(s in proptest::prelude::any::<String>()) {
            let _ = decode(Some(&s));
        }

        #[test]
        fn every_issued_cursor_decodes_back(page in 1u32.., offset in proptest::prelude::any::<usize>()) {
            proptest::prop_assert_eq!(decode(Some(&encode(page, offset))).ok(), Some((page, offset)));
        }
    }

    #[test]
    fn round_trip_and_garbage() {
        assert_eq!(decode(Some(&encode(3, 17))).expect("ok"), (3, 17));
        assert_eq!(decode(None).expect("ok"), (1, 0));
        for bad in [
            "garbage!",
            "zia1.0.1",
            "zia1.x.1",
            "zia1.1",
            "zia1.1.1.1",
            "zia2.1.1",
        ] {
            assert!(decode(Some(bad)).is_err(), "{bad}");
        }
    }
}
