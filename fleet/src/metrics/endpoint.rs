//! `/metrics` and `/healthz` over plain HTTP, for an agent's or a coordinator's
//! `--metrics-listen`; the key server adds `/metrics` to its own routes.
//!
//! `prometheus-client` writes the OpenMetrics text format, which Prometheus asks for (its
//! `Accept` header names `application/openmetrics-text`). Other clients get the classic text
//! format (`text/plain; version=0.0.4`), which `promtool check metrics` and older scrapers parse:
//! the two differ, for the metric types used here, only in the names of counter families
//! (OpenMetrics names the family without `_total`, the classic format names it as its samples),
//! the `# UNIT` lines and the final `# EOF`, so [`classic`] rewrites just those lines; written by
//! hand because no maintained crate converts between the two.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::http_server::{Limits, serve};

/// The media type of the OpenMetrics text format.
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// The media type of the classic text format.
const CLASSIC: &str = "text/plain; version=0.0.4; charset=utf-8";

/// `/metrics` of `registry`.
pub(crate) fn metrics_router(registry: Arc<Registry>) -> Router {
    Router::new().route("/metrics", get(move |headers: HeaderMap| encode(registry.clone(), headers)))
}

async fn encode(registry: Arc<Registry>, headers: HeaderMap) -> Response {
    let mut text = String::with_capacity(4096);
    if prometheus_client::encoding::text::encode(&mut text, &registry).is_err() {
        return (StatusCode::INTERNAL_SERVER_ERROR, "the metrics could not be encoded\n").into_response();
    }
    let openmetrics = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("application/openmetrics-text"));
    if openmetrics {
        ([(header::CONTENT_TYPE, OPENMETRICS)], text).into_response()
    } else {
        ([(header::CONTENT_TYPE, CLASSIC)], classic(&text)).into_response()
    }
}

/// The classic text format of `openmetrics` (see the module documentation): counter families
/// named as their `_total` samples, no `# UNIT` lines, no `# EOF`.
fn classic(openmetrics: &str) -> String {
    let counters: std::collections::HashSet<&str> =
        openmetrics.lines().filter_map(|l| l.strip_prefix("# TYPE ")?.strip_suffix(" counter")).collect();
    let mut out = String::with_capacity(openmetrics.len() + 16 * counters.len());
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let renamed = ["# HELP ", "# TYPE "].iter().find_map(|prefix| {
            let rest = line.strip_prefix(prefix)?;
            let (name, tail) = rest.split_once(' ')?;
            counters.contains(name).then(|| format!("{prefix}{name}_total {tail}"))
        });
        match renamed {
            Some(line) => out.push_str(&line),
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

/// Serves `/metrics` of `registry` and `/healthz` on `listener` (plain HTTP) until `stop` is
/// cancelled.
pub async fn serve_metrics(listener: TcpListener, registry: Arc<Registry>, stop: CancellationToken) {
    let router = metrics_router(registry).route("/healthz", get(|| async { "ok\n" }));
    let limits = Limits { connections: 64, deadline: Duration::from_secs(10) };
    serve(listener, None, router, limits, stop).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_classic_format_names_counter_families_as_their_samples() {
        let openmetrics = "# HELP a_seconds How long.\n# TYPE a_seconds gauge\n# UNIT a_seconds seconds\na_seconds 1\n\
                           # HELP b Things done.\n# TYPE b counter\nb_total{kind=\"x\"} 2\n# EOF\n";
        assert_eq!(
            classic(openmetrics),
            "# HELP a_seconds How long.\n# TYPE a_seconds gauge\na_seconds 1\n\
             # HELP b_total Things done.\n# TYPE b_total counter\nb_total{kind=\"x\"} 2\n"
        );
    }
}
