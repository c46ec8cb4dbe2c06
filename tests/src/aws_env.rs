//! What a run that must talk to the emulator only keeps of the environment
//! it was started from: none of its `AWS_*` variables (keys, profile,
//! region, endpoints, container and web-identity settings), and no instance
//! metadata. The one rule of the tests (`bsm_tests::isolate`, the
//! `process_env` tests) and of `cargo xtask` (the doc tests, the test step,
//! the demo, the benchmarks), which includes this file by path; std only.
//! The workspace's test runner, `tests/isolate-aws-env.sh`, applies the same
//! rule to each test binary (a runner must be a program of its own).

use std::ffi::OsString;
use std::process::Command;

/// The names of this process's `AWS_*` variables.
#[must_use]
pub fn aws_var_names() -> Vec<OsString> {
    std::env::vars_os()
        .map(|(name, _)| name)
        .filter(|name| name.to_string_lossy().starts_with("AWS_"))
        .collect()
}

/// Gives `cmd` none of this process's `AWS_*` variables, and turns instance
/// metadata off (nothing is ever sent to 169.254.169.254).
pub fn without_aws(cmd: &mut Command) -> &mut Command {
    for name in aws_var_names() {
        cmd.env_remove(name);
    }
    cmd.env("AWS_EC2_METADATA_DISABLED", "true")
}

/// [`without_aws`], and no shared config or credentials file either (for a
/// run that names its credentials in the environment).
pub fn without_aws_files(cmd: &mut Command) -> &mut Command {
    without_aws(cmd)
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
}
