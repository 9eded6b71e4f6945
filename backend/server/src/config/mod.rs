//! Configuration: a TOML file, then `JITROLES_*` environment overrides. Every key can also be
//! given as `JITROLES_…_FILE` naming a file that holds the value (for secrets mounted as files).

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
};

use jitroles_domain::secret::Secret;
use serde::Deserialize;

mod load;

pub use load::{ConfigError, load};

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where jitroles keeps its state (the SQLite database by default).
    #[serde(default = "defaults::data_dir")]
    pub data_dir: PathBuf,
    #[serde(default)]
    pub server: ServerConfig,
    #[serde(default)]
    pub database: DatabaseConfig,
    #[serde(default)]
    pub log: LogConfig,
    /// Active Directory; optional until the grant engine needs it.
    pub directory: Option<DirectorySection>,
    /// The OpenID Connect provider whose tokens identify callers.
    pub oidc: Option<OidcSection>,
    #[serde(default)]
    pub access: AccessSection,
    #[serde(default)]
    pub session: SessionSection,
    #[serde(default)]
    pub scheduler: SchedulerSection,
    #[serde(default)]
    pub notifications: NotificationsSection,
}

/// `[notifications]`: how mail and webhooks are sent (channels themselves are managed in the
/// admin pages and through AdminService).
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct NotificationsSection {
    /// Extra CA certificates (PEM) trusted for SMTP servers and webhook URLs, next to the
    /// public roots: for an internal mail relay or an internal CA.
    pub ca_file: Option<PathBuf>,
    /// The folder channel secrets (SMTP passwords, webhook signing secrets) may be read from;
    /// without it, channels take secrets only from `JITROLES_NOTIFY_…` variables.
    pub secrets_dir: Option<PathBuf>,
    /// The `jitroles` binary that renders templates in a child process with a memory and CPU
    /// limit (see `notify::render`); default: the running binary. Tests set it, since their
    /// running binary is the test harness.
    pub render_program: Option<PathBuf>,
    /// Networks notifications may reach although jitroles refuses them by default (this host,
    /// link-local, cloud metadata), e.g. `["127.0.0.0/8"]` for a relay on the same host.
    #[serde(default)]
    pub allowed_networks: Vec<String>,
    /// Secret references (`file:PATH`, `env:NAME`) and the only hosts each may be sent to, so
    /// an admin cannot reuse a channel's secret on a host of their own. A secret not named here
    /// may be sent to any host a channel names.
    #[serde(default)]
    pub secret_hosts: std::collections::BTreeMap<String, Vec<String>>,
}

/// `[scheduler]`: background work on grants.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SchedulerSection {
    /// How often role groups are compared with live grants (also once at start-up).
    #[serde(default = "defaults::reconcile_seconds")]
    pub reconcile_seconds: u64,
    /// A grant still `activating` this long after its request was never confirmed (its
    /// directory write failed and could not be undone then): reconciliation ends it `failed`
    /// and removes what it may have written.
    #[serde(default = "defaults::unconfirmed_after_seconds")]
    pub unconfirmed_after_seconds: u64,
    /// An instance that starts ending a grant holds it this long; if it dies meanwhile, another
    /// instance (or this one after a restart) takes the removal over when the lease runs out.
    #[serde(default = "defaults::lease_seconds")]
    pub lease_seconds: u64,
}

impl Default for SchedulerSection {
    fn default() -> Self {
        Self {
            reconcile_seconds: defaults::reconcile_seconds(),
            unconfirmed_after_seconds: defaults::unconfirmed_after_seconds(),
            lease_seconds: defaults::lease_seconds(),
        }
    }
}

/// `[oidc]`: the provider, browser sign-in, and how tokens map to directory accounts.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OidcSection {
    pub issuer: String,
    /// The `aud` of access tokens meant for the jitroles API.
    pub audience: String,
    /// Default: `jwks_uri` from the issuer's discovery document.
    pub jwks_url: Option<String>,
    /// Client-credentials clients → directory account (sAMAccountName) they act as.
    #[serde(default)]
    pub service_accounts: std::collections::BTreeMap<String, String>,
    /// jitroles' own client at the provider, for browser sign-in (none: no browser sign-in).
    pub client_id: Option<String>,
    /// Prefer `JITROLES_OIDC_CLIENT_SECRET_FILE` to keeping it in the file.
    pub client_secret: Option<Secret>,
    /// The claim of ID and access tokens that names a person...
    #[serde(default = "defaults::user_claim")]
    pub user_claim: String,
    /// ...and the directory attribute it is matched against.
    #[serde(default)]
    pub user_attribute: UserAttribute,
    /// Clients (`client_id`, else `azp`, of the token) whose tokens may name a person, besides
    /// jitroles' own `client_id` and the clients in `service_accounts`. A person's token from
    /// any other client of the provider is refused.
    #[serde(default)]
    pub allowed_clients: Vec<String>,
    /// Accept only access tokens typed `at+jwt` (RFC 9068), so an ID token never passes for
    /// one. Turn off only for a provider that does not type its access tokens.
    #[serde(default = "defaults::require_at_jwt")]
    pub require_at_jwt: bool,
}

impl OidcSection {
    /// Refuses settings under which the provider's tokens would mean something else than
    /// intended: with `audience` equal to jitroles' own `client_id`, every ID token the provider
    /// issues to jitroles' browser sign-in is addressed to the API too.
    pub fn check(&self) -> Result<(), String> {
        if self.client_id.as_deref() == Some(self.audience.as_str()) {
            return Err(format!(
                "oidc.audience must not equal oidc.client_id ({:?}): ID tokens issued to jitroles' browser sign-in would be addressed to the API as well; give the API its own audience (resource) at the provider",
                self.audience
            ));
        }
        Ok(())
    }
}

/// Which directory attribute a person's claim is matched against.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
pub enum UserAttribute {
    #[default]
    #[serde(rename = "sAMAccountName")]
    SamAccountName,
    #[serde(rename = "userPrincipalName")]
    UserPrincipalName,
    #[serde(rename = "mail")]
    Mail,
    /// For providers that pass the on-premises SID, such as Entra ID's `onprem_sid`.
    #[serde(rename = "objectSid")]
    ObjectSid,
}

/// `[session]`: browser sessions.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SessionSection {
    /// A session nobody uses for this long ends.
    #[serde(default = "defaults::session_idle_minutes")]
    pub idle_minutes: u64,
    /// Every session ends this long after sign-in.
    #[serde(default = "defaults::session_max_hours")]
    pub max_hours: u64,
    /// Send the session cookie over plain HTTP. Only for a `public_url` of
    /// http://127.0.0.1, http://[::1] or http://localhost (demos and tests).
    #[serde(default)]
    pub insecure_localhost_cookie: bool,
}

/// `[access]`: who administers jitroles.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AccessSection {
    /// Groups (name, DN or SID) whose members, directly or nested, are administrators.
    #[serde(default)]
    pub admin_groups: Vec<String>,
    /// Rules may target protected groups (Domain Admins, Administrators, the operator groups,
    /// adminCount = 1, and groups nested in them). Off: a stolen admin session must not be
    /// able to hand out domain control. jitroles' own admin groups are never a target.
    #[serde(default)]
    pub allow_protected_targets: bool,
    /// OUs (DNs) role groups must be in; empty: anywhere.
    #[serde(default)]
    pub role_group_bases: Vec<String>,
    /// How long a caller's account state and groups are remembered per instance (default
    /// 60 s; 0: read on every call): a disabled, re-enabled or regrouped account takes
    /// effect within it.
    pub caller_cache_seconds: Option<u64>,
}

impl AccessSection {
    pub fn caller_cache(&self) -> std::time::Duration {
        self.caller_cache_seconds.map_or(
            crate::auth::caller::CALLER_TTL,
            std::time::Duration::from_secs,
        )
    }
}

/// `[directory]`: how the service account reaches AD.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(try_from = "DirectoryFile")]
pub struct DirectorySection {
    /// The domain controllers, the preferred first: `ldaps://dc1.example.com` (or `ldap://`
    /// with `starttls = true`). In the file `urls = [..]`, or `url = ".."` for one.
    pub urls: Vec<String>,
    pub bind_dn: String,
    /// Prefer `JITROLES_DIRECTORY_BIND_PASSWORD_FILE` to keeping it in the file.
    pub bind_password: Secret,
    /// PEM file with the CA that signed the DC's certificate; default: the system's roots.
    pub ca_file: Option<PathBuf>,
    pub starttls: bool,
    /// Plain LDAP: the password crosses the network unencrypted. Off unless set.
    pub allow_plain_ldap: bool,
    pub timeout_seconds: u64,
    /// Remove members with jitroles' scheduler even when the forest offers TTL links.
    pub force_scheduler: bool,
    /// The domain's "Maximum lifetime for user ticket" (AD's default: 10 h). Under jitroles'
    /// scheduler a removed member keeps the tickets they hold, so access may outlast a grant by
    /// this much: the Roles page and `directory check` say so. 1 to 168.
    pub max_ticket_lifetime_hours: u64,
}

/// `[directory]` as written: `url` (one DC) or `urls` (several), exactly one of them; the
/// defaults and checks of the other settings are here too.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectoryFile {
    url: Option<String>,
    urls: Option<Vec<String>>,
    bind_dn: String,
    /// Prefer `JITROLES_DIRECTORY_BIND_PASSWORD_FILE` to keeping it in the file.
    bind_password: Secret,
    /// PEM file with the CA that signed the DC's certificate; default: the system's roots.
    ca_file: Option<PathBuf>,
    #[serde(default)]
    starttls: bool,
    /// Plain LDAP: the password crosses the network unencrypted. Off unless set.
    #[serde(default)]
    allow_plain_ldap: bool,
    #[serde(default = "defaults::directory_timeout")]
    timeout_seconds: u64,
    /// Remove members with jitroles' scheduler even when the forest offers TTL links.
    #[serde(default)]
    force_scheduler: bool,
    /// The domain's "Maximum lifetime for user ticket" (AD's default: 10 h). Under jitroles'
    /// scheduler a removed member keeps the tickets they hold, so access may outlast a grant by
    /// this much: the Roles page and `directory check` say so. 1 to 168.
    #[serde(
        default = "defaults::max_ticket_lifetime_hours",
        deserialize_with = "ticket_hours"
    )]
    max_ticket_lifetime_hours: u64,
}

impl TryFrom<DirectoryFile> for DirectorySection {
    type Error = String;

    fn try_from(f: DirectoryFile) -> Result<Self, String> {
        let urls = match (f.url, f.urls) {
            (Some(url), None) => vec![url],
            (None, Some(urls)) if !urls.is_empty() => urls,
            (None, Some(_)) => return Err("directory.urls is empty: give at least one DC".into()),
            (None, None) => {
                return Err("missing field `urls` (or `url`, for one DC) in [directory]".into());
            }
            (Some(_), Some(_)) => {
                return Err(
                    "directory.url and directory.urls are both set: give one of them \
                            (url for one DC, urls for several)"
                        .into(),
                );
            }
        };
        let mut seen = std::collections::HashSet::new();
        if let Some(twice) = urls.iter().find(|u| !seen.insert(u.to_ascii_lowercase())) {
            return Err(format!("directory.urls names {twice} twice"));
        }
        Ok(Self {
            urls,
            bind_dn: f.bind_dn,
            bind_password: f.bind_password,
            ca_file: f.ca_file,
            starttls: f.starttls,
            allow_plain_ldap: f.allow_plain_ldap,
            timeout_seconds: f.timeout_seconds,
            force_scheduler: f.force_scheduler,
            max_ticket_lifetime_hours: f.max_ticket_lifetime_hours,
        })
    }
}

/// A ticket lifetime of whole hours from 1 to 168 (a week): AD takes 0 for "never expires",
/// which would make every grant's end meaningless, and a lifetime over a week is a typo more
/// likely than a policy.
fn ticket_hours<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let hours = i64::deserialize(d)?;
    u64::try_from(hours)
        .ok()
        .filter(|h| (1..=168).contains(h))
        .ok_or_else(|| {
            serde::de::Error::custom(format!(
                "directory.max_ticket_lifetime_hours must be from 1 to 168 hours, got {hours}: \
                 give the domain's \"Maximum lifetime for user ticket\" (AD's default is 10)"
            ))
        })
}

impl DirectorySection {
    pub fn adapter_config(&self) -> jitroles_directory::DirectoryConfig {
        let mut c = jitroles_directory::DirectoryConfig::new(
            String::new(),
            &self.bind_dn,
            self.bind_password.clone(),
        );
        c.urls = self.urls.clone();
        c.ca_file = self.ca_file.clone();
        c.starttls = self.starttls;
        c.allow_plain = self.allow_plain_ldap;
        // the whole of an operation, whichever DCs it tries: the one deadline of the call
        c.timeout = std::time::Duration::from_secs(self.timeout_seconds.max(1));
        c.force_scheduler = self.force_scheduler;
        c
    }

    /// How long a Kerberos ticket may live (see `max_ticket_lifetime_hours`).
    pub fn max_ticket_lifetime(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.max_ticket_lifetime_hours * 3600)
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// One port carries native gRPC, gRPC-web and the web app.
    #[serde(default = "defaults::listen")]
    pub listen: SocketAddr,
    /// The built web app (`frontend/build`'s `dist/`). Not set: the web app built into the
    /// binary (the `embedded-web` feature, on in the Debian package), else `dist`.
    pub web_root: Option<PathBuf>,
    /// The address people use, e.g. `https://jitroles.example.com`: sign-in redirects and the
    /// cross-origin check are built from it. Default: `http://` + the listening address.
    pub public_url: Option<String>,
    /// Proxies (addresses or networks) whose `X-Forwarded-For` is believed for the client's
    /// address in the audit log; from anyone else the peer's own address is recorded.
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    /// TLS in the server, for installations without a proxy: the PEM certificate chain and
    /// its key (both or neither). Re-read on SIGHUP (`systemctl reload jitroles`).
    pub tls_cert_file: Option<PathBuf>,
    pub tls_key_file: Option<PathBuf>,
    /// Serve plain HTTP on an address other than loopback: only behind a TLS proxy on another
    /// machine, on a network nobody else can reach. Off unless set.
    #[serde(default)]
    pub allow_plain_http: bool,
}

impl ServerConfig {
    /// `https` with TLS in the server, else `http`.
    pub fn scheme(&self) -> &'static str {
        if self.tls_cert_file.is_some() {
            "https"
        } else {
            "http"
        }
    }

    /// The TLS certificate and key files, when TLS is on; a fault when only one is set, or
    /// when plain HTTP would be served where others can reach it.
    pub fn tls_files(&self) -> Result<Option<(&Path, &Path)>, String> {
        match (&self.tls_cert_file, &self.tls_key_file) {
            (Some(cert), Some(key)) => Ok(Some((cert, key))),
            (Some(_), None) | (None, Some(_)) => Err(
                "server.tls_cert_file and server.tls_key_file go together: set both, or neither \
                 (TLS in a proxy in front)"
                    .into(),
            ),
            (None, None) if self.listen.ip().is_loopback() || self.allow_plain_http => Ok(None),
            (None, None) => Err(format!(
                "server.listen {} is reachable from other machines, and plain HTTP there sends \
                 sessions and tokens unencrypted: set server.tls_cert_file and \
                 server.tls_key_file, or listen on 127.0.0.1 behind a TLS proxy (or set \
                 server.allow_plain_http = true when a proxy on another machine terminates TLS)",
                self.listen
            )),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `sqlite://PATH` or `postgres://USER:PASSWORD@HOST/DB`; default: SQLite in `data_dir`.
    pub url: Option<Secret>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// A tracing filter such as `info` or `jitroles_server=debug,info`; `RUST_LOG` wins.
    #[serde(default = "defaults::log_level")]
    pub level: String,
    #[serde(default)]
    pub format: LogFormat,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

mod defaults {
    use std::{net::SocketAddr, path::PathBuf};

    pub fn data_dir() -> PathBuf {
        PathBuf::from("data")
    }
    pub fn listen() -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], 8080))
    }
    pub fn directory_timeout() -> u64 {
        10
    }
    /// AD's default "Maximum lifetime for user ticket".
    pub fn max_ticket_lifetime_hours() -> u64 {
        10
    }
    pub fn log_level() -> String {
        "info".into()
    }
    pub fn user_claim() -> String {
        "preferred_username".into()
    }
    pub fn require_at_jwt() -> bool {
        true
    }
    pub fn session_idle_minutes() -> u64 {
        30
    }
    pub fn session_max_hours() -> u64 {
        10
    }
    pub fn reconcile_seconds() -> u64 {
        300
    }
    pub fn unconfirmed_after_seconds() -> u64 {
        120
    }
    pub fn lease_seconds() -> u64 {
        30
    }
}

impl Default for SessionSection {
    fn default() -> Self {
        Self {
            idle_minutes: defaults::session_idle_minutes(),
            max_hours: defaults::session_max_hours(),
            insecure_localhost_cookie: false,
        }
    }
}

impl SessionSection {
    pub fn policy(&self) -> jitroles_domain::session::SessionPolicy {
        jitroles_domain::session::SessionPolicy {
            idle: std::time::Duration::from_secs(self.idle_minutes.max(1) * 60),
            absolute: std::time::Duration::from_secs(self.max_hours.max(1) * 3600),
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: defaults::listen(),
            web_root: None,
            public_url: None,
            trusted_proxies: Vec::new(),
            tls_cert_file: None,
            tls_key_file: None,
            allow_plain_http: false,
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: defaults::log_level(),
            format: LogFormat::default(),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: defaults::data_dir(),
            server: ServerConfig::default(),
            database: DatabaseConfig::default(),
            log: LogConfig::default(),
            directory: None,
            oidc: None,
            access: AccessSection::default(),
            session: SessionSection::default(),
            scheduler: SchedulerSection::default(),
            notifications: NotificationsSection::default(),
        }
    }
}

impl Config {
    /// The database URL in effect: the configured one, or SQLite in the data directory.
    pub fn database_url(&self) -> String {
        self.database
            .url
            .as_ref()
            .map(|u| u.expose().to_owned())
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("jitroles.db").display()))
    }
}
