//! The published keys as an RFC 7517 JSON Web Key Set: what OAuth and OpenID Connect verifiers
//! (Microsoft Entra, AD FS, Duende IdentityServer, PyJWT, `jsonwebtoken`, ...) fetch from a
//! `jwks_uri`.
//!
//! ```text
//! { "keys": [ { "kty": "RSA", "use": "sig", "alg": "RS256", "kid": "<x5t>", "x5t": "...",
//!               "x5t#S256": "...", "n": "...", "e": "AQAB", "x5c": ["MIIC..."] } ] }
//! ```
//! ([RFC 7517 5](https://datatracker.ietf.org/doc/html/rfc7517#section-5))
//!
//! RFC 7517 leaves the `kid` value to the publisher; verifiers look a token's `kid` header up
//! in the set, so the set must use the form the signer puts in its tokens ([`KeyId`]).

use core::fmt;

use base64ct::{Base64, Base64UrlUnpadded, Encoding as _};
use time::OffsetDateTime;

use crate::policy::{CertType, Scope};
use crate::publish::keyset::{KeyStatus, PublishedKey, published_keys};
use crate::store::Store;
use crate::x509::{Certificate, Curve, FactError, KeyAlgorithm, Thumbprint};

/// The JWS algorithm a published key signs with (`alg`,
/// [RFC 7518 3.1](https://datatracker.ietf.org/doc/html/rfc7518#section-3.1)).
///
/// JSON (feature `serde`): the `alg` value, `"RS256"`, `"ES256"` or `"ES384"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub enum JwsAlgorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256, for RSA keys: what Lync, Exchange, SharePoint, AD FS and
    /// Microsoft Entra sign their tokens with.
    #[cfg_attr(feature = "serde", serde(rename = "RS256"))]
    Rs256,
    /// ECDSA on P-256 with SHA-256.
    #[cfg_attr(feature = "serde", serde(rename = "ES256"))]
    Es256,
    /// ECDSA on P-384 with SHA-384.
    #[cfg_attr(feature = "serde", serde(rename = "ES384"))]
    Es384,
}

impl JwsAlgorithm {
    /// The `alg` value: `RS256`, `ES256` or `ES384`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Rs256 => "RS256",
            Self::Es256 => "ES256",
            Self::Es384 => "ES384",
        }
    }
}

impl fmt::Display for JwsAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a published key's `kid` is
/// ([RFC 7517 4.5](https://datatracker.ietf.org/doc/html/rfc7517#section-4.5): "The structure
/// of the "kid" value is unspecified"). Both forms are the certificate's SHA-1 digest; they
/// differ in how it is written, and a verifier that looks a token's `kid` header up in the set
/// (PyJWT's `PyJWKSet[kid]`, `jsonwebtoken`, Microsoft.IdentityModel) finds the key only if the
/// signer wrote the same form.
///
/// | Form | Example | Who publishes and signs with it |
/// |---|---|---|
/// | [`KeyId::X5t`] | `nOo3ZDrODXEK1jKWhXslHR_KXEg` | Microsoft Entra ID, AD FS: `kid` and `x5t` are the same value |
/// | [`KeyId::Thumbprint`] | `9CEA37643ACE0D710AD63296857B251D1FCA5C48` | Duende IdentityServer (and IdentityServer4), .NET `X509SecurityKey.KeyId` |
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyId {
    /// The `x5t` value: base64url, without padding, of the SHA-1 digest of the certificate's
    /// DER (27 characters). Microsoft Entra ID and AD FS publish their signing certificates so
    /// (the `kid` and `x5t` members of their JWKS hold the same value) and put both headers in
    /// their tokens. The default.
    #[default]
    X5t,
    /// The SHA-1 thumbprint in uppercase hex (40 digits, [`Thumbprint`]'s `Display`, Windows'
    /// `X509Certificate2.Thumbprint`): .NET's `X509SecurityKey` takes it as its `KeyId`, so
    /// Duende IdentityServer publishes an X.509 signing credential with it as `kid` (its `x5t`
    /// member stays base64url) and writes it in its tokens' `kid` header.
    Thumbprint,
}

impl KeyId {
    /// The `kid` of the certificate whose SHA-1 thumbprint is `thumbprint`.
    pub fn of(self, thumbprint: &Thumbprint) -> String {
        match self {
            Self::X5t => base64url(thumbprint.as_bytes()),
            Self::Thumbprint => thumbprint.to_string(),
        }
    }
}

/// How [`Jwks::publish_with`] and [`Jwk::from_published_with`] write the keys.
///
/// The default writes `kid` = `x5t` ([`KeyId::X5t`]), what Microsoft Entra ID and AD FS
/// publish; [`JwksOptions::key_id`] chooses the form the verifiers' signers use.
///
/// ```
/// use certslot::publish::{JwksOptions, KeyId};
///
/// let options = JwksOptions::default().key_id(KeyId::Thumbprint);
/// assert_eq!(options.key_id_value(), KeyId::Thumbprint);
/// assert_eq!(JwksOptions::default().key_id_value(), KeyId::X5t);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct JwksOptions {
    key_id: KeyId,
}

impl JwksOptions {
    /// The form of every key's `kid` (default [`KeyId::X5t`]).
    #[must_use]
    pub const fn key_id(self, key_id: KeyId) -> Self {
        Self { key_id }
    }

    /// The form of `kid` set.
    pub const fn key_id_value(self) -> KeyId {
        self.key_id
    }
}

/// The members of a JWK that carry the public key itself.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum JwkParams {
    /// `kty` `RSA` ([RFC 7518 6.3.1](https://datatracker.ietf.org/doc/html/rfc7518#section-6.3.1)):
    /// modulus and exponent as base64url of their unsigned big-endian octets, without leading
    /// zero octets.
    Rsa {
        /// `n`, the modulus.
        n: String,
        /// `e`, the public exponent (`AQAB` for 65537).
        e: String,
    },
    /// `kty` `EC` ([RFC 7518 6.2.1](https://datatracker.ietf.org/doc/html/rfc7518#section-6.2.1)):
    /// the curve and the affine coordinates of the point, each base64url of exactly the curve's
    /// field size in octets (32 for P-256, 48 for P-384), leading zeros kept.
    Ec {
        /// The curve: `crv` is its name (`P-256`, `P-384`).
        curve: Curve,
        /// `x`, the x coordinate.
        x: String,
        /// `y`, the y coordinate.
        y: String,
    },
}

impl JwkParams {
    /// The `kty` value: `RSA` or `EC`.
    pub const fn kty(&self) -> &'static str {
        match self {
            Self::Rsa { .. } => "RSA",
            Self::Ec { .. } => "EC",
        }
    }
}

/// One key of a [`Jwks`]: a certificate's public key as an RFC 7517 JSON Web Key.
///
/// Serialized (feature `serde`) with `kty`, `use` (always `sig`), `alg`, `kid`, `x5t`,
/// `x5t#S256`, `n` and `e` or `crv`, `x` and `y`, then `x5c`; [`Jwk::status`] and
/// [`Jwk::thumbprint`] are for the caller and are not serialized (JWKS consumers expect only
/// registered members):
///
/// ```text
/// {"kty":"RSA","use":"sig","alg":"RS256","kid":"<x5t>","x5t":"<x5t>","x5t#S256":"<base64url>",
///  "n":"<base64url>","e":"AQAB","x5c":["<DER in Base64>", ...]}
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Jwk {
    /// `alg`: the algorithm verifiers must use with the key.
    pub alg: JwsAlgorithm,
    /// `kid` ([RFC 7517 4.5](https://datatracker.ietf.org/doc/html/rfc7517#section-4.5)): by
    /// default the same value as `x5t`, as Microsoft Entra ID and AD FS publish it, so that a
    /// token's `kid` and `x5t` headers both find the key; the uppercase hex SHA-1 thumbprint
    /// with [`KeyId::Thumbprint`], as Duende IdentityServer publishes it ([`JwksOptions`]).
    pub kid: String,
    /// `x5t` ([RFC 7517 4.8](https://datatracker.ietf.org/doc/html/rfc7517#section-4.8)):
    /// base64url, without padding, of the SHA-1 digest of the certificate's DER.
    pub x5t: String,
    /// `x5t#S256` ([RFC 7517 4.9](https://datatracker.ietf.org/doc/html/rfc7517#section-4.9)):
    /// base64url, without padding, of the SHA-256 digest of the certificate's DER.
    pub x5t_s256: String,
    /// `x5c` ([RFC 7517 4.7](https://datatracker.ietf.org/doc/html/rfc7517#section-4.7)):
    /// standard Base64 (with padding, not base64url) of each certificate's DER, the key's
    /// certificate first, then its issuers as [`PublishedKey::chain`] lists them.
    pub x5c: Vec<String>,
    /// The key: `kty` and its members.
    pub params: JwkParams,
    /// Why the key is published (not serialized).
    pub status: KeyStatus,
    /// The certificate's SHA-1 thumbprint (not serialized; `x5t` is the same digest).
    pub thumbprint: Thumbprint,
}

/// Why a published key is left out of a [`Jwks`] (and of the authorization metadata).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SkipReason {
    /// The key's algorithm has no JWS algorithm certslot publishes: RSA restricted to RSASSA-PSS
    /// (`id-RSASSA-PSS`), Ed25519, Ed448, X25519, X448, DSA or an unknown algorithm.
    #[error("no JWS algorithm is published for {algorithm} keys")]
    Algorithm {
        /// The key's algorithm.
        algorithm: KeyAlgorithm,
    },
    /// An EC key on a curve other than P-256 and P-384 (P-521 and ES512 included: certslot
    /// carries no P-521 arithmetic to check the point).
    #[error("no JWS algorithm is published for EC keys on {curve}")]
    Curve {
        /// The key's curve.
        curve: Curve,
    },
    /// The key's point or integers are not a valid public key: an EC point that is not on its
    /// curve (or the point at infinity), an RSA modulus or exponent of zero.
    #[error("the {algorithm} public key is not valid")]
    InvalidKey {
        /// The key's algorithm.
        algorithm: KeyAlgorithm,
    },
    /// The certificate's `SubjectPublicKeyInfo` could not be read.
    #[error(transparent)]
    Unreadable(#[from] FactError),
}

/// A published key left out of a [`Jwks`], and why.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SkippedKey {
    /// The certificate's SHA-1 thumbprint.
    pub thumbprint: Thumbprint,
    /// Why it would have been published.
    pub status: KeyStatus,
    /// Why it was not.
    pub reason: SkipReason,
}

/// An RFC 7517 JSON Web Key Set of the keys verifiers must trust, made by [`Jwks::publish`].
///
/// Serialized as `{"keys":[...]}` only; [`Jwks::skipped`] is for the caller.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct Jwks {
    /// The keys, in [`published_keys`] order: the signing key first.
    pub keys: Vec<Jwk>,
    /// The published keys that cannot be JWKs (not serialized). Verifiers will not learn them:
    /// a non-empty list deserves a warning in the caller's logs.
    #[cfg_attr(feature = "serde", serde(skip))]
    pub skipped: Vec<SkippedKey>,
}

impl Jwk {
    /// The JWK of one published key, with the default [`JwksOptions`] (`kid` = `x5t`).
    ///
    /// # Errors
    /// The [`SkipReason`] when the key cannot be published as a JWK: an algorithm or curve with
    /// no JWS algorithm here, or a key that is not valid.
    pub fn from_published(key: &PublishedKey<'_>) -> Result<Self, SkipReason> {
        Self::from_published_with(key, JwksOptions::default())
    }

    /// The JWK of one published key, its `kid` as `options` say.
    ///
    /// # Errors
    /// The [`SkipReason`] when the key cannot be published as a JWK: an algorithm or curve with
    /// no JWS algorithm here, or a key that is not valid.
    pub fn from_published_with(key: &PublishedKey<'_>, options: JwksOptions) -> Result<Self, SkipReason> {
        let certificate = key.certificate;
        let public_key = certificate.public_key()?;
        let algorithm = public_key.algorithm();
        let (alg, params) = match algorithm {
            KeyAlgorithm::Rsa => {
                // RFC 7518 6.3.1.1 and 6.3.1.2: unsigned big-endian, the minimum number of
                // octets; `rsa_modulus` and `rsa_exponent` come without leading zeros.
                let (Some(n), Some(e)) = (public_key.rsa_modulus(), public_key.rsa_exponent()) else {
                    return Err(SkipReason::InvalidKey { algorithm });
                };
                if n.is_empty() || e.is_empty() {
                    return Err(SkipReason::InvalidKey { algorithm });
                }
                let params = JwkParams::Rsa { n: base64url(n), e: base64url(e) };
                (JwsAlgorithm::Rs256, params)
            }
            KeyAlgorithm::Ec(curve) => {
                let point = public_key.subject_public_key();
                let (alg, coordinates) = match curve {
                    Curve::P256 => (JwsAlgorithm::Es256, p256_coordinates(point)),
                    Curve::P384 => (JwsAlgorithm::Es384, p384_coordinates(point)),
                    curve => return Err(SkipReason::Curve { curve }),
                };
                let (x, y) = coordinates.map_err(|()| SkipReason::InvalidKey { algorithm })?;
                (alg, JwkParams::Ec { curve, x, y })
            }
            algorithm => return Err(SkipReason::Algorithm { algorithm }),
        };
        let thumbprint = certificate.thumbprint();
        let x5t = base64url(thumbprint.as_bytes());
        let mut x5c = Vec::with_capacity(1 + key.chain.len());
        x5c.push(base64(certificate));
        x5c.extend(key.chain.iter().map(|c| base64(c)));
        Ok(Self {
            alg,
            kid: options.key_id.of(&thumbprint),
            x5t,
            x5t_s256: base64url(certificate.sha256_fingerprint().as_bytes()),
            x5c,
            params,
            status: key.status,
            thumbprint,
        })
    }

    /// The `kty` value: `RSA` or `EC`.
    pub const fn kty(&self) -> &'static str {
        self.params.kty()
    }

    /// The `use` value: always `sig` (RFC 7517 4.2): the keys verify signatures.
    pub const fn key_use(&self) -> &'static str {
        "sig"
    }
}

impl Jwks {
    /// The key whose `kid` is `kid`.
    pub fn key(&self, kid: &str) -> Option<&Jwk> {
        self.keys.iter().find(|k| k.kid == kid)
    }

    /// The key signers use now ([`KeyStatus::Signing`]), if the set has one.
    pub fn signing_key(&self) -> Option<&Jwk> {
        self.keys.iter().find(|k| k.status == KeyStatus::Signing)
    }

    /// The set as compact JSON (no whitespace), ready to serve as `application/json` at a
    /// `jwks_uri`: `{"keys":[...]}` (see [`Jwk`]). For other layouts, serialize the [`Jwks`]
    /// with serde.
    ///
    /// # Errors
    /// serde_json's error, returned rather than hidden; a set of members that are all strings
    /// does not make it fail.
    #[cfg(feature = "serde")]
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(self)
    }
}

/// A [`Jwk`]'s members in JSON: `kty`, `use`, `alg`, `kid`, `x5t`, `x5t#S256`, the key's own
/// members, `x5c`, the order of RFC 7517's examples. `kty` and `use` are not fields of
/// [`Jwk`] (they follow from its key), so the shape is derived on this borrowed view.
#[cfg(feature = "serde")]
#[derive(serde::Serialize)]
struct JwkMembers<'a> {
    kty: &'static str,
    #[serde(rename = "use")]
    key_use: &'static str,
    alg: JwsAlgorithm,
    kid: &'a str,
    x5t: &'a str,
    #[serde(rename = "x5t#S256")]
    x5t_s256: &'a str,
    #[serde(flatten)]
    params: KeyMembers<'a>,
    x5c: &'a [String],
}

/// The members that carry the key: `n` and `e`, or `crv`, `x` and `y`.
#[cfg(feature = "serde")]
#[derive(serde::Serialize)]
#[serde(untagged)]
enum KeyMembers<'a> {
    Rsa { n: &'a str, e: &'a str },
    Ec { crv: String, x: &'a str, y: &'a str },
}

#[cfg(feature = "serde")]
impl serde::Serialize for Jwk {
    /// As `JwkMembers` (derived): the members in the order of RFC 7517's examples.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let params = match &self.params {
            JwkParams::Rsa { n, e } => KeyMembers::Rsa { n, e },
            JwkParams::Ec { curve, x, y } => KeyMembers::Ec { crv: curve.to_string(), x, y },
        };
        let members = JwkMembers {
            kty: self.kty(),
            key_use: self.key_use(),
            alg: self.alg,
            kid: &self.kid,
            x5t: &self.x5t,
            x5t_s256: &self.x5t_s256,
            params,
            x5c: &self.x5c,
        };
        serde::Serialize::serialize(&members, serializer)
    }
}

impl Jwks {
    /// The keys verifiers of `cert_type` at `scope` must trust at `at`, as an RFC 7517 JSON Web
    /// Key Set: the keys of [`published_keys`], in its order (the signing key first,
    /// then the announced one, then the retained previous one), each as a [`Jwk`] whose `kid` is
    /// its `x5t` (as Microsoft Entra ID and AD FS publish; [`Jwks::publish_with`] writes the hex
    /// thumbprint Duende IdentityServer uses). Keys that cannot be JWKs are left out and listed
    /// in [`Jwks::skipped`].
    ///
    /// Serving the set (at a `jwks_uri`, with caching headers shorter than the type's
    /// publish-ahead time) is the caller's job.
    ///
    /// ```
    /// use certslot::rand_core::UnwrapErr;
    /// use certslot::{CertType, Policy, PrivateKey, RequestTemplate, RollOptions, Scope, publish::KeyStatus};
    /// use certslot::{Store, obtain::SelfSignedOptions, publish::Jwks};
    /// # use certslot::OffsetDateTime;
    /// # let mut rng = UnwrapErr(getrandom::SysRng);
    /// let at = OffsetDateTime::from_unix_timestamp(1_795_000_000)?;
    /// let template = RequestTemplate::for_type(&CertType::OAuthTokenIssuer, "pool01.contoso.com", "contoso.com")?;
    /// let policy = Policy::oauth_token_issuer("contoso.com")?;
    /// let key = PrivateKey::generate_ec(certslot::x509::Curve::P256, &mut rng)?;
    /// let policy = policy.with_key(certslot::validate::KeyRule::default().accept_ec(256)?);
    /// let pfx = template.self_signed(key, &policy, at, SelfSignedOptions::default(), &mut rng)?;
    ///
    /// let mut store = Store::for_sip_domain("contoso.com")?;
    /// let thumbprint = store.add_pfx(pfx)?;
    /// let options = RollOptions::default().ignore_policy(); // the type's default wants RSA
    /// store.set(&[CertType::OAuthTokenIssuer], &Scope::Global, &thumbprint, at, options)?;
    ///
    /// let jwks = Jwks::publish(&store, &CertType::OAuthTokenIssuer, &Scope::Global, at);
    /// let key = &jwks.keys[0];
    /// assert_eq!((key.kty(), key.alg.as_str(), key.status), ("EC", "ES256", KeyStatus::Signing));
    /// assert_eq!(key.kid, key.x5t);
    /// assert_eq!(key.thumbprint, thumbprint);
    /// assert!(jwks.to_json()?.starts_with(r#"{"keys":[{"kty":"EC","use":"sig","alg":"ES256","kid":""#));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn publish(store: &Store, cert_type: &CertType, scope: &Scope, at: OffsetDateTime) -> Self {
        Self::publish_with(store, cert_type, scope, at, JwksOptions::default())
    }

    /// [`Jwks::publish`], its keys written as `options` say: the form of `kid` ([`KeyId`]) the
    /// verifiers' signers put in their tokens.
    ///
    /// ```
    /// use certslot::{Certificate, CertType, Policy, RollOptions, Scope, Store, publish::{Jwks, JwksOptions, KeyId}};
    /// use certslot::{OffsetDateTime, TypeConfig};
    ///
    /// let leaf = Certificate::from_der(include_bytes!("../../tests/data/rsa2048.der"))?;
    /// let mut store = Store::new();
    /// let token_signing = CertType::custom("TokenSigning")?;
    /// let config = TypeConfig::for_type(&token_signing, None).policy(Policy::new()).require_private_key(false);
    /// store.configure_type(token_signing.clone(), config)?;
    /// let thumbprint = store.add_certificate(leaf, None);
    /// let at = OffsetDateTime::from_unix_timestamp(1_798_761_600)?; // 2027-01-01
    /// store.set(&[token_signing.clone()], &Scope::Global, &thumbprint, at, RollOptions::default())?;
    ///
    /// let options = JwksOptions::default().key_id(KeyId::Thumbprint);
    /// let jwks = Jwks::publish_with(&store, &token_signing, &Scope::Global, at, options);
    /// assert_eq!(jwks.keys[0].kid, thumbprint.to_string()); // 40 uppercase hex digits
    /// assert_eq!(jwks.keys[0].kid.len(), 40);
    /// assert_eq!(jwks.keys[0].x5t.len(), 27); // x5t stays base64url
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn publish_with(
        store: &Store,
        cert_type: &CertType,
        scope: &Scope,
        at: OffsetDateTime,
        options: JwksOptions,
    ) -> Self {
        let published = published_keys(store, cert_type, scope, at);
        let mut jwks = Jwks { keys: Vec::with_capacity(published.len()), skipped: Vec::new() };
        for key in &published {
            match Jwk::from_published_with(key, options) {
                Ok(jwk) => jwks.keys.push(jwk),
                Err(reason) => jwks.skipped.push(SkippedKey {
                    thumbprint: key.certificate.thumbprint(),
                    status: key.status,
                    reason,
                }),
            }
        }
        jwks
    }
}

/// Base64url without padding (RFC 7515 2, `Base64url Encoding`).
fn base64url(bytes: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(bytes)
}

/// A certificate's DER in standard Base64 with padding (RFC 4648 4), as `x5c` wants it.
fn base64(certificate: &Certificate) -> String {
    Base64::encode_string(certificate.der())
}

/// The base64url coordinates of a P-256 point, compressed or not; `Err` when it is not a point of
/// the curve other than the identity.
fn p256_coordinates(point: &[u8]) -> Result<(String, String), ()> {
    use p256::elliptic_curve::sec1::ToSec1Point as _;
    let key = p256::PublicKey::from_sec1_bytes(point).map_err(|_| ())?;
    let point = key.to_sec1_point(false);
    match (point.x(), point.y()) {
        (Some(x), Some(y)) => Ok((base64url(x), base64url(y))),
        _ => Err(()),
    }
}

/// As [`p256_coordinates`], for P-384.
fn p384_coordinates(point: &[u8]) -> Result<(String, String), ()> {
    use p384::elliptic_curve::sec1::ToSec1Point as _;
    let key = p384::PublicKey::from_sec1_bytes(point).map_err(|_| ())?;
    let point = key.to_sec1_point(false);
    match (point.x(), point.y()) {
        (Some(x), Some(y)) => Ok((base64url(x), base64url(y))),
        _ => Err(()),
    }
}
