//! The keys verifiers must trust for a type at a scope, at an instant: what the JWKS and the
//! authorization metadata document publish.

use time::OffsetDateTime;

use crate::policy::{CertType, Scope};
use crate::store::Store;
use crate::x509::{Certificate, MAX_CHAIN_LENGTH};

/// Why a key is published.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum KeyStatus {
    /// The current certificate: signers use it.
    Signing,
    /// The pending certificate, inside its publish-ahead window: verifiers learn it before it signs.
    Announced,
    /// The previous certificate, within its retention: tokens it signed are still alive.
    Retained,
}

/// One published key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublishedKey<'a> {
    /// The certificate.
    pub certificate: &'a Certificate,
    /// Why it is published.
    pub status: KeyStatus,
    /// The certificates above it that the store holds, issuer first, each the one that issued
    /// the certificate before it (RFC 7517 4.7: "each subsequent certificate being the one used
    /// to certify the previous one"), up to (and without) a self-issued root or
    /// [`MAX_CHAIN_LENGTH`] certificates in all. Among certificates with the issuer's name (a CA
    /// renewed with a new key beside its old certificate), the issuer is the one whose subject
    /// key identifier is the authority key identifier and whose key verifies the signature; the
    /// chain stops where no certificate of the store issued the one before. Empty for a
    /// self-signed certificate.
    pub chain: Vec<&'a Certificate>,
}

/// The keys verifiers of `cert_type` at `scope` must trust at `at`, signing key first: the
/// current certificate; the pending one from `publish_ahead` before its effective date; the
/// previous one while the type accepts it and its retention lasts
/// ([`Retention`](crate::policy::Retention)). A certificate past its `notAfter`, or past the
/// `notAfter` of the chain it came with ([`StoredCertificate::effective_end`](crate::store::StoredCertificate::effective_end)), is never published.
/// The slot is found as [`Store::resolve`] finds it (pool, then site, then global).
///
/// A pure function of the state: a roll due by `at` that [`Store::advance`] has not applied
/// yet is still published as announced.
pub fn published_keys<'a>(
    store: &'a Store,
    cert_type: &CertType,
    scope: &Scope,
    at: OffsetDateTime,
) -> Vec<PublishedKey<'a>> {
    let Some((resolved, slot)) = store.resolve(cert_type, scope) else { return Vec::new() };
    let rollover = store.type_config(cert_type).get_rollover();
    let mut out = Vec::with_capacity(3);
    let mut push = |thumbprint, status| {
        if let Some(stored) = store.inventory().get(&thumbprint) {
            let certificate = &stored.certificate;
            if at <= stored.effective_end()
                && !out.iter().any(|k: &PublishedKey<'_>| k.certificate == certificate)
            {
                out.push(PublishedKey { certificate, status, chain: chain_of(store, certificate) });
            }
        }
    };
    if let Some(current) = slot.current() {
        push(current.thumbprint, KeyStatus::Signing);
    }
    if let Some(pending) = slot.pending() {
        let announced = pending.effective_at.checked_sub(rollover.get_publish_ahead());
        if announced.is_none_or(|a| at >= a) {
            push(pending.thumbprint, KeyStatus::Announced);
        }
    }
    if let Some(previous) = slot.previous().filter(|_| store.previous_trusted_at(cert_type, &resolved, at)) {
        push(previous.thumbprint, KeyStatus::Retained);
    }
    out
}

/// The issuers of `certificate` the store holds, nearest first: at each step the certificate
/// with the issuer name that issued the one below ([`Certificate::issuer_among`]: key
/// identifiers, then the signature).
fn chain_of<'a>(store: &'a Store, certificate: &'a Certificate) -> Vec<&'a Certificate> {
    let mut chain: Vec<&Certificate> = Vec::new();
    let mut below = certificate;
    while !below.is_self_issued() && chain.len() + 1 < MAX_CHAIN_LENGTH {
        let issuer = below.issuer();
        // Self-issued roots are never sent: they are not candidates (nor checked).
        let candidates = store.inventory().with_subject(issuer.as_der()).filter(|c| !c.is_self_issued());
        let Some(found) = below.issuer_among(candidates).issuer() else { break };
        if found == certificate || chain.contains(&found) {
            break;
        }
        chain.push(found);
        below = found;
    }
    chain
}
