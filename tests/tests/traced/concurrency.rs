//! 8 threads x 10,000 mixed operations on one shared manager: no panic, no
//! deadlock, one client handle per service per cache generation as seen by
//! every thread, and (from bsm's own tracing events) every generation
//! dropped once.

use std::collections::HashMap;
use std::sync::mpsc;
use std::time::Duration;

use bsm_tests::{capture, manager, moto};

const THREADS: usize = 8;
const OPS: usize = 10_000;
/// The start of the names of this test's threads.
const PREFIX: &str = "bsm-concurrency-";

/// What one thread saw: identity calls made, and for each client taken
/// within one cache generation (the generation the same before and after),
/// its generation, service and handle, kept alive so that no address is
/// reused.
#[derive(Default)]
struct Seen {
    identities: usize,
    clients: Vec<(u64, &'static str, usize)>,
    held: Vec<Box<dyn std::any::Any + Send>>,
}

/// One thread's share.
fn worker(bsm: &bsm::SessionManager, handle: &tokio::runtime::Handle, t: usize) -> Seen {
    let expected = Some("us-east-1");
    let mut seen = Seen::default();
    for i in 0..OPS {
        match (i * 7 + t) % 100 {
            0 => bsm.clear_cache(),
            1 | 2 => {
                assert_eq!(
                    handle.block_on(bsm.aws_account_id()).unwrap(),
                    "123456789012"
                );
                seen.identities += 1;
            }
            3 => drop(bsm.client_with::<bsm::aws_sdk_sqs::Client>(|b| b)),
            4..=9 => assert!(!bsm.is_expired(Duration::from_secs(60))),
            n => {
                let before = bsm.cache_stats().generation;
                let (service, region, config, held): (_, _, usize, Box<dyn std::any::Any + Send>) =
                    match n % 5 {
                        0 => {
                            let c = bsm.s3_client();
                            (
                                "s3",
                                c.config().region().cloned(),
                                std::ptr::from_ref(c.config()) as usize,
                                Box::new(c),
                            )
                        }
                        1 => {
                            let c = bsm.sqs_client();
                            (
                                "sqs",
                                c.config().region().cloned(),
                                std::ptr::from_ref(c.config()) as usize,
                                Box::new(c),
                            )
                        }
                        2 => {
                            let c = bsm.dynamodb_client();
                            (
                                "dynamodb",
                                c.config().region().cloned(),
                                std::ptr::from_ref(c.config()) as usize,
                                Box::new(c),
                            )
                        }
                        3 => {
                            let c = bsm.lambda_client();
                            (
                                "lambda",
                                c.config().region().cloned(),
                                std::ptr::from_ref(c.config()) as usize,
                                Box::new(c),
                            )
                        }
                        _ => {
                            let c = bsm.sns_client();
                            (
                                "sns",
                                c.config().region().cloned(),
                                std::ptr::from_ref(c.config()) as usize,
                                Box::new(c),
                            )
                        }
                    };
                assert_eq!(
                    region.as_ref().map(AsRef::as_ref),
                    expected,
                    "never a client of another configuration"
                );
                if bsm.cache_stats().generation == before {
                    seen.clients.push((before, service, config));
                    seen.held.push(held);
                }
            }
        }
    }
    seen
}

#[test]
fn eight_threads_of_mixed_operations() {
    let captured = capture::global();
    // Other tests of this binary log too: this one's events are those of
    // its own threads, named for it, and of the test's thread.
    let test_thread = std::thread::current().name().map(str::to_owned);
    let ours = |e: &&capture::Event| {
        e.thread == test_thread || e.thread.as_deref().is_some_and(|t| t.starts_with(PREFIX))
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name(format!("{PREFIX}runtime"))
        .enable_all()
        .build()
        .unwrap();
    let bsm = rt.block_on(manager(&moto().endpoint()));
    let (done_tx, done_rx) = mpsc::channel();
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let (bsm, done, handle) = (bsm.clone(), done_tx.clone(), rt.handle().clone());
            std::thread::Builder::new()
                .name(format!("{PREFIX}{t}"))
                .spawn(move || done.send(worker(&bsm, &handle, t)).unwrap())
                .unwrap()
        })
        .collect();
    drop(done_tx);
    let mut identities = 0;
    // Observed from outside: the distinct client handles per service and
    // generation, across all threads.
    let mut handles_seen: HashMap<(u64, &str), std::collections::HashSet<usize>> = HashMap::new();
    let mut held = Vec::new();
    for _ in 0..THREADS {
        let seen = done_rx
            .recv_timeout(Duration::from_secs(600))
            .expect("no deadlock: every thread finishes");
        identities += seen.identities;
        for (g, service, ptr) in seen.clients {
            handles_seen.entry((g, service)).or_default().insert(ptr);
        }
        held.push(seen.held);
    }
    assert!(
        handles_seen.values().all(|h| h.len() == 1),
        "one client per service per generation, across all threads"
    );
    drop(held);
    for h in handles {
        h.join().expect("no panic");
    }
    let generations = bsm.cache_stats().generation;
    drop(bsm);
    drop(rt);

    let events = captured.events();
    let mut built: HashMap<(u64, String), usize> = HashMap::new();
    let mut per_generation: HashMap<u64, usize> = HashMap::new();
    let events: Vec<_> = events.iter().filter(ours).collect();
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
            "at most s3, sqs, dynamodb, lambda, sns and sts in generation {g}"
        );
    }
}
