//! Tests of `cargo xtask regen`: the committed files are fresh, the manifest
//! path works end to end against an HTTP server on 127.0.0.1, services.toml
//! is held to the proc macro's rules, crates.io's caps are watched, and a
//! failed regen writes nothing.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};

use crate::regen::{self, LIMITS_MARKER, MARKER, Options};

#[test]
fn generated_files_are_up_to_date() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let opts = Options {
        check: true,
        ..Options::default()
    };
    if let Err(stale) = regen::run(root, &opts) {
        panic!("{stale}");
    }
}

const TWO_SERVICES: &str = "[[service]]\ncrate = \"aws-sdk-gone\"\nfeature = \"gone\"\naccessor = \"gone_client\"\npath = \"aws_sdk_gone\"\n\n\
     [[service]]\ncrate = \"aws-sdk-s3\"\nfeature = \"s3\"\naccessor = \"s3_client\"\npath = \"aws_sdk_s3\"\n\
     display_name = \"Amazon S3\"\nnote = \"kept by hand\"\n";

/// A scratch workspace with a two-entry services.toml, the two Cargo.toml
/// heads and a README.md.
fn scratch(name: &str) -> PathBuf {
    scratch_with(name, TWO_SERVICES, "# bsm\n")
}

/// A scratch workspace with the given services.toml and README.md.
fn scratch_with(name: &str, services: &str, readme: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("bsm-regen-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for krate in ["bsm-core", "bsm-aws", "bsm-macros"] {
        std::fs::create_dir_all(dir.join("crates").join(krate)).unwrap();
    }
    std::fs::write(dir.join("services.toml"), services).unwrap();
    std::fs::write(dir.join("README.md"), readme).unwrap();
    for krate in ["bsm-core", "bsm-aws"] {
        std::fs::write(
            dir.join(format!("crates/{krate}/Cargo.toml")),
            format!("[package]\nname = \"{krate}\"\n\n[dependencies]\n{MARKER}\nstale = true\n"),
        )
        .unwrap();
    }
    dir
}

/// Every file regen writes, `None` where absent.
const OUTPUTS: [&str; 5] = [
    "services.toml",
    "crates/bsm-core/Cargo.toml",
    "crates/bsm-aws/Cargo.toml",
    "crates/bsm-macros/services.toml",
    "crates/bsm-aws/README.md",
];

fn snapshot(dir: &Path) -> Vec<Option<String>> {
    OUTPUTS
        .iter()
        .map(|f| std::fs::read_to_string(dir.join(f)).ok())
        .collect()
}

/// Every file under `dir`, so a test can see that no temporary file is left.
fn tree(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                todo.push(path);
            } else {
                out.push(path.strip_prefix(dir).unwrap().to_path_buf());
            }
        }
    }
    out.sort();
    out
}

fn offline() -> Options {
    Options {
        offline: true,
        ..Options::default()
    }
}

fn check() -> Options {
    Options {
        check: true,
        ..Options::default()
    }
}

/// Serves `body` once over HTTP on 127.0.0.1; returns the URL.
fn serve_once(body: &'static str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/versions.toml", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let mut buf = [0u8; 4096];
        let _ = conn.read(&mut buf);
        let _ = write!(
            conn,
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
    });
    url
}

const MANIFEST: &str = "smithy_rs_revision = 'abc'\n\n[crates.aws-config]\ncategory = 'AwsRuntime'\nversion = '1.13.0'\n\n\
[crates.aws-sdk-s3]\ncategory = 'AwsSdk'\nversion = '1.157.0'\n\n[crates.aws-sdk-newsvc]\ncategory = 'AwsSdk'\nversion = '1.0.0'\n";

#[test]
fn manifest_over_http_rewrites_services_and_blocks() {
    let dir = scratch("http");
    let url = serve_once(MANIFEST);
    regen::run(
        &dir,
        &Options {
            manifest: Some(url),
            ..Options::default()
        },
    )
    .unwrap();
    let [services, core, facade, services_copy, readme_copy] =
        <[Option<String>; 5]>::try_from(snapshot(&dir))
            .unwrap()
            .map(Option::unwrap);
    assert_eq!(services_copy, services);
    assert_eq!(readme_copy, "# bsm\n");
    let entries: Vec<&str> = services.split("\n[[service]]\n").skip(1).collect();
    assert_eq!(
        entries,
        [
            "crate = \"aws-sdk-gone\"\nfeature = \"gone\"\naccessor = \"gone_client\"\npath = \"aws_sdk_gone\"\nretired = true\n",
            "crate = \"aws-sdk-newsvc\"\nfeature = \"newsvc\"\naccessor = \"newsvc_client\"\npath = \"aws_sdk_newsvc\"\n",
            "crate = \"aws-sdk-s3\"\nfeature = \"s3\"\naccessor = \"s3_client\"\npath = \"aws_sdk_s3\"\n\
             display_name = \"Amazon S3\"\nnote = \"kept by hand\"\n",
        ]
    );
    assert!(services.starts_with("# Generated by `cargo xtask regen`"));
    assert!(!core.contains("stale = true") && !facade.contains("stale = true"));
    assert!(core.contains("\naws-sdk-newsvc = { version = \"1\", optional = true"));
    assert!(core.contains("\nnewsvc = [\"dep:aws-sdk-newsvc\"]\n"));
    assert!(
        facade.contains("\n[features]\ndefault = []\n"),
        "no default features"
    );
    assert!(facade.contains("\ns3 = [\"bsm-core/s3\"]\n"));
    assert!(facade.ends_with('\n') && !facade.contains('\r'));

    // A second run with the same manifest changes nothing.
    let before = snapshot(&dir);
    regen::run(
        &dir,
        &Options {
            manifest: Some(serve_once(MANIFEST)),
            ..Options::default()
        },
    )
    .unwrap();
    assert_eq!(snapshot(&dir), before);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn malformed_manifest_leaves_every_file_untouched() {
    let dir = scratch("malformed");
    let before = snapshot(&dir);
    for body in [
        "[crates.aws-sdk-s3\ncategory = 'AwsSdk'\n",
        "[crates.aws-config]\ncategory = 'AwsRuntime'\n",
    ] {
        let body: &'static str = Box::leak(body.to_owned().into_boxed_str());
        let err = regen::run(
            &dir,
            &Options {
                manifest: Some(serve_once(body)),
                ..Options::default()
            },
        )
        .unwrap_err();
        assert!(err.starts_with("malformed manifest"), "{err}");
        assert_eq!(snapshot(&dir), before);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn unreachable_manifest_leaves_every_file_untouched() {
    let dir = scratch("unreachable");
    let before = snapshot(&dir);
    // The discard port: nothing listens there, and unlike a port released
    // by this test, no other test can take it meanwhile.
    let url = "http://127.0.0.1:9/versions.toml".to_owned();
    let err = regen::run(
        &dir,
        &Options {
            manifest: Some(url.clone()),
            ..Options::default()
        },
    )
    .unwrap_err();
    assert!(
        err.starts_with(&format!("cannot fetch the manifest {url}")),
        "{err}"
    );
    assert_eq!(snapshot(&dir), before);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn check_names_each_stale_file() {
    let dir = scratch("check");
    let err = regen::run(&dir, &check()).unwrap_err();
    assert!(err.contains("crates/bsm-core/Cargo.toml is out of date; run `cargo xtask regen --offline` and commit"), "{err}");
    assert!(
        err.contains("crates/bsm-aws/Cargo.toml is out of date"),
        "{err}"
    );
    // The copies that ship in the packages are derived files too.
    regen::run(&dir, &offline()).unwrap();
    regen::run(&dir, &check()).unwrap();
    std::fs::write(dir.join("README.md"), "# bsm, edited\n").unwrap();
    std::fs::write(dir.join("crates/bsm-macros/services.toml"), "").unwrap();
    let err = regen::run(&dir, &check()).unwrap_err();
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(
        lines,
        [
            "crates/bsm-macros/services.toml is out of date; run `cargo xtask regen --offline` and commit",
            "crates/bsm-aws/README.md is out of date; run `cargo xtask regen --offline` and commit",
        ]
    );
    regen::run(&dir, &offline()).unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.join("crates/bsm-aws/README.md")).unwrap(),
        "# bsm, edited\n"
    );
    regen::run(&dir, &check()).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs regen offline on `services` and returns its error; asserts that
/// nothing was written.
fn rejected(name: &str, services: &str) -> String {
    let dir = scratch_with(name, services, "# bsm\n");
    let (before, files) = (snapshot(&dir), tree(&dir));
    let err = regen::run(&dir, &offline()).unwrap_err();
    assert_eq!(snapshot(&dir), before, "{name}: regen wrote a file");
    assert_eq!(tree(&dir), files, "{name}: regen left a file behind");
    let _ = std::fs::remove_dir_all(&dir);
    err
}

fn entry(krate: &str, feature: &str, accessor: &str, path: &str) -> String {
    format!(
        "[[service]]\ncrate = \"{krate}\"\nfeature = \"{feature}\"\naccessor = \"{accessor}\"\npath = \"{path}\"\n"
    )
}

#[test]
fn regen_rejects_each_class_the_macro_rejects() {
    let s3 = entry("aws-sdk-s3", "s3", "s3_client", "aws_sdk_s3");
    let cases = [
        (
            "prefix",
            entry("s3", "s3", "s3_client", "s3"),
            "services.toml:2:9: crate `s3` is not an `aws-sdk-*` crate",
        ),
        (
            "path",
            entry("aws-sdk-s3", "s3", "s3_client", "aws_sdk_s4"),
            "services.toml:5:8: path `aws_sdk_s4` does not match crate `aws-sdk-s3` (expected `aws_sdk_s3`)",
        ),
        (
            "keyword",
            entry("aws-sdk-s3", "s3", "type", "aws_sdk_s3"),
            "services.toml:4:12: accessor `type` is not a Rust identifier",
        ),
        (
            "feature",
            entry("aws-sdk-s3", "s3-x", "s3_client", "aws_sdk_s3"),
            "services.toml:3:11: feature `s3-x` is not a valid name (ASCII letters, digits and `_`, starting with a letter)",
        ),
        (
            "duplicate",
            format!(
                "{s3}\n{}",
                entry("aws-sdk-s3", "s3b", "s3b_client", "aws_sdk_s3")
            ),
            "services.toml:8:9: duplicate crate `aws-sdk-s3`\n\
             services.toml:11:8: duplicate path `aws_sdk_s3`",
        ),
        (
            "variant",
            format!(
                "{}\n{}",
                entry(
                    "aws-sdk-foo-bar",
                    "foo_bar",
                    "foo_bar_client",
                    "aws_sdk_foo_bar"
                ),
                entry(
                    "aws-sdk-foo--bar",
                    "foo__bar",
                    "foo__bar_client",
                    "aws_sdk_foo__bar"
                )
            ),
            "services.toml:9:11: feature `foo__bar` gives the same AwsService variant as an earlier one",
        ),
        (
            "unknown",
            format!("{s3}retierd = true\n"),
            "services.toml:6:1: unknown field `retierd`; known fields: crate, feature, accessor, path, retired, display_name, note",
        ),
    ];
    for (name, services, want) in cases {
        let err = rejected(name, &services);
        assert_eq!(err, want, "{name}");
    }
}

/// The proc macro's compile-fail cases (`crates/bsm-macros/tests/ui`), fed
/// to regen: regen reports exactly the `services.toml:LINE:COL` errors that
/// the macro's expected stderr lists, in the same order, and writes nothing.
#[test]
fn regen_reports_what_the_macro_reports() {
    let ui = Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/bsm-macros/tests/ui");
    let mut cases = 0;
    for entry in std::fs::read_dir(&ui).unwrap() {
        let rs = entry.unwrap().path();
        if rs.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let source = std::fs::read_to_string(&rs).unwrap();
        let start = source
            .find("r#\"")
            .expect("a services!(r#\"...\"#) literal")
            + 3;
        let end = start + source[start..].find("\"#").unwrap();
        let services = &source[start..end];
        let name = rs.file_stem().unwrap().to_string_lossy().into_owned();
        let dir_name = format!("ui-{name}");
        // A case whose expected errors name services.toml is one the macro
        // rejects; the others (a disabled feature's accessor called) have
        // a services.toml it accepts.
        let stderr = std::fs::read_to_string(rs.with_extension("stderr")).unwrap_or_default();
        let want: Vec<&str> = stderr
            .lines()
            .filter_map(|l| l.strip_prefix("error: services.toml:"))
            .collect();
        if want.is_empty() {
            // A services.toml the macro accepts: regen accepts it too.
            let dir = scratch_with(&dir_name, services, "# bsm\n");
            regen::run(&dir, &offline()).unwrap();
            let _ = std::fs::remove_dir_all(&dir);
        } else {
            let err = rejected(&dir_name, services);
            let got: Vec<&str> = err
                .lines()
                .filter_map(|l| l.strip_prefix("services.toml:"))
                .collect();
            assert_eq!(got, want, "{name}: {err}");
        }
        cases += 1;
    }
    assert!(
        cases >= 5,
        "only {cases} ui cases found in {}",
        ui.display()
    );
}

#[test]
fn manifest_that_would_break_the_macro_writes_nothing() {
    let dir = scratch("manifest-variant");
    let before = snapshot(&dir);
    let manifest = "[crates.aws-sdk-foo_bar]\ncategory = 'AwsSdk'\n\n[crates.aws-sdk-foo__bar]\ncategory = 'AwsSdk'\n";
    let err = regen::run(
        &dir,
        &Options {
            manifest: Some(serve_once(manifest)),
            ..Options::default()
        },
    )
    .unwrap_err();
    assert!(
        err.starts_with("services.toml as regen would write it (nothing was written):\n"),
        "{err}"
    );
    assert!(
        err.contains("feature `foo_bar` gives the same AwsService variant as an earlier one"),
        "{err}"
    );
    assert_eq!(snapshot(&dir), before);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_missing_folder_writes_nothing_and_leaves_no_temporary_file() {
    let dir = scratch("no-folder");
    std::fs::remove_dir(dir.join("crates/bsm-macros")).unwrap();
    let (before, files) = (snapshot(&dir), tree(&dir));
    let err = regen::run(&dir, &offline()).unwrap_err();
    assert!(
        err.starts_with(&format!(
            "cannot write {}",
            dir.join("crates/bsm-macros/services.toml").display()
        )),
        "{err}"
    );
    assert_eq!(snapshot(&dir), before);
    assert_eq!(tree(&dir), files);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `n` services, enough to pass crates.io's cap of 300 features.
fn many_services(n: usize) -> String {
    (0..n)
        .map(|i| {
            entry(
                &format!("aws-sdk-svc{i:03}"),
                &format!("svc{i:03}"),
                &format!("svc{i:03}_client"),
                &format!("aws_sdk_svc{i:03}"),
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn crates_io_caps_fail_unless_the_readme_documents_them() {
    // 300 services: 303 features (with `credential-server`,
    // `credentials-login` and `keychain`), 300 optional dependencies plus
    // none by hand.
    let dir = scratch_with("caps", &many_services(300), "# bsm\n");
    let (before, files) = (snapshot(&dir), tree(&dir));
    let err = regen::run(&dir, &offline()).unwrap_err();
    assert!(
        err.starts_with("crates.io would refuse to publish:\n"),
        "{err}"
    );
    assert!(
        err.contains(
            "  bsm-core: 303 features (cap 300: 3 over), 300 dependencies (cap 500: 200 left)\n"
        ),
        "{err}"
    );
    assert!(
        err.contains(
            "  bsm-aws: 303 features (cap 300: 3 over), 0 dependencies (cap 500: 500 left)\n"
        ),
        "{err}"
    );
    assert!(err.contains(LIMITS_MARKER), "{err}");
    assert_eq!(snapshot(&dir), before, "regen wrote past a cap");
    assert_eq!(tree(&dir), files);
    let err = regen::run(&dir, &check()).unwrap_err();
    assert!(err.contains("crates.io would refuse to publish"), "{err}");

    // With the marker line in README.md the caps are known: regen writes,
    // and --check passes.
    let readme = format!("# bsm\n\n## crates.io limits\n\n  {LIMITS_MARKER}\n");
    std::fs::write(dir.join("README.md"), &readme).unwrap();
    regen::run(&dir, &offline()).unwrap();
    regen::run(&dir, &check()).unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.join("crates/bsm-aws/README.md")).unwrap(),
        readme
    );

    // The marker must be a line of its own, not a mention in prose.
    std::fs::write(
        dir.join("README.md"),
        format!("# bsm\nsee {LIMITS_MARKER}\n"),
    )
    .unwrap();
    let err = regen::run(&dir, &check()).unwrap_err();
    assert!(err.contains("crates.io would refuse to publish"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn under_the_caps_no_marker_is_needed() {
    // 297 services, `credential-server`, `credentials-login` and
    // `keychain`: exactly 300 features.
    let dir = scratch_with("under-caps", &many_services(297), "# bsm\n");
    regen::run(&dir, &offline()).unwrap();
    regen::run(&dir, &check()).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
