//! A program that finds its credentials as any Rust service does
//! (`aws_config::load_defaults`) and prints its principal ARN (STS
//! `GetCallerIdentity`): the Rust child of the handoff tests. With
//! `--profile NAME` it reads that profile only, the way a Rust program pins
//! one (`ProfileFileCredentialsProvider`: unlike
//! `ConfigLoader::profile_name`, keys in the environment do not win over
//! it).

use bsm::aws_config::BehaviorVersion;
use bsm::aws_config::profile::ProfileFileCredentialsProvider;

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut loader = bsm::aws_config::defaults(BehaviorVersion::latest());
    match args.as_slice() {
        [] => {}
        [flag, name] if flag == "--profile" => {
            loader = loader.profile_name(name).credentials_provider(
                ProfileFileCredentialsProvider::builder()
                    .profile_name(name)
                    .build(),
            );
        }
        _ => {
            eprintln!("usage: sdk_probe [--profile NAME]");
            return std::process::ExitCode::from(2);
        }
    }
    let config = loader.load().await;
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
