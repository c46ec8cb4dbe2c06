//! The library's keychain (`bsm::keychain`) in each real Linux store: this
//! binary's own Secret Service (its bus address goes into this process's
//! environment, hence this binary) and the kernel's keyutils. Keys put,
//! listed, read back by a second handle on the store, used through
//! `credentials_provider` against moto (the request signed with the stored
//! key, counted at the proxy), and removed.

use bsm::SessionManager;
use bsm::keychain::{Backend, KeyStore, StoredKeys};
use bsm_tests::keyring::secret_service;
use bsm_tests::sources::iam_user;
use bsm_tests::{Proxy, moto, unique};

fn each_store(backend: Backend) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let user = rt.block_on(iam_user("library-keys"));
    let name = unique("library-keys");
    let store = KeyStore::open(backend).unwrap();
    assert_eq!(store.backend(), backend.name());
    store
        .put(&name, &StoredKeys::new(&user.key_id, &user.secret).unwrap())
        .unwrap();
    // A second handle, as another process would open it.
    let again = KeyStore::open(backend).unwrap();
    assert!(again.names().unwrap().contains(&name));
    assert_eq!(again.get(&name).unwrap().access_key_id(), user.key_id);

    let proxy = rt.block_on(async { Proxy::start(moto().addr()) });
    let arn = rt.block_on(async {
        let bsm = SessionManager::builder()
            .credentials_provider(again.provider(&name))
            .region("us-east-1")
            .endpoint_url(proxy.endpoint())
            .build()
            .await
            .unwrap();
        bsm.identity().await.unwrap().arn
    });
    assert_eq!(arn, user.arn);
    let signed = proxy.requests();
    assert_eq!(signed.len(), 1, "{signed:?}");
    assert!(
        signed[0]
            .header("authorization")
            .is_some_and(|a| a.contains(&format!("Credential={}/", user.key_id))),
        "{signed:?}"
    );

    store.remove(&name).unwrap();
    assert!(!again.names().unwrap().contains(&name));
    let err = again.get(&name).unwrap_err();
    assert!(
        matches!(
            err,
            bsm::Error::Keychain {
                kind: bsm::KeychainErrorKind::NotFound,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn the_library_keeps_keys_in_the_secret_service() {
    let _turn = crate::exclusive();
    let bus = secret_service().bus().to_owned();
    // SAFETY: this test holds the binary's turn (`crate::exclusive`), so no
    // other thread reads the environment; no runtime runs yet.
    unsafe {
        std::env::set_var("DBUS_SESSION_BUS_ADDRESS", bus);
    }
    each_store(Backend::SecretService);
    // With a Secret Service answering, it is the one chosen.
    // SAFETY: as above.
    unsafe {
        std::env::remove_var("BSM_KEYCHAIN");
    }
    assert_eq!(Backend::choose().unwrap(), Backend::SecretService);
}

#[test]
fn the_library_keeps_keys_in_keyutils() {
    let _turn = crate::exclusive();
    // SAFETY: this test holds the binary's turn (`crate::exclusive`), so no
    // other thread reads the environment; no runtime runs yet.
    unsafe {
        std::env::remove_var("DBUS_SESSION_BUS_ADDRESS");
        std::env::remove_var("BSM_KEYCHAIN");
    }
    // With no session bus, keyutils is the one chosen.
    assert_eq!(Backend::choose().unwrap(), Backend::Keyutils);
    each_store(Backend::Keyutils);
}
