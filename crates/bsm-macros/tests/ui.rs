//! Compile-fail tests: each bad services.toml gives a `compile_error!`
//! naming `services.toml:LINE:COL` and the problem, and the accessor of a
//! service whose feature is off names the feature. Refresh the expected
//! output with `TRYBUILD=overwrite cargo test -p bsm-macros` and review the diff.

#[test]
fn ui() {
    // trybuild's cargo compiles the cases with rustc, whatever compiled this
    // test: `cargo xtask test` builds the workspace with clippy's driver as
    // its compiler wrapper, which writes paths in full
    // (`feature_off::sqs`), so the expected messages would not match.
    // SAFETY: this binary's only test, before trybuild starts; no other
    // thread reads the environment.
    unsafe {
        std::env::remove_var("RUSTC_WORKSPACE_WRAPPER");
        std::env::remove_var("CLIPPY_ARGS");
    }
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/ok.rs");
    t.compile_fail("tests/ui/syntax_error.rs");
    t.compile_fail("tests/ui/duplicate.rs");
    t.compile_fail("tests/ui/invalid_ident.rs");
    t.compile_fail("tests/ui/missing_field.rs");
    t.compile_fail("tests/ui/feature_off.rs");
}
