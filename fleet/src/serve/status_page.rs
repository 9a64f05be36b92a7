//! The status page (`GET /` on the key server): what an operator opens in a browser. Plain
//! server-rendered HTML with inline CSS and SVG, no script: per type and scope the current,
//! previous and pending certificates and the rollover timeline (published, signing, accepted,
//! today marked); the servers in step or drifting; the partners and whether they have seen each
//! pending certificate.
//!
//! Rendered per request from the state the key server holds (an operator's page, not a
//! verifier's hot path); every value from the state is HTML-escaped.

use std::fmt::Write as _;

use certslot::validate::HumanTime;
use certslot::{CertType, OffsetDateTime, Scope, Store, Thumbprint};
use time::Duration;

use crate::fleet::{LiveReport, fleet_status, partner_views};

/// What the page shows.
pub(crate) struct StatusView<'a> {
    pub(crate) cluster: &'a str,
    pub(crate) store: &'a Store,
    pub(crate) revision: i64,
    pub(crate) reports: Option<&'a [LiveReport]>,
    pub(crate) ready: &'a str,
    pub(crate) at: OffsetDateTime,
}

/// Text for HTML (element content and quoted attributes).
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn when(t: OffsetDateTime) -> String {
    escape(&HumanTime(t).to_string())
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em;color:#222}\
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}\
th{background:#f3f3f3}.bad{color:#b00;font-weight:bold}.ok{color:#070}code{font-size:.9em}\
.legend span{display:inline-block;width:1em;height:.8em;margin:0 .3em 0 1em}";

/// Colours of the timeline's segments.
const PUBLISHED: &str = "#9ecae1";
const SIGNING: &str = "#08519c";
const ACCEPTED: &str = "#fdae6b";

/// The page.
pub(crate) fn render(view: &StatusView<'_>) -> String {
    let mut html = String::with_capacity(16 * 1024);
    let title = format!("certslot: {}", view.cluster);
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{STYLE}</style></head><body>\n\
         <h1>{}</h1>\n<p>State at etcd revision {}, shown at {}. Key server: {}.</p>\n",
        escape(&title),
        escape(&title),
        view.revision,
        when(view.at),
        escape(view.ready)
    );
    slots(&mut html, view);
    servers(&mut html, view);
    partners(&mut html, view);
    html.push_str("</body></html>\n");
    html
}

fn slots(html: &mut String, view: &StatusView<'_>) {
    let store = view.store;
    html.push_str("<h2>Certificates</h2>\n");
    let _ = writeln!(
        html,
        "<p class=\"legend\">Timeline:<span style=\"background:{PUBLISHED}\"></span>published \
         <span style=\"background:{SIGNING}\"></span>signing <span style=\"background:{ACCEPTED}\"></span>accepted \
         (previous key still trusted) <span style=\"background:#d00\"></span>today</p>"
    );
    let mut any = false;
    for (cert_type, scope, slot) in store.slots() {
        any = true;
        let _ =
            writeln!(html, "<h3>{} at {}</h3>", escape(&cert_type.to_string()), escape(&scope.to_string()));
        html.push_str("<table><tr><th>Role</th><th>Thumbprint</th><th>Subject</th><th>Since / effective</th><th>Valid until</th></tr>\n");
        let roles = [
            ("current", slot.current().map(|a| (a.thumbprint, a.since))),
            ("pending", slot.pending().map(|p| (p.thumbprint, p.effective_at))),
            ("previous", slot.previous().map(|a| (a.thumbprint, a.since))),
        ];
        for (role, assigned) in roles {
            let Some((thumbprint, since)) = assigned else { continue };
            let cert = store.inventory().get(&thumbprint).map(|s| &s.certificate);
            let subject = cert.and_then(|c| c.subject().common_name()).unwrap_or_default();
            let until = cert.map(|c| when(c.not_after())).unwrap_or_default();
            let _ = writeln!(
                html,
                "<tr><td>{role}</td><td><code>{thumbprint}</code></td><td>{}</td><td>{}</td><td>{until}</td></tr>",
                escape(&subject),
                when(since)
            );
        }
        html.push_str("</table>\n");
        timeline(html, view, cert_type, scope);
    }
    if !any {
        html.push_str("<p>No certificate is assigned yet.</p>\n");
    }
}

/// One bar of the timeline: a label and its segments (start, end, colour, what).
struct Bar {
    label: String,
    segments: Vec<(OffsetDateTime, OffsetDateTime, &'static str, &'static str)>,
}

fn timeline(html: &mut String, view: &StatusView<'_>, cert_type: &CertType, scope: &Scope) {
    let store = view.store;
    let Some(slot) = store.slot_at(cert_type, scope) else { return };
    let rollover = store.type_config(cert_type).get_rollover();
    let milestones = store.milestones(cert_type, scope).unwrap_or_default();
    let not_after = |t: &Thumbprint| store.inventory().get(t).map(|s| s.certificate.not_after());
    let short = |t: &Thumbprint| t.to_string().chars().take(8).collect::<String>();
    let mut bars = Vec::new();
    let current = slot.current();
    if let Some(previous) = slot.previous() {
        let mut segments = Vec::new();
        if let Some(current) = current {
            segments.push((previous.since, current.since, SIGNING, "signing"));
            if let Some(retires) = milestones.previous_retires {
                segments.push((current.since, retires, ACCEPTED, "accepted"));
            }
        }
        bars.push(Bar { label: format!("previous {}", short(&previous.thumbprint)), segments });
    }
    if let Some(current) = current {
        let end = slot.pending().map(|p| p.effective_at).or_else(|| not_after(&current.thumbprint));
        let mut segments = Vec::new();
        if let Some(end) = end {
            segments.push((current.since, end, SIGNING, "signing"));
        }
        if let (Some(pending), Some(expires)) = (slot.pending(), not_after(&current.thumbprint)) {
            let retires = pending.effective_at.checked_add(rollover.get_token_lifetime()).unwrap_or(expires);
            segments.push((pending.effective_at, retires.min(expires), ACCEPTED, "accepted"));
        }
        bars.push(Bar { label: format!("current {}", short(&current.thumbprint)), segments });
    }
    if let Some(pending) = slot.pending() {
        let announced =
            pending.effective_at.checked_sub(rollover.get_publish_ahead()).unwrap_or(pending.effective_at);
        let mut segments = vec![(announced, pending.effective_at, PUBLISHED, "published")];
        if let Some(expires) = not_after(&pending.thumbprint) {
            segments.push((pending.effective_at, expires, SIGNING, "signing"));
        }
        bars.push(Bar { label: format!("pending {}", short(&pending.thumbprint)), segments });
    }
    if bars.is_empty() {
        return;
    }
    // From a month back to three months on, or further to show the pending roll and the
    // previous key's retirement (at most a year and a half); longer bars run to the edge.
    let start = view.at - Duration::days(30);
    let ahead = [
        slot.pending().map(|p| p.effective_at + Duration::days(14)),
        milestones.previous_retires.map(|r| r + Duration::days(7)),
    ];
    let end = ahead
        .into_iter()
        .flatten()
        .fold(view.at + Duration::days(90), OffsetDateTime::max)
        .min(view.at + Duration::days(540));
    let (width, left, row) = (900.0_f64, 170.0_f64, 26.0_f64);
    let span = (end - start).as_seconds_f64().max(1.0);
    let x = |t: OffsetDateTime| {
        let t = t.clamp(start, end);
        left + (width - left - 10.0) * (t - start).as_seconds_f64() / span
    };
    let top = 18.0;
    let height = top + row * bars.len() as f64 + 24.0;
    let _ = writeln!(
        html,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" role=\"img\" aria-label=\"rollover timeline\" font-size=\"12\">"
    );
    for (i, bar) in bars.iter().enumerate() {
        let y = top + row * i as f64;
        let _ = writeln!(html, "<text x=\"4\" y=\"{:.1}\">{}</text>", y + 14.0, escape(&bar.label));
        for (from, to, colour, what) in &bar.segments {
            if to <= from || *to < start || *from > end {
                continue;
            }
            let (x0, x1) = (x(*from), x(*to));
            let _ = writeln!(
                html,
                "<rect x=\"{x0:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"18\" fill=\"{colour}\"><title>{what}: {} – {}</title></rect>",
                (x1 - x0).max(3.0),
                when(*from),
                when(*to)
            );
        }
    }
    let axis = height - 22.0;
    let today = x(view.at);
    let _ = writeln!(
        html,
        "<line x1=\"{today:.1}\" y1=\"{:.1}\" x2=\"{today:.1}\" y2=\"{axis:.1}\" stroke=\"#d00\" stroke-width=\"2\"/>\n\
         <text x=\"{today:.1}\" y=\"12\" text-anchor=\"middle\" fill=\"#d00\">today</text>\n\
         <text x=\"{left:.1}\" y=\"{:.1}\">{}</text>\n<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>\n</svg>",
        top - 4.0,
        axis + 14.0,
        escape(&start.date().to_string()),
        width - 10.0,
        axis + 14.0,
        escape(&end.date().to_string())
    );
}

fn servers(html: &mut String, view: &StatusView<'_>) {
    html.push_str("<h2>Servers</h2>\n");
    let Some(reports) = view.reports else {
        html.push_str("<p>The agents' reports have not been read yet.</p>\n");
        return;
    };
    let statuses = fleet_status(view.store, reports, view.at);
    if statuses.is_empty() {
        html.push_str("<p>No servers in the topology.</p>\n");
        return;
    }
    html.push_str("<table><tr><th>Server</th><th>Pool</th><th>State</th><th>Missing</th><th>Unexpected</th><th>Report</th></tr>\n");
    for status in statuses {
        let drift = &status.drift;
        let state = match (status.is_reported(), status.is_clean()) {
            (false, _) => "<span class=\"bad\">not reporting</span>",
            (true, true) => "<span class=\"ok\">in step</span>",
            (true, false) => "<span class=\"bad\">drifting</span>",
        };
        let missing: Vec<String> = drift.missing.iter().map(|d| d.thumbprint.to_string()).collect();
        let unexpected: Vec<String> =
            drift.stale.iter().chain(&drift.unexpected).map(ToString::to_string).collect();
        let report = status.report.as_ref().map(|r| when(r.reported_at)).unwrap_or_else(|| "none".into());
        let _ = writeln!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{state}</td><td><code>{}</code></td><td><code>{}</code></td><td>{report}</td></tr>",
            escape(&drift.server),
            escape(&drift.pool),
            missing.join(" "),
            unexpected.join(" ")
        );
    }
    html.push_str("</table>\n");
}

fn partners(html: &mut String, view: &StatusView<'_>) {
    let store = view.store;
    html.push_str("<h2>Partners</h2>\n");
    let mut rows = String::new();
    for view in partner_views(store) {
        let last = view.fetch.map(|f| when(f.fetched_at)).unwrap_or_else(|| "never".into());
        let seen: Vec<String> = view
            .pending
            .iter()
            .map(|p| {
                format!(
                    "{} at {}: {}{}",
                    escape(&p.cert_type.to_string()),
                    escape(&p.scope.to_string()),
                    if p.seen {
                        "<span class=\"ok\">has the next key</span>"
                    } else {
                        "<span class=\"bad\">has not seen the next key</span>"
                    },
                    if p.required { " (the roll waits for it)" } else { "" }
                )
            })
            .collect();
        let seen = if seen.is_empty() { "no roll pending".to_owned() } else { seen.join("<br>") };
        let _ = writeln!(rows, "<tr><td>{}</td><td>{last}</td><td>{seen}</td></tr>", escape(view.name));
    }
    if rows.is_empty() {
        html.push_str("<p>No partners.</p>\n");
    } else {
        html.push_str("<table><tr><th>Partner</th><th>Last fetch</th><th>Pending certificates</th></tr>\n");
        html.push_str(&rows);
        html.push_str("</table>\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_an_empty_store_says_so() {
        assert_eq!(escape("<a href=\"x\">'&'</a>"), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
        let store = Store::for_sip_domain("contoso.com").unwrap();
        let at = OffsetDateTime::from_unix_timestamp(1_796_000_000).unwrap();
        let view =
            StatusView { cluster: "c<1>", store: &store, revision: 7, reports: None, ready: "ready", at };
        let page = render(&view);
        assert!(page.starts_with("<!DOCTYPE html>\n<html lang=\"en\">"));
        assert!(page.contains("<title>certslot: c&lt;1&gt;</title>"));
        assert!(
            page.contains(
                "<p>State at etcd revision 7, shown at 2026-11-30T00:53:20Z. Key server: ready.</p>"
            )
        );
        assert!(page.contains("<p>No certificate is assigned yet.</p>"));
        assert!(page.contains("<p>The agents' reports have not been read yet.</p>"));
        assert!(page.contains("<p>No partners.</p>"));
        assert!(!page.contains("<script"));
    }
}
