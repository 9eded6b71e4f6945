//! Connections to the directory: TLS, bind as the service account, a small set of multiplexed
//! connections re-established when they break, a timeout on every operation and retries with
//! backoff for transient failures (a write only until it has been sent).

use std::{
    future::Future,
    io::BufReader,
    path::PathBuf,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use jitroles_domain::secret::Secret;
use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, LdapError};
use rustls::{ClientConfig, RootCertStore};
use tokio::sync::Mutex;

use crate::DirectoryError;

/// How the service account reaches the directory.
#[derive(Debug, Clone)]
pub struct DirectoryConfig {
    /// `ldaps://dc.example.com` or `ldap://dc.example.com` (then StartTLS, or plain if allowed).
    pub url: String,
    pub bind_dn: String,
    pub bind_password: Secret,
    /// PEM file with the CA(s) that signed the DC's certificate; default: the system's roots.
    pub ca_file: Option<PathBuf>,
    pub starttls: bool,
    /// Plain, unencrypted LDAP: only when explicitly allowed (AD refuses simple binds without
    /// TLS by default anyway).
    pub allow_plain: bool,
    /// Applies to connecting and to every single operation.
    pub timeout: Duration,
    /// Connections kept open; each carries many operations at once.
    pub pool_size: usize,
    /// Extra attempts for transient failures, with exponential backoff from 100 ms (a write
    /// only while it has not been sent).
    pub retries: u32,
    /// Use jitroles' scheduler even when the forest offers TTL links.
    pub force_scheduler: bool,
}

impl DirectoryConfig {
    pub fn new(
        url: impl Into<String>,
        bind_dn: impl Into<String>,
        bind_password: impl Into<Secret>,
    ) -> Self {
        Self {
            url: url.into(),
            bind_dn: bind_dn.into(),
            bind_password: bind_password.into(),
            ca_file: None,
            starttls: false,
            allow_plain: false,
            timeout: Duration::from_secs(10),
            pool_size: 2,
            retries: 2,
            force_scheduler: false,
        }
    }

    pub fn transport(&self) -> Result<Transport, DirectoryError> {
        let scheme = self
            .url
            .split_once("://")
            .map(|(s, _)| s.to_ascii_lowercase());
        match (scheme.as_deref(), self.starttls, self.allow_plain) {
            (Some("ldaps"), _, _) => Ok(Transport::Ldaps),
            (Some("ldap"), true, _) => Ok(Transport::StartTls),
            (Some("ldap"), false, true) => Ok(Transport::Plain),
            (Some("ldap"), false, false) => Err(DirectoryError::Config(format!(
                "{} is plain LDAP: use ldaps://, turn on starttls, or allow plain LDAP explicitly",
                self.url
            ))),
            _ => Err(DirectoryError::Config(format!(
                "{}: the URL must start with ldaps:// or ldap://",
                self.url
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

pub(crate) struct Pool {
    config: DirectoryConfig,
    tls: Option<Arc<ClientConfig>>,
    slots: Vec<Mutex<Option<Ldap>>>,
    next: AtomicUsize,
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
        let slots = (0..config.pool_size.max(1))
            .map(|_| Mutex::new(None))
            .collect();
        Ok(Self {
            config,
            tls,
            slots,
            next: AtomicUsize::new(0),
        })
    }

    pub fn config(&self) -> &DirectoryConfig {
        &self.config
    }

    /// Runs one reading LDAP operation with the timeout, on a pooled connection, retrying
    /// transient failures on a fresh connection.
    pub async fn run<T, F, Fut>(&self, op: F) -> Result<T, DirectoryError>
    where
        F: Fn(Ldap) -> Fut,
        Fut: Future<Output = Result<T, LdapError>>,
    {
        self.attempt(Resend::Yes, op).await
    }

    /// Runs one write like [`Self::run`], but sends it at most once: once it may have reached
    /// the directory, a failure is final (only failures to connect are retried). A write
    /// whose reply never came may have been applied; sent again, it would find its own
    /// effect ("already a member") and take it for someone else's.
    pub async fn write<T, F, Fut>(&self, op: F) -> Result<T, DirectoryError>
    where
        F: Fn(Ldap) -> Fut,
        Fut: Future<Output = Result<T, LdapError>>,
    {
        self.attempt(Resend::No, op).await
    }

    async fn attempt<T, F, Fut>(&self, resend: Resend, op: F) -> Result<T, DirectoryError>
    where
        F: Fn(Ldap) -> Fut,
        Fut: Future<Output = Result<T, LdapError>>,
    {
        let mut attempt = 0;
        loop {
            let slot = self.next.fetch_add(1, Ordering::Relaxed) % self.slots.len();
            let (result, sent) = match self.handle(slot).await {
                Ok(mut ldap) => {
                    ldap.with_timeout(self.config.timeout);
                    (op(ldap).await.map_err(|e| self.classify(e)), true)
                }
                Err(e) => (Err(e), false),
            };
            match result {
                Ok(value) => return Ok(value),
                Err(e) => {
                    if e.breaks_connection() {
                        *self.slots[slot].lock().await = None;
                    }
                    if !e.is_transient()
                        || attempt >= self.config.retries
                        || (sent && resend == Resend::No)
                    {
                        return Err(e);
                    }
                    tracing::debug!(error = %e, attempt, "directory operation failed; retrying");
                    tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
                    attempt += 1;
                }
            }
        }
    }

    fn classify(&self, e: LdapError) -> DirectoryError {
        DirectoryError::from_ldap(e, &self.config)
    }

    /// The slot's connection, made (and bound) if it has none or it was closed.
    async fn handle(&self, slot: usize) -> Result<Ldap, DirectoryError> {
        let mut guard = self.slots[slot].lock().await;
        if let Some(ldap) = guard.as_mut()
            && !ldap.is_closed()
        {
            return Ok(ldap.clone());
        }
        let ldap = self.connect().await?;
        *guard = Some(ldap.clone());
        Ok(ldap)
    }

    async fn connect(&self) -> Result<Ldap, DirectoryError> {
        let c = &self.config;
        let mut settings = LdapConnSettings::new()
            .set_conn_timeout(c.timeout)
            .set_starttls(c.transport()? == Transport::StartTls);
        if let Some(tls) = &self.tls {
            settings = settings.set_config(tls.clone());
        }
        let (conn, mut ldap) = LdapConnAsync::with_settings(settings, &c.url)
            .await
            .map_err(|e| self.classify(e))?;
        ldap3::drive!(conn);
        ldap.with_timeout(c.timeout);
        ldap.simple_bind(&c.bind_dn, c.bind_password.expose())
            .await
            .and_then(|r| r.success())
            .map_err(|e| self.classify(e))?;
        tracing::debug!(url = %c.url, "directory connection bound");
        Ok(ldap)
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
