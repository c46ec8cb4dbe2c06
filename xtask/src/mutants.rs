//! `cargo xtask mutants`: mutation testing (cargo-mutants) of the files
//! where a silent defect costs users most, each against the tests that
//! exercise it. Long on 2 cores (a mutant rebuilds bsm-core and relinks
//! the test binaries): run it in the background, not in CI. It mutates the
//! working tree in place (each mutant is reverted before the next), so do
//! not edit the tree while it runs. Results go to `target/mutants/<file>/`.

use crate::{cargo, root, run};

/// Each file, and the test targets that exercise it (the unit tests of
/// bsm-core always run too). The slow suites (`slow_sts`, `differential`)
/// are left out: a minute per mutant is what keeps the run to hours.
const TARGETS: &[(&str, &[&str])] = &[
    ("cli_env", &["handoff", "env_guard"]),
    ("identity", &["session", "alias", "regions", "sources"]),
    (
        "credentials",
        &["sources", "expiry", "builder", "bad_input"],
    ),
    ("snapshot", &["handoff", "bad_input", "secrets"]),
    ("secret_file", &["handoff", "bad_input"]),
    (
        "assume_role",
        &["assume_role", "expiry", "faults", "secrets", "bad_input"],
    ),
    ("client_cache", &["session", "concurrency"]),
];

/// Runs cargo-mutants on each file (or only those named in `only`).
pub fn run_all(args: &[String]) -> Result<(), String> {
    // `--iterate`: test only what the last run of that file did not catch
    // (missed, timed out) and mutants of code changed since.
    let iterate = args.iter().any(|a| a == "--iterate");
    let only: Vec<&String> = args.iter().filter(|a| *a != "--iterate").collect();
    let venv = crate::emulator::ensure_venv(&root())?;
    for (file, tests) in TARGETS {
        if !only.is_empty() && !only.iter().any(|o| o.as_str() == *file) {
            continue;
        }
        let out = root().join("target/mutants").join(file);
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
        .arg(format!("crates/bsm-core/src/{file}.rs"))
        // Only bsm-core's unit tests and the named test targets are built
        // and run (`--cargo-arg` reaches both the build and the test
        // phase): relinking every test binary of the workspace per mutant
        // is what made a mutant cost most of a minute.
        .args(["--test-package", "bsm-core", "--test-package", "bsm-tests"])
        .arg("--cargo-arg=--lib")
        .arg("--output")
        .arg(&out);
        for t in *tests {
            cmd.arg(format!("--cargo-arg=--test={t}"));
        }
        if iterate {
            cmd.arg("--iterate");
        }
        cmd.env("BSM_VENV", &venv);
        crate::isolate_from_aws(&mut cmd);
        // cargo-mutants exits non-zero when mutants survive: that is the
        // report, not a failure of this command.
        if let Err(e) = run(cmd) {
            println!("{file}: {e} (see target/mutants/{file}/mutants.out)");
        }
    }
    Ok(())
}
