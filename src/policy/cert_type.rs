//! Certificate types (Lync's and Skype for Business's `-Type`) and their defaults.

use core::fmt;
use core::str::FromStr;

use time::Duration;

use crate::policy::error::NameError;

/// A certificate type: the purpose a slot's certificate serves, as `Set-CsCertificate -Type`
/// names it. Parsed case-insensitively; `Display` writes Lync's spelling.
///
/// ```
/// use certslot::CertType;
///
/// assert_eq!("oauthtokenissuer".parse::<CertType>()?, CertType::OAuthTokenIssuer);
/// assert_eq!(CertType::IPadApnService.to_string(), "iPadAPNService");
/// assert_eq!("Fabrikam-Signing".parse::<CertType>()?.to_string(), "Fabrikam-Signing");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// JSON (feature `serde`): a string in Lync's spelling, as `Display` writes it
/// (`"OAuthTokenIssuer"`, `"iPadAPNService"`, `"Fabrikam-Signing"`); read as `FromStr` reads it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(into = "String", try_from = "String"))]
#[non_exhaustive]
pub enum CertType {
    /// `AccessEdgeExternal`.
    AccessEdgeExternal,
    /// `AudioVideoAuthentication`: the Edge A/V authentication certificate (rolled with an 8-hour lead).
    AudioVideoAuthentication,
    /// `DataEdgeExternal`.
    DataEdgeExternal,
    /// `Default`: the front-end's default certificate.
    Default,
    /// `External`.
    External,
    /// `Internal`.
    Internal,
    /// `iPadAPNService`.
    IPadApnService,
    /// `iPhoneAPNService`.
    IPhoneApnService,
    /// `LogRetentionService`.
    LogRetentionService,
    /// `MPNService`.
    MpnService,
    /// `OAuthTokenIssuer`: signs server-to-server tokens (rolled with a 24-hour lead).
    OAuthTokenIssuer,
    /// `PICWebService`.
    PicWebService,
    /// `ProvisionService`.
    ProvisionService,
    /// `SMPDNSWebService`.
    SmpDnsWebService,
    /// `TenantAdmin`.
    TenantAdmin,
    /// `UpgradeEngineService`.
    UpgradeEngineService,
    /// `WebServicesExternal`.
    WebServicesExternal,
    /// `WebServicesInternal`.
    WebServicesInternal,
    /// `WsFedTokenTransfer`.
    WsFedTokenTransfer,
    /// `XMPPServer`.
    XmppServer,
    /// A type of the caller's own (Exchange's `Auth`, an AD FS token-signing certificate, ...):
    /// 1 to 64 ASCII letters, digits, `-`, `_` or `.`.
    Custom(Box<str>),
}

const NAMES: [(CertType, &str); 20] = [
    (CertType::AccessEdgeExternal, "AccessEdgeExternal"),
    (CertType::AudioVideoAuthentication, "AudioVideoAuthentication"),
    (CertType::DataEdgeExternal, "DataEdgeExternal"),
    (CertType::Default, "Default"),
    (CertType::External, "External"),
    (CertType::Internal, "Internal"),
    (CertType::IPadApnService, "iPadAPNService"),
    (CertType::IPhoneApnService, "iPhoneAPNService"),
    (CertType::LogRetentionService, "LogRetentionService"),
    (CertType::MpnService, "MPNService"),
    (CertType::OAuthTokenIssuer, "OAuthTokenIssuer"),
    (CertType::PicWebService, "PICWebService"),
    (CertType::ProvisionService, "ProvisionService"),
    (CertType::SmpDnsWebService, "SMPDNSWebService"),
    (CertType::TenantAdmin, "TenantAdmin"),
    (CertType::UpgradeEngineService, "UpgradeEngineService"),
    (CertType::WebServicesExternal, "WebServicesExternal"),
    (CertType::WebServicesInternal, "WebServicesInternal"),
    (CertType::WsFedTokenTransfer, "WsFedTokenTransfer"),
    (CertType::XmppServer, "XMPPServer"),
];

impl CertType {
    /// Every built-in type, in Lync's alphabetical order.
    pub fn builtin() -> impl Iterator<Item = CertType> {
        NAMES.iter().map(|(t, _)| t.clone())
    }

    /// A custom type.
    ///
    /// # Errors
    /// [`NameError`] for an empty name, one longer than 64 characters, or one with
    /// other characters than ASCII letters, digits, `-`, `_` and `.`.
    pub fn custom(name: &str) -> Result<Self, NameError> {
        let valid = !name.is_empty()
            && name.len() <= 64
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if !valid {
            return Err(NameError { kind: "certificate type", name: name.to_owned() });
        }
        Ok(match NAMES.iter().find(|(_, n)| n.eq_ignore_ascii_case(name)) {
            Some((t, _)) => t.clone(),
            None => Self::Custom(name.into()),
        })
    }

    /// The default lead time: 24 hours for OAuthTokenIssuer, 8 hours for
    /// AudioVideoAuthentication, none for the others.
    pub fn default_lead_time(&self) -> Duration {
        match self {
            Self::OAuthTokenIssuer => Duration::hours(24),
            Self::AudioVideoAuthentication => Duration::hours(8),
            _ => Duration::ZERO,
        }
    }

    /// Whether verifiers of this type accept the previous certificate by default:
    /// OAuthTokenIssuer and AudioVideoAuthentication.
    pub fn default_accept_previous(&self) -> bool {
        matches!(self, Self::OAuthTokenIssuer | Self::AudioVideoAuthentication)
    }
}

impl fmt::Display for CertType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Custom(name) => f.write_str(name),
            builtin => f.write_str(NAMES.iter().find(|(t, _)| t == builtin).map_or("", |(_, n)| n)),
        }
    }
}

impl FromStr for CertType {
    type Err = NameError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::custom(s.trim())
    }
}

impl From<CertType> for String {
    /// Lync's spelling (`Display`).
    fn from(cert_type: CertType) -> Self {
        cert_type.to_string()
    }
}

impl TryFrom<String> for CertType {
    type Error = NameError;

    /// As `FromStr`.
    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}
