//! Layer 2, PFX (PKCS #12) import and export: a private key with its certificate and chain, from
//! and to password-protected bytes.
//!
//! Uses `x509` below it (certificates, thumbprints, DER walking); nothing above. Its errors
//! ([`PfxError`], [`ExportError`]) live here. The files follow the data: `decode` reads the PFX,
//! authenticated safe and bags (BER rewritten to DER by `x509::ber`), `mac` checks the integrity
//! MAC, `decrypt` the encrypted parts, over `kdf`, `digest` and `fast` (the key derivations), `key`
//! reads and pairs the private key, `encode` and `export` write a PFX.
//!
//! [`Pfx::import`] reads what Windows (CryptoAPI, .NET), OpenSSL 1.x and 3, Java keytool, NSS and
//! Python `cryptography` write: HMAC MACs over SHA-1, SHA-2, SHA-3 and BLAKE2 (every hash of
//! `openssl pkcs12 -export -macalg`) and PBMAC1, or none; PKCS #12 PBE
//! (3DES, 2-key 3DES, RC2-128, RC2-40, RC4-128, RC4-40) and PBES2 (PBKDF2 with AES or 3DES);
//! BER anywhere; certificates, keys and shrouded keys, with friendly names and local key IDs.
//! The MAC and every encrypted part derive their keys independently, so the import runs those
//! derivations on two threads ([`ImportOptions::threads`]).
//!
//! Private keys on their own, for obtaining certificates: `keygen` generates RSA and EC keys,
//! `pkcs8` writes them as PKCS #8 (plain or encrypted, through `epki`, the
//! `EncryptedPrivateKeyInfo` that PFX export shares) and reads encrypted PKCS #8, `key_pem` reads
//! the PEM forms (PKCS #8, PKCS #1, SEC1), `sign` turns a key into a signer for the certificate
//! and request builder. Their errors are [`KeyError`].

mod decode;
mod decrypt;
mod digest;
mod encode;
mod epki;
mod error;
mod export;
mod fast;
mod kdf;
mod key;
mod key_pem;
mod keygen;
mod mac;
mod pkcs8;
mod sign;

use core::fmt;

use const_oid::ObjectIdentifier;
use zeroize::Zeroizing;

pub use self::decrypt::{EncryptionAlgorithm, Pbes1Cipher, Pbes2Cipher};
pub use self::error::{ExportError, KeyError, PasswordCheck, PfxError};
pub use self::export::{ExportOptions, ExportProfile};
pub use self::kdf::Password;
pub use self::key::PrivateKey;
pub use self::mac::MacAlgorithm;
pub use self::pkcs8::Pkcs8Options;
pub(crate) use self::sign::SignatureBytes;

use self::decode::{Attributes, Bag, Part};
use self::decrypt::Encryption;
use crate::x509::cert::Certificate;
use crate::x509::thumbprint::Thumbprint;

/// Limits and requirements of an import.
///
/// ```
/// use certslot::ImportOptions;
///
/// let inspect = ImportOptions::default().require_key(false).require_certificate(false);
/// assert_eq!(inspect.max_iterations_limit(), 1_000_000);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ImportOptions {
    max_iterations: u32,
    max_total_iterations: u64,
    require_key: bool,
    require_certificate: bool,
    threads: usize,
}

impl Default for ImportOptions {
    fn default() -> Self {
        Self {
            max_iterations: Self::DEFAULT_MAX_ITERATIONS,
            max_total_iterations: Self::DEFAULT_MAX_TOTAL_ITERATIONS,
            require_key: true,
            require_certificate: true,
            threads: 2,
        }
    }
}

impl ImportOptions {
    /// The default limit of one key derivation: 1,000,000 iterations, above what real files use
    /// (Windows 2,000, OpenSSL 2,048, Java 10,000, NIST's recommended 600,000).
    pub const DEFAULT_MAX_ITERATIONS: u32 = 1_000_000;
    /// The default limit of all key derivations of a file together: 10,000,000 iterations (each
    /// output block of a PKCS #12 KDF counted), about two seconds on one core.
    pub const DEFAULT_MAX_TOTAL_ITERATIONS: u64 = 10_000_000;

    /// Sets the most iterations one key derivation may ask for (at most `i32::MAX`).
    pub fn max_iterations(self, max: u32) -> Self {
        Self { max_iterations: max.min(i32::MAX as u32), ..self }
    }

    /// Sets the most iterations all key derivations of a file may ask for together.
    pub fn max_total_iterations(self, max: u64) -> Self {
        Self { max_total_iterations: max, ..self }
    }

    /// Whether a file without a private key is an error (default true).
    pub fn require_key(self, require: bool) -> Self {
        Self { require_key: require, ..self }
    }

    /// Whether a file without a certificate is an error (default true).
    pub fn require_certificate(self, require: bool) -> Self {
        Self { require_certificate: require, ..self }
    }

    /// How many threads run the key derivations (default 2; 1 runs everything on the caller's
    /// thread). More than the number of derivations a file needs is never used.
    pub fn threads(self, threads: usize) -> Self {
        Self { threads: threads.clamp(1, 16), ..self }
    }

    /// The limit of one key derivation.
    pub fn max_iterations_limit(&self) -> u32 {
        self.max_iterations
    }
}

/// How a PFX was protected: what an admin checks ("3DES, SHA-1 MAC").
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Protection {
    /// The integrity MAC, `None` when the file has none.
    pub mac: Option<MacAlgorithm>,
    /// How each SafeContents holding certificates was encrypted, in file order, without repeats.
    pub certificates: Vec<EncryptionAlgorithm>,
    /// How the private key was encrypted, `None` when there is no key.
    pub key: Option<EncryptionAlgorithm>,
}

impl fmt::Display for Protection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.key {
            Some(key) => write!(f, "key: {key}; ")?,
            None => f.write_str("no key; ")?,
        }
        if self.certificates.is_empty() {
            f.write_str("no certificates; ")?;
        } else {
            let list: Vec<String> = self.certificates.iter().map(ToString::to_string).collect();
            write!(f, "certificates: {}; ", list.join(", "))?;
        }
        match &self.mac {
            Some(mac) => write!(f, "integrity: {mac}"),
            None => f.write_str("integrity: no MAC"),
        }
    }
}

/// Bags the import did not use, counted by type and reason.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SkippedBag {
    /// The bag type (or certificate type) OID.
    pub bag_type: ObjectIdentifier,
    /// Why they were skipped.
    pub reason: &'static str,
    /// How many.
    pub count: usize,
}

/// Adds skipped bags to the tally, one entry per type and reason.
fn note_skipped(
    skipped: &mut Vec<SkippedBag>,
    bag_type: ObjectIdentifier,
    reason: &'static str,
    count: usize,
) {
    match skipped.iter_mut().find(|s| s.bag_type == bag_type && s.reason == reason) {
        Some(entry) => entry.count += count,
        None => skipped.push(SkippedBag { bag_type, reason, count }),
    }
}

/// The contents of an imported PFX.
#[derive(Clone, Debug)]
pub struct Pfx {
    leaf: Option<Certificate>,
    key: Option<PrivateKey>,
    certificates: Vec<(Certificate, Option<String>)>,
    key_friendly_name: Option<String>,
    protection: Protection,
    skipped: Vec<SkippedBag>,
}

impl Pfx {
    /// Imports a PFX from its bytes.
    ///
    /// The private key is paired with its certificate by `localKeyId`, else by public key, and
    /// must match it (RSA modulus and exponent, EC point). An empty password is tried in both of
    /// its encodings.
    ///
    /// ```
    /// use certslot::{ImportOptions, Password, Pfx};
    ///
    /// let bytes = include_bytes!("../../tests/data/pfx/openssl3-default.pfx");
    /// let pfx = Pfx::import(bytes, &Password::new("P@ssw0rd"), ImportOptions::default())?;
    /// assert!(pfx.private_key().is_some());
    /// assert_eq!(pfx.protection().to_string(), "key: AES-256-CBC, PBKDF2-HMAC-SHA-256, 2048 iterations; \
    ///     certificates: AES-256-CBC, PBKDF2-HMAC-SHA-256, 2048 iterations; integrity: SHA-256 MAC, 2048 iterations");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`PfxError`]: a wrong password, a corrupt file, an unsupported algorithm, an iteration count
    /// above the limits, a missing certificate or key (when required), a key that matches no
    /// certificate. No error carries the password or key material.
    pub fn import(bytes: &[u8], password: &Password, options: ImportOptions) -> Result<Self, PfxError> {
        Importer { password, options, forms: password.bmp_forms(), form: None, work: 0 }.run(bytes)
    }

    /// A PFX made in memory from a certificate, its private key and its chain (what
    /// [`RequestTemplate`](crate::RequestTemplate)'s self-signed certificates and completed
    /// requests give), ready for [`Store::add_pfx`](crate::Store::add_pfx) and [`Pfx::export`].
    /// Its [`Pfx::protection`] is empty: it was read from no file.
    ///
    /// # Errors
    /// [`ExportError::KeyMismatch`] when the key is not the certificate's.
    pub fn from_parts(
        leaf: Certificate,
        key: PrivateKey,
        chain: Vec<Certificate>,
        friendly_name: Option<&str>,
    ) -> Result<Self, ExportError> {
        if key.matches(&leaf) != Some(true) {
            return Err(ExportError::KeyMismatch { thumbprint: leaf.thumbprint() });
        }
        let name = friendly_name.map(str::to_owned);
        let mut certificates = vec![(leaf.clone(), name.clone())];
        certificates.extend(chain.into_iter().filter(|c| *c != leaf).map(|c| (c, None)));
        Ok(Self {
            leaf: Some(leaf),
            key: Some(key),
            certificates,
            key_friendly_name: name,
            protection: Protection { mac: None, certificates: Vec::new(), key: None },
            skipped: Vec::new(),
        })
    }

    /// The certificate that matches the private key; `None` when the file has no key or no
    /// certificate.
    pub fn leaf(&self) -> Option<&Certificate> {
        self.leaf.as_ref()
    }

    /// The private key, if the file has one.
    pub fn private_key(&self) -> Option<&PrivateKey> {
        self.key.as_ref()
    }

    /// Every certificate except the leaf, in file order.
    pub fn chain(&self) -> Vec<&Certificate> {
        self.certificates.iter().map(|(c, _)| c).filter(|c| Some(*c) != self.leaf.as_ref()).collect()
    }

    /// Every certificate, in file order.
    pub fn certificates(&self) -> impl Iterator<Item = &Certificate> {
        self.certificates.iter().map(|(c, _)| c)
    }

    /// The friendly name of a certificate of this file (Windows' "Friendly Name").
    pub fn friendly_name(&self, cert: &Certificate) -> Option<&str> {
        self.certificates.iter().find(|(c, _)| c == cert).and_then(|(_, n)| n.as_deref())
    }

    /// The friendly name of the private key's bag.
    pub fn key_friendly_name(&self) -> Option<&str> {
        self.key_friendly_name.as_deref()
    }

    /// How the file was protected.
    pub fn protection(&self) -> &Protection {
        &self.protection
    }

    /// Bags that were not used (CRLs, secrets, unknown types), counted by type and reason, in
    /// the order first met.
    pub fn skipped(&self) -> &[SkippedBag] {
        &self.skipped
    }

    /// Consumes the import, returning the leaf, the key and the chain.
    pub fn into_parts(self) -> (Option<Certificate>, Option<PrivateKey>, Vec<Certificate>) {
        let leaf = self.leaf;
        let chain =
            self.certificates.into_iter().map(|(c, _)| c).filter(|c| Some(c) != leaf.as_ref()).collect();
        (leaf, self.key, chain)
    }
}

/// A decryption's result: `None` when the password (form) did not fit.
type Plaintext = Option<Zeroizing<Vec<u8>>>;

/// A decryption to run.
struct Job {
    encryption: Encryption,
    ciphertext: Vec<u8>,
}

/// A part of the AuthenticatedSafe: read already, or waiting for job `usize`.
enum Slot {
    Plain(Vec<Bag>),
    Encrypted(usize, EncryptionAlgorithm),
}

struct Importer<'p> {
    password: &'p Password,
    options: ImportOptions,
    forms: Vec<Zeroizing<Vec<u8>>>,
    /// The index of the BMP password form known to be right (from the MAC or a decryption).
    form: Option<usize>,
    work: u64,
}

impl Importer<'_> {
    fn charge(&mut self, work: u64) -> Result<(), PfxError> {
        self.work = self.work.saturating_add(work);
        if self.work > self.options.max_total_iterations {
            return Err(PfxError::TooMuchWork {
                iterations: self.work,
                max: self.options.max_total_iterations,
            });
        }
        Ok(())
    }

    fn run(mut self, bytes: &[u8]) -> Result<Pfx, PfxError> {
        let max = self.options.max_iterations;
        let outer = decode::outer(bytes, max)?;
        let parts = decode::parts(&outer.auth_safe, max)?;
        let mac_work =
            outer.mac.as_ref().map_or(0, |m| u64::from(m.algorithm.iterations()) * self.forms.len() as u64);
        self.charge(mac_work)?;

        // Plain parts are read now; encrypted parts and shrouded keys become decryption jobs.
        let mut slots = Vec::with_capacity(parts.len());
        let mut jobs = Vec::new();
        for part in parts {
            match part {
                Part::Plain(bytes) => {
                    let mut bags = Vec::new();
                    decode::safe_contents(&bytes, max, &mut bags)?;
                    slots.push(Slot::Plain(bags));
                }
                Part::Encrypted { encryption, ciphertext } => {
                    self.charge(encryption.work())?;
                    slots.push(Slot::Encrypted(jobs.len(), encryption.algorithm));
                    jobs.push(Job { encryption, ciphertext });
                }
            }
        }
        let encrypted_parts = jobs.len();
        for slot in &slots {
            if let Slot::Plain(bags) = slot {
                for bag in bags {
                    if let Bag::Shrouded(shrouded) = bag {
                        self.charge(shrouded.encryption.work())?;
                        jobs.push(Job {
                            encryption: shrouded.encryption.clone(),
                            ciphertext: shrouded.ciphertext.clone(),
                        });
                    }
                }
            }
        }

        // Wave 1: the MAC and every decryption known so far, in parallel. Decryptions try the
        // first password form; the MAC tells which form is right.
        let (mac_result, mut plaintexts) = self.run_wave(outer.mac.as_ref(), &outer.auth_safe, &jobs);
        let mac_verified = match (outer.mac.as_ref(), mac_result) {
            (None, _) => false,
            (Some(_), Some(form)) => {
                self.form = Some(form);
                true
            }
            (Some(_), None) => return Err(PfxError::WrongPassword { check: PasswordCheck::Mac }),
        };
        self.retry_with_right_form(&jobs, &mut plaintexts)?;
        let not_readable = |what: PfxError| {
            if mac_verified { what } else { PfxError::WrongPassword { check: PasswordCheck::Decryption } }
        };
        let mut shrouded_plain = plaintexts.split_off(encrypted_parts.min(plaintexts.len())).into_iter();

        // Every part's bags, in file order.
        let mut part_bags: Vec<(EncryptionAlgorithm, Vec<Bag>, bool)> = Vec::with_capacity(slots.len());
        for slot in slots {
            match slot {
                Slot::Plain(bags) => part_bags.push((EncryptionAlgorithm::None, bags, true)),
                Slot::Encrypted(index, algorithm) => {
                    let Some(plaintext) = plaintexts.get_mut(index).and_then(Option::take) else {
                        return Err(PfxError::WrongPassword { check: PasswordCheck::Decryption });
                    };
                    let mut bags = Vec::new();
                    decode::safe_contents(&plaintext, max, &mut bags).map_err(not_readable)?;
                    part_bags.push((algorithm, bags, false));
                }
            }
        }

        // Wave 2: shrouded keys found inside encrypted parts.
        let mut inner_jobs = Vec::new();
        for (_, bags, plain) in &part_bags {
            for bag in bags.iter().filter(|_| !plain) {
                if let Bag::Shrouded(shrouded) = bag {
                    self.charge(shrouded.encryption.work())?;
                    inner_jobs.push(Job {
                        encryption: shrouded.encryption.clone(),
                        ciphertext: shrouded.ciphertext.clone(),
                    });
                }
            }
        }
        let (_, mut inner_plain) = self.run_wave(None, &[], &inner_jobs);
        self.retry_with_right_form(&inner_jobs, &mut inner_plain)?;
        let mut inner_plain = inner_plain.into_iter();

        let mut protection =
            Protection { mac: outer.mac.as_ref().map(|m| m.algorithm), ..Protection::default() };
        let mut certs: Vec<(Vec<u8>, Attributes)> = Vec::new();
        let mut keys: Vec<(PrivateKey, Attributes, EncryptionAlgorithm)> = Vec::new();
        let mut skipped = Vec::new();
        for (container, bags, plain) in part_bags {
            for bag in bags {
                match bag {
                    Bag::Cert { der, attrs } => {
                        if !protection.certificates.contains(&container) {
                            protection.certificates.push(container);
                        }
                        certs.push((der, attrs));
                    }
                    Bag::Key { pkcs8, attrs } => {
                        let key = PrivateKey::from_pkcs8_der(&pkcs8);
                        let key = if plain { key? } else { key.map_err(not_readable)? };
                        keys.push((key, attrs, container));
                    }
                    Bag::Shrouded(shrouded) => {
                        let next = if plain { shrouded_plain.next() } else { inner_plain.next() };
                        let Some(plaintext) = next.flatten() else {
                            return Err(PfxError::WrongPassword { check: PasswordCheck::Decryption });
                        };
                        let key = PrivateKey::from_pkcs8_der(&plaintext).map_err(not_readable)?;
                        keys.push((key, shrouded.attrs, shrouded.encryption.algorithm));
                    }
                    Bag::Skipped { bag_type, reason, count } => {
                        note_skipped(&mut skipped, bag_type, reason, count)
                    }
                }
            }
        }

        let certificates: Vec<(Certificate, Attributes)> = certs
            .into_iter()
            .enumerate()
            .map(|(index, (der, attrs))| {
                Certificate::from_der(&der)
                    .map(|c| (c, attrs))
                    .map_err(|source| PfxError::BadCertificate { index, source })
            })
            .collect::<Result<_, _>>()?;

        let mut keys = keys.into_iter();
        let first_key = keys.next();
        for _ in keys {
            note_skipped(
                &mut skipped,
                pkcs12::PKCS_12_PKCS8_KEY_BAG_OID,
                "a private key after the first (only the first is imported)",
                1,
            );
        }
        let (key, key_attrs) = match first_key {
            Some((key, attrs, algorithm)) => {
                protection.key = Some(algorithm);
                (Some(key), attrs)
            }
            None => (None, Attributes::default()),
        };
        let leaf = match &key {
            Some(key) => pair(key, &key_attrs, &certificates)?,
            None => None,
        };
        if key.is_none() && self.options.require_key {
            return Err(PfxError::NoPrivateKey);
        }
        if certificates.is_empty() && self.options.require_certificate {
            return Err(PfxError::NoCertificate);
        }
        Ok(Pfx {
            leaf,
            key,
            certificates: certificates.into_iter().map(|(c, a)| (c, a.friendly_name)).collect(),
            key_friendly_name: key_attrs.friendly_name,
            protection,
            skipped,
        })
    }

    /// Redoes the decryptions whose speculative password form was wrong or failed.
    fn retry_with_right_form(&mut self, jobs: &[Job], plaintexts: &mut [Plaintext]) -> Result<(), PfxError> {
        for (job, plaintext) in jobs.iter().zip(plaintexts.iter_mut()) {
            let wrong_form = job.encryption.uses_bmp() && self.form.is_some_and(|f| f != 0);
            if plaintext.is_none() || wrong_form {
                *plaintext = self.decrypt_any_form(job)?;
            } else if job.encryption.uses_bmp() && self.form.is_none() {
                self.form = Some(0);
            }
        }
        Ok(())
    }

    /// Runs the MAC check and the decryptions (first password form) on the configured threads.
    fn run_wave(
        &self,
        mac: Option<&mac::MacData>,
        auth_safe: &[u8],
        jobs: &[Job],
    ) -> (Option<usize>, Vec<Plaintext>) {
        let first = self.forms.first().map_or(&[][..], |f| f.as_slice());
        let password = self.password;
        let forms = &self.forms;
        let mut tasks: Vec<(u64, Task<'_>)> = Vec::new();
        if let Some(mac) = mac {
            let weight = mac.cost(forms.len());
            tasks.push((
                weight,
                Box::new(move || Outcome::Mac(mac.verify(forms, password.utf8(), auth_safe))),
            ));
        }
        for (i, job) in jobs.iter().enumerate() {
            let (encryption, ciphertext) = (&job.encryption, job.ciphertext.as_slice());
            tasks.push((
                encryption.cost(),
                Box::new(move || Outcome::Plain(i, encryption.decrypt(password, first, ciphertext))),
            ));
        }
        let mut mac_form = None;
        let mut plaintexts: Vec<Plaintext> = (0..jobs.len()).map(|_| None).collect();
        for outcome in run_tasks(tasks, self.options.threads) {
            match outcome {
                Outcome::Mac(form) => mac_form = form,
                Outcome::Plain(i, plaintext) => {
                    if let Some(slot) = plaintexts.get_mut(i) {
                        *slot = plaintext;
                    }
                }
            }
        }
        (mac_form, plaintexts)
    }

    /// Decrypts with the known password form, or tries every form when none is known yet.
    fn decrypt_any_form(&mut self, job: &Job) -> Result<Plaintext, PfxError> {
        if !job.encryption.uses_bmp() {
            let first = self.forms.first().map_or(&[][..], |f| f.as_slice());
            return Ok(job.encryption.decrypt(self.password, first, &job.ciphertext));
        }
        let candidates: Vec<usize> = match self.form {
            Some(f) => vec![f],
            None => (0..self.forms.len()).collect(),
        };
        for f in candidates {
            let form = self.forms.get(f).map_or(&[][..], |f| f.as_slice());
            if let Some(plain) = job.encryption.decrypt(self.password, form, &job.ciphertext) {
                self.form = Some(f);
                return Ok(Some(plain));
            }
            if self.form.is_none() {
                self.charge(job.encryption.work())?;
            }
        }
        Ok(None)
    }
}

/// Finds the key's certificate: by `localKeyId`, else by public key; the pair must match.
fn pair(
    key: &PrivateKey,
    attrs: &Attributes,
    certs: &[(Certificate, Attributes)],
) -> Result<Option<Certificate>, PfxError> {
    if certs.is_empty() {
        return Ok(None);
    }
    let by_id = attrs
        .local_key_id
        .as_ref()
        .and_then(|id| certs.iter().find(|(_, a)| a.local_key_id.as_ref() == Some(id)))
        .map(|(c, _)| c);
    let chosen = match by_id {
        Some(cert) if key.matches(cert) != Some(false) => Some(cert),
        _ => certs.iter().map(|(c, _)| c).find(|c| key.matches(c) == Some(true)),
    };
    match chosen {
        Some(cert) => Ok(Some(cert.clone())),
        None => Err(PfxError::KeyMismatch {
            thumbprints: certs.iter().map(|(c, _)| c.thumbprint()).collect::<Vec<Thumbprint>>(),
        }),
    }
}

enum Outcome {
    Mac(Option<usize>),
    Plain(usize, Option<Zeroizing<Vec<u8>>>),
}

type Task<'a> = Box<dyn FnOnce() -> Outcome + Send + 'a>;

/// Below this much work (iterations) a thread costs more than it saves.
const PARALLEL_MIN_WORK: u64 = 1_000;

/// Runs tasks on up to `threads` threads (the caller's included), balancing them by weight
/// (longest first, each to the least loaded thread).
fn run_tasks(mut tasks: Vec<(u64, Task<'_>)>, threads: usize) -> Vec<Outcome> {
    let total: u64 = tasks.iter().map(|(w, _)| *w).sum();
    let threads = threads.min(tasks.len());
    if threads <= 1 || total < PARALLEL_MIN_WORK {
        return tasks.into_iter().map(|(_, t)| t()).collect();
    }
    tasks.sort_by_key(|(weight, _)| core::cmp::Reverse(*weight));
    let mut buckets: Vec<(u64, Vec<Task<'_>>)> = (0..threads).map(|_| (0, Vec::new())).collect();
    for (weight, task) in tasks {
        if let Some(bucket) = buckets.iter_mut().min_by_key(|(load, _)| *load) {
            bucket.0 += weight;
            bucket.1.push(task);
        }
    }
    let mut buckets = buckets.into_iter().map(|(_, b)| b);
    let mine = buckets.next().unwrap_or_default();
    std::thread::scope(|scope| {
        let handles: Vec<_> = buckets
            .map(|bucket| scope.spawn(move || bucket.into_iter().map(|t| t()).collect::<Vec<_>>()))
            .collect();
        let mut out: Vec<Outcome> = mine.into_iter().map(|t| t()).collect();
        for handle in handles {
            // A task cannot panic short of a bug; its results are then simply missing, and the
            // import reports the affected parts as undecryptable rather than unwinding.
            if let Ok(results) = handle.join() {
                out.extend(results);
            }
        }
        out
    })
}
