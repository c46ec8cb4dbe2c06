//! The library against moto, in one test binary (one link of the SDK
//! crates, one moto): the tests that change nothing process-wide. Beside
//! it: `process_env` (the tests that set environment variables, one at a
//! time), `traced` (the tests that read the global tracing subscriber's
//! events). The runner that starts it is checked here too.

mod bad_input;
mod builder;
mod expiry;
mod faults;
mod handoff;
mod regions;
mod session;

/// The workspace's runner (`tests/isolate-aws-env.sh`) gives this binary a
/// lived-in home and a temporary folder of its own, both under the folder
/// the shell had and both removed when the binary exits; none of the
/// shell's `AWS_*` variables reach it.
#[test]
fn the_runner_gives_this_binary_its_own_home_and_temporary_folder() {
    let tmp = std::env::temp_dir();
    let home = std::path::PathBuf::from(std::env::var_os("HOME").unwrap());
    let name = |p: &std::path::Path| p.file_name().unwrap().to_string_lossy().into_owned();
    assert!(name(&tmp).starts_with("bsm-tmp."), "{}", tmp.display());
    assert!(name(&home).starts_with("bsm-home."), "{}", home.display());
    assert_eq!(tmp.parent(), home.parent(), "both beside each other");
    assert!(home.join(".aws/config").is_file(), "the lived-in home");
    assert_eq!(
        std::env::var("AWS_EC2_METADATA_DISABLED").as_deref(),
        Ok("true")
    );
}
