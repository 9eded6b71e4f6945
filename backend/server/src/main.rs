//! `jitroles`: the command line. Subcommands: `serve`, `migrate`.

use std::{io::IsTerminal, path::PathBuf, process::ExitCode, time::Instant};

use anyhow::Context;
use clap::{Parser, Subcommand};
use jitroles_server::config::{self, Config, LogFormat};
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
}

fn main() -> ExitCode {
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
        }
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("jitroles: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: &Config, started: Instant) -> anyhow::Result<()> {
    // Listen for signals before saying "ready": a SIGTERM right after must shut down cleanly.
    let stop = shutdown_signal()?;
    let running = jitroles_server::start(config).await?;
    tracing::info!(
        url = %format!("http://{}/", running.addr()),
        ready_ms = started.elapsed().as_millis() as u64,
        "ready"
    );
    stop.await;
    tracing::info!("shutting down");
    running.shutdown().await
}

async fn migrate(config: &Config) -> anyhow::Result<()> {
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
