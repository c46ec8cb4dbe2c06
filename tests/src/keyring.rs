//! The OS credential stores of the keychain tests. The Secret Service is
//! the test binary's own: gnome-keyring on a private D-Bus session bus
//! (`dbus-run-session`), unlocked with a known password, its files in a
//! temporary home, so no test reads or writes the user's keyring. keyutils
//! is the kernel's, one per user: the tests use unique names and remove
//! what they add. [`FailingStore`] is a keyring-core store whose writes
//! fail on demand, for the rotation's faults.

use std::io::BufRead as _;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// A running Secret Service of this test binary.
#[derive(Debug)]
pub struct SecretService {
    bus: String,
    // Held so that the session's stdin stays open while the binary runs:
    // when the binary exits, `cat` ends, then dbus-run-session stops the
    // bus, and gnome-keyring with it.
    _child: Mutex<Child>,
}

const SETUP_HINT: &str = "the keychain tests need gnome-keyring and dbus-run-session \
     (Debian: apt-get install gnome-keyring dbus-daemon; .ci/run installs them)";

/// Unlocks a new login keyring (its password on stdin), prints the bus
/// address, then waits for stdin to close.
const SCRIPT: &str = "printf %s bsm-test-keyring | gnome-keyring-daemon --unlock --components=secrets \
     >/dev/null || exit 1; printf '%s\\n' \"$DBUS_SESSION_BUS_ADDRESS\"; exec cat >/dev/null";

/// The Secret Service of this test binary, started on first call.
///
/// # Panics
/// When gnome-keyring or dbus-run-session is missing (naming the set-up).
pub fn secret_service() -> &'static SecretService {
    static SERVICE: OnceLock<SecretService> = OnceLock::new();
    SERVICE.get_or_init(|| SecretService::start().unwrap_or_else(|e| panic!("{e}")))
}

impl SecretService {
    fn start() -> Result<Self, String> {
        let home = crate::temp_dir("bsm-keyring-home");
        let runtime = home.join("run");
        std::fs::create_dir_all(&runtime).map_err(|e| e.to_string())?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&runtime, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| e.to_string())?;
        }
        let mut child = Command::new("dbus-run-session")
            .args(["--", "sh", "-c", SCRIPT])
            .env("HOME", &home)
            .env("XDG_RUNTIME_DIR", &runtime)
            .env_remove("DBUS_SESSION_BUS_ADDRESS")
            .env_remove("GNOME_KEYRING_CONTROL")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start dbus-run-session ({e}): {SETUP_HINT}"))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut bus = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut bus)
            .map_err(|e| e.to_string())?;
        let bus = bus.trim().to_owned();
        if bus.is_empty() {
            return Err(format!("the Secret Service did not start: {SETUP_HINT}"));
        }
        Ok(SecretService {
            bus,
            _child: Mutex::new(child),
        })
    }

    /// The session bus address.
    #[must_use]
    pub fn bus(&self) -> &str {
        &self.bus
    }

    /// Points `cmd` at this Secret Service (`BSM_KEYCHAIN=secret-service`).
    pub fn apply<'a>(&self, cmd: &'a mut Command) -> &'a mut Command {
        cmd.env("BSM_KEYCHAIN", "secret-service")
            .env("DBUS_SESSION_BUS_ADDRESS", &self.bus)
    }
}

/// Points `cmd` at the kernel's keyutils (`BSM_KEYCHAIN=keyutils`), with no
/// session bus.
pub fn keyutils(cmd: &mut Command) -> &mut Command {
    cmd.env("BSM_KEYCHAIN", "keyutils")
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
}

/// A keyring-core store (keyring-core's in-memory mock inside) that counts
/// its writes and fails the ones from a given count on, as a full or
/// locked store would.
#[derive(Debug)]
pub struct FailingStore {
    inner: Arc<keyring_core::mock::Store>,
    state: Arc<Writes>,
}

#[derive(Debug, Default)]
struct Writes {
    done: AtomicUsize,
    /// Writes after this many fail (`usize::MAX`: none fail).
    fail_after: AtomicUsize,
}

impl FailingStore {
    /// A store whose writes all succeed until [`fail_after`](Self::fail_after).
    ///
    /// # Panics
    /// Never: the mock store cannot fail to start.
    #[must_use]
    pub fn new() -> Arc<Self> {
        let state = Arc::new(Writes::default());
        state.fail_after.store(usize::MAX, Ordering::SeqCst);
        Arc::new(FailingStore {
            inner: keyring_core::mock::Store::new().unwrap(),
            state,
        })
    }

    /// Writes (sets and deletes) after `n` more succeed fail.
    pub fn fail_after(&self, n: usize) {
        let done = self.state.done.load(Ordering::SeqCst);
        self.state.fail_after.store(done + n, Ordering::SeqCst);
    }

    /// Writes `value` as the entry `bsm`/`user`, as another version of bsm
    /// or an interrupted run would have left it (not counted, never fails).
    ///
    /// # Panics
    /// Never: the mock store takes any value.
    pub fn set_raw(&self, user: &str, value: &str) {
        use keyring_core::api::CredentialStoreApi as _;
        self.inner
            .build("bsm", user, None)
            .unwrap()
            .set_password(value)
            .unwrap();
    }

    /// How many writes were tried.
    #[must_use]
    pub fn writes(&self) -> usize {
        self.state.done.load(Ordering::SeqCst)
    }
}

impl keyring_core::api::CredentialStoreApi for FailingStore {
    fn vendor(&self) -> String {
        "failing test store".to_owned()
    }

    fn id(&self) -> String {
        self.inner.id()
    }

    fn build(
        &self,
        service: &str,
        user: &str,
        modifiers: Option<&std::collections::HashMap<&str, &str>>,
    ) -> keyring_core::Result<keyring_core::Entry> {
        let inner = self.inner.build(service, user, modifiers)?;
        Ok(keyring_core::Entry::new_with_credential(Arc::new(
            FailingCred {
                inner,
                state: Arc::clone(&self.state),
            },
        )))
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

#[derive(Debug)]
struct FailingCred {
    inner: keyring_core::Entry,
    state: Arc<Writes>,
}

impl FailingCred {
    fn write(&self) -> keyring_core::Result<()> {
        let n = self.state.done.fetch_add(1, Ordering::SeqCst);
        if n >= self.state.fail_after.load(Ordering::SeqCst) {
            return Err(keyring_core::Error::NoStorageAccess(
                "the test store refuses writes now".into(),
            ));
        }
        Ok(())
    }
}

impl keyring_core::api::CredentialApi for FailingCred {
    fn set_secret(&self, secret: &[u8]) -> keyring_core::Result<()> {
        self.write()?;
        self.inner.set_secret(secret)
    }

    fn get_secret(&self) -> keyring_core::Result<Vec<u8>> {
        self.inner.get_secret()
    }

    fn delete_credential(&self) -> keyring_core::Result<()> {
        self.write()?;
        self.inner.delete_credential()
    }

    fn get_credential(&self) -> keyring_core::Result<Option<Arc<keyring_core::Credential>>> {
        Ok(None)
    }

    fn get_specifiers(&self) -> Option<(String, String)> {
        self.inner.get_specifiers()
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn debug_fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FailingCred")
    }
}
