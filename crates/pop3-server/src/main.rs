//! `pop3d`: the POP3 server.
//!
//! ```text
//! pop3d --config /etc/pop3d/pop3d.toml        serve
//! pop3d check-config --config FILE            validate a config and exit
//! pop3d demo [--data-dir DIR]                 serve an embedded demo setup
//! ```
//!
//! (A hidden `internal-manpages DIR` writes the manual pages from these definitions.)

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{CommandFactory, Parser, Subcommand};
use pop3_server::activation::Inherited;
use pop3_server::{Config, Server, demo, logging};
use tokio::signal::unix::{SignalKind, signal};
use tracing::{error, info, warn};

#[derive(Parser)]
#[command(name = "pop3d", version, about = "A POP3 server for Maildir mailboxes")]
struct Cli {
    /// The configuration file.
    #[arg(long, short, global = true, default_value = "/etc/pop3d/pop3d.toml")]
    config: PathBuf,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Validate the configuration file and exit (non-zero with the key and line on error).
    CheckConfig,
    /// Serve an embedded demo setup on 127.0.0.1:1110 (STLS) and :1995 (implicit TLS).
    Demo {
        /// Where the demo keeps its user DB, Maildir, certificate and config.
        #[arg(long, default_value = "pop3d-demo")]
        data_dir: PathBuf,
    },
    /// Internal: writes the manual pages (section 8, one per command) into DIR, for the
    /// Debian package (`cargo xtask dist`).
    #[command(hide = true, name = "internal-manpages")]
    InternalManpages {
        /// The directory to write `pop3d.8` and the commands' pages into.
        dir: PathBuf,
        /// The pages' date, YYYY-MM-DD (the package's changelog date).
        #[arg(long)]
        date: String,
    },
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::CheckConfig) => {
            let config = Config::load(&cli.config)?;
            if let Some(files) = &config.tls {
                pop3_server::Tls::load(files)?;
            }
            for warning in config.warnings() {
                eprintln!("{}: warning: {warning}", cli.config.display());
            }
            eprintln!("{}: ok", cli.config.display());
            Ok(())
        }
        Some(Command::Demo { data_dir }) => {
            let config_path = demo::prepare(&data_dir)?;
            serve(&config_path, Some(demo::instructions()))
        }
        Some(Command::InternalManpages { dir, date }) => {
            write_manpages(Cli::command(), &dir, &date)
        }
        None => serve(&cli.config, None),
    }
}

/// Writes the manual page of `command` and of each of its visible subcommands (as clap_mangen
/// names them: `pop3d-check-config.8`), section 8, into `dir`.
fn write_manpages(command: clap::Command, dir: &Path, date: &str) -> Result<()> {
    let mut command = command.disable_help_subcommand(true);
    command.build();
    for sub in command.get_subcommands().filter(|sub| !sub.is_hide_set()) {
        write_manpages(sub.clone(), dir, date)?;
    }
    clap_mangen::Man::new(command)
        .section("8")
        .date(date)
        .manual("System Administration")
        .generate_to(dir)
        .with_context(|| format!("cannot write manual pages into {}", dir.display()))?;
    Ok(())
}

/// The most threads doing blocking work at once (see `serve`).
const MAX_BLOCKING_THREADS: usize = 64;

fn serve(config_path: &Path, banner: Option<String>) -> Result<()> {
    // First, while this is the only thread: it unsets LISTEN_FDS and friends.
    let inherited = Inherited::from_env()?;
    let config = Config::load(config_path)?;
    logging::init(config.log_json, &config.log_level);
    for warning in config.warnings() {
        warn!(config = %config_path.display(), "{warning}");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // File reads, scans, commits and password checks run on blocking threads, each of
        // which keeps one user-database connection. tokio's default ceiling of 512 threads
        // would let a burst grow memory with it; beyond this many, blocking work queues.
        .max_blocking_threads(MAX_BLOCKING_THREADS)
        .build()
        .context("cannot start the runtime")?;
    let served = runtime.block_on(async move {
        let run_as = config.run_as.clone();
        let tls_files = config.tls.clone();
        let server = Server::bind_activated(config, inherited).await?;
        drop_privileges(run_as.as_ref())?;
        check_tls_readable(tls_files.as_ref(), run_as.as_ref())?;
        for address in server.local_addrs() {
            info!(%address, "listening");
        }
        if let Some(banner) = banner {
            eprintln!("{banner}");
        }
        let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Ready]);
        // SIGHUP: the certificates again (certbot's deploy hook), and the users' own
        // LOGIN-DELAY and EXPIRE for CAPA before login (else read every 30 s).
        let mut hangups = signal(SignalKind::hangup()).context("SIGHUP handler")?;
        let tls = server.tls();
        let policy = server.policy_refresh();
        let metrics = server.metrics();
        tokio::spawn(async move {
            while hangups.recv().await.is_some() {
                if let Some(tls) = &tls {
                    match tls.reload() {
                        Ok(()) => {
                            metrics.tls_reload("ok");
                            info!("certificate reloaded");
                        }
                        Err(e) => {
                            // ERROR: the certificate in use will expire unrenewed.
                            metrics.tls_reload("failed");
                            error!(error = %e, "certificate reload failed; keeping the old one")
                        }
                    }
                }
                policy.refresh().await;
            }
        });
        let mut terminate = signal(SignalKind::terminate()).context("SIGTERM handler")?;
        let mut interrupt = signal(SignalKind::interrupt()).context("SIGINT handler")?;
        server
            .run(async move {
                tokio::select! {
                    _ = terminate.recv() => {}
                    _ = interrupt.recv() => {}
                }
                let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Stopping]);
            })
            .await
    });
    // A blocking thread stuck on a dead disk must not keep the process from exiting: the
    // sessions have ended (or were aborted after the grace period) by now.
    runtime.shutdown_timeout(BLOCKING_EXIT_WAIT);
    served
}

/// How long the exit waits for blocking threads still running after the sessions ended.
const BLOCKING_EXIT_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// After the privilege drop, every certificate and key (`[tls]` and each `[[tls.sni]]`) must
/// still be readable: a SIGHUP reload (certbot's deploy hook) reads them all as the server's
/// user, and one unreadable pair would fail every reload for good, renewals of the other pairs
/// included. Refused at start, where the admin sees it, rather than at the first renewal.
fn check_tls_readable(
    files: Option<&pop3_server::TlsFiles>,
    run_as: Option<&(String, String)>,
) -> Result<()> {
    let Some(files) = files else {
        return Ok(());
    };
    for (key, path) in files.paths() {
        if let Err(e) = std::fs::File::open(path) {
            let who = run_as.map_or("the server's user".to_owned(), |(user, group)| {
                format!("user {user} (group {group})")
            });
            anyhow::bail!(
                "`{key}`: {} is not readable by {who} after dropping privileges ({e}); \
                 a certificate reload (SIGHUP) would fail. Make it readable by that group.",
                path.display()
            );
        }
    }
    Ok(())
}

/// When started as root with `[privileges]`, switch to that user and group now that the
/// listeners are bound and the certificate read.
fn drop_privileges(run_as: Option<&(String, String)>) -> Result<()> {
    use nix::unistd::{Gid, Group, Uid, User, setgid, setgroups, setuid};
    let Some((user, group)) = run_as else {
        return Ok(());
    };
    if !Uid::effective().is_root() {
        return Ok(());
    }
    let group = Group::from_name(group)?.with_context(|| format!("no group {group}"))?;
    let user = User::from_name(user)?.with_context(|| format!("no user {user}"))?;
    setgroups(&[group.gid])?;
    setgid(group.gid)?;
    setuid(user.uid)?;
    if Uid::effective().is_root() || Gid::effective() != group.gid {
        bail!("privileges were not dropped");
    }
    info!(user = %user.name, "dropped privileges");
    Ok(())
}
