//! Connections to the directory: TLS, bind as the service account, a small set of multiplexed
//! connections per domain controller re-established when they break, a timeout on every
//! operation and retries with backoff for transient failures (a write only until it has been
//! sent).
//!
//! Several DCs (`urls`): an operation goes to the first DC that answers, in configured order
//! (`failover.rs` decides); a DC that stops answering is skipped until its retry time and the
//! operation moves on to the next within its one deadline, which the DCs tried share. A write
//! moves on only while it has not been sent. A sequence that writes and reads back what it
//! wrote runs [`Pool::pinned`]: every operation of it goes to the DC of its first answer (another
//! DC may not have the write yet), and fails if that DC does, as with one DC. A write that got
//! no answer keeps its target on the DC it went to ([`UNSURE_FOR`]): its undo must find it
//! there.

use std::{
    cell::Cell,
    collections::HashMap,
    future::Future,
    io::BufReader,
    path::PathBuf,
    sync::{
        Arc,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use jitroles_domain::{directory::Controller, secret::Secret};
use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, LdapError};
use rustls::{ClientConfig, RootCertStore};
use tokio::sync::Mutex;

use crate::{DirectoryError, failover};

/// How the service account reaches the directory.
#[derive(Debug, Clone)]
pub struct DirectoryConfig {
    /// `ldaps://dc.example.com` or `ldap://dc.example.com` (then StartTLS, or plain if allowed):
    /// one or more DCs of the domain, the preferred first, all with the same scheme.
    pub urls: Vec<String>,
    pub bind_dn: String,
    pub bind_password: Secret,
    /// PEM file with the CA(s) that signed the DC's certificate; default: the system's roots.
    pub ca_file: Option<PathBuf>,
    pub starttls: bool,
    /// Plain, unencrypted LDAP: only when explicitly allowed (AD refuses simple binds without
    /// TLS by default anyway).
    pub allow_plain: bool,
    /// The most one operation may take, connecting included: with several DCs, the DCs it
    /// tries share it.
    pub timeout: Duration,
    /// Connections kept open; each carries many operations at once.
    pub pool_size: usize,
    /// Extra attempts for transient failures, with exponential backoff from 100 ms (a write
    /// only while it has not been sent).
    pub retries: u32,
    /// Use jitroles' scheduler even when the forest offers TTL links.
    pub force_scheduler: bool,
    /// How long a DC that stopped answering is skipped at first, while another answers; the
    /// skip doubles while it keeps failing, up to 12 times this.
    pub skip_for: Duration,
}

impl DirectoryConfig {
    pub fn new(
        url: impl Into<String>,
        bind_dn: impl Into<String>,
        bind_password: impl Into<Secret>,
    ) -> Self {
        Self {
            urls: vec![url.into()],
            bind_dn: bind_dn.into(),
            bind_password: bind_password.into(),
            ca_file: None,
            starttls: false,
            allow_plain: false,
            timeout: Duration::from_secs(10),
            pool_size: 2,
            retries: 2,
            force_scheduler: false,
            skip_for: failover::FIRST_BACKOFF,
        }
    }

    /// The transport every DC is reached with.
    pub fn transport(&self) -> Result<Transport, DirectoryError> {
        let mut transports = self.urls.iter().map(|url| self.transport_of(url));
        let first = transports.next().ok_or_else(|| {
            DirectoryError::Config("no domain controller: give at least one URL".into())
        })??;
        for other in transports {
            if other? != first {
                return Err(DirectoryError::Config(format!(
                    "the domain controllers {} are not all reached the same way: give every URL the same scheme",
                    self.urls.join(", ")
                )));
            }
        }
        Ok(first)
    }

    fn transport_of(&self, url: &str) -> Result<Transport, DirectoryError> {
        let scheme = url.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
        match (scheme.as_deref(), self.starttls, self.allow_plain) {
            (Some("ldaps"), _, _) => Ok(Transport::Ldaps),
            (Some("ldap"), true, _) => Ok(Transport::StartTls),
            (Some("ldap"), false, true) => Ok(Transport::Plain),
            (Some("ldap"), false, false) => Err(DirectoryError::Config(format!(
                "{url} is plain LDAP: use ldaps://, turn on starttls, or allow plain LDAP explicitly"
            ))),
            _ => Err(DirectoryError::Config(format!(
                "{url}: the URL must start with ldaps:// or ldap://"
            ))),
        }
    }
}

/// Whether an operation may be sent again after it may have reached the directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Resend {
    Yes,
    No,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Ldaps,
    StartTls,
    Plain,
}

/// How long a write that got no answer keeps its target (the DN written) on the DC it went to:
/// the undo that follows must reach that DC, where the write may have landed, and not another
/// that has not received it yet. Longer than AD's replication within a site (seconds); a DC
/// gone for good holds the target no longer than this.
pub const UNSURE_FOR: Duration = Duration::from_secs(10 * 60);

tokio::task_local! {
    /// The DC a [`Pool::pinned`] sequence is bound to (pool id, DC), once it has one.
    static PIN: Cell<Option<(u64, usize)>>;
    /// The deadline of the call the operations are made for ([`within`]).
    static DEADLINE: Instant;
}

/// Runs `work` with every directory operation in it ending by `by` (the caller's deadline):
/// the DCs an operation tries share what is left until then.
pub async fn within<F: Future>(by: Instant, work: F) -> F::Output {
    DEADLINE.scope(by, work).await
}

static POOL_IDS: AtomicU64 = AtomicU64::new(0);

/// One domain controller's connections.
struct Dc {
    url: String,
    slots: Vec<Mutex<Option<Ldap>>>,
    next: AtomicUsize,
}

pub(crate) struct Pool {
    id: u64,
    config: DirectoryConfig,
    tls: Option<Arc<ClientConfig>>,
    dcs: Vec<Dc>,
    health: std::sync::Mutex<Vec<failover::Health>>,
    /// Targets of writes that got no answer: (the DC, until when).
    unsure: std::sync::Mutex<HashMap<String, (usize, Instant)>>,
}

impl Pool {
    pub fn new(config: DirectoryConfig) -> Result<Self, DirectoryError> {
        let transport = config.transport()?;
        let tls = match (&config.ca_file, transport) {
            (Some(path), Transport::Ldaps | Transport::StartTls) => {
                Some(Arc::new(tls_config(path)?))
            }
            _ => None,
        };
        let dcs: Vec<Dc> = config
            .urls
            .iter()
            .map(|url| Dc {
                url: url.clone(),
                slots: (0..config.pool_size.max(1))
                    .map(|_| Mutex::new(None))
                    .collect(),
                next: AtomicUsize::new(0),
            })
            .collect();
        Ok(Self {
            id: POOL_IDS.fetch_add(1, Ordering::Relaxed),
            health: std::sync::Mutex::new(vec![failover::Health::default(); dcs.len()]),
            unsure: std::sync::Mutex::new(HashMap::new()),
            config,
            tls,
            dcs,
        })
    }

    pub fn config(&self) -> &DirectoryConfig {
        &self.config
    }

    /// Each DC and its state, in configured order.
    pub fn controllers(&self) -> Vec<Controller> {
        let now = Instant::now();
        let health = self.health();
        self.dcs
            .iter()
            .zip(health.iter())
            .map(|(dc, h)| Controller {
                url: dc.url.clone(),
                up: h.up(),
                retry_in: h.retry_in(now),
                last_error: h.last_error().map(str::to_owned),
                failures: h.failures(),
            })
            .collect()
    }

    /// Runs `sequence` with all its operations on one DC: the DC of its first answer (or of
    /// its first write sent). Until then an operation fails over as usual; after, a failure of
    /// that DC is the sequence's failure. Nested sequences share the outer one's DC.
    pub async fn pinned<F: Future>(&self, sequence: F) -> F::Output {
        if PIN.try_with(|_| ()).is_ok() {
            sequence.await
        } else {
            PIN.scope(Cell::new(None), sequence).await
        }
    }

    /// The URL of the DC the running [`Self::pinned`] sequence is bound to.
    pub fn pinned_url(&self) -> Option<&str> {
        match PIN.try_with(Cell::get) {
            Ok(Some((id, dc))) if id == self.id => Some(&self.dcs[dc].url),
            _ => None,
        }
    }

    /// Runs one reading LDAP operation with the timeout, on a pooled connection, retrying
    /// transient failures on a fresh connection, and on the next DC.
    pub async fn run<T, F, Fut>(&self, op: F) -> Result<T, DirectoryError>
    where
        F: Fn(Ldap) -> Fut,
        Fut: Future<Output = Result<T, LdapError>>,
    {
        self.attempt(Resend::Yes, None, op).await
    }

    /// Runs one write to `target` (the DN it changes) like [`Self::run`], but sends it at most
    /// once: once it may have reached the directory, a failure is final (only failures to
    /// connect are retried, on the same DC or the next). A write whose reply never came may
    /// have been applied; sent again, it would find its own effect ("already a member") and
    /// take it for someone else's. Its target stays on that DC for [`UNSURE_FOR`].
    pub async fn write<T, F, Fut>(&self, target: &str, op: F) -> Result<T, DirectoryError>
    where
        F: Fn(Ldap) -> Fut,
        Fut: Future<Output = Result<T, LdapError>>,
    {
        self.attempt(Resend::No, Some(target), op).await
    }

    fn health(&self) -> std::sync::MutexGuard<'_, Vec<failover::Health>> {
        self.health
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn unsure(&self) -> std::sync::MutexGuard<'_, HashMap<String, (usize, Instant)>> {
        self.unsure
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The DCs this operation may try, in order.
    fn candidates(&self, target: Option<&str>, now: Instant) -> Vec<usize> {
        if let Ok(Some((id, dc))) = PIN.try_with(Cell::get)
            && id == self.id
        {
            return vec![dc];
        }
        if let Some(target) = target {
            let mut unsure = self.unsure();
            unsure.retain(|_, (_, until)| *until > now);
            if let Some((dc, _)) = unsure.get(&target.to_ascii_lowercase()) {
                return vec![*dc];
            }
        }
        failover::order(&self.health(), now)
    }

    fn bind_pin(&self, dc: usize) {
        let _ = PIN.try_with(|pin| {
            if pin.get().is_none() {
                pin.set(Some((self.id, dc)));
            }
        });
    }

    fn answered(&self, dc: usize) {
        if self.health()[dc].answered() {
            tracing::info!(url = %self.dcs[dc].url, "domain controller answers again");
        }
    }

    fn failed(&self, dc: usize, e: &DirectoryError) {
        let now = Instant::now();
        let was_up = self.health()[dc].failed(now, self.config.skip_for, e.to_string());
        if was_up {
            tracing::warn!(url = %self.dcs[dc].url, error = %e, "domain controller does not answer; skipped while another does");
        }
    }

    async fn attempt<T, F, Fut>(
        &self,
        resend: Resend,
        target: Option<&str>,
        op: F,
    ) -> Result<T, DirectoryError>
    where
        F: Fn(Ldap) -> Fut,
        Fut: Future<Output = Result<T, LdapError>>,
    {
        let started = Instant::now();
        let mut deadline = started + self.config.timeout;
        if let Ok(by) = DEADLINE.try_with(|by| *by) {
            deadline = deadline.min(by);
        }
        let candidates = self.candidates(target, started);
        let n = candidates.len();
        let attempts = n + usize::try_from(self.config.retries).unwrap_or(usize::MAX);
        let mut last = None;
        for attempt in 0..attempts {
            if attempt >= n {
                let backoff = Duration::from_millis(100 << (attempt - n).min(10));
                tracing::debug!(attempt, "directory operation failed; retrying");
                tokio::time::sleep(backoff).await;
            }
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                break;
            }
            let share = failover::share(remaining, attempt, n, self.config.timeout);
            let dc = candidates[attempt % n];
            let slot = self.dcs[dc].next.fetch_add(1, Ordering::Relaxed) % self.dcs[dc].slots.len();
            let (result, sent) =
                match tokio::time::timeout(share, self.handle(dc, slot, share)).await {
                    Err(_) => (Err(timeout(share)), false),
                    Ok(Err(e)) => (Err(e), false),
                    Ok(Ok(mut ldap)) => {
                        ldap.with_timeout(share);
                        (
                            op(ldap).await.map_err(|e| self.classify(dc, e, share)),
                            true,
                        )
                    }
                };
            let e = match result {
                Ok(value) => {
                    self.answered(dc);
                    self.bind_pin(dc);
                    if let Some(target) = target {
                        self.unsure().remove(&target.to_ascii_lowercase());
                    }
                    return Ok(value);
                }
                Err(e) => e,
            };
            if e.breaks_connection() {
                *self.dcs[dc].slots[slot].lock().await = None;
            }
            // the DC's own failure (not the request's, nor the account's): the next DC may do
            let dc_failed = e.is_transient() || matches!(e, DirectoryError::Tls { .. });
            if dc_failed {
                self.failed(dc, &e);
            } else {
                self.answered(dc);
            }
            if sent && resend == Resend::No {
                self.bind_pin(dc);
                if dc_failed && let Some(target) = target {
                    self.unsure().insert(
                        target.to_ascii_lowercase(),
                        (dc, Instant::now() + UNSURE_FOR),
                    );
                }
                return Err(e);
            }
            // a failure that is not the DC's, or one of a DC tried last that a retry won't mend
            if !dc_failed || (attempt + 1 >= n && !e.is_transient()) {
                return Err(e);
            }
            last = Some(e);
        }
        Err(last.unwrap_or_else(|| timeout(deadline.saturating_duration_since(started))))
    }

    fn classify(&self, dc: usize, e: LdapError, timeout: Duration) -> DirectoryError {
        DirectoryError::from_ldap(e, &self.dcs[dc].url, &self.config.bind_dn, timeout)
    }

    /// The slot's connection to the DC, made (and bound) if it has none or it was closed.
    async fn handle(
        &self,
        dc: usize,
        slot: usize,
        timeout: Duration,
    ) -> Result<Ldap, DirectoryError> {
        let mut guard = self.dcs[dc].slots[slot].lock().await;
        if let Some(ldap) = guard.as_mut()
            && !ldap.is_closed()
        {
            return Ok(ldap.clone());
        }
        let ldap = self.connect(dc, timeout).await?;
        *guard = Some(ldap.clone());
        Ok(ldap)
    }

    async fn connect(&self, dc: usize, timeout: Duration) -> Result<Ldap, DirectoryError> {
        let c = &self.config;
        let url = &self.dcs[dc].url;
        let mut settings = LdapConnSettings::new()
            .set_conn_timeout(timeout)
            .set_starttls(c.transport()? == Transport::StartTls);
        if let Some(tls) = &self.tls {
            settings = settings.set_config(tls.clone());
        }
        let (conn, mut ldap) = LdapConnAsync::with_settings(settings, url)
            .await
            .map_err(|e| self.classify(dc, e, timeout))?;
        ldap3::drive!(conn);
        ldap.with_timeout(timeout);
        ldap.simple_bind(&c.bind_dn, c.bind_password.expose())
            .await
            .and_then(|r| r.success())
            .map_err(|e| self.classify(dc, e, timeout))?;
        tracing::debug!(%url, "directory connection bound");
        Ok(ldap)
    }
}

fn timeout(took: Duration) -> DirectoryError {
    DirectoryError::Timeout {
        seconds: (took + Duration::from_millis(500)).as_secs(),
    }
}

fn tls_config(ca_file: &PathBuf) -> Result<ClientConfig, DirectoryError> {
    let bad = |why: String| DirectoryError::Config(format!("CA file {}: {why}", ca_file.display()));
    let file = std::fs::File::open(ca_file).map_err(|e| bad(e.to_string()))?;
    let mut roots = RootCertStore::empty();
    for cert in rustls_pemfile::certs(&mut BufReader::new(file)) {
        roots
            .add(cert.map_err(|e| bad(e.to_string()))?)
            .map_err(|e| bad(e.to_string()))?;
    }
    if roots.is_empty() {
        return Err(bad("no PEM certificates in it".into()));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}
