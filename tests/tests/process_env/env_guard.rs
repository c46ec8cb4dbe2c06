//! The scoped process-environment guard: it sets the variables and restores
//! them, also when the scope panics.

use std::ffi::OsString;

#[test]
fn the_guard_sets_and_restores_the_environment_also_on_panic() {
    let _turn = crate::exclusive();
    let env = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            bsm::SessionManager::builder()
                .credentials(
                    "AKIAGUARD00000000001",
                    "guard-secret",
                    Some("guard-token".into()),
                )
                .region("eu-central-1")
                .build()
                .await
                .unwrap()
                .aws_cli_env()
                .await
                .unwrap()
        });
    // SAFETY: this test holds the binary's turn (`crate::exclusive`), so no
    // other thread reads the environment; the runtime above is gone.
    unsafe {
        std::env::set_var("AWS_PROFILE", "before");
        std::env::remove_var("AWS_ACCESS_KEY_ID");
        std::env::set_var("AWS_REGION", "us-west-1");
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "previous-secret-value");
    }
    let before: Vec<(&str, Option<OsString>)> = bsm::MANAGED_VARS
        .iter()
        .map(|k| (*k, std::env::var_os(k)))
        .collect();
    {
        // SAFETY: as above.
        let guard = unsafe { env.set_in_process() };
        let debug = format!("{guard:?}");
        assert!(!debug.contains("previous-secret-value"), "{debug}");
        assert!(
            debug.contains("us-west-1"),
            "the guard shows what it will restore: {debug}"
        );
        assert_eq!(
            std::env::var("AWS_ACCESS_KEY_ID").as_deref(),
            Ok("AKIAGUARD00000000001")
        );
        assert_eq!(
            std::env::var("AWS_SESSION_TOKEN").as_deref(),
            Ok("guard-token")
        );
        assert_eq!(
            std::env::var("AWS_DEFAULT_REGION").as_deref(),
            Ok("eu-central-1")
        );
        assert!(std::env::var_os("AWS_PROFILE").is_none());
    }
    let after: Vec<_> = bsm::MANAGED_VARS
        .iter()
        .map(|k| (*k, std::env::var_os(k)))
        .collect();
    assert_eq!(
        after, before,
        "every variable restored, absent ones removed"
    );

    let result = std::panic::catch_unwind(|| {
        // SAFETY: as above.
        let _guard = unsafe { env.set_in_process() };
        panic!("boom while the variables are set");
    });
    assert!(result.is_err());
    let after_panic: Vec<_> = bsm::MANAGED_VARS
        .iter()
        .map(|k| (*k, std::env::var_os(k)))
        .collect();
    assert_eq!(after_panic, before, "restored during the unwind");
}
