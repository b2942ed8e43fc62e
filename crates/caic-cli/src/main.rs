//! The `caic` binary.

use anyhow::Context;
use caic_server::config::{default_config_dir, Config};
use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// Coding agents in containers.
#[derive(Parser)]
#[command(name = "caic", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs the server (API + web UI).
    Serve(ServeArgs),
    /// Builds the container base image now if its inputs changed, showing progress.
    Image(ImageArgs),
}

#[derive(clap::Args)]
struct ImageArgs {
    /// Config directory (default: $CAIC_CONFIG_DIR, else the platform config dir + /caic).
    #[arg(long)]
    config_dir: Option<PathBuf>,
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Listen address: `localhost:2242`, `:PORT` (loopback only) or `0.0.0.0:PORT` (all interfaces).
    #[arg(long)]
    listen: Option<String>,
    /// Directory under which git repos are discovered.
    #[arg(long)]
    root: Option<PathBuf>,
    /// Config directory (default: $CAIC_CONFIG_DIR, else the platform config dir + /caic).
    #[arg(long)]
    config_dir: Option<PathBuf>,
    /// Cache directory for task logs.
    #[arg(long)]
    cache_dir: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CAIC_LOG")
                .unwrap_or_else(|_| "info,tower_http=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Serve(args) => serve(args).await,
        Command::Image(args) => image(args).await,
    }
}

async fn image(args: ImageArgs) -> anyhow::Result<()> {
    let dir = args.config_dir.unwrap_or_else(default_config_dir);
    let cfg = Config::load(&dir, std::env::vars())?;
    let tag = caic_server::build_image(&cfg, |line| println!("{line}"))
        .await
        .context("building the base image")?;
    println!("image ready: {tag}");
    Ok(())
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let dir = args.config_dir.unwrap_or_else(default_config_dir);
    let mut cfg = Config::load(&dir, std::env::vars())?;
    if let Some(l) = args.listen {
        cfg.listen = l;
    }
    if let Some(r) = args.root {
        cfg.repos_root = Some(r);
    }
    if let Some(c) = args.cache_dir {
        cfg.cache_dir = Some(c);
    }
    let server = caic_server::Server::start(cfg)
        .await
        .context("starting caic")?;
    for a in &server.addrs {
        println!("caic listening on http://{a}");
    }
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate() => {}
    }
    tracing::info!("shutting down");
    let t0 = std::time::Instant::now();
    server.stop().await;
    tracing::info!(
        ms = t0.elapsed().as_millis() as u64,
        "stopped; task containers keep running"
    );
    Ok(())
}

#[cfg(unix)]
async fn terminate() {
    if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        s.recv().await;
    }
}

#[cfg(not(unix))]
async fn terminate() {
    std::future::pending::<()>().await
}
