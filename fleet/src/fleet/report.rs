//! A front-end agent's holdings report: the thumbprints in its certificate directory, as JSON
//! under `/certslot/<cluster>/servers/<fqdn>`, attached to the agent's lease. While the agent
//! runs the lease lives; when it dies the lease expires and the key goes, so a missing key
//! means "unreported".
//!
//! ```text
//! {"format":1,"server":"fe01.contoso.com","thumbprints":["3BF7..."],"reported_at":"2026-11-29T09:00:00Z"}
//! ```

use std::collections::BTreeSet;

use certslot::{OffsetDateTime, Thumbprint};
use etcd_client::GetOptions;
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;

use crate::etcd::{Cluster, Connection, EtcdError};

/// The format number of a report.
const REPORT_FORMAT: u32 = 1;

/// What one server's agent reports holding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HoldingsReport {
    /// The server (lowercase FQDN).
    pub server: String,
    /// The thumbprints of the certificates in its directory.
    pub thumbprints: BTreeSet<Thumbprint>,
    /// When the agent made the report (its clock).
    pub reported_at: OffsetDateTime,
}

/// Why a report cannot be read or written.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    /// Not a report's JSON (serde's message).
    #[error("not a holdings report: {0}")]
    Json(String),
    /// Another report format.
    #[error("holdings report format {format} is not supported (this reads {REPORT_FORMAT})")]
    UnsupportedFormat {
        /// The format found.
        format: u32,
    },
    /// A thumbprint that does not parse.
    #[error("holdings report: invalid thumbprint {value:?}")]
    BadThumbprint {
        /// The text.
        value: String,
    },
    /// An instant that is not RFC 3339.
    #[error("holdings report: reported_at {value:?} is not RFC 3339")]
    BadInstant {
        /// The text.
        value: String,
    },
    /// The report cannot be written: its `reported_at` lies outside the years RFC 3339 can
    /// write (0000 to 9999).
    #[error("holdings report of {server}: reported_at {reported_at} cannot be written as RFC 3339")]
    Unwritable {
        /// The server.
        server: String,
        /// The instant.
        reported_at: OffsetDateTime,
    },
    /// The report is not attached to a lease: an agent writes its report under its lease, so a
    /// report without one was written by something else and does not count as the server's.
    #[error("the report of {server} is not attached to an agent's lease")]
    NoLease {
        /// The key's server.
        server: String,
    },
    /// The report names another server than its key.
    #[error("the report under {key} is about {server}")]
    ServerMismatch {
        /// The key's server.
        key: String,
        /// The report's.
        server: String,
    },
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReportJson {
    format: u32,
    server: String,
    thumbprints: Vec<String>,
    reported_at: String,
}

impl HoldingsReport {
    /// The report as JSON.
    ///
    /// # Errors
    /// [`ReportError::Unwritable`] when `reported_at` is outside the years RFC 3339 writes.
    pub fn to_json(&self) -> Result<String, ReportError> {
        let unwritable =
            || ReportError::Unwritable { server: self.server.clone(), reported_at: self.reported_at };
        let json = ReportJson {
            format: REPORT_FORMAT,
            server: self.server.clone(),
            thumbprints: self.thumbprints.iter().map(ToString::to_string).collect(),
            reported_at: self.reported_at.format(&Rfc3339).map_err(|_| unwritable())?,
        };
        // Strings and a number only: serde_json cannot fail on them, and would say so as the
        // same refusal if it did.
        serde_json::to_string(&json).map_err(|_| unwritable())
    }

    /// Reads a report.
    ///
    /// # Errors
    /// [`ReportError`] for anything but a report of format 1.
    pub fn from_json(bytes: &[u8]) -> Result<Self, ReportError> {
        #[derive(Deserialize)]
        struct Format {
            format: u32,
        }
        let format: Format = serde_json::from_slice(bytes).map_err(|e| ReportError::Json(e.to_string()))?;
        if format.format != REPORT_FORMAT {
            return Err(ReportError::UnsupportedFormat { format: format.format });
        }
        let json: ReportJson = serde_json::from_slice(bytes).map_err(|e| ReportError::Json(e.to_string()))?;
        let thumbprints = json
            .thumbprints
            .iter()
            .map(|t| t.parse().map_err(|_| ReportError::BadThumbprint { value: t.clone() }))
            .collect::<Result<_, _>>()?;
        let reported_at = OffsetDateTime::parse(&json.reported_at, &Rfc3339)
            .map_err(|_| ReportError::BadInstant { value: json.reported_at.clone() })?;
        Ok(Self { server: json.server.to_ascii_lowercase(), thumbprints, reported_at })
    }
}

/// A report found in etcd: the server its key names, and the report (or why it does not read).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveReport {
    /// The server, from the key.
    pub server: String,
    /// The report.
    pub report: Result<HoldingsReport, ReportError>,
    /// The lease it lives under (0: none, written by something other than an agent, and then
    /// `report` is [`ReportError::NoLease`]).
    pub lease: i64,
    /// The etcd revision that wrote it.
    pub mod_revision: i64,
}

/// Every report under the cluster's `servers/` prefix, in server order. A report that is not
/// attached to a lease reads as [`ReportError::NoLease`]: only an agent's report counts, and an
/// agent writes its report under its lease (etcd removes the key the moment the lease ends, so a
/// key read with a lease was on a live lease at that revision).
///
/// # Errors
/// [`EtcdError`] when etcd cannot be reached.
pub async fn live_reports(conn: &Connection, cluster: &Cluster) -> Result<Vec<LiveReport>, EtcdError> {
    let prefix = cluster.servers_prefix();
    let answer = conn
        .call("read reports", |mut c| {
            let prefix = prefix.clone();
            async move { c.kv.get(prefix, Some(GetOptions::new().with_prefix())).await }
        })
        .await?;
    let mut out: Vec<LiveReport> = answer
        .kvs()
        .iter()
        .map(|kv| {
            let server =
                String::from_utf8_lossy(kv.key().get(prefix.len()..).unwrap_or_default()).into_owned();
            let report = HoldingsReport::from_json(kv.value()).and_then(|r| {
                if kv.lease() == 0 {
                    Err(ReportError::NoLease { server: server.clone() })
                } else if r.server == server {
                    Ok(r)
                } else {
                    Err(ReportError::ServerMismatch { key: server.clone(), server: r.server })
                }
            });
            LiveReport { server, report, lease: kv.lease(), mod_revision: kv.mod_revision() }
        })
        .collect();
    out.sort_by(|a, b| a.server.cmp(&b.server));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_reads_back_and_a_bad_one_is_typed() {
        let report = HoldingsReport {
            server: "fe01.contoso.com".into(),
            thumbprints: ["3BF702B601477250F70E61E287798983087DA4AB".parse().unwrap()].into(),
            reported_at: OffsetDateTime::UNIX_EPOCH,
        };
        let json = report.to_json().unwrap();
        assert_eq!(
            json,
            r#"{"format":1,"server":"fe01.contoso.com","thumbprints":["3BF702B601477250F70E61E287798983087DA4AB"],"reported_at":"1970-01-01T00:00:00Z"}"#
        );
        assert_eq!(HoldingsReport::from_json(json.as_bytes()).unwrap(), report);
        assert_eq!(
            HoldingsReport::from_json(br#"{"format":2}"#),
            Err(ReportError::UnsupportedFormat { format: 2 })
        );
        let bad = json.replace("3BF7", "XXXX");
        assert!(matches!(HoldingsReport::from_json(bad.as_bytes()), Err(ReportError::BadThumbprint { .. })));
        assert!(matches!(HoldingsReport::from_json(b"nope"), Err(ReportError::Json(_))));
    }

    #[test]
    fn a_report_from_before_year_0_is_refused_not_written_empty() {
        let reported_at = time::macros::datetime!(-0001-12-31 0:00 UTC);
        let report =
            HoldingsReport { server: "fe01.contoso.com".into(), thumbprints: BTreeSet::new(), reported_at };
        assert_eq!(
            report.to_json(),
            Err(ReportError::Unwritable { server: "fe01.contoso.com".into(), reported_at })
        );
    }
}
