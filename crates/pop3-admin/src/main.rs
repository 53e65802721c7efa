//! `pop3-admin`: the administrator's tool for pop3d, as a scriptable CLI and a TUI.
//!
//! It reaches users only through `pop3-auth`, mail only through `pop3-maildrop` (delivery and
//! new Maildirs), and live state only through the server's admin socket (types from
//! `pop3-admin-api`); it never links the server. Its settings are the sections of `pop3d.toml`
//! it needs, read and validated by `pop3-config`, the crate that owns the file format.

// A binary: `pub` marks what a module offers the others.
#![allow(unreachable_pub)]

mod cli;
mod deliver;
mod facts;
mod live;
mod migrate;
mod quota;
mod server_user;
mod settings;
mod status;
mod tui;
mod uidl;
mod user_db;
mod user_facts;
mod users;
mod watch;

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{CommandFactory, Parser};
use pop3_auth::{Setting, User};

use cli::{ApopCommand, Cli, Command, UserCommand};
use settings::Settings;
use users::{ExistingOptions, Users};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            // Help and version print and exit 0; a usage error exits 2, but 3 (UNKNOWN) for
            // `status`, which a monitor runs as a plugin and would read 2 as CRITICAL.
            let _ = error.print();
            let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
            return match error.exit_code() {
                0 => ExitCode::SUCCESS,
                _ if cli::is_status(&args) => ExitCode::from(status::Level::Unknown.code()),
                code => ExitCode::from(u8::try_from(code).unwrap_or(2)),
            };
        }
    };
    if let Some(Command::Deliver { user }) = &cli.command {
        return deliver::run(settings::load(&cli.config), user, std::io::stdin().lock());
    }
    if let Some(Command::InternalAccessCheck { uid, gid, groups }) = cli.command {
        let (input, out) = (std::io::stdin().lock(), std::io::stdout().lock());
        return match migrate::maildir::access_check_child(uid, gid, &groups, input, out) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("pop3-admin: {e:#}");
                ExitCode::FAILURE
            }
        };
    }
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("pop3-admin: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Writes the manual page of `command` and of each of its visible subcommands (as clap_mangen
/// names them: `pop3-admin-user-add.8`), section 8, into `dir`.
fn write_manpages(command: clap::Command, dir: &std::path::Path, date: &str) -> Result<()> {
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

fn run(cli: Cli) -> Result<ExitCode> {
    let (config, nodes) = (cli.config, cli.nodes);
    let command = match cli.command {
        Some(command) => command,
        None if std::io::stdin().is_terminal() && std::io::stdout().is_terminal() => Command::Tui,
        None => {
            Cli::command().print_help()?;
            bail!("no command given (and not on a terminal, so no TUI)");
        }
    };
    let mut out = std::io::stdout().lock();
    match command {
        Command::Sessions { json } => {
            watch::sessions(&watch::nodes(&nodes, &config)?, json, &mut out)
        }
        Command::Locks { json } => watch::locks(&watch::nodes(&nodes, &config)?, json, &mut out),
        Command::Status { json } => status::run(watch::nodes(&nodes, &config), json, &mut out),
        Command::Tui => {
            let settings = settings::load(&config)?;
            let nodes = watch::from_settings(&nodes, &settings)?;
            tui::run(settings, nodes)?;
            Ok(ExitCode::SUCCESS)
        }
        command => {
            run_other(command, &config, &nodes, &mut out)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The commands that succeed or fail, nothing in between.
fn run_other(
    command: Command,
    config: &std::path::Path,
    nodes: &[pop3_config::AdminNode],
    out: &mut impl Write,
) -> Result<()> {
    match command {
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "pop3-admin", out);
            Ok(())
        }
        Command::InternalManpages { dir, date } => write_manpages(Cli::command(), &dir, &date),
        Command::User(UserCommand::Show { name, json }) => {
            let settings = settings::load(config)?;
            let watched = watch::from_settings(nodes, &settings);
            user_facts::show(&settings, watched, &name, json, out)
        }
        Command::User(command) => user(&settings::load(config)?, command, out),
        Command::Kick { session } => watch::kick(&watch::nodes(nodes, config)?, &session, out),
        Command::Uidl(args) => uidl::run(
            &settings::load(config)?,
            args.name,
            args.json,
            args.command,
            out,
        ),
        Command::Migrate(command) => migrate::run(&settings::load(config)?, command, out),
        // Answered in `main` and `run`, before this match.
        Command::Sessions { .. }
        | Command::Locks { .. }
        | Command::Status { .. }
        | Command::Tui
        | Command::Deliver { .. }
        | Command::InternalAccessCheck { .. } => Ok(()),
    }
}

fn user(settings: &Settings, command: UserCommand, out: &mut impl Write) -> Result<()> {
    let users = Users::open(settings)?;
    for warning in users.warnings() {
        eprintln!("pop3-admin: warning: {warning}");
    }
    match command {
        UserCommand::Add {
            name,
            password_stdin,
            adopt,
            maildir,
            uidlist_format,
            native_uidls,
        } => {
            let password = read_secret("Password", password_stdin)?;
            let (user, adopted) = match maildir {
                Some(maildir) => {
                    let options = ExistingOptions {
                        adopt,
                        uidlist_format: &uidlist_format,
                        native_uidls,
                    };
                    let added =
                        users.add_existing(&name, password.as_bytes(), &maildir, &options)?;
                    if let Some(warning) = &added.warning {
                        eprintln!("pop3-admin: warning: {warning}");
                    }
                    for note in &added.notes {
                        eprintln!("pop3-admin: note: {note}");
                    }
                    if let Some(carried) = &added.uidls {
                        writeln!(out, "{carried}")?;
                    }
                    (added.user, true)
                }
                None => {
                    let (user, adopted, warning) = users.add(&name, password.as_bytes(), adopt)?;
                    if let Some(warning) = warning {
                        eprintln!("pop3-admin: warning: {warning}");
                    }
                    (user, adopted)
                }
            };
            let how = if adopted { "adopted " } else { "" };
            writeln!(
                out,
                "added {} ({how}Maildir {})",
                user.name,
                user.maildir.display()
            )?;
        }
        UserCommand::Passwd {
            name,
            password_stdin,
        } => {
            let password = read_secret("New password", password_stdin)?;
            users.set_password(&name, password.as_bytes())?;
            writeln!(out, "password of {name} changed")?;
        }
        UserCommand::Del { name, purge_mail } => {
            let user = users.remove(&name, purge_mail)?;
            let mail = if purge_mail { "removed" } else { "kept" };
            writeln!(
                out,
                "removed {} (Maildir {} {mail})",
                user.name,
                user.maildir.display()
            )?;
        }
        UserCommand::List { json } => {
            let list = users.list()?;
            if json {
                let rows: Vec<serde_json::Value> =
                    list.iter().map(|u| user_json(u, &settings.quota)).collect();
                writeln!(out, "{}", serde_json::to_string_pretty(&rows)?)?;
            } else {
                print_users(out, &list, &settings.quota)?;
            }
        }
        // Answered in `run_other`, with the nodes.
        UserCommand::Show { .. } => {}
        UserCommand::Enable { name } => {
            users.set_enabled(&name, true)?;
            writeln!(out, "{name} enabled")?;
        }
        UserCommand::Disable { name } => {
            users.set_enabled(&name, false)?;
            writeln!(out, "{name} disabled")?;
        }
        UserCommand::Set {
            name,
            expire,
            login_delay,
            quota_messages,
            quota_bytes,
        } => {
            let changes = [
                (Setting::Expire, expire),
                (Setting::LoginDelay, login_delay),
                (Setting::QuotaMessages, quota_messages),
                (Setting::QuotaBytes, quota_bytes),
            ];
            let user = users.set_policy(&name, &changes)?;
            for (setting, _) in changes.iter().filter(|(_, value)| value.is_some()) {
                let value = user.policy.get(*setting).unwrap_or("default (the site's)");
                writeln!(out, "{} of {}: {value}", setting, user.name)?;
            }
        }
        UserCommand::Apop(ApopCommand::Set {
            name,
            secret_stdin,
            only,
        }) => {
            let secret = read_secret("APOP secret", secret_stdin)?;
            users.set_apop(&name, Some(&secret), only)?;
            let logins = if only {
                "APOP only: password logins refused"
            } else {
                "password logins still allowed"
            };
            writeln!(out, "APOP secret of {name} set ({logins})")?;
        }
        UserCommand::Apop(ApopCommand::Clear { name }) => {
            users.set_apop(&name, None, false)?;
            writeln!(out, "APOP secret of {name} cleared")?;
        }
    }
    Ok(())
}

/// A secret from the first line of stdin, or typed twice at a prompt without echo.
fn read_secret(what: &str, from_stdin: bool) -> Result<String> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("cannot read stdin")?;
        let secret = line.strip_suffix('\n').unwrap_or(&line);
        let secret = secret.strip_suffix('\r').unwrap_or(secret);
        return Ok(secret.to_owned());
    }
    if !std::io::stdin().is_terminal() {
        bail!("stdin is not a terminal: pass the secret with --password-stdin / --secret-stdin");
    }
    let first = rpassword::prompt_password(format!("{what}: "))?;
    let second = rpassword::prompt_password(format!("{what} again: "))?;
    if first != second {
        bail!("the two entries differ");
    }
    Ok(first)
}

fn user_json(user: &User, site: &pop3_config::Quota) -> serde_json::Value {
    let quota = quota::usage_of(site, user);
    serde_json::json!({
        "name": user.name.as_str(),
        "enabled": user.enabled,
        "apop": user.apop_secret.is_some(),
        "apop_only": apop_only(user),
        "maildir": user.maildir,
        "created_at": user.created_at,
        "updated_at": user.updated_at,
        "last_login_at": user.last_login_at,
        // The user's own values; null: the site's.
        "expire": user.policy.expire,
        "login_delay": user.policy.login_delay,
        "quota_messages": user.policy.quota_messages,
        "quota_bytes": user.policy.quota_bytes,
        // Issue 20: maildirsize, else pop3d's listing; never a scan (null: unknown).
        "mail": user_facts::UserFacts::of(site, user).mail,
        "quota": {
            "messages": quota.usage.map(|u| u.messages),
            "bytes": quota.usage.map(|u| u.bytes),
            "limit_messages": quota.limit.messages,
            "limit_bytes": quota.limit.bytes,
        },
    })
}

/// The table of `user list`; MESSAGES and SIZE are the usage against the quota, read from
/// `maildirsize`, else pop3d's listing, without a rescan (`-` when neither can be read);
/// OLDEST is the oldest message's delivery date, from the listing.
fn print_users(out: &mut impl Write, users: &[User], site: &pop3_config::Quota) -> Result<()> {
    writeln!(
        out,
        "{:<24} {:<8} {:<5} {:<10} {:<20} {:<13} {:<13} {:<10} MAILDIR",
        "NAME", "ENABLED", "APOP", "APOP-ONLY", "LAST LOGIN", "MESSAGES", "SIZE", "OLDEST"
    )?;
    for user in users {
        let last = user.last_login_at.map_or("never".to_owned(), |t| {
            pop3_maildrop::utc_timestamp(u64::try_from(t).unwrap_or(0))
        });
        let facts = user_facts::UserFacts::of(site, user);
        writeln!(
            out,
            "{:<24} {:<8} {:<5} {:<10} {:<20} {:<13} {:<13} {:<10} {}",
            user.name.as_str(),
            yes_no(user.enabled),
            yes_no(user.apop_secret.is_some()),
            yes_no(apop_only(user)),
            last,
            facts.quota.messages_cell,
            facts.quota.bytes_cell,
            facts.mail.oldest.map_or("-".to_owned(), facts::date),
            user.maildir.display()
        )?;
    }
    Ok(())
}

fn yes_no(value: bool) -> &'static str {
    if value { "yes" } else { "no" }
}

/// Whether the user may log in only with APOP (the flag means nothing without a secret).
fn apop_only(user: &User) -> bool {
    user.apop_only && user.apop_secret.is_some()
}
