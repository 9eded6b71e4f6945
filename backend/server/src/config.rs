//! Configuration: a TOML file, then `JITROLES_*` environment overrides. Every key can also be
//! given as `JITROLES_…_FILE` naming a file that holds the value (for secrets mounted as files).

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
};

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
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `sqlite://PATH` or `postgres://USER:PASSWORD@HOST/DB`; default: SQLite in `data_dir`.
    pub url: Option<String>,
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
    pub fn log_level() -> String {
        "info".into()
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: defaults::listen(),
            web_root: defaults::web_root(),
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
        }
    }
}

impl Config {
    /// The database URL in effect: the configured one, or SQLite in the data directory.
    pub fn database_url(&self) -> String {
        self.database
            .url
            .clone()
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

/// Every key that can be overridden from the environment, and its place in the TOML file.
/// All of them are strings there (addresses and paths parse from strings).
const ENV_KEYS: &[(&str, &str)] = &[
    ("JITROLES_DATA_DIR", "data_dir"),
    ("JITROLES_SERVER_LISTEN", "server.listen"),
    ("JITROLES_SERVER_WEB_ROOT", "server.web_root"),
    ("JITROLES_DATABASE_URL", "database.url"),
    ("JITROLES_LOG_LEVEL", "log.level"),
    ("JITROLES_LOG_FORMAT", "log.format"),
];

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
    for (var, key) in ENV_KEYS {
        if let Some(value) = env_value(var, &env)? {
            set_path(&mut table, key, toml::Value::String(value));
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
            config.database.url.as_deref(),
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
    fn a_missing_config_file_is_an_error() {
        let err = load(Some(Path::new("/nonexistent/jitroles.toml")), env_of(&[])).unwrap_err();
        assert!(matches!(err, ConfigError::Read { .. }), "{err}");
    }
}
