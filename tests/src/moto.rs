//! One moto server per test binary, on a free port of 127.0.0.1, started on
//! first use and stopped by PID when the binary exits (an `atexit` hook);
//! should the binary die without running it, moto sees its stdin close and
//! exits by itself.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicI32, Ordering};

use crate::moto_server::MotoServer;

/// A running moto server.
#[derive(Debug)]
pub struct Moto {
    // Held so that moto's stdin stays open while the binary runs.
    server: MotoServer,
}

static MOTO: OnceLock<Moto> = OnceLock::new();
static PID: AtomicI32 = AtomicI32::new(0);

/// Before moto serves, gives the keys of the lived-in home
/// (`tests/lived-in-home/.aws`) to IAM users of account 210987654321, so a
/// child that reads them reports a principal of its own (moto takes any
/// other key for `user/moto` of 123456789012, the account the tests hand
/// over).
const SEED: &str = "\
from moto.iam.models import iam_backends
iam = iam_backends['210987654321']['aws']
for user, key_id, secret in [
    ('lived-in-default', 'AKIALIVEDINDEFAULT01', 'lived-in-default-secret/EXAMPLEKEY'),
    ('lived-in-process', 'AKIALIVEDINPROCESS01', 'lived-in-process-secret/EXAMPLEKEY'),
]:
    iam.create_user(region_name='us-east-1', user_name=user)
    key = iam.create_access_key(user)
    del iam.access_keys[key.physical_resource_id]
    key.access_key_id, key.secret_access_key = key_id, secret
    iam.access_keys[key.physical_resource_id] = key
";

const SETUP_HINT: &str = "moto is not installed: run `cargo xtask test` (it installs moto[server] \
     into ./.venv), or set BSM_VENV to a virtualenv that has it";

extern "C" fn stop_moto() {
    let pid = PID.load(Ordering::SeqCst);
    if pid > 0 {
        // SAFETY: kill(2) with a PID we started; no memory is touched.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
    }
}

/// The moto server of this test binary, started on first call.
///
/// # Panics
/// When moto is not installed (naming the set-up command) or does not start.
pub fn moto() -> &'static Moto {
    MOTO.get_or_init(|| Moto::start().unwrap_or_else(|e| panic!("{e}")))
}

/// A program of the test virtualenv (`$BSM_VENV`, else `./.venv` at the
/// workspace root): `python`, `aws`.
#[must_use]
pub fn venv_bin(name: &str) -> PathBuf {
    std::env::var_os("BSM_VENV")
        .map_or_else(
            || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.venv"),
            PathBuf::from,
        )
        .join("bin")
        .join(name)
}

fn python() -> Result<PathBuf, String> {
    let python = venv_bin("python");
    let venv = python
        .parent()
        .and_then(std::path::Path::parent)
        .unwrap_or(&python)
        .to_path_buf();
    let installed = Command::new(&python)
        .args(["-c", "import moto.server, flask"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if installed {
        Ok(python)
    } else {
        Err(format!("{SETUP_HINT} (looked in {})", venv.display()))
    }
}

impl Moto {
    fn start() -> Result<Self, String> {
        let server =
            MotoServer::start(&python()?, SEED, &[]).map_err(|e| format!("{e}; {SETUP_HINT}"))?;
        PID.store(
            i32::try_from(server.child.id()).unwrap_or(0),
            Ordering::SeqCst,
        );
        // SAFETY: registers a plain extern "C" function with no captured state.
        unsafe {
            libc::atexit(stop_moto);
        }
        Ok(Self { server })
    }

    /// `http://127.0.0.1:PORT`.
    #[must_use]
    pub fn endpoint(&self) -> String {
        self.server.endpoint()
    }

    /// The socket address.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.server.addr
    }
}
