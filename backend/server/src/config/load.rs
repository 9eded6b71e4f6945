//! Reading the configuration: the TOML file, then the `JITROLES_*` environment overrides (each
//! also as `JITROLES_…_FILE`), checked against the schema in the parent module.

use std::path::{Path, PathBuf};

use thiserror::Error;

use serde::Deserialize;

use super::Config;

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
    ("JITROLES_DIRECTORY_URLS", "directory.urls", Kind::List),
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
    (
        "JITROLES_DIRECTORY_MAX_TICKET_LIFETIME_HOURS",
        "directory.max_ticket_lifetime_hours",
        Kind::Int,
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
        "JITROLES_SERVER_TLS_CERT_FILE",
        "server.tls_cert_file",
        Kind::Str,
    ),
    (
        "JITROLES_SERVER_TLS_KEY_FILE",
        "server.tls_key_file",
        Kind::Str,
    ),
    (
        "JITROLES_SERVER_ALLOW_PLAIN_HTTP",
        "server.allow_plain_http",
        Kind::Bool,
    ),
    (
        "JITROLES_SERVER_TRUSTED_PROXIES",
        "server.trusted_proxies",
        Kind::List,
    ),
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
        "JITROLES_NOTIFICATIONS_ALLOWED_NETWORKS",
        "notifications.allowed_networks",
        Kind::List,
    ),
    (
        "JITROLES_NOTIFICATIONS_RENDER_PROGRAM",
        "notifications.render_program",
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
        "JITROLES_ACCESS_CALLER_CACHE_SECONDS",
        "access.caller_cache_seconds",
        Kind::Int,
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

/// Keys that stand for the same setting: set from the environment, one removes the other.
const REPLACES: &[(&str, &str)] = &[
    ("directory.url", "directory.urls"),
    ("directory.urls", "directory.url"),
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
            // one DC or several: the environment's choice replaces the file's
            if let Some(other) = REPLACES.iter().find_map(|(k, o)| (k == key).then_some(*o)) {
                remove_path(&mut table, other);
            }
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

fn remove_path(table: &mut toml::Table, dotted: &str) {
    let Some((section, key)) = dotted.split_once('.') else {
        table.remove(dotted);
        return;
    };
    if let Some(toml::Value::Table(t)) = table.get_mut(section) {
        t.remove(key);
    }
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
mod tests;
