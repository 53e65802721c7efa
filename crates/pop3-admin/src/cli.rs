//! The command line, as clap derives it. `--help` is the manual.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use pop3_config::{AdminNode, check_node_name};

use crate::live::KickTarget;

const ABOUT: &str = "Manage pop3d: users, local delivery, live sessions and mailbox locks";

const LONG_ABOUT: &str = "\
Manage pop3d: users, local delivery, live sessions and mailbox locks.

User commands work on the user database directly, so they work whether or not the server is
running; a change applies at the user's next login. Live commands (status, sessions, locks,
kick) ask the running server through its admin socket. Run without a command on a terminal
for the TUI, which opens on an overview of the server.

pop3-admin reads the pop3d configuration to find the user database, the mail root, the admin
socket and the argon2 parameters to hash new passwords with.

Several pop3d nodes: give each admin socket a name, with --node NAME=SOCKET (repeated) or an
[admin.nodes] table in pop3d.toml. status, sessions, locks and the TUI then ask every node
and show a NODE column; a node that does not answer is reported on its own line and hides none of the
others. A remote node's socket is forwarded over SSH, never opened on the network (the admin
API has no authentication beyond the socket's permissions; docs/scaling.md, Watching several nodes).";

const EXAMPLES: &str = "\
Examples:
  Add a colleague (the password is asked twice, without echo):
    pop3-admin user add alice
  Add back a removed user whose mail was kept (del without --purge-mail):
    pop3-admin user add alice --adopt
  Add a user whose Maildir already exists elsewhere (nothing is created or chowned):
    pop3-admin user add bob --maildir /home/bob/Maildir
  Migrate from Dovecot (see `pop3-admin migrate --help`):
    pop3-admin migrate dovecot --passwd-file /etc/dovecot/users --maildir '~/Maildir' --dry-run
  Reset a password from a script:
    printf '%s\\n' \"$NEW_PASSWORD\" | pop3-admin user passwd alice --password-stdin
  List users as JSON:
    pop3-admin user list --json
  Let bob log in with APOP only (no USER/PASS, no AUTH):
    pop3-admin user apop set bob --only
  Check the server from cron or Nagios (exit 0 OK, 1 certificate within 14 days, 2 down):
    pop3-admin status
  See who is connected, and free a stuck mailbox:
    pop3-admin sessions
    pop3-admin locks
    pop3-admin kick 42
  Watch two nodes, the second's admin socket forwarded over SSH, and kick on the second:
    ssh -N -L /run/pop3d/node2.sock:/run/pop3d/admin.sock node2 &
    pop3-admin --node node1=/run/pop3d/admin.sock --node node2=/run/pop3d/node2.sock sessions
    pop3-admin --node node1=/run/pop3d/admin.sock --node node2=/run/pop3d/node2.sock kick node2:42
  Deliver from Postfix: pop3d serves LMTP (main.cf; see docs/install.md):
    virtual_transport = pop3d-lmtp:unix:/run/pop3d/lmtp.sock
  or, for local Unix users, this tool as the delivery agent (path as installed):
    mailbox_command = /usr/sbin/pop3-admin deliver \"$USER\"
  Show the UIDLs pop3d will serve alice (what UIDL prints), then carry over Dovecot's:
    pop3-admin uidl alice
    pop3-admin uidl repair alice --from-uidlist /old/alice/Maildir/dovecot-uidlist
  Shell completions (the Debian package installs them):
    pop3-admin completions bash > /etc/bash_completion.d/pop3-admin

Exit codes: 0 success, 1 error, 2 usage; status: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN
(a usage error too; see `status --help`); sessions and locks with named nodes: 3 when some
nodes did not answer (the others are listed), 1 when none did; deliver: 67 unknown user, 73 over quota
(75 with quota.over_quota = \"defer\"), 75 temporary failure
(disk full, database locked or missing, configuration unreadable).";

const STATUS_ABOUT: &str = "\
Is pop3d up: its version, uptime, sessions, locks and the expiry of every certificate it \
serves (the default one and the [[tls.sni]] ones), asked over the admin socket; one line per \
node with --node or [admin.nodes], e.g.

  OK - pop3d 1.2.0 up 3d 4h; 12 sessions (2 authorization, 10 transaction, 0 update); 3 locks, \
oldest 40s; certificate pop3d.pem: 2027-03-01 (91 days) | sessions=12 locks=3 \
certificate_days=91;14:;0:

After `|`, performance data as Nagios plugins print it.

A monitoring check (Nagios, Icinga, cron): the exit status follows the Nagios plugin \
conventions.
  0 OK        every node answered, every certificate has 14 days or more left
  1 WARNING   a certificate expires within 14 days (EXPIRES SOON), or its date is unreadable
  2 CRITICAL  a node is down (nothing answers on its admin socket), or a certificate expired
  3 UNKNOWN   the state could not be learned: permission denied on the admin socket, or a \
pop3d of another admin API version
With several nodes the worst wins (CRITICAL, then UNKNOWN, then WARNING), and a first line \
speaks for all of them, with every node's performance data (labels prefixed by node), before \
a line per node:

  CRITICAL - 1 of 2 nodes down; a OK, b CRITICAL | a_sessions=12 a_locks=3 \
a_certificate_days=91;14:;0:
  a OK - pop3d 1.2.0 up 3d 4h; ...; certificate pop3d.pem: 2027-03-01 (91 days)
  b CRITICAL - pop3d is not running at /run/pop3d/b.sock (no such socket)

A usage error of `status` exits 3 (UNKNOWN), not 2 as other commands do (a monitor would read \
2 as CRITICAL).

--json prints {\"status\": \"ok\", \"exit\": 0, \"nodes\": [{\"node\", \"status\", \"up\", \"problem\", \"server\": \
{\"version\", \"api\", \"started\", \"uptime_seconds\", \"sessions\", \"sessions_total\", \"locks_held\", \
\"oldest_lock_seconds\", \"certificates\": [{\"file\", \"names\", \"not_after\", \"days_left\", \
\"expires_soon\"}]}}]}.";

#[derive(Parser, Debug)]
#[command(name = "pop3-admin", version, about = ABOUT, long_about = LONG_ABOUT, after_help = EXAMPLES)]
pub struct Cli {
    /// The pop3d configuration file.
    #[arg(long, short, global = true, default_value = "/etc/pop3d/pop3d.toml")]
    pub config: PathBuf,
    /// Watch this pop3d node (repeat for several): a short name (a-z 0-9 - _ .) and its admin
    /// socket, e.g. `node2=/run/pop3d/node2.sock`. Replaces `[admin.nodes]` of the config;
    /// with neither, the one admin socket of `[admin] socket` is watched, unnamed.
    #[arg(long = "node", global = true, value_name = "NAME=SOCKET", value_parser = parse_node)]
    pub nodes: Vec<AdminNode>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Whether the command line `args` (the program's name first) runs `status`: its first
/// word that is neither an option nor a global option's value is `status`. Used when
/// parsing failed, to exit 3 (UNKNOWN) instead of 2 on `status`' usage errors.
pub fn is_status(args: &[std::ffi::OsString]) -> bool {
    let mut words = args.iter().skip(1);
    while let Some(word) = words.next() {
        let word = word.to_string_lossy();
        if matches!(word.as_ref(), "--config" | "-c" | "--node") {
            words.next();
        } else if !word.starts_with('-') {
            return word == "status";
        }
    }
    false
}

/// `NAME=SOCKET`, the name checked as `[admin.nodes]` checks it.
fn parse_node(text: &str) -> Result<AdminNode, String> {
    let (name, socket) = text
        .split_once('=')
        .ok_or_else(|| format!("`{text}` is not NAME=SOCKET"))?;
    check_node_name(name)?;
    if socket.is_empty() {
        return Err(format!("node {name} has no socket path"));
    }
    Ok(AdminNode {
        name: name.to_owned(),
        socket: PathBuf::from(socket),
    })
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
    /// Is pop3d up: version, uptime, sessions, locks, certificate expiry; one line per node.
    /// A monitoring check: the exit status follows the Nagios plugin conventions.
    #[command(long_about = STATUS_ABOUT)]
    Status {
        /// Print JSON instead of a line per node.
        #[arg(long)]
        json: bool,
    },
    /// List the live sessions (from the running server, or from every node).
    Sessions {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// List the held mailbox locks (from the running server, or from every node).
    Locks {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Disconnect a session: it gets -ERR [SYS/TEMP], deletes nothing, and releases its lock.
    Kick {
        /// The session id, as `sessions` shows it; NODE:ID with several nodes (each node
        /// numbers its own sessions, so a bare id is refused there).
        #[arg(value_name = "[NODE:]ID")]
        session: KickTarget,
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
    /// Import users, password hashes, Maildirs and UIDLs from another server.
    #[command(subcommand, after_help = MIGRATE_EXAMPLES)]
    Migrate(MigrateCommand),
    /// Internal: becomes UID:GID (as pop3d drops privileges), then checks that it could use
    /// each Maildir named on stdin (one a line); prints `ok` or the error, one a line.
    #[command(hide = true, name = "internal-access-check")]
    InternalAccessCheck {
        /// The uid to check as.
        uid: u32,
        /// The gid to check as.
        gid: u32,
        /// Supplementary groups (none with `[privileges]`, as pop3d keeps only its own; the
        /// user's under systemd's `User=`).
        #[arg(long, value_delimiter = ',')]
        groups: Vec<u32>,
    },
    /// Internal: writes this tool's manual pages (section 8, one per command) into DIR, for
    /// the Debian package (`cargo xtask dist`).
    #[command(hide = true, name = "internal-manpages")]
    InternalManpages {
        /// The directory to write `pop3-admin.8` and the commands' pages into.
        dir: PathBuf,
        /// The pages' date, YYYY-MM-DD (the package's changelog date).
        #[arg(long)]
        date: String,
    },
}

const MIGRATE_EXAMPLES: &str = "\
Examples:
  See what a migration from Dovecot would do, changing nothing:
    pop3-admin migrate dovecot --passwd-file /etc/dovecot/users \\
      --maildir 'maildir:/var/vmail/%d/%n/Maildir' --dry-run
  Migrate system accounts with mail in ~/Maildir:
    pop3-admin migrate system --min-uid 1000

A report lists each user: created, skipped (and why) or failed (and why), the password scheme,
the Maildir, its messages and the UIDLs carried over. Running it again skips the users that
exist, so a migration that stopped half-way is finished by running it again.

Exit codes: 0 every user created or skipped, 1 at least one failed (the others are imported),
2 usage. docs/migration.md walks a whole cutover.";

#[derive(Subcommand, Debug)]
pub enum MigrateCommand {
    /// Users from a Dovecot passwd-file, their Maildirs and Dovecot's POP3 UIDLs.
    Dovecot {
        /// The passwd-file: user:{SCHEME}hash:uid:gid:gecos:home:shell:extra_fields.
        #[arg(long, value_name = "FILE")]
        passwd_file: PathBuf,
        /// Where each user's Maildir is, as Dovecot's mail_location writes it: %u (the whole
        /// name), %n and %d (local part and domain), %h or a leading ~ (the home field), %%;
        /// a `maildir:` prefix and options such as `:CONTROL=` are understood. A user's
        /// `userdb_mail=` extra field overrides it.
        #[arg(long, value_name = "TEMPLATE")]
        maildir: String,
        /// Dovecot's pop3_uidl_format, to produce the UIDLs Dovecot served.
        #[arg(long, value_name = "FORMAT", default_value = "%08Xu%08Xv")]
        uidlist_format: String,
        /// The scheme of a password without a {SCHEME} prefix (the passwd-file's
        /// `scheme=` argument in Dovecot's passdb; Dovecot's default is CRYPT).
        #[arg(long, value_name = "SCHEME", default_value = "CRYPT")]
        scheme: String,
        /// Import a user whose Maildir has messages but no dovecot-uidlist anyway, serving
        /// pop3d's own UIDLs: every client downloads everything again. Without it such a user
        /// fails (`no-uidlist`): usually the template, or its `:CONTROL=`, points elsewhere
        /// than where Dovecot kept the file.
        #[arg(long)]
        native_uidls: bool,
        #[command(flatten)]
        common: MigrateOptions,
    },
    /// System accounts from /etc/passwd and /etc/shadow, with mail in ~/Maildir.
    System {
        /// Only these accounts (default: every account in the uid range).
        names: Vec<String>,
        /// The lowest uid imported.
        #[arg(long, default_value_t = 1000)]
        min_uid: u32,
        /// The highest uid imported (65534, nobody, is above the default).
        #[arg(long, default_value_t = 60000)]
        max_uid: u32,
        /// Where each user's Maildir is (~ is the home directory; also %u, %h).
        #[arg(long, value_name = "TEMPLATE", default_value = "~/Maildir")]
        maildir: String,
        /// Dovecot's pop3_uidl_format, for Maildirs that Dovecot served.
        #[arg(long, value_name = "FORMAT", default_value = "%08Xu%08Xv")]
        uidlist_format: String,
        /// The passwd file.
        #[arg(long, value_name = "FILE", default_value = "/etc/passwd")]
        passwd: PathBuf,
        /// The shadow file.
        #[arg(long, value_name = "FILE", default_value = "/etc/shadow")]
        shadow: PathBuf,
        #[command(flatten)]
        common: MigrateOptions,
    },
}

/// What every migration takes.
#[derive(clap::Args, Debug, Clone, Copy)]
pub struct MigrateOptions {
    /// Check and report everything, change nothing (no user, no file, no UIDL map).
    #[arg(long)]
    pub dry_run: bool,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Add a user and create its Maildir, <mail_root>/NAME/Maildir (mode 0700).
    ///
    /// Nothing already under the mail root is trusted: if <mail_root>/NAME exists and is not an
    /// empty directory of ours (a symlink, a file, someone else's or a non-empty directory, such
    /// as an old account's mail), the user is not added, unless --adopt is given.
    ///
    /// With --maildir PATH, the user gets the Maildir that is at PATH: it must exist (it is
    /// never created) and is never chmod-ed or chowned; the old server's UIDLs found beside
    /// its cur/ are carried over before the user is added.
    Add {
        /// The user name (letters, digits, . _ - + @; folded to lower case).
        name: String,
        /// Read the password from the first line of stdin instead of prompting.
        #[arg(long)]
        password_stdin: bool,
        /// Take the Maildir already at <mail_root>/NAME/Maildir (or at --maildir) as it is
        /// (e.g. a re-added user's kept mail, or someone else's): nothing is created,
        /// chmod-ed or chowned. Symlinks are still never followed.
        #[arg(long)]
        adopt: bool,
        /// The user's existing Maildir, anywhere (absolute): recorded as it is, never
        /// created, chmod-ed or chowned. One that pop3d's user could not read and write is
        /// refused, unless --adopt (then added with a warning). The old server's UIDLs, a
        /// dovecot-uidlist or courierpop3dsizelist beside cur/, are carried over before the
        /// user exists, as `migrate` does; a Maildir with messages and neither file is
        /// refused unless --native-uidls.
        #[arg(long, value_name = "PATH")]
        maildir: Option<PathBuf>,
        /// Dovecot's pop3_uidl_format, for a dovecot-uidlist found beside cur/ (with --maildir).
        #[arg(
            long,
            value_name = "FORMAT",
            default_value = "%08Xu%08Xv",
            requires = "maildir"
        )]
        uidlist_format: String,
        /// With --maildir: add the user even though its Maildir has messages and no UIDL file
        /// of the old server, serving pop3d's own UIDLs; every client downloads everything
        /// again.
        #[arg(long, requires = "maildir")]
        native_uidls: bool,
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
    /// Show one user: the database's facts, the Maildir's counts and oldest message (from
    /// maildirsize or pop3d's listing, never a scan: `-` when neither is usable), the quota,
    /// and, if the server answers, their live and recent sessions (when, from where, TLS,
    /// mechanism, RETR/DELE counts, octets, how each ended). With the server down the rest
    /// is shown, with a note on stderr. The server remembers sessions since it started, and
    /// only for a bounded number of users (`[admin] history_users`, the last 20,000 users to
    /// end a session by default, `history_sessions_per_user` each, 10 by default): a user
    /// without recent sessions may simply have been forgotten.
    Show {
        name: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Allow a user to log in.
    Enable { name: String },
    /// Stop a user from logging in (mail is still delivered).
    Disable { name: String },
    /// Set a user's own EXPIRE, LOGIN-DELAY or quotas, overriding the site's values from
    /// pop3d.toml; `default` returns one to the site's value. Every value is checked before
    /// any is written. pop3d uses them from the user's next login (and LMTP's next delivery).
    #[command(group(clap::ArgGroup::new("setting").required(true).multiple(true)))]
    Set {
        name: String,
        /// Days a retrieved message is kept (RFC 2449 EXPIRE): 0 removes it at the QUIT of
        /// the session that retrieved it; `never` keeps it until DELE.
        #[arg(long, value_name = "DAYS|never|default", group = "setting")]
        expire: Option<String>,
        /// The least seconds between two logins (RFC 2449 LOGIN-DELAY), 0 to 86400.
        #[arg(long, value_name = "SECONDS|default", group = "setting")]
        login_delay: Option<String>,
        /// The most messages the maildrop may hold.
        #[arg(long, value_name = "N|unlimited|default", group = "setting")]
        quota_messages: Option<String>,
        /// The most octets the maildrop may hold (K, M, G, T suffixes, 1024-based).
        #[arg(long, value_name = "OCTETS|unlimited|default", group = "setting")]
        quota_bytes: Option<String>,
    },
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
        /// Dovecot's pop3_uidl_format (supported: %u %v %f %g %%, modifiers X U L, widths),
        /// as `migrate --uidlist-format`.
        // `--format` was its name before issue 16's review: a hidden alias, for scripts.
        #[arg(
            long,
            alias = "format",
            value_name = "FORMAT",
            default_value = "%08Xu%08Xv",
            requires = "from_uidlist"
        )]
        uidlist_format: String,
        /// Courier's courierpop3dsizelist (`UID<n>-<uidvalidity>`).
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
