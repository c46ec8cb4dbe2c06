//! The `bsm` command: who am I, run a command with AWS credentials in its
//! environment, export them (shell, JSON, `credential_process`), and
//! credential snapshots. A thin layer over the `bsm` library: this file
//! parses and dispatches; each subcommand lives in its own module.

mod cache;
mod console;
mod exec;
mod export;
mod job;
mod keys;
mod log;
mod loop_guard;
mod manager;
mod prompt;
mod snapshot;

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::export::Format;

/// Session manager for AWS: who am I, run commands with credentials, export
/// them, snapshots.
#[derive(Debug, Parser)]
#[command(name = "bsm", version)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Cmd,
}

/// Where the credentials come from: the default chain, or these options.
// The doc comments are `--help` text, where backticks would show.
#[allow(clippy::doc_markdown)]
#[derive(Debug, Args)]
struct Global {
    /// Profile of the shared AWS config files.
    #[arg(long, global = true)]
    profile: Option<String>,
    /// Take the source keys stored under this name in the OS credential
    /// store (see `bsm keys`) instead of the default chain or a profile's
    /// credentials.
    #[arg(long, global = true, value_name = "NAME")]
    keys: Option<String>,
    /// The OS credential store of --keys and `bsm keys`: secret-service,
    /// keyutils, keychain (macOS), credential-manager (Windows). Default:
    /// the platform's; on Linux the Secret Service when one answers on the
    /// session bus, else keyutils.
    #[arg(long, global = true, env = "BSM_KEYCHAIN", value_name = "STORE")]
    keychain: Option<String>,
    /// Region (default: from the profile or the environment).
    #[arg(long, global = true)]
    region: Option<String>,
    /// Send every request to this endpoint (moto, LocalStack, MinIO).
    #[arg(long, global = true)]
    endpoint_url: Option<String>,
    /// Assume this role with the credentials above, once.
    #[arg(long, global = true)]
    role_arn: Option<String>,
    /// Session length of the assumed role, in seconds (900 to 43200).
    #[arg(long, global = true, value_name = "SECONDS", requires = "role_arn")]
    duration: Option<u64>,
    /// External id the role's trust policy asks for.
    #[arg(long, global = true, requires = "role_arn")]
    external_id: Option<String>,
    /// Role session name (default: 32 random hex characters).
    #[arg(long, global = true, requires = "role_arn")]
    session_name: Option<String>,
    /// MFA device serial number or ARN; the code is asked on the terminal
    /// unless --mfa-code gives it.
    #[arg(long, global = true, requires = "role_arn")]
    mfa_serial: Option<String>,
    /// MFA token code (6 digits); `-` reads it from standard input. Any
    /// local user's `ps` sees a command line: BSM_MFA_CODE in the
    /// environment, or `-`, keeps it out of sight.
    #[arg(long, global = true, env = "BSM_MFA_CODE", hide_env_values = true)]
    mfa_code: Option<String>,
    /// Get an MFA session first (STS GetSessionToken with the MFA code),
    /// keep it in the session cache, and assume roles from it without a code
    /// until it ends (the aws-vault way).
    #[arg(long, global = true, requires = "mfa_serial")]
    mfa_session: bool,
    /// How long an MFA session lasts, in seconds (900 to 129600; STS may
    /// grant less).
    #[arg(long, global = true, value_name = "SECONDS", default_value_t = 3600,
          value_parser = clap::value_parser!(u64).range(900..=129_600))]
    mfa_session_duration: u64,
    /// How long the session lasts that `exec`, `export` and `snapshot save`
    /// hand out for --keys (STS GetSessionToken), in seconds (900 to
    /// 129600).
    #[arg(long, global = true, value_name = "SECONDS", default_value_t = 3600,
          value_parser = clap::value_parser!(u64).range(900..=129_600))]
    session_duration: u64,
    /// Hand out the stored keys of --keys themselves, not a session of
    /// theirs (for IAM calls, which a session without MFA may not make).
    #[arg(long, global = true, requires = "keys")]
    no_session: bool,
    /// Do not read or write the session cache (export and exec keep an
    /// assumed role's credentials there, in $XDG_CACHE_HOME/bsm, until
    /// shortly before they end).
    #[arg(long, global = true)]
    no_cache: bool,
    /// Take a new session this many seconds before the cached one ends.
    #[arg(long, global = true, value_name = "SECONDS", default_value_t = 300)]
    refresh_window: u64,
    /// Say more on stderr (-v info, -vv debug, -vvv trace; BSM_LOG=LEVEL
    /// sets the level). Never a secret, at any level.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Print who the credentials belong to (masked unless --no-mask).
    Whoami {
        /// Show the account id, user id and ARN unmasked.
        #[arg(long)]
        no_mask: bool,
        /// Also say why: which source answered (a profile's chain hop by
        /// hop), the files and variables read, where the region came from,
        /// how long resolution took, when the credentials end and whether
        /// they renew.
        #[arg(long)]
        explain: bool,
    },
    /// Run a command with the credentials in its environment; exits with its
    /// exit code.
    Exec {
        /// Run even inside another `bsm exec` (whose credentials this
        /// replaces in the child).
        #[arg(long)]
        nested: bool,
        /// Stay the parent and serve the role's credentials, refreshed ahead
        /// of their end, on a loopback credential server the child polls
        /// (needs --role-arn): for commands that outlive a session.
        #[arg(long)]
        server: bool,
        /// The command and its arguments (after `--`).
        #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
        command: Vec<OsString>,
    },
    /// Print the credentials for a shell, as JSON (a snapshot), or as
    /// `credential_process` output.
    Export {
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Env)]
        format: Format,
    },
    /// Open the AWS console as these credentials' principal (a sign-in URL
    /// from the AWS federation endpoint), in $BROWSER, else with xdg-open,
    /// open or start.
    Console {
        /// Print the URL on stdout instead of opening it (it holds a
        /// sign-in token: treat it as a credential).
        #[arg(long)]
        print: bool,
        /// Where the console opens (an https:// URL; default: the region's
        /// console home).
        #[arg(long, value_name = "URL")]
        destination: Option<String>,
        /// How long the console session lasts, in seconds: 900 to 43200 for
        /// a role; 900 to 129600 for an IAM user's keys (default 3600).
        #[arg(long, value_name = "SECONDS")]
        duration: Option<u64>,
    },
    /// Source keys in the OS credential store: add, list, remove, rotate.
    Keys {
        #[command(subcommand)]
        action: KeysCmd,
    },
    /// The session cache of export and exec.
    Cache {
        #[command(subcommand)]
        action: CacheCmd,
    },
    /// Save or show a credential snapshot file (default ~/.bsm-snapshot.json).
    Snapshot {
        #[command(subcommand)]
        action: SnapshotCmd,
    },
}

// The doc comments are `--help` text, where backticks would show.
#[allow(clippy::doc_markdown)]
#[derive(Debug, Subcommand)]
enum KeysCmd {
    /// Store an IAM user's access key under NAME, after one STS
    /// GetCallerIdentity with it. Asked on the terminal (the secret without
    /// echo), or read from standard input.
    Add {
        /// The name (letters, digits, -_.@+=,).
        name: String,
        /// Read two lines from standard input: the access key id, then the
        /// secret access key.
        #[arg(long)]
        stdin: bool,
        /// Replace keys already stored under NAME.
        #[arg(long)]
        replace: bool,
    },
    /// List the names and their access key ids, masked.
    List,
    /// Remove the keys stored under NAME (the key stays active at IAM).
    Remove {
        /// The name.
        name: String,
    },
    /// Replace the key of NAME with a new one: create it, wait until it
    /// works, store it, delete the old one. A step that fails loses nothing;
    /// running it again finishes an interrupted rotation.
    Rotate {
        /// The name.
        name: String,
        /// How long to wait for the new key to work, and to retry deleting
        /// the old one, in seconds.
        #[arg(long, value_name = "SECONDS", default_value_t = 60,
              value_parser = clap::value_parser!(u64).range(1..=3600))]
        wait: u64,
    },
}

#[derive(Debug, Subcommand)]
enum CacheCmd {
    /// Remove every cached session.
    Clear,
}

#[derive(Debug, Subcommand)]
enum SnapshotCmd {
    /// Write the current credentials to a snapshot file (mode 0600).
    Save {
        /// The file (default ~/.bsm-snapshot.json).
        path: Option<PathBuf>,
        /// Replace an existing file (atomically).
        #[arg(long)]
        force: bool,
    },
    /// Show a snapshot file, masked.
    Show {
        /// The file (default ~/.bsm-snapshot.json).
        path: Option<PathBuf>,
    },
}

/// Any error, reported by [`fail`].
type Failure = Box<dyn std::error::Error + Send + Sync>;

/// Standard output was closed by its reader (`bsm ... | head -1`): not a
/// failure, bsm stops quietly, as a shell tool killed by SIGPIPE does.
#[derive(Debug)]
struct ReaderGone;

impl std::fmt::Display for ReaderGone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("standard output was closed")
    }
}

impl std::error::Error for ReaderGone {}

/// Writes `text` to standard output and flushes it: a reader that went away
/// is [`ReaderGone`], any other failure (a full disk, `/dev/full`) an
/// error that says so, never a panic.
fn out(text: &str) -> Result<(), Failure> {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(Box::new(ReaderGone)),
        Err(e) => Err(format!("cannot write to standard output: {e}").into()),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match log::level(cli.global.verbose, std::env::var("BSM_LOG").ok().as_deref()) {
        Ok(level) => log::init(level),
        Err(e) => {
            eprintln!("bsm: error: {e}");
            return ExitCode::FAILURE;
        }
    }
    // A process of the same user may not read the memory of a bsm that
    // holds stored keys (/proc/PID/mem, ptrace), nor a core dump of it.
    #[cfg(target_os = "linux")]
    if matches!(cli.command, Cmd::Keys { .. }) || cli.global.keys.is_some() {
        // SAFETY: prctl(2) with integer arguments only.
        unsafe {
            libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
        }
    }
    if resolves_a_profile(&cli) {
        let profile = manager::selected_profile(&cli.global).unwrap_or_else(|| "default".into());
        // SAFETY: no other thread runs yet: the runtime starts below.
        if let Err(e) = unsafe { loop_guard::enter(&profile) } {
            eprintln!("bsm: error: {}", terminal_line(&e));
            return ExitCode::FAILURE;
        }
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(&e),
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) if e.is::<ReaderGone>() => ExitCode::SUCCESS,
        Err(e) => fail(e.as_ref()),
    }
}

/// Whether the command takes its credentials from a profile (or the default
/// chain), which a `credential_process` could answer by calling bsm back.
fn resolves_a_profile(cli: &Cli) -> bool {
    let local = matches!(
        cli.command,
        Cmd::Snapshot {
            action: SnapshotCmd::Show { .. }
        } | Cmd::Cache { .. }
            | Cmd::Keys { .. }
    );
    !local && cli.global.keys.is_none()
}

/// How long a line of an error may be: a cause can quote a program's whole
/// stderr (aws-config's `credential_process` error does).
const MAX_ERROR_LINE: usize = 2000;

/// `text` as one line for a terminal: newlines as spaces, other control
/// characters (escape sequences) as `?`, at most [`MAX_ERROR_LINE`]
/// characters.
fn terminal_line(text: &str) -> String {
    let mut line: String = text
        .chars()
        .take(MAX_ERROR_LINE)
        .map(|c| match c {
            '\n' => ' ',
            c if c.is_control() => '?',
            c => c,
        })
        .collect();
    if text.chars().count() > MAX_ERROR_LINE {
        line.push_str(" ...");
    }
    line
}

/// The error on stderr: one line, except that credentials that cannot be
/// found also get one short line per source tried and what to do.
fn fail(err: &(dyn std::error::Error + 'static)) -> ExitCode {
    let mut line = err.to_string();
    let mut tried = Vec::new();
    let mut cause = err.source();
    while let Some(c) = cause {
        let text = c.to_string();
        // aws-config lists the sources of its chain on lines of their own.
        let (first, rest) = text.split_once("Attempted:").unwrap_or((&text, ""));
        // aws-config's wording, shortened to what a person needs.
        let short = |l: &str| {
            l.replace("the credential provider was not enabled: ", "")
                .replace(": the credential provider was not enabled", ": not set up")
                .replace("the credential provider was not enabled", "")
        };
        tried.extend(
            rest.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(short),
        );
        let first = short(first);
        let first = first.trim().trim_end_matches('.');
        if !first.is_empty() && !line.contains(first) {
            line.push_str(": ");
            line.push_str(first);
        }
        cause = c.source();
    }
    eprintln!("bsm: error: {}", terminal_line(&line));
    if let Some(e @ bsm::Error::Credentials { .. }) = err.downcast_ref::<bsm::Error>() {
        for t in &tried {
            eprintln!("  tried {}", terminal_line(t));
        }
        match e.hint() {
            Some(hint) => eprintln!("  to fix: {hint}"),
            None => eprintln!(
                "  to fix: give --profile NAME (see `aws configure list-profiles`), run \
                 `aws sso login` or `aws login` for a profile that signs in, or set \
                 AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
            ),
        }
    }
    if let Some(bsm::Error::ProfileNotFound { .. }) = err.downcast_ref::<bsm::Error>() {
        eprintln!(
            "  to fix: `aws configure list-profiles` lists the profiles there; \
             `aws configure --profile NAME` makes one"
        );
    }
    if let Some(bsm::Error::Keychain { backend, kind, .. }) = err.downcast_ref::<bsm::Error>() {
        match kind {
            bsm::KeychainErrorKind::NotFound => eprintln!(
                "  to fix: `bsm keys list` shows the names {backend} holds, `bsm keys add NAME` \
                 stores keys; a name lives in the store it was added to (--keychain, BSM_KEYCHAIN)"
            ),
            bsm::KeychainErrorKind::NoAccess => eprintln!(
                "  to fix: unlock {backend} (log in to the desktop session, or \
                 `gnome-keyring-daemon --unlock`), or choose another store with --keychain"
            ),
            bsm::KeychainErrorKind::Unavailable => eprintln!(
                "  to fix: choose a store that runs here with --keychain (secret-service needs a \
                 session bus with a Secret Service; keyutils needs keyctl, which some containers \
                 block)"
            ),
            _ => {}
        }
    }
    ExitCode::FAILURE
}

async fn run(cli: Cli) -> Result<ExitCode, Failure> {
    use manager::Role;
    let g = &cli.global;
    if g.mfa_code.is_some() && g.mfa_serial.is_none() && std::env::var_os("BSM_MFA_CODE").is_none()
    {
        return Err("--mfa-code needs --mfa-serial".into());
    }
    match cli.command {
        // Need no credentials.
        Cmd::Snapshot {
            action: SnapshotCmd::Show { path },
        } => snapshot::show(path),
        Cmd::Cache {
            action: CacheCmd::Clear,
        } => {
            let dir = cache::Cache::default_dir().ok_or("no home directory for the cache")?;
            let removed = cache::Cache::open(dir.clone())
                .ok_or_else(|| format!("cannot use the cache folder {}", dir.display()))?
                .clear()?;
            eprintln!("removed {removed} cached session(s) from {}", dir.display());
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Keys { action } => match action {
            KeysCmd::Add {
                name,
                stdin,
                replace,
            } => keys::add(g, &name, stdin, replace).await,
            KeysCmd::List => keys::list(g),
            KeysCmd::Remove { name } => keys::remove(g, &name),
            KeysCmd::Rotate { name, wait } => keys::rotate(g, &name, wait).await,
        },
        Cmd::Whoami { no_mask, explain } => {
            let bsm = manager::build(g, Role::Once).await?;
            out(&format!("{}\n", bsm.who_am_i(!no_mask).await?))?;
            if explain {
                out(&format!("{}\n", bsm.explain().await?))?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Exec {
            nested,
            server,
            command,
        } => {
            exec::check_nesting(nested)?;
            if server {
                if g.role_arn.is_none() {
                    return Err("exec --server needs --role-arn: it serves a role's \
                                credentials, refreshed before they end"
                        .into());
                }
                let role = manager::build(g, Role::Refreshing).await?;
                exec::serve_and_run(&role, &command).await
            } else {
                let bsm = manager::build(g, Role::HandedOut).await?;
                exec::exec(&bsm.aws_cli_env().await?, &command)
            }
        }
        Cmd::Export { format } => {
            // What the AWS CLI runs on every command: a cached session is
            // printed without a manager, an HTTP client or TLS roots.
            if format == Format::Process
                && let Some(creds) = manager::cached_handout(g).await
            {
                out(&export::process_json(&creds, creds.expiry())?)?;
                return Ok(ExitCode::SUCCESS);
            }
            let bsm = manager::build(g, Role::HandedOut).await?;
            out(&export::export(&bsm, format).await?)?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Console {
            print,
            destination,
            duration,
        } => {
            let bsm = manager::build(g, Role::Once).await?;
            console::console(&bsm, print, destination, duration).await
        }
        Cmd::Snapshot {
            action: SnapshotCmd::Save { path, force },
        } => {
            if g.no_session && g.role_arn.is_none() {
                return Err(
                    "a snapshot of the stored keys themselves would put them in a file: \
                            leave out --no-session (the snapshot then holds a session of theirs)"
                        .into(),
                );
            }
            let bsm = manager::build(g, Role::HandedOut).await?;
            snapshot::save(&bsm, path, force).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cli_definition_is_valid() {
        use clap::CommandFactory as _;
        Cli::command().debug_assert();
    }
}
