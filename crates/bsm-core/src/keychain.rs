//! Source keys (an IAM user's long-lived access key) kept in the OS
//! credential store instead of `~/.aws/credentials` (feature `keychain`):
//! [`KeyStore`], the [`StoredKeys`] of one name, and
//! [`KeychainCredentialsProvider`], the store as a credentials provider.
//!
//! # Which store
//!
//! Through the keyring family of crates (`keyring-core` and one store crate
//! per platform). [`Backend::choose`] picks, in this order:
//! 1. the one `BSM_KEYCHAIN` names (`secret-service`, `keyutils`,
//!    `keychain`, `credential-manager`);
//! 2. macOS: the login Keychain; Windows: the Credential Manager;
//! 3. Linux: the Secret Service (GNOME Keyring, `KWallet`, `KeePassXC`) when
//!    one answers on the session bus, else the kernel's keyutils.
//!
//! A name lives in one store: keys added under the Secret Service are not
//! seen through keyutils. Each name is one entry (service `bsm`, user the
//! name) whose value is a small JSON object; an index entry (user
//! `.bsm-names`) lists the names, since keyutils cannot be searched.
//!
//! # What a store protects against
//!
//! The secret is never in a file bsm writes, in argv, or in a log. The
//! Secret Service and the Keychain keep it encrypted on disk under the
//! login password: a stolen disk or backup, or a process reading
//! `~/.aws/credentials`, gets nothing. Any process running as the same user
//! while the store is unlocked can ask for it, as it can read your files;
//! the Keychain asks before another program reads it. keyutils keeps it in
//! kernel memory only: safe from the disk, lost at reboot, and dropped when
//! the user's persistent keyring expires (`/proc/sys/kernel/keys/persistent_keyring_expiry`,
//! three days unused by default).

use std::sync::{Arc, Mutex};

use aws_credential_types::provider::{self, ProvideCredentials, error::CredentialsError};
use keyring_core::{CredentialStore, Entry};

use crate::error::{BoxError, Error, Input, KeychainErrorKind, Result};
pub use crate::stored_keys::StoredKeys;

/// The entries' service: every name bsm stores is `bsm`/NAME.
const SERVICE: &str = "bsm";
/// The index entry's user: not a valid name (names start with a letter or
/// a digit), so no keys can take its place.
const INDEX: &str = ".bsm-names";
/// The longest name, value, and list bsm accepts.
const MAX_NAME: usize = 64;

/// An OS credential store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Backend {
    /// The freedesktop Secret Service on the D-Bus session bus (GNOME
    /// Keyring, `KWallet`, `KeePassXC`): encrypted on disk, unlocked at login.
    SecretService,
    /// The Linux kernel's key retention service, the user's persistent
    /// keyring: in memory only.
    Keyutils,
    /// The macOS login Keychain.
    Keychain,
    /// The Windows Credential Manager.
    CredentialManager,
}

impl Backend {
    /// Every backend, in the order of their names.
    pub const ALL: [Backend; 4] = [
        Backend::SecretService,
        Backend::Keyutils,
        Backend::Keychain,
        Backend::CredentialManager,
    ];

    /// `secret-service`, `keyutils`, `keychain`, `credential-manager`: the
    /// names `BSM_KEYCHAIN` and `--keychain` take.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Backend::SecretService => "secret-service",
            Backend::Keyutils => "keyutils",
            Backend::Keychain => "keychain",
            Backend::CredentialManager => "credential-manager",
        }
    }

    /// The backend `BSM_KEYCHAIN` names, else this platform's (on Linux
    /// the Secret Service when one answers on the session bus, else
    /// keyutils).
    ///
    /// Fails with [`Error::InvalidInput`] ([`Input::KeychainBackend`]) for
    /// a name that is none of [`Backend::ALL`].
    pub fn choose() -> Result<Backend> {
        match std::env::var("BSM_KEYCHAIN") {
            Ok(name) if !name.is_empty() => name.parse(),
            _ => Ok(Self::platform_default()),
        }
    }

    #[cfg(target_os = "macos")]
    fn platform_default() -> Backend {
        Backend::Keychain
    }

    #[cfg(windows)]
    fn platform_default() -> Backend {
        Backend::CredentialManager
    }

    #[cfg(target_os = "linux")]
    fn platform_default() -> Backend {
        if secret_service_answers() {
            Backend::SecretService
        } else {
            Backend::Keyutils
        }
    }

    #[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
    fn platform_default() -> Backend {
        Backend::SecretService
    }
}

/// Whether a Secret Service answers: a session bus is named, and a lookup
/// there gets an answer (an empty one is an answer).
#[cfg(target_os = "linux")]
fn secret_service_answers() -> bool {
    // Connecting opens a session with the service: it fails when no bus
    // or no service is there. A locked keyring still answers (its error
    // comes with the first read or write, naming it).
    std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some()
        && matches!(shared_store(Backend::SecretService), Ok(Some(_)))
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Backend {
    type Err = Error;

    fn from_str(s: &str) -> Result<Backend> {
        Backend::ALL
            .into_iter()
            .find(|b| b.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Backend::ALL.iter().map(|b| b.name()).collect();
                Error::invalid(
                    Input::KeychainBackend,
                    s.escape_debug().to_string(),
                    format!("expected one of {}", names.join(", ")),
                )
            })
    }
}

/// Checks a name keys are stored under: 1 to 64 characters, letters,
/// digits and `-_.@+=,`, starting with a letter or a digit.
pub fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME
        && name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.@+=,".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            Input::KeysName,
            name.escape_debug().to_string(),
            "a name is 1 to 64 letters, digits and -_.@+=, starting with a letter or a digit",
        ))
    }
}

/// A handle on an OS credential store holding source keys by name. Cheap
/// to clone; the store's calls block (run them off an async runtime's
/// threads, as [`KeychainCredentialsProvider`] does).
///
/// ```no_run
/// # fn main() -> bsm_core::Result<()> {
/// use bsm_core::keychain::{KeyStore, StoredKeys};
/// let store = KeyStore::open_default()?;
/// store.put("dev", &StoredKeys::new("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")?)?;
/// for name in store.names()? {
///     println!("{name}: {}", store.get(&name)?.masked_access_key_id());
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct KeyStore {
    store: Arc<CredentialStore>,
    backend: String,
    /// One writer of the index at a time in this process.
    index_lock: Arc<Mutex<()>>,
}

impl std::fmt::Debug for KeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyStore")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

impl KeyStore {
    /// The store [`Backend::choose`] picks.
    pub fn open_default() -> Result<Self> {
        Self::open(Backend::choose()?)
    }

    /// The given store. Fails with [`Error::Keychain`]
    /// ([`KeychainErrorKind::Unavailable`]) when it is not built for this
    /// platform or cannot be set up.
    pub fn open(backend: Backend) -> Result<Self> {
        let unavailable = |source: BoxError| Error::Keychain {
            backend: backend.name().to_owned(),
            name: None,
            kind: KeychainErrorKind::Unavailable,
            source,
        };
        let store = shared_store(backend).map_err(|e| unavailable(store_failure(&e).into()))?;
        let store = store.ok_or_else(|| unavailable("not built for this platform".into()))?;
        Ok(Self::with_name(store, backend.name().to_owned()))
    }

    /// Any keyring-core store: another crate's, or keyring-core's mock
    /// store in tests. Its vendor string names it in errors.
    #[must_use]
    pub fn from_store(store: Arc<CredentialStore>) -> Self {
        let vendor = store.vendor();
        Self::with_name(store, vendor)
    }

    fn with_name(store: Arc<CredentialStore>, backend: String) -> Self {
        KeyStore {
            store,
            backend,
            index_lock: Arc::new(Mutex::new(())),
        }
    }

    /// The store's name (`secret-service`, `keyutils`, ...).
    #[must_use]
    pub fn backend(&self) -> &str {
        &self.backend
    }

    /// The keys stored under `name`; [`KeychainErrorKind::NotFound`] when
    /// there are none.
    pub fn get(&self, name: &str) -> Result<StoredKeys> {
        check_name(name)?;
        let text = self
            .entry(name)?
            .get_password()
            .map_err(|e| self.error(Some(name), &e))?;
        StoredKeys::from_json(&text).map_err(|why| Error::Keychain {
            backend: self.backend.clone(),
            name: Some(name.to_owned()),
            kind: KeychainErrorKind::Malformed,
            source: why.into(),
        })
    }

    /// Stores `keys` under `name`, replacing what was there, and lists the
    /// name.
    ///
    /// Only a failed write of the keys is an error: once they are stored,
    /// a failure to list the name is a warning (`get` and `--keys` find
    /// them; the next `put` lists them), so a caller never takes stored
    /// keys for lost.
    pub fn put(&self, name: &str, keys: &StoredKeys) -> Result<()> {
        check_name(name)?;
        self.entry(name)?
            .set_password(&keys.to_json())
            .map_err(|e| self.error(Some(name), &e))?;
        let listed = self.update_index(|names| {
            if !names.iter().any(|n| n == name) {
                names.push(name.to_owned());
            }
        });
        if let Err(e) = listed {
            tracing::warn!("keys `{name}` are stored, but not listed: {e}");
        }
        Ok(())
    }

    /// Removes the keys stored under `name` (from the store only: the key
    /// stays active at IAM); [`KeychainErrorKind::NotFound`] when there are
    /// none.
    pub fn remove(&self, name: &str) -> Result<()> {
        check_name(name)?;
        let gone = self.entry(name)?.delete_credential();
        // The name leaves the list only when the keys are gone (deleted
        // now, or before): keys that could not be deleted stay listed.
        if matches!(gone, Ok(()) | Err(keyring_core::Error::NoEntry)) {
            self.update_index(|names| names.retain(|n| n != name))?;
        }
        gone.map_err(|e| self.error(Some(name), &e))
    }

    /// The names keys are stored under, sorted.
    pub fn names(&self) -> Result<Vec<String>> {
        let mut names = self.read_index()?;
        names.sort();
        Ok(names)
    }

    /// The keys of `name` as a credentials provider, read from the store
    /// at each call.
    #[must_use]
    pub fn provider(&self, name: &str) -> KeychainCredentialsProvider {
        KeychainCredentialsProvider {
            store: self.clone(),
            name: name.to_owned(),
        }
    }

    fn entry(&self, user: &str) -> Result<Entry> {
        Entry::new_in_store(&self.store, SERVICE, user).map_err(|e| self.error(Some(user), &e))
    }

    fn read_index(&self) -> Result<Vec<String>> {
        match self.entry(INDEX)?.get_password() {
            Ok(text) => Ok(text
                .lines()
                .filter(|n| check_name(n).is_ok())
                .map(str::to_owned)
                .collect()),
            Err(keyring_core::Error::NoEntry) => Ok(Vec::new()),
            Err(e) => Err(self.error(None, &e)),
        }
    }

    fn update_index(&self, change: impl FnOnce(&mut Vec<String>)) -> Result<()> {
        let _turn = crate::sync::lock(&self.index_lock);
        let mut names = self.read_index()?;
        let before = names.clone();
        change(&mut names);
        if names == before {
            return Ok(());
        }
        let entry = self.entry(INDEX)?;
        let written = if names.is_empty() {
            entry.delete_credential()
        } else {
            entry.set_password(&names.join("\n"))
        };
        written.map_err(|e| self.error(None, &e))
    }

    fn error(&self, name: Option<&str>, e: &keyring_core::Error) -> Error {
        use keyring_core::Error as K;
        let kind = match e {
            K::NoEntry => KeychainErrorKind::NotFound,
            K::NoStorageAccess(_) => KeychainErrorKind::NoAccess,
            K::NoDefaultStore | K::NotSupportedByStore(_) => KeychainErrorKind::Unavailable,
            K::BadEncoding(_) | K::BadDataFormat(..) => KeychainErrorKind::Malformed,
            _ => KeychainErrorKind::Other,
        };
        Error::Keychain {
            backend: self.backend.clone(),
            name: name.filter(|n| *n != INDEX).map(str::to_owned),
            kind,
            source: store_failure(e).into(),
        }
    }
}

/// The store's error as text that holds no stored value: keyring-core's
/// `BadEncoding` and `BadDataFormat` carry the bytes read, which are a
/// secret here, and their `Debug` prints them.
fn store_failure(e: &keyring_core::Error) -> String {
    use keyring_core::Error as K;
    match e {
        K::PlatformFailure(p) => format!("the store failed: {p}"),
        K::NoStorageAccess(p) => format!("the store refused access: {p}"),
        K::NoEntry => "no such entry".to_owned(),
        K::BadEncoding(_) => "the stored value is not UTF-8".to_owned(),
        K::BadDataFormat(_, p) => format!("the stored value is malformed: {p}"),
        K::Ambiguous(entries) => format!("{} entries match", entries.len()),
        other => {
            // The remaining variants hold names and limits, not values.
            let text = other.to_string();
            text.lines().next().unwrap_or_default().to_owned()
        }
    }
}

/// One store per backend for the whole process, opened on first use and
/// never dropped: a Secret Service store drops its D-Bus proxy by blocking
/// on async-io, which aborts the process when it happens in a thread-local
/// destructor (a thread's cached manager holds its provider). One D-Bus
/// session per process, too.
fn shared_store(backend: Backend) -> keyring_core::Result<Option<Arc<CredentialStore>>> {
    static STORES: Mutex<Vec<(Backend, Arc<CredentialStore>)>> = Mutex::new(Vec::new());
    let mut stores = crate::sync::lock(&STORES);
    if let Some((_, store)) = stores.iter().find(|(b, _)| *b == backend) {
        return Ok(Some(Arc::clone(store)));
    }
    let Some(store) = open_store(backend)? else {
        return Ok(None);
    };
    stores.push((backend, Arc::clone(&store)));
    Ok(Some(store))
}

#[cfg(target_os = "linux")]
fn open_store(backend: Backend) -> keyring_core::Result<Option<Arc<CredentialStore>>> {
    Ok(match backend {
        Backend::SecretService => Some(zbus_secret_service_keyring_store::Store::new()?),
        Backend::Keyutils => {
            link_persistent_keyring();
            Some(linux_keyutils_keyring_store::Store::new()?)
        }
        Backend::Keychain | Backend::CredentialManager => None,
    })
}

/// Links the user's persistent keyring into this process's session
/// keyring, making one first when the process has none (no login session:
/// a container, cron, a service). The store looks for keys in the session
/// keyring it finds before it links the persistent one; without this, a
/// process with no session keyring writes keys to the persistent keyring
/// and the next process does not find them. Failures are left to the
/// store's own calls to report.
#[cfg(target_os = "linux")]
fn link_persistent_keyring() {
    const KEYCTL_GET_PERSISTENT: libc::c_long = 22;
    const KEY_SPEC_SESSION_KEYRING: libc::c_long = -3;
    // SAFETY: keyctl(2) with integer arguments only; uid -1 is the caller's.
    unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            KEYCTL_GET_PERSISTENT,
            -1 as libc::c_long,
            KEY_SPEC_SESSION_KEYRING,
        );
    }
}

#[cfg(target_os = "macos")]
fn open_store(backend: Backend) -> keyring_core::Result<Option<Arc<CredentialStore>>> {
    Ok(match backend {
        Backend::Keychain => Some(apple_native_keyring_store::keychain::Store::new()?),
        _ => None,
    })
}

#[cfg(windows)]
fn open_store(backend: Backend) -> keyring_core::Result<Option<Arc<CredentialStore>>> {
    Ok(match backend {
        Backend::CredentialManager => Some(windows_native_keyring_store::Store::new()?),
        _ => None,
    })
}

#[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
fn open_store(_: Backend) -> keyring_core::Result<Option<Arc<CredentialStore>>> {
    Ok(None)
}

/// The keys stored under one name as a credentials provider: read from the
/// store at each call, on a blocking thread. Long-lived keys, no expiry;
/// give it to
/// [`SessionManagerBuilder::credentials_provider`](crate::SessionManagerBuilder::credentials_provider).
///
/// ```no_run
/// # async fn f() -> bsm_core::Result<()> {
/// use bsm_core::keychain::KeyStore;
/// let keys = KeyStore::open_default()?.provider("dev");
/// let bsm = bsm_core::SessionManager::builder()
///     .credentials_provider(keys)
///     .region("us-east-1")
///     .build()
///     .await?;
/// println!("{}", bsm.who_am_i(true).await?);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct KeychainCredentialsProvider {
    store: KeyStore,
    name: String,
}

impl KeychainCredentialsProvider {
    async fn load(&self) -> provider::Result {
        let (store, name) = (self.store.clone(), self.name.clone());
        let keys = tokio::task::spawn_blocking(move || store.get(&name))
            .await
            .map_err(CredentialsError::provider_error)?;
        match keys {
            Ok(keys) => Ok(keys.credentials()),
            Err(
                e @ Error::Keychain {
                    kind: KeychainErrorKind::NotFound,
                    ..
                },
            ) => Err(CredentialsError::not_loaded(e)),
            Err(e) => Err(CredentialsError::provider_error(e)),
        }
    }
}

impl ProvideCredentials for KeychainCredentialsProvider {
    fn provide_credentials<'a>(&'a self) -> provider::future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        provider::future::ProvideCredentials::new(self.load())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_credential_types::Credentials;

    const ID: &str = "AKIAIOSFODNN7EXAMPLE";
    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

    fn mock() -> KeyStore {
        KeyStore::from_store(keyring_core::mock::Store::new().unwrap())
    }

    #[test]
    fn keys_round_trip_through_the_store_and_the_index() {
        let store = mock();
        assert!(store.names().unwrap().is_empty());
        let keys = StoredKeys::new(ID, SECRET).unwrap();
        store.put("dev", &keys).unwrap();
        store.put("ci", &keys).unwrap();
        store.put("dev", &keys).unwrap();
        assert_eq!(store.names().unwrap(), ["ci", "dev"]);
        assert_eq!(store.get("dev").unwrap(), keys);
        store.remove("dev").unwrap();
        assert_eq!(store.names().unwrap(), ["ci"]);
        let err = store.get("dev").unwrap_err();
        assert!(
            matches!(&err, Error::Keychain { kind: KeychainErrorKind::NotFound, name: Some(n), .. } if n == "dev"),
            "{err:?}"
        );
        assert!(matches!(
            store.remove("dev"),
            Err(Error::Keychain {
                kind: KeychainErrorKind::NotFound,
                ..
            })
        ));
    }

    #[test]
    fn a_rotation_in_progress_survives_the_json() {
        let old = StoredKeys::new(ID, SECRET).unwrap();
        let new = Credentials::new("AKIANEWKEYEXAMPLE000", "new/secret", None, None, "t");
        for keys in [
            old.with_creating(vec![ID.to_owned(), "AKIAOTHERKEYEXAMPLE0".to_owned()]),
            old.with_pending(&new),
            old.promoted(&new),
            old.promoted(&new).settled(),
        ] {
            assert_eq!(StoredKeys::from_json(&keys.to_json()).unwrap(), keys);
        }
        let promoted = old.promoted(&new);
        assert_eq!(promoted.access_key_id(), "AKIANEWKEYEXAMPLE000");
        assert_eq!(promoted.retired_access_key_id(), Some(ID));
        assert_eq!(
            old.with_pending(&new).pending_access_key_id(),
            Some("AKIANEWKEYEXAMPLE000")
        );
    }

    #[test]
    fn malformed_values_are_refused_without_repeating_them() {
        for text in [
            "",
            "{}",
            "[]",
            r#"{"Version":2,"AccessKeyId":"AKIAIOSFODNN7EXAMPLE","SecretAccessKey":"s"}"#,
            r#"{"Version":1,"AccessKeyId":"AKIAIOSFODNN7EXAMPLE"}"#,
            r#"{"Version":1,"AccessKeyId":"AKIAIOSFODNN7EXAMPLE","SecretAccessKey":"s","Extra":"x"}"#,
            r#"{"Version":1,"AccessKeyId":"AKIAIOSFODNN7EXAMPLE","SecretAccessKey":"s","PendingAccessKeyId":"AKIAIOSFODNN7EXAMPLE"}"#,
            r#"{"Version":1,"AccessKeyId":"short","SecretAccessKey":"topsecret"}"#,
        ] {
            let err = StoredKeys::from_json(text).unwrap_err();
            assert!(!err.contains("topsecret"), "{err}");
        }
        let store = mock();
        store
            .entry("dev")
            .unwrap()
            .set_password(r#"{"Version":1,"AccessKeyId":"x","SecretAccessKey":"topsecret"}"#)
            .unwrap();
        let err = store.get("dev").unwrap_err();
        assert!(
            matches!(
                err,
                Error::Keychain {
                    kind: KeychainErrorKind::Malformed,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(!format!("{err} {err:?}").contains("topsecret"));
    }

    #[test]
    fn the_stores_errors_lose_the_bytes_they_carry() {
        let store = mock();
        store
            .put("dev", &StoredKeys::new(ID, SECRET).unwrap())
            .unwrap();
        let entry = store.entry("dev").unwrap();
        let cred: &keyring_core::mock::Cred = entry.as_any().downcast_ref().unwrap();
        for e in [
            keyring_core::Error::BadEncoding(SECRET.as_bytes().to_vec()),
            keyring_core::Error::BadDataFormat(SECRET.as_bytes().to_vec(), "bad".into()),
        ] {
            // Its Debug would print the bytes.
            assert!(format!("{e:?}").contains("119, 74"), "{e:?}");
            cred.set_error(e);
            let err = store.get("dev").unwrap_err();
            assert!(
                matches!(
                    err,
                    Error::Keychain {
                        kind: KeychainErrorKind::Malformed,
                        ..
                    }
                ),
                "{err:?}"
            );
            let text = format!("{err} {err:?} {}", crate::error::chain(&err));
            assert!(
                !text.contains(SECRET) && !text.contains("119, 74"),
                "{text}"
            );
        }
    }

    #[test]
    fn bad_names_backends_and_keys_are_typed_errors() {
        for name in ["", ".bsm-names", "-dev", "a b", "dev\n", &"x".repeat(65)] {
            assert!(
                matches!(
                    check_name(name),
                    Err(Error::InvalidInput {
                        input: Input::KeysName,
                        ..
                    })
                ),
                "{name:?}"
            );
        }
        check_name("dev-1_a.b@c+d=e,f").unwrap();
        assert!(matches!(
            "gnome".parse::<Backend>(),
            Err(Error::InvalidInput {
                input: Input::KeychainBackend,
                ..
            })
        ));
        for b in Backend::ALL {
            assert_eq!(b.name().parse::<Backend>().unwrap(), b);
        }
        // Two lines in the wrong order: the secret where the id should be.
        let err = StoredKeys::new(SECRET, ID).unwrap_err();
        assert!(matches!(
            err,
            Error::InvalidInput {
                input: Input::AccessKeyId,
                ..
            }
        ));
        assert!(!format!("{err} {err:?}").contains(SECRET), "{err}");
        let err = StoredKeys::new(ID, "has space").unwrap_err();
        assert!(matches!(
            err,
            Error::InvalidInput {
                input: Input::SecretAccessKey,
                ..
            }
        ));
        assert!(!format!("{err} {err:?}").contains("has space"));
        assert!(matches!(
            StoredKeys::new("AKIA", SECRET),
            Err(Error::InvalidInput {
                input: Input::AccessKeyId,
                ..
            })
        ));
    }

    #[test]
    fn debug_shows_no_secret() {
        let keys = StoredKeys::new(ID, SECRET).unwrap();
        let new = Credentials::new("AKIANEWKEYEXAMPLE000", "pending/secret", None, None, "t");
        let text = format!("{:?} {:?}", keys.with_pending(&new), mock());
        assert!(
            !text.contains(SECRET) && !text.contains("pending/secret"),
            "{text}"
        );
        assert_eq!(keys.masked_access_key_id(), "AKIA***MPLE");
    }

    #[tokio::test]
    async fn the_provider_reads_the_store_at_each_call() {
        let store = mock();
        let provider = store.provider("dev");
        assert!(matches!(
            provider.provide_credentials().await,
            Err(CredentialsError::CredentialsNotLoaded(_))
        ));
        store
            .put("dev", &StoredKeys::new(ID, SECRET).unwrap())
            .unwrap();
        let creds = provider.provide_credentials().await.unwrap();
        assert_eq!(
            (creds.access_key_id(), creds.secret_access_key()),
            (ID, SECRET)
        );
        assert_eq!(creds.expiry(), None);
    }
}
