//! `cargo xtask mutants`: mutation testing (cargo-mutants) of the files
//! where a silent defect costs users most, each against the tests that
//! exercise it. Long on 2 cores (a mutant rebuilds bsm-core and relinks
//! the test binaries): run it in the background, not in CI. It mutates the
//! working tree in place (each mutant is reverted before the next), so do
//! not edit the tree while it runs. Results go to `target/mutants/<file>/`.

use crate::{cargo, root, run};

/// Each file (by its path under `crates/`), the packages whose tests
/// exercise it, and those test targets (the unit tests of those packages
/// always run too). The slow suites (the modules `slow_sts` of `traced`
/// and `differential` of `process_env`) are skipped; `command` holds the
/// handoff matrix, so a mutant of the CLI takes longer.
const TARGETS: &[(&str, &[&str], &[&str])] = &[
    ("bsm-core/src/cli_env.rs", CORE, &["library", "process_env"]),
    (
        "bsm-core/src/child_env.rs",
        CORE,
        &["library", "process_env"],
    ),
    (
        "bsm-core/src/whoami.rs",
        CORE_AND_CLI,
        &["library", "enforced_auth", "process_env"],
    ),
    (
        "bsm-core/src/credentials.rs",
        CORE,
        &["library", "process_env"],
    ),
    ("bsm-core/src/snapshot.rs", CORE, &["library", "traced"]),
    ("bsm-core/src/secret_file.rs", CORE, &["library"]),
    ("bsm-core/src/assume_role.rs", CORE, &["traced", "library"]),
    (
        "bsm-core/src/role_provider.rs",
        CORE,
        &["traced", "library"],
    ),
    ("bsm-core/src/client_cache.rs", CORE, &["library", "traced"]),
    (
        "bsm-core/src/server.rs",
        CORE_AND_CLI,
        &["traced", "exec_server"],
    ),
    ("bsm-cli/src/cache.rs", CLI, &["command"]),
    ("bsm-cli/src/keys.rs", CLI, &["command", "enforced_auth"]),
    (
        "bsm-core/src/keychain_rotate.rs",
        CORE_AND_CLI,
        &["enforced_auth"],
    ),
    ("bsm-cli/src/exec.rs", CLI, &["exec_server", "command"]),
    ("bsm-cli/src/job.rs", CLI, &["exec_server"]),
    ("bsm-cli/src/export.rs", CLI, &["command"]),
];

const CORE: &[&str] = &["bsm-core", "bsm-tests"];
const CORE_AND_CLI: &[&str] = &["bsm-core", "bsm-tests", "bsm-cli"];
const CLI: &[&str] = &["bsm-cli"];

/// Runs cargo-mutants on each file (or only those named in `only`).
pub fn run_all(args: &[String]) -> Result<(), String> {
    // `--iterate`: test only what the last run of that file did not catch
    // (missed, timed out) and mutants of code changed since.
    let iterate = args.iter().any(|a| a == "--iterate");
    let only: Vec<&String> = args.iter().filter(|a| *a != "--iterate").collect();
    let venv = crate::emulator::ensure_venv(&root(), None)?;
    for (path, packages, tests) in TARGETS {
        let file = std::path::Path::new(path)
            .file_stem()
            .and_then(|f| f.to_str())
            .unwrap_or(path);
        let crate_dir = path.split('/').next().unwrap_or_default();
        let name = format!("{crate_dir}-{file}");
        if !only.is_empty()
            && !only
                .iter()
                .any(|o| o.as_str() == file || o.as_str() == name)
        {
            continue;
        }
        let out = root().join("target/mutants").join(&name);
        std::fs::create_dir_all(&out)
            .map_err(|e| format!("cannot create {}: {e}", out.display()))?;
        let mut cmd = cargo();
        // cargo-mutants runs its baseline on the mutated package alone,
        // where bsm-tests' targets do not exist: the baseline is skipped (the
        // same tests pass in `cargo xtask test`), with fixed timeouts.
        cmd.args([
            "mutants",
            "--in-place",
            "--no-shuffle",
            "--baseline",
            "skip",
            "--timeout",
            "300",
            "--build-timeout",
            "900",
        ])
        .arg("--file")
        .arg(format!("crates/{path}"));
        // Only these packages' unit tests and the named test targets are
        // built and run (`--cargo-arg` reaches both the build and the test
        // phase): relinking every test binary of the workspace per mutant
        // is what made a mutant cost most of a minute.
        for p in *packages {
            cmd.args(["--test-package", p]);
        }
        cmd.arg(if packages.contains(&"bsm-core") {
            "--cargo-arg=--lib"
        } else {
            "--cargo-arg=--bins"
        })
        .arg("--output")
        .arg(&out);
        for t in *tests {
            cmd.arg(format!("--cargo-arg=--test={t}"));
        }
        if iterate {
            cmd.arg("--iterate");
        }
        // After `--`: cargo test's arguments; after the second, the test
        // binaries' (libtest's `--skip` matches the module path).
        cmd.args([
            "--",
            "--",
            "--skip",
            "slow_sts::",
            "--skip",
            "differential::",
        ]);
        cmd.env("BSM_VENV", &venv);
        crate::aws_env::without_aws_files(&mut cmd);
        // cargo-mutants exits non-zero when mutants survive: that is the
        // report, not a failure of this command.
        if let Err(e) = run(cmd) {
            println!("{name}: {e} (see target/mutants/{name}/mutants.out)");
        }
    }
    Ok(())
}
