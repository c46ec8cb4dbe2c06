//! bsm's project automation, run as `cargo xtask <command>`.
//!
//! - `regen`: rebuild services.toml and the files derived from it;
//! - `demo`: start the moto emulator on loopback and run `examples/tour.rs`;
//! - `test`: the whole suite (fmt, clippy, the docs as docs.rs builds them,
//!   the packages as crates.io receives them, the tests) with the emulator
//!   installed, timing each step;
//! - `docs-rs`, `package`: two steps of `test` on their own;
//! - `bench-python`, `bench-build`: the measurements behind BENCHMARKS.md.

mod bench;
mod emulator;
mod mutants;
mod publish;
mod regen;

// The proc macro's own reading of services.toml, compiled a second time here
// so that regen rejects exactly what `bsm_macros::services!()` rejects.
// validate.rs refers to its sibling as `crate::model`, so both sit at the
// crate root, as they do in bsm-macros.
#[path = "../../crates/bsm-macros/src/model.rs"]
mod model;
#[cfg(test)]
mod regen_tests;
#[path = "../../crates/bsm-macros/src/validate.rs"]
mod validate;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  regen [--manifest URL|PATH] [--offline] [--check]
        rebuild services.toml from the SDK release manifest (default: the
        aws-sdk-rust versions.toml on GitHub) and the files derived from it
        (the generated Cargo blocks, the packaged copies of services.toml and
        README.md); print how close bsm-core and bsm-aws come to crates.io's
        caps (300 features, 500 dependencies); --offline derives the files
        from services.toml only; --check writes nothing and fails naming each
        stale file
  demo  install the emulator into ./.venv if missing, start it on 127.0.0.1,
        run examples/tour.rs against it, stop it
  test  same set-up, then cargo fmt --check, clippy -D warnings, the docs as
        docs.rs builds them (into target/docsrs), cargo package with
        verification, the doc tests and every test; prints each step's time
  docs-rs
        that step alone: the docs of bsm-core and bsm-aws as docs.rs builds
        them, and the feature badge on `s3_client`
  package
        that step alone: cargo package of the published crates, each built
        from its .crate against the others
  bench-python
        bsm beside the Python original (boto-session-manager) against one
        moto: accessor, first client, cold process, concurrent first callers
  mutants [--iterate] [FILE...]
        mutation testing (cargo-mutants, installed with `cargo install
        cargo-mutants`) of assume_role, identity, snapshot, cli_env and
        credentials in bsm-core, each against its tests; in place, an
        hour or more on 2 cores; results in target/mutants/; --iterate
        tests only what the last run did not catch
  bench-build [--runs N]
        build cost from clean in target/bench-build: a binary with bsm vs
        aws-config + aws-sdk-s3, each case built N times (default 3) in
        turn, medians compared; and cargo check of bsm-core with every
        service accessor expanded vs none (takes many minutes)";

const DOCS_RS: &str = "docs as docs.rs builds them";
const PACKAGE: &str = "cargo package, verified";

/// `--runs N` (at least 1; default 3) of `bench-build`.
fn parse_runs(args: &[String]) -> Result<usize, String> {
    match args {
        [] => Ok(3),
        [flag, n] if flag == "--runs" => match n.parse::<usize>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(format!(
                "--runs wants a whole number of 1 or more, not `{n}`"
            )),
        },
        _ => Err(format!(
            "bench-build takes only --runs N, not {args:?}\n\n{USAGE}"
        )),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("regen") => parse_regen(&args[1..]).and_then(|o| regen::run(&root(), &o)),
        Some("demo") => demo(),
        Some("test") => test(),
        Some("docs-rs") => step(DOCS_RS, publish::docs_rs),
        Some("package") => step(PACKAGE, publish::package),
        Some("bench-python") => bench::python(),
        Some("mutants") => mutants::run_all(&args[1..]),
        Some("bench-build") => parse_runs(&args[1..]).and_then(bench::build),
        Some("-h" | "--help") => {
            println!("{USAGE}");
            Ok(())
        }
        _ => Err(USAGE.to_owned()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn parse_regen(args: &[String]) -> Result<regen::Options, String> {
    let mut opts = regen::Options::default();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--manifest" => {
                let v = it.next().ok_or("--manifest needs a URL or a path")?;
                opts.manifest = Some(v.clone());
            }
            "--offline" => opts.offline = true,
            "--check" => opts.check = true,
            other => return Err(format!("regen: unknown argument `{other}`\n\n{USAGE}")),
        }
    }
    if opts.offline && opts.manifest.is_some() {
        return Err("regen: --offline and --manifest exclude each other".to_owned());
    }
    Ok(opts)
}

/// The workspace root: the parent of this crate's folder.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}

/// The cargo that runs us, so nested builds use the same toolchain.
fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(root());
    cmd
}

fn run(mut cmd: Command) -> Result<(), String> {
    let shown = format!("{cmd:?}");
    println!("$ {shown}");
    let status = cmd
        .status()
        .map_err(|e| format!("cannot start {shown}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{shown} failed: {status}"))
    }
}

fn demo() -> Result<(), String> {
    let venv = emulator::ensure_venv(&root())?;
    let moto = emulator::Moto::start(&venv)?;
    println!("moto is listening on {}", moto.endpoint());
    let mut cmd = cargo();
    cmd.args([
        "run",
        "--package",
        "bsm-aws",
        "--example",
        "tour",
        "--features",
        "s3,sqs,iam",
    ]);
    for (k, v) in emulator::demo_env(&moto.endpoint()) {
        cmd.env(k, v);
    }
    cmd.env("PATH", emulator::path_with(&venv));
    run(cmd)
}

fn test() -> Result<(), String> {
    let start = Instant::now();
    let venv = step("emulator", || emulator::ensure_venv(&root()))?;
    step("fmt", || {
        let mut fmt = cargo();
        fmt.args(["fmt", "--all", "--", "--check"]);
        run(fmt)
    })?;
    step("clippy", || {
        let mut clippy = cargo();
        clippy.args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]);
        run(clippy)
    })?;
    step(DOCS_RS, publish::docs_rs)?;
    step(PACKAGE, publish::package)?;
    step("doc tests", || {
        let mut doc = cargo();
        doc.args(["test", "--workspace", "--doc"]);
        isolate_from_aws(&mut doc);
        run(doc)
    })?;
    step("tests", || {
        let mut tests = cargo();
        tests.args(["test", "--workspace", "--all-targets"]);
        tests.env("BSM_VENV", &venv);
        isolate_from_aws(&mut tests);
        run(tests)
    })?;
    println!("cargo xtask test: all steps passed in {}", seconds(start));
    Ok(())
}

/// Runs one step of `cargo xtask test` and prints its wall time, so a slow
/// step shows itself.
fn step<T>(name: &str, f: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    println!("==> {name}");
    let start = Instant::now();
    let result = f();
    let outcome = if result.is_ok() { "done" } else { "FAILED" };
    println!("==> {name}: {outcome} in {}", seconds(start));
    result
}

fn seconds(start: Instant) -> String {
    format!("{:.1} s", start.elapsed().as_secs_f64())
}

/// The tests talk to the emulator only: no keys, profile, region or endpoint
/// from the developer's environment, no shared config files, no instance
/// metadata.
fn isolate_from_aws(cmd: &mut Command) {
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("AWS_") {
            cmd.env_remove(name);
        }
    }
    cmd.env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_EC2_METADATA_DISABLED", "true");
}
