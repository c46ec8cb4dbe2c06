//! Prints the who-am-i summary of the manager the environment gives (the
//! default credential chain, `AWS_ENDPOINT_URL`, `--masked` to mask it):
//! the child process of the test of `print_who_am_i`, whose point is what
//! reaches stdout.

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    let masked = std::env::args().any(|a| a == "--masked");
    let printed = match bsm::SessionManager::builder().build().await {
        Ok(bsm) => bsm.print_who_am_i(masked).await,
        Err(e) => Err(e),
    };
    match printed {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            std::process::ExitCode::FAILURE
        }
    }
}
