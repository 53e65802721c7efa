//! The command line, as clap derives it. `--help` is the manual.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

const ABOUT: &str = "Manage pop3d: users, local delivery, live sessions and mailbox locks";

const LONG_ABOUT: &str = "\
Manage pop3d: users, local delivery, live sessions and mailbox locks.

User commands work on the user database directly, so they work whether or not the server is
running; a change applies at the user's next login. Live commands (sessions, locks, kick) ask
the running server through its admin socket. Run without a command on a terminal for the TUI.

pop3-admin reads the pop3d configuration to find the user database, the mail root, the admin
socket and the argon2 parameters to hash new passwords with.";

const EXAMPLES: &str = "\
Examples:
  Add a colleague (the password is asked twice, without echo):
    pop3-admin user add alice
  Add back a removed user whose mail was kept (del without --purge-mail):
    pop3-admin user add alice --adopt
  Reset a password from a script:
    printf '%s\\n' \"$NEW_PASSWORD\" | pop3-admin user passwd alice --password-stdin
  List users as JSON:
    pop3-admin user list --json
  Let bob log in with APOP only (no USER/PASS, no AUTH):
    pop3-admin user apop set bob --only
  See who is connected, and free a stuck mailbox:
    pop3-admin sessions
    pop3-admin locks
    pop3-admin kick 42
  Deliver from Postfix (main.cf):
    mailbox_command = /usr/local/bin/pop3-admin deliver \"$USER\"
  Show the UIDLs pop3d will serve alice (what UIDL prints), then carry over Dovecot's:
    pop3-admin uidl alice
    pop3-admin uidl repair alice --from-uidlist /old/alice/Maildir/dovecot-uidlist
  Shell completions:
    pop3-admin completions bash > /etc/bash_completion.d/pop3-admin

Exit codes: 0 success, 1 error, 2 usage; deliver: 67 unknown user, 75 temporary failure
(disk full, database locked), 78 bad configuration.";

#[derive(Parser, Debug)]
#[command(name = "pop3-admin", version, about = ABOUT, long_about = LONG_ABOUT, after_help = EXAMPLES)]
pub struct Cli {
    /// The pop3d configuration file.
    #[arg(long, short, global = true, default_value = "/etc/pop3d/pop3d.toml")]
    pub config: PathBuf,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Add, change, list and remove users.
    #[command(subcommand)]
    User(UserCommand),
    /// Deliver the message on stdin into USER's Maildir (a local delivery agent for Postfix).
    Deliver {
        /// The recipient.
        user: String,
    },
    /// List the live sessions (from the running server).
    Sessions {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// List the held mailbox locks (from the running server).
    Locks {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Disconnect a session: it gets -ERR [SYS/TEMP], deletes nothing, and releases its lock.
    Kick {
        /// The session id, as `sessions` shows it.
        session: u64,
    },
    /// The UIDLs pop3d serves NAME, and the map of UIDLs carried over from the previous server.
    Uidl(UidlArgs),
    /// Print shell completions.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// The terminal interface (the default on a terminal).
    Tui,
}

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Add a user and create its Maildir, <mail_root>/NAME/Maildir (mode 0700).
    ///
    /// Nothing already under the mail root is trusted: if <mail_root>/NAME exists and is not an
    /// empty directory of ours (a symlink, a file, someone else's or a non-empty directory, such
    /// as an old account's mail), the user is not added, unless --adopt is given.
    Add {
        /// The user name (letters, digits, . _ - + @; folded to lower case).
        name: String,
        /// Read the password from the first line of stdin instead of prompting.
        #[arg(long)]
        password_stdin: bool,
        /// Take the Maildir already at <mail_root>/NAME/Maildir as it is (e.g. a re-added
        /// user's kept mail): nothing is created, chmod-ed or chowned. Symlinks are still
        /// never followed.
        #[arg(long)]
        adopt: bool,
    },
    /// Set a user's password.
    Passwd {
        name: String,
        /// Read the password from the first line of stdin instead of prompting.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Remove a user.
    Del {
        name: String,
        /// Remove the user's Maildir too.
        #[arg(long)]
        purge_mail: bool,
    },
    /// List users.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Allow a user to log in.
    Enable { name: String },
    /// Stop a user from logging in (mail is still delivered).
    Disable { name: String },
    /// Set or clear a user's APOP secret (APOP must also be enabled in pop3d.toml).
    ///
    /// An APOP secret adds APOP and takes nothing away: the user can still log in with the
    /// password (USER/PASS, AUTH PLAIN or LOGIN) unless `apop set --only` is given.
    #[command(subcommand)]
    Apop(ApopCommand),
}

#[derive(Subcommand, Debug)]
pub enum ApopCommand {
    /// Set the APOP secret (asked without echo, or the first line of stdin). Password logins
    /// keep working unless --only is given; setting it again without --only allows them again.
    Set {
        name: String,
        /// Read the secret from the first line of stdin.
        #[arg(long)]
        secret_stdin: bool,
        /// APOP only (RFC 1939 §7): refuse USER/PASS and AUTH for this user. Password attempts
        /// get the same `-ERR [AUTH]` as any failure. `user list` shows it as APOP-ONLY.
        #[arg(long)]
        only: bool,
    },
    /// Remove the APOP secret (and APOP-only: password logins work again).
    Clear { name: String },
}

/// `uidl NAME` or `uidl repair NAME ...`.
#[derive(clap::Args, Debug)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct UidlArgs {
    #[command(subcommand)]
    pub command: Option<UidlCommand>,
    /// Print the numbered UIDL list the next login of NAME will get: exactly what pop3d's
    /// UIDL command prints, computed by the same maildrop code. Read-only: it takes no lock,
    /// so it never waits for or disturbs a live session (which keeps serving the list it
    /// read at its own login), moves nothing and writes nothing.
    #[arg(value_name = "NAME", required = true)]
    pub name: Option<String>,
    /// Print JSON instead of `<number> <uidl>` lines.
    #[arg(long)]
    pub json: bool,
}

#[derive(Subcommand, Debug)]
pub enum UidlCommand {
    /// Rebuild NAME's map of carried-over UIDLs from the previous server's file, and record
    /// in the user database that the maildrop has one (a missing or damaged map then fails
    /// the login with -ERR [SYS/TEMP] instead of changing every UIDL).
    ///
    /// An intact map is merged, never overridden: a message it already carries keeps its
    /// UIDL. A damaged map is rebuilt. Refused while a session of NAME is open. Exactly one
    /// source is needed.
    #[command(group(clap::ArgGroup::new("source").required(true).multiple(false)))]
    Repair {
        name: String,
        /// Dovecot's dovecot-uidlist (versions 1 and 3; a saved P field wins).
        #[arg(long, value_name = "FILE", group = "source")]
        from_uidlist: Option<PathBuf>,
        /// Dovecot's pop3_uidl_format (supported: %u %v %f %g %%, modifiers X U L, widths).
        #[arg(
            long,
            value_name = "F",
            default_value = "%08Xu%08Xv",
            requires = "from_uidlist"
        )]
        format: String,
        /// Courier's courierpop3dsizelist (UID<n>-<uidvalidity>).
        #[arg(long, value_name = "FILE", group = "source")]
        from_sizelist: Option<PathBuf>,
        /// Courier without a size list: the file-name UIDLs of the files in the Maildir.
        #[arg(long, group = "source")]
        from_courier_filenames: bool,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
}
