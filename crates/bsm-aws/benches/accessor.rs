//! Cached accessors, first construction and warm identity, each beside its
//! baseline in the same run: `cargo bench -p bsm-aws --bench accessor --features
//! s3`. Prints the ratios (bsm / baseline) after criterion's own report, the
//! calls per second per thread with 1, 2, 4 and 8 threads on one manager and
//! with 1000 tokio tasks (each beside the bare `OnceLock`, and beside the bare
//! `OnceLock` behind a generation check), and the bytes one
//! manager and one cached client take (a counting global allocator).
//! `BSM_BENCH_IDENTITY_ONLY=1 <the bench binary>` prints the two identity
//! lines of the ratio table alone (to compare two builds in turn), and
//! `BSM_BENCH_PROBE` runs one case for callgrind (see `probe`).

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicIsize, AtomicU64, Ordering};
use std::time::Instant;

use bsm::SessionManager;
use criterion::{BatchSize, Criterion};

/// Counts live heap bytes, to measure what a manager and a client hold.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size().cast_signed(), Ordering::Relaxed);
        // SAFETY: same layout contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size().cast_signed(), Ordering::Relaxed);
        // SAFETY: `ptr` came from `alloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// A fake STS on 127.0.0.1 that answers every request with the same
/// `GetCallerIdentity` response; returns its URL.
fn fake_sts() -> String {
    use std::io::{BufRead as _, BufReader, Read as _, Write as _};
    const BODY: &str = "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\
        <GetCallerIdentityResult><Arn>arn:aws:iam::123456789012:user/bench</Arn>\
        <UserId>AIDABENCHUSERID00001</UserId><Account>123456789012</Account></GetCallerIdentityResult>\
        <ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></GetCallerIdentityResponse>";
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let url = format!("http://{}", listener.local_addr().expect("an address"));
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut reader = BufReader::new(conn);
                loop {
                    let mut length = 0usize;
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        if line == "\r\n" {
                            break;
                        }
                        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                            length = v.trim().parse().unwrap_or(0);
                        }
                    }
                    let mut body = vec![0; length];
                    if reader.read_exact(&mut body).is_err() {
                        return;
                    }
                    let reply = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: {}\r\n\r\n{BODY}",
                        BODY.len()
                    );
                    if reader.get_mut().write_all(reply.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    url
}

fn manager(rt: &tokio::runtime::Runtime) -> SessionManager {
    manager_at(rt, "http://127.0.0.1:9")
}

fn manager_at(rt: &tokio::runtime::Runtime, endpoint: &str) -> SessionManager {
    rt.block_on(
        SessionManager::builder()
            .credentials("testing", "testing", None)
            .region("us-east-1")
            .endpoint_url(endpoint)
            .build(),
    )
    .expect("static keys need no request")
}

/// Rounds of the contention measurements, bsm and the baseline in turn.
const ROUNDS: usize = 5;

/// The median of `v`.
fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The lowest and highest time-per-call ratio (bsm / baseline) of the
/// rounds, each round's two rates measured one right after the other.
fn round_range(ours: &[f64], theirs: &[f64]) -> (f64, f64) {
    let r: Vec<f64> = ours.iter().zip(theirs).map(|(o, t)| t / o).collect();
    (
        r.iter().copied().fold(f64::INFINITY, f64::min),
        r.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    )
}

/// The lower and upper quartiles of `v`.
fn quartiles(v: &[f64]) -> (f64, f64) {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    (v[v.len() / 4], v[v.len() * 3 / 4])
}

/// Median time per call of `f`, measured in batches, for the ratio table.
fn per_call(f: impl Fn()) -> f64 {
    let mut samples: Vec<f64> = (0..31)
        .map(|_| {
            let n = 20_000;
            let start = Instant::now();
            for _ in 0..n {
                f();
            }
            start.elapsed().as_secs_f64() * 1e9 / f64::from(n)
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

/// Contention, honestly: 1, 2, 4 and 8 threads on one manager, released
/// together by a barrier and each running for one second; calls per second
/// per thread, bsm beside the bare `OnceLock` (both clone one shared `Arc`,
/// so both pay for its reference count moving between cores). Five rounds,
/// the contenders in turn, medians: a shared machine's slow spells fall on
/// all alike.
///
/// The third contender is the bare `OnceLock` behind the least that any
/// cache `clear_cache` can invalidate must do on each call: read a shared
/// generation number (alone in its cache line) and compare it with the one
/// this thread saw last. It is what a design with a generation check can at
/// best reach, so bsm beside it shows what bsm adds beyond the check.
fn contention(bsm: &SessionManager, baseline: &OnceLock<bsm::aws_sdk_s3::Client>) {
    let generation = std::sync::Arc::new(Generation(AtomicU64::new(1)));
    let acc = || drop(black_box(bsm.s3_client()));
    let plain = || drop(black_box(baseline.get().cloned()));
    let checked = || {
        generation.check();
        drop(black_box(baseline.get().cloned()));
    };
    for threads in [1, 2, 4, 8] {
        compare(
            &format!("{threads} thread(s), 1 s each"),
            "per thread",
            |who| {
                let f: &(dyn Fn() + Sync) = match who {
                    Who::Bsm => &acc,
                    Who::OnceLock => &plain,
                    Who::Checked => &checked,
                };
                per_thread_rate(threads, f)
            },
        );
    }
    compare(
        "1000 tokio tasks on 2 worker threads, 1 s",
        "in all",
        |who| tasks_rate(bsm, who, &generation),
    );
}

/// `ROUNDS` rounds of `rate` for each contender in turn; prints their
/// medians and ratios under `label`, the rates `per` thread or in all.
fn compare(label: &str, per: &str, mut rate: impl FnMut(Who) -> f64) {
    let (mut ours, mut theirs, mut check) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        ours.push(rate(Who::Bsm));
        theirs.push(rate(Who::OnceLock));
        check.push(rate(Who::Checked));
    }
    let (lo, hi) = round_range(&ours, &theirs);
    let (ours, theirs, check) = (median(ours), median(theirs), median(check));
    println!(
        "{label}, median of {ROUNDS} rounds: s3_client() {:.1} M calls/s {per}, \
         OnceLock get+clone {:.1} M calls/s {per} (bsm / OnceLock time per call: {:.2}; \
         round by round {lo:.2} to {hi:.2}); OnceLock behind a generation check {:.1} M calls/s {per} \
         (bsm / it: {:.2}; it / OnceLock: {:.2})",
        ours / 1e6,
        theirs / 1e6,
        theirs / ours,
        check / 1e6,
        check / ours,
        theirs / check
    );
}

/// A generation number alone in its cache line: what the third contender of
/// [`contention`] checks before each clone.
#[repr(align(128))]
struct Generation(AtomicU64);

thread_local! {
    /// The generation number this thread saw last.
    static SEEN: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

impl Generation {
    /// Reads the shared number and compares it with this thread's.
    fn check(&self) {
        let id = self.0.load(Ordering::Acquire);
        if SEEN.with(std::cell::Cell::get) != id {
            SEEN.with(|s| s.set(id));
        }
    }
}

/// Who a contention measurement calls.
#[derive(Clone, Copy)]
enum Who {
    /// `s3_client()`.
    Bsm,
    /// The bare `OnceLock` get and clone.
    OnceLock,
    /// The bare `OnceLock` behind a [`Generation::check`].
    Checked,
}

/// Calls per second per thread: `threads` threads, released together by a
/// barrier, each calling `f` for one second.
fn per_thread_rate(threads: u32, f: &(dyn Fn() + Sync)) -> f64 {
    let barrier = std::sync::Barrier::new(threads as usize);
    let span = std::time::Duration::from_secs(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    barrier.wait();
                    let start = Instant::now();
                    let mut calls = 0u32;
                    while start.elapsed() < span {
                        for _ in 0..1000 {
                            f();
                        }
                        calls += 1000;
                    }
                    f64::from(calls) / start.elapsed().as_secs_f64()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum::<f64>() / f64::from(threads)
    })
}

/// Calls per second in all: 1000 tasks on a 2-worker multi-thread runtime,
/// released together, each calling `who` in batches of 100 (yielding
/// between) for one second.
fn tasks_rate(bsm: &SessionManager, who: Who, generation: &std::sync::Arc<Generation>) -> f64 {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let baseline: std::sync::Arc<OnceLock<bsm::aws_sdk_s3::Client>> = std::sync::Arc::default();
    baseline.get_or_init(|| bsm.s3_client());
    let span = std::time::Duration::from_secs(1);
    rt.block_on(async {
        let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(1000));
        let tasks: Vec<_> = (0..1000)
            .map(|_| {
                let (bsm, baseline, barrier) = (bsm.clone(), baseline.clone(), barrier.clone());
                let generation = generation.clone();
                tokio::spawn(async move {
                    barrier.wait().await;
                    let start = Instant::now();
                    let mut calls = 0u32;
                    while start.elapsed() < span {
                        for _ in 0..100 {
                            match who {
                                Who::Bsm => drop(black_box(bsm.s3_client())),
                                Who::OnceLock => drop(black_box(baseline.get().cloned())),
                                Who::Checked => {
                                    generation.check();
                                    drop(black_box(baseline.get().cloned()));
                                }
                            }
                        }
                        calls += 100;
                        tokio::task::yield_now().await;
                    }
                    calls
                })
            })
            .collect();
        let started = Instant::now();
        let mut total = 0u32;
        for t in tasks {
            total += t.await.unwrap();
        }
        f64::from(total) / started.elapsed().as_secs_f64()
    })
}

/// The baseline: a bare `OnceLock` holding a clone of the very client `bsm`
/// caches. Both sides then clone one `Arc` (one reference count, one cache
/// line), so the ratio shows what bsm's accessor adds and not where the
/// allocator happened to put two different clients (a baseline with its own
/// client measured from 0.8x to 1.25x of the same bsm code between builds).
fn same_client(bsm: &SessionManager) -> OnceLock<bsm::aws_sdk_s3::Client> {
    let baseline = OnceLock::new();
    baseline.get_or_init(|| bsm.s3_client());
    baseline
}

fn benches(c: &mut Criterion, rt: &tokio::runtime::Runtime) {
    let bsm = manager(rt);
    let cfg = bsm.sdk_config();
    let baseline = same_client(&bsm);

    let mut g = c.benchmark_group("cached_accessor");
    g.bench_function("baseline_oncelock_get_clone", |b| {
        b.iter(|| black_box(baseline.get().cloned()));
    });
    g.bench_function("bsm_s3_client", |b| {
        b.iter(|| black_box(bsm.s3_client()));
    });
    g.bench_function("bsm_client_generic", |b| {
        b.iter(|| black_box(bsm.client::<bsm::aws_sdk_s3::Client>()));
    });
    g.finish();

    let mut g = c.benchmark_group("first_construction");
    g.bench_function("baseline_client_new", |b| {
        b.iter(|| black_box(bsm::aws_sdk_s3::Client::new(&cfg)));
    });
    g.bench_function("bsm_first_s3_client", |b| {
        b.iter_batched(
            || bsm.clear_cache(),
            |()| black_box(bsm.s3_client()),
            BatchSize::PerIteration,
        );
    });
    g.finish();

    let warm = manager_at(rt, &fake_sts());
    let id = rt
        .block_on(warm.aws_account_id())
        .expect("the fake STS answers");
    let cell = tokio::sync::OnceCell::new_with(Some(id));
    let mut g = c.benchmark_group("warm_identity");
    g.bench_function("baseline_oncecell_get_clone", |b| {
        b.to_async(rt)
            .iter(|| async { black_box(cell.get().cloned()) });
    });
    g.bench_function("bsm_aws_account_id", |b| {
        b.to_async(rt)
            .iter(|| async { black_box(warm.aws_account_id().await.ok()) });
    });
    g.finish();
}

fn ratios(rt: &tokio::runtime::Runtime) {
    let bsm = manager(rt);
    let cfg = bsm.sdk_config();
    let baseline = same_client(&bsm);
    let base = per_call(|| drop(black_box(baseline.get().cloned())));
    let acc = per_call(|| drop(black_box(bsm.s3_client())));
    let generic = per_call(|| drop(black_box(bsm.client::<bsm::aws_sdk_s3::Client>())));
    println!(
        "\nratio cached s3_client() / OnceLock get+clone: {:.2} ({acc:.1} ns / {base:.1} ns)",
        acc / base
    );
    println!(
        "ratio cached client::<C>() / OnceLock get+clone: {:.2} ({generic:.1} ns)",
        generic / base
    );

    contention(&bsm, &baseline);

    let new = per_call(|| drop(black_box(bsm::aws_sdk_s3::Client::new(&cfg))));
    let first = per_call(|| {
        bsm.clear_cache();
        drop(black_box(bsm.s3_client()));
    });
    println!(
        "ratio first s3_client() (with clear_cache) / Client::new(&cfg): {:.2} ({first:.0} ns / {new:.0} ns)",
        first / new
    );

    identity_ratios(rt);

    let before = LIVE.load(Ordering::Relaxed);
    let managers: Vec<_> = (0..100).map(|_| manager(rt)).collect();
    let per_manager = (LIVE.load(Ordering::Relaxed) - before) / 100;
    let before = LIVE.load(Ordering::Relaxed);
    for m in &managers {
        let _ = m.s3_client();
    }
    let per_client = (LIVE.load(Ordering::Relaxed) - before) / 100;
    println!(
        "memory: {per_manager} bytes per manager (with its SdkConfig), {per_client} bytes per cached S3 client"
    );
}

/// The warm identity beside its baseline, for the ratio table.
fn identity_ratios(rt: &tokio::runtime::Runtime) {
    let warm = manager_at(rt, &fake_sts());
    let id = rt
        .block_on(warm.aws_account_id())
        .expect("the fake STS answers");
    let cell = tokio::sync::OnceCell::new_with(Some(id));
    let base = per_call(|| drop(black_box(rt.block_on(async { cell.get().cloned() }))));
    let bsm_id = per_call(|| drop(black_box(rt.block_on(warm.aws_account_id()))));
    println!(
        "ratio warm aws_account_id() / OnceCell get+clone (each inside block_on): {:.2} ({bsm_id:.1} ns / {base:.1} ns)",
        bsm_id / base
    );
    // As criterion's async runner measures (one `block_on`, the calls
    // awaited in a loop), but bsm and the baseline in turn, batch by batch:
    // criterion's two rows run one after the other, and a machine that
    // speeds up or slows down between them moves their ratio.
    let (mut ours, mut theirs, mut ratio) = (Vec::new(), Vec::new(), Vec::new());
    let ours_routine = || async { black_box(warm.aws_account_id().await.ok()) };
    let their_routine = || async { black_box(cell.get().cloned()) };
    for _ in 0..31 {
        let n = 20_000;
        let (b, o) = rt.block_on(async {
            let start = Instant::now();
            for _ in 0..n {
                black_box(ours_routine().await);
            }
            let b = start.elapsed().as_secs_f64() * 1e9 / f64::from(n);
            let start = Instant::now();
            for _ in 0..n {
                black_box(their_routine().await);
            }
            (b, start.elapsed().as_secs_f64() * 1e9 / f64::from(n))
        });
        ours.push(b);
        theirs.push(o);
        ratio.push(b / o);
    }
    let (lo, hi) = quartiles(&ratio);
    println!(
        "ratio warm aws_account_id() / OnceCell get+clone (awaited in one block_on, interleaved batches): {:.2}, \
         quartiles {lo:.2} to {hi:.2} ({:.1} ns / {:.1} ns)",
        median(ratio),
        median(ours),
        median(theirs)
    );
}

/// Runs one case 200,000 times and nothing else, for an instruction count
/// that does not depend on the machine's load:
/// `BSM_BENCH_PROBE=<case> valgrind --tool=callgrind <the bench binary>`, the
/// cases `s3_client`, `oncelock` (its baseline), `aws_account_id` and
/// `oncecell` (its baseline, both polled inside one `block_on`),
/// `awaited_aws_account_id` and `awaited_oncecell` (the same two in the shape
/// of criterion's async runner, which gives the criterion rows). Every case
/// sets up the same things, so the difference of two totals divided by
/// 200,000 is what one call of bsm adds.
fn probe(rt: &tokio::runtime::Runtime, case: &str) {
    let warm = manager_at(rt, &fake_sts());
    let id = rt
        .block_on(warm.aws_account_id())
        .expect("the fake STS answers");
    let cell = tokio::sync::OnceCell::new_with(Some(id));
    let baseline = same_client(&warm);
    // As criterion's async runner runs its routine: a new async block per
    // call, awaited in a loop inside one `block_on`.
    match case {
        "awaited_aws_account_id" => {
            return awaited(rt, || async { black_box(warm.aws_account_id().await.ok()) });
        }
        "awaited_oncecell" => return awaited(rt, || async { black_box(cell.get().cloned()) }),
        _ => {}
    }
    rt.block_on(async {
        for _ in 0..200_000 {
            match case {
                "aws_account_id" => drop(black_box(warm.aws_account_id().await.ok())),
                "oncecell" => drop(black_box(cell.get().cloned())),
                "s3_client" => drop(black_box(warm.s3_client())),
                "oncelock" => drop(black_box(baseline.get().cloned())),
                other => panic!("unknown BSM_BENCH_PROBE case {other:?}"),
            }
        }
    });
}

/// `routine` 200,000 times, each awaited in one `block_on`.
fn awaited<F: std::future::Future>(rt: &tokio::runtime::Runtime, routine: impl Fn() -> F) {
    rt.block_on(async {
        for _ in 0..200_000 {
            black_box(routine().await);
        }
    });
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    if let Ok(case) = std::env::var("BSM_BENCH_PROBE") {
        probe(&rt, &case);
        return;
    }
    // The identity lines of the ratio table alone, to repeat them quickly.
    if std::env::var_os("BSM_BENCH_IDENTITY_ONLY").is_some() {
        identity_ratios(&rt);
        return;
    }
    let mut c = Criterion::default().configure_from_args();
    benches(&mut c, &rt);
    c.final_summary();
    // `cargo test --all-targets` runs benches once in test mode; the ratio
    // table is only for `cargo bench`.
    if std::env::args().any(|a| a == "--bench") {
        ratios(&rt);
    }
}
