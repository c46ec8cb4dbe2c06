//! The Rust side of `cargo xtask bench-python`: one measurement per run,
//! printed as a single number, against the emulator named by
//! `AWS_ENDPOINT_URL` (keys and region from the environment).
//!
//! - `accessor`: nanoseconds per cached `s3_client()` call (median of 11
//!   batches);
//! - `first-client`: nanoseconds to the first `s3_client()` of a new manager;
//! - `account-id`: prints the account id (the caller times the process);
//! - `race N`: N concurrent first callers of `s3_client()` and
//!   `aws_account_id()` on a new manager; prints how many distinct S3
//!   clients they got.

use std::collections::HashSet;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use bsm::SessionManager;

async fn manager() -> SessionManager {
    SessionManager::builder()
        .configure::<bsm::aws_sdk_s3::Client>(|b| b.force_path_style(true))
        .build()
        .await
        .expect("keys and region in the environment")
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("accessor") => {
            let bsm = manager().await;
            let _ = bsm.s3_client();
            let n = 1_000_000u32;
            let mut samples = Vec::new();
            for _ in 0..11 {
                let start = Instant::now();
                for _ in 0..n {
                    black_box(bsm.s3_client());
                }
                samples.push(start.elapsed().as_secs_f64() * 1e9 / f64::from(n));
            }
            samples.sort_by(f64::total_cmp);
            println!("{:.2}", samples[samples.len() / 2]);
        }
        Some("first-client") => {
            let mut samples = Vec::new();
            for _ in 0..50 {
                let bsm = manager().await;
                let start = Instant::now();
                black_box(bsm.s3_client());
                samples.push(start.elapsed().as_secs_f64() * 1e9);
            }
            samples.sort_by(f64::total_cmp);
            println!("{:.0}", samples[samples.len() / 2]);
        }
        Some("account-id") => {
            let bsm = SessionManager::from_env().await.expect("credentials");
            println!("{}", bsm.aws_account_id().await.expect("GetCallerIdentity"));
        }
        Some("race") => {
            let n: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(50);
            let bsm = manager().await;
            let barrier = Arc::new(tokio::sync::Barrier::new(n));
            let tasks: Vec<_> = (0..n)
                .map(|_| {
                    let (bsm, barrier) = (bsm.clone(), Arc::clone(&barrier));
                    tokio::spawn(async move {
                        barrier.wait().await;
                        let s3 = bsm.s3_client();
                        bsm.aws_account_id().await.expect("GetCallerIdentity");
                        s3
                    })
                })
                .collect();
            // Every client is kept alive, so equal addresses mean the same client.
            let mut clients = Vec::with_capacity(n);
            for t in tasks {
                clients.push(t.await.expect("task"));
            }
            let distinct: HashSet<*const _> = clients
                .iter()
                .map(|c| std::ptr::from_ref(c.config()))
                .collect();
            println!("{}", distinct.len());
        }
        _ => {
            eprintln!("usage: bench_probe accessor|first-client|account-id|race N");
            std::process::exit(2);
        }
    }
}
