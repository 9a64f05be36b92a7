//! How fresh a published document is: its entity tag and how long a verifier may keep it, what
//! a server of the keys sends as `ETag` and `Cache-Control` (RFC 9110 section 8.8.3, RFC 9111
//! section 5.2.2.1), and the `If-None-Match` check of a conditional GET (RFC 9110 section
//! 13.1.2).
//!
//! The lifetime is a quarter of the type's publish-ahead: a new key is announced at least
//! publish-ahead before it signs, so a verifier that keeps the document no longer than that
//! fetches a set holding the key well before the first token it signs.

use base64ct::{Base64UrlUnpadded, Encoding as _};
use sha2::{Digest as _, Sha256};
use time::Duration;

use crate::policy::RolloverPolicy;

/// The entity tag and lifetime of a published document's bytes.
///
/// ```
/// use certslot::policy::RolloverPolicy;
/// use certslot::publish::Freshness;
///
/// let body = br#"{"keys":[]}"#;
/// let fresh = Freshness::of(body, &RolloverPolicy::lync());
/// assert_eq!(fresh.cache_control(), "public, max-age=21600");
/// assert!(fresh.matches(&format!("W/\"x\", {}", fresh.etag())));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Freshness {
    etag: String,
    max_age: Duration,
}

impl Freshness {
    /// The freshness of `body` (the bytes as served) published under `rollover`: a strong entity
    /// tag, the quoted unpadded Base64url SHA-256 of the bytes (so every server of the same
    /// state gives the same tag), and a lifetime of a quarter of the policy's publish-ahead, in
    /// whole seconds (none when it has no publish-ahead).
    pub fn of(body: &[u8], rollover: &RolloverPolicy) -> Self {
        let etag = format!("\"{}\"", Base64UrlUnpadded::encode_string(&Sha256::digest(body)));
        let quarter: Duration = rollover.get_publish_ahead() / 4_i32;
        let max_age = Duration::seconds(quarter.whole_seconds().max(0));
        Self { etag, max_age }
    }

    /// The entity tag, quoted, as the `ETag` header carries it.
    pub fn etag(&self) -> &str {
        &self.etag
    }

    /// How long a verifier may keep the document.
    pub fn max_age(&self) -> Duration {
        self.max_age
    }

    /// The `Cache-Control` header's value: `public, max-age=<seconds>`, or `no-cache` when the
    /// document must be checked on every use.
    pub fn cache_control(&self) -> String {
        match self.max_age.whole_seconds() {
            0 => "no-cache".to_owned(),
            seconds => format!("public, max-age={seconds}"),
        }
    }

    /// Whether an `If-None-Match` header's value names this document: `*`, or a list of entity
    /// tags one of which equals this one by the weak comparison (a `W/` prefix ignored; RFC 9110
    /// section 8.8.3.2), so the answer is 304 Not Modified.
    pub fn matches(&self, if_none_match: &str) -> bool {
        let value = if_none_match.trim();
        if value == "*" {
            return true;
        }
        value.split(',').map(str::trim).any(|tag| tag.strip_prefix("W/").unwrap_or(tag) == self.etag)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tag_is_the_bodys_digest_and_the_lifetime_a_quarter_of_publish_ahead() {
        let lync = RolloverPolicy::lync();
        let a = Freshness::of(b"{\"keys\":[]}", &lync);
        // SHA-256 of the bytes, unpadded Base64url, quoted (as `openssl dgst -sha256 -binary | basenc
        // --base64url` gives it, less the padding).
        assert_eq!(a.etag(), "\"ljjRGRRzXQByAC3U1nxzSpTuegzYRebcvJhO51gYYKc\"");
        assert_eq!(a, Freshness::of(b"{\"keys\":[]}", &lync));
        assert_ne!(a.etag(), Freshness::of(b"{\"keys\":[1]}", &lync).etag());
        assert_eq!(lync.get_publish_ahead(), Duration::days(1));
        assert_eq!(a.max_age(), Duration::hours(6));
        assert_eq!(a.cache_control(), "public, max-age=21600");
        // No publish-ahead: checked on every use.
        let none = Freshness::of(b"x", &lync.publish_ahead(Duration::ZERO));
        assert_eq!((none.max_age(), none.cache_control().as_str()), (Duration::ZERO, "no-cache"));
        // Odd seconds round down: a verifier never keeps it longer than a quarter.
        let odd = Freshness::of(b"x", &lync.publish_ahead(Duration::seconds(7)));
        assert_eq!(odd.max_age(), Duration::seconds(1));
    }

    #[test]
    fn if_none_match_is_a_weak_comparison_over_a_list() {
        let fresh = Freshness::of(b"body", &RolloverPolicy::lync());
        let tag = fresh.etag().to_owned();
        assert!(fresh.matches(&tag));
        assert!(fresh.matches(&format!("W/{tag}")));
        assert!(fresh.matches(&format!("\"other\", {tag}")));
        assert!(fresh.matches(" * "));
        assert!(!fresh.matches("\"other\""));
        assert!(!fresh.matches(tag.trim_matches('"')));
        assert!(!fresh.matches(""));
    }
}
