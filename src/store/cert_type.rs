//! Certificate types (Lync's and Skype for Business's `-Type`) and what each requires.

use core::fmt;
use core::str::FromStr;

use time::Duration;

use crate::store::SlotError;
use crate::store::rollover::{RolloverError, RolloverPolicy};
use crate::validate::{KeyRule, Policy, UsageRule};

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
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
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
    /// [`SlotError::InvalidName`] for an empty name, one longer than 64 characters, or one with
    /// other characters than ASCII letters, digits, `-`, `_` and `.`.
    pub fn custom(name: &str) -> Result<Self, SlotError> {
        let valid = !name.is_empty()
            && name.len() <= 64
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if !valid {
            return Err(SlotError::InvalidName { kind: "certificate type", name: name.to_owned() });
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

    /// The defaults of this type: its policy, lead time and whether verifiers keep accepting the
    /// previous certificate. See [`TypeConfig`].
    pub fn default_config(&self, sip_domain: Option<&crate::validate::SubjectRule>) -> TypeConfig {
        let mut policy = Policy::new().with_key(KeyRule::default()).with_usage(UsageRule::default());
        if let (Some(subject), Self::OAuthTokenIssuer | Self::Default | Self::WebServicesInternal) =
            (sip_domain, self)
        {
            policy = policy.with_subject(subject.clone());
        }
        TypeConfig {
            policy,
            lead_time: self.default_lead_time(),
            accept_previous: self.default_accept_previous(),
            require_private_key: true,
            require_staged: false,
            rollover: self.default_rollover(),
        }
    }

    /// Whether verifiers of this type accept the previous certificate by default:
    /// OAuthTokenIssuer and AudioVideoAuthentication.
    pub fn default_accept_previous(&self) -> bool {
        matches!(self, Self::OAuthTokenIssuer | Self::AudioVideoAuthentication)
    }

    /// The default rollover policy: [`RolloverPolicy::lync`], with a token lifetime of zero for
    /// the types whose verifiers drop the previous certificate at the roll.
    pub fn default_rollover(&self) -> RolloverPolicy {
        match self.default_accept_previous() {
            true => RolloverPolicy::lync(),
            false => RolloverPolicy::lync().token_lifetime(Duration::ZERO),
        }
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
    type Err = SlotError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::custom(s.trim())
    }
}

/// What a certificate type requires, and how its rolls behave.
///
/// The defaults ([`CertType::default_config`]): every type needs a private key and passes
/// [`KeyRule::default`] (RSA, at least 2048 bits) and [`UsageRule::default`]; OAuthTokenIssuer,
/// Default and WebServicesInternal also name the store's SIP domain; OAuthTokenIssuer rolls take
/// effect at least 24 hours before the current certificate expires and AudioVideoAuthentication
/// rolls 8 hours before, and for both verifiers keep accepting the previous certificate. The
/// rollover policy is [`RolloverPolicy::lync`]; for the types whose verifiers drop the previous
/// certificate at the roll, its token lifetime is zero.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TypeConfig {
    /// The policy a certificate must pass to be set or rolled (checked at the effective date).
    pub policy: Policy,
    /// How long before the current certificate expires a roll must take effect, and how long the
    /// new certificate must stay valid after it.
    pub lead_time: Duration,
    /// Whether verifiers still accept the previous certificate after a roll.
    pub accept_previous: bool,
    /// Whether the store must hold the certificate's private key (servers sign with it).
    pub require_private_key: bool,
    /// Promote a pending roll only when every server of the scope reports holding the pending
    /// certificate; until then the roll is reported as blocked.
    pub require_staged: bool,
    /// When the next certificate is obtained, announced and rolled in, and how long the previous
    /// one stays trusted.
    pub rollover: RolloverPolicy,
}

impl TypeConfig {
    /// Checks that the configuration can keep the rollover promises: the rollover policy
    /// against the lead time ([`RolloverPolicy::check`]), and, where verifiers drop the previous
    /// certificate at the roll, no token outlives it.
    ///
    /// # Errors
    /// The first [`RolloverError`] found.
    pub fn check(&self) -> Result<(), RolloverError> {
        self.rollover.check(self.lead_time)?;
        if !self.accept_previous && self.rollover.token_lifetime_span().is_positive() {
            return Err(RolloverError::PreviousNotAccepted {
                token_lifetime: self.rollover.token_lifetime_span(),
            });
        }
        Ok(())
    }
}
