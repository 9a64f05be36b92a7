//! Why a validation policy cannot be built.

/// Why a validation policy cannot be built.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// The SIP domain is not a domain name that can be matched.
    #[error("invalid SIP domain {domain:?}: {reason}")]
    InvalidSipDomain {
        /// The domain as given.
        domain: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The key rule accepts no algorithm at all.
    #[error("the key rule accepts no key algorithm")]
    NoKeyAlgorithm,
    /// A minimum key size that no key can meet or that makes the rule meaningless.
    #[error("minimum {algorithm} key size {bits} bits is outside {min}..={max}")]
    KeySizeOutOfRange {
        /// `"RSA"` or `"EC"`.
        algorithm: &'static str,
        /// The requested minimum.
        bits: u32,
        /// The smallest accepted minimum.
        min: u32,
        /// The largest accepted minimum.
        max: u32,
    },
    /// The usage rule requires an extended key usage but lists none.
    #[error("the usage rule requires an extended key usage but lists none")]
    NoExtendedKeyUsage,
}
