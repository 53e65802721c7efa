//! `pop3-loadgen`: drives a POP3 server for `cargo xtask bench`. Each scenario prints one JSON
//! line with its figures.

// A binary: `pub` marks what a module offers the others.
#![allow(unreachable_pub)]
// Results are this tool's output.
#![allow(clippy::print_stdout)]

mod client;
mod mixed;
mod new_mail;
mod scenarios;
mod setup;

use std::io::Write as _;
use std::time::Duration;

use anyhow::Result;
use clap::{Parser, Subcommand};

use scenarios::Target;

#[derive(Parser)]
#[command(name = "pop3-loadgen", about = "A POP3 load generator")]
struct Cli {
    /// host:port of the server.
    #[arg(long, global = true, default_value = "127.0.0.1:110")]
    addr: String,
    /// Users are `<prefix><n>`, n from 0.
    #[arg(long, global = true, default_value = "bench")]
    user_prefix: String,
    #[arg(long, global = true, default_value = "bench")]
    password: String,
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Subcommand)]
enum Scenario {
    /// Loop connect, USER/PASS, STAT, QUIT.
    Logins {
        #[arg(long, default_value_t = 16)]
        clients: usize,
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
        /// Stop after this many sessions in all (a login storm), or at `--seconds`.
        #[arg(long)]
        total: Option<usize>,
    },
    /// LIST n, UIDL n, RETR n for every message: in lockstep, then pipelined at once.
    Mixed,
    /// Deliver one message into `--maildir` (user 0's), then time the next PASS→STAT.
    NewMail {
        #[arg(long)]
        maildir: std::path::PathBuf,
        #[arg(long, default_value_t = 3)]
        repeats: usize,
        /// Number of the first delivered message (names must not repeat across runs).
        #[arg(long, default_value_t = 1_000_000)]
        first: u64,
    },
    /// Download every message of each client's maildrop.
    Retr {
        #[arg(long, default_value_t = 1)]
        clients: usize,
    },
    /// Time to STAT, LIST and UIDL on one maildrop.
    StatBig,
    /// DELE every message, then QUIT.
    DeleAll,
    /// STAT one at a time versus pipelined.
    Pipelined {
        #[arg(long, default_value_t = 20_000)]
        commands: usize,
    },
    /// Hold logged-in sessions until stdin closes.
    Idle {
        #[arg(long, default_value_t = 1000)]
        sessions: usize,
    },
    /// Create users in pop3d's database and a Dovecot passwd-file with the same hashes.
    SetupUsers {
        #[arg(long)]
        db: std::path::PathBuf,
        #[arg(long)]
        mail_root: std::path::PathBuf,
        #[arg(long)]
        passwd: std::path::PathBuf,
        #[arg(long)]
        count: usize,
        #[arg(long, default_value_t = 19_456)]
        m_kib: u32,
        #[arg(long, default_value_t = 2)]
        t: u32,
    },
    /// Fill a Maildir with deterministic messages (Postfix-style names by default).
    Fill {
        #[arg(long)]
        maildir: std::path::PathBuf,
        #[arg(long)]
        count: usize,
        #[arg(long)]
        size: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long, value_enum, default_value_t = setup::Style::Postfix)]
        style: setup::Style,
        /// How many of the messages are already in `cur/` (seen); the rest are in `new/`.
        #[arg(long, default_value_t = 0)]
        in_cur: usize,
    },
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let target = Target {
        addr: cli.addr,
        user_prefix: cli.user_prefix,
        password: cli.password,
    };
    match &cli.scenario {
        Scenario::SetupUsers {
            db,
            mail_root,
            passwd,
            count,
            m_kib,
            t,
        } => {
            let params = pop3_auth::HashParams {
                m_kib: *m_kib,
                t: *t,
                p: 1,
            };
            return setup::users(
                db,
                mail_root,
                passwd,
                &target.user_prefix,
                *count,
                &target.password,
                params,
            );
        }
        Scenario::Fill {
            maildir,
            count,
            size,
            seed,
            style,
            in_cur,
        } => return setup::fill(maildir, *count, *size, *seed, *style, *in_cur),
        _ => {}
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let result = runtime.block_on(async {
        match cli.scenario {
            Scenario::Logins {
                clients,
                seconds,
                total,
            } => scenarios::logins(&target, clients, Duration::from_secs_f64(seconds), total).await,
            Scenario::Mixed => mixed::mixed(&target).await,
            Scenario::NewMail {
                maildir,
                repeats,
                first,
            } => new_mail::new_mail(&target, &maildir, repeats, first).await,
            Scenario::Retr { clients } => scenarios::retr(&target, clients).await,
            Scenario::StatBig => scenarios::stat_big(&target).await,
            Scenario::DeleAll => scenarios::dele_all(&target).await,
            Scenario::Pipelined { commands } => scenarios::pipelined(&target, commands).await,
            Scenario::Idle { sessions } => scenarios::idle(&target, sessions).await,
            Scenario::SetupUsers { .. } | Scenario::Fill { .. } => unreachable!("handled above"),
        }
    })?;
    // The harness may have stopped reading by now (the idle scenario's holder closes the pipe
    // once it has the "ready" line): a closed stdout is no error of the scenario.
    let _ = writeln!(std::io::stdout(), "{result}");
    Ok(())
}
