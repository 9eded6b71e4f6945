//! Configuration: a TOML file, then `JITROLES_*` environment overrides. Every key can also be
//! given as `JITROLES_…_FILE` naming a file that holds the value (for secrets mounted as files).

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
};

use jitroles_domain::secret::Secret;
use serde::Deserialize;
use thiserror::Error;

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
}

/// `[directory]`: how the service account reaches AD.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DirectorySection {
    /// `ldaps://dc.example.com` (or `ldap://` with `starttls = true`).
    pub url: String,
    pub bind_dn: String,
    /// Prefer `JITROLES_DIRECTORY_BIND_PASSWORD_FILE` to keeping it in the file.
    pub bind_password: Secret,
    /// PEM file with the CA that signed the DC's certificate; default: the system's roots.
    pub ca_file: Option<PathBuf>,
    #[serde(default)]
    pub starttls: bool,
    /// Plain LDAP: the password crosses the network unencrypted. Off unless set.
    #[serde(default)]
    pub allow_plain_ldap: bool,
    #[serde(default = "defaults::directory_timeout")]
    pub timeout_seconds: u64,
    /// Remove members with jitroles' scheduler even when the forest offers TTL links.
    #[serde(default)]
    pub force_scheduler: bool,
}

impl DirectorySection {
    pub fn adapter_config(&self) -> jitroles_directory::DirectoryConfig {
        let mut c = jitroles_directory::DirectoryConfig::new(
            &self.url,
            &self.bind_dn,
            self.bind_password.clone(),
        );
        c.ca_file = self.ca_file.clone();
        c.starttls = self.starttls;
        c.allow_plain = self.allow_plain_ldap;
        c.timeout = std::time::Duration::from_secs(self.timeout_seconds.max(1));
        c.force_scheduler = self.force_scheduler;
        c
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// One port carries native gRPC, gRPC-web and the web app.
    #[serde(default = "defaults::listen")]
    pub listen: SocketAddr,
    /// The built web app (Trunk's `dist/`).
    #[serde(default = "defaults::web_root")]
    pub web_root: PathBuf,
    /// The address people use, e.g. `https://jitroles.example.com`: sign-in redirects and the
    /// cross-origin check are built from it. Default: `http://` + the listening address.
    pub public_url: Option<String>,
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
    pub fn web_root() -> PathBuf {
        PathBuf::from("dist")
    }
    pub fn directory_timeout() -> u64 {
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
            web_root: defaults::web_root(),
            public_url: None,
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

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("configuration from {origin} is not valid: {message}")]
    Parse { origin: String, message: String },
    #[error("environment variable {var}: {reason}")]
    Env { var: String, reason: String },
}

/// The type of a key in the TOML file, so an environment value becomes the right TOML value
/// (and a password of digits stays a string).
#[derive(Clone, Copy)]
enum Kind {
    Str,
    Bool,
    Int,
    /// Comma-separated.
    List,
}

/// Every key that can be overridden from the environment, and its place in the TOML file.
const ENV_KEYS: &[(&str, &str, Kind)] = &[
    ("JITROLES_DATA_DIR", "data_dir", Kind::Str),
    ("JITROLES_SERVER_LISTEN", "server.listen", Kind::Str),
    ("JITROLES_SERVER_WEB_ROOT", "server.web_root", Kind::Str),
    ("JITROLES_DATABASE_URL", "database.url", Kind::Str),
    ("JITROLES_LOG_LEVEL", "log.level", Kind::Str),
    ("JITROLES_LOG_FORMAT", "log.format", Kind::Str),
    ("JITROLES_DIRECTORY_URL", "directory.url", Kind::Str),
    ("JITROLES_DIRECTORY_BIND_DN", "directory.bind_dn", Kind::Str),
    (
        "JITROLES_DIRECTORY_BIND_PASSWORD",
        "directory.bind_password",
        Kind::Str,
    ),
    ("JITROLES_DIRECTORY_CA_FILE", "directory.ca_file", Kind::Str),
    (
        "JITROLES_DIRECTORY_STARTTLS",
        "directory.starttls",
        Kind::Bool,
    ),
    (
        "JITROLES_DIRECTORY_ALLOW_PLAIN_LDAP",
        "directory.allow_plain_ldap",
        Kind::Bool,
    ),
    (
        "JITROLES_DIRECTORY_TIMEOUT_SECONDS",
        "directory.timeout_seconds",
        Kind::Int,
    ),
    (
        "JITROLES_DIRECTORY_FORCE_SCHEDULER",
        "directory.force_scheduler",
        Kind::Bool,
    ),
    ("JITROLES_OIDC_ISSUER", "oidc.issuer", Kind::Str),
    ("JITROLES_OIDC_AUDIENCE", "oidc.audience", Kind::Str),
    ("JITROLES_OIDC_JWKS_URL", "oidc.jwks_url", Kind::Str),
    ("JITROLES_OIDC_CLIENT_ID", "oidc.client_id", Kind::Str),
    (
        "JITROLES_OIDC_CLIENT_SECRET",
        "oidc.client_secret",
        Kind::Str,
    ),
    ("JITROLES_OIDC_USER_CLAIM", "oidc.user_claim", Kind::Str),
    (
        "JITROLES_OIDC_USER_ATTRIBUTE",
        "oidc.user_attribute",
        Kind::Str,
    ),
    (
        "JITROLES_OIDC_ALLOWED_CLIENTS",
        "oidc.allowed_clients",
        Kind::List,
    ),
    (
        "JITROLES_OIDC_REQUIRE_AT_JWT",
        "oidc.require_at_jwt",
        Kind::Bool,
    ),
    ("JITROLES_SERVER_PUBLIC_URL", "server.public_url", Kind::Str),
    (
        "JITROLES_SESSION_IDLE_MINUTES",
        "session.idle_minutes",
        Kind::Int,
    ),
    ("JITROLES_SESSION_MAX_HOURS", "session.max_hours", Kind::Int),
    (
        "JITROLES_SCHEDULER_RECONCILE_SECONDS",
        "scheduler.reconcile_seconds",
        Kind::Int,
    ),
    (
        "JITROLES_SCHEDULER_UNCONFIRMED_AFTER_SECONDS",
        "scheduler.unconfirmed_after_seconds",
        Kind::Int,
    ),
    (
        "JITROLES_NOTIFICATIONS_CA_FILE",
        "notifications.ca_file",
        Kind::Str,
    ),
    (
        "JITROLES_NOTIFICATIONS_SECRETS_DIR",
        "notifications.secrets_dir",
        Kind::Str,
    ),
    (
        "JITROLES_SCHEDULER_LEASE_SECONDS",
        "scheduler.lease_seconds",
        Kind::Int,
    ),
    (
        "JITROLES_SESSION_INSECURE_LOCALHOST_COOKIE",
        "session.insecure_localhost_cookie",
        Kind::Bool,
    ),
    (
        "JITROLES_ACCESS_ADMIN_GROUPS",
        "access.admin_groups",
        Kind::List,
    ),
    (
        "JITROLES_ACCESS_ALLOW_PROTECTED_TARGETS",
        "access.allow_protected_targets",
        Kind::Bool,
    ),
    (
        "JITROLES_ACCESS_ROLE_GROUP_BASES",
        "access.role_group_bases",
        Kind::List,
    ),
];

fn env_to_toml(var: &str, value: String, kind: Kind) -> Result<toml::Value, ConfigError> {
    let bad = |expected: &str| ConfigError::Env {
        var: var.into(),
        reason: format!("expected {expected}, got {value:?}"),
    };
    Ok(match kind {
        Kind::Str => toml::Value::String(value.clone()),
        Kind::Bool => match value.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => toml::Value::Boolean(true),
            "false" | "0" | "no" | "off" => toml::Value::Boolean(false),
            _ => return Err(bad("true or false")),
        },
        Kind::Int => toml::Value::Integer(value.trim().parse().map_err(|_| bad("a whole number"))?),
        Kind::List => toml::Value::Array(
            value
                .split(',')
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(|v| toml::Value::String(v.to_owned()))
                .collect(),
        ),
    })
}

/// Reads `file` (if given), applies environment overrides read through `env`, and checks the
/// result against the schema (unknown keys are errors, so typos do not pass silently).
pub fn load(
    file: Option<&Path>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Config, ConfigError> {
    let mut table = match file {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.to_owned(),
                source,
            })?;
            text.parse::<toml::Table>()
                .map_err(|e| ConfigError::Parse {
                    origin: path.display().to_string(),
                    message: e.to_string(),
                })?
        }
        None => toml::Table::new(),
    };
    let mut overridden = Vec::new();
    for (var, key, kind) in ENV_KEYS {
        if let Some(value) = env_value(var, &env)? {
            set_path(&mut table, key, env_to_toml(var, value, *kind)?);
            overridden.push(*var);
        }
    }
    Config::deserialize(table).map_err(|e| {
        let mut origin =
            file.map_or_else(|| "the defaults".to_owned(), |p| p.display().to_string());
        if !overridden.is_empty() {
            origin = format!("{origin} with {}", overridden.join(", "));
        }
        ConfigError::Parse {
            origin,
            message: e.to_string(),
        }
    })
}

/// `VAR` or, if unset, the contents of the file named by `VAR_FILE` (one trailing newline dropped).
fn env_value(
    var: &str,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<Option<String>, ConfigError> {
    if let Some(value) = env(var) {
        return Ok(Some(value));
    }
    let file_var = format!("{var}_FILE");
    let Some(path) = env(&file_var) else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(&path).map_err(|e| ConfigError::Env {
        var: file_var,
        reason: format!("cannot read {path}: {e}"),
    })?;
    let text = text.strip_suffix('\n').unwrap_or(&text);
    Ok(Some(text.strip_suffix('\r').unwrap_or(text).to_owned()))
}

fn set_path(table: &mut toml::Table, dotted: &str, value: toml::Value) {
    let mut parts: Vec<&str> = dotted.split('.').collect();
    let last = parts.pop().unwrap_or(dotted);
    let mut here = table;
    for part in parts {
        let entry = here
            .entry(part)
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if !entry.is_table() {
            *entry = toml::Value::Table(toml::Table::new());
        }
        let toml::Value::Table(next) = entry else {
            unreachable!("made a table above")
        };
        here = next;
    }
    here.insert(last.to_owned(), value);
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k| map.get(k).cloned()
    }

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn no_file_and_no_environment_gives_the_defaults() {
        let config = load(None, env_of(&[])).unwrap();
        assert_eq!(config, Config::default());
        assert_eq!(config.database_url(), "sqlite://data/jitroles.db");
    }

    #[test]
    fn environment_overrides_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = write(
            dir.path(),
            "c.toml",
            "[server]\nlisten = \"127.0.0.1:9000\"\nweb_root = \"web\"\n",
        );
        let config = load(
            Some(&file),
            env_of(&[("JITROLES_SERVER_LISTEN", "0.0.0.0:7000")]),
        )
        .unwrap();
        assert_eq!(config.server.listen.to_string(), "0.0.0.0:7000");
        assert_eq!(config.server.web_root, PathBuf::from("web"));
    }

    #[test]
    fn a_secret_can_come_from_a_file_named_by_the_file_variable() {
        let dir = tempfile::tempdir().unwrap();
        let secret = write(dir.path(), "db-url", "postgres://jit:123456@db/jit\n");
        let config = load(
            None,
            env_of(&[("JITROLES_DATABASE_URL_FILE", secret.to_str().unwrap())]),
        )
        .unwrap();
        assert_eq!(
            config.database.url.as_ref().map(Secret::expose),
            Some("postgres://jit:123456@db/jit")
        );
    }

    #[test]
    fn a_missing_secret_file_names_the_variable() {
        let err = load(
            None,
            env_of(&[("JITROLES_DATABASE_URL_FILE", "/nonexistent/secret")]),
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("JITROLES_DATABASE_URL_FILE"),
            "{err}"
        );
    }

    #[test]
    fn a_typo_in_the_file_is_an_error_that_names_the_key_and_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = write(
            dir.path(),
            "c.toml",
            "[server]\nlisen = \"127.0.0.1:9000\"\n",
        );
        let err = load(Some(&file), env_of(&[])).unwrap_err().to_string();
        assert!(err.contains("lisen") && err.contains("c.toml"), "{err}");
    }

    #[test]
    fn broken_toml_reports_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let file = write(dir.path(), "c.toml", "data_dir = \"x\"\n[server\n");
        let err = load(Some(&file), env_of(&[])).unwrap_err().to_string();
        assert!(err.contains("line 2"), "{err}");
    }

    #[test]
    fn a_bad_listen_address_from_the_environment_names_the_variable() {
        let err = load(
            None,
            env_of(&[("JITROLES_SERVER_LISTEN", "not-an-address")]),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("JITROLES_SERVER_LISTEN") && err.contains("socket address"),
            "{err}"
        );
    }

    #[test]
    fn directory_settings_come_typed_from_the_environment_and_the_password_from_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let secret = write(dir.path(), "pw", "123456\n");
        let config = load(
            None,
            env_of(&[
                ("JITROLES_DIRECTORY_URL", "ldap://dc:389"),
                (
                    "JITROLES_DIRECTORY_BIND_DN",
                    "CN=jit-svc,CN=Users,DC=example,DC=test",
                ),
                (
                    "JITROLES_DIRECTORY_BIND_PASSWORD_FILE",
                    secret.to_str().unwrap(),
                ),
                ("JITROLES_DIRECTORY_STARTTLS", "true"),
                ("JITROLES_DIRECTORY_TIMEOUT_SECONDS", "3"),
            ]),
        )
        .unwrap();
        let d = config.directory.unwrap();
        assert_eq!(d.bind_password.expose(), "123456");
        assert!(d.starttls && !d.allow_plain_ldap);
        assert_eq!(d.timeout_seconds, 3);
        assert!(
            !format!("{d:?}").contains("123456"),
            "the password must not reach logs"
        );
    }

    #[test]
    fn a_non_boolean_for_a_switch_names_the_variable() {
        let err = load(None, env_of(&[("JITROLES_DIRECTORY_STARTTLS", "maybe")]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("JITROLES_DIRECTORY_STARTTLS") && err.contains("true or false"),
            "{err}"
        );
    }

    #[test]
    fn admin_groups_come_from_a_comma_separated_variable() {
        let config = load(
            None,
            env_of(&[(
                "JITROLES_ACCESS_ADMIN_GROUPS",
                "jitroles-admins, S-1-5-21-1-2-3-512,",
            )]),
        )
        .unwrap();
        assert_eq!(
            config.access.admin_groups,
            ["jitroles-admins", "S-1-5-21-1-2-3-512"]
        );
    }

    #[test]
    fn token_client_settings_come_from_the_environment_with_secure_defaults() {
        let base = [
            ("JITROLES_OIDC_ISSUER", "https://op.example.test"),
            ("JITROLES_OIDC_AUDIENCE", "urn:jitroles:api"),
        ];
        let oidc = load(None, env_of(&base)).unwrap().oidc.unwrap();
        assert!(oidc.allowed_clients.is_empty());
        assert!(oidc.require_at_jwt);
        let mut set = base.to_vec();
        set.push(("JITROLES_OIDC_ALLOWED_CLIENTS", "jitroles-cli, portal"));
        set.push(("JITROLES_OIDC_REQUIRE_AT_JWT", "false"));
        let oidc = load(None, env_of(&set)).unwrap().oidc.unwrap();
        assert_eq!(oidc.allowed_clients, ["jitroles-cli", "portal"]);
        assert!(!oidc.require_at_jwt);
    }

    #[test]
    fn an_audience_equal_to_the_browser_client_id_is_refused() {
        let oidc = load(
            None,
            env_of(&[
                ("JITROLES_OIDC_ISSUER", "https://op.example.test"),
                ("JITROLES_OIDC_AUDIENCE", "jitroles"),
                ("JITROLES_OIDC_CLIENT_ID", "jitroles"),
            ]),
        )
        .unwrap()
        .oidc
        .unwrap();
        let err = oidc.check().unwrap_err();
        assert!(
            err.contains("oidc.audience") && err.contains("oidc.client_id"),
            "{err}"
        );
    }

    #[test]
    fn a_missing_config_file_is_an_error() {
        let err = load(Some(Path::new("/nonexistent/jitroles.toml")), env_of(&[])).unwrap_err();
        assert!(matches!(err, ConfigError::Read { .. }), "{err}");
    }
}
