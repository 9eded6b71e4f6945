//! `jitroles doctor`: what an operator runs after installing or changing the configuration.
//! It checks, in order, the configuration, the database, the directory, the OIDC provider and
//! the public address, one line each, with the fix for what fails; the exit status is 0 only
//! when everything passes. `--json` prints the same for automation.

use std::time::Duration;

use jitroles_directory::ActiveDirectory;
use jitroles_domain::{directory::Directory, ports::RuleStore, system::DatabaseKind};
use serde::Serialize;

use crate::{auth::browser::BrowserSettings, config::Config, grants::reports};

/// One check's outcome.
#[derive(Debug, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub ok: bool,
    /// What was found.
    pub said: String,
    /// What to do when it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

fn pass(name: &'static str, said: impl Into<String>) -> Check {
    Check {
        name,
        ok: true,
        said: said.into(),
        fix: None,
    }
}

fn fail(name: &'static str, said: impl Into<String>, fix: impl Into<String>) -> Check {
    Check {
        name,
        ok: false,
        said: said.into(),
        fix: Some(fix.into()),
    }
}

/// Every configured DC asked on its own: failover hides a DC that is down, so this says it.
async fn each_dc(section: &crate::config::DirectorySection) -> Check {
    let states = crate::directory_cli::each_dc(section).await;
    let down: Vec<String> = states
        .iter()
        .filter_map(|(url, state)| state.as_ref().err().map(|e| format!("{url}: {e}")))
        .collect();
    if down.is_empty() {
        pass("domain controllers", format!("all {} answer", states.len()))
    } else {
        fail(
            "domain controllers",
            format!(
                "{} of {} do not answer (jitroles fails over to the others): {}",
                down.len(),
                states.len(),
                down.join("; ")
            ),
            "check that DC and the network path to it, or take it out of directory.urls",
        )
    }
}

/// How long one network check may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Every check, in order. Later checks that need an earlier one's result (the rules' groups
/// need the database) say so instead of running.
pub async fn run(config: &Config) -> Vec<Check> {
    let mut checks = vec![configuration(config)];
    let database = database(config, &mut checks).await;
    directory(config, database.as_ref(), &mut checks).await;
    if let Some(db) = database {
        db.close().await;
    }
    checks.push(provider(config).await);
    checks.push(public_url(config));
    checks
}

fn configuration(config: &Config) -> Check {
    if let Some(oidc) = &config.oidc
        && let Err(why) = oidc.check()
    {
        return fail("configuration", why, "change the [oidc] settings it names");
    }
    let mut missing = Vec::new();
    if config.directory.is_none() {
        missing.push("[directory]");
    }
    if config.oidc.is_none() {
        missing.push("[oidc]");
    }
    if config.access.admin_groups.is_empty() {
        missing.push("access.admin_groups");
    }
    if missing.is_empty() {
        pass(
            "configuration",
            "read; every section jitroles needs is there",
        )
    } else {
        fail(
            "configuration",
            format!(
                "{} not set: jitroles grants nothing without them",
                missing.join(", ")
            ),
            "add them to the configuration file (every setting is described in README.md)",
        )
    }
}

async fn database(config: &Config, checks: &mut Vec<Check>) -> Option<jitroles_store::Database> {
    let url = config.database_url();
    if config.database.url.is_none()
        && let Err(e) = std::fs::create_dir_all(&config.data_dir)
    {
        checks.push(fail(
            "database",
            format!(
                "the data directory {} cannot be made: {e}",
                config.data_dir.display()
            ),
            "set data_dir to a directory the service user may write",
        ));
        return None;
    }
    let db = match tokio::time::timeout(TIMEOUT, jitroles_store::Database::connect(&url)).await {
        Ok(Ok(db)) => db,
        Ok(Err(e)) => {
            checks.push(fail(
                "database",
                e.to_string(),
                "check database.url, that the database server runs, and the credentials",
            ));
            return None;
        }
        Err(_) => {
            checks.push(fail(
                "database",
                format!("no answer within {} s", TIMEOUT.as_secs()),
                "check database.url and the network to the database server",
            ));
            return None;
        }
    };
    let kind = db.kind();
    checks.push(match db.pending_migrations().await {
        Ok(0) => pass("database", format!("{kind}, reachable, migrations current")),
        Ok(n) if kind == DatabaseKind::Sqlite => pass(
            "database",
            format!("{kind}, reachable; {n} migrations pending, applied when the server starts"),
        ),
        Ok(n) => fail(
            "database",
            format!("{kind}, reachable; {n} migrations pending: the server refuses to start"),
            "run `jitroles migrate` once (with the same configuration)",
        ),
        Err(e) => fail(
            "database",
            format!("{kind}: cannot read its migrations: {e}"),
            "check the database user's rights",
        ),
    });
    Some(db)
}

async fn directory(
    config: &Config,
    db: Option<&jitroles_store::Database>,
    checks: &mut Vec<Check>,
) {
    let Some(section) = &config.directory else {
        checks.push(fail(
            "directory",
            "no [directory] section",
            "add [directory] with the DC's ldaps:// URL, the service account and its CA",
        ));
        return;
    };
    let dir = match ActiveDirectory::new(section.adapter_config()) {
        Ok(dir) => dir,
        Err(e) => {
            checks.push(fail(
                "directory",
                e.to_string(),
                "fix the [directory] settings it names (the CA file, the URL)",
            ));
            return;
        }
    };
    let caps = match tokio::time::timeout(TIMEOUT, dir.capabilities()).await {
        Ok(Ok(caps)) => caps,
        Ok(Err(e)) => {
            checks.push(fail(
                "directory",
                format!("{}: {}", section.urls.join(", "), e.said()),
                "check directory.urls, directory.ca_file (the CA that signed the DC's \
                 certificate) and the service account's DN and password",
            ));
            return;
        }
        Err(_) => {
            checks.push(fail(
                "directory",
                format!(
                    "{} did not answer within {} s",
                    section.urls.join(", "),
                    TIMEOUT.as_secs()
                ),
                "check the network path to the DC (port 636 for ldaps://)",
            ));
            return;
        }
    };
    checks.push(pass(
        "directory",
        format!(
            "{} reachable, bound as {}; mechanism: {} (PAM {})",
            section.urls.join(", "),
            section.bind_dn,
            caps.mechanism,
            if caps.pam_enabled { "on" } else { "off" }
        ),
    ));
    if section.urls.len() > 1 {
        checks.push(each_dc(section).await);
    }
    let Some(db) = db else {
        checks.push(fail(
            "role groups",
            "not checked: the database (where the rules are) cannot be read",
            "fix the database first",
        ));
        return;
    };
    if db.pending_migrations().await.unwrap_or(1) > 0 {
        checks.push(pass(
            "role groups",
            "not checked: the database is not migrated yet, so it holds no rules",
        ));
        return;
    }
    let rules = match db.rules().await {
        Ok(rules) => rules,
        Err(e) => {
            checks.push(fail(
                "role groups",
                format!("the rules cannot be read: {e}"),
                "check the database (above)",
            ));
            return;
        }
    };
    let mut unwritable = Vec::new();
    for rule in &rules {
        match dir.write_access(&rule.target.address()).await {
            Ok(access) if access.can_write_members => {}
            Ok(_) => unwritable.push(format!("{} ({})", rule.target.name, rule.spec.name)),
            Err(e) => unwritable.push(format!(
                "{} ({}): {}",
                rule.target.name,
                rule.spec.name,
                e.said()
            )),
        }
    }
    checks.push(if unwritable.is_empty() {
        pass(
            "role groups",
            format!(
                "the service account can write the members of every rule's group ({})",
                rules.len()
            ),
        )
    } else {
        fail(
            "role groups",
            format!("cannot write the members of: {}", unwritable.join("; ")),
            "delegate 'Write Members' on these groups (or their OU) to the service account",
        )
    });
    match db.snapshot_taken_at().await {
        Ok(Some(taken_at)) => checks.push(restore_review(&dir, db, &rules, taken_at).await),
        Ok(None) => {}
        Err(e) => checks.push(fail(
            "restore review",
            format!("cannot read whether the database is a restored backup: {e}"),
            "check the database (above)",
        )),
    }
}

/// After a restore: the role groups' members added after the snapshot (or of unknown age),
/// whose grants the restore forgot, until an admin says they were reviewed.
async fn restore_review(
    dir: &ActiveDirectory,
    db: &jitroles_store::Database,
    rules: &[jitroles_domain::rule::RoleRule],
    taken_at: chrono::DateTime<chrono::Utc>,
) -> Check {
    let mut listed = Vec::new();
    for rule in rules {
        let group = &rule.target;
        match reports::unexplained(dir, db, group).await {
            Ok(dns) => {
                for m in reports::added_since_snapshot(dir, group, &dns, taken_at).await {
                    let when = m.added.map_or("when unknown".to_owned(), |t| {
                        format!("added {}", t.format("%Y-%m-%d %H:%M UTC"))
                    });
                    listed.push(format!("{}: {} ({when})", group.name, m.dn));
                }
            }
            Err(e) => listed.push(format!("{}: cannot be read: {}", group.name, e.said())),
        }
    }
    let taken = taken_at.format("%Y-%m-%d %H:%M UTC");
    if listed.is_empty() {
        return pass(
            "restore review",
            format!("restored from a backup of {taken}; no role group member to review"),
        );
    }
    fail(
        "restore review",
        format!(
            "restored from a backup of {taken}: grants made after it are gone, while these \
             members may still hold access: {}",
            listed.join("; ")
        ),
        "remove those who should not be in their group (or request the role for them again), \
         then run `jitroles backup --reviewed`",
    )
}

async fn provider(config: &Config) -> Check {
    let Some(oidc) = &config.oidc else {
        return fail(
            "sign-in provider",
            "no [oidc] section",
            "add [oidc] with the provider's issuer and the API's audience",
        );
    };
    let http = match reqwest::Client::builder().timeout(TIMEOUT).build() {
        Ok(http) => http,
        Err(e) => return fail("sign-in provider", e.to_string(), "report this as a bug"),
    };
    let discovery = format!(
        "{}/.well-known/openid-configuration",
        oidc.issuer.trim_end_matches('/')
    );
    let document: serde_json::Value = match async {
        http.get(&discovery)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await
    }
    .await
    {
        Ok(d) => d,
        Err(e) => {
            return fail(
                "sign-in provider",
                format!("{discovery}: {e}"),
                "check oidc.issuer and that the provider is reachable from this server",
            );
        }
    };
    let jwks_url = oidc
        .jwks_url
        .clone()
        .or_else(|| document["jwks_uri"].as_str().map(str::to_owned));
    let Some(jwks_url) = jwks_url else {
        return fail(
            "sign-in provider",
            "the discovery document names no jwks_uri",
            "set oidc.jwks_url",
        );
    };
    let keys = async {
        let keys: serde_json::Value = http
            .get(&jwks_url)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        Ok::<_, reqwest::Error>(keys["keys"].as_array().map_or(0, Vec::len))
    }
    .await;
    let mut said = match keys {
        Ok(n) if n > 0 => format!("{} answers; {n} signing keys", oidc.issuer),
        Ok(_) => {
            return fail(
                "sign-in provider",
                format!("{jwks_url} lists no keys"),
                "check the provider's signing keys",
            );
        }
        Err(e) => {
            return fail(
                "sign-in provider",
                format!("{jwks_url}: {e}"),
                "check oidc.jwks_url or the provider",
            );
        }
    };
    if let Some(client) = &oidc.client_id {
        let base = public_base(config);
        said.push_str(&format!(
            "; register for client {client}: redirect URI {base}/auth/callback and \
             post-logout redirect URI {base}/auth/signed-out"
        ));
    }
    pass("sign-in provider", said)
}

/// The address people use, as the server would take it.
fn public_base(config: &Config) -> String {
    config
        .server
        .public_url
        .clone()
        .unwrap_or_else(|| format!("{}://{}", config.server.scheme(), config.server.listen))
        .trim_end_matches('/')
        .to_owned()
}

fn public_url(config: &Config) -> Check {
    let base = public_base(config);
    let tls = match config.server.tls_files() {
        Ok(files) => files,
        Err(why) => {
            return fail(
                "public address",
                why,
                "serve TLS in jitroles (both TLS files, server.public_url https://…), or listen on \
                 127.0.0.1 behind a TLS proxy",
            );
        }
    };
    if let Some((cert, key)) = tls
        && let Err(why) = crate::tls::Certificates::load(cert, key)
    {
        return fail(
            "public address",
            why,
            "point server.tls_cert_file at the PEM certificate chain and server.tls_key_file at \
             its key, readable by the jitroles user",
        );
    }
    match BrowserSettings::check_public_url(&base, config.session.insecure_localhost_cookie) {
        Ok((url, true)) if tls.is_some() => pass(
            "public address",
            format!(
                "{url}: https, served by jitroles itself on {}",
                config.server.listen
            ),
        ),
        Ok((url, true)) => pass(
            "public address",
            format!(
                "{url}: https; serve it through a TLS proxy in front of {}",
                config.server.listen
            ),
        ),
        Ok((url, false)) if tls.is_some() => fail(
            "public address",
            format!("{url} is plain http, but jitroles serves TLS"),
            format!(
                "set server.public_url to https://{}",
                url.trim_start_matches("http://")
            ),
        ),
        Ok((url, false)) => pass(
            "public address",
            format!(
                "{url}: plain http, accepted on this machine only (session.insecure_localhost_cookie)"
            ),
        ),
        Err(why) => fail(
            "public address",
            why,
            "set server.public_url to the https:// address people use (TLS in jitroles, or a TLS \
             proxy in front)",
        ),
    }
}

/// The checks as people read them: one line each, and the fix under a failure.
pub fn text(checks: &[Check]) -> String {
    let mut out = String::new();
    for c in checks {
        let mark = if c.ok { "ok  " } else { "FAIL" };
        out.push_str(&format!("{mark} {:<17} {}\n", c.name, c.said));
        if let Some(fix) = &c.fix {
            out.push_str(&format!("     {:<17} fix: {fix}\n", ""));
        }
    }
    let failed = checks.iter().filter(|c| !c.ok).count();
    out.push_str(&if failed == 0 {
        "all checks passed\n".to_owned()
    } else {
        format!("{failed} of {} checks failed\n", checks.len())
    });
    out
}
