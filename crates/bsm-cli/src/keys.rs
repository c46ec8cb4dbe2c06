//! `bsm keys`: source keys in the OS credential store (add, list, remove,
//! rotate), and the store `--keys NAME` reads. The secret is read from the
//! terminal without echo or from standard input, never from argv, and is
//! never printed: lists and messages show masked key ids only.

use std::io::BufRead as _;
use std::process::ExitCode;

use bsm::keychain::{Backend, KeyStore, StoredKeys};
use bsm::mask::{mask_access_key_id, mask_arn};

use crate::{Failure, Global, out, prompt};

/// The store of `--keychain` (or `BSM_KEYCHAIN`), else the platform's.
pub fn store(g: &Global) -> Result<KeyStore, Failure> {
    let backend = match &g.keychain {
        Some(name) => name.parse()?,
        None => Backend::choose()?,
    };
    Ok(KeyStore::open(backend)?)
}

/// The keys `--keys NAME` names, read from the store once per run: the
/// session cache's key and the manager then use the same read. A failed
/// read is not kept: the next caller gets the store's own, typed error.
pub fn stored(g: &Global, name: &str) -> Result<StoredKeys, Failure> {
    static READ: std::sync::Mutex<Option<(String, StoredKeys)>> = std::sync::Mutex::new(None);
    let mut read = READ
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some((n, keys)) = read.as_ref()
        && n == name
    {
        return Ok(keys.clone());
    }
    let keys = store(g)?.get(name)?;
    *read = Some((name.to_owned(), keys.clone()));
    Ok(keys)
}

/// Warns when `keys` leave a rotation unfinished: replacing or removing
/// them forgets a key IAM still has.
fn warn_unfinished(name: &str, keys: &StoredKeys) {
    let left: Vec<&str> = keys
        .pending_access_key_id()
        .into_iter()
        .chain(keys.retired_access_key_id())
        .collect();
    if !left.is_empty() || keys.creating_after().is_some() {
        eprintln!(
            "warning: keys `{name}` had an unfinished rotation; IAM may still have a key that is \
             now stored nowhere{}: `aws iam list-access-keys` shows the user's keys",
            if left.is_empty() {
                String::new()
            } else {
                format!(" ({})", left.join(", "))
            }
        );
    }
}

/// `bsm keys add NAME`: reads the key, checks it with one
/// `GetCallerIdentity`, then stores it. An existing name is kept unless
/// `replace`.
pub async fn add(
    g: &Global,
    name: &str,
    from_stdin: bool,
    replace: bool,
) -> Result<ExitCode, Failure> {
    bsm::keychain::check_name(name)?;
    let store = store(g)?;
    // With --replace, whatever is there (even a malformed entry) goes.
    let stored = match store.get(name) {
        Ok(keys) => Some(keys),
        Err(bsm::Error::Keychain {
            kind: bsm::KeychainErrorKind::NotFound,
            ..
        }) => None,
        Err(_) if replace => None,
        Err(e) => return Err(e.into()),
    };
    if let (true, Some(keys)) = (replace, &stored) {
        warn_unfinished(name, keys);
    }
    if !replace && stored.is_some() {
        return Err(format!(
            "keys `{name}` are already stored in {}: `bsm keys rotate {name}` replaces them with \
             a new key, --replace stores these instead",
            store.backend()
        )
        .into());
    }
    let (id, secret) = if from_stdin {
        read_stdin()?
    } else {
        let id = prompt::line("Access key id: ")?;
        let secret = prompt::hidden("Secret access key: ")?;
        (id, secret)
    };
    let keys = StoredKeys::new(id.trim(), secret.trim())?;
    let arn = crate::manager::with_keys(g, &keys)
        .await?
        .identity()
        .await?
        .arn;
    let shown = keys.masked_access_key_id();
    store.put(name, &keys)?;
    eprintln!(
        "stored keys `{name}` ({shown}) of {} in {}",
        mask_arn(&arn),
        store.backend()
    );
    Ok(ExitCode::SUCCESS)
}

/// The longest line `--stdin` reads: keys are far shorter, and
/// `/dev/zero` must not fill memory.
const MAX_LINE: u64 = 4096;

/// Two lines of standard input: the access key id, then the secret.
/// Refused on a terminal, which would echo the secret.
fn read_stdin() -> Result<(String, String), Failure> {
    use std::io::{IsTerminal as _, Read as _};
    if std::io::stdin().is_terminal() {
        return Err(
            "--stdin reads a pipe or a file; on a terminal, leave it out: bsm then \
                    asks for the secret without echo"
                .into(),
        );
    }
    let mut stdin = std::io::stdin().lock();
    let mut next = |what: &str| -> Result<String, Failure> {
        let mut line = String::new();
        let read = (&mut stdin).take(MAX_LINE + 1).read_line(&mut line)?;
        if read == 0 {
            return Err(format!(
                "--stdin reads two lines, the access key id and then the secret access key: \
                 standard input ended before the {what}"
            )
            .into());
        }
        if read as u64 > MAX_LINE {
            return Err(format!("--stdin: the {what} line is over {MAX_LINE} bytes").into());
        }
        Ok(line)
    };
    let id = next("access key id")?;
    let secret = next("secret access key")?;
    Ok((id, secret))
}

/// `bsm keys list`: one line per name, with the masked key id.
pub fn list(g: &Global) -> Result<ExitCode, Failure> {
    let store = store(g)?;
    let names = store.names()?;
    if names.is_empty() {
        eprintln!("no keys stored in {}", store.backend());
        return Ok(ExitCode::SUCCESS);
    }
    let mut text = String::new();
    for name in names {
        let line = match store.get(&name) {
            Ok(keys) => {
                let unfinished = match keys
                    .pending_access_key_id()
                    .or(keys.retired_access_key_id())
                {
                    Some(id) => format!(
                        "  (rotation unfinished, {} at IAM: `bsm keys rotate {name}`)",
                        mask_access_key_id(id)
                    ),
                    None if keys.creating_after().is_some() => {
                        format!("  (rotation unfinished: `bsm keys rotate {name}`)")
                    }
                    None => String::new(),
                };
                format!("{name}\t{}{unfinished}\n", keys.masked_access_key_id())
            }
            Err(e) => format!("{name}\t<{e}>\n"),
        };
        text.push_str(&line);
    }
    out(&text)?;
    Ok(ExitCode::SUCCESS)
}

/// `bsm keys remove NAME`.
pub fn remove(g: &Global, name: &str) -> Result<ExitCode, Failure> {
    let store = store(g)?;
    let before = store.get(name).ok();
    store.remove(name)?;
    if let Some(keys) = &before {
        warn_unfinished(name, keys);
    }
    let shown = before.map(|k| k.masked_access_key_id());
    eprintln!(
        "removed keys `{name}`{} from {}; the key is still active at IAM",
        shown.map(|s| format!(" ({s})")).unwrap_or_default(),
        store.backend()
    );
    Ok(ExitCode::SUCCESS)
}

/// `bsm keys rotate NAME`.
pub async fn rotate(g: &Global, name: &str, wait: u64) -> Result<ExitCode, Failure> {
    let store = store(g)?;
    let rotated = store
        .rotate(name)
        .wait_at_most(std::time::Duration::from_secs(wait))
        .configure(crate::manager::settings(g))
        .send()
        .await?;
    eprintln!(
        "{} keys `{name}`: {} deleted, {} stored in {}",
        if rotated.resumed {
            "finished rotating"
        } else {
            "rotated"
        },
        mask_access_key_id(&rotated.old_access_key_id),
        mask_access_key_id(&rotated.new_access_key_id),
        store.backend()
    );
    Ok(ExitCode::SUCCESS)
}
