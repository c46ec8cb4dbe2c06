//! The steps of `cargo xtask test` that look at bsm the way docs.rs and
//! crates.io will: the docs built as docs.rs builds them, and the packages
//! built from their `.crate` files. The rest of the suite (fmt, clippy, the
//! tests) lives in main.rs.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::{cargo, root, run};

/// The published packages whose docs docs.rs builds.
const DOCUMENTED: &[&str] = &["bsm-core", "bsm-aws"];

/// What docs.rs must show: the `SessionManager` pages of bsm-core and of the
/// facade (whose items are bsm-core's, inlined by `pub use bsm_core::*`), each
/// with the feature badge on a feature-gated accessor, as rustdoc 1.95 writes it.
const BADGE_PAGES: &[&str] = &[
    "doc/bsm_core/struct.SessionManager.html",
    "doc/bsm/struct.SessionManager.html",
];
const BADGE_METHOD: &str = "s3_client";
const BADGE: &str = "Available on <strong>crate feature <code>s3</code></strong> only.";

/// Where the docs.rs build goes. Not `target/`: it runs with
/// `RUSTC_BOOTSTRAP=1`, which build scripts such as proc-macro2's
/// watch (`rerun-if-env-changed`); sharing a folder with the main build would
/// flip their output on every switch and rebuild everything above them.
pub const DOCS_TARGET: &str = "target/docsrs";

/// `[package.metadata.docs.rs]`: the subset bsm uses.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
struct DocsRs {
    features: Vec<String>,
    all_features: bool,
    no_default_features: bool,
    rustdoc_args: Vec<String>,
}

fn docs_rs_metadata(manifest: &Path) -> Result<DocsRs, String> {
    let text = std::fs::read_to_string(manifest)
        .map_err(|e| format!("cannot read {}: {e}", manifest.display()))?;
    let table: toml::Table =
        toml::from_str(&text).map_err(|e| format!("{}: {e}", manifest.display()))?;
    let Some(meta) = table
        .get("package")
        .and_then(|p| p.get("metadata"))
        .and_then(|m| m.get("docs"))
        .and_then(|d| d.get("rs"))
    else {
        return Ok(DocsRs::default());
    };
    meta.clone()
        .try_into()
        .map_err(|e| format!("{}: [package.metadata.docs.rs]: {e}", manifest.display()))
}

/// The docs of bsm-core and bsm-aws as docs.rs builds them: the features from
/// `[package.metadata.docs.rs]`, `--cfg docsrs` with a nightly-enabled
/// rustdoc, `DOCS_RS=1`; every rustdoc warning is an error. Then both
/// `SessionManager` pages must show the feature badge that `doc(cfg)` promises.
pub fn docs_rs() -> Result<(), String> {
    let root = root();
    for package in DOCUMENTED {
        let meta = docs_rs_metadata(&root.join("crates").join(package).join("Cargo.toml"))?;
        let mut flags = meta.rustdoc_args.clone();
        // docs.rs passes `--cfg docsrs` whether the crate asks for it or not.
        if !flags.windows(2).any(|w| w == ["--cfg", "docsrs"]) {
            flags.splice(0..0, ["--cfg".to_owned(), "docsrs".to_owned()]);
        }
        flags.extend(["-D".to_owned(), "warnings".to_owned()]);
        let mut cmd = cargo();
        cmd.args(["doc", "--package", package, "--no-deps", "--target-dir"])
            .arg(root.join(DOCS_TARGET));
        if meta.all_features {
            cmd.arg("--all-features");
        }
        if meta.no_default_features {
            cmd.arg("--no-default-features");
        }
        if !meta.features.is_empty() {
            cmd.args(["--features", &meta.features.join(",")]);
        }
        cmd.env("RUSTC_BOOTSTRAP", "1")
            .env("RUSTDOCFLAGS", flags.join(" "))
            .env("DOCS_RS", "1");
        run(cmd)?;
    }
    for page in BADGE_PAGES {
        check_badge(&root.join(DOCS_TARGET).join(page))?;
    }
    Ok(())
}

/// The section of `page` that documents `BADGE_METHOD` carries the badge.
fn check_badge(page: &Path) -> Result<(), String> {
    let html = std::fs::read_to_string(page)
        .map_err(|e| format!("docs.rs check: cannot read {}: {e}", page.display()))?;
    let anchor = format!("id=\"method.{BADGE_METHOD}\"");
    let Some(start) = html.find(&anchor) else {
        return Err(format!(
            "docs.rs check: {} does not document `{BADGE_METHOD}`",
            page.display()
        ));
    };
    let rest = &html[start + anchor.len()..];
    let section = &rest[..rest.find("id=\"method.").unwrap_or(rest.len())];
    if section.contains(BADGE) {
        println!(
            "docs.rs check: `{BADGE_METHOD}` in {} shows the feature badge",
            page.display()
        );
        Ok(())
    } else {
        Err(format!(
            "docs.rs check: `{BADGE_METHOD}` in {} lacks the feature badge `{BADGE}`; \
             the accessors need `#[cfg_attr(docsrs, doc(cfg(feature = \"...\")))]` and the \
             crate root `#![cfg_attr(docsrs, feature(doc_cfg))]`",
            page.display()
        ))
    }
}

/// Every published package packaged and built from its `.crate` file, the
/// way `cargo publish` checks it; the path-only test crates are left out.
///
/// Cargo builds each `.crate` in the workspace's `target/` (since cargo
/// 1.91), so the SDK crates the workspace has already built are reused, on
/// two conditions this function sees to: the workspace's dev profile is
/// passed in (see [`dev_profile_as_config`]), and what an earlier run left of
/// bsm's own packages is dropped (see [`forget_earlier_runs`]). What is
/// still compiled is what the packages need with other features than the
/// whole workspace unifies (hyper, the smithy runtime, aws-config, the STS,
/// SSO and IAM clients), once; after that a run rebuilds bsm's crates only.
/// The verification of bsm-cli re-links `target/debug/bsm`; the next build
/// of the workspace links it back.
pub fn package() -> Result<(), String> {
    let root = root();
    let mut cmd = cargo();
    cmd.args([
        "package",
        "--workspace",
        "--exclude",
        "xtask",
        "--exclude",
        "bsm-tests",
        // The suite runs on work in progress; nothing is uploaded.
        "--allow-dirty",
    ]);
    cmd.args(dev_profile_as_config(&root.join("Cargo.toml"))?);
    forget_earlier_runs(&packed(&root)?)?;
    run(cmd)
}

/// A package that `cargo package` packs: every member under `crates/` that
/// is published.
#[derive(Debug, PartialEq, Eq)]
struct Packed {
    name: String,
    version: String,
    /// The crate name of its library (`bsm` for bsm-aws).
    lib: String,
}

fn packed(root: &Path) -> Result<Vec<Packed>, String> {
    let read = |path: &Path| -> Result<toml::Table, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
    };
    let workspace = read(&root.join("Cargo.toml"))?;
    let workspace_version = workspace
        .get("workspace")
        .and_then(|w| w.get("package"))
        .and_then(|p| p.get("version"))
        .and_then(toml::Value::as_str);
    let dir = root.join("crates");
    let mut out = Vec::new();
    for entry in
        std::fs::read_dir(&dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?
    {
        let manifest = entry.map_err(|e| e.to_string())?.path().join("Cargo.toml");
        if !manifest.exists() {
            continue;
        }
        let table = read(&manifest)?;
        let package = table.get("package").and_then(toml::Value::as_table);
        let field = |key: &str| package.and_then(|p| p.get(key));
        if field("publish").and_then(toml::Value::as_bool) == Some(false) {
            continue;
        }
        let name = field("name").and_then(toml::Value::as_str);
        let version = match field("version") {
            Some(toml::Value::String(v)) => Some(v.as_str()),
            Some(_) => workspace_version,
            None => None,
        };
        let (Some(name), Some(version)) = (name, version) else {
            return Err(format!(
                "{}: no package name or version",
                manifest.display()
            ));
        };
        let lib = table
            .get("lib")
            .and_then(|l| l.get("name"))
            .and_then(toml::Value::as_str)
            .map_or_else(|| name.replace('-', "_"), ToOwned::to_owned);
        out.push(Packed {
            name: name.to_owned(),
            version: version.to_owned(),
            lib,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Drops what earlier runs left of the packages as registry crates.
///
/// A package is verified against the others through a temporary registry
/// that stands in for crates.io, and cargo takes a registry crate's version
/// to be immutable: the sources an earlier run unpacked
/// (`$CARGO_HOME/registry/src/*/NAME-VERSION`) are not unpacked again, and
/// the library compiled from them (its fingerprint lists no source file) is
/// never rebuilt. Without this, bsm-aws and bsm-cli would be verified
/// against the bsm-core of the first run, whatever bsm-core is now. Only
/// these libraries are removed, found by the sources their rustc dep-info
/// names; the workspace's own builds of the same crates stay.
fn forget_earlier_runs(packed: &[Packed]) -> Result<(), String> {
    let cargo_home = std::env::var_os("CARGO_HOME").map_or_else(
        || Path::new(&std::env::var_os("HOME").unwrap_or_default()).join(".cargo"),
        PathBuf::from,
    );
    forget(&cargo_home, &crate::target_dir(), packed)
}

fn forget(cargo_home: &Path, target: &Path, packed: &[Packed]) -> Result<(), String> {
    let unpacked = cargo_home.join("registry/src");
    for registry in std::fs::read_dir(&unpacked).into_iter().flatten().flatten() {
        for p in packed {
            let dir = registry.path().join(format!("{}-{}", p.name, p.version));
            if dir.is_dir() {
                std::fs::remove_dir_all(&dir)
                    .map_err(|e| format!("cannot remove {}: {e}", dir.display()))?;
            }
        }
    }
    let deps = target.join("debug/deps");
    let files: Vec<String> = std::fs::read_dir(&deps)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    // rustc writes each unit's dep-info as `deps/CRATE-HASH.d`.
    for (d, stem) in files
        .iter()
        .filter_map(|f| Some((f, f.strip_suffix(".d")?)))
    {
        let Some(p) = packed.iter().find(|p| {
            stem.strip_prefix(&p.lib)
                .and_then(|rest| rest.strip_prefix('-'))
                .is_some_and(|hash| hash.chars().all(|c| c.is_ascii_hexdigit()))
        }) else {
            continue;
        };
        let sources = std::fs::read_to_string(deps.join(d)).unwrap_or_default();
        let first = sources.lines().next().unwrap_or_default();
        if !(first.contains("registry/src")
            && first.contains(&format!("/{}-{}/", p.name, p.version)))
        {
            continue;
        }
        for f in &files {
            let unprefixed = f.strip_prefix("lib").unwrap_or(f);
            if unprefixed == stem
                || unprefixed
                    .strip_prefix(stem)
                    .is_some_and(|ext| ext.starts_with('.'))
            {
                std::fs::remove_file(deps.join(f))
                    .map_err(|e| format!("cannot remove {}: {e}", deps.join(f).display()))?;
            }
        }
    }
    Ok(())
}

/// The workspace's `[profile.dev]` as `--config` arguments.
///
/// Cargo verifies each package in an ephemeral workspace whose root is the
/// unpacked `.crate`: it builds into the workspace's `target/`, but without the
/// root manifest's `[profile]`, so every dependency would be built with full
/// debug info under a different hash than the one the workspace's own builds
/// left there. Profiles given as configuration reach every build.
fn dev_profile_as_config(manifest: &Path) -> Result<Vec<String>, String> {
    let text = std::fs::read_to_string(manifest)
        .map_err(|e| format!("cannot read {}: {e}", manifest.display()))?;
    let table: toml::Table =
        toml::from_str(&text).map_err(|e| format!("{}: {e}", manifest.display()))?;
    let mut out = Vec::new();
    if let Some(dev) = table
        .get("profile")
        .and_then(|p| p.get("dev"))
        .and_then(toml::Value::as_table)
    {
        flatten(
            &mut vec!["profile".to_owned(), "dev".to_owned()],
            dev,
            &mut out,
        );
    }
    Ok(out)
}

/// `--config a.b."c".d=VALUE` for every leaf of `table`.
fn flatten(prefix: &mut Vec<String>, table: &toml::Table, out: &mut Vec<String>) {
    for (key, value) in table {
        let bare = !key.is_empty()
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        prefix.push(if bare {
            key.clone()
        } else {
            format!("{key:?}")
        });
        if let Some(inner) = value.as_table() {
            flatten(prefix, inner, out);
        } else {
            out.push("--config".to_owned());
            out.push(format!("{}={}", prefix.join("."), literal(value)));
        }
        prefix.pop();
    }
}

/// A profile value written as TOML (strings, numbers, booleans and arrays of
/// them are all a profile holds).
fn literal(value: &toml::Value) -> String {
    match value {
        toml::Value::String(s) => format!("{s:?}"),
        toml::Value::Array(items) => {
            let items: Vec<String> = items.iter().map(literal).collect();
            format!("[{}]", items.join(", "))
        }
        toml::Value::Table(_) => unreachable!("tables are flattened"),
        toml::Value::Integer(n) => n.to_string(),
        toml::Value::Float(x) => x.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        toml::Value::Datetime(d) => d.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_profile_becomes_config() {
        let dir = std::env::temp_dir().join(format!("bsm-profile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let manifest = dir.join("Cargo.toml");
        std::fs::write(
            &manifest,
            "[workspace]\n[profile.dev]\ndebug = \"line-tables-only\"\n\
             [profile.dev.package.\"*\"]\ndebug = false\nopt-level = 1\n\
             [profile.test.package.\"*\"]\ndebug = false\n",
        )
        .unwrap();
        assert_eq!(
            dev_profile_as_config(&manifest).unwrap(),
            [
                "--config",
                "profile.dev.debug=\"line-tables-only\"",
                "--config",
                "profile.dev.package.\"*\".debug=false",
                "--config",
                "profile.dev.package.\"*\".opt-level=1",
            ]
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn packed_are_the_published_members() {
        let names: Vec<String> = packed(&root())
            .unwrap()
            .into_iter()
            .map(|p| p.name)
            .collect();
        assert!(names.iter().any(|n| n == "bsm-core"), "{names:?}");
        assert!(names.iter().any(|n| n == "bsm-aws"), "{names:?}");
        assert!(
            !names.iter().any(|n| n == "bsm-tests" || n == "xtask"),
            "{names:?}"
        );
        let facade = packed(&root())
            .unwrap()
            .into_iter()
            .find(|p| p.name == "bsm-aws")
            .unwrap();
        assert_eq!(facade.lib, "bsm");
    }

    #[test]
    fn earlier_registry_builds_are_forgotten_and_workspace_builds_kept() {
        let dir = std::env::temp_dir().join(format!("bsm-forget-{}", std::process::id()));
        let home = dir.join("cargo-home");
        let unpacked = home.join("registry/src/-0123/bsm-core-0.1.0");
        let deps = dir.join("target/debug/deps");
        std::fs::create_dir_all(&unpacked).unwrap();
        std::fs::create_dir_all(&deps).unwrap();
        let registry_build = format!(
            "{}: {}/src/lib.rs\n",
            deps.join("bsm_core-aaaa.d").display(),
            unpacked.display()
        );
        let workspace_build = format!("{}: src/lib.rs\n", deps.join("bsm_core-bbbb.d").display());
        for (name, text) in [
            ("bsm_core-aaaa.d", registry_build.as_str()),
            ("libbsm_core-aaaa.rlib", ""),
            ("libbsm_core-aaaa.rmeta", ""),
            ("bsm_core-bbbb.d", workspace_build.as_str()),
            ("libbsm_core-bbbb.rlib", ""),
            ("bsm_core_extra-aaaa.d", registry_build.as_str()),
        ] {
            std::fs::write(deps.join(name), text).unwrap();
        }
        let packed = [Packed {
            name: "bsm-core".to_owned(),
            version: "0.1.0".to_owned(),
            lib: "bsm_core".to_owned(),
        }];
        forget(&home, &dir.join("target"), &packed).unwrap();
        assert!(!unpacked.exists());
        assert_eq!(
            crate::sorted_names(&deps),
            [
                "bsm_core-bbbb.d",
                "bsm_core_extra-aaaa.d",
                "libbsm_core-bbbb.rlib"
            ]
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn docs_rs_metadata_of_the_published_crates() {
        for package in DOCUMENTED {
            let manifest = root().join("crates").join(package).join("Cargo.toml");
            let meta = docs_rs_metadata(&manifest).unwrap();
            assert!(
                meta.features.iter().any(|f| f == "s3"),
                "{package}: {meta:?}"
            );
        }
    }

    #[test]
    fn badge_is_looked_for_in_the_method_section() {
        let dir = std::env::temp_dir().join(format!("bsm-badge-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let page = dir.join("page.html");
        let with = format!(
            "<section id=\"method.s3_client\"></section><div class=\"stab portability\">{BADGE}</div>\
             <section id=\"method.sqs_client\">"
        );
        std::fs::write(&page, &with).unwrap();
        check_badge(&page).unwrap();
        let elsewhere = format!(
            "<section id=\"method.s3_client\"></section><section id=\"method.sqs_client\">{BADGE}"
        );
        std::fs::write(&page, &elsewhere).unwrap();
        let err = check_badge(&page).unwrap_err();
        assert!(err.contains("lacks the feature badge"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
