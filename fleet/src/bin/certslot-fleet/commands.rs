//! The commands: each admin write is one compare-and-swap update; reads load the state without
//! its private keys (no password needed); `agent` and `coordinator` run until SIGTERM or
//! Ctrl-C.

use std::collections::BTreeSet;
use std::fmt;

use base64ct::Encoding as _;
use certslot::rand_core::UnwrapErr;
use certslot::{
    CertType, ImportOptions, OffsetDateTime, Outcome, Pfx, RollOptions, Scope, SlotError, Store, TypeConfig,
    obtain::{KeySpec, SelfSignedIssuer},
    publish::MetadataOptions,
    rollover::RenewOptions,
    store::SavedState,
    validate::{Report as PolicyReport, Rule as _},
};
use certslot_etcd::AcmeTiming;
use certslot_etcd::acme::{AcmeConfig, ChallengeKind, TsigKey};
use certslot_etcd::{
    AccessPlan, Agent, AgentPublicKey, Clock, Cluster, ConnectOptions, Connection, EtcdStore, KeyServer,
    PartnerToken, PartnerView, PasswordSource, ServerTls, Tls, Updated, WriterKeys, WriterPublicKey,
    fetch_records, fleet_status, live_reports, partner_views, setup_access, step, waiting_rolls,
};
use getrandom::SysRng;
use time::Duration;
use zeroize::Zeroizing;

use crate::args::{Access, Command, Global, OneSlot, Partners, SlotFilter, Topology, password_source};
use crate::daemon;
use crate::output::{
    AccessJson, AdvanceJson, AgentKeyJson, DriftJson, EnrolJson, Failure, Finding, GetJson, ImportJson,
    InitJson, PartnerJson, PartnerRowJson, PartnersJson, PlanJson, PoolJson, RecordedJson, RenewJson, Report,
    RestoreJson, ServerJson, StatusJson, TimelineJson, TopologyJson, UpgradeJson, WriteJson, WriterKeyJson,
    events_text, human, slot_text, thumbprint_list,
};

/// The connection's options from the command line: TLS from the CA, certificate and key files.
fn connect_options(global: &Global) -> Result<ConnectOptions, Failure> {
    let given = &global.etcd_tls;
    let mut options = ConnectOptions::default().insecure_plaintext(given.insecure_plaintext);
    if let Some(ca) = &given.ca_file {
        let tls = Tls::from_files(ca, given.cert_file.as_deref(), given.key_file.as_deref())
            .map_err(|e| Failure::etcd(e.into()))?;
        options = options.tls(match &given.server_name {
            Some(name) => tls.server_name(name.clone()),
            None => tls,
        });
    }
    Ok(options)
}

/// Runs a command.
pub async fn run(global: Global, command: Command) -> Result<Report, Failure> {
    if let Command::AgentKey { dir } = &command {
        return agent_key(dir);
    }
    if let Command::WriterKey = &command {
        return writer_key(&global).await;
    }
    let cluster = global.cluster.clone();
    let conn =
        Connection::connect(&global.endpoints, connect_options(&global)?).await.map_err(Failure::etcd)?;
    let ctx = Context { conn, cluster, global };
    let clock = ctx.global.now.map_or(Clock::System, Clock::Fixed);
    match command {
        Command::Init { sip_domain, staged } => ctx.init(&sip_domain, &staged).await,
        Command::Configure {
            cert_type,
            staged,
            require_partners,
            no_partner_gate,
            renewal_window,
            no_renewal_window,
            acme,
        } => {
            let acme_config = acme_config(&acme)?;
            let report = ctx
                .write(|s| {
                    let mut config: TypeConfig = s.type_config(&cert_type).into_owned();
                    if let Some(staged) = staged {
                        config = config.require_staged(staged);
                    }
                    if no_partner_gate || !require_partners.is_empty() {
                        config = config.require_fetched_by(&require_partners);
                    }
                    if no_renewal_window || renewal_window.is_some() {
                        let rollover = config.get_rollover().renewal_window(renewal_window);
                        config = config.rollover(rollover);
                    }
                    s.configure_type(cert_type.clone(), config)
                })
                .await?;
            if acme_config.is_none() && !acme.no_acme {
                return Ok(report);
            }
            let updated =
                ctx.writer()?.set_acme(&cert_type, acme_config.as_ref()).await.map_err(Failure::update)?;
            let text = match &acme_config {
                Some(config) => format!(
                    "{cert_type} renews through the ACME CA at {} ({})\n",
                    config.directory(),
                    config.challenge()
                ),
                None => format!("{cert_type} renews without ACME\n"),
            };
            let json = WriteJson::of(&updated, &[]);
            Ok(report.then(Report::new(text, &json)?))
        }
        Command::Partners(Partners::Show) => ctx.partners(clock).await,
        Command::Partners(Partners::Add { name, client_cert }) => {
            ctx.add_partner(&name, client_cert.as_deref()).await
        }
        Command::Partners(Partners::Remove { name }) => {
            let updated = ctx.writer()?.remove_partner(&name).await.map_err(Failure::update)?;
            let json = WriteJson::of(&updated, &[]);
            Report::new(format!("removed partner {}\n", name.to_ascii_lowercase()), &json)
        }
        Command::Topology(Topology::Show) => ctx.topology().await,
        Command::Access(Access::Setup {
            admins,
            coordinators,
            readers,
            key_servers,
            agents,
            enable_auth,
        }) => {
            let plan = AccessPlan {
                admins: admins.into_iter().collect(),
                coordinators: coordinators.into_iter().collect(),
                readers: readers.into_iter().collect(),
                key_servers: key_servers.into_iter().collect(),
                agents: agents.into_iter().collect(),
            };
            ctx.access(&plan, enable_auth).await
        }
        Command::Topology(Topology::Enrol { server, agent_key }) => ctx.enrol(&server, &agent_key).await,
        Command::Topology(Topology::AddServer { server, pool, agent_key: Some(agent_key) }) => {
            let report = ctx.write(|s| s.add_server(&server, &pool)).await?;
            let enrolled = ctx.enrol(&server, &agent_key).await?;
            Ok(report.then(enrolled))
        }
        Command::Topology(t) => {
            ctx.write(|s| match &t {
                Topology::AddSite { site } => s.add_site(site),
                Topology::AddPool { pool, site } => s.add_pool(pool, site),
                Topology::AddServer { server, pool, .. } => s.add_server(server, pool),
                Topology::RemoveSite { site } => s.remove_site(site),
                Topology::RemovePool { pool } => s.remove_pool(pool),
                Topology::RemoveServer { server } => s.remove_server(server),
                Topology::Show | Topology::Enrol { .. } => Ok(Outcome::default()),
            })
            .await
        }
        Command::Import { file, slot, pfx_password_env, pfx_password_file, ignore_policy } => {
            let pfx_password = password_source(pfx_password_env, pfx_password_file);
            ctx.import(&file, &slot.cert_type, &slot.scope, pfx_password, ignore_policy, clock).await
        }
        Command::Set { slot, thumbprint, switches } => {
            let options = roll_options(switches.force, switches.ignore_policy);
            ctx.write(|s| s.set(&slot.types, &slot.scope, &thumbprint, clock.instant_for(s), options)).await
        }
        Command::Roll { slot, thumbprint, effective, switches } => {
            let options = roll_options(switches.force, switches.ignore_policy);
            ctx.write(|s| {
                s.roll(&slot.types, &slot.scope, &thumbprint, effective, clock.instant_for(s), options)
            })
            .await
        }
        Command::CancelRoll(slot) => {
            ctx.write_one(&slot, |s, t, scope, at| s.cancel_roll(t, scope, at), clock).await
        }
        Command::RemovePrevious(slot) => {
            ctx.write_one(&slot, |s, t, scope, at| s.remove_previous(t, scope, at), clock).await
        }
        Command::Rollback(slot) => {
            ctx.write_one(&slot, |s, t, scope, at| s.rollback(t, scope, at), clock).await
        }
        Command::Advance => ctx.advance(clock).await,
        Command::Get(SlotFilter { cert_type, scope }) => ctx.get(cert_type, &scope).await,
        Command::Drift => ctx.drift(clock).await,
        Command::Timeline { filter: SlotFilter { cert_type, scope }, days } => {
            ctx.timeline(cert_type, &scope, days, clock).await
        }
        Command::Plan => ctx.plan(clock).await,
        Command::Renew { slot, cancel: true, .. } => {
            ctx.write_one(&slot, |s, t, scope, at| s.cancel_renewal(t, scope, at), clock).await
        }
        Command::Renew { slot, force, cancel: false } => ctx.renew(&slot, force, clock).await,
        Command::Jwks(slot) => ctx.jwks(&slot, clock).await,
        Command::Metadata { slot, exchange } => ctx.metadata(&slot, exchange, clock).await,
        Command::Export => ctx.export().await,
        Command::Upgrade => ctx.upgrade().await,
        Command::WriterKey => writer_key(&ctx.global).await,
        Command::Restore { file } => ctx.restore(&file).await,
        Command::Agent {
            server,
            dir,
            lease_ttl,
            resync,
            file_password_env,
            file_password_file,
            writer_key,
            metrics_listen,
        } => {
            let writer_key: WriterPublicKey =
                writer_key.parse().map_err(|e| Failure::failed("writer-key", e))?;
            // The agent needs no fleet password; given one, it protects the files it writes.
            let store = match ctx.global.password.as_ref() {
                Some(source) => EtcdStore::new(
                    ctx.conn.clone(),
                    ctx.cluster.clone(),
                    Some(source.read().map_err(|e| Failure::failed("password", e))?),
                ),
                None => ctx.reader(),
            };
            let file_password = match password_source(file_password_env, file_password_file) {
                Some(source) => Some(source.read().map_err(|e| Failure::failed("password", e))?),
                None => None,
            };
            let options = daemon::AgentOptions {
                server: &server,
                dir: &dir,
                lease_ttl,
                resync,
                file_password,
                writer_key,
                metrics_listen,
            };
            daemon::agent(store, &ctx.global, options).await?;
            Ok(Report::empty())
        }
        Command::AgentKey { dir } => agent_key(&dir),
        Command::Serve {
            listen,
            tls_cert,
            tls_key,
            client_ca,
            tls_reload,
            plain_http: _,
            writer_key,
            cert_type,
            exchange,
            metadata_form,
            fetch_record_every,
            acme_http_listen,
        } => {
            let writer_key: WriterPublicKey =
                writer_key.parse().map_err(|e| Failure::failed("writer-key", e))?;
            let tls = match tls_cert.as_deref().zip(tls_key.as_deref()) {
                Some((cert, key)) => Some(
                    ServerTls::with_client_ca(cert, key, client_ca.as_deref())
                        .map_err(|e| Failure::failed("server-tls", e))?,
                ),
                None => None,
            };
            let metadata = if exchange { MetadataOptions::exchange() } else { MetadataOptions::lync() };
            let server = KeyServer::new(ctx.conn.clone(), ctx.cluster.clone(), writer_key)
                .signing_type(cert_type)
                .metadata(metadata.form(metadata_form))
                .tls_reload_every(tls_reload.unwrap_or(KeyServer::DEFAULT_TLS_RELOAD))
                .fetch_record_every(fetch_record_every.unwrap_or(KeyServer::DEFAULT_FETCH_RECORD));
            let acme_http = acme_http_listen.map(|listen| (listen, ctx.conn.clone(), ctx.cluster.clone()));
            daemon::serve(server, &ctx.global, listen, tls, acme_http).await?;
            Ok(Report::empty())
        }
        Command::Coordinator {
            id,
            lease_ttl,
            resync,
            renew,
            acme_retry_cap,
            acme_alert_after,
            metrics_listen,
        } => {
            let store = ctx.writer()?;
            let defaults = AcmeTiming::default();
            let acme = AcmeTiming {
                retry_cap: acme_retry_cap.unwrap_or(defaults.retry_cap),
                alert_after: acme_alert_after.unwrap_or(defaults.alert_after),
                ..defaults
            };
            let options = daemon::CoordinatorOptions { id, lease_ttl, resync, renew, acme, metrics_listen };
            daemon::coordinator(store, &ctx.global, options).await
        }
    }
}

/// `configure`'s ACME settings, read from their files; `None` when none are given.
fn acme_config(args: &crate::args::AcmeArgs) -> Result<Option<AcmeConfig>, Failure> {
    let (Some(directory), Some(root)) = (&args.acme_directory, &args.acme_root) else { return Ok(None) };
    let read = |path: &std::path::Path| {
        std::fs::read_to_string(path)
            .map(Zeroizing::new)
            .map_err(|e| Failure::failed("acme", format!("cannot read {}: {e}", path.display())))
    };
    let roots = read(root)?;
    let mut config = AcmeConfig::new(directory, &roots).map_err(|e| Failure::failed("acme", e))?;
    match (args.acme_challenge, args.dns_server, &args.dns_zone, &args.tsig_key_file) {
        (ChallengeKind::Dns01, Some(server), Some(zone), Some(file)) => {
            let key = TsigKey::from_bind_key_file(&read(file)?).map_err(|e| Failure::failed("acme", e))?;
            config = config.dns01(server, zone, key).map_err(|e| Failure::failed("acme", e))?;
        }
        (ChallengeKind::Dns01, ..) => {
            return Err(Failure::failed("acme", "dns-01 needs --dns-server, --dns-zone and --tsig-key-file"));
        }
        (_, None, None, None) => {}
        _ => {
            return Err(Failure::failed(
                "acme",
                "--dns-server, --dns-zone and --tsig-key-file go with --acme-challenge dns-01",
            ));
        }
    }
    for contact in &args.acme_contact {
        config = config.contact(contact);
    }
    if let (Some(kid), Some(file)) = (&args.acme_eab_kid, &args.acme_eab_key_file) {
        let text = read(file)?;
        let key = base64ct::Base64UrlUnpadded::decode_vec(text.trim().trim_end_matches('='))
            .map(Zeroizing::new)
            .map_err(|_| {
                Failure::failed("acme", format!("{} does not hold a base64url key", file.display()))
            })?;
        config = config.external_account(kid, key);
    }
    Ok(Some(config))
}

/// `writer-key`: the writers' public key, derived from the password.
async fn writer_key(global: &Global) -> Result<Report, Failure> {
    let source = global.password.as_ref().ok_or_else(|| {
        Failure::failed(
            "password-required",
            "this command needs the fleet password: --password-env VAR, --password-file FILE or CERTSLOT_PASSWORD",
        )
    })?;
    let password = source.read().map_err(|e| Failure::failed("password", e))?;
    let cluster = global.cluster.name().to_owned();
    let keys = tokio::task::spawn_blocking(move || WriterKeys::derive(&password, &cluster))
        .await
        .map_err(|e| Failure::failed("writer-key", e))?;
    let (public, fingerprint) = (keys.public().to_string(), keys.public().fingerprint());
    let text = format!("{public}\n{fingerprint}\n");
    Report::new(
        text,
        &WriterKeyJson { cluster: global.cluster.name(), public_key: &public, fingerprint: &fingerprint },
    )
}

/// `agent-key`: the agent's public key and fingerprint, the key pair made first if missing.
fn agent_key(dir: &std::path::Path) -> Result<Report, Failure> {
    let (key, made) = Agent::load_key(dir).map_err(|e| Failure::failed("agent-key", e))?;
    let (public, fingerprint) = (key.public().to_string(), key.public().fingerprint());
    let text = format!("{public}\n{fingerprint}{}\n", if made { " (made now)" } else { "" });
    Report::new(text, &AgentKeyJson { public_key: &public, fingerprint: &fingerprint, made })
}

struct Context {
    conn: Connection,
    cluster: Cluster,
    global: Global,
}

/// Why an import was refused.
enum ImportRefusal {
    Slot(SlotError),
    Policy { cert_type: CertType, report: PolicyReport },
}

impl fmt::Display for ImportRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Slot(e) => e.fmt(f),
            Self::Policy { cert_type, report } => {
                write!(
                    f,
                    "the certificate breaks the {cert_type} policy (--ignore-policy to import it anyway): {report}"
                )
            }
        }
    }
}

impl Context {
    /// The state with its password, for writes.
    fn writer(&self) -> Result<EtcdStore, Failure> {
        let source = self.global.password.as_ref().ok_or_else(|| {
            Failure::failed(
                "password-required",
                "this command needs the password of the state's private keys: --password-env VAR, --password-file FILE or CERTSLOT_PASSWORD",
            )
        })?;
        let password = source.read().map_err(|e| Failure::failed("password", e))?;
        Ok(EtcdStore::new(self.conn.clone(), self.cluster.clone(), Some(password)))
    }

    /// The state without keys, for reads.
    fn reader(&self) -> EtcdStore {
        EtcdStore::new(self.conn.clone(), self.cluster.clone(), None)
    }

    async fn read(&self) -> Result<Store, Failure> {
        Ok(self.reader().load().await.map_err(Failure::store)?.store)
    }

    async fn write(
        &self,
        op: impl FnMut(&mut Store) -> Result<Outcome, SlotError>,
    ) -> Result<Report, Failure> {
        let updated = self.writer()?.update(op).await.map_err(Failure::update)?;
        outcome_report(&updated)
    }

    async fn write_one(
        &self,
        slot: &OneSlot,
        op: impl Fn(&mut Store, &CertType, &Scope, OffsetDateTime) -> Result<Outcome, SlotError>,
        clock: Clock,
    ) -> Result<Report, Failure> {
        self.write(|s| {
            let at = clock.instant_for(s);
            op(s, &slot.cert_type, &slot.scope, at)
        })
        .await
    }

    async fn init(&self, sip_domain: &str, staged: &[CertType]) -> Result<Report, Failure> {
        let mut store = Store::for_sip_domain(sip_domain).map_err(|e| Failure::failed("refused", e))?;
        for cert_type in staged {
            let config = store.type_config(cert_type).into_owned().require_staged(true);
            store.configure_type(cert_type.clone(), config).map_err(|e| Failure::failed("refused", e))?;
        }
        let loaded = self.writer()?.create(&store).await.map_err(Failure::store)?;
        let names: Vec<String> = staged.iter().map(ToString::to_string).collect();
        let text = format!(
            "created the state of cluster {} at {} (SIP domain {sip_domain}; staged types: {})\n",
            self.cluster,
            self.cluster.state_key(),
            if names.is_empty() { "none".into() } else { names.join(", ") }
        );
        Report::new(
            text,
            &InitJson {
                cluster: self.cluster.name(),
                key: self.cluster.state_key(),
                revision: loaded.store.revision(),
                mod_revision: loaded.mod_revision,
                staged,
            },
        )
    }

    async fn import(
        &self,
        file: &std::path::Path,
        cert_type: &CertType,
        scope: &Scope,
        pfx_password: Option<PasswordSource>,
        ignore_policy: bool,
        clock: Clock,
    ) -> Result<Report, Failure> {
        let writer = self.writer()?;
        let password = match &pfx_password {
            Some(source) => source.read().map_err(|e| Failure::failed("password", e))?,
            None => writer
                .password()
                .cloned()
                .ok_or_else(|| Failure::failed("password-required", "no PFX password"))?,
        };
        let bytes = std::fs::read(file)
            .map_err(|e| Failure::failed("file", format!("cannot read {}: {e}", file.display())))?;
        // Only a file that proves its password (a MAC, an encrypted key): one without opens
        // under any password, so it proves nothing about who made it.
        let pfx = Pfx::import(&bytes, &password, ImportOptions::default().require_protection(true))
            .map_err(|e| Failure::failed("pfx", format!("{}: {e}", file.display())))?;
        let leaf = pfx.leaf().cloned().ok_or_else(|| {
            Failure::failed("pfx", format!("{}: no certificate for the private key", file.display()))
        })?;
        let updated = writer
            .update(|s| {
                let known = match scope {
                    Scope::Global => true,
                    Scope::Site(site) => s.topology().sites().any(|x| x == site.as_ref()),
                    Scope::Pool(pool) => s.topology().pools().any(|(x, _)| x == pool.as_ref()),
                };
                if !known {
                    let (kind, name) = match scope {
                        Scope::Site(n) => ("site", n.to_string()),
                        Scope::Pool(n) => ("pool", n.to_string()),
                        Scope::Global => ("scope", "global".into()),
                    };
                    return Err(ImportRefusal::Slot(SlotError::UnknownTopology { kind, name }));
                }
                let report = s.type_config(cert_type).get_policy().check(&leaf, clock.instant_for(s));
                if !report.violations.is_empty() && !ignore_policy {
                    return Err(ImportRefusal::Policy { cert_type: cert_type.clone(), report });
                }
                let thumbprint = s.add_pfx(pfx.clone()).map_err(ImportRefusal::Slot)?;
                Ok((thumbprint, report))
            })
            .await
            .map_err(Failure::update)?;
        let (thumbprint, report) = &updated.value;
        let warnings: Vec<String> = report
            .violations
            .iter()
            .map(ToString::to_string)
            .chain(report.warnings.iter().map(ToString::to_string))
            .collect();
        let text = format!(
            "imported {thumbprint} ({}), valid {} to {}, for {cert_type} at {scope}; revision {}\n{}",
            leaf.subject(),
            human(leaf.not_before()),
            human(leaf.not_after()),
            updated.revision,
            warnings.iter().map(|w| format!("  note: {w}\n")).collect::<String>()
        );
        Report::new(
            text,
            &ImportJson {
                thumbprint: *thumbprint,
                subject: leaf.subject().to_string(),
                not_before: leaf.not_before(),
                not_after: leaf.not_after(),
                cert_type,
                scope,
                violations: report
                    .violations
                    .iter()
                    .map(|v| Finding { code: v.code(), message: v.to_string() })
                    .collect(),
                warnings: report
                    .warnings
                    .iter()
                    .map(|w| Finding { code: w.code(), message: w.to_string() })
                    .collect(),
                revision: updated.revision,
                mod_revision: updated.mod_revision,
            },
        )
    }

    async fn advance(&self, clock: Clock) -> Result<Report, Failure> {
        let writer = self.writer()?;
        let reports = live_reports(&self.conn, &self.cluster).await.map_err(Failure::etcd)?;
        let fetches = fetch_records(&self.conn, &self.cluster).await.map_err(Failure::etcd)?;
        let updated = writer
            .update(|s| step(s, &reports, &fetches, &clock, true, None))
            .await
            .map_err(Failure::update)?;
        let step = &updated.value;
        let mut text = format!("advanced to {}; revision {}\n", human(step.at), updated.revision);
        for (server, held) in &step.recorded {
            text += &format!("  recorded {server} holding [{}]\n", thumbprint_list(held));
        }
        if step.recorded.is_empty() && step.events.is_empty() {
            text += "  (nothing to record, nothing due)\n";
        }
        text += &events_text(&step.events);
        Report::new(
            text,
            &AdvanceJson {
                at: step.at,
                revision: updated.revision,
                written: updated.written,
                recorded: step
                    .recorded
                    .iter()
                    .map(|(server, thumbprints)| RecordedJson { server, thumbprints })
                    .collect(),
                events: &step.events,
                next_due: step.next_due,
            },
        )
    }

    async fn get(&self, cert_type: Option<CertType>, scope: &Scope) -> Result<Report, Failure> {
        let store = self.read().await?;
        let types: BTreeSet<CertType> = match cert_type {
            Some(t) => [t].into(),
            None => store.slots().map(|(t, _, _)| t.clone()).collect(),
        };
        let views: Vec<_> = types.iter().filter_map(|t| store.get(t, scope)).collect();
        let text = if views.is_empty() {
            format!("no certificate assigned at {scope}\n")
        } else {
            views.iter().map(slot_text).collect::<Vec<_>>().join("\n")
        };
        Report::new(text, &GetJson { revision: store.revision(), slots: &views })
    }

    async fn drift(&self, clock: Clock) -> Result<Report, Failure> {
        let store = self.read().await?;
        let reports = live_reports(&self.conn, &self.cluster).await.map_err(Failure::etcd)?;
        let at = clock.instant_for(&store);
        let servers = fleet_status(&store, &reports, at);
        let waiting = waiting_rolls(&store, at);
        let mut text = String::new();
        for s in &servers {
            let state = match (&s.report, s.is_clean()) {
                (None, _) => format!(
                    "UNREPORTED (no live report; last recorded {})",
                    s.recorded_at.map_or("never".into(), human)
                ),
                (Some(_), true) => "in step".into(),
                (Some(_), false) => "drifted".into(),
            };
            let drift = &s.drift;
            text += &format!("{:<24} {:<24} {state}\n", drift.server, drift.pool);
            if !drift.missing.is_empty() {
                let missing: Vec<String> = drift
                    .missing
                    .iter()
                    .map(|d| format!("{} ({} {:?})", d.thumbprint, d.cert_type, d.role))
                    .collect();
                text += &format!("  missing    [{}]\n", missing.join(", "));
            }
            if !drift.stale.is_empty() {
                text += &format!("  stale      [{}]\n", thumbprint_list(&drift.stale));
            }
            if !drift.unexpected.is_empty() {
                text += &format!("  unexpected [{}]\n", thumbprint_list(&drift.unexpected));
            }
        }
        for w in &waiting {
            let why = if w.waiting_for.is_empty() {
                "due; the coordinator applies it".to_owned()
            } else {
                format!("blocked; not yet on {}", w.waiting_for.join(", "))
            };
            text += &format!(
                "roll of {} ({} at {}), effective {}: {why}\n",
                w.thumbprint,
                w.cert_type,
                w.scope,
                human(w.effective_at)
            );
        }
        if text.is_empty() {
            text = "no servers in the topology\n".into();
        }
        let servers: Vec<StatusJson<'_>> = servers.iter().map(StatusJson::of).collect();
        Report::new(text, &DriftJson { at, revision: store.revision(), servers, waiting_rolls: &waiting })
    }

    async fn timeline(
        &self,
        cert_type: Option<CertType>,
        scope: &Scope,
        days: u32,
        clock: Clock,
    ) -> Result<Report, Failure> {
        let store = self.read().await?;
        let from = clock.instant_for(&store);
        let to = from.saturating_add(Duration::days(i64::from(days)));
        let entries = match &cert_type {
            Some(t) => store.timeline(t, scope, from, to),
            None => store.timeline_all(from, to),
        };
        let text = if entries.is_empty() {
            format!("no change between {} and {}\n", human(from), human(to))
        } else {
            entries.iter().map(|e| format!("{}  {}\n", human(e.at), e.event)).collect()
        };
        Report::new(text, &TimelineJson { from, to, entries: &entries })
    }

    async fn plan(&self, clock: Clock) -> Result<Report, Failure> {
        let store = self.read().await?;
        let at = clock.instant_for(&store);
        let actions = certslot::rollover::plan(&store, at);
        let next = certslot::rollover::next_plan_due(&store);
        let mut text: String = actions.iter().map(|a| format!("{a}\n")).collect();
        if actions.is_empty() {
            text = format!("nothing to do at {}\n", human(at));
        }
        text += &match next {
            Some(t) => format!("the plan next changes at {}\n", human(t)),
            None => "the plan does not change with time\n".to_owned(),
        };
        Report::new(text, &PlanJson { at, next_plan_due: next, actions: &actions })
    }

    async fn renew(&self, slot: &OneSlot, force: bool, clock: Clock) -> Result<Report, Failure> {
        // The key is made once, off the async threads, and handed to every attempt: a CAS
        // conflict reruns the renewal, not the key generation.
        let writer = self.writer()?;
        let store = self.read().await?;
        let spec = store
            .slot_at(&slot.cert_type, &slot.scope)
            .and_then(|s| s.current())
            .and_then(|current| store.inventory().get(&current.thumbprint))
            .and_then(|stored| KeySpec::of_public_key(&stored.certificate.public_key().ok()?));
        let key = match spec {
            Some(spec) => Some(
                tokio::task::spawn_blocking(move || spec.generate(&mut UnwrapErr(SysRng)))
                    .await
                    .map_err(|e| Failure::failed("renew", e))?
                    .map_err(|e| Failure::failed("renew", e))?,
            ),
            // No current certificate, or a key certslot cannot make: renew() says why.
            None => None,
        };
        let updated = writer
            .update(|s| {
                let at = clock.instant_for(s);
                let mut issuer = SelfSignedIssuer::new(UnwrapErr(SysRng)).with_keys(key.clone());
                let options = match force {
                    true => RenewOptions::default().force(),
                    false => RenewOptions::default(),
                };
                certslot::rollover::renew(s, &slot.cert_type, &slot.scope, &mut issuer, at, options)
            })
            .await
            .map_err(Failure::update)?;
        let renewal = &updated.value;
        let text = format!(
            "revision {}\nrenewed: {} rolls in at {}{}\n{}",
            updated.revision,
            renewal.thumbprint,
            human(renewal.effective_at),
            if renewal.shortened { " (shortened: the renewal came late)" } else { "" },
            events_text(&renewal.outcome.events)
        );
        Report::new(
            text,
            &RenewJson {
                revision: updated.revision,
                mod_revision: updated.mod_revision,
                thumbprint: renewal.thumbprint,
                effective_at: renewal.effective_at,
                shortened: renewal.shortened,
                events: &renewal.outcome.events,
            },
        )
    }

    async fn jwks(&self, slot: &OneSlot, clock: Clock) -> Result<Report, Failure> {
        let store = self.read().await?;
        let jwks =
            certslot::publish::Jwks::publish(&store, &slot.cert_type, &slot.scope, clock.instant_for(&store));
        let document = jwks.to_json().map_err(|e| Failure::failed("json", e))?;
        Report::new(document + "\n", &jwks)
    }

    async fn metadata(&self, slot: &OneSlot, exchange: bool, clock: Clock) -> Result<Report, Failure> {
        let store = self.read().await?;
        let options = if exchange { MetadataOptions::exchange() } else { MetadataOptions::lync() };
        let at = clock.instant_for(&store);
        let metadata =
            certslot::publish::AuthMetadata::publish(&store, &slot.cert_type, &slot.scope, at, &options)
                .map_err(|e| Failure::failed("refused", e))?;
        let document = metadata.to_json().map_err(|e| Failure::failed("json", e))?;
        Report::new(document + "\n", &metadata)
    }

    async fn access(&self, plan: &AccessPlan, enable_auth: bool) -> Result<Report, Failure> {
        let done = setup_access(&self.conn, &self.cluster, plan, enable_auth).await.map_err(Failure::etcd)?;
        let mut text = String::new();
        for (what, items) in [
            ("role created", &done.roles_created),
            ("granted", &done.granted),
            ("revoked", &done.revoked),
            ("user created", &done.users_created),
            ("role granted", &done.roles_granted),
        ] {
            for item in items {
                text += &format!("{what}: {item}\n");
            }
        }
        if text.is_empty() {
            text = "access already as asked\n".into();
        }
        if done.auth_enabled {
            text += "authentication on\n";
        }
        let json = AccessJson {
            cluster: self.cluster.name(),
            roles_created: &done.roles_created,
            granted: &done.granted,
            revoked: &done.revoked,
            users_created: &done.users_created,
            roles_granted: &done.roles_granted,
            auth_enabled: done.auth_enabled,
        };
        Report::new(text, &json)
    }

    async fn topology(&self) -> Result<Report, Failure> {
        let store = self.read().await?;
        let mut text = String::new();
        for site in store.topology().sites() {
            text += &format!("site {site}\n");
            for (pool, _) in store.topology().pools().filter(|(_, s)| *s == site) {
                text += &format!("  pool {pool}\n");
                for (server, _) in store.topology().servers().filter(|(_, p)| *p == pool) {
                    text += &format!("    server {server}\n");
                }
            }
        }
        if text.is_empty() {
            text = "no sites\n".into();
        }
        let json = TopologyJson {
            sites: store.topology().sites().collect(),
            pools: store.topology().pools().map(|(pool, site)| PoolJson { pool, site }).collect(),
            servers: store.topology().servers().map(|(server, pool)| ServerJson { server, pool }).collect(),
        };
        Report::new(text, &json)
    }

    async fn export(&self) -> Result<Report, Failure> {
        let reader = self.reader();
        let (value, mod_revision) = reader.read_value().await.map_err(Failure::etcd)?.ok_or_else(|| {
            Failure::state(&certslot_etcd::StateError::Missing { key: self.cluster.state_key() })
        })?;
        // A backup must load: check it (without the keys, which need the password).
        reader.decode(&value, mod_revision).map_err(|e| Failure::state(&e))?;
        // The text as stored; as JSON, the state it holds (checked above, so it reads).
        let text = String::from_utf8_lossy(&value).into_owned();
        let json = certslot_etcd::state_json(&value).unwrap_or_default();
        let state = SavedState::from_json(json).map_err(|e| Failure::failed("json", e))?;
        Report::new(text + "\n", &state)
    }

    async fn upgrade(&self) -> Result<Report, Failure> {
        let upgraded = self.writer()?.upgrade().await.map_err(Failure::store)?;
        let text = match upgraded {
            true => format!("moved the state of cluster {} to the authenticated layout\n", self.cluster),
            false => format!("the state of cluster {} has the authenticated layout already\n", self.cluster),
        };
        Report::new(text, &UpgradeJson { cluster: self.cluster.name(), upgraded })
    }

    async fn add_partner(
        &self,
        name: &str,
        client_cert: Option<&std::path::Path>,
    ) -> Result<Report, Failure> {
        if let Some(file) = client_cert {
            let credential = certslot_etcd::client_certificate_credential(file)
                .map_err(|e| Failure::failed("client-cert", e))?;
            let updated = self.writer()?.set_partner(name, &credential).await.map_err(Failure::update)?;
            let name = name.to_ascii_lowercase();
            let text = format!("partner {name}: known by its client certificate ({credential})\n");
            let json = PartnerJson {
                partner: &name,
                path: "",
                revision: updated.revision,
                mod_revision: updated.mod_revision,
            };
            return Report::new(text, &json);
        }
        let token = PartnerToken::generate().map_err(|e| Failure::failed("random", e))?;
        let updated = self.writer()?.set_partner(name, &token.credential()).await.map_err(Failure::update)?;
        let name = name.to_ascii_lowercase();
        let path = format!("/p/{}/", token.as_str());
        let text = format!(
            "partner {name}: its URLs on the key server (shown once; a new `partners add` revokes them):\n  \
             {path}jwks.json\n  {path}metadata/json/1\n"
        );
        let json = PartnerJson {
            partner: &name,
            path: &path,
            revision: updated.revision,
            mod_revision: updated.mod_revision,
        };
        Report::new(text, &json)
    }

    async fn partners(&self, clock: Clock) -> Result<Report, Failure> {
        let store = self.read().await?;
        let at = clock.instant_for(&store);
        let mut text = String::new();
        let mut rows = Vec::new();
        for PartnerView { name, fetch, pending: seen } in partner_views(&store) {
            text += &match fetch {
                Some(f) => format!("{name}: last fetched at {}\n", human(f.fetched_at)),
                None => format!("{name}: never fetched\n"),
            };
            for s in &seen {
                text += &format!(
                    "  {} at {}: {} {}{}\n",
                    s.cert_type,
                    s.scope,
                    s.thumbprint,
                    if s.seen { "seen" } else { "NOT SEEN" },
                    if s.required { " (rolls wait for it)" } else { "" }
                );
            }
            rows.push(PartnerRowJson {
                partner: name.to_owned(),
                fetched_at: fetch.map(|f| f.fetched_at),
                thumbprints: fetch.map(|f| f.thumbprints.iter().copied().collect()).unwrap_or_default(),
                pending: seen,
            });
        }
        if rows.is_empty() {
            text = "no partners\n".into();
        }
        Report::new(text, &PartnersJson { at, partners: rows })
    }

    async fn enrol(&self, server: &str, agent_key: &str) -> Result<Report, Failure> {
        let key: AgentPublicKey = agent_key.parse().map_err(|e| Failure::failed("agent-key", e))?;
        let updated = self.writer()?.enrol(server, &key).await.map_err(Failure::update)?;
        let fingerprint = key.fingerprint();
        let text = match updated.written {
            true => format!("enrolled the agent key of {server}: {fingerprint}\n"),
            false => format!("the agent key of {server} was enrolled already: {fingerprint}\n"),
        };
        let json = EnrolJson {
            server,
            fingerprint: &fingerprint,
            enrolled: updated.written,
            revision: updated.revision,
            mod_revision: updated.mod_revision,
        };
        Report::new(text, &json)
    }

    async fn restore(&self, file: &std::path::Path) -> Result<Report, Failure> {
        let writer = self.writer()?;
        let bytes = std::fs::read(file)
            .map_err(|e| Failure::failed("file", format!("cannot read {}: {e}", file.display())))?;
        let loaded = writer
            .decode_backup(&bytes)
            .map_err(|e| Failure::failed("restore-refused", format!("{}: {e}", file.display())))?;
        let written = writer.replace(&loaded).await.map_err(Failure::store)?;
        let text = format!(
            "restored the state of cluster {} from {} (revision {})\n",
            self.cluster,
            file.display(),
            written.store.revision()
        );
        Report::new(
            text,
            &RestoreJson { revision: written.store.revision(), mod_revision: written.mod_revision },
        )
    }
}

fn roll_options(force: bool, ignore_policy: bool) -> RollOptions {
    let mut options = RollOptions::default();
    if force {
        options = options.force();
    }
    if ignore_policy {
        options = options.ignore_policy();
    }
    options
}

fn outcome_report(updated: &Updated<Outcome>) -> Result<Report, Failure> {
    let events = &updated.value.events;
    let text = format!(
        "revision {}\n{}",
        updated.revision,
        if events.is_empty() { String::new() } else { events_text(events) }
    );
    let json = WriteJson::of(updated, events);
    Report::new(text, &json)
}
