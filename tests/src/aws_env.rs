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
    aws_names(std::env::vars_os().map(|(name, _)| name))
}

/// The `AWS_*` names among `names`.
fn aws_names(names: impl IntoIterator<Item = OsString>) -> Vec<OsString> {
    names
        .into_iter()
        .filter(|name| name.to_string_lossy().starts_with("AWS_"))
        .collect()
}

/// Gives `cmd` none of this process's `AWS_*` variables, and turns instance
/// metadata off (nothing is ever sent to 169.254.169.254).
pub fn without_aws(cmd: &mut Command) -> &mut Command {
    without(cmd, aws_var_names())
}

fn without(cmd: &mut Command, names: Vec<OsString>) -> &mut Command {
    for name in names {
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

#[cfg(test)]
mod tests {
    use std::ffi::{OsStr, OsString};
    use std::process::Command;

    use super::{aws_names, without};

    #[test]
    fn every_aws_variable_is_removed_and_metadata_turned_off() {
        let names = aws_names(
            [
                "AWS_ENDPOINT_URL_S3",
                "PATH",
                "AWS_PROFILE",
                "MY_AWS_KEY",
                "HOME",
            ]
            .map(OsString::from),
        );
        assert_eq!(names, ["AWS_ENDPOINT_URL_S3", "AWS_PROFILE"]);
        let mut cmd = Command::new("true");
        without(&mut cmd, names);
        let env: Vec<(&OsStr, Option<&OsStr>)> = cmd.get_envs().collect();
        assert_eq!(
            env,
            [
                (
                    OsStr::new("AWS_EC2_METADATA_DISABLED"),
                    Some(OsStr::new("true"))
                ),
                (OsStr::new("AWS_ENDPOINT_URL_S3"), None),
                (OsStr::new("AWS_PROFILE"), None),
            ]
        );
    }
}
