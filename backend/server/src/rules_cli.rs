//! `jitroles rules export|plan|apply`: rules as code from the command line, on the server's
//! database and directory (the configuration the server reads), as the admin named by
//! `--as`, who must be one (the audit log names them). Plan prints one line per step (a
//! change of one field is one line) on standard output, and the summary, notes and refusals
//! on standard error.

use std::{path::PathBuf, sync::Arc};

use anyhow::Context;
use clap::Subcommand;
use jitroles_domain::{
    access::{AdminRight, Caller, authorize_admin},
    directory::{Directory, UserLookup},
};

use crate::{
    admin_groups::AdminGroups,
    clock::SystemClock,
    config::Config,
    grants::{Engine, rules_code::PlanReport},
    metrics::Metrics,
};

#[derive(Subcommand)]
pub enum RulesCommand {
    /// Write every rule as YAML (groups and principals by name and SID).
    Export {
        /// The admin who exports (sAMAccountName).
        #[arg(long = "as", value_name = "ADMIN")]
        admin: String,
        /// Write to this file instead of standard output.
        #[arg(long, value_name = "FILE")]
        to: Option<PathBuf>,
    },
    /// Print what applying FILE would create, change and delete, without writing. Exits 1 on
    /// a problem in the file or a change the API would refuse.
    Plan {
        file: PathBuf,
        #[arg(long = "as", value_name = "ADMIN")]
        admin: String,
        /// Delete rules the file does not hold (else they are kept).
        #[arg(long)]
        prune: bool,
    },
    /// Apply FILE in one transaction, or nothing.
    Apply {
        file: PathBuf,
        #[arg(long = "as", value_name = "ADMIN")]
        admin: String,
        /// Delete rules the file does not hold (else they are kept).
        #[arg(long)]
        prune: bool,
    },
}

pub async fn run(config: &Config, command: RulesCommand) -> anyhow::Result<()> {
    let admin = match &command {
        RulesCommand::Export { admin, .. }
        | RulesCommand::Plan { admin, .. }
        | RulesCommand::Apply { admin, .. } => admin.clone(),
    };
    let (engine, right, caller) = open(config, &admin).await?;
    let code = &engine.rules_code;
    match command {
        RulesCommand::Export { to, .. } => {
            let yaml = code.export(&right).await?;
            match to {
                Some(path) => std::fs::write(&path, yaml)
                    .with_context(|| format!("cannot write {}", path.display()))?,
                None => print!("{yaml}"),
            }
        }
        RulesCommand::Plan { file, prune, .. } => {
            let report = code.plan(&right, &read(&file)?, prune).await?;
            say(&report, "");
            anyhow::ensure!(
                report.refusals.is_empty(),
                "applying this file would be refused, and write nothing"
            );
        }
        RulesCommand::Apply { file, prune, .. } => {
            let report = code.apply(&right, &caller, &read(&file)?, prune).await?;
            say(&report, "applied: ");
        }
    }
    Ok(())
}

fn read(path: &PathBuf) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

fn say(report: &PlanReport, prefix: &str) {
    let text = report.text();
    if !text.is_empty() {
        println!("{text}");
    }
    for note in &report.notes {
        eprintln!("note: {note}");
    }
    for refusal in &report.refusals {
        eprintln!("refused: {refusal}");
    }
    eprintln!("{prefix}{}", report.plan.summary());
}

/// The engine on the configured database and directory, and `admin` as a caller with the
/// admin right (refused when they are not an admin).
async fn open(config: &Config, admin: &str) -> anyhow::Result<(Arc<Engine>, AdminRight, Caller)> {
    let section = config
        .directory
        .as_ref()
        .context("rules need the directory: the configuration has no [directory] section")?;
    let directory: Arc<dyn Directory> = Arc::new(jitroles_directory::ActiveDirectory::new(
        section.adapter_config(),
    )?);
    let database = crate::open_database(config).await?;
    let user = directory
        .find_user(&UserLookup::SamAccountName(admin.to_owned()))
        .await?
        .with_context(|| format!("the directory has no user {admin}"))?;
    let groups = directory.token_groups(&user.dn).await?;
    let caller = Caller::new(user, groups);
    let admin_groups = Arc::new(AdminGroups::new(
        config.access.admin_groups.clone(),
        directory.clone(),
    ));
    let right = authorize_admin(&caller, admin_groups.sids().await?)
        .map_err(|e| anyhow::anyhow!("{admin} may not change rules: {e}"))?;
    let engine = crate::engine(
        config,
        &database,
        directory,
        Arc::new(SystemClock),
        Arc::new(Metrics::new()),
        format!("rules-cli-{}", std::process::id()),
        Some(admin_groups),
    );
    Ok((engine, right, caller))
}
