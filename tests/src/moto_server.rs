//! Starting moto's server: a Python that serves on a free port of
//! 127.0.0.1, waited for until it listens, and that exits by itself when
//! its standard input closes (its parent gone, however it ended). The one
//! launcher of the tests (`bsm_tests::moto`) and of `cargo xtask` (`demo`,
//! `bench-python`), which includes this file by path beside `aws_env.rs`;
//! std only. moto gets none of the caller's `AWS_*` variables.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// What runs after the caller's prelude: a thread that ends the process
/// when stdin reaches its end, then moto's server on the port given as the
/// first argument.
const SERVE: &str = "
import os, sys, threading
from moto.server import main
def _bsm_watch():
    sys.stdin.read()
    os._exit(0)
threading.Thread(target=_bsm_watch, daemon=True).start()
main(['-H', '127.0.0.1', '-p', sys.argv[1]])
";

/// How long moto gets to listen (a cold start on a loaded 2-core machine
/// takes a few seconds).
const START_LIMIT: Duration = Duration::from_secs(60);

/// A moto server that listens. Dropping it does not stop it: call
/// [`MotoServer::stop`], or let it see its stdin close when its parent ends.
#[derive(Debug)]
pub struct MotoServer {
    /// The Python process; its stdin is a pipe held open by this handle.
    pub child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
}

impl MotoServer {
    /// Starts moto with `python` (one that has `moto[server]`), running the
    /// Python `prelude` first (e.g. to seed moto's backends; may be empty),
    /// with `env` added to the environment. Returns once moto accepts
    /// connections; an error says whether it exited or stayed silent.
    pub fn start(python: &Path, prelude: &str, env: &[(&str, &str)]) -> Result<Self, String> {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("no free port on 127.0.0.1: {e}"))?
            .port();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let mut cmd = Command::new(python);
        // moto runs botocore inside: a profile, region or endpoint of the
        // caller's environment would reach it (`AWS_PROFILE` of a profile
        // its files lack made every SQS call answer 500).
        crate::aws_env::without_aws_files(&mut cmd);
        let child = cmd
            .args(["-c", &format!("{prelude}\n{SERVE}"), &port.to_string()])
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start moto with {}: {e}", python.display()))?;
        let mut server = Self { child, addr };
        let deadline = Instant::now() + START_LIMIT;
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if let Ok(Some(status)) = server.child.try_wait() {
                return Err(format!("moto exited at start ({status})"));
            }
            if Instant::now() > deadline {
                server.stop();
                return Err(format!(
                    "moto did not listen within {} s",
                    START_LIMIT.as_secs()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(server)
    }

    /// `http://127.0.0.1:PORT`.
    #[must_use]
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops moto by its PID and reaps it.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
