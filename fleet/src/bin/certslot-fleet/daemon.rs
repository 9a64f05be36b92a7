//! `agent`, `coordinator` and `serve`: the commands that run until SIGTERM or Ctrl-C, their logs
//! and their metrics endpoints.
//!
//! Logs go through `tracing` to stdout: one human line per event (`<instant> <LEVEL> <text>
//! kind=...`), or with `--json` one JSON object per line with `timestamp`, `level`, `message`
//! and `kind`. Each alert of a coordinator's step is an event of its own (`kind="alert"`) with
//! its slot, thumbprint and instants as fields, at level ERROR for an expired or critical
//! certificate and WARN for a refused renewal.

use std::io::IsTerminal as _;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use certslot::OffsetDateTime;
use certslot_etcd::{
    AcmeEvent, AcmeTiming, Agent, AgentEvent, AgentMetrics, Alert, CancellationToken, Clock, Cluster,
    Connection, Coordinator, CoordinatorEvent, CoordinatorMetrics, EtcdStore, KeyServer, Registry,
    ServeEvent, ServerTls, StoreMetrics, serve_acme_http01, serve_metrics,
};
use time::format_description::well_known::Rfc3339;

use crate::args::Global;
use crate::output::{Failure, Report};

/// Installs the log subscriber: human lines, or JSON lines with `--json`.
pub fn init_logs(json: bool) {
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stdout)
        .with_target(false)
        .with_ansi(!json && std::io::stdout().is_terminal());
    // A second subscriber cannot be installed; the first one stays, which is what we want.
    let _ = if json { builder.json().flatten_event(true).try_init() } else { builder.try_init() };
}

/// The options of `agent`.
pub struct AgentOptions<'a> {
    pub server: &'a str,
    pub dir: &'a Path,
    pub lease_ttl: Option<Duration>,
    pub resync: Option<Duration>,
    pub file_password: Option<certslot::Password>,
    pub writer_key: certslot_etcd::WriterPublicKey,
    pub metrics_listen: Option<SocketAddr>,
}

/// Runs an agent until SIGTERM or Ctrl-C.
pub async fn agent(store: EtcdStore, global: &Global, options: AgentOptions<'_>) -> Result<(), Failure> {
    let clock = daemon_clock(global);
    let mut agent = Agent::new(store, options.server, options.dir, options.writer_key)
        .map_err(|e| Failure::failed("agent", e))?
        .lease_ttl(options.lease_ttl.unwrap_or(Agent::DEFAULT_LEASE_TTL))
        .resync_every(options.resync.unwrap_or(Agent::DEFAULT_RESYNC))
        .clock(clock);
    if let Some(password) = options.file_password {
        agent = agent.file_password(password);
    }
    let mut registry = Registry::default();
    let metrics = AgentMetrics::register(&mut registry, clock);
    let stop = stop_on_signal();
    metrics_endpoint(options.metrics_listen, registry, &stop).await?;
    agent
        .run(stop, |event| {
            metrics.observe(&event);
            log_agent(&event);
        })
        .await
        .map_err(|e| Failure::failed("agent", e))
}

/// The options of `coordinator`.
pub struct CoordinatorOptions {
    pub id: Option<String>,
    pub lease_ttl: Option<Duration>,
    pub resync: Option<Duration>,
    pub renew: bool,
    pub acme: AcmeTiming,
    pub metrics_listen: Option<SocketAddr>,
}

/// Runs a coordinator until SIGTERM or Ctrl-C.
pub async fn coordinator(
    store: EtcdStore,
    global: &Global,
    options: CoordinatorOptions,
) -> Result<Report, Failure> {
    let clock = daemon_clock(global);
    let mut registry = Registry::default();
    let metrics = CoordinatorMetrics::register(&mut registry, clock);
    let store = store.with_metrics(StoreMetrics::register(&mut registry));
    let stop = stop_on_signal();
    metrics_endpoint(options.metrics_listen, registry, &stop).await?;
    Coordinator::new(store, options.id.unwrap_or_else(default_id))
        .lease_ttl(options.lease_ttl.unwrap_or(Coordinator::DEFAULT_LEASE_TTL))
        .resync_every(options.resync.unwrap_or(Coordinator::DEFAULT_RESYNC))
        .renew(options.renew)
        .acme_timing(options.acme)
        .clock(clock)
        .run(stop, |event| {
            metrics.observe(&event);
            log_coordinator(&event);
        })
        .await;
    Ok(Report::empty())
}

/// Serves `registry` at `listen`'s /metrics until `stop`, when an address is given.
async fn metrics_endpoint(
    listen: Option<SocketAddr>,
    registry: Registry,
    stop: &CancellationToken,
) -> Result<(), Failure> {
    let Some(listen) = listen else { return Ok(()) };
    let listener = bind(listen).await?;
    tracing::info!(kind = "metrics-listening", "serving /metrics on {listen}");
    tokio::spawn(serve_metrics(listener, Arc::new(registry), stop.clone()));
    Ok(())
}

async fn bind(listen: SocketAddr) -> Result<tokio::net::TcpListener, Failure> {
    tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| Failure::failed("listen", format!("cannot listen on {listen}: {e}")))
}

/// Runs a key server until SIGTERM or Ctrl-C.
pub async fn serve(
    server: KeyServer,
    global: &Global,
    listen: std::net::SocketAddr,
    tls: Option<ServerTls>,
    acme_http: Option<(SocketAddr, Connection, Cluster)>,
) -> Result<(), Failure> {
    let listener = bind(listen).await?;
    let stop = stop_on_signal();
    if let Some((listen, conn, cluster)) = acme_http {
        let listener = bind(listen).await?;
        tracing::info!(kind = "acme-http-listening", "answering ACME http-01 challenges on {listen}");
        tokio::spawn(serve_acme_http01(listener, conn, cluster, stop.clone()));
    }
    server
        .clock(daemon_clock(global))
        .run(listener, tls, stop, |event| log_serve(&event))
        .await
        .map_err(|e| Failure::failed("serve", e))
}

/// With `--now`, a daemon's clock starts there and runs on.
fn daemon_clock(global: &Global) -> Clock {
    global.now.map_or(Clock::System, Clock::starting_at)
}

/// This host and process, for the coordinator's id.
fn default_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "coordinator".into());
    format!("{host}:{}", std::process::id())
}

/// A token cancelled on SIGTERM or Ctrl-C.
fn stop_on_signal() -> CancellationToken {
    let stop = CancellationToken::new();
    let cancel = stop.clone();
    tokio::spawn(async move {
        signal().await;
        tracing::info!(kind = "signal", "stopping on a signal");
        cancel.cancel();
    });
    stop
}

/// Completes on SIGTERM or Ctrl-C.
async fn signal() {
    #[cfg(unix)]
    if let Ok(mut term) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        return;
    }
    let _ = tokio::signal::ctrl_c().await;
}

fn log_agent(event: &AgentEvent) {
    let kind = match event {
        AgentEvent::Started { .. } => "started",
        AgentEvent::LeaseGranted { .. } => "lease-granted",
        AgentEvent::Synced { .. } => "synced",
        AgentEvent::Reported { .. } => "reported",
        AgentEvent::Stopped => "stopped",
        AgentEvent::LeaseLost { .. } => return tracing::warn!(kind = "lease-lost", "{event}"),
        AgentEvent::DeliveryRejected { .. } => return tracing::warn!(kind = "delivery-rejected", "{event}"),
        AgentEvent::StaleDelivery { .. } => return tracing::warn!(kind = "delivery-stale", "{event}"),
        AgentEvent::NoDelivery => return tracing::warn!(kind = "no-delivery", "{event}"),
        AgentEvent::CannotHold { .. } => return tracing::error!(kind = "cannot-hold", "{event}"),
        AgentEvent::FileError { .. } => return tracing::error!(kind = "file-error", "{event}"),
        AgentEvent::ReportUnwritable { .. } => return tracing::warn!(kind = "report-unwritable", "{event}"),
        AgentEvent::Unavailable { .. } => return tracing::warn!(kind = "unavailable", "{event}"),
        _ => "other",
    };
    tracing::info!(kind, "{event}");
}

fn log_serve(event: &ServeEvent) {
    let kind = match event {
        ServeEvent::Listening { .. } => "listening",
        ServeEvent::Published { .. } => "published",
        ServeEvent::TlsReloaded => "tls-reloaded",
        ServeEvent::FetchRecorded { .. } => "fetch-recorded",
        ServeEvent::FetchUnrecorded { .. } => return tracing::warn!(kind = "fetch-unrecorded", "{event}"),
        ServeEvent::Stopped => "stopped",
        ServeEvent::Refused { .. } => return tracing::error!(kind = "state-refused", "{event}"),
        ServeEvent::NoState => return tracing::warn!(kind = "no-state", "{event}"),
        ServeEvent::Unavailable { .. } => return tracing::warn!(kind = "unavailable", "{event}"),
        ServeEvent::TlsReloadFailed { .. } => return tracing::error!(kind = "tls-reload-failed", "{event}"),
        _ => "other",
    };
    tracing::info!(kind, "{event}");
}

fn log_coordinator(event: &CoordinatorEvent) {
    let kind = match event {
        CoordinatorEvent::Leading { .. } => "leading",
        CoordinatorEvent::Following { .. } => "following",
        CoordinatorEvent::Stopped => "stopped",
        CoordinatorEvent::Stepped(step) => {
            tracing::info!(kind = "stepped", "{event}");
            step.alerts.iter().for_each(log_alert);
            return;
        }
        CoordinatorEvent::Acme(AcmeEvent::Alert(alert)) => return log_alert(alert),
        CoordinatorEvent::Acme(AcmeEvent::Cancelled { .. }) => {
            return tracing::warn!(kind = "acme-cancelled", "{event}");
        }
        CoordinatorEvent::Acme(_) => "acme",
        CoordinatorEvent::LostLeadership => return tracing::warn!(kind = "lost-leadership", "{event}"),
        CoordinatorEvent::DeliveriesRepaired { .. } => {
            return tracing::warn!(kind = "deliveries-repaired", "{event}");
        }
        CoordinatorEvent::StepFailed { .. } => return tracing::warn!(kind = "step-failed", "{event}"),
        CoordinatorEvent::Unavailable { .. } => return tracing::warn!(kind = "unavailable", "{event}"),
        _ => "other",
    };
    tracing::info!(kind, "{event}");
}

/// One alert as an event with its slot and instants as fields.
fn log_alert(alert: &Alert) {
    let (cert_type, scope) = alert.slot();
    let (cert_type, scope, thumbprint) =
        (cert_type.to_string(), scope.to_string(), alert.thumbprint().to_string());
    match alert {
        Alert::RenewalRefused { at, reason, .. } => tracing::warn!(
            kind = "alert",
            alert = alert.kind(),
            cert_type,
            scope,
            thumbprint,
            at = rfc3339(*at),
            reason = reason.as_str(),
            "ALERT {alert}"
        ),
        Alert::Critical { expires_at, emergency_at, .. } => tracing::error!(
            kind = "alert",
            alert = alert.kind(),
            cert_type,
            scope,
            thumbprint,
            expires_at = rfc3339(*expires_at),
            emergency_at = rfc3339(*emergency_at),
            "ALERT {alert}"
        ),
        Alert::AcmeFailing { attempts, at, retry_at, critical, reason, .. } => {
            // The same fields at ERROR once critical, else at WARN (a level is part of a
            // callsite, so it cannot be a variable).
            macro_rules! acme_failing {
                ($level:ident) => {
                    tracing::$level!(
                        kind = "alert",
                        alert = alert.kind(),
                        cert_type,
                        scope,
                        thumbprint,
                        attempts,
                        at = rfc3339(*at),
                        retry_at = rfc3339(*retry_at),
                        critical,
                        reason = reason.as_str(),
                        "ALERT {alert}"
                    )
                };
            }
            match critical {
                true => acme_failing!(error),
                false => acme_failing!(warn),
            }
        }
        Alert::PartnerGateYielded { partners, at, .. } => tracing::error!(
            kind = "alert",
            alert = alert.kind(),
            cert_type,
            scope,
            thumbprint,
            partners = partners.join(","),
            at = rfc3339(*at),
            "ALERT {alert}"
        ),
        Alert::Expired { expired_at, .. } => tracing::error!(
            kind = "alert",
            alert = alert.kind(),
            cert_type,
            scope,
            thumbprint,
            expired_at = rfc3339(*expired_at),
            "ALERT {alert}"
        ),
        _ => tracing::warn!(
            kind = "alert",
            alert = alert.kind(),
            cert_type,
            scope,
            thumbprint,
            "ALERT {alert}"
        ),
    }
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_else(|_| t.to_string())
}
