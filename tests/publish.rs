//! Publishing the keys verifiers must trust (`Store::jwks`, `Store::auth_metadata`), checked with
//! the real tools: PyJWT (with the `cryptography` backend) verifies tokens signed in Python with
//! the PFXs' keys against certslot's JWKS across a roll, OpenSSL and Python `cryptography`
//! compute the key members and digests from the certificates themselves.

#[path = "common/tools.rs"]
mod tools;

use std::sync::OnceLock;

use certslot::rand_core::UnwrapErr;
use certslot::{
    CertType, Certificate, ExportOptions, Password, Pfx, Policy, PrivateKey, RequestTemplate, RollOptions,
    RolloverPolicy, Scope, Store, TypeConfig,
    obtain::SelfSignedOptions,
    policy::Retention,
    publish::{
        Jwk, JwkParams, Jwks, JwksOptions, JwsAlgorithm, KeyId, KeyStatus, MetadataEndpoint, MetadataError,
        MetadataForm, MetadataOptions, PublishedKey, SkipReason,
    },
    validate::KeyRule,
    x509::{Curve, KeyAlgorithm},
};
use getrandom::SysRng;
use serde_json::Value;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};
use tools::{TempDir, openssl, python};

/// When the first certificates are made and set.
const T0: OffsetDateTime = datetime!(2026-11-29 10:00 UTC);
/// The roll's effective date: three days after it is scheduled, so the next certificate is
/// announced (24 hours ahead, Lync's publish-ahead) from T0 + 2 days.
const EFFECTIVE: OffsetDateTime = datetime!(2026-12-02 10:00 UTC);
const PASSWORD: &str = "P@ssw0rd";
const ISSUER: &str = "00000004-0000-0ff1-ce00-000000000000@contoso.com";
const AUDIENCE: &str = "00000002-0000-0ff1-ce00-000000000000/mail.contoso.com@contoso.com";

fn rng() -> UnwrapErr<SysRng> {
    UnwrapErr(SysRng)
}

fn oauth() -> CertType {
    CertType::OAuthTokenIssuer
}

fn template() -> RequestTemplate {
    RequestTemplate::for_type(&oauth(), "pool01.contoso.com", "contoso.com").expect("preset")
}

fn ec_policy() -> Policy {
    Policy::oauth_token_issuer("contoso.com")
        .expect("policy")
        .with_key(KeyRule::default().accept_ec(256).expect("rule"))
}

/// A self-signed OAuthTokenIssuer certificate made at T0, valid `days`, with its key.
fn self_signed(key: PrivateKey, days: i64) -> Pfx {
    let options = SelfSignedOptions::default().validity(Duration::days(days)).expect("validity");
    template().self_signed(key, &ec_policy(), T0, options, &mut rng()).expect("self-signed")
}

/// The two RSA-2048 certificates of the roll, made once for every test: the current one, valid
/// 10 days (so the retained previous certificate expires within the test), and the next one.
fn rsa_pair() -> &'static (Pfx, Pfx) {
    static PAIR: OnceLock<(Pfx, Pfx)> = OnceLock::new();
    PAIR.get_or_init(|| {
        let make = |days| self_signed(PrivateKey::generate_rsa(2048, &mut rng()).expect("RSA key"), days);
        (make(10), make(730))
    })
}

fn leaf(pfx: &Pfx) -> &Certificate {
    pfx.leaf().expect("leaf")
}

/// A store for contoso.com whose OAuthTokenIssuer slot has `current` set at T0 and `next`
/// rolling in at [`EFFECTIVE`].
fn rolling_store(current: &Pfx, next: &Pfx, options: RollOptions) -> Store {
    let mut store = Store::for_sip_domain("contoso.com").expect("store");
    let a = store.add_pfx(current.clone()).expect("current");
    let b = store.add_pfx(next.clone()).expect("next");
    store.set(&[oauth()], &Scope::Global, &a, T0, options).expect("set");
    store.roll(&[oauth()], &Scope::Global, &b, EFFECTIVE, T0, options).expect("roll");
    store
}

fn kids(jwks: &Jwks) -> Vec<(String, KeyStatus)> {
    jwks.keys.iter().map(|k| (k.kid.clone(), k.status)).collect()
}

/// base64url without padding (RFC 4648 5), written here so the tests do not check certslot's
/// encoder with itself.
fn b64url(bytes: &[u8]) -> String {
    b64(bytes, b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", false)
}

/// Standard Base64 with padding (RFC 4648 4).
fn b64std(bytes: &[u8]) -> String {
    b64(bytes, b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", true)
}

fn b64(bytes: &[u8], alphabet: &[u8; 64], pad: bool) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, &b)| n | (u32::from(b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(alphabet[((n >> (18 - 6 * i)) & 0x3f) as usize]));
            } else if pad {
                out.push('=');
            }
        }
    }
    out
}

/// The octets of hex digits as OpenSSL prints them (`AB:CD:..` or `ABCD..`).
fn hex(text: &str) -> Vec<u8> {
    let digits: Vec<u8> = text.bytes().filter(u8::is_ascii_hexdigit).collect();
    digits
        .chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).expect("ASCII"), 16).expect("hex"))
        .collect()
}

/// The value after `=` on OpenSSL's one-line output (`SHA1 Fingerprint=..`, `Modulus=..`).
fn after_equals(line: &str) -> &str {
    line.trim().split_once('=').expect("name=value").1
}

// ----- PyJWT across a roll ----------------------------------------------------------------------

/// Signs tokens with PyJWT: each job names a PFX file, its password and the algorithm; `kid` and
/// `x5t` are computed here from the PFX's certificate, as a signer does: `kid` the `x5t` value
/// (as Microsoft Entra ID and AD FS sign), or with `"kid": "thumbprint"` the SHA-1 in uppercase
/// hex (as Duende IdentityServer signs with an `X509SecurityKey`, `x5t` still base64url). One
/// token a line.
const SIGN: &str = r#"
import base64, hashlib, json, sys
import jwt
from cryptography.hazmat.primitives.serialization import Encoding, pkcs12
out = []
for job in json.load(sys.stdin):
    key, cert, _ = pkcs12.load_key_and_certificates(open(job["pfx"], "rb").read(), job["password"].encode())
    sha1 = hashlib.sha1(cert.public_bytes(Encoding.DER)).digest()
    x5t = base64.urlsafe_b64encode(sha1).rstrip(b"=").decode()
    kid = sha1.hex().upper() if job.get("kid") == "thumbprint" else x5t
    claims = {"iss": job["iss"], "aud": job["aud"], "sub": job["sub"], "iat": job["iat"], "nbf": job["iat"],
              "exp": job["iat"] + job["lifetime"]}
    out.append(jwt.encode(claims, key, algorithm=job["alg"], headers={"kid": kid, "x5t": x5t}))
print("\n".join(out))
"#;

/// Verifies tokens with PyJWT against a JWKS, as of a given instant (PyJWT's clock is set to it,
/// so `exp` and `nbf` are checked at the test's instants). Mode `kid`: the key is the set's key
/// for the token's `kid` (`PyJWKSet[kid]`), whose `x5t` must also be the token's; prints `ok
/// <sub>` or the exception's class. Mode `each`: tries every key of the set, prints each
/// outcome. Every key of the set must be usable by PyJWT (it skips the others silently).
const VERIFY: &str = r#"
import datetime, json, sys
import jwt, jwt.api_jwt

class Clock(datetime.datetime):
    at = 0
    @classmethod
    def now(cls, tz=None):
        return datetime.datetime.fromtimestamp(cls.at, tz=datetime.timezone.utc)

jwt.api_jwt.datetime = Clock

def name(e):
    return type(e).__module__ + "." + type(e).__qualname__

def check(token, key, raw):
    try:
        claims = jwt.decode(token, key.key, algorithms=[raw["alg"]], audience=sys.argv[1], issuer=sys.argv[2])
        return "ok " + claims["sub"]
    except Exception as e:
        return name(e)

for case in json.load(sys.stdin):
    Clock.at = case["at"]
    raw = json.loads(case["jwks"])
    keys = jwt.PyJWKSet.from_json(case["jwks"])
    assert len(keys.keys) == len(raw["keys"]), "PyJWT skipped a key"
    header = jwt.get_unverified_header(case["token"])
    if case["mode"] == "kid":
        try:
            key = keys[header["kid"]]
        except Exception as e:
            print(name(e))
            continue
        entry = next(k for k in raw["keys"] if k["kid"] == header["kid"])
        assert entry["x5t"] == header["x5t"], "kid and x5t name different keys"
        print(check(case["token"], key, entry))
    else:
        print(" ".join(check(case["token"], key, entry) for key, entry in zip(keys.keys, raw["keys"])))
"#;

struct Signer<'a> {
    dir: &'a TempDir,
    jobs: Vec<Value>,
}

impl<'a> Signer<'a> {
    fn new(dir: &'a TempDir) -> Self {
        Self { dir, jobs: Vec::new() }
    }

    /// Queues a token signed with `pfx`'s key at `iat`, living 8 hours (Lync's token lifetime).
    fn sign(&mut self, pfx: &Pfx, alg: &str, sub: &str, iat: OffsetDateTime) {
        self.sign_with_kid(pfx, alg, sub, iat, "x5t");
    }

    /// As [`Signer::sign`], the token's `kid` header in the form `kid` (`x5t` or `thumbprint`).
    fn sign_with_kid(&mut self, pfx: &Pfx, alg: &str, sub: &str, iat: OffsetDateTime, kid: &str) {
        let bytes = Pfx::export(
            leaf(pfx),
            pfx.private_key().expect("key"),
            &[],
            &Password::new(PASSWORD),
            &ExportOptions::default(),
            &mut rng(),
        )
        .expect("export");
        let path = self.dir.write(&format!("{sub}.pfx"), &bytes);
        self.jobs.push(serde_json::json!({
            "pfx": path, "password": PASSWORD, "alg": alg, "sub": sub, "iss": ISSUER, "aud": AUDIENCE,
            "iat": iat.unix_timestamp(), "lifetime": Duration::hours(8).whole_seconds(), "kid": kid,
        }));
    }

    fn tokens(self) -> Vec<String> {
        let out = python(SIGN, &[], serde_json::to_string(&self.jobs).expect("JSON").as_bytes());
        out.lines().map(str::to_owned).collect()
    }
}

/// PyJWT's verdicts, one per `(jwks, token, at, mode)` case.
fn verify(cases: &[(&Jwks, &str, OffsetDateTime, &str)]) -> Vec<String> {
    let cases: Vec<Value> = cases
        .iter()
        .map(|(jwks, token, at, mode)| {
            serde_json::json!({ "jwks": jwks.to_json().unwrap(), "token": token, "at": at.unix_timestamp(), "mode": mode })
        })
        .collect();
    let input = serde_json::to_string(&cases).expect("JSON");
    python(VERIFY, &[AUDIENCE, ISSUER], input.as_bytes()).lines().map(str::to_owned).collect()
}

#[test]
fn pyjwt_verifies_tokens_across_a_roll_and_refuses_the_retired_key() {
    let dir = TempDir::new("pyjwt-roll");
    let (a, b) = rsa_pair();
    let (kid_a, kid_b) = (b64url(leaf(a).thumbprint().as_bytes()), b64url(leaf(b).thumbprint().as_bytes()));
    let mut store = rolling_store(a, b, RollOptions::default());
    let global = Scope::Global;

    // Before the publish-ahead window: the current key alone.
    let before = certslot::publish::Jwks::publish(&store, &oauth(), &global, T0 + Duration::days(1));
    assert_eq!(kids(&before), [(kid_a.clone(), KeyStatus::Signing)]);
    // Inside it (from EFFECTIVE - 24 h): the next key is announced.
    assert_eq!(
        certslot::publish::Jwks::publish(
            &store,
            &oauth(),
            &global,
            EFFECTIVE - Duration::hours(24) - Duration::SECOND
        )
        .keys
        .len(),
        1
    );
    let during_at = EFFECTIVE - Duration::hours(23);
    let during = certslot::publish::Jwks::publish(&store, &oauth(), &global, during_at);
    assert_eq!(kids(&during), [(kid_a.clone(), KeyStatus::Signing), (kid_b.clone(), KeyStatus::Announced)]);
    assert!(during.skipped.is_empty());

    // The roll happens.
    store.advance(EFFECTIVE).expect("advance");
    let after_at = EFFECTIVE + Duration::hours(1);
    let after = certslot::publish::Jwks::publish(&store, &oauth(), &global, after_at);
    assert_eq!(kids(&after), [(kid_b.clone(), KeyStatus::Signing), (kid_a.clone(), KeyStatus::Retained)]);

    // Lync keeps the previous certificate until it expires (10 days after T0): then it is gone.
    let a_expires = leaf(a).not_after();
    assert_eq!(a_expires, T0 + Duration::days(10));
    assert_eq!(certslot::publish::Jwks::publish(&store, &oauth(), &global, a_expires).keys.len(), 2);
    let retired_at = a_expires + Duration::SECOND;
    store.advance(retired_at).expect("advance");
    let retired = certslot::publish::Jwks::publish(&store, &oauth(), &global, retired_at);
    assert_eq!(kids(&retired), [(kid_b.clone(), KeyStatus::Signing)]);

    let mut signer = Signer::new(&dir);
    signer.sign(a, "RS256", "a-during", during_at); // the current key, the next one announced
    signer.sign(b, "RS256", "b-announced", during_at); // the next key, before it signs
    signer.sign(a, "RS256", "a-before-roll", EFFECTIVE - Duration::hours(1)); // lives past the roll
    signer.sign(b, "RS256", "b-after", after_at); // the new key
    signer.sign(a, "RS256", "a-retired", retired_at); // a signer still on the retired key
    let [a_during, b_announced, a_before_roll, b_after, a_retired] =
        <[String; 5]>::try_from(signer.tokens()).expect("five tokens");

    let verdicts = verify(&[
        (&before, &a_during, during_at, "kid"),
        (&during, &a_during, during_at, "kid"),
        (&during, &b_announced, during_at, "kid"),
        (&before, &b_announced, during_at, "kid"),
        (&after, &a_before_roll, after_at, "kid"),
        (&after, &b_after, after_at, "kid"),
        // The token signed before the roll, once its 8 hours are over.
        (&after, &a_before_roll, EFFECTIVE + Duration::hours(7) + Duration::SECOND, "kid"),
        (&retired, &b_after, after_at, "kid"),
        (&retired, &a_retired, retired_at, "kid"),
        (&retired, &a_retired, retired_at, "each"),
    ]);
    assert_eq!(
        verdicts,
        [
            "ok a-during",
            "ok a-during",
            "ok b-announced",
            // Not yet announced: PyJWKSet[kid] finds no key.
            "builtins.KeyError",
            "ok a-before-roll",
            "ok b-after",
            "jwt.exceptions.ExpiredSignatureError",
            "ok b-after",
            // Retired: no key for its kid, and the key that is left does not verify it.
            "builtins.KeyError",
            "jwt.exceptions.InvalidSignatureError",
        ]
    );
}

/// The `kid` and `x5t` headers of tokens, as PyJWT reads them: `kid x5t`, one token a line.
const HEADERS: &str = r#"
import sys
import jwt
for token in sys.stdin.read().split():
    header = jwt.get_unverified_header(token)
    print(header["kid"], header["x5t"])
"#;

#[test]
fn pyjwt_finds_keys_by_a_hex_thumbprint_kid_as_duende_identityserver_publishes_them() {
    let dir = TempDir::new("pyjwt-kid");
    let (a, b) = rsa_pair();
    let store = rolling_store(a, b, RollOptions::default());
    let at = EFFECTIVE - Duration::hours(1); // the current key and the announced next one
    let options = JwksOptions::default().key_id(KeyId::Thumbprint);
    assert_eq!(JwksOptions::default().key_id_value(), KeyId::X5t);
    let by_thumbprint = certslot::publish::Jwks::publish_with(&store, &oauth(), &Scope::Global, at, options);
    let by_x5t = certslot::publish::Jwks::publish(&store, &oauth(), &Scope::Global, at);

    // The kids: each certificate's SHA-1 in uppercase hex, as OpenSSL prints its fingerprint
    // (without the colons) and Windows its thumbprint.
    let fingerprint = |pfx: &Pfx| {
        let path = dir.write("cert.pem", leaf(pfx).to_pem().as_bytes());
        after_equals(&openssl(&["x509", "-in", &path, "-noout", "-fingerprint", "-sha1"])).replace(':', "")
    };
    let (hex_a, hex_b) = (fingerprint(a), fingerprint(b));
    assert_eq!((hex_a.len(), hex_a.to_uppercase() == hex_a), (40, true));
    assert_eq!(
        kids(&by_thumbprint),
        [(hex_a.clone(), KeyStatus::Signing), (hex_b.clone(), KeyStatus::Announced)]
    );
    assert_eq!(by_thumbprint.keys[0].kid, leaf(a).thumbprint().to_string());
    assert_eq!(by_thumbprint.key(&hex_b).map(|k| k.thumbprint), Some(leaf(b).thumbprint()));
    // Only the kid differs from the default set: x5t stays base64url.
    let (x5t_a, x5t_b) = (b64url(leaf(a).thumbprint().as_bytes()), b64url(leaf(b).thumbprint().as_bytes()));
    assert_eq!(kids(&by_x5t), [(x5t_a.clone(), KeyStatus::Signing), (x5t_b.clone(), KeyStatus::Announced)]);
    let mut renamed: Value = serde_json::from_str(&by_x5t.to_json().unwrap()).expect("JSON");
    for (key, kid) in renamed["keys"].as_array_mut().expect("keys").iter_mut().zip([&hex_a, &hex_b]) {
        assert_eq!(key["kid"], key["x5t"]);
        key["kid"] = Value::String(kid.clone());
    }
    assert_eq!(serde_json::from_str::<Value>(&by_thumbprint.to_json().unwrap()).expect("JSON"), renamed);

    let mut signer = Signer::new(&dir);
    signer.sign_with_kid(a, "RS256", "a-hex", at, "thumbprint");
    signer.sign_with_kid(b, "RS256", "b-hex", at, "thumbprint");
    signer.sign(a, "RS256", "a-x5t", at);
    let tokens = signer.tokens();
    let headers = python(HEADERS, &[], tokens.join("\n").as_bytes());
    assert_eq!(
        headers.lines().collect::<Vec<_>>(),
        [format!("{hex_a} {x5t_a}"), format!("{hex_b} {x5t_b}"), format!("{x5t_a} {x5t_a}")]
    );
    let verdicts = verify(&[
        (&by_thumbprint, &tokens[0], at, "kid"),
        (&by_thumbprint, &tokens[1], at, "kid"),
        (&by_x5t, &tokens[2], at, "kid"),
        // A set and a signer that disagree on the form: PyJWKSet[kid] finds no key.
        (&by_x5t, &tokens[0], at, "kid"),
        (&by_thumbprint, &tokens[2], at, "kid"),
    ]);
    assert_eq!(verdicts, ["ok a-hex", "ok b-hex", "ok a-x5t", "builtins.KeyError", "builtins.KeyError"]);
}

#[test]
fn pyjwt_verifies_es256_and_es384_keys() {
    let dir = TempDir::new("pyjwt-ec");
    let p256 = self_signed(PrivateKey::generate_ec(Curve::P256, &mut rng()).expect("P-256"), 730);
    let p384 = self_signed(PrivateKey::generate_ec(Curve::P384, &mut rng()).expect("P-384"), 730);
    // The type's default policy asks for RSA.
    let store = rolling_store(&p256, &p384, RollOptions::default().ignore_policy());
    let at = EFFECTIVE - Duration::hours(1);
    let jwks = certslot::publish::Jwks::publish(&store, &oauth(), &Scope::Global, at);
    assert_eq!(
        jwks.keys.iter().map(|k| (k.kty(), k.alg, k.status)).collect::<Vec<_>>(),
        [("EC", JwsAlgorithm::Es256, KeyStatus::Signing), ("EC", JwsAlgorithm::Es384, KeyStatus::Announced)]
    );
    let mut signer = Signer::new(&dir);
    signer.sign(&p256, "ES256", "p256", at);
    signer.sign(&p384, "ES384", "p384", at);
    let tokens = signer.tokens();
    assert_eq!(
        verify(&[
            (&jwks, &tokens[0], at, "kid"),
            (&jwks, &tokens[1], at, "kid"),
            (&jwks, &tokens[0], at, "each")
        ]),
        // The P-384 key is for ES384 only: PyJWT refuses an ES256 token with it.
        ["ok p256", "ok p384", "ok p256 jwt.exceptions.InvalidAlgorithmError"]
    );
}

#[test]
fn a_retention_shorter_than_the_certificate_drops_the_previous_key_when_it_ends() {
    let (a, b) = rsa_pair();
    let mut store = Store::for_sip_domain("contoso.com").expect("store");
    let config = store
        .type_config(&oauth())
        .into_owned()
        .rollover(RolloverPolicy::lync().retain_previous(Retention::For(Duration::hours(12))));
    store.configure_type(oauth(), config).expect("configured");
    let a_id = store.add_pfx(a.clone()).expect("current");
    let b_id = store.add_pfx(b.clone()).expect("next");
    store.set(&[oauth()], &Scope::Global, &a_id, T0, RollOptions::default()).expect("set");
    store.roll(&[oauth()], &Scope::Global, &b_id, EFFECTIVE, T0, RollOptions::default()).expect("roll");
    store.advance(EFFECTIVE).expect("advance");
    let statuses = |at| {
        certslot::publish::Jwks::publish(&store, &oauth(), &Scope::Global, at)
            .keys
            .iter()
            .map(|k| (k.thumbprint, k.status))
            .collect::<Vec<_>>()
    };
    let last = EFFECTIVE + Duration::hours(12) - Duration::SECOND;
    assert_eq!(statuses(last), [(b_id, KeyStatus::Signing), (a_id, KeyStatus::Retained)]);
    assert_eq!(statuses(EFFECTIVE + Duration::hours(12)), [(b_id, KeyStatus::Signing)]);
}

// ----- the members against OpenSSL and Python `cryptography` --------------------------------------

/// Python `cryptography`'s reading of a PEM certificate's key, as JWK members: `kty n e` or
/// `kty crv x y`, base64url of the integers (the coordinates at the curve's full size).
const KEY_MEMBERS: &str = r#"
import base64, sys
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
u = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
k = x509.load_pem_x509_certificate(sys.stdin.buffer.read()).public_key()
if isinstance(k, rsa.RSAPublicKey):
    n = k.public_numbers()
    print("RSA", u(n.n.to_bytes((n.n.bit_length() + 7) // 8, "big")), u(n.e.to_bytes((n.e.bit_length() + 7) // 8, "big")))
else:
    n, size = k.public_numbers(), (k.curve.key_size + 7) // 8
    print("EC", {"secp256r1": "P-256", "secp384r1": "P-384"}[k.curve.name], u(n.x.to_bytes(size, "big")), u(n.y.to_bytes(size, "big")))
"#;

fn members(jwk: &Jwk) -> String {
    match &jwk.params {
        JwkParams::Rsa { n, e } => format!("RSA {n} {e}"),
        JwkParams::Ec { curve, x, y } => format!("EC {curve} {x} {y}"),
        other => panic!("{other:?}"),
    }
}

fn published(certificate: &Certificate) -> PublishedKey<'_> {
    PublishedKey { certificate, status: KeyStatus::Signing, chain: Vec::new() }
}

#[test]
fn key_members_and_digests_match_openssl_and_python() {
    let dir = TempDir::new("jwk-members");
    let fixtures: [(&str, &[u8]); 5] = [
        ("rsa2048", include_bytes!("data/rsa2048.pem")),
        ("rsa3072", include_bytes!("data/rsa3072.pem")),
        ("rsa4096", include_bytes!("data/rsa4096.pem")),
        ("ec-p256", include_bytes!("data/ec-p256.pem")),
        ("ec-p384", include_bytes!("data/ec-p384.pem")),
    ];
    let (a, _) = rsa_pair();
    let made = leaf(a).to_pem();
    for (name, pem) in fixtures.into_iter().chain([("self-signed", made.as_bytes())]) {
        let cert = Certificate::from_pem(pem).expect(name);
        let jwk = Jwk::from_published(&published(&cert)).expect(name);
        let path = dir.write(&format!("{name}.pem"), pem);
        let sha1 =
            b64url(&hex(after_equals(&openssl(&["x509", "-in", &path, "-noout", "-fingerprint", "-sha1"]))));
        let sha256 = b64url(&hex(after_equals(&openssl(&[
            "x509",
            "-in",
            &path,
            "-noout",
            "-fingerprint",
            "-sha256",
        ]))));
        assert_eq!((&jwk.kid, &jwk.x5t, &jwk.x5t_s256), (&sha1, &sha1, &sha256), "{name}");
        assert_eq!((jwk.x5t.len(), jwk.x5t_s256.len()), (27, 43), "{name}: no padding");
        assert_eq!(jwk.x5c, [b64std(cert.der())], "{name}");
        assert_eq!(members(&jwk), python(KEY_MEMBERS, &[], pem), "{name}");
        match &jwk.params {
            JwkParams::Rsa { n, e } => {
                let modulus = hex(after_equals(&openssl(&["x509", "-in", &path, "-noout", "-modulus"])));
                let modulus: Vec<u8> = modulus.into_iter().skip_while(|&b| b == 0).collect();
                assert_eq!(n, &b64url(&modulus), "{name}");
                let text = openssl(&["x509", "-in", &path, "-noout", "-text"]);
                assert!(text.contains("Exponent: 65537 (0x10001)"), "{name}");
                assert_eq!((e.as_str(), jwk.alg), ("AQAB", JwsAlgorithm::Rs256), "{name}");
                assert_eq!(
                    n.len(),
                    (cert.public_key().expect("key").bits().expect("bits") as usize).div_ceil(6)
                );
            }
            JwkParams::Ec { curve, x, y } => {
                let pubkey = dir.write(
                    &format!("{name}.pub"),
                    openssl(&["x509", "-in", &path, "-noout", "-pubkey"]).as_bytes(),
                );
                let point = openssl_point(&pubkey);
                let size = point.len() / 2;
                assert_eq!((x, y), (&b64url(&point[..size]), &b64url(&point[size..])), "{name}");
                let expected =
                    if *curve == Curve::P256 { (32, JwsAlgorithm::Es256) } else { (48, JwsAlgorithm::Es384) };
                assert_eq!((size, jwk.alg), expected, "{name}");
            }
            other => panic!("{other:?}"),
        }
    }
}

/// The uncompressed point of a PEM public key, as `openssl ec -pubin -text` prints it, without
/// its leading 04.
fn openssl_point(pubkey: &str) -> Vec<u8> {
    let text = openssl(&["ec", "-pubin", "-in", pubkey, "-noout", "-text", "-conv_form", "uncompressed"]);
    let hex_lines: String = text
        .lines()
        .skip_while(|l| !l.starts_with("pub:"))
        .skip(1)
        .take_while(|l| l.starts_with(' '))
        .collect();
    let point = hex(&hex_lines);
    assert_eq!(point.first(), Some(&4), "{text}");
    point[1..].to_vec()
}

#[test]
fn a_compressed_point_is_published_uncompressed() {
    let dir = TempDir::new("jwk-compressed");
    let key = dir.path("key.pem");
    let compressed = dir.path("compressed.pem");
    let cert = dir.path("cert.pem");
    openssl(&["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", &key]);
    openssl(&["ec", "-in", &key, "-conv_form", "compressed", "-out", &compressed]);
    openssl(&[
        "req",
        "-x509",
        "-new",
        "-key",
        &compressed,
        "-subj",
        "/CN=sts.contoso.com",
        "-days",
        "1",
        "-out",
        &cert,
    ]);
    let pem = std::fs::read(&cert).expect("cert");
    let certificate = Certificate::from_pem(&pem).expect("parses");
    let spki_point = certificate.public_key().expect("key").subject_public_key();
    assert_eq!((spki_point.len(), spki_point[0] & 0xfe), (33, 2), "OpenSSL wrote a compressed point");
    let jwk = Jwk::from_published(&published(&certificate)).expect("published");
    let pubkey = dir.write("pub.pem", openssl(&["x509", "-in", &cert, "-noout", "-pubkey"]).as_bytes());
    let point = openssl_point(&pubkey);
    assert_eq!(
        jwk.params,
        JwkParams::Ec { curve: Curve::P256, x: b64url(&point[..32]), y: b64url(&point[32..]) }
    );
    assert_eq!(members(&jwk), python(KEY_MEMBERS, &[], &pem));
}

#[test]
fn keys_without_a_jws_algorithm_are_skipped_and_reported() {
    let cases: [(&str, &[u8], SkipReason); 4] = [
        (
            "rsa-pss",
            include_bytes!("data/rsa-pss.der"),
            SkipReason::Algorithm { algorithm: KeyAlgorithm::RsaPss },
        ),
        (
            "ed25519",
            include_bytes!("data/ed25519.der"),
            SkipReason::Algorithm { algorithm: KeyAlgorithm::Ed25519 },
        ),
        ("ec-p521", include_bytes!("data/ec-p521.der"), SkipReason::Curve { curve: Curve::P521 }),
        ("ec-explicit", include_bytes!("data/ec-explicit.der"), SkipReason::Curve { curve: Curve::Explicit }),
    ];
    for (name, der, reason) in cases {
        let cert = Certificate::from_der(der).expect(name);
        assert_eq!(Jwk::from_published(&published(&cert)), Err(reason.clone()), "{name}");
    }

    // In a store: the key is left out of the set and listed in `skipped`, with its status.
    let ed25519 = Certificate::from_der(include_bytes!("data/ed25519.der")).expect("fixture");
    let (mut store, cert_type) = keyless_store();
    let thumbprint = store.add_certificate(ed25519, None);
    let at = datetime!(2027-01-01 00:00 UTC);
    store
        .set(std::slice::from_ref(&cert_type), &Scope::Global, &thumbprint, at, RollOptions::default())
        .expect("set");
    let jwks = certslot::publish::Jwks::publish(&store, &cert_type, &Scope::Global, at);
    assert!(jwks.keys.is_empty());
    assert_eq!(jwks.to_json().unwrap(), r#"{"keys":[]}"#);
    assert_eq!(jwks.skipped.len(), 1);
    assert_eq!(
        (jwks.skipped[0].thumbprint, jwks.skipped[0].status, &jwks.skipped[0].reason),
        (thumbprint, KeyStatus::Signing, &SkipReason::Algorithm { algorithm: KeyAlgorithm::Ed25519 })
    );
    assert_eq!(jwks.skipped[0].reason.to_string(), "no JWS algorithm is published for ed25519 keys");
    let err = certslot::publish::AuthMetadata::publish(
        &store,
        &cert_type,
        &Scope::Global,
        at,
        &MetadataOptions::lync().realm("contoso.com"),
    );
    assert_eq!(
        err,
        Err(MetadataError::NoKeys { cert_type: cert_type.clone(), scope: Scope::Global, at, skipped: 1 })
    );
}

/// A store with a custom type that needs no private key and has no policy, for the fixtures.
fn keyless_store() -> (Store, CertType) {
    let mut store = Store::new();
    let cert_type = CertType::custom("TokenSigning").expect("name");
    let config = TypeConfig::for_type(&cert_type, None).policy(Policy::new()).require_private_key(false);
    store.configure_type(cert_type.clone(), config).expect("configured");
    (store, cert_type)
}

#[test]
fn x5c_holds_the_leaf_then_its_issuers_and_openssl_verifies_that_chain() {
    let dir = TempDir::new("jwk-x5c");
    let (mut store, cert_type) = keyless_store();
    let root = Certificate::from_der(include_bytes!("data/root-ca.der")).expect("root");
    let issuing = Certificate::from_der(include_bytes!("data/intermediate-ca.der")).expect("CA");
    let leaf = Certificate::from_der(include_bytes!("data/rsa2048.der")).expect("leaf");
    store.add_certificate(root.clone(), None);
    store.add_certificate(issuing.clone(), None);
    let thumbprint = store.add_certificate(leaf.clone(), None);
    let at = datetime!(2027-01-01 00:00 UTC);
    store
        .set(std::slice::from_ref(&cert_type), &Scope::Global, &thumbprint, at, RollOptions::default())
        .expect("set");
    let jwks = certslot::publish::Jwks::publish(&store, &cert_type, &Scope::Global, at);
    assert_eq!(jwks.keys.len(), 1);
    // The self-signed root is not sent: verifiers have it, or must not trust it from here.
    assert_eq!(jwks.keys[0].x5c, [b64std(leaf.der()), b64std(issuing.der())]);

    // Each entry is the DER in standard Base64: OpenSSL reads them back and verifies the path.
    let pem = |b64: &str| {
        let lines: Vec<&str> =
            b64.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).expect("ASCII")).collect();
        format!("-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n", lines.join("\n"))
    };
    let leaf_path = dir.write("leaf.pem", pem(&jwks.keys[0].x5c[0]).as_bytes());
    let issuing_path = dir.write("issuing.pem", pem(&jwks.keys[0].x5c[1]).as_bytes());
    let root_path = dir.write("root.pem", root.to_pem().as_bytes());
    let der = tools::run("openssl", &["x509", "-in", &leaf_path, "-outform", "DER"], b"");
    assert_eq!(der, leaf.der());
    let attime = at.unix_timestamp().to_string();
    assert_eq!(
        openssl(&[
            "verify",
            "-attime",
            &attime,
            "-CAfile",
            &root_path,
            "-untrusted",
            &issuing_path,
            &leaf_path
        ])
        .trim(),
        format!("{leaf_path}: OK")
    );
}

/// The certificates of `tests/data/chains/gen_chains.py`'s renewed issuing CA: a root, the CA
/// before its renewal (key 1) and after it (key 2, same subject), a leaf of each, and a leaf of
/// the renewed CA without an authority key identifier.
const RENEWAL: [(&str, &[u8]); 6] = [
    ("renewal-root", include_bytes!("data/chains/renewal-root.der")),
    ("renewal-ca-old", include_bytes!("data/chains/renewal-ca-old.der")),
    ("renewal-ca", include_bytes!("data/chains/renewal-ca.der")),
    ("renewal-leaf", include_bytes!("data/chains/renewal-leaf.der")),
    ("renewal-leaf-old", include_bytes!("data/chains/renewal-leaf-old.der")),
    ("renewal-leaf-no-aki", include_bytes!("data/chains/renewal-leaf-no-aki.der")),
];

fn renewal(name: &str) -> Certificate {
    let der = RENEWAL.iter().find(|(n, _)| *n == name).map(|(_, der)| *der).expect("fixture");
    Certificate::from_der(der).expect(name)
}

/// The SHA-1 `gen_chains.py` recorded for a fixture with `openssl x509 -fingerprint`.
fn recorded_sha1(name: &str) -> String {
    let expected: Value =
        serde_json::from_str(include_str!("data/chains/expected.json")).expect("expected.json");
    expected["certificates"][name]["sha1"].as_str().expect("sha1 recorded").to_owned()
}

/// Python `cryptography`'s reading of `x5c` arrays, one a line: the SHA-1 of each entry, then
/// for each entry after the first whether its key verifies the one before it
/// (`verify_directly_issued_by`: the issuer name and the signature), `ok` or the exception.
const X5C_CHAIN: &str = r#"
import base64, hashlib, json, sys
from cryptography import x509
for x5c in json.load(sys.stdin):
    ders = [base64.b64decode(c, validate=True) for c in x5c]
    certs = [x509.load_der_x509_certificate(d) for d in ders]
    out = [hashlib.sha1(d).hexdigest().upper() for d in ders]
    for below, issuer in zip(certs, certs[1:]):
        try:
            below.verify_directly_issued_by(issuer)
            out.append("ok")
        except Exception as e:
            out.append(type(e).__name__)
    print(" ".join(out))
"#;

/// The `x5c` of `leaf`'s JWK in a store that holds `issuers`, added in that order, then `leaf`.
fn x5c_with(leaf: &str, issuers: &[&str]) -> Vec<String> {
    let (mut store, cert_type) = keyless_store();
    for name in issuers {
        store.add_certificate(renewal(name), None);
    }
    let thumbprint = store.add_certificate(renewal(leaf), None);
    let at = datetime!(2027-01-01 00:00 UTC);
    store
        .set(std::slice::from_ref(&cert_type), &Scope::Global, &thumbprint, at, RollOptions::default())
        .expect("set");
    let jwks = certslot::publish::Jwks::publish(&store, &cert_type, &Scope::Global, at);
    assert_eq!(jwks.keys.len(), 1, "{leaf}");
    jwks.keys[0].x5c.clone()
}

#[test]
fn x5c_names_the_renewed_ca_that_issued_the_leaf_not_the_old_one_with_the_same_name() {
    let root = "renewal-root";
    let (old, new) = ("renewal-ca-old", "renewal-ca");
    assert_eq!(renewal(old).subject(), renewal(new).subject(), "one name, two keys");
    let sha1 = |name: &str| recorded_sha1(name);
    // (leaf, the CA that issued it), with the old CA added before and after the renewed one.
    let cases = [
        ("renewal-leaf", new, [root, old, new]),
        ("renewal-leaf", new, [root, new, old]),
        ("renewal-leaf-old", old, [root, old, new]),
        ("renewal-leaf-old", old, [root, new, old]),
        // No authority key identifier: the signature alone picks the renewed CA.
        ("renewal-leaf-no-aki", new, [root, old, new]),
        ("renewal-leaf-no-aki", new, [root, new, old]),
    ];
    let mut arrays = Vec::new();
    for (leaf, issuer, order) in cases {
        let x5c = x5c_with(leaf, &order);
        let named: Vec<&str> = x5c
            .iter()
            .map(|entry| RENEWAL.iter().find(|(_, der)| b64std(der) == *entry).map_or("?", |(n, _)| *n))
            .collect();
        // The root is self-signed: verifiers have it, it is not sent.
        assert_eq!(named, [leaf, issuer], "{order:?}");
        assert_eq!(x5c, [b64std(renewal(leaf).der()), b64std(renewal(issuer).der())], "{leaf} {order:?}");
        arrays.push(x5c);
    }
    // What the first certificate of the inventory with the leaf's issuer name gave before: the
    // old CA above the renewed CA's leaf.
    arrays.push(vec![b64std(renewal("renewal-leaf").der()), b64std(renewal(old).der())]);
    let input = serde_json::to_string(&arrays).expect("JSON");
    let lines: Vec<String> = python(X5C_CHAIN, &[], input.as_bytes()).lines().map(str::to_owned).collect();
    let line = |leaf: &str, issuer: &str, verdict: &str| format!("{} {} {verdict}", sha1(leaf), sha1(issuer));
    assert_eq!(
        lines,
        [
            line("renewal-leaf", new, "ok"),
            line("renewal-leaf", new, "ok"),
            line("renewal-leaf-old", old, "ok"),
            line("renewal-leaf-old", old, "ok"),
            line("renewal-leaf-no-aki", new, "ok"),
            line("renewal-leaf-no-aki", new, "ok"),
            line("renewal-leaf", old, "InvalidSignature"),
        ]
    );
}

// ----- the JSON --------------------------------------------------------------------------------

#[test]
fn the_jwks_json_has_the_registered_members_in_order_and_nothing_else() {
    let (a, b) = rsa_pair();
    let store = rolling_store(a, b, RollOptions::default());
    let jwks =
        certslot::publish::Jwks::publish(&store, &oauth(), &Scope::Global, EFFECTIVE - Duration::hours(1));
    assert_eq!(jwks.keys.len(), 2);
    let entries: Vec<String> = jwks
        .keys
        .iter()
        .zip([a, b])
        .map(|(jwk, pfx)| {
            let cert = leaf(pfx);
            let JwkParams::Rsa { n, e } = &jwk.params else { panic!("{jwk:?}") };
            let x5t = b64url(cert.thumbprint().as_bytes());
            format!(
                r#"{{"kty":"RSA","use":"sig","alg":"RS256","kid":"{x5t}","x5t":"{x5t}","x5t#S256":"{}","n":"{n}","e":"{e}","x5c":["{}"]}}"#,
                b64url(cert.sha256_fingerprint().as_bytes()),
                b64std(cert.der())
            )
        })
        .collect();
    // Compact, the members in this order, `status` and `thumbprint` not serialized.
    assert_eq!(jwks.to_json().unwrap(), format!(r#"{{"keys":[{}]}}"#, entries.join(",")));
}

#[test]
fn the_auth_metadata_document_is_exchanges_shape_with_the_jwks_keys() {
    let dir = TempDir::new("metadata");
    let (a, b) = rsa_pair();
    let mut store = rolling_store(a, b, RollOptions::default());
    store.advance(EFFECTIVE).expect("advance");
    let at = EFFECTIVE + Duration::hours(1);
    let options = MetadataOptions::lync()
        .endpoint(MetadataEndpoint::metadata("https://pool01.contoso.com/metadata/json/1"));
    let document = certslot::publish::AuthMetadata::publish(&store, &oauth(), &Scope::Global, at, &options)
        .expect("document");
    let jwks = certslot::publish::Jwks::publish(&store, &oauth(), &Scope::Global, at);

    // The id: `_` and the UUID v5 of serviceName@realm in the URL namespace, as Python computes it.
    let id = python(
        "import sys, uuid; print('_' + str(uuid.uuid5(uuid.NAMESPACE_URL, sys.argv[1])))",
        &[ISSUER],
        b"",
    );
    assert_eq!(document.id, id);
    let (x5t_b, x5t_a) = (b64url(leaf(b).thumbprint().as_bytes()), b64url(leaf(a).thumbprint().as_bytes()));
    let expected = format!(
        concat!(
            r#"{{"id":"{id}","version":"1.0","name":"Lync","realm":"contoso.com","#,
            r#""serviceName":"00000004-0000-0ff1-ce00-000000000000","issuer":"{issuer}","#,
            r#""allowedAudiences":["{issuer}"],"keys":["#,
            r#"{{"usage":"signing","keyinfo":{{"x5t":"{x5t_b}"}},"keyvalue":{{"type":"x509Certificate","value":"{value_b}"}}}},"#,
            r#"{{"usage":"signing","keyinfo":{{"x5t":"{x5t_a}"}},"keyvalue":{{"type":"x509Certificate","value":"{value_a}"}}}}],"#,
            r#""endpoints":[{{"location":"https://pool01.contoso.com/metadata/json/1","protocol":"OAuth2","usage":"metadata"}}]}}"#
        ),
        id = id,
        issuer = ISSUER,
        x5t_b = x5t_b,
        x5t_a = x5t_a,
        value_b = b64std(leaf(b).der()),
        value_a = b64std(leaf(a).der()),
    );
    assert_eq!(document.to_json().unwrap(), expected);
    assert_eq!(
        document.keys.iter().map(|k| (k.thumbprint, k.status)).collect::<Vec<_>>(),
        [(leaf(b).thumbprint(), KeyStatus::Signing), (leaf(a).thumbprint(), KeyStatus::Retained)]
    );

    // Parsed back: the keys' x5t are the JWKS kids, in the same order; each value decodes (with
    // OpenSSL) to its certificate's DER.
    let value: Value = serde_json::from_str(&document.to_json().unwrap()).expect("JSON");
    let x5ts: Vec<&str> = value["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| k["keyinfo"]["x5t"].as_str().expect("x5t"))
        .collect();
    assert_eq!(x5ts, jwks.keys.iter().map(|k| k.kid.as_str()).collect::<Vec<_>>());
    for (key, pfx) in value["keys"].as_array().expect("keys").iter().zip([b, a]) {
        let base64 = key["keyvalue"]["value"].as_str().expect("value");
        let file = dir.write("value.b64", base64.as_bytes());
        let der = tools::run("openssl", &["base64", "-d", "-A", "-in", &file], b"");
        assert_eq!(der, leaf(pfx).der());
    }

    // Exchange's preset, an explicit realm, issuer, id and audiences.
    let options = MetadataOptions::exchange()
        .realm("*")
        .id("_70b34511-d105-4e2b-9675-39f53305bb01")
        .audience("00000002-0000-0ff1-ce00-000000000000@*")
        .audience("00000002-0000-0ff1-ce00-000000000000@contoso.com");
    let document = certslot::publish::AuthMetadata::publish(&store, &oauth(), &Scope::Global, at, &options)
        .expect("document");
    assert_eq!(
        (document.id.as_str(), document.name.as_str(), document.realm.as_str(), document.issuer.as_str()),
        ("_70b34511-d105-4e2b-9675-39f53305bb01", "Exchange", "*", "00000002-0000-0ff1-ce00-000000000000@*")
    );
    assert_eq!(
        document.allowed_audiences,
        ["00000002-0000-0ff1-ce00-000000000000@*", "00000002-0000-0ff1-ce00-000000000000@contoso.com"]
    );
    assert!(document.endpoints.is_empty());
    assert!(document.to_json().unwrap().ends_with(r#""endpoints":[]}"#));
}

/// A store whose documents are the same on every run: the fixtures `rsa2048` (set on
/// 2027-01-01) and `rsa3072` (rolling in on 2027-01-03), both issued by `intermediate-ca`, which
/// the store holds too; the instant is inside `rsa3072`'s publish-ahead window (24 hours).
fn fixed_store() -> (Store, CertType, OffsetDateTime) {
    let (mut store, cert_type) = keyless_store();
    let types = std::slice::from_ref(&cert_type);
    store.add_certificate(
        Certificate::from_der(include_bytes!("data/intermediate-ca.der")).expect("CA"),
        None,
    );
    let a =
        store.add_certificate(Certificate::from_der(include_bytes!("data/rsa2048.der")).expect("a"), None);
    let b =
        store.add_certificate(Certificate::from_der(include_bytes!("data/rsa3072.der")).expect("b"), None);
    let set_at = datetime!(2027-01-01 00:00 UTC);
    store.set(types, &Scope::Global, &a, set_at, RollOptions::default()).expect("set");
    let effective = datetime!(2027-01-03 00:00 UTC);
    store.roll(types, &Scope::Global, &b, effective, set_at, RollOptions::default()).expect("roll");
    (store, cert_type, datetime!(2027-01-02 12:00 UTC))
}

/// Python's reading of a metadata document as SharePoint add-ins' `TokenHelper.cs` reads it
/// (`AcsMetadataParser`): the certificate of the first key's `keyValue.value` (its SHA-1) and
/// the `location` of the endpoint whose `protocol` is `OAuth2`.
const TOKEN_HELPER: &str = r#"
import base64, hashlib, json, sys
from cryptography import x509
doc = json.load(sys.stdin)
der = base64.b64decode(doc["keys"][0]["keyValue"]["value"], validate=True)
x509.load_der_x509_certificate(der)
print(hashlib.sha1(der).hexdigest().upper(), next(e["location"] for e in doc["endpoints"] if e["protocol"] == "OAuth2"))
"#;

#[test]
fn the_metadata_document_in_exchanges_and_sharepoints_forms_for_a_fixed_store() {
    let (store, cert_type, at) = fixed_store();
    let exchange_options = MetadataOptions::exchange()
        .realm("contoso.com")
        .endpoint(MetadataEndpoint::metadata("https://mail.contoso.com/autodiscover/metadata/json/1"));
    assert_eq!(exchange_options.form_value(), MetadataForm::Exchange);
    let sharepoint_options = exchange_options.clone().form(MetadataForm::SharePoint);
    let exchange =
        certslot::publish::AuthMetadata::publish(&store, &cert_type, &Scope::Global, at, &exchange_options)
            .expect("Exchange's");
    let sharepoint =
        certslot::publish::AuthMetadata::publish(&store, &cert_type, &Scope::Global, at, &sharepoint_options)
            .expect("SharePoint's");
    let (a, b) = (b64std(include_bytes!("data/rsa2048.der")), b64std(include_bytes!("data/rsa3072.der")));

    assert_eq!(
        exchange.to_json().unwrap(),
        format!(
            concat!(
                r#"{{"id":"_d1a1d215-7125-5e89-a13c-2010a9f38b5c","version":"1.0","name":"Exchange","realm":"contoso.com","#,
                r#""serviceName":"00000002-0000-0ff1-ce00-000000000000","#,
                r#""issuer":"00000002-0000-0ff1-ce00-000000000000@contoso.com","#,
                r#""allowedAudiences":["00000002-0000-0ff1-ce00-000000000000@contoso.com"],"keys":["#,
                r#"{{"usage":"signing","keyinfo":{{"x5t":"XEeev8Ewqie0Nh63LGusSAusLp4"}},"keyvalue":{{"type":"x509Certificate","value":"{a}"}}}},"#,
                r#"{{"usage":"signing","keyinfo":{{"x5t":"reGPvrtN66DuX_6xogDo6KvNaC8"}},"keyvalue":{{"type":"x509Certificate","value":"{b}"}}}}],"#,
                r#""endpoints":[{{"location":"https://mail.contoso.com/autodiscover/metadata/json/1","protocol":"OAuth2","usage":"metadata"}}]}}"#
            ),
            a = a,
            b = b
        )
    );
    assert_eq!(
        sharepoint.to_json().unwrap(),
        format!(
            concat!(
                r#"{{"id":"_d1a1d215-7125-5e89-a13c-2010a9f38b5c","version":"1.0","name":"Exchange","realm":"contoso.com","#,
                r#""serviceName":"00000002-0000-0ff1-ce00-000000000000","#,
                r#""issuer":"00000002-0000-0ff1-ce00-000000000000@contoso.com","#,
                r#""allowedAudiences":["00000002-0000-0ff1-ce00-000000000000@contoso.com"],"keys":["#,
                r#"{{"usage":"Signing","keyValue":{{"type":"x509Certificate","value":"{a}"}}}},"#,
                r#"{{"usage":"Signing","keyValue":{{"type":"x509Certificate","value":"{b}"}}}}],"#,
                r#""endpoints":[{{"location":"https://mail.contoso.com/autodiscover/metadata/json/1","protocol":"OAuth2","usage":"metadata"}}]}}"#
            ),
            a = a,
            b = b
        )
    );
    // The same keys, in the same order, with what the caller needs beside them.
    let facts = |d: &certslot::publish::AuthMetadata| {
        d.keys.iter().map(|k| (k.x5t.clone(), k.thumbprint.to_string(), k.status, k.form)).collect::<Vec<_>>()
    };
    let fixture = |x5t: &str, sha1: &str, status, form| (x5t.to_owned(), sha1.to_owned(), status, form);
    assert_eq!(
        facts(&exchange),
        [
            fixture(
                "XEeev8Ewqie0Nh63LGusSAusLp4",
                "5C479EBFC130AA27B4361EB72C6BAC480BAC2E9E",
                KeyStatus::Signing,
                MetadataForm::Exchange
            ),
            fixture(
                "reGPvrtN66DuX_6xogDo6KvNaC8",
                "ADE18FBEBB4DEBA0EE5FFEB1A200E8E8ABCD682F",
                KeyStatus::Announced,
                MetadataForm::Exchange
            ),
        ]
    );
    assert_eq!(
        facts(&sharepoint),
        [
            fixture(
                "XEeev8Ewqie0Nh63LGusSAusLp4",
                "5C479EBFC130AA27B4361EB72C6BAC480BAC2E9E",
                KeyStatus::Signing,
                MetadataForm::SharePoint
            ),
            fixture(
                "reGPvrtN66DuX_6xogDo6KvNaC8",
                "ADE18FBEBB4DEBA0EE5FFEB1A200E8E8ABCD682F",
                KeyStatus::Announced,
                MetadataForm::SharePoint
            ),
        ]
    );
    assert_eq!(sharepoint.key("reGPvrtN66DuX_6xogDo6KvNaC8").map(|k| k.status), Some(KeyStatus::Announced));
    // The x5ts are the SHA-1s `gen_certs.py` recorded with OpenSSL.
    let recorded: Value = serde_json::from_str(include_str!("data/expected.json")).expect("expected.json");
    assert_eq!(
        [&recorded["rsa2048"]["sha1"], &recorded["rsa3072"]["sha1"]],
        ["5C479EBFC130AA27B4361EB72C6BAC480BAC2E9E", "ADE18FBEBB4DEBA0EE5FFEB1A200E8E8ABCD682F"]
    );
    // Read as TokenHelper.cs reads SharePoint's and ACS's documents.
    assert_eq!(
        python(TOKEN_HELPER, &[], sharepoint.to_json().unwrap().as_bytes()),
        "5C479EBFC130AA27B4361EB72C6BAC480BAC2E9E https://mail.contoso.com/autodiscover/metadata/json/1"
    );
}

#[test]
fn bad_metadata_options_are_typed_errors() {
    let (a, b) = rsa_pair();
    let store = rolling_store(a, b, RollOptions::default());
    let metadata = |store: &Store, options: MetadataOptions| {
        certslot::publish::AuthMetadata::publish(store, &oauth(), &Scope::Global, T0, &options)
            .map(|d| d.realm)
    };
    assert_eq!(metadata(&store, MetadataOptions::default()), Ok("contoso.com".to_owned()));
    assert_eq!(
        metadata(&store, MetadataOptions::lync().realm("")),
        Err(MetadataError::Empty { member: "realm" })
    );
    assert_eq!(
        metadata(&store, MetadataOptions::lync().realm("contoso com")),
        Err(MetadataError::InvalidCharacter {
            member: "realm",
            value: "contoso com".to_owned(),
            character: ' '
        })
    );
    assert_eq!(
        metadata(&store, MetadataOptions::lync().service_name("lync@contoso.com")),
        Err(MetadataError::InvalidCharacter {
            member: "serviceName",
            value: "lync@contoso.com".to_owned(),
            character: '@'
        })
    );
    assert_eq!(
        metadata(&store, MetadataOptions::lync().name("Lync\u{7}")),
        Err(MetadataError::InvalidCharacter {
            member: "name",
            value: "Lync\u{7}".to_owned(),
            character: '\u{7}'
        })
    );
    assert_eq!(
        metadata(&store, MetadataOptions::lync().name("Microsoft Lync Server")),
        Ok("contoso.com".to_owned()),
        "spaces are fine in a name"
    );
    assert_eq!(
        metadata(&store, MetadataOptions::lync().endpoint(MetadataEndpoint::metadata(""))),
        Err(MetadataError::Empty { member: "location" })
    );
    assert_eq!(
        metadata(&store, MetadataOptions::lync().audience("")),
        Err(MetadataError::Empty { member: "allowedAudiences" })
    );
    // No realm anywhere: a store made without a SIP domain.
    let (keyless, cert_type) = keyless_store();
    assert_eq!(
        certslot::publish::AuthMetadata::publish(
            &keyless,
            &cert_type,
            &Scope::Global,
            T0,
            &MetadataOptions::default()
        ),
        Err(MetadataError::NoRealm)
    );
    // Nothing published: no slot for the type.
    assert_eq!(
        certslot::publish::AuthMetadata::publish(
            &store,
            &CertType::WebServicesInternal,
            &Scope::Global,
            T0,
            &MetadataOptions::default()
        ),
        Err(MetadataError::NoKeys {
            cert_type: CertType::WebServicesInternal,
            scope: Scope::Global,
            at: T0,
            skipped: 0
        })
    );
    assert_eq!(
        certslot::publish::Jwks::publish(&store, &CertType::WebServicesInternal, &Scope::Global, T0),
        Jwks::default()
    );
}
