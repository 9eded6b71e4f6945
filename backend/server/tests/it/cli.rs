//! The `jitroles` binary as an operator meets it: exit codes, messages, signals.

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

pub const BIN: &str = env!("CARGO_BIN_EXE_jitroles");

pub fn jitroles(dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env_clear()
        .env("JITROLES_DATA_DIR", dir.join("data"))
        .env("JITROLES_SERVER_LISTEN", "127.0.0.1:0")
        .env("JITROLES_SERVER_WEB_ROOT", dir.join("dist"))
        .env("NO_COLOR", "1");
    cmd
}

/// Reads `child`'s stderr (it must be piped) until its ready line; the rest of the lines.
pub fn wait_ready(
    child: &mut std::process::Child,
) -> std::io::Lines<BufReader<std::process::ChildStderr>> {
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        assert!(Instant::now() < deadline, "no ready line");
        let line = lines
            .next()
            .expect("the server exited before it was ready")
            .unwrap();
        if line.contains("jitroles: ready") {
            return lines;
        }
    }
}

#[test]
fn a_bad_config_file_exits_with_status_2_and_names_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("jitroles.toml");
    std::fs::write(&config, "[database]\nurl = 5432\n").unwrap();

    let out = jitroles(dir.path())
        .args(["--config", config.to_str().unwrap(), "serve"])
        .output()
        .unwrap();

    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("jitroles.toml") && stderr.contains("database.url"),
        "{stderr}"
    );
}

#[test]
fn a_port_in_use_exits_non_zero_with_the_address() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();

    let out = jitroles(dir.path())
        .env("JITROLES_SERVER_LISTEN", &addr)
        .arg("serve")
        .output()
        .unwrap();

    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("cannot listen on {addr}")),
        "{stderr}"
    );
}

#[test]
fn sigterm_shuts_the_server_down_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = jitroles(dir.path())
        .arg("serve")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = wait_ready(&mut child);

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();

    assert_eq!(status.code(), Some(0));
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(rest.iter().any(|l| l.contains("shutting down")), "{rest:?}");
}

#[test]
fn migrate_applies_migrations_and_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("m.db").display());
    for _ in 0..2 {
        let out = jitroles(dir.path())
            .env("JITROLES_DATABASE_URL", &url)
            .arg("migrate")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(dir.path().join("m.db").exists());
}

/// `jitroles` configured for the test DC (`scripts/ad up`), or `None` (the test skips, see
/// `service`) without one.
fn with_directory(dir: &std::path::Path) -> Option<Command> {
    let url = crate::service::SAMBA.var()?;
    let var = |k: &str| std::env::var(k).unwrap();
    let mut cmd = jitroles(dir);
    cmd.env("JITROLES_DIRECTORY_URL", url)
        .env("JITROLES_DIRECTORY_BIND_DN", var("AD_SVC_DN"))
        .env("JITROLES_DIRECTORY_BIND_PASSWORD", var("AD_SVC_PASS"))
        .env("JITROLES_DIRECTORY_CA_FILE", var("AD_CA_FILE"));
    Some(cmd)
}

#[test]
fn directory_check_reports_the_mechanism_and_which_groups_are_writable() {
    let dir = tempfile::tempdir().unwrap();
    let Some(mut cmd) = with_directory(dir.path()) else {
        return;
    };

    let out = cmd
        .args(["directory", "check", "jit-role-dba", "Domain Admins"])
        .output()
        .unwrap();

    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("mechanism:        scheduled"), "{stdout}");
    assert!(
        stdout.contains("access may last up to 10 h")
            && stdout.contains("turn on the PAM feature:")
            && stdout.contains("TTL links cap ticket lifetimes at the grant's end")
            && stdout.contains("AD authentication policy"),
        "the scheduler's Kerberos caveat and what shortens it: {stdout}"
    );
    assert!(
        stdout.contains("group jit-role-dba: the service account can write its members"),
        "{stdout}"
    );
    assert!(
        stdout.contains("group Domain Admins: the service account CANNOT write"),
        "{stdout}"
    );
    assert!(
        stdout.contains("protected group (adminCount=1)"),
        "{stdout}"
    );
    assert_eq!(out.status.code(), Some(1), "Domain Admins is not writable");

    let ok = with_directory(dir.path())
        .unwrap()
        .args(["directory", "check", "jit-role-web"])
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
}

#[test]
fn enable_pam_needs_the_explicit_flag_and_refuses_samba_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let Some(mut cmd) = with_directory(dir.path()) else {
        return;
    };

    let without = cmd.args(["directory", "enable-pam"]).output().unwrap();
    assert_eq!(without.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&without.stdout).contains("IRREVERSIBLE"));

    let with = with_directory(dir.path())
        .unwrap()
        .args([
            "directory",
            "enable-pam",
            "--i-understand-this-is-irreversible",
        ])
        .output()
        .unwrap();
    assert_eq!(with.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&with.stderr);
    assert!(
        stderr.contains("needs Windows Server 2016") && stderr.contains("Nothing was changed"),
        "{stderr}"
    );
}

#[test]
fn directory_commands_without_a_directory_section_say_what_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let out = jitroles(dir.path())
        .args(["directory", "check"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no [directory] section"));
}

/// `with_directory`, the test provider and the admin group: everything `doctor` checks.
fn fully_configured(dir: &std::path::Path) -> Option<Command> {
    let op = crate::oidc::provider()?;
    let mut cmd = with_directory(dir)?;
    cmd.env("JITROLES_OIDC_ISSUER", &op.issuer)
        .env("JITROLES_OIDC_AUDIENCE", &op.audience)
        .env(
            "JITROLES_OIDC_CLIENT_ID",
            std::env::var("OIDC_CLIENT_ID").unwrap(),
        )
        .env(
            "JITROLES_OIDC_CLIENT_SECRET",
            std::env::var("OIDC_CLIENT_SECRET").unwrap(),
        )
        .env("JITROLES_ACCESS_ADMIN_GROUPS", "jitroles-admins")
        .env("JITROLES_SERVER_LISTEN", "127.0.0.1:8080")
        .env("JITROLES_SESSION_INSECURE_LOCALHOST_COOKIE", "true");
    Some(cmd)
}

fn checks(out: &std::process::Output) -> Vec<serde_json::Value> {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

#[test]
fn doctor_passes_a_working_installation_and_names_the_uris_to_register() {
    let dir = tempfile::tempdir().unwrap();
    let Some(mut cmd) = fully_configured(dir.path()) else {
        return;
    };
    let migrated = fully_configured(dir.path())
        .unwrap()
        .arg("migrate")
        .output()
        .unwrap();
    assert!(migrated.status.success(), "{migrated:?}");
    let out = cmd.args(["doctor", "--json"]).output().unwrap();
    let checks = checks(&out);
    assert_eq!(out.status.code(), Some(0), "{checks:#?}");
    assert!(
        checks[1]["said"]
            .as_str()
            .unwrap()
            .contains("migrations current")
            && checks[3]["said"]
                .as_str()
                .unwrap()
                .contains("every rule's group"),
        "{checks:#?}"
    );
    let names: Vec<&str> = checks.iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "configuration",
            "database",
            "directory",
            "role groups",
            "sign-in provider",
            "public address"
        ]
    );
    assert!(checks.iter().all(|c| c["ok"] == true), "{checks:#?}");
    let provider = checks[4]["said"].as_str().unwrap();
    assert!(
        provider.contains("redirect URI http://127.0.0.1:8080/auth/callback")
            && provider.contains("post-logout redirect URI http://127.0.0.1:8080/auth/signed-out"),
        "{provider}"
    );
}

#[test]
fn doctor_fails_with_a_fix_for_a_wrong_password_and_an_open_public_address() {
    let dir = tempfile::tempdir().unwrap();
    let Some(mut cmd) = fully_configured(dir.path()) else {
        return;
    };
    let out = cmd
        .env("JITROLES_DIRECTORY_BIND_PASSWORD", "not-the-password")
        .env("JITROLES_SERVER_LISTEN", "0.0.0.0:8080")
        .args(["doctor", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let checks = checks(&out);
    let failed: Vec<(&str, &str)> = checks
        .iter()
        .filter(|c| c["ok"] == false)
        .map(|c| (c["name"].as_str().unwrap(), c["fix"].as_str().unwrap()))
        .collect();
    assert_eq!(
        failed.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
        ["directory", "public address"],
        "{checks:#?}"
    );
    assert!(failed[0].1.contains("password"), "{failed:?}");
    assert!(failed[1].1.contains("https://"), "{failed:?}");
}

/// `jitroles rules` on the configured database and DC: export, plan (one line for one
/// changed field, on standard output), apply; only as an admin.
#[test]
fn rules_export_plan_and_apply_work_as_an_admin_and_refuse_anyone_else() {
    let dir = tempfile::tempdir().unwrap();
    let Some(_) = with_directory(dir.path()) else {
        return;
    };
    let run = |args: &[&str]| {
        let mut cmd = with_directory(dir.path()).unwrap();
        cmd.env("JITROLES_ACCESS_ADMIN_GROUPS", "jitroles-admins")
            .args(["rules"])
            .args(args)
            .output()
            .unwrap()
    };
    let file = dir.path().join("rules.yaml");
    std::fs::write(
        &file,
        "rules:\n- name: CLI rule\n  group: {name: jit-role-web}\n  acl:\n  - {effect: allow, kind: group, name: dba-oncall}\n  max_duration: 1h\n",
    )
    .unwrap();
    let path = file.to_str().unwrap();

    let refused = run(&["plan", path, "--as", "dave"]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("dave may not change rules"), "{stderr}");

    let applied = run(&["apply", path, "--as", "alice"]);
    let stderr = String::from_utf8_lossy(&applied.stderr);
    assert!(applied.status.success(), "{stderr}");
    assert!(
        stderr.contains("applied: 1 to create, 0 to change, 0 to delete, 0 unchanged, 0 kept"),
        "{stderr}"
    );

    let exported = dir.path().join("exported.yaml");
    let out = run(&[
        "export",
        "--as",
        "alice",
        "--to",
        exported.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&exported).unwrap();
    std::fs::write(
        &exported,
        text.replace("max_duration: 1h", "max_duration: 90m"),
    )
    .unwrap();
    let planned = run(&["plan", exported.to_str().unwrap(), "--as", "alice"]);
    assert!(
        planned.status.success(),
        "{}",
        String::from_utf8_lossy(&planned.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&planned.stdout),
        "~ \"CLI rule\": max_duration: 1h → 1h 30m\n",
        "one line for one changed field"
    );

    std::fs::write(&file, "rules:\n- name: CLI rule\n  max_duration: 1h\n").unwrap();
    let bad = run(&["plan", path, "--as", "alice"]);
    assert!(!bad.status.success());
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        stderr.contains("line 3, column 3: missing field `group`"),
        "{stderr}"
    );
}
