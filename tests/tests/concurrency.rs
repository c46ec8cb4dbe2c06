//! 8 threads x 10,000 mixed operations on one shared manager: no panic, no
//! deadlock, and, counted from bsm's own tracing events, never two clients
//! of one service built in the same cache generation.

use std::collections::HashMap;
use std::sync::mpsc;
use std::time::Duration;

use bsm_tests::{capture, manager, moto};

const THREADS: usize = 8;
const OPS: usize = 10_000;

/// One thread's share: returns how many identity calls it made.
fn worker(bsm: &bsm::SessionManager, handle: &tokio::runtime::Handle, t: usize) -> usize {
    let expected = Some("us-east-1");
    let mut identities = 0;
    for i in 0..OPS {
        match (i * 7 + t) % 100 {
            0 => bsm.clear_cache(),
            1 | 2 => {
                assert_eq!(
                    handle.block_on(bsm.aws_account_id()).unwrap(),
                    "123456789012"
                );
                identities += 1;
            }
            3 => drop(bsm.client_with::<bsm::aws_sdk_sqs::Client>(|b| b)),
            4..=9 => assert!(!bsm.is_expired(Duration::from_secs(60))),
            n => {
                let region = match n % 5 {
                    0 => bsm.s3_client().config().region().cloned(),
                    1 => bsm.sqs_client().config().region().cloned(),
                    2 => bsm.dynamodb_client().config().region().cloned(),
                    3 => bsm.lambda_client().config().region().cloned(),
                    _ => bsm.ec2_client().config().region().cloned(),
                };
                assert_eq!(
                    region.as_ref().map(AsRef::as_ref),
                    expected,
                    "never a client of another configuration"
                );
            }
        }
    }
    identities
}

#[test]
fn eight_threads_of_mixed_operations() {
    let captured = capture::install();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let bsm = rt.block_on(manager(&moto().endpoint()));
    let (done_tx, done_rx) = mpsc::channel();
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let (bsm, done, handle) = (bsm.clone(), done_tx.clone(), rt.handle().clone());
            std::thread::spawn(move || done.send(worker(&bsm, &handle, t)).unwrap())
        })
        .collect();
    drop(done_tx);
    let mut identities = 0;
    for _ in 0..THREADS {
        identities += done_rx
            .recv_timeout(Duration::from_secs(600))
            .expect("no deadlock: every thread finishes");
    }
    for h in handles {
        h.join().expect("no panic");
    }
    let generations = bsm.cache_stats().generation;
    drop(bsm);
    drop(rt);

    let events = captured.events();
    let mut built: HashMap<(u64, String), usize> = HashMap::new();
    let mut per_generation: HashMap<u64, usize> = HashMap::new();
    for e in events
        .iter()
        .filter(|e| e.field("message") == Some("building client"))
    {
        let g: u64 = e.field("generation").unwrap().parse().unwrap();
        *built
            .entry((g, e.field("service").unwrap().to_owned()))
            .or_default() += 1;
        *per_generation.entry(g).or_default() += 1;
    }
    let dropped: Vec<_> = events
        .iter()
        .filter(|e| e.field("message") == Some("cache generation dropped"))
        .collect();
    println!(
        "{THREADS} threads x {OPS} ops: {} cache generations, {} clients built, {identities} identity calls",
        generations + 1,
        per_generation.values().sum::<usize>()
    );
    assert!(
        built.values().all(|&n| n == 1),
        "a service built twice in one generation: {built:?}"
    );
    assert_eq!(
        dropped.len() as u64,
        generations + 1,
        "every generation was dropped once"
    );
    for d in dropped {
        let g: u64 = d.field("generation").unwrap().parse().unwrap();
        let n: usize = d.field("clients_built").unwrap().parse().unwrap();
        assert_eq!(
            n,
            per_generation.get(&g).copied().unwrap_or(0),
            "generation {g}"
        );
        assert!(
            n <= 6,
            "at most s3, sqs, dynamodb, lambda, ec2 and sts in generation {g}"
        );
    }
}
