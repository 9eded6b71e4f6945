//! `jitroles`: the command line. Subcommands: `serve`, `migrate`, `doctor`, `backup`,
//! `directory`, `audit`, `rules`.

use std::{io::IsTerminal, path::PathBuf, process::ExitCode, time::Instant};

use anyhow::Context;
use clap::{Parser, Subcommand};
use jitroles_server::{
    config::{self, Config, LogFormat},
    notify::render,
};
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(
    name = "jitroles",
    version,
    about = "Just-in-time, time-boxed membership of Active Directory groups"
)]
struct Cli {
    /// TOML configuration file; JITROLES_* environment variables override it.
    #[arg(long, short, global = true, env = "JITROLES_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve gRPC, gRPC-web and the web app on one port until SIGINT or SIGTERM.
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Check the configuration, the database, the DC, the sign-in provider and the public
    /// address, one line each with a fix for what fails; exits 0 only if all pass.
    Doctor {
        /// Print the checks as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write a consistent copy of the SQLite database to FILE while the server runs (to
    /// restore: README "Backups"); PostgreSQL is backed up with pg_dump.
    Backup {
        #[arg(
            long,
            value_name = "FILE",
            required_unless_present = "reviewed",
            conflicts_with = "reviewed"
        )]
        to: Option<PathBuf>,
        /// After a restore: the role group members listed for review (`jitroles doctor`, the
        /// Directory page) were dealt with; clears the list.
        #[arg(long)]
        reviewed: bool,
    },
    /// Check or prepare Active Directory (the [directory] config section).
    #[command(subcommand)]
    Directory(DirectoryCommand),
    /// The hash-chained audit log: verify it, export it for a SIEM, sign checkpoints.
    #[command(subcommand)]
    Audit(jitroles_server::audit_cli::AuditCommand),
    /// Rules as code: export every rule as YAML, plan a file (what it would change), apply it
    /// in one transaction.
    #[command(subcommand)]
    Rules(jitroles_server::rules_cli::RulesCommand),
}

#[derive(Subcommand)]
enum DirectoryCommand {
    /// Connect, bind, print the forest's capabilities and the mechanism jitroles will use, and
    /// whether the service account may write the members of each GROUP (DN, SID, GUID or name).
    /// Exits 1 if any named group is not writable (or, with --probe-ttl, if jitroles'
    /// assumptions about TTL links do not hold on this DC).
    Check {
        groups: Vec<String>,
        /// With the PAM feature on: add, re-add and remove TTL links of PROBE_ACCOUNT in
        /// PROBE_GROUP and report what this DC does with each (about a second; leaves both
        /// as they were).
        #[arg(long, requires_all = ["probe_account", "probe_group"])]
        probe_ttl: bool,
        /// An account that is not a member of the probe group (sAMAccountName or UPN).
        #[arg(long, requires = "probe_ttl")]
        probe_account: Option<String>,
        /// A scratch group the service account may write (DN, SID, GUID or name).
        #[arg(long, requires = "probe_ttl")]
        probe_group: Option<String>,
    },
    /// Turn on AD's Privileged Access Management feature (TTL links). Irreversible.
    EnablePam {
        /// Required: the feature cannot be turned off again.
        #[arg(long)]
        i_understand_this_is_irreversible: bool,
    },
}

fn main() -> ExitCode {
    // a render child (see notify::render): nothing else of the program runs in it
    if std::env::args_os().nth(1).as_deref() == Some(render::CHILD_ARG.as_ref()) {
        return render::child_main();
    }
    let started = Instant::now();
    let cli = Cli::parse();
    let config = match config::load(cli.config.as_deref(), |k| std::env::var(k).ok()) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("jitroles: {e}");
            return ExitCode::from(2);
        }
    };
    init_logging(&config);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("jitroles: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async {
        match cli.command {
            Command::Serve => serve(&config, started).await,
            Command::Migrate => migrate(&config).await,
            Command::Doctor { json } => {
                let checks = jitroles_server::doctor::run(&config).await;
                let shown = if json {
                    serde_json::to_string_pretty(&checks).unwrap_or_default() + "\n"
                } else {
                    jitroles_server::doctor::text(&checks)
                };
                // a closed pipe (`| head`) is not an error of the checks
                let _ = std::io::Write::write_all(&mut std::io::stdout(), shown.as_bytes());
                let failed = checks.iter().filter(|c| !c.ok).count();
                anyhow::ensure!(failed == 0, "{failed} checks failed");
                Ok(())
            }
            Command::Backup { to: Some(to), .. } => {
                let now = jitroles_domain::clock::Clock::now(&jitroles_server::clock::SystemClock);
                println!(
                    "{}",
                    jitroles_server::backup::to_file(&config, &to, now).await?
                );
                Ok(())
            }
            Command::Backup { to: None, .. } => {
                println!("{}", jitroles_server::backup::reviewed(&config).await?);
                Ok(())
            }
            Command::Directory(command) => directory(&config, command).await,
            Command::Audit(command) => jitroles_server::audit_cli::run(&config, command).await,
            Command::Rules(command) => jitroles_server::rules_cli::run(&config, command).await,
        }
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: &Config, started: Instant) -> anyhow::Result<()> {
    // Listen for signals before saying "ready": a SIGTERM right after must shut down cleanly.
    let stop = shutdown_signal()?;
    let running = jitroles_server::start(config).await?;
    tracing::info!(
        url = %format!("{}://{}/", config.server.scheme(), running.addr()),
        ready_ms = started.elapsed().as_millis() as u64,
        "ready"
    );
    stop.await;
    tracing::info!("shutting down");
    running.shutdown().await
}

async fn directory(config: &Config, command: DirectoryCommand) -> anyhow::Result<()> {
    use jitroles_server::{directory_cli, directory_pam};
    let section = config.directory.as_ref().context(
        "no [directory] section in the configuration (or JITROLES_DIRECTORY_* variables)",
    )?;
    match command {
        DirectoryCommand::Check {
            groups,
            probe_ttl,
            probe_account,
            probe_group,
        } => {
            let mut report = String::new();
            let all_writable = directory_cli::check(section, &groups, &mut report).await?;
            print!("{report}");
            let probe_holds = match (probe_ttl, probe_account, probe_group) {
                (true, Some(account), Some(group)) => {
                    let mut report = String::new();
                    let holds =
                        directory_pam::probe(section, &account, &group, &mut report).await?;
                    print!("{report}");
                    holds
                }
                _ => true,
            };
            anyhow::ensure!(
                all_writable,
                "the service account cannot write the members of every group named"
            );
            anyhow::ensure!(
                probe_holds,
                "jitroles' assumptions about TTL links do not hold on this DC"
            );
        }
        DirectoryCommand::EnablePam {
            i_understand_this_is_irreversible: false,
        } => {
            println!(
                "{}",
                directory_pam::explain_enable_pam(config, section).await
            );
            anyhow::bail!("not enabled: --i-understand-this-is-irreversible was not given");
        }
        DirectoryCommand::EnablePam {
            i_understand_this_is_irreversible: true,
        } => {
            println!("{}", directory_pam::enable_pam(section).await?);
        }
    }
    Ok(())
}

async fn migrate(config: &Config) -> anyhow::Result<()> {
    // SQLite in the data directory: made on first use, as `serve` does
    if config.database.url.is_none() {
        std::fs::create_dir_all(&config.data_dir).with_context(|| {
            format!(
                "cannot make the data directory {}",
                config.data_dir.display()
            )
        })?;
    }
    let database = jitroles_store::Database::connect(&config.database_url()).await?;
    let applied = database.migrate().await?;
    tracing::info!(applied, database = %database.kind(), "database is up to date");
    database.close().await;
    Ok(())
}

/// Resolves on the first SIGINT or SIGTERM; the handlers are installed when this is called.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?;
    Ok(async move {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
    })
}

fn init_logging(config: &Config) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&config.log.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    // colours only for a terminal: log files and journald get plain text
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    match config.log.format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
