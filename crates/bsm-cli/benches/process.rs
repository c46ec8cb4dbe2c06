//! The `bsm` command as a whole process, each case beside `bsm --version`
//! (the cost of starting this binary at all) in the same run:
//! `cargo bench -p bsm-cli --bench process`. What the AWS CLI pays each
//! time it runs bsm as its `credential_process`: a cache hit of `export
//! --format process` (goal: at most 1.5x `bsm --version`), beside a miss
//! (`--no-cache`: a new `AssumeRole` at a local moto) and the AWS CLI v1's
//! own start-up (`aws --version`). After criterion's report it prints the
//! medians of interleaved rounds and their ratios to `bsm --version`.
//!
//! Under `cargo test` (no `--bench`), each case runs once, as a check that
//! it works.

use std::process::Command;
use std::time::{Duration, Instant};

use criterion::Criterion;

const ROLE: &str = "arn:aws:iam::123456789012:role/bsm-bench";

/// `bsm` with test keys, moto as endpoint and a cache folder of its own.
fn bsm(cache: &std::path::Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bsm"));
    bsm_tests::isolate(&mut cmd);
    cmd.env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("XDG_CACHE_HOME", cache)
        .args(args);
    cmd
}

fn run(cmd: &mut Command) {
    let out = cmd.output().expect("the command runs");
    assert!(
        out.status.success(),
        "{}: {}",
        cmd.get_program().display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The median of `rounds` timings of each case, taken in turn (one of each
/// per round), so that a change in the machine's load hits every case
/// alike.
fn interleaved(cases: &mut [(&str, Command)], rounds: usize) -> Vec<Duration> {
    let mut times = vec![Vec::with_capacity(rounds); cases.len()];
    for _ in 0..rounds {
        for (i, (_, cmd)) in cases.iter_mut().enumerate() {
            let start = Instant::now();
            run(cmd);
            times[i].push(start.elapsed());
        }
    }
    times
        .into_iter()
        .map(|mut t| {
            t.sort();
            t[t.len() / 2]
        })
        .collect()
}

fn main() {
    let benching = std::env::args().any(|a| a == "--bench");
    let cache = bsm_tests::temp_dir("bsm-bench-cache");
    let endpoint = bsm_tests::moto().endpoint();
    let role = [
        "--endpoint-url",
        &endpoint,
        "--role-arn",
        ROLE,
        "--session-name",
        "bench",
    ];
    let export = ["export", "--format", "process"];
    let hit: Vec<&str> = role.iter().chain(&export).copied().collect();
    let miss: Vec<&str> = role
        .iter()
        .copied()
        .chain(["--no-cache"])
        .chain(export)
        .collect();
    // The session the hits read.
    run(&mut bsm(&cache, &hit));
    let mut cases = vec![
        ("bsm --version", bsm(&cache, &["--version"])),
        ("export --format process, cache hit", bsm(&cache, &hit)),
        ("export --format process, cache miss", bsm(&cache, &miss)),
        ("aws --version (AWS CLI v1)", {
            let mut aws = bsm_tests::isolated("aws");
            aws.arg("--version");
            aws
        }),
    ];
    if !benching {
        for (_, cmd) in &mut cases {
            run(cmd);
        }
        return;
    }
    let mut c = Criterion::default()
        .configure_from_args()
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    for (name, cmd) in &mut cases {
        c.bench_function(name, |b| b.iter(|| run(cmd)));
    }
    c.final_summary();
    let medians = interleaved(&mut cases, 40);
    let base = medians[0].as_secs_f64();
    println!("\nmedians of 40 interleaved rounds, against `bsm --version`:");
    for ((name, _), m) in cases.iter().zip(&medians) {
        println!(
            "{name}: {:.2} ms ({:.2}x)",
            m.as_secs_f64() * 1e3,
            m.as_secs_f64() / base
        );
    }
    let ratio = medians[1].as_secs_f64() / base;
    println!(
        "cache hit / bsm --version: {ratio:.2}x (goal: at most 1.5x: {})",
        if ratio <= 1.5 { "met" } else { "NOT met" }
    );
    let _ = std::fs::remove_dir_all(cache);
}
