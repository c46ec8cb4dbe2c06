//! The one moto launcher (`tests/src/moto_server.rs`, which `cargo xtask
//! demo` uses too) starts moto without the caller's AWS environment: moto
//! runs botocore inside, and a profile of the caller's shell that moto's
//! files lack made every SQS call answer 500.

use bsm_tests::moto_server::MotoServer;
use bsm_tests::venv_bin;

#[test]
fn moto_starts_without_the_callers_aws_environment() {
    let _turn = crate::exclusive();
    // SAFETY: this test holds the binary's turn (`crate::exclusive`), so no
    // other thread reads the environment; restored when the turn ends.
    unsafe {
        std::env::set_var("AWS_PROFILE", "bsm-no-such-profile");
        std::env::set_var("AWS_ENDPOINT_URL_SQS", "http://127.0.0.1:9");
    }
    let mut moto = MotoServer::start(&venv_bin("python"), "", &[]).unwrap();
    let out = std::process::Command::new(venv_bin("aws"))
        .args(["sqs", "create-queue", "--queue-name", "bsm-launch"])
        .args(["--endpoint-url", &moto.endpoint(), "--region", "us-east-1"])
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ENDPOINT_URL_SQS")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .output()
        .unwrap();
    moto.stop();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("/123456789012/bsm-launch"));
}
