//! `jitroles directory …`: what an AD admin runs to see whether jitroles can do its job
//! (seed step 2: may the service account write `member` of each role's group?). Turning on
//! the PAM feature and the TTL probe are in `directory_pam`.

use std::fmt::Write;

use jitroles_directory::ActiveDirectory;
use jitroles_domain::directory::{Capabilities, Directory, Mechanism, find_group};

use crate::config::DirectorySection;

/// Prints the capabilities and, for each group named (DN, SID, GUID or account name), whether
/// the service account can write its members. `Ok(false)` when some group is not writable.
pub async fn check(
    section: &DirectorySection,
    groups: &[String],
    out: &mut String,
) -> anyhow::Result<bool> {
    let dir = ActiveDirectory::new(section.adapter_config())?;
    let caps = dir
        .capabilities()
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let transport = section.adapter_config().transport()?;
    writeln!(
        out,
        "directory:        {} ({transport:?})",
        section.urls.join(", ")
    )?;
    if section.urls.len() > 1 {
        writeln!(out, "domain controllers, tried in this order:")?;
        for (url, state) in each_dc(section).await {
            match state {
                Ok(()) => writeln!(out, "    {url}: answers")?,
                Err(e) => writeln!(out, "    {url}: DOES NOT ANSWER: {e}")?,
            }
        }
    }
    writeln!(out, "bound as:         {}", section.bind_dn)?;
    writeln!(out, "naming context:   {}", dir.base_dn().await?)?;
    writeln!(
        out,
        "forest level:     {} ({})",
        caps.forest_functional_level,
        forest_level_name(caps.forest_functional_level)
    )?;
    writeln!(
        out,
        "PAM feature:      {}",
        if caps.pam_enabled {
            "enabled"
        } else {
            "not enabled"
        }
    )?;
    let why = match (caps.mechanism, caps.pam_enabled) {
        (Mechanism::Ttl, _) => "AD removes members itself when their time-to-live runs out",
        (Mechanism::Scheduled, true) => "forced by directory.force_scheduler",
        (Mechanism::Scheduled, false) => "jitroles' scheduler removes members (PAM is off)",
    };
    writeln!(out, "mechanism:        {} — {why}", caps.mechanism)?;
    if !caps.pam_enabled && caps.forest_functional_level >= 7 {
        writeln!(
            out,
            "                  `jitroles directory enable-pam` explains how to turn on TTL links"
        )?;
    }
    if caps.mechanism == Mechanism::Scheduled {
        kerberos_advice(section, &caps, out)?;
    }

    let mut all_writable = true;
    for name in groups {
        match find_group(&dir, name).await {
            Ok(Some(group)) => {
                let access = dir
                    .write_access(&group.dn)
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                all_writable &= access.can_write_members;
                let verdict = if access.can_write_members {
                    "the service account can write its members"
                } else {
                    "the service account CANNOT write its members: delegate 'Write Members' on it (or its OU)"
                };
                writeln!(out, "group {name}: {verdict}")?;
                writeln!(out, "    {}", group.dn)?;
                if access.protected {
                    writeln!(
                        out,
                        "    warning: protected group (adminCount=1): AdminSDHolder resets its permissions every hour"
                    )?;
                }
            }
            Ok(None) => {
                all_writable = false;
                writeln!(out, "group {name}: not found")?;
            }
            Err(e) => {
                all_writable = false;
                writeln!(out, "group {name}: {e}")?;
            }
        }
    }
    Ok(all_writable)
}

/// Each configured DC asked on its own (no failover), in configured order: whether it answers
/// (binds and reads the forest's capabilities), else why not, within `directory.timeout_seconds`.
pub async fn each_dc(section: &DirectorySection) -> Vec<(String, Result<(), String>)> {
    let timeout = std::time::Duration::from_secs(section.timeout_seconds.max(1));
    let mut states = Vec::with_capacity(section.urls.len());
    for url in &section.urls {
        let mut config = section.adapter_config();
        config.urls = vec![url.clone()];
        let state = match ActiveDirectory::new(config) {
            Err(e) => Err(e.to_string()),
            Ok(dc) => match tokio::time::timeout(timeout, dc.capabilities()).await {
                Ok(Ok(_)) => Ok(()),
                // the whole error: this is for the operator, at the DC's console
                Ok(Err(_)) => Err(dc
                    .controllers()
                    .pop()
                    .and_then(|c| c.last_error)
                    .unwrap_or_else(|| "it refused the request".into())),
                Err(_) => Err(format!("no answer within {} s", timeout.as_secs())),
            },
        };
        states.push((url.clone(), state));
    }
    states
}

/// Under the scheduler a removed member keeps the Kerberos tickets they hold: says how long,
/// and what shortens it where that matters.
fn kerberos_advice(
    section: &DirectorySection,
    caps: &Capabilities,
    out: &mut String,
) -> std::fmt::Result {
    let hours = section.max_ticket_lifetime_hours;
    let ttl_links = if caps.pam_enabled {
        "drop directory.force_scheduler"
    } else if caps.forest_functional_level >= 7 {
        "turn on the PAM feature"
    } else {
        "raise the forest to Windows Server 2016 and turn on the PAM feature"
    };
    let lines = [
        format!(
            "removing a member does not end the tickets they hold: access may last up to {hours} h"
        ),
        "after a grant ends (directory.max_ticket_lifetime_hours). Where that matters:".into(),
        format!("- {ttl_links}:"),
        "  TTL links cap ticket lifetimes at the grant's end;".into(),
        "- or shorten the tickets of the role groups' members: an AD authentication policy".into(),
        "  with a short TGT lifetime, or a shorter \"Maximum lifetime for user ticket\"".into(),
        "  (then set directory.max_ticket_lifetime_hours to match).".into(),
    ];
    for (i, line) in lines.iter().enumerate() {
        let label = if i == 0 { "kerberos:" } else { "" };
        writeln!(out, "{label:<18}{line}")?;
    }
    Ok(())
}

fn forest_level_name(level: u32) -> &'static str {
    match level {
        0 => "Windows 2000",
        1 => "Windows Server 2003 interim",
        2 => "Windows Server 2003",
        3 => "Windows Server 2008",
        4 => "Windows Server 2008 R2",
        5 => "Windows Server 2012",
        6 => "Windows Server 2012 R2",
        7 => "Windows Server 2016",
        10 => "Windows Server 2025",
        _ => "unknown",
    }
}
