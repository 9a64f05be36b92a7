//! The import of a PFX: reads its structure, then runs the MAC check and every decryption (key
//! derivations, on the threads of [`ImportOptions::threads`] through `parallel`), finds which
//! password form is right, reads the bags and pairs the private key with its certificate.

use const_oid::ObjectIdentifier;
use zeroize::Zeroizing;

use crate::pfx::decode::{self, Attributes, Bag, Part};
use crate::pfx::decrypt::{Encryption, EncryptionAlgorithm};
use crate::pfx::kdf::Password;
use crate::pfx::key::PrivateKey;
use crate::pfx::mac::MacData;
use crate::pfx::parallel::{Task, run_tasks};
use crate::pfx::{PasswordCheck, Pfx, PfxError, Protection, SkippedBag};
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
#[non_exhaustive]
pub struct ImportOptions {
    max_iterations: u32,
    max_total_iterations: u64,
    require_key: bool,
    require_certificate: bool,
    require_protection: bool,
    threads: usize,
}

impl Default for ImportOptions {
    fn default() -> Self {
        Self {
            max_iterations: Self::DEFAULT_MAX_ITERATIONS,
            max_total_iterations: Self::DEFAULT_MAX_TOTAL_ITERATIONS,
            require_key: true,
            require_certificate: true,
            require_protection: false,
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

    /// Whether the file must prove it was made with the password (default false): an integrity
    /// MAC, which verifies under the password, and a private key that is encrypted. A file
    /// without a MAC whose key is stored in the clear opens under any password, so whoever can
    /// write such a file can slip a key past a password check; a store that accepts keys only
    /// from its own writers should refuse it ([`PfxError::NotProtected`]). Files that Windows,
    /// OpenSSL, Java and Python write by default pass.
    pub fn require_protection(self, require: bool) -> Self {
        Self { require_protection: require, ..self }
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

/// Imports a PFX from its bytes (see [`Pfx::import`]).
pub(crate) fn import(bytes: &[u8], password: &Password, options: ImportOptions) -> Result<Pfx, PfxError> {
    Importer { password, options, forms: password.bmp_forms(), form: None, work: 0 }.run(bytes)
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
        if self.options.require_protection {
            if protection.mac.is_none() {
                return Err(PfxError::NotProtected { missing: "it has no integrity MAC" });
            }
            if key.is_some() && matches!(protection.key, None | Some(EncryptionAlgorithm::None)) {
                return Err(PfxError::NotProtected { missing: "its private key is not encrypted" });
            }
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
        mac: Option<&MacData>,
        auth_safe: &[u8],
        jobs: &[Job],
    ) -> (Option<usize>, Vec<Plaintext>) {
        let first = self.forms.first().map_or(&[][..], |f| f.as_slice());
        let password = self.password;
        let forms = &self.forms;
        let mut tasks: Vec<(u64, Task<'_, Outcome>)> = Vec::new();
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

/// What a task of an import wave gives back.
enum Outcome {
    Mac(Option<usize>),
    Plain(usize, Option<Zeroizing<Vec<u8>>>),
}
