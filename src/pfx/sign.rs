//! Keys as signers, for the certificate and request builder (x509-cert's `Builder`).
//!
//! certslot signs with RSASSA-PKCS1-v1_5 and SHA-256
//! ([RFC 8017 8.2](https://datatracker.ietf.org/doc/html/rfc8017#section-8.2), `sha256WithRSAEncryption`,
//! RFC 4055 5), ECDSA on P-256 with SHA-256 and on P-384 with SHA-384 (RFC 5758 3.2: the
//! signature a DER `Ecdsa-Sig-Value`, RFC 5480 2.2 / RFC 3279 2.2.3). It signs only the
//! requests and certificates it builds itself, never bytes a caller hands it.
//!
//! Each variant of [`SigningKey`] is a RustCrypto signer that x509-cert's builder takes as it is
//! (`Signer` + `Keypair` + `DynSignatureAlgorithmIdentifier`, with an `EncodePublicKey` verifying
//! key); the enum itself is one too, with [`SignatureBytes`] as its signature, so a builder can
//! sign with any key without matching on it. RSA signs without blinding through `Signer`
//! (the `rsa` crate's arithmetic is constant-time) and with blinding through `RandomizedSigner`
//! (`Builder::build_with_rng`).

use const_oid::db::rfc5912;
use der::asn1::BitString;
use signature::rand_core::TryCryptoRng;
use signature::{Keypair, RandomizedSigner, SignatureEncoding as _, Signer};
use spki::{
    AlgorithmIdentifierOwned, DynSignatureAlgorithmIdentifier, EncodePublicKey, SignatureBitStringEncoding,
};

use crate::pfx::KeyError;
use crate::pfx::key::PrivateKey;
use crate::x509::key::{Curve, KeyAlgorithm};

/// A private key ready to sign, one variant per algorithm certslot signs with.
#[derive(Clone)]
pub(crate) enum SigningKey {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (`sha256WithRSAEncryption`).
    Rsa(rsa::pkcs1v15::SigningKey<sha2::Sha256>),
    /// ECDSA on P-256 with SHA-256 (`ecdsa-with-SHA256`); sign with `p256::ecdsa::DerSignature`.
    P256(p256::ecdsa::SigningKey),
    /// ECDSA on P-384 with SHA-384 (`ecdsa-with-SHA384`); sign with `p384::ecdsa::DerSignature`.
    P384(p384::ecdsa::SigningKey),
}

impl core::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let algorithm = match self {
            Self::Rsa(_) => "Rsa",
            Self::P256(_) => "P256",
            Self::P384(_) => "P384",
        };
        write!(f, "SigningKey::{algorithm}([redacted])")
    }
}

impl PrivateKey {
    /// The key as a signer.
    ///
    /// # Errors
    /// [`KeyError::CannotSign`] for keys certslot does not sign with (RSA-PSS-only keys, RSA
    /// moduli outside 1024..=8192 bits, DSA, EdDSA, X25519/X448, EC keys on other curves or
    /// restricted to ECDH), [`KeyError::BadPrivateKey`] when the key's numbers are not a valid key.
    pub(crate) fn signing_key(&self) -> Result<SigningKey, KeyError> {
        let (algorithm, bits) = (self.algorithm(), self.bits());
        let cannot = KeyError::CannotSign { algorithm, bits };
        let parts = self.pkcs8_parts().ok_or(KeyError::BadPrivateKey { what: "PrivateKeyInfo" })?;
        match algorithm {
            KeyAlgorithm::Rsa if bits.is_some_and(|b| (1024..=8192).contains(&b)) => {
                let rsa = <rsa::PrivateKey as pkcs1::DecodeRsaPrivateKey>::from_pkcs1_der(parts.private_key)
                    .map_err(|_| KeyError::BadPrivateKey { what: "RSAPrivateKey" })?;
                Ok(SigningKey::Rsa(rsa::pkcs1v15::SigningKey::new(rsa)))
            }
            KeyAlgorithm::Ec(Curve::P256) if parts.oid == rfc5912::ID_EC_PUBLIC_KEY => {
                let secret = p256::SecretKey::from_sec1_der(parts.private_key)
                    .map_err(|_| KeyError::BadPrivateKey { what: "ECPrivateKey" })?;
                Ok(SigningKey::P256(secret.into()))
            }
            KeyAlgorithm::Ec(Curve::P384) if parts.oid == rfc5912::ID_EC_PUBLIC_KEY => {
                let secret = p384::SecretKey::from_sec1_der(parts.private_key)
                    .map_err(|_| KeyError::BadPrivateKey { what: "ECPrivateKey" })?;
                Ok(SigningKey::P384(secret.into()))
            }
            _ => Err(cannot),
        }
    }
}

/// The `SubjectPublicKeyInfo` DER of a [`SigningKey`]: its `Keypair::VerifyingKey`, which the
/// builder writes into the certificate or request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PublicKeyDer(pub(crate) Vec<u8>);

impl EncodePublicKey for PublicKeyDer {
    fn to_public_key_der(&self) -> spki::Result<der::Document> {
        Ok(der::Document::try_from(self.0.as_slice())?)
    }
}

/// A signature as the certificate's or request's BIT STRING holds it: the RSA signature's octets
/// (RFC 8017 8.2.1), or a DER `Ecdsa-Sig-Value` (RFC 3279 2.2.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SignatureBytes(pub(crate) Vec<u8>);

impl SignatureBitStringEncoding for SignatureBytes {
    fn to_bitstring(&self) -> der::Result<BitString> {
        BitString::new(0, self.0.clone())
    }
}

impl Keypair for SigningKey {
    type VerifyingKey = PublicKeyDer;

    /// The public key's DER; empty (which the builder then refuses) should encoding ever fail.
    fn verifying_key(&self) -> PublicKeyDer {
        let der = match self {
            Self::Rsa(k) => k.verifying_key().to_public_key_der(),
            Self::P256(k) => k.verifying_key().to_public_key_der(),
            Self::P384(k) => k.verifying_key().to_public_key_der(),
        };
        PublicKeyDer(der.map(|d| d.as_bytes().to_vec()).unwrap_or_default())
    }
}

impl DynSignatureAlgorithmIdentifier for SigningKey {
    fn signature_algorithm_identifier(&self) -> spki::Result<AlgorithmIdentifierOwned> {
        match self {
            Self::Rsa(k) => k.signature_algorithm_identifier(),
            Self::P256(k) => k.signature_algorithm_identifier(),
            Self::P384(k) => k.signature_algorithm_identifier(),
        }
    }
}

impl Signer<SignatureBytes> for SigningKey {
    fn try_sign(&self, msg: &[u8]) -> Result<SignatureBytes, signature::Error> {
        Ok(SignatureBytes(match self {
            Self::Rsa(k) => Signer::<rsa::pkcs1v15::Signature>::try_sign(k, msg)?.to_vec(),
            Self::P256(k) => Signer::<p256::ecdsa::DerSignature>::try_sign(k, msg)?.to_vec(),
            Self::P384(k) => Signer::<p384::ecdsa::DerSignature>::try_sign(k, msg)?.to_vec(),
        }))
    }
}

impl RandomizedSigner<SignatureBytes> for SigningKey {
    fn try_sign_with_rng<R: TryCryptoRng + ?Sized>(
        &self,
        rng: &mut R,
        msg: &[u8],
    ) -> Result<SignatureBytes, signature::Error> {
        Ok(SignatureBytes(match self {
            Self::Rsa(k) => {
                RandomizedSigner::<rsa::pkcs1v15::Signature>::try_sign_with_rng(k, rng, msg)?.to_vec()
            }
            Self::P256(k) => {
                RandomizedSigner::<p256::ecdsa::DerSignature>::try_sign_with_rng(k, rng, msg)?.to_vec()
            }
            Self::P384(k) => {
                RandomizedSigner::<p384::ecdsa::DerSignature>::try_sign_with_rng(k, rng, msg)?.to_vec()
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    //! Each variant, and the enum, signs a self-signed certificate and a request through
    //! x509-cert's builder; the signatures verify with the key's public key (RustCrypto) and with
    //! OpenSSL, and the public key the builder wrote is [`PrivateKey::public_key_der`].

    use std::process::Command;
    use std::str::FromStr as _;
    use std::time::Duration;

    use const_oid::ObjectIdentifier;
    use der::asn1::UtcTime;
    use der::{Decode as _, Encode as _};
    use rand_core::UnwrapErr;
    use signature::Verifier;
    use spki::SubjectPublicKeyInfoOwned;
    use x509_cert::builder::profile::cabf::Root;
    use x509_cert::builder::{Builder, CertificateBuilder};
    use x509_cert::name::Name;
    use x509_cert::request::{CertReq, RequestBuilder};
    use x509_cert::serial_number::SerialNumber;
    use x509_cert::time::{Time, Validity};

    use super::*;
    use crate::pfx::kdf::Password;

    fn fixture(name: &str) -> PrivateKey {
        let path = format!("{}/tests/data/keys/{name}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read(path).expect("fixture");
        PrivateKey::from_pem(&text, Some(&Password::new("P@ssw0rd"))).expect("reads")
    }

    fn certificate<S, Sig>(signer: &S, spki: SubjectPublicKeyInfoOwned) -> x509_cert::Certificate
    where
        S: Signer<Sig> + Keypair + DynSignatureAlgorithmIdentifier,
        S::VerifyingKey: EncodePublicKey,
        Sig: SignatureBitStringEncoding,
    {
        // 2026-01-01T00:00:00Z to 2036-01-01T00:00:00Z: no clock in the test.
        let at = |secs| Time::UtcTime(UtcTime::from_unix_duration(Duration::from_secs(secs)).expect("time"));
        let validity = Validity::new(at(1_767_225_600), at(2_082_758_400));
        let profile =
            Root::new(false, Name::from_str("CN=certslot signing test,O=Contoso,C=US").expect("name"))
                .expect("profile");
        CertificateBuilder::new(profile, SerialNumber::from(9u32), validity, spki)
            .expect("builder")
            .build::<S, Sig>(signer)
            .expect("signs")
    }

    fn request<S, Sig>(signer: &S) -> CertReq
    where
        S: Signer<Sig> + Keypair + DynSignatureAlgorithmIdentifier,
        S::VerifyingKey: EncodePublicKey,
        Sig: SignatureBitStringEncoding,
    {
        let subject = Name::from_str("CN=sip.contoso.com").expect("name");
        RequestBuilder::new(subject).expect("builder").build::<S, Sig>(signer).expect("signs")
    }

    /// The signed bytes, the signature algorithm's OID and the signature of a certificate or request.
    fn parts_of_certificate(cert: &x509_cert::Certificate) -> (Vec<u8>, ObjectIdentifier, Vec<u8>) {
        let tbs = cert.tbs_certificate().to_der().expect("der");
        let signature = cert.signature().raw_bytes().to_vec();
        (tbs, cert.signature_algorithm().oid, signature)
    }

    fn parts_of_request(req: &CertReq) -> (Vec<u8>, ObjectIdentifier, Vec<u8>) {
        let info = req.info.to_der().expect("der");
        (info, req.algorithm.oid, req.signature.raw_bytes().to_vec())
    }

    fn verifies<V, Sig>(key: &V, (message, _, signature): &(Vec<u8>, ObjectIdentifier, Vec<u8>)) -> bool
    where
        V: Verifier<Sig>,
        Sig: for<'a> TryFrom<&'a [u8]>,
    {
        Sig::try_from(signature.as_slice()).ok().is_some_and(|sig| key.verify(message, &sig).is_ok())
    }

    /// OpenSSL checks the signatures too: `openssl req -verify` and `openssl verify` on the
    /// self-signed certificate (time not checked: the test has no clock).
    fn openssl_verifies(name: &str, cert: &x509_cert::Certificate, req: &CertReq) {
        let dir = std::env::temp_dir().join(format!("certslot-sign-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let cert_path = dir.join("cert.der");
        let req_path = dir.join("req.der");
        std::fs::write(&cert_path, cert.to_der().expect("der")).expect("write");
        std::fs::write(&req_path, req.to_der().expect("der")).expect("write");
        let pem = dir.join("cert.pem");
        let run = |args: &[&str]| {
            let out = Command::new("openssl").args(args).output().expect("openssl is installed");
            assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
            String::from_utf8_lossy(&out.stdout).into_owned()
        };
        let req_out =
            run(&["req", "-inform", "DER", "-in", req_path.to_str().expect("path"), "-verify", "-noout"]);
        assert_eq!(req_out, "");
        run(&[
            "x509",
            "-inform",
            "DER",
            "-in",
            cert_path.to_str().expect("path"),
            "-out",
            pem.to_str().expect("path"),
        ]);
        let pem = pem.to_str().expect("path");
        let verify = run(&["verify", "-no_check_time", "-CAfile", pem, pem]);
        assert_eq!(verify, format!("{pem}: OK\n"));
        std::fs::remove_dir_all(&dir).expect("clean up");
    }

    #[test]
    fn each_variant_signs_certificates_and_requests_through_the_builder() {
        let mut rng = UnwrapErr(getrandom::SysRng);
        let keys = [
            (
                "rsa",
                PrivateKey::generate_rsa(2048, &mut rng).expect("generates"),
                rfc5912::SHA_256_WITH_RSA_ENCRYPTION,
            ),
            (
                "p256",
                PrivateKey::generate_ec(Curve::P256, &mut rng).expect("generates"),
                rfc5912::ECDSA_WITH_SHA_256,
            ),
            ("p384", fixture("openssl-ec-p384-genpkey-aes256.pem"), rfc5912::ECDSA_WITH_SHA_384),
        ];
        for (name, key, algorithm) in keys {
            let spki_der = key.public_key_der().expect("public key");
            let spki = SubjectPublicKeyInfoOwned::from_der(&spki_der).expect("SPKI");
            let signer = key.signing_key().expect("can sign");
            let (cert, req) = match &signer {
                SigningKey::Rsa(k) => {
                    let cert = certificate::<_, rsa::pkcs1v15::Signature>(k, spki.clone());
                    let req = request::<_, rsa::pkcs1v15::Signature>(k);
                    let vk = k.verifying_key();
                    assert!(verifies::<_, rsa::pkcs1v15::Signature>(&vk, &parts_of_certificate(&cert)));
                    assert!(verifies::<_, rsa::pkcs1v15::Signature>(&vk, &parts_of_request(&req)));
                    (cert, req)
                }
                SigningKey::P256(k) => {
                    let cert = certificate::<_, p256::ecdsa::DerSignature>(k, spki.clone());
                    let req = request::<_, p256::ecdsa::DerSignature>(k);
                    let vk = k.verifying_key();
                    assert!(verifies::<_, p256::ecdsa::DerSignature>(vk, &parts_of_certificate(&cert)));
                    assert!(verifies::<_, p256::ecdsa::DerSignature>(vk, &parts_of_request(&req)));
                    (cert, req)
                }
                SigningKey::P384(k) => {
                    let cert = certificate::<_, p384::ecdsa::DerSignature>(k, spki.clone());
                    let req = request::<_, p384::ecdsa::DerSignature>(k);
                    let vk = k.verifying_key();
                    assert!(verifies::<_, p384::ecdsa::DerSignature>(vk, &parts_of_certificate(&cert)));
                    assert!(verifies::<_, p384::ecdsa::DerSignature>(vk, &parts_of_request(&req)));
                    (cert, req)
                }
            };
            assert_eq!(parts_of_certificate(&cert).1, algorithm, "{name}");
            assert_eq!(parts_of_request(&req).1, algorithm, "{name}");
            assert_eq!(req.info.public_key.to_der().expect("der"), spki_der, "{name}");
            assert_eq!(signer.verifying_key(), PublicKeyDer(spki_der.clone()), "{name}");
            let read = crate::x509::cert::Certificate::from_der(&cert.to_der().expect("der"))
                .expect("certslot reads it");
            assert_eq!(key.matches(&read), Some(true), "{name}");
            openssl_verifies(name, &cert, &req);

            // The enum is a signer too, with and without an RNG (RSA blinding).
            let cert = certificate::<_, SignatureBytes>(&signer, spki.clone());
            let (tbs, oid, signature) = parts_of_certificate(&cert);
            assert_eq!(oid, algorithm, "{name}");
            let again = Signer::<SignatureBytes>::try_sign(&signer, &tbs).expect("signs");
            let req = RequestBuilder::new(Name::from_str("CN=sip.contoso.com").expect("name"))
                .expect("builder")
                .build_with_rng::<_, SignatureBytes, _>(&signer, &mut rng)
                .expect("signs");
            openssl_verifies(&format!("{name}-enum"), &cert, &req);
            if name == "rsa" {
                // RSASSA-PKCS1-v1_5 is deterministic: the same bytes sign to the same signature.
                assert_eq!(again.0, signature);
            }
        }
    }

    #[test]
    fn keys_certslot_does_not_sign_with_are_refused() {
        for (file, algorithm, bits) in [
            ("openssl-ed25519-pkcs8.pem", KeyAlgorithm::Ed25519, Some(256)),
            ("openssl-rsa-pss-pkcs8.pem", KeyAlgorithm::RsaPss, Some(2048)),
            ("openssl-ec-p521-pkcs8.pem", KeyAlgorithm::Ec(Curve::P521), Some(521)),
        ] {
            let result = fixture(file).signing_key().map(|_| ());
            assert_eq!(result, Err(KeyError::CannotSign { algorithm, bits }), "{file}");
        }
    }
}
