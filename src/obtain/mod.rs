//! Layer 5, obtaining certificates: the front half of the lifecycle, before a certificate is
//! imported. A [`RequestTemplate`] says what to ask for (subject, DNS names, key usage), with
//! presets for a certificate type at a pool; it is checked against the type's policy before
//! anything is signed. From it come PKCS #10 requests ([`CertificateRequest`]) whose answer
//! [`complete_request`] pairs with the pending key, and self-signed certificates. An [`Issuer`]
//! is where a renewal gets its next certificate; [`SelfSignedIssuer`] is the one certslot ships.
//!
//! Uses the layers below it: `x509` (reading what it builds, to check it), `pfx` (private keys,
//! PFX files), `validate` (the policies) and `policy` (certificate types and scopes). Its error,
//! [`RequestError`], lives here.
//!
//! Like the rest of certslot it does no I/O and reads no clock: the caller passes the instant and,
//! where randomness is needed, a `rand_core::CryptoRng`.

mod complete;
mod error;
mod issuer;
mod provisional;
mod request;
mod selfsigned;
mod template;

pub use self::complete::{complete_request, complete_with_certificates};
pub use self::error::RequestError;
pub use self::issuer::{IssueRequest, Issuer, KeySpec, SelfSignedIssuer};
pub use self::request::CertificateRequest;
pub use self::selfsigned::SelfSignedOptions;
pub use self::template::RequestTemplate;
