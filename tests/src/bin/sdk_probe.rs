//! A program that finds its credentials as any Rust service does
//! (`aws_config::load_defaults`) and prints its principal ARN (STS
//! `GetCallerIdentity`): the Rust child of the credential-server tests.

use bsm::aws_config::BehaviorVersion;

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    let config = bsm::aws_config::load_defaults(BehaviorVersion::latest()).await;
    let sts = bsm::aws_sdk_sts::Client::new(&config);
    match sts.get_caller_identity().send().await {
        Ok(out) => {
            println!("{}", out.arn().unwrap_or_default());
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{}", bsm::aws_sdk_sts::error::DisplayErrorContext(&e));
            std::process::ExitCode::FAILURE
        }
    }
}
