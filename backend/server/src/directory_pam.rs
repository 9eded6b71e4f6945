//! The TTL path's steps an AD admin takes: `jitroles directory enable-pam` (said in full
//! before it is done: where, with which right, at what cost) and
//! `jitroles directory check --probe-ttl` (the DC's own answers to what Microsoft's documents
//! leave open).

use std::fmt::Write;

use jitroles_directory::{ActiveDirectory, Link, ProbeReport, ReAdd};
use jitroles_domain::{
    directory::{Directory, UserLookup, find_group},
    ports::RuleStore,
};

use crate::config::{Config, DirectorySection};

/// What `enable-pam` will do, read from the directory and the rules where it can be.
pub async fn explain_enable_pam(config: &Config, section: &DirectorySection) -> String {
    let dir = ActiveDirectory::new(section.adapter_config());
    let master = match &dir {
        Ok(dir) => dir.naming_master().await.map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    let master = master.unwrap_or_else(|e| format!("(cannot be read now: {e})"));
    let largest = match &dir {
        Ok(dir) => largest_role_group(config, dir).await,
        Err(e) => format!("(cannot be read now: {e})"),
    };
    format!(
        "\
Enabling the Privileged Access Management optional feature lets AD remove group members itself
when their time-to-live runs out, so a membership ends on time even if jitroles is down.

It is IRREVERSIBLE: once on, it cannot be turned off for the forest. It needs forest functional
level Windows Server 2016 (7) or later.

Where:  the Domain Naming Master (fsmoRoleOwner of CN=Partitions), {master}; other DCs refuse
        the operation.
Right:  Manage-Optional-Features on CN=Partitions of the configuration partition (Enterprise
        Admins hold it). jitroles' service account normally does not: run this with an admin
        account in the [directory] settings, or run the PowerShell equivalent on a DC:

    Enable-ADOptionalFeature 'Privileged Access Management Feature' -Scope ForestOrConfigurationSet -Target <forest>

Cost:   Microsoft's documentation notes that with the feature on, reading the members of very
        large groups becomes several times more expensive. Largest role group: {largest}.

Then:   `jitroles directory check --probe-ttl --probe-account ACCOUNT --probe-group GROUP`
        asks the DC what it does with TTL links before jitroles relies on them.

To let jitroles do it, run again with --i-understand-this-is-irreversible."
    )
}

/// The role group with the most members, by the rules in the database, as one phrase.
async fn largest_role_group(config: &Config, dir: &ActiveDirectory) -> String {
    let sqlite_file = config.data_dir.join("jitroles.db");
    if config.database.url.is_none() && !sqlite_file.exists() {
        return format!("none yet (no database at {})", sqlite_file.display());
    }
    let rules = match jitroles_store::Database::connect(&config.database_url()).await {
        Ok(db) => db.rules().await.map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    let rules = match rules {
        Ok(rules) => rules,
        Err(e) => return format!("(the rules cannot be read now: {e})"),
    };
    let mut targets: Vec<_> = rules.into_iter().map(|r| r.target).collect();
    targets.sort_by(|a, b| a.sid.cmp(&b.sid));
    targets.dedup_by(|a, b| a.sid == b.sid);
    let mut largest: Option<(String, usize)> = None;
    for target in targets {
        match dir.members(&target.address()).await {
            Ok(members) if largest.as_ref().is_none_or(|(_, n)| members.len() > *n) => {
                largest = Some((target.name, members.len()));
            }
            Ok(_) => {}
            Err(e) => return format!("(the members of {} cannot be read now: {e})", target.name),
        }
    }
    largest.map_or_else(
        || "none yet (no rules)".to_owned(),
        |(name, n)| format!("{name}, {n} members"),
    )
}

/// Performs the rootDSE `enableOptionalFeature` operation on the Domain Naming Master.
pub async fn enable_pam(section: &DirectorySection) -> anyhow::Result<String> {
    let dir = ActiveDirectory::new(section.adapter_config())?;
    let caps = dir
        .capabilities()
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    if caps.pam_enabled {
        return Ok("The PAM feature is already enabled in this forest; nothing to do.".into());
    }
    if caps.forest_functional_level < 7 {
        anyhow::bail!(
            "the forest functional level is {}; the PAM feature needs Windows Server 2016 (7) or later. \
             Nothing was changed.",
            caps.forest_functional_level,
        );
    }
    let enabled = dir.enable_pam().await.map_err(|e| {
        anyhow::anyhow!("the directory did not enable the PAM feature: {e}. Nothing was changed.")
    })?;
    Ok(if enabled.already {
        format!(
            "The PAM feature was already on (the Domain Naming Master {} says so); nothing changed.",
            enabled.dc
        )
    } else {
        format!(
            "The PAM feature is now enabled (by the Domain Naming Master {}): jitroles will add \
             members with a time-to-live. Run `jitroles directory check --probe-ttl` next.",
            enabled.dc
        )
    })
}

/// Runs the TTL probe with `account` on `group` and writes its report; `Ok(true)` when
/// jitroles' assumptions hold on this DC.
pub async fn probe(
    section: &DirectorySection,
    account: &str,
    group: &str,
    out: &mut String,
) -> anyhow::Result<bool> {
    let dir = ActiveDirectory::new(section.adapter_config())?;
    let lookup = if account.contains('@') {
        UserLookup::UserPrincipalName(account.to_owned())
    } else {
        UserLookup::SamAccountName(account.to_owned())
    };
    let user = dir
        .find_user(&lookup)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .ok_or_else(|| anyhow::anyhow!("the probe account {account} was not found"))?;
    let group = find_group(&dir, group)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .ok_or_else(|| anyhow::anyhow!("the probe group {group} was not found"))?;
    let report = dir
        .probe_ttl(&group.dn, &user.sid)
        .await
        .map_err(|e| anyhow::anyhow!("the probe did not run: {e}"))?;
    write_report(&report, &user.account_name, &group.name, out)?;
    Ok(report.assumptions_hold())
}

fn write_report(
    report: &ProbeReport,
    account: &str,
    group: &str,
    out: &mut String,
) -> std::fmt::Result {
    writeln!(out, "TTL probe with {account} in {group}:")?;
    for (i, step) in report.steps.iter().enumerate() {
        writeln!(
            out,
            "  {}. {:<56} → {}; then {}",
            i + 1,
            step.action,
            step.answer,
            step.link
        )?;
    }
    let yes_no = |b: bool| if b { "yes" } else { "NO" };
    writeln!(
        out,
        "TTL links written and read back as asked:  {}",
        yes_no(report.ttl_links_work)
    )?;
    writeln!(
        out,
        "extending a TTL link:                      {}",
        match report.readd {
            ReAdd::SetsTtl => "a second add sets the new TTL; jitroles re-adds, reads back",
            ReAdd::NeedsRewrite =>
                "a second add does not set it; delete-and-add in one modify does, and jitroles does that",
            ReAdd::Unknown => "NEITHER a second add nor a rewrite sets the new TTL",
        }
    )?;
    writeln!(
        out,
        "a TTL add over a permanent link:           {}",
        match report.over_permanent {
            Link::Permanent => "leaves it permanent",
            Link::Ttl(_) =>
                "makes it expire; jitroles reads the link first and never sends that add",
            Link::Absent => "REMOVES it",
        }
    )?;
    writeln!(
        out,
        "probe links removed:                       {}",
        if report.cleaned_up {
            "yes".to_owned()
        } else {
            format!("NO: remove {account} from {group} by hand")
        }
    )?;
    writeln!(
        out,
        "verdict: {}",
        if report.assumptions_hold() {
            "jitroles' assumptions about TTL links hold on this DC"
        } else {
            "jitroles' assumptions do NOT hold on this DC: set directory.force_scheduler = true"
        }
    )
}
