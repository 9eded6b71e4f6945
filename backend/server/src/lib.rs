//! The jitroles server: wires the store, the gRPC services and the web app onto one port.
//!
//! `main.rs` is only the command line; everything it starts is here, so tests run the same
//! server in-process on `127.0.0.1:0`.

pub mod admin_groups;
pub mod api;
pub mod audit_chain;
pub mod audit_cli;
pub mod audit_trail;
pub mod auth;
pub mod backup;
pub mod clock;
pub mod config;
pub mod deadline;
pub mod directory_cli;
pub mod directory_pam;
pub mod doctor;
pub mod failpoint;
pub mod grants;
mod headers;
mod health;
pub use health::{DATABASE_HEALTH, DIRECTORY_HEALTH};
pub mod metrics;
pub mod net;
pub mod notify;
pub mod rules_cli;
pub mod rules_file;
mod spa;
pub mod tls;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context;
use jitroles_directory::ActiveDirectory;
use jitroles_domain::{
    Clock,
    directory::Directory,
    ports::{GrantStore, Store},
    system::DatabaseKind,
    target::TargetPolicy,
};
use jitroles_proto::v1::{
    admin_service_server::AdminServiceServer, role_service_server::RoleServiceServer,
    system_service_server::SystemServiceServer,
};
use jitroles_store::Database;
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};
use tonic::{service::Routes, transport::server::TcpIncoming};

use crate::{
    api::{admin::AdminApi, roles::RoleApi, system::SystemApi},
    audit_trail::AuditTrail,
    auth::{
        browser::{Browser, BrowserSettings},
        caller::{Authenticator, ClientPolicy, IdentityMapping},
        gate::Gate,
        jwt::{JwtSettings, JwtVerifier},
        session::{self, Sessions},
    },
    clock::SystemClock,
    config::Config,
    grants::Engine,
    metrics::{MeteredDirectory, Metrics},
    net::Net,
};

/// How often sessions that can no longer be used are deleted.
const PURGE_INTERVAL: Duration = Duration::from_secs(10 * 60);

/// A server that is accepting connections.
pub struct Running {
    addr: SocketAddr,
    shutdown: oneshot::Sender<()>,
    task: JoinHandle<Result<(), tonic::transport::Error>>,
    /// Health watcher, session purge: stopped with the server.
    background: Vec<JoinHandle<()>>,
    database: Database,
    /// Wakes the expiry scheduler.
    scheduler: Option<Arc<tokio::sync::Notify>>,
    /// Its open windows of repeated refusals are summed up on shutdown.
    trail: Arc<AuditTrail>,
    /// This instance's name on its leases.
    instance: String,
}

impl Running {
    /// The address it listens on (the real port when configured with port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Wakes the expiry scheduler, so it looks at the clock again: a test that advanced a
    /// manual clock past an expiry calls this instead of sleeping until it.
    pub fn wake(&self) {
        if let Some(scheduler) = &self.scheduler {
            scheduler.notify_one();
        }
    }

    /// Stops accepting, lets requests in flight finish, and closes the database.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        let _ = self.shutdown.send(());
        let served = self.task.await.context("server task panicked")?;
        for task in &self.background {
            task.abort();
        }
        self.trail.close_all().await;
        // holds that ended just now give their leases back in tasks that may not have run
        if let Err(e) = GrantStore::release_memberships_of(&self.database, &self.instance).await {
            tracing::warn!(error = %e, "membership leases not given back; they run out");
        }
        self.database.close().await;
        served.context("server failed")
    }
}

/// What the server works with besides its configuration: the clock it reads and the directory
/// it grants in. [`start`] makes the real ones; tests pass a manual clock (and drive expiry by
/// advancing it, see [`Running::wake`]) or another directory. The database is always the one
/// the configuration names (SQLite or PostgreSQL), so every test runs on a real one.
pub struct Dependencies {
    pub clock: Arc<dyn Clock>,
    /// `None`: no `[directory]`, so no roles, grants or bearer tokens.
    pub directory: Option<Arc<dyn Directory>>,
}

impl Dependencies {
    /// The system clock and the configured Active Directory.
    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        let directory: Option<Arc<dyn Directory>> = match &config.directory {
            Some(d) => Some(Arc::new(ActiveDirectory::new(d.adapter_config())?)),
            None => None,
        };
        Ok(Self {
            clock: Arc::new(SystemClock),
            directory,
        })
    }
}

/// Opens the database (migrating SQLite), binds the port and starts serving, with the system
/// clock and the configured directory.
pub async fn start(config: &Config) -> anyhow::Result<Running> {
    start_with(config, Dependencies::from_config(config)?).await
}

/// [`start`] with the clock and directory given.
pub async fn start_with(config: &Config, dependencies: Dependencies) -> anyhow::Result<Running> {
    if let Some(oidc) = &config.oidc {
        oidc.check().map_err(anyhow::Error::msg)?;
    }
    let certificates = match config.server.tls_files().map_err(anyhow::Error::msg)? {
        Some((cert, key)) => Some(tls::Certificates::load(cert, key).map_err(anyhow::Error::msg)?),
        None => None,
    };
    let database = open_database(config).await?;
    let clock = dependencies.clock;
    let store: Arc<dyn Store> = Arc::new(database.clone());
    let installation = store
        .installation(clock.now())
        .await
        .map_err(|e| anyhow::anyhow!("cannot read the installation record: {e}"))?;

    let listener = TcpListener::bind(config.server.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.server.listen))?;
    let addr = listener.local_addr()?;

    let (health, health_service) = tonic_health::server::health_reporter();
    health.set_serving::<SystemServiceServer<SystemApi>>().await;
    let mut background = vec![
        tokio::spawn(health::watch_database(health.clone(), store.clone())),
        tokio::spawn(audit_chain::run(database.clone(), audit_chain::CHAIN_EVERY)),
    ];

    let metrics = Arc::new(Metrics::new());
    let directory: Option<Arc<dyn Directory>> = dependencies
        .directory
        .map(|d| Arc::new(MeteredDirectory::new(d, metrics.clone())) as Arc<dyn Directory>);
    if let Some(directory) = &directory {
        background.push(tokio::spawn(health::watch_directory(
            health.clone(),
            directory.clone(),
        )));
    }
    // resolved once, for authorization and for the target check
    let admin_groups = directory.as_ref().map(|d| {
        Arc::new(admin_groups::AdminGroups::new(
            config.access.admin_groups.clone(),
            d.clone(),
        ))
    });
    let auth = authenticator(
        config,
        directory.clone(),
        admin_groups.clone(),
        clock.clone(),
    );
    anyhow::ensure!(
        config.scheduler.lease_seconds >= 1,
        "scheduler.lease_seconds must be at least 1"
    );
    let outbound = notify::send::Outbound::new(&config.notifications)?;
    // membership leases this instance (same host and address) left when it last died
    let instance = instance_name(addr);
    GrantStore::release_memberships_of(&database, &instance)
        .await
        .map_err(|e| anyhow::anyhow!("cannot give back this instance's old leases: {e}"))?;
    // the grant engine and the notifications, when there is a directory to grant in
    let (engine, channels) = match directory {
        Some(directory) => {
            let render_program = match &config.notifications.render_program {
                Some(program) => program.clone(),
                None => std::env::current_exe()
                    .context("cannot find the running binary to render templates with")?,
            };
            let sender = Arc::new(notify::Sender::new(
                outbound,
                directory.clone(),
                Arc::new(database.clone()),
                notify::render::Renderer::new(render_program)
                    .linking_to(config.server.public_url.clone()),
            )?);
            let delivery = Arc::new(notify::delivery::Delivery::new(
                Arc::new(database.clone()),
                Arc::new(database.clone()),
                clock.clone(),
                sender.clone(),
                metrics.clone(),
            ));
            background.push(tokio::spawn(delivery.run()));
            let channels = Arc::new(notify::channels::Channels::new(
                Arc::new(database.clone()),
                clock.clone(),
                sender,
            ));
            if config.access.allow_protected_targets {
                tracing::warn!(
                    "access.allow_protected_targets is on: rules may hand out membership of \
                     Domain Admins, Administrators and other protected groups"
                );
            }
            let engine = engine(
                config,
                &database,
                directory,
                clock.clone(),
                metrics.clone(),
                instance.clone(),
                admin_groups,
            );
            background.push(tokio::spawn(grants::scheduler::run(
                engine.clone(),
                clock.clone(),
                engine.wake_signal(),
            )));
            background.push(tokio::spawn(grants::scheduler::reconcile(
                engine.clone(),
                Duration::from_secs(config.scheduler.reconcile_seconds),
                Duration::from_secs(config.scheduler.unconfirmed_after_seconds),
            )));
            (Some(engine), Some(channels))
        }
        None => (None, None),
    };
    let scheduler = engine.as_ref().map(|e| e.wake_signal());
    let trail = Arc::new(AuditTrail::new(Arc::new(database.clone()), clock.clone()));
    background.push(tokio::spawn(audit_trail::run(trail.clone())));
    let trusted_proxies = config
        .server
        .trusted_proxies
        .iter()
        .map(|p| p.parse::<Net>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow::anyhow!("server.trusted_proxies: {e}"))?;
    let browser = browser(
        config,
        addr,
        &database,
        auth.clone(),
        clock.clone(),
        trail.clone(),
    )
    .await?;
    if let Some(browser) = &browser {
        background.push(tokio::spawn(purge_sessions(browser.clone())));
    }
    let gate = Gate {
        tokens: auth.clone(),
        browser: browser.clone(),
        trail: trail.clone(),
    };
    let system = SystemApi::new(installation, clock.now());
    // HSTS only where people reach jitroles over https (a TLS proxy, or TLS in the server)
    let hsts = config
        .server
        .public_url
        .as_deref()
        .is_some_and(|u| u.starts_with("https://"));
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(jitroles_proto::v1::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    // one deadline per call that changes grants: the directory's timeout
    let directory_timeout = Duration::from_secs(
        config
            .directory
            .as_ref()
            .map_or(10, |d| d.timeout_seconds)
            .max(1),
    );
    // what each grant says about Kerberos tickets; without a directory there is no engine, so
    // no grant to say it of
    let max_ticket_lifetime = config
        .directory
        .as_ref()
        .map_or(Duration::ZERO, |d| d.max_ticket_lifetime());
    let grpc = Routes::new(SystemServiceServer::new(system))
        .add_service(RoleServiceServer::new(RoleApi::new(
            auth.clone(),
            engine.clone(),
            trail.clone(),
            max_ticket_lifetime,
        )))
        .add_service(AdminServiceServer::new(AdminApi::new(
            auth.clone(),
            engine.clone(),
            channels,
            trail.clone(),
            max_ticket_lifetime,
        )))
        .add_service(health_service)
        .add_service(reflection().build_v1().context("gRPC reflection (v1)")?)
        .add_service(
            reflection()
                .build_v1alpha()
                .context("gRPC reflection (v1alpha)")?,
        )
        .into_axum_router()
        .route_layer(axum::middleware::from_fn_with_state(
            gate,
            api::layer::authenticate,
        ))
        .route_layer(axum::middleware::from_fn_with_state(
            directory_timeout,
            api::layer::deadline,
        ))
        .route_layer(axum::middleware::from_fn_with_state(
            metrics.clone(),
            metrics::rpc,
        ))
        // gRPC-web for browsers on the gRPC routes only: tonic-web refuses plain HTTP/1 requests,
        // which must reach the web app below.
        .route_layer(tonic_web::GrpcWebLayer::new())
        .merge(browser.map(Browser::routes).unwrap_or_default())
        .merge(
            axum::Router::new()
                .route("/metrics", axum::routing::get(metrics::serve))
                .with_state((metrics, engine)),
        )
        .fallback_service(spa::service(config.server.web_root.as_deref()))
        .layer(axum::middleware::from_fn_with_state(hsts, headers::add))
        .layer(axum::middleware::from_fn_with_state(
            Arc::new(trusted_proxies),
            net::remember_client,
        ));

    // watched before serving, so a SIGHUP never finds the default action (the end)
    background.push(tokio::spawn(tls::reload_on_hangup(certificates.clone())));
    let (shutdown, shutdown_rx) = oneshot::channel::<()>();
    let server = tonic::transport::Server::builder()
        .accept_http1(true)
        .add_routes(Routes::from(grpc));
    let stopped = async {
        let _ = shutdown_rx.await;
    };
    let task = match &certificates {
        Some(certificates) => {
            let acceptor = certificates.acceptor().map_err(anyhow::Error::msg)?;
            tokio::spawn(
                server.serve_with_incoming_shutdown(tls::incoming(listener, acceptor), stopped),
            )
        }
        // no Nagle: small gRPC replies must not wait for the peer's delayed ACK (~40 ms)
        None => tokio::spawn(server.serve_with_incoming_shutdown(
            TcpIncoming::from(listener).with_nodelay(Some(true)),
            stopped,
        )),
    };
    tracing::info!(%addr, tls = certificates.is_some(), database = %database.kind(), "jitroles is serving gRPC, gRPC-web and the web app");
    Ok(Running {
        addr,
        shutdown,
        task,
        background,
        database,
        scheduler,
        trail,
        instance,
    })
}

/// This instance's name on the leases it takes: its host and the address it listens on, so
/// the same instance restarted finds its own leases and finishes their work at once, while
/// another instance waits until they run out.
fn instance_name(listening: SocketAddr) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_default();
    format!("{host}/{listening}")
}

/// Browser sign-in, when jitroles has a client at the provider (`oidc.client_id`).
async fn browser(
    config: &Config,
    addr: SocketAddr,
    database: &Database,
    auth: Option<Arc<Authenticator>>,
    clock: Arc<dyn Clock>,
    trail: Arc<AuditTrail>,
) -> anyhow::Result<Option<Arc<Browser>>> {
    let Some(oidc) = &config.oidc else {
        return Ok(None);
    };
    let Some(client_id) = &oidc.client_id else {
        return Ok(None);
    };
    let client_secret = oidc.client_secret.clone().context(
        "browser sign-in needs oidc.client_secret (or JITROLES_OIDC_CLIENT_SECRET_FILE) with oidc.client_id",
    )?;
    let auth = auth.context("browser sign-in needs [directory]: people are found there")?;
    let public_url = match &config.server.public_url {
        Some(url) => url.clone(),
        None if addr.ip().is_loopback() => format!("{}://{addr}", config.server.scheme()),
        None => anyhow::bail!(
            "browser sign-in needs server.public_url (the https:// address people use) when listening on {addr}"
        ),
    };
    let (public_url, secure_cookies) =
        BrowserSettings::check_public_url(&public_url, config.session.insecure_localhost_cookie)
            .map_err(anyhow::Error::msg)?;
    let sessions = Arc::new(Sessions::new(
        Arc::new(database.clone()),
        config.session.policy(),
        clock.clone(),
        session::RECHECK,
    ));
    let settings = BrowserSettings {
        issuer: oidc.issuer.clone(),
        client_id: client_id.clone(),
        client_secret,
        public_url,
        secure_cookies,
    };
    // the same key on every instance of this database, made by the first that needs it
    let sign_in_key = database
        .sign_in_key(&auth::seal::new_sign_in_key()?)
        .await
        .map_err(|e| anyhow::anyhow!("cannot read the sign-in key: {e}"))?;
    tracing::info!(public_url = %settings.public_url, "browser sign-in enabled");
    Ok(Some(Arc::new(Browser::new(
        settings,
        sessions,
        auth,
        clock,
        &sign_in_key,
        trail,
    )?)))
}

async fn purge_sessions(browser: Arc<Browser>) {
    // not at start-up: an ended session still says why it ended until the first purge
    let mut ticker =
        tokio::time::interval_at(tokio::time::Instant::now() + PURGE_INTERVAL, PURGE_INTERVAL);
    loop {
        ticker.tick().await;
        match browser.sessions().purge().await {
            Ok(0) => {}
            Ok(purged) => tracing::debug!(purged, "deleted ended sessions"),
            Err(e) => tracing::warn!(error = %e, "cannot delete ended sessions"),
        }
    }
}

/// Bearer tokens need both the provider (to verify) and the directory (to know the caller).
fn authenticator(
    config: &Config,
    directory: Option<Arc<dyn Directory>>,
    admin_groups: Option<Arc<admin_groups::AdminGroups>>,
    clock: Arc<dyn Clock>,
) -> Option<Arc<Authenticator>> {
    let (Some(oidc), Some(directory), Some(admin_groups)) = (&config.oidc, directory, admin_groups)
    else {
        if config.oidc.is_some() {
            tracing::warn!(
                "[oidc] is configured but [directory] is not: bearer tokens are refused"
            );
        }
        return None;
    };
    // jwks_url None: discovered from the issuer
    let settings = JwtSettings {
        jwks_url: oidc.jwks_url.clone(),
        require_at_jwt: oidc.require_at_jwt,
        ..JwtSettings::new(&oidc.issuer, &oidc.audience, "")
    };
    if !oidc.require_at_jwt {
        tracing::warn!(
            "oidc.require_at_jwt is off: bearer tokens are not required to be typed at+jwt, so only the nonce and client checks keep ID tokens out"
        );
    }
    let clients = ClientPolicy {
        service_accounts: oidc.service_accounts.clone(),
        person_clients: oidc
            .allowed_clients
            .iter()
            .chain(&oidc.client_id)
            .cloned()
            .collect(),
    };
    Some(Arc::new(Authenticator::new(
        JwtVerifier::new(settings),
        directory,
        IdentityMapping {
            claim: oidc.user_claim.clone(),
            attribute: oidc.user_attribute,
        },
        clients,
        admin_groups,
        clock,
        config.access.caller_cache(),
    )))
}

/// The grant engine over `database` and `directory`, with the configured target policy and
/// leases held as `instance`; the server runs its scheduler, a command uses it once.
pub fn engine(
    config: &Config,
    database: &Database,
    directory: Arc<dyn Directory>,
    clock: Arc<dyn Clock>,
    observer: Arc<dyn grants::Observer>,
    instance: String,
    admin_groups: Option<Arc<admin_groups::AdminGroups>>,
) -> Arc<Engine> {
    Arc::new(Engine::configured(
        grants::Ports {
            rules: Arc::new(database.clone()),
            grants: Arc::new(database.clone()),
            notifications: Arc::new(database.clone()),
            approvals: Arc::new(database.clone()),
            directory,
            clock,
        },
        grants::Leases {
            holder: instance,
            length: Duration::from_secs(config.scheduler.lease_seconds),
            shared_database: database.kind() == DatabaseKind::Postgres,
        },
        observer,
        grants::targets::TargetSettings {
            policy: TargetPolicy {
                allow_protected: config.access.allow_protected_targets,
                bases: config.access.role_group_bases.clone(),
            },
            admin_groups,
        },
    ))
}

pub(crate) async fn open_database(config: &Config) -> anyhow::Result<Database> {
    let url = config.database_url();
    if config.database.url.is_none() {
        std::fs::create_dir_all(&config.data_dir).with_context(|| {
            format!("cannot create data directory {}", config.data_dir.display())
        })?;
    }
    let database = Database::connect(&url).await?;
    match database.kind() {
        // the embedded database belongs to this one instance: keep it current
        DatabaseKind::Sqlite => {
            let applied = database.migrate().await?;
            if applied > 0 {
                tracing::info!(applied, "applied database migrations");
            }
        }
        // a shared database is migrated on purpose, once, by `jitroles migrate`
        DatabaseKind::Postgres => {
            let pending = database.pending_migrations().await?;
            anyhow::ensure!(
                pending == 0,
                "the PostgreSQL database has {pending} pending migration(s): run `jitroles migrate` first"
            );
        }
    }
    Ok(database)
}
