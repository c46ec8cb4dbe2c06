//! `cargo xtask bench-python` (bsm beside the Python original, against one
//! moto) and `cargo xtask bench-build` (build cost, from clean, in a scratch
//! folder). Both print a Markdown table; neither is part of the test suite.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crate::emulator::{self, Moto};
use crate::{cargo, root, run};

/// The Python side of each measurement, printing one number.
const PYTHON_PROBE: &str = r#"
import sys, time, threading
from boto_session_manager.api import BotoSesManager
mode = sys.argv[1]
if mode == "accessor":
    bsm = BotoSesManager()
    bsm.s3_client
    n = 100000
    samples = []
    for _ in range(11):
        t = time.perf_counter()
        for _ in range(n):
            bsm.s3_client
        samples.append((time.perf_counter() - t) * 1e9 / n)
    samples.sort()
    print(samples[len(samples) // 2])
elif mode == "first-client":
    samples = []
    for _ in range(20):
        bsm = BotoSesManager()
        t = time.perf_counter()
        bsm.s3_client
        samples.append((time.perf_counter() - t) * 1e9)
    samples.sort()
    print(samples[len(samples) // 2])
elif mode == "race":
    n = int(sys.argv[2])
    bsm = BotoSesManager()
    barrier = threading.Barrier(n)
    lock = threading.Lock()
    clients = []
    def work():
        barrier.wait()
        c = bsm.s3_client
        bsm.aws_account_id
        with lock:
            clients.append(c)
    threads = [threading.Thread(target=work) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(len({id(c) for c in clients}))
"#;

const PYTHON_COLD: &str =
    "from boto_session_manager.api import BotoSesManager; print(BotoSesManager().aws_account_id)";

/// The standard output of `cmd`, or an error with its standard error.
pub(crate) fn output(cmd: &mut Command) -> Result<String, String> {
    let shown = format!("{cmd:?}");
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {shown}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{shown} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn number(cmd: &mut Command) -> Result<f64, String> {
    let text = output(cmd)?;
    text.parse()
        .map_err(|e| format!("not a number: {text:?}: {e}"))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// `Action=GetCallerIdentity`, as moto's recorder stores a request body
/// (base64; the 24 characters encode to a prefix of the encoded body).
const GET_CALLER_IDENTITY: [&str; 2] = [
    "Action=GetCallerIdentity",
    "QWN0aW9uPUdldENhbGxlcklkZW50aXR5",
];

/// Requests moto saw while `f` ran, counted by its recorder, whose line
/// contains one of `needles`.
fn requests_seen(
    moto: &Moto,
    needles: &[&str],
    f: impl FnOnce() -> Result<String, String>,
) -> Result<(String, usize), String> {
    let api = |path: &str| format!("{}/moto-api/recorder/{path}", moto.endpoint());
    let post = |path: &str| {
        ureq::post(&api(path))
            .send_empty()
            .map(drop)
            .map_err(|e| format!("moto recorder {path}: {e}"))
    };
    post("reset-recording")?;
    post("start-recording")?;
    let result = f()?;
    post("stop-recording")?;
    let log = ureq::get(&api("download-recording"))
        .call()
        .map_err(|e| format!("moto recorder download: {e}"))?
        .body_mut()
        .read_to_string()
        .map_err(|e| format!("moto recorder download: {e}"))?;
    Ok((
        result,
        log.lines()
            .filter(|l| needles.iter().any(|n| l.contains(n)))
            .count(),
    ))
}

/// A moto with its request recorder on. The recorder also appends every
/// request to a file, by default `moto_recording` in moto's working folder
/// (the repository's root): kept under `target/` instead.
fn recording_moto(root: &Path, venv: &Path) -> Result<Moto, String> {
    let file = root.join("target/moto_recording");
    let file = file.to_str().ok_or("the repository path is not UTF-8")?;
    Moto::start_with(
        venv,
        &[
            ("MOTO_ENABLE_RECORDING", "True"),
            ("MOTO_RECORDER_FILEPATH", file),
        ],
    )
}

/// `cargo xtask bench-python`.
pub fn python() -> Result<(), String> {
    let root = root();
    let venv = emulator::ensure_venv(&root, None)?;
    let mut build = cargo();
    build.args([
        "build",
        "--release",
        "--package",
        "bsm-aws",
        "--example",
        "bench_probe",
        "--features",
        "s3",
    ]);
    run(build)?;
    let probe = root.join("target/release/examples/bench_probe");
    let moto = recording_moto(&root, &venv)?;
    let endpoint = moto.endpoint();
    let rust = |args: &[&str]| {
        let mut c = Command::new(&probe);
        c.args(args);
        emulator::demo_env(&mut c, &endpoint);
        c
    };
    let python = |args: &[&str]| {
        let mut c = Command::new(venv.join("bin/python"));
        c.args(["-c", PYTHON_PROBE]).args(args);
        emulator::demo_env(&mut c, &endpoint).env("AWS_DEFAULT_REGION", "us-east-1");
        c
    };

    let mut rows: Vec<(String, String, String, String)> = Vec::new();
    let rs = number(&mut rust(&["accessor"]))?;
    let py = number(&mut python(&["accessor"]))?;
    rows.push(row("cached accessor, per call", rs, py, "ns"));
    let rs = number(&mut rust(&["first-client"]))?;
    let py = number(&mut python(&["first-client"]))?;
    rows.push(row(
        "first S3 client on a new manager (median)",
        rs / 1e3,
        py / 1e3,
        "µs",
    ));

    let time_runs = |mut make: Box<dyn FnMut() -> Command>| -> Result<f64, String> {
        let mut samples = Vec::new();
        for _ in 0..11 {
            let mut cmd = make();
            let start = Instant::now();
            let id = output(&mut cmd)?;
            samples.push(start.elapsed().as_secs_f64() * 1e3);
            if id != "123456789012" {
                return Err(format!("unexpected account id {id:?}"));
            }
        }
        Ok(median(samples))
    };
    let rs = time_runs(Box::new(|| rust(&["account-id"])))?;
    let py = time_runs(Box::new(|| {
        let mut c = Command::new(venv.join("bin/python"));
        c.args(["-c", PYTHON_COLD]);
        emulator::demo_env(&mut c, &endpoint).env("AWS_DEFAULT_REGION", "us-east-1");
        c
    }))?;
    rows.push(row(
        "fresh process until aws_account_id is known (median of 11)",
        rs,
        py,
        "ms",
    ));

    let mut counts = String::new();
    for n in ["50", "1000"] {
        let (rs_clients, rs_requests) = requests_seen(&moto, &GET_CALLER_IDENTITY, || {
            output(&mut rust(&["race", n]))
        })?;
        let (py_clients, py_requests) = requests_seen(&moto, &GET_CALLER_IDENTITY, || {
            output(&mut python(&["race", n]))
        })?;
        let _ = writeln!(
            counts,
            "| {n} concurrent first callers | {rs_clients} S3 client, {rs_requests} GetCallerIdentity | \
             {py_clients} S3 clients, {py_requests} GetCallerIdentity |"
        );
    }

    println!("\n| measurement | bsm (Rust) | boto-session-manager (Python) | Python / Rust |");
    println!("|---|---|---|---|");
    for (name, rs, py, ratio) in rows {
        println!("| {name} | {rs} | {py} | {ratio} |");
    }
    println!("\n| race | bsm (Rust) | boto-session-manager (Python) |\n|---|---|---|");
    print!("{counts}");
    Ok(())
}

fn row(name: &str, rs: f64, py: f64, unit: &str) -> (String, String, String, String) {
    (
        name.to_owned(),
        format!("{rs:.1} {unit}"),
        format!("{py:.1} {unit}"),
        format!("{:.0}x", py / rs),
    )
}

/// `cargo xtask bench-build`.
/// Each case is built clean `runs` times, the cases in turn (case 0, 1, ..,
/// then again), so a slow spell of the machine falls on every case alike;
/// the table compares medians and lists every sample.
pub fn build(runs: usize) -> Result<(), String> {
    let root = root();
    let scratch = root.join("target/bench-build");
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch)
        .map_err(|e| format!("cannot create {}: {e}", scratch.display()))?;
    let bsm_path = root.join("crates/bsm-aws");
    let main_rs = "#[tokio::main]\nasync fn main() {\n    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;\n    let s3 = aws_sdk_s3::Client::new(&config);\n    let _ = s3.list_buckets().send().await;\n}\n";
    let bsm_rs = "#[tokio::main]\nasync fn main() {\n    let Ok(bsm) = bsm::SessionManager::from_env().await else { return };\n    let _ = bsm.s3_client().list_buckets().send().await;\n}\n";
    let tokio = r#"tokio = { version = "1", features = ["macros", "rt-multi-thread"] }"#;
    let cases = [
        (
            "aws-config + aws-sdk-s3, default features",
            format!(
                "aws-config = {{ version = \"1\", features = [\"behavior-version-latest\"] }}\naws-sdk-s3 = \"1\"\n{tokio}"
            ),
            main_rs,
        ),
        (
            "aws-config + aws-sdk-s3, bsm's features",
            format!(
                "aws-config = {{ version = \"1\", features = [\"behavior-version-latest\"] }}\n\
                 aws-sdk-s3 = {{ version = \"1\", default-features = false, features = [\"default-https-client\", \"rt-tokio\"] }}\n{tokio}"
            ),
            main_rs,
        ),
        (
            "bsm, features = [\"s3\"] (default features: none)",
            format!(
                "bsm = {{ package = \"bsm-aws\", path = {:?}, features = [\"s3\"] }}\n{tokio}",
                bsm_path.display().to_string()
            ),
            bsm_rs,
        ),
        (
            "aws-config + aws-sdk-s3 (default features) + bsm, features = [\"s3\"]: bsm added to a project that has them",
            format!(
                "aws-config = {{ version = \"1\", features = [\"behavior-version-latest\"] }}\naws-sdk-s3 = \"1\"\n\
                 bsm = {{ package = \"bsm-aws\", path = {:?}, features = [\"s3\"] }}\n{tokio}",
                bsm_path.display().to_string()
            ),
            bsm_rs,
        ),
        (
            "the same + bsm's `credentials-login` (aws login sessions)",
            format!(
                "aws-config = {{ version = \"1\", features = [\"behavior-version-latest\"] }}\naws-sdk-s3 = \"1\"\n\
                 bsm = {{ package = \"bsm-aws\", path = {:?}, features = [\"s3\", \"credentials-login\"] }}\n{tokio}",
                bsm_path.display().to_string()
            ),
            bsm_rs,
        ),
        (
            "bsm, features = [\"s3\", \"iam\"] (the account alias)",
            format!(
                "bsm = {{ package = \"bsm-aws\", path = {:?}, features = [\"s3\", \"iam\"] }}\n{tokio}",
                bsm_path.display().to_string()
            ),
            bsm_rs,
        ),
    ];
    let mut samples = vec![Vec::new(); cases.len()];
    for (i, (_, deps, main)) in cases.iter().enumerate() {
        let dir = scratch.join(format!("case{i}"));
        write(&dir.join("src/main.rs"), main)?;
        write(
            &dir.join("Cargo.toml"),
            &format!(
                "[package]\nname = \"case{i}\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n\
                 [workspace]\n\n[profile.dev.package.\"*\"]\ndebug = false\n\n[dependencies]\n{deps}\n"
            ),
        )?;
        let mut fetch = cargo();
        fetch.current_dir(&dir).args(["fetch"]);
        run(fetch)?;
    }
    for run_no in 1..=runs {
        for (i, (name, _, _)) in cases.iter().enumerate() {
            let dir = scratch.join(format!("case{i}"));
            let _ = std::fs::remove_dir_all(dir.join("target"));
            let mut b = cargo();
            b.current_dir(&dir).args(["build", "--quiet"]);
            let start = Instant::now();
            run(b)?;
            let secs = start.elapsed().as_secs_f64();
            println!("run {run_no}/{runs}, {name}: {secs:.1} s");
            samples[i].push(secs);
        }
    }
    let names: Vec<&str> = cases.iter().map(|(name, _, _)| *name).collect();
    let table = build_table(&names, &samples);
    let check = check_cost(&root, &scratch)?;
    println!("\n{table}\n{check}");
    Ok(())
}

/// The build-cost table: each case's median and samples, the ratios, and
/// the verdict on bsm added to a project that has the SDK already (case 3).
fn build_table(names: &[&str], samples: &[Vec<f64>]) -> String {
    let runs = samples.first().map_or(0, Vec::len);
    let mut table = format!(
        "| clean debug build of a binary calling S3 `ListBuckets` | seconds, median of {runs} | every run | vs aws-config + aws-sdk-s3, default features | vs aws-config + aws-sdk-s3, bsm's SDK features |\n|---|---|---|---|---|\n",
    );
    let medians: Vec<f64> = samples.iter().cloned().map(median).collect();
    for (i, name) in names.iter().enumerate() {
        let secs = medians[i];
        let ratio = |base: f64| format!("{:+.1}%", (secs / base - 1.0) * 100.0);
        let every: Vec<String> = samples[i].iter().map(|s| format!("{s:.1}")).collect();
        let _ = writeln!(
            table,
            "| {name} | {secs:.1} | {} | {} | {} |",
            every.join(", "),
            if i == 0 {
                String::new()
            } else {
                ratio(medians[0])
            },
            if i <= 1 {
                String::new()
            } else {
                ratio(medians[1])
            },
        );
    }
    let added = (medians[3] / medians[0] - 1.0) * 100.0;
    let _ = writeln!(
        table,
        "\nbsm added to a project that builds aws-config + aws-sdk-s3: {added:+.1}% (goal: at most +5%: {})",
        if added <= 5.0 { "met" } else { "not met" }
    );
    let login = (medians[4] / medians[0] - 1.0) * 100.0;
    let _ = writeln!(
        table,
        "the same with `credentials-login`: {login:+.1}% ({})",
        if login <= 5.0 {
            "within the goal"
        } else {
            "over the goal: why the feature is off by default"
        }
    );

    table
}

/// `cargo check` of bsm-core (no features) with every service of
/// services.toml expanded vs none, median of 5 after a warm-up.
fn check_cost(root: &Path, scratch: &Path) -> Result<String, String> {
    let services = std::fs::read_to_string(root.join("services.toml"))
        .map_err(|e| format!("services.toml: {e}"))?;
    let count = services
        .lines()
        .filter(|l| l.trim() == "[[service]]")
        .count();
    let mut out = String::from(
        "| cargo check -p bsm-core --no-default-features (median of 5) | seconds |\n|---|---|\n",
    );
    for (label, text) in [
        (format!("{count} services expanded"), services.as_str()),
        ("no service".to_owned(), ""),
    ] {
        let ws = scratch.join(if text.is_empty() {
            "check-none"
        } else {
            "check-all"
        });
        copy_dir(&root.join("crates/bsm-core"), &ws.join("crates/bsm-core"))?;
        copy_dir(
            &root.join("crates/bsm-macros"),
            &ws.join("crates/bsm-macros"),
        )?;
        let _ = std::fs::remove_file(ws.join("crates/bsm-macros/services.toml"));
        write(&ws.join("crates/bsm-macros/services.toml"), text)?;
        write(&ws.join("README.md"), "")?;
        let manifest =
            std::fs::read_to_string(root.join("Cargo.toml")).map_err(|e| e.to_string())?;
        write(
            &ws.join("Cargo.toml"),
            &manifest.replace(
                r#"members = ["crates/*", "xtask", "tests"]"#,
                r#"members = ["crates/bsm-core", "crates/bsm-macros"]"#,
            ),
        )?;
        let _ = std::fs::copy(root.join("Cargo.lock"), ws.join("Cargo.lock"));
        let check = || {
            let mut c = cargo();
            c.current_dir(&ws)
                .env("CARGO_TARGET_DIR", scratch.join("check-target"))
                .args([
                    "check",
                    "--quiet",
                    "--package",
                    "bsm-core",
                    "--no-default-features",
                ]);
            c
        };
        run(check())?;
        let mut samples = Vec::new();
        for _ in 0..5 {
            let lib = ws.join("crates/bsm-core/src/lib.rs");
            let text = std::fs::read_to_string(&lib).map_err(|e| e.to_string())?;
            write(&lib, &text)?;
            let start = Instant::now();
            run(check())?;
            samples.push(start.elapsed().as_secs_f64());
        }
        let _ = writeln!(out, "| {label} | {:.2} |", median(samples));
    }
    Ok(out)
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

fn copy_dir(from: &Path, to: &Path) -> Result<(), String> {
    for entry in
        std::fs::read_dir(from).map_err(|e| format!("cannot read {}: {e}", from.display()))?
    {
        let entry = entry.map_err(|e| e.to_string())?;
        let path: PathBuf = entry.path();
        let target = to.join(entry.file_name());
        if path.is_dir() {
            if entry.file_name() != "target" {
                copy_dir(&path, &target)?;
            }
        } else {
            std::fs::create_dir_all(to).map_err(|e| e.to_string())?;
            std::fs::copy(&path, &target)
                .map_err(|e| format!("cannot copy {}: {e}", path.display()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::build_table;

    #[test]
    fn the_build_table_compares_medians_and_gives_the_verdict() {
        let names = [
            "sdk",
            "lean sdk",
            "bsm",
            "sdk + bsm",
            "sdk + bsm + login",
            "bsm + iam",
        ];
        let samples = [
            vec![100.0, 130.0, 99.0],
            vec![80.0, 81.0, 79.0],
            vec![82.0, 90.0, 60.0],
            vec![104.0, 103.0, 140.0],
            vec![110.0, 111.0, 109.0],
            vec![90.0, 90.0, 90.0],
        ]
        .map(Vec::from);
        let table = build_table(&names, &samples);
        assert!(table.contains("seconds, median of 3"), "{table}");
        assert!(
            table.contains("| sdk + bsm | 104.0 | 104.0, 103.0, 140.0 | +4.0% | +30.0% |"),
            "{table}"
        );
        assert!(
            table.contains("| bsm | 82.0 | 82.0, 90.0, 60.0 | -18.0% | +2.5% |"),
            "{table}"
        );
        assert!(
            table.contains(": +4.0% (goal: at most +5%: met)"),
            "{table}"
        );
        assert!(
            table.contains("the same with `credentials-login`: +10.0% (over the goal"),
            "{table}"
        );
        let mut slower = samples.clone();
        slower[3] = vec![106.0];
        assert!(build_table(&names, &slower).contains(": +6.0% (goal: at most +5%: not met)"));
    }
}
