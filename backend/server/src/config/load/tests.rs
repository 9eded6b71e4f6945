//! Loading the configuration: file, environment, defaults, and the packaged conffile.

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
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../packaging/debian/jitroles.toml");
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
