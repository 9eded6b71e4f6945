//! `jitroles directory enable-pam` and `directory check --probe-ttl` as an AD admin runs them,
//! against `jitroles-ad-fixture` (no installable directory has the PAM feature; see the
//! fixture's docs). The binary runs as a child process while the fixture answers here.

use jitroles_ad_fixture::{
    ADMIN_DN, ADMIN_PASSWORD, Fixture, Options, ReAdd, SVC_DN, SVC_PASSWORD,
};

use crate::cli::jitroles;

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

async fn run(fixture: &Fixture, (dn, password): (&str, &str), args: &[&str]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = jitroles(dir.path());
    cmd.env("JITROLES_DIRECTORY_URL", fixture.url())
        .env("JITROLES_DIRECTORY_BIND_DN", dn)
        .env("JITROLES_DIRECTORY_BIND_PASSWORD", password)
        .env("JITROLES_DIRECTORY_ALLOW_PLAIN_LDAP", "true")
        .args(args);
    let out = tokio::process::Command::from(cmd).output().await.unwrap();
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

const ADMIN: (&str, &str) = (ADMIN_DN, ADMIN_PASSWORD);
const SERVICE: (&str, &str) = (SVC_DN, SVC_PASSWORD);

fn second_dc_master_pam_off() -> Options {
    Options {
        pam_enabled: false,
        naming_master_elsewhere: true,
        ..Options::default()
    }
}

#[tokio::test]
async fn enable_pam_first_says_where_with_which_right_and_at_what_cost() {
    let fixture = Fixture::start(second_dc_master_pam_off()).await.unwrap();

    let out = run(&fixture, SERVICE, &["directory", "enable-pam"]).await;

    assert_eq!(out.code, Some(1), "{}", out.stderr);
    for needed in [
        "IRREVERSIBLE",
        "the Domain Naming Master (fsmoRoleOwner of CN=Partitions), ldap://127.0.0.2:",
        "Manage-Optional-Features",
        "several times more expensive",
        "Largest role group: none yet (no database",
        "--i-understand-this-is-irreversible",
    ] {
        assert!(out.stdout.contains(needed), "{needed:?} in {}", out.stdout);
    }
    assert!(fixture.feature_requests().is_empty(), "nothing was sent");
}

#[tokio::test]
async fn enable_pam_is_done_by_the_naming_master_and_a_second_run_is_harmless() {
    let fixture = Fixture::start(second_dc_master_pam_off()).await.unwrap();
    let args = [
        "directory",
        "enable-pam",
        "--i-understand-this-is-irreversible",
    ];

    let out = run(&fixture, ADMIN, &args).await;

    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        out.stdout
            .contains("now enabled (by the Domain Naming Master ldap://127.0.0.2:"),
        "{}",
        out.stdout
    );
    assert_eq!(fixture.feature_requests(), vec![1]);
    let again = run(&fixture, ADMIN, &args).await;
    assert_eq!(again.code, Some(0), "{}", again.stderr);
    assert!(again.stdout.contains("already enabled"), "{}", again.stdout);
}

#[tokio::test]
async fn enable_pam_as_the_service_account_names_the_missing_right() {
    let fixture = Fixture::start(second_dc_master_pam_off()).await.unwrap();

    let out = run(
        &fixture,
        SERVICE,
        &[
            "directory",
            "enable-pam",
            "--i-understand-this-is-irreversible",
        ],
    )
    .await;

    assert_eq!(out.code, Some(1));
    assert!(
        out.stderr.contains("Manage-Optional-Features")
            && out.stderr.contains("Nothing was changed"),
        "{}",
        out.stderr
    );
}

fn probe_args() -> Vec<&'static str> {
    vec![
        "directory",
        "check",
        "--probe-ttl",
        "--probe-account",
        "bob",
        "--probe-group",
        "jit-role-web",
    ]
}

#[tokio::test]
async fn the_probe_reports_each_step_and_passes_where_an_extension_can_be_made_to_hold() {
    for (readd, extension) in [
        (ReAdd::ReplaceTtl, "a second add sets the new TTL"),
        (ReAdd::EntryExists, "delete-and-add in one modify does"),
        (ReAdd::KeepOldTtl, "delete-and-add in one modify does"),
    ] {
        let fixture = Fixture::start(Options {
            readd,
            ..Options::default()
        })
        .await
        .unwrap();

        let out = run(&fixture, SERVICE, &probe_args()).await;

        assert_eq!(out.code, Some(0), "{readd:?}: {}{}", out.stdout, out.stderr);
        for needed in [
            "TTL probe with bob in jit-role-web:",
            "1. add a TTL link of 120 s",
            extension,
            "a TTL add over a permanent link:           leaves it permanent",
            "probe links removed:                       yes",
            "verdict: jitroles' assumptions about TTL links hold on this DC",
        ] {
            assert!(
                out.stdout.contains(needed),
                "{readd:?}: {needed:?} in {}",
                out.stdout
            );
        }
        assert!(fixture.links("jit-role-web").is_empty(), "{readd:?}");
    }
}

#[tokio::test]
async fn the_probe_fails_the_check_on_a_dc_that_does_not_keep_ttls() {
    let fixture = Fixture::start(Options {
        max_ttl: Some(60),
        ..Options::default()
    })
    .await
    .unwrap();

    let out = run(&fixture, SERVICE, &probe_args()).await;

    assert_eq!(out.code, Some(1));
    assert!(
        out.stdout
            .contains("do NOT hold on this DC: set directory.force_scheduler = true"),
        "{}",
        out.stdout
    );
    assert!(out.stderr.contains("do not hold"), "{}", out.stderr);
}
