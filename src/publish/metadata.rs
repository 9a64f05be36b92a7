//! The JSON authorization metadata document that Lync and Skype for Business, Exchange and
//! SharePoint partners fetch at `/metadata/json/1` (Exchange at
//! `https://<server>/autodiscover/metadata/json/1`, Lync at `https://<pool>/metadata/json/1`,
//! SharePoint at `/_layouts/15/metadata/json/1`) to learn a partner application's signing
//! certificates.
//!
//! The document's shapes and their sources are on [`AuthMetadata`]; [`MetadataForm`] chooses
//! how its `keys` are written.

use time::OffsetDateTime;

use crate::policy::{CertType, Scope};
use crate::publish::exchange_id::derived_id;
use crate::publish::jwks::{Jwks, SkippedKey};
use crate::publish::keyset::KeyStatus;
use crate::store::Store;
use crate::validate::HumanTime;
use crate::x509::Thumbprint;

/// One entry of the document's `endpoints`: `location`, `protocol`, `usage`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct MetadataEndpoint {
    location: String,
    protocol: String,
    usage: String,
}

impl MetadataEndpoint {
    /// An endpoint of any protocol and usage.
    pub fn new(location: &str, protocol: &str, usage: &str) -> Self {
        Self { location: location.to_owned(), protocol: protocol.to_owned(), usage: usage.to_owned() }
    }

    /// The document's own address, as Exchange lists it: protocol `OAuth2`, usage `metadata`
    /// (`https://mail.contoso.com/autodiscover/metadata/json/1`,
    /// `https://pool01.contoso.com/metadata/json/1`). Add it with [`MetadataOptions::endpoint`].
    pub fn metadata(location: &str) -> Self {
        Self::new(location, "OAuth2", "metadata")
    }

    /// The `location` (a URL).
    pub fn location(&self) -> &str {
        &self.location
    }

    /// The `protocol` (`OAuth2`).
    pub fn protocol(&self) -> &str {
        &self.protocol
    }

    /// The `usage` (`metadata`).
    pub fn usage(&self) -> &str {
        &self.usage
    }
}

/// How the document writes each of its `keys` ([`MetadataOptions::form`]); the other members
/// are the same in both forms. [`AuthMetadata`] quotes the documents each form follows.
///
/// | Form | A key |
/// |---|---|
/// | [`MetadataForm::Exchange`] | `{"usage":"signing","keyinfo":{"x5t":"<x5t>"},"keyvalue":{"type":"x509Certificate","value":"<DER in Base64>"}}` |
/// | [`MetadataForm::SharePoint`] | `{"usage":"Signing","keyValue":{"type":"x509Certificate","value":"<DER in Base64>"}}` |
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MetadataForm {
    /// Exchange's: `usage` `signing`, the key's `x5t` in `keyinfo`, the certificate in
    /// `keyvalue` (both in lowercase). Lync, Skype for Business and Exchange read it. The default.
    #[default]
    Exchange,
    /// SharePoint's and ACS's: `usage` `Signing` and the certificate in `keyValue`
    /// (camelCase), no `keyinfo`, as SharePoint Server and ACS serve their documents; what the
    /// `AcsMetadataParser` of SharePoint add-ins' `TokenHelper.cs` reads (`keyValue.value`).
    SharePoint,
}

/// What [`AuthMetadata::publish`] writes beside the keys, and how.
///
/// The default is [`MetadataOptions::lync`]: `name` `Lync`, `serviceName`
/// [`MetadataOptions::LYNC_SERVICE_NAME`], the realm of the store's SIP domain, `issuer`
/// `serviceName@realm`, `allowedAudiences` the issuer alone, no `endpoints`, an `id` derived
/// from the service name and realm (see [`MetadataOptions::id`]), and the keys in Exchange's
/// form ([`MetadataForm::Exchange`]). Built with by-value setters; checked when the document is
/// made ([`MetadataError`]).
///
/// `endpoints` lists what [`MetadataOptions::endpoint`] adds, in that order: the document's own
/// address as Exchange lists it is [`MetadataEndpoint::metadata`].
///
/// ```
/// use certslot::publish::{MetadataEndpoint, MetadataForm, MetadataOptions};
///
/// let options = MetadataOptions::exchange()
///     .realm("contoso.com")
///     .endpoint(MetadataEndpoint::metadata("https://mail.contoso.com/autodiscover/metadata/json/1"));
/// assert_eq!(options.service_name_value(), "00000002-0000-0ff1-ce00-000000000000");
/// assert_eq!(options.issuer_for("contoso.com"), "00000002-0000-0ff1-ce00-000000000000@contoso.com");
/// assert_eq!(options.endpoints_value()[0].usage(), "metadata");
/// assert_eq!(options.form_value(), MetadataForm::Exchange);
/// assert_eq!(options.form(MetadataForm::SharePoint).form_value(), MetadataForm::SharePoint);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct MetadataOptions {
    id: Option<String>,
    name: String,
    realm: Option<String>,
    service_name: String,
    issuer: Option<String>,
    audiences: Vec<String>,
    endpoints: Vec<MetadataEndpoint>,
    form: MetadataForm,
}

impl Default for MetadataOptions {
    /// [`MetadataOptions::lync`].
    fn default() -> Self {
        Self::lync()
    }
}

impl MetadataOptions {
    /// The service principal of Lync Server and Skype for Business Server
    /// (`Get-CsOAuthConfiguration`'s `ServiceName`).
    pub const LYNC_SERVICE_NAME: &'static str = "00000004-0000-0ff1-ce00-000000000000";
    /// The service principal of Exchange Server.
    pub const EXCHANGE_SERVICE_NAME: &'static str = "00000002-0000-0ff1-ce00-000000000000";
    /// The service principal of SharePoint Server.
    pub const SHAREPOINT_SERVICE_NAME: &'static str = "00000003-0000-0ff1-ce00-000000000000";

    fn preset(name: &str, service_name: &str) -> Self {
        Self {
            id: None,
            name: name.to_owned(),
            realm: None,
            service_name: service_name.to_owned(),
            issuer: None,
            audiences: Vec::new(),
            endpoints: Vec::new(),
            form: MetadataForm::Exchange,
        }
    }

    /// Lync Server and Skype for Business Server: `name` `Lync`, `serviceName`
    /// [`MetadataOptions::LYNC_SERVICE_NAME`]. Microsoft does not document the `name` Lync
    /// writes; partners match the issuer, not the name.
    pub fn lync() -> Self {
        Self::preset("Lync", Self::LYNC_SERVICE_NAME)
    }

    /// Exchange Server: `name` `Exchange`, `serviceName`
    /// [`MetadataOptions::EXCHANGE_SERVICE_NAME`], as in Microsoft's example document.
    pub fn exchange() -> Self {
        Self::preset("Exchange", Self::EXCHANGE_SERVICE_NAME)
    }

    /// The `id`. Without it, the document's `id` is `_` followed by the UUID version 5
    /// ([RFC 9562 5.5](https://datatracker.ietf.org/doc/html/rfc9562#section-5.5), in the URL
    /// namespace) of the text `serviceName@realm`: the same on every server and every call, as
    /// Exchange's `_` and GUID are for one organization.
    pub fn id(self, id: &str) -> Self {
        Self { id: Some(id.to_owned()), ..self }
    }

    /// The `name` (`Exchange`, `Lync`).
    pub fn name(self, name: &str) -> Self {
        Self { name: name.to_owned(), ..self }
    }

    /// The `realm`: the tenant or realm id partners know the service by (Lync's
    /// `Set-CsOAuthConfiguration -Realm`, Exchange's `Get-AuthConfig` `Realm`, a tenant GUID, or
    /// `*`). Without it, the store's SIP domain.
    pub fn realm(self, realm: &str) -> Self {
        Self { realm: Some(realm.to_owned()), ..self }
    }

    /// The `serviceName`: the service principal (see the `*_SERVICE_NAME` constants).
    pub fn service_name(self, service_name: &str) -> Self {
        Self { service_name: service_name.to_owned(), ..self }
    }

    /// The `issuer`. Without it, `serviceName@realm`, the `iss` of the tokens the service signs.
    pub fn issuer(self, issuer: &str) -> Self {
        Self { issuer: Some(issuer.to_owned()), ..self }
    }

    /// Adds an entry to `allowedAudiences`. Without any, the list holds the issuer alone, as in
    /// Exchange's document.
    pub fn audience(mut self, audience: &str) -> Self {
        self.audiences.push(audience.to_owned());
        self
    }

    /// Adds an entry to `endpoints`, after those added before. Without any, the list is empty;
    /// Exchange lists the document's own address ([`MetadataEndpoint::metadata`]).
    pub fn endpoint(mut self, endpoint: MetadataEndpoint) -> Self {
        self.endpoints.push(endpoint);
        self
    }

    /// How the keys are written (default [`MetadataForm::Exchange`]).
    pub fn form(self, form: MetadataForm) -> Self {
        Self { form, ..self }
    }

    /// The `name`.
    pub fn name_value(&self) -> &str {
        &self.name
    }

    /// The realm set with [`MetadataOptions::realm`], if any.
    pub fn realm_value(&self) -> Option<&str> {
        self.realm.as_deref()
    }

    /// The `serviceName`.
    pub fn service_name_value(&self) -> &str {
        &self.service_name
    }

    /// The `endpoints` added, in order.
    pub fn endpoints_value(&self) -> &[MetadataEndpoint] {
        &self.endpoints
    }

    /// How the keys are written.
    pub fn form_value(&self) -> MetadataForm {
        self.form
    }

    /// The `issuer` the document has for `realm`: the one set, else `serviceName@realm`.
    pub fn issuer_for(&self, realm: &str) -> String {
        self.issuer.clone().unwrap_or_else(|| format!("{}@{realm}", self.service_name))
    }

    /// The `id` the document has for `realm`: the one set, else the derived one.
    pub fn id_for(&self, realm: &str) -> String {
        self.id.clone().unwrap_or_else(|| derived_id(&self.service_name, realm))
    }
}

/// Why [`AuthMetadata::publish`] made no document.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MetadataError {
    /// No realm: none in the options, and the store was not made for a SIP domain.
    #[error("no realm: the options name none and the store has no SIP domain")]
    NoRealm,
    /// A member that must not be empty is (`realm`, `serviceName`, an audience, an endpoint's
    /// `location`, ...).
    #[error("the metadata member {member} is empty")]
    Empty {
        /// The member, as the document names it.
        member: &'static str,
    },
    /// A character that does not belong in a member: a control character anywhere; white space
    /// anywhere but in `name`; `@` in `realm` or `serviceName`, which the issuer joins with it.
    #[error("the metadata member {member} ({value:?}) holds {character:?}")]
    InvalidCharacter {
        /// The member, as the document names it.
        member: &'static str,
        /// The value given.
        value: String,
        /// The first character that does not belong.
        character: char,
    },
    /// The type has no key to publish at the scope at that instant (no slot, or only keys that
    /// cannot be published): partners would trust nothing.
    #[error("{cert_type} at {scope} has no key to publish at {}", HumanTime(*at))]
    NoKeys {
        /// The type.
        cert_type: CertType,
        /// The scope asked for.
        scope: Scope,
        /// The instant.
        at: OffsetDateTime,
        /// How many published keys could not be written (see [`SkipReason`](crate::publish::SkipReason)).
        skipped: usize,
    },
}

/// One entry of the document's `keys`, serialized in its [`MetadataForm`]: Exchange's
/// `{"usage":"signing","keyinfo":{"x5t":...},"keyvalue":{"type":"x509Certificate","value":...}}`
/// or SharePoint's `{"usage":"Signing","keyValue":{"type":"x509Certificate","value":...}}`;
/// [`MetadataKey::status`], [`MetadataKey::thumbprint`] and [`MetadataKey::form`] are for the
/// caller and are not serialized.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct MetadataKey {
    /// The `x5t`: base64url, without padding, of the SHA-1 digest of the certificate's DER (the
    /// JWKS `x5t` of the same key). Written as `keyinfo.x5t` in Exchange's form only.
    pub x5t: String,
    /// `keyvalue.value` (Exchange) or `keyValue.value` (SharePoint): the certificate's DER in
    /// standard Base64, with padding.
    pub certificate: String,
    /// How the key is written (not serialized).
    pub form: MetadataForm,
    /// Why the key is published (not serialized).
    pub status: KeyStatus,
    /// The certificate's SHA-1 thumbprint (not serialized).
    pub thumbprint: Thumbprint,
}

/// A JSON authorization metadata document, made by [`AuthMetadata::publish`]. Serialized with
/// the members in the order Exchange writes them, the keys in the [`MetadataForm`] of the
/// options; [`AuthMetadata::skipped`] is not serialized.
///
/// # Exchange's form ([`MetadataForm::Exchange`], the default)
///
/// The members, their names (`keyinfo` and `keyvalue` in lowercase) and their order are those of
/// the document Exchange serves, as Microsoft documents it in
/// [Validate an Exchange identity token](https://learn.microsoft.com/en-us/office/dev/add-ins/outlook/validate-an-identity-token)
/// ("Retrieve the public signing key"):
///
/// ```text
/// {
///   "id": "_70b34511-d105-4e2b-9675-39f53305bb01",
///   "version": "1.0",
///   "name": "Exchange",
///   "realm": "*",
///   "serviceName": "00000002-0000-0ff1-ce00-000000000000",
///   "issuer": "00000002-0000-0ff1-ce00-000000000000@*",
///   "allowedAudiences": [ "00000002-0000-0ff1-ce00-000000000000@*" ],
///   "keys": [ { "usage": "signing",
///               "keyinfo": { "x5t": "enh9BJrVPU5ijV1qjZjV-fL2bco" },
///               "keyvalue": { "type": "x509Certificate", "value": "MIIHNTCC..." } } ],
///   "endpoints": [ { "location": "https://.../autodiscover/metadata/json/1",
///                    "protocol": "OAuth2", "usage": "metadata" } ]
/// }
/// ```
///
/// Verifiers pick the key whose `keyinfo.x5t` is the token's `x5t` header; `keyvalue.value` is
/// the certificate's DER in standard Base64.
///
/// # SharePoint's and ACS's form ([`MetadataForm::SharePoint`])
///
/// SharePoint Server serves its own document at `/_layouts/15/metadata/json/1`, shorter and with
/// the members in alphabetical order; its keys have `keyValue` in camelCase, `"usage":
/// "Signing"` and no `keyinfo`. As a SharePoint Server Subscription Edition farm (build
/// 16.0.0.19725) answered in Rapid7's 2026 analysis of a SharePoint authentication bypass:
///
/// ```text
/// {"issuer":"00000003-0000-0ff1-ce00-000000000000@af90cc03-4a26-45e9-906a-609cebcebbde",
///  "keys":[{"keyValue":{"type":"x509certificate","value":"MIIEhzCCAm+gAwIBAgIQbgEQ..."},
///           "usage":"Signing"}],
///  "name":"00000003-0000-0ff1-ce00-000000000000",
///  "serviceName":"00000003-0000-0ff1-ce00-000000000000"}
/// ```
///
/// The Access Control Service's document (`https://accounts.accesscontrol.windows.net/metadata/json/1`)
/// writes its keys with `keyValue` too, as `"usage":"signing"` and `"type":"x509Certificate"`,
/// and lists its token endpoints:
///
/// ```text
/// {"keys":[{"usage":"signing","keyValue":{"type":"x509Certificate","value":"MIIC/TCCAeWg..."}}, ...],
///  "endpoints":[{"location":"https://accounts.accesscontrol.windows.net/tokens/OAuth/2",
///                "protocol":"OAuth2","usage":"issuance"}, ...], ...}
/// ```
///
/// The reader of both, the `AcsMetadataParser` of the `TokenHelper.cs` that Visual Studio adds
/// to SharePoint add-ins, declares `JsonKey { usage, keyValue: JsonKeyValue { type, value } }`
/// and `JsonEndpoint { location, protocol, usage }`, takes the certificate from the first key's
/// `keyValue.value` and the token endpoint from the endpoint whose `protocol` is `OAuth2`; it
/// reads neither `usage` nor `type`, and skips the members it does not declare.
///
/// certslot's SharePoint form writes each key as
/// `{"usage":"Signing","keyValue":{"type":"x509Certificate","value":"MIIC..."}}`: `usage` as
/// SharePoint writes it, `type` as ACS and Exchange write it (SharePoint writes
/// `x509certificate`); the other members are those of Exchange's form, in its order.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "camelCase"))]
#[non_exhaustive]
pub struct AuthMetadata {
    /// `id`.
    pub id: String,
    /// `version`: always `1.0`.
    pub version: &'static str,
    /// `name`.
    pub name: String,
    /// `realm`.
    pub realm: String,
    /// `serviceName`.
    pub service_name: String,
    /// `issuer`.
    pub issuer: String,
    /// `allowedAudiences`.
    pub allowed_audiences: Vec<String>,
    /// `keys`: the keys of [`Jwks::publish`], in its order (the signing key first).
    pub keys: Vec<MetadataKey>,
    /// `endpoints`.
    pub endpoints: Vec<MetadataEndpoint>,
    /// The published keys that cannot be published here, as in [`Jwks::skipped`](crate::publish::Jwks::skipped)
    /// (not serialized).
    #[cfg_attr(feature = "serde", serde(skip))]
    pub skipped: Vec<SkippedKey>,
}

impl AuthMetadata {
    /// The document as compact JSON (no whitespace), ready to serve as `application/json`. For
    /// other layouts, serialize the [`AuthMetadata`] with serde.
    ///
    /// # Errors
    /// serde_json's error, returned rather than hidden; a document of members that are all
    /// strings does not make it fail.
    #[cfg(feature = "serde")]
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(self)
    }

    /// The key whose `x5t` is `x5t` (`keyinfo.x5t` in Exchange's form).
    pub fn key(&self, x5t: &str) -> Option<&MetadataKey> {
        self.keys.iter().find(|k| k.x5t == x5t)
    }
}

/// A [`MetadataKey`] in JSON, in its [`MetadataForm`]: `usage`, `keyinfo` and `keyvalue`
/// (Exchange), or `usage` and `keyValue` (SharePoint). The members are constants and the
/// form's, not fields of [`MetadataKey`], so the shape is derived on this borrowed view.
#[cfg(feature = "serde")]
#[derive(serde::Serialize)]
#[serde(untagged)]
enum KeyMembers<'a> {
    Exchange {
        usage: &'static str,
        keyinfo: KeyInfo<'a>,
        keyvalue: KeyValue<'a>,
    },
    SharePoint {
        usage: &'static str,
        #[serde(rename = "keyValue")]
        key_value: KeyValue<'a>,
    },
}

/// `keyinfo`: `{"x5t": "<x5t>"}`.
#[cfg(feature = "serde")]
#[derive(serde::Serialize)]
struct KeyInfo<'a> {
    x5t: &'a str,
}

/// `keyvalue` / `keyValue`: `{"type": "x509Certificate", "value": "<DER in Base64>"}`.
#[cfg(feature = "serde")]
#[derive(serde::Serialize)]
struct KeyValue<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    value: &'a str,
}

#[cfg(feature = "serde")]
impl serde::Serialize for MetadataKey {
    /// As `KeyMembers` (derived): the members of the key's form.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let key_value = KeyValue { kind: "x509Certificate", value: &self.certificate };
        let members = match self.form {
            MetadataForm::Exchange => KeyMembers::Exchange {
                usage: "signing",
                keyinfo: KeyInfo { x5t: &self.x5t },
                keyvalue: key_value,
            },
            MetadataForm::SharePoint => KeyMembers::SharePoint { usage: "Signing", key_value },
        };
        serde::Serialize::serialize(&members, serializer)
    }
}

impl AuthMetadata {
    /// The JSON authorization metadata document of `cert_type` at `scope` at `at`, the one
    /// Lync, Skype for Business, Exchange and SharePoint partners fetch at `/metadata/json/1`:
    /// the members of `options`, and as `keys` the same keys, in the same order, as
    /// [`Jwks::publish`] (the signing key, the announced one, the retained previous one), in
    /// Exchange's or SharePoint's form ([`MetadataOptions::form`]).
    ///
    /// Serving it is the caller's job.
    ///
    /// # Errors
    /// [`MetadataError`]: no realm, an empty member or one with a character that does not
    /// belong, or no key to publish.
    pub fn publish(
        store: &Store,
        cert_type: &CertType,
        scope: &Scope,
        at: OffsetDateTime,
        options: &MetadataOptions,
    ) -> Result<AuthMetadata, MetadataError> {
        let realm = match (&options.realm, store.sip_domain()) {
            (Some(realm), _) => realm.clone(),
            (None, Some(sip)) => sip.to_owned(),
            (None, None) => return Err(MetadataError::NoRealm),
        };
        check("realm", &realm, Text::Part)?;
        check("serviceName", &options.service_name, Text::Part)?;
        check("name", &options.name, Text::Name)?;
        let id = options.id_for(&realm);
        check("id", &id, Text::Token)?;
        let issuer = options.issuer_for(&realm);
        check("issuer", &issuer, Text::Token)?;
        let allowed_audiences =
            if options.audiences.is_empty() { vec![issuer.clone()] } else { options.audiences.clone() };
        for audience in &allowed_audiences {
            check("allowedAudiences", audience, Text::Token)?;
        }
        for endpoint in &options.endpoints {
            check("location", &endpoint.location, Text::Token)?;
            check("protocol", &endpoint.protocol, Text::Token)?;
            check("usage", &endpoint.usage, Text::Token)?;
        }

        let jwks = Jwks::publish(store, cert_type, scope, at);
        let keys: Vec<MetadataKey> = jwks
            .keys
            .into_iter()
            .filter_map(|jwk| {
                let certificate = jwk.x5c.into_iter().next()?;
                Some(MetadataKey {
                    x5t: jwk.x5t,
                    certificate,
                    form: options.form,
                    status: jwk.status,
                    thumbprint: jwk.thumbprint,
                })
            })
            .collect();
        if keys.is_empty() {
            return Err(MetadataError::NoKeys {
                cert_type: cert_type.clone(),
                scope: scope.clone(),
                at,
                skipped: jwks.skipped.len(),
            });
        }
        Ok(AuthMetadata {
            id,
            version: "1.0",
            name: options.name.clone(),
            realm,
            service_name: options.service_name.clone(),
            issuer,
            allowed_audiences,
            keys,
            endpoints: options.endpoints.clone(),
            skipped: jwks.skipped,
        })
    }
}

/// What a member may hold.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Text {
    /// Free text: no control characters.
    Name,
    /// No white space either.
    Token,
    /// Nor `@`: a part of `serviceName@realm`.
    Part,
}

/// Checks one member.
fn check(member: &'static str, value: &str, text: Text) -> Result<(), MetadataError> {
    if value.is_empty() {
        return Err(MetadataError::Empty { member });
    }
    let bad = |c: char| {
        c.is_control() || (text != Text::Name && c.is_whitespace()) || (text == Text::Part && c == '@')
    };
    match value.chars().find(|&c| bad(c)) {
        Some(character) => {
            Err(MetadataError::InvalidCharacter { member, value: value.to_owned(), character })
        }
        None => Ok(()),
    }
}
