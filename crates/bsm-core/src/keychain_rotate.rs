//! Rotating the keys of a [`KeyStore`] name the way `aws-vault rotate`
//! does (create a new key, store it, delete the old one with the new one),
//! with nothing lost when a step fails or the process dies: [`RotateKeys`].
//!
//! # The steps, and what each failure leaves
//!
//! 1. Note in the store the user's key ids at IAM (`IAM ListAccessKeys`),
//!    as *creating*. If the store fails, nothing changed.
//! 2. `IAM CreateAccessKey` with the stored key, sent once (a retry after
//!    a lost answer would make a second key).
//! 3. Store the new key beside the old one, as *pending*. If the store
//!    fails, the new key is deleted at IAM with the old one. If bsm dies
//!    before this step ends, the *creating* mark stays: the next rotation
//!    deletes, before anything else, the key IAM has that it did not have
//!    then, that no name of the store holds, if IAM dated it within 5 minutes of
//!    the ask (a key made earlier or later, or one of several, is the
//!    user's own, left alone).
//! 4. Wait until the new key works (`STS GetCallerIdentity` answers as the
//!    same user: IAM is eventually consistent). If it never does within
//!    [`wait_at_most`](RotateKeys::wait_at_most), the new key is deleted and
//!    the mark cleared.
//! 5. Store the new key as *the* key, and the old key's id as *retired*.
//!    If the store fails, both keys stay stored and working (the new one as
//!    pending): the next rotation goes on from step 4.
//! 6. `IAM DeleteAccessKey` of the old key, with the new key, retried for
//!    as long as step 4 may wait. If it keeps failing, the new key is
//!    stored and works, and the old one is still active: the next rotation
//!    deletes it before anything else.
//! 7. Clear the retired mark.
//!
//! The stored key is always one that worked last; a key at IAM that the
//! store does not hold as the key is always named in the store (creating,
//! pending or retired), so the next rotation finishes the work. The key
//! needs `iam:ListAccessKeys`, `iam:CreateAccessKey` and
//! `iam:DeleteAccessKey` on its own user.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_credential_types::Credentials;

use crate::error::{BoxError, Error, Result};
use crate::keychain::{KeyStore, StoredKeys};
use crate::mask::mask_access_key_id;
use crate::{SessionManager, SessionManagerBuilder};

/// How long [`RotateKeys`] waits for a new key to work, unless told.
const DEFAULT_WAIT: Duration = Duration::from_secs(60);
/// How often it asks meanwhile.
const POLL: Duration = Duration::from_secs(2);
/// How far from the moment an interrupted rotation asked for its key IAM
/// may date that key (this machine's clock against IAM's, and the wait for
/// the answer): a key dated further away is the user's, not the rotation's.
const ORPHAN_WINDOW: Duration = Duration::from_secs(5 * 60);

type Configure = Arc<dyn Fn(SessionManagerBuilder) -> SessionManagerBuilder + Send + Sync>;

/// A rotation of the keys stored under one name: made by
/// [`KeyStore::rotate`], run by [`send`](Self::send).
///
/// ```no_run
/// # async fn f() -> bsm_core::Result<()> {
/// use bsm_core::keychain::KeyStore;
/// let rotated = KeyStore::open_default()?
///     .rotate("dev")
///     .configure(|b| b.region("eu-west-1"))
///     .send()
///     .await?;
/// println!("{} -> {}", rotated.old_access_key_id, rotated.new_access_key_id);
/// # Ok(()) }
/// ```
#[must_use = "a rotation does nothing until `send` is awaited"]
pub struct RotateKeys {
    store: KeyStore,
    name: String,
    configure: Option<Configure>,
    wait: Duration,
    poll: Duration,
}

impl std::fmt::Debug for RotateKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RotateKeys")
            .field("store", &self.store)
            .field("name", &self.name)
            .field("wait", &self.wait)
            .finish_non_exhaustive()
    }
}

/// What a finished rotation did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Rotated {
    /// The key deleted at IAM.
    pub old_access_key_id: String,
    /// The key stored now.
    pub new_access_key_id: String,
    /// Whether this run finished an earlier, interrupted rotation instead
    /// of starting one.
    pub resumed: bool,
}

impl KeyStore {
    /// A rotation of the keys stored under `name` (see [`RotateKeys`]):
    /// needs the features `keychain` and `iam`, and a key allowed to
    /// `iam:CreateAccessKey` and `iam:DeleteAccessKey` for its own user.
    pub fn rotate(&self, name: &str) -> RotateKeys {
        RotateKeys {
            store: self.clone(),
            name: name.to_owned(),
            configure: None,
            wait: DEFAULT_WAIT,
            poll: POLL,
        }
    }
}

impl RotateKeys {
    /// Settings for the managers the rotation builds on each key (region,
    /// endpoint URL, timeouts): `f` gets a builder that has the key as its
    /// credentials.
    pub fn configure(
        mut self,
        f: impl Fn(SessionManagerBuilder) -> SessionManagerBuilder + Send + Sync + 'static,
    ) -> Self {
        self.configure = Some(Arc::new(f));
        self
    }

    /// How long to wait for a new key to work, and to retry deleting the
    /// old one (default 60 s).
    pub fn wait_at_most(mut self, wait: Duration) -> Self {
        self.wait = wait;
        self
    }

    /// How often to ask meanwhile (default 2 s).
    pub fn poll_every(mut self, poll: Duration) -> Self {
        self.poll = poll;
        self
    }

    /// Runs the rotation. Fails with [`Error::KeyRotation`] when a step
    /// fails after the store was touched (its `state` says what is stored
    /// and what IAM has), or with the store's or the service's error when
    /// nothing changed.
    pub async fn send(self) -> Result<Rotated> {
        // Boxed: the steps' futures together are large to keep on a
        // caller's stack.
        Box::pin(self.run()).await
    }

    async fn run(self) -> Result<Rotated> {
        let keys = self.read().await?;
        if let Some(retired) = keys.retired_access_key_id() {
            return self.finish_delete(&keys, retired.to_owned(), true).await;
        }
        let old = self.manager(keys.credentials()).await?;
        let user = user_name(&old.identity().await?.arn)?;
        let user = user.as_deref();
        let keys = match keys.creating_after() {
            Some(before) => self.delete_unstored(&old, &keys, before, user).await?,
            None => keys,
        };
        let (new, resumed) = if let Some(pending) = keys.pending_credentials() {
            (pending, true)
        } else {
            // The keys IAM has now, noted in the store before asking for a
            // new one: if bsm dies before it stores the new key, the next
            // rotation knows which key is its own.
            let before = list_keys(&old, user).await?;
            let before = before.into_iter().map(|(id, _)| id).collect();
            self.write(keys.with_creating(before)).await?;
            let new = match create_key(&old, user).await {
                Ok(new) => new,
                Err(e) => {
                    // IAM answered no (two keys already, no permission):
                    // the note has nothing to name. Any other failure (no
                    // answer, an unreadable one) may hide a key IAM made:
                    // the note stays for the next rotation.
                    if refused_by_iam(&e) {
                        let _ = self.write(keys.clone()).await;
                    }
                    return Err(e);
                }
            };
            if let Err(e) = self.write(keys.with_pending(&new)).await {
                return Err(self.undo(&old, &keys, &new, user, e, "stored").await);
            }
            (new, false)
        };
        tracing::info!(
            name = %self.name,
            new = %mask_access_key_id(new.access_key_id()),
            "waiting until the new access key works"
        );
        if let Err(e) = self.until_it_works(&new, &old).await {
            return Err(self.undo(&old, &keys, &new, user, e, "used").await);
        }
        let promoted = keys.promoted(&new);
        if let Err(e) = self.write(promoted.clone()).await {
            // The write may have landed before the store reported a
            // failure; if not, both keys are stored and work, and the next
            // rotation finishes from the pending key: nothing is deleted.
            if self.read().await.ok().as_ref() != Some(&promoted) {
                let state = format!(
                    "the new key {} works and is stored as pending; the stored key {} is unchanged \
                     and works: rotate again to finish",
                    new.access_key_id(),
                    keys.access_key_id()
                );
                return Err(self.stopped(state, e));
            }
        }
        let old_id = keys.access_key_id().to_owned();
        let mut done = self.finish_delete(&promoted, old_id, resumed).await?;
        done.resumed = resumed;
        Ok(done)
    }

    async fn read(&self) -> Result<StoredKeys> {
        let (store, name) = (self.store.clone(), self.name.clone());
        self.blocking(move || store.get(&name)).await
    }

    async fn write(&self, keys: StoredKeys) -> Result<()> {
        let (store, name) = (self.store.clone(), self.name.clone());
        self.blocking(move || store.put(&name, &keys)).await
    }

    /// Runs a call of the store on a blocking thread.
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> Result<T> + Send + 'static,
    ) -> Result<T> {
        tokio::task::spawn_blocking(f).await.unwrap_or_else(|e| {
            Err(Error::Keychain {
                backend: self.store.backend().to_owned(),
                name: Some(self.name.clone()),
                kind: crate::KeychainErrorKind::Other,
                source: format!("the store's call did not finish: {e}").into(),
            })
        })
    }

    async fn manager(&self, creds: Credentials) -> Result<SessionManager> {
        let mut builder = SessionManager::builder().credentials_provider(creds);
        if let Some(f) = &self.configure {
            builder = f(builder);
        }
        builder.build().await
    }

    /// Asks STS with `new` until it answers as `old`'s principal.
    async fn until_it_works(&self, new: &Credentials, old: &SessionManager) -> Result<()> {
        let want = old.identity().await?.arn;
        let deadline = Instant::now() + self.wait;
        loop {
            let answer = match self.manager(new.clone()).await {
                Ok(m) => m.identity().await.map(|i| i.arn).map_err(Error::from),
                Err(e) => Err(e),
            };
            match answer {
                Ok(arn) if arn == want => return Ok(()),
                Ok(arn) => {
                    return Err(Error::invalid(
                        crate::Input::AccessKeyId,
                        new.access_key_id(),
                        format!("the new key belongs to {arn}, not {want}"),
                    ));
                }
                Err(e) if Instant::now() + self.poll > deadline => return Err(e),
                Err(e) => tracing::debug!("the new key does not work yet: {e}"),
            }
            tokio::time::sleep(self.poll).await;
        }
    }

    /// Deletes the new key at IAM with the old one after it could not be
    /// `failed` (stored, used), and clears the rotation's mark in the
    /// store: the error says what is left. A mark that stays (the store
    /// failing again) names the key for the next rotation.
    async fn undo(
        &self,
        old: &SessionManager,
        keys: &StoredKeys,
        new: &Credentials,
        user: Option<&str>,
        cause: Error,
        failed: &str,
    ) -> Error {
        let new_id = new.access_key_id();
        let stored = keys.access_key_id();
        let state = match delete_key(old, new_id, user).await {
            Ok(()) => {
                let cleared = self.write(keys.settled()).await.is_ok();
                format!(
                    "the new key {new_id} could not be {failed} and was deleted at IAM; the stored \
                     key {stored} is unchanged{}",
                    if cleared {
                        ""
                    } else {
                        " (the rotation's mark is left in the store; the next rotation clears it)"
                    }
                )
            }
            Err(e) => format!(
                "the new key {new_id} could not be {failed}, nor deleted at IAM ({e}); the stored \
                 key {stored} is unchanged, and the next rotation deletes {new_id} first (or \
                 `aws iam delete-access-key --access-key-id {new_id}`)"
            ),
        };
        self.stopped(state, cause)
    }

    /// Deletes the key an interrupted rotation made and did not store: the
    /// one key IAM has now that it did not have before the rotation asked,
    /// that no name of the store holds, and that IAM dated within
    /// [`ORPHAN_WINDOW`] of the ask. Any other key (one of several, an
    /// undated one, one made long before or after) is the user's, left
    /// alone and logged. Then clears the note.
    async fn delete_unstored(
        &self,
        with: &SessionManager,
        keys: &StoredKeys,
        before: &[String],
        user: Option<&str>,
    ) -> Result<StoredKeys> {
        let asked = keys.creating_at();
        let stored = self.stored_ids().await;
        let candidates: Vec<(String, Option<std::time::SystemTime>)> = list_keys(with, user)
            .await?
            .into_iter()
            .filter(|(id, _)| !before.contains(id) && id != keys.access_key_id())
            .filter(|(id, _)| !stored.contains(id))
            .collect();
        let near_the_ask = |made: Option<std::time::SystemTime>| match (asked, made) {
            (Some(asked), Some(made)) => {
                let apart = made.duration_since(asked).unwrap_or_else(|e| e.duration());
                apart <= ORPHAN_WINDOW
            }
            _ => false,
        };
        match candidates.as_slice() {
            [(id, made)] if near_the_ask(*made) => {
                if let Err(e) = delete_key(with, id, user).await {
                    let state = format!(
                        "an earlier rotation made the key {id} and did not store it; it could \
                         not be deleted; the stored key {} is unchanged",
                        keys.access_key_id()
                    );
                    return Err(self.stopped(state, e));
                }
                tracing::info!(name = %self.name, orphan = %mask_access_key_id(id),
                    "deleted a key an interrupted rotation made");
            }
            others => {
                for (id, _) in others {
                    tracing::warn!(name = %self.name, key = %mask_access_key_id(id),
                        "a key the interrupted rotation may not have made is left alone");
                }
            }
        }
        let settled = keys.settled();
        self.write(settled.clone()).await?;
        Ok(settled)
    }

    /// The key ids stored under any name of the store (what cannot be read
    /// is left out).
    async fn stored_ids(&self) -> Vec<String> {
        let store = self.store.clone();
        self.blocking(move || {
            let mut ids = Vec::new();
            for name in store.names()? {
                if let Ok(keys) = store.get(&name) {
                    ids.push(keys.access_key_id().to_owned());
                    ids.extend(keys.pending_access_key_id().map(str::to_owned));
                }
            }
            Ok(ids)
        })
        .await
        .unwrap_or_default()
    }

    /// Deletes the old key `retired` with the stored key, retrying within
    /// the wait, then clears the retired mark.
    async fn finish_delete(
        &self,
        keys: &StoredKeys,
        retired: String,
        resumed: bool,
    ) -> Result<Rotated> {
        let current = self.manager(keys.credentials()).await?;
        let user = user_name(&current.identity().await?.arn)?;
        let deadline = Instant::now() + self.wait;
        loop {
            match delete_key(&current, &retired, user.as_deref()).await {
                Ok(()) => break,
                Err(e) if Instant::now() + self.poll > deadline => {
                    let state = format!(
                        "the new key {} is stored and works; the old key {retired} is still active \
                         at IAM: rotate again to delete it",
                        keys.access_key_id()
                    );
                    return Err(self.stopped(state, e));
                }
                Err(e) => tracing::debug!("the old key is not deleted yet: {e}"),
            }
            tokio::time::sleep(self.poll).await;
        }
        tracing::info!(name = %self.name, old = %mask_access_key_id(&retired), "deleted the old access key");
        if let Err(e) = self.write(keys.settled()).await {
            // The old key is gone; the next rotation finds it gone and
            // clears the mark then.
            tracing::warn!("the old key is deleted, but its mark stays in the store: {e}");
        }
        Ok(Rotated {
            old_access_key_id: retired,
            new_access_key_id: keys.access_key_id().to_owned(),
            resumed,
        })
    }

    fn stopped(&self, state: String, cause: Error) -> Error {
        Error::KeyRotation {
            name: self.name.clone(),
            state,
            source: Box::new(cause) as BoxError,
        }
    }
}

/// The IAM user name of a user's ARN (`arn:aws:iam::1:user/path/NAME`),
/// `None` for the account's root; keys of anything else cannot be rotated.
fn user_name(arn: &str) -> Result<Option<String>> {
    let resource = arn.splitn(6, ':').nth(5).unwrap_or_default();
    if resource == "root" {
        return Ok(None);
    }
    match resource.strip_prefix("user/") {
        Some(path) => Ok(path.rsplit('/').next().map(str::to_owned)),
        None => Err(Error::invalid(
            crate::Input::AccessKeyId,
            arn,
            "only an IAM user's (or the root's) access keys can be rotated",
        )),
    }
}

/// Whether IAM answered with an error of the caller's (4xx): it did not
/// act on the request.
fn refused_by_iam(e: &Error) -> bool {
    matches!(
        e,
        Error::Service {
            kind: crate::ServiceErrorKind::ErrorAnswer,
            status: Some(400..=499),
            ..
        }
    )
}

/// The user's access key ids at IAM, with when IAM made each.
async fn list_keys(
    with: &SessionManager,
    user: Option<&str>,
) -> Result<Vec<(String, Option<std::time::SystemTime>)>> {
    let out = with
        .client::<aws_sdk_iam::Client>()
        .list_access_keys()
        .set_user_name(user.map(str::to_owned))
        .send()
        .await
        .map_err(|e| Error::service("IAM ListAccessKeys", e))?;
    Ok(out
        .access_key_metadata
        .into_iter()
        .filter_map(|k| {
            let made = k
                .create_date
                .and_then(|d| std::time::SystemTime::try_from(d).ok());
            Some((k.access_key_id?, made))
        })
        .collect())
}

/// `IAM CreateAccessKey`, sent once: a retry after a lost answer would make
/// a second key.
async fn create_key(old: &SessionManager, user: Option<&str>) -> Result<Credentials> {
    let once = aws_sdk_iam::config::Builder::default()
        .retry_config(aws_smithy_types::retry::RetryConfig::disabled());
    let out = old
        .client::<aws_sdk_iam::Client>()
        .create_access_key()
        .set_user_name(user.map(str::to_owned))
        .customize()
        .config_override(once)
        .send()
        .await
        .map_err(|e| Error::service("IAM CreateAccessKey", e))?;
    let key = out.access_key.ok_or_else(|| {
        Error::invalid(
            crate::Input::AccessKeyId,
            "",
            "IAM CreateAccessKey answered no key",
        )
    })?;
    tracing::info!(new = %mask_access_key_id(&key.access_key_id), "created a new access key");
    Ok(Credentials::new(
        key.access_key_id,
        key.secret_access_key,
        None,
        None,
        "bsm-keychain",
    ))
}

/// Deletes `key_id` at IAM; a key already gone counts as deleted.
async fn delete_key(with: &SessionManager, key_id: &str, user: Option<&str>) -> Result<()> {
    let done = with
        .client::<aws_sdk_iam::Client>()
        .delete_access_key()
        .access_key_id(key_id)
        .set_user_name(user.map(str::to_owned))
        .send()
        .await;
    match done {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error()
                .is_some_and(aws_sdk_iam::operation::delete_access_key::DeleteAccessKeyError::is_no_such_entity_exception) =>
        {
            Ok(())
        }
        Err(e) => Err(Error::service("IAM DeleteAccessKey", e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names_come_from_user_arns_only() {
        assert_eq!(
            user_name("arn:aws:iam::123456789012:user/alice")
                .unwrap()
                .as_deref(),
            Some("alice")
        );
        assert_eq!(
            user_name("arn:aws:iam::123456789012:user/team/a/bob")
                .unwrap()
                .as_deref(),
            Some("bob")
        );
        assert_eq!(user_name("arn:aws:iam::123456789012:root").unwrap(), None);
        assert!(user_name("arn:aws:sts::123456789012:assumed-role/r/s").is_err());
    }
}
