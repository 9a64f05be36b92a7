//! Layer 4, serving: the key server ([`KeyServer`]), which publishes the keys verifiers must
//! trust over HTTPS (the JWK Set at `/.well-known/jwks.json`, the authorization metadata document
//! at `/metadata/json/1`) with entity tags, conditional GET and a cache lifetime derived from the
//! type's rollover policy, `/healthz` and `/readyz` for load balancers, `/metrics`, and a status
//! page for operators at `/`; and, on a plain-HTTP listener of its own, the answers to ACME
//! http-01 challenges the coordinator publishes ([`serve_acme_http01`]).
//!
//! It reads the state as the readers do, without the fleet password, and takes only a value the
//! writers signed ([`crate::WriterPublicKey`], as agents pin it).
//!
//! Uses the `fleet` layer's watch and the `state` layer's decoding.

mod acme_http;
mod documents;
mod http;
mod key_server;
mod status_page;
mod tls;

pub(crate) use self::acme_http::acme_challenges;
pub use self::acme_http::serve_acme_http01;
pub use self::documents::{Document, DocumentKind, Published};
pub use self::key_server::{KeyServer, ServeError, ServeEvent};
pub use self::tls::{ServerTls, ServerTlsError, client_certificate_credential};
