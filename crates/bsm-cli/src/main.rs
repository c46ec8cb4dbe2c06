//! The `bsm` command: who am I, run a command with AWS credentials in its
//! environment, export them (shell, JSON, `credential_process`), and
//! credential snapshots. A thin layer over the `bsm` library.

use std::ffi::OsString;
use std::io::{BufRead as _, Write as _};
use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::time::Duration;

use bsm::{AwsCliEnv, SessionManager, Snapshot};
use clap::{Args, Parser, Subcommand, ValueEnum};

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
#[derive(Debug, Args)]
struct Global {
    /// Profile of the shared AWS config files.
    #[arg(long, global = true)]
    profile: Option<String>,
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
    /// MFA token code (6 digits).
    #[arg(long, global = true, requires = "mfa_serial")]
    mfa_code: Option<String>,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Print who the credentials belong to (masked unless --no-mask).
    Whoami {
        /// Show the account id, user id and ARN unmasked.
        #[arg(long)]
        no_mask: bool,
    },
    /// Run a command with the credentials in its environment; exits with its
    /// exit code.
    Exec {
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
    /// Save or show a credential snapshot file (default ~/.bsm-snapshot.json).
    Snapshot {
        #[command(subcommand)]
        action: SnapshotCmd,
    },
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// `export VAR='value'` lines for sh, bash, zsh.
    Env,
    /// `set -gx VAR 'value';` lines for fish.
    Fish,
    /// `$Env:VAR = 'value'` lines for PowerShell.
    Powershell,
    /// A snapshot, readable by `bsm snapshot show` and the Python package.
    Json,
    /// The AWS `credential_process` JSON (Version 1).
    Process,
}

type Failure = Box<dyn std::error::Error + Send + Sync>;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(&e),
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => fail(e.as_ref()),
    }
}

/// One line on stderr: the error and its causes.
fn fail(err: &(dyn std::error::Error + 'static)) -> ExitCode {
    let mut line = err.to_string();
    let mut cause = err.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        cause = c.source();
    }
    eprintln!("bsm: error: {}", line.replace('\n', " "));
    ExitCode::FAILURE
}

async fn run(cli: Cli) -> Result<ExitCode, Failure> {
    // Showing a snapshot needs no credentials.
    if let Cmd::Snapshot {
        action: SnapshotCmd::Show { path },
    } = &cli.command
    {
        let path = match path {
            Some(p) => p.clone(),
            None => bsm::default_snapshot_path().ok_or("no home directory: give a PATH")?,
        };
        println!("{}", Snapshot::read(&path)?.masked());
        return Ok(ExitCode::SUCCESS);
    }
    let bsm = manager(&cli.global).await?;
    match cli.command {
        Cmd::Whoami { no_mask } => {
            println!("{}", bsm.who_am_i(!no_mask).await?);
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Exec { command } => exec(&bsm.aws_cli_env().await?, &command),
        Cmd::Export { format } => {
            print!("{}", export(&bsm, format).await?);
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Snapshot { action } => snapshot(&bsm, action).await,
    }
}

async fn manager(g: &Global) -> Result<SessionManager, Failure> {
    let mut builder = SessionManager::builder();
    if let Some(p) = &g.profile {
        builder = builder.profile_name(p);
    }
    if let Some(r) = &g.region {
        builder = builder.region(r);
    }
    if let Some(u) = &g.endpoint_url {
        builder = builder.endpoint_url(u);
    }
    let bsm = builder.build().await?;
    let Some(role_arn) = &g.role_arn else {
        return Ok(bsm);
    };
    let mut assume = bsm.assume_role(role_arn);
    if let Some(d) = g.duration {
        assume = assume.duration(Duration::from_secs(d));
    }
    if let Some(id) = &g.external_id {
        assume = assume.external_id(id);
    }
    if let Some(name) = &g.session_name {
        assume = assume.role_session_name(name);
    }
    if let Some(serial) = &g.mfa_serial {
        let code = match &g.mfa_code {
            Some(c) => c.clone(),
            None => ask_mfa_code(serial)?,
        };
        assume = assume.mfa(serial, code);
    }
    Ok(assume.send().await?)
}

/// Asks for the MFA code on the terminal (stdin when there is none).
fn ask_mfa_code(serial: &str) -> Result<String, Failure> {
    eprint!("MFA code for {serial}: ");
    std::io::stderr().flush()?;
    let mut line = String::new();
    match std::fs::File::open("/dev/tty") {
        Ok(tty) => std::io::BufReader::new(tty).read_line(&mut line)?,
        Err(_) => std::io::stdin().lock().read_line(&mut line)?,
    };
    Ok(line.trim().to_owned())
}

fn exec(env: &AwsCliEnv, command: &[OsString]) -> Result<ExitCode, Failure> {
    let (program, args) = command.split_first().ok_or("exec needs a command")?;
    let mut cmd = Command::new(program);
    cmd.args(args);
    env.apply(&mut cmd);
    let status = cmd
        .status()
        .map_err(|e| format!("cannot run `{}`: {e}", program.to_string_lossy()))?;
    if let Some(code) = status.code() {
        return Ok(ExitCode::from(u8::try_from(code & 0xff).unwrap_or(1)));
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt as _;
        if let Some(signal) = status.signal() {
            return Ok(ExitCode::from(u8::try_from(128 + signal).unwrap_or(1)));
        }
    }
    Ok(ExitCode::FAILURE)
}

async fn export(bsm: &SessionManager, format: Format) -> Result<String, Failure> {
    match format {
        Format::Json => Ok(format!("{}\n", bsm.to_snapshot().await?.to_json())),
        Format::Process => {
            let creds = bsm.credentials().await?;
            let mut out = serde_json::Map::new();
            out.insert("Version".into(), 1.into());
            out.insert("AccessKeyId".into(), creds.access_key_id().into());
            out.insert("SecretAccessKey".into(), creds.secret_access_key().into());
            if let Some(token) = creds.session_token() {
                out.insert("SessionToken".into(), token.into());
            }
            if let Some(exp) = bsm.expiration_time().or(creds.expiry()) {
                let dt = bsm::aws_smithy_types::DateTime::from(exp);
                let text = dt.fmt(bsm::aws_smithy_types::date_time::Format::DateTime)?;
                out.insert("Expiration".into(), text.into());
            }
            Ok(format!("{}\n", serde_json::Value::Object(out)))
        }
        Format::Env | Format::Fish | Format::Powershell => {
            let env = bsm.aws_cli_env().await?;
            Ok(env
                .vars()
                .map(|(name, value)| shell_line(format, name, value))
                .collect())
        }
    }
}

fn shell_line(format: Format, name: &str, value: Option<&str>) -> String {
    match (format, value) {
        (Format::Fish, Some(v)) => format!(
            "set -gx {name} '{}';\n",
            v.replace('\\', "\\\\").replace('\'', "\\'")
        ),
        (Format::Fish, None) => format!("set -e {name};\n"),
        (Format::Powershell, Some(v)) => format!("$Env:{name} = '{}'\n", v.replace('\'', "''")),
        (Format::Powershell, None) => {
            format!("Remove-Item Env:{name} -ErrorAction SilentlyContinue\n")
        }
        (_, Some(v)) => format!("export {name}='{}'\n", v.replace('\'', r"'\''")),
        (_, None) => format!("unset {name}\n"),
    }
}

async fn snapshot(bsm: &SessionManager, action: SnapshotCmd) -> Result<ExitCode, Failure> {
    let (path, force) = match action {
        SnapshotCmd::Save { path, force } => (path, force),
        SnapshotCmd::Show { .. } => {
            return Err("`snapshot show` is handled before credentials load".into());
        }
    };
    let path = match path {
        Some(p) => p,
        None => bsm::default_snapshot_path().ok_or("no home directory: give a PATH")?,
    };
    let snap = bsm.to_snapshot().await?;
    if force {
        snap.write_replace(&path)?;
    } else {
        snap.write_new(&path)?;
    }
    eprintln!("wrote {}", path.display());
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_quoting() {
        assert_eq!(
            shell_line(Format::Env, "A", Some("x'y")),
            "export A='x'\\''y'\n"
        );
        assert_eq!(shell_line(Format::Env, "A", None), "unset A\n");
        assert_eq!(
            shell_line(Format::Fish, "A", Some("x'y\\")),
            "set -gx A 'x\\'y\\\\';\n"
        );
        assert_eq!(
            shell_line(Format::Powershell, "A", Some("x'y")),
            "$Env:A = 'x''y'\n"
        );
    }

    #[test]
    fn the_cli_definition_is_valid() {
        use clap::CommandFactory as _;
        Cli::command().debug_assert();
    }
}
