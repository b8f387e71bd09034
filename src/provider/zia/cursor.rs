//! The list cursor: which API page and which row within it to continue from, and over which
//! listing: the query's own pages (the tenant filtered by `name`/`dept`/`group`), or every
//! user filtered here (when the whole directory was cached as the listing began).

use crate::provider::ProviderError;

/// Which pages a cursor walks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Walk {
    /// The pages of the request's own query (the filters the tenant applies).
    Query,
    /// The pages of the unfiltered listing, filtered on this side.
    All,
}

pub fn encode(walk: Walk, page: u32, offset: usize) -> String {
    match walk {
        Walk::Query => format!("zia1.{page}.{offset}"),
        Walk::All => format!("zia2.{page}.{offset}"),
    }
}

/// `None` starts at the beginning. Anything malformed is refused with a message, never guessed.
pub fn decode(cursor: Option<&str>) -> Result<Option<(Walk, u32, usize)>, ProviderError> {
    let Some(c) = cursor.map(str::trim).filter(|c| !c.is_empty()) else {
        return Ok(None);
    };
    let bad = || ProviderError::Invalid {
        message: format!(
            "cursor {c:?} is not one this server issued; pass next_cursor exactly as returned, or omit it to start over"
        ),
    };
    let mut parts = c.split('.');
    let walk = match parts.next() {
        Some("zia1") => Walk::Query,
        Some("zia2") => Walk::All,
        _ => return Err(bad()),
    };
    let page: u32 = parts
        .next()
        .and_then(|p| p.parse().ok())
        .filter(|p| *p >= 1)
        .ok_or_else(bad)?;
    let offset: usize = parts.next().and_then(|o| o.parse().ok()).ok_or_else(bad)?;
    if parts.next().is_some() {
        return Err(bad());
    }
    Ok(Some((walk, page, offset)))
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
        fn every_issued_cursor_decodes_back(page in 1u32.., offset in proptest::prelude::any::<usize>(), all in proptest::prelude::any::<bool>()) {
            let walk = if all { Walk::All } else { Walk::Query };
            proptest::prop_assert_eq!(decode(Some(&encode(walk, page, offset))).ok(), Some(Some((walk, page, offset))));
        }
    }

    #[test]
    fn round_trip_and_garbage() {
        assert_eq!(
            decode(Some(&encode(Walk::Query, 3, 17))).expect("ok"),
            Some((Walk::Query, 3, 17))
        );
        assert_eq!(decode(None).expect("ok"), None);
        for bad in [
            "garbage!",
            "zia1.0.1",
            "zia1.x.1",
            "zia1.1",
            "zia1.1.1.1",
            "zia3.1.1",
        ] {
            assert!(decode(Some(bad)).is_err(), "{bad}");
        }
    }
}
