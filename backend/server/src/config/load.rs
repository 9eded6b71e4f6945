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
mod tests {
    use std::collections::HashMap;

    use jitroles_domain::secret::Secret;

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

    /// The Debian package's conffile: it loads as shipped, and lists every setting (each
    /// key the environment can set, under its section, commented out or set).
    #[test]
    fn the_packaged_config_loads_and_lists_every_setting() {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../packaging/debian/jitroles.toml");
        let config = load(Some(&path), env_of(&[])).unwrap();
        assert_eq!(config.data_dir, PathBuf::from("/var/lib/jitroles"));
        let text = std::fs::read_to_string(&path).unwrap();
        let mut section = String::new();
        let mut listed = std::collections::HashSet::new();
        for line in text.lines() {
            let line = line.trim_start_matches('#');
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                section = name.to_owned();
            } else if let Some((key, _)) = line.split_once(" = ") {
                let full = if section.is_empty() {
                    key.to_owned()
                } else {
                    format!("{section}.{key}")
                };
                listed.insert(full);
            }
        }
        let missing: Vec<&str> = ENV_KEYS
            .iter()
            .map(|(_, key, _)| *key)
            .filter(|key| !listed.contains(*key))
            .collect();
        assert!(missing.is_empty(), "not in {}: {missing:?}", path.display());
    }

    #[test]
    fn tls_files_go_together_and_plain_http_stays_on_loopback_unless_allowed() {
        let tls = |pairs: &[(&str, &str)]| load(None, env_of(pairs)).unwrap().server;
        let one = tls(&[("JITROLES_SERVER_TLS_CERT_FILE", "/etc/jitroles/tls.pem")]);
        assert!(one.tls_files().unwrap_err().contains("go together"));
        let both = tls(&[
            ("JITROLES_SERVER_LISTEN", "0.0.0.0:443"),
            ("JITROLES_SERVER_TLS_CERT_FILE", "/etc/jitroles/tls.pem"),
            ("JITROLES_SERVER_TLS_KEY_FILE", "/etc/jitroles/tls.key"),
        ]);
        assert!(both.tls_files().unwrap().is_some());
        assert_eq!(both.scheme(), "https");
        let open = tls(&[("JITROLES_SERVER_LISTEN", "[::]:8080")]);
        assert!(open.tls_files().unwrap_err().contains("plain HTTP"));
        let allowed = tls(&[
            ("JITROLES_SERVER_LISTEN", "[::]:8080"),
            ("JITROLES_SERVER_ALLOW_PLAIN_HTTP", "true"),
        ]);
        assert_eq!(allowed.tls_files(), Ok(None));
        assert_eq!(tls(&[]).tls_files(), Ok(None), "127.0.0.1 by default");
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
        assert_eq!(config.server.web_root, Some(PathBuf::from("web")));
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
    fn several_dcs_come_as_urls_one_as_url_and_never_both() {
        let dir = tempfile::tempdir().unwrap();
        let section = |keys: &str| {
            format!("[directory]\n{keys}\nbind_dn = \"CN=jit-svc\"\nbind_password = \"x\"\n")
        };
        let read = |keys: &str| {
            let file = write(dir.path(), "c.toml", &section(keys));
            load(Some(&file), env_of(&[])).map(|c| c.directory.unwrap().urls)
        };
        assert_eq!(
            read("urls = [\"ldaps://dc1\", \"ldaps://dc2\"]").unwrap(),
            ["ldaps://dc1", "ldaps://dc2"]
        );
        assert_eq!(read("url = \"ldaps://dc1\"").unwrap(), ["ldaps://dc1"]);
        for (keys, says) in [
            ("url = \"ldaps://a\"\nurls = [\"ldaps://b\"]", "both set"),
            ("urls = []", "is empty"),
            ("", "missing field `urls` (or `url`"),
            ("urls = [\"ldaps://a\", \"LDAPS://A\"]", "twice"),
        ] {
            let err = read(keys).unwrap_err().to_string();
            assert!(err.contains(says), "{keys}: {err}");
        }
        // the environment's choice replaces the file's
        let file = write(dir.path(), "c.toml", &section("url = \"ldaps://dc1\""));
        let d = load(
            Some(&file),
            env_of(&[("JITROLES_DIRECTORY_URLS", "ldaps://dc2, ldaps://dc3")]),
        )
        .unwrap()
        .directory
        .unwrap();
        assert_eq!(d.urls, ["ldaps://dc2", "ldaps://dc3"]);
        assert_eq!(d.adapter_config().urls, d.urls);
    }

    #[test]
    fn the_ticket_lifetime_defaults_to_ads_ten_hours_and_comes_from_the_environment() {
        let base = [
            ("JITROLES_DIRECTORY_URL", "ldaps://dc"),
            ("JITROLES_DIRECTORY_BIND_DN", "CN=jit-svc"),
            ("JITROLES_DIRECTORY_BIND_PASSWORD", "123456"),
        ];
        let d = load(None, env_of(&base)).unwrap().directory.unwrap();
        assert_eq!(d.max_ticket_lifetime_hours, 10);
        assert_eq!(d.max_ticket_lifetime().as_secs(), 36_000);
        let mut set = base.to_vec();
        set.push(("JITROLES_DIRECTORY_MAX_TICKET_LIFETIME_HOURS", "4"));
        let d = load(None, env_of(&set)).unwrap().directory.unwrap();
        assert_eq!(d.max_ticket_lifetime_hours, 4);
    }

    #[test]
    fn a_ticket_lifetime_outside_one_to_168_hours_is_refused_with_the_setting_named() {
        let dir = tempfile::tempdir().unwrap();
        for hours in ["0", "169", "-1"] {
            let file = write(
                dir.path(),
                "c.toml",
                &format!(
                    "[directory]\nurl = \"ldaps://dc\"\nbind_dn = \"CN=jit-svc\"\n\
                     bind_password = \"123456\"\nmax_ticket_lifetime_hours = {hours}\n"
                ),
            );
            let err = load(Some(&file), env_of(&[])).unwrap_err().to_string();
            assert!(
                err.contains("directory.max_ticket_lifetime_hours must be from 1 to 168 hours")
                    && err.contains(&format!("got {hours}"))
                    && err.contains("c.toml"),
                "{err}"
            );
        }
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
