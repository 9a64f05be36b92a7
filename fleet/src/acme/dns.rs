//! dns-01 answers through RFC 2136 dynamic updates signed with TSIG (RFC 8945): what BIND,
//! PowerDNS, Knot and Windows DNS accept. The answer is a TXT record at
//! `_acme-challenge.<name>` in the zone the updates are for, added before the CA is told to look
//! and deleted (that value only) once it has decided.
//!
//! On Hickory DNS's client (0.25) over TCP. Two of its behaviours are handled here: a refused
//! update (REFUSED, NOTAUTH) comes back as a response, not an error, so the response code is
//! checked; and its update builders panic for a name outside the zone, so names are checked
//! first. A key the server does not accept (BADSIG) surfaces from Hickory as a message about
//! truncated HMACs, reported here as the key refused.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hickory_client::client::{Client, ClientHandle as _};
use hickory_client::proto::dnssec::rdata::tsig::TsigAlgorithm;
use hickory_client::proto::dnssec::tsig::TSigner;
use hickory_client::proto::op::ResponseCode;
use hickory_client::proto::rr::rdata::TXT;
use hickory_client::proto::rr::{Name, RData, Record, RecordSet, RecordType};
use hickory_client::proto::runtime::TokioRuntimeProvider;
use hickory_client::proto::tcp::TcpClientStream;
use instant_acme::ChallengeType;
use zeroize::Zeroizing;

use super::{AcmeError, ChallengeAnswer, Responder};

/// The TTL of an answer's TXT record: short, as resolvers must not keep it.
const ANSWER_TTL: u32 = 60;
/// How long an update may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// A TSIG key: its name, algorithm and secret, as BIND's `tsig-keygen` writes it. `Debug` leaves
/// out the secret.
#[derive(Clone)]
pub struct TsigKey {
    name: String,
    algorithm: String,
    secret: Zeroizing<Vec<u8>>,
}

impl core::fmt::Debug for TsigKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TsigKey")
            .field("name", &self.name)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

impl TsigKey {
    /// The algorithms certslot signs updates with.
    pub const ALGORITHMS: [&str; 3] = ["hmac-sha256", "hmac-sha384", "hmac-sha512"];

    /// A key named `name` (a DNS name), of `algorithm` (one of [`TsigKey::ALGORITHMS`]), with
    /// `secret`.
    ///
    /// # Errors
    /// [`AcmeError::Tsig`] for another algorithm, a name that is not a DNS name, an empty secret.
    pub fn new(name: &str, algorithm: &str, secret: Zeroizing<Vec<u8>>) -> Result<Self, AcmeError> {
        let algorithm = algorithm.to_ascii_lowercase();
        if !Self::ALGORITHMS.contains(&algorithm.as_str()) {
            return Err(AcmeError::Tsig(format!(
                "algorithm {algorithm:?} is not one of {}",
                Self::ALGORITHMS.join(", ")
            )));
        }
        Name::from_ascii(name).map_err(|e| AcmeError::Tsig(format!("the key name {name:?}: {e}")))?;
        if secret.is_empty() {
            return Err(AcmeError::Tsig("the secret is empty".into()));
        }
        Ok(Self { name: name.to_owned(), algorithm, secret })
    }

    /// The key in BIND's key file (what `tsig-keygen -a hmac-sha256 NAME` prints):
    /// `key "NAME" { algorithm ALG; secret "BASE64"; };` (comments and spacing as BIND allows).
    ///
    /// # Errors
    /// [`AcmeError::Tsig`] when the text is not one key clause.
    pub fn from_bind_key_file(text: &str) -> Result<Self, AcmeError> {
        use base64ct::Encoding as _;
        let bad = |why: &str| AcmeError::Tsig(format!("not a BIND key file: {why}"));
        // Comments: `#`, `//` and `/* */`.
        let mut plain = String::with_capacity(text.len());
        let mut rest = text;
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix("/*") {
                rest = after.split_once("*/").map_or("", |(_, r)| r);
            } else if rest.starts_with('#') || rest.starts_with("//") {
                rest = rest.split_once('\n').map_or("", |(_, r)| r);
            } else {
                let c = rest.chars().next().unwrap_or_default();
                plain.push(c);
                rest = &rest[c.len_utf8()..];
            }
        }
        let body = plain.trim().strip_prefix("key").ok_or_else(|| bad("it does not begin with `key`"))?;
        let (name, body) = quoted(body.trim_start()).ok_or_else(|| bad("no quoted key name"))?;
        let body = body.trim_start().strip_prefix('{').ok_or_else(|| bad("no `{` after the name"))?;
        let (mut algorithm, mut secret) = (None, None);
        for statement in body.split(';').map(str::trim) {
            if let Some(value) = statement.strip_prefix("algorithm") {
                algorithm = Some(value.trim().to_owned());
            } else if let Some(value) = statement.strip_prefix("secret") {
                let (value, _) = quoted(value.trim()).ok_or_else(|| bad("the secret is not quoted"))?;
                secret = Some(value.to_owned());
            }
        }
        let algorithm = algorithm.ok_or_else(|| bad("no algorithm"))?;
        let secret = secret.ok_or_else(|| bad("no secret"))?;
        let secret = base64ct::Base64::decode_vec(&secret)
            .map(Zeroizing::new)
            .map_err(|_| bad("the secret is not Base64"))?;
        Self::new(name, &algorithm, secret)
    }

    /// The key's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key's algorithm.
    pub fn algorithm(&self) -> &str {
        &self.algorithm
    }

    /// The secret.
    pub(crate) fn secret(&self) -> &[u8] {
        &self.secret
    }

    fn signer(&self) -> Result<TSigner, AcmeError> {
        let algorithm = match self.algorithm.as_str() {
            "hmac-sha384" => TsigAlgorithm::HmacSha384,
            "hmac-sha512" => TsigAlgorithm::HmacSha512,
            _ => TsigAlgorithm::HmacSha256,
        };
        let name = Name::from_ascii(&self.name).map_err(|e| AcmeError::Tsig(e.to_string()))?;
        TSigner::new(self.secret.to_vec(), algorithm, name, 300).map_err(|e| AcmeError::Tsig(e.to_string()))
    }
}

/// `"text" rest` → (`text`, `rest`).
fn quoted(s: &str) -> Option<(&str, &str)> {
    s.strip_prefix('"')?.split_once('"')
}

/// dns-01 answers written by RFC 2136 updates of `zone` at `server`, signed with a TSIG key.
pub struct DnsUpdate {
    server: SocketAddr,
    zone: Name,
    key: TsigKey,
}

impl core::fmt::Debug for DnsUpdate {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("DnsUpdate")
            .field("server", &self.server)
            .field("zone", &self.zone.to_ascii())
            .field("key", &self.key)
            .finish()
    }
}

impl DnsUpdate {
    /// Updates of `zone` (its apex, as in its SOA) sent to `server` (the zone's primary), signed
    /// with `key`.
    ///
    /// # Errors
    /// [`AcmeError::Tsig`] for a zone that is not a DNS name.
    pub fn new(server: SocketAddr, zone: &str, key: TsigKey) -> Result<Self, AcmeError> {
        let mut zone =
            Name::from_ascii(zone).map_err(|e| AcmeError::Tsig(format!("the zone {zone:?}: {e}")))?;
        zone.set_fqdn(true);
        Ok(Self { server, zone, key })
    }

    /// Where the answer for `identifier` goes: `_acme-challenge.<identifier>.` (a wildcard's
    /// base name), checked to be inside the zone.
    fn record_name(&self, identifier: &str) -> Result<Name, String> {
        let base = identifier.strip_prefix("*.").unwrap_or(identifier);
        let mut name = Name::from_ascii(format!("_acme-challenge.{base}"))
            .map_err(|e| format!("{identifier:?} is not a DNS name: {e}"))?;
        name.set_fqdn(true);
        if !self.zone.zone_of(&name) {
            return Err(format!("{name} is not in the zone {} the updates are for", self.zone));
        }
        Ok(name)
    }

    async fn client(&self) -> Result<Client, String> {
        let signer = self.key.signer().map_err(|e| e.to_string())?;
        let (stream, handle) =
            TcpClientStream::new(self.server, None, Some(TIMEOUT), TokioRuntimeProvider::new());
        let (client, background) = Client::with_timeout(stream, handle, TIMEOUT, Some(Arc::new(signer)))
            .await
            .map_err(|e| format!("cannot reach the DNS server {}: {e}", self.server))?;
        tokio::spawn(background);
        Ok(client)
    }

    /// Sends the update `rrset` (`add`: added, else deleted by value); the server's refusal is
    /// an error.
    async fn update(&self, rrset: RecordSet, add: bool) -> Result<(), String> {
        let mut client = self.client().await?;
        let zone = self.zone.clone();
        let sent = match add {
            true => client.append(rrset, zone, false).await,
            false => client.delete_by_rdata(rrset, zone).await,
        };
        let response = sent.map_err(|e| {
            // Hickory's error says only its kind ("proto error"): the inner error's text.
            let text = match e.kind() {
                hickory_client::ClientErrorKind::Proto(inner) => format!("{e}: {inner}"),
                hickory_client::ClientErrorKind::DnsSec(inner) => format!("{e}: {inner}"),
                hickory_client::ClientErrorKind::Io(inner) => format!("{e}: {inner}"),
                _ => e.to_string(),
            };
            match text.contains("truncated HMAC") {
                true => {
                    format!("the DNS server {} refused the TSIG key {} (BADSIG)", self.server, self.key.name)
                }
                false => format!("the update to {} failed: {text}", self.server),
            }
        })?;
        match response.response_code() {
            ResponseCode::NoError => Ok(()),
            code => {
                Err(format!("the DNS server {} refused the update of {}: {code}", self.server, self.zone))
            }
        }
    }
}

fn txt(name: &Name, value: &str, ttl: u32) -> RecordSet {
    let mut rrset = RecordSet::new(name.clone(), RecordType::TXT, 0);
    rrset.insert(Record::from_rdata(name.clone(), ttl, RData::TXT(TXT::new(vec![value.to_owned()]))), 0);
    rrset
}

impl Responder for DnsUpdate {
    fn kind(&self) -> ChallengeType {
        ChallengeType::Dns01
    }

    async fn present(&self, answer: &ChallengeAnswer) -> Result<(), String> {
        let name = self.record_name(&answer.identifier)?;
        self.update(txt(&name, &answer.dns_value, ANSWER_TTL), true).await
    }

    async fn clean_up(&self, answer: &ChallengeAnswer) -> Result<(), String> {
        let name = self.record_name(&answer.identifier)?;
        self.update(txt(&name, &answer.dns_value, 0), false).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEYGEN: &str = "key \"certslot\" {\n\talgorithm hmac-sha256;\n\tsecret \"/rT9mtaExAH1S4KUmzqk/3VO/Td/ZXcp4aRzLKgN5XI=\";\n};\n";

    #[test]
    fn a_bind_key_file_reads_as_its_key() {
        let key = TsigKey::from_bind_key_file(KEYGEN).unwrap();
        assert_eq!((key.name(), key.algorithm(), key.secret().len()), ("certslot", "hmac-sha256", 32));
        assert_eq!(key.secret()[..4], [0xfe, 0xb4, 0xfd, 0x9a]);
        assert!(!format!("{key:?}").contains("rT9m"));
        // Comments and other spacing, as BIND takes them.
        let commented = "# made by tsig-keygen\nkey \"certslot\"{ /* sha-256 */ algorithm HMAC-SHA256 ; // secret below\n secret \"/rT9mtaExAH1S4KUmzqk/3VO/Td/ZXcp4aRzLKgN5XI=\"; };";
        assert_eq!(TsigKey::from_bind_key_file(commented).unwrap().secret(), key.secret());
        for (text, why) in [
            ("", "does not begin with `key`"),
            ("key certslot { };", "no quoted key name"),
            ("key \"k\" { secret \"AAAA\"; };", "no algorithm"),
            ("key \"k\" { algorithm hmac-sha256; };", "no secret"),
            ("key \"k\" { algorithm hmac-sha256; secret \"%%%\"; };", "not Base64"),
            ("key \"k\" { algorithm hmac-md5; secret \"AAAA\"; };", "is not one of hmac-sha256"),
        ] {
            let error = TsigKey::from_bind_key_file(text).unwrap_err().to_string();
            assert!(error.contains(why), "{text}: {error}");
        }
    }

    #[test]
    fn answers_go_under_acme_challenge_inside_the_zone_only() {
        let key = TsigKey::from_bind_key_file(KEYGEN).unwrap();
        let update = DnsUpdate::new("127.0.0.1:53".parse().unwrap(), "contoso.com", key).unwrap();
        assert_eq!(
            update.record_name("pool01.contoso.com").unwrap().to_ascii(),
            "_acme-challenge.pool01.contoso.com."
        );
        assert_eq!(update.record_name("*.contoso.com").unwrap().to_ascii(), "_acme-challenge.contoso.com.");
        assert_eq!(
            update.record_name("pool01.fabrikam.com").unwrap_err(),
            "_acme-challenge.pool01.fabrikam.com. is not in the zone contoso.com. the updates are for"
        );
    }
}
