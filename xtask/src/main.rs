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
mod layers;
mod mutants;
mod publish;
mod regen;

// The proc macro's own reading of services.toml, compiled a second time here
// so that regen rejects exactly what `bsm_macros::services!()` rejects.
// validate.rs refers to its sibling as `crate::model`, so both sit at the
// crate root, as they do in bsm-macros.
#[path = "../../crates/bsm-macros/src/model.rs"]
mod model;
// The tests' moto launcher, so that the demo and the benchmarks start moto
// exactly as the tests do.
#[path = "../../tests/src/moto_server.rs"]
mod moto_server;
// The tests' rule for what of the environment a run keeps.
#[path = "../../tests/src/aws_env.rs"]
mod aws_env;
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
  test  same set-up and the AWS SDK for JavaScript v3 (npm ci into
        target/js), both while the first build runs, then the layer rules
        of bsm-core, cargo fmt --check, the test build with clippy -D
        warnings as its compiler wrapper, the docs as docs.rs builds them
        (into target/docsrs), cargo package with verification, the doc
        tests and every test; prints each step's time and the size of
        target/; with CI set, no incremental caches and the docs.rs build
        removed once checked
  layers [SRC]
        that step alone (or for the sources in SRC): no module of bsm-core uses one that uses it back,
        no file of it is over 600 lines outside its tests (ARCHITECTURE.md);
        prints the module graph
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
        cargo-mutants`) of assume_role, identity, snapshot, secret_file,
        cli_env, credentials, client_cache and server in bsm-core and of
        cache, exec, job and export in bsm-cli, each against its tests (FILE:
        a file stem, e.g. `server`); in place, hours on 2 cores; results in
        target/mutants/<crate>-<file>/; --iterate tests only what the last
        run did not catch
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
        Some("layers") => match &args[1..] {
            [] => step("layers", layers_step),
            [src] => layers::check(Path::new(src)).map(|g| println!("{g}")),
            _ => Err(USAGE.to_owned()),
        },
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

/// The cargo that runs us, so nested builds use the same toolchain; on CI
/// without incremental compilation (its caches are a sixth of a clean run's
/// disk, and a clean run does not reuse them).
fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(root());
    if on_ci() {
        cmd.env("CARGO_INCREMENTAL", "0");
    }
    cmd
}

/// Whether this is a CI run: `CI` set to anything but empty, `0` or `false`,
/// as CI services and `.ci/run` set it. A CI run starts from a clean clone and
/// ends with the machine, so `cargo xtask test` removes what no later step
/// reads as soon as its step is done: the disk of a CI machine is not always
/// large (one ran out in the doc tests).
fn on_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "0" && v != "false")
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
    let venv = emulator::ensure_venv(&root(), None)?;
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
    emulator::demo_env(&mut cmd, &moto.endpoint());
    cmd.env("PATH", emulator::path_with(&venv));
    run(cmd)
}

fn test() -> Result<(), String> {
    let start = Instant::now();
    // The emulator and the JavaScript SDK are fetched from the registries
    // while the first build runs: the two wait on the network, the build on
    // the cores. Their output goes to a log shown when they fail.
    let installs = std::thread::spawn(|| -> Result<PathBuf, String> {
        let log = target_dir().join("xtask-installs.log");
        std::fs::create_dir_all(target_dir())
            .map_err(|e| format!("cannot create {}: {e}", target_dir().display()))?;
        let venv = emulator::ensure_venv(&root(), Some(&log))?;
        emulator::ensure_js(&root(), &target_dir(), Some(&log))?;
        Ok(venv)
    });
    step("layers", layers_step)?;
    step("fmt", || {
        let mut fmt = cargo();
        fmt.args(["fmt", "--all", "--", "--check"]);
        run(fmt)
    })?;
    step(CLIPPY_BUILD, || {
        let mut build = cargo();
        build.args(["test", "--workspace", "--all-targets", "--no-run"]);
        with_clippy(&mut build);
        run(build)
    })?;
    step(DOCS_RS, || {
        publish::docs_rs()?;
        if on_ci() {
            let docs = root().join(publish::DOCS_TARGET);
            std::fs::remove_dir_all(&docs)
                .map_err(|e| format!("cannot remove {}: {e}", docs.display()))?;
        }
        Ok(())
    })?;
    step(PACKAGE, publish::package)?;
    let venv = step("emulator and JavaScript SDK", || {
        installs
            .join()
            .map_err(|_| "the installs' thread panicked".to_owned())?
    })?;
    // The tests talk to the emulator only: no keys, profile, region or
    // endpoint from the developer's environment, no instance metadata (the
    // tests' rule, `tests/src/aws_env.rs`). The doc tests read no shared
    // config files either; the test binaries run in a lived-in home of their
    // own, which the workspace's runner makes for each
    // (`tests/isolate-aws-env.sh`).
    step("doc tests", || {
        let mut doc = cargo();
        doc.args(["test", "--workspace", "--doc"]);
        with_clippy(&mut doc);
        aws_env::without_aws_files(&mut doc);
        run(doc)
    })?;
    step("tests", || {
        let mut tests = cargo();
        tests.args(["test", "--workspace", "--all-targets"]);
        with_clippy(&mut tests);
        tests.env("BSM_VENV", &venv);
        aws_env::without_aws_files(&mut tests);
        run(tests)
    })?;
    println!("cargo xtask test: all steps passed in {}", seconds(start));
    Ok(())
}

const CLIPPY_BUILD: &str = "clippy -D warnings, in the test build";

/// Makes `cmd` (a `cargo test` of the workspace) compile the workspace's
/// crates with clippy's driver and `-D warnings`, the way `cargo clippy`
/// runs it (`RUSTC_WORKSPACE_WRAPPER` and `CLIPPY_ARGS`, set here for
/// `cargo test` instead of `cargo check`). The lints are clippy's, on every
/// target, and the SDK crates are compiled once, for the tests, instead of a
/// second time for a check build (on 2 cores that check cost about 3
/// minutes of a clean run). Every `cargo test` of the suite sets the same,
/// so none of them compiles the workspace again.
fn with_clippy(cmd: &mut Command) {
    cmd.env("RUSTC_WORKSPACE_WRAPPER", clippy_driver()).env(
        "CLIPPY_ARGS",
        "-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__",
    );
}

/// clippy's driver beside the cargo that runs us (rustup puts both in the
/// toolchain's `bin`), else the one on `PATH`.
fn clippy_driver() -> PathBuf {
    std::env::var_os("CARGO")
        .map(PathBuf::from)
        .and_then(|cargo| {
            let driver = cargo.with_file_name("clippy-driver");
            driver.exists().then_some(driver)
        })
        .unwrap_or_else(|| PathBuf::from("clippy-driver"))
}

/// The layer rules of bsm-core (see `layers.rs` and ARCHITECTURE.md): prints
/// the module graph, or fails naming the circle or the long file.
fn layers_step() -> Result<(), String> {
    let graph = layers::check(&root().join("crates/bsm-core/src"))?;
    println!("{graph}");
    Ok(())
}

/// Runs one step of `cargo xtask test` and prints its wall time, so a slow
/// step shows itself.
fn step<T>(name: &str, f: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    println!("==> {name}");
    let start = Instant::now();
    let result = f();
    let outcome = if result.is_ok() { "done" } else { "FAILED" };
    println!("==> {name}: {outcome} in {}; {}", seconds(start), disk());
    result
}

/// What the build folder holds and what its disk has left, printed after
/// each step: a CI machine that runs out of space then shows which step
/// took it.
fn disk() -> String {
    let target = target_dir();
    let held = bytes_under(&target);
    let free = Command::new("df")
        .args(["-Pk"])
        .arg(if target.exists() {
            &target
        } else {
            Path::new(".")
        })
        .output()
        .ok()
        .and_then(|out| {
            // `df -P`: a header line, then `fs blocks used available ...`.
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            let kib: u64 = text
                .lines()
                .nth(1)?
                .split_whitespace()
                .nth(3)?
                .parse()
                .ok()?;
            Some(kib * 1024)
        });
    let gib = |b: u64| {
        let tenths = b.saturating_mul(10) >> 30;
        format!("{}.{} GiB", tenths / 10, tenths % 10)
    };
    match free {
        Some(free) => format!(
            "{} holds {}, {} free",
            target.display(),
            gib(held),
            gib(free)
        ),
        None => format!("{} holds {}", target.display(), gib(held)),
    }
}

/// The build folder: `target/` unless `CARGO_TARGET_DIR` says otherwise.
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), PathBuf::from)
}

/// The bytes of the files under `dir`, each file once however many hard
/// links it has (cargo links each binary from `deps/` to the profile folder).
fn bytes_under(dir: &Path) -> u64 {
    #[cfg(unix)]
    let id = |meta: &std::fs::Metadata| {
        use std::os::unix::fs::MetadataExt;
        Some((meta.dev(), meta.ino()))
    };
    #[cfg(not(unix))]
    let id = |_: &std::fs::Metadata| None::<(u64, u64)>;
    let mut seen = std::collections::HashSet::new();
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let Ok(meta) = entry.path().symlink_metadata() else {
                continue;
            };
            if meta.is_dir() {
                stack.push(entry.path());
            } else if id(&meta).is_none_or(|key| seen.insert(key)) {
                total += meta.len();
            }
        }
    }
    total
}

fn seconds(start: Instant) -> String {
    format!("{:.1} s", start.elapsed().as_secs_f64())
}

/// The names in `dir`, sorted (for the tests).
#[cfg(test)]
fn sorted_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

#[cfg(test)]
mod tests {
    use super::bytes_under;

    /// bsm-core reads and writes its JSON with `aws-smithy-json`, a 0.x crate
    /// that it names by minor version. When aws-config moves to the next minor,
    /// a user would compile two of them: this fails then, naming both (a unit
    /// test, so part of `cargo xtask test`).
    fn same_smithy_json() -> Result<(), String> {
        let direct = |package: &str| -> Result<String, String> {
            let mut tree = super::cargo();
            tree.args(["tree", "--package", package, "--edges", "normal"])
                .args(["--depth", "1", "--prefix", "none"]);
            let out = crate::bench::output(&mut tree)?;
            direct_version(&out, "aws-smithy-json")
                .ok_or_else(|| format!("{package} does not depend on aws-smithy-json"))
        };
        let (ours, theirs) = (direct("bsm-core")?, direct("aws-config")?);
        println!("aws-smithy-json: bsm-core {ours}, aws-config {theirs}");
        if ours == theirs {
            Ok(())
        } else {
            Err(format!(
                "bsm-core builds aws-smithy-json {ours} and aws-config {theirs}: a user would compile \
                 both; set `aws-smithy-json` in the root Cargo.toml's \
                 [workspace.dependencies] to aws-config's minor version"
            ))
        }
    }

    /// The version of `dependency` in `cargo tree --depth 1 --prefix none`
    /// output: lines such as `aws-smithy-json v0.65.1` or `tokio v1.0.0 (*)`.
    fn direct_version(tree: &str, dependency: &str) -> Option<String> {
        tree.lines().skip(1).find_map(|line| {
            let mut words = line.split_whitespace();
            (words.next()? == dependency).then(|| words.next().map(ToOwned::to_owned))?
        })
    }

    #[test]
    fn bsm_core_builds_the_aws_smithy_json_of_aws_config() {
        same_smithy_json().unwrap();
    }

    #[test]
    fn a_direct_dependency_version_is_read_from_cargo_tree() {
        let tree = "bsm-core v0.1.0 (/work/crates/bsm-core)\n\
                    aws-config v1.13.0\n\
                    aws-smithy-json v0.65.1\n\
                    aws-smithy-json-extra v9.9.9 (*)\n";
        assert_eq!(
            direct_version(tree, "aws-smithy-json").as_deref(),
            Some("v0.65.1")
        );
        assert_eq!(
            direct_version(tree, "aws-config").as_deref(),
            Some("v1.13.0")
        );
        assert_eq!(
            direct_version(tree, "bsm-core"),
            None,
            "the root is not its own dependency"
        );
        assert_eq!(direct_version(tree, "serde"), None);
    }

    #[test]
    fn hard_links_count_once() {
        let dir = std::env::temp_dir().join(format!("bsm-xtask-deps-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for (name, bytes) in [("libbuilt-1111.rlib", 100), ("libmacro-3333.so", 7)] {
            std::fs::write(dir.join(name), vec![0u8; bytes]).unwrap();
        }
        std::fs::hard_link(dir.join("libmacro-3333.so"), dir.join("linked.so")).unwrap();
        assert_eq!(bytes_under(&dir), 100 + 7);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
