//! The handoff matrix: every real client that no one here wrote (boto3,
//! the AWS CLI v1 and v2, the AWS SDK for JavaScript v3, a Rust program on
//! plain aws-config), handed credentials in every way bsm hands them
//! (`exec`, `exec --server`, bsm as a `credential_process`,
//! `AwsCliEnv::apply`), under every parent people run bsm in (a clean home,
//! a lived-in home, `aws-vault exec`, EKS Pod Identity, EKS IRSA, ECS, EC2),
//! must report the manager's principal: a role that none of the parents'
//! sources can give.
//!
//! Each cell runs the client in a home of its own (a copy of the lived-in
//! home, or an empty one) and checks what the client printed, as a user
//! would see it. The parents' credential endpoints are loopback stand-ins
//! that count what they are asked: a child of a correct handoff never asks
//! them. The ECS parent's relative URI would be fetched from 169.254.170.2,
//! where no stand-in may listen: no cell of a correct handoff reads it, and
//! the server and keys modes remove it before the child starts.
//!
//! One test, which prints the whole matrix and then fails naming each cell
//! that reported another principal.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::Duration;

use bsm_tests::sources::{FakeServer, iam_user, in_an_hour};
use bsm_tests::{isolate, lived_in, moto, temp_dir, venv_bin};

/// The role every manager of the matrix assumes.
const ROLE: &str = "arn:aws:iam::123456789012:role/bsm-matrix";
/// How long one client may take (a hung one is a failed cell).
const CELL_LIMIT: Duration = Duration::from_secs(90);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Client {
    Boto3,
    CliV1,
    CliV2,
    JsV3,
    Rust,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Mode {
    Exec,
    Server,
    CredentialProcess,
    Apply,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Parent {
    CleanHome,
    LivedIn,
    AwsVault,
    EksPodIdentity,
    EksIrsa,
    Ecs,
    Ec2,
}

/// Every client of the matrix (also the ones `keys.rs` runs).
pub(crate) const CLIENTS: [Client; 5] = [
    Client::Boto3,
    Client::CliV1,
    Client::CliV2,
    Client::JsV3,
    Client::Rust,
];
const MODES: [Mode; 4] = [
    Mode::Exec,
    Mode::Server,
    Mode::CredentialProcess,
    Mode::Apply,
];
const PARENTS: [Parent; 7] = [
    Parent::CleanHome,
    Parent::LivedIn,
    Parent::AwsVault,
    Parent::EksPodIdentity,
    Parent::EksIrsa,
    Parent::Ecs,
    Parent::Ec2,
];

impl Client {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Client::Boto3 => "boto3",
            Client::CliV1 => "AWS CLI v1",
            Client::CliV2 => "AWS CLI v2",
            Client::JsV3 => "JS v3",
            Client::Rust => "Rust aws-config",
        }
    }

    fn tag(self) -> &'static str {
        match self {
            Client::Boto3 => "boto3",
            Client::CliV1 => "cli1",
            Client::CliV2 => "cli2",
            Client::JsV3 => "js",
            Client::Rust => "rust",
        }
    }
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Exec => "exec",
            Mode::Server => "exec --server",
            Mode::CredentialProcess => "credential_process",
            Mode::Apply => "AwsCliEnv::apply",
        }
    }

    fn tag(self) -> &'static str {
        match self {
            Mode::Exec => "exec",
            Mode::Server => "server",
            Mode::CredentialProcess => "process",
            Mode::Apply => "apply",
        }
    }
}

impl Parent {
    fn name(self) -> &'static str {
        match self {
            Parent::CleanHome => "clean home",
            Parent::LivedIn => "lived-in",
            Parent::AwsVault => "aws-vault",
            Parent::EksPodIdentity => "EKS Pod Id",
            Parent::EksIrsa => "EKS IRSA",
            Parent::Ecs => "ECS",
            Parent::Ec2 => "EC2",
        }
    }

    fn tag(self) -> &'static str {
        match self {
            Parent::CleanHome => "clean",
            Parent::LivedIn => "lived",
            Parent::AwsVault => "vault",
            Parent::EksPodIdentity => "pod",
            Parent::EksIrsa => "irsa",
            Parent::Ecs => "ecs",
            Parent::Ec2 => "ec2",
        }
    }
}

/// Where each client lives, or why it is missing.
pub(crate) struct Programs {
    bsm: PathBuf,
    rust: Result<PathBuf, String>,
    cli_v2: Result<PathBuf, String>,
    js: Result<PathBuf, String>,
}

impl Programs {
    pub(crate) fn find() -> Self {
        let bsm = PathBuf::from(env!("CARGO_BIN_EXE_bsm"));
        let rust = bsm.with_file_name("sdk_probe");
        let rust = if rust.exists() {
            Ok(rust)
        } else {
            Err(format!(
                "{} is not built: `cargo test --workspace` builds it",
                rust.display()
            ))
        };
        // Debian's awscli package is the AWS CLI v2; PyPI's `awscli`, in
        // the virtualenv, is v1.
        let cli_v2 = std::env::var_os("BSM_AWS_CLI_V2")
            .map_or_else(|| PathBuf::from("/usr/bin/aws"), PathBuf::from);
        let cli_v2 = match Command::new(&cli_v2).arg("--version").output() {
            Ok(out) if String::from_utf8_lossy(&out.stdout).starts_with("aws-cli/2.") => Ok(cli_v2),
            _ => Err(format!(
                "no AWS CLI v2 at {} (Debian's `awscli` package; .ci/run installs it)",
                cli_v2.display()
            )),
        };
        let js = std::env::var_os("BSM_JS_DIR").map_or_else(
            || bsm.parent().and_then(Path::parent).unwrap().join("js"),
            PathBuf::from,
        );
        let js = if js.join("node_modules/@aws-sdk/client-sts").exists() {
            Ok(js.join("whoami.mjs"))
        } else {
            Err(format!(
                "no AWS SDK for JavaScript v3 in {} (`cargo xtask test` installs it there)",
                js.display()
            ))
        };
        Self {
            bsm,
            rust,
            cli_v2,
            js,
        }
    }

    /// The client's command, printing its principal ARN; with `profile`,
    /// pinned to that profile the way its users pin one.
    pub(crate) fn client(&self, client: Client, profile: Option<&str>) -> Result<Command, String> {
        let mut cmd = match client {
            Client::Boto3 => {
                let mut cmd = Command::new(venv_bin("python"));
                cmd.arg("-c").arg(
                    "import sys, boto3\n\
                     s = boto3.Session(profile_name=sys.argv[1]) if len(sys.argv) > 1 else boto3.Session()\n\
                     print(s.client('sts').get_caller_identity()['Arn'])",
                );
                cmd
            }
            Client::CliV1 | Client::CliV2 => {
                let program = if client == Client::CliV1 {
                    venv_bin("aws")
                } else {
                    self.cli_v2.clone()?
                };
                let mut cmd = Command::new(program);
                cmd.args(["sts", "get-caller-identity", "--output", "text"])
                    .args(["--query", "Arn"]);
                if client == Client::CliV2 {
                    // Debian's v2.9 predates AWS_ENDPOINT_URL.
                    cmd.args(["--endpoint-url", &moto().endpoint()]);
                }
                if let Some(p) = profile {
                    cmd.args(["--profile", p]);
                }
                return Ok(cmd);
            }
            Client::JsV3 => {
                let mut cmd = Command::new("node");
                cmd.arg(self.js.clone()?);
                cmd
            }
            Client::Rust => {
                let mut cmd = Command::new(self.rust.clone()?);
                if let Some(p) = profile {
                    cmd.arg("--profile");
                    cmd.arg(p);
                }
                return Ok(cmd);
            }
        };
        if let Some(p) = profile {
            cmd.arg(p);
        }
        Ok(cmd)
    }
}

/// The parents' own credential sources, each a principal of its own.
struct Parents {
    vault_key: (String, String),
    pod: FakeServer,
    pod_token_file: PathBuf,
    irsa_token_file: PathBuf,
    imds: FakeServer,
}

impl Parents {
    async fn start(dir: &Path) -> Self {
        let vault = iam_user("matrix-aws-vault").await;
        let pod_user = iam_user("matrix-pod").await;
        let instance = iam_user("matrix-instance").await;
        let pod_token_file = dir.join("pod-identity-token");
        std::fs::write(&pod_token_file, "pod-identity-token-value").unwrap();
        let irsa_token_file = dir.join("irsa-token");
        std::fs::write(&irsa_token_file, "eyJhbGciOiJSUzI1NiJ9.e30.c2lnbmF0dXJl").unwrap();
        Self {
            vault_key: (vault.key_id, vault.secret),
            pod: FakeServer::container(&pod_user, "pod-identity-token-value", in_an_hour()),
            pod_token_file,
            irsa_token_file,
            imds: FakeServer::imds(&instance, in_an_hour()),
        }
    }

    /// The variables `parent` leaves in the environment of what it runs.
    fn env(&self, parent: Parent) -> Vec<(&'static str, String)> {
        match parent {
            Parent::CleanHome | Parent::LivedIn => vec![],
            Parent::AwsVault => vec![
                ("AWS_VAULT", "lived-in".into()),
                ("AWS_ACCESS_KEY_ID", self.vault_key.0.clone()),
                ("AWS_SECRET_ACCESS_KEY", self.vault_key.1.clone()),
                ("AWS_SESSION_TOKEN", "aws-vault-session-token".into()),
                ("AWS_SECURITY_TOKEN", "aws-vault-session-token".into()),
                ("AWS_CREDENTIAL_EXPIRATION", "2020-01-01T00:00:00Z".into()),
            ],
            Parent::EksPodIdentity => vec![
                (
                    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                    format!("{}/v1/credentials", self.pod.endpoint()),
                ),
                (
                    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
                    self.pod_token_file.display().to_string(),
                ),
            ],
            Parent::EksIrsa => vec![
                (
                    "AWS_ROLE_ARN",
                    "arn:aws:iam::123456789012:role/matrix-irsa".into(),
                ),
                (
                    "AWS_WEB_IDENTITY_TOKEN_FILE",
                    self.irsa_token_file.display().to_string(),
                ),
                ("AWS_ROLE_SESSION_NAME", "matrix-irsa".into()),
            ],
            Parent::Ecs => vec![(
                "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                "/v2/credentials/matrix-ecs-task".into(),
            )],
            Parent::Ec2 => vec![("AWS_EC2_METADATA_SERVICE_ENDPOINT", self.imds.endpoint())],
        }
    }
}

/// Copies a folder's files (the lived-in home is flat but for `.aws`).
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Runs `cmd` in a process group of its own, killed whole after `limit`.
fn run(mut cmd: Command, limit: Duration) -> Result<Output, String> {
    use std::os::unix::process::CommandExt as _;
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let child = cmd.spawn().map_err(|e| format!("cannot start: {e}"))?;
    let pid = i32::try_from(child.id()).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    if let Ok(out) = rx.recv_timeout(limit) {
        return out.map_err(|e| e.to_string());
    }
    // SAFETY: kill(2) on the process group of a child this test started.
    unsafe {
        libc::kill(-pid, libc::SIGKILL);
    }
    let _ = rx.recv();
    Err(format!("no answer within {} s", limit.as_secs()))
}

/// What one cell printed, and whether it was the manager's principal.
struct Outcome {
    expected: String,
    got: Result<String, String>,
    /// The client is not installed on this machine.
    skipped: bool,
}

impl Outcome {
    fn ok(&self) -> bool {
        self.got.as_deref() == Ok(self.expected.as_str())
    }
}

/// What a client printed, or the last line of its error.
fn answer(out: Result<Output, String>) -> Result<String, String> {
    let out = out?;
    let stdout = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if out.status.success() && !stdout.is_empty() {
        return Ok(stdout);
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = stderr
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty() && !l.starts_with("at ") && !l.contains("Warning"))
        .unwrap_or("");
    Err(format!(
        "{}: {}",
        out.status,
        line.chars().take(160).collect::<String>()
    ))
}

/// The profiles a cell's `~/.aws/config` gets beside the home's own: the
/// source bsm reads (the tests' static keys) and, for the
/// `credential_process` mode, the profile that runs bsm.
fn matrix_profiles(programs: &Programs, session: &str) -> String {
    format!(
        "\n[profile bsm-matrix-source]\n\
         aws_access_key_id = testing\n\
         aws_secret_access_key = testing\n\
         region = us-east-1\n\
         \n[profile bsm-matrix]\n\
         region = us-east-1\n\
         credential_process = {} --profile bsm-matrix-source --role-arn {ROLE} \
         --session-name {session} export --format process\n",
        programs.bsm.display()
    )
}

fn cell(
    programs: &Programs,
    parents: &Parents,
    (client, mode, parent): (Client, Mode, Parent),
    apply: Option<&bsm::AwsCliEnv>,
    session: &str,
) -> Result<String, String> {
    let home = temp_dir(&format!("bsm-matrix-{session}"));
    if parent == Parent::CleanHome {
        std::fs::create_dir_all(home.join(".aws")).unwrap();
    } else {
        copy_dir(&lived_in::home(), &home);
    }
    let config = home.join(".aws/config");
    let mut text = std::fs::read_to_string(&config).unwrap_or_default();
    text.push_str(&matrix_profiles(programs, session));
    std::fs::write(&config, text).unwrap();

    let client_cmd = programs.client(
        client,
        (mode == Mode::CredentialProcess).then_some("bsm-matrix"),
    )?;
    let mut cmd = match mode {
        Mode::Exec | Mode::Server => {
            let mut cmd = Command::new(&programs.bsm);
            cmd.args(["--profile", "bsm-matrix-source", "--role-arn", ROLE])
                .args(["--session-name", session, "exec"]);
            if mode == Mode::Server {
                cmd.arg("--server");
            }
            cmd.arg("--")
                .arg(client_cmd.get_program())
                .args(client_cmd.get_args());
            cmd
        }
        Mode::CredentialProcess | Mode::Apply => client_cmd,
    };
    isolate(&mut cmd);
    cmd.env("HOME", &home)
        .env("XDG_CACHE_HOME", home.join(".cache"))
        .env("AWS_REGION", "us-east-1")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("PATH", path_with_venv());
    if parent == Parent::Ec2 {
        cmd.env_remove("AWS_EC2_METADATA_DISABLED");
    }
    for (k, v) in parents.env(parent) {
        cmd.env(k, v);
    }
    if let Some(env) = apply {
        env.apply(&mut cmd);
    }
    let got = answer(run(cmd, CELL_LIMIT));
    let _ = std::fs::remove_dir_all(&home);
    got
}

fn path_with_venv() -> std::ffi::OsString {
    let bin = venv_bin("aws").parent().unwrap().to_path_buf();
    std::env::join_paths(std::iter::once(bin).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))
    .unwrap()
}

fn session_name(client: Client, mode: Mode, parent: Parent) -> String {
    format!("{}-{}-{}", mode.tag(), parent.tag(), client.tag())
}

fn expected_arn(session: &str) -> String {
    format!("arn:aws:sts::123456789012:assumed-role/bsm-matrix/{session}")
}

/// The matrix as a Markdown table: one row per client and mode, one column
/// per parent; `ok`, or what the client reported instead.
fn render(outcomes: &BTreeMap<(Client, Mode, Parent), Outcome>) -> String {
    use std::fmt::Write as _;
    let mut out = String::from("| client | handoff |");
    for p in PARENTS {
        let _ = write!(out, " {} |", p.name());
    }
    out.push_str("\n|---|---|");
    out.push_str(&"---|".repeat(PARENTS.len()));
    out.push('\n');
    for c in CLIENTS {
        for m in MODES {
            let _ = write!(out, "| {} | {} |", c.name(), m.name());
            for p in PARENTS {
                let o = &outcomes[&(c, m, p)];
                let text = match &o.got {
                    _ if o.skipped => "n/a".to_owned(),
                    _ if o.ok() => "ok".to_owned(),
                    Ok(arn) => arn
                        .rsplit_once(':')
                        .map_or(arn.clone(), |(_, tail)| format!("**{tail}**")),
                    Err(_) => "**error**".to_owned(),
                };
                let _ = write!(out, " {text} |");
            }
            out.push('\n');
        }
    }
    out
}

/// Runs every cell, four at a time; a client missing here is a skipped cell.
async fn run_all(
    programs: &Arc<Programs>,
    parents: &Arc<Parents>,
    missing_clients: &[Client],
) -> BTreeMap<(Client, Mode, Parent), Outcome> {
    let source = bsm_tests::manager(&moto().endpoint()).await;
    let limit = Arc::new(tokio::sync::Semaphore::new(4));
    let mut outcomes = BTreeMap::new();
    let mut tasks = Vec::new();
    for client in CLIENTS {
        for mode in MODES {
            for parent in PARENTS {
                let session = session_name(client, mode, parent);
                let expected = expected_arn(&session);
                if missing_clients.contains(&client) {
                    let got = Err("not installed".into());
                    let outcome = Outcome {
                        expected,
                        got,
                        skipped: true,
                    };
                    outcomes.insert((client, mode, parent), outcome);
                    continue;
                }
                let apply = if mode == Mode::Apply {
                    let role = source
                        .assume_role(ROLE)
                        .role_session_name(&session)
                        .send()
                        .await
                        .unwrap();
                    Some(role.aws_cli_env().await.unwrap())
                } else {
                    None
                };
                let (programs, parents) = (Arc::clone(programs), Arc::clone(parents));
                let permit = Arc::clone(&limit).acquire_owned().await.unwrap();
                tasks.push(tokio::task::spawn_blocking(move || {
                    let key = (client, mode, parent);
                    let got = cell(&programs, &parents, key, apply.as_ref(), &session);
                    drop(permit);
                    let outcome = Outcome {
                        expected,
                        got,
                        skipped: false,
                    };
                    (key, outcome)
                }));
            }
        }
    }
    for t in tasks {
        let (key, outcome) = t.await.unwrap();
        outcomes.insert(key, outcome);
    }
    outcomes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_client_in_every_parent_reports_the_managers_principal() {
    let programs = Arc::new(Programs::find());
    let dir = temp_dir("bsm-matrix");
    let parents = Arc::new(Parents::start(&dir).await);
    let mut missing = Vec::new();
    let mut missing_clients = Vec::new();
    for (client, why) in [
        (Client::Rust, programs.rust.as_ref().err()),
        (Client::CliV2, programs.cli_v2.as_ref().err()),
        (Client::JsV3, programs.js.as_ref().err()),
    ] {
        if let Some(why) = why {
            missing.push(format!("{}: {why}", client.name()));
            missing_clients.push(client);
        }
    }
    let outcomes = run_all(&programs, &parents, &missing_clients).await;
    println!("{}", render(&outcomes));
    let failed: Vec<String> = outcomes
        .iter()
        .filter(|(_, o)| !o.ok() && !o.skipped)
        .map(|((c, m, p), o)| {
            let got = match &o.got {
                Ok(arn) => format!("reported {arn}"),
                Err(e) => e.clone(),
            };
            format!("{} / {} / {}: {got}", c.name(), m.name(), p.name())
        })
        .collect();
    for line in &failed {
        println!("{line}");
    }
    // Counted at the parents' own endpoints: no child asked them.
    let asked = [
        ("EKS Pod Identity agent", parents.pod.hits().len()),
        ("instance metadata", parents.imds.hits().len()),
    ];
    for (what, n) in asked {
        println!("{what}: asked {n} times");
    }
    for m in &missing {
        println!("skipped (not installed here): {m}");
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        missing.is_empty() || std::env::var_os("CI").is_none(),
        "clients missing on CI: {missing:?}"
    );
    assert!(failed.is_empty(), "{} cells failed", failed.len());
    for (what, n) in asked {
        assert_eq!(n, 0, "the {what} of the parent was asked");
    }
}
