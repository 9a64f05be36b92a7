//! Scopes: where an assignment applies, like Lync's `-Identity` (global, a site, a pool).

use core::fmt;
use core::str::FromStr;
use std::sync::Arc;

use crate::policy::error::NameError;

/// Where a certificate assignment applies. A lookup for a pool falls back to its site, then to
/// global. The names are shared (`Arc<str>`): a scope is cloned into every event about its slots,
/// and a clone costs no allocation.
///
/// Text form, case-insensitive: `global`, `site:NAME`, `pool:FQDN` (Lync's
/// `service:Registrar:FQDN` is read as the pool too). Names are kept in lowercase.
///
/// ```
/// use certslot::Scope;
///
/// assert_eq!("Global".parse::<Scope>()?, Scope::Global);
/// assert_eq!("site:Redmond".parse::<Scope>()?, Scope::site("redmond")?);
/// assert_eq!("service:Registrar:Pool01.Contoso.com".parse::<Scope>()?.to_string(), "pool:pool01.contoso.com");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// JSON (feature `serde`): the text form as `Display` writes it, a string: `"global"`,
/// `"site:redmond"`, `"pool:pool01.contoso.com"`; read as `FromStr` reads it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(into = "String", try_from = "String"))]
pub enum Scope {
    /// Every server.
    Global,
    /// The servers of every pool of one site.
    Site(Arc<str>),
    /// The servers of one pool.
    Pool(Arc<str>),
}

/// Checks and lowercases a site, pool or server name: 1 to 253 characters, ASCII letters,
/// digits, `-`, `_` and `.`.
pub(crate) fn normalize(kind: &'static str, name: &str) -> Result<Box<str>, NameError> {
    let valid = !name.is_empty()
        && name.len() <= 253
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if valid {
        Ok(name.to_ascii_lowercase().into_boxed_str())
    } else {
        Err(NameError { kind, name: name.to_owned() })
    }
}

impl Scope {
    /// A site scope.
    ///
    /// # Errors
    /// [`NameError`] for a name that is empty, longer than 253 characters, or holds
    /// other characters than ASCII letters, digits, `-`, `_` and `.`.
    pub fn site(name: &str) -> Result<Self, NameError> {
        normalize("site", name).map(|name| Self::Site(name.into()))
    }

    /// A pool scope (the pool's FQDN).
    ///
    /// # Errors
    /// As [`Scope::site`].
    pub fn pool(fqdn: &str) -> Result<Self, NameError> {
        normalize("pool", fqdn).map(|name| Self::Pool(name.into()))
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Global => f.write_str("global"),
            Self::Site(name) => write!(f, "site:{name}"),
            Self::Pool(name) => write!(f, "pool:{name}"),
        }
    }
}

impl FromStr for Scope {
    type Err = NameError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("global") {
            return Ok(Self::Global);
        }
        let invalid = || NameError { kind: "scope", name: s.to_owned() };
        let (kind, rest) = s.split_once(':').ok_or_else(invalid)?;
        if kind.eq_ignore_ascii_case("site") {
            Self::site(rest)
        } else if kind.eq_ignore_ascii_case("pool") {
            Self::pool(rest)
        } else if kind.eq_ignore_ascii_case("service") {
            // service:Role:pool-fqdn
            let (_, fqdn) = rest.split_once(':').ok_or_else(invalid)?;
            Self::pool(fqdn)
        } else {
            Err(invalid())
        }
    }
}

impl From<Scope> for String {
    /// The text form (`Display`).
    fn from(scope: Scope) -> Self {
        scope.to_string()
    }
}

impl TryFrom<String> for Scope {
    type Error = NameError;

    /// As `FromStr`.
    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}
